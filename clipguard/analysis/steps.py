"""Preprocessing steps as the code writes them: normalize, resize and crop calls, with arguments.

Recognises torchvision (v1, v2, functional), cv2, albumentations, PIL `.resize`,
`F.interpolate`, `(x - MEAN) / STD` arithmetic, mmseg/detectron-style config dicts, the image
options of open_clip builders and Hugging Face CLIP processors, and torchvision weights'
`.transforms()`.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass

from clipguard.analysis.flow import flow_of
from clipguard.analysis.models import argument, config_items, string
from clipguard.analysis.nodes import all_nodes, callee_name
from clipguard.analysis.statistics import number
from clipguard.analysis.vocab.statistics import VALUE_KEEPERS, VALUE_WRAPPERS
from clipguard.analysis.vocab.steps import (
    CV2_CODES,
    MODE_WORDS,
    NORMALIZE_LIBRARIES,
    PIL_CODES,
    PIL_CONSTANT,
    PIL_SOURCES,
    RANDOM_AUGMENTATIONS,
    TORCHVISION,
)


@dataclass
class Step:
    """One preprocessing operation; `owner` is set for options of a CLIP build or processor."""

    node: ast.AST
    kind: str  # normalize | resize | crop | augment | imagenet-transforms
    api: str  # torchvision | cv2 | albumentations | pil | interpolate | open_clip | hf | config | arithmetic
    mean: ast.AST | None = None
    std: ast.AST | None = None
    interpolation: ast.AST | None = None
    default_interpolation: str | None = None  # what an omitted interpolation means
    size: ast.AST | None = None
    size_order: str = "hw"  # hw (torchvision, albumentations) or wh (cv2, PIL)
    antialias: ast.AST | None = None
    owner: ast.AST | None = None  # the build/processor call these options belong to
    squash_mode: bool = False  # open_clip image_resize_mode="squash"
    data: ast.AST | None = None  # the image an applied operation works on; None for a transform

    @property
    def applied(self) -> bool:
        """An operation on data (`cv2.resize(img, ...)`), not a transform object to apply later."""
        return self.data is not None


def find_steps(file, call: ast.Call, flow) -> list[Step]:
    """The steps one call performs or configures (most calls: none)."""
    qualified = file.qualname(call.func) or ""
    last = (
        qualified.rsplit(".", 1)[-1]
        if qualified
        else call.func.attr
        if isinstance(call.func, ast.Attribute)
        else ""
    )
    if last in ("Normalize", "NormalizeVideo") and qualified.split(".")[0] in NORMALIZE_LIBRARIES:
        return [
            Step(
                call,
                "normalize",
                "torchvision",
                mean=argument(call, 0, "mean"),
                std=argument(call, 1, "std"),
            )
        ]
    if TORCHVISION.match(qualified):
        return _torchvision(call, qualified, last)
    if qualified == "cv2.resize":
        return [
            Step(
                call,
                "resize",
                "cv2",
                interpolation=argument(call, 5, "interpolation"),
                default_interpolation="bilinear",
                size=argument(call, 1, "dsize"),
                size_order="wh",
                data=argument(call, 0, "src"),
            )
        ]
    if qualified.startswith("albumentations."):
        return _albumentations(call, last)
    if qualified in ("torch.nn.functional.interpolate", "torch.nn.functional.upsample"):
        return [
            Step(
                call,
                "resize",
                "interpolate",
                interpolation=argument(call, 3, "mode"),
                default_interpolation="nearest",
                size=argument(call, 1, "size"),
                antialias=argument(call, 6, "antialias"),
                data=argument(call, 0, "input"),
            )
        ]
    if qualified.startswith("torchvision.models.") and last == "transforms":
        return [Step(call, "imagenet-transforms", "torchvision")]
    if (
        not qualified
        and last == "transforms"
        and isinstance(call.func, ast.Attribute)
        and _is_weights(file, call.func.value, flow)
    ):
        return [Step(call, "imagenet-transforms", "torchvision")]
    if qualified.startswith(("open_clip.", "open_clip_torch.")):
        return _open_clip(call, last)
    if qualified.startswith("transformers."):
        return _processor(call, qualified)
    if not qualified and last == "resize" and isinstance(call.func, ast.Attribute):
        return _pil_resize(file, call, flow)
    return []


def _torchvision(call: ast.Call, qualified: str, last: str) -> list[Step]:
    functional = ".functional." in qualified
    offset = 1 if functional else 0
    data = argument(call, 0, "img", "inpt", "tensor") if functional else None
    if last in ("Normalize", "normalize"):
        return [
            Step(
                call,
                "normalize",
                "torchvision",
                mean=argument(call, offset, "mean"),
                std=argument(call, offset + 1, "std"),
                data=data,
            )
        ]
    if last in ("Resize", "resize"):
        return [
            Step(
                call,
                "resize",
                "torchvision",
                interpolation=argument(call, offset + 1, "interpolation"),
                default_interpolation="bilinear",
                size=argument(call, offset, "size"),
                antialias=argument(call, offset + 3, "antialias"),
                data=data,
            )
        ]
    if last.startswith(RANDOM_AUGMENTATIONS) and not functional:
        return [Step(call, "augment", "torchvision")]
    if last in ("CenterCrop", "center_crop"):
        return [
            Step(
                call,
                "crop",
                "torchvision",
                size=argument(call, offset, "size", "output_size"),
                data=data,
            )
        ]
    return []


def _albumentations(call: ast.Call, last: str) -> list[Step]:
    if last == "Normalize":
        return [
            Step(
                call,
                "normalize",
                "albumentations",
                mean=argument(call, 0, "mean"),
                std=argument(call, 1, "std"),
            )
        ]
    if last == "Resize":
        height, width = argument(call, 0, "height"), argument(call, 1, "width")
        size = ast.Tuple(elts=[height, width], ctx=ast.Load()) if height and width else None
        return [
            Step(
                call,
                "resize",
                "albumentations",
                interpolation=argument(call, 2, "interpolation"),
                default_interpolation="bilinear",
                size=size,
            )
        ]
    if last in ("SmallestMaxSize", "LongestMaxSize"):
        return [
            Step(
                call,
                "resize",
                "albumentations",
                interpolation=argument(call, 1, "interpolation"),
                default_interpolation="bilinear",
            )
        ]
    return []


def _open_clip(call: ast.Call, last: str) -> list[Step]:
    if last in ("create_model_and_transforms", "create_model_from_pretrained"):
        return _recipe(
            call,
            "open_clip",
            argument(call, 99, "image_mean"),
            argument(call, 99, "image_std"),
            argument(call, 99, "image_interpolation"),
            argument(call, 99, "image_resize_mode"),
            owner=call,
        )
    if last == "image_transform":
        train = argument(call, 1, "is_train")
        if isinstance(train, ast.Constant) and train.value is True:
            return [Step(call, "augment", "open_clip")]  # open_clip's training transform
        if not (isinstance(train, ast.Constant) and train.value is False):
            return []
        return _recipe(
            call,
            "open_clip",
            argument(call, 2, "mean"),
            argument(call, 3, "std"),
            argument(call, 99, "interpolation"),
            argument(call, 99, "resize_mode"),
        )
    return []


def _recipe(
    call: ast.Call, library: str, mean, std, interpolation, mode=None, owner: ast.AST | None = None
) -> list[Step]:
    """The steps of a call that takes its preprocessing recipe as options."""
    steps = []
    if mean is not None and std is not None:
        steps.append(Step(call, "normalize", library, mean=mean, std=std, owner=owner))
    if interpolation is not None:
        steps.append(Step(call, "resize", library, interpolation=interpolation, owner=owner))
    if string(mode) == "squash":
        steps.append(Step(call, "resize", library, owner=owner, squash_mode=True))
    return steps


def _processor(call: ast.Call, qualified: str) -> list[Step]:
    if not re.search(
        r"\.(CLIP|AltCLIP|ChineseCLIP)(Processor|ImageProcessor\w*|FeatureExtractor)"
        r"(\.from_pretrained)?$|\.Auto(Processor|ImageProcessor)\.from_pretrained$",
        qualified,
    ):
        return []
    steps = _recipe(
        call,
        "hf",
        argument(call, 99, "image_mean"),
        argument(call, 99, "image_std"),
        argument(call, 99, "resample"),
        owner=call,
    )
    square = argument(call, 99, "use_square_size")  # the Kosmos-2 option: size becomes n x n
    if _exact_size(argument(call, 99, "size")) or (
        isinstance(square, ast.Constant) and square.value is True
    ):
        steps.append(Step(call, "resize", "hf", owner=call, squash_mode=True))
    return steps


def _exact_size(size: ast.AST | None) -> bool:
    """A Hugging Face `size` of `{"height": h, "width": w}` (not `{"shortest_edge": n}`)."""
    if isinstance(size, ast.Dict):
        keys = {k.value for k in size.keys if isinstance(k, ast.Constant)}
    elif isinstance(size, ast.Call) and isinstance(size.func, ast.Name) and size.func.id == "dict":
        keys = {k.arg for k in size.keywords}
    else:
        return False
    return {"height", "width"} <= keys


def _pil_resize(file, call: ast.Call, flow) -> list[Step]:
    resample = argument(call, 1, "resample")
    size = argument(call, 0, "size")
    pil_constant = resample is not None and PIL_CONSTANT.match(file.qualname(resample) or "")
    keyword = any(k.arg == "resample" for k in call.keywords)
    if not (pil_constant or keyword or _is_pil_image(file, call.func.value, flow)):
        return []
    return [
        Step(
            call,
            "resize",
            "pil",
            interpolation=resample,
            default_interpolation="bicubic",
            size=size,
            size_order="wh",
            data=call.func.value,
        )
    ]


def _is_pil_image(file, node: ast.AST, flow, hops: int = 0) -> bool:
    """Whether an expression is visibly a PIL image (`Image.open(...)`, `.convert("RGB")`...)."""
    if hops > 6:
        return False
    if isinstance(node, ast.Call):
        qualified = file.qualname(node.func) or ""
        if qualified.startswith("PIL."):
            return True
        if isinstance(node.func, ast.Attribute) and node.func.attr in PIL_SOURCES:
            return (
                _is_pil_image(file, node.func.value, flow, hops + 1) or node.func.attr == "convert"
            )
        return False
    if isinstance(node, ast.Name) and flow is not None:
        definitions = flow.definitions(node)
        return bool(definitions) and all(
            d.value is not None and _is_pil_image(file, d.value, flow, hops + 1)
            for d in definitions
        )
    return False


def _is_weights(file, node: ast.AST, flow) -> bool:
    """`ResNet50_Weights.DEFAULT` or a name bound to it: torchvision weights of an ImageNet model."""
    qualified = file.qualname(node) or ""
    if qualified.startswith("torchvision.models.") and "_Weights" in qualified:
        return "IMAGENET" in qualified.upper() or qualified.endswith(".DEFAULT")
    if isinstance(node, ast.Name) and flow is not None:
        definitions = flow.definitions(node)
        return bool(definitions) and all(
            d.value is not None and _is_weights(file, d.value, flow) for d in definitions
        )
    return False


def arithmetic_step(node: ast.BinOp) -> Step | None:
    """`(x - MEAN) / STD`, the hand-written normalization."""
    if (
        isinstance(node.op, ast.Div)
        and isinstance(node.left, ast.BinOp)
        and isinstance(node.left.op, ast.Sub)
        and _could_be_constant(node.left.right)
        and _could_be_constant(node.right)
    ):
        return Step(
            node,
            "normalize",
            "arithmetic",
            mean=node.left.right,
            std=node.right,
            data=node.left.left,
        )
    return None


def _could_be_constant(node: ast.AST) -> bool:
    """Shapes a mean/std constant can take (not `x.mean()` or `torch.sqrt(var + eps)`)."""
    while isinstance(node, (ast.Subscript, ast.Call)):
        if isinstance(node, ast.Call):
            func = node.func
            name = callee_name(func)
            if name in VALUE_WRAPPERS or name in VALUE_KEEPERS:
                node = (
                    node.args[0]
                    if name in VALUE_WRAPPERS and node.args
                    else func.value
                    if isinstance(func, ast.Attribute)
                    else node
                )
                if isinstance(node, ast.Call) and node.func is func:
                    return False
                continue
            return False
        node = node.value
    return isinstance(node, (ast.Name, ast.Attribute, ast.List, ast.Tuple, ast.ListComp, ast.BinOp))


def method_chain_step(call: ast.Call) -> Step | None:
    """`x.sub(MEAN).div(STD)` and the in-place `sub_` / `div_`."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in ("div", "div_") and call.args:
        inner = func.value
        if (
            isinstance(inner, ast.Call)
            and isinstance(inner.func, ast.Attribute)
            and inner.func.attr in ("sub", "sub_")
            and inner.args
        ):
            return Step(
                call,
                "normalize",
                "arithmetic",
                mean=inner.args[0],
                std=call.args[0],
                data=inner.func.value,
            )
    return None


def config_step(node: ast.AST) -> Step | None:
    """A config dict with mean and std (`img_norm_cfg = dict(mean=[123.675, ...], std=...)`)."""
    items = config_items(node)
    if not items:
        return None
    for mean_key, std_key in (
        ("mean", "std"),
        ("pixel_mean", "pixel_std"),
        ("image_mean", "image_std"),
    ):
        if mean_key in items and std_key in items:
            return Step(node, "normalize", "config", mean=items[mean_key], std=items[std_key])
    return None


def interpolation_kinds(
    file, flow, node: ast.AST | None, step: Step, hops: int = 0
) -> set[str] | None:
    """What an interpolation argument may be: {'bicubic', 'bilinear', 'nearest', 'other'}; None if
    it cannot be read."""
    if node is None:
        return {step.default_interpolation} if step.default_interpolation else None
    if hops > 8:
        return None
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):
            word = node.value.lower()
            return {word if word in ("bicubic", "bilinear", "nearest") else "other"}
        if isinstance(node.value, int) and not isinstance(node.value, bool):
            codes = CV2_CODES if step.api in ("cv2", "albumentations") else PIL_CODES
            return {codes.get(node.value, "other")}
        return None
    if isinstance(node, ast.IfExp):
        body = interpolation_kinds(file, flow, node.body, step, hops + 1)
        orelse = interpolation_kinds(file, flow, node.orelse, step, hops + 1)
        return None if body is None or orelse is None else body | orelse
    qualified = file.qualname(node)
    if qualified and qualified.split(".")[0] in (
        "torchvision",
        "PIL",
        "cv2",
        "albumentations",
        "transformers",
    ):
        return {MODE_WORDS.get(qualified.rsplit(".", 1)[-1], "other")}
    if isinstance(node, ast.Name) and flow is not None:
        definitions = flow.definitions(node)
        if not definitions or any(d.value is None for d in definitions):
            return None
        kinds: set[str] = set()
        for definition in definitions:
            found = interpolation_kinds(file, flow, definition.value, step, hops + 1)
            if found is None:
                return None
            kinds |= found
        return kinds
    return None


def size_values(
    flow, node: ast.AST | None, hops: int = 0, memo: dict | None = None
) -> tuple[int, ...] | None:
    """Integers of a size argument: (n,) for an int, (a, b) for a pair; None if unreadable.
    `memo` holds the names read so far: each is read once, however many calls lead to it."""
    if node is None or hops > 6:
        return None
    memo = {} if memo is None else memo
    value = number(node)
    if value is not None and math.isfinite(value) and value == int(value):
        return (int(value),)
    if isinstance(node, (ast.Tuple, ast.List)):
        if len(node.elts) == 1:
            return size_values(flow, node.elts[0], hops + 1, memo)
        if len(node.elts) == 2:
            parts = [size_values(flow, e, hops + 1, memo) for e in node.elts]
            if all(p is not None and len(p) == 1 for p in parts):
                return (parts[0][0], parts[1][0])  # type: ignore[index]
        return None
    if isinstance(node, ast.Name) and flow is not None:
        if id(node) in memo:
            return memo[id(node)]
        memo[id(node)] = None  # while it is read: a parameter passed round in a cycle is unknown
        values = [v for d in flow.definitions(node) for v in flow.bound_values(d)]
        found = {size_values(flow, v, hops + 1, memo) if v is not None else None for v in values}
        memo[id(node)] = found.pop() if len(found) == 1 else None
        return memo[id(node)]
    return None


def is_square(flow, node: ast.AST | None) -> bool:
    """A fixed (n, n) target: equal literals, or the same name twice."""
    if isinstance(node, (ast.Tuple, ast.List)) and len(node.elts) == 2:
        a, b = node.elts
        if isinstance(a, ast.Name) and isinstance(b, ast.Name) and a.id == b.id:
            return True
        if ast.dump(a) == ast.dump(b) and isinstance(a, (ast.Attribute, ast.Name)):
            return True
    values = size_values(flow, node)
    return values is not None and len(values) == 2 and values[0] == values[1]


def module_steps(file) -> list[Step]:
    """Every preprocessing step the module writes, in tree order; computed once per module."""
    return file.memo("clipguard.steps", _module_steps)


def steps_by_node(file) -> dict[int, list[Step]]:
    """The module's steps by the id of the node that performs or configures them."""

    def index(_) -> dict[int, list[Step]]:
        found: dict[int, list[Step]] = {}
        for step in module_steps(file):
            found.setdefault(id(step.node), []).append(step)
        return found

    return file.memo("clipguard.steps_by_node", index)


def _module_steps(file) -> list[Step]:
    flow = flow_of(file)
    found: list[Step] = []
    for node in all_nodes(file):
        if isinstance(node, ast.Call):
            found.extend(find_steps(file, node, flow))
            chained = method_chain_step(node)
            if chained:
                found.append(chained)
        elif isinstance(node, ast.BinOp):
            step = arithmetic_step(node)
            if step:
                found.append(step)
        if isinstance(node, (ast.Call, ast.Dict)):
            step = config_step(node)
            if step is not None:
                found.append(step)
    return found
