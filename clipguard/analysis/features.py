"""Which expressions hold CLIP features, and whether they are L2-normalized where they meet.

A flow-sensitive value analysis over the stdlib `ast`, within each function and across them
through summaries. Each function is analysed once, with its parameters as symbolic values; the
result is both the events to report (similarity sinks fed unnormalized features, softmax over
bare cosines, unrenormalized ensemble means) and a summary that call sites apply: what the
function returns in terms of its parameters, and which parameters reach a similarity sink without
normalization. Helpers imported from another module of the project are summarised in that
module, through `Project.lookup` / `Project.source`.

Precision first: any value the analysis cannot follow becomes unknown (None), and a sink only
reports when every operand is known to be a feature.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field, replace

from clipguard.analysis.imports import dotted_name
from clipguard.analysis.lookup import project_lookup
from clipguard.analysis.nodes import walk
from clipguard.analysis.source import SourceFile

# Kinds of abstract values.
RAW = "raw"  # CLIP features as the encoder returns them: not unit length
NORM = "norm"  # L2-normalized features
MEAN = "mean"  # mean of normalized features: shorter than unit length
PARAM = "param"  # a parameter of the function being summarised, unchanged
COS = "cos"  # cosine similarities (dot products of unit vectors), not scaled
NORMOF = "normof"  # a vector norm: dividing by it normalizes
SQ = "sq"  # elementwise square of features (on the way to a norm)
SUMSQ = "sumsq"  # sum of squares (the square of a norm)
PROD = "prod"  # elementwise product of two features (a dot product once summed)
LIST = "list"  # a Python list of values of one kind; items=(element,) or () when empty
TUPLE = "tuple"  # a tuple of values; items in order
MODEL_PROJ = "model_proj"  # a transformers *WithProjection model
MODEL_JOINT = "model_joint"  # a transformers dual-encoder model whose forward normalizes
# Any other transformers model, e.g. remote code: jina-clip's `encode_image` normalizes by default.
MODEL_OTHER = "model_other"
OUT_PROJ = "out_proj"
OUT_JOINT = "out_joint"
INDEX = "index"  # a faiss flat index (inner product or L2)
COSMOD = "cosmod"  # an nn.CosineSimilarity module
SOFTMOD = "softmod"  # an nn.Softmax module
INSTANCE = "instance"  # an object of a class defined in the project; pairs=(ModuleModel, ClassDef)

# Values that stay what they are once built, so a module global or a `self.` attribute set in
# `__init__` can be trusted inside other functions.
OBJECTS = (MODEL_PROJ, MODEL_JOINT, MODEL_OTHER, INDEX, COSMOD, SOFTMOD, INSTANCE)

FEATURES = (RAW, NORM, MEAN, PARAM)

SOURCE_METHODS = ("encode_image", "encode_text", "get_image_features", "get_text_features")
# Byte triggers of the similarity rules: the sources above and the embeds of model outputs.
SOURCE_TRIGGERS = (*(m.encode() for m in SOURCE_METHODS), b"image_embeds", b"text_embeds")
EMBED_ATTRS = ("image_embeds", "text_embeds")
# The same sources written as code, for the modules a file imports: a method call or an output's
# attribute or key (documentation that only names them is imported everywhere).
IMPORTED_SOURCE_TRIGGERS = (*(b"." + m.encode() for m in SOURCE_METHODS),
                            *(b"." + a.encode() for a in EMBED_ATTRS),
                            *(q + a.encode() + q for a in EMBED_ATTRS for q in (b'"', b"'")))
# Methods that return the same vectors (other device, dtype, layout or container).
PASSTHROUGH = frozenset(
    {
        "cpu",
        "cuda",
        "numpy",
        "float",
        "double",
        "half",
        "bfloat16",
        "detach",
        "to",
        "clone",
        "contiguous",
        "squeeze",
        "unsqueeze",
        "t",
        "transpose",
        "permute",
        "reshape",
        "view",
        "type",
        "astype",
        "copy",
        "tolist",
        "requires_grad_",
        "eval",
        "train",
        "expand_as",
        "expand",
        "clamp",
        "clamp_min",
        "clip",
        "squeeze_",
        "unsqueeze_",
        "detach_",
        "flatten",
    }
)
TRANSPOSES = frozenset({"t", "transpose", "permute"})
TO_NUMPY = frozenset({"numpy", "astype"})
DOT_FUNCTIONS = {
    "torch.matmul",
    "torch.mm",
    "torch.bmm",
    "torch.dot",
    "torch.inner",
    "torch.tensordot",
    "torch.einsum",
    "numpy.dot",
    "numpy.matmul",
    "numpy.inner",
    "numpy.tensordot",
    "numpy.einsum",
    "numpy.vdot",
}
DOT_METHODS = frozenset({"matmul", "mm", "bmm", "dot", "inner", "__matmul__"})
JOIN_FUNCTIONS = {
    "torch.cat",
    "torch.concat",
    "torch.concatenate",
    "torch.stack",
    "torch.vstack",
    "numpy.concatenate",
    "numpy.stack",
    "numpy.vstack",
    "numpy.array",
    "numpy.asarray",
    "torch.tensor",
    "torch.as_tensor",
    "torch.from_numpy",
}
NORM_FUNCTIONS = {
    "torch.norm",
    "torch.linalg.norm",
    "torch.linalg.vector_norm",
    "numpy.linalg.norm",
}
# Functions that keep a vector norm a norm: reshaping it, or guarding it against zero.
NORM_KEEPERS = {
    "numpy.atleast_1d",
    "numpy.expand_dims",
    "torch.unsqueeze",
    "numpy.maximum",
    "torch.maximum",
    "torch.clamp",
    "torch.clamp_min",
    "torch.clip",
    "numpy.clip",
    "numpy.fmax",
    "torch.fmax",
}
SOFTMAX_FUNCTIONS = {
    "torch.softmax",
    "torch.nn.functional.softmax",
    "torch.special.softmax",
    "scipy.special.softmax",
    "torch.log_softmax",
    "torch.nn.functional.log_softmax",
    "scipy.special.log_softmax",
}
COSINE_FUNCTIONS = {
    "torch.nn.functional.cosine_similarity",
    "torch.cosine_similarity",
    "sklearn.metrics.pairwise.cosine_similarity",
}
FAISS_INDEXES = {"faiss.IndexFlatIP", "faiss.IndexFlatL2"}
FAISS_WRAPPERS = {"faiss.IndexIDMap", "faiss.IndexIDMap2"}
RANKING_ONLY = frozenset({"argmax", "argsort"})


@dataclass(frozen=True, eq=False)
class Value:
    """An abstract value: what kind of thing an expression holds, and where it came from."""

    kind: str
    backend: str | None = None  # "torch" or "numpy" when known: decides how a fix normalizes
    source: str = ""  # the producing API, for messages (`encode_image`)
    param: int = -1
    scaled: bool = False  # multiplied or divided by a scale or temperature
    items: tuple = ()
    origin: ast.AST | None = None
    path: str = ""
    detail: str = ""  # index type, model class, ...
    pairs: tuple = ()  # PROD: its (node, value) factors

    def key(self) -> tuple:
        return (
            self.kind,
            self.param,
            self.scaled,
            self.detail,
            tuple(i.key() if i is not None else None for i in self.items),
        )


def join(a: Value | None, b: Value | None) -> Value | None:
    """The value at a merge point: the same kind on both paths, else unknown."""
    if a is None or b is None:
        return None
    if a.kind == b.kind == LIST and (not a.items or not b.items):
        return a if a.items else b
    if a.key() != b.key():
        return None
    return a if a.backend == b.backend else replace(a, backend=None)


@dataclass
class Operand:
    """A sink operand that is not normalized, with the expression a fix would wrap."""

    node: ast.AST | None
    value: Value
    target: ast.AST | None = None
    backend: str | None = None
    bare: bool = False  # the target stands alone (a call argument): no parentheses needed


@dataclass
class Event:
    """Something a rule reports: `rule` is the code, `node` where."""

    rule: str
    node: ast.AST
    sink: str
    operands: list[Operand] = field(default_factory=list)
    callee: str = ""


@dataclass
class SinkSpec:
    """A similarity sink inside a function that depends on its parameters."""

    sink: str
    operands: tuple[Value, ...]


@dataclass
class Summary:
    returns: Value | None = None
    sinks: list[SinkSpec] = field(default_factory=list)


@dataclass
class FunctionResult:
    summary: Summary
    events: list[Event]
    env: dict[str, Value | None]


def _const(node: ast.AST) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_number(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    )


class ModuleModel:
    """Function definitions of one module and their analyses, each computed once."""

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
        self._module_events: list[Event] | None = None
        self._globals: dict[str, Value] | None = None
        self._attributes: dict[ast.ClassDef, dict[str, Value]] = {}
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
            self._wraps_raw[method] = True
            models = [self]
            project = self.file.project
            if project is not None:
                pattern = re.compile(rb"def\s+" + method.encode() + rb"\b")
                for path in project.imported(self.file.path):
                    if not _mentions(path, pattern):
                        continue  # skip parsing modules that cannot define it
                    other = project.source(path)
                    if other is not None:
                        models.append(module_model(other))
            for model in models:
                for func in model.definitions(method):
                    result = model.result(func)
                    returns = result.summary.returns if result is not None else None
                    if returns is None or returns.kind != RAW:
                        self._wraps_raw[method] = False
        return self._wraps_raw[method]

    def globals(self) -> dict[str, Value]:
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

    def attributes(self, cls: ast.ClassDef) -> dict[str, Value]:
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
            self._results[func] = FunctionResult(analysis.summary(), analysis.events, analysis.env)
        finally:
            self._in_progress.discard(func)
        return self._results[func]

    def events(self) -> list[Event]:
        """Every event in this module: top-level code and every function, once each."""
        if self._module_events is None:
            analysis = FunctionAnalysis(self, self.file.tree)
            analysis.run()
            events = list(analysis.events)
            for node in self.all_functions:
                result = self.result(node)
                if result is not None:
                    events.extend(result.events)
            seen, unique = set(), []
            for event in events:
                key = (event.rule, id(event.node))
                if key not in seen:
                    seen.add(key)
                    unique.append(event)
            self._module_events = unique
        return self._module_events


def module_model(file: SourceFile) -> ModuleModel:
    """The shared, memoized model of a file."""
    return file.memo("clipguard.features", ModuleModel)


def _params(func: ast.AST) -> list[str]:
    args = func.args
    return [a.arg for a in (*args.posonlyargs, *args.args)]


def _is_method(model: ModuleModel, func: ast.AST) -> bool:
    if func not in model.classes:
        return False
    return not any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in func.decorator_list)


class FunctionAnalysis:
    """One pass over a function body (or the module body) in statement order."""

    def __init__(self, model: ModuleModel, scope: ast.AST, collecting: bool = False) -> None:
        self.model = model
        self.collecting = collecting  # the globals pre-pass: no calls into other functions
        self.file = model.file
        self.scope = scope
        self.env: dict[str, Value | None] = {}
        self.values: dict[ast.AST, Value | None] = {}
        self.events: list[Event] = []
        self.sinks: list[SinkSpec] = []
        self.returns: list[Value | None] = []
        self._parents: dict[ast.AST, ast.AST] | None = None
        if not isinstance(scope, ast.Module):
            self.env.update(model.globals())
            owner = model.classes.get(scope)
            if owner is not None and scope.name != "__init__":
                self.env.update(model.attributes(owner))
            for index, name in enumerate(_params(scope)):
                self.env[name] = Value(PARAM, param=index)
            for arg in (*scope.args.kwonlyargs, scope.args.vararg, scope.args.kwarg):
                if arg is not None:
                    self.env[arg.arg] = None

    # ---- driver -------------------------------------------------------------------------------

    def run(self) -> None:
        try:
            self.block(self.scope.body)
        except RecursionError:
            # too deeply nested to follow (a 1500-term sum): this scope says nothing
            self.events, self.sinks, self.returns = [], [], [None]
            self.env = {}

    def summary(self) -> Summary:
        returns: Value | None = None
        if self.returns and not self.model.is_generator(self.scope):
            returns = self.returns[0]
            for value in self.returns[1:]:
                returns = join(returns, value)
        return Summary(returns, self.sinks)

    # ---- statements ---------------------------------------------------------------------------

    def block(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.statement(stmt)

    def statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Assign):
            value = self.ev(stmt.value)
            for target in stmt.targets:
                self.bind(target, value)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.bind(stmt.target, self.ev(stmt.value))
        elif isinstance(stmt, ast.AugAssign):
            self.aug_assign(stmt)
        elif isinstance(stmt, ast.Expr):
            self.expression_statement(stmt.value)
        elif isinstance(stmt, ast.Return):
            self.returns.append(self.ev(stmt.value) if stmt.value is not None else None)
        elif isinstance(stmt, ast.If):
            self.ev(stmt.test)
            self.branches([stmt.body, stmt.orelse])
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            iterated = self.ev(stmt.iter)
            element = (
                iterated.items[0] if iterated and iterated.kind == LIST and iterated.items else None
            )
            before = dict(self.env)
            self.bind(stmt.target, element)
            self.block(stmt.body)
            self.merge(before, dict(self.env))
            self.block(stmt.orelse)
        elif isinstance(stmt, ast.While):
            self.ev(stmt.test)
            before = dict(self.env)
            self.block(stmt.body)
            self.merge(before, dict(self.env))
            self.block(stmt.orelse)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                self.ev(item.context_expr)
                if item.optional_vars is not None:
                    self.bind(item.optional_vars, None)
            self.block(stmt.body)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            before = dict(self.env)
            self.block(stmt.body)
            after_body = dict(self.env)
            self.block(stmt.orelse)
            paths = [dict(self.env)]
            for handler in stmt.handlers:
                self.env = dict(after_body)
                self.merge_into(before)
                self.block(handler.body)
                paths.append(dict(self.env))
            self.env = paths[0]
            for other in paths[1:]:
                self.merge(self.env, other)
            self.block(stmt.finalbody)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.env.pop(stmt.name, None)  # calls resolve through the module's definitions
        elif isinstance(stmt, ast.Delete):
            for target in stmt.targets:
                self.bind(target, None)
        else:
            self.kill_assigned(stmt)

    def branches(self, bodies: list[list[ast.stmt]]) -> None:
        before = dict(self.env)
        results = []
        for body in bodies:
            self.env = dict(before)
            self.block(body)
            results.append(dict(self.env))
        self.env = results[0]
        for other in results[1:]:
            self.merge(self.env, other)

    def merge(self, first: dict, second: dict) -> None:
        """Make `self.env` the join of two environments."""
        merged = {}
        for name in first.keys() | second.keys():
            merged[name] = (
                join(first.get(name), second.get(name))
                if name in first and name in second
                else _join_missing(first.get(name, second.get(name)))
            )
        self.env = merged

    def merge_into(self, other: dict) -> None:
        self.merge(dict(self.env), other)

    def kill_assigned(self, stmt: ast.AST) -> None:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                self.env[node.id] = None

    def bind(self, target: ast.AST, value: Value | None) -> None:
        if isinstance(target, ast.Name):
            self.env[target.id] = value
        elif isinstance(target, ast.Attribute):
            key = dotted_name(target)
            if key:
                self.env[key] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            items = value.items if value is not None and value.kind == TUPLE else ()
            if len(items) != len(target.elts) or any(
                isinstance(e, ast.Starred) for e in target.elts
            ):
                items = (None,) * len(target.elts)
            for element, item in zip(target.elts, items):
                self.bind(element.value if isinstance(element, ast.Starred) else element, item)
        elif isinstance(target, ast.Subscript):
            self.ev(target.slice)
            key = dotted_name(target.value)
            if key and not (self.env.get(key) and self.env[key].kind == NORMOF):
                # element assignment into an array: the contents are no longer known (a norm
                # with its zeros replaced, `l2[l2 == 0] = 1`, is still a norm)
                self.env[key] = None
        elif isinstance(target, ast.Starred):
            self.bind(target.value, None)

    def aug_assign(self, stmt: ast.AugAssign) -> None:
        key = dotted_name(stmt.target)
        current = self.env.get(key) if key else None
        if isinstance(stmt.target, ast.Subscript):
            self.bind(stmt.target, None)
            self.ev(stmt.value)
            return
        right = self.ev(stmt.value)
        if isinstance(stmt.op, ast.Add) and current is not None and current.kind == LIST:
            self.env[key] = self.extend(current, right)
            return
        value = self.binop(stmt, stmt.op, current, right, stmt.target, stmt.value)
        if key:
            self.env[key] = value

    def expression_statement(self, node: ast.expr) -> None:
        """Calls that change a name in place: `faiss.normalize_L2(x)`, `x.div_(n)`, `.append`."""
        self.ev(node)
        if not isinstance(node, ast.Call):
            return
        func = node.func
        name = self.file.qualname(func)
        if name == "faiss.normalize_L2" and node.args:
            key = dotted_name(node.args[0])
            value = self.values.get(node.args[0])
            if key:
                self.env[key] = normalized(value, value.backend if value else "numpy")
            return
        if not isinstance(func, ast.Attribute):
            return
        key = dotted_name(func.value)
        if key is None:
            return
        receiver = self.env.get(key)
        args = [self.values.get(a) for a in node.args]
        if (
            func.attr in ("append", "extend", "insert")
            and receiver is not None
            and receiver.kind == LIST
        ):
            if func.attr == "append" and len(args) == 1:
                self.env[key] = join(receiver, Value(LIST, items=(args[0],)))
            elif func.attr == "extend" and len(args) == 1:
                self.env[key] = self.extend(receiver, args[0])
            else:
                self.env[key] = None
        elif func.attr == "div_" and len(args) == 1 and receiver is not None:
            self.env[key] = self.divide(receiver, args[0], node.args[0])
        elif (
            func.attr.endswith("_")
            and not func.attr.endswith("__")
            and func.attr not in ("squeeze_", "unsqueeze_", "detach_", "requires_grad_")
        ):
            self.env[key] = None

    def extend(self, current: Value, added: Value | None) -> Value | None:
        if added is None or added.kind != LIST:
            return None
        return join(current, added)

    # ---- expressions --------------------------------------------------------------------------

    def ev(self, node: ast.AST | None) -> Value | None:
        if node is None:
            return None
        value = self._ev(node)
        self.values[node] = value
        return value

    def _ev(self, node: ast.AST) -> Value | None:
        if isinstance(node, ast.Name):
            return self.env.get(node.id)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.BinOp):
            left, right = self.ev(node.left), self.ev(node.right)
            return self.binop(node, node.op, left, right, node.left, node.right)
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.Tuple):
            return Value(TUPLE, items=tuple(self.ev(e) for e in node.elts))
        if isinstance(node, ast.List):
            values = [self.ev(e) for e in node.elts]
            element = values[0] if values else None
            for value in values[1:]:
                element = join(element, value)
            return Value(LIST, items=(element,) if values else ())
        if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
            return self.comprehension(node)
        if isinstance(node, ast.IfExp):
            self.ev(node.test)
            return join(self.ev(node.body), self.ev(node.orelse))
        if isinstance(node, ast.Await):
            return self.ev(node.value)
        if isinstance(node, ast.NamedExpr):
            value = self.ev(node.value)
            self.bind(node.target, value)
            return value
        if isinstance(node, (ast.Lambda, ast.SetComp, ast.DictComp)):
            return None
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.ev(child)
            elif isinstance(child, ast.keyword):
                self.ev(child.value)
        return None

    def comprehension(self, node: ast.ListComp | ast.GeneratorExp) -> Value | None:
        saved = dict(self.env)
        for generator in node.generators:
            iterated = self.ev(generator.iter)
            element = (
                iterated.items[0] if iterated and iterated.kind == LIST and iterated.items else None
            )
            self.bind(generator.target, element)
            for condition in generator.ifs:
                self.ev(condition)
        element = self.ev(node.elt)
        self.env = saved
        return Value(LIST, items=(element,))

    def attribute(self, node: ast.Attribute) -> Value | None:
        key = dotted_name(node)
        if key and key in self.env:
            return self.env[key]
        base = self.ev(node.value)
        if base is None:
            return None
        if node.attr in ("T", "mT", "data"):
            return base if base.kind in (*FEATURES, COS, NORMOF) else None
        if node.attr in EMBED_ATTRS:
            if base.kind == OUT_PROJ:
                return Value(
                    RAW,
                    backend="torch",
                    source=f"{base.detail}.{node.attr}",
                    origin=node,
                    path=self.file.path,
                )
            if base.kind == OUT_JOINT:
                return Value(NORM, backend="torch", source=f"{base.detail}.{node.attr}")
        if node.attr == "pooler_output" and base.kind == RAW:
            return base  # transformers 5 returns an output object from get_*_features
        return None

    def subscript(self, node: ast.Subscript) -> Value | None:
        base = self.ev(node.value)
        self.ev(node.slice)
        if base is None:
            return None
        if base.kind == TUPLE:
            index = _const(node.slice)
            if isinstance(index, int) and -len(base.items) <= index < len(base.items):
                return base.items[index]
            return None
        if base.kind == LIST:
            if isinstance(node.slice, ast.Slice):
                return base
            return base.items[0] if base.items else None
        if base.kind in (OUT_PROJ, OUT_JOINT) and _const(node.slice) in EMBED_ATTRS:
            return (
                Value(
                    RAW,
                    backend="torch",
                    source=f"{base.detail}[{_const(node.slice)!r}]",
                    origin=node,
                    path=self.file.path,
                )
                if base.kind == OUT_PROJ
                else Value(NORM, backend="torch", source=base.detail)
            )
        if base.kind in (*FEATURES, COS, NORMOF):
            return base
        return None

    # ---- arithmetic ---------------------------------------------------------------------------

    def binop(
        self,
        node: ast.AST,
        op: ast.operator,
        left: Value | None,
        right: Value | None,
        left_node: ast.AST,
        right_node: ast.AST,
    ) -> Value | None:
        if isinstance(op, ast.MatMult):
            return self.sink(node, "@", [(left_node, left), (right_node, right)])
        if isinstance(op, ast.Div):
            return self.divide(left, right, right_node)
        if isinstance(op, ast.Mult):
            return self.multiply(left, right, left_node, right_node)
        if isinstance(op, ast.Pow):
            exponent = _const(right_node)
            if left is not None and left.kind in (*FEATURES, COS) and exponent == 2:
                return Value(SQ)
            if left is not None and left.kind == SUMSQ and exponent == 0.5:
                return Value(NORMOF)
            return None
        if isinstance(op, (ast.Add, ast.Sub)):
            # `norm + eps` is still a norm
            if left is not None and left.kind == NORMOF and _is_number(right_node):
                return left
            return None
        return None

    def divide(self, left: Value | None, right: Value | None, right_node: ast.AST) -> Value | None:
        if right is not None and right.kind == NORMOF and (left is None or left.kind in FEATURES):
            return normalized(left, left.backend if left else None)
        if left is None:
            return None
        if left.kind in (COS, NORM):
            return replace(left, scaled=True)
        if left.kind in (RAW, PARAM) and _is_number(right_node):
            return left
        return None

    def multiply(
        self, left: Value | None, right: Value | None, left_node: ast.AST, right_node: ast.AST
    ) -> Value | None:
        for this, other, other_node, this_node in (
            (left, right, right_node, left_node),
            (right, left, left_node, right_node),
        ):
            if this is None:
                continue
            if this.kind in FEATURES and other is not None and other.kind in FEATURES:
                if ast.dump(this_node) == ast.dump(other_node):
                    return Value(SQ)
                return Value(PROD, pairs=((left_node, left), (right_node, right)))
            if this.kind in (COS, NORM) and (other is None or other.kind not in FEATURES):
                return replace(this, scaled=True)
            if this.kind in (RAW, PARAM) and _is_number(other_node):
                return this
        return None

    # ---- calls --------------------------------------------------------------------------------

    def call(self, node: ast.Call) -> Value | None:
        func = node.func
        receiver = self.ev(func.value) if isinstance(func, ast.Attribute) else None
        if isinstance(func, ast.Name):
            self.values[func] = self.env.get(func.id)
        args = [self.ev(a.value if isinstance(a, ast.Starred) else a) for a in node.args]
        for keyword in node.keywords:
            self.ev(keyword.value)
        name = self.file.qualname(func)
        if name is not None:
            result = self.library_call(node, name, args)
            if result is not _UNHANDLED:
                return result
        if isinstance(func, ast.Attribute):
            result = self.method_call(node, func.attr, receiver, args)
            if result is not _UNHANDLED:
                return result
        if isinstance(func, ast.Name) and func.id == "self":
            return self.self_call(node)
        if isinstance(func, ast.Name) and func.id in self.env:
            return self.call_value(node, self.env[func.id], args)
        return self.project_call(node, args)

    def call_value(self, node: ast.Call, callee: Value | None, args: list) -> Value | None:
        if callee is None:
            return None
        if callee.kind == COSMOD and len(args) == 2:
            return Value(COS)
        if callee.kind == SOFTMOD and args:
            self.softmax(node, args[0])
            return None
        if callee.kind == MODEL_PROJ:
            return Value(OUT_PROJ, detail=callee.detail)
        if callee.kind == MODEL_JOINT:
            return Value(OUT_JOINT, detail=callee.detail)
        if callee.kind == INSTANCE:
            owner, cls = callee.pairs
            return self.instance_call(node, _call_method(owner, cls), callee)
        return None

    def library_call(self, node: ast.Call, name: str, args: list) -> object:
        first = args[0] if args else None
        if name == "torch.nn.functional.normalize":
            power = _keyword(node, "p") or (node.args[1] if len(node.args) > 1 else None)
            if power is not None and _const(power) not in (2, 2.0):
                return None
            return normalized(first, "torch")
        if name == "sklearn.preprocessing.normalize":
            norm = _keyword(node, "norm") or (node.args[1] if len(node.args) > 1 else None)
            axis = _keyword(node, "axis")
            if (norm is not None and _const(norm) != "l2") or (
                axis is not None and _const(axis) != 1
            ):
                return None
            return normalized(first, "numpy")
        if name in NORM_FUNCTIONS:
            return self.norm_of(node)
        if name in NORM_KEEPERS:
            return Value(NORMOF) if any(a is not None and a.kind == NORMOF for a in args) else None
        if name in ("torch.sqrt", "numpy.sqrt"):
            return Value(NORMOF) if first is not None and first.kind == SUMSQ else None
        if name in ("torch.pow", "numpy.power") and len(node.args) == 2:
            return self.binop(node, ast.Pow(), first, None, node.args[0], node.args[1])
        if name in ("torch.square", "numpy.square"):
            return Value(SQ) if first is not None and first.kind in FEATURES else None
        if name in ("torch.sum", "numpy.sum"):
            return self.summed(node, first)
        if name in ("torch.mean", "numpy.mean", "numpy.average"):
            return self.mean(
                node, first, node.args[1:], axis_name="dim" if name == "torch.mean" else "axis"
            )
        if name in DOT_FUNCTIONS:
            operands = list(zip(node.args, args))
            if name.endswith("einsum"):
                operands = operands[1:]
            if len(operands) < 2 or any(isinstance(a, ast.Starred) for a in node.args):
                return None
            return self.sink(node, name.replace("numpy.", "np."), operands[:2])
        if name in JOIN_FUNCTIONS:
            return self.joined(first, "numpy" if name.startswith("numpy.") else "torch")
        if name in SOFTMAX_FUNCTIONS:
            self.softmax(node, first)
            return None
        if name in COSINE_FUNCTIONS:
            return Value(COS)
        if name == "torch.nn.CosineSimilarity":
            return Value(COSMOD)
        if name == "torch.nn.Softmax":
            return Value(SOFTMOD)
        if name in FAISS_INDEXES:
            return Value(INDEX, detail=name.split(".")[-1])
        if name in FAISS_WRAPPERS:
            return first if first is not None and first.kind == INDEX else None
        if isinstance(node.func, ast.Attribute) and node.func.attr == "from_pretrained":
            return _pretrained_model(self.file.qualname(node.func.value))
        return _UNHANDLED

    def method_call(
        self, node: ast.Call, method: str, receiver: Value | None, args: list
    ) -> object:
        if receiver is not None and receiver.kind == INSTANCE:
            return self.instance_call(node, method, receiver)
        if method in SOURCE_METHODS:
            if (
                receiver is not None
                and receiver.kind == MODEL_OTHER
                and method.startswith("encode_")
            ):
                return None
            return self.source_call(node, method)
        if receiver is None:
            return _UNHANDLED
        kind = receiver.kind
        if method in PASSTHROUGH and kind in (
            *FEATURES,
            COS,
            NORMOF,
            LIST,
            MODEL_PROJ,
            MODEL_JOINT,
            MODEL_OTHER,
        ):
            if method in TO_NUMPY:
                return replace(receiver, backend="numpy")
            if method == "tolist":
                return replace(receiver, backend=None)
            return receiver
        if method == "norm" and kind in FEATURES:
            return self.norm_of(node)
        if method in ("div", "true_divide", "div_") and len(args) == 1:
            return self.divide(receiver, args[0], node.args[0])
        if method == "mul" and len(args) == 1:
            return self.multiply(receiver, args[0], node.func.value, node.args[0])
        if method in ("pow", "pow_") and len(node.args) == 1:
            return self.binop(node, ast.Pow(), receiver, args[0], node.func.value, node.args[0])
        if method == "square":
            return Value(SQ) if kind in FEATURES else None
        if method == "sqrt":
            return Value(NORMOF) if kind == SUMSQ else None
        if method == "sum":
            return self.summed(node, receiver)
        if method == "mean":
            return self.mean(node, receiver, node.args, axis_name="dim")
        if method in DOT_METHODS and len(args) == 1:
            return self.sink(
                node, f".{method}", [(node.func.value, receiver), (node.args[0], args[0])]
            )
        if method in ("softmax", "log_softmax"):
            self.softmax(node, receiver)
            return None
        if kind == INDEX and method in ("add", "search", "add_with_ids", "train") and args:
            return self.sink(node, f"faiss {receiver.detail}.{method}", [(node.args[0], args[0])])
        if kind in (MODEL_PROJ, MODEL_JOINT) and method in ("forward", "__call__"):
            return self.call_value(node, receiver, args)
        return _UNHANDLED

    def source_call(self, node: ast.Call, method: str) -> Value | None:
        normalize = _keyword(node, "normalize")
        if normalize is not None:
            if _const(normalize) is not True:
                return None
            return Value(NORM, backend="torch", source=method)
        if method.startswith("encode_") and (len(node.args) > 1 or node.keywords):
            return None  # open_clip's positional `normalize`, or another library's signature
        func = node.func
        if isinstance(func.value, ast.Name) and func.value.id == "self":
            own = self.own_method(method)
            if own is not None:
                result = self.model.result(own)
                return (
                    None
                    if result is None
                    else self.apply_summary(node, result.summary, own, method, self.model)
                )
        if not self.collecting and not self.model.wraps_raw(method):
            return None
        return Value(RAW, backend="torch", source=method, origin=node, path=self.file.path)

    def norm_of(self, node: ast.Call) -> Value | None:
        power = _keyword(node, "p") or _keyword(node, "ord")
        if power is not None and _const(power) not in (2, 2.0, None):
            return None
        return Value(NORMOF)

    def summed(self, node: ast.Call, value: Value | None) -> Value | None:
        if value is None:
            return None
        if value.kind == SQ:
            return Value(SUMSQ)
        if value.kind == PROD:
            return self.sink(node, "(a * b).sum()", list(value.pairs))
        return None

    def mean(
        self, node: ast.Call, value: Value | None, positional: list, axis_name: str
    ) -> Value | None:
        if value is not None and value.kind == LIST:
            value = value.items[0] if value.items else None
        if value is None:
            return None
        axis = (
            _keyword(node, axis_name)
            or _keyword(node, "axis")
            or (positional[0] if positional else None)
        )
        if axis is None or not isinstance(_const(axis), int) or _const(axis) in (-1,):
            return None  # a mean over the feature axis or over everything is not a prototype
        if value.kind in (NORM, MEAN):
            return Value(MEAN, backend=value.backend, origin=node, path=self.file.path)
        if value.kind == RAW:
            return value
        return None

    def joined(self, value: Value | None, backend: str) -> Value | None:
        if value is None:
            return None
        if value.kind == LIST:
            value = value.items[0] if value.items else None
        elif value.kind == TUPLE:
            element = value.items[0] if value.items else None
            for item in value.items[1:]:
                element = join(element, item)
            value = element
        if value is None or value.kind not in (*FEATURES, COS):
            return None
        return replace(value, backend=backend)

    # ---- interprocedural ----------------------------------------------------------------------

    def own_method(self, name: str) -> ast.AST | None:
        owner = self.model.classes.get(self.scope)
        return self.model.methods.get((owner, name)) if owner is not None else None

    def self_call(self, node: ast.Call) -> Value | None:
        """`self(x)` in a method: calling this class's own instance."""
        owner = self.model.classes.get(self.scope)
        if owner is None:
            return None
        instance = Value(INSTANCE, detail=owner.name, pairs=(self.model, owner))
        return self.instance_call(node, _call_method(self.model, owner), instance)

    def project_call(self, node: ast.Call, args: list) -> Value | None:
        if self.collecting:
            return None
        cls = self.resolve_class(node.func)
        if cls is not None:
            return Value(INSTANCE, detail=cls[1].name, pairs=cls)
        target = self.resolve_function(node.func)
        if target is None:
            return None
        model, func = target
        result = model.result(func)
        if result is None:
            return None
        return self.apply_summary(node, result.summary, func, dotted_name(node.func) or "", model)

    def resolve_function(self, func: ast.AST) -> tuple[ModuleModel, ast.AST] | None:
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "self"
        ):
            own = self.own_method(func.attr)
            return (self.model, own) if own is not None else None
        return self._definition(func, "functions")

    def resolve_class(self, func: ast.AST) -> tuple[ModuleModel, ast.ClassDef] | None:
        return self._definition(func, "class_defs")

    def _definition(self, func: ast.AST, table: str) -> tuple[ModuleModel, ast.AST] | None:
        """A function or class `func` names, defined in this module or imported from another."""
        if isinstance(func, ast.Name) and func.id in getattr(self.model, table):
            local = getattr(self.model, table)[func.id]
            return (self.model, local) if local is not None else None
        found = self.foreign(func)
        if found is None:
            return None
        other_model, inner = found
        definition = getattr(other_model, table).get(inner)
        return (other_model, definition) if definition is not None else None

    def foreign(self, func: ast.AST) -> tuple[ModuleModel, str] | None:
        """The model of the project module an imported name comes from, and the name in it."""
        qualified = self.file.qualname(func)
        project = self.file.project
        if qualified is None or project is None:
            return None
        found = project_lookup(self.file, qualified)
        if found is None:
            return None
        path, inner = found
        other = project.source(path)
        if other is None or "." in inner:
            return None
        return module_model(other), inner

    def instance_call(self, node: ast.Call, method: str, receiver: Value) -> Value | None:
        if self.collecting:
            return None
        owner, cls = receiver.pairs
        func = owner.methods.get((cls, method))
        if func is None:
            return None
        result = owner.result(func)
        if result is None:
            return None
        return self.apply_summary(node, result.summary, func, f"{cls.name}.{method}", owner)

    def arguments(
        self, node: ast.Call, func: ast.AST, owner: ModuleModel
    ) -> dict[int, tuple[ast.AST, Value | None]]:
        names = _params(func)
        offset = 1 if _is_method(owner, func) else 0
        bound: dict[int, tuple[ast.AST, Value | None]] = {}
        for position, arg in enumerate(node.args):
            if isinstance(arg, ast.Starred):
                break
            bound[position + offset] = (arg, self.values.get(arg))
        for keyword in node.keywords:
            if keyword.arg in names:
                bound[names.index(keyword.arg)] = (keyword.value, self.values.get(keyword.value))
        return bound

    def apply_summary(
        self, node: ast.Call, summary: Summary, func: ast.AST, callee: str, owner: ModuleModel
    ) -> Value | None:
        """Substitute the arguments of a call into a callee's summary."""
        bound = self.arguments(node, func, owner)

        def substitute(value: Value | None) -> tuple[ast.AST | None, Value | None]:
            if value is None:
                return None, None
            if value.kind == NORM and value.param >= 0:
                arg = bound.get(value.param, (None, None))[1]
                return None, normalized(arg, value.backend)
            if value.kind == PARAM:
                arg_node, arg = bound.get(value.param, (None, None))
                if arg is None:
                    return None, None
                if value.backend and arg.kind in FEATURES:
                    arg = replace(arg, backend=value.backend)
                return arg_node, arg
            if value.kind in (TUPLE, LIST) and value.items:
                return None, replace(value, items=tuple(substitute(i)[1] for i in value.items))
            return None, value

        for spec in summary.sinks:
            operands = [substitute(v) for v in spec.operands]
            self.sink(node, spec.sink, operands, callee=callee)
        return substitute(summary.returns)[1]

    # ---- sinks --------------------------------------------------------------------------------

    def sink(self, node: ast.AST, sink: str, operands: list, callee: str = "") -> Value | None:
        """A dot product (or a faiss index) reached by `operands`; report or summarise."""
        values = [value for _, value in operands]
        if any(v is None or v.kind not in FEATURES for v in values):
            return None
        if any(v.kind == PARAM for v in values):
            if not isinstance(self.scope, ast.Module):
                self.sinks.append(SinkSpec(sink, tuple(values)))
            return None
        raw = [self.operand(n, v) for n, v in operands if v.kind == RAW]
        if raw and any(v.kind == NORM and not v.source for v in values):
            return None  # the normalized side may not be CLIP features (a cosine classifier head)
        if raw:
            self.events.append(Event("CG301", node, sink, raw, callee))
            return None
        means = [v for _, v in operands if v.kind == MEAN]
        if means:
            for value in means:
                here = value.origin is not None and value.path == self.file.path
                where = value.origin if here else node
                target = where if here else None
                self.events.append(
                    Event(
                        "CG303",
                        where,
                        sink,
                        [Operand(where, value, target, value.backend, self.stands_alone(target))],
                        callee,
                    )
                )
            return None
        if len(values) == 2 and not sink.startswith("faiss"):
            return Value(COS, scaled=any(v.scaled for v in values))
        return None

    def operand(self, node: ast.AST | None, value: Value) -> Operand:
        target, backend = self.wrap_target(node)
        return Operand(node, value, target, backend, self.stands_alone(target))

    def stands_alone(self, node: ast.AST | None) -> bool:
        parent = self.parents().get(node) if node is not None else None
        return isinstance(parent, (ast.keyword, ast.Assign, ast.Return)) or (
            isinstance(parent, ast.Call) and node in parent.args
        )

    def wrap_target(self, node: ast.AST | None) -> tuple[ast.AST | None, str | None]:
        """The sub-expression a fix can wrap in a normalization, and in which library."""
        while node is not None:
            value = self.values.get(node)
            if value is None or value.kind != RAW:
                return None, None
            if isinstance(node, ast.Attribute) and node.attr in ("T", "mT"):
                node = node.value
                continue
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in TRANSPOSES
            ):
                node = node.func.value
                continue
            if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
                left = self.values.get(node.left)
                node = node.left if left is not None and left.kind == RAW else node.right
                continue
            if value.backend == "torch":
                return node, "torch"
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in PASSTHROUGH
            ):
                inner = self.values.get(node.func.value)
                if inner is not None and inner.backend == "torch":
                    node = node.func.value
                    continue
            if value.backend == "numpy" and isinstance(node, ast.Name):
                return node, "numpy"
            return None, None
        return None, None

    def softmax(self, node: ast.Call, value: Value | None) -> None:
        if value is None or value.kind != COS or value.scaled:
            return
        if self.ranking_only(node):
            return
        self.events.append(Event("CG302", node, "softmax"))

    def ranking_only(self, node: ast.AST) -> bool:
        """A softmax whose result only feeds `argmax`/`argsort`: its scale cannot matter."""
        parents = self.parents()
        use = node
        while (
            isinstance(parents.get(use), ast.Attribute)
            and parents[use].attr in PASSTHROUGH | {"T"} | RANKING_ONLY
        ):
            attribute = parents[use]
            if attribute.attr in RANKING_ONLY:
                return True
            call = parents.get(attribute)
            use = call if isinstance(call, ast.Call) and call.func is attribute else attribute
        parent = parents.get(use)
        if isinstance(parent, ast.Call) and use in parent.args:
            name = self.file.name(parent.func) or ""
            return name.split(".")[-1] in RANKING_ONLY
        if (
            isinstance(parent, ast.Assign)
            and len(parent.targets) == 1
            and isinstance(parent.targets[0], ast.Name)
        ):
            return self.name_ranking_only(parent.targets[0].id, parent)
        return False

    def name_ranking_only(self, name: str, assignment: ast.AST) -> bool:
        parents = self.parents()
        uses = [
            n
            for n in ast.walk(self.scope)
            if isinstance(n, ast.Name)
            and n.id == name
            and isinstance(n.ctx, ast.Load)
            and n.lineno >= assignment.lineno
        ]
        if not uses:
            return False
        for use in uses:
            parent = parents.get(use)
            if isinstance(parent, ast.Attribute) and parent.attr in RANKING_ONLY:
                continue
            if (
                isinstance(parent, ast.Call)
                and use in parent.args
                and (self.file.name(parent.func) or "").split(".")[-1] in RANKING_ONLY
            ):
                continue
            return False
        return True

    def parents(self) -> dict[ast.AST, ast.AST]:
        if self._parents is None:
            self._parents = {
                child: parent
                for parent in ast.walk(self.scope)
                for child in ast.iter_child_nodes(parent)
            }
        return self._parents


_UNHANDLED = object()


def normalized(value: Value | None, backend: str | None) -> Value:
    """The L2 normalization of `value`: it remembers whether CLIP features went in (its
    `source`), or which parameter, so that a sink can tell CLIP features from other vectors."""
    if value is not None and value.kind == LIST and value.items:
        value = value.items[0]
    if value is None or value.kind not in FEATURES:
        return Value(NORM, backend=backend)
    if value.kind == PARAM or (value.kind == NORM and value.param >= 0):
        return Value(NORM, backend=backend or value.backend, param=value.param)
    return Value(NORM, backend=backend or value.backend, source=value.source or "features")


def _join_missing(value: Value | None) -> Value | None:
    """A name bound on only one path: a list that may still be empty keeps its element kind."""
    return value if value is not None and value.kind == LIST else None


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


def _pretrained_model(qualified: str | None) -> Value | None:
    """`*WithProjection` models return raw embeds; a joint CLIP model normalizes its own."""
    if not qualified or not qualified.startswith("transformers."):
        return None
    cls = qualified.rsplit(".", 1)[-1]
    if cls.endswith("WithProjection"):
        return Value(MODEL_PROJ, detail=cls)
    upper = cls.upper()
    if (
        cls.endswith("Model")
        and ("CLIP" in upper or "SIGLIP" in upper or upper == "ALIGNMODEL")
        and "VISION" not in upper
        and "TEXT" not in upper
    ):
        return Value(MODEL_JOINT, detail=cls)
    return Value(MODEL_OTHER, detail=cls)


def _call_method(owner: ModuleModel, cls: ast.ClassDef) -> str:
    """The method calling an instance runs: `__call__`, else `forward` (as `nn.Module` does)."""
    return "__call__" if (cls, "__call__") in owner.methods else "forward"


def events(file: SourceFile, rule: str) -> list[Event]:
    """The events of one rule in a file, from the shared analysis."""
    return [e for e in module_model(file).events() if e.rule == rule]
