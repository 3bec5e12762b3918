"""`clipguard lint -`: source read from standard input, linted and fixed as if it were the file
at `--stdin-filename` (its imports read from disk), which is what editors need."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from clipguard.analysis.source import decode
from clipguard.lint.config import Settings
from clipguard.lint.discovery import named_file_excluded
from clipguard.lint.engine import lint_source
from clipguard.lint.fixer import applicable, encode_like, fix_text, unified_diff
from clipguard.lint.report import Report


def lint_stdin(
    data: bytes,
    filename: str | None,
    settings: Settings,
    *,
    diff: bool = False,
    force_exclude: bool = False,
) -> tuple[Report, bytes | None]:
    """The report for `data`, and what to print in place of the source: with `settings.fix`
    the fixed source (the input itself when nothing changed), with `diff` the diff, else None.
    With `force_exclude`, an excluded `filename` is not linted, as ruff does."""
    display = filename or "-"
    fixing = settings.fix and not diff
    report = Report(files=1)
    root = Path(settings.root) if settings.root else None
    if (
        filename
        and force_exclude
        and named_file_excluded(
            filename, settings.exclude, root, settings.respect_gitignore, report.warnings
        )
    ):
        report.files = 0
        return report, data if fixing else None
    report.parsed = 1
    findings = lint_source(data, filename or "-", settings, display)
    report.findings = findings
    unchanged = data if fixing else (b"" if diff else None)
    if not (settings.fix or diff) or not any(applicable(f, settings) for f in findings):
        return report, unchanged
    decoded = decode(data)  # cannot fail: lint_source decoded it to find something to fix

    def lint(text: str):
        return lint_source(text, filename or "-", settings, display)

    tally: Counter[str] = Counter()
    fixed, remaining, applied = fix_text(decoded.text, lint, settings, findings, tally=tally)
    try:
        fixed_data = encode_like(decoded, fixed)
    except ValueError as exc:
        report.warnings.append(f"{display}: fixes not applied: {exc}")
        return report, unchanged
    report.fixed = applied
    if tally:
        report.fixes[display] = tally
    if diff:
        return report, unified_diff(decoded.text, fixed, display).encode(decoded.encoding)
    report.findings = remaining
    return report, fixed_data
