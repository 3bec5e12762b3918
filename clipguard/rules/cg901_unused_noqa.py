"""CG901: a `# noqa` code that suppressed nothing, or names no clipguard rule (ruff's RUF100).

It is not a visitor: the runner asks `unused_noqa` after the other rules ran, with every finding
before suppression, and the engine runs every enabled rule on a file that names a clipguard code
in a `# noqa` (`select_for_noqa`), so "suppressed nothing" means it.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable, Sequence
from pathlib import Path

from clipguard.analysis.source import SourceFile
from clipguard.diagnostics import Edit, Finding, Fix
from clipguard.lint.noqa import Directive, directives
from clipguard.rule import Invalid, Rule

CODE = "CG901"
_NAMES_A_CLIPGUARD_CODE = re.compile(rb"(?i)#[ \t]*noqa[ \t]*:[^\r\n]*?\bCG[0-9]")
REASONS = ("unused", "non-enabled", "unknown", "duplicated")


class UnusedNoqa(Rule):
    code = CODE
    name = "unused-noqa"
    message = "Unused `noqa` directive"
    summary = "A `# noqa` code that suppresses nothing or is not a clipguard code (opt-in)"
    fix_applicability = "safe"
    triggers = (b"noqa", b"NOQA")  # the engine adds it where a `# noqa` names a clipguard code
    valid = (
        "x = 1  # noqa: E501\n",  # another tool's code
        "x = 1  # noqa\n",  # a bare noqa may be for another tool
        's = "# noqa: CG101"\n',  # not a comment
        "x = 1  # noqa: CG901\n",
    )
    invalid = (
        Invalid("x = 1  # noqa: CG999\n", fixed="x = 1\n"),
        Invalid("x = 1  # noqa: CG101\n", fixed="x = 1\n"),
        Invalid("x = 1  # noqa: E501, CG101\n", fixed="x = 1  # noqa: E501\n"),
        Invalid("x = 1  # noqa: CG999  # type: ignore\n", fixed="x = 1  # type: ignore\n"),
        Invalid("x = 1  # see below # noqa:CG101,CG101\n", fixed="x = 1  # see below\n"),
    )

    def run(self) -> None:
        """Nothing on its own: the runner asks `unused_noqa` once every other rule has reported."""


def select_for_noqa(
    codes: dict[Path, tuple[str, ...]], scans: Iterable, rules: Sequence[type[Rule]]
) -> dict[Path, tuple[str, ...]]:
    """The gate's choice with every enabled rule added for the files (scans) that name a
    clipguard code in a `# noqa`, when CG901 is enabled; `codes` otherwise."""
    if not any(rule.code == CODE for rule in rules):
        return codes
    every = tuple(rule.code for rule in rules)
    for scan in scans:
        if scan.error is None and _NAMES_A_CLIPGUARD_CODE.search(scan.bytes()):
            codes[scan.file.path] = every
    return codes


def unused_noqa(
    file: SourceFile, found: list[Finding], rules: Sequence[type[Rule]]
) -> list[Finding]:
    """A CG901 finding for each `# noqa` comment of `file` naming a clipguard code that
    suppressed none of `found` (the findings of `rules` before suppression)."""
    if "noqa" not in file.text.lower():
        return []
    from clipguard.rules import all_rules

    known = {rule.code for rule in all_rules()}
    ran = {rule.code for rule in rules}
    fired = {(f.line, f.rule) for f in found}
    findings = []
    for line, column, comment in _comments(file.text):
        for directive in directives(comment):
            if directive.codes is None or CODE in directive.codes:
                continue
            kept, flagged = [], {reason: [] for reason in REASONS}
            for code in directive.codes:
                if not code.startswith("CG"):
                    reason = None  # another tool's code
                elif code in kept or any(code in codes for codes in flagged.values()):
                    reason = "duplicated"
                elif code not in known:
                    reason = "unknown"
                elif code not in ran:
                    reason = "non-enabled"
                elif (line, code) not in fired:
                    reason = "unused"
                else:
                    reason = None
                (flagged[reason] if reason else kept).append(code)
            if any(flagged.values()):
                findings.append(_finding(file, line, column, comment, directive, kept, flagged))
    return findings


def _finding(
    file: SourceFile,
    line: int,
    column: int,
    comment: str,
    directive: Directive,
    kept: list[str],
    flagged: dict[str, list[str]],
) -> Finding:
    reasons = "; ".join(
        f"{reason}: {', '.join(f'`{c}`' for c in codes)}"
        for reason, codes in flagged.items()
        if codes
    )
    if kept:
        start, end, content = directive.codes_start, directive.codes_end, ", ".join(kept)
        title = "Remove the unused codes"
    else:
        (start, end, whole), content = _removal(comment, directive), ""
        title = "Remove the unused `noqa` directive"
        if whole:  # the whole comment goes, and the spaces before it
            before = file.lines[line - 1][:column]
            start -= len(before) - len(before.rstrip())
    edit = Edit(line, column + start + 1, line, column + end + 1, content)
    return Finding(
        file.path,
        line,
        column + directive.start + 1,
        line,
        column + directive.end + 1,
        CODE,
        UnusedNoqa.name,
        f"{UnusedNoqa.message} ({reasons})",
        "error",
        Fix("safe", (edit,), title),
    )


def _removal(comment: str, directive: Directive) -> tuple[int, int, bool]:
    """What removing a directive removes of its comment: (start, end, whether it is all of it).
    A comment after it (`# type: ignore`) stays; words after it go, as its explanation."""
    head, rest = comment[: directive.start], comment[directive.end :]
    after = rest.find("#")
    if not head.strip():
        return (0, len(comment), True) if after < 0 else (0, directive.end + after, False)
    return len(head.rstrip()), directive.end if after >= 0 else len(comment), False


def _comments(text: str) -> list[tuple[int, int, str]]:
    """(line, 0-based column, text) of every comment token: a `# noqa` in a string is none."""
    try:
        tokens = tokenize.generate_tokens(io.StringIO(text, newline="").readline)
        return [(t.start[0], t.start[1], t.string) for t in tokens if t.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError):
        return []
