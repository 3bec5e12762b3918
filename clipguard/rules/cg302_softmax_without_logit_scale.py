"""CG302: a softmax over cosine similarities with no logit scale or temperature."""

from __future__ import annotations

from clipguard.analysis.features import softmaxes
from clipguard.analysis.states import COS
from clipguard.rule import Rule


class SoftmaxWithoutLogitScale(Rule):
    code = "CG302"
    name = "softmax-without-logit-scale"
    message = (
        "softmax over cosine similarities without a logit scale or temperature: "
        "cosines lie in [-1, 1], so the probabilities are nearly uniform"
    )
    summary = "Softmax over cosine similarities with no logit scale or temperature"
    triggers = (b"softmax", b"Softmax")
    valid = (
        """\
import torch.nn.functional as F
img = F.normalize(model.encode_image(x), dim=-1)
txt = F.normalize(model.encode_text(t), dim=-1)
probs = (model.logit_scale.exp() * img @ txt.T).softmax(dim=-1)
""",
        # A deliberate temperature, as in MCM's `--T`.
        """\
import torch
import torch.nn.functional as F
img = F.normalize(model.encode_image(x), dim=-1)
txt = F.normalize(model.encode_text(t), dim=-1)
probs = torch.softmax(img @ txt.T / args.T, dim=-1)
""",
        # Only the argmax is used: the scale cannot change it.
        """\
import torch.nn.functional as F
img = F.normalize(model.encode_image(x), dim=-1)
txt = F.normalize(model.encode_text(t), dim=-1)
probs = F.softmax(img @ txt.T, dim=-1)
label = probs.argmax(dim=-1)
""",
        # The model's own logits are already scaled.
        """\
logits_per_image, logits_per_text = model(image, text)
probs = logits_per_image.softmax(dim=-1)
""",
    )
    invalid = (
        """\
import torch.nn.functional as F
img = F.normalize(model.encode_image(x), dim=-1)
txt = F.normalize(model.encode_text(t), dim=-1)
probs = (img @ txt.T).softmax(dim=-1)
""",
        # Cosine weights for feature fusion, as in concept-fusion#3.
        """\
import torch
sims = torch.nn.functional.cosine_similarity(global_feat, local_feats, dim=-1)
weights = torch.softmax(sims, dim=0)
fused = (weights[:, None] * local_feats).sum(0)
""",
    )

    def run(self) -> None:
        for softmax in softmaxes(self.file):
            over = softmax.over
            if (
                over is not None
                and over.kind == COS
                and not over.scaled
                and not softmax.ranking_only()
            ):
                self.report(softmax.node)
