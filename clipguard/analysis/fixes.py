"""Text edits the preprocessing rules offer: CLIP constants, bicubic interpolation, antialias.

Edits touch only the argument they change (or insert one keyword), so comments and formatting
around them survive, and a fixed file no longer matches the rule, so fixing twice is a no-op.
"""

from __future__ import annotations

import ast

from clipguard.analysis.constants import CLIP_NAME, Value, clip_values, format_triple, scale_of
from clipguard.analysis.nodes import all_nodes
from clipguard.diagnostics import Edit

TORCHVISION_MODE = "torchvision.transforms.InterpolationMode"


def constant_edits(file, flow, node: ast.AST, values: list, role: str) -> list[Edit] | None:
    """Edits that make `node` (a mean or std argument) CLIP's; None when no safe place to edit."""
    if len(values) != 1 or values[0] is None:
        return None
    value: Value = values[0]
    if value.named is not None:
        return _named_edits(file, node, value.named)
    literal = value.literal
    if literal is None or not _literal_in(file, literal):
        return None
    if not _within(literal, node) and not _single_use(file, flow, literal):
        return None
    replacement = format_triple(clip_values(value.literal_scale, role), literal)
    if file.segment(literal) == replacement:
        return []
    return [file.replace(literal, replacement)]


def pair_edits(file, flow, step, means: list, stds: list, roles=("mean", "std"),
               only: tuple[bool, bool] = (True, True)) -> list[Edit] | None:
    """Edits for a mean/std pair (`only` picks which of the two to change); None if unfixable."""
    named = [v[0].named if len(v) == 1 and v[0] is not None else None for v in (means, stds)]
    nodes = (step.mean, step.std)
    if all(only) and all(named) and named[0].rpartition(".")[0] == named[1].rpartition(".")[0]:
        module = named[0].rpartition(".")[0]
        names = [CLIP_NAME.get(n.rpartition(".")[2]) for n in named]
        if None in names or not all(isinstance(n, ast.Name) for n in nodes) or any(
                file.imports.bindings.get(n) not in (None, f"{module}.{n}") for n in names):
            return None
        edits = [file.replace(node, name) for node, name in zip(nodes, names)]
        missing = [n for n in names if n not in file.imports.bindings]
        if missing:
            edits.append(file.add_import(f"from {module} import {', '.join(missing)}", missing[0],
                                         f"{module}.{missing[0]}"))
        return edits
    edits: list[Edit] = []
    for node, values, role, wanted in zip(nodes, (means, stds), roles, only):
        if not wanted:
            continue
        found = constant_edits(file, flow, node, values, role)
        if found is None:
            return None
        edits.extend(found)
    return edits


def _named_edits(file, node: ast.AST, qualified: str) -> list[Edit] | None:
    module, _, name = qualified.rpartition(".")
    clip_name = CLIP_NAME.get(name)
    if clip_name is None or not isinstance(node, ast.Name):
        return None
    edits = [file.replace(node, clip_name)]
    added = file.add_import(f"from {module} import {clip_name}", clip_name, f"{module}.{clip_name}")
    if file.imports.bindings.get(clip_name) not in (None, f"{module}.{clip_name}"):
        return None  # the name means something else here
    if added is not None:
        edits.append(added)
    return edits


def _literal_in(file, literal: ast.AST) -> bool:
    return hasattr(literal, "lineno") and id(literal) in file.memo("clipguard.fixes.ids", _node_ids)


def _node_ids(file) -> set[int]:
    """Ids of every node of the module: one walk shared by every finding's fix."""
    return {id(n) for n in all_nodes(file)}


def _load_counts(file) -> dict[str, int]:
    """How many times each name is read in the module."""
    counts: dict[str, int] = {}
    for n in all_nodes(file):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            counts[n.id] = counts.get(n.id, 0) + 1
    return counts


def _within(inner: ast.AST, outer: ast.AST) -> bool:
    return any(n is inner for n in ast.walk(outer))


def _single_use(file, flow, literal: ast.AST) -> bool:
    """A literal bound to a name that is read exactly once in the file (safe to change there)."""
    statement = flow.statement(literal)
    if not isinstance(statement, ast.Assign) or len(statement.targets) != 1 \
            or not isinstance(statement.targets[0], ast.Name):
        return False
    name = statement.targets[0].id
    return file.memo("clipguard.fixes.loads", _load_counts).get(name, 0) == 1


def keyword_edit(file, call: ast.Call, name: str, value: str) -> Edit:
    """Insert `name=value` after the call's last argument (or inside empty parentheses)."""
    arguments = [*call.args, *call.keywords]
    if arguments:
        last = max(arguments, key=lambda a: (a.end_lineno, a.end_col_offset))
        _, _, line, column = file.span(last)
        return file.insert(line, column, f", {name}={value}")
    _, _, line, column = file.span(call)
    return file.insert(line, column - 1, f"{name}={value}")


def bicubic_mode(file) -> tuple[str, Edit | None]:
    """An expression for torchvision's BICUBIC mode, and the import it needs (if any)."""
    for local, qualified in file.imports.bindings.items():
        if qualified in (TORCHVISION_MODE, "torchvision.transforms.v2.InterpolationMode",
                         "torchvision.transforms.functional.InterpolationMode"):
            return f"{local}.BICUBIC", None
    edit = file.add_import("from torchvision.transforms import InterpolationMode",
                           "InterpolationMode", TORCHVISION_MODE)
    return "InterpolationMode.BICUBIC", edit


def cv2_cubic(file) -> tuple[str, Edit | None]:
    for local, qualified in file.imports.bindings.items():
        if qualified == "cv2":
            return f"{local}.INTER_CUBIC", None
    return "cv2.INTER_CUBIC", file.add_import("import cv2", "cv2", "cv2")


def renamed_constant(file, node: ast.AST, word: str) -> str | None:
    """`Image.BILINEAR` -> `Image.BICUBIC` (keeps the spelling of the module path)."""
    if isinstance(node, ast.Attribute):
        return file.segment(node.value) + "." + word
    return None


def same_scale(values) -> float:
    return scale_of(values)
