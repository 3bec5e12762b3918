"""CG304: a library CLIP model's log-space `logit_scale` multiplies similarities without `.exp()`."""

from __future__ import annotations

from clipguard.analysis.scales import log_scale_factors
from clipguard.rule import Invalid, Rule
from clipguard.rules.fixes import exp_edit

_FEEDS = {
    "softmax": "a softmax",
    "sigmoid": "a sigmoid",
    "loss": "a loss",
    "threshold": "a threshold",
}


class LogitScaleNotExponentiated(Rule):
    code = "CG304"
    name = "logit-scale-not-exponentiated"
    message = (
        "a CLIP model's `logit_scale` is the log of the scale (about 4.6, not 100): "
        "multiply by `logit_scale.exp()`"
    )
    summary = "A CLIP model's log-space `logit_scale` multiplies similarities without `.exp()`"
    fix_applicability = "unsafe"
    triggers = (b"logit_scale",)
    valid = (
        # The open_clip README: the scale exponentiated.
        """\
import open_clip
import torch.nn.functional as F
model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained="openai")
image = F.normalize(model.encode_image(images), dim=-1)
text = F.normalize(model.encode_text(tokens), dim=-1)
probs = (model.logit_scale.exp() * image @ text.T).softmax(dim=-1)
""",
        # What the forward returns is already exponentiated (bioclip PRs #39/#40).
        """\
import open_clip
import torch.nn.functional as F
model, _, _ = open_clip.create_model_and_transforms("ViT-B-32")
image_features, text_features, logit_scale = model(images, tokens)
loss = F.cross_entropy(logit_scale * image_features @ text_features.T, labels)
""",
        # A project's own temperature is not known to be log-space.
        """\
import torch
import torch.nn as nn


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.logit_scale = nn.Parameter(torch.tensor(10.0))

    def forward(self, image, text):
        return (self.logit_scale * image @ text.T).softmax(dim=-1)
""",
        # Exponentiated in the helper it is passed to (as fc-clip does).
        """\
import clip
import torch


def classify(image, text, logit_scale):
    scale = torch.clamp(logit_scale.exp(), max=100)
    return (scale * image @ text.T).softmax(dim=-1)


model, preprocess = clip.load("ViT-B/32")
probs = classify(image_features, text_features, model.logit_scale)
""",
        # Only the argmax is used: a positive scale cannot change it.
        """\
import clip
model, preprocess = clip.load("ViT-B/32")
predicted = (model.logit_scale * image_features @ text_features.T).argmax(dim=-1)
""",
    )
    invalid = (
        Invalid(
            """\
import clip
import torch.nn.functional as F
model, preprocess = clip.load("ViT-B/32")
image = F.normalize(model.encode_image(images), dim=-1)
text = F.normalize(model.encode_text(tokens), dim=-1)
probs = (model.logit_scale * image @ text.T).softmax(dim=-1)
""",
            fixed="""\
import clip
import torch.nn.functional as F
model, preprocess = clip.load("ViT-B/32")
image = F.normalize(model.encode_image(images), dim=-1)
text = F.normalize(model.encode_text(tokens), dim=-1)
probs = (model.logit_scale.exp() * image @ text.T).softmax(dim=-1)
""",
        ),
        # Kept in a name first, and the logits go to a loss.
        Invalid(
            """\
import torch.nn.functional as F
from transformers import CLIPModel

model = CLIPModel.from_pretrained("openai/clip-vit-base-patch32")


def loss_of(image, text, labels):
    scale = model.logit_scale.to(image.device)
    logits = image @ text.T * scale
    return F.cross_entropy(logits, labels)
""",
            fixed="""\
import torch.nn.functional as F
from transformers import CLIPModel

model = CLIPModel.from_pretrained("openai/clip-vit-base-patch32")


def loss_of(image, text, labels):
    scale = model.logit_scale.to(image.device)
    logits = image @ text.T * scale.exp()
    return F.cross_entropy(logits, labels)
""",
        ),
        # A prompt learner keeping the CLIP model's parameter (`self.logit_scale = clip_model...`).
        """\
import clip
import torch.nn as nn


class PromptLearner(nn.Module):
    def __init__(self):
        super().__init__()
        clip_model, _ = clip.load("ViT-B/16")
        self.logit_scale = clip_model.logit_scale

    def forward(self, image, text):
        return self.logit_scale * image @ text.t()
""",
    )

    def run(self) -> None:
        for found in log_scale_factors(self.file):
            feeds = found.feeds - {"ranking"}
            if not found.similarities or not feeds:
                continue
            edit = exp_edit(self.file, found.factor, found.tensor)
            self.report(
                found.read,
                self._message(found.read, feeds),
                edits=[edit] if edit else None,
                fix_title="Exponentiate the logit scale",
            )

    def _message(self, read, feeds: frozenset[str]) -> str:
        into = next((_FEEDS[kind] for kind in _FEEDS if kind in feeds), "")
        where = f", and the logits feed {into}" if into else ""
        text = self.file.segment(read)
        return (
            f"`{text}` is the log of the scale (about 4.6 = log 100 for a trained CLIP), yet it "
            f"multiplies similarities here{where}: use `{text}.exp()`"
        )
