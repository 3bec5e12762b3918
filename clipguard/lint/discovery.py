"""Find the Python files to lint under the paths given on the command line."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path


SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "build", "dist", "node_modules",
    "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".clipguard_cache", ".eggs",
    "site-packages",
})


class PathError(Exception):
    """A path given on the command line does not exist (exit 2)."""


@dataclass(frozen=True)
class SourcePath:
    display: str  # the path as the user would write it: the argument joined with the relative part
    path: Path  # absolute
    explicit: bool  # named on the command line, so always read and parsed


def _is_virtualenv(directory: str) -> bool:
    return os.path.exists(os.path.join(directory, "pyvenv.cfg"))


def _excluded(path: str, patterns: tuple[str, ...], root: Path | None) -> bool:
    if not patterns:
        return False
    name = os.path.basename(path)
    rel = os.path.relpath(path, root) if root else path
    rel = rel.replace(os.sep, "/")
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(rel, pattern) \
                or fnmatch.fnmatch(rel, pattern + "/*") or rel.startswith(pattern + "/"):
            return True
    return False


def discover(paths: list[str], exclude: tuple[str, ...] = (), root: Path | None = None,
             force_exclude: bool = False, warnings: list[str] | None = None) -> list[SourcePath]:
    """Python files under `paths`, sorted, each once. Explicitly named files are included even
    when excluded, unless `force_exclude` (as pre-commit, which names every file, wants). A
    directory that cannot be listed is skipped with a message added to `warnings`."""
    found: dict[Path, SourcePath] = {}
    for given in paths:
        if not os.path.lexists(given):
            raise PathError(f"{given}: no such file or directory")
        if os.path.isdir(given):
            for target in _walk(given, exclude, root, warnings if warnings is not None else []):
                found.setdefault(target.path, target)
        elif force_exclude and _excluded(os.path.abspath(given), exclude, root):
            continue
        else:
            absolute = Path(os.path.abspath(given))
            found[absolute] = SourcePath(given, absolute, True)
    return sorted(found.values(), key=lambda t: t.display)


def _walk(top: str, exclude: tuple[str, ...], root: Path | None, warnings: list[str]):
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
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in SKIP_DIRS and not d.endswith(".egg-info")
            and not _is_virtualenv(os.path.join(directory, d))
            and not _excluded(os.path.join(directory, d), exclude, root)
        )
        for name in sorted(filenames):
            if not name.endswith((".py", ".pyi")):
                continue
            full = os.path.join(directory, name)
            if _excluded(full, exclude, root):
                continue
            display = os.path.normpath(full) if top not in (".", "./") else os.path.relpath(full)
            yield SourcePath(display, Path(os.path.abspath(full)), False)


ROOT_MARKERS = ("pyproject.toml", ".git")


def project_root(path: Path) -> Path | None:
    """The nearest directory at or above `path` holding a pyproject.toml or a .git."""
    directory = path if path.is_dir() else path.parent
    for candidate in (directory, *directory.parents):
        if any((candidate / marker).exists() for marker in ROOT_MARKERS):
            return candidate
    return None


def project_context(targets: list[SourcePath], exclude: tuple[str, ...], root: Path | None,
                    warnings: list[str]) -> list[SourcePath]:
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
    for top in sorted(roots):
        for candidate in _walk(str(top), exclude, root, warnings):
            if candidate.path not in known:
                found.setdefault(candidate.path, candidate)
    return list(found.values())
