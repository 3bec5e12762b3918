"""What model an expression holds, as facts: a library build with its profile, a project class,
or unknown.

A model is CLIP-family, with a profile, only where its weights or preprocessing can be traced:
a library factory or checkpoint id (`clip.load`, open_clip, transformers, timm), or a project class
that builds one or loads CLIP weights inside. A project's own class with `encode_image` and no
CLIP weights is a contrastive model of unknown preprocessing: it is not CLIP-family here.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace

from clipguard.analysis.flow import flow_of
from clipguard.analysis.models import Build, annotated_build, classify, default_profile, string
from clipguard.analysis.nodes import all_nodes, constant
from clipguard.analysis.resolve import argument_for, callers, definitions, method_of, returned
from clipguard.analysis.source import SourceFile
from clipguard.analysis.vocab.models import (
    CLIP_CHECKPOINT,
    HF_CLIP_MODELS,
    MODEL_KEEPERS,
    OPENAI_CHECKPOINT,
)

MAX_HOPS = 10
# What a trusted build returns, by position: `clip.load` gives (model, preprocess), open_clip's
# `create_model_and_transforms` (model, preprocess_train, preprocess_val).
TRAIN_TRANSFORM_INDEX = {"create_model_and_transforms": 1}


@dataclass(frozen=True)
class Role:
    """An expression holds a build's model, or its own preprocessing (`index` in its tuple)."""

    kind: str  # model | transform
    build: Build
    index: int | None = None
    file: SourceFile | None = None  # the module the build is written in

    @property
    def train_transform(self) -> bool:
        """The training transform of open_clip's `create_model_and_transforms`."""
        call = self.build.node
        name = (
            call.func.attr
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            else getattr(getattr(call, "func", None), "id", "")
        )
        return self.kind == "transform" and self.index == TRAIN_TRANSFORM_INDEX.get(name)


def builds(file: SourceFile) -> dict[int, Build]:
    """The library model and processor builds of a module, by call node id."""
    return file.memo("clipguard.builds", _builds)


def _builds(file: SourceFile) -> dict[int, Build]:
    flow = flow_of(file)
    found = {}
    for node in all_nodes(file):
        if isinstance(node, ast.Call):
            build = classify(file, node, flow)
            if build is not None:
                found[id(node)] = (
                    replace(build, vendored=_vendored(file, node)) if build.trusted else build
                )
    return found


def _vendored(file: SourceFile, call: ast.Call) -> bool:
    """A `clip.load` that resolves to a project module: a vendored copy, whose preprocessing may
    be modified (CLIP_Surgery squashes, big-sleep only normalizes)."""
    return bool(definitions(file, call.func))


def role(file: SourceFile, node: ast.AST) -> Role | None:
    """The model or the model's own preprocessing that `node` holds, if it can be traced;
    computed once per node."""
    known = file.memo("clipguard.roles", lambda _: {})
    if id(node) not in known:
        known[id(node)] = _role(file, node, 0, set())
    return known[id(node)]


def _role(file: SourceFile, node: ast.AST, hops: int, seen: set) -> Role | None:
    key = (file.path, id(node))
    if hops > MAX_HOPS or key in seen:
        return None
    seen.add(key)
    if isinstance(node, ast.Call):
        return _call_role(file, node, hops, seen)
    if isinstance(node, ast.Subscript):
        base = _role(file, node.value, hops + 1, seen)
        index = constant(node.slice)
        if (
            base is not None
            and base.build.trusted
            and base.index is None
            and isinstance(index, int)
        ):
            return Role("model" if index == 0 else "transform", base.build, index, base.file)
        return None
    if isinstance(node, ast.Name):
        return _name_role(file, node, hops, seen)
    if isinstance(node, ast.Attribute):
        flow = flow_of(file)
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            owner = flow.enclosing_class(flow.scope.get(id(node), file.tree))
            values = flow.attrs.get((id(owner), node.attr), []) if owner is not None else []
            for value in values:
                found = _role(file, value, hops + 1, seen)
                if found is not None:
                    return found
            init = method_of(owner, "__init__") if owner is not None and not values else None
            # `self.register_modules(clip_model=clip_model)`: the constructor's annotated parameter
            for parameter in init.args.args if init is not None else ():
                if parameter.arg == node.attr:
                    return _annotated(file, parameter)
            return None
        for definition in definitions(file, node):
            found = _role(definition.file, definition.node, hops + 1, seen)
            if found is not None:
                return found
    return None


def _call_role(file: SourceFile, call: ast.Call, hops: int, seen: set) -> Role | None:
    build = builds(file).get(id(call))
    if build is not None:
        return Role("transform" if build.processor else "model", build, file=file)
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in MODEL_KEEPERS:
        return _role(file, func.value, hops + 1, seen)
    for definition in definitions(file, func):
        target = definition.node
        if isinstance(target, ast.ClassDef):
            return Role("model", class_build(definition.file, target, call), file=definition.file)
        if isinstance(target, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for value in returned(target):
                found = _role(definition.file, value, hops + 1, seen)
                if found is not None:
                    return found
    return None


def _name_role(file: SourceFile, name: ast.Name, hops: int, seen: set) -> Role | None:
    flow = flow_of(file)
    bound = flow.definitions(name)
    if not bound:
        for definition in definitions(file, name):  # imported from another project module
            found = _role(definition.file, definition.node, hops + 1, seen)
            if found is not None:
                return found
        return None
    for binding in bound:
        if binding.parameter is not None and _is_self(flow, binding):
            owner = flow.enclosing_class(binding.statement)
            return (
                Role("model", class_build(file, owner, owner), file=file)
                if owner is not None
                else None
            )
        if binding.parameter is not None:
            for other, call in callers(file, binding.statement):
                argument = argument_for(call, binding.statement, binding.parameter)
                found = _role(other, argument, hops + 1, seen) if argument is not None else None
                if found is not None:
                    return found
            found = _annotated(file, binding.parameter)
            if found is not None:
                return found
            continue
        if binding.value is None:
            continue
        found = _role(file, binding.value, hops + 1, seen)
        index = _tuple_index(binding.statement, name.id)
        if found is not None and index is not None and found.build.trusted and found.index is None:
            return Role("model" if index == 0 else "transform", found.build, index, found.file)
        if found is not None and index is None:
            return found
        if found is None and index is not None and isinstance(binding.value, ast.Call):
            found = _unpacked_return(file, binding.value, index, hops, seen)
            if found is not None:
                return found
    return None


def _unpacked_return(
    file: SourceFile, call: ast.Call, index: int, hops: int, seen: set
) -> Role | None:
    """What element `index` of the tuple a project function returns holds (`model, tf = load()`)."""
    for definition in definitions(file, call.func):
        if not isinstance(definition.node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for value in returned(definition.node):
            if (
                isinstance(value, ast.Tuple)
                and index < len(value.elts)
                and not any(isinstance(e, ast.Starred) for e in value.elts)
            ):
                found = _role(definition.file, value.elts[index], hops + 1, seen)
                if found is not None:
                    return found
    return None


def _annotated(file: SourceFile, parameter: ast.arg) -> Role | None:
    """The model a parameter's annotation names (`clip_model: CLIPModel`)."""
    annotation = parameter.annotation
    if isinstance(annotation, ast.Subscript):  # Optional[CLIPModel]
        annotation = annotation.slice
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        annotation = ast.Name(id=annotation.value.split("[")[0].strip(), ctx=ast.Load())
    if annotation is None:
        return None
    build = annotated_build(file.qualname(annotation), parameter)
    if build is None:
        return None
    return Role("transform" if build.processor else "model", build, file=file)


def _is_self(flow, binding) -> bool:
    """The first parameter of a method: the instance of its class."""
    function = binding.statement
    positional = [*function.args.posonlyargs, *function.args.args]
    return (
        bool(positional)
        and binding.parameter is positional[0]
        and binding.parameter.arg in ("self", "cls")
        and flow.enclosing_class(function) is not None
    )


def _tuple_index(statement: ast.AST, name: str) -> int | None:
    targets = statement.targets if isinstance(statement, ast.Assign) else []
    for target in targets:
        if isinstance(target, (ast.Tuple, ast.List)):
            for index, element in enumerate(target.elts):
                if isinstance(element, ast.Name) and element.id == name:
                    return index
    return None


def class_build(file: SourceFile, cls: ast.ClassDef, call: ast.AST) -> Build:
    """A project class as a model: CLIP-family when it builds one or loads CLIP weights inside
    (then with that profile), else a model of its own with unknown preprocessing."""
    return file.memo(f"clipguard.class_build.{id(cls)}", lambda _: _class_build(file, cls, call))


def _class_build(file: SourceFile, cls: ast.ClassDef, call: ast.AST) -> Build:
    known = builds(file)
    for node in ast.walk(cls):
        if not isinstance(node, ast.Call):
            continue
        build = known.get(id(node))
        if build is not None and build.clip and not build.processor:
            return replace(build, node=call, trusted=False, wrapper=True, factory="")
        if _loads_clip_weights(file, node):
            return Build(call, True, default_profile(), False, trusted=False, wrapper=True)
    for base in cls.bases:
        if HF_CLIP_MODELS.match((file.qualname(base) or "").rsplit(".", 1)[-1]) and (
            file.qualname(base) or ""
        ).startswith("transformers."):
            return Build(call, True, default_profile(), False, trusted=False)
    return Build(call, False, default_profile(), False, trusted=False)


def _loads_clip_weights(file: SourceFile, call: ast.Call) -> bool:
    """`torch.load("ViT-B-32.pt")` or a checkpoint file whose name says CLIP."""
    if file.qualname(call.func) not in (
        "torch.load",
        "torch.jit.load",
        "safetensors.torch.load_file",
    ):
        return False
    path = string(call.args[0], flow_of(file)) if call.args else None
    return bool(path and (OPENAI_CHECKPOINT.search(path) or CLIP_CHECKPOINT.search(path)))
