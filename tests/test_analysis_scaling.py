"""The shared analysis does work linear in the module's size: counted, not timed."""

from __future__ import annotations

import ast

import pytest

from clipguard.analysis import flow, tracing
from clipguard.lint.runner import lint_text
from clipguard.rules import all_rules

HEADER = (
    "import open_clip\n"
    "from torchvision import transforms as T\n"
    "model, _, preprocess = open_clip.create_model_and_transforms('ViT-B-32', pretrained='openai')\n"
    "norm = T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))\n\n"
    "def embed(image):\n"
    "    return model.encode_image(norm(image))\n\n"
)
# every copy sends an image through the shared helper, then to CLIP again: a backward walk from
# each sink reaches every call site of `embed`
THROUGH_HELPER = (
    "def f{i}(image, text):\n    a = embed(image)\n    return model.encode_image(a) @ text.T\n\n"
)
# every copy is one CG101 finding with a fix, whose safety check looks at the whole module
ONE_FINDING = (
    "def p{i}(x):\n"
    "    t = T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])\n"
    "    return model.encode_image(t(x))\n\n"
)


def _lint(snippet: str, copies: int, monkeypatch) -> tuple[int, int, int]:
    """(findings, nodes expanded by backward walks, nodes yielded by ast.walk) for `copies`."""
    expanded = [0]
    walked = [0]
    back = tracing._Walk.back
    walk = ast.walk

    def counting_back(self, *item):
        expanded[0] += 1
        return back(self, *item)

    def counting_walk(node):
        for inner in walk(node):
            walked[0] += 1
            yield inner

    monkeypatch.setattr(tracing._Walk, "back", counting_back)
    monkeypatch.setattr(ast, "walk", counting_walk)
    try:
        text = HEADER + "".join(snippet.format(i=i) for i in range(copies))
        findings = lint_text(text, all_rules(), "main.py")
    finally:
        monkeypatch.undo()
    return len(findings), expanded[0], walked[0]


@pytest.mark.parametrize("snippet", [THROUGH_HELPER, ONE_FINDING], ids=["helper", "findings"])
def test_work_grows_linearly_with_copies(snippet, monkeypatch):
    small = _lint(snippet, 50, monkeypatch)
    large = _lint(snippet, 200, monkeypatch)
    assert large[1] > 0 and large[2] > 0  # the counters see the work
    # 4x the code: at most ~4x the work (quadratic growth would be 16x)
    assert large[1] <= 4.5 * small[1]
    assert large[2] <= 4.5 * small[2]


def test_findings_grow_with_copies(monkeypatch):
    # the counted runs still find what they should: one CG101 per copy, plus the shared helper's
    assert _lint(ONE_FINDING, 200, monkeypatch)[0] - _lint(ONE_FINDING, 50, monkeypatch)[0] == 150


def _forwarding_chain(levels: int) -> str:
    """Statistics passed down `levels` helpers, each calling the next three times."""
    text = (
        "import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-B/32')\n"
        "def f0(mean, std, size):\n"
        "    return T.Compose([T.Resize(size, interpolation=T.InterpolationMode.BICUBIC),"
        " T.CenterCrop(size), T.ToTensor(), T.Normalize(mean, std)])\n"
    )
    for level in range(1, levels + 1):
        text += (
            f"def f{level}(mean, std, size):\n"
            f"    f{level - 1}(mean, std, size)\n    f{level - 1}(mean, std, size)\n"
            f"    return f{level - 1}(mean, std, size)\n"
        )
    return text + (
        f"tf = f{levels}((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 336)\n"
        "features = model.encode_image(tf(image)[None])\n"
    )


def test_parameters_passed_down_helpers_are_read_in_linear_work(monkeypatch):
    # each helper calls the next three times: following every path would be exponential
    calls = [0]
    bound_values = flow.Flow.bound_values

    def counting(self, definition):
        calls[0] += 1
        return bound_values(self, definition)

    monkeypatch.setattr(flow.Flow, "bound_values", counting)
    counts = []
    for levels in (4, 8):
        calls[0] = 0
        findings = lint_text(_forwarding_chain(levels), all_rules(), "main.py")
        counts.append(calls[0])
        assert "CG101" in {f.rule for f in findings}
    assert counts[1] <= 3 * counts[0], counts
