"""What is known of the image an operation works on, from where it comes: already square (a crop
of one size, a slice with the same span on both axes), or already low-pass filtered."""

from __future__ import annotations

import ast

from clipguard.analysis.flow import flow_of
from clipguard.analysis.nodes import callee_name
from clipguard.analysis.source import SourceFile
from clipguard.analysis.steps import Step, is_square, steps_by_node
from clipguard.analysis.tracing import upstream
from clipguard.analysis.vocab.steps import LOW_PASS

# Crops that take one size: `CenterCrop(224)`, `RandomCrop(512)` give square images.
CROPS = (
    "CenterCrop",
    "RandomCrop",
    "RandomResizedCrop",
    "center_crop",
    "crop",
    "five_crop",
    "ten_crop",
    "random_crop",
    "FiveCrop",
    "TenCrop",
)


def square_input(file: SourceFile, step: Step) -> bool:
    """Whether the image a resize works on is already square, so (n, n) keeps its aspect."""
    if step.data is None:
        return False
    return any(_square(other, node) for other, node in upstream(file, step.data)[1:])


def low_passed(file: SourceFile, step: Step) -> bool:
    """Whether the image was low-pass filtered before the resize: it no longer aliases."""
    if step.data is None:
        return False
    return any(
        isinstance(node, ast.Call) and callee_name(node.func) in LOW_PASS
        for _, node in upstream(file, step.data)[1:]
    )


def _square(file: SourceFile, node: ast.AST) -> bool:
    if isinstance(node, ast.Subscript):
        return _square_slices(node.slice)
    if isinstance(node, ast.Call) and callee_name(node.func) in CROPS:
        sizes = [k.value for k in node.keywords if k.arg in ("size", "output_size", "crop_size")]
        # a transform class takes the size first (`RandomCrop(512)`), a function after the image
        position = 0 if callee_name(node.func)[:1].isupper() else 1
        size = sizes[0] if sizes else node.args[position] if len(node.args) > position else None
        return size is not None and (_single(size) or is_square(flow_of(file), size))
    if isinstance(node, ast.Call):
        return any(
            s.kind == "resize" and is_square(flow_of(file), s.size)
            for s in steps_by_node(file).get(id(node), ())
        )
    return False


def _single(size: ast.AST) -> bool:
    """One number (a square crop): a literal or a name, not a pair."""
    return isinstance(size, (ast.Name, ast.Attribute)) or (
        isinstance(size, ast.Constant) and isinstance(size.value, int)
    )


def _square_slices(index: ast.AST) -> bool:
    """`x[..., a:a + s, b:b + s]` or `x[:, :s, :s]`: the same span on the last two axes."""
    parts = index.elts if isinstance(index, ast.Tuple) else [index]
    spans = [p for p in parts if isinstance(p, ast.Slice)][-2:]
    if len(spans) != 2 or any(s.upper is None for s in spans):
        return False
    return _span(spans[0]) is not None and _span(spans[0]) == _span(spans[1])


def _span(part: ast.Slice) -> str | None:
    upper, lower = part.upper, part.lower
    if lower is None:
        return ast.dump(upper)
    if (
        isinstance(upper, ast.BinOp)
        and isinstance(upper.op, ast.Add)
        and ast.dump(upper.left) == ast.dump(lower)
    ):
        return ast.dump(upper.right)
    return None
