"""What a module exports without using it: the "no visible use" rule of docs/design.md.

A module-level pipeline nobody applies, or what a module-level function nobody calls returns,
feeds the CLIP model of its module when the module builds one and no other image model; in a
module that builds none, it feeds CLIP when the modules that import it do. Unused values inside
functions feed nothing.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from clipguard.analysis import configs
from clipguard.analysis.encoders import Consumer, module_clip
from clipguard.analysis.flow import FUNCTIONS
from clipguard.analysis.identity import builds
from clipguard.analysis.lookup import project_lookup
from clipguard.analysis.nodes import all_nodes
from clipguard.analysis.resolve import callers, returned
from clipguard.analysis.source import SourceFile
from clipguard.analysis.steps import module_steps


@dataclass(frozen=True)
class Export:
    """What a module exports without using it, and the model it is taken to feed."""

    roots: tuple[ast.AST, ...]
    consumer: Consumer
    transforms_only: bool  # a module-level name holds a pipeline or an image: only the pipeline


def exports(file: SourceFile) -> list[Export]:
    """The module's unused pipelines and the functions nobody calls, each with the CLIP model of
    the module (or, in a module that builds none, of the modules importing the name)."""
    return file.memo("clipguard.exports", _exports)


def _exports(file: SourceFile) -> list[Export]:
    found: list[Export] = []
    if configs.is_config(file):
        return found
    own = module_clip(file)
    if own is None and (builds(file) or not module_steps(file)):
        return found  # other models here, or nothing of its own that prepares images
    for statement in file.tree.body:
        if (
            isinstance(statement, FUNCTIONS)
            and returned(statement)
            and not _called(file, statement)
        ):
            names, roots, transforms_only = {statement.name}, returned(statement), False
        elif isinstance(statement, ast.Assign) and _unused(file, statement):
            names, roots, transforms_only = _names(statement), [statement.value], True
        else:
            continue
        consumer = Consumer.of(own) if own is not None else _importers_consumer(file, names)
        if consumer is not None:
            found.append(Export(tuple(roots), consumer, transforms_only))
    return found


def _importers_consumer(file: SourceFile, names: set[str]) -> Consumer | None:
    """The CLIP model of the modules that import one of `names` (or the whole module), when
    they all build one and no other image model."""
    project = file.project
    if project is None:
        return None
    stem = Path(file.path).stem
    importers = [p for p in project.importers(file.path) if _may_import(project, p, stem, names)]
    # Only importers near CLIP code can hand it a CLIP model; the others can only veto one (with
    # another image model), so they are read only when a CLIP model was found.
    near = [p for p in importers if project.near_clip_code(p)]
    found = []
    for path in (*near, *(p for p in importers if p not in near)):
        if path not in near and not found:
            break
        importer = project.source(path)
        if importer is None or not _imports_any(importer, file, names):
            continue
        models = [b for b in builds(importer).values() if not b.processor]
        if not models:
            models = [
                b
                for p in project.imported(path)
                if p != Path(file.path) and (other := project.source(p)) is not None
                for b in builds(other).values()
                if not b.processor
            ]
        if any(not b.clip for b in models):
            return None
        clip = module_clip(importer) or next((b for b in models if b.clip), None)
        if clip is not None:
            found.append(Consumer.of(clip))
    return found[0] if found else None


def _may_import(project, path: Path, stem: str, names: set[str]) -> bool:
    """From bytes: whether an importer may bind one of `names`, all of them (`*`) or the module."""
    return any(project.mentions(path, name) for name in (*names, "*")) or project.matches(
        path, rb"import[^\n]*\b" + re.escape(stem.encode()) + rb"\b"
    )


def _imports_any(importer: SourceFile, file: SourceFile, names: set[str]) -> bool:
    """Whether an importer refers to one of `names` of `file`. An importer that binds nothing of
    it inherits everything (a star import)."""
    bound = False
    for local, qualified in importer.imports.bindings.items():
        found = project_lookup(importer, qualified)
        if found is None or str(found[0]) != str(Path(file.path)):
            continue
        bound = True
        inner = found[1]
        if inner in names or (not inner and any(f"{local}.{n}" in importer.text for n in names)):
            return True
    return not bound


def _names(statement: ast.Assign) -> set[str]:
    return {t.id for t in statement.targets if isinstance(t, ast.Name)}


def _called(file: SourceFile, function: ast.AST) -> bool:
    """Whether a module-level function is called, or referred to, anywhere we can see."""
    return bool(callers(file, function)) or _loaded(file, function.name)


def _unused(file: SourceFile, statement: ast.Assign) -> bool:
    """A module-level assignment to names never read in the module."""
    names = _names(statement)
    return (
        bool(names)
        and len(names) == len(statement.targets)
        and not any(_loaded(file, n) for n in names)
    )


def _loaded(file: SourceFile, name: str) -> bool:
    def index(_: SourceFile) -> set[str]:
        nodes = all_nodes(file)
        return {n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} | {
            n.attr for n in nodes if isinstance(n, ast.Attribute)
        }

    return name in file.memo("clipguard.loaded_names", index)
