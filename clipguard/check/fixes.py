"""Suggested fixes for each cause id, in the terms of the user's own code and profile.

The text follows the profile (a squash profile gets no crop advice) and the library the pipeline
is built from, when one has a better knob than rewriting the steps (timm's `crop_pct`, transformers'
processor arguments).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clipguard.check import causes as ids
from clipguard.profiles import Profile


class Fix:
    """What a fix may use: the profile, the cause's evidence and the pipeline's libraries."""

    def __init__(self, profile: Profile, evidence: dict[str, Any], libraries: tuple[str, ...]):
        self.profile, self.evidence, self.libraries = profile, evidence, libraries
        self.n = profile.n_px
        self.found = str(evidence.get("best_hypothesis", ""))

    @property
    def squash(self) -> bool:
        return self.profile.resize_mode == "squash"

    @property
    def timm(self) -> bool:
        return "timm" in self.libraries

    @property
    def transformers(self) -> bool:
        return "transformers" in self.libraries

    def interpolation(self) -> str:
        return f"InterpolationMode.{self.profile.interpolation.upper()}"

    def normalize(self) -> str:
        if self.profile.normalization == "none":
            return "no Normalize at all (this model takes [0, 1] pixels)"
        return f"Normalize(mean={_stats(self.profile.mean)}, std={_stats(self.profile.std)})"

    def geometry(self) -> str:
        n = self.n
        if self.squash:
            return f"Resize(({n}, {n})) without a crop"
        if self.profile.resize_mode == "longest":
            return f"resize the longer side to {n} and pad to {n}x{n}"
        return f"Resize({n}) then CenterCrop({n})"

    def convert_after(self) -> str:
        """Where the RGB conversion goes in this profile's own transform."""
        steps = "Resize" if self.squash else "Resize and CenterCrop"
        return f"call image.convert('RGB') after {steps}, as the reference transform does"


def _stats(values) -> str:
    """The constants exactly as the model's reference writes them, ready to paste."""
    return "(" + ", ".join(repr(float(v)) for v in values) + ")"


def _normalization(fix: Fix, what: str) -> str:
    if fix.timm:
        return (
            f"{what}: pass mean={_stats(fix.profile.mean)}, std={_stats(fix.profile.std)} to "
            "timm's create_transform, or build it from the model's own pretrained_cfg "
            "(timm.data.resolve_data_config({}, model=model))"
        )
    if fix.transformers:
        return (
            f"{what}: load the processor of the model's checkpoint "
            "(AutoImageProcessor.from_pretrained), or pass "
            f"image_mean={list(fix.profile.mean)}, image_std={list(fix.profile.std)}"
        )
    return f"{what}: {fix.normalize()}"


def _imagenet(fix: Fix) -> str:
    return _normalization(fix, "use the model's statistics, not ImageNet's")


def _missing(fix: Fix) -> str:
    return f"add {fix.normalize()} after ToTensor()"


def _other(fix: Fix) -> str:
    return _normalization(fix, "use the model's statistics")


def _double(fix: Fix) -> str:
    second = fix.evidence.get("second_named", "")
    return (
        f"normalize once: the output is normalized with {fix.evidence.get('first_named', '')}"
        f" statistics and then again with {second}; keep only {fix.normalize()}"
    )


def _double_rescale(fix: Fix) -> str:
    if fix.transformers:
        return (
            "the pixels are divided by 255 twice: hand the processor the PIL image or uint8 "
            "pixels, not ToTensor() output, or pass do_rescale=False"
        )
    return (
        "the pixels are divided by 255 twice (e.g. ToTensor() and then a rescale by 1/255): "
        "scale to [0, 1] once"
    )


def _uint8(fix: Fix) -> str:
    return (
        "scale pixels to [0, 1] before normalizing: ToTensor(), or "
        "v2.ToDtype(torch.float32, scale=True), instead of PILToTensor() or a raw array; "
        f"then {fix.normalize()}"
    )


def _random(fix: Fix) -> str:
    steps = fix.evidence.get("random_steps") or []
    named = f" ({', '.join(steps)})" if steps else ""
    return (
        f"use the evaluation transform, without random steps{named}: e.g. open_clip's third "
        "value of create_model_and_transforms, or image_transform(..., is_train=False)"
    )


def _tensor_resize(fix: Fix) -> str:
    mean, worst = (
        fix.evidence.get("mean_abs_vs_reference"),
        fix.evidence.get("max_abs_vs_reference"),
    )
    size = f"{mean:.2g} mean abs, {worst:.2g} max" if mean is not None and worst else "small"
    tail = (
        " (transformers' image processors resize tensors: accept it with --accept "
        "interpolation.other if this is the processor you deploy)"
        if fix.transformers
        else ""
    )
    return (
        f"resize the PIL image, not a tensor: Resize({fix.n}, "
        f"interpolation={fix.interpolation()}) on the PIL input, before ToTensor(), "
        "matches Pillow exactly; the tensor resize rounds differently from Pillow's two 8-bit "
        f"passes ({size} here): small, but beyond the one-8-bit-step tolerance{tail}"
    )


def _interpolation(fix: Fix) -> str:
    if fix.found.startswith("tensor-"):
        return _tensor_resize(fix)
    if fix.timm:
        return (
            f"pass interpolation='{fix.profile.interpolation}' to timm's create_transform "
            f"(it resamples with {fix.found})"
        )
    return f"pass interpolation={fix.interpolation()} to Resize (it resamples with {fix.found})"


def _antialias(fix: Fix) -> str:
    return (
        "resize with antialiasing: Resize(..., antialias=True) or "
        "F.interpolate(..., antialias=True), or resize the PIL image before ToTensor(); "
        f"with interpolation={fix.interpolation()}"
    )


def _squash(fix: Fix) -> str:
    n = fix.n
    if fix.squash:
        return f"Resize(({n}, {n})) without a crop, as this model was trained"
    if fix.timm:
        return "timm: pass crop_pct=1.0 and crop_mode='center' (not 'squash') to create_transform"
    return f"Resize({n}) then CenterCrop({n}) instead of Resize(({n}, {n}))"


def _scale(fix: Fix) -> str:
    if fix.timm and not fix.squash:
        return (
            f"pass crop_pct=1.0 to timm's create_transform: it resizes to {fix.n} / crop_pct "
            f"first ({fix.found}), where this model resizes to {fix.n} and crops {fix.n}"
        )
    return f"{fix.geometry()}; the pipeline resizes to another size first ({fix.found})"


def _no_crop(fix: Fix) -> str:
    return f"{fix.geometry()}; the pipeline does not crop to {fix.n}x{fix.n} ({fix.found})"


def _offset(fix: Fix) -> str:
    n = fix.n
    if "floor-crop-offset" in fix.found:
        tail = (
            " (transformers' processors floor it: accept it with --accept geometry.offset "
            "if this is the processor you deploy)"
            if fix.transformers
            else ""
        )
        return (
            f"use torchvision CenterCrop({n}): it offsets the crop by "
            f"int(round((size - n) / 2)), not (size - n) // 2{tail}"
        )
    return f"use torchvision Resize({n}): it truncates the long side with int(), not round()"


def _size(fix: Fix) -> str:
    return f"the model takes {fix.n}x{fix.n} images: {fix.geometry()}"


def _bgr(fix: Fix) -> str:
    return (
        "the channels are BGR: convert to RGB first, e.g. cv2.cvtColor(image, "
        "cv2.COLOR_BGR2RGB) or image[..., ::-1]"
    )


def _hwc(fix: Fix) -> str:
    return "return channels first (C, H, W): tensor.permute(2, 0, 1), or use ToTensor()"


def _dtype(fix: Fix) -> str:
    return "return float32: .float() on a tensor, .astype(numpy.float32) on an array"


def _mode_error(fix: Fix) -> str:
    return f"accept any PIL mode: {fix.convert_after()}"


def _mode_conversion(fix: Fix) -> str:
    if fix.found == "greyscale":
        return "remove the greyscale conversion: CLIP takes colour images, convert('RGB')"
    if "output_shapes" in fix.evidence:
        return f"return 3 channels: {fix.convert_after()}"
    return (
        f"{fix.convert_after()}: converting or compositing alpha before resizing changes P, "
        "RGBA and '1' images"
    )


def _error(fix: Fix) -> str:
    return "the pipeline raises on ordinary RGB images; see the error message"


FIXES: dict[str, Callable[[Fix], str]] = {
    ids.NORMALIZATION_IMAGENET: _imagenet,
    ids.NORMALIZATION_MISSING: _missing,
    ids.NORMALIZATION_DOUBLE: _double,
    ids.NORMALIZATION_OTHER: _other,
    ids.RANGE_UINT8: _uint8,
    ids.RANGE_DOUBLE_RESCALE: _double_rescale,
    ids.AUGMENTATION_RANDOM: _random,
    ids.INTERPOLATION_BILINEAR: _interpolation,
    ids.INTERPOLATION_NEAREST: _interpolation,
    ids.INTERPOLATION_OTHER: _interpolation,
    ids.ANTIALIAS_MISSING: _antialias,
    ids.GEOMETRY_SQUASH: _squash,
    ids.GEOMETRY_SCALE: _scale,
    ids.GEOMETRY_NO_CROP: _no_crop,
    ids.GEOMETRY_OFFSET: _offset,
    ids.GEOMETRY_SIZE: _size,
    ids.CHANNELS_BGR: _bgr,
    ids.LAYOUT_HWC: _hwc,
    ids.DTYPE: _dtype,
    ids.MODE_ERROR: _mode_error,
    ids.MODE_CONVERSION: _mode_conversion,
    ids.ERROR: _error,
}
assert set(FIXES) == set(ids.CAUSES), set(ids.CAUSES) ^ set(FIXES)


def suggest(
    cause: str,
    profile: Profile,
    evidence: dict[str, Any],
    libraries: tuple[str, ...] | list[str] = (),
) -> str:
    """A one-line fix for `cause` under `profile`."""
    write = FIXES.get(cause)
    return write(Fix(profile, evidence, tuple(libraries))) if write else ""
