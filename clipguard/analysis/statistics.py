"""Normalization statistics: evaluate mean/std expressions and tell CLIP's from ImageNet's.

Handles literals (0-1 or 0-255 scale), numpy/torch arrays, computed forms such as
`[v * 255 for v in (0.48145466, ...)]`, names assigned in the module, names imported from
other modules of the project, and the named constants of timm, transformers and open_clip.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass

from clipguard.analysis.flow import flow_of
from clipguard.analysis.lookup import project_lookup
from clipguard.analysis.nodes import callee_name
from clipguard.analysis.vocab.statistics import (
    CLIP_NAME,
    EXACT,
    LIBRARIES,
    MEAN_TOLERANCE,
    NAMED,
    NEAR_MEAN,
    NEAR_STD_RELATIVE,
    STD_RELATIVE_TOLERANCE,
    VALUE_KEEPERS,
    VALUE_WRAPPERS,
    Triple,
)
from clipguard.profiles import CLIP_MEAN, CLIP_STD, HALF, IMAGENET_MEAN, IMAGENET_STD, ONE, ZERO

__all__ = ["CLIP_NAME", "NAMED", "Evaluator", "Statistic", "judge"]

_ARITH = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


@dataclass(frozen=True)
class Statistic:
    """One possible value of a mean/std expression and where it was written."""

    values: Triple
    literal: ast.AST | None = None  # the 3-element literal in the linted file, if there
    literal_scale: float = 1.0  # the scale the literal is written in (1 or 255)
    named: str | None = None  # the library constant's name, if it is one

    @property
    def unit(self) -> Triple:
        """The values on the 0-1 scale."""
        return rescale(self.values)


def rescale(values: Triple) -> Triple:
    """0-255 values divided by 255; 0-1 values unchanged."""
    if max(abs(v) for v in values) > 1.5:
        return tuple(v / 255 for v in values)  # type: ignore[return-value]
    return values


def scale_of(values: Triple) -> float:
    return 255.0 if max(abs(v) for v in values) > 1.5 else 1.0


def number(node: ast.AST, env: dict[str, float] | None = None) -> float | None:
    """A numeric constant expression (`0.485`, `-1`, `124 / 255`, `v * 255` with `v` in env)."""
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    ):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = number(node.operand, env)
        return None if value is None else (-value if isinstance(node.op, ast.USub) else value)
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        left, right = number(node.left, env), number(node.right, env)
        if left is None or right is None or (isinstance(node.op, ast.Div) and right == 0):
            return None
        return _ARITH[type(node.op)](left, right)
    if env is not None and isinstance(node, ast.Name) and node.id in env:
        return env[node.id]
    return None


def literal_triple(node: ast.AST) -> Triple | None:
    if isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) == 3:
        values = [number(e) for e in node.elts]
        if all(v is not None for v in values):
            return tuple(values)  # type: ignore[return-value]
    return None


class Evaluator:
    """Evaluates mean/std expressions of one file to their possible values."""

    def __init__(self, file, flow, depth: int = 0) -> None:
        self.file = file
        self.flow = flow
        self.depth = depth
        self._names: dict[
            int, list[Statistic | None]
        ] = {}  # a name read once, however many paths reach it

    def values(self, node: ast.AST) -> list[Statistic | None]:
        """Possible values; a None element means one possibility could not be read."""
        return self._eval(node, 0)

    def _eval(self, node: ast.AST, hops: int) -> list[Statistic | None]:
        if hops > 12:
            return [None]
        triple = literal_triple(node)
        if triple is not None:
            return [Statistic(triple, node, scale_of(triple))]
        if isinstance(node, ast.IfExp):
            return self._eval(node.body, hops + 1) + self._eval(node.orelse, hops + 1)
        if isinstance(node, ast.Call):
            return self._call(node, hops)
        if isinstance(node, ast.Subscript):
            return self._eval(node.value, hops + 1)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
            return self._scaled(node, hops)
        if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
            return self._comprehension(node, hops)
        if isinstance(node, (ast.Name, ast.Attribute)):
            return self._name(node, hops)
        return [None]

    def _call(self, node: ast.Call, hops: int) -> list[Statistic | None]:
        func = node.func
        name = callee_name(func)
        if name in VALUE_WRAPPERS and node.args:
            return self._eval(node.args[0], hops + 1)
        if name in VALUE_KEEPERS and isinstance(func, ast.Attribute):
            return self._eval(func.value, hops + 1)
        return [None]

    def _scaled(self, node: ast.BinOp, hops: int) -> list[Statistic | None]:
        factor = number(node.right)
        inner = node.left
        if factor is None and isinstance(node.op, ast.Mult):
            factor, inner = number(node.left), node.right
        if factor is None or factor == 0:
            return [None]
        out: list[Statistic | None] = []
        for value in self._eval(inner, hops + 1):
            if value is None:
                out.append(None)
                continue
            apply = (
                (lambda v: v * factor) if isinstance(node.op, ast.Mult) else (lambda v: v / factor)
            )
            out.append(
                Statistic(
                    tuple(apply(v) for v in value.values),
                    value.literal,  # type: ignore[arg-type]
                    value.literal_scale,
                    None,
                )
            )
        return out

    def _comprehension(
        self, node: ast.ListComp | ast.GeneratorExp, hops: int
    ) -> list[Statistic | None]:
        if len(node.generators) != 1 or node.generators[0].ifs:
            return [None]
        generator = node.generators[0]
        if not isinstance(generator.target, ast.Name):
            return [None]
        out: list[Statistic | None] = []
        for value in self._eval(generator.iter, hops + 1):
            if value is None:
                out.append(None)
                continue
            mapped = [number(node.elt, {generator.target.id: v}) for v in value.values]
            if any(v is None for v in mapped):
                out.append(None)
            else:
                out.append(Statistic(tuple(mapped), value.literal, value.literal_scale))  # type: ignore[arg-type]
        return out

    def _name(self, node: ast.Name | ast.Attribute, hops: int) -> list[Statistic | None]:
        if isinstance(node, ast.Name) and self.flow is not None:
            if id(node) in self._names:
                return self._names[id(node)]
            definitions = self.flow.definitions(node)
            if definitions:
                self._names[id(node)] = [
                    None
                ]  # while it is read: parameters passed round in a cycle
                out: list[Statistic | None] = []
                for value in (v for d in definitions for v in self.flow.bound_values(d)):
                    out.extend(self._eval(value, hops + 1) if value is not None else [None])
                out = list(
                    dict.fromkeys(out)
                )  # the same literal reached by many calls is one value
                self._names[id(node)] = out
                return out
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
            and self.flow is not None
        ):
            return self._attribute(node, hops)
        return self._qualified(self.file.qualname(node), hops)

    def _attribute(self, node: ast.Attribute, hops: int) -> list[Statistic | None]:
        """`self.mean`: what the class assigns it, usually a constructor parameter's value."""
        owner = self.flow.enclosing_class(self.flow.scope.get(id(node), self.file.tree))
        values = self.flow.attrs.get((id(owner), node.attr), []) if owner is not None else []
        if not values:
            return [None]
        out: list[Statistic | None] = []
        for value in values:
            out.extend(self._eval(value, hops + 1))
        return list(dict.fromkeys(out))

    def _qualified(self, qualified: str | None, hops: int) -> list[Statistic | None]:
        """A library's named constant, or a name imported from another project module."""
        if qualified is None:
            return [None]
        last = qualified.rsplit(".", 1)[-1]
        if qualified.split(".")[0] in LIBRARIES and last in NAMED:
            return [Statistic(NAMED[last], named=qualified)]
        return self._imported(qualified, hops)

    def _imported(self, qualified: str, hops: int) -> list[Statistic | None]:
        project = self.file.project
        if project is None or self.depth > 3:
            return [None]
        found = project_lookup(self.file, qualified)
        if found is None:
            return [None]
        path, inner = found
        other = project.source(path)
        if other is None or "." in inner:
            return [None]
        evaluator = Evaluator(other, flow_of(other), self.depth + 1)
        name = ast.Name(id=inner, ctx=ast.Load())
        definitions = evaluator.flow.defs.get((id(other.tree), inner), [])
        if not definitions:
            return evaluator._name_qualified(name, hops + 1)
        out: list[Statistic | None] = []
        for definition in definitions:
            if definition.value is None:
                out.append(None)
                continue
            # values written in another file cannot be fixed from here
            out.extend(
                Statistic(v.values, None, v.literal_scale, v.named) if v else None
                for v in evaluator._eval(definition.value, hops + 1)
            )
        return out

    def _name_qualified(self, name: ast.Name, hops: int) -> list[Statistic | None]:
        return self._qualified(self.file.imports.bindings.get(name.id), hops)


def close(a: Triple, b: Triple, tolerance: float) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b))


def close_relative(a: Triple, b: Triple, tolerance: float) -> bool:
    return all(abs(x - y) <= tolerance * abs(y) for x, y in zip(a, b))


def judge(mean: Triple, std: Triple) -> str:
    """Name a mean/std pair (either scale): imagenet, clip, half, none, near-clip, or other."""
    mean, std = rescale(mean), rescale(std)
    if close(mean, IMAGENET_MEAN, EXACT) and close(std, IMAGENET_STD, EXACT):
        return "imagenet"
    mean_ok = close(mean, CLIP_MEAN, MEAN_TOLERANCE)
    std_ok = close_relative(std, CLIP_STD, STD_RELATIVE_TOLERANCE)
    if mean_ok and std_ok:
        return "clip"
    if close(mean, HALF, EXACT) and close(std, HALF, EXACT):
        return "half"
    if close(mean, ZERO, EXACT) and close(std, ONE, EXACT):
        return "none"
    if mean_ok or std_ok:
        return "near-clip"
    if close(mean, CLIP_MEAN, NEAR_MEAN) and close_relative(std, CLIP_STD, NEAR_STD_RELATIVE):
        return "near-clip"
    return "other"


def describe_near_miss(mean: Triple, std: Triple) -> str:
    """Say what is off in a near-miss pair, in the scale the code uses."""
    unit_mean, unit_std = rescale(mean), rescale(std)
    names = ("red", "green", "blue")
    if close(unit_mean, CLIP_MEAN, MEAN_TOLERANCE):
        if close(unit_std, IMAGENET_STD, EXACT):
            return "CLIP's mean with ImageNet's std"
        off = [
            names[i]
            for i in range(3)
            if abs(unit_std[i] - CLIP_STD[i]) > STD_RELATIVE_TOLERANCE * CLIP_STD[i]
        ]
        return f"CLIP's mean with another std ({', '.join(off)} channel{'s' if len(off) > 1 else ''} off)"
    if close(unit_mean, IMAGENET_MEAN, EXACT):
        return "ImageNet's mean with CLIP's std"
    off = [i for i in range(3) if abs(unit_mean[i] - CLIP_MEAN[i]) > MEAN_TOLERANCE]
    scale = scale_of(mean)
    parts = [f"{names[i]} mean {mean[i]:g} where CLIP's is {CLIP_MEAN[i] * scale:g}" for i in off]
    std_off = [
        i for i in range(3) if abs(unit_std[i] - CLIP_STD[i]) > STD_RELATIVE_TOLERANCE * CLIP_STD[i]
    ]
    parts += [
        f"{names[i]} std {std[i]:g} where CLIP's is {CLIP_STD[i] * scale_of(std):g}"
        for i in std_off
    ]
    return "; ".join(parts)


def format_triple(values: Triple, like: ast.AST | None = None) -> str:
    """A literal for `values` in the bracket style of `like` (tuple by default)."""
    body = ", ".join(repr(round(v, 8)) for v in values)
    return f"[{body}]" if isinstance(like, ast.List) else f"({body})"


def clip_values(scale: float, role: str) -> Triple:
    base = CLIP_MEAN if role == "mean" else CLIP_STD
    if scale == 1.0:
        return base
    table = {
        "mean": (122.7709383, 116.7460125, 104.09373615),
        "std": (68.5005327, 66.6321579, 70.32316305),
    }  # REFERENCE.md, 0-255 scale
    return table[role]
