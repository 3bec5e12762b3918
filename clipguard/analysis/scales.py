"""Where a library CLIP model's `logit_scale` is used as a plain factor, and what the product feeds.

open_clip, openai/CLIP and transformers keep the learned temperature in log space: the parameter
`logit_scale` holds log(1/T), about 4.6 (log 100) for a trained model, and their own forward
multiplies by `logit_scale.exp()`. What a forward returns (`model(image, text)`'s third value,
`model_out["logit_scale"]`) is already exponentiated, and so is anything passed through `.exp()`:
neither is a read of the parameter. A project's own scale parameter is its own business.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from clipguard.analysis.flow import flow_of
from clipguard.analysis.identity import role
from clipguard.analysis.models import Build
from clipguard.analysis.nodes import all_nodes, walk
from clipguard.analysis.source import SourceFile
from clipguard.analysis.vocab.features import COSINE_FUNCTIONS, DOT_FUNCTIONS, DOT_METHODS
from clipguard.analysis.vocab.scales import (
    CLAMPS,
    EXPONENTIALS,
    LOG_SCALE_LIBRARIES,
    LOGIT_KEEPERS,
    LOSSES,
    MULTIPLIES,
    RANKINGS,
    SCALE_KEEPERS,
    SIGMOIDS,
    SOFTMAXES,
    TO_PYTHON,
)

MAX_HOPS = 6


@dataclass(frozen=True)
class ScaleFactor:
    """The log-space `logit_scale` of `build`'s model, read at `read`, multiplies at `product`
    without `.exp()`. `factor` is the operand that holds it, `logits` the whole product and
    `feeds` what its value reaches: softmax, sigmoid, loss, threshold, ranking (argmax, top-k),
    escapes (returned, stored or passed on)."""

    read: ast.Attribute
    factor: ast.AST
    product: ast.AST
    logits: ast.AST
    build: Build
    similarities: bool  # another factor holds a dot product or cosine similarities
    feeds: frozenset[str]
    tensor: bool  # the factor is still a tensor (not `.item()`ed): `.exp()` applies to it


def log_scale_factors(file: SourceFile) -> list[ScaleFactor]:
    """Every multiplication by a library CLIP model's log-space `logit_scale` in this module."""
    return file.memo("clipguard.log_scale_factors", _log_scale_factors)


def _log_scale_factors(file: SourceFile) -> list[ScaleFactor]:
    found = []
    for node in all_nodes(file):
        if not (
            isinstance(node, ast.Attribute)
            and node.attr == "logit_scale"
            and isinstance(node.ctx, ast.Load)
        ):
            continue
        build = log_space_owner(file, node)
        if build is None:
            continue
        for factor, product, tensor in _linear_uses(file, node):
            logits = _whole_product(file, product)
            found.append(
                ScaleFactor(
                    node,
                    factor,
                    product,
                    logits,
                    build,
                    _has_dot(file, logits, factor, 0),
                    frozenset(_feeds(file, logits, 0)),
                    tensor,
                )
            )
    return found


def log_space_owner(file: SourceFile, read: ast.Attribute) -> Build | None:
    """The library CLIP model whose log-space parameter `X.logit_scale` reads: `X` holds one, or
    `X` is `self` of a class that keeps a library model's `logit_scale` (`self.logit_scale =
    clip_model.logit_scale`, as prompt-learning code does)."""
    held = role(file, read.value)
    if held is not None and not held.build.wrapper:  # a wrapper's own attribute: see below
        return held.build if _library_model(held.build) and held.kind == "model" else None
    if isinstance(read.value, ast.Name) and read.value.id == "self":
        flow = flow_of(file)
        owner = flow.enclosing_class(flow.scope.get(id(read), file.tree))
        values = flow.attrs.get((id(owner), "logit_scale"), []) if owner is not None else []
        owners = [
            log_space_owner(file, v)
            if isinstance(v, ast.Attribute) and v.attr == "logit_scale"
            else None
            for v in values
        ]
        if owners and all(owners):
            return owners[0]
    return None


def _library_model(build: Build) -> bool:
    return build.clip and not build.processor and build.factory.split(".")[0] in LOG_SCALE_LIBRARIES


def _linear_uses(file: SourceFile, read: ast.AST) -> Iterator[tuple[ast.AST, ast.AST, bool]]:
    """(factor, product, still a tensor) for each multiplication the parameter's value reaches
    in its function, through casts, moves, clamps and names, before any `.exp()`. A value passed
    to another function is not followed: the function may exponentiate it."""
    flow = flow_of(file)
    work, seen = [(read, True, 0)], set()
    while work:
        node, tensor, hops = work.pop()
        if id(node) in seen or hops > MAX_HOPS:
            continue
        seen.add(id(node))
        parent, field = flow.parent.get(id(node), (None, ""))
        if isinstance(parent, ast.Attribute):
            call = flow.parent.get(id(parent), (None, ""))[0]
            called = isinstance(call, ast.Call) and call.func is parent
            if parent.attr in EXPONENTIALS:
                continue
            if called and parent.attr == "mul":
                yield node, call, tensor
            elif called and parent.attr in SCALE_KEEPERS:
                work.append((call, tensor and parent.attr not in TO_PYTHON, hops))
            elif not called and parent.attr in ("data", "T"):
                work.append((parent, tensor, hops))
        elif isinstance(parent, ast.Call) and node is not parent.func:
            name = file.qualname(parent.func) or ""
            if name in MULTIPLIES:
                yield node, parent, tensor
            elif name in CLAMPS and parent.args and parent.args[0] is node:
                work.append((parent, tensor, hops))
            elif isinstance(parent.func, ast.Name) and parent.func.id == "float" and name == "":
                work.append((parent, False, hops))
        elif isinstance(parent, (ast.BinOp, ast.AugAssign)) and isinstance(parent.op, ast.Mult):
            if isinstance(parent, ast.BinOp) or field == "value":
                yield node, parent, tensor
        elif isinstance(parent, (ast.Assign, ast.AnnAssign)) and field == "value":
            for use in _loads_of(file, parent):
                work.append((use, tensor, hops + 1))


def _loads_of(file: SourceFile, statement: ast.AST) -> list[ast.Name]:
    """The uses of the names `statement` binds (or updates in place) that this binding reaches."""
    targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
    names = {t.id for t in targets if isinstance(t, ast.Name)}
    if not names:
        return []
    flow = flow_of(file)
    scope = flow.scope.get(id(statement), file.tree)
    return [
        n
        for n in walk(scope)
        if isinstance(n, ast.Name)
        and n.id in names
        and isinstance(n.ctx, ast.Load)
        and any(d.statement is statement for d in flow.definitions(n))
    ]


def _whole_product(file: SourceFile, product: ast.AST) -> ast.AST:
    """The whole arithmetic expression the product is part of (`scale * a @ b.T + bias`), or the
    name an in-place product (`logits *= scale`) updates."""
    if isinstance(product, ast.AugAssign):
        return product
    flow = flow_of(file)
    node = product
    while True:
        parent = flow.parent.get(id(node), (None, ""))[0]
        if isinstance(parent, ast.BinOp) and isinstance(
            parent.op, (ast.Mult, ast.MatMult, ast.Div, ast.Add, ast.Sub)
        ):
            node = parent
            continue
        if isinstance(parent, ast.Attribute) and parent.value is node:
            call = flow.parent.get(id(parent), (None, ""))[0]
            if parent.attr in ("T", "mT"):
                node = parent
                continue
            if isinstance(call, ast.Call) and call.func is parent and parent.attr in LOGIT_KEEPERS:
                node = call
                continue
        return node


def _has_dot(file: SourceFile, expression: ast.AST, factor: ast.AST, hops: int) -> bool:
    """Whether `expression` (besides `factor`) holds a dot product or cosine similarities, in
    itself or in what the names in it were bound to."""
    if hops > 3:
        return False
    flow = flow_of(file)
    if isinstance(expression, ast.AugAssign):
        return _has_dot(file, expression.target, factor, hops)
    inside = {id(n) for n in walk(factor)}
    for node in walk(expression):
        if id(node) in inside:
            continue
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            return True
        if isinstance(node, ast.Call):
            if (file.qualname(node.func) or "") in DOT_FUNCTIONS | COSINE_FUNCTIONS:
                return True
            if isinstance(node.func, ast.Attribute) and node.func.attr in DOT_METHODS:
                return True
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            for binding in flow.definitions(node):
                if (
                    binding.value is not None
                    and binding.parameter is None
                    and not isinstance(
                        binding.value, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
                    )
                    and _has_dot(file, binding.value, factor, hops + 1)
                ):
                    return True
    return False


def _feeds(file: SourceFile, node: ast.AST, hops: int) -> set[str]:
    """What the value of `node` reaches in its function."""
    if hops > MAX_HOPS:
        return {"escapes"}
    if isinstance(node, ast.AugAssign):
        return {kind for use in _loads_of(file, node) for kind in _feeds(file, use, hops + 1)}
    flow = flow_of(file)
    parent, field = flow.parent.get(id(node), (None, ""))
    if isinstance(parent, ast.Attribute):
        call = flow.parent.get(id(parent), (None, ""))[0]
        called = isinstance(call, ast.Call) and call.func is parent
        kind = _consumer(parent.attr)
        if kind:
            return {kind}
        if parent.attr in ("T", "mT") or (called and parent.attr in LOGIT_KEEPERS):
            return _feeds(file, call if called else parent, hops + 1)
        return {"escapes"}
    if isinstance(parent, ast.keyword):
        node, parent = parent, flow.parent.get(id(parent), (None, ""))[0]
    if isinstance(parent, ast.Call) and node is not parent.func:
        func = parent.func.func if isinstance(parent.func, ast.Call) else parent.func
        name = file.name(func) or ""
        return {
            _consumer(name.rsplit(".", 1)[-1]) or ("loss" if "loss" in name.lower() else "escapes")
        }
    if isinstance(parent, ast.Compare):
        return {"threshold"}
    if isinstance(parent, (ast.BinOp, ast.UnaryOp)) or (
        isinstance(parent, ast.Subscript) and field == "value"
    ):
        return _feeds(file, parent, hops + 1)
    if isinstance(parent, (ast.Assign, ast.AnnAssign)) and field == "value":
        targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
        found = {"escapes"} if any(not isinstance(t, ast.Name) for t in targets) else set()
        for use in _loads_of(file, parent):
            found |= _feeds(file, use, hops + 1)
        return found
    return {"escapes"}


def _consumer(name: str) -> str:
    if name in SOFTMAXES:
        return "softmax"
    if name in SIGMOIDS:
        return "sigmoid"
    if name in RANKINGS:
        return "ranking"
    if name in LOSSES:
        return "loss"
    return ""
