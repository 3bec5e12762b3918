"""Small readers of `ast` nodes, and every node of a module listed once for the analyses."""

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


def constant(node: ast.AST | None) -> object:
    """The value of a literal, else None."""
    return node.value if isinstance(node, ast.Constant) else None


def keyword(call: ast.Call, name: str) -> ast.AST | None:
    """The value passed for keyword `name`, if any."""
    return next((k.value for k in call.keywords if k.arg == name), None)


def is_number(node: ast.AST) -> bool:
    """Whether `node` is a (signed) int or float literal."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    )


def callee_name(func: ast.AST) -> str:
    """The last name of what a call calls: `resize` for `T.resize(...)` and `resize(...)`."""
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""
