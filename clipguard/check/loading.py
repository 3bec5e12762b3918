"""Import a check TARGET (`path.py` or a module name, optional `:OBJECT`) and find its pipeline.

The search order is the one docs/design.md fixes: OBJECT if given; else the first of
`preprocess`, `transform`, `pipeline`, `transforms`; a zero-argument factory `get_transform` /
`build_transform`; then the only public callable of the module that takes one image, which its
parameter (name or annotation) or its body must show: `def helper(a): return a` is no pipeline.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

PIPELINE_NAMES = ("preprocess", "transform", "pipeline", "transforms")
FACTORY_NAMES = ("get_transform", "build_transform")
_OBJECT = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
LOOKED_FOR = "preprocess, transform, pipeline, transforms, get_transform(), build_transform()"
IMAGE_LIBRARIES = (
    "torchvision",
    "transformers",
    "open_clip",
    "timm",
    "PIL",
    "albumentations",
    "kornia",
    "clip",
)
_IMAGE_NAME = re.compile(r"image|img|pic|photo|frame|pixel|^im$|^pil", re.IGNORECASE)
_IMAGE_TYPE = re.compile(r"Image|Tensor|ndarray|PIL")
# What a body does with an image: its attributes, and the calls that take one.
IMAGE_ATTRIBUTES = {
    "convert",
    "resize",
    "crop",
    "size",
    "mode",
    "getbands",
    "width",
    "height",
    "shape",
    "permute",
    "unsqueeze",
    "transpose",
    "thumbnail",
    "split",
}
_IMAGE_CALL = re.compile(
    r"asarray|array|tensor|fromarray|resize|crop|normali[sz]e|transform|"
    r"preprocess|process|convert|read_image|decode|open|imread|cvtColor|"
    r"interpolate",
    re.IGNORECASE,
)


class LoadError(Exception):
    """The target cannot be imported, or holds no pipeline we can tell apart."""


def split_target(target: str) -> tuple[str, str | None]:
    """`path.py:OBJECT` -> ("path.py", "OBJECT"); a Windows drive letter is not an object."""
    head, sep, tail = target.rpartition(":")
    if sep and head and _OBJECT.fullmatch(tail) and not (len(head) == 1 and tail[:1] in "\\/"):
        return head, tail
    return target, None


def import_target(spec: str) -> ModuleType:
    """Import a `.py` file (its folder goes first on sys.path, as for a script) or a module."""
    path = Path(spec)
    if spec.endswith(".py") or path.is_file():
        if not path.is_file():
            raise LoadError(f"no such file: {spec}")
        path = path.resolve()
        sys.path.insert(0, str(path.parent))
        name = (
            path.stem
            if path.stem.isidentifier() and path.stem not in sys.modules
            else ("_clipguard_target_" + re.sub(r"\W", "_", path.stem))
        )
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module  # dataclasses and pickling look their module up here
        module_spec.loader.exec_module(module)
        return module
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    return importlib.import_module(spec)


def _required_positional(function: Callable) -> tuple[int, bool]:
    """(required positional parameters, whether more could be passed) of a callable."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return -1, False
    required, more = 0, False
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            if parameter.default is parameter.empty:
                required += 1
            else:
                more = True
        elif parameter.kind is parameter.VAR_POSITIONAL:
            more = True
    return required, more


def takes_one_image(value: Any) -> bool:
    """True for a callable that can be called with exactly one positional argument."""
    if not callable(value) or inspect.isclass(value) or inspect.ismodule(value):
        return False
    # torch.nn.Module.__call__ is (*args, **kwargs); its forward tells the truth.
    function = value.forward if hasattr(value, "forward") and callable(value.forward) else value
    required, more = _required_positional(function)
    return required == 1 or (required == 0 and more)


def _call_name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


def _body_uses_image(function: Callable, parameter: str) -> bool:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return False
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == parameter
            and node.attr in IMAGE_ATTRIBUTES
        ):
            return True
        if (
            isinstance(node, ast.Call)
            and _IMAGE_CALL.search(_call_name(node.func))
            and any(
                isinstance(arg, ast.Name) and arg.id == parameter
                for arg in [*node.args, *(k.value for k in node.keywords)]
            )
        ):
            return True
    return False


def shows_image(value: Any) -> bool:
    """Whether a callable's parameter (name, annotation) or body shows that it takes an image."""
    kind = value if inspect.isroutine(value) else type(value)
    if getattr(kind, "__module__", "").split(".")[0] in IMAGE_LIBRARIES:
        return True  # a transform object of an image library
    function = value.forward if hasattr(value, "forward") and callable(value.forward) else value
    try:
        parameters = [
            p
            for p in inspect.signature(function).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        return False
    if not parameters:
        return False
    first = parameters[0]
    annotation = first.annotation if first.annotation is not first.empty else ""
    if _IMAGE_NAME.search(first.name) or _IMAGE_TYPE.search(str(annotation)):
        return True
    if not inspect.isroutine(function):
        function = type(function).__call__  # callable: it has one
    return _body_uses_image(function, first.name)


def _is_factory(value: Any) -> bool:
    return inspect.isfunction(value) and _required_positional(value) == (0, False)


def _compose(steps: list | tuple) -> Callable:
    def composed(image):
        for step in steps:
            image = step(image)
        return image

    return composed


def _a(noun: str) -> str:
    """`noun` with its indefinite article: an int, a str."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _as_pipeline(value: Any, name: str) -> Callable:
    if isinstance(value, (list, tuple)) and value and all(callable(v) for v in value):
        return _compose(value)
    if _is_factory(value):
        value = value()
    if inspect.isclass(value) and _required_positional(value) == (0, False):
        value = value()
    if not callable(value):
        raise LoadError(f"{name} is {_a(type(value).__name__)}, not a callable pipeline")
    return value


def _defined_here(module: ModuleType, value: Any) -> bool:
    if inspect.isfunction(value):
        return value.__module__ == module.__name__
    return not inspect.isbuiltin(value) and not inspect.isroutine(value)


def find_pipeline(module: ModuleType, object_name: str | None = None) -> tuple[Callable, str]:
    """The pipeline callable and the name it was found under."""
    label = module.__name__
    if object_name:
        value: Any = module
        for part in object_name.split("."):
            if not hasattr(value, part):
                raise LoadError(f"{label} has no attribute {object_name!r}")
            value = getattr(value, part)
        return _as_pipeline(value, object_name), object_name
    for name in PIPELINE_NAMES:
        value = getattr(module, name, None)
        usable = callable(value) or isinstance(value, (list, tuple))
        if value is not None and usable and not inspect.ismodule(value):
            return _as_pipeline(value, name), name
    for name in FACTORY_NAMES:
        value = getattr(module, name, None)
        if _is_factory(value):
            pipeline = value()
            if not callable(pipeline):
                raise LoadError(f"{name}() returned {_a(type(pipeline).__name__)}, not a callable")
            return pipeline, f"{name}()"
    callables = [
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and _defined_here(module, value) and takes_one_image(value)
    ]
    candidates = [name for name in callables if shows_image(getattr(module, name))]
    if len(candidates) == 1:
        return getattr(module, candidates[0]), candidates[0]
    if candidates:
        raise LoadError(
            f"several callables in {label} could be the pipeline "
            f"({', '.join(candidates)}); name one as TARGET:OBJECT"
        )
    one = len(callables) == 1
    others = (
        f"; {', '.join(callables)} {'takes' if one else 'take'} one argument but "
        f"{'shows' if one else 'show'} no image in {'its' if one else 'their'} parameter "
        "or body"
        if callables
        else ""
    )
    raise LoadError(
        f"no pipeline found in {label}: looked for {LOOKED_FOR}, and a callable "
        f"that takes one image{others}; name it as TARGET:OBJECT"
    )
