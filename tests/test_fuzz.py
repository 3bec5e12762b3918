"""Fuzzing: every rule on generated and mutated programs never raises, and every fix it offers
leaves a program that still parses. `bench/fuzz.py` runs the same properties for longer."""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import hypothesmith
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clipguard.lint.edits import apply_edits
from clipguard.lint.examples import as_invalid, as_valid
from clipguard.lint.runner import lint_text
from clipguard.rules import all_rules

pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning", "ignore::DeprecationWarning")
REPO = Path(__file__).resolve().parent.parent
CI = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

# Tokens that often break or bend CLIP code: brackets, operators, keywords, odd literals, and the
# names the rules look for.
TOKEN_POOL = (
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    ".",
    "*",
    "**",
    "@",
    "=",
    "+",
    "-",
    "/",
    "lambda",
    "not",
    "await",
    "yield",
    "None",
    "0",
    "-1",
    "1e309",
    "0.5",
    "224",
    "336",
    "255.0",
    "'x'",
    "f'{x}'",
    "...",
    "\n",
    "\t",
    "    ",
    "#",
    "\\\n",
    "encode_image",
    "encode_text",
    "normalize",
    "Normalize",
    "Resize",
    "softmax",
    "clip",
    "T",
    "F",
    "model",
    "self",
    "mean",
    "std",
    "é",
)


def corpus() -> list[str]:
    """Real snippets: every rule's examples, their other modules, and the lint and fix fixtures."""
    texts: list[str] = []
    for rule in all_rules():
        for example in [*map(as_valid, rule.valid), *map(as_invalid, rule.invalid)]:
            texts.append(example.code)
            texts.extend(example.files.values())
    for pattern in ("lint/**/*.py", "fix/*/*.py", "demo/*.py"):
        texts.extend(
            p.read_text(encoding="utf-8") for p in sorted((REPO / "fixtures").glob(pattern))
        )
    return sorted(set(texts))


CORPUS = corpus()
SNIPPETS = st.sampled_from(CORPUS)


def tokens(text: str) -> list[tuple[int, int, str]]:
    """(start offset, end offset, type name) of the tokens, as far as the text tokenizes."""
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    found = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.start[0] > len(starts) - 1 or tok.end[0] > len(starts) - 1:
                break
            start = starts[tok.start[0] - 1] + tok.start[1]
            end = starts[tok.end[0] - 1] + tok.end[1]
            if end > start:
                found.append((start, end, tokenize.tok_name[tok.type]))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return found


@st.composite
def mutated(draw, sources=SNIPPETS) -> str:
    """A real snippet after one to three token-level mutations (truncate, delete, insert,
    replace, duplicate a line, or splice in another snippet)."""
    text = draw(sources)
    for _ in range(draw(st.integers(1, 3))):
        spans = tokens(text) or [(0, len(text), "TEXT")]
        start, end, kind = draw(st.sampled_from(spans))
        operation = draw(
            st.sampled_from(["truncate", "delete", "insert", "replace", "duplicate", "splice"])
        )
        if operation == "truncate":
            text = text[:start]
        elif operation == "delete":
            text = text[:start] + text[end:]
        elif operation == "insert":
            text = text[:start] + draw(st.sampled_from(TOKEN_POOL)) + text[start:]
        elif operation == "replace":
            same_kind = [text[s:e] for s, e, k in spans if k == kind] or list(TOKEN_POOL)
            text = (
                text[:start]
                + draw(st.sampled_from(same_kind + list(TOKEN_POOL[-14:])))
                + text[end:]
            )
        elif operation == "duplicate":
            lines = text.splitlines(keepends=True)
            if lines:
                index = draw(st.integers(0, len(lines) - 1))
                lines.insert(index, lines[index])
                text = "".join(lines)
        else:
            other = draw(sources)
            cut = draw(st.integers(0, len(other)))
            text = text[:start] + other[cut:]
    return text


def check_source(text: str) -> int:
    """Run every rule on `text` (raising on any rule error); apply each fix offered and assert the
    result parses. Returns the number of findings, for the longer fuzz script's statistics."""
    findings = lint_text(text, all_rules(), "main.py")
    try:
        ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        assert [f.rule for f in findings] == ["CG000"]
        return len(findings)
    for finding in findings:
        assert finding.rule != "CG000", finding.message
        assert 1 <= finding.line <= finding.end_line and finding.column >= 1
        if finding.fix is not None:
            fixed = apply_edits(text, finding.fix.edits)
            try:
                ast.parse(fixed)
            except SyntaxError as exc:
                raise AssertionError(
                    f"{finding.rule} fix breaks the code: {exc}\n--- before\n{text}\n"
                    f"--- after\n{fixed}"
                ) from None
    return len(findings)


CLIP_PRELUDE = st.sampled_from([""] + [code for code in CORPUS if "encode_image" in code][:20])


@CI
@given(CLIP_PRELUDE, hypothesmith.from_grammar())
def test_rules_survive_grammar_generated_programs(prelude, program):
    check_source(prelude + "\n" + program if prelude else program)


@settings(CI, max_examples=25)
@given(hypothesmith.from_node())
def test_rules_survive_node_generated_programs(program):
    check_source(program)


@settings(CI, max_examples=200)
@given(mutated())
def test_rules_survive_mutated_real_code(text):
    check_source(text)


def test_corpus_and_mutations_are_real():
    """The fuzz corpus holds the rule examples, and mutations do change code."""
    assert len(CORPUS) > 20
    assert any("encode_image" in text for text in CORPUS)
    first = next(text for text in CORPUS if text.startswith("import"))
    assert tokens(first)[0] == (0, len("import"), "NAME")
    assert sum(check_source(text) for text in CORPUS) > 0, "the corpus must make rules fire"


@pytest.mark.parametrize("size", ["1e999", "(1e999, 1e999)", "-1e999", "1e999 - 1e999"])
def test_sizes_that_are_not_finite_numbers_are_unreadable(size):
    # found by bench/fuzz.py: `int(inf)` raised inside the size reader
    text = (
        "import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-B/32')\n"
        f"tf = T.Compose([T.Resize({size}, interpolation=T.InterpolationMode.BICUBIC), T.ToTensor()])\n"
        "features = model.encode_image(tf(img)[None])\n"
    )
    check_source(text)
