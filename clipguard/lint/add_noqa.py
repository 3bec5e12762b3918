"""`clipguard lint --add-noqa`: append `# noqa: CODES` to every line with a finding, so a
repository can adopt clipguard today and fix the findings over time (ruff's `--add-noqa`)."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

from clipguard.analysis.source import SourceError, decode
from clipguard.diagnostics import Edit
from clipguard.lint.config import Settings
from clipguard.lint.edits import apply_edits
from clipguard.lint.fixer import FileChanged, encode_like, still_valid, write_atomic
from clipguard.lint.noqa import directives

NOT_SUPPRESSIBLE = ("CG000", "CG901")  # a file that cannot be parsed; noqa comments themselves
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def add_noqa(
    paths: list[str],
    settings: Settings,
    *,
    use_cache: bool = True,
    jobs: int | None = None,
    force_exclude: bool = False,
) -> tuple[int, list[str]]:
    """Lint `paths` and add the directives; return (lines changed, warnings)."""
    from clipguard.lint.engine import lint_paths

    report = lint_paths(
        paths, settings, use_cache=use_cache, jobs=jobs, force_exclude=force_exclude
    )
    warnings = list(report.warnings)
    by_file: dict[str, dict[int, list[str]]] = {}
    for finding in report.findings:
        if finding.rule not in NOT_SUPPRESSIBLE:
            by_file.setdefault(finding.path, {}).setdefault(finding.line, []).append(finding.rule)
    added = 0
    for display, codes in sorted(by_file.items()):
        added += _add_to_file(Path(display), display, codes, warnings)
    return added, warnings


def _add_to_file(path: Path, display: str, codes: dict[int, list[str]], warnings: list[str]) -> int:
    try:
        data = path.read_bytes()
        decoded = decode(data)
    except (OSError, SourceError) as exc:
        warnings.append(f"{display}: no noqa added: {getattr(exc, 'message', None) or exc}")
        return 0
    text, placed, unplaceable = with_noqa(decoded.text, codes)
    for line in unplaceable:
        warnings.append(
            f"{display}:{line}: no noqa added: the line ends inside a string or continues"
        )
    if not placed:
        return 0
    try:
        if not still_valid(text):
            raise ValueError("the file would no longer parse")
        write_atomic(path, data, encode_like(decoded, text))
    except FileChanged:
        warnings.append(f"{display}: changed on disk while clipguard ran; no noqa added")
        return 0
    except (OSError, ValueError) as exc:
        warnings.append(f"{display}: no noqa added: {exc}")
        return 0
    return placed


def with_noqa(text: str, codes: dict[int, list[str]]) -> tuple[str, int, list[int]]:
    """`text` with the codes added to the noqa directive of each line (1-based) or a new one
    appended; also how many lines changed and which lines cannot hold a comment."""
    lines = _LINE_BREAK.split(text)
    open_lines = _lines_ending_inside_a_token(text)
    edits, unplaceable = [], []
    for number in sorted(codes):
        if not 0 < number <= len(lines):
            continue
        if number in open_lines or lines[number - 1].endswith("\\"):
            unplaceable.append(number)
            continue
        edit = noqa_edit(lines[number - 1], number, codes[number])
        if edit is not None:
            edits.append(edit)
    return apply_edits(text, edits), len(edits), unplaceable


def noqa_edit(line: str, number: int, codes: list[str]) -> Edit | None:
    """The edit that makes line `number` (its text is `line`) silence `codes`: the codes added
    to its `# noqa: ...`, else `  # noqa: CODES` appended after its code and comments."""
    found = directives(line)
    if any(d.codes is None for d in found):
        return None
    with_codes = found[0] if found else None
    have = with_codes.codes if with_codes is not None else ()
    missing = [c for c in dict.fromkeys(codes) if c not in have]
    if not missing:
        return None
    if with_codes is not None:
        merged = ", ".join([*have, *missing])
        return Edit(number, with_codes.codes_start + 1, number, with_codes.codes_end + 1, merged)
    content = line.rstrip()
    return Edit(number, len(content) + 1, number, len(line) + 1, f"  # noqa: {', '.join(missing)}")


def _lines_ending_inside_a_token(text: str) -> set[int]:
    """Lines whose end lies inside a token (a triple-quoted string): a comment cannot go there."""
    inside: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(text, newline="").readline):
            inside.update(range(token.start[0], token.end[0]))
    except (tokenize.TokenError, SyntaxError):
        pass
    return inside
