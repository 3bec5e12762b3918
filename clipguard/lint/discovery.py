"""Find the Python files and Jupyter notebooks to lint under the paths given on the command line."""

from __future__ import annotations

import fnmatch
import os
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from clipguard.lint.ignore import IgnoreFiles

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        "build",
        "dist",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".clipguard_cache",
        ".eggs",
        "site-packages",
    }
)


class PathError(Exception):
    """A path given on the command line does not exist (exit 2)."""


@dataclass(frozen=True)
class SourcePath:
    display: str  # the path as the user would write it: the argument joined with the relative part
    path: Path  # absolute
    explicit: bool  # named on the command line, so always read and parsed


def _is_virtualenv(directory: str) -> bool:
    return os.path.exists(os.path.join(directory, "pyvenv.cfg"))


def excluded(path: str, patterns: tuple[str, ...], root: Path | None) -> bool:
    """Whether an `exclude` pattern matches the path's name or its path relative to `root`."""
    if not patterns:
        return False
    name = os.path.basename(path)
    rel = os.path.relpath(path, root) if root else path
    rel = rel.replace(os.sep, "/")
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if (
            fnmatch.fnmatch(name, pattern)
            or fnmatch.fnmatch(rel, pattern)
            or fnmatch.fnmatch(rel, pattern + "/*")
            or rel.startswith(pattern + "/")
        ):
            return True
    return False


def discover(
    paths: list[str],
    exclude: tuple[str, ...] = (),
    root: Path | None = None,
    force_exclude: bool = False,
    warnings: list[str] | None = None,
    respect_gitignore: bool = False,
) -> list[SourcePath]:
    """Python files and notebooks under `paths`, sorted, each once. Explicitly named files are included even
    when excluded (or git-ignored, with `respect_gitignore`), unless `force_exclude` (as
    pre-commit, which names every file, wants). A directory that cannot be listed is skipped
    with a message added to `warnings`."""
    warnings = warnings if warnings is not None else []
    missing = next((given for given in paths if not os.path.lexists(given)), None)
    if missing is not None:
        raise PathError(f"{missing}: no such file or directory")
    found: dict[Path, SourcePath] = {}
    with IgnoreFiles(warnings) if respect_gitignore else nullcontext() as ignore:
        named = [os.path.abspath(given) for given in paths if not os.path.isdir(given)]
        if ignore is not None and force_exclude and named:
            ignore.prepare_files(named)
        for given in paths:
            if os.path.isdir(given):
                for target in _walk(given, exclude, root, warnings, ignore, force_exclude):
                    found.setdefault(target.path, target)
                continue
            absolute = os.path.abspath(given)
            if force_exclude and (
                excluded(absolute, exclude, root)
                or ignore is not None
                and ignore.ignored(absolute, False)
            ):
                continue
            found[Path(absolute)] = SourcePath(given, Path(absolute), True)
    return sorted(found.values(), key=lambda t: t.display)


def named_file_excluded(
    path: str,
    exclude: tuple[str, ...],
    root: Path | None,
    respect_gitignore: bool,
    warnings: list[str],
) -> bool:
    """Whether `--force-exclude` drops this one file (e.g. `--stdin-filename`, which need not exist)."""
    absolute = os.path.abspath(path)
    if excluded(absolute, exclude, root):
        return True
    if not respect_gitignore:
        return False
    with IgnoreFiles(warnings) as ignore:
        ignore.prepare_files([absolute])
        return ignore.ignored(absolute, False)


def _walk(
    top: str,
    exclude: tuple[str, ...],
    root: Path | None,
    warnings: list[str],
    ignore: IgnoreFiles | None,
    force_exclude: bool,
):
    """The Python files under `top`. Its own git-ignored status counts only with
    `force_exclude`: a directory named on the command line is linted, as ruff does."""
    start = os.path.abspath(top)
    if ignore is not None:
        ignore.prepare(start)
        if force_exclude and ignore.ignored(start, True):
            return

    def unlistable(error: OSError) -> None:
        where = error.filename if isinstance(error.filename, str) else top
        shown = os.path.normpath(where) if top not in (".", "./") else os.path.relpath(where)
        warnings.append(f"{shown}: cannot list directory: {error.strerror or error}; skipped")

    seen: set[tuple[int, int]] = set()
    for directory, dirnames, filenames in os.walk(top, onerror=unlistable, followlinks=True):
        try:
            stat = os.stat(directory)
        except OSError:
            dirnames[:] = []
            continue
        if (stat.st_dev, stat.st_ino) in seen:  # a symlink loop
            dirnames[:] = []
            continue
        seen.add((stat.st_dev, stat.st_ino))
        here = os.path.abspath(directory)
        if ignore is not None:
            ignore.enter(here, dirnames + filenames)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in SKIP_DIRS
            and not d.endswith(".egg-info")
            and not _is_virtualenv(os.path.join(directory, d))
            and not excluded(os.path.join(directory, d), exclude, root)
            and not (ignore is not None and ignore.ignored_entry(os.path.join(here, d), True))
        )
        # `here` is absolute and normalized, and under "." normpath is relpath
        shown = os.path.normpath(directory)
        shown = "" if shown == os.curdir else os.path.join(shown, "")
        here = os.path.join(here, "")
        for name in sorted(filenames):
            if not name.endswith((".py", ".pyi", ".ipynb")):
                continue
            if excluded(os.path.join(directory, name), exclude, root) or (
                ignore is not None and ignore.ignored_entry(here + name, False)
            ):
                continue
            yield SourcePath(shown + name, Path(here + name), False)


ROOT_MARKERS = ("pyproject.toml", ".git")


def project_root(path: Path) -> Path | None:
    """The nearest directory at or above `path` holding a pyproject.toml or a .git."""
    directory = path if path.is_dir() else path.parent
    for candidate in (directory, *directory.parents):
        if any((candidate / marker).exists() for marker in ROOT_MARKERS):
            return candidate
    return None


def project_context(
    targets: list[SourcePath],
    exclude: tuple[str, ...],
    root: Path | None,
    warnings: list[str],
    respect_gitignore: bool = True,
) -> list[SourcePath]:
    """The other Python files of the projects the named files belong to: read for what they
    import, define and call, never reported on. A file linted alone (pre-commit) then gets the
    findings a run on the whole tree gives it."""
    named = [t for t in targets if t.explicit]
    here = Path(os.path.abspath(root)) if root is not None else None
    roots = set()
    for target in named:
        found = project_root(target.path)
        if found is None and here is not None and here in target.path.parents:
            found = here  # no project marker: the directory clipguard runs in
        if found is not None:
            roots.add(found)
    known = {t.path for t in targets}
    found: dict[Path, SourcePath] = {}
    with IgnoreFiles(warnings) if respect_gitignore and roots else nullcontext() as ignore:
        for top in sorted(roots):
            for candidate in _walk(str(top), exclude, root, warnings, ignore, False):
                if candidate.path not in known:
                    found.setdefault(candidate.path, candidate)
    return list(found.values())
