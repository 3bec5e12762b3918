"""Find the Python files and Jupyter notebooks to lint under the paths given on the command line."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path

from clipguard.analysis.project import module_files, package_base, split_module

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
    """Python files and notebooks under `paths`, sorted, each once. Explicitly named files are
    included even when excluded, unless `force_exclude` (as pre-commit, which names every file,
    wants). A directory that cannot be listed is skipped with a message added to `warnings`."""
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
            if not name.endswith((".py", ".pyi", ".ipynb")):
                continue
            full = os.path.join(directory, name)
            if _excluded(full, exclude, root):
                continue
            display = os.path.normpath(full) if top not in (".", "./") else os.path.relpath(full)
            yield SourcePath(display, Path(os.path.abspath(full)), False)


def imported_files(importer: Path, modules: list[str], root: Path) -> list[Path]:
    """Python files of the project that `importer` imports, found on disk: relative imports beside
    it, absolute ones under its directory or a parent of it up to `root` (the first that has it).
    Lets a run on a few files (pre-commit) follow the constants and helpers they import."""
    found = []
    directory = str(importer.parent)
    bases = [directory, *(str(p) for p in importer.parent.parents if p == root or root in p.parents)]
    for module in modules:
        level, name = split_module(module)
        for base in [package_base(directory, level)] if level else bases:
            file = next((f for f in module_files(base, name) if os.path.isfile(f)), None)
            if file is not None:
                path = Path(os.path.abspath(file))
                if path != importer and not any(part in SKIP_DIRS for part in path.parts):
                    found.append(path)
                break
    return found
