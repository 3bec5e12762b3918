"""Run the enabled rules over one parsed file; a rule that raises is isolated as CG000."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import replace

from clipguard.analysis.project import Project
from clipguard.analysis.source import SourceError, SourceFile, gc_paused, parse
from clipguard.diagnostics import Finding
from clipguard.lint.noqa import suppressed
from clipguard.rule import Rule
from clipguard.rules.cg901_unused_noqa import CODE as UNUSED_NOQA
from clipguard.rules.cg901_unused_noqa import unused_noqa

UNREADABLE = ("CG000", "unreadable-source")


def check_file(
    file: SourceFile, rules: Sequence[type[Rule]], *, isolate: bool = False
) -> list[Finding]:
    """Every finding of `rules` in `file`, before `noqa` suppression. With `isolate`, a rule that
    raises is dropped for this file and reported as one CG000 finding; the other rules go on."""
    failures: list[tuple[type[Rule], BaseException, ast.AST | None]] = []
    instances = []
    for rule in rules:
        try:
            instances.append(rule(file))
        except Exception as exc:
            if not isolate:
                raise
            failures.append((rule, exc, None))
    broken: set[int] = set()
    for instance in instances:
        try:
            instance.run()
        except Exception as exc:
            if not isolate:
                raise
            broken.add(id(instance))
            failures.append((type(instance), exc, None))
    findings = [f for i in instances if id(i) not in broken for f in i.findings]
    if failures:
        findings.append(_internal_error(file, failures))
    return findings


def _internal_error(file: SourceFile, failures: list) -> Finding:
    """One CG000 finding naming every rule that raised on this file, at the first failure's node."""
    _, exc, node = failures[0]
    line, column = 1, 1
    if node is not None and 0 < getattr(node, "lineno", 0) <= len(file.lines):
        line, column = node.lineno, file.column(node.lineno, node.col_offset)
    codes = ", ".join(dict.fromkeys(r.code for r, _, _ in failures))
    if isinstance(exc, RecursionError):
        message = f"too deeply nested to analyze (in {codes})"
    else:
        message = f"internal error in {codes} while analyzing: {type(exc).__name__}: {exc}"
    return unreadable(file.path, message[:300], line, column)


def lint_text(
    text: str,
    rules: Sequence[type[Rule]],
    path: str = "<string>",
    project: Project | None = None,
    newline: str = "\n",
    *,
    isolate: bool = False,
    display: str | None = None,
) -> list[Finding]:
    """Findings for source text, `noqa` applied and sorted; a parse failure is one CG000. With
    `isolate` (the engine), a rule that raises becomes a CG000 finding instead of an exception.
    `path` is the file as the project knows it; findings name it `display` when given."""
    shown = display or path
    try:
        tree = parse(text, shown)
    except SourceError as err:
        return [unreadable(shown, err.message, err.line, err.column)]
    if project is not None:
        file = project.adopt(path, text, lambda: tree, newline)
    else:
        file = SourceFile(path, text, tree, newline=newline)
    return lint_file(file, rules, display, isolate=isolate)


def lint_file(
    file: SourceFile,
    rules: Sequence[type[Rule]],
    display: str | None = None,
    *,
    isolate: bool = False,
) -> list[Finding]:
    """`lint_text` for a file already parsed, e.g. the one the project parsed for an importer."""
    with gc_paused():
        found = check_file(file, rules, isolate=isolate)
        findings = [f for f in found if not suppressed(f, file.lines)]
        if any(rule.code == UNUSED_NOQA for rule in rules):  # CG901 asks about what noqa suppressed
            findings += [
                f for f in unused_noqa(file, found, rules) if not suppressed(f, file.lines)
            ]
    if display is not None and display != file.path:
        findings = [replace(f, path=display) for f in findings]
    return sorted(findings, key=lambda f: f.sort_key)


def unreadable(path: str, message: str, line: int = 1, column: int = 1) -> Finding:
    """The CG000 finding for a file that cannot be read, decoded, parsed or analyzed."""
    return Finding(path, line, column, line, column, *UNREADABLE, message)
