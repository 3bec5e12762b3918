"""The module model the preprocessing rules share: builds, steps, sinks, and what feeds CLIP.

"Feeds CLIP" follows DESIGN.md: a step whose use is visible feeds what it is applied to (found by
walking back from each image-encoder input); a step with no visible use feeds the module's CLIP
model when the module builds one and no other image model; in a module that builds none, it
feeds CLIP when the modules that import it do.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from clipguard.analysis.flow import Flow
from clipguard.analysis.lookup import project_lookup
from clipguard.analysis.models import Build, classify, config_build, default_profile
from clipguard.analysis.nodes import all_nodes
from clipguard.analysis.steps import (
    Step,
    arithmetic_step,
    config_step,
    find_steps,
    method_chain_step,
)
from clipguard.profiles import Profile

CLIP_METHODS = ("encode_image", "get_image_features")
TOWERS = ("visual", "vision_model", "vision_tower", "image_encoder")
PASS_THROUGH = {"to", "eval", "cuda", "cpu", "half", "float", "train", "requires_grad_", "double"}
MODEL_LIKE = re.compile(r"(^|_)(model|net|backbone|encoder|classifier|cnn|resnet\d*|vit|dino\w*)s?\d*$"
                        r"|^(resnet|vgg|efficientnet|convnext|densenet|inception|mobilenet)", re.IGNORECASE)
# An `if` on the model's identity: the branches are alternatives for different models.
SWITCH = re.compile(r"clip|siglip|arch|model|backbone|encoder|openai|imagenet|norm|mean|std|type|"
                    r"name|vit|resnet|pretrain|variant|dataset", re.IGNORECASE)


@dataclass(frozen=True)
class Target:
    """The CLIP model a step feeds: its profile, and whether its resolution is known."""

    profile: Profile
    known: bool


@dataclass
class ModuleModel:
    file: object
    flow: Flow
    builds: dict[int, Build] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    clip_reach: dict[int, list[Target]] = field(default_factory=dict)
    elsewhere: set[int] = field(default_factory=set)
    step_names: dict[int, str] = field(default_factory=dict)  # module-level name a step is bound to
    # module-level functions whose parameters reach a CLIP image input: name -> {(index, name)}
    _sink_params: dict[str, set[tuple[int, str]]] = field(default_factory=dict)
    _untraced: list[ast.Call] | None = None  # sinks traced only once `sink_params` is read

    @property
    def sink_params(self) -> dict[str, set[tuple[int, str]]]:
        """Module-level functions whose parameters reach a CLIP image input: name ->
        {(index, name)}; for the modules that call this one's helpers."""
        if self._untraced is not None:
            sinks, self._untraced = self._untraced, None
            _trace(self, sinks)
        return self._sink_params

    @property
    def clip_builds(self) -> list[Build]:
        return [b for b in self.builds.values() if b.clip]

    @property
    def other_builds(self) -> list[Build]:
        return [b for b in self.builds.values() if not b.clip]

    def module_target(self) -> Target | None:
        """The CLIP model this module's unused pipelines feed, per the fallback rule."""
        if self.other_builds or not self.clip_builds:
            return None
        return unique_target(self.clip_builds)

    def target(self, step: Step, *, in_switch: bool = False) -> Target | None:
        """The CLIP model `step` feeds, or None (does not, or cannot tell). A step in a branch
        chosen by the model's identity feeds nothing, unless `in_switch` asks to look anyway
        (a typo of CLIP's constants is wrong in every branch)."""
        if step.owner is not None and id(step.owner) in self.builds:
            build = self.builds[id(step.owner)]
            return Target(build.profile, build.known) if build.clip else None
        if not in_switch and self.in_switch(step.node):
            return None
        if step.kind in ("resize", "crop") and (_about_masks(self.flow.statement(step.node))
                                                or self._in_training_pipeline(step.node)):
            return None
        reached = self.clip_reach.get(id(step.node))
        if reached:
            return reached[0]
        if id(step.node) in self.elsewhere or not self.exported(step.node) \
                or _about_masks(self.flow.statement(step.node)):
            return None
        local = self.module_target()
        if local is not None:
            return local
        if self.builds:
            return None
        return self._importers_target(step)

    def _importers_target(self, step: Step) -> Target | None:
        project = getattr(self.file, "project", None)
        if project is None:
            return None
        name = self.step_names.get(id(step.node))
        exports = self.export_names(step.node) or set()
        targets, others = [], False
        for importer in project.importers(self.file.path):
            source = project.source(importer)
            if source is None or not _uses_any(source, project, self.file.path, exports):
                continue
            model = module_model(source)
            if name and _assigns(source.tree, name):
                continue  # a config that overrides the name: the base value is not used there
            builds = model.builds.values()
            if not builds:
                builds = [b for path in project.imported(importer)
                          if str(path) != str(self.file.path) and (other := project.source(path))
                          for b in module_model(other).builds.values()]
            if any(not b.clip for b in builds):
                others = True
            clip = [b for b in builds if b.clip]
            if clip:
                targets.append(unique_target(clip))
        if others or not targets:
            return None
        return targets[0]

    def exported(self, node: ast.AST) -> bool:
        """Whether a value is built but not used here (a module-level pipeline, a factory's
        result): then the module's own models decide what it feeds."""
        return self.export_names(node) is not None

    def export_names(self, node: ast.AST, depth: int = 0) -> set[str] | None:
        """The module-level names under which an unused value leaves the module; None if used."""
        flow = self.flow
        statement = flow.statement(node)
        if depth > 6 or not self._only_collected(node):
            return None
        if isinstance(statement, ast.Return):
            function = flow.scope.get(id(statement))
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return None
            if isinstance(flow.scope.get(id(function)), ast.ClassDef):
                return None  # a method: its callers cannot be followed
            if self._loaded(function.name, flow.scope.get(id(function))):
                return None
            return {function.name}
        if isinstance(statement, ast.Assign):
            names = [t.id for t in statement.targets if isinstance(t, ast.Name)]
            if len(names) != len(statement.targets):
                return None
            scope = flow.scope.get(id(statement), flow.tree)
            exports: set[str] = set()
            for name in names:
                loads = self._loads(name, scope)
                if not loads and scope is flow.tree:
                    exports.add(name)
                for load in loads:
                    inner = self.export_names(load, depth + 1) if self._only_collected(load) else None
                    if inner is None:
                        return None
                    exports |= inner
            return exports
        return None

    def _only_collected(self, node: ast.AST) -> bool:
        """Whether a value only goes into containers up to its statement (not applied to data)."""
        flow = self.flow
        while True:
            parent, field_name = flow.parent.get(id(node), (None, ""))
            if parent is None or isinstance(parent, ast.stmt):
                return isinstance(parent, (ast.Assign, ast.Return)) and field_name == "value"
            if isinstance(parent, (ast.List, ast.Tuple, ast.Dict, ast.Starred, ast.keyword)):
                node = parent
                continue
            if isinstance(parent, ast.Call) and field_name != "func" and _collector(parent.func):
                node = parent
                continue
            return False

    def _loads(self, name: str, scope: ast.AST) -> list[ast.Name]:
        if not hasattr(self, "_load_index"):
            self._load_index: dict[str, list[ast.Name]] = {}
            self._attribute_names: set[str] = set()
            for node in all_nodes(self.file):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    self._load_index.setdefault(node.id, []).append(node)
                elif isinstance(node, ast.Attribute):
                    self._attribute_names.add(node.attr)
        loads = self._load_index.get(name, [])
        if scope is self.flow.tree:
            return loads
        return [n for n in loads if self.flow.scope.get(id(n)) is scope]

    def _loaded(self, name: str, scope: ast.AST) -> bool:
        if not hasattr(self, "_load_index"):
            self._loads(name, self.flow.tree)
        return bool(self._load_index.get(name)) or name in self._attribute_names

    def _in_training_pipeline(self, node: ast.AST) -> bool:
        """Whether the step sits in a Compose with random augmentations: the geometry of training
        is deliberately not the reference's."""
        for parent, _ in self.flow.ancestors(node):
            if isinstance(parent, ast.Call) and _collector(parent.func):
                for inner in ast.walk(parent):
                    if isinstance(inner, ast.Call):
                        func = inner.func
                        name = func.attr if isinstance(func, ast.Attribute) else \
                            func.id if isinstance(func, ast.Name) else ""
                        if name.startswith(("Random", "Color", "Trivial", "Rand", "AutoAugment")):
                            return True
            if isinstance(parent, ast.stmt):
                return False
        return False

    def in_switch(self, node: ast.AST) -> bool:
        """Whether the node sits in a branch chosen by the model's identity."""
        for parent, field_name in self.flow.ancestors(node):
            if isinstance(parent, (ast.If, ast.IfExp)) and field_name != "test":
                test = ast.unparse(parent.test).replace("__name__", "")
                if SWITCH.search(test):
                    return True
            if isinstance(parent, ast.Match) and SWITCH.search(ast.unparse(parent.subject)):
                return True
            if isinstance(parent, ast.Dict) and field_name == "values" and self._alternatives(parent):
                return True
        return False

    def _alternatives(self, table: ast.Dict) -> bool:
        """A dict literal holding several pipelines (`{"imagenet": ..., "clip": ...}`): a switch."""
        if not hasattr(self, "_step_ids"):
            self._step_ids = {id(s.node) for s in self.steps}
        holding = sum(1 for value in table.values
                      if any(id(n) in self._step_ids for n in ast.walk(value)))
        return holding >= 2


# Masks, labels and activation maps are resized too, and multiplied into images; their
# interpolation is not the image's.
MASK_WORDS = re.compile(r"mask|label|seg|depth|target|gt_|annotation|heatmap|attn|attention"
                        r"|\bcams?\b|\bcams?_|_cams?\b|saliency|alpha", re.IGNORECASE)


def _about_masks(node: ast.AST) -> bool:
    return bool(MASK_WORDS.search(ast.unparse(node)))


def _collector(func: ast.AST) -> bool:
    """Calls that hold transforms without applying them: Compose, Sequential, dict, list."""
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in ("Compose", "Sequential", "dict", "list", "tuple", "RandomApply", "RandomChoice",
                    "OneOf", "ModuleList")


def unique_target(builds: list[Build]) -> Target:
    targets = {(b.profile, b.known) for b in builds}
    if len(targets) == 1:
        profile, known = targets.pop()
        return Target(profile, known)
    profiles = {b.profile for b in builds}
    # several CLIP models: only what they agree on is known
    first = min(profiles, key=lambda p: p.name)
    same = all((p.mean, p.std, p.interpolation, p.resize_mode) ==
               (first.mean, first.std, first.interpolation, first.resize_mode) for p in profiles)
    return Target(first if same else default_profile(), False)


def _uses_any(importer, project, path, names: set[str]) -> bool:
    """Whether an importer refers to one of `names` of the module at `path`. An importer with no
    import of it inherits everything (mmcv `_base_` configs)."""
    bound = False
    for local, qualified in importer.imports.bindings.items():
        found = project_lookup(importer, qualified)
        if found is None or str(found[0]) != str(path):
            continue
        bound = True
        inner = found[1]
        if inner in names or (not inner and any(f"{local}.{n}" in importer.text for n in names)):
            return True
    return not bound


def _assigns(tree: ast.Module, name: str) -> bool:
    return any(isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name
                                                     for t in stmt.targets) for stmt in tree.body)


def module_model(file) -> ModuleModel:
    """The shared, memoized model of one module."""
    return file.memo("clipguard.pipelines", _build)


class _LazyFlow:
    """Builds the module's `Flow` on first use: most modules never need it."""

    def __init__(self, tree: ast.Module) -> None:
        self._tree = tree
        self._flow: Flow | None = None

    def __getattr__(self, name: str):
        if self._flow is None:
            self._flow = Flow(self._tree)
        return getattr(self._flow, name)


def _build(file) -> ModuleModel:
    flow = _LazyFlow(file.tree)
    model = ModuleModel(file, flow)  # type: ignore[arg-type]
    keys: dict[int, str] = {}
    sinks: list[ast.Call] = []
    for node in all_nodes(file):
        if isinstance(node, ast.Call):
            keys.update((id(k.value), k.arg) for k in node.keywords if k.arg)
            build = classify(file, node, flow)
            if build is not None:
                model.builds[id(node)] = build
            model.steps.extend(find_steps(file, node, flow))
            chained = method_chain_step(node)
            if chained:
                model.steps.append(chained)
            sinks.append(node)
        elif isinstance(node, ast.BinOp):
            step = arithmetic_step(node)
            if step:
                model.steps.append(step)
        elif isinstance(node, ast.Dict):
            keys.update((id(v), k.value) for k, v in zip(node.keys, node.values)
                        if isinstance(k, ast.Constant) and isinstance(k.value, str))
        if isinstance(node, (ast.Call, ast.Dict)):
            build = config_build(node, keys.get(id(node)))
            if build is not None and id(node) not in model.builds:
                model.builds[id(node)] = build
            step = config_step(node)
            if step is not None:
                model.steps.append(step)
    for stmt in file.tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            for step in model.steps:
                if step.node is stmt.value:
                    model.step_names[id(step.node)] = stmt.targets[0].id
    # sinks matter for the steps here, or for the modules that call this one's helpers: with no
    # step here, tracing only finds `sink_params`, so it waits until an importer asks for them
    if model.steps:
        _trace(model, sinks)
    elif SINK_WORDS.search(file.text):
        model._untraced = sinks
    return model


def role(model: ModuleModel, node: ast.AST, hops: int = 0) -> tuple[str, Build] | None:
    """('model', build) or ('transform', build) for an expression bound to a build's result."""
    if hops > 8:
        return None
    flow = model.flow
    if isinstance(node, ast.Call):
        build = model.builds.get(id(node))
        if build is not None:
            return ("transform" if build.processor else "model"), build
        if isinstance(node.func, ast.Attribute) and node.func.attr in PASS_THROUGH:
            return role(model, node.func.value, hops + 1)
        return None
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Call):
        build = model.builds.get(id(node.value))
        index = node.slice.value if isinstance(node.slice, ast.Constant) else None
        if build is not None and build.trusted and isinstance(index, int):
            return ("model" if index == 0 else "transform"), build
        return None
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
        owner = flow.enclosing_class(flow.scope.get(id(node), flow.tree))
        values = flow.attrs.get((id(owner), node.attr), []) if owner is not None else []
        found = [role(model, v, hops + 1) for v in values]
        return next((f for f in found if f is not None), None)
    if isinstance(node, ast.Name):
        for definition in flow.definitions(node):
            if definition.value is None:
                continue
            statement = definition.statement
            value = definition.value
            if isinstance(statement, ast.Assign) and id(value) in model.builds:
                build = model.builds[id(value)]
                index = _tuple_index(statement, node.id)
                if index is not None and build.trusted:
                    return ("model" if index == 0 else "transform"), build
            found = role(model, value, hops + 1)
            if found is not None:
                return found
    return None


def _tuple_index(statement: ast.Assign, name: str) -> int | None:
    for target in statement.targets:
        if isinstance(target, (ast.Tuple, ast.List)):
            for index, element in enumerate(target.elts):
                if isinstance(element, ast.Name) and element.id == name:
                    return index
    return None


def _sink_inputs(call: ast.Call) -> list[ast.AST]:
    inputs = list(call.args[:1])
    inputs += [k.value for k in call.keywords if k.arg in (None, "pixel_values", "image", "images", "x")]
    return inputs


def _trace(model: ModuleModel, calls: list[ast.Call]) -> None:
    """Walk back from every image-model input and mark the steps it reaches."""
    def stop(node: ast.AST) -> bool:
        if isinstance(node, ast.Call):
            if id(node) in model.builds:
                return True
            found = role(model, node.func)
            return found is not None and found[0] == "transform"
        return False

    step_ids = {id(s.node) for s in model.steps}
    parameters = _parameter_loads(model.flow.tree)
    local = unique_target(model.clip_builds) if model.clip_builds else Target(default_profile(), False)
    # one walk shared by every sink: a helper's callers are expanded once, not once per sink
    reacher = model.flow.reacher(stop, step_ids)
    visited: set[int] = set()  # components whose parameter reads are already recorded
    for call in calls:
        func = call.func
        target: Target | None = None
        inputs: list[ast.AST] | None = None
        other = False
        if isinstance(func, ast.Attribute) and func.attr in CLIP_METHODS:
            found = role(model, func.value)
            if found is None and model.other_builds and not model.clip_builds:
                continue  # another model family's method of the same name
            if found is None or found[1].clip:
                target = Target(found[1].profile, found[1].known) if found else local
            else:
                other = True
        elif isinstance(func, ast.Attribute) and func.attr in TOWERS:
            found = role(model, func.value)
            if found is not None and found[1].clip:
                target = Target(found[1].profile, found[1].known)
            elif found is None and model.module_target() is not None:
                target = local
        else:
            found = role(model, func)
            if found is not None and found[0] == "model":
                if found[1].clip:
                    target = Target(found[1].profile, found[1].known)
                else:
                    other = True
            elif found is None:
                imported = _imported_sink(model, call)
                if imported is not None:
                    target = local
                    inputs = imported
                elif _model_like(func):
                    other = True
        if target is None and not other or (other and not step_ids):
            continue
        if target is None:
            inputs = [*call.args, *(k.value for k in call.keywords)]
        elif inputs is None:
            inputs = _sink_inputs(call)
        if target is not None and parameters:
            for node_id in reacher.visit(inputs, visited):
                if node_id in parameters:
                    function, index, name = parameters[node_id]
                    model.sink_params.setdefault(function, set()).add((index, name))
        reached = reacher.marked_from(inputs)
        for node_id in reached:
            if target is not None:
                model.clip_reach.setdefault(node_id, []).append(target)
            else:
                model.elsewhere.add(node_id)


def _parameter_loads(tree: ast.Module) -> dict[int, tuple[str, int, str]]:
    """Reads of the parameters of module-level functions: id -> (function, index, parameter)."""
    found = {}
    for function in tree.body:
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        names = [a.arg for a in [*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs]]
        for node in ast.walk(function):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in names:
                found[id(node)] = (function.name, names.index(node.id), node.id)
    return found


_IN_PROGRESS: set[str] = set()
SINK_WORDS = re.compile(r"encode_image|get_image_features|\.visual\(|vision_model\(")


def _mentions_sink(file) -> bool:
    return bool(SINK_WORDS.search(file.text))


def _imported_sink(model: ModuleModel, call: ast.Call) -> list[ast.AST] | None:
    """Arguments of a call to another project module's function that hands them to CLIP."""
    file = model.file
    project = getattr(file, "project", None)
    if project is None or _IN_PROGRESS or not model.steps:
        return None  # one level deep: a helper's helpers are not followed
    qualified = file.qualname(call.func)
    if qualified is None:
        return None
    found = project_lookup(file, qualified)
    if found is None or "." in found[1]:
        return None
    other = project.source(found[0])
    if other is None or not other.memo("clipguard.sink_words", _mentions_sink):
        return None
    _IN_PROGRESS.add(file.path)
    try:
        params = module_model(other).sink_params.get(found[1])
    finally:
        _IN_PROGRESS.discard(file.path)
    if not params:
        return None
    inputs = []
    for index, name in params:
        if index < len(call.args) and not isinstance(call.args[index], ast.Starred):
            inputs.append(call.args[index])
        inputs.extend(k.value for k in call.keywords if k.arg == name)
    return inputs or None


def _model_like(func: ast.AST) -> bool:
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return bool(MODEL_LIKE.search(name))
