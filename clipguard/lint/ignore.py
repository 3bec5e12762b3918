"""Paths that `.gitignore`, `.git/info/exclude`, git's global excludes file and `.ignore` files
exclude, matched by git itself (`git ls-files`), as ruff's `respect-gitignore` skips them.

Inside a git work tree, one `git ls-files` per linted directory answers for the whole tree below
it. `.ignore` files are matched by git too, as its per-directory exclude file, also outside a
repository (against an empty scratch repository). Without git, nothing is ignored and the run
says so once. docs/decisions.md says why git rather than a pattern library.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from typing import Self

# Variables a git hook or a user's shell may set that would point git at another repository.
_GIT_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_PREFIX")
_LS_IGNORED = ["ls-files", "-z", "--others", "--cached", "--ignored", "--directory"]


class IgnoreFiles:
    """Answers `ignored(path)` for absolute paths, asking git once per directory tree."""

    def __init__(self, warnings: list[str]) -> None:
        self.warnings = warnings
        self._ignored: set[str] = set()  # absolute paths; ignored directories end with os.sep
        self._asked: dict[str, list[str]] = {"git": [], "ignore": []}  # trees already answered
        self._boundaries: list[str] = []  # nested repositories: git answers stop at them
        self._scratch: str | None = None
        self._failed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def prepare(self, directory: str) -> None:
        """Ask about the tree under `directory` (absolute): the rules of the repository it is in,
        and of the `.ignore` files in it and above it."""
        self._ask(directory, ["."])

    def prepare_files(self, files: list[str]) -> None:
        """Ask about these files (absolute), named on the command line: one question per repository."""
        groups: dict[str, list[str]] = {}
        for file in files:
            directory = os.path.dirname(file)
            groups.setdefault(_work_tree(directory) or directory, []).append(file)
        for base, group in groups.items():
            self._ask(base, [os.path.relpath(f, base) for f in group])

    def enter(self, directory: str, names: list[str]) -> None:
        """The walk reached `directory` holding `names`: a nested repository or an `.ignore`
        file here brings rules the answers for the trees above it did not include."""
        if ".git" in names and directory not in self._asked["git"]:
            self._boundaries.append(directory)
            self._query("git", directory, ["."])
        if ".ignore" in names and not self._covered("ignore", directory):
            self._query("ignore", directory, ["."])

    def ignored(self, path: str, is_dir: bool) -> bool:
        """Whether `path` or a directory above it is ignored."""
        if self.ignored_entry(path, is_dir):
            return True
        parent = os.path.dirname(path)
        while parent != os.path.dirname(parent):
            if parent + os.sep in self._ignored:
                return True
            parent = os.path.dirname(parent)
        return False

    def ignored_entry(self, path: str, is_dir: bool) -> bool:
        """Whether `path` itself is ignored: all a walk needs, which checked every directory on
        its way down and never entered an ignored one."""
        return (path + os.sep if is_dir else path) in self._ignored

    def _ask(self, base: str, pathspecs: list[str]) -> None:
        if _work_tree(base) is not None and not self._covered("git", base):
            self._query("git", base, pathspecs)
        directories = {os.path.dirname(os.path.join(base, p, "")) for p in pathspecs}
        if not self._covered("ignore", base) and any(
            os.path.isfile(os.path.join(d, ".ignore")) for d in _ancestors_of(directories)
        ):
            self._query("ignore", base, pathspecs)

    def _covered(self, kind: str, directory: str) -> bool:
        """Whether an earlier answer holds for `directory`: one asked at or above it, with no
        nested repository in between (git does not look into one)."""
        return any(
            (directory == d or _under(directory, d))
            and not any(
                _under(b, d) and (directory == b or _under(directory, b)) for b in self._boundaries
            )
            for d in self._asked[kind]
        )

    def _query(self, kind: str, base: str, pathspecs: list[str]) -> None:
        """Ask git which of `pathspecs` (relative to `base`) are ignored; remember the answer."""
        if pathspecs == ["."]:
            self._asked[kind].append(base)
        if kind == "git":
            command = ["git", "--literal-pathspecs", "-C", base, *_LS_IGNORED, "--exclude-standard"]
        else:
            scratch = self._scratch_repository()
            if scratch is None:
                return
            # The scratch repository tracks nothing: every file is checked against .ignore alone.
            # Its work tree is the repository's (git never looks into a nested one), else `/`.
            top = _work_tree(base) or os.sep
            command = [
                "git",
                "--literal-pathspecs",
                "-C",
                base,
                f"--git-dir={scratch}",
                f"--work-tree={top}",
                *_LS_IGNORED,
                "--exclude-per-directory=.ignore",
            ]
        output = self._git([*command, "--", *pathspecs])
        if output is None:
            return
        for entry in output.split("\0"):
            if entry:
                absolute = os.path.normpath(os.path.join(base, entry))
                self._ignored.add(absolute + os.sep if entry.endswith("/") else absolute)

    def _scratch_repository(self) -> str | None:
        if self._scratch is None:
            self._scratch = tempfile.mkdtemp(prefix="clipguard-ignore-")
            if self._git(["git", "init", "-q", "--bare", "--template=", self._scratch]) is None:
                return None
        return self._scratch

    def _git(self, command: list[str]) -> str | None:
        if self._failed:
            return None
        env = {k: v for k, v in os.environ.items() if k not in _GIT_ENV}
        try:
            done = subprocess.run(command, capture_output=True, env=env, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            reason = "git not found" if isinstance(exc, FileNotFoundError) else f"git failed: {exc}"
            return self._fail(reason)
        if done.returncode != 0:
            message = done.stderr.decode(errors="replace").strip().splitlines()
            return self._fail(f"git failed: {message[-1] if message else done.returncode}")
        return done.stdout.decode("utf-8", errors="surrogateescape")

    def _fail(self, reason: str) -> None:
        self._failed = True
        self.warnings.append(
            f"{reason}; .gitignore and .ignore files are not respected "
            "(--no-respect-gitignore silences this)"
        )


def _ancestors(directory: str) -> list[str]:
    found = [directory]
    while os.path.dirname(found[-1]) != found[-1]:
        found.append(os.path.dirname(found[-1]))
    return found


def _ancestors_of(directories: set[str]) -> set[str]:
    return {a for d in directories for a in _ancestors(os.path.normpath(d))}


def _under(path: str, directory: str) -> bool:
    return path.startswith(directory.rstrip(os.sep) + os.sep)


def _work_tree(directory: str) -> str | None:
    """The top of the git work tree holding `directory`: the nearest directory with a `.git`."""
    return next((d for d in _ancestors(directory) if os.path.exists(os.path.join(d, ".git"))), None)
