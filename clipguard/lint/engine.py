"""The lint run: discover files, gate them on bytes, run the enabled rules on the survivors
(`pool`), remember the results in a content-hash cache, then fix."""

from __future__ import annotations

import gc
import hashlib
import os
import re
from pathlib import Path

from clipguard.analysis.project import Project
from clipguard.analysis.source import Decoded, SourceError, decode
from clipguard.diagnostics import Finding
from clipguard.lint.cache import Cache
from clipguard.lint.config import Settings
from clipguard.lint.discovery import SourcePath, discover, project_context
from clipguard.lint.fixer import applicable, fix_file
from clipguard.lint.gate import DEPTH, Scan, scan_bytes, scan_file, select_rules
from clipguard.lint.notebook import in_cells, is_notebook, source_text
from clipguard.lint.notebook import read as read_notebook
from clipguard.lint.pool import LintError, lint_decoded, rules_for, run
from clipguard.lint.report import Report
from clipguard.lint.runner import UNREADABLE, lint_text, unreadable
from clipguard.rule import Rule
from clipguard.rules.cg901_unused_noqa import select_for_noqa

__all__ = ["LintError", "Report", "Settings", "lint_paths", "lint_source"]

GATE_KEY = "<gate>"  # the cache entry remembering the last run's gate, valid while no file changed


def lint_paths(
    paths: list[str],
    settings: Settings,
    *,
    use_cache: bool = True,
    jobs: int | None = None,
    diff: bool = False,
    force_exclude: bool = False,
    exhaustive: bool = False,
) -> Report:
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


def _lint_paths(
    paths: list[str],
    settings: Settings,
    use_cache: bool,
    jobs: int | None,
    diff: bool,
    force_exclude: bool,
    exhaustive: bool,
) -> Report:
    root = Path(settings.root or os.getcwd())
    warnings: list[str] = []
    targets = discover(
        paths, settings.exclude, root, force_exclude, warnings, settings.respect_gitignore
    )
    rules = tuple(r for r in settings.enabled_rules() if r.code != UNREADABLE[0])
    report_unreadable = UNREADABLE[0] in settings.enabled_codes()
    cache = Cache(root, settings.fingerprint()) if use_cache else None

    scans = [scan_file(t, cache) for t in targets]
    # The rest of a named file's project is read too (not linted): its importers, helpers and
    # constants, so pre-commit finds what a run on the whole tree finds.
    context = [
        scan_file(t, cache)
        for t in project_context(
            targets, settings.exclude, root, warnings, settings.respect_gitignore
        )
    ]
    by_path = {s.file.path: s for s in (*scans, *context) if s.error is None}
    project = Project(list(by_path))
    sha_by_path = {path: s.sha for path, s in by_path.items()}
    linted = {s.file.path for s in scans}  # the gate's answer covers these: part of its key
    tree = hashlib.sha256(
        "\n".join(f"{p}\0{s.sha}\0{p in linted}" for p, s in sorted(by_path.items())).encode()
    ).hexdigest()
    remembered = cache.get(GATE_KEY) if cache is not None else None
    if exhaustive:
        for path, scan in by_path.items():
            project.add_imports(path, scan.module_names())
        codes = {path: tuple(r.code for r in rules) for path in by_path} if rules else {}
        deps_by_path = {}
    elif (
        isinstance(remembered, dict)
        and remembered.get("tree") == tree
        and isinstance(remembered.get("codes"), dict)
        and isinstance(remembered.get("deps"), dict)
    ):
        # Nothing changed anywhere: the last run's gate still holds.
        codes = {Path(p): tuple(c) for p, c in remembered["codes"].items() if isinstance(c, list)}
        deps_by_path = {p: d for p, d in remembered["deps"].items() if isinstance(d, str)}
    else:
        codes = select_for_noqa(select_rules(by_path, project, rules, linted), scans, rules)
        deps_by_path = {}

    report = Report(files=len(targets), warnings=warnings)
    results: dict[Path, list[Finding]] = {}
    work: list[tuple[Scan, tuple[str, ...], str]] = []
    for scan in scans:
        if scan.error is not None:
            results[scan.file.path] = [unreadable(scan.file.display, scan.error)]
            continue
        selected = codes.get(scan.file.path, ())
        if not selected and not (scan.file.explicit or scan.mentions_clip or scan.binary):
            continue  # nothing here for any rule; files that mention CLIP are still parsed
        deps = deps_by_path.get(str(scan.file.path)) or (
            _deps_key(scan, project, sha_by_path) if cache is not None else ""
        )
        deps_by_path[str(scan.file.path)] = deps
        cached = scan.cached
        if (
            cached is not None
            and cached.get("sha") == scan.sha
            and cached.get("deps") == deps
            and cached.get("rules") == list(selected)
            and cached.get("findings") is not None
            and cached.get("display") == scan.file.display
        ):
            results[scan.file.path] = [Finding.from_json(f) for f in cached["findings"]]
        else:
            work.append((scan, selected, deps))
    report.parsed = len(work) + len(results) - sum(1 for s in scans if s.error is not None)
    if (
        work or settings.fix or diff
    ):  # rules will run: they need the import graph, also when the gate was remembered
        for scan in by_path.values():
            if scan.imports is not None:
                project.add_imports(scan.file.path, scan.imports)

    for scan in by_path.values():
        scan.data = None  # read again where needed: the workers would each inherit a copy
    for (scan, selected, deps), findings in zip(work, run(work, rules, project, jobs)):
        results[scan.file.path] = findings
        if cache is not None:
            cache.put(
                str(scan.file.path),
                {
                    **scan.entry(),
                    "deps": deps,
                    "rules": list(selected),
                    "display": scan.file.display,
                    "findings": [f.to_json() for f in findings],
                },
            )
    if cache is not None:
        linted = {w[0].file.path for w in work}
        for scan in (*scans, *context):
            if scan.error is None and scan.file.path not in linted:
                entry = cache.get(str(scan.file.path)) or {}
                fresh = scan.entry()
                if any(entry.get(k) != v for k, v in fresh.items()):
                    cache.put(str(scan.file.path), {**entry, **fresh})
        cache.put(
            GATE_KEY,
            {
                "tree": tree,
                "deps": deps_by_path,
                "codes": {str(p): list(c) for p, c in codes.items()},
            },
        )
        cache.save()

    by_scan = {s.file.path: s for s in scans}
    for path, findings in results.items():
        scan = by_scan[path]
        findings = _filter(findings, scan, settings, report_unreadable)
        if (settings.fix or diff) and any(applicable(f, settings) for f in findings):
            selected_rules = rules_for(rules, codes.get(path, ()))
            findings = _fix(
                scan, findings, selected_rules, project, settings, diff, report, report_unreadable
            )
            findings = _filter(findings, scan, settings, report_unreadable)
        report.findings.extend(in_cells(path, findings))
    report.findings.sort(key=lambda f: f.sort_key)
    return report


def _deps_key(scan: Scan, project: Project, sha_by_path: dict[Path, str]) -> str:
    """The content hashes of the project modules this file's findings can depend on: those the
    analysis can reach through imports (`gate.DEPTH` edges each way, one by one)."""
    near = project.nearby(scan.file.path, DEPTH, DEPTH)
    return hashlib.sha256(
        "".join(sorted(sha_by_path.get(p, "") for p in near)).encode()
    ).hexdigest()[:16]


def _filter(
    findings: list[Finding], scan: Scan, settings: Settings, report_unreadable: bool
) -> list[Finding]:
    silenced = set(scan.noqa or ())
    ignored = settings.ignored_for(scan.file.display)
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


def lint_source(
    source: str | bytes, path: str, settings: Settings, display: str | None = None
) -> list[Finding]:
    """Findings for `source` as the contents of the file at `path`: what `lint_paths([path])`
    reports when the file holds it, the modules it imports read from disk. For source from
    stdin or an editor's buffer; bytes are decoded as a file's are. Findings name `display`."""
    shown = display or path
    absolute = Path(os.path.abspath(path))
    rules = tuple(r for r in settings.enabled_rules() if r.code != UNREADABLE[0])
    report_unreadable = UNREADABLE[0] in settings.enabled_codes()
    data = source if isinstance(source, bytes) else source.encode("utf-8", "surrogatepass")
    notebook = is_notebook(path)
    try:
        if notebook:
            decoded = source_text(path, data)
        else:
            decoded = decode(source) if isinstance(source, bytes) else _as_decoded(source)
    except SourceError as err:
        return [unreadable(shown, err.message, err.line, err.column)] if report_unreadable else []
    named = SourcePath(shown, absolute, True)
    scan = scan_bytes(named, decoded.text.encode("utf-8", "surrogatepass") if notebook else data)
    root = Path(settings.root or os.getcwd())
    context = project_context([named], settings.exclude, root, [], settings.respect_gitignore)
    by_path = {s.file.path: s for t in context if (s := scan_file(t, None)).error is None}
    by_path[absolute] = scan
    project = Project(list(by_path))
    codes = select_for_noqa(select_rules(by_path, project, rules, {absolute}), [scan], rules)
    findings = lint_decoded(str(absolute), shown, decoded, codes.get(absolute, ()), rules, project)
    findings = _filter(findings, scan, settings, report_unreadable)
    if notebook and findings:
        findings = [read_notebook(data).locate(f) for f in findings]
    return sorted(findings, key=lambda f: f.sort_key)


def _as_decoded(text: str) -> Decoded:
    """An editor's buffer as `decode` would give it: the line break style of its first line."""
    match = re.search(r"\r\n|\r|\n", text)
    return Decoded(text, "utf-8", False, match.group() if match else "\n")


def _fix(
    scan: Scan,
    findings: list[Finding],
    rules: tuple[type[Rule], ...],
    project: Project,
    settings: Settings,
    diff: bool,
    report: Report,
    report_unreadable: bool,
) -> list[Finding]:
    def lint(text: str) -> list[Finding]:
        # Later rounds see the same noqa and per-file-ignores as the first: an ignored rule's fix
        # must never be applied.
        found = lint_text(
            text,
            rules,
            str(scan.file.path),
            project,
            newline,
            isolate=True,
            display=scan.file.display,
        )
        return _filter(found, scan, settings, report_unreadable)

    try:
        data = Path(scan.file.path).read_bytes() if is_notebook(scan.file.path) else scan.bytes()
        newline = source_text(scan.file.path, data).newline
    except (OSError, SourceError):
        return findings
    outcome = fix_file(
        scan.file.path, scan.file.display, data, scan.sha, findings, lint, settings, diff
    )
    report.fixed += outcome.applied
    if outcome.rules:
        report.fixes[scan.file.display] = outcome.rules
    report.warnings.extend(outcome.warnings)
    if outcome.diff:
        report.diffs.append(outcome.diff)
    return outcome.findings
