"""The engine: discovery, the byte gate, cache and process-pool paths give identical findings."""

import ast
import os
import shutil
from pathlib import Path

import pytest
from conftest import BUGGY

from clipguard.analysis.project import Project
from clipguard.lint import pool
from clipguard.lint.config import Settings
from clipguard.lint.discovery import PathError, discover
from clipguard.lint.engine import LintError, lint_paths
from clipguard.lint.fixer import FileChanged, write_atomic

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "lint"
# A project whose script reaches ImageNet statistics and `encode_image` only through names it
# imports: aliased, in parentheses, behind a decorator, and through a second name in the module.
IMPORTED_HELPERS = Path(__file__).resolve().parent / "data" / "imported_helpers"


def _keys(report):
    return [(f.path, f.line, f.column, f.rule, f.message, f.fix) for f in report.findings]


@pytest.fixture
def fixture_tree(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURES, tree)
    return tree


def test_cache_and_processes_do_not_change_findings(fixture_tree, monkeypatch):
    monkeypatch.chdir(fixture_tree)
    settings = Settings(select=("ALL",), root=str(fixture_tree))
    baseline = lint_paths(["."], settings, use_cache=False, jobs=1)
    assert baseline.findings, "the fixtures should produce findings"
    parallel = lint_paths(["."], settings, use_cache=False, jobs=2)
    cold = lint_paths(["."], settings, use_cache=True, jobs=2)
    warm = lint_paths(["."], settings, use_cache=True, jobs=1)
    assert _keys(parallel) == _keys(baseline)
    assert _keys(cold) == _keys(baseline)
    assert _keys(warm) == _keys(baseline)
    assert (fixture_tree / ".clipguard_cache").is_dir()


def _example_trees(tmp_path):
    """Every rule example as a project of its own: the main module and its other modules."""
    from clipguard.lint.examples import as_invalid, as_valid, write_project
    from clipguard.rules import all_rules

    for rule in all_rules():
        examples = [as_valid(e) for e in rule.valid] + [as_invalid(e) for e in rule.invalid]
        for index, example in enumerate(examples):
            tree = tmp_path / f"{rule.code}_{index}"
            write_project(tree, example.code, example.files)
            yield tree


def test_the_byte_gate_never_changes_findings(fixture_tree, tmp_path, monkeypatch):
    # The gate only decides which rules run on which files: running every rule on every file of
    # every fixture and rule example must find exactly the same. (CG000 is the documented
    # exception: a syntax error in a walked file is reported only where clipguard parses.)
    helpers = shutil.copytree(IMPORTED_HELPERS, tmp_path / "imported_helpers")
    trees = [fixture_tree, helpers, *_example_trees(tmp_path / "examples")]
    total = 0
    for tree in trees:
        monkeypatch.chdir(tree)
        settings = Settings(select=("ALL",), ignore=("CG000",), root=str(tree))
        gated = lint_paths(["."], settings, use_cache=False, jobs=1)
        exhaustive = lint_paths(["."], settings, use_cache=False, jobs=1, exhaustive=True)
        assert _keys(gated) == _keys(exhaustive), tree.name
        total += len(gated.findings)
    assert total > 50


def test_imported_helpers_are_followed_by_name(tmp_path, monkeypatch):
    tree = shutil.copytree(IMPORTED_HELPERS, tmp_path / "project")
    monkeypatch.chdir(tree)
    report = lint_paths(["."], Settings(root=str(tree)), use_cache=False, jobs=1)
    assert [(f.path, f.line, f.rule) for f in report.findings] == [
        ("app.py", 11, "CG101"),
        ("app.py", 14, "CG301"),
    ]


def test_cache_notices_a_changed_file_and_a_changed_import(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stats.py").write_text(
        "MEAN = (0.48145466, 0.4578275, 0.40821073)\nSTD = (0.26862954, 0.26130258, 0.27577711)\n"
    )
    (tmp_path / "app.py").write_text(
        BUGGY.replace(
            "T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))", "T.Normalize(MEAN, STD)"
        ).replace("import clip\n", "import clip\nfrom stats import MEAN, STD\n")
    )
    settings = Settings(root=str(tmp_path))
    assert lint_paths(["."], settings).findings == []
    (tmp_path / "stats.py").write_text(
        "MEAN = (0.485, 0.456, 0.406)\nSTD = (0.229, 0.224, 0.225)\n"
    )
    first = lint_paths(["."], settings)
    uncached = lint_paths(["."], settings, use_cache=False)
    assert _keys(first) == _keys(uncached)
    (tmp_path / "app.py").write_text(BUGGY)
    assert _keys(lint_paths(["."], settings)) == _keys(lint_paths(["."], settings, use_cache=False))


def test_discovery_skips_tool_directories_and_virtualenvs(tmp_path):
    for name in [
        ".git/x.py",
        "node_modules/x.py",
        "build/x.py",
        "__pycache__/x.py",
        "env/lib/x.py",
        "pkg/a.py",
        "pkg/sub/b.py",
        "pkg/notes.txt",
    ]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    (tmp_path / "dir.py").mkdir()
    (tmp_path / "pkg" / "loop").symlink_to(tmp_path / "pkg")
    found = [t.display for t in discover([str(tmp_path)])]
    rel = sorted(os.path.relpath(p, tmp_path) for p in found)
    assert rel[:2] == ["pkg/a.py", "pkg/loop/a.py"] or "pkg/a.py" in rel
    assert not any(
        part in r for r in rel for part in (".git", "node_modules", "build", "__pycache__", "env/")
    )
    assert "pkg/sub/b.py" in rel and "pkg/notes.txt" not in rel


def test_exclude_patterns(tmp_path):
    for name in ["src/a.py", "legacy/b.py", "src/gen_c.py"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    found = discover([str(tmp_path)], ("legacy", "gen_*.py"), tmp_path)
    assert [os.path.relpath(t.display, tmp_path) for t in found] == ["src/a.py"]


def test_missing_path_raises(tmp_path):
    with pytest.raises(PathError):
        discover([str(tmp_path / "nope")])


def test_file_changed_on_disk_is_not_overwritten(tmp_path):
    path = tmp_path / "a.py"
    path.write_bytes(b"x = 1\n")
    with pytest.raises(FileChanged):
        write_atomic(path, b"x = 0\n", b"x = 2\n")
    assert path.read_bytes() == b"x = 1\n"
    write_atomic(path, b"x = 1\n", b"x = 2\n")
    assert path.read_bytes() == b"x = 2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py"]


def test_byte_gate_skips_files_without_clip(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet.py").write_text(
        BUGGY.replace("clip", "resnet").replace("encode_image", "forward")
    )
    (tmp_path / "app.py").write_text(BUGGY)
    report = lint_paths(["."], Settings(root=str(tmp_path)), use_cache=False)
    assert {f.path for f in report.findings} == {"app.py"}
    assert report.files == 2 and report.parsed == 1


def test_a_directory_that_cannot_be_listed_is_skipped_with_a_warning(tmp_path, monkeypatch):
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "hidden.py").write_text(BUGGY)
    (tmp_path / "app.py").write_text(BUGGY)
    real = os.scandir

    def scandir(path="."):  # root lists mode-000 directories, so refuse the listing here
        if os.path.basename(os.fspath(path)) == "private":
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.chdir(tmp_path)
    report = lint_paths(["."], Settings(root=str(tmp_path)), use_cache=False, jobs=1)
    assert report.warnings == ["private: cannot list directory: Permission denied; skipped"]
    assert {f.path for f in report.findings} == {"app.py"}


def _killed(task):
    os._exit(9)  # what the OOM killer leaves behind: the worker vanishes mid-task


def test_a_killed_worker_is_one_clear_error(tmp_path, monkeypatch):
    for index in range(4):
        (tmp_path / f"app{index}.py").write_text(BUGGY)
    monkeypatch.setattr(pool, "_lint_task", _killed)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LintError, match="a worker process was killed"):
        lint_paths(["."], Settings(root=str(tmp_path)), use_cache=False, jobs=2)


_SHARED_TRANSFORMS = """\
from torchvision import transforms as T

resnet_tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                       T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])


def load_rgb(path):
    from PIL import Image
    return Image.open(path).convert("RGB")
"""
_CLIP_APP = """\
import clip
from transforms_lib import {name}

model, preprocess = clip.load("ViT-B/32")
features = model.encode_image({image}.unsqueeze(0))
"""


@pytest.mark.parametrize(
    ("name", "image", "expected"),
    [
        ("load_rgb", "preprocess(load_rgb(path))", set()),
        ("resnet_tf", "resnet_tf(image)", {"CG101", "CG201", "CG203"}),
    ],
)
def test_a_shared_module_pipeline_feeds_only_the_importers_that_use_it(
    tmp_path, monkeypatch, name, image, expected
):
    # Linted by relative path, as `clipguard lint .` does: the importer's binding must still be
    # found, or every pipeline of the shared module would count as feeding its CLIP model.
    (tmp_path / "transforms_lib.py").write_text(_SHARED_TRANSFORMS)
    (tmp_path / "clip_app.py").write_text(_CLIP_APP.format(name=name, image=image))
    monkeypatch.chdir(tmp_path)
    report = lint_paths(["."], Settings(root=str(tmp_path)), use_cache=False, jobs=1)
    assert {f.rule for f in report.findings} == expected
    assert {f.path for f in report.findings} <= {"transforms_lib.py"}


def test_a_module_is_parsed_once_per_process_for_linting_and_lookups(tmp_path):
    (tmp_path / "stats.py").write_text("MEAN = (0.485, 0.456, 0.406)\n")
    project = Project([tmp_path / "stats.py"])
    looked_up = project.source(tmp_path / "stats.py")
    linted = project.adopt(
        tmp_path / "stats.py", looked_up.text, lambda: pytest.fail("parsed again"), "\n"
    )
    assert linted is looked_up
    changed = project.adopt(
        tmp_path / "stats.py", "MEAN = 1\n", lambda: ast.parse("MEAN = 1\n"), "\n"
    )
    assert changed is not looked_up and project.source(tmp_path / "stats.py") is changed


def test_a_file_named_alone_still_follows_what_it_imports(tmp_path, monkeypatch):
    # pre-commit passes only the changed files: the constants and helpers they import are read
    # (and not reported on), so the findings match those of a run on the whole tree.
    tree = shutil.copytree(IMPORTED_HELPERS, tmp_path / "project")
    (tree / "pkg").mkdir()
    (tree / "pkg" / "__init__.py").write_text("")
    (tree / "pkg" / "stats.py").write_text(
        "MEAN = (0.485, 0.456, 0.406)\nSTD = (0.229, 0.224, 0.225)\n"
    )
    (tree / "pkg" / "app.py").write_text(
        (tree / "app.py")
        .read_text()
        .replace("from stats import (  # the dataset's statistics", "from .stats import (")
        .replace("from helpers import embed", "from ..helpers import embed")
    )
    monkeypatch.chdir(tree)
    settings = Settings(root=str(tree))
    whole = [
        (f.path, f.line, f.rule) for f in lint_paths(["."], settings, use_cache=False).findings
    ]
    for name in ("app.py", "pkg/app.py"):
        alone = lint_paths([name], settings, use_cache=False)
        assert [(f.path, f.line, f.rule) for f in alone.findings] == [
            f for f in whole if f[0] == name
        ]
        assert alone.files == 1 and alone.findings


@pytest.mark.parametrize(
    "case",
    sorted(p for p in FIXTURES.glob("*/*/") if p.is_dir()),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_each_file_alone_gets_what_the_whole_tree_gives_it(case, tmp_path, monkeypatch):
    # pre-commit names only the changed files: the project root supplies what they import and
    # what imports them, so each file's findings are exactly those of a run on the whole tree.
    tree = shutil.copytree(case, tmp_path / "project")
    (tree / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    monkeypatch.chdir(tree)
    settings = Settings(select=("ALL",), root=str(tree))
    whole = lint_paths(["."], settings, use_cache=False)
    names = sorted(str(p.relative_to(tree)) for p in tree.rglob("*.py"))
    for name in names:
        alone = lint_paths([name], settings, use_cache=False)
        assert _keys(alone) == [k for k in _keys(whole) if k[0] == name], name
