"""The linted project as a whole: which module is which file, and who imports whom.

The import edges come from the gate's byte-level scan (no parsing). Other modules are parsed
lazily, only when an analysis asks about them, and at most once per process.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from clipguard.analysis.source import SourceError, SourceFile, parse
from clipguard.analysis.vocab.models import holds_clip_code
from clipguard.lint.notebook import is_notebook, source_text


def split_module(module: str) -> tuple[int, str]:
    """`..a.b` -> (2, "a.b"): the number of leading dots, and the dotted name after them."""
    name = module.lstrip(".")
    return len(module) - len(name), name


def package_base(directory: str, level: int) -> str:
    """The directory a relative import of `level` dots starts from, seen from `directory`."""
    for _ in range(level - 1):
        directory = os.path.dirname(directory)
    return directory


def module_files(base: str, name: str) -> tuple[str, ...]:
    """The files module `name` (dotted; empty for the package itself) can be under `base`."""
    target = os.path.join(base, name.replace(".", os.sep)) if name else base
    package = os.path.join(target, "__init__.py")
    return (target + ".py", package) if name else (package,)


def absolute(path: str | Path) -> Path:
    """`path` as the absolute Path the project keys its modules by (most already are one)."""
    if isinstance(path, Path) and path.is_absolute() and ".." not in path.parts:
        return path
    return Path(os.path.abspath(path))


def module_path_parts(path: Path) -> list[str]:
    parts = list(path.with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return parts


class Project:
    """The set of linted files, their module names and their import edges."""

    def __init__(self, files: list[Path], imports: dict[Path, list[str]] | None = None) -> None:
        # a notebook is never imported: it is not a module of the project
        self.files = [absolute(f) for f in files if not is_notebook(f)]
        self._by_string = {str(path): path for path in self.files}
        self._suffixes: dict[str, list[Path]] | None = None
        self._resolved: dict[tuple[str, str], Path | None] = {}
        self._absolute: dict[str, Path | None] = {}
        self._imports: dict[Path, list[Path]] = {}
        self._importers: dict[Path, list[Path]] = {}
        for importer, modules in (imports or {}).items():
            self.add_imports(importer, modules)
        self._sources: dict[Path, SourceFile | None] = {}
        self._memo: dict[str, object] = {}

    @property
    def _by_suffix(self) -> dict[str, list[Path]]:
        """Each file under the dotted names it can be imported by; built on the first lookup (an
        unchanged tree answered from the cache needs none)."""
        if self._suffixes is None:
            self._suffixes = {}
            for file in self.files:
                parts = module_path_parts(file)
                for start in range(max(0, len(parts) - 6), len(parts)):
                    self._suffixes.setdefault(".".join(parts[start:]), []).append(file)
        return self._suffixes

    def memo(self, key: str, compute):
        """A project-wide analysis, computed once per process (never pickled to workers)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def add_imports(self, importer: str | Path, modules: list[str]) -> list[Path]:
        """Record the modules a file imports (names as `scan_imports` gives them); return the
        linted files they resolve to."""
        importer = absolute(importer)
        if importer in self._imports:
            return self._imports[importer]
        directory = os.path.dirname(importer)
        targets = sorted(
            {t for m in modules if (t := self._resolve_from(directory, m)) and t != importer}
        )
        self._imports[importer] = targets
        for target in targets:
            self._importers.setdefault(target, []).append(importer)
        return targets

    def resolve_module(self, importer: Path, module: str) -> Path | None:
        """The linted file a module name refers to from `importer`, if it is one of ours."""
        return self._resolve_from(os.path.dirname(os.path.abspath(importer)), module)

    def _resolve_from(self, directory: str, module: str) -> Path | None:
        if module in self._absolute:  # a name with one file or none: the same from anywhere
            return self._absolute[module]
        key = (directory, module)
        if key not in self._resolved:
            self._resolved[key] = self._resolve(directory, module)
        return self._resolved[key]

    def _resolve(self, directory: str, module: str) -> Path | None:
        level, name = split_module(module)
        if level:  # plain strings: this runs for every import of every file
            for candidate in module_files(package_base(directory, level), name):
                if candidate in self._by_string:
                    return self._by_string[candidate]
            return None
        matches = self._by_suffix.get(name)
        if not matches or len(matches) == 1:
            self._absolute[module] = matches[0] if matches else None
            return self._absolute[module]
        importer_parts = Path(directory).parts
        return max(matches, key=lambda p: _common_prefix(p.parts, importer_parts))

    def lookup(self, importer: str | Path, qualified: str) -> tuple[Path, str] | None:
        """Split `pkg.stats.MEAN` into a linted module file and the name inside it."""
        lead = len(qualified) - len(qualified.lstrip("."))
        dots, parts = qualified[:lead], qualified[lead:].split(".")
        for cut in range(len(parts) - 1, -1, -1):
            module = dots + ".".join(parts[:cut])
            if not module.strip(".") and not dots:
                continue
            target = self.resolve_module(Path(importer), module)
            if target is not None:
                return target, ".".join(parts[cut:])
        return None

    def importers(self, path: str | Path) -> list[Path]:
        """Linted files that import the module at `path`."""
        return self._importers.get(absolute(path), [])

    def imported(self, path: str | Path) -> list[Path]:
        """Linted files that the module at `path` imports."""
        return self._imports.get(absolute(path), [])

    def nearby(self, path: str | Path, importers: int, imported: int) -> set[Path]:
        """The modules that import `path` within `importers` edges, and that it imports within
        `imported` edges (itself excluded)."""
        start = absolute(path)
        found: set[Path] = set()
        for step, depth in ((self.importers, importers), (self.imported, imported)):
            seen, frontier = {start}, [start]
            for _ in range(depth):
                frontier = [n for p in frontier for n in step(p) if n not in seen]
                seen.update(frontier)
            found |= seen
        return found - {start}

    def mentions(self, path: str | Path, word: str) -> bool:
        """Whether another module's bytes hold `word`: read once, to spare parsing the modules
        that cannot matter to a lookup."""
        return word.encode() in self._bytes(path)

    def matches(self, path: str | Path, pattern: bytes) -> bool:
        """Whether another module's bytes match the regular expression `pattern`."""
        return re.search(pattern, self._bytes(path)) is not None

    def holds_clip_code(self, path: str | Path) -> bool:
        """Whether another module's code builds or calls a CLIP model (`vocab.models.CLIP_CODE`)."""
        known = self.memo("clipguard.holds_clip_code", dict)
        if path not in known:
            known[path] = holds_clip_code(self._bytes(path))
        return known[path]

    def near_clip_code(self, path: str | Path) -> bool:
        """Whether a module holds CLIP code or imports a module that does: only such a module can
        hand a CLIP model, or what reaches one, to the functions it calls."""
        known = self.memo("clipguard.near_clip_code", dict)
        if path not in known:
            known[path] = self.holds_clip_code(path) or any(
                self.holds_clip_code(p) for p in self.imported(path)
            )
        return known[path]

    def _bytes(self, path: str | Path) -> bytes:
        data = self.memo("clipguard.bytes", dict)
        if path in data:
            return data[path]
        path = absolute(path)
        if path not in data:
            try:
                data[path] = path.read_bytes()
            except OSError:
                data[path] = b""
        return data[path]

    def source(self, path: str | Path) -> SourceFile | None:
        """Another module of the project, parsed once per process; None if it cannot be."""
        path = absolute(path)
        if path not in self._sources:
            self._sources[path] = None
            try:
                decoded = source_text(path, path.read_bytes())
                tree = parse(decoded.text, str(path))
            except (OSError, SourceError):
                return None
            self._sources[path] = SourceFile(
                str(path), decoded.text, tree, newline=decoded.newline, project=self
            )
        return self._sources[path]

    def adopt(self, path: str | Path, text: str, parse_tree, newline: str) -> SourceFile:
        """The file being linted, as the lookups of the modules that import it see it too: one
        parse and one analysis per process. `parse_tree()` parses `text` (or raises SourceError)
        when no lookup has yet."""
        path = absolute(path)
        known = self._sources.get(path)
        if known is not None and known.text == text:
            return known
        file = SourceFile(str(path), text, parse_tree(), newline=newline, project=self)
        if known is not None:
            self._memo.clear()  # new text (a round of fixes): what was traced through it is stale
        self._sources[path] = file
        return file

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_sources"] = {}
        state["_memo"] = {}
        return state


def _common_prefix(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
