"""Where a module hands images to a CLIP-family model: the inputs of its image encoder, of its
own preprocessing, and of its image processor."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, replace

from clipguard.analysis.flow import FUNCTIONS, flow_of
from clipguard.analysis.identity import Role, builds, role
from clipguard.analysis.models import Build, default_profile
from clipguard.analysis.modes import gradient_off, trains
from clipguard.analysis.nodes import all_nodes
from clipguard.analysis.source import SourceFile
from clipguard.analysis.vocab.models import IMAGE_ENCODER_METHODS, TOWERS
from clipguard.profiles import Profile

# Keywords under which models and processors take images.
IMAGE_KEYWORDS = ("pixel_values", "image", "images", "x", "img", "input")
INFERENCE_NAMES = re.compile(
    r"eval|test|infer|predict|extract|embed|encode|retriev|search|zero_?shot|"
    r"classify|score|index|demo",
    re.IGNORECASE,
)
TRAINING_NAMES = re.compile(r"train|fit|step|loss|backward|optimi", re.IGNORECASE)
# What the model's own preprocessing does to whatever it is given.
OWN_RECIPE = frozenset({"resize", "normalize"})


@dataclass(frozen=True)
class Consumer:
    """The CLIP-family model a preprocessing step feeds: its profile, and whether the profile was
    read from a model name (else OpenAI's is assumed)."""

    profile: Profile
    known: bool
    traced: bool = True  # False: an encoder of a model whose identity cannot be traced

    @classmethod
    def of(cls, build: Build) -> Consumer:
        return cls(build.profile, build.known)


@dataclass(frozen=True)
class EncoderInput:
    """Images handed to a CLIP-family model at `call`; `after` is what the receiving side still
    does to them (the model's own preprocessing resizes and normalizes), and `inference` when
    the features are computed for inference."""

    call: ast.Call
    inputs: tuple[ast.AST, ...]
    consumer: Consumer
    after: frozenset[str] = frozenset()


UNTRACED = Consumer(default_profile(), False, traced=False)


def encoder_inputs(file: SourceFile) -> list[EncoderInput]:
    """Every place this module hands images to a CLIP-family model."""
    return file.memo("clipguard.encoder_inputs", _encoder_inputs)


def _encoder_inputs(file: SourceFile) -> list[EncoderInput]:
    found = []
    local = module_clip(file)
    for node in all_nodes(file):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in (*IMAGE_ENCODER_METHODS, *TOWERS):
            held = role(file, func.value)
            if held is None and func.attr in IMAGE_ENCODER_METHODS:
                if local is None:
                    found.append(EncoderInput(node, _images(node), UNTRACED, _context(file, node)))
                    continue
                held = Role("model", local)  # an untraced receiver in a module of one CLIP model
            if (
                held is not None
                and held.kind == "model"
                and held.build.clip
                and not held.build.wrapper
            ):
                found.append(
                    EncoderInput(node, _images(node), Consumer.of(held.build), _context(file, node))
                )
            continue
        if id(node) in builds(file) or not _may_hold_model(file, func):
            continue
        held = role(file, func)
        if held is None or not held.build.clip or held.build.wrapper:
            continue  # a project class holding the model: where it hands over images is traced
        if held.kind == "model":
            found.append(
                EncoderInput(node, _images(node), Consumer.of(held.build), _context(file, node))
            )
        elif held.build.processor:
            found.append(
                EncoderInput(
                    node,
                    _processor_images(node, held.build),
                    Consumer.of(held.build),
                    OWN_RECIPE | _context(file, node),
                )
            )
        elif not held.build.vendored and not held.train_transform:
            found.append(
                EncoderInput(
                    node,
                    tuple(node.args[:1]),
                    Consumer.of(held.build),
                    OWN_RECIPE | _context(file, node),
                )
            )
    return found


def _context(file: SourceFile, call: ast.Call) -> frozenset[str]:
    """`inference` when the model computes features for inference there."""
    return frozenset({"inference"}) if inference(file, call) else frozenset()


def inference(file: SourceFile, call: ast.Call) -> bool:
    """Whether the call computes features for inference: under `no_grad` or `inference_mode`
    outside a training step, or in a function that says so by its decorator or its name
    (`evaluate`, `extract_features`)."""
    flow = flow_of(file)
    for parent, _ in flow.ancestors(call):
        if isinstance(parent, (ast.With, ast.AsyncWith)) and any(
            gradient_off(file, item.context_expr) for item in parent.items
        ):
            in_function = any(isinstance(p, FUNCTIONS) for p, _ in flow.ancestors(parent))
            return not (in_function and trains(file, call))
        if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(gradient_off(file, d) for d in parent.decorator_list):
                return True
            if INFERENCE_NAMES.search(parent.name) and not TRAINING_NAMES.search(parent.name):
                return True
    return False


def module_clip(file: SourceFile) -> Build | None:
    """The module's CLIP model when it builds exactly one kind and no other image model: what its
    unattributed encoder calls and exported pipelines feed."""
    found = list(builds(file).values())
    models = [b for b in found if not b.processor]
    clip = [b for b in models if b.clip]
    if not clip or any(not b.clip for b in models):
        return None
    first = clip[0]
    if all((b.profile, b.known) == (first.profile, first.known) for b in clip):
        return first
    if all(_recipe(b.profile) == _recipe(first.profile) for b in clip):
        return replace(first, known=False)  # several resolutions: only the recipe is known
    return None


def _recipe(profile: Profile) -> tuple:
    return profile.mean, profile.std, profile.interpolation, profile.resize_mode


def _may_hold_model(file: SourceFile, func: ast.AST) -> bool:
    """A call that can be a model's or its preprocessing's: through a variable, `self.x`, or
    `x.forward` (a library function or a method of some value is not)."""
    if isinstance(func, ast.Name):
        return file.qualname(func) is None  # not an imported function
    if isinstance(func, ast.Attribute):
        return func.attr in ("forward", "__call__") or (
            isinstance(func.value, ast.Name) and func.value.id == "self"
        )
    return False


def _images(call: ast.Call) -> tuple[ast.AST, ...]:
    inputs = list(call.args[:1])
    inputs += [k.value for k in call.keywords if k.arg is None or k.arg in IMAGE_KEYWORDS]
    return tuple(inputs)


def _processor_images(call: ast.Call, build: Build) -> tuple[ast.AST, ...]:
    """A `CLIPProcessor` takes text first, an image processor images first."""
    name = ast.unparse(build.node.func) if isinstance(build.node, ast.Call) else ""
    inputs = [k.value for k in call.keywords if k.arg in ("images", "image")]
    if call.args and ("Image" in name or "FeatureExtractor" in name):
        inputs.append(call.args[0])
    return tuple(inputs)
