"""Suppression comments: `# noqa[: CODES]` on a line, `# clipguard: noqa[: CODES]` for a file."""

from __future__ import annotations

import re
from collections.abc import Sequence

from clipguard.diagnostics import Finding

_NOQA = re.compile(r"#\s*noqa(?::[\s]*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
FILE_NOQA = re.compile(rb"^[ \t]*#[ \t]*clipguard:[ \t]*noqa(?::[ \t]*(?P<codes>[A-Z0-9, \t]+))?[ \t]*\r?$",
                       re.MULTILINE | re.IGNORECASE)


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


def suppressed(finding: Finding, lines: Sequence[str]) -> bool:
    """Whether a `# noqa` or `# noqa: CODE` on the finding's line silences it."""
    if not 0 < finding.line <= len(lines):
        return False
    line = lines[finding.line - 1]
    if "#" not in line:
        return False
    for match in _NOQA.finditer(line):
        codes = match.group("codes")
        if codes is None or finding.rule in re.split(r"[\s,]+", codes.upper()):
            return True
    return False
