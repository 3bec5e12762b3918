"""Apply text edits to source: the pure half of `--fix` (writing files lives in `fixer`)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from clipguard.diagnostics import Edit, Fix

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _offsets(text: str) -> list[int]:
    """Character offset of the start of each 1-based line (index 0 unused)."""
    starts = [0, 0]
    starts.extend(match.end() for match in _LINE_BREAK.finditer(text))
    return starts


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Apply non-overlapping edits; identical edits (an import two fixes add) apply once."""
    starts = _offsets(text)

    def offset(line: int, column: int) -> int:
        return starts[line] + column - 1

    spans = sorted({(offset(e.line, e.column), offset(e.end_line, e.end_column), e.content) for e in edits})
    out, cursor = [], 0
    for start, end, content in spans:
        if start < cursor:
            raise ValueError("overlapping edits")
        out.append(text[cursor:start])
        out.append(content)
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def compatible_fixes(fixes: Iterable[Fix]) -> list[Fix]:
    """A greedy choice of fixes whose edits do not overlap (shared identical edits allowed)."""
    chosen: list[Fix] = []
    taken: list[Edit] = []
    for fix in fixes:
        if all(_disjoint(edit, other) or edit == other for edit in fix.edits for other in taken):
            chosen.append(fix)
            taken.extend(fix.edits)
    return chosen


def _disjoint(a: Edit, b: Edit) -> bool:
    a_start, a_end = (a.line, a.column), (a.end_line, a.end_column)
    b_start, b_end = (b.line, b.column), (b.end_line, b.end_column)
    if a_start == a_end == b_start == b_end:
        return False
    return a_end <= b_start or b_end <= a_start
