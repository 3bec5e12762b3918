"""mm-style configs (mmcv, mmengine, mmseg, mmdet): a config inherits every top-level name of
its `_base_` files, at any depth, and a child's name overrides its bases'. The model is the
`model = dict(...)` of the merged config; a generic backbone is CLIP-family when its type or a
checkpoint it loads (`pretrained=`, `init_cfg`, head weights) names CLIP."""

from __future__ import annotations

import ast
import os
import re

from clipguard.analysis.encoders import Consumer
from clipguard.analysis.models import Build, config_items, default_profile, string
from clipguard.analysis.source import SourceFile
from clipguard.analysis.vocab.models import CLIP_CHECKPOINT, CLIP_WORD, OPENAI_CHECKPOINT
from clipguard.profiles import model_family_profile

# Keys whose strings name a model or its weights, anywhere inside a model dict.
NAME_KEYS = ("type", "clip_model", "model_name", "arch", "backbone_name")
PATH_KEYS = (
    "pretrained",
    "checkpoint",
    "pretrained_weights",
    "weights",
    "clip_pretrained",
    "ckpt",
    "load_from",
)
MAX_DEPTH = 12
INHERITS = rb"(?m)^_base_[ \t]*="  # a config that inherits others assigns `_base_` at the top


def inherits(data: bytes) -> bool:
    """Whether a module's bytes make it an mm config that inherits others."""
    return b"_base_" in data and re.search(INHERITS, data) is not None


def is_config(file: SourceFile) -> bool:
    """A module written as an mm-style config: it inherits `_base_` files, defines `model`, or
    is the base of a config."""
    return bool(bases(file)) or model_dict(file) is not None or bool(inheritors(file))


def bases(file: SourceFile) -> list[SourceFile]:
    """The `_base_` files of a config, in order."""
    return file.memo("clipguard.config_bases", _bases)


def _bases(file: SourceFile) -> list[SourceFile]:
    project = file.project
    found = []
    for statement in file.tree.body:
        if isinstance(statement, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "_base_" for t in statement.targets
        ):
            values = (
                statement.value.elts
                if isinstance(statement.value, (ast.List, ast.Tuple))
                else [statement.value]
            )
            for value in values:
                relative = string(value)
                if project is None or not relative or not relative.endswith(".py"):
                    continue
                path = os.path.normpath(os.path.join(os.path.dirname(file.path), relative))
                other = project.source(path) if os.path.isfile(path) else None
                if other is not None:
                    found.append(other)
    return found


def chain(file: SourceFile) -> list[SourceFile]:
    """The config and everything it inherits, nearest first (depth first, each once)."""
    found: list[SourceFile] = []
    stack = [file]
    while stack and len(found) < 200:
        current = stack.pop(0)
        if any(current is f for f in found):
            continue
        found.append(current)
        stack[0:0] = bases(current)
    return found


def inheritors(file: SourceFile) -> list[SourceFile]:
    """The configs that inherit this one, at any depth."""
    project = file.project
    if project is None:
        return []
    found: dict[str, SourceFile] = {}
    frontier = [file.path]
    for _ in range(MAX_DEPTH):
        fresh = []
        for path in frontier:
            for importer in project.importers(path):
                if not project.matches(importer, INHERITS):
                    continue  # its bytes say it inherits nothing: no need to parse it
                other = project.source(importer)
                if (
                    other is not None
                    and other.path not in found
                    and other.path != file.path
                    and any(b.path == path for b in bases(other))
                ):
                    found[other.path] = other
                    fresh.append(other.path)
        frontier = fresh
    return list(found.values())


def assigns(file: SourceFile, name: str) -> bool:
    return any(
        isinstance(s, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == name for t in s.targets)
        for s in file.tree.body
    )


def model_dict(file: SourceFile) -> ast.AST | None:
    """The config's own `model = dict(...)`."""
    for statement in file.tree.body:
        if (
            isinstance(statement, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "model" for t in statement.targets)
            and config_items(statement.value) is not None
        ):
            return statement.value
    return None


def model_build(file: SourceFile) -> Build | None:
    """The model this config file itself describes, CLIP-family or not."""
    node = model_dict(file)
    if node is None:
        return None
    names, paths = [], []
    _collect(node, names, paths, 0)
    if any(CLIP_WORD.search(n) for n in names) or any(
        OPENAI_CHECKPOINT.search(p) or CLIP_CHECKPOINT.search(p) for p in paths
    ):
        family = next((p for n in names if (p := model_family_profile(n))), None)
        return Build(node, True, family or default_profile(), family is not None, trusted=False)
    return Build(node, False, default_profile(), False, trusted=False)


def _collect(node: ast.AST, names: list[str], paths: list[str], depth: int) -> None:
    items = config_items(node)
    if items is None or depth > 8:
        return
    for key, value in items.items():
        text = string(value)
        if text is not None and key in NAME_KEYS:
            names.append(text)
        elif text is not None and key in PATH_KEYS:
            paths.append(text)
        elif isinstance(value, (ast.List, ast.Tuple)):
            for element in value.elts:
                _collect(element, names, paths, depth + 1)
        else:
            _collect(value, names, paths, depth + 1)


def top_name(file: SourceFile, node: ast.AST) -> str | None:
    """The top-level name whose value holds `node`."""
    for statement in file.tree.body:
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and any(n is node for n in ast.walk(statement.value))
        ):
            return statement.targets[0].id
    return None


def consumer(file: SourceFile, node: ast.AST) -> Consumer | None:
    """The CLIP model a config value feeds: in every config that inherits it unchanged and
    describes a model, that model is CLIP-family."""
    name = top_name(file, node)
    if name is None:
        return None
    models = []
    for leaf in [file, *inheritors(file)]:
        merged = chain(leaf)
        owner = next((m for m in merged if assigns(m, name)), None)
        if owner is not file:
            continue  # overridden on the way
        built = [b for m in merged if (b := model_build(m)) is not None]
        if built:
            models.append(next((b for b in built if b.clip), built[0]))
    if not models or any(not b.clip for b in models):
        return None
    return Consumer.of(models[0])
