"""Fix text for similarity rules: wrap features in an L2 normalization, in the file's library."""

from __future__ import annotations

import ast

from clipguard.analysis.features import Operand
from clipguard.analysis.nodes import all_nodes
from clipguard.diagnostics import Edit
from clipguard.analysis.source import SourceFile

TORCH_FUNCTIONAL = "torch.nn.functional"


def normalize_edits(file: SourceFile, operands: list[Operand]) -> list[Edit] | None:
    """Edits normalizing every operand, plus an import if needed; None if one cannot be wrapped."""
    edits: list[Edit] = []
    for operand in operands:
        if operand.target is None:
            return None
        made = _wrap(file, operand.target, operand.backend, operand.bare)
        if made is None:
            return None
        edits.extend(made)
    return edits


def _wrap(file: SourceFile, node: ast.AST, backend: str | None, bare: bool) -> list[Edit] | None:
    text = file.segment(node)
    if (
        backend == "torch"
        and isinstance(node, (ast.Name, ast.Attribute))
        and _divides_by_norm(file)
    ):
        # the file's own idiom, as in the openai/CLIP README
        divided = f"{text} / {text}.norm(dim=-1, keepdim=True)"
        return [file.replace(node, divided if bare else f"({divided})")]
    if backend == "torch":
        prefix, imports = _torch_normalize(file)
        if prefix is None:
            return None
        return [file.replace(node, f"{prefix}({text}, dim=-1)"), *imports]
    if backend == "numpy" and _repeatable(node):
        numpy, imports = _binding(file, "numpy", "np", "import numpy as np")
        if numpy is None:
            return None
        divided = f"{text} / {numpy}.linalg.norm({text}, axis=-1, keepdims=True)"
        return [file.replace(node, divided if bare else f"({divided})"), *imports]
    return None


def _torch_normalize(file: SourceFile) -> tuple[str | None, list[Edit]]:
    functional, imports = _binding(file, TORCH_FUNCTIONAL, "F", "import torch.nn.functional as F")
    if functional is not None:
        return f"{functional}.normalize", imports
    torch = next(
        (local for local, qualified in file.imports.bindings.items() if qualified == "torch"), None
    )
    return (f"{torch}.nn.functional.normalize", []) if torch else (None, [])


def _binding(
    file: SourceFile, module: str, alias: str, statement: str
) -> tuple[str | None, list[Edit]]:
    """The local name of `module` in this file, importing it as `alias` when the name is free."""
    for local, qualified in file.imports.bindings.items():
        if qualified == module:
            return local, []
    if alias in _bound_names(file):
        return None, []
    edit = file.add_import(statement, alias, module)
    return alias, [edit] if edit is not None else []


def _bound_names(file: SourceFile) -> set[str]:
    def collect(_: SourceFile) -> set[str]:
        names = set(file.imports.bindings)
        for node in all_nodes(file):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
        return names

    return file.memo("clipguard.bound_names", collect)


_PURE = (
    ast.Name,
    ast.Attribute,
    ast.Subscript,
    ast.Slice,
    ast.Constant,
    ast.keyword,
    ast.Load,
    ast.UnaryOp,
    ast.USub,
    ast.Tuple,
)


def _repeatable(node: ast.AST) -> bool:
    """Whether an expression can be written twice: names, attributes, indexing and method calls
    with constant arguments (`feats.mean(axis=0)`), nothing with side effects to repeat."""
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            if not isinstance(child.func, ast.Attribute):
                return False
        elif not isinstance(child, _PURE):
            return False
    return True


def _divides_by_norm(file: SourceFile) -> bool:
    """Whether the file already normalizes with `x / x.norm(dim=-1, keepdim=True)` or `/=`."""

    def scan(_: SourceFile) -> bool:
        for node in all_nodes(file):
            if isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, ast.Div):
                right = node.right if isinstance(node, ast.BinOp) else node.value
                if (
                    isinstance(right, ast.Call)
                    and isinstance(right.func, ast.Attribute)
                    and right.func.attr == "norm"
                    and {(k.arg, getattr(k.value, "value", None)) for k in right.keywords}
                    >= {("keepdim", True)}
                ):
                    return True
        return False

    return file.memo("clipguard.divides_by_norm", scan)
