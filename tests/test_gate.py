"""The gate's context: the rules about what a CLIP model is fed run only near code that builds
or calls one, and the gate never changes what the rules find."""

import os

from clipguard.analysis.project import Project
from clipguard.analysis.vocab.models import holds_clip_code
from clipguard.lint.config import Settings
from clipguard.lint.discovery import SourcePath
from clipguard.lint.engine import lint_paths
from clipguard.lint.gate import scan_file, select_rules
from clipguard.rules import all_rules

RESIZE = "import torchvision.transforms as T\n\npreprocess = T.Resize(224)\n"


def _write(tree, files):
    for name, text in files.items():
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _selected(tree, files):
    _write(tree, files)
    scans = {tree / name: scan_file(SourcePath(name, tree / name, True), None) for name in files}
    codes = select_rules(scans, Project(list(scans)), tuple(all_rules()))
    return {str(path.relative_to(tree)): set(found) for path, found in codes.items()}


def _gated_and_exhaustive(tree, monkeypatch):
    monkeypatch.chdir(tree)
    settings = Settings(select=("ALL",), root=str(tree))
    gated = lint_paths(["."], settings, use_cache=False, jobs=1)
    exhaustive = lint_paths(["."], settings, use_cache=False, jobs=1, exhaustive=True)
    keys = [[(f.path, f.line, f.rule) for f in r.findings] for r in (gated, exhaustive)]
    assert keys[0] == keys[1]
    return keys[0]


def test_a_module_that_only_mentions_clip_gets_no_rule_about_model_input(tmp_path):
    selected = _selected(
        tmp_path,
        {
            "notes.py": 'CLIPS = "data/clips"\n' + RESIZE,
            "main.py": 'import clip\n\nmodel, _ = clip.load("ViT-B/32")\n' + RESIZE,
        },
    )
    assert "CG201" in selected["main.py"]
    assert "CG201" not in selected.get("notes.py", set())


def test_a_package_init_passes_on_only_the_names_its_importer_uses(tmp_path, monkeypatch):
    files = {
        "pkg/__init__.py": "from .model import load\nfrom .utils import resize, unrelated\n",
        "pkg/model.py": "import clip\n\n\ndef load():\n    return clip.load('ViT-B/32')[0]\n",
        "pkg/utils.py": RESIZE + "\n\ndef resize(image):\n    return preprocess(image)\n\n\n"
        "def unrelated(image):\n    return T.Resize(64)(image)\n",
        "main.py": "from pkg import load, resize\n\nmodel = load()\n"
        "features = model.encode_image(resize(image).unsqueeze(0))\n",
    }
    assert "CG201" in _selected(tmp_path, files)["pkg/utils.py"]
    found = _gated_and_exhaustive(tmp_path, monkeypatch)
    assert (os.path.join("pkg", "utils.py"), 3, "CG201") in found


def test_a_hub_id_in_code_is_clip_code_and_its_pipeline_is_checked(tmp_path, monkeypatch):
    _write(
        tmp_path,
        {
            "embed.py": "import torch\nimport torchvision.transforms as T\n"
            "from transformers import AutoModel\n\n"
            'MODEL_ID = "openai/clip-vit-base-patch32"\n'
            "model = AutoModel.from_pretrained(MODEL_ID).eval()\n"
            "preprocess = T.Compose([T.Resize(224), T.CenterCrop(224), T.ToTensor()])\n\n\n"
            "def embed(image):\n"
            "    with torch.no_grad():\n"
            "        return model.vision_model(pixel_values=preprocess(image)[None])\n"
        },
    )
    found = _gated_and_exhaustive(tmp_path, monkeypatch)
    assert ("embed.py", 7, "CG201") in found


def test_what_counts_as_clip_code():
    assert holds_clip_code(b'MODEL = "google/siglip-base-patch16-224"\n')
    assert holds_clip_code(b"def __init__(self, image_encoder: CLIPVisionModelWithProjection):\n")
    # a documentation decorator, a mapping of class names and prose build nothing
    assert not holds_clip_code(b'@auto_docstring(checkpoint="openai/clip-vit-base-patch32")\n')
    assert not holds_clip_code(b'MAPPING = {"SiglipVisionModel": "CLIPVisionModel"}\n')
    assert not holds_clip_code(b'"""Load openai/clip-vit-base-patch32 first."""\n')
