"""The feature analysis of one function: one pass over its body in statement order.

A flow-sensitive abstract interpretation over the stdlib `ast`: each expression gets a `State`
(raw features, normalized ones, a norm, cosines...), branches are joined, calls into the
project's own functions apply their summaries. It records facts (`Similarity`, `Softmax`) and
the summary its callers apply: what it returns in terms of its parameters, and which parameters
reach a similarity sink.
"""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import TYPE_CHECKING

from clipguard.analysis.imports import dotted_name
from clipguard.analysis.lookup import project_lookup
from clipguard.analysis.nodes import constant, is_number, keyword
from clipguard.analysis.states import (
    COS,
    COSMOD,
    FEATURES,
    INDEX,
    INSTANCE,
    LIST,
    MEAN,
    MIXED,
    MODEL_JOINT,
    MODEL_OTHER,
    MODEL_PROJ,
    NORM,
    NORMOF,
    OUT_JOINT,
    OUT_PROJ,
    PARAM,
    PROD,
    RAW,
    SOFTMOD,
    SQ,
    SUMSQ,
    TUPLE,
    Operand,
    Returned,
    Similarity,
    SinkSpec,
    Softmax,
    State,
    Summary,
    depends_on_parameters,
    join,
    join_missing,
    normalized,
)
from clipguard.analysis.vocab.features import (
    COSINE_FUNCTIONS,
    DOT_FUNCTIONS,
    DOT_METHODS,
    EMBED_ATTRS,
    FAISS_INDEXES,
    FAISS_WRAPPERS,
    JOIN_FUNCTIONS,
    NORM_FUNCTIONS,
    NORM_KEEPERS,
    RANKING_ONLY,
    SOFTMAX_FUNCTIONS,
    SOURCE_METHODS,
    TO_NUMPY,
    TRANSPOSES,
    VECTOR_KEEPERS,
)
from clipguard.analysis.vocab.models import MODEL_KEEPERS

if TYPE_CHECKING:
    from clipguard.analysis.features import FeatureModule

_UNHANDLED = object()


class FunctionAnalysis:
    """One pass over a function body (or the module body) in statement order."""

    def __init__(self, model: FeatureModule, scope: ast.AST, collecting: bool = False) -> None:
        self.model = model
        self.collecting = collecting  # the globals pre-pass: no calls into other functions
        self.file = model.file
        self.scope = scope
        self.env: dict[str, State | None] = {}
        self.values: dict[ast.AST, State | None] = {}
        self.facts: list[Similarity | Softmax | Returned] = []
        self.sinks: list[SinkSpec] = []
        self.returns: list[State | None] = []
        self._parents: dict[ast.AST, ast.AST] | None = None
        if not isinstance(scope, ast.Module):
            self.env.update(model.globals())
            owner = model.classes.get(scope)
            if owner is not None and scope.name != "__init__":
                self.env.update(model.attributes(owner))
            for index, name in enumerate(parameters(scope)):
                self.env[name] = State(PARAM, param=index)
            for arg in (*scope.args.kwonlyargs, scope.args.vararg, scope.args.kwarg):
                if arg is not None:
                    self.env[arg.arg] = None

    # ---- driver -------------------------------------------------------------------------------

    def run(self) -> None:
        try:
            self.block(self.scope.body)
        except RecursionError:
            # too deeply nested to follow (a 1500-term sum): this scope says nothing
            self.facts, self.sinks, self.returns = [], [], [None]
            self.env = {}

    def summary(self) -> Summary:
        returns: State | None = None
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
            returned = self.ev(stmt.value) if stmt.value is not None else None
            self.returns.append(returned)
            if stmt.value is not None and not isinstance(self.scope, ast.Module):
                self.facts.append(Returned(stmt.value, returned, self.scope))
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
                else join_missing(first.get(name, second.get(name)))
            )
        self.env = merged

    def merge_into(self, other: dict) -> None:
        self.merge(dict(self.env), other)

    def kill_assigned(self, stmt: ast.AST) -> None:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                self.env[node.id] = None

    def bind(self, target: ast.AST, value: State | None) -> None:
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
                self.env[key] = join(receiver, State(LIST, items=(args[0],)))
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

    def extend(self, current: State, added: State | None) -> State | None:
        """`items.extend(added)` or `items += added`: a list of features takes an array's rows."""
        if added is not None and added.kind in FEATURES:
            added = State(LIST, items=(added,))
        if added is None or added.kind != LIST:
            return None
        return join(current, added)

    # ---- expressions --------------------------------------------------------------------------

    def ev(self, node: ast.AST | None) -> State | None:
        if node is None:
            return None
        value = self._ev(node)
        self.values[node] = value
        return value

    def _ev(self, node: ast.AST) -> State | None:
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
            return State(TUPLE, items=tuple(self.ev(e) for e in node.elts))
        if isinstance(node, ast.List):
            values = [self.ev(e) for e in node.elts]
            element = values[0] if values else None
            for value in values[1:]:
                element = join(element, value)
            return State(LIST, items=(element,) if values else ())
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

    def comprehension(self, node: ast.ListComp | ast.GeneratorExp) -> State | None:
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
        return State(LIST, items=(element,))

    def attribute(self, node: ast.Attribute) -> State | None:
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
                return State(
                    RAW,
                    backend="torch",
                    source=f"{base.detail}.{node.attr}",
                    origin=node,
                    path=self.file.path,
                )
            if base.kind == OUT_JOINT:
                return State(NORM, backend="torch", source=f"{base.detail}.{node.attr}")
        if node.attr == "pooler_output" and base.kind == RAW:
            return base  # transformers 5 returns an output object from get_*_features
        return None

    def subscript(self, node: ast.Subscript) -> State | None:
        base = self.ev(node.value)
        self.ev(node.slice)
        if base is None:
            return None
        if base.kind == TUPLE:
            index = constant(node.slice)
            if isinstance(index, int) and -len(base.items) <= index < len(base.items):
                return base.items[index]
            return None
        if base.kind == LIST:
            if isinstance(node.slice, ast.Slice):
                return base
            return base.items[0] if base.items else None
        if base.kind in (OUT_PROJ, OUT_JOINT) and constant(node.slice) in EMBED_ATTRS:
            return (
                State(
                    RAW,
                    backend="torch",
                    source=f"{base.detail}[{constant(node.slice)!r}]",
                    origin=node,
                    path=self.file.path,
                )
                if base.kind == OUT_PROJ
                else State(NORM, backend="torch", source=base.detail)
            )
        if base.kind in (*FEATURES, COS, NORMOF):
            return base
        return None

    # ---- arithmetic ---------------------------------------------------------------------------

    def binop(
        self,
        node: ast.AST,
        op: ast.operator,
        left: State | None,
        right: State | None,
        left_node: ast.AST,
        right_node: ast.AST,
    ) -> State | None:
        if isinstance(op, ast.MatMult):
            return self.sink(node, "@", [(left_node, left), (right_node, right)])
        if isinstance(op, ast.Div):
            return self.divide(left, right, right_node)
        if isinstance(op, ast.Mult):
            return self.multiply(left, right, left_node, right_node)
        if isinstance(op, ast.Pow):
            exponent = constant(right_node)
            if left is not None and left.kind in (*FEATURES, COS) and exponent == 2:
                return State(SQ)
            if left is not None and left.kind == SUMSQ and exponent == 0.5:
                return State(NORMOF)
            return None
        if isinstance(op, (ast.Add, ast.Sub)):
            # `norm + eps` is still a norm
            if left is not None and left.kind == NORMOF and is_number(right_node):
                return left
            return None
        return None

    def divide(self, left: State | None, right: State | None, right_node: ast.AST) -> State | None:
        if right is not None and right.kind == NORMOF and (left is None or left.kind in FEATURES):
            return normalized(left, left.backend if left else None)
        if left is None:
            return None
        if left.kind in (COS, NORM):
            return replace(left, scaled=True)
        if left.kind in (RAW, PARAM, MIXED) and is_number(right_node):
            return left
        return None

    def multiply(
        self, left: State | None, right: State | None, left_node: ast.AST, right_node: ast.AST
    ) -> State | None:
        for this, other, other_node, this_node in (
            (left, right, right_node, left_node),
            (right, left, left_node, right_node),
        ):
            if this is None:
                continue
            if this.kind in FEATURES and other is not None and other.kind in FEATURES:
                if ast.dump(this_node) == ast.dump(other_node):
                    return State(SQ)
                return State(PROD, pairs=((left_node, left), (right_node, right)))
            if this.kind in (COS, NORM) and (other is None or other.kind not in FEATURES):
                return replace(this, scaled=True)
            if this.kind in (RAW, PARAM, MIXED) and is_number(other_node):
                return this
        return None

    # ---- calls --------------------------------------------------------------------------------

    def call(self, node: ast.Call) -> State | None:
        func = node.func
        receiver = self.ev(func.value) if isinstance(func, ast.Attribute) else None
        if isinstance(func, ast.Name):
            self.values[func] = self.env.get(func.id)
        args = [self.ev(a.value if isinstance(a, ast.Starred) else a) for a in node.args]
        for passed in node.keywords:
            self.ev(passed.value)
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
        held = dotted_name(func) if isinstance(func, ast.Attribute) else None
        if held in self.env:  # `self.encoder(...)`, a model kept as an attribute
            return self.call_value(node, self.env[held], args)
        return self.project_call(node, args)

    def call_value(self, node: ast.Call, callee: State | None, args: list) -> State | None:
        if callee is None:
            return None
        if callee.kind == COSMOD and len(args) == 2:
            return State(COS)
        if callee.kind == SOFTMOD and args:
            self.softmax(node, args[0])
            return None
        if callee.kind == MODEL_PROJ:
            return State(OUT_PROJ, detail=callee.detail)
        if callee.kind == MODEL_JOINT:
            return State(OUT_JOINT, detail=callee.detail)
        if callee.kind == INSTANCE:
            owner, cls = callee.pairs
            return self.instance_call(node, owner.call_method(cls), callee)
        return None

    def library_call(self, node: ast.Call, name: str, args: list) -> object:
        first = args[0] if args else None
        if name == "torch.nn.functional.normalize":
            power = keyword(node, "p") or (node.args[1] if len(node.args) > 1 else None)
            if power is not None and constant(power) not in (2, 2.0):
                return None
            return normalized(first, "torch")
        if name == "sklearn.preprocessing.normalize":
            norm = keyword(node, "norm") or (node.args[1] if len(node.args) > 1 else None)
            axis = keyword(node, "axis")
            if (norm is not None and constant(norm) != "l2") or (
                axis is not None and constant(axis) != 1
            ):
                return None
            return normalized(first, "numpy")
        if name in NORM_FUNCTIONS:
            return self.norm_of(node)
        if name in NORM_KEEPERS:
            return State(NORMOF) if any(a is not None and a.kind == NORMOF for a in args) else None
        if name in ("torch.sqrt", "numpy.sqrt"):
            return State(NORMOF) if first is not None and first.kind == SUMSQ else None
        if name in ("torch.pow", "numpy.power") and len(node.args) == 2:
            return self.binop(node, ast.Pow(), first, None, node.args[0], node.args[1])
        if name in ("torch.square", "numpy.square"):
            return State(SQ) if first is not None and first.kind in FEATURES else None
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
            return State(COS)
        if name == "torch.nn.CosineSimilarity":
            return State(COSMOD)
        if name == "torch.nn.Softmax":
            return State(SOFTMOD)
        if name in FAISS_INDEXES:
            return State(INDEX, detail=name.split(".")[-1])
        if name in FAISS_WRAPPERS:
            return first if first is not None and first.kind == INDEX else None
        if isinstance(node.func, ast.Attribute) and node.func.attr == "from_pretrained":
            return pretrained_model(self.file.qualname(node.func.value))
        return _UNHANDLED

    def method_call(
        self, node: ast.Call, method: str, receiver: State | None, args: list
    ) -> object:
        if receiver is not None and receiver.kind == INSTANCE:
            owner, cls = receiver.pairs
            if (cls, method) not in owner.methods and method in MODEL_KEEPERS:
                return receiver  # `Wrapper().eval()`, `.to(device)`: nn.Module's, the same object
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
        if method in VECTOR_KEEPERS and kind in (
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
            return State(SQ) if kind in FEATURES else None
        if method == "sqrt":
            return State(NORMOF) if kind == SUMSQ else None
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

    def source_call(self, node: ast.Call, method: str) -> State | None:
        normalize = keyword(node, "normalize")
        if normalize is not None:
            if constant(normalize) is not True:
                return None
            return State(NORM, backend="torch", source=method)
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
        return State(RAW, backend="torch", source=method, origin=node, path=self.file.path)

    def norm_of(self, node: ast.Call) -> State | None:
        power = keyword(node, "p") or keyword(node, "ord")
        if power is not None and constant(power) not in (2, 2.0, None):
            return None
        return State(NORMOF)

    def summed(self, node: ast.Call, value: State | None) -> State | None:
        if value is None:
            return None
        if value.kind == SQ:
            return State(SUMSQ)
        if value.kind == PROD:
            return self.sink(node, "(a * b).sum()", list(value.pairs))
        return None

    def mean(
        self, node: ast.Call, value: State | None, positional: list, axis_name: str
    ) -> State | None:
        if value is not None and value.kind == LIST:
            value = value.items[0] if value.items else None
        if value is None:
            return None
        axis = (
            keyword(node, axis_name)
            or keyword(node, "axis")
            or (positional[0] if positional else None)
        )
        if axis is None or not isinstance(constant(axis), int) or constant(axis) in (-1,):
            return None  # a mean over the feature axis or over everything is not a prototype
        if value.kind in (NORM, MEAN):
            return State(MEAN, backend=value.backend, origin=node, path=self.file.path)
        if value.kind == RAW:
            return value
        return None

    def joined(self, value: State | None, backend: str) -> State | None:
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

    def self_call(self, node: ast.Call) -> State | None:
        """`self(x)` in a method: calling this class's own instance."""
        owner = self.model.classes.get(self.scope)
        if owner is None:
            return None
        instance = State(INSTANCE, detail=owner.name, pairs=(self.model, owner))
        return self.instance_call(node, self.model.call_method(owner), instance)

    def project_call(self, node: ast.Call, args: list) -> State | None:
        cls = self.resolve_class(node.func)
        if cls is not None:
            return State(INSTANCE, detail=cls[1].name, pairs=cls)
        if self.collecting:
            return None
        target = self.resolve_function(node.func)
        if target is None:
            return None
        model, func = target
        result = model.result(func)
        if result is None:
            return None
        return self.apply_summary(node, result.summary, func, dotted_name(node.func) or "", model)

    def resolve_function(self, func: ast.AST) -> tuple[FeatureModule, ast.AST] | None:
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "self"
        ):
            own = self.own_method(func.attr)
            return (self.model, own) if own is not None else None
        return self._definition(func, "functions")

    def resolve_class(self, func: ast.AST) -> tuple[FeatureModule, ast.ClassDef] | None:
        return self._definition(func, "class_defs")

    def _definition(self, func: ast.AST, table: str) -> tuple[FeatureModule, ast.AST] | None:
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

    def foreign(self, func: ast.AST) -> tuple[FeatureModule, str] | None:
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
        return self.model.module_of(other), inner

    def instance_call(self, node: ast.Call, method: str, receiver: State) -> State | None:
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
        self, node: ast.Call, func: ast.AST, owner: FeatureModule
    ) -> dict[int, tuple[ast.AST, State | None]]:
        names = parameters(func)
        offset = 1 if _is_method(owner, func) else 0
        bound: dict[int, tuple[ast.AST, State | None]] = {}
        for position, arg in enumerate(node.args):
            if isinstance(arg, ast.Starred):
                break
            bound[position + offset] = (arg, self.values.get(arg))
        for passed in node.keywords:
            if passed.arg in names:
                bound[names.index(passed.arg)] = (passed.value, self.values.get(passed.value))
        return bound

    def apply_summary(
        self, node: ast.Call, summary: Summary, func: ast.AST, callee: str, owner: FeatureModule
    ) -> State | None:
        """Substitute the arguments of a call into a callee's summary."""
        bound = self.arguments(node, func, owner)

        def substitute(value: State | None) -> tuple[ast.AST | None, State | None]:
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
            if value.kind == MIXED:
                found = [substitute(i) for i in value.items]
                merged = found[0][1]
                for _, alternative in found[1:]:
                    merged = join(merged, alternative)
                arg_node = next((n for n, _ in found if n is not None), None)
                return arg_node, merged
            return None, value

        for spec in summary.sinks:
            operands = [substitute(v) for v in spec.operands]
            self.sink(node, spec.sink, operands, callee=callee)
        return substitute(summary.returns)[1]

    # ---- sinks --------------------------------------------------------------------------------

    def sink(self, node: ast.AST, sink: str, operands: list, callee: str = "") -> State | None:
        """Vectors meeting in a dot product (or a faiss index): a fact, or a summary's sink."""
        values = [value for _, value in operands]
        if any(v is None or v.kind not in FEATURES for v in values):
            return None
        if any(depends_on_parameters(v) for v in values):
            if not isinstance(self.scope, ast.Module):
                self.sinks.append(SinkSpec(sink, tuple(values)))
            return None
        self.facts.append(Similarity(node, sink, [self.operand(n, v) for n, v in operands], callee))
        if (
            len(values) == 2
            and all(v.kind == NORM for v in values)
            and not sink.startswith("faiss")
        ):
            return State(COS, scaled=any(v.scaled for v in values))
        return None

    def operand(self, node: ast.AST | None, value: State) -> Operand:
        if value.kind == MEAN:  # a fix normalizes the mean where it is taken, if in this file
            here = value.origin is not None and value.path == self.file.path
            target = value.origin if here else None
            return Operand(node, value, target, value.backend, self.stands_alone(target))
        target, backend = self.wrap_target(node) if value.kind == RAW else (None, None)
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
                and node.func.attr in VECTOR_KEEPERS
            ):
                inner = self.values.get(node.func.value)
                if inner is not None and inner.backend == "torch":
                    node = node.func.value
                    continue
            if value.backend == "numpy" and isinstance(node, ast.Name):
                return node, "numpy"
            return None, None
        return None, None

    def softmax(self, node: ast.Call, value: State | None) -> None:
        self.facts.append(Softmax(node, value, lambda: self.ranking_only(node)))

    def ranking_only(self, node: ast.AST) -> bool:
        """A softmax whose result only feeds `argmax`/`argsort`: its scale cannot matter."""
        parents = self.parents()
        use = node
        while (
            isinstance(parents.get(use), ast.Attribute)
            and parents[use].attr in VECTOR_KEEPERS | {"T"} | RANKING_ONLY
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


def parameters(func: ast.AST) -> list[str]:
    args = func.args
    return [a.arg for a in (*args.posonlyargs, *args.args)]


def _is_method(model: FeatureModule, func: ast.AST) -> bool:
    if func not in model.classes:
        return False
    return not any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in func.decorator_list)


def pretrained_model(qualified: str | None) -> State | None:
    """`*WithProjection` models return raw embeds; a joint CLIP model normalizes its own."""
    if not qualified or not qualified.startswith("transformers."):
        return None
    cls = qualified.rsplit(".", 1)[-1]
    if cls.endswith("WithProjection"):
        return State(MODEL_PROJ, detail=cls)
    upper = cls.upper()
    if (
        cls.endswith("Model")
        and ("CLIP" in upper or "SIGLIP" in upper or upper == "ALIGNMODEL")
        and "VISION" not in upper
        and "TEXT" not in upper
    ):
        return State(MODEL_JOINT, detail=cls)
    return State(MODEL_OTHER, detail=cls)
