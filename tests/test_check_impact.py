"""`--impact`: embedding cosines with a small, randomly initialised open_clip model saved to disk,
checked against cosines computed directly with open_clip and the real pipelines."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from clipguard.check.evaluate import processable
from clipguard.check.probes import probe_set

open_clip = pytest.importorskip("open_clip")
safetensors_torch = pytest.importorskip("safetensors.torch")

ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "head_width": 32, "patch_size": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-clip")
    torch.manual_seed(0)
    model = open_clip.CLIP(**TINY)
    safetensors_torch.save_file(model.state_dict(), folder / "open_clip_model.safetensors")
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY}))
    return folder


def _direct_cosines(folder: Path) -> dict[str, float]:
    model = open_clip.create_model(f"local-dir:{folder}").eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from clip.clip import _transform
    sys.path.insert(0, str(ROOT / "fixtures" / "pipelines"))
    try:
        from bilinear import preprocess
    finally:
        sys.path.pop(0)
    cosines = {}
    with torch.no_grad():
        for probe in processable(probe_set("quick")):
            pair = torch.stack([_transform(224)(probe.image), preprocess(probe.image)])
            embedded = torch.nn.functional.normalize(model.encode_image(pair), dim=-1)
            cosines[probe.name] = float(embedded[0] @ embedded[1])
    return cosines


def test_reported_cosines_are_the_embeddings_cosines(tiny_model):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "clipguard.check.command",
            "fixtures/pipelines/bilinear.py",
            "--probes",
            "quick",
            "--impact",
            str(tiny_model),
            "--format",
            "json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    impact = json.loads(done.stdout)["impact"]
    expected = _direct_cosines(tiny_model)
    assert set(impact["probes"]) == set(expected)
    for name, value in expected.items():
        assert abs(impact["probes"][name] - value) < 1e-5, name
    assert abs(impact["mean"] - np.mean(list(expected.values()))) < 1e-5
    assert impact["worst"] == min(expected, key=expected.get)
    assert min(expected.values()) < 1 - 1e-6  # the drift moves the embedding at all


def test_no_model_on_the_machine_is_exit_2_saying_where_it_looked(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "clipguard.check.command",
            "fixtures/pipelines/correct.py",
            "--impact",
            "--model",
            "ViT-B/32",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"HOME": str(tmp_path), "HF_HOME": str(tmp_path / "hf"), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "no CLIP model for ViT-B/32" in done.stderr and ".cache/clip/ViT-B-32.pt" in done.stderr
