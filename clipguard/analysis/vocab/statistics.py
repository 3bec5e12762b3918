"""Normalization statistics as libraries name them, and how close counts as the same.

Values: `clipguard.profiles` (openai/CLIP `_transform`, open_clip `constants.py`, transformers
`image_utils`); tolerances from the runtime checker's equivalence in docs/design.md.
"""

from __future__ import annotations

from clipguard.profiles import CLIP_MEAN, CLIP_STD, HALF, IMAGENET_MEAN, IMAGENET_STD

Triple = tuple[float, float, float]

# Named constants by their last component, for names imported from these libraries.
# Sources: timm/data/constants.py, transformers/utils/constants.py, open_clip/constants.py
# (installed timm, transformers 5.x, open_clip 3.3.0).
LIBRARIES = ("timm", "transformers", "open_clip", "open_clip_train")
NAMED: dict[str, Triple] = {
    "IMAGENET_DEFAULT_MEAN": IMAGENET_MEAN,
    "IMAGENET_DEFAULT_STD": IMAGENET_STD,
    "IMAGENET_MEAN": IMAGENET_MEAN,
    "IMAGENET_STD": IMAGENET_STD,
    "IMAGENET_STANDARD_MEAN": HALF,
    "IMAGENET_STANDARD_STD": HALF,
    "IMAGENET_INCEPTION_MEAN": HALF,
    "IMAGENET_INCEPTION_STD": HALF,
    "INCEPTION_MEAN": HALF,
    "INCEPTION_STD": HALF,
    "OPENAI_CLIP_MEAN": CLIP_MEAN,
    "OPENAI_CLIP_STD": CLIP_STD,
    "OPENAI_DATASET_MEAN": CLIP_MEAN,
    "OPENAI_DATASET_STD": CLIP_STD,
}
# The CLIP counterpart of each library's ImageNet name, for fixes that keep the named style.
CLIP_NAME = {
    "IMAGENET_DEFAULT_MEAN": "OPENAI_CLIP_MEAN",
    "IMAGENET_DEFAULT_STD": "OPENAI_CLIP_STD",
    "IMAGENET_MEAN": "OPENAI_DATASET_MEAN",
    "IMAGENET_STD": "OPENAI_DATASET_STD",
}

# Tolerances from the checker's equivalence (docs/design.md): one 8-bit step in normalized units.
# A mean off by less than 1/255 moves every output by less than a step; a relative std error below 0.75% moves an
# output at most ~0.52/std away from the mean by less than a step.
MEAN_TOLERANCE = 1 / 255
STD_RELATIVE_TOLERANCE = 0.0075
EXACT = 1e-3  # "this is that library constant", allowing rounding to 3 decimals
# A near miss: still recognisably CLIP's numbers, beyond the tolerance (a typo, truncation).
NEAR_MEAN = 0.015
NEAR_STD_RELATIVE = 0.05
# Calls that wrap a constant's values, and methods that keep them (a reshape, a device move).
VALUE_WRAPPERS = {
    "array",
    "asarray",
    "tensor",
    "as_tensor",
    "Tensor",
    "FloatTensor",
    "list",
    "tuple",
    "float32",
    "float64",
    "from_numpy",
}
VALUE_KEEPERS = {
    "view",
    "reshape",
    "to",
    "cuda",
    "float",
    "double",
    "unsqueeze",
    "tolist",
    "astype",
    "type",
    "cpu",
    "numpy",
    "expand",
    "view_as",
    "T",
}
