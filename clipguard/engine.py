"""The lint run: discover files, gate them on bytes, parse the survivors once, run every enabled
rule in one walk, in parallel processes when there are many, with a content-hash cache."""

from __future__ import annotations

import difflib
import hashlib
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG

from clipguard import prefilter
from clipguard.cache import Cache
from clipguard.checker import UNREADABLE, lint_text
from clipguard.config import Settings
from clipguard.diagnostics import Finding
from clipguard.discovery import Target, discover
from clipguard.fixer import FileChanged, applicable, fix_text, write_atomic
from clipguard.project import Project, scan_imports
from clipguard.rule import Rule
from clipguard.source import SourceError, decode, parse

__all__ = ["Report", "Settings", "lint_paths"]

PARALLEL_MIN_FILES = 24
CONTEXT_DEPTH = 3


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
    trigger: bool = False
    imports: list[str] = field(default_factory=list)
    noqa: list[str] | None = None
    binary: bool = False
    cached: dict | None = None


def lint_paths(paths: list[str], settings: Settings, *, use_cache: bool = True, jobs: int | None = None,
               diff: bool = False, force_exclude: bool = False) -> Report:
    """Lint `paths` with `settings`; apply fixes if `settings.fix` (or only show them with `diff`)."""
    root = Path(settings.root or os.getcwd())
    targets = discover(paths, settings.exclude, root, force_exclude)
    rules = tuple(r for r in settings.enabled_rules() if r.code != UNREADABLE[0])
    report_unreadable = UNREADABLE[0] in settings.enabled_codes()
    trigger = prefilter.trigger_pattern(t for r in rules for t in r.triggers) \
        if all(r.triggers for r in rules) else None
    cache = Cache(root, settings.fingerprint()) if use_cache else None

    scans = [_scan(t, trigger, cache) for t in targets]
    project = Project([s.target.path for s in scans],
                      {s.target.path: s.imports for s in scans if s.imports})
    context = _clip_context(scans, project)
    sha_by_path = {s.target.path: s.sha for s in scans}

    report = Report(files=len(targets))
    results: dict[Path, list[Finding]] = {}
    work: list[tuple[Scan, bool, str]] = []
    for scan in scans:
        if scan.error is not None:
            results[scan.target.path] = [_unreadable(scan.target.display, scan.error)]
            continue
        run_rules = bool(rules) and scan.trigger and scan.target.path in context
        if not run_rules and not scan.target.explicit and not scan.binary:
            continue
        deps = _deps_key(scan, project, sha_by_path)
        cached = scan.cached
        if cached is not None and cached.get("sha") == scan.sha and cached.get("deps") == deps \
                and cached.get("rules") == run_rules and cached.get("findings") is not None \
                and cached.get("display") == scan.target.display:
            results[scan.target.path] = [Finding.from_json(f) for f in cached["findings"]]
        else:
            work.append((scan, run_rules, deps))
    report.parsed = len(work) + len(results) - sum(1 for s in scans if s.error is not None)

    for (scan, run_rules, deps), findings in zip(work, _run(work, rules, project, jobs)):
        results[scan.target.path] = findings
        if cache is not None:
            cache.put(str(scan.target.path), {
                **_scan_entry(scan), "deps": deps, "rules": run_rules,
                "display": scan.target.display, "findings": [f.to_json() for f in findings]})
    if cache is not None:
        for scan in scans:
            if scan.cached is None or scan.cached.get("sha") != scan.sha:
                entry = cache.get(str(scan.target.path)) or {}
                if entry.get("sha") != scan.sha:
                    cache.put(str(scan.target.path), _scan_entry(scan))
        cache.save()

    by_scan = {s.target.path: s for s in scans}
    for path, findings in results.items():
        scan = by_scan[path]
        findings = _filter(findings, scan, settings, report_unreadable)
        if (settings.fix or diff) and any(applicable(f, settings) for f in findings):
            findings = _fix_file(scan, findings, rules, project, settings, diff, report)
            findings = _filter(findings, scan, settings, report_unreadable)
        report.findings.extend(findings)
    report.findings.sort(key=lambda f: f.sort_key)
    return report


def _scan(target: Target, trigger, cache: Cache | None) -> Scan:
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
    entry = cache.get(key) if cache is not None else None
    if not _well_formed(entry):
        entry = None
    if entry is not None and entry.get("mtime") == stat.st_mtime_ns and entry.get("size") == stat.st_size:
        scan.cached, scan.sha = entry, entry["sha"]
        scan.marker, scan.trigger = entry["marker"], entry["trigger"]
        scan.imports, scan.noqa = entry["imports"], entry["noqa"]
        scan.binary = entry.get("binary", False)
        scan.mtime, scan.size = stat.st_mtime_ns, stat.st_size
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
    scan.mtime, scan.size = stat.st_mtime_ns, stat.st_size
    scan.sha = hashlib.sha256(data).hexdigest()
    scan.binary = b"\x00" in data
    if entry is not None and entry.get("sha") == scan.sha:
        scan.cached = entry
    noqa = prefilter.file_noqa(data)
    scan.noqa = sorted(noqa) if noqa is not None else None
    scan.marker = prefilter.has_clip_marker(data)
    scan.trigger = trigger is None or trigger.search(data) is not None
    if scan.marker or scan.trigger:
        scan.imports = scan_imports(data)
    return scan


_ENTRY_KEYS = {"sha": str, "marker": bool, "trigger": bool, "imports": list}


def _well_formed(entry) -> bool:
    """A cache entry this version can use (a damaged cache file only costs speed)."""
    return isinstance(entry, dict) and all(isinstance(entry.get(k), t) for k, t in _ENTRY_KEYS.items()) \
        and (entry.get("noqa") is None or isinstance(entry.get("noqa"), list))


def _scan_entry(scan: Scan) -> dict:
    return {"mtime": getattr(scan, "mtime", 0), "size": getattr(scan, "size", 0), "sha": scan.sha,
            "marker": scan.marker, "trigger": scan.trigger, "imports": scan.imports, "noqa": scan.noqa, "binary": scan.binary}


def _clip_context(scans: list[Scan], project: Project) -> set[Path]:
    """Files that mention CLIP, plus the project modules they import, a few levels deep."""
    context = {s.target.path for s in scans if s.marker}
    frontier = set(context)
    for _ in range(CONTEXT_DEPTH):
        frontier = {dep for path in frontier for dep in project.imported(path)} - context
        context |= frontier
    return context


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


def _unreadable(display: str, message: str, line: int = 1, column: int = 1) -> Finding:
    return Finding(display, line, column, line, column, *UNREADABLE, message)


# --- running the rules, in this process or in a pool ---------------------------------------------

_WORKER: dict = {}


def _run(work, rules, project, jobs):
    tasks = [(str(scan.target.path), scan.target.display, run_rules) for scan, run_rules, _ in work]
    if jobs is None:  # automatic: processes pay off only on many files
        jobs = (os.cpu_count() or 1) if len(tasks) >= PARALLEL_MIN_FILES else 1
    if jobs < 2 or len(tasks) < 2:
        _WORKER.update(rules=rules, project=project)
        return [_lint_task(task) for task in tasks]
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    context = multiprocessing.get_context(method)
    chunk = max(1, len(tasks) // (jobs * 4))
    with ProcessPoolExecutor(min(jobs, len(tasks)), mp_context=context,
                             initializer=_init_worker, initargs=(rules, project)) as pool:
        return list(pool.map(_lint_task, tasks, chunksize=chunk))


def _init_worker(rules, project) -> None:
    _WORKER.update(rules=rules, project=project)


def _lint_task(task: tuple[str, str, bool]) -> list[Finding]:
    path, display, run_rules = task
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return [_unreadable(display, f"cannot read: {exc.strerror or exc}")]
    try:
        decoded = decode(data)
        if not run_rules:
            parse(decoded.text, display)
            return []
    except SourceError as err:
        return [_unreadable(display, err.message, err.line, err.column)]
    try:
        return lint_text(decoded.text, _WORKER["rules"], display, _WORKER["project"], decoded.newline,
                         isolate=True)
    except RecursionError:
        return [_unreadable(display, "too deeply nested to analyze")]
    except Exception as exc:  # noqa: BLE001 - a bug must not hide the other files' findings
        return [_unreadable(display, f"internal error while analyzing: {type(exc).__name__}: {exc}")]


# --- fixes -----------------------------------------------------------------------------------------

def _fix_file(scan: Scan, findings: list[Finding], rules: tuple[type[Rule], ...], project: Project,
              settings: Settings, diff: bool, report: Report) -> list[Finding]:
    display = scan.target.display
    try:
        data = scan.data if scan.data is not None else Path(scan.target.path).read_bytes()
        decoded = decode(data)
    except (OSError, SourceError):
        return findings
    if hashlib.sha256(data).hexdigest() != scan.sha:  # the findings describe other contents
        report.warnings.append(f"{display}: changed on disk while clipguard ran; not fixed")
        return findings
    report_unreadable = UNREADABLE[0] in settings.enabled_codes()

    def lint(text: str) -> list[Finding]:
        # Later rounds see the same noqa and per-file-ignores as the first: an ignored rule's fix
        # must never be applied.
        found = lint_text(text, rules, display, project, decoded.newline, isolate=True)
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
