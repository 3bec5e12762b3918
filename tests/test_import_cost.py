"""`import clipguard` and `clipguard lint` never import torch, torchvision, numpy or PIL."""

import subprocess
import sys

from conftest import BUGGY, clipguard_command

HEAVY = ("torch", "torchvision", "numpy", "PIL", "cv2", "transformers", "open_clip")


def _imported_modules(stderr: str) -> set[str]:
    modules = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                modules.add(name.split(".")[0])
    return modules


def test_lint_imports_nothing_heavy(tmp_path):
    (tmp_path / "app.py").write_text(BUGGY)
    command = clipguard_command()
    result = subprocess.run(
        [command[0], "-X", "importtime", *command[1:], "lint", "--no-cache", "app.py"],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr[-2000:]
    modules = _imported_modules(result.stderr)
    assert "clipguard" in modules and "ast" in modules
    assert not modules & set(HEAVY), modules & set(HEAVY)


def test_import_clipguard_is_light():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import clipguard, clipguard.cli"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0
    assert not _imported_modules(result.stderr) & set(HEAVY)
