"""`path:line:col: CG101 [*] message` lines (`path:cell N:line:col: ...` in a notebook, as ruff
writes them) and a ruff-style summary."""

from __future__ import annotations

from collections import Counter

from clipguard.lint.config import Settings
from clipguard.lint.fixer import applicable
from clipguard.lint.report import Report


def render(report: Report, settings: Settings) -> str:
    lines = []
    for f in report.findings:
        mark = " [*]" if applicable(f, settings) else ""
        where = f"cell {f.cell}:{f.line}" if f.cell is not None else f"{f.line}"
        lines.append(f"{f.path}:{where}:{f.column}: {f.rule}{mark} {f.message}")
    lines.append(summary(report, settings))
    return "\n".join(lines) + "\n"


def summary(report: Report, settings: Settings) -> str:
    total = len(report.findings)
    if total == 0 and not report.fixed:
        return "All checks passed!"
    noun = "error" if total == 1 else "errors"
    if report.fixed:
        head = f"Found {total + report.fixed} {'error' if total + report.fixed == 1 else 'errors'} " \
               f"({report.fixed} fixed, {total} remaining)."
    else:
        head = f"Found {total} {noun}."
    fixable = sum(1 for f in report.findings if applicable(f, settings))
    hidden = sum(1 for f in report.findings if f.fix and not applicable(f, settings))
    notes = []
    if fixable:
        notes.append(f"[*] {fixable} fixable with the `--fix` option")
    if hidden:
        notes.append(f"{hidden} hidden fix{'es' if hidden != 1 else ''} can be enabled with the "
                     "`--unsafe-fixes` option")
    if notes:
        head += "\n" + (" (".join(notes) + ")." if len(notes) == 2 else notes[0] + ".")
    return head


def statistics(report: Report, settings: Settings) -> str:
    counts = Counter(f.rule for f in report.findings)
    names = {f.rule: f.name for f in report.findings}
    fixable = {f.rule for f in report.findings if applicable(f, settings)}
    rows = [f"{n:>5}\t{code}\t{'[*] ' if code in fixable else ''}{names[code]}"
            for code, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
    return "\n".join(rows) + ("\n" if rows else "")
