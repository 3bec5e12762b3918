"""What reaches a CLIP-family model's input: a backward walk from every place images are handed
to one (and from what a module exports unused, `exports`), across the whole project.

From each encoder input the walk follows values back through assignments, parameters (to the
call that entered the function, or to every caller when the walk started inside it), returns of
the project's own functions, `self.x` attributes, containers, library calls, datasets (a class's
`__getitem__`) and the transforms applied, marking every preprocessing step it meets with the
model it feeds and what the path still does after the step. Code no walk reaches is never
looked at, and a value that reaches no model feeds nothing.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from clipguard.analysis.encoders import Consumer, EncoderInput, encoder_inputs
from clipguard.analysis.exports import exports
from clipguard.analysis.flow import FUNCTIONS, flow_of
from clipguard.analysis.identity import builds, role
from clipguard.analysis.nodes import callee_name, constant
from clipguard.analysis.origins import channel_change, origins
from clipguard.analysis.resolve import argument_for, callers, definitions, method_of, returned
from clipguard.analysis.source import SourceFile
from clipguard.analysis.steps import steps_by_node
from clipguard.analysis.vocab.steps import COLLECTORS

BUDGET = 20000  # nodes per walk: bounds the cost on huge generated modules
MAX_FRAMES = 6
MAX_FIELDS = 3
# Methods whose results are what an instance of a project class hands out: a dataset's items, a
# transform's or module's output.
INSTANCE_OUTPUTS = ("__getitem__", "__call__", "forward", "__iter__")
# Where images begin: nothing before them is preprocessing.
ORIGINS = frozenset(
    {
        "PIL.Image.open",
        "cv2.imread",
        "cv2.imdecode",
        "torchvision.io.read_image",
        "torchvision.io.decode_image",
        "imageio.imread",
        "skimage.io.imread",
    }
)
IMPORTER_DEPTH = 3


@dataclass(frozen=True)
class Feed:
    """A step's value reaches `consumer`; `after` is what the path does to it before the model
    sees it (`resize`, `normalize`)."""

    consumer: Consumer
    after: frozenset[str]


class Frame(NamedTuple):
    """A call the walk entered: `target` is the function entered, or the class of an instance."""

    file: SourceFile
    call: ast.Call
    target: ast.AST


# (module, node, calls entered, what the path does after, the keys or indexes read from the value)
Item = tuple[SourceFile, ast.AST, tuple[Frame, ...], frozenset[str], tuple]


def feeds(file: SourceFile, node: ast.AST) -> list[Feed]:
    """Every CLIP-family model the value of `node` (a step in `file`) reaches."""
    state = _state(file)
    state.trace_around(file)
    return sorted(
        state.marks.get((file.path, id(node)), ()),
        key=lambda f: (f.consumer.profile.name, sorted(f.after)),
    )


def origins_reaching(file: SourceFile, call: ast.Call) -> list[tuple[str, int, frozenset[str]]]:
    """The image origins whose images reach the encoder input `call` of `file`: (module path,
    origin node id, what the way does to them)."""
    state = _state(file)
    state.trace_around(file)
    return sorted(
        state.origins.get((file.path, id(call)), ()), key=lambda o: (o[0], o[1], sorted(o[2]))
    )


def upstream(
    file: SourceFile, node: ast.AST, limit: int = 2000
) -> list[tuple[SourceFile, ast.AST]]:
    """The nodes the value of `node` comes from, across functions and modules, nearest first
    (a bounded walk back that marks nothing)."""
    walk = _Walk(None, None)
    walk.run([(file, node, (), frozenset(), ())], limit)
    return walk.visited


class _State:
    """The marks of one project (or of one file linted alone), and which modules were traced."""

    def __init__(self) -> None:
        self.marks: dict[tuple[str, int], set[Feed]] = {}
        self.origins: dict[tuple[str, int], set[tuple[str, int, frozenset[str]]]] = {}
        self.traced: set[str] = set()
        self.around: set[str] = set()

    def trace_around(self, file: SourceFile) -> None:
        """Trace every module whose encoder inputs can reach `file`: it, the modules importing it
        (up to a few levels), and the modules it imports (helpers that call the encoder)."""
        if file.path in self.around:
            return
        self.around.add(file.path)
        for module in _neighbourhood(file):
            if module.path not in self.traced:
                self.traced.add(module.path)
                for found in encoder_inputs(module):
                    self.walk(
                        module,
                        list(found.inputs),
                        found.consumer,
                        found.after,
                        sink=(module.path, id(found.call)),
                    )
                for export in exports(module):
                    self.walk(
                        module,
                        list(export.roots),
                        export.consumer,
                        frozenset(),
                        export.transforms_only,
                    )

    def walk(
        self,
        file: SourceFile,
        roots: list[ast.AST],
        consumer: Consumer,
        after: frozenset[str],
        transforms_only: bool = False,
        sink: tuple[str, int] | None = None,
    ) -> None:
        walk = _Walk(self.marks, consumer, transforms_only, sink, self.origins)
        walk.run([(file, root, (), after, ()) for root in roots])


def _state(file: SourceFile) -> _State:
    if file.project is not None:
        return file.project.memo("clipguard.tracing", _State)
    return file.memo("clipguard.tracing", lambda _: _State())


def _neighbourhood(file: SourceFile) -> list[SourceFile]:
    """The file, and the modules within reach whose code builds or calls a CLIP model."""
    project = file.project
    if project is None:
        return [file]
    here = Path(file.path)
    paths = {here}
    frontier = [here]
    for _ in range(IMPORTER_DEPTH):
        frontier = [i for p in frontier for i in project.importers(p) if i not in paths]
        paths.update(frontier)
    # helpers that hand what this module, or a module importing it, gives to a model
    paths.update(q for p in list(paths) for q in project.imported(p))
    found = [file]
    for path in sorted(paths - {here}):
        if project.holds_clip_code(path):
            other = project.source(path)
            if other is not None:
                found.append(other)
    return found


class _Walk:
    """One walk back from one model's inputs. An item's `fields` are what is read out of the
    value on the way: dict keys and tuple indexes (`batch["clip_image"]`, `images, labels =
    batch`) and ITEMS for an element (a loop, a subscript): a dict or tuple built further back
    gives only that entry, and a dataset gives its `__getitem__`."""

    def __init__(
        self,
        marks: dict | None,
        consumer: Consumer | None,
        transforms_only: bool = False,
        sink: tuple[str, int] | None = None,
        origins_seen: dict | None = None,
    ) -> None:
        self.marks = marks  # None: only record what is visited
        self.consumer = consumer
        self.transforms_only = transforms_only
        self.sink = sink
        self.origins_seen = origins_seen
        self.visited: list[tuple[SourceFile, ast.AST]] = []

    def run(self, work: list[Item], budget: int = BUDGET) -> None:
        seen: set[tuple] = set()
        queue = deque(work)
        take = queue.popleft if self.marks is None else queue.pop  # nearest first when only looking
        while queue and len(seen) < budget:
            file, node, stack, after, fields = item = take()
            key = (id(node), tuple((id(f.call), id(f.target)) for f in stack), after, fields)
            if key not in seen:
                seen.add(key)
                if self.marks is None:
                    self.visited.append((file, node))
                queue.extend(self.back(*item))

    def mark(self, file: SourceFile, node: ast.AST, after: frozenset[str]) -> None:
        if self.marks is not None:
            self.marks.setdefault((file.path, id(node)), set()).add(Feed(self.consumer, after))

    def back(
        self,
        file: SourceFile,
        node: ast.AST,
        stack: tuple[Frame, ...],
        after: frozenset[str],
        fields: tuple,
    ) -> Iterator[Item]:
        """The nodes whose values flow into `node`, one step back."""
        # where an image begins: nothing further back is preprocessing
        if id(node) in origins(file):
            self.mark(file, node, after)
            if self.sink is not None and self.origins_seen is not None:
                self.origins_seen.setdefault(self.sink, set()).add((file.path, id(node), after))
            return
        change = channel_change(file, node)
        if change is not None:
            after = after ^ {"rgb"} if change == "swap" else after | {"no-channel-order"}
        if isinstance(node, ast.Call) and _collects_normalize(file, node):
            after = after | {"normalize"}  # `Compose([..., ToTensor(), Normalize(...)])`
        steps = steps_by_node(file).get(id(node))
        if steps:
            if not (self.transforms_only and any(s.applied for s in steps)):
                self.mark(file, node, after)
            after = after | {"normalize" if s.kind == "normalize" else "resize" for s in steps}
            data = next((s.data for s in steps if s.data is not None), None)
            if data is not None:
                yield file, data, stack, after, fields
            return
        same = (stack, after, fields)
        if isinstance(node, ast.Name):
            yield from self.name(file, node, *same)
        elif isinstance(node, ast.Attribute):
            yield from self.attribute(file, node, *same)
        elif isinstance(node, ast.Call):
            yield from self.call(file, node, *same)
        elif isinstance(node, ast.Subscript):
            key = constant(node.slice)
            yield (
                file,
                node.value,
                stack,
                after,
                _read(key if isinstance(key, (str, int)) else ITEMS, fields),
            )
        elif isinstance(node, (ast.Starred, ast.Await, ast.NamedExpr)):
            yield file, node.value, *same
        elif isinstance(node, ast.Lambda):
            yield file, node.body, *same
        elif isinstance(node, FUNCTIONS):
            for value in returned(node):
                yield file, value, *same
        elif isinstance(node, ast.IfExp):
            yield file, node.body, *same
            yield file, node.orelse, *same
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
            yield file, node.elt, stack, after, _element(fields)
        elif isinstance(node, ast.DictComp):
            yield file, node.value, stack, after, _element(fields)
        elif isinstance(node, ast.Dict):
            yield from _entries(file, list(zip(node.keys, node.values)), *same)
        elif isinstance(node, (ast.Tuple, ast.List)):
            index = fields[0] if fields and isinstance(fields[0], int) else None
            if (
                index is not None
                and -len(node.elts) <= index < len(node.elts)
                and not any(isinstance(e, ast.Starred) for e in node.elts)
            ):
                yield file, node.elts[index], stack, after, fields[1:]
            else:
                for element in node.elts:
                    yield file, element, stack, after, _element(fields)
        elif isinstance(node, ast.keyword):
            yield file, node.value, *same
        elif isinstance(node, (ast.expr, ast.stmt)) and not isinstance(node, ast.Constant):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.expr, ast.keyword)):
                    yield file, child, *same

    def name(self, file: SourceFile, node: ast.Name, stack, after, fields) -> Iterator[Item]:
        flow = flow_of(file)
        iterated = _comprehension_source(flow, node)
        if iterated is not None:
            yield file, iterated, stack, after, _read(ITEMS, fields)
            return
        bound = flow.definitions(node)
        if not bound:
            for definition in definitions(file, node):
                yield definition.file, definition.node, stack, after, fields
            return
        frame = stack[-1] if stack else None
        # the function the walk entered last: its constant arguments may rule out bindings
        known = (
            _constants(file, frame.target, frame.call)
            if frame is not None and isinstance(frame.target, FUNCTIONS)
            else {}
        )
        for binding in bound:
            statement, value = binding.statement, binding.value
            if known and _ruled_out(file, frame.target, statement, known):
                continue  # a branch this call's constant arguments rule out
            if binding.parameter is not None:
                yield from self.parameter(file, statement, binding.parameter, stack, after, fields)
            elif value is None or isinstance(value, ast.ClassDef):
                continue
            elif isinstance(statement, ast.Call):  # `items.append(x)`: x is one element of items
                yield file, value, stack, after, _element(fields)
            elif binding.partial:  # `batch["key"] = x`: x is what reading "key" gives
                read = _keyed(statement, node.id, fields)
                if read is not None:
                    yield file, value, stack, after, read
            else:
                read = fields
                index = _unpacked_index(statement, value, node.id)
                if index is not None:
                    read = _read(index, read)
                if isinstance(statement, (ast.For, ast.AsyncFor)) and value is statement.iter:
                    read = _read(ITEMS, read)
                yield file, value, stack, after, read

    def attribute(
        self, file: SourceFile, node: ast.Attribute, stack, after, fields
    ) -> Iterator[Item]:
        flow = flow_of(file)
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            owner = flow.enclosing_class(flow.scope.get(id(node), file.tree))
            for value in flow.attrs.get((id(owner), node.attr), []) if owner is not None else ():
                yield file, value, stack, after, fields
            return
        found = definitions(file, node)  # `transforms.preprocess` of a project module
        for definition in found:
            yield definition.file, definition.node, stack, after, fields
        if not found:
            yield file, node.value, stack, after, fields

    def parameter(
        self, file: SourceFile, function: ast.AST, parameter: ast.arg, stack, after, fields
    ) -> Iterator[Item]:
        positional = [*function.args.posonlyargs, *function.args.args]
        if positional and parameter is positional[0] and parameter.arg in ("self", "cls"):
            return
        for depth in range(len(stack) - 1, -1, -1):
            frame = stack[depth]
            if _loader(frame.file, frame.call) and frame.target is function:
                # a DataLoader's `collate_fn` gets a list of the dataset's items
                dataset = _dataset(frame.call)
                if dataset is not None:
                    yield frame.file, dataset, stack[:depth], after, fields
                return
            if _mapper(frame.call) and frame.target is function:
                # `dataset.with_transform(fn)`: fn gets the dataset's own rows
                yield frame.file, frame.call.func.value, stack[:depth], after, fields
                return
            entered = frame.target is function or (
                isinstance(frame.target, ast.ClassDef)
                and function in frame.target.body
                and getattr(function, "name", "") == "__init__"
            )
            if entered:
                argument = argument_for(frame.call, function, parameter)
                if argument is not None:
                    yield frame.file, argument, stack[:depth], after, fields
                else:
                    yield from _default(file, function, parameter, stack[:depth], after, fields)
                return
        for other, call in callers(file, function):
            argument = argument_for(call, function, parameter)
            if argument is not None:
                yield other, argument, (), after, fields
        yield from _default(file, function, parameter, (), after, fields)

    def call(self, file: SourceFile, node: ast.Call, stack, after, fields) -> Iterator[Item]:
        if id(node) in builds(file) or file.qualname(node.func) in ORIGINS:
            return
        held = role(file, node.func)
        if held is not None:
            if held.kind == "model":
                return  # a model's output is not an image
            if held.build.clip and not held.build.vendored:
                if held.train_transform and held.file is not None and self.marks is not None:
                    # the training transform applied here: marked on the build that returned it
                    self.mark(held.file, held.build.node, after)
                for argument in (*node.args, *(k.value for k in node.keywords)):
                    yield file, argument, stack, after | {"resize", "normalize"}, ()
                return
        if _loader(file, node):
            yield from self.loader(file, node, stack, after, fields)
            return
        if _mapper(node):
            yield from self.mapped(file, node, stack, after, fields)
            return
        kept = _keeping(file, node, fields)
        if kept is not None:
            yield file, kept[0], stack, after, kept[1]
            return
        entered = False
        for item in self.enter(file, node, stack, after, fields):
            entered = True
            yield item
        if entered:
            return
        func = node.func
        applied = after
        if isinstance(func, ast.Attribute):
            on_self = isinstance(func.value, ast.Name) and func.value.id in ("self", "cls")
            yield file, func if on_self else func.value, stack, after, fields
            if on_self:
                applied = after | _recipe(file, func)
        else:
            yield file, func, stack, after, ()  # a pipeline held by a name, or built right here
            applied = after | _recipe(file, func)  # what it does, its input gets done to it
        # what a library call returns is not laid out like its arguments: no keys to follow
        for argument in node.args:
            yield file, argument, stack, applied, ()
        for passed in node.keywords:
            yield file, passed.value, stack, applied, ()

    def loader(self, file: SourceFile, node: ast.Call, stack, after, fields) -> Iterator[Item]:
        """A DataLoader: its batches are its collate_fn's results, or the dataset's items."""
        dataset = _dataset(node)
        collate = next((k.value for k in node.keywords if k.arg == "collate_fn"), None)
        if collate is None:
            if dataset is not None:
                yield file, dataset, stack, after, fields
            return
        batch = fields[1:] if fields and fields[0] is ITEMS else fields
        for definition in definitions(file, collate):
            if isinstance(definition.node, (*FUNCTIONS, ast.Lambda)):
                frames = _push(stack, Frame(file, node, definition.node))
                for value in returned(definition.node):
                    yield definition.file, value, frames, after, batch

    def mapped(self, file: SourceFile, node: ast.Call, stack, after, fields) -> Iterator[Item]:
        """`dataset.with_transform(fn)` (Hugging Face datasets), `.map(fn)`: an item is what `fn`
        returns for its batch, so a key read from the item is read from that return."""
        yield file, node.func.value, stack, after, fields  # `map` keeps the other columns
        batch = fields[1:] if fields and fields[0] is ITEMS else fields
        for definition in definitions(file, node.args[0]):
            if isinstance(definition.node, (*FUNCTIONS, ast.Lambda)):
                frames = _push(stack, Frame(file, node, definition.node))
                for value in returned(definition.node):
                    yield definition.file, value, frames, after, batch

    def enter(self, file: SourceFile, node: ast.Call, stack, after, fields) -> Iterator[Item]:
        """Into the project's own code a call runs: a function's returns (those a constant
        argument leaves alive), a dataset's items, an instance's `__call__` / `forward`."""
        for definition in definitions(file, node.func):
            target = definition.node
            if isinstance(target, (*FUNCTIONS, ast.Lambda)):
                frames = _push(stack, Frame(file, node, target))
                for value in live_returns(definition.file, target, node):
                    yield definition.file, value, frames, after, fields
            elif isinstance(target, ast.ClassDef):
                yield from self.created(definition.file, target, node, file, stack, after, fields)
            elif isinstance(
                target, ast.Call
            ):  # calling an instance: `tf(img)`, `tf = MyTransform()`
                for created in definitions(definition.file, target.func):
                    if isinstance(created.node, ast.ClassDef):
                        yield from self.called(
                            created.file,
                            created.node,
                            definition.file,
                            target,
                            file,
                            node,
                            stack,
                            after,
                            fields,
                        )
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "self"
            and not definitions(file, func)
        ):
            for cls_file, cls, ctor_file, ctor in _instances(file, func):  # `self.normalize(x)`
                yield from self.called(
                    cls_file, cls, ctor_file, ctor, file, node, stack, after, fields
                )

    def created(
        self,
        cls_file: SourceFile,
        cls: ast.ClassDef,
        ctor: ast.Call,
        ctor_file: SourceFile,
        stack,
        after,
        fields,
    ) -> Iterator[Item]:
        """An instance of a project class reached: its items when one is read out of it."""
        if not fields:
            return  # the object itself flows on, not what it holds
        frames = _push(stack, Frame(ctor_file, ctor, cls))
        for name in ("__getitem__", "__iter__"):
            method = method_of(cls, name)
            if method is not None:
                for value in returned(method):
                    yield cls_file, value, frames, after, fields[1:]

    def called(
        self,
        cls_file: SourceFile,
        cls: ast.ClassDef,
        ctor_file: SourceFile,
        ctor: ast.Call,
        file: SourceFile,
        call: ast.Call,
        stack,
        after,
        fields,
    ) -> Iterator[Item]:
        method = method_of(cls, "__call__") or method_of(cls, "forward")
        if method is None:
            return
        frames = _push(_push(stack, Frame(ctor_file, ctor, cls)), Frame(file, call, method))
        for value in returned(method):
            yield cls_file, value, frames, after, fields


ITEMS = ("items",)  # a field: one element of the value (a loop, a subscript by a variable)
# Calls that hand back their argument's structure: `accelerator.prepare(loader)`, `tqdm(loader)`.
# Methods whose result's items are what the function they are given returns.
MAPPERS = frozenset({"with_transform", "set_transform", "map"})
KEEPERS = frozenset({"prepare", "tqdm", "iter", "list", "tuple", "sorted", "reversed", "next"})


def _read(key, fields: tuple) -> tuple:
    return (key, *fields)[:MAX_FIELDS]


def _mapper(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Attribute) and call.func.attr in MAPPERS and bool(call.args)


def _keyed(statement: ast.AST, name: str, fields: tuple) -> tuple | None:
    """The fields to read in what `name[key] = value` stores: the first key read, when it is
    this one, is used up; None when the key read is another."""
    targets = getattr(statement, "targets", None) or [getattr(statement, "target", None)]
    keys = [
        t.slice.value
        for t in targets
        if isinstance(t, ast.Subscript)
        and isinstance(t.value, ast.Name)
        and t.value.id == name
        and isinstance(t.slice, ast.Constant)
    ]
    wanted = next((i for i, f in enumerate(fields) if isinstance(f, str)), None)
    if not keys or not isinstance(keys[0], str) or wanted is None:
        return fields
    if keys[0] != fields[wanted]:
        return None
    return fields[:wanted] + fields[wanted + 1 :]


def _element(fields: tuple) -> tuple:
    """Fields inside one element of a sequence: the element's own index or ITEMS is used up."""
    return fields[1:] if fields and (fields[0] is ITEMS or isinstance(fields[0], int)) else fields


def _keeping(file: SourceFile, call: ast.Call, fields: tuple) -> tuple[ast.AST, tuple] | None:
    """A call whose result is laid out like (one of) its arguments, with the fields to read there."""
    name = callee_name(call.func)
    if not call.args or any(isinstance(a, ast.Starred) for a in call.args):
        return None
    if name == "enumerate" and len(fields) >= 2 and fields[0] is ITEMS and fields[1] == 1:
        return call.args[0], (ITEMS, *fields[2:])
    if (
        name == "zip"
        and len(fields) >= 2
        and fields[0] is ITEMS
        and isinstance(fields[1], int)
        and fields[1] < len(call.args)
    ):
        return call.args[fields[1]], (ITEMS, *fields[2:])
    if name in KEEPERS:
        if (
            name == "prepare"
            and len(call.args) > 1
            and fields
            and isinstance(fields[0], int)
            and fields[0] < len(call.args)
        ):
            return call.args[fields[0]], fields[1:]
        return call.args[0], fields
    return None


def live_returns(file: SourceFile, function: ast.AST, call: ast.Call) -> list[ast.AST]:
    """What a function returns for this call: returns in a branch that a constant argument rules
    out (`image_transform(..., is_train=False)` never returns its training pipeline) are left out."""
    values = returned(function)
    if isinstance(function, ast.Lambda) or len(values) < 2:
        return values
    known = _constants(file, function, call)
    live = [v for v in values if not _ruled_out(file, function, v, known)]
    return live or values


def _constants(file: SourceFile, function: ast.AST, call: ast.Call) -> dict:
    """The parameters this call binds to constants, and the function's names assigned once from
    a comparison of them (`is_train = split == "train"`), with their values; once per call."""
    computed = file.memo("clipguard.constants", lambda _: {})
    key = (id(function), id(call))
    if key not in computed:
        computed[key] = _read_constants(file, function, call)
    return computed[key]


def _read_constants(file: SourceFile, function: ast.AST, call: ast.Call) -> dict:
    known = {}
    if isinstance(function, ast.Lambda):
        return known
    for parameter in (*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs):
        argument = argument_for(call, function, parameter)
        if isinstance(argument, ast.Constant):
            known[parameter.arg] = argument.value
    if not known:
        return known
    flow = flow_of(file)
    for statement in function.body:
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and len(flow.defs.get((id(function), statement.targets[0].id), [])) == 1
        ):
            value = _value(statement.value, known)
            if value is not None:
                known[statement.targets[0].id] = value
    return known


def _ruled_out(file: SourceFile, function: ast.AST, node: ast.AST, known: dict) -> bool:
    """Whether `node` sits in a branch of `function` that the `known` values rule out."""
    if not known:
        return False
    for parent, field_name in flow_of(file).ancestors(node):
        if parent is function:
            return False
        if isinstance(parent, ast.If) and field_name in ("body", "orelse"):
            truth = _value(parent.test, known)
            if truth is not None and (field_name == "body") != bool(truth):
                return True
    return False


def _value(test: ast.AST, known: dict) -> object | None:
    """The value of a test on names bound to constants, if it can be read: a name, `not`, and
    `==`/`!=`/`in` against a constant."""
    if isinstance(test, ast.Name) and test.id in known:
        return known[test.id]
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _value(test.operand, known)
        return None if inner is None else not inner
    if (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.left, ast.Name)
        and test.left.id in known
    ):
        right = test.comparators[0]
        try:
            other = ast.literal_eval(right)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None
        left, op = known[test.left.id], test.ops[0]
        if isinstance(op, ast.Eq):
            return left == other
        if isinstance(op, ast.NotEq):
            return left != other
        if isinstance(op, ast.In):
            return left in other
        if isinstance(op, ast.NotIn):
            return left not in other
    return None


_NESTED = [0]  # queries walked from inside a walk: bounded, so they cannot recurse without end


def _instances(
    file: SourceFile, func: ast.AST
) -> list[tuple[SourceFile, ast.ClassDef, SourceFile, ast.Call]]:
    """Project classes whose instances `self.x` can hold: (class's module, class, constructor's
    module, constructor call), found by walking back from `self.x`."""

    def read(_: SourceFile) -> dict[int, list]:
        return {}

    known = file.memo("clipguard.instances", read)
    if id(func) not in known:
        known[id(func)] = []
        if _NESTED[0] > 1:
            return []
        _NESTED[0] += 1
        try:
            found = []
            for other, node in upstream(file, func, 200)[1:]:
                if isinstance(node, ast.Call):
                    for definition in definitions(other, node.func):
                        if isinstance(definition.node, ast.ClassDef):
                            found.append((definition.file, definition.node, other, node))
            known[id(func)] = found
        finally:
            _NESTED[0] -= 1
    return known[id(func)]


def _recipe(file: SourceFile, func: ast.AST) -> frozenset[str]:
    """What a pipeline held by a name does to what it is applied to: `normalize`, `resize`."""

    def read(_: SourceFile) -> dict[int, frozenset[str]]:
        return {}

    known = file.memo("clipguard.recipes", read)
    if id(func) not in known:
        known[id(func)] = frozenset()  # while it is read: a pipeline that holds itself
        if _NESTED[0] > 1:
            return known[id(func)]
        _NESTED[0] += 1
        try:
            kinds: set[str] = set()
            for other, node in upstream(file, func, 400)[1:]:
                for step in steps_by_node(other).get(id(node), ()):
                    if not step.applied and step.kind in ("normalize", "resize"):
                        kinds.add(step.kind)
            known[id(func)] = frozenset(kinds)
        finally:
            _NESTED[0] -= 1
    return known[id(func)]


def _collects_normalize(file: SourceFile, call: ast.Call) -> bool:
    """A `Compose`/`Sequential` holding a normalization among its transforms."""
    if callee_name(call.func) not in COLLECTORS:
        return False
    items = [
        a for a in call.args for a in (a.elts if isinstance(a, (ast.List, ast.Tuple)) else [a])
    ]
    by_node = steps_by_node(file)
    return any(
        any(s.kind == "normalize" for s in by_node.get(id(item), ()))
        or (isinstance(item, (ast.Name, ast.Attribute)) and "normalize" in _recipe(file, item))
        for item in items
    )


def _entries(file: SourceFile, pairs: list, stack, after, fields) -> Iterator[Item]:
    """A dict's values; only the one under the key read further on, when there is one."""
    key = fields[0] if fields else None
    if key is not None and all(k is None or isinstance(k, ast.Constant) for k, _ in pairs):
        for k, value in pairs:
            if k is None:
                yield file, value, stack, after, fields  # `{**base, ...}`
            elif k.value == key:
                yield file, value, stack, after, fields[1:]
        return
    for _, value in pairs:
        yield file, value, stack, after, ()


def _loader(file: SourceFile, call: ast.Call) -> bool:
    return (file.qualname(call.func) or "").endswith("DataLoader")


def _dataset(call: ast.Call) -> ast.AST | None:
    return next(
        (k.value for k in call.keywords if k.arg == "dataset"), call.args[0] if call.args else None
    )


def _unpacked_index(statement: ast.AST, value: ast.AST, name: str) -> int | None:
    """The position of `name` in a tuple target bound to the whole of `value`."""
    if isinstance(statement, ast.Assign) and value is statement.value:
        targets = statement.targets
    elif isinstance(statement, (ast.For, ast.AsyncFor)) and value is statement.iter:
        targets = [statement.target]
    else:
        return None
    for target in targets:
        if isinstance(target, (ast.Tuple, ast.List)):
            for index, element in enumerate(target.elts):
                if isinstance(element, ast.Starred):
                    return None
                if isinstance(element, ast.Name) and element.id == name:
                    return index
    return None


def _push(stack: tuple[Frame, ...], frame: Frame) -> tuple[Frame, ...]:
    return (*stack, frame) if len(stack) < MAX_FRAMES else stack


def _default(
    file: SourceFile, function: ast.AST, parameter: ast.arg, stack, after, fields
) -> Iterator[Item]:
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    if parameter in positional:
        index = positional.index(parameter) - (len(positional) - len(arguments.defaults))
        if index >= 0:
            yield file, arguments.defaults[index], stack, after, fields
    elif parameter in arguments.kwonlyargs:
        default = arguments.kw_defaults[arguments.kwonlyargs.index(parameter)]
        if default is not None:
            yield file, default, stack, after, fields


def _comprehension_source(flow, node: ast.Name) -> ast.AST | None:
    """The iterable a comprehension variable comes from (`for im in images`)."""
    for parent, _ in flow.ancestors(node):
        if isinstance(parent, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            for generator in parent.generators:
                if any(
                    isinstance(n, ast.Name) and n.id == node.id for n in ast.walk(generator.target)
                ):
                    return generator.iter
        if isinstance(parent, ast.stmt):
            return None
    return None


__all__ = ["EncoderInput", "Feed", "feeds", "origins_reaching", "upstream"]
