"""The cause ids of `clipguard check` (docs/design.md, "Cause ids"): one table with their meanings.

Diagnosis, fixes, `--accept` and the reports name causes only through these constants. `tier`
orders the report: unusable output first, then wrong shapes, randomness, value causes (ranked by
their impact within the tier), dtype, then non-RGB modes.
"""

from __future__ import annotations

from typing import NamedTuple


class CauseKind(NamedTuple):
    id: str
    tier: int
    meaning: str


NORMALIZATION_IMAGENET = "normalization.imagenet"
NORMALIZATION_MISSING = "normalization.missing"
NORMALIZATION_DOUBLE = "normalization.double"
NORMALIZATION_OTHER = "normalization.other"
RANGE_UINT8 = "range.uint8"
RANGE_DOUBLE_RESCALE = "range.double_rescale"
AUGMENTATION_RANDOM = "augmentation.random"
INTERPOLATION_BILINEAR = "interpolation.bilinear"
INTERPOLATION_NEAREST = "interpolation.nearest"
INTERPOLATION_OTHER = "interpolation.other"
ANTIALIAS_MISSING = "antialias.missing"
GEOMETRY_SQUASH = "geometry.squash"
GEOMETRY_SCALE = "geometry.scale"
GEOMETRY_NO_CROP = "geometry.no-crop"
GEOMETRY_OFFSET = "geometry.offset"
GEOMETRY_SIZE = "geometry.size"
CHANNELS_BGR = "channels.bgr"
LAYOUT_HWC = "layout.hwc"
DTYPE = "dtype"
MODE_ERROR = "mode.error"
MODE_CONVERSION = "mode.conversion"
ERROR = "error"

VALUE_TIER = 2  # causes measured from pixel values; ranked by impact inside the tier

CAUSES: dict[str, CauseKind] = {
    kind.id: kind
    for kind in (
        CauseKind(ERROR, 0, "the pipeline raises on ordinary RGB images"),
        CauseKind(LAYOUT_HWC, 1, "channels last (H, W, C) where the model takes (C, H, W)"),
        CauseKind(GEOMETRY_SIZE, 1, "the output resolution differs from the model's"),
        CauseKind(GEOMETRY_NO_CROP, 1, "no center crop (or padding instead of one)"),
        CauseKind(AUGMENTATION_RANDOM, 1, "two runs on the same probe differ: random steps"),
        CauseKind(NORMALIZATION_DOUBLE, 2, "normalized twice"),
        CauseKind(RANGE_DOUBLE_RESCALE, 2, "pixels divided by 255 twice"),
        CauseKind(RANGE_UINT8, 2, "0-255 pixels where the model takes 0-1 before normalizing"),
        CauseKind(NORMALIZATION_IMAGENET, 2, "ImageNet's mean/std instead of the model's"),
        CauseKind(NORMALIZATION_MISSING, 2, "no normalization where the model has one"),
        CauseKind(NORMALIZATION_OTHER, 2, "another mean/std than the model's"),
        CauseKind(INTERPOLATION_BILINEAR, 2, "bilinear resampling where the model uses another"),
        CauseKind(INTERPOLATION_NEAREST, 2, "nearest-neighbour resampling"),
        CauseKind(INTERPOLATION_OTHER, 2, "another resampling filter or a tensor resize"),
        CauseKind(ANTIALIAS_MISSING, 2, "a tensor downscale without antialiasing"),
        CauseKind(
            GEOMETRY_SQUASH,
            2,
            "squashed to a square where the model keeps the ratio, or the reverse",
        ),
        CauseKind(GEOMETRY_SCALE, 2, "resized to another size before the crop (e.g. 256 -> 224)"),
        CauseKind(GEOMETRY_OFFSET, 2, "the resized size or the crop box is rounded otherwise"),
        CauseKind(CHANNELS_BGR, 2, "channels in BGR order"),
        CauseKind(DTYPE, 3, "another dtype than float32"),
        CauseKind(MODE_ERROR, 4, "raises on non-RGB images (L, RGBA, P, CMYK, ...)"),
        CauseKind(MODE_CONVERSION, 4, "non-RGB images converted otherwise than the reference"),
    )
}
ROUNDING_TIER = 5  # a value cause within the mean tolerance: only a few pixels break the max


def tier(cause_id: str) -> int:
    """The report group of a cause id (unknown ids go with the value causes)."""
    kind = CAUSES.get(cause_id)
    return kind.tier if kind else VALUE_TIER
