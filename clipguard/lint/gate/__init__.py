"""The byte-level gate: which rules to run on which file, decided from bytes, without parsing.

`scan_file` reads each file once (or restores it from the cache), and `select_rules` picks each
file's rules from its own trigger bytes and from what the modules it imports carry to it.
"""

from __future__ import annotations

import re
from pathlib import Path

from clipguard.analysis.configs import inherits
from clipguard.analysis.project import Project
from clipguard.analysis.vocab.models import clip_code_positions
from clipguard.lint.gate.carriers import ANY, names_any, trigger_carriers
from clipguard.lint.gate.imports import bound_names
from clipguard.lint.gate.markers import IMAGE_WORK
from clipguard.lint.gate.scan import Scan, scan_bytes, scan_file
from clipguard.rule import Rule

_ANY_STAR = re.compile(rb"import[ \t]+\*")
DEPTH = 3  # import edges the analysis follows from CLIP code (tracing.IMPORTER_DEPTH)

__all__ = ["DEPTH", "Scan", "scan_bytes", "scan_file", "select_rules"]


def select_rules(
    scans: dict[Path, Scan],
    project: Project,
    rules: tuple[type[Rule], ...],
    linted: set[Path] | None = None,
) -> dict[Path, tuple[str, ...]]:
    """Which rules to run on which file, from bytes alone: on the `linted` files (all of `scans`
    by default; the others are the project around them).

    A file is in CLIP context if it mentions CLIP, if a module that does imports it (docs/design.md: a
    module that builds no model feeds CLIP when its importers do), or if it imports one (a script
    calling a project helper that calls `encode_image`). A rule runs on a file in
    context when its trigger bytes occur in the file, or its imported triggers occur in a
    project module the file imports, in a statement the file names (constants in `stats.py`, a
    helper that calls `encode_image`).
    """
    if not rules:
        return {}

    def imports(scan: Scan) -> list[Path]:
        return project.add_imports(scan.file.path, scan.module_names())

    def own_codes(scan: Scan, ruled_out: set[str]) -> set[str]:
        """The rules whose trigger bytes the file holds, but for those `ruled_out`."""
        if scan.codes is not None:
            return set(scan.codes) - ruled_out
        data = scan.bytes()
        found = [
            code
            for words, codes in by_triggers.items()
            if not ruled_out.issuperset(codes) and (not words or any(w in data for w in words))
            for code in codes
        ]
        if not ruled_out:
            scan.codes = found  # complete: the scan cache keeps it
        return set(found) - ruled_out

    carriers: dict[tuple[Path, str], set[bytes] | None] = {}

    def imported_codes(dep: Path, data: bytes, found: set[str]) -> set[str]:
        """The rules a module `data` imports from `dep` can make fire: those whose imported
        triggers `dep` holds in something `data` names."""
        codes = set()
        for rule in imported:
            if rule.code in found:
                continue
            key = (dep, rule.code)
            if key not in carriers:
                carriers[key] = trigger_carriers(
                    scans[dep].bytes(), rule.imported_triggers, bound_names
                )
            if names_any(carriers[key], data):
                codes.add(rule.code)
        return codes

    # rules sharing their triggers test them once
    by_triggers: dict[tuple[bytes, ...], list[str]] = {}
    for rule in rules:
        by_triggers.setdefault(rule.triggers, []).append(rule.code)
    imported = [r for r in rules if r.imported_triggers]
    for scan in scans.values():
        imports(scan)
    context = {s.file.path for s in scans.values() if s.mentions_clip}
    # From the modules whose code builds or calls a CLIP model: the modules importing them, and
    # the modules all of those import (at the depth the analysis follows) that prepare images.
    users = _users([s.file.path for s in scans.values() if s.builds_clip], project, scans)
    # A package's `__init__` that only passes CLIP names on applies no image work of its own.
    appliers = {p for p in users if p.name != "__init__.py" or scans[p].builds_clip}
    near_model = users | _preparing(appliers, imports, scans)
    context |= near_model
    model_codes = {r.code for r in rules if r.needs_model}
    selected: dict[Path, tuple[str, ...]] = {}
    for path in context if linted is None else context & linted:
        scan = scans[path]
        ruled_out = set() if path in near_model else model_codes
        found = own_codes(scan, ruled_out)
        if imported:
            for dep in imports(scan):
                if dep in scans:
                    found |= imported_codes(dep, scan.bytes(), found | ruled_out)
        if found:
            selected[path] = tuple(sorted(found))
    return selected


def _users(sources: list[Path], project: Project, scans: dict[Path, Scan]) -> set[Path]:
    """The modules that build or call CLIP, and their importers (within DEPTH edges) that name
    what carries it: a top-level function, class or value whose code calls CLIP, or names
    another such carrier. A star import (`from .models import *`, as package `__init__`s
    re-export) passes the names on. An importer that only imports something else of the module
    (a package hub's importers, mostly) is not a user."""
    carried: dict[Path, set[bytes] | None] = {}
    for path in sources:
        data = scans[path].bytes()
        carried[path] = trigger_carriers(data, (), bound_names, clip_code_positions(data))
    frontier = list(sources)
    for _ in range(DEPTH):
        reached = []
        for path in frontier:
            names = carried[path]
            for importer in project.importers(path):
                if importer in carried or importer not in scans:
                    continue
                data = scans[importer].bytes()
                if _star_imports(data, path):
                    carried[importer] = names
                elif names_any(names, data):
                    carried[importer] = (
                        ANY if names is ANY else trigger_carriers(data, tuple(names), bound_names)
                    )
                else:
                    continue
                reached.append(importer)
        frontier = reached
    return set(carried)


def _star_imports(data: bytes, target: Path) -> bool:
    """Whether `from <...target> import *` is in `data`."""
    if _ANY_STAR.search(data) is None:
        return False
    module = re.escape(
        target.stem.encode() if target.name != "__init__.py" else target.parent.name.encode()
    )
    return (
        re.search(
            rb"^[ \t]*from[ \t]+[\w.]*?\b" + module + rb"[ \t]+import[ \t]+\*", data, re.MULTILINE
        )
        is not None
    )


def _preparing(users: set[Path], imports, scans: dict[Path, Scan]) -> set[Path]:
    """The modules the users import (within DEPTH edges) whose named statements prepare images:
    a transform, a dataset or the statistics the users apply. A package `__init__` passes on the
    names its importer uses (`from pkg import resize`, re-exported from `pkg/utils.py`). An
    mm-style config takes all of its `_base_` configs, naming nothing, and their chains are
    followed to any depth."""
    carriers: dict[Path, set[bytes] | None] = {}
    found: set[Path] = set()
    walked: set[tuple[Path, int]] = set()
    # (module, edges left, the text naming what is taken from the modules it imports)
    work = [(path, DEPTH, scans[path].bytes()) for path in users]
    while work:
        path, left, naming = work.pop()
        inheriting = inherits(scans[path].bytes())
        if left == 0 and not inheriting:
            continue
        for dep in imports(scans[path]):
            if dep in users or dep not in scans:
                continue
            if dep not in carriers:
                carriers[dep] = trigger_carriers(scans[dep].bytes(), IMAGE_WORK, bound_names)
            if names_any(carriers[dep], naming) or (inheriting and carriers[dep]):
                found.add(dep)
                passed = scans[dep].bytes()
            elif inheriting:
                passed = scans[dep].bytes()
            elif dep.name == "__init__.py":
                passed = naming
            else:
                continue
            if (dep, id(passed)) in walked:
                continue
            walked.add((dep, id(passed)))
            work.append((dep, left if inheriting else left - 1, passed))
    return found
