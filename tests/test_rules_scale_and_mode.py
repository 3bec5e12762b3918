"""CG304 and CG305 beyond their examples and fixtures: their premises checked on real open_clip
and transformers models (randomly initialised, nothing downloaded), the fixed code run, and the
analysis answers they rely on."""

from __future__ import annotations

import textwrap

import open_clip
import pytest
import torch
import torch.nn.functional as F

from clipguard.analysis.identity import role
from clipguard.analysis.modes import eval_mode, feature_uses
from clipguard.analysis.scales import log_scale_factors
from clipguard.analysis.source import SourceFile
from clipguard.lint.examples import fix_all, run_example
from clipguard.rules import rule_by_code

CG304, CG305 = rule_by_code("CG304"), rule_by_code("CG305")


@pytest.fixture(scope="module")
def vit():
    """A random open_clip ViT-B-32, as the factory returns it."""
    torch.manual_seed(0)
    return open_clip.create_model("ViT-B-32")


def test_open_clip_keeps_the_scale_in_log_space_and_its_forward_returns_it_exponentiated(vit):
    assert vit.logit_scale.item() == pytest.approx(2.6593, abs=1e-3)  # log(1 / 0.07)
    images = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        _, _, scale = vit.eval()(images, open_clip.tokenize(["a dog"]))
    assert scale.item() == pytest.approx(vit.logit_scale.exp().item())


def test_cg304_fix_gives_the_model_s_own_logits(vit):
    code = textwrap.dedent("""\
        import open_clip
        import torch
        import torch.nn.functional as F
        model = open_clip.create_model("ViT-B-32")
        with torch.no_grad():
            image = F.normalize(model.encode_image(images), dim=-1)
            text = F.normalize(model.encode_text(tokens), dim=-1)
        probs = (model.logit_scale * image @ text.T).softmax(dim=-1)
        """)
    fixed = fix_all(code, run_example(CG304, code))
    assert "model.logit_scale.exp() * image" in fixed
    images, tokens = torch.rand(1, 3, 224, 224), open_clip.tokenize(["a dog", "a cat"])
    body = fixed.split('model = open_clip.create_model("ViT-B-32")\n', 1)[1]
    scope = {"images": images, "tokens": tokens, "model": vit.eval(), "torch": torch, "F": F}
    exec(compile(body, "<fixed>", "exec"), scope)  # noqa: S102 - our own snippet
    with torch.no_grad():
        image_features, text_features, scale = vit(images, tokens)
    expected = (scale * image_features @ text_features.T).softmax(dim=-1)
    assert torch.allclose(scope["probs"], expected, atol=1e-5)


@pytest.mark.parametrize(
    ("expression", "feeds"),
    [
        ("(model.logit_scale * a @ b.T).softmax(dim=-1)", {"softmax"}),
        ("F.cross_entropy(model.logit_scale * a @ b.T, labels)", {"loss"}),
        ("torch.sigmoid(a @ b.T * model.logit_scale + model.logit_bias)", {"sigmoid"}),
        ("(model.logit_scale * a @ b.T) > 20", {"threshold"}),
        ("(model.logit_scale * a @ b.T).argmax(dim=-1)", {"ranking"}),
        ("print(model.logit_scale.data.clamp(0, 4.6052) * a @ b.T)", {"escapes"}),
        ("model.logit_scale.item() * a @ b.T", set()),  # never used
    ],
)
def test_what_the_logits_feed(expression, feeds):
    file = SourceFile.from_text(
        "import clip\nimport torch\nimport torch.nn.functional as F\n"
        f"model, _ = clip.load('ViT-B/16')\nresult = {expression}\n"
    )
    (found,) = log_scale_factors(file)
    assert found.similarities and found.feeds == feeds


def test_the_exponentiated_or_returned_scale_is_not_a_log_scale_factor():
    file = SourceFile.from_text(
        textwrap.dedent("""\
        import open_clip
        model = open_clip.create_model("ViT-B-32")
        scale = model.logit_scale.exp()
        a = scale * x @ y.T
        b = torch.exp(model.logit_scale) * x @ y.T
        _, _, returned = model(images, texts)
        c = returned * x @ y.T
        """)
    )
    assert log_scale_factors(file) == []


def test_open_clip_factories_return_training_mode_and_transformers_from_pretrained_eval(tmp_path):
    from transformers import CLIPConfig, CLIPModel

    assert open_clip.create_model("RN50").training
    config = CLIPConfig(
        text_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 16,
        },
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(tmp_path)
    assert not CLIPModel.from_pretrained(tmp_path).training


def test_cg305_fix_puts_the_real_model_in_eval_mode():
    code = textwrap.dedent("""\
        import open_clip
        import torch
        model, _, preprocess = open_clip.create_model_and_transforms("RN50")
        with torch.no_grad():
            features = model.encode_image(torch.rand(1, 3, 224, 224))
        """)
    fixed = fix_all(code, run_example(CG305, code))
    assert run_example(CG305, fixed) == []
    scope: dict = {}
    exec(compile(fixed, "<fixed>", "exec"), scope)  # noqa: S102 - our own snippet
    model = scope["model"]
    assert not model.training and not any(m.training for m in model.modules())
    with torch.no_grad():  # batch norm now uses its running statistics: one image, same features
        alone = model.encode_image(torch.ones(1, 3, 224, 224))
        batched = model.encode_image(
            torch.cat([torch.ones(1, 3, 224, 224), torch.rand(1, 3, 224, 224)])
        )
    assert torch.allclose(alone, batched[:1], atol=1e-4)


def _uses(code: str):
    file = SourceFile.from_text(textwrap.dedent(code))
    return [
        (use.call.lineno, use.no_grad, use.trains, eval_mode(file, use))
        for use in feature_uses(file)
    ]


def test_a_model_kept_by_an_nn_module_may_be_switched_by_its_owner():
    code = """\
        import open_clip
        import torch
        import torch.nn as nn

        class Scorer(nn.Module):
            def __init__(self):
                super().__init__()
                self.model, _, _ = open_clip.create_model_and_transforms("ViT-B-32")

            @torch.no_grad()
            def forward(self, images):
                return self.model.encode_image(images)
        """
    assert _uses(code) == [(12, True, False, "unknown")]
    assert _uses(code.replace("(nn.Module)", "")) == [(12, True, False, "train")]


def test_gradients_turned_off_by_a_statement_and_training_told_by_the_optimizer():
    assert _uses("""\
        import open_clip
        import torch
        torch.set_grad_enabled(False)
        model = open_clip.create_model("ViT-B-32")
        features = model.encode_image(images)
        """) == [(5, True, False, "train")]
    assert _uses("""\
        import open_clip
        import torch
        model = open_clip.create_model("ViT-B-32")
        def step(images, texts):
            with torch.no_grad():
                target = model.encode_text(texts)
            loss = (model.encode_image(images) - target).square().mean()
            scaler.scale(loss)
            scaler.step(opt)
        """) == [(6, True, True, "train"), (7, False, True, "train")]


def test_a_loader_returning_a_tuple_hands_out_its_model(tmp_path):
    from clipguard.analysis.project import Project
    from clipguard.lint.gate.imports import scan_imports

    (tmp_path / "loader.py").write_text(
        "import open_clip\n\ndef load(name):\n"
        "    model, _, tf = open_clip.create_model_and_transforms(name)\n    return model, tf, 'cpu'\n"
    )
    (tmp_path / "main.py").write_text(
        "from loader import load\nmodel, tf, device = load('ViT-B-32')\nmodel\ntf\n"
    )
    paths = sorted(tmp_path.glob("*.py"))
    project = Project(paths, {p: scan_imports(p.read_bytes()) for p in paths})
    main = project.source(tmp_path / "main.py")
    model, transform = (stmt.value for stmt in main.tree.body[2:])
    held = role(main, model)
    assert held.kind == "model" and held.build.factory == "open_clip.create_model_and_transforms"
    held = role(main, transform)  # the loader's second value: the factory's third, for evaluation
    assert held.kind == "transform" and held.index == 2 and not held.train_transform


@pytest.mark.parametrize("switched", [True, False])
def test_a_switch_in_the_building_module_counts_however_far_it_is(tmp_path, switched):
    from clipguard.lint.engine import Settings, lint_paths

    eval_line = "    model.eval()\n" if switched else ""
    (tmp_path / "loader.py").write_text(
        "import open_clip\n\ndef load(name):\n"
        f"    model = open_clip.create_model(name)\n{eval_line}    return model\n"
    )
    (tmp_path / "registry.py").write_text(
        "from loader import load\n\ndef get(name):\n    return load(name)\n"
    )
    (tmp_path / "api.py").write_text(
        "from registry import get\n\ndef model_for(name):\n    return get(name)\n"
    )
    (tmp_path / "main.py").write_text(
        "import torch\nfrom api import model_for\nmodel = model_for('ViT-B-32')\n"
        "with torch.no_grad():\n    features = model.encode_image(images)\n"
    )
    report = lint_paths(
        [str(tmp_path)], Settings(select=("CG305",), root=str(tmp_path)), use_cache=False
    )
    assert [f.rule for f in report.findings] == ([] if switched else ["CG305"])
