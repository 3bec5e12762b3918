"""Where a value comes from: reaching assignments and a backward walk over one module's `ast`.

Deliberately cheap and approximate: assignments are matched by name within a scope, a later
unconditional assignment hides earlier ones, function parameters are followed to the call sites
of the same module, and `self.x` to every `self.x = ...` of the class.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass

SCOPES = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
GROWERS = ("append", "extend", "add", "appendleft")
# node types `_bind` records something for
BINDERS = frozenset({ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr, ast.For, ast.AsyncFor,
                     ast.With, ast.AsyncWith, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                     ast.Lambda, ast.Call})
BUDGET = 20000  # nodes per backward walk: bounds the cost on huge generated modules


@dataclass(frozen=True)
class Definition:
    """One binding of a name: `value` is what it holds (None for a parameter)."""

    statement: ast.AST
    value: ast.AST | None
    parameter: ast.arg | None = None


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
                child_scope = scope if in_arguments or (
                    opens_scope and field in ("decorator_list", "bases", "keywords")) else inner
                for child in children:
                    if isinstance(child, ast.AST):
                        parent[id(child)] = (node, field)
                        stack.append((child, child_scope))

    def _bind(self, node: ast.AST, scope: ast.AST) -> None:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                self._bind_target(target, node.value, node, scope)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None or isinstance(node, ast.NamedExpr):
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
            name = node.func.id if isinstance(node.func, ast.Name) else \
                node.func.attr if isinstance(node.func, ast.Attribute) else None
            if name:
                self.calls.setdefault(name, []).append(node)
            # `items.append(x)` fills `items`: a binding that adds to, not replaces, the old value
            if isinstance(node.func, ast.Attribute) and node.func.attr in GROWERS \
                    and isinstance(node.func.value, ast.Name) and node.args:
                self._add(scope, node.func.value.id, Definition(node, node.args[0]))

    def _bind_target(self, target: ast.AST, value: ast.AST, statement: ast.AST, scope: ast.AST) -> None:
        if isinstance(target, ast.Name):
            self._add(scope, target.id, Definition(statement, value))
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = value.elts if isinstance(value, (ast.Tuple, ast.List)) \
                and len(value.elts) == len(target.elts) else None
            for index, element in enumerate(target.elts):
                if isinstance(element, ast.Starred):
                    element = element.value
                self._bind_target(element, values[index] if values else value, statement, scope)
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
                and target.value.id in ("self", "cls"):
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
        before = sorted((d for d in found if d.parameter is not None
                         or (d.statement.lineno, d.statement.col_offset) < position),
                        key=lambda d: (d.parameter is None, d.statement.lineno, d.statement.col_offset))
        if not before:
            return found
        blocks = {(id(parent), field) for parent, field in self.ancestors(use)}
        reaching = []
        for definition in reversed(before):
            reaching.append(definition)
            if definition.parameter is not None:
                break
            parent = self.parent.get(id(definition.statement))
            if parent and (id(parent[0]), parent[1]) in blocks and not isinstance(
                    definition.statement, (ast.AugAssign, ast.For, ast.AsyncFor, ast.Call)):
                break
        return reaching

    def call_arguments(self, function: ast.AST, parameter: ast.arg) -> list[ast.AST]:
        """Arguments passed for `parameter` at the calls of `function` in this module."""
        if not isinstance(function, FUNCTIONS):
            return []
        positional = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
        method = bool(positional) and positional[0] in ("self", "cls")
        found = []
        for call in self.calls.get(function.name, []):
            offset = 1 if method and isinstance(call.func, ast.Attribute) else 0
            if parameter.arg in positional:
                index = positional.index(parameter.arg) - offset
                if 0 <= index < len(call.args) and not isinstance(call.args[index], ast.Starred):
                    found.append(call.args[index])
            found.extend(k.value for k in call.keywords if k.arg == parameter.arg)
        return found

    def bound_values(self, definition: Definition) -> list[ast.AST | None]:
        """What a binding may hold: its value or, for a parameter, the arguments of the calls of
        its function in this module (`_transform(224)`), and its default where a call leaves it
        out. None for what cannot be known here (a function only called from elsewhere)."""
        if definition.parameter is None:
            return [definition.value]
        function = definition.statement
        calls = self.calls.get(getattr(function, "name", ""), [])
        arguments = self.call_arguments(function, definition.parameter)
        if not calls:
            return [None]
        if len(arguments) < len(calls):
            return [*arguments, _default(function, definition.parameter)]
        return arguments

    def successors(self, node: ast.AST) -> list[ast.AST]:
        """The nodes whose values flow into `node` one step back (what `reach` walks to)."""
        found: list[ast.AST] = []
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            for definition in self.definitions(node):
                if definition.parameter is not None:
                    found.extend(self.call_arguments(definition.statement, definition.parameter))
                elif definition.value is not None:
                    found.append(definition.value)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in ("self", "cls"):
            owner = self.enclosing_class(self.scope.get(id(node), self.tree))
            if owner is not None:
                found.extend(self.attrs.get((id(owner), node.attr), []))
        if isinstance(node, (*FUNCTIONS, ast.ClassDef)):
            found.extend(node.body)
        else:
            found.extend(ast.iter_child_nodes(node))
        return found

    def reach(self, roots: Iterable[ast.AST], stop: Callable[[ast.AST], bool] | None = None) -> set[int]:
        """Ids of every node whose value may flow into one of `roots` (roots included)."""
        seen: set[int] = set()
        work = list(roots)
        while work and len(seen) < BUDGET:
            node = work.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if stop is not None and stop(node):
                continue
            work.extend(self.successors(node))
        return seen

    def reacher(self, stop: Callable[[ast.AST], bool], marked: Collection[int]) -> Reacher:
        """A `reach` that answers many queries under one `stop`, sharing the work between them."""
        return Reacher(self, stop, marked)


class Reacher:
    """Backward reachability for many queries at once.

    Each node is expanded once: the graph of `Flow.successors` is split into strongly connected
    components (Tarjan, iteratively), and each component records the `marked` nodes it reaches,
    so a query costs its roots, not the part of the module behind them. Unlike `Flow.reach` it
    has no node budget: the whole module is walked at most once in total.
    """

    def __init__(self, flow: Flow, stop: Callable[[ast.AST], bool], marked: Collection[int]) -> None:
        self.flow = flow
        self.stop = stop
        self.marked = marked
        self.component: dict[int, int] = {}
        self.members: list[list[int]] = []
        self.after: list[tuple[int, ...]] = []  # successor components
        self.reached: list[frozenset[int]] = []  # marked ids reachable from the component
        self.expanded = 0  # nodes expanded so far: the work done, for tests

    def marked_from(self, roots: Iterable[ast.AST]) -> set[int]:
        """The marked ids that flow into one of `roots` (roots included)."""
        found: set[int] = set()
        for root in roots:
            self._explore(root)
            found |= self.reached[self.component[id(root)]]
        return found

    def visit(self, roots: Iterable[ast.AST], visited: set[int]) -> Iterator[int]:
        """Ids of the nodes that flow into `roots`, skipping components already in `visited`
        (which it extends): for idempotent uses, so that repeated queries cost nothing."""
        work = []
        for root in roots:
            self._explore(root)
            work.append(self.component[id(root)])
        while work:
            component = work.pop()
            if component in visited:
                continue
            visited.add(component)
            yield from self.members[component]
            work.extend(self.after[component])

    def _next(self, node: ast.AST) -> list[ast.AST]:
        self.expanded += 1
        return [] if self.stop(node) else self.flow.successors(node)

    def _explore(self, root: ast.AST) -> None:
        if id(root) in self.component:
            return
        index: dict[int, int] = {id(root): 0}
        low: dict[int, int] = {id(root): 0}
        children: dict[int, list[ast.AST]] = {}
        stack: list[ast.AST] = [root]
        on_stack: set[int] = {id(root)}
        children[id(root)] = self._next(root)
        calls: list[tuple[ast.AST, Iterator[ast.AST]]] = [(root, iter(children[id(root)]))]
        while calls:
            node, pending = calls[-1]
            key = id(node)
            descended = False
            for child in pending:
                child_key = id(child)
                if child_key in self.component:
                    continue
                if child_key not in index:
                    index[child_key] = low[child_key] = len(index)
                    stack.append(child)
                    on_stack.add(child_key)
                    children[child_key] = self._next(child)
                    calls.append((child, iter(children[child_key])))
                    descended = True
                    break
                if child_key in on_stack:
                    low[key] = min(low[key], index[child_key])
            if descended:
                continue
            calls.pop()
            if calls:
                parent_key = id(calls[-1][0])
                low[parent_key] = min(low[parent_key], low[key])
            if low[key] == index[key]:
                self._close(node, stack, on_stack, children)

    def _close(self, head: ast.AST, stack: list[ast.AST], on_stack: set[int],
               children: dict[int, list[ast.AST]]) -> None:
        """Pop the component whose first node is `head` and record what it reaches."""
        number = len(self.members)
        members: list[int] = []
        while True:
            member = stack.pop()
            on_stack.discard(id(member))
            members.append(id(member))
            self.component[id(member)] = number
            if member is head:
                break
        after = {self.component[id(child)] for key in members for child in children.pop(key)}
        after.discard(number)
        reached = frozenset(key for key in members if key in self.marked)
        for other in after:
            more = self.reached[other]
            if more and not more <= reached:
                reached = more if not reached else reached | more
        self.members.append(members)
        self.after.append(tuple(after))
        self.reached.append(reached)


def _default(function: ast.AST, parameter: ast.arg) -> ast.AST | None:
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    if parameter in positional:
        index = positional.index(parameter) - (len(positional) - len(arguments.defaults))
        return arguments.defaults[index] if index >= 0 else None
    if parameter in arguments.kwonlyargs:
        return arguments.kw_defaults[arguments.kwonlyargs.index(parameter)]
    return None
