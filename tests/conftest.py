import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

BUGGY = textwrap.dedent("""\
    import clip
    import torchvision.transforms as T

    model, _ = clip.load("ViT-B/32")
    preprocess = T.Compose([
        T.Resize(224, interpolation=T.InterpolationMode.BICUBIC),
        T.CenterCrop(224),
        T.ToTensor(),
        T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ])


    def embed(image):
        return model.encode_image(preprocess(image).unsqueeze(0))
    """)

CLEAN = textwrap.dedent("""\
    import clip

    model, preprocess = clip.load("ViT-B/32")


    def embed(image):
        return model.encode_image(preprocess(image).unsqueeze(0))
    """)


def clipguard_command() -> list[str]:
    script = shutil.which("clipguard", path=os.path.dirname(sys.executable))
    return [sys.executable, script] if script else [sys.executable, "-m", "clipguard"]


@pytest.fixture
def run(tmp_path):
    """Run the real console script in `tmp_path` (no user config above it)."""

    def _run(*args, cwd=None, **kwargs):
        return subprocess.run(
            [*clipguard_command(), *args],
            check=False,
            cwd=cwd or tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            **kwargs,
        )

    return _run


@pytest.fixture
def project(tmp_path):
    """Write files into a temporary project and return its path."""

    def _write(files: dict[str, str]) -> Path:
        for name, text in files.items():
            target = tmp_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        return tmp_path

    return _write
