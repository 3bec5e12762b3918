"""`path:line:col: CG101 [*] message` lines (`path:cell N:line:col: ...` in a notebook, as ruff
writes them) and a ruff-style summary."""

from __future__ import annotations

import os
from collections import Counter
from typing import TextIO

from clipguard.lint.config import Settings
from clipguard.lint.fixer import applicable
from clipguard.lint.report import Report
from clipguard.rules import rule_by_code


def color_enabled(stream: TextIO) -> bool:
    """Colour as ruff decides it: FORCE_COLOR set (non-empty) forces it, else NO_COLOR turns it
    off, else only a terminal gets it."""
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Style:
    """ANSI styles, or plain text when colour is off."""

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled

    def _sgr(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled and text else text

    def bold(self, text: str) -> str:
        return self._sgr("1", text)

    def code(self, text: str) -> str:
        return self._sgr("1;31", text)

    def mark(self, text: str) -> str:
        return self._sgr("36", text)

    def success(self, text: str) -> str:
        return self._sgr("1;32", text)


PLAIN = Style()


def render(
    report: Report,
    settings: Settings,
    *,
    style: Style = PLAIN,
    quiet: bool = False,
    show_fixes: bool = False,
) -> str:
    """The findings, the fixes applied (`show_fixes`) and the summary (not when `quiet`)."""
    # With --fix, what is still fixable could not be fixed: ruff marks nothing then.
    marks = not settings.fix
    sep = style.mark(":")
    lines = []
    for f in report.findings:
        mark = f" {style.mark('[*]')}" if marks and applicable(f, settings) else ""
        where = f"cell {f.cell}{sep}{f.line}" if f.cell is not None else f"{f.line}"
        lines.append(
            f"{style.bold(f.path)}{sep}{where}{sep}{f.column}{sep} {style.code(f.rule)}{mark} "
            f"{f.message}"
        )
    text = "".join(line + "\n" for line in lines)
    if show_fixes and report.fixes:
        text += "\n" + fix_summary(report, style) + "\n"
    if not quiet:
        text += summary(report, settings, style) + "\n"
    return text


def summary(report: Report, settings: Settings, style: Style = PLAIN) -> str:
    total = len(report.findings)
    if total == 0 and not report.fixed:
        return "All checks passed!"
    if report.fixed:
        head = f"Found {_errors(total + report.fixed)} ({report.fixed} fixed, {total} remaining)."
    else:
        head = f"Found {_errors(total)}."
    fixable = sum(1 for f in report.findings if applicable(f, settings))
    hidden = _hidden(report, settings)
    note = f"{style.mark('[*]')} {fixable} fixable with the `--fix` option"
    hint = f"{hidden} hidden fix{'es' if hidden != 1 else ''} can be enabled with the `--unsafe-fixes` option"
    if fixable and hidden:
        head += f"\n{note} ({hint})."
    elif fixable:
        head += f"\n{note}."
    elif hidden:
        head += f"\nNo fixes available ({hint})."
    return head


def fixing_summary(report: Report, settings: Settings, *, applied: bool) -> str:
    """The one line `--fix-only` (`applied`) and `--diff` print instead of the findings; empty
    when there was nothing to fix."""
    hidden = _hidden(report, settings)
    fixed = report.fixed
    more = f"{hidden} {'additional ' if fixed else ''}fix{'es' if hidden != 1 else ''} available with `--unsafe-fixes`"
    if fixed:
        line = f"{'Fixed' if applied else 'Would fix'} {_errors(fixed)}"
        return f"{line} ({more})." if hidden else f"{line}."
    if hidden:
        return f"{'No errors fixed' if applied else 'No errors would be fixed'} ({more})."
    return ""


def fix_summary(report: Report, style: Style = PLAIN) -> str:
    """`--show-fixes`: per file, how many findings of each rule were fixed."""
    total = sum(sum(c.values()) for c in report.fixes.values())
    width = len(str(max(n for c in report.fixes.values() for n in c.values())))
    lines = [style.success(f"Fixed {_errors(total)}:")]
    for path in sorted(report.fixes):
        lines.append(f"{style.mark('-')} {style.bold(path)}{style.mark(':')}")
        for code, count in sorted(report.fixes[path].items(), key=lambda item: (-item[1], item[0])):
            rule = rule_by_code(code)
            lines.append(
                f"    {count:>{width}} × {style.code(code)} ({rule.name if rule else code})"
            )
    return "\n".join(lines)


def statistics(report: Report, settings: Settings, style: Style = PLAIN) -> str:
    rows = []
    for row in statistics_rows(report, settings):
        mark = f"{style.mark('[*]')} " if row["fixable"] else ""
        count = style.bold(f"{row['count']:>5}")
        rows.append(f"{count}\t{style.code(row['code'])}\t{mark}{row['name']}")
    return "".join(row + "\n" for row in rows)


def statistics_rows(report: Report, settings: Settings) -> list[dict]:
    """Counts per rule, most frequent first: ruff's `--statistics` fields."""
    counts = Counter(f.rule for f in report.findings)
    names = {f.rule: f.name for f in report.findings}
    fixable = {f.rule for f in report.findings if applicable(f, settings)}
    return [
        {"code": code, "name": names[code], "count": n, "fixable": code in fixable}
        for code, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def _hidden(report: Report, settings: Settings) -> int:
    return sum(1 for f in report.findings if f.fix and not applicable(f, settings))


def _errors(n: int) -> str:
    return f"{n} error{'' if n == 1 else 's'}"
