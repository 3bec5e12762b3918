"""CG305: an open_clip (or eva_clip) factory model computes inference features in training mode."""

from __future__ import annotations

import ast

from clipguard.analysis.flow import flow_of
from clipguard.analysis.identity import builds
from clipguard.analysis.modes import FeatureUse, eval_mode, feature_uses
from clipguard.analysis.vocab.models import OPEN_CLIP_BUILDERS, OPEN_CLIP_ROOTS
from clipguard.rule import Invalid, Rule, Valid
from clipguard.rules.fixes import eval_edit

_LOADER = """\
import open_clip


def load(name):
    model, _, preprocess = open_clip.create_model_and_transforms(name)
    model.eval()
    return model, preprocess
"""


class ModelInTrainMode(Rule):
    code = "CG305"
    name = "model-in-train-mode"
    message = (
        "an open_clip model computes features for inference in training mode: call `model.eval()`"
    )
    summary = "An open_clip (or eva_clip) model computes inference features without `.eval()`"
    fix_applicability = "unsafe"
    # The model's library or an encoder named in the file, or an imported loader that builds one.
    needs_model = True
    triggers = (b"open_clip", b"eva_clip", b"create_model", b"encode_image", b"encode_text")
    imported_triggers = (b"create_model",)
    valid = (
        # The open_clip README.
        """\
import open_clip
import torch
model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained="laion2b_s34b_b79k")
model.eval()
with torch.no_grad():
    features = model.encode_image(preprocess(image).unsqueeze(0))
""",
        # `clip.load` returns the model in eval mode.
        """\
import clip
import torch
model, preprocess = clip.load("ViT-B/32")
with torch.no_grad():
    features = model.encode_image(preprocess(image).unsqueeze(0))
""",
        # Switched on its image tower, as the model's `.visual`.
        """\
import open_clip
import torch
model = open_clip.create_model("ViT-L-14", pretrained="openai")
model.visual.eval()
with torch.inference_mode():
    features = model.encode_image(batch)
""",
        # A training step: the model is meant to train.
        """\
import open_clip
import torch
model, preprocess, _ = open_clip.create_model_and_transforms("ViT-B-32")
for images, texts in loader:
    with torch.no_grad():
        targets = model.encode_text(texts)
    loss = (model.encode_image(images) - targets).pow(2).mean()
    loss.backward()
    optimizer.step()
""",
        # Switched by the loader of another module.
        Valid(
            """\
import torch
from loader import load
model, preprocess = load("ViT-B-32")
with torch.no_grad():
    features = model.encode_image(images)
""",
            files={"loader.py": _LOADER},
        ),
    )
    invalid = (
        Invalid(
            """\
import open_clip
import torch
model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained="laion2b_s34b_b79k")
with torch.no_grad():
    features = model.encode_image(preprocess(image).unsqueeze(0))
""",
            fixed="""\
import open_clip
import torch
model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained="laion2b_s34b_b79k")
model.eval()
with torch.no_grad():
    features = model.encode_image(preprocess(image).unsqueeze(0))
""",
        ),
        # An evaluation helper given the model, its loader never switching it.
        Invalid(
            """\
import torch
from eva_clip import create_model_and_transforms


@torch.no_grad()
def embed(model, images):
    return model.encode_image(images)


model, _, preprocess = create_model_and_transforms("EVA02-CLIP-B-16", pretrained="eva_clip")
features = embed(model, batch)
""",
            fixed="""\
import torch
from eva_clip import create_model_and_transforms


@torch.no_grad()
def embed(model, images):
    return model.encode_image(images)


model, _, preprocess = create_model_and_transforms("EVA02-CLIP-B-16", pretrained="eva_clip")
model.eval()
features = embed(model, batch)
""",
        ),
    )

    def run(self) -> None:
        reported = set()
        for use in feature_uses(self.file):
            if not _factory(use) or not use.no_grad or use.trains or id(use.build.node) in reported:
                continue
            if eval_mode(self.file, use) != "train":
                continue
            reported.add(id(use.build.node))
            edit = self._eval_edit(use)
            self.report(
                use.call,
                self._message(use),
                edits=[edit] if edit else None,
                fix_title="Switch the model to eval mode after it is built",
            )

    def _message(self, use: FeatureUse) -> str:
        factory = use.build.factory.split(".")
        model = " ".join(self.file.segment(use.model).split())
        return (
            f"`{model}` (from `{factory[0]}.{factory[-1]}`) computes features for inference "
            f"without `.eval()`: open_clip's factories return models in training mode, so dropout, "
            f"stochastic depth and batch norm act as in training"
        )

    def _eval_edit(self, use: FeatureUse):
        """`model.eval()` after the statement that builds the model, when it is in this file."""
        call = use.build.node
        if id(call) not in builds(self.file) or builds(self.file)[id(call)] is not use.build:
            return None
        statement = flow_of(self.file).statement(call)
        if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
            return None
        target = statement.targets[0]
        if isinstance(target, (ast.Tuple, ast.List)) and target.elts:
            target = target.elts[0]
        if not _holds_call(statement.value, call) or not isinstance(
            target, (ast.Name, ast.Attribute)
        ):
            return None
        return eval_edit(self.file, statement, target)


def _factory(use: FeatureUse) -> bool:
    parts = use.build.factory.split(".")
    return parts[0] in OPEN_CLIP_ROOTS and parts[-1] in OPEN_CLIP_BUILDERS


def _holds_call(value: ast.AST, call: ast.AST) -> bool:
    """`value` is the build call, or the call moved or cast (`create_model(...).to(device)`)."""
    while value is not call:
        if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)):
            return False
        value = value.func.value
    return True
