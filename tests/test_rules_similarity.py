"""CG301–CG303 beyond their examples and fixtures: the normalizer table checked against torch at
runtime, value flow through objects and classes, robustness, and the real library sources."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from clipguard.analysis.project import Project
from clipguard.analysis.states import COS, LIST, MIXED, NORM, RAW, State, join
from clipguard.lint.examples import fix_all, run_example
from clipguard.lint.gate.imports import scan_imports
from clipguard.lint.runner import lint_text
from clipguard.rules import rule_by_code

CG301, CG302, CG303 = (rule_by_code(code) for code in ("CG301", "CG302", "CG303"))
SITE = Path(torch.__file__).resolve().parent.parent


class StubClip:
    """A stand-in CLIP model whose features have norms far from one, as real ones do."""

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.image = torch.randn(3, 8, generator=generator) * torch.tensor([[1.0], [5.0], [20.0]])
        self.text = torch.randn(4, 8, generator=generator) * torch.tensor(
            [[2.0], [0.5], [9.0], [3.0]]
        )

    def encode_image(self, images, normalize=False):
        return F.normalize(self.image, dim=-1) if normalize else self.image.clone()

    def encode_text(self, texts, normalize=False):
        return F.normalize(self.text, dim=-1) if normalize else self.text.clone()

    def get_image_features(self, **inputs):
        return self.image.clone()

    def get_text_features(self, **inputs):
        return self.text.clone()


def _cosines(model: StubClip) -> torch.Tensor:
    return F.cosine_similarity(model.image[:, None], model.text[None], dim=-1)


def _run(code: str) -> torch.Tensor:
    namespace = {"model": StubClip(), "images": None, "texts": None}
    exec(compile(code, "<snippet>", "exec"), namespace)  # noqa: S102 - our own snippets
    return namespace["scores"]


PRELUDE = "import torch\nimport torch.nn.functional as F\nimport numpy as np\n"

NORMALIZED = {
    "norm-division": """
        img = model.encode_image(images)
        txt = model.encode_text(texts)
        img = img / img.norm(dim=-1, keepdim=True)
        txt = txt / txt.norm(p=2, dim=-1, keepdim=True).clamp(min=1e-6)
        scores = img @ txt.T
    """,
    "in-place": """
        img = model.encode_image(images)
        txt = model.encode_text(texts)
        img /= img.norm(dim=-1, keepdim=True)
        txt.div_(txt.norm(dim=-1, keepdim=True))
        scores = torch.matmul(img, txt.t())
    """,
    "linalg": """
        img = model.encode_image(images)
        txt = model.encode_text(texts)
        scores = img.div(torch.linalg.norm(img, dim=-1, keepdim=True)).mm(
            (txt / torch.linalg.vector_norm(txt, dim=-1, keepdim=True)).T)
    """,
    "functional": """
        img = F.normalize(model.encode_image(images), dim=-1)
        txt = torch.nn.functional.normalize(model.encode_text(texts), p=2, dim=1)
        scores = torch.einsum("id,td->it", img, txt)
    """,
    "open-clip-flag": """
        img = model.encode_image(images, normalize=True)
        txt = model.encode_text(texts, normalize=True)
        scores = img @ txt.T
    """,
    "sum-of-squares": """
        def vector_norm(tensor):
            return torch.pow(torch.sum(torch.pow(tensor, 2), dim=-1, keepdim=True), 0.5)
        img = model.get_image_features()
        txt = model.get_text_features()
        img = img / vector_norm(img)
        txt = txt / (txt ** 2).sum(-1, keepdim=True).sqrt()
        scores = (img[:, None] * txt[None]).sum(-1)
    """,
    "numpy": """
        img = model.encode_image(images).cpu().numpy()
        txt = model.encode_text(texts).detach().numpy()
        img = img / np.linalg.norm(img, axis=1, keepdims=True)
        txt = txt / np.linalg.norm(txt, axis=-1, keepdims=True)
        scores = torch.from_numpy(np.dot(img, txt.T))
    """,
    "helper-returns-normalized": """
        def l2norm(x, eps=1e-8):
            return x / (torch.sqrt(x.pow(2).sum(dim=-1, keepdim=True)) + eps)
        with torch.no_grad():
            img, txt = l2norm(model.encode_image(images)), l2norm(model.encode_text(texts))
        scores = img.float() @ txt.half().float().T
    """,
    "batches-in-a-list": """
        feats = []
        for _ in range(1):
            batch = model.encode_image(images)
            feats.append(batch / batch.norm(dim=-1, keepdim=True))
        gallery = torch.cat(feats)
        query = F.normalize(model.encode_text(texts), dim=-1)
        scores = gallery @ query.T
    """,
}

UNNORMALIZED = {
    "raw-matmul": """
        scores = model.encode_image(images) @ model.encode_text(texts).T
    """,
    "one-side": """
        img = F.normalize(model.encode_image(images), dim=-1)
        scores = torch.matmul(img, model.encode_text(texts).t())
    """,
    "one-sided-cosine-helper": """
        def _cosine_similarity(a, b):
            a = a / a.norm(dim=-1, keepdim=True)
            return a @ b.T
        scores = _cosine_similarity(model.get_image_features(), model.get_text_features())
    """,
    "elementwise-sum": """
        img, txt = model.encode_image(images), model.encode_text(texts)
        scores = (img[:, None] * txt[None]).sum(-1)
    """,
    "numpy-dot": """
        img = model.encode_image(images).cpu().numpy()
        txt = model.encode_text(texts).cpu().numpy()
        scores = torch.from_numpy(np.dot(img, txt.T))
    """,
    "reassigned": """
        img = F.normalize(model.encode_image(images), dim=-1)
        txt = F.normalize(model.encode_text(texts), dim=-1)
        img = model.encode_image(images).float()
        scores = img @ txt.T
    """,
}


@pytest.mark.parametrize("name", NORMALIZED)
def test_recognized_normalizers_really_give_cosines(name):
    code = PRELUDE + textwrap.dedent(NORMALIZED[name])
    assert run_example(CG301, code) == []
    torch.testing.assert_close(_run(code).float(), _cosines(StubClip()), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("name", UNNORMALIZED)
def test_findings_are_not_cosines_and_the_fix_makes_them_so(name):
    code = PRELUDE + textwrap.dedent(UNNORMALIZED[name])
    found = run_example(CG301, code)
    assert len(found) == 1
    assert not torch.allclose(_run(code).float(), _cosines(StubClip()), atol=1e-3)
    assert found[0].fix is not None and found[0].fix.applicability == "unsafe"
    fixed = fix_all(code, found)
    assert run_example(CG301, fixed) == []
    torch.testing.assert_close(_run(fixed).float(), _cosines(StubClip()), rtol=1e-3, atol=1e-3)


def test_softmax_of_bare_cosines_is_nearly_uniform_and_flagged():
    code = PRELUDE + textwrap.dedent("""
        img = F.normalize(model.encode_image(images), dim=-1)
        txt = F.normalize(model.encode_text(texts), dim=-1)
        scores = (img @ txt.T).softmax(dim=-1)
    """)
    assert len(run_example(CG302, code)) == 1
    probabilities = _run(code)
    scaled = (100.0 * _cosines(StubClip())).softmax(dim=-1)
    # why the rule exists: cosines lie in [-1, 1], so no class can exceed e^2 / (e^2 + 3)
    ceiling = math.exp(2) / (math.exp(2) + 3)
    assert probabilities.max() <= ceiling
    assert scaled.max(dim=-1).values.min() > ceiling


def test_mean_of_unit_vectors_is_short_and_flagged_until_renormalized():
    body = """
        prompts = F.normalize(model.encode_text(texts), dim=-1)
        prototype = prompts.mean(dim=0)
        query = model.encode_image(images, normalize=True)
        scores = query @ prototype
    """
    code = PRELUDE + textwrap.dedent(body)
    found = run_example(CG303, code)
    assert (
        len(found) == 1
        and found[0].line == code.splitlines().index("prototype = prompts.mean(dim=0)") + 1
    )
    assert _run(code).abs().max() < 1.0
    fixed = fix_all(code, found)
    assert "F.normalize(prompts.mean(dim=0), dim=-1)" in fixed
    assert run_example(CG303, fixed) == []
    prototype = F.normalize(F.normalize(StubClip().text, dim=-1).mean(dim=0), dim=0)
    torch.testing.assert_close(_run(fixed), F.normalize(StubClip().image, dim=-1) @ prototype)


def test_join_keeps_agreeing_kinds_and_mixes_features_of_different_states():
    raw, norm = State(RAW, backend="torch"), State(NORM, backend="numpy")
    assert join(raw, raw) is raw
    mixed = join(raw, norm)
    assert mixed.kind == MIXED and [s.kind for s in mixed.items] == [RAW, NORM]
    assert join(mixed, raw).items == mixed.items  # raw on that path too: still the two states
    assert join(raw, None) is None
    assert join(raw, State(COS)) is None
    assert join(State(NORM, backend="torch"), norm).backend is None
    filled = State(LIST, items=(raw,))
    assert join(State(LIST), filled) is filled


@pytest.mark.parametrize(
    "code",
    [
        # normalized on one path only
        """
    feats = model.encode_image(x)
    if flag:
        feats = F.normalize(feats, dim=-1)
    s = feats @ F.normalize(model.encode_text(t), dim=-1).T
    """,
        # a loop body that may not run
        """
    feats = model.encode_image(x)
    for _ in range(n):
        feats = feats / feats.norm(dim=-1, keepdim=True)
    s = feats @ F.normalize(model.encode_text(t), dim=-1).T
    """,
        # elements written into a preallocated array: contents unknown
        """
    feats = model.encode_image(x)
    feats[0] = 0
    s = feats @ model.encode_text(t).T
    """,
        # one side unknown
        """
    s = model.encode_image(x) @ torch.load("weights.pt")
    """,
        # a helper from a module outside the project
        """
    from somewhere import l2
    s = l2(model.encode_image(x)) @ l2(model.encode_text(t)).T
    """,
    ],
)
def test_unclear_flow_stays_silent(code):
    assert run_example(CG301, PRELUDE + textwrap.dedent(code)) == []


def test_objects_set_in_init_and_instances_of_project_classes():
    code = textwrap.dedent("""
        import faiss

        class Indexer:
            def __init__(self, dim):
                self.index = faiss.IndexFlatL2(dim)

            def add_features(self, features):
                self.index.add(features)

        def main(model, images):
            indexer = Indexer(512)
            indexer.add_features(model.encode_image(images).numpy())
    """)
    found = run_example(CG301, code)
    assert [(f.line, f.column) for f in found] == [(13, 5)]
    assert "Indexer.add_features" in found[0].message


def test_recursive_helpers_terminate_silently():
    code = textwrap.dedent("""
        def a(x, n):
            return b(x, n - 1) if n else x

        def b(x, n):
            return a(x, n)

        s = a(model.encode_image(i), 3) @ a(model.encode_text(t), 3).T
    """)
    assert run_example(CG301, code) == []


def test_imported_helper_without_a_project_is_unknown():
    code = "from helpers import l2\ns = l2(model.encode_image(x)) @ model.encode_text(t).T\n"
    assert lint_text(code, [CG301], "main.py", project=None) == []


def test_fix_uses_the_files_alias_and_never_shadows_another_F():
    code = textwrap.dedent("""
        import torch
        from torch.nn import functional as nnf
        s = torch.matmul(model.encode_image(x), nnf.normalize(model.encode_text(t), dim=-1).T)
    """)
    assert "nnf.normalize(model.encode_image(x), dim=-1)" in fix_all(code, run_example(CG301, code))
    shadowed = textwrap.dedent("""
        import torch
        import torchvision.transforms.functional as F
        s = torch.matmul(model.encode_image(x), model.encode_text(t).T)
    """)
    fixed = fix_all(shadowed, run_example(CG301, shadowed))
    assert "torch.nn.functional.normalize(model.encode_image(x), dim=-1)" in fixed
    assert "import torch.nn.functional as F" not in fixed


@pytest.mark.parametrize("rule", [CG302], ids=lambda rule: rule.code)
def test_triggers_cover_every_invalid_example(rule):
    for example in rule.invalid:
        code = example if isinstance(example, str) else example.code
        files = {} if isinstance(example, str) else example.files
        texts = [code, *files.values()]
        assert any(t in text.encode() for t in rule.triggers for text in texts), code


def test_a_file_holding_only_helper_calls_passes_the_byte_gate(tmp_path):
    # `rank(embed(x), embed(t))` has none of CG301's trigger bytes; the engine also counts the
    # triggers of the project modules a file imports, so the rule still runs there.
    from clipguard.lint.config import Settings
    from clipguard.lint.engine import lint_paths

    code = "from feats import embed, rank\nscores = rank(embed(x), embed(t))\n"
    files = {
        "feats.py": "def embed(x):\n    return model.encode_image(x)\n\n\n"
        "def rank(a, b):\n    return a @ b.T\n"
    }
    assert not any(t in code.encode() for t in CG301.triggers)
    assert len(run_example(CG301, code, files)) == 1
    (tmp_path / "main.py").write_text(code)
    (tmp_path / "feats.py").write_text(files["feats.py"])
    report = lint_paths(
        [str(tmp_path)], Settings(select=("CG301",), root=str(tmp_path)), use_cache=False
    )
    assert [(Path(f.path).name, f.rule) for f in report.findings] == [("main.py", "CG301")]


@pytest.mark.parametrize(
    "relative",
    [
        "open_clip/model.py",
        "open_clip/zero_shot_classifier.py",
        "open_clip/coca_model.py",
        "transformers/models/clip/modeling_clip.py",
        "transformers/models/siglip/modeling_siglip.py",
        "transformers/models/owlvit/modeling_owlvit.py",
        "transformers/pipelines/zero_shot_image_classification.py",
    ],
)
def test_library_sources_that_normalize_correctly_are_clean(relative):
    path = SITE / relative
    if not path.exists():
        pytest.skip(f"{relative} is not installed")
    project = Project([path], {path: scan_imports(path.read_bytes())})
    found = lint_text(path.read_text(), [CG301, CG302, CG303], str(path), project)
    assert found == []


def test_encoders_of_remote_code_models_are_not_assumed_raw():
    # jina-clip (trust_remote_code) normalizes in `encode_image` by default
    code = textwrap.dedent("""
        from transformers import AutoModel
        model = AutoModel.from_pretrained("jinaai/jina-clip-v1", trust_remote_code=True)
        scores = model.encode_image(urls) @ model.encode_text(sentences).T
    """)
    assert run_example(CG301, code) == []


def test_project_wrappers_that_normalize_hide_the_library_encoder():
    wrapper = textwrap.dedent("""
        import clip

        class Clip:
            def __init__(self):
                self.model, self.preprocess = clip.load("ViT-B/32")

            def encode_image(self, image):
                features = self.model.encode_image(image)
                return features / features.norm(dim=-1, keepdim=True)

            def encode_text(self, text):
                features = self.model.encode_text(clip.tokenize(text))
                return features / features.norm(dim=-1, keepdim=True)
    """)
    code = (
        "from wrapper import Clip\n\n\ndef score(model, image, text):\n"
        "    return model.encode_image(image) @ model.encode_text(text).T\n"
    )
    assert run_example(CG301, code, {"wrapper.py": wrapper}) == []


def test_features_kept_on_self_by_init_meet_raw_features_in_forward():
    code = textwrap.dedent("""
        import torch.nn.functional as F

        class ZeroShot:
            def __init__(self, model, tokens):
                self.model = model
                self.text_features = F.normalize(model.encode_text(tokens), dim=-1)

            def forward(self, images):
                image_features = self.model.encode_image(images)
                return 100.0 * image_features @ self.text_features.T

            def forward_normalized(self, images):
                image_features = F.normalize(self.model.encode_image(images), dim=-1)
                return 100.0 * image_features @ self.text_features.T
    """)
    found = run_example(CG301, code)
    assert [f.line for f in found] == [11]


def test_tuple_returned_by_a_helper_is_unpacked():
    code = textwrap.dedent("""
        def encode(model, images, tokens):
            return model.encode_image(images).float(), model.encode_text(tokens).float()

        image_features, text_features = encode(model, images, tokens)
        scores = image_features @ text_features.T
    """)
    assert [f.line for f in run_example(CG301, code)] == [6]


def test_aesthetic_predictor_normalized_helper_counts_as_normalizer():
    # `normalized()` from improved-aesthetic-predictor: a norm guarded against zero
    code = textwrap.dedent("""
        import numpy as np

        def normalized(a, axis=-1, order=2):
            l2 = np.atleast_1d(np.linalg.norm(a, order, axis))
            l2[l2 == 0] = 1
            return a / np.expand_dims(l2, axis)

        a = normalized(model.encode_image(images).cpu().numpy())
        b = normalized(model.encode_text(tokens).cpu().numpy())
        scores = a @ b.T
        raw = model.encode_text(tokens).cpu().numpy()
        biased = a @ raw.T
    """)
    assert [f.line for f in run_example(CG301, code)] == [13]


def test_raw_features_against_a_normalized_head_of_unknown_origin_stay_silent():
    # weight normalization in a linear head is a design choice, not one-sided cosine
    code = textwrap.dedent("""
        import torch.nn.functional as F

        def logits(model, head, images):
            features = model.encode_image(images)
            return features @ F.normalize(head.weight, dim=-1).T
    """)
    assert run_example(CG301, code) == []


def test_very_deep_expressions_do_not_crash_the_analysis():
    chain = " + ".join(["x"] * 1500)  # near what the stdlib parser accepts
    code = (
        f"def f(x):\n    return {chain}\n\n\ns = model.encode_image(a) @ model.encode_text(b).T\n"
    )
    found = run_example(CG301, code)
    assert [f.line for f in found] == [5]
