"""Suggested fixes for each cause id, in the terms of the user's own code."""

from __future__ import annotations

from typing import Any

from clipguard.profiles import Profile


def _stats(values) -> str:
    """The constants exactly as the model's reference writes them, ready to paste."""
    return "(" + ", ".join(repr(float(v)) for v in values) + ")"


def _interpolation(profile: Profile) -> str:
    return f"InterpolationMode.{profile.interpolation.upper()}"


def _geometry(profile: Profile) -> str:
    n = profile.n_px
    if profile.resize_mode == "squash":
        return f"Resize(({n}, {n}))"
    if profile.resize_mode == "longest":
        return f"resize the longer side to {n} and pad to {n}x{n}"
    return f"Resize({n}) then CenterCrop({n})"


def _tensor_resize(profile: Profile, evidence: dict[str, Any]) -> str:
    mean, worst = evidence.get("mean_abs_vs_reference"), evidence.get("max_abs_vs_reference")
    size = f"{mean:.2g} mean abs, {worst:.2g} max" if mean is not None and worst else "small"
    return (f"resize the PIL image, not a tensor: Resize({profile.n_px}, "
            f"interpolation={_interpolation(profile)}) on the PIL input, before ToTensor(), "
            "matches Pillow exactly; the tensor resize rounds differently from Pillow's two 8-bit "
            f"passes ({size} here): small, but beyond the one-8-bit-step tolerance")


def suggest(cause: str, profile: Profile, evidence: dict[str, Any]) -> str:
    """A one-line fix for `cause` under `profile`."""
    n = profile.n_px
    normalize = f"Normalize(mean={_stats(profile.mean)}, std={_stats(profile.std)})"
    if profile.normalization == "none":
        normalize = "no Normalize at all (this model takes [0, 1] pixels)"
    found = evidence.get("best_hypothesis", "")
    if cause == "normalization.imagenet":
        return f"use the model's statistics, not ImageNet's: {normalize}"
    if cause == "normalization.missing":
        return f"add {normalize} after ToTensor()"
    if cause == "normalization.other":
        return f"use the model's statistics: {normalize}"
    if cause == "range.uint8":
        return ("scale pixels to [0, 1] before normalizing: ToTensor(), or "
                f"v2.ToDtype(torch.float32, scale=True), instead of PILToTensor() or a raw array; "
                f"then {normalize}")
    if cause.startswith("interpolation.") and found.startswith("tensor-"):
        return _tensor_resize(profile, evidence)
    if cause.startswith("interpolation."):
        return f"pass interpolation={_interpolation(profile)} to Resize (it resamples with {found})"
    if cause == "antialias.missing":
        return ("resize with antialiasing: Resize(..., antialias=True) or "
                "F.interpolate(..., antialias=True), or resize the PIL image before ToTensor(); "
                f"with interpolation={_interpolation(profile)}")
    if cause == "geometry.squash":
        if profile.resize_mode == "squash":
            return f"Resize(({n}, {n})) without a crop, as this model was trained"
        return f"Resize({n}) then CenterCrop({n}) instead of Resize(({n}, {n}))"
    if cause == "geometry.scale":
        return f"{_geometry(profile)}; the pipeline resizes to another size first ({found})"
    if cause == "geometry.no-crop":
        return f"{_geometry(profile)}; the pipeline does not crop to {n}x{n} ({found})"
    if cause == "geometry.offset":
        if "floor-crop-offset" in found:
            return (f"use torchvision CenterCrop({n}): it offsets the crop by "
                    "int(round((size - n) / 2)), not (size - n) // 2")
        return f"use torchvision Resize({n}): it truncates the long side with int(), not round()"
    if cause == "geometry.size":
        return f"the model takes {n}x{n} images: {_geometry(profile)}"
    if cause == "channels.bgr":
        return ("the channels are BGR: convert to RGB first, e.g. cv2.cvtColor(image, "
                "cv2.COLOR_BGR2RGB) or image[..., ::-1]")
    if cause == "layout.hwc":
        return "return channels first (C, H, W): tensor.permute(2, 0, 1), or use ToTensor()"
    if cause == "dtype":
        return "return float32: .float() on a tensor, .astype(numpy.float32) on an array"
    if cause == "mode.error":
        return ("accept any PIL mode: call image.convert('RGB') after Resize and CenterCrop, "
                "as CLIP's _transform does")
    if cause == "mode.conversion" and found == "greyscale":
        return "remove the greyscale conversion: CLIP takes colour images, convert('RGB')"
    if cause == "mode.conversion" and "output_shapes" in evidence:
        return "return 3 channels: call image.convert('RGB') after Resize and CenterCrop"
    if cause == "mode.conversion":
        return ("call image.convert('RGB') after Resize and CenterCrop, as CLIP's _transform "
                "does: converting or compositing alpha before resizing changes P, RGBA and '1' "
                "images")
    if cause == "error":
        return "the pipeline raises on ordinary RGB images; see the error message"
    return ""
