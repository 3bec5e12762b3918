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


class _Positions:
    """Character offsets of (line, column) positions in one text, checked to lie inside it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = _offsets(text)

    def offset(self, line: int, column: int) -> int:
        starts, text = self.starts, self.text
        if not 0 < line < len(starts) or column < 1:
            raise ValueError(f"edit position {line}:{column} is outside the text")
        line_end = starts[line + 1] if line + 1 < len(starts) else len(text)
        if column - 1 > len(text[starts[line] : line_end].rstrip("\r\n")):
            raise ValueError(
                f"edit position {line}:{column} is past the end of its line or inside its break"
            )
        return starts[line] + column - 1

    def spans(self, edits: Iterable[Edit]) -> list[tuple[int, int, str]]:
        """Sorted (start, end, content) of distinct edits; ValueError if any is bad or they overlap."""
        spans = sorted(
            {
                (self.offset(e.line, e.column), self.offset(e.end_line, e.end_column), e.content)
                for e in edits
            }
        )
        cursor = 0
        for start, end, _ in spans:
            if start < cursor or end < start:
                raise ValueError("overlapping edits")
            cursor = end
        return spans


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Apply non-overlapping edits; identical edits (an import two fixes add) apply once. Line
    breaks in inserted text follow the file's own (first) line break, so CRLF files stay CRLF.
    Raises ValueError for an edit outside the text or overlapping another."""
    out, cursor = [], 0
    for start, end, content in edit_spans(text, edits):
        out.append(text[cursor:start])
        out.append(content)
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def edit_spans(text: str, edits: Iterable[Edit]) -> list[tuple[int, int, str]]:
    """Sorted (start, end, inserted text) character spans of distinct edits, as `apply_edits`
    applies them (inserted line breaks already the text's own). ValueError as `apply_edits`."""
    match = _LINE_BREAK.search(text)
    newline = match.group() if match else "\n"
    return [
        (start, end, _newlines(content, newline))
        for start, end, content in _Positions(text).spans(edits)
    ]


def well_formed(text: str, fixes: Iterable[Fix]) -> list[Fix]:
    """The fixes whose edits lie inside `text` and do not overlap each other (else a rule bug)."""
    positions = _Positions(text)
    kept = []
    for fix in fixes:
        try:
            positions.spans(fix.edits)
        except ValueError:
            continue
        kept.append(fix)
    return kept


def _newlines(content: str, newline: str) -> str:
    if newline == "\n" or "\n" not in content and "\r" not in content:
        return content
    return _LINE_BREAK.sub(newline, content)


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
