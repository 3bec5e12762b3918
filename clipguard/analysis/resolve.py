"""Where a name of one module is defined in the project, and who calls a function.

Everything here follows names across modules through the import table and `Project.lookup`;
other modules are parsed on demand, once per process.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from clipguard.analysis.flow import FUNCTIONS, flow_of
from clipguard.analysis.lookup import project_lookup
from clipguard.analysis.nodes import all_nodes
from clipguard.analysis.source import SourceFile

DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(frozen=True)
class Definition:
    """A top-level binding of another (or the same) module: a def, a class or an assigned value."""

    file: SourceFile
    node: ast.AST  # FunctionDef, ClassDef, or the expression assigned


def top_level(file: SourceFile, name: str) -> list[Definition]:
    """What `name` is bound to at the top level of `file` (imports not followed)."""
    flow = flow_of(file)
    found = []
    for binding in flow.defs.get((id(file.tree), name), []):
        if binding.value is not None:
            found.append(Definition(file, binding.value))
    return found


def imported(file: SourceFile, node: ast.AST) -> list[Definition]:
    """The project definitions an imported `Name` or `module.attr` chain refers to."""
    qualified = file.qualname(node)
    if qualified is None or file.project is None:
        return []
    found = project_lookup(file, qualified)
    if found is None:
        return []
    path, inner = found
    other = file.project.source(path)
    if other is None or not inner or "." in inner:
        return []
    own = top_level(other, inner)
    if own:
        return own
    # re-exported: `from .transforms import preprocess` in a package's __init__
    binding = other.imports.bindings.get(inner)
    if binding is None or other is file:
        return []
    return imported(other, ast.Name(id=inner, ctx=ast.Load()))


def definitions(file: SourceFile, node: ast.AST) -> list[Definition]:
    """What a `Name` (local or imported) or `self.method` refers to, where the project defines it."""
    if isinstance(node, ast.Name):
        bound = flow_of(file).definitions(node)
        if bound:
            return [Definition(file, b.value) for b in bound if b.value is not None]
        return imported(file, node)
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in ("self", "cls")
    ):
        owner = flow_of(file).enclosing_class(flow_of(file).scope.get(id(node), file.tree))
        method = method_of(owner, node.attr) if owner is not None else None
        return [Definition(file, method)] if method is not None else []
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "super"
    ):
        return _inherited(file, node)
    if isinstance(node, ast.Attribute):
        return imported(file, node)
    return []


def _inherited(file: SourceFile, node: ast.Attribute) -> list[Definition]:
    """`super().method`: the method of the first project base class that defines it."""
    flow = flow_of(file)
    owner = flow.enclosing_class(flow.scope.get(id(node), file.tree))
    for base in owner.bases if owner is not None else ():
        for definition in definitions(file, base):
            if isinstance(definition.node, ast.ClassDef):
                method = method_of(definition.node, node.attr)
                if method is not None:
                    return [Definition(definition.file, method)]
    return []


def method_of(cls: ast.ClassDef, name: str) -> ast.AST | None:
    """The method `name` defined in the class body, if any."""
    return next((s for s in cls.body if isinstance(s, FUNCTIONS) and s.name == name), None)


def returned(function: ast.AST) -> list[ast.AST]:
    """The expressions a function returns or yields (nested definitions excluded)."""
    if isinstance(function, ast.Lambda):
        return [function.body]
    found = []
    stack = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (*DEFINITIONS, ast.Lambda)):
            continue
        if isinstance(node, (ast.Return, ast.Yield, ast.YieldFrom)) and node.value is not None:
            found.append(node.value)
        stack.extend(ast.iter_child_nodes(node))
    return found


def callers(file: SourceFile, function: ast.AST) -> list[tuple[SourceFile, ast.Call]]:
    """Calls of a function in its own module and, for a top-level function, in the project
    modules that import it; computed once per function."""
    return file.memo(f"clipguard.callers.{id(function)}", lambda _: _callers(file, function))


def _callers(file: SourceFile, function: ast.AST) -> list[tuple[SourceFile, ast.Call]]:
    name = getattr(function, "name", None)
    if name is None:
        return []
    found = [(file, call) for call in flow_of(file).calls.get(name, [])]
    project = file.project
    owner = next(
        (c for c in file.tree.body if isinstance(c, ast.ClassDef) and function in c.body), None
    )
    if owner is not None:
        return found + _instance_calls(file, owner, name)
    if project is None or function not in file.tree.body:
        return found
    for path in project.importers(file.path):
        other = (
            project.source(path)
            if project.mentions(path, name) and project.near_clip_code(path)
            else None
        )
        if other is None:
            continue
        for call in flow_of(other).calls.get(name, []):
            if any(d.node is function for d in definitions(other, call.func)):
                found.append((other, call))
    return found


def _instance_calls(
    file: SourceFile, cls: ast.ClassDef, method: str
) -> list[tuple[SourceFile, ast.Call]]:
    """Calls of a method on instances of a top-level class, in its module and its importers:
    `loss = CLIPLoss(); loss(x)` runs `forward`, `self.loss.encode(x)` runs `encode`."""
    project = file.project
    modules = [file] + [
        o
        for p in (project.importers(file.path) if project else [])
        if project.mentions(p, cls.name)
        and project.near_clip_code(p)
        and (o := project.source(p)) is not None
    ]
    found = []
    for module in modules:
        holders = _instance_holders(module, cls)
        if not holders:
            continue
        for node in _calls(module):
            func = node.func
            if (
                method in ("forward", "__call__")
                and _holds(module, func, holders)
                or (
                    isinstance(func, ast.Attribute)
                    and func.attr == method
                    and module is not file
                    and _holds(module, func.value, holders)
                )
            ):
                found.append((module, node))
    return found


def _calls(module: SourceFile) -> list[ast.Call]:
    return module.memo(
        "clipguard.calls", lambda m: [n for n in all_nodes(m) if isinstance(n, ast.Call)]
    )


def _instance_holders(module: SourceFile, cls: ast.ClassDef) -> set[int]:
    """Ids of the constructor calls `cls(...)` in `module`."""

    def find(_: SourceFile) -> set[int]:
        if cls.name not in module.text:
            return set()
        named = flow_of(module).calls.get(cls.name, [])
        return {id(n) for n in named if any(d.node is cls for d in definitions(module, n.func))}

    return module.memo(f"clipguard.holders.{id(cls)}", find)


def _holds(module: SourceFile, node: ast.AST, holders: set[int]) -> bool:
    """Whether a name or `self.x` is bound to one of the constructor calls."""
    flow = flow_of(module)
    if isinstance(node, ast.Name):
        return any(b.value is not None and id(b.value) in holders for b in flow.definitions(node))
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    ):
        owner = flow.enclosing_class(flow.scope.get(id(node), module.tree))
        return owner is not None and any(
            id(v) in holders for v in flow.attrs.get((id(owner), node.attr), [])
        )
    return False


def argument_for(call: ast.Call, function: ast.AST, parameter: ast.arg) -> ast.AST | None:
    """The expression a call passes for `parameter` of `function`. A method's first parameter is
    bound by the object or class it is called on (`obj.method(x)`, `Class(x)`, `instance(x)`)."""
    arguments = function.args
    positional = [a.arg for a in (*arguments.posonlyargs, *arguments.args)]
    for passed in call.keywords:
        if passed.arg == parameter.arg:
            return passed.value
    if parameter.arg not in positional:
        return None
    index = positional.index(parameter.arg)
    if positional and positional[0] in ("self", "cls"):  # bound by the instance or the class
        index -= 1
    if 0 <= index < len(call.args) and not isinstance(call.args[index], ast.Starred):
        return call.args[index]
    return None
