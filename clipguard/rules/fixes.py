"""The fix text of the lint rules: CLIP constants, bicubic interpolation, antialias, and L2
normalization of features in the file's own library.

Edits touch only the argument they change (or insert one keyword or wrap one expression), so
comments and formatting around them survive, and a fixed file no longer matches the rule, so
fixing twice is a no-op.
"""

from __future__ import annotations

import ast

from clipguard.analysis.nodes import all_nodes, keyword
from clipguard.analysis.source import SourceFile
from clipguard.analysis.states import Operand
from clipguard.analysis.statistics import CLIP_NAME, Statistic, clip_values, format_triple, scale_of
from clipguard.diagnostics import Edit

TORCHVISION_MODE = "torchvision.transforms.InterpolationMode"


def constant_edits(file, flow, node: ast.AST, values: list, role: str) -> list[Edit] | None:
    """Edits that make `node` (a mean or std argument) CLIP's; None when no safe place to edit."""
    if len(values) != 1 or values[0] is None:
        return None
    value: Statistic = values[0]
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


def pair_edits(
    file,
    flow,
    step,
    means: list,
    stds: list,
    roles=("mean", "std"),
    only: tuple[bool, bool] = (True, True),
) -> list[Edit] | None:
    """Edits for a mean/std pair (`only` picks which of the two to change); None if unfixable."""
    named = [v[0].named if len(v) == 1 and v[0] is not None else None for v in (means, stds)]
    nodes = (step.mean, step.std)
    if all(only) and all(named) and named[0].rpartition(".")[0] == named[1].rpartition(".")[0]:
        module = named[0].rpartition(".")[0]
        names = [CLIP_NAME.get(n.rpartition(".")[2]) for n in named]
        if (
            None in names
            or not all(isinstance(n, ast.Name) for n in nodes)
            or any(file.imports.bindings.get(n) not in (None, f"{module}.{n}") for n in names)
        ):
            return None
        edits = [file.replace(node, name) for node, name in zip(nodes, names)]
        missing = [n for n in names if n not in file.imports.bindings]
        if missing:
            edits.append(
                file.add_import(
                    f"from {module} import {', '.join(missing)}",
                    missing[0],
                    f"{module}.{missing[0]}",
                )
            )
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
    if (
        not isinstance(statement, ast.Assign)
        or len(statement.targets) != 1
        or not isinstance(statement.targets[0], ast.Name)
    ):
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
        if qualified in (
            TORCHVISION_MODE,
            "torchvision.transforms.v2.InterpolationMode",
            "torchvision.transforms.functional.InterpolationMode",
        ):
            return f"{local}.BICUBIC", None
    edit = file.add_import(
        "from torchvision.transforms import InterpolationMode",
        "InterpolationMode",
        TORCHVISION_MODE,
    )
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


# --- L2 normalization of features ---------------------------------------------------------------

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


# --- logit scales, eval mode and tokenizers -----------------------------------------------------


def exp_edit(file: SourceFile, factor: ast.AST, tensor: bool) -> Edit | None:
    """`.exp()` on a log-space scale where it is a factor (before an `.item()`), if it is a tensor."""
    if (
        isinstance(factor, ast.Call)
        and isinstance(factor.func, ast.Attribute)
        and factor.func.attr == "item"
        and not factor.args
    ):
        _, _, line, column = file.span(factor.func.value)
        return file.insert(line, column, ".exp()")
    if not tensor:
        return None
    _, _, line, column = file.span(factor)
    return file.insert(line, column, ".exp()")


def eval_edit(file: SourceFile, statement: ast.stmt, target: ast.AST) -> Edit | None:
    """A line `target.eval()` after `statement`, when the statement has its lines to itself."""
    line = file.lines[statement.lineno - 1]
    indent = line[: file.column(statement.lineno, statement.col_offset) - 1]
    end_line = statement.end_lineno or statement.lineno
    _, _, _, end_column = file.span(statement)
    rest = file.lines[end_line - 1][end_column - 1 :].strip()
    if indent.strip() or (rest and not rest.startswith("#")):
        return None  # `if x: model = ...` or `model = ...; other()`
    end = len(file.lines[end_line - 1]) + 1
    return file.insert(end_line, end, f"{file.newline}{indent}{file.segment(target)}.eval()")


def padding_edits(file: SourceFile, call: ast.Call, max_length: int | None) -> list[Edit]:
    """`padding="max_length"` in a tokenizing call (and `max_length=` when asked and missing)."""
    wanted = max_length is not None and keyword(call, "max_length") is None
    length = f", max_length={max_length}" if wanted else ""
    padding = keyword(call, "padding")
    if padding is None:
        return [keyword_edit(file, call, "padding", '"max_length"' + length)]
    return [file.replace(padding, '"max_length"' + length)]


def get_tokenizer_edits(file: SourceFile, call: ast.Call, model_name: str) -> list[Edit] | None:
    """`open_clip.tokenize(texts)` -> `open_clip.get_tokenizer(NAME)(texts)`."""
    if len(call.args) != 1 or call.keywords:
        return None  # a context length or other arguments the model's own tokenizer would not take
    open_clip, imports = _binding(file, "open_clip", "open_clip", "import open_clip")
    if open_clip is None:
        return None
    return [file.replace(call.func, f'{open_clip}.get_tokenizer("{model_name}")'), *imports]
