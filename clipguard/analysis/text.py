"""Text on its way to a CLIP-family text encoder: which calls tokenize it, how, and which model
the tokens reach.

A tokenizing call is open_clip's `tokenize` or openai/CLIP's `clip.tokenize` (CLIP's byte-pair
encoder at 77 tokens), a tokenizer made by `open_clip.get_tokenizer(name)`, or a transformers
tokenizer or processor called on text. What a tokenizer was made from, and which calls made the
tokens a text encoder takes, are found by walking back (`tracing.upstream`); the model is
`identity.role` of the encoder's receiver.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from clipguard.analysis.flow import FUNCTIONS, flow_of
from clipguard.analysis.identity import role
from clipguard.analysis.imports import dotted_name
from clipguard.analysis.models import Build, argument, string
from clipguard.analysis.nodes import all_nodes, constant, keyword
from clipguard.analysis.resolve import argument_for, callers, definitions, returned
from clipguard.analysis.source import SourceFile
from clipguard.analysis.tracing import upstream
from clipguard.analysis.vocab.text import (
    CLIP_TOKENIZE,
    HF_PROCESSOR,
    HF_TOKENIZER,
    MODEL_TEXT_KEYWORDS,
    OPEN_CLIP_GET_TOKENIZER,
    TEXT_ENCODER_METHODS,
    TOKENIZER_METHODS,
    TOKENIZER_NAMES,
    TOKENIZER_WORDS,
    TOKENIZING_KEYWORDS,
)

MAX_HOPS = 8  # steps back from a tokenizer to the call that made it
TOKENS_LIMIT = 600  # nodes walked back from a text encoder's input to the tokenizing calls
CLIP_BPE = "clip-bpe"


@dataclass(frozen=True)
class Tokenizing:
    """A call in `file` that turns text into tokens. `kind` is CLIP_BPE (`open_clip.tokenize`,
    `clip.tokenize`), `open_clip` (a `get_tokenizer` tokenizer) or `transformers`; `loaded_as`
    the model name, checkpoint or class the tokenizer was made from, when it can be read."""

    file: SourceFile
    call: ast.Call
    kind: str
    loaded_as: str | None = None
    processor: bool = False  # a transformers processor, whose text defaults apply
    context_length: int | None = None  # CLIP_BPE: the `context_length` passed, if any


@dataclass(frozen=True)
class TextInput:
    """Tokens handed to the text side of `consumer`'s model at `use`, made by `made_by`. When
    the model is a name assigned on several paths, `alternatives` are the models of each (the
    pairing of a model with the tokens is then unknown)."""

    use: ast.Call
    consumer: Build
    made_by: tuple[Tokenizing, ...]
    alternatives: tuple[Build, ...] = ()


def tokenizing_calls(file: SourceFile) -> list[Tokenizing]:
    """Every call of this module that tokenizes text."""
    return file.memo("clipguard.tokenizing", _tokenizing_calls)


def _tokenizing_calls(file: SourceFile) -> list[Tokenizing]:
    return [
        found
        for node in all_nodes(file)
        if isinstance(node, ast.Call) and (found := tokenizing(file, node)) is not None
    ]


def tokenizing(file: SourceFile, call: ast.Call) -> Tokenizing | None:
    """How `call` tokenizes text, if it does."""
    if (file.qualname(call.func) or "") in CLIP_TOKENIZE:
        return _clip_bpe(file, call)
    func = call.func
    tokenizer = (
        func.value if isinstance(func, ast.Attribute) and func.attr in TOKENIZER_METHODS else func
    )
    if not _may_tokenize(call, tokenizer):
        return None
    held = role(file, tokenizer)
    if held is not None and held.build.processor and held.build.factory:
        return _transformers(file, call, tokenizer, held.build.factory, held.build.model_name)
    maker = _maker(file, tokenizer, 0)
    if maker is None:
        return None
    other, made = maker
    if not isinstance(made, ast.Call):
        return _clip_bpe(file, call)  # `tokenize = clip.tokenize`, called later
    name = other.qualname(made.func) or ""
    given = string(argument(made, 0, "model_name", "pretrained_model_name_or_path"), flow_of(other))
    if name in OPEN_CLIP_GET_TOKENIZER:
        return Tokenizing(file, call, "open_clip", given)
    return _transformers(file, call, tokenizer, name, given)


def _clip_bpe(file: SourceFile, call: ast.Call) -> Tokenizing:
    length = argument(call, 1, "context_length")
    return Tokenizing(file, call, CLIP_BPE, context_length=constant(length) if length else None)


def _maker(file: SourceFile, node: ast.AST, hops: int) -> tuple[SourceFile, ast.AST] | None:
    """The library call that made the tokenizer `node` holds (a transformers `from_pretrained`,
    `open_clip.get_tokenizer`), or CLIP's `tokenize` function itself: through names, parameters,
    `self` attributes, a processor's `.tokenizer` and the returns of project functions, not into
    project classes (whose own `__call__` tokenizes as it likes)."""
    if hops > MAX_HOPS:
        return None
    if isinstance(node, (ast.Name, ast.Attribute)) and file.qualname(node) in CLIP_TOKENIZE:
        return file, node
    if isinstance(node, ast.Call):
        name = file.qualname(node.func) or ""
        if name.startswith("transformers.") or name in OPEN_CLIP_GET_TOKENIZER:
            return file, node
        values = [
            (d.file, v)
            for d in definitions(file, node.func)
            if isinstance(d.node, FUNCTIONS)
            for v in returned(d.node)
        ]
    elif (
        isinstance(node, ast.Attribute)
        and node.attr == "tokenizer"
        and not (isinstance(node.value, ast.Name) and node.value.id == "self")
    ):
        values = [(file, node.value)]  # `processor.tokenizer`
    elif (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    ):
        flow = flow_of(file)
        owner = flow.enclosing_class(flow.scope.get(id(node), file.tree))
        values = [(file, v) for v in flow.attrs.get((id(owner), node.attr), [])] if owner else []
    elif isinstance(node, ast.Name):
        values = _bound(file, node)
    else:
        values = [(d.file, d.node) for d in definitions(file, node)]
    for other, value in values:
        found = _maker(other, value, hops + 1)
        if found is not None:
            return found
    return None


def _bound(file: SourceFile, name: ast.Name) -> list[tuple[SourceFile, ast.AST]]:
    """What a name may hold: its assigned values, or the arguments its function is called with."""
    bound = flow_of(file).definitions(name)
    if not bound:
        return [(d.file, d.node) for d in definitions(file, name)]
    values = []
    for binding in bound:
        if binding.parameter is not None:
            for other, call in callers(file, binding.statement):
                argument_node = argument_for(call, binding.statement, binding.parameter)
                if argument_node is not None:
                    values.append((other, argument_node))
        elif binding.value is not None and not isinstance(
            binding.value, (*FUNCTIONS, ast.ClassDef)
        ):
            values.append((file, binding.value))
    return values


def _transformers(
    file: SourceFile, call: ast.Call, tokenizer: ast.AST, made: str, checkpoint: str | None
) -> Tokenizing | None:
    parts = made.split(".")
    cls = parts[-2] if parts[-1] == "from_pretrained" and len(parts) > 2 else parts[-1]
    if HF_TOKENIZER.match(cls):
        return Tokenizing(file, call, "transformers", checkpoint or cls)
    if not HF_PROCESSOR.match(cls):
        return None
    # `processor.tokenizer(...)` is the bare tokenizer: the processor's defaults do not apply
    bare = isinstance(tokenizer, ast.Attribute) and tokenizer.attr == "tokenizer"
    if not bare and keyword(call, "text") is None and not (call.args and keyword(call, "images")):
        return None  # images only (or text and images told apart only by the version)
    return Tokenizing(file, call, "transformers", checkpoint or cls, processor=not bare)


def _may_tokenize(call: ast.Call, tokenizer: ast.AST) -> bool:
    """Worth walking back from: tokenizer keywords, or a callee named like a tokenizer."""
    if isinstance(tokenizer, ast.Call) or any(k.arg in TOKENIZING_KEYWORDS for k in call.keywords):
        return True  # `get_tokenizer(name)(texts)`, or tokenizer keywords
    last = (dotted_name(tokenizer) or "").rsplit(".", 1)[-1].lower()
    return last in TOKENIZER_NAMES or any(word in last for word in TOKENIZER_WORDS)


def text_inputs(file: SourceFile) -> list[TextInput]:
    """Every place this module hands tokens to a CLIP-family model, with the calls that made them."""
    return file.memo("clipguard.text_inputs", _text_inputs)


def _text_inputs(file: SourceFile) -> list[TextInput]:
    found = []
    for node in all_nodes(file):
        if not isinstance(node, ast.Call):
            continue
        located = _text_of(node)
        if located is None:
            continue
        model, inputs = located
        held = role(file, model)
        if held is None or held.kind != "model" or not held.build.clip or not inputs:
            continue
        made_by, seen = [], set()
        for value in inputs:
            for other, visited in upstream(file, value, TOKENS_LIMIT):
                if isinstance(visited, ast.Call) and id(visited) not in seen:
                    seen.add(id(visited))
                    made = _known(other, visited)
                    if made is not None:
                        made_by.append(made)
        found.append(TextInput(node, held.build, tuple(made_by), _alternatives(file, model)))
    return found


def _alternatives(file: SourceFile, model: ast.AST) -> tuple[Build, ...]:
    bound = flow_of(file).definitions(model) if isinstance(model, ast.Name) else []
    if len(bound) < 2:
        return ()
    found = [role(file, b.value) for b in bound if b.value is not None and b.parameter is None]
    return tuple(held.build for held in found if held is not None)


def _known(file: SourceFile, call: ast.Call) -> Tokenizing | None:
    if file.qualname(call.func) in CLIP_TOKENIZE:
        return tokenizing(file, call)
    return next((t for t in tokenizing_calls(file) if t.call is call), None)


def _text_of(call: ast.Call) -> tuple[ast.AST, list[ast.AST]] | None:
    """The model and the text inputs of a text encoder call: `model.encode_text(tokens)`,
    `model.get_text_features(**inputs)`, open_clip's `model(image, text)` or transformers'
    `model(input_ids=...)` / `model(**inputs)`."""
    func = call.func
    keywords = [k.value for k in call.keywords if k.arg is None or k.arg in MODEL_TEXT_KEYWORDS]
    if isinstance(func, ast.Attribute) and func.attr in TEXT_ENCODER_METHODS:
        return func.value, [*call.args[:1], *keywords]
    if isinstance(func, ast.Attribute) and func.attr in TOKENIZER_METHODS:
        return None
    if len(call.args) == 2 and not call.keywords:
        return func, [call.args[1]]
    if keywords and not call.args:
        return func, keywords
    return None
