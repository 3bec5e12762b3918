"""Suppression comments: `# noqa[: CODES]` on a line, `# clipguard: noqa[: CODES]` for a file."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from clipguard.diagnostics import Finding

_NOQA = re.compile(
    r"#\s*noqa(?::[\s]*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.IGNORECASE
)
FILE_NOQA = re.compile(
    rb"^[ \t]*#[ \t]*clipguard:[ \t]*noqa(?::[ \t]*(?P<codes>[A-Z0-9, \t]+))?[ \t]*\r?$",
    re.MULTILINE | re.IGNORECASE,
)


def file_noqa(data: bytes, lowered: bytes) -> set[str] | None:
    """Codes silenced for the whole file by `# clipguard: noqa[: CODES]`; {"ALL"} for all; else None.
    `lowered` is `data.lower()`: most files never name clipguard, and `in` is cheaper than the regex."""
    if b"clipguard" not in lowered:
        return None
    match = FILE_NOQA.search(data)
    if match is None:
        return None
    codes = match.group("codes")
    if not codes:
        return {"ALL"}
    return {c.decode().upper() for c in re.split(rb"[\s,]+", codes) if c}


@dataclass(frozen=True)
class Directive:
    """One `# noqa[: CODES]` in a line: its span and its codes' span (0-based columns)."""

    start: int
    end: int
    codes: tuple[str, ...] | None  # None when the directive names no codes: it silences all
    codes_start: int
    codes_end: int

    def silences(self, rule: str) -> bool:
        return self.codes is None or rule in self.codes


def directives(line: str) -> list[Directive]:
    """The `# noqa` directives in one line of source."""
    if "#" not in line:
        return []
    found = []
    for match in _NOQA.finditer(line):
        codes = match.group("codes")
        start, end = match.span("codes") if codes else (match.end(), match.end())
        found.append(
            Directive(
                match.start(),
                match.end(),
                tuple(re.split(r"[\s,]+", codes.upper())) if codes else None,
                start,
                end,
            )
        )
    return found


def suppressed(finding: Finding, lines: Sequence[str]) -> bool:
    """Whether a `# noqa` or `# noqa: CODE` on the finding's line silences it."""
    if not 0 < finding.line <= len(lines):
        return False
    return any(d.silences(finding.rule) for d in directives(lines[finding.line - 1]))
