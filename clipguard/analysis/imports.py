"""A cheap per-module import table: resolve `T.Resize` to `torchvision.transforms.Resize`.

This replaces libcst's QualifiedNameProvider, which made parsing eight times slower.
"""

from __future__ import annotations

import ast
from collections import deque


class ImportTable:
    """Maps each name bound by an import anywhere in the module to its qualified name.

    Relative imports keep their leading dots (`from .stats import MEAN` gives `.stats.MEAN`).
    """

    def __init__(self, tree: ast.AST) -> None:
        self.bindings: dict[str, str] = {}
        self.modules: set[str] = set()
        for node in _statements(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.modules.add(alias.name)
                    if alias.asname:
                        self.bindings[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        self.bindings[top] = top
            elif isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                self.modules.add(module)
                for alias in node.names:
                    if alias.name == "*":
                        continue
                    sep = "" if module.endswith(".") else "."
                    self.bindings[alias.asname or alias.name] = f"{module}{sep}{alias.name}"

    def resolve(self, node: ast.AST) -> str | None:
        """The qualified name of a `Name` or dotted `Attribute` chain rooted in an import."""
        chain = _chain(node)
        if chain is None or chain[0] not in self.bindings:
            return None
        return ".".join([self.bindings[chain[0]], *chain[1]])


_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def _statements(tree: ast.AST):
    """Every statement, in `ast.walk` order: imports are statements, so expressions (most of the
    tree) need not be visited."""
    queue = deque([tree])
    while queue:
        node = queue.popleft()
        yield node
        for name in node._fields:
            if name in _BLOCKS:
                queue.extend(child for child in getattr(node, name) if isinstance(child, ast.AST))


def _chain(node: ast.AST) -> tuple[str, list[str]] | None:
    """(`a`, [`b`, `c`]) for `a.b.c`; None unless the chain ends in a plain name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return node.id, parts[::-1]


def dotted_name(node: ast.AST) -> str | None:
    """`a.b.c` for a Name/Attribute chain, whatever the names are bound to; else None."""
    chain = _chain(node)
    return None if chain is None else ".".join([chain[0], *chain[1]])
