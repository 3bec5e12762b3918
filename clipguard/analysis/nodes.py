"""Every node of a module, listed once and shared by the analyses that scan the whole tree."""

from __future__ import annotations

import ast

# per node type, the fields that can hold nodes: `ctx` only ever holds the shared Load/Store
# singletons, which no analysis looks at
_FIELDS: dict[type, tuple[str, ...]] = {}


def walk(tree: ast.AST) -> list[ast.AST]:
    """The nodes of `tree` in `ast.walk` order (breadth first) except the expression contexts
    (`Load`, `Store`, `Del`), without `ast.walk`'s generator overhead."""
    found = [tree]
    append = found.append
    position = 0
    while position < len(found):
        node = found[position]
        position += 1
        kind = type(node)
        fields = _FIELDS.get(kind)
        if fields is None:
            fields = _FIELDS[kind] = tuple(f for f in kind._fields if f != "ctx")
        for name in fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        append(item)
            elif isinstance(value, ast.AST):
                append(value)
    return found


def all_nodes(file) -> list[ast.AST]:
    """`walk(file.tree)`, computed once per file."""
    return file.memo("clipguard.nodes", lambda f: walk(f.tree))
