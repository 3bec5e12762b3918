"""Which expressions hold CLIP features, and whether they are L2-normalized where they meet.

Each function of a module is analysed once (`interpreter.FunctionAnalysis`), with its parameters
as symbolic states; call sites apply its summary. Helpers imported from another module of the
project are summarised in that module, through `Project.lookup` / `Project.source`. The rules
ask `similarities(file)` and `softmaxes(file)` and decide what is wrong.

Precision first: any value the analysis cannot follow becomes unknown (None), and a similarity is
recorded only when every operand is known to hold features.
"""

from __future__ import annotations

import ast
import re

from clipguard.analysis.imports import dotted_name
from clipguard.analysis.interpreter import FunctionAnalysis
from clipguard.analysis.nodes import walk
from clipguard.analysis.source import SourceFile
from clipguard.analysis.states import (
    MEAN,
    NORM,
    OBJECTS,
    RAW,
    FunctionResult,
    Returned,
    Similarity,
    Softmax,
    State,
)


class FeatureModule:
    """Function definitions of one module and their feature analyses, each computed once."""

    def __init__(self, file: SourceFile) -> None:
        self.file = file
        self.functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef | None] = {}
        self.classes: dict[ast.AST, ast.ClassDef] = {}
        self.methods: dict[tuple[ast.ClassDef, str], ast.AST] = {}
        for stmt in file.tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                # a name defined twice is ambiguous: no summary
                self.functions[stmt.name] = None if stmt.name in self.functions else stmt
        # one walk of the tree collects everything later questions need
        self.all_functions: list[ast.AST] = []
        self.by_name: dict[str, list[ast.AST]] = {}
        self.global_names: set[str] = set()
        for node in _statements(file.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.all_functions.append(node)
                self.by_name.setdefault(node.name, []).append(node)
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        self.classes[item] = node
                        self.methods[(node, item.name)] = item
            elif isinstance(node, ast.Global):
                self.global_names.update(node.names)
        self.class_defs: dict[str, ast.ClassDef | None] = {}
        for stmt in file.tree.body:
            if isinstance(stmt, ast.ClassDef):
                self.class_defs[stmt.name] = None if stmt.name in self.class_defs else stmt
        self._results: dict[ast.AST, FunctionResult | None] = {}
        self._in_progress: set[ast.AST] = set()
        self._facts: list[Similarity | Softmax] | None = None
        self._globals: dict[str, State] | None = None
        self._attributes: dict[ast.ClassDef, dict[str, State]] = {}
        self._wraps_raw: dict[str, bool] = {}
        self._generators: dict[int, bool] = {}
        # a generator needs the keyword: most modules have none, and need no walk to know it
        self._has_yield = "yield" in file.text

    def is_generator(self, scope: ast.AST) -> bool:
        """`_is_generator(scope)` for a scope of this module, walked at most once."""
        if not self._has_yield:
            return False
        if id(scope) not in self._generators:
            self._generators[id(scope)] = _is_generator(scope)
        return self._generators[id(scope)]

    def definitions(self, name: str) -> list[ast.AST]:
        return self.by_name.get(name, [])

    def wraps_raw(self, method: str) -> bool:
        """Whether `x.<method>(...)` can be taken for the library's raw encoder: true unless this
        module, or a project module it imports, defines its own `<method>` that returns anything
        but raw features (a wrapper that normalizes, or another model's encoder)."""
        if method not in self._wraps_raw:
            self._wraps_raw[method] = True  # a definition calling it while it is decided
            wrapping = False  # asked from inside a wrapper of the library's `<method>`
            models = [self]
            project = self.file.project
            if project is not None:
                pattern = re.compile(rb"def\s+" + method.encode() + rb"\b")
                for path in project.imported(self.file.path):
                    if not _mentions(path, pattern):
                        continue  # skip parsing modules that cannot define it
                    other = project.source(path)
                    if other is not None:
                        models.append(feature_module(other))
            verdict = True
            for model in models:
                for func in model.definitions(method):
                    if func in model._in_progress:
                        wrapping = True  # `self.model.encode_text(t)` inside `def encode_text`
                        continue
                    result = model.result(func)
                    returns = result.summary.returns if result is not None else None
                    if returns is None or returns.kind != RAW:
                        verdict = False
            if wrapping:
                del self._wraps_raw[method]  # decided again once the wrapper is known
                return verdict
            self._wraps_raw[method] = verdict
        return self._wraps_raw[method]

    def globals(self) -> dict[str, State]:
        """Module names bound once at top level to an object (a model, an index) or features."""
        if self._globals is None:
            self._globals = {}
            analysis = FunctionAnalysis(self, self.file.tree, collecting=True)
            analysis.run()
            once = _assigned_once(self.file.tree) - self.global_names
            self._globals = {
                name: value
                for name, value in analysis.env.items()
                if name in once and value is not None and value.kind in (*OBJECTS, RAW, NORM, MEAN)
            }
        return self._globals

    def attributes(self, cls: ast.ClassDef) -> dict[str, State]:
        """`self.x` objects and features assigned in `__init__` and nowhere else in the class."""
        if cls not in self._attributes:
            self._attributes[cls] = {}
            init = self.methods.get((cls, "__init__"))
            result = self.result(init) if init is not None else None
            objects = {
                name: value
                for name, value in (result.env if result else {}).items()
                if name.startswith("self.")
                and value is not None
                and value.kind in (*OBJECTS, RAW, NORM, MEAN)
            }
            if objects:
                elsewhere = {
                    dotted_name(node)
                    for method in cls.body
                    if method is not init
                    for node in walk(method)
                    if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                }
                self._attributes[cls] = {
                    name: value for name, value in objects.items() if name not in elsewhere
                }
        return self._attributes[cls]

    def result(self, func: ast.AST) -> FunctionResult | None:
        """The analysis of one function; None while it is being computed (recursion)."""
        if func in self._results:
            return self._results[func]
        if func in self._in_progress:
            return None
        self._in_progress.add(func)
        try:
            analysis = FunctionAnalysis(self, func)
            analysis.run()
            self._results[func] = FunctionResult(analysis.summary(), analysis.facts, analysis.env)
        finally:
            self._in_progress.discard(func)
        return self._results[func]

    def facts(self) -> list[Similarity | Softmax]:
        """Every fact in this module: top-level code and every function, once each."""
        if self._facts is None:
            analysis = FunctionAnalysis(self, self.file.tree)
            analysis.run()
            facts = list(analysis.facts)
            for node in self.all_functions:
                result = self.result(node)
                if result is not None:
                    facts.extend(result.facts)
            seen, unique = set(), []
            for fact in facts:
                key = (type(fact), id(fact.node))
                if key not in seen:
                    seen.add(key)
                    unique.append(fact)
            self._facts = unique
        return self._facts

    def module_of(self, other: SourceFile) -> FeatureModule:
        """The feature module of another project module."""
        return feature_module(other)

    def call_method(self, cls: ast.ClassDef) -> str:
        """The method calling an instance runs: `__call__`, else `forward` (as `nn.Module` does)."""
        return "__call__" if (cls, "__call__") in self.methods else "forward"


def feature_module(file: SourceFile) -> FeatureModule:
    """The shared, memoized model of a file."""
    return file.memo("clipguard.features", FeatureModule)


def similarities(file: SourceFile) -> list[Similarity]:
    """Where vectors meet in this module (dot products, indexes), with every operand's state."""
    return [f for f in feature_module(file).facts() if isinstance(f, Similarity)]


def returns(file: SourceFile) -> list[Returned]:
    """What each function of this module returns, with its state."""
    return [f for f in feature_module(file).facts() if isinstance(f, Returned)]


def softmaxes(file: SourceFile) -> list[Softmax]:
    """Every softmax in this module, with the state of what it is taken over."""
    return [f for f in feature_module(file).facts() if isinstance(f, Softmax)]


def _assigned_once(tree: ast.Module) -> set[str]:
    """Module-level names bound exactly once (function bodies are not visited)."""
    counts: dict[str, int] = {}
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            counts[node.name] = counts.get(node.name, 0) + 2
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            counts[node.id] = counts.get(node.id, 0) + 1
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            counts[node.target.id] = counts.get(node.target.id, 0) + 1
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                name = (alias.asname or alias.name).split(".")[0]
                counts[name] = counts.get(name, 0) + 2
        stack.extend(ast.iter_child_nodes(node))
    return {name for name, count in counts.items() if count == 1}


def _is_generator(func: ast.AST) -> bool:
    """Whether calling `func` gives a generator, whose `return` value the caller never sees."""
    stack = list(ast.iter_child_nodes(func))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))
    return False


def _statements(tree: ast.AST):
    """Every statement, nested ones included, without visiting expressions: definitions and
    `global` declarations can only be statements."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            children = getattr(node, name, None)
            if isinstance(children, list):
                stack.extend(child for child in reversed(children) if isinstance(child, ast.AST))


def _mentions(path: object, pattern: re.Pattern[bytes]) -> bool:
    try:
        with open(path, "rb") as handle:
            return pattern.search(handle.read()) is not None
    except OSError:
        return False
