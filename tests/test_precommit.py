"""The real `pre-commit try-repo` against this repository: the hook fails a file and a notebook
with a finding, passes a clean file, and installs no torch."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BUGGY, CLEAN, REPO

PRE_COMMIT = shutil.which("pre-commit", path=os.path.dirname(sys.executable)) or shutil.which(
    "pre-commit"
)
pytestmark = pytest.mark.skipif(
    PRE_COMMIT is None or not (REPO / ".git").exists(), reason="needs pre-commit and a git checkout"
)


def _git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_pre_commit_hook(tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    _git("init", "-q", cwd=user)
    (user / "bad.py").write_text(BUGGY)
    (user / "good.py").write_text(CLEAN)
    shutil.copy(REPO / "fixtures" / "notebooks" / "zero_shot.ipynb", user / "demo.ipynb")
    _git("add", ".", cwd=user)
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }

    def hook(*files):
        return subprocess.run(
            [PRE_COMMIT, "try-repo", str(REPO), "clipguard", "--files", *files],
            check=False,
            cwd=user,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )

    failing = hook("bad.py")
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "bad.py:9:" in failing.stdout and "CG101" in failing.stdout
    notebook = hook("demo.ipynb")  # pre-commit passes notebooks as `jupyter` files
    assert notebook.returncode == 1, notebook.stdout + notebook.stderr
    assert (
        "demo.ipynb:cell 4:2:5: CG201" in notebook.stdout
        and "demo.ipynb:cell 8:1:10: CG301" in notebook.stdout
    )
    passing = hook("good.py")
    assert passing.returncode == 0, passing.stdout + passing.stderr

    # try-repo builds its environment in a throw-away store; an installed hook keeps it to inspect.
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], check=True, cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    (user / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {REPO}\n    rev: {head}\n    hooks:\n      - id: clipguard\n"
    )
    installed_run = subprocess.run(
        [PRE_COMMIT, "run", "--files", "good.py"],
        check=False,
        cwd=user,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert installed_run.returncode == 0, installed_run.stdout + installed_run.stderr
    site_packages = list(Path(env["PRE_COMMIT_HOME"]).rglob("site-packages"))
    assert site_packages
    installed = {p.name.lower() for sp in site_packages for p in sp.iterdir()}
    assert "clipguard" in installed and "libcst" in installed
    assert not {"torch", "torchvision", "numpy", "pil"} & installed
