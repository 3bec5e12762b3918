"""The abstract states of the feature analysis, and the facts it records for the rules.

A state says what an expression holds: raw CLIP features, L2-normalized ones, a mean of
normalized ones, a norm, cosine similarities, a model or an index. Facts are where vectors meet
(`Similarity`) and where probabilities are taken (`Softmax`); the rules decide which are wrong.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field, replace

# Kinds of abstract values.
RAW = "raw"  # CLIP features as the encoder returns them: not unit length
NORM = "norm"  # L2-normalized features
MEAN = "mean"  # mean of normalized features: shorter than unit length
PARAM = "param"  # a parameter of the function being summarised, unchanged
# Features in another state on each path (raw on one, normalized on another); items = the
# alternatives, none of them MIXED.
MIXED = "mixed"
COS = "cos"  # cosine similarities (dot products of unit vectors), not scaled
NORMOF = "normof"  # a vector norm: dividing by it normalizes
SQ = "sq"  # elementwise square of features (on the way to a norm)
SUMSQ = "sumsq"  # sum of squares (the square of a norm)
PROD = "prod"  # elementwise product of two features (a dot product once summed)
LIST = "list"  # a Python list of values of one kind; items=(element,) or () when empty
TUPLE = "tuple"  # a tuple of values; items in order
MODEL_PROJ = "model_proj"  # a transformers *WithProjection model
MODEL_JOINT = "model_joint"  # a transformers dual-encoder model whose forward normalizes
# Any other transformers model, e.g. remote code: jina-clip's `encode_image` normalizes by default.
MODEL_OTHER = "model_other"
OUT_PROJ = "out_proj"
OUT_JOINT = "out_joint"
INDEX = "index"  # a faiss flat index (inner product or L2)
COSMOD = "cosmod"  # an nn.CosineSimilarity module
SOFTMOD = "softmod"  # an nn.Softmax module
INSTANCE = "instance"  # an object of a class defined in the project; pairs=(ModuleModel, ClassDef)

# Values that stay what they are once built, so a module global or a `self.` attribute set in
# `__init__` can be trusted inside other functions.
OBJECTS = (MODEL_PROJ, MODEL_JOINT, MODEL_OTHER, INDEX, COSMOD, SOFTMOD, INSTANCE)

FEATURES = (RAW, NORM, MEAN, PARAM, MIXED)


@dataclass(frozen=True, eq=False)
class State:
    """An abstract value: what kind of thing an expression holds, and where it came from."""

    kind: str
    backend: str | None = None  # "torch" or "numpy" when known: decides how a fix normalizes
    source: str = ""  # the producing API, for messages (`encode_image`)
    param: int = -1
    scaled: bool = False  # multiplied or divided by a scale or temperature
    items: tuple = ()
    origin: ast.AST | None = None
    path: str = ""
    detail: str = ""  # index type, model class, ...
    pairs: tuple = ()  # PROD: its (node, value) factors

    def key(self) -> tuple:
        return (
            self.kind,
            self.param,
            self.scaled,
            self.detail,
            tuple(i.key() if i is not None else None for i in self.items),
        )


def join(a: State | None, b: State | None) -> State | None:
    """The value at a merge point: the same state on both paths; features in different states
    are MIXED (each path's state kept); anything else is unknown."""
    if a is None or b is None:
        return None
    if a.kind == b.kind == LIST and (not a.items or not b.items):
        return a if a.items else b
    if a.key() == b.key():
        return a if a.backend == b.backend else replace(a, backend=None)
    if a.kind in FEATURES and b.kind in FEATURES:
        alternatives: dict[tuple, State] = {}
        for state in (*alternatives_of(a), *alternatives_of(b)):
            alternatives.setdefault(state.key(), state)
        backend = a.backend if a.backend == b.backend else None
        return State(MIXED, backend=backend, items=tuple(alternatives.values()))
    return None


def alternatives_of(state: State) -> tuple[State, ...]:
    """The states a value has on its paths: one, or a MIXED state's alternatives."""
    return state.items if state.kind == MIXED else (state,)


def on_every_path(state: State | None, kind: str) -> bool:
    """Whether the value is in state `kind` on every path to here."""
    return state is not None and all(s.kind == kind for s in alternatives_of(state))


def depends_on_parameters(state: State) -> bool:
    """A parameter, unchanged on some path: the callers decide what it holds."""
    return any(s.kind == PARAM for s in alternatives_of(state))


@dataclass
class Operand:
    """One side of a similarity: its expression, its state, and the expression a fix would wrap."""

    node: ast.AST | None
    state: State
    target: ast.AST | None = None
    backend: str | None = None
    bare: bool = False  # the target stands alone (a call argument): no parentheses needed


@dataclass
class Similarity:
    """Vectors meeting in a dot product or an index (`sink`), at `node`; `callee` when the sink
    is inside a function called here."""

    node: ast.AST
    sink: str
    operands: list[Operand] = field(default_factory=list)
    callee: str = ""


@dataclass
class SinkSpec:
    """A similarity sink inside a function that depends on its parameters."""

    sink: str
    operands: tuple[State, ...]


@dataclass
class Summary:
    returns: State | None = None
    sinks: list[SinkSpec] = field(default_factory=list)


@dataclass
class FunctionResult:
    summary: Summary
    facts: list
    env: dict[str, State | None]


def normalized(value: State | None, backend: str | None) -> State:
    """The L2 normalization of `value`: it remembers whether CLIP features went in (its
    `source`), or which parameter, so that a sink can tell CLIP features from other vectors."""
    if value is not None and value.kind == LIST and value.items:
        value = value.items[0]
    if value is not None and value.kind == MIXED:
        value = next((s for s in value.items if s.source or s.param >= 0), value.items[0])
    if value is None or value.kind not in FEATURES:
        return State(NORM, backend=backend)
    if value.kind == PARAM or (value.kind == NORM and value.param >= 0):
        return State(NORM, backend=backend or value.backend, param=value.param)
    return State(NORM, backend=backend or value.backend, source=value.source or "features")


def join_missing(value: State | None) -> State | None:
    """A name bound on only one path: a list that may still be empty keeps its element kind."""
    return value if value is not None and value.kind == LIST else None


@dataclass
class Softmax:
    """A softmax over `over` at `node`; `ranking_only()` says whether only its argmax is used."""

    node: ast.AST
    over: State | None
    ranking_only: Callable[[], bool]


@dataclass
class Returned:
    """What a function (`scope`) returns at `node`: a value that escapes it."""

    node: ast.AST
    state: State | None
    scope: ast.AST
