"""Which image models a module builds, and the preprocessing profile of each CLIP-family one.

Recognised CLIP builds: `clip.load`, open_clip's `create_model_and_transforms` /
`create_model` / `create_model_from_pretrained` (and eva_clip's, which share their names), transformers CLIP/SigLIP classes and
`Auto*` classes with a CLIP checkpoint, timm models with `clip` in the name, and config dicts
whose backbone type or `pretrained` path names CLIP. Non-CLIP builds: torchvision models, other
timm and transformers models, `torch.hub.load`, and config backbones of another type.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, replace

from clipguard.analysis.vocab.models import (
    CLIP_WORD,
    HF_AUTO_MODELS,
    HF_AUTO_PROCESSORS,
    HF_CLIP_MODELS,
    HF_CLIP_PROCESSORS,
    HF_NOT_IMAGE,
    OPEN_CLIP_BUILDERS,
    OPEN_CLIP_ROOTS,
    OPENAI_CHECKPOINT,
)
from clipguard.profiles import Profile, lookup, model_family_profile, open_clip_table


@dataclass(frozen=True)
class Build:
    """A model or processor construction found in the module."""

    node: ast.AST
    clip: bool
    profile: Profile  # the reference profile (OpenAI's when the name cannot be read)
    known: bool  # whether the profile comes from a readable model name
    trusted: bool  # it returns (or is) the model's own preprocessing
    processor: bool = False
    vendored: bool = False  # a project copy of the library's loader: its preprocessing may differ
    wrapper: bool = False  # a project class holding the model: its own code hands it the images
    # The library function or class that built it, qualified (`open_clip.create_model`); empty
    # for a project class that wraps one.
    factory: str = ""
    model_name: str | None = None  # the model name or checkpoint as the code spells it


def default_profile(n_px: int = 224) -> Profile:
    return Profile("OpenAI CLIP (assumed)", n_px)


def string(node: ast.AST | None, flow=None) -> str | None:
    """A string literal, or a name bound once to one in this module."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if flow is not None and isinstance(node, ast.Name):
        definitions = flow.definitions(node)
        texts = {string(d.value) for d in definitions if d.value is not None}
        if len(texts) == 1 and len(definitions) == len(
            [d for d in definitions if d.value is not None]
        ):
            return texts.pop()
    if isinstance(node, ast.JoinedStr):
        return None
    return None


def argument(call: ast.Call, index: int, *names: str) -> ast.AST | None:
    for keyword in call.keywords:
        if keyword.arg in names:
            return keyword.value
    if index < len(call.args) and not isinstance(call.args[index], ast.Starred):
        return call.args[index]
    return None


def profile_for(name: str | None, pretrained: str | None = None) -> tuple[Profile, bool]:
    """The profile for a readable model name, else OpenAI's assumed (known=False)."""
    if not name:
        return default_profile(), False
    found = lookup(name, pretrained) or model_family_profile(name)
    if found is None and not name.startswith("hf-hub:"):
        found = lookup("timm/" + name) if "/" not in name else None
    if found is not None:
        return found, True
    resolutions = {p.n_px for (m, _), p in open_clip_table().items() if m.lower() == name.lower()}
    if len(resolutions) == 1:
        # open_clip model with an unreadable tag: the resolution is known, the statistics assumed
        return Profile(f"open_clip:{name}", resolutions.pop()), True
    return default_profile(), False


def classify(file, call: ast.Call, flow) -> Build | None:
    """The model or processor `call` builds, if it is one this module model knows."""
    qualified = file.qualname(call.func)
    if qualified is None:
        return None
    build = _classify(qualified, call, flow)
    if build is None:
        return None
    name = argument(call, 0, "model_name", "name", "pretrained_model_name_or_path")
    return replace(build, factory=qualified, model_name=string(name, flow))


def _classify(qualified: str, call: ast.Call, flow) -> Build | None:
    parts = qualified.split(".")
    root, last = parts[0], parts[-1]
    if last == "load" and (root == "clip" or (len(parts) >= 2 and parts[-2] == "clip")):
        # openai/CLIP, or a copy of it vendored in a package (`big_sleep.clip.load`)
        profile, known = profile_for(string(argument(call, 0, "name"), flow))
        return Build(call, True, profile, known, trusted=True)
    if root in OPEN_CLIP_ROOTS and last in OPEN_CLIP_BUILDERS:
        name = string(argument(call, 0, "model_name"), flow)
        pretrained = string(argument(call, 1, "pretrained"), flow)
        profile, known = profile_for(name, pretrained)
        return Build(call, True, profile, known, trusted=last != "create_model")
    if root == "transformers":
        return _transformers(parts, call, flow)
    if root == "timm" and last == "create_model":
        name = string(argument(call, 0, "model_name"), flow)
        if name and CLIP_WORD.search(name):
            profile, known = profile_for(name)
            return Build(call, True, profile, known, trusted=False)
        return Build(call, False, default_profile(), False, trusted=False)
    if (
        root == "torchvision"
        and len(parts) >= 3
        and parts[1] == "models"
        and last[:1].islower()
        and last not in ("transforms",)
    ):
        return Build(call, False, default_profile(), False, trusted=False)
    if qualified == "torch.hub.load":
        text = " ".join(filter(None, (string(a) for a in call.args)))
        return Build(call, bool(CLIP_WORD.search(text)), default_profile(), False, trusted=False)
    return None


def _transformers(parts: list[str], call: ast.Call, flow) -> Build | None:
    cls = parts[-2] if parts[-1] in ("from_pretrained",) and len(parts) >= 2 else parts[-1]
    checkpoint = (
        string(argument(call, 0, "pretrained_model_name_or_path"), flow)
        if parts[-1] == "from_pretrained"
        else None
    )
    if HF_NOT_IMAGE.search(cls):
        return None
    if HF_CLIP_MODELS.match(cls) or HF_CLIP_PROCESSORS.match(cls):
        processor = bool(HF_CLIP_PROCESSORS.match(cls))
        profile, known = profile_for(checkpoint) if checkpoint else (None, False)
        if profile is None or not known:
            family = model_family_profile(cls)
            profile, known = (family, False) if family else (default_profile(), False)
        return Build(call, True, profile, known, trusted=processor, processor=processor)
    if HF_AUTO_MODELS.match(cls) or HF_AUTO_PROCESSORS.match(cls):
        processor = bool(HF_AUTO_PROCESSORS.match(cls))
        if checkpoint and CLIP_WORD.search(checkpoint):
            profile, known = profile_for(checkpoint)
            return Build(call, True, profile, known, trusted=processor, processor=processor)
        if processor:
            return None
        return Build(call, False, default_profile(), False, trusted=False)
    if (
        parts[-1] == "from_pretrained"
        and cls.endswith(("Model", "ForImageClassification"))
        or re.search(r"For\w*Image\w*$|ForObjectDetection$|ForSemanticSegmentation$", cls)
    ):
        return Build(call, False, default_profile(), False, trusted=False)
    return None


def annotated_build(qualified: str | None, node: ast.AST) -> Build | None:
    """A transformers CLIP-family model or processor class named by a parameter's annotation
    (`clip_model: CLIPModel`, as pipelines receive their encoders): its family's profile."""
    if not qualified or not qualified.startswith("transformers."):
        return None
    cls = qualified.rsplit(".", 1)[-1]
    if HF_NOT_IMAGE.search(cls) or not (HF_CLIP_MODELS.match(cls) or HF_CLIP_PROCESSORS.match(cls)):
        return None
    processor = bool(HF_CLIP_PROCESSORS.match(cls))
    family = model_family_profile(cls)
    return Build(
        node, True, family or default_profile(), False, trusted=processor, processor=processor
    )


def config_build(node: ast.AST, key: str | None) -> Build | None:
    """A config dict (`dict(type=..., pretrained=...)` or `{...}`) that names a backbone."""
    items = config_items(node)
    if items is None:
        return None
    texts = [
        string(items.get(k)) or ""
        for k in ("type", "pretrained", "checkpoint", "clip_model", "model_name", "arch")
    ]
    if any(CLIP_WORD.search(t) or OPENAI_CHECKPOINT.search(t) for t in texts):
        name = next((t for t in texts if t and not t.endswith(".pt") and "/" not in t), None)
        family = model_family_profile(name) if name else None
        return Build(node, True, family or default_profile(), family is not None, trusted=False)
    if key == "backbone" and texts[0]:
        return Build(node, False, default_profile(), False, trusted=False)
    return None


def config_items(node: ast.AST) -> dict[str, ast.AST] | None:
    """Keyword items of `dict(a=1)` or string-keyed items of `{"a": 1}`."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        return {k.arg: k.value for k in node.keywords if k.arg}
    if isinstance(node, ast.Dict):
        return {
            k.value: v
            for k, v in zip(node.keys, node.values)
            if isinstance(k, ast.Constant) and isinstance(k.value, str)
        }
    return None
