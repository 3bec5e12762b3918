"""`.gitignore`, `.git/info/exclude` and `.ignore` are respected as ruff respects them, matched
by the real git; files named on the command line are linted unless `--force-exclude`."""

import os
import shutil
import subprocess

import pytest
from conftest import BUGGY

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _paths(result) -> set[str]:
    return {line.split(":")[0] for line in result.stdout.splitlines() if ": CG" in line}


@pytest.fixture
def repo(project):
    root = project(
        {
            "main.py": BUGGY,
            "wandb/run-1/files/main.py": BUGGY,
            "src/gen.py": BUGGY,
            "src/keep.py": BUGGY,
            "local/mine.py": BUGGY,
            "vendor/lib.py": BUGGY,
        }
    )
    _git("init", "-q", cwd=root)
    (root / ".gitignore").write_text("wandb/\n")
    (root / "src" / ".gitignore").write_text("gen.py\n")
    (root / ".git" / "info").mkdir(exist_ok=True)
    (root / ".git" / "info" / "exclude").write_text("local/\n")
    (root / ".ignore").write_text("vendor/\n")
    return root


def test_ignored_files_are_skipped_when_walking(run, repo):
    result = run("lint", "--no-cache", ".")
    assert result.returncode == 1, result.stderr
    assert _paths(result) == {"main.py", os.path.join("src", "keep.py")}
    everything = run("lint", "--no-cache", "--no-respect-gitignore", ".")
    assert len(_paths(everything)) == 6


def test_the_config_key_turns_it_off(run, repo):
    (repo / "pyproject.toml").write_text("[tool.clipguard]\nrespect-gitignore = false\n")
    assert len(_paths(run("lint", "--no-cache", "."))) == 6
    assert len(_paths(run("lint", "--no-cache", "--respect-gitignore", "."))) == 2
    (repo / "pyproject.toml").write_text('[tool.clipguard]\nrespect-gitignore = "no"\n')
    bad = run("lint", ".")
    assert bad.returncode == 2 and "respect-gitignore: must be true or false" in bad.stderr


def test_named_files_are_linted_unless_force_exclude(run, repo):
    named = ["src/gen.py", "wandb/run-1/files/main.py", "local/mine.py", "vendor/lib.py", "main.py"]
    assert len(_paths(run("lint", "--no-cache", *named))) == 5
    assert _paths(run("lint", "--no-cache", "--force-exclude", *named)) == {"main.py"}
    # a directory named on the command line is linted, as ruff does, unless --force-exclude
    assert len(_paths(run("lint", "--no-cache", "wandb"))) == 1
    assert (
        run("lint", "--no-cache", "--force-exclude", "wandb").stdout.strip() == "All checks passed!"
    )


def test_dot_ignore_counts_outside_a_repository(run, project):
    root = project({"keep.py": BUGGY, "skip/me.py": BUGGY, "also/me.py": BUGGY})
    (root / ".ignore").write_text("skip/\n")
    (root / ".gitignore").write_text("also/\n")  # outside git, as ruff, .gitignore does not count
    assert _paths(run("lint", "--no-cache", ".")) == {"keep.py", os.path.join("also", "me.py")}


def test_a_nested_repository_has_its_own_rules(run, repo):
    nested = repo / "pkg"
    nested.mkdir()
    _git("init", "-q", cwd=nested)
    (nested / ".gitignore").write_text("generated.py\n")
    (nested / "generated.py").write_text(BUGGY)
    (nested / "real.py").write_text(BUGGY)
    assert os.path.join("pkg", "real.py") in _paths(run("lint", "--no-cache", "."))
    assert os.path.join("pkg", "generated.py") not in _paths(run("lint", "--no-cache", "."))


def test_stdin_filename_that_git_ignores_is_not_linted_with_force_exclude(run, repo):
    source = BUGGY
    linted = run("lint", "--stdin-filename", "wandb/x.py", input=source)
    assert linted.returncode == 1 and "wandb/x.py:9:" in linted.stdout
    skipped = run("lint", "--force-exclude", "--stdin-filename", "wandb/x.py", input=source)
    assert skipped.returncode == 0 and "CG101" not in skipped.stdout
