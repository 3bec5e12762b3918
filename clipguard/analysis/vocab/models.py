"""CLIP-family models as libraries build and call them.

Sources: openai/CLIP `clip.load`; open_clip 3.x factories (and EVA-CLIP's `eva_clip`); transformers 5.x model and processor
classes (CLIP, SigLIP, SigLIP 2, AltCLIP, Chinese-CLIP, MetaCLIP 2); timm model names with
`clip`; the checkpoint file names of openai/CLIP's `_MODELS`.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator

OPEN_CLIP_BUILDERS = ("create_model_and_transforms", "create_model", "create_model_from_pretrained")
# Packages with open_clip's factories: open_clip itself and EVA-CLIP's fork of it, `eva_clip`
# (diffusers' ConsisID repackaging, `consisid_eva_clip`, is left out: see docs/decisions.md).
OPEN_CLIP_ROOTS = ("open_clip", "open_clip_torch", "eva_clip")
# transformers classes of the CLIP family that take images (text-only classes build no image model)
HF_CLIP_MODELS = re.compile(
    r"^(CLIP|Siglip2?|AltCLIP|ChineseCLIP|MetaClip2?)(Model|VisionModel\w*)$"
)
HF_CLIP_PROCESSORS = re.compile(
    r"^(CLIP|Siglip2?|AltCLIP|ChineseCLIP)(Processor|ImageProcessor\w*|FeatureExtractor)$"
)
HF_AUTO_MODELS = re.compile(r"^(AutoModel\w*|TFAutoModel\w*)$")
HF_AUTO_PROCESSORS = re.compile(r"^(AutoProcessor|AutoImageProcessor|AutoFeatureExtractor)$")
HF_NOT_IMAGE = re.compile(
    r"(Tokenizer|Config|TextModel\w*|ForCausalLM|ForMaskedLM|ForSequenceClassification)$"
)
CLIP_WORD = re.compile(r"clip|siglip", re.IGNORECASE)
OPENAI_CHECKPOINT = re.compile(
    r"(^|[/\\])(RN50|RN101|RN50x4|RN50x16|RN50x64|ViT-B-32|ViT-B-16|ViT-L-14(-336px)?)"
    r"\.pt$"
)

# Methods that take images and give image features, and the towers that do.
IMAGE_ENCODER_METHODS = ("encode_image", "get_image_features")
TOWERS = ("visual", "vision_model", "vision_tower", "image_encoder")
# Methods that return the model itself (moved, cast, switched to eval).
MODEL_KEEPERS = frozenset(
    {"to", "eval", "cuda", "cpu", "half", "float", "train", "requires_grad_", "double", "bfloat16"}
)
# Names of variables and attributes that hold an image model of some kind.
MODEL_LIKE = re.compile(
    r"(^|_)(model|net|backbone|encoder|classifier|cnn|resnet\d*|vit|dino\w*)s?\d*$"
    r"|^(resnet|vgg|efficientnet|convnext|densenet|inception|mobilenet)",
    re.IGNORECASE,
)
# A checkpoint file whose name says it holds CLIP weights (`ViT16_clip_backbone.pth`).
CLIP_CHECKPOINT = re.compile(
    r"clip[^/\\]*\.(pth|pt|bin|ckpt|safetensors)$|"
    r"(^|[/\\])[^/\\]*clip[^/\\]*[/\\]",
    re.IGNORECASE,
)

# Code that builds or calls a CLIP-family model, read from a module's bytes before parsing it:
# encoder calls, the factories, checkpoint names handed to `from_pretrained`, timm or a config or
# written in code as a hub id (`MODEL_ID = "openai/clip-vit-base-patch32"`, not "data/clips"),
# and parameters annotated with a model or processor class (`image_encoder: CLIPVisionModel`).
CLIP_CODE = re.compile(
    rb"\.(?:encode_image|encode_text|get_image_features|get_text_features)\(|clip\.load\(|"
    rb"create_model_and_transforms\(|create_model_from_pretrained\(|open_clip\.create_model\(|"
    rb"(?:CLIP|Siglip2?|AltCLIP|ChineseCLIP)\w*\.from_pretrained\(|"
    rb"(?:from_pretrained|create_model)\(\s*[\"'][^\"'\n]*(?:clip|siglip)|"
    rb"(?<!\w)(?:type|pretrained|checkpoint)\s*=\s*[\"'][^\"'\n]*clip|"
    rb"[\"'][\w.-]+/[\w.-]*?(?:clip|siglip)(?!s\b)[\w.-]*[\"']|"
    rb"(?<=\w):[ \t]*[\"']?(?-i:(?:CLIP|Siglip2?|AltCLIP|ChineseCLIP)\w*(?:Model|Processor))",
    re.IGNORECASE,
)


# A class calling its own encoder method is that class, not a user of a CLIP model; so is a
# module defining the encoder method it calls.
OWN_METHOD = (b"self", b"super()", b"cls")


# Every alternative of CLIP_CODE holds one of these (lower-cased): only lines near them are searched.
WINDOW = 400
CLIP_CODE_ANCHORS = (
    b"clip",
    b"siglip",
    b"encode_image(",
    b"encode_text(",
    b"get_image_features(",
    b"get_text_features(",
    b"create_model_and_transforms(",
    b"create_model_from_pretrained(",
)


def holds_clip_code(data: bytes, lowered: bytes | None = None) -> bool:
    """Whether a module's code (not a docstring or a comment) builds or calls a CLIP model."""
    return next(clip_code_positions(data, lowered), None) is not None


def clip_code_positions(data: bytes, lowered: bytes | None = None) -> Iterator[int]:
    """Where a module's code builds or calls a CLIP model, searched only near CLIP_CODE_ANCHORS
    (each stretch of the module once, however many anchors it holds)."""
    lowered = data.lower() if lowered is None else lowered
    windows = sorted(
        _around(lowered, at) for anchor in CLIP_CODE_ANCHORS for at in _finds(lowered, anchor)
    )
    quotes = _Quotes(data)
    start = end = -1
    for low, high in windows:
        if low <= end:
            end = max(end, high)
            continue
        if end != -1:
            yield from _code_matches(data, start, end, quotes)
        start, end = low, high
    if end != -1:
        yield from _code_matches(data, start, end, quotes)


def _finds(data: bytes, word: bytes) -> Iterator[int]:
    at = data.find(word)
    while at != -1:
        yield at
        at = data.find(word, at + len(word))


def _around(data: bytes, at: int) -> tuple[int, int]:
    """From the line before `at` (a call may open there) to the end of the line after, at most
    WINDOW bytes either side."""
    low, high = max(0, at - WINDOW), at + WINDOW
    start = data.rfind(b"\n", low, max(low, data.rfind(b"\n", low, at)))
    end = data.find(b"\n", data.find(b"\n", at, high) + 1, high) if b"\n" in data[at:high] else -1
    return (low if start == -1 else start + 1), (high if end == -1 else end)


def _code_matches(data: bytes, start: int, end: int, quotes: _Quotes) -> Iterator[int]:
    for match in CLIP_CODE.finditer(data, start, end):
        line = data.rfind(b"\n", 0, match.start()) + 1
        before = data[line : match.start()]
        # a decorator's keyword names a checkpoint for documentation, it builds nothing
        if before.lstrip().startswith((b">>>", b"...", b"#", b"@")) or quotes.inside(line):
            continue
        if match.group().startswith(b".") and (
            before.endswith(OWN_METHOD) or _defines(data, match.group())
        ):
            continue
        yield match.start()


class _Quotes:
    """The triple quotes of a module, found on the first question: whether a position is inside
    a triple-quoted string, from the parity of the quotes before it."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.positions: tuple[list[int], list[int]] | None = None

    def inside(self, at: int) -> bool:
        if self.positions is None:
            self.positions = tuple(list(_finds(self.data, q)) for q in (b'"""', b"'''"))
        return any(bisect_left(found, at) % 2 == 1 for found in self.positions)


def _defines(data: bytes, call: bytes) -> bool:
    """Whether the module defines the encoder method it calls: a model implementation delegating
    to its parts (`def get_image_features(...)` calling `self.model.get_image_features(...)`)."""
    return b"def " + call[1:] in data
