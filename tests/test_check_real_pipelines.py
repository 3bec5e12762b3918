"""`clipguard check` on what real pipelines are: open_clip's training transform, transformers'
processors, timm, torchvision v2 with read_image; and the reports CI systems read."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from clipguard.check.causes import CAUSES
from clipguard.check.fixes import FIXES
from clipguard.profiles import CLIP_MEAN, CLIP_STD, lookup
from clipguard.testing import check_pipeline

ROOT = Path(__file__).resolve().parents[1]
PIPELINES = ROOT / "fixtures" / "pipelines"


def _cli(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "clipguard.check.command", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _json(*args):
    done = _cli(*args, "--output-format", "json")
    return done, json.loads(done.stdout)


def test_every_cause_id_has_a_meaning_and_a_fix():
    assert set(FIXES) == set(CAUSES)
    assert all(kind.meaning for kind in CAUSES.values())
    design = (ROOT / "docs" / "design.md").read_text()
    assert all(f"`{cause}`" in design for cause in CAUSES)


# ---------------------------------------------------------------- never a traceback


def test_no_pipeline_is_exit_2_naming_what_was_looked_for():
    done, report = _json(PIPELINES / "helper_only.py", "--probes", "quick")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "looked for preprocess, transform, pipeline, transforms" in done.stderr
    assert "helper takes one argument but shows no image" in done.stderr
    assert report["verdict"] == "error" and "no pipeline found" in report["error"]


def test_an_internal_error_is_one_line_and_a_json_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = _cli(
        PIPELINES / "opencv_style.py",
        "--probes",
        "quick",
        "--format",
        "json",
        "--save-diffs",
        blocker / "diffs",
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("clipguard check: error: internal error: ")
    assert len(done.stderr.strip().splitlines()) == 1
    assert json.loads(done.stdout)["verdict"] == "error"


def test_unknown_accepted_cause_is_a_usage_error():
    done = _cli(PIPELINES / "numpy_reimplementation.py", "--accept", "geometry.nope")
    assert done.returncode == 2 and "unknown cause id 'geometry.nope'" in done.stderr


# ---------------------------------------------------------------- randomness and double processing


def test_random_augmentation_is_named_and_the_report_is_the_same_every_time():
    first, report = _json(PIPELINES / "open_clip_train.py", "--probes", "quick")
    second = _cli(PIPELINES / "open_clip_train.py", "--probes", "quick", "--format", "json")
    assert first.returncode == 1 and first.stdout == second.stdout
    cause = report["causes"][0]
    assert cause["id"] == "augmentation.random"
    evidence = cause["evidence"]
    assert evidence["runs"] == 2 and evidence["random_steps"] == ["RandomResizedCrop"]
    assert evidence["max_abs_between_runs"] > 0.1 and len(cause["probes"]) >= 1
    assert "is_train=False" in cause["fix"]


def test_normalizing_twice_is_named_with_the_second_statistics():
    done, report = _json(PIPELINES / "double_normalize.py", "--probes", "quick")
    first = report["causes"][0]
    assert done.returncode == 1 and first["id"] == "normalization.double"
    assert first["evidence"]["first_named"] == first["evidence"]["second_named"] == "clip"
    assert np.allclose(first["evidence"]["estimated_second_mean"], CLIP_MEAN, atol=1e-3)
    assert np.allclose(first["evidence"]["estimated_second_std"], CLIP_STD, atol=1e-3)
    assert report["unexplained"] == []


def test_to_tensor_into_a_transformers_processor_is_a_double_rescale():
    done, report = _json(PIPELINES / "double_rescale.py", "--probes", "quick")
    first = report["causes"][0]
    assert done.returncode == 1 and first["id"] == "range.double_rescale"
    assert first["evidence"]["extra_factor"] == "1/255"
    assert np.allclose(first["evidence"]["std_ratio_to_expected"], 255, rtol=1e-3)
    assert "do_rescale=False" in first["fix"]


# ---------------------------------------------------------------- inputs


def test_read_image_pipeline_takes_paths_automatically():
    _done, report = _json(PIPELINES / "read_image_v2.py", "--probes", "quick")
    assert report["input"] == "path"
    assert not any(c["id"] in ("error", "geometry.size") for c in report["causes"])
    rgb = [p for p in report["probes"] if p["mode"] == "RGB"]
    assert all(p["status"] != "error" and p["mean_abs"] < 1e-3 for p in rgb)
    text = _cli(PIPELINES / "read_image_v2.py", "--probes", "quick").stdout
    assert "input: paths of PNG files, the pipeline refused PIL images" in text.splitlines()[1]


def test_explicit_input_forms():
    pipeline = v2.Compose(
        [
            v2.Resize(224, interpolation=v2.InterpolationMode.BICUBIC),
            v2.CenterCrop(224),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(CLIP_MEAN, CLIP_STD),
        ]
    )
    result = check_pipeline(pipeline, input="tensor-uint8")
    assert result.run.input_form == "tensor-uint8" and result.run.refusal is None
    assert all(c.mean_abs < 1e-3 for c in result.comparisons if c.mode == "RGB")
    assert any("an array has no P mode" in why for why in result.skipped.values())

    def numpy_pipeline(array: np.ndarray) -> np.ndarray:
        assert isinstance(array, np.ndarray) and array.dtype == np.uint8
        image = Image.fromarray(array).convert("RGB")
        return _transform_for_tests(image)

    result = check_pipeline(numpy_pipeline, input="numpy")
    assert result.run.input_form == "numpy"
    assert all(c.status == "exact" for c in result.comparisons if c.mode == "RGB")


def _transform_for_tests(image):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from clip.clip import _transform
    return _transform(224)(image)


def test_images_folder_adds_the_users_own_images(tmp_path):
    Image.new("RGB", (320, 200), (200, 30, 90)).save(tmp_path / "mine.png")
    Image.new("L", (100, 100), 128).save(tmp_path / "grey.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    _done, report = _json(
        PIPELINES / "numpy_reimplementation.py", "--probes", "quick", "--images", tmp_path
    )
    names = {p["name"]: p for p in report["probes"]}
    assert {"image-mine.png", "image-grey.jpg"} <= set(names)
    assert names["image-grey.jpg"]["mode"] == "L" and names["image-mine.png"]["size"] == [320, 200]
    assert any("notes.txt skipped" in note for note in report["notes"])
    assert (
        _cli(PIPELINES / "numpy_reimplementation.py", "--images", tmp_path / "none").returncode == 2
    )


# ---------------------------------------------------------------- profiles and fixes


def test_siglip_processor_is_pointed_at_a_siglip_profile():
    done, report = _json(PIPELINES / "siglip_processor.py", "--probes", "quick")
    suggestion = report["suggested_model"]
    assert done.returncode == 1 and "SigLIP" in suggestion["model"]
    assert suggestion["mean_abs"] < suggestion["mean_abs_current"] / 100
    done, report = _json(
        PIPELINES / "siglip_processor.py", "--probes", "quick", "--model", suggestion["model"]
    )
    ids = {c["id"] for c in report["causes"]}
    assert not ids & {"normalization.other", "geometry.squash"} and not report["suggested_model"]


def test_fix_text_follows_a_squash_profile():
    profile = lookup("ViT-B-16-SigLIP", "webli")

    def rgb_only(image):
        if image.mode != "RGB":
            raise ValueError("RGB only")
        return v2.Compose(
            [
                v2.Resize((224, 224), interpolation=v2.InterpolationMode.BICUBIC),
                v2.ToImage(),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize((0.5,) * 3, (0.5,) * 3),
            ]
        )(image)

    result = check_pipeline(rgb_only, model=profile.name)
    mode_error = next(c for c in result.causes if c.id == "mode.error")
    assert "after Resize," in mode_error.fix and "CenterCrop" not in mode_error.fix


def test_timm_defaults_get_timm_fixes_and_its_clip_config_matches():
    import timm.data

    _done, report = _json(PIPELINES / "timm_default.py", "--probes", "quick")
    causes = {c["id"]: c for c in report["causes"]}
    assert {"geometry.scale", "normalization.imagenet", "interpolation.bilinear"} <= set(causes)
    assert "crop_pct=1.0" in causes["geometry.scale"]["fix"]
    assert "interpolation='bicubic'" in causes["interpolation.bilinear"]["fix"]
    clip_config = timm.data.create_transform(
        224, interpolation="bicubic", crop_pct=1.0, mean=CLIP_MEAN, std=CLIP_STD
    )
    result = check_pipeline(clip_config)
    assert all(c.status in ("exact", "equivalent") for c in result.comparisons if c.mode == "RGB")


def test_every_failing_probe_is_explained_on_imagenet_statistics():
    _done, report = _json(PIPELINES / "imagenet_stats.py")
    failing = {p["name"] for p in report["probes"] if p["status"] != "exact"}
    explained = {name for cause in report["causes"] for name in cause["probes"]}
    assert len(failing) >= 25 and failing <= explained and report["unexplained"] == []
    assert report["causes"][0]["id"] == "normalization.imagenet"


# ---------------------------------------------------------------- reports for people and CI

HF = PIPELINES / "hf_processor.py"
HF_CAUSES = "geometry.offset,mode.conversion,interpolation.other"


def test_accepting_the_known_drift_of_transformers_passes_and_still_lists_it():
    done, report = _json(HF, "--probes", "quick", "--accept", HF_CAUSES)
    assert done.returncode == 0, done.stdout
    assert report["verdict"] == "pass" and report["causes"]
    assert all(c["accepted"] for c in report["causes"])
    partly = _cli(HF, "--probes", "quick", "--accept", "geometry.offset")
    assert partly.returncode == 1
    text = _cli(HF, "--probes", "quick", "--accept", HF_CAUSES).stdout
    assert "PASS: " in text and "accepted)" in text


def test_junit_and_github_formats():
    done = _cli(HF, "--probes", "quick", "--output-format", "junit", "--accept", "geometry.offset")
    suite = ElementTree.fromstring(done.stdout).find("testsuite")
    cases = suite.findall("testcase")
    failed = [case for case in cases if case.find("failure") is not None]
    assert done.returncode == 1 and len(cases) == int(suite.get("tests")) >= 9
    assert len(failed) == int(suite.get("failures")) > 0
    assert all("causes: " in case.find("failure").get("message") for case in failed)
    done = _cli(HF, "--probes", "quick", "--output-format", "github", "--accept", "geometry.offset")
    lines = done.stdout.splitlines()
    assert any(line.startswith("::warning file=") and "(geometry.offset)" in line for line in lines)
    assert any(line.startswith("::error file=") and "(mode.conversion)" in line for line in lines)
    assert lines[-1].startswith("::notice")


def test_show_output_prints_what_the_pipeline_printed(tmp_path):
    chatty = tmp_path / "chatty.py"
    chatty.write_text(
        (PIPELINES / "numpy_reimplementation.py").read_text()
        + textwrap.dedent("""
        print("hello from import")
        _inner = preprocess
        def preprocess(image):
            print("processing", image.size)
            return _inner(image)
    """)
    )
    quiet = _cli(chatty, "--probes", "quick")
    assert "hello" not in quiet.stderr and "-s shows them" in quiet.stdout
    shown = _cli(chatty, "--probes", "quick", "-s")
    assert shown.returncode == 0
    assert "hello from import" in shown.stderr and "processing (640, 480)" in shown.stderr


def test_text_evidence_is_plain_numbers():
    text = _cli(PIPELINES / "imagenet_stats.py", "--probes", "quick").stdout
    evidence = next(line for line in text.splitlines() if line.strip().startswith("evidence:"))
    assert "entries" not in evidence
    assert "estimated_mean=(0.485, 0.456, 0.406)" in evidence
    assert "per probe: (vs reference -> under hypothesis) photo-astronaut" in evidence


@pytest.mark.parametrize("name", ["correct.py", "numpy_reimplementation.py"])
def test_correct_pipelines_still_pass_with_two_runs(name):
    assert _cli(PIPELINES / name, "--probes", "quick").returncode == 0


def test_testing_helper_accepts_known_drift_too():
    from transformers import CLIPImageProcessor

    from clipguard.testing import assert_matches_reference

    processor = CLIPImageProcessor()

    def pipeline(image):
        return processor(images=image, return_tensors="pt")

    with pytest.raises(AssertionError, match="likely cause: geometry.offset"):
        assert_matches_reference(pipeline)
    assert_matches_reference(pipeline, accept=tuple(HF_CAUSES.split(",")))
