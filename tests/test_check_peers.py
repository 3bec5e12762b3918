"""Real peers: official pipelines pass; transformers' CLIPImageProcessor is reported as it is."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from clipguard.check.evaluate import processable
from clipguard.check.probes import probe_set as all_probes
from clipguard.check.reference import normalize, shortest_side_size, to_unit_tensor
from clipguard.check.tolerance import EQUIVALENT_MAX_ABS
from clipguard.profiles import CLIP_MEAN, CLIP_STD, openai
from clipguard.testing import assert_matches_reference, check_pipeline

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # openai-clip imports pkg_resources
    from clip.clip import _transform

open_clip = pytest.importorskip("open_clip")
transformers = pytest.importorskip("transformers")

ROOT = Path(__file__).resolve().parents[1]


def probe_set(kind: str = "quick"):
    """The probes the installed Pillow can process as the reference does (all, on Pillow >= 11)."""
    return processable(all_probes(kind))


def test_openai_transform_passes():
    assert_matches_reference(_transform(224), model="ViT-B/32", probes="full")
    assert_matches_reference(_transform(336), model="ViT-L/14@336px")


def test_open_clip_eval_transforms_pass():
    assert_matches_reference(
        open_clip.image_transform(224, is_train=False),
        model="open_clip:ViT-B-32/laion2b_s34b_b79k",
        probes="full",
    )
    siglip = open_clip.image_transform(
        224, is_train=False, mean=(0.5,) * 3, std=(0.5,) * 3, resize_mode="squash"
    )
    assert_matches_reference(siglip, model="open_clip:ViT-B-16-SigLIP/webli")


def test_torchvision_v2_pipeline_passes():
    pipeline = v2.Compose(
        [
            v2.Resize(224, interpolation=v2.InterpolationMode.BICUBIC),
            v2.CenterCrop(224),
            v2.Lambda(lambda image: image.convert("RGB")),
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(CLIP_MEAN, CLIP_STD),
        ]
    )
    result = check_pipeline(pipeline, probes="full")
    assert result.passed, [c for c in result.comparisons if c.status != "exact"]


def test_correct_fixture_passes_through_the_cli():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "clipguard.check.command",
            "fixtures/pipelines/correct.py",
            "--probes",
            "quick",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------- transformers


@pytest.fixture(scope="module")
def hf_result():
    processor = transformers.CLIPImageProcessor()  # the defaults of openai/clip-vit-base-patch32
    return processor, check_pipeline(
        lambda image: processor(images=image, return_tensors="pt"), probes="full"
    )


def _by_name(result):
    return {c.probe: c for c in result.comparisons}


def test_clip_image_processor_drifts_where_the_crop_offset_rounds(hf_result):
    _, result = hf_result
    comparisons = _by_name(result)
    assert not result.passed
    # (347 - 224) / 2 = 61.5 and (995 - 224) / 2 = 385.5: torchvision rounds half to even (62,
    # 386), the processor floors (61, 385): one pixel off, on every such aspect ratio.
    for name in ("smooth-333x517", "smooth-225x1000", "markers-333x517", "zoneplate-333x517"):
        assert comparisons[name].status == "drift" and comparisons[name].mean_abs > 0.01, name
    # 640x480 and 224x224 crop at whole offsets: within one 8-bit step.
    for name in ("smooth-640x480", "smooth-224x224", "gradient-480x640"):
        assert comparisons[name].status in ("exact", "equivalent"), name
        assert comparisons[name].max_abs <= EQUIVALENT_MAX_ABS + 1e-6


def test_clip_image_processor_causes_are_named(hf_result):
    _, result = hf_result
    causes = {cause.id: cause for cause in result.causes}
    assert "geometry.offset" in causes
    offset = causes["geometry.offset"]
    assert "floor" in offset.evidence["best_hypothesis"]
    assert {"smooth-333x517", "smooth-225x1000"} <= set(offset.probes)
    assert "smooth-640x480" not in offset.probes
    assert "mode.conversion" in causes
    rgba = causes["mode.conversion"].evidence["modes"]["RGBA"]
    assert "white" in rgba["best_hypothesis"]


def _floor_crop_white_alpha(image: Image.Image) -> np.ndarray:
    """What CLIPImageProcessor does, modelled: RGB conversion first (alpha composited onto white),
    bicubic shorter side, crop offsets floored."""
    if image.mode in ("RGBA", "LA"):
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image.convert("RGBA"))
    image = image.convert("RGB")
    size = shortest_side_size(*image.size, 224)
    if image.size != size:
        image = image.resize(size, Image.Resampling.BICUBIC)
    left, top = (size[0] - 224) // 2, (size[1] - 224) // 2
    return normalize(to_unit_tensor(image.crop((left, top, left + 224, top + 224))), openai())


def test_the_named_causes_explain_the_drift_entirely(hf_result):
    processor, result = hf_result
    comparisons = _by_name(result)
    for probe in probe_set("full"):
        output = processor(images=probe.image, return_tensors="np")["pixel_values"][0]
        diff = np.abs(output - _floor_crop_white_alpha(probe.image))
        # What remains is the tensor resize's rounding: at most two 8-bit steps, rarely.
        assert diff.mean() < 1e-3 and diff.max() <= 2 * EQUIVALENT_MAX_ABS + 1e-6, probe.name
        if comparisons[probe.name].mean_abs > 0.01:
            assert diff.mean() < comparisons[probe.name].mean_abs / 20, probe.name


def test_failure_message_is_readable():
    bilinear = v2.Compose(
        [
            v2.Resize(224),  # bilinear by default
            v2.CenterCrop(224),
            v2.Lambda(lambda image: image.convert("RGB")),
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(CLIP_MEAN, CLIP_STD),
        ]
    )
    with pytest.raises(AssertionError) as failure:
        assert_matches_reference(bilinear)
    message = str(failure.value)
    assert "differs from the reference on" in message and "ViT-B/32" in message
    assert "max abs" in message and "checker-500x375" in message
    assert "likely cause: interpolation.bilinear" in message
    assert "InterpolationMode.BICUBIC" in message
