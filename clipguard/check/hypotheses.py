"""A parametric family of preprocessing pipelines, rendered from a probe image.

Each hypothesis is a geometry (how the image is resized and cropped), an interpolation (how the
pixels are resampled) and a colour conversion (when the image becomes RGB). Rendering gives the
unnormalized float32 CHW tensor in [0, 1] that such a pipeline would produce, so the diagnosis
can ask which member of the family best explains a user's output. The reference member follows
openai/CLIP `_transform` (torchvision `Resize` + `CenterCrop` on a PIL image, convert after).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from clipguard.check.reference import center_crop_box, longest_side_size, shortest_side_size

# (left, top, right, bottom) in the resized image; may reach outside it, which pads with zeros.
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Plan:
    """Resize to `size` (width, height), then take `box` from the result."""

    size: tuple[int, int]
    box: Box


def shortest(w: int, h: int, n: int, round_long: bool = False, crop_floor: bool = False) -> Plan:
    """Shorter side to n, then an n x n center crop (CLIP's recipe by default)."""
    size = shortest_side_size(w, h, n, round_long)
    return Plan(size, center_crop_box(*size, n, crop_floor))


def scale_then_crop(w: int, h: int, n: int, resize_to: int) -> Plan:
    """Shorter side to `resize_to`, then an n x n center crop (e.g. 256 then 224)."""
    size = shortest_side_size(w, h, resize_to)
    return Plan(size, center_crop_box(*size, n))


def squash(w: int, h: int, n: int) -> Plan:
    """Resize to n x n, ignoring the aspect ratio."""
    return Plan((n, n), (0, 0, n, n))


def no_crop(w: int, h: int, n: int) -> Plan:
    """Shorter side to n and no crop: the output keeps the aspect ratio."""
    size = shortest_side_size(w, h, n)
    return Plan(size, (0, 0, *size))


def longest_pad(w: int, h: int, n: int) -> Plan:
    """Longer side to n, then zero padding to n x n (open_clip resize_mode='longest')."""
    size = longest_side_size(w, h, n)
    return Plan(size, center_crop_box(*size, n))


def scale_targets(n: int) -> list[int]:
    """Shorter-side sizes that ImageNet-style recipes resize to before cropping n."""
    # 256/224 is torchvision's ImageNet eval recipe; 0.875, 0.9 and 0.95 are timm crop_pct values.
    return sorted({round(n * 256 / 224), int(n / 0.875), int(n / 0.9), int(n / 0.95)} - {n})


def geometries(n: int, reference: str) -> dict[str, Callable[[int, int], Plan]]:
    """Named geometry hypotheses for output size n, the reference's own first."""
    family: dict[str, Callable[[int, int], Plan]] = {
        "shortest": lambda w, h: shortest(w, h, n),
        "squash": lambda w, h: squash(w, h, n),
        "longest+pad": lambda w, h: longest_pad(w, h, n),
        "shortest+round-long-side": lambda w, h: shortest(w, h, n, round_long=True),
        "shortest+floor-crop-offset": lambda w, h: shortest(w, h, n, crop_floor=True),
        "shortest+round-long-side+floor-crop-offset": lambda w, h: shortest(
            w, h, n, round_long=True, crop_floor=True
        ),
        "no-crop": lambda w, h: no_crop(w, h, n),
    }
    for target in scale_targets(n):
        family[f"resize-{target}+crop"] = lambda w, h, t=target: scale_then_crop(w, h, n, t)
    return {reference: family[reference], **{k: v for k, v in family.items() if k != reference}}


REFERENCE_GEOMETRY = {"shortest": "shortest", "squash": "squash", "longest": "longest+pad"}


@dataclass(frozen=True)
class Resampling:
    """How one hypothesis resamples: Pillow on the PIL image, or torch's interpolate on a tensor."""

    backend: str  # "pil" or "tensor"
    method: int | str  # a Pillow filter, or a torch interpolate mode
    antialias: bool = True
    # tensor only: "float" (no rounding), "uint8" (float math, rounded once at the end, as
    # torchvision's v1 F.resize does for uint8), "uint8-native" (torch's uint8 kernel, as v2 uses)
    pixels: str = "float"
    pil_counterpart: str = ""  # the Pillow hypothesis with the same filter, for mode conversions


# Sources: torchvision transforms/_functional_tensor.py `resize` (casts uint8 to float, rounds
# after) and transforms/v2/functional/_geometry.py `resize_image` (`_do_native_uint8_resize_on_cpu`:
# uint8 stays uint8 for bicubic). Pillow rounds to 8 bits after each of its two separable passes;
# a tensor resize rounds once or never, which leaves up to a few 8-bit steps on sharp edges.
INTERPOLATIONS: dict[str, Resampling] = {
    "bicubic": Resampling("pil", Image.Resampling.BICUBIC),
    "bilinear": Resampling("pil", Image.Resampling.BILINEAR),
    "nearest": Resampling("pil", Image.Resampling.NEAREST),
    "lanczos": Resampling("pil", Image.Resampling.LANCZOS),
    "box": Resampling("pil", Image.Resampling.BOX),
    "hamming": Resampling("pil", Image.Resampling.HAMMING),
    "bicubic-no-antialias": Resampling("tensor", "bicubic", False, "float", "bicubic"),
    "bilinear-no-antialias": Resampling("tensor", "bilinear", False, "float", "bilinear"),
    "tensor-bicubic-antialias": Resampling("tensor", "bicubic", True, "float", "bicubic"),
    "tensor-bicubic-antialias-uint8": Resampling("tensor", "bicubic", True, "uint8", "bicubic"),
    "tensor-bicubic-antialias-uint8-native": Resampling(
        "tensor", "bicubic", True, "uint8-native", "bicubic"
    ),
}

# What each tensor resize is, in the user's terms (for the evidence of a cause).
TENSOR_RESIZES = {
    "tensor-bicubic-antialias": "an antialiased bicubic resize of a float tensor (torchvision Resize or F.resize after "
    "ToTensor()): no rounding to 8 bits, where Pillow rounds after each pass",
    "tensor-bicubic-antialias-uint8": "an antialiased bicubic resize of a uint8 tensor in one pass (torchvision F.resize after "
    "PILToTensor()): rounded to 8 bits once, where Pillow rounds after each pass",
    "tensor-bicubic-antialias-uint8-native": "torch's uint8 bicubic kernel (torchvision v2 Resize on a uint8 tensor, transformers' "
    "image processors): two passes like Pillow's, but other fixed-point weights",
}


def backend_variants(interpolation: str) -> list[str]:
    """The tensor resizes that use the same filter as a Pillow hypothesis, antialiased."""
    return [
        name
        for name, r in INTERPOLATIONS.items()
        if r.backend == "tensor" and r.antialias and r.pil_counterpart == interpolation
    ]


# When the image becomes RGB: "after" the crop (CLIP), "before" resizing, or "white": alpha
# composited onto white before resizing (transformers 5 `convert_to_rgb`).
CONVERSIONS = ("after", "before", "white")


def _to_rgb(image: Image.Image, conversion: str) -> Image.Image:
    if conversion == "white" and ("A" in image.getbands() or "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _crop_array(array: np.ndarray, box: Box) -> np.ndarray:
    """Crop a (C, H, W) array; parts of the box outside the array are zeros."""
    left, top, right, bottom = box
    channels, height, width = array.shape
    out = np.zeros((channels, bottom - top, right - left), dtype=array.dtype)
    src_top, src_left = max(top, 0), max(left, 0)
    src_bottom, src_right = min(bottom, height), min(right, width)
    if src_bottom > src_top and src_right > src_left:
        out[:, src_top - top : src_bottom - top, src_left - left : src_right - left] = array[
            :, src_top:src_bottom, src_left:src_right
        ]
    return out


def _tensor_resize(image: Image.Image, size: tuple[int, int], resampling: Resampling) -> np.ndarray:
    """torch's interpolate on an RGB image as a (3, H, W) tensor of the given pixel type."""
    import torch

    threads = torch.get_num_threads()
    # Probe-sized tensors resize fastest on one thread; on a busy machine, two are ten times slower.
    torch.set_num_threads(1)
    try:
        pixels = torch.from_numpy(np.ascontiguousarray(np.asarray(image).transpose(2, 0, 1)))[None]
        if resampling.pixels == "float":
            pixels = pixels.float() / 255
        elif resampling.pixels == "uint8":
            pixels = pixels.float()  # torchvision's v1 F.resize: float math on the 0-255 values
        out = torch.nn.functional.interpolate(
            pixels,
            size=(size[1], size[0]),
            mode=str(resampling.method),
            align_corners=False,
            antialias=resampling.antialias,
        )
        if resampling.pixels == "uint8":
            out = out.clamp_(0, 255).round_()
        if resampling.pixels != "float":
            return out[0].numpy().astype(np.float32) / np.float32(255)
        return out[0].numpy()
    finally:
        torch.set_num_threads(threads)


def render(
    image: Image.Image, plan: Plan, interpolation: str = "bicubic", conversion: str = "after"
) -> np.ndarray:
    """The unnormalized float32 (3, H, W) tensor in [0, 1] that one hypothesis produces."""
    resampling = INTERPOLATIONS[interpolation]
    if resampling.backend == "pil":
        if conversion != "after":
            image = _to_rgb(image, conversion)
        resized = image if image.size == plan.size else image.resize(plan.size, resampling.method)
        cropped = resized.crop(plan.box)  # PIL pads out-of-bounds areas with zeros
        return np.asarray(_to_rgb(cropped, "before"), dtype=np.float32).transpose(2, 0, 1) / 255
    rgb = _to_rgb(image, "before" if conversion == "after" else conversion)
    if rgb.size == plan.size:
        array = np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1) / 255
    else:
        array = _tensor_resize(rgb, plan.size, resampling)
    array = _crop_array(array, plan.box)
    if conversion == "after" and image.mode != "RGB":
        # A tensor has no mode left to convert after resizing. What converting after the resize
        # changes (palette, alpha, bilevel) is measured in Pillow and added to the tensor resize.
        pil = resampling.pil_counterpart
        array = array + render(image, plan, pil, "after") - render(image, plan, pil, "before")
    return array
