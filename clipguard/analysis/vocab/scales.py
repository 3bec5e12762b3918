"""Logit scales and what logits feed, by library API.

Sources: openai/CLIP `model.py` (`logit_scale = nn.Parameter(torch.ones([]) * np.log(1 / 0.07))`,
`forward` multiplies by `self.logit_scale.exp()`), open_clip 3.x `CLIP`/`CustomTextCLIP`
(the same, plus SigLIP's `logit_bias`; `forward` returns the exponentiated scale), transformers
5.x `CLIPModel`/`SiglipModel` (`logit_scale.exp()` in `forward`); torch for the operations.
"""

from __future__ import annotations

# Packages whose CLIP models hold `logit_scale` in log space (timm's CLIP towers have none).
LOG_SCALE_LIBRARIES = frozenset(
    {"clip", "open_clip", "open_clip_torch", "eva_clip", "transformers"}
)
EXPONENTIALS = frozenset({"exp", "exp_"})
# Methods that keep the value a log scale: moves, casts, clamps, reductions of a scalar.
SCALE_KEEPERS = frozenset(
    {
        "to",
        "cuda",
        "cpu",
        "float",
        "half",
        "double",
        "bfloat16",
        "detach",
        "clone",
        "clamp",
        "clamp_",
        "clip",
        "squeeze",
        "mean",
        "item",
        "tolist",
        "numpy",
        "type_as",
    }
)
TO_PYTHON = frozenset({"item", "tolist", "numpy"})  # no `.exp()` method on what these give
CLAMPS = frozenset({"torch.clamp", "torch.clip"})
MULTIPLIES = frozenset({"torch.mul", "torch.multiply", "numpy.multiply"})
# Methods that keep logits logits on their way to what consumes them.
LOGIT_KEEPERS = frozenset(
    {
        "t",
        "float",
        "half",
        "double",
        "detach",
        "cpu",
        "cuda",
        "to",
        "clone",
        "squeeze",
        "unsqueeze",
        "view",
        "reshape",
        "contiguous",
        "transpose",
        "permute",
        "numpy",
    }
)
SOFTMAXES = frozenset({"softmax", "log_softmax"})
SIGMOIDS = frozenset({"sigmoid", "logsigmoid"})
# What only the order of the logits matters to: a scale cannot change it.
RANKINGS = frozenset({"argmax", "argmin", "argsort", "topk", "sort", "accuracy"})
LOSSES = frozenset(
    {
        "cross_entropy",
        "nll_loss",
        "binary_cross_entropy_with_logits",
        "kl_div",
        "multilabel_soft_margin_loss",
    }
)
