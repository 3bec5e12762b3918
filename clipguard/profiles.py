"""Reference preprocessing profiles: what each CLIP-family model really expects.

Pure data and lookups; no torch. Sources: openai/CLIP `clip/clip.py` (`_transform`, model
resolutions), open_clip's `pretrained._PRETRAINED` (stored in `data/open_clip_pretrained.json`
with its version), transformers' `image_utils` constants.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)
ZERO = (0.0, 0.0, 0.0)
ONE = (1.0, 1.0, 1.0)

# openai/CLIP: model name -> model.visual.input_resolution
OPENAI_MODELS = {
    "RN50": 224,
    "RN101": 224,
    "RN50x4": 288,
    "RN50x16": 384,
    "RN50x64": 448,
    "ViT-B/32": 224,
    "ViT-B/16": 224,
    "ViT-L/14": 224,
    "ViT-L/14@336px": 336,
}


@dataclass(frozen=True)
class Profile:
    """How one model's images must be prepared."""

    name: str
    n_px: int
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    interpolation: str = "bicubic"  # bicubic | bilinear
    resize_mode: str = "shortest"  # shortest (resize + center crop) | squash | longest

    @property
    def normalization(self) -> str:
        """A name for the statistics: clip, imagenet, half, none, or custom."""
        return stats_name(self.mean, self.std)


def stats_name(mean, std) -> str:
    def close(a, b):
        return all(abs(x - y) < 1e-6 for x, y in zip(a, b))

    for name, (m, s) in {
        "clip": (CLIP_MEAN, CLIP_STD),
        "imagenet": (IMAGENET_MEAN, IMAGENET_STD),
        "half": (HALF, HALF),
        "none": (ZERO, ONE),
    }.items():
        if close(mean, m) and close(std, s):
            return name
    return "custom"


@cache
def open_clip_table() -> dict[tuple[str, str], Profile]:
    """open_clip pretrained tags: (model, tag) -> Profile, from the stored table."""
    data = json.loads(
        resources.files("clipguard.data").joinpath("open_clip_pretrained.json").read_text()
    )
    table = {}
    for row in data["tags"]:
        table[(row["model"], row["tag"])] = Profile(
            f"open_clip:{row['model']}/{row['tag']}",
            row["n_px"],
            tuple(row["mean"]),
            tuple(row["std"]),
            row["interpolation"],
            row["resize_mode"],
        )
    return table


@cache
def _hf_hub_index() -> dict[str, Profile]:
    data = json.loads(
        resources.files("clipguard.data").joinpath("open_clip_pretrained.json").read_text()
    )
    return {
        row["hf_hub"].lower(): open_clip_table()[(row["model"], row["tag"])]
        for row in data["tags"]
        if row["hf_hub"]
    }


def openai(name: str = "ViT-B/32") -> Profile:
    return Profile(name, OPENAI_MODELS[name])


def all_profiles() -> list[Profile]:
    return [openai(name) for name in OPENAI_MODELS] + list(open_clip_table().values())


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def lookup(name: str | None, pretrained: str | None = None) -> Profile | None:
    """The profile for a model name as code spells it, or None when it cannot be told.

    Understands openai names (`ViT-L/14@336px`), open_clip names with a tag
    (`ViT-B-32`, pretrained=`laion2b_s34b_b79k`, or `open_clip:ViT-B-32/laion2b_s34b_b79k`,
    or `hf-hub:timm/...`), and Hugging Face checkpoints (`openai/clip-vit-large-patch14-336`).
    """
    if not name:
        return None
    if name in OPENAI_MODELS:
        return openai(name)
    if name.startswith("open_clip:"):
        model, _, tag = name[len("open_clip:") :].partition("/")
        return lookup(model, tag or pretrained)
    if name.startswith("hf-hub:"):
        return _hf_hub_index().get(name[len("hf-hub:") :].lower().rstrip("/"))
    hf = _hugging_face(name)
    if hf is not None:
        return hf
    table = open_clip_table()
    models = {model for model, _ in table}
    model = next((m for m in models if m.lower() == name.lower()), None)
    if model is None:
        return None
    if pretrained:
        profile = table.get((model, pretrained)) or table.get((model, pretrained.lower()))
        if profile is not None:
            return profile
    profiles = {
        (p.mean, p.std, p.interpolation, p.resize_mode, p.n_px)
        for (m, _), p in table.items()
        if m == model
    }
    if len(profiles) == 1:
        return next(p for (m, _), p in table.items() if m == model)
    return None


_HF_OPENAI = re.compile(
    r"(?:^|/)clip-(vit|rn)[-_]?(base|large|b|l)?[-_]?(patch)?(\d+)(?:[-_](\d+))?", re.IGNORECASE
)


def _hugging_face(name: str) -> Profile | None:
    """openai/clip-vit-base-patch32 and friends; other hub ids via open_clip's hf_hub table."""
    by_hub = _hf_hub_index().get(name.lower().rstrip("/"))
    if by_hub is not None:
        return by_hub
    if not name.lower().startswith("openai/clip-"):
        return None
    match = _HF_OPENAI.search(name)
    if not match:
        return Profile(name, 224)
    resolution = match.group(5)
    return Profile(name, int(resolution) if resolution else 224)


# The OpenAI checkpoints on the Hugging Face hub (transformers' `CLIPModel.from_pretrained` ids).
HF_OPENAI = (
    "openai/clip-vit-base-patch32",
    "openai/clip-vit-base-patch16",
    "openai/clip-vit-large-patch14",
    "openai/clip-vit-large-patch14-336",
)


def spellings() -> list[tuple[str, Profile]]:
    """Every model name `--model` accepts that can be listed, with the profile it gets: OpenAI
    names and their transformers ids, open_clip `MODEL/TAG` (also as `hf-hub:` and bare hub
    ids), and open_clip model names whose tags all share one profile."""
    names = [*OPENAI_MODELS, *HF_OPENAI]
    data = json.loads(
        resources.files("clipguard.data").joinpath("open_clip_pretrained.json").read_text()
    )
    for row in data["tags"]:
        names.append(f"open_clip:{row['model']}/{row['tag']}")
        if row["hf_hub"]:
            names += [f"hf-hub:{row['hf_hub']}", row["hf_hub"]]
    names += [row["model"] for row in data["tags"]]
    # What `--model NAME` really gets, once per name (open_clip models share some hub ids).
    resolved = {name: resolve(name) for name in names}
    return [(name, profile) for name, profile in resolved.items() if profile is not None]


# Names accepted by pattern rather than listed: (how to write them, what they get).
PATTERNS = (
    (
        "openai/clip-<variant>[-<n_px>]",
        "CLIP statistics, bicubic, shortest side; n_px from the name (224)",
    ),
    ("google/siglip[2]-<variant>-<n_px>", "mean/std 0.5, bicubic, squash to n_px"),
    ("<any name containing siglip>", "224, mean/std 0.5, bicubic, squash"),
    ("<any name containing clipa>", "224, ImageNet statistics, bilinear, squash"),
    ("<any name containing mobileclip>", "224, no normalization, bilinear, shortest side"),
)


def model_family_profile(name: str) -> Profile | None:
    """A profile from a model's family name alone (SigLIP, CLIPA, MobileCLIP) when no tag is known."""
    lowered = name.lower()
    if "siglip" in lowered:
        return Profile(name, 224, HALF, HALF, "bicubic", "squash")
    if "clipa" in lowered:
        return Profile(name, 224, IMAGENET_MEAN, IMAGENET_STD, "bilinear", "squash")
    if "mobileclip" in lowered:
        return Profile(name, 224, ZERO, ONE, "bilinear", "shortest")
    return None


# Hugging Face checkpoints that open_clip's table does not name. SigLIP / SigLIP 2 processors
# (transformers `SiglipImageProcessor`): squash to size x size, bicubic, mean/std 0.5; the size is
# the checkpoint name's last number (google/siglip-so400m-patch14-384 -> 384).
_HF_SIGLIP = re.compile(r"^google/siglip2?-[\w.-]+?-(\d{3})$", re.IGNORECASE)


def checkpoint_profile(name: str) -> Profile | None:
    """A profile for a Hugging Face checkpoint id that `lookup` does not know (SigLIP sizes)."""
    match = _HF_SIGLIP.match(name.strip().rstrip("/"))
    if match:
        return Profile(name, int(match.group(1)), HALF, HALF, "bicubic", "squash")
    return None


def resolve(name: str) -> Profile | None:
    """The profile for a user-given model name: `lookup`, then checkpoints, then the family."""
    return lookup(name) or checkpoint_profile(name) or model_family_profile(name)


# Text side. open_clip's `tokenize` and openai/CLIP's `clip.tokenize` are CLIP's byte-pair encoder
# at 77 tokens; `open_clip.get_tokenizer(model)` gives each model its own (the stored table).
CLIP_BPE = "clip-bpe"
CLIP_CONTEXT = 77
# What SigLIP's text tower was trained on: text padded to a fixed 64 tokens (the model cards ask
# for `padding="max_length"`, SigLIP 2's standalone Gemma tokenizer also for `max_length=64`).
# transformers 5.x: `SiglipTokenizer` has `model_max_length=64` but pads only when asked;
# `Siglip2Processor` pads to 64 by default (its `text_kwargs`), `SiglipProcessor` does not.
SIGLIP_TEXT_LENGTH = 64


@dataclass(frozen=True)
class TextProfile:
    """How one open_clip model's text must be tokenized."""

    model: str
    tokenizer: str  # CLIP_BPE, `hf:<tokenizer id>` or `siglip:<vocabulary>`
    context_length: int

    @property
    def clip_bpe(self) -> bool:
        """Whether `open_clip.tokenize` / `clip.tokenize` make exactly this model's tokens."""
        return self.tokenizer == CLIP_BPE and self.context_length == CLIP_CONTEXT


@cache
def _tokenizer_table() -> dict[str, TextProfile]:
    path = resources.files("clipguard.data").joinpath("open_clip_tokenizers.json")
    data = json.loads(path.read_text())
    return {
        model.lower(): TextProfile(model, row["tokenizer"], row["context_length"])
        for model, row in data["models"].items()
    }


def open_clip_text(name: str | None) -> TextProfile | None:
    """What `open_clip.get_tokenizer(name)` gives for an open_clip model name (`ViT-B-16-SigLIP`,
    or `hf-hub:timm/...` of a pretrained tag), or None when the name is not in the table."""
    if not name:
        return None
    if name.startswith("hf-hub:"):
        name = _hub_models().get(name[len("hf-hub:") :].lower().rstrip("/"), "")
    return _tokenizer_table().get(name.lower())


@cache
def _hub_models() -> dict[str, str]:
    path = resources.files("clipguard.data").joinpath("open_clip_pretrained.json")
    rows = json.loads(path.read_text())["tags"]
    return {row["hf_hub"].lower(): row["model"] for row in rows if row["hf_hub"]}


def siglip_generation(name: str | None) -> int | None:
    """2 for a SigLIP 2 class or checkpoint name (`Siglip2Processor`, `google/siglip2-base-...`),
    1 for a SigLIP one, else None."""
    lowered = (name or "").lower()
    if "siglip2" in lowered or "siglip-2" in lowered:
        return 2
    return 1 if "siglip" in lowered else None
