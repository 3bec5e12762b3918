"""Train or eval mode: where a model computes features, in what context, and whether anything the
analysis can see switches it to eval mode.

open_clip's factories (and EVA-CLIP's fork of them) return models in training mode; `clip.load`
and transformers' `from_pretrained` return them in eval mode. A switch counts wherever it is
visible: on the model, on a name or parameter holding it, on one of its towers (`.visual`), on
`self` in the project class holding it, in the module that builds it or in modules near the use
(a loader's caller).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from clipguard.analysis.flow import flow_of
from clipguard.analysis.identity import builds, role
from clipguard.analysis.imports import dotted_name
from clipguard.analysis.models import Build
from clipguard.analysis.nodes import all_nodes, callee_name, constant, keyword, walk
from clipguard.analysis.resolve import definitions
from clipguard.analysis.source import SourceFile
from clipguard.analysis.vocab.models import TOWERS
from clipguard.analysis.vocab.modes import (
    FEATURE_METHODS,
    GRADIENT_OFF,
    GRADIENT_WORDS,
    MODULE_BASES,
    PLAIN_BASES,
    STEPPERS,
    TRAINING_CALLS,
)

NEARBY = 2  # import edges between a use and a visible switch to eval mode
BUILDER_DEPTH = 4  # import edges between a use and the module that builds its model
MAX_BASES = 4


@dataclass(frozen=True)
class FeatureUse:
    """`model` (an expression holding `build`'s model) computes features at `call`."""

    call: ast.Call
    model: ast.AST
    build: Build
    no_grad: bool  # under `torch.no_grad()` / `inference_mode()`, as a context or a decorator
    trains: bool  # its function calls `backward()` or steps an optimizer


def feature_uses(file: SourceFile) -> list[FeatureUse]:
    """Every place this module has a library model compute features: its encoders, its towers,
    or the model called itself."""
    return file.memo("clipguard.feature_uses", _feature_uses)


def _feature_uses(file: SourceFile) -> list[FeatureUse]:
    found = []
    for node in all_nodes(file):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        method = isinstance(func, ast.Attribute) and func.attr in FEATURE_METHODS
        no_grad = _no_grad(file, node)
        if not method and not no_grad:
            continue  # a call of the model itself is looked for only where gradients are off
        model = func.value if method else func
        build = model_build(file, model)
        if build is not None:
            found.append(FeatureUse(node, model, build, no_grad, trains(file, node)))
    return found


def model_build(file: SourceFile, node: ast.AST) -> Build | None:
    """The library build whose model `node` holds, or one of its towers (`model.visual`, or a
    name bound to it)."""
    held = role(file, node)
    if held is not None and held.kind == "model" and _unpacked_after_model(file, node):
        return None
    if held is None:
        tower = node
        if isinstance(node, ast.Name):
            bound = flow_of(file).definitions(node)
            tower = bound[0].value if len(bound) == 1 else None
        if isinstance(tower, ast.Attribute) and tower.attr in TOWERS:
            held = role(file, tower.value)
    if held is None or held.kind != "model" or not held.build.factory:
        return None
    return held.build


def _unpacked_after_model(file: SourceFile, node: ast.AST) -> bool:
    """`self.x` bound past the first place of a tuple (`self.model, _, self.x = factory(...)`):
    not the model, though `identity.role` of a `self` attribute does not tell the places apart."""
    if not (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    ):
        return False
    flow = flow_of(file)
    owner = flow.enclosing_class(flow.scope.get(id(node), file.tree))
    for statement in walk(owner) if owner is not None else ():
        for target in statement.targets if isinstance(statement, ast.Assign) else ():
            places = target.elts if isinstance(target, (ast.Tuple, ast.List)) else []
            if any(
                i > 0
                and isinstance(e, ast.Attribute)
                and e.attr == node.attr
                and isinstance(e.value, ast.Name)
                and e.value.id == "self"
                for i, e in enumerate(places)
            ):
                return True
    return False


def eval_mode(file: SourceFile, use: FeatureUse) -> str:
    """`eval` when a switch to eval mode of the used model is visible, `unknown` when the model
    sits in a project `nn.Module` that whoever owns it may switch, else `train`."""
    holder = _holder_class(file, use.model)
    if holder is not None:
        if _switches_self(holder):
            return "eval"
        if _module_like(file, holder, 0):
            return "unknown"
    for other in _near(file, use.build):
        if any(switched.node is use.build.node for switched in _switched(other)):
            return "eval"
    return "train"


def _switched(file: SourceFile) -> list[Build]:
    """The builds whose models this module switches to eval mode (`.eval()`, `.train(False)`)."""
    return file.memo("clipguard.switched", _switched_builds)


def _switched_builds(file: SourceFile) -> list[Build]:
    found = []
    for node in all_nodes(file):
        if isinstance(node, ast.Call) and _is_switch(node):
            model = node.func.value
            while isinstance(model, ast.Attribute) and model.attr == "module":
                model = model.value  # DDP's `model.module.eval()`
            build = model_build(file, model)
            if build is not None:
                found.append(build)
    return found


def _is_switch(call: ast.Call) -> bool:
    func = call.func
    if not isinstance(func, ast.Attribute):
        return False
    if func.attr == "eval":
        return not call.args and not call.keywords
    if func.attr == "train":
        mode = call.args[0] if call.args else keyword(call, "mode")
        return isinstance(mode, ast.Constant) and mode.value is False
    return False


def _near(file: SourceFile, build: Build) -> list[SourceFile]:
    """This module, the project modules within a few import edges that switch something, and the
    module that builds the model, wherever it is."""
    found = [file]
    project = file.project
    if project is None:
        return found
    factory = build.factory.rsplit(".", 1)[-1].encode()
    close = project.nearby(file.path, NEARBY, NEARBY)
    for path in sorted(project.nearby(file.path, BUILDER_DEPTH, BUILDER_DEPTH)):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        near = path in close
        if (near and (b".eval(" in data or b".train(" in data)) or factory in data:
            other = project.source(path)
            if other is not None and (near or any(b is build for b in builds(other).values())):
                found.append(other)
    return found


def _holder_class(file: SourceFile, model: ast.AST) -> tuple[SourceFile, ast.ClassDef] | None:
    """The project class whose instance holds the model as `self.<attr>...`."""
    base = model
    while isinstance(base, ast.Attribute):
        base = base.value
    if not (isinstance(base, ast.Name) and base.id == "self" and base is not model):
        return None
    flow = flow_of(file)
    owner = flow.enclosing_class(flow.scope.get(id(model), file.tree))
    return (file, owner) if owner is not None else None


def _switches_self(holder: tuple[SourceFile, ast.ClassDef]) -> bool:
    """`self.eval()` or `self.train(False)` in one of the class's methods."""
    _, cls = holder
    return any(
        isinstance(node, ast.Call)
        and _is_switch(node)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "self"
        for node in walk(cls)
    )


def _module_like(file: SourceFile, holder: tuple[SourceFile, ast.ClassDef], depth: int) -> bool:
    """Whether the class is (or may be) an `nn.Module`: a base that is one, a library class the
    analysis cannot see into, or a project class that is module-like in turn."""
    other, cls = holder
    if depth > MAX_BASES:
        return True
    for base in cls.bases:
        name = other.qualname(base) or dotted_name(base) or ""
        if name in PLAIN_BASES:
            continue
        if name.rsplit(".", 1)[-1] in MODULE_BASES:
            return True
        found = [d for d in definitions(other, base) if isinstance(d.node, ast.ClassDef)]
        if not found or any(_module_like(file, (d.file, d.node), depth + 1) for d in found):
            return True
    return False


def _no_grad(file: SourceFile, call: ast.Call) -> bool:
    """Under a context or decorator that turns gradients off, or after a statement that does."""
    return id(call) in file.memo("clipguard.gradient_free", _gradient_free)


def _gradient_free(file: SourceFile) -> set[int]:
    """The ids of the nodes that run with gradients off."""
    if not any(word in file.text for word in GRADIENT_WORDS):
        return set()
    regions: list[ast.AST] = []
    for node in all_nodes(file):
        kind = type(node)
        if kind is ast.With or kind is ast.AsyncWith:
            if any(gradient_off(file, item.context_expr) for item in node.items):
                regions.extend(node.body)
        elif kind is ast.FunctionDef or kind is ast.AsyncFunctionDef or kind is ast.Module:
            if kind is not ast.Module and any(gradient_off(file, d) for d in node.decorator_list):
                regions.extend(node.body)
                continue
            off = [
                i
                for i, s in enumerate(node.body)
                if type(s) is ast.Expr and gradient_off(file, s.value)
            ]
            regions.extend(node.body[off[0] + 1 :] if off else ())
    found: set[int] = set()
    for region in regions:
        if id(region) not in found:  # nested regions are walked once
            found.update(id(inner) for inner in walk(region))
    return found


def gradient_off(file: SourceFile, node: ast.AST) -> bool:
    """`torch.no_grad()`, `torch.inference_mode()` (also bare, as decorators), or
    `torch.set_grad_enabled(False)`."""
    target = node.func if isinstance(node, ast.Call) else node
    name = file.qualname(target) or ""
    if name == "torch.set_grad_enabled":
        return isinstance(node, ast.Call) and bool(node.args) and constant(node.args[0]) is False
    return name in GRADIENT_OFF


def trains(file: SourceFile, call: ast.AST) -> bool:
    """Whether the function around `call` (or the module, at top level) calls `backward()` or
    steps an optimizer: a training step, also where it turns gradients off (a teacher's
    targets, features cached for accumulation)."""
    flow = flow_of(file)
    scope = flow.scope.get(id(call), file.tree)
    while isinstance(scope, (ast.Lambda, ast.ClassDef)):
        scope = flow.scope.get(id(scope), file.tree)
    known = file.memo("clipguard.training_scopes", lambda _: {})
    if id(scope) not in known:
        known[id(scope)] = any(_training_call(node) for node in walk(scope))
    return known[id(scope)]


def _training_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    if callee_name(node.func) in TRAINING_CALLS:  # `loss.backward()`, or a `backward(loss)` helper
        return True
    if not isinstance(node.func, ast.Attribute):
        return False
    receiver = (dotted_name(node.func.value) or "").rsplit(".", 1)[-1].lower()
    return node.func.attr == "step" and any(word in receiver for word in STEPPERS)
