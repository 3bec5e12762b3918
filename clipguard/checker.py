"""Run rules over one parsed file in a single walk of its `ast` tree."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence

from clipguard.diagnostics import Finding
from clipguard.project import Project
from clipguard.rule import Rule
from clipguard.source import SourceError, SourceFile, decode, parse

UNREADABLE = ("CG000", "unreadable-source")
_NOQA = re.compile(r"#\s*noqa(?::[\s]*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)


def check_file(file: SourceFile, rules: Sequence[type[Rule]]) -> list[Finding]:
    """Every finding of `rules` in `file`, before `noqa` suppression."""
    instances = [rule(file) for rule in rules]
    dispatch: dict[type, list] = {}
    for instance in instances:
        for node_name, method in instance.handlers().items():
            node_type = getattr(ast, node_name, None)
            if isinstance(node_type, type):
                dispatch.setdefault(node_type, []).append(getattr(instance, method))
    if dispatch:
        for node in _walk(file.tree):
            for handler in dispatch.get(type(node), ()):
                handler(node)
    for instance in instances:
        instance.finish()
    return [finding for instance in instances for finding in instance.findings]


def _walk(tree: ast.AST) -> Iterable[ast.AST]:
    """Nodes in source order (depth first), without recursion, so deep nesting cannot overflow."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


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


def lint_text(text: str, rules: Sequence[type[Rule]], path: str = "<string>",
              project: Project | None = None, newline: str = "\n") -> list[Finding]:
    """Findings for source text, `noqa` applied and sorted; a parse failure is one CG000."""
    try:
        tree = parse(text, path)
    except SourceError as err:
        return [unreadable(path, err)]
    file = SourceFile(path, text, tree, newline=newline, project=project)
    findings = [f for f in check_file(file, rules) if not suppressed(f, file.lines)]
    return sorted(findings, key=lambda f: f.sort_key)


def lint_bytes(data: bytes, rules: Sequence[type[Rule]], path: str,
               project: Project | None = None) -> list[Finding]:
    try:
        decoded = decode(data)
    except SourceError as err:
        return [unreadable(path, err)]
    return lint_text(decoded.text, rules, path, project, decoded.newline)


def unreadable(path: str, err: SourceError) -> Finding:
    return Finding(path, err.line, err.column, err.line, err.column, *UNREADABLE, err.message)
