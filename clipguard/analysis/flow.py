"""Where a value comes from in one module: scopes, bindings and reaching assignments.

Deliberately cheap and approximate: assignments are matched by name within a scope, a later
unconditional assignment hides earlier ones, function parameters are followed to the call sites
of the same module, and `self.x` to every `self.x = ...` of the class.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

SCOPES = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
GROWERS = ("append", "extend", "add", "appendleft")
# node types `_bind` records something for
BINDERS = frozenset(
    {
        ast.Assign,
        ast.AnnAssign,
        ast.AugAssign,
        ast.NamedExpr,
        ast.For,
        ast.AsyncFor,
        ast.With,
        ast.AsyncWith,
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.ClassDef,
        ast.Lambda,
        ast.Call,
    }
)


@dataclass(frozen=True)
class Definition:
    """One binding of a name: `value` is what it holds (None for a parameter)."""

    statement: ast.AST
    value: ast.AST | None
    parameter: ast.arg | None = None
    partial: bool = False  # fills part of the value (`out[..., 0] = x`): earlier bindings stay


class Flow:
    """Scopes, bindings and parents of one module, computed once."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.parent: dict[int, tuple[ast.AST, str]] = {}
        self.scope: dict[int, ast.AST] = {}
        self.defs: dict[tuple[int, str], list[Definition]] = {}
        self.attrs: dict[tuple[int, str], list[ast.AST]] = {}
        self.calls: dict[str, list[ast.Call]] = {}
        self._index(tree)

    # -- indexing ---------------------------------------------------------------------------
    def _index(self, tree: ast.Module) -> None:
        # the same depth-first order as a stack over `ast.iter_fields`, with less overhead:
        # this walk is a large share of a module's analysis
        parent, scope_of, bind = self.parent, self.scope, self._bind
        stack: list[tuple[ast.AST, ast.AST]] = [(tree, tree)]
        while stack:
            node, scope = stack.pop()
            scope_of[id(node)] = scope
            opens_scope = isinstance(node, SCOPES)
            inner = node if opens_scope else scope
            if type(node) in BINDERS:
                bind(node, scope)
            in_arguments = isinstance(node, ast.arguments)
            for field in node._fields:
                if field == "ctx":
                    continue  # the shared Load/Store singletons: no binding, no parent
                value = getattr(node, field, None)
                if isinstance(value, list):
                    children = value
                elif isinstance(value, ast.AST):
                    children = [value]
                else:
                    continue
                # decorators, defaults and bases run in the enclosing scope
                child_scope = (
                    scope
                    if in_arguments
                    or (opens_scope and field in ("decorator_list", "bases", "keywords"))
                    else inner
                )
                for child in children:
                    if isinstance(child, ast.AST):
                        parent[id(child)] = (node, field)
                        stack.append((child, child_scope))

    def _bind(self, node: ast.AST, scope: ast.AST) -> None:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                self._bind_target(target, node.value, node, scope)
        elif (
            isinstance(node, (ast.AnnAssign, ast.AugAssign))
            and node.value is not None
            or isinstance(node, ast.NamedExpr)
        ):
            self._bind_target(node.target, node.value, node, scope)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self._bind_target(node.target, node.iter, node, scope)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    self._bind_target(item.optional_vars, item.context_expr, node, scope)
        elif isinstance(node, (*FUNCTIONS, ast.ClassDef)):
            self._add(scope, node.name, Definition(node, node))
            if isinstance(node, FUNCTIONS):
                args = node.args
                for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
                    self._add(node, arg.arg, Definition(node, None, arg))
        elif isinstance(node, ast.Lambda):
            for arg in node.args.args:
                self._add(node, arg.arg, Definition(node, None, arg))
        elif isinstance(node, ast.Call):
            name = (
                node.func.id
                if isinstance(node.func, ast.Name)
                else node.func.attr
                if isinstance(node.func, ast.Attribute)
                else None
            )
            if name:
                self.calls.setdefault(name, []).append(node)
            # `items.append(x)` fills `items`: a binding that adds to, not replaces, the old value
            if (
                isinstance(node.func, ast.Attribute)
                and node.func.attr in GROWERS
                and isinstance(node.func.value, ast.Name)
                and node.args
            ):
                self._add(scope, node.func.value.id, Definition(node, node.args[0]))

    def _bind_target(
        self, target: ast.AST, value: ast.AST, statement: ast.AST, scope: ast.AST
    ) -> None:
        if isinstance(target, ast.Name):
            self._add(scope, target.id, Definition(statement, value))
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = (
                value.elts
                if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts)
                else None
            )
            for index, element in enumerate(target.elts):
                if isinstance(element, ast.Starred):
                    element = element.value
                self._bind_target(element, values[index] if values else value, statement, scope)
        elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            self._add(scope, target.value.id, Definition(statement, value, partial=True))
        elif (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id in ("self", "cls")
        ):
            owner = self.enclosing_class(scope)
            if owner is not None:
                self.attrs.setdefault((id(owner), target.attr), []).append(value)
        if isinstance(target, ast.Name) and isinstance(scope, ast.ClassDef):
            self.attrs.setdefault((id(scope), target.id), []).append(value)

    def _add(self, scope: ast.AST, name: str, definition: Definition) -> None:
        self.defs.setdefault((id(scope), name), []).append(definition)

    # -- queries ----------------------------------------------------------------------------
    def enclosing_class(self, scope: ast.AST) -> ast.ClassDef | None:
        node: ast.AST | None = scope
        while node is not None and not isinstance(node, ast.ClassDef):
            node = self.parent.get(id(node), (None, ""))[0]
        return node

    def ancestors(self, node: ast.AST) -> Iterable[tuple[ast.AST, str]]:
        """(parent, field) pairs from the node up to the module."""
        while id(node) in self.parent:
            parent, field = self.parent[id(node)]
            yield parent, field
            node = parent

    def statement(self, node: ast.AST) -> ast.AST:
        while not isinstance(node, ast.stmt) and id(node) in self.parent:
            node = self.parent[id(node)][0]
        return node

    def scope_chain(self, node: ast.AST) -> list[ast.AST]:
        scope = self.scope.get(id(node), self.tree)
        chain = [scope]
        while scope is not self.tree:
            scope = self.scope.get(id(scope), self.tree)
            # a class body is not visible from its methods
            if not isinstance(scope, ast.ClassDef) or scope is chain[0]:
                chain.append(scope)
        return chain

    def definitions(self, name: ast.Name) -> list[Definition]:
        """The bindings of `name` that may reach it; empty when it is not bound in this module."""
        for depth, scope in enumerate(self.scope_chain(name)):
            found = self.defs.get((id(scope), name.id))
            if found:
                return self._reaching(found, name) if depth == 0 else found
        return []

    def _reaching(self, found: list[Definition], use: ast.AST) -> list[Definition]:
        use_statement = self.statement(use)
        position = (use_statement.lineno, use_statement.col_offset)
        before = sorted(
            (
                d
                for d in found
                if d.parameter is not None
                or (d.statement.lineno, d.statement.col_offset) < position
            ),
            key=lambda d: (d.parameter is None, d.statement.lineno, d.statement.col_offset),
        )
        if not before:
            return found
        blocks = {(id(parent), field) for parent, field in self.ancestors(use)}
        reaching = []
        for definition in reversed(before):
            reaching.append(definition)
            if definition.parameter is not None:
                break
            parent = self.parent.get(id(definition.statement))
            if (
                parent
                and (id(parent[0]), parent[1]) in blocks
                and not isinstance(
                    definition.statement, (ast.AugAssign, ast.For, ast.AsyncFor, ast.Call)
                )
                and not definition.partial
            ):
                break
        return reaching

    def call_arguments(self, function: ast.AST, parameter: ast.arg) -> list[ast.AST]:
        """Arguments passed for `parameter` at the calls of `function` in this module."""
        if not isinstance(function, FUNCTIONS):
            return []
        positional = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
        method = bool(positional) and positional[0] in ("self", "cls")
        constructor = function.name == "__init__"
        found = []
        for call in self._calls_of(function):
            offset = 1 if method and (constructor or isinstance(call.func, ast.Attribute)) else 0
            if parameter.arg in positional:
                index = positional.index(parameter.arg) - offset
                if 0 <= index < len(call.args) and not isinstance(call.args[index], ast.Starred):
                    found.append(call.args[index])
            found.extend(k.value for k in call.keywords if k.arg == parameter.arg)
        return found

    def _calls_of(self, function: ast.AST) -> list[ast.Call]:
        """Calls of a function by its name; of a constructor, by its class's name."""
        name = getattr(function, "name", "")
        if name == "__init__":
            owner = self.enclosing_class(function)
            return self.calls.get(owner.name, []) if owner is not None else []
        return self.calls.get(name, [])

    def bound_values(self, definition: Definition) -> list[ast.AST | None]:
        """What a binding may hold: its value or, for a parameter, the arguments of the calls of
        its function in this module (`_transform(224)`), and its default where a call leaves it
        out. None for what cannot be known here (a function only called from elsewhere)."""
        if definition.parameter is None:
            return [definition.value]
        function = definition.statement
        calls = self._calls_of(function)
        arguments = self.call_arguments(function, definition.parameter)
        if not calls:
            return [None]
        if len(arguments) < len(calls):
            return [*arguments, _default(function, definition.parameter)]
        return arguments


def _default(function: ast.AST, parameter: ast.arg) -> ast.AST | None:
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    if parameter in positional:
        index = positional.index(parameter) - (len(positional) - len(arguments.defaults))
        return arguments.defaults[index] if index >= 0 else None
    if parameter in arguments.kwonlyargs:
        return arguments.kw_defaults[arguments.kwonlyargs.index(parameter)]
    return None


def flow_of(file) -> Flow:
    """The `Flow` of a parsed module, built once and shared by every analysis."""
    return file.memo("clipguard.flow", lambda f: Flow(f.tree))
