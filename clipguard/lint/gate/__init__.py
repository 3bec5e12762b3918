"""The byte-level gate: which rules to run on which file, decided from bytes, without parsing.

`scan_file` reads each file once (or restores it from the cache), and `select_rules` picks each
file's rules from its own trigger bytes and from what the modules it imports carry to it.
"""

from __future__ import annotations

from pathlib import Path

from clipguard.analysis.project import Project
from clipguard.lint.gate.carriers import names_any, trigger_carriers
from clipguard.lint.gate.imports import bound_names
from clipguard.lint.gate.markers import prepares_images
from clipguard.lint.gate.scan import Scan, scan_bytes, scan_file
from clipguard.rule import Rule

DEPTH = 3  # import edges the analysis follows from CLIP code (tracing.IMPORTER_DEPTH)

__all__ = ["DEPTH", "Scan", "scan_bytes", "scan_file", "select_rules"]


def select_rules(scans: dict[Path, Scan], project: Project, rules: tuple[type[Rule], ...]) -> dict[Path, tuple[str, ...]]:
    """Which rules to run on which file, from bytes alone.

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

    def own_codes(scan: Scan) -> list[str]:
        if scan.codes is None:
            data = scan.bytes()
            scan.codes = [code for words, codes in by_triggers.items()
                          if not words or any(word in data for word in words) for code in codes]
        return scan.codes

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
                carriers[key] = trigger_carriers(scans[dep].bytes(), rule.imported_triggers,
                                                           bound_names)
            if names_any(carriers[key], data):
                codes.add(rule.code)
        return codes

    prepared: dict[Path, bool] = {}

    def prepares(path: Path) -> bool:
        if path not in prepared:
            prepared[path] = prepares_images(scans[path].bytes())
        return prepared[path]

    by_triggers: dict[tuple[bytes, ...], list[str]] = {}  # rules sharing their triggers test them once
    for rule in rules:
        by_triggers.setdefault(rule.triggers, []).append(rule.code)
    imported = [r for r in rules if r.imported_triggers]
    for scan in scans.values():
        imports(scan)
    context = {s.file.path for s in scans.values() if s.mentions_clip}
    # From the modules whose code builds or calls a CLIP model: the modules importing them, and
    # the modules all of those import (at the depth the analysis follows) that prepare images.
    sources = [s.file.path for s in scans.values() if s.builds_clip]
    users = set(sources) | _closure(sources, project.importers, scans)
    context |= users | {p for p in _closure(list(users), project.imported, scans) if prepares(p)}
    selected: dict[Path, tuple[str, ...]] = {}
    for path in context:
        scan = scans[path]
        found = set(own_codes(scan))
        if imported:
            for dep in imports(scan):
                if dep in scans:
                    found |= imported_codes(dep, scan.bytes(), found)
        if found:
            selected[path] = tuple(sorted(found))
    return selected


def _closure(start: list[Path], step, scans: dict, depth: int = DEPTH) -> set[Path]:
    """The modules `step` (imports, or importers) reaches from `start` within `depth` edges."""
    seen = set(start)
    frontier = list(start)
    for _ in range(depth):
        frontier = [n for p in frontier for n in step(p) if n in scans and n not in seen]
        seen.update(frontier)
    return seen - set(start)
