"""Where images begin, and in what form: the reads and conversions a walk back from a model's
input ends at. A read by OpenCV is BGR; `ToTensor` gives [0, 1], `PILToTensor` and arrays of a
PIL image 0-255, a generator or a VAE decoder [-1, 1]."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from clipguard.analysis.nodes import all_nodes, callee_name, constant
from clipguard.analysis.source import SourceFile

BGR = "bgr"  # OpenCV channel order
UNIT = "unit"  # floats in [0, 1]
BYTES = "bytes"  # 0-255
SIGNED = "signed"  # [-1, 1]

RANGE_WORDS = {UNIT: "[0, 1]", BYTES: "0-255", SIGNED: "[-1, 1]"}
# Sources: OpenCV `imread`/`imdecode`/`VideoCapture.read` (BGR); torchvision `ToTensor`,
# `to_tensor`, v2 `ToDtype(scale=True)` ([0, 1]); `PILToTensor`, `pil_to_tensor`, `read_image`,
# `decode_image` (uint8).
OPENCV_READS = {"cv2.imread", "cv2.imdecode"}
UNIT_CONVERSIONS = ("ToTensor", "to_tensor")
BYTE_CONVERSIONS = ("PILToTensor", "pil_to_tensor", "read_image", "decode_image")
# Models whose output is an image in [-1, 1]: GAN generators, synthesis networks, VAE decoders.
GENERATORS = re.compile(
    r"^(g|netg|gen|generator|g_ema|synthesis|biggan|stylegan\w*|"
    r"decoder|generate_images?)$",
    re.IGNORECASE,
)
GRAYSCALE_FLAGS = (
    "IMREAD_GRAYSCALE",
    "IMREAD_REDUCED_GRAYSCALE_2",
    "IMREAD_REDUCED_GRAYSCALE_4",
    "IMREAD_REDUCED_GRAYSCALE_8",
)


@dataclass(frozen=True)
class Origin:
    """An image enters the program at `node`, as `form` (bgr, unit, bytes, signed)."""

    node: ast.AST
    form: str
    what: str  # how the code spells it, for messages


def origins(file: SourceFile) -> dict[int, Origin]:
    """The module's image origins, by node id."""
    return file.memo("clipguard.origins", _origins)


def _origins(file: SourceFile) -> dict[int, Origin]:
    found: dict[int, Origin] = {}
    for node in all_nodes(file):
        if isinstance(node, ast.Call):
            origin = _origin(file, node)
            if origin is not None:
                found[id(node)] = origin
    return found


def _origin(file: SourceFile, call: ast.Call) -> Origin | None:
    qualified = file.qualname(call.func) or ""
    last = qualified.rsplit(".", 1)[-1] if qualified else callee_name(call.func)
    if qualified in OPENCV_READS:
        flags = (
            call.args[1]
            if len(call.args) > 1
            else next((k.value for k in call.keywords if k.arg == "flags"), None)
        )
        if flags is not None and (callee_name(flags) in GRAYSCALE_FLAGS or constant(flags) == 0):
            return None
        return Origin(call, BGR, qualified)
    if (
        callee_name(call.func) == "read"
        and isinstance(call.func, ast.Attribute)
        and _video_capture(file, call.func.value)
    ):
        return Origin(call, BGR, "cv2.VideoCapture.read")
    if qualified.startswith("torchvision.") and last in UNIT_CONVERSIONS:
        return Origin(call, UNIT, last)
    if qualified.startswith("torchvision.") and last in BYTE_CONVERSIONS:
        return Origin(call, BYTES, last)
    if (
        qualified.startswith("torchvision.")
        and last == "ToDtype"
        and any(k.arg == "scale" and constant(k.value) is True for k in call.keywords)
    ):
        return Origin(call, UNIT, "ToDtype(scale=True)")
    if not qualified and GENERATORS.match(callee_name(call.func)):
        return Origin(call, SIGNED, callee_name(call.func))
    return None


def _video_capture(file: SourceFile, node: ast.AST) -> bool:
    """A name bound to `cv2.VideoCapture(...)` in this module."""
    from clipguard.analysis.flow import flow_of

    if isinstance(node, ast.Call):
        return file.qualname(node.func) == "cv2.VideoCapture"
    if isinstance(node, (ast.Name, ast.Attribute)):
        flow = flow_of(file)
        values = (
            [d.value for d in flow.definitions(node)]
            if isinstance(node, ast.Name)
            else _attribute_values(file, node)
        )
        return any(
            isinstance(v, ast.Call) and file.qualname(v.func) == "cv2.VideoCapture" for v in values
        )
    return False


def _attribute_values(file: SourceFile, node: ast.Attribute) -> list[ast.AST]:
    from clipguard.analysis.flow import flow_of

    flow = flow_of(file)
    if not (isinstance(node.value, ast.Name) and node.value.id == "self"):
        return []
    owner = flow.enclosing_class(flow.scope.get(id(node), file.tree))
    return flow.attrs.get((id(owner), node.attr), []) if owner is not None else []


# `cv2.cvtColor` codes that swap red and blue, and those that leave no channel order to get wrong.
SWAPS = re.compile(r"^COLOR_(BGRA?2RGBA?|RGBA?2BGRA?)$")
NO_ORDER = re.compile(r"^COLOR_\w*(GRAY|YUV|HSV|LAB|Lab|YCrCb|XYZ|HLS|Luv)\w*$")


def channel_change(file: SourceFile, node: ast.AST) -> str | None:
    """`swap` where `node` reverses the channel order (`cvtColor(x, COLOR_BGR2RGB)`,
    `x[..., ::-1]`, `flip(-1)`), `gone` where it leaves none (grayscale), else None."""
    if isinstance(node, ast.Call):
        qualified = file.qualname(node.func) or ""
        if qualified == "cv2.cvtColor" and len(node.args) > 1:
            code = callee_name(node.args[1])
            return "swap" if SWAPS.match(code) else "gone" if NO_ORDER.match(code) else None
        if callee_name(node.func) == "flip" and node.args and constant(node.args[-1]) in (-1, 2):
            return "swap"
        if qualified == "numpy.flip" and any(
            constant(k.value) in (-1, 2) for k in node.keywords if k.arg == "axis"
        ):
            return "swap"
        if (
            isinstance(node.func, ast.Attribute)
            and node.func.attr == "convert"
            and node.args
            and constant(node.args[0]) in ("L", "1")
        ):
            return "gone"
    if isinstance(node, ast.Subscript):
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        last = parts[-1] if parts else None
        if (
            isinstance(last, ast.Slice)
            and last.lower is None
            and last.upper is None
            and isinstance(last.step, ast.UnaryOp)
            and constant(last.step.operand) == 1
        ):
            first = parts[0]
            channels_last = (isinstance(first, ast.Constant) and first.value is Ellipsis) or len(
                parts
            ) >= 3
            return "swap" if channels_last else None
        if isinstance(last, ast.List) and [constant(e) for e in last.elts] == [2, 1, 0]:
            return "swap"
    return None
