"""Which preprocessing steps of a module feed a CLIP-family model, and which one.

A step feeds a model when the walk back from the model's input reaches it (`tracing`), or when it
is an option of the model's own build or processor. A step with no visible use feeds the CLIP
model of its module when the module builds one and no other image model (docs/design.md): a
module-level pipeline nobody applies, or what a module-level function nobody calls returns. An mm
config value feeds the model of every config that inherits it (`configs`). Anything else, used or
not, feeds nothing.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from clipguard.analysis import configs
from clipguard.analysis.encoders import Consumer, EncoderInput, encoder_inputs
from clipguard.analysis.flow import FUNCTIONS, Flow, flow_of
from clipguard.analysis.identity import TRAIN_TRANSFORM_INDEX, builds
from clipguard.analysis.nodes import callee_name
from clipguard.analysis.origins import Origin, origins
from clipguard.analysis.source import SourceFile
from clipguard.analysis.steps import Step, module_steps
from clipguard.analysis.tracing import Feed, feeds, origins_reaching
from clipguard.analysis.vocab.steps import COLLECTORS, MASK_WORDS, RANDOM_AUGMENTATIONS, SWITCH


@dataclass(frozen=True)
class Fed:
    """A step and the CLIP-family model it feeds; `after` is what every path still does to the
    value before the model sees it (`resize`, `normalize`)."""

    step: Step
    consumer: Consumer
    after: frozenset[str]
    switched: bool  # the step sits in a branch chosen by the model's identity
    inference: bool = False  # some path ends at features computed for inference


def fed_steps(file: SourceFile) -> list[Fed]:
    """The module's steps that feed a CLIP-family model, in source order."""
    return file.memo("clipguard.fed_steps", _fed_steps)


def _fed_steps(file: SourceFile) -> list[Fed]:
    flow = flow_of(file)
    found = []
    for step in module_steps(file):
        switched = in_switch(file, step.node)
        fed = _fed(file, flow, step, switched)
        if fed is not None:
            found.append(fed)
    return found


@dataclass(frozen=True)
class FedOrigin:
    """Where an image that reaches CLIP-family models begins, and every path it takes there."""

    origin: Origin
    feeds: tuple[Feed, ...]


def fed_origins(file: SourceFile) -> list[FedOrigin]:
    """The module's image origins (reads, tensor conversions, generators) that reach a model."""
    found = []
    for origin in origins(file).values():
        reached = feeds(file, origin.node)
        if reached:
            found.append(FedOrigin(origin, tuple(reached)))
    return sorted(found, key=lambda f: (f.origin.node.lineno, f.origin.node.col_offset))


@dataclass(frozen=True)
class FedTransform:
    """open_clip's training transform (`create_model_and_transforms(...)[1]`), bound to `name`,
    and every model its output reaches."""

    build: ast.Call
    name: ast.AST  # the target that binds it, or the build call when none does
    feeds: tuple[Feed, ...]


def fed_training_transforms(file: SourceFile) -> list[FedTransform]:
    """open_clip training transforms built in this module whose output reaches a model."""
    found = []
    for build in builds(file).values():
        call = build.node
        if not (isinstance(call, ast.Call) and callee_name(call.func) in TRAIN_TRANSFORM_INDEX):
            continue
        reached = feeds(file, call)
        if reached:
            found.append(FedTransform(call, _binding(file, call) or call, tuple(reached)))
    return found


def _binding(file: SourceFile, call: ast.Call) -> ast.AST | None:
    """The target `preprocess_train` in `model, preprocess_train, _ = create_model_and_transforms(...)`."""
    statement = flow_of(file).statement(call)
    index = TRAIN_TRANSFORM_INDEX[callee_name(call.func)]
    if isinstance(statement, ast.Assign) and statement.value is call:
        for target in statement.targets:
            if isinstance(target, (ast.Tuple, ast.List)) and len(target.elts) > index:
                return target.elts[index]
    return None


@dataclass(frozen=True)
class Reaching:
    """An image origin whose images reach an encoder input, and what the way does to them."""

    origin: Origin
    module: str  # the path of the module the origin is in
    after: frozenset[str]


def inputs_with_origins(file: SourceFile) -> list[tuple[EncoderInput, list[Reaching]]]:
    """Each place this module hands images to a CLIP model whose weights are traced (so its
    recipe is known), with where those images begin."""
    found = []
    for encoder_input in encoder_inputs(file):
        if not encoder_input.consumer.traced:
            continue
        reaching = []
        for path, node_id, after in origins_reaching(file, encoder_input.call):
            module = (
                file if path == file.path else file.project.source(path) if file.project else None
            )
            origin = origins(module).get(node_id) if module is not None else None
            if origin is not None:
                reaching.append(Reaching(origin, path, after))
        if reaching:
            found.append((encoder_input, reaching))
    return found


def _fed(file: SourceFile, flow: Flow, step: Step, switched: bool) -> Fed | None:
    if step.owner is not None:
        build = builds(file).get(id(step.owner))
        return (
            Fed(step, Consumer.of(build), frozenset(), switched) if build and build.clip else None
        )
    if step.kind in ("resize", "crop") and (
        _about_masks(file, flow, step.node) or in_training_pipeline(flow, step.node)
    ):
        return None
    reached = feeds(file, step.node)
    if reached:
        return _merged(step, reached, switched)
    if step.api == "config":
        consumer = configs.consumer(file, step.node) if configs.is_config(file) else None
        return Fed(step, consumer, frozenset(), switched) if consumer is not None else None
    return None


def _merged(step: Step, reached: list[Feed], switched: bool) -> Fed:
    """One verdict per step: the first model, and what every path does after the step."""
    after = frozenset.intersection(*(f.after for f in reached))
    consumer = next((f.consumer for f in reached if f.consumer.traced), reached[0].consumer)
    return Fed(step, consumer, after, switched, any("inference" in f.after for f in reached))


def in_switch(file: SourceFile, node: ast.AST) -> bool:
    """Whether the node sits in a branch chosen by the model's identity: the branches are
    alternatives for different models."""
    flow = flow_of(file)
    for parent, field_name in flow.ancestors(node):
        if (
            isinstance(parent, (ast.If, ast.IfExp))
            and field_name != "test"
            and SWITCH.search(ast.unparse(parent.test).replace("__name__", ""))
        ):
            return True
        if isinstance(parent, ast.Match) and SWITCH.search(ast.unparse(parent.subject)):
            return True
        if isinstance(parent, ast.Dict) and field_name == "values" and _alternatives(file, parent):
            return True
    return False


def _alternatives(file: SourceFile, table: ast.Dict) -> bool:
    """A dict literal holding several pipelines (`{"imagenet": ..., "clip": ...}`): a switch."""
    steps = {id(s.node) for s in module_steps(file)}
    return sum(1 for value in table.values if any(id(n) in steps for n in ast.walk(value))) >= 2


def in_training_pipeline(flow: Flow, node: ast.AST) -> bool:
    """Whether the step sits in a Compose with random augmentations: the geometry of training
    is deliberately not the reference's."""
    for parent, _ in flow.ancestors(node):
        if isinstance(parent, ast.Call) and _collector(parent.func):
            for inner in ast.walk(parent):
                if isinstance(inner, ast.Call) and callee_name(inner.func).startswith(
                    RANDOM_AUGMENTATIONS
                ):
                    return True
        if isinstance(parent, ast.stmt):
            return False
    return False


def _about_masks(file: SourceFile, flow: Flow, node: ast.AST) -> bool:
    """A resize of masks, labels or maps: its statement, or the function it is in, says so."""
    if MASK_WORDS.search(ast.unparse(flow.statement(node))):
        return True
    scope = flow.scope.get(id(node))
    return isinstance(scope, FUNCTIONS) and bool(MASK_WORDS.search(scope.name))


def _collector(func: ast.AST) -> bool:
    """Calls that hold transforms without applying them: Compose, Sequential, dict, list."""
    return callee_name(func) in COLLECTORS
