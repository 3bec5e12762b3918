"""The import graph read from bytes, without parsing: cheap enough to build for every file.

`scan_imports` lists the modules a file imports (mmcv `_base_` config inheritance included);
`bound_names` reads the names one import statement binds, for the trigger carriers.
"""

from __future__ import annotations

import re

_IMPORT = re.compile(
    rb"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]*(?:\(([^)]*)\)|([\w., \t]*))"
    rb"|import[ \t]+([\w.]+(?:[ \t]+as[ \t]+\w+)?(?:[ \t]*,[ \t]*[\w.]+(?:[ \t]+as[ \t]+\w+)?)*))",
    re.MULTILINE,
)


# mmcv/mmengine config inheritance: `_base_ = ['../_base_/datasets/voc.py', ...]` pulls those
# files' names into this config, exactly like an import.
_BASE = re.compile(
    rb"^_base_[ \t]*=[ \t]*(\[[^\]]*\]|\([^)]*\)|'[^'\n]*'|\"[^\"\n]*\")", re.MULTILINE
)
_QUOTED = re.compile(rb"'([^'\n]+\.py)'|\"([^\"\n]+\.py)\"")


def config_bases(data: bytes) -> list[str]:
    """Relative module names of mmcv-style `_base_` config files: `../a/b.py` gives `..a.b`."""
    found = []
    for match in _BASE.finditer(data):
        for quoted in _QUOTED.finditer(match.group(1)):
            path = (
                (quoted.group(1) or quoted.group(2)).decode("utf-8", "replace").replace("\\", "/")
            )
            parts = [p for p in path[:-3].split("/") if p not in ("", ".")]
            level = 1
            while parts and parts[0] == "..":
                parts.pop(0)
                level += 1
            if parts and all(p.isidentifier() or p.replace("-", "_").isidentifier() for p in parts):
                found.append("." * level + ".".join(parts))
    return found


def _import_statements(data: bytes):
    """Matches of `_IMPORT` at the start of each line holding the word `import` (finding the
    word first is several times faster than trying the pattern at every line start)."""
    position = data.find(b"import")
    last = -1
    while position != -1:
        start = data.rfind(b"\n", 0, position) + 1
        if start != last:
            last = start
            match = _IMPORT.match(data, start)
            if match is not None:
                yield match
        position = data.find(b"import", position + 6)


def scan_imports(data: bytes) -> list[str]:
    """Module names a file imports, read from its bytes: `pkg.mod`, `.stats`, `..a.b`.

    For `from pkg import name` both `pkg` and `pkg.name` are listed, as `name` may be a module.
    """
    found: list[str] = []
    for match in _import_statements(data):
        source, grouped, names, plain = match.groups()
        names = grouped if grouped is not None else names
        if plain is not None:
            for part in plain.split(b","):
                found.append(part.split()[0].decode("ascii", "replace"))
        elif source is not None:
            module = source.decode("ascii", "replace")
            found.append(module)
            sep = "" if module.endswith(".") else "."
            for name in re.split(rb"[\s,()\\]+", names or b""):
                if name and name != b"as" and re.fullmatch(rb"\w+", name):
                    found.append(f"{module}{sep}{name.decode('ascii', 'replace')}")
    if b"_base_" in data:
        found.extend(config_bases(data))
    return found


_CLAUSE = re.compile(rb"[^,()\\]+")


def bound_names(data: bytes, start: int, at=None) -> set[bytes] | None:
    """The names an import statement starting at `start` binds (`*` for a star import), or None
    if no import statement starts there. With positions `at`, only the names of the clauses
    holding one of them, unless one is in the module part (`from imagenet import MEAN, STD`)."""
    match = _IMPORT.match(data, start)
    if match is None:
        return None
    if data[match.end() : match.end() + 1] == b"*":
        return {b"*"}
    _, grouped, _, plain = match.groups()
    group = 4 if plain is not None else 2 if grouped is not None else 3
    offset = match.start(group)
    clauses = [
        (offset + c.start(), offset + c.end(), c.group())
        for c in _CLAUSE.finditer(match.group(group))
    ]
    if at is not None and all(p >= offset for p in at):
        clauses = [c for c in clauses if any(c[0] <= p < c[1] for p in at)]
    names = (re.sub(rb"#[^\n]*", b"", text) for _, _, text in clauses)
    return {_bound(name, first_only=group == 4) for name in names if name.strip()}


def _bound(clause: bytes, first_only: bool = False) -> bytes:
    """`a.b as c` binds `c`; `a.b` binds `a` (as `import` does); `name` binds `name`."""
    words = clause.split()
    if len(words) >= 3 and words[-2] == b"as":
        return words[-1]
    return words[0].split(b".")[0] if first_only else words[0]
