"""The lint run: discover files, gate them on bytes, parse the survivors once, run every enabled
rule in one walk, in parallel processes when there are many, with a content-hash cache."""

from __future__ import annotations

import difflib
import gc
import hashlib
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG

from clipguard import prefilter
from clipguard.cache import Cache
from clipguard.checker import UNREADABLE, lint_file, lint_text, unreadable
from clipguard.config import Settings
from clipguard.diagnostics import Finding
from clipguard.discovery import Target, discover, imported_files
from clipguard.fixer import FileChanged, applicable, fix_text, write_atomic
from clipguard.project import Project, bound_names, scan_imports
from clipguard.rule import Rule
from clipguard.source import SourceError, decode, parse

__all__ = ["LintError", "Report", "Settings", "lint_paths"]

PARALLEL_MIN_FILES = 24
GATE_KEY = "<gate>"  # the cache entry remembering the last run's gate, valid while no file changed


class LintError(Exception):
    """The run cannot finish (exit 2), e.g. a worker process was killed."""


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0  # files discovered
    parsed: int = 0  # files that passed the byte gate and were parsed (or came from the cache)
    fixed: int = 0  # fixes applied (or, with diff, that would be)
    diffs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Scan:
    """What the byte gate learned of one file; cached with its stat data and content hash."""

    target: Target
    data: bytes | None = None
    error: str | None = None
    sha: str = ""
    marker: bool = False
    source: bool = False  # holds a CLIP model or feature source, so its importers may use CLIP
    imports: list[str] | None = None  # module names, read from the bytes when needed
    codes: list[str] | None = None  # enabled rules whose trigger bytes occur here, when needed
    noqa: list[str] | None = None
    binary: bool = False
    cached: dict | None = None
    mtime: int = 0
    size: int = 0

    def bytes(self) -> bytes:
        if self.data is None:
            self.data = Path(self.target.path).read_bytes()
        return self.data

    def module_names(self) -> list[str]:
        """The modules this file imports, read from its bytes once."""
        if self.imports is None:
            self.imports = scan_imports(self.bytes())
        return self.imports


def lint_paths(paths: list[str], settings: Settings, *, use_cache: bool = True, jobs: int | None = None,
               diff: bool = False, force_exclude: bool = False, exhaustive: bool = False) -> Report:
    """Lint `paths` with `settings`; apply fixes if `settings.fix` (or only show them with `diff`).
    `exhaustive` runs every rule on every file, without the byte gate (the tests compare both)."""
    # `ast` trees are millions of acyclic objects: cyclic collections during a run only cost time
    # (a third of it on large trees), and worker processes inherit the setting.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _lint_paths(paths, settings, use_cache, jobs, diff, force_exclude, exhaustive)
    finally:
        if enabled:
            gc.enable()


def _lint_paths(paths: list[str], settings: Settings, use_cache: bool, jobs: int | None, diff: bool,
                force_exclude: bool, exhaustive: bool) -> Report:
    root = Path(settings.root or os.getcwd())
    warnings: list[str] = []
    targets = discover(paths, settings.exclude, root, force_exclude, warnings)
    rules = tuple(r for r in settings.enabled_rules() if r.code != UNREADABLE[0])
    report_unreadable = UNREADABLE[0] in settings.enabled_codes()
    cache = Cache(root, settings.fingerprint()) if use_cache else None

    scans = [_scan(t, cache) for t in targets]
    # Modules the named files import are read too (not linted): the files pre-commit passes see
    # the constants and helpers they use, as a run on the whole tree does.
    neighbours = _neighbours(scans, root, cache, rules)
    by_path = {s.target.path: s for s in (*scans, *neighbours) if s.error is None}
    project = Project(list(by_path))
    sha_by_path = {path: s.sha for path, s in by_path.items()}
    tree = hashlib.sha256("\n".join(f"{p}\0{s.sha}" for p, s in sorted(by_path.items())).encode()).hexdigest()
    remembered = cache.get(GATE_KEY) if cache is not None else None
    if exhaustive:
        for path, scan in by_path.items():
            project.add_imports(path, scan.module_names())
        codes = {path: tuple(r.code for r in rules) for path in by_path} if rules else {}
        deps_by_path = {}
    elif isinstance(remembered, dict) and remembered.get("tree") == tree \
            and isinstance(remembered.get("codes"), dict) and isinstance(remembered.get("deps"), dict):
        # Nothing changed anywhere: the last run's gate still holds.
        codes = {Path(p): tuple(c) for p, c in remembered["codes"].items() if isinstance(c, list)}
        deps_by_path = {p: d for p, d in remembered["deps"].items() if isinstance(d, str)}
    else:
        codes = _gate(by_path, project, rules)
        deps_by_path = {}

    report = Report(files=len(targets), warnings=warnings)
    results: dict[Path, list[Finding]] = {}
    work: list[tuple[Scan, tuple[str, ...], str]] = []
    for scan in scans:
        if scan.error is not None:
            results[scan.target.path] = [unreadable(scan.target.display, scan.error)]
            continue
        selected = codes.get(scan.target.path, ())
        if not selected and not (scan.target.explicit or scan.marker or scan.binary):
            continue  # nothing here for any rule; files that mention CLIP are still parsed
        deps = deps_by_path.get(str(scan.target.path)) or _deps_key(scan, project, sha_by_path)
        deps_by_path[str(scan.target.path)] = deps
        cached = scan.cached
        if cached is not None and cached.get("sha") == scan.sha and cached.get("deps") == deps \
                and cached.get("rules") == list(selected) and cached.get("findings") is not None \
                and cached.get("display") == scan.target.display:
            results[scan.target.path] = [Finding.from_json(f) for f in cached["findings"]]
        else:
            work.append((scan, selected, deps))
    report.parsed = len(work) + len(results) - sum(1 for s in scans if s.error is not None)
    if work or settings.fix or diff:  # rules will run: they need the import graph, also when the gate was remembered
        for scan in by_path.values():
            if scan.imports is not None:
                project.add_imports(scan.target.path, scan.imports)

    for (scan, selected, deps), findings in zip(work, _run(work, rules, project, jobs)):
        results[scan.target.path] = findings
        if cache is not None:
            cache.put(str(scan.target.path), {
                **_scan_entry(scan), "deps": deps, "rules": list(selected),
                "display": scan.target.display, "findings": [f.to_json() for f in findings]})
    if cache is not None:
        linted = {w[0].target.path for w in work}
        for scan in scans:
            if scan.error is None and scan.target.path not in linted:
                entry = cache.get(str(scan.target.path)) or {}
                fresh = _scan_entry(scan)
                if any(entry.get(k) != v for k, v in fresh.items()):
                    cache.put(str(scan.target.path), {**entry, **fresh})
        cache.put(GATE_KEY, {"tree": tree, "deps": deps_by_path,
                             "codes": {str(p): list(c) for p, c in codes.items()}})
        cache.save()

    by_scan = {s.target.path: s for s in scans}
    for path, findings in results.items():
        scan = by_scan[path]
        findings = _filter(findings, scan, settings, report_unreadable)
        if (settings.fix or diff) and any(applicable(f, settings) for f in findings):
            selected_rules = _rules_for(rules, codes.get(path, ()))
            findings = _fix_file(scan, findings, selected_rules, project, settings, diff, report,
                                 report_unreadable)
            findings = _filter(findings, scan, settings, report_unreadable)
        report.findings.extend(findings)
    report.findings.sort(key=lambda f: f.sort_key)
    return report


def _gate(scans: dict[Path, Scan], project: Project, rules: tuple[type[Rule], ...]) -> dict[Path, tuple[str, ...]]:
    """Which rules to run on which file, from bytes alone.

    A file is in CLIP context if it mentions CLIP, if a module that does imports it (DESIGN: a
    module that builds no model feeds CLIP when its importers do), or if it imports one (a script
    calling a project helper that calls `encode_image`). A rule runs on a file in
    context when its trigger bytes occur in the file, or its imported triggers occur in a
    project module the file imports, in a statement the file names (constants in `stats.py`, a
    helper that calls `encode_image`).
    """
    if not rules:
        return {}

    def imports(scan: Scan) -> list[Path]:
        return project.add_imports(scan.target.path, scan.module_names())

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
                carriers[key] = prefilter.trigger_carriers(scans[dep].bytes(), rule.imported_triggers,
                                                           bound_names)
            if prefilter.names_any(carriers[key], data):
                codes.add(rule.code)
        return codes

    prepares: dict[Path, bool] = {}

    def prepares_images(path: Path) -> bool:
        if path not in prepares:
            prepares[path] = prefilter.prepares_images(scans[path].bytes())
        return prepares[path]

    by_triggers: dict[tuple[bytes, ...], list[str]] = {}  # rules sharing their triggers test them once
    for rule in rules:
        by_triggers.setdefault(rule.triggers, []).append(rule.code)
    imported = [r for r in rules if r.imported_triggers]
    for scan in scans.values():
        imports(scan)
    markers = [s for s in scans.values() if s.marker]
    context = {s.target.path for s in markers}
    for scan in markers:  # the modules CLIP code imports, and the modules that import CLIP code
        context.update(p for p in project.imported(scan.target.path) if p in scans and prepares_images(p))
        if scan.source:
            context.update(p for p in project.importers(scan.target.path) if p in scans)
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


def _neighbours(scans: list[Scan], root: Path, cache: Cache | None, rules: tuple[type[Rule], ...],
                depth: int = 2) -> list[Scan]:
    """Project files that the explicitly named files import (and what those import), not given,
    that hold something the rules read across modules in a statement the importer names."""
    root = Path(os.path.abspath(root))
    words = tuple({*prefilter.CROSS_MODULE, *(t for r in rules for t in r.imported_triggers)})
    known = {s.target.path for s in scans}
    frontier = [s for s in scans if s.target.explicit and s.error is None]
    found: list[Scan] = []
    for _ in range(depth):
        fresh = []
        for scan in frontier:
            for path in imported_files(scan.target.path, scan.module_names(), root):
                if path in known:
                    continue
                known.add(path)
                neighbour = _scan(Target(str(path), path, False), cache)
                if neighbour.error is not None:
                    continue
                if prefilter.names_any(prefilter.trigger_carriers(neighbour.bytes(), words, bound_names),
                                       scan.bytes()):
                    found.append(neighbour)
                    fresh.append(neighbour)
        frontier = fresh
    return found


def _rules_for(rules: tuple[type[Rule], ...], codes) -> tuple[type[Rule], ...]:
    wanted = set(codes)
    return tuple(r for r in rules if r.code in wanted)


def _scan(target: Target, cache: Cache | None) -> Scan:
    scan = Scan(target)
    key = str(target.path)
    try:
        stat = os.stat(target.path)
    except OSError as exc:
        scan.error = f"cannot read: {exc.strerror or exc}"
        return scan
    if not S_ISREG(stat.st_mode):  # a FIFO or device named *.py: reading it could block forever
        scan.error = "cannot read: not a regular file"
        return scan
    scan.mtime, scan.size = stat.st_mtime_ns, stat.st_size
    entry = cache.get(key) if cache is not None else None
    if not _well_formed(entry):
        entry = None
    if entry is not None and entry.get("mtime") == stat.st_mtime_ns and entry.get("size") == stat.st_size:
        _restore(scan, entry)
        return scan
    try:
        data = Path(target.path).read_bytes()
    except OSError as exc:
        scan.error = f"cannot read: {exc.strerror or exc}"
        return scan
    except MemoryError:
        scan.error = "cannot read: file too large"
        return scan
    scan.data = data
    scan.sha = hashlib.sha256(data).hexdigest()
    if entry is not None and entry.get("sha") == scan.sha:
        _restore(scan, entry)
        return scan
    scan.binary = b"\x00" in data
    lowered = data.lower()
    noqa = prefilter.file_noqa(data, lowered)
    scan.noqa = sorted(noqa) if noqa is not None else None
    scan.marker = prefilter.has_clip_marker(lowered)
    scan.source = scan.marker and prefilter.has_clip_source(data)
    return scan


def _restore(scan: Scan, entry: dict) -> None:
    scan.cached, scan.sha, scan.marker = entry, entry["sha"], entry["marker"]
    scan.source = entry.get("source", False)
    scan.imports, scan.codes = entry.get("imports"), entry.get("codes")
    scan.noqa, scan.binary = entry.get("noqa"), entry.get("binary", False)


_ENTRY_KEYS = {"sha": str, "marker": bool}


def _well_formed(entry) -> bool:
    """A cache entry this version can use (a damaged cache file only costs speed)."""
    return isinstance(entry, dict) and all(isinstance(entry.get(k), t) for k, t in _ENTRY_KEYS.items()) \
        and all(entry.get(k) is None or isinstance(entry.get(k), list) for k in ("noqa", "imports", "codes"))


def _scan_entry(scan: Scan) -> dict:
    return {"mtime": scan.mtime, "size": scan.size, "sha": scan.sha, "marker": scan.marker,
            "source": scan.source, "imports": scan.imports, "codes": scan.codes, "noqa": scan.noqa, "binary": scan.binary}


def _deps_key(scan: Scan, project: Project, sha_by_path: dict[Path, str]) -> str:
    """The content hashes of the project modules this file's findings can depend on."""
    near = set(project.imported(scan.target.path)) | set(project.importers(scan.target.path))
    return hashlib.sha256("".join(sorted(sha_by_path.get(p, "") for p in near)).encode()).hexdigest()[:16]


def _filter(findings: list[Finding], scan: Scan, settings: Settings, report_unreadable: bool) -> list[Finding]:
    silenced = set(scan.noqa or ())
    ignored = settings.ignored_for(scan.target.display)
    out = []
    for finding in findings:
        if finding.rule == UNREADABLE[0]:
            if report_unreadable:
                out.append(finding)
            continue
        if "ALL" in silenced or any(finding.rule.startswith(code) for code in silenced):
            continue
        if any(code == "ALL" or finding.rule.startswith(code) for code in ignored):
            continue
        out.append(finding)
    return out


# --- running the rules, in this process or in a pool ---------------------------------------------

_WORKER: dict = {}


def _run(work, rules, project, jobs):
    tasks = [(str(scan.target.path), scan.target.display, codes) for scan, codes, _ in work]
    if jobs is None:  # automatic: processes pay off only on many files
        jobs = (os.cpu_count() or 1) if len(tasks) >= PARALLEL_MIN_FILES else 1
    if jobs < 2 or len(tasks) < 2:
        _WORKER.update(rules=rules, project=project)
        return [_lint_task(task) for task in tasks]
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    context = multiprocessing.get_context(method)
    chunk = max(1, min(8, len(tasks) // (jobs * 4)))
    # largest files first, in small chunks, so no worker is left with a long file at the end
    order = sorted(range(len(tasks)), key=lambda i: -work[i][0].size)
    try:
        with ProcessPoolExecutor(min(jobs, len(tasks)), mp_context=context,
                                 initializer=_init_worker, initargs=(rules, project)) as pool:
            done = pool.map(_lint_task, [tasks[i] for i in order], chunksize=chunk)
            results: list[list[Finding]] = [[] for _ in tasks]
            for index, findings in zip(order, done):
                results[index] = findings
            return results
    except BrokenProcessPool:
        raise LintError("a worker process was killed (out of memory?); try fewer --jobs") from None


def _init_worker(rules, project) -> None:
    _WORKER.update(rules=rules, project=project)


def _lint_task(task: tuple[str, str, tuple[str, ...]]) -> list[Finding]:
    path, display, codes = task
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return [unreadable(display, f"cannot read: {exc.strerror or exc}")]
    try:
        decoded = decode(data)
        if not codes:
            parse(decoded.text, display)
            return []
        file = _WORKER["project"].adopt(path, decoded.text, lambda: parse(decoded.text, display),
                                        decoded.newline)
    except SourceError as err:
        return [unreadable(display, err.message, err.line, err.column)]
    try:
        return lint_file(file, _rules_for(_WORKER["rules"], codes), display, isolate=True)
    except RecursionError:
        return [unreadable(display, "too deeply nested to analyze")]
    except Exception as exc:  # noqa: BLE001 - a bug must not hide the other files' findings
        return [unreadable(display, f"internal error while analyzing: {type(exc).__name__}: {exc}")]


# --- fixes -----------------------------------------------------------------------------------------

def _fix_file(scan: Scan, findings: list[Finding], rules: tuple[type[Rule], ...], project: Project,
              settings: Settings, diff: bool, report: Report, report_unreadable: bool) -> list[Finding]:
    display = scan.target.display
    try:
        data = scan.bytes()
        decoded = decode(data)
    except (OSError, SourceError):
        return findings
    if hashlib.sha256(data).hexdigest() != scan.sha:  # the findings describe other contents
        report.warnings.append(f"{display}: changed on disk while clipguard ran; not fixed")
        return findings

    def lint(text: str) -> list[Finding]:
        # Later rounds see the same noqa and per-file-ignores as the first: an ignored rule's fix
        # must never be applied.
        found = lint_text(text, rules, str(scan.target.path), project, decoded.newline, isolate=True,
                          display=display)
        return _filter(found, scan, settings, report_unreadable)

    try:
        # Lint again from exactly these bytes: the edits' positions must describe them.
        fixed, remaining, applied = fix_text(decoded.text, lint, settings)
        new_data = (("\ufeff" if decoded.bom else "") + fixed).encode(decoded.encoding)
        if decode(new_data).text != fixed:  # e.g. a coding cookie pushed below line 2
            raise ValueError("the fixed text would not decode back to itself")
    except (ValueError, SourceError, RecursionError) as exc:  # UnicodeEncodeError is a ValueError
        report.warnings.append(f"{display}: fixes not applied: {exc}")
        return findings
    if not applied:
        return findings
    if diff:
        report.diffs.append("".join(difflib.unified_diff(
            decoded.text.splitlines(keepends=True), fixed.splitlines(keepends=True),
            fromfile=display, tofile=display)))
        report.fixed += applied
        return findings
    try:
        write_atomic(scan.target.path, data, new_data)
    except (FileChanged, OSError) as exc:
        report.warnings.append(f"{display}: changed on disk while clipguard ran; not fixed"
                               if isinstance(exc, FileChanged) else f"{display}: cannot write: {exc}")
        return findings
    report.fixed += applied
    return remaining
