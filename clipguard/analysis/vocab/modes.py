"""Train and eval mode, by library API.

Sources: torch `nn.Module.eval` / `train(mode)`, `torch.no_grad`, `torch.inference_mode`,
`torch.set_grad_enabled`; torch.optim and torch.amp's `GradScaler` for training steps.
"""

from __future__ import annotations

from clipguard.analysis.vocab.models import IMAGE_ENCODER_METHODS, TOWERS

# Calls through which a model computes features (besides calling the model itself).
FEATURE_METHODS = frozenset(
    {*IMAGE_ENCODER_METHODS, "encode_text", "get_text_features", "forward", *TOWERS}
)
GRADIENT_WORDS = ("no_grad", "inference_mode", "set_grad_enabled")
GRADIENT_OFF = frozenset(
    {
        "torch.no_grad",
        "torch.inference_mode",
        "torch.autograd.no_grad",
        "torch.autograd.grad_mode.no_grad",
        "torch.autograd.grad_mode.inference_mode",
    }
)
# A function that calls these trains: its model is meant to be in training mode.
TRAINING_CALLS = frozenset({"backward", "zero_grad"})
STEPPERS = ("optim", "opt", "scaler")  # `optimizer.step()`, `scaler.step(opt)`
# Base classes that make a class an `nn.Module` (any library base the analysis cannot read counts).
MODULE_BASES = frozenset({"Module", "LightningModule", "PreTrainedModel", "ModelMixin"})
PLAIN_BASES = frozenset(
    {
        "object",
        "abc.ABC",
        "ABC",
        "typing.Protocol",
        "Protocol",
        "typing.Generic",
        "Generic",
        "typing.NamedTuple",
        "NamedTuple",
    }
)
