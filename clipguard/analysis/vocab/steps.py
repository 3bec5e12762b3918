"""Preprocessing operations as libraries spell them.

Sources: torchvision 0.29 `transforms` (v1, v2, functional) and `InterpolationMode`; Pillow
`Image.Resampling`; OpenCV `InterpolationFlags`; albumentations `Resize` (cv2 codes);
`torch.nn.functional.interpolate`.
"""

from __future__ import annotations

import re

TORCHVISION = re.compile(r"^torchvision\.transforms(\.v2)?(\.functional)?\.")
# Other libraries whose `Normalize(mean, std)` takes the same arguments as torchvision's.
NORMALIZE_LIBRARIES = ("torchvision", "pytorchvideo", "kornia")
PIL_CONSTANT = re.compile(r"^PIL(\.Image)?(\.Resampling)?\.")
PIL_SOURCES = {"open", "fromarray", "convert", "frombytes", "new", "crop", "copy", "rotate"}
# Integer interpolation codes. Sources: Pillow `Image.Resampling`; OpenCV `InterpolationFlags`.
PIL_CODES = {0: "nearest", 1: "other", 2: "bilinear", 3: "bicubic", 4: "other", 5: "other"}
CV2_CODES = {0: "nearest", 1: "bilinear", 2: "bicubic", 3: "other", 4: "other"}
MODE_WORDS = {
    "BICUBIC": "bicubic",
    "INTER_CUBIC": "bicubic",
    "CUBIC": "bicubic",
    "BILINEAR": "bilinear",
    "INTER_LINEAR": "bilinear",
    "LINEAR": "bilinear",
    "NEAREST": "nearest",
    "NEAREST_EXACT": "nearest",
    "INTER_NEAREST": "nearest",
    "INTER_NEAREST_EXACT": "nearest",
}

# Calls that hold transforms without applying them.
COLLECTORS = frozenset(
    {
        "Compose",
        "Sequential",
        "dict",
        "list",
        "tuple",
        "RandomApply",
        "RandomChoice",
        "OneOf",
        "ModuleList",
    }
)
# Name prefixes of random augmentations: a pipeline with one is a training pipeline.
RANDOM_AUGMENTATIONS = ("Random", "Color", "Trivial", "Rand", "AutoAugment")
# Masks, labels and activation maps are resized too, and multiplied into images; their
# interpolation is not the image's.
MASK_WORDS = re.compile(
    r"mask|label|seg|depth|target|gt_|annotation|heatmap|attn|attention"
    r"|\bcams?\b|\bcams?_|_cams?\b|saliency|alpha",
    re.IGNORECASE,
)
# An `if` on the model's identity: the branches are alternatives for different models.
SWITCH = re.compile(
    r"clip|siglip|arch|model|backbone|encoder|openai|imagenet|norm|mean|std|type|"
    r"name|vit|resnet|pretrain|variant|dataset",
    re.IGNORECASE,
)
# Filters that low-pass an image before it is resized, so a plain downscale no longer aliases.
LOW_PASS = frozenset(
    {"conv2d", "gaussian_blur", "GaussianBlur", "avg_pool2d", "pyrDown", "blur", "GaussianBlur2d"}
)
