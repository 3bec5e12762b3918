"""Jupyter notebooks are linted as ruff lints them: code cells joined (data flow crosses cells),
IPython syntax masked, positions inside cells in every format, fixes written into the cells."""

import difflib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clipguard.diagnostics import Edit, Finding
from clipguard.lint.config import Settings
from clipguard.lint.engine import lint_paths
from clipguard.lint.notebook import read

NOTEBOOKS = Path(__file__).resolve().parent.parent / "fixtures" / "notebooks"
RUFF = shutil.which("ruff", path=os.path.dirname(sys.executable)) or shutil.which("ruff")
needs_ruff = pytest.mark.skipif(RUFF is None, reason="needs ruff (the test extra installs it)")


def code(source, **metadata):
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": metadata,
        "outputs": [],
        "source": source if isinstance(source, list) else source.splitlines(keepends=True),
    }


def markdown(text):
    return {"cell_type": "markdown", "metadata": {}, "source": [text]}


def notebook(*cells, **metadata):
    content = {"cells": list(cells), "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(content, indent=1, ensure_ascii=False) + "\n"


def lint(tmp_path, monkeypatch, files, **settings):
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return lint_paths(["."], Settings(root=str(tmp_path), **settings), use_cache=False, jobs=1)


ZERO_SHOT = [
    (
        "zero_shot.ipynb:cell 3:1:25: CG101 ImageNet mean/std feed CLIP (ViT-B/32), which expects CLIP's "
        "statistics"
    ),
    (
        "zero_shot.ipynb:cell 4:2:5: CG201 `Resize` uses bilinear (the default) interpolation; CLIP "
        "(ViT-B/32) expects bicubic"
    ),
    (
        "zero_shot.ipynb:cell 8:1:10: CG301 `image_features` and `text_features` (from `encode_image`) "
        "reach `@` without L2 normalization: the score is not cosine similarity and ranks by vector norm"
    ),
]


def test_zero_shot_notebook_has_findings_in_three_cells(run, tmp_path):
    # Its first cell holds `%matplotlib`, `%config` and `!pip`; a `%%bash` cell and a `%%time`
    # cell follow. The statistics, the resize and the raw product are in three other cells.
    shutil.copy(NOTEBOOKS / "zero_shot.ipynb", tmp_path)
    result = run("lint", "--no-cache", "zero_shot.ipynb")
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[:3] == ZERO_SHOT
    assert "Found 3 errors." in result.stdout


def test_clean_retrieval_notebook(run, tmp_path):
    shutil.copy(NOTEBOOKS / "retrieval_ok.ipynb", tmp_path)
    result = run("lint", "--no-cache", "retrieval_ok.ipynb")
    assert (result.returncode, result.stdout) == (0, "All checks passed!\n"), result.stderr


def test_directories_take_notebooks_and_the_cache_replays_them(run, tmp_path):
    shutil.copytree(NOTEBOOKS, tmp_path / "nb")
    cold = run("lint", "nb")
    warm = run("lint", "nb")
    assert cold.stdout == warm.stdout and (tmp_path / ".clipguard_cache").is_dir()
    assert [line for line in cold.stdout.splitlines() if "zero_shot" in line] == [
        f"nb/{line}" for line in ZERO_SHOT
    ]
    assert "nb/broken.ipynb:1:1: CG000 notebook is not valid JSON" in cold.stdout
    assert "retrieval_ok" not in cold.stdout
    # an edit to a cell is seen by the next cached run
    path = tmp_path / "nb" / "zero_shot.ipynb"
    path.write_text(path.read_text().replace("T.Resize(224)", "T.Resize(224, interpolation=3)"))
    assert "CG201" not in run("lint", "nb").stdout


def test_cells_share_one_data_flow_like_one_python_file(tmp_path, monkeypatch):
    # The model is loaded in cell 1, the preprocessing written in cell 3, the product in cell 5.
    cells = [
        (
            "import clip\nimport torch\nimport torchvision.transforms as T\n\n"
            'model, _ = clip.load("ViT-B/32")'
        ),
        (
            "preprocess = T.Compose([\n    T.Resize(224),\n    T.CenterCrop(224),\n    T.ToTensor(),\n"
            "    T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),\n])"
        ),
        (
            "with torch.no_grad():\n    image = model.encode_image(preprocess(photo)[None])\n"
            '    text = model.encode_text(clip.tokenize(["a cat"]))\nscores = image @ text.T'
        ),
    ]
    files = {
        "flow.ipynb": notebook(
            code(cells[0]),
            markdown("Preprocessing"),
            code(cells[1]),
            markdown("Features"),
            code(cells[2]),
        ),
        "flow.py": "\n".join(cells) + "\n",
        "only_preprocessing.py": "import torchvision.transforms as T\n" + cells[1] + "\n",
    }
    report = lint(tmp_path, monkeypatch, files)
    found = {path: [f for f in report.findings if f.path == path] for path in files}
    assert {f.rule for f in found["flow.ipynb"]} == {"CG101", "CG201", "CG301"}
    assert found["only_preprocessing.py"] == []  # the preprocessing alone feeds nothing
    python_lines = files["flow.py"].splitlines()
    cell_lines = {1: cells[0].splitlines(), 3: cells[1].splitlines(), 5: cells[2].splitlines()}
    in_notebook = [
        (f.rule, f.message, f.column, cell_lines[f.cell][f.line - 1]) for f in found["flow.ipynb"]
    ]
    in_python = [(f.rule, f.message, f.column, python_lines[f.line - 1]) for f in found["flow.py"]]
    assert in_notebook == in_python
    assert [f.cell for f in found["flow.ipynb"]] == [3, 3, 5]


def test_a_notebook_importing_a_project_module_makes_it_feed_clip(tmp_path, monkeypatch):
    helpers = (
        "import torchvision.transforms as T\n\n"
        "preprocess = T.Compose([T.Resize(224, interpolation=T.InterpolationMode.BICUBIC),\n"
        "    T.CenterCrop(224), T.ToTensor(),\n"
        "    T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])\n"
    )
    cell = (
        'import clip\nfrom helpers import preprocess\n\nmodel, _ = clip.load("ViT-B/32")\n'
        "features = model.encode_image(preprocess(photo)[None])"
    )
    assert lint(tmp_path, monkeypatch, {"helpers.py": helpers}).findings == []  # alone: no CLIP
    report = lint(tmp_path, monkeypatch, {"demo.ipynb": notebook(code(cell))})
    assert [(f.path, f.rule, f.line, f.cell) for f in report.findings] == [
        ("helpers.py", "CG101", 5, None)
    ]


def test_ipython_syntax_is_masked_and_other_languages_skipped(tmp_path, monkeypatch):
    bad = "T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))"
    cells = [
        code(
            "%load_ext autoreload\n%autoreload 2\n!pip install open_clip_torch\n"
            "import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-B/32')\n"
            "files = !ls *.jpg\nhere = %pwd\nmodel?\n??model.encode_image\n"
            "for name in files:\n    !echo {name}\n    %time model.encode_image(x)\n"
            "get_ipython().system('nvidia-smi')"
        ),
        code(f"%%bash\nnorm = {bad}"),  # shell: not Python
        code(f"norm = {bad}", vscode={"languageId": "sql"}),
        code(f"%%time\nnorm = {bad}\nmodel.encode_image(norm(x))"),
    ]
    report = lint(tmp_path, monkeypatch, {"magic.ipynb": notebook(*cells)})
    assert [(f.rule, f.cell, f.line, f.column) for f in report.findings] == [("CG101", 4, 2, 20)]
    # A kernel in another language has no Python to lint.
    r_kernel = notebook(*cells, kernelspec={"language": "R", "name": "ir", "display_name": "R"})
    assert lint(tmp_path, monkeypatch, {"magic.ipynb": r_kernel}).findings == []


def test_noqa_in_a_cell_and_for_the_notebook(tmp_path, monkeypatch):
    source = (NOTEBOOKS / "zero_shot.ipynb").read_text(encoding="utf-8")
    line_noqa = source.replace('0.225))"', '0.225))  # noqa: CG101"')
    report = lint(tmp_path, monkeypatch, {"zero_shot.ipynb": line_noqa})
    assert [f.rule for f in report.findings] == ["CG201", "CG301"]
    content = json.loads(source)
    content["cells"][0]["source"].insert(0, "# clipguard: noqa\n")
    report = lint(tmp_path, monkeypatch, {"zero_shot.ipynb": json.dumps(content, indent=1)})
    assert report.findings == []
    # per-file-ignores match notebooks by path, as any other file
    report = lint(
        tmp_path,
        monkeypatch,
        {"zero_shot.ipynb": source},
        per_file_ignores=(("*.ipynb", ("CG2",)),),
    )
    assert [f.rule for f in report.findings] == ["CG101", "CG301"]


def test_fix_writes_only_the_edited_lines_and_a_second_fix_changes_nothing(run, tmp_path):
    target = tmp_path / "zero_shot.ipynb"
    shutil.copy(NOTEBOOKS / "zero_shot.ipynb", target)
    original = target.read_bytes()
    diff = run("lint", "--no-cache", "--diff", "--unsafe-fixes", "zero_shot.ipynb")
    assert diff.returncode == 1 and target.read_bytes() == original
    headers = [line for line in diff.stdout.splitlines() if line.startswith("--- ")]
    assert headers == [f"--- zero_shot.ipynb:cell {n}" for n in (1, 3, 4, 8)]
    assert "+    T.Resize(224, interpolation=InterpolationMode.BICUBIC),\n" in diff.stdout

    fixed = run("lint", "--no-cache", "--fix", "--unsafe-fixes", "zero_shot.ipynb")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "Found 3 errors (3 fixed, 0 remaining)." in fixed.stdout
    after = target.read_bytes()
    # Outputs, metadata, ids, key order, indent and the final newline are untouched: the file is
    # still exactly what Jupyter writes, and only source lines of the three edited cells differ.
    content = json.loads(after)
    assert after.decode() == json.dumps(content, indent=1, ensure_ascii=False) + "\n"
    before = json.loads(original)
    for old, new in zip(before["cells"], content["cells"]):
        assert {k: v for k, v in old.items() if k != "source"} == {
            k: v for k, v in new.items() if k != "source"
        }
    changed = [
        (n + 1, "".join(new["source"]))
        for n, (old, new) in enumerate(zip(before["cells"], content["cells"]))
        if old["source"] != new["source"]
    ]
    assert [n for n, _ in changed] == [1, 3, 4, 8]
    assert (
        "from torchvision.transforms import InterpolationMode\nimport torch.nn.functional as F\n"
        in changed[0][1]
        and changed[0][1].startswith("%matplotlib inline\n")
    )
    assert (
        "F.normalize(image_features, dim=-1) @ F.normalize(text_features, dim=-1).T"
        in changed[3][1]
    )
    # Byte for byte, the file changed on exactly the edited source lines and the two new ones.
    matcher = difflib.SequenceMatcher(
        None,
        original.decode().splitlines(keepends=True),
        after.decode().splitlines(keepends=True),
        autojunk=False,
    )
    removed, added = [], []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed += matcher.a[i1:i2]
            added += matcher.b[j1:j2]
    assert [line.strip() for line in removed] == [
        '"normalize = T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))"',
        '"    T.Resize(224),\\n",',
        '"logits = 100.0 * image_features @ text_features.T\\n",',
    ]
    assert [line.strip() for line in added] == [
        '"from torchvision.transforms import InterpolationMode\\n",',
        '"import torch.nn.functional as F\\n",',
        (
            '"normalize = T.Normalize((0.48145466, 0.4578275, 0.40821073), '
            '(0.26862954, 0.26130258, 0.27577711))"'
        ),
        '"    T.Resize(224, interpolation=InterpolationMode.BICUBIC),\\n",',
        (
            '"logits = 100.0 * F.normalize(image_features, dim=-1) @ F.normalize(text_features, '
            'dim=-1).T\\n",'
        ),
    ]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".clipguard_cache") == [
        "zero_shot.ipynb"
    ]

    again = run("lint", "--no-cache", "--fix", "--unsafe-fixes", "zero_shot.ipynb")
    assert (again.returncode, again.stdout) == (0, "All checks passed!\n")
    assert target.read_bytes() == after


def _fixed(data, edits):
    nb = read(data)
    text = nb.apply(nb.text, edits)
    return nb.dump(text)


def test_written_cells_keep_the_notebook_style():
    source = ["import clip\n", "x = 1\n", "y = 2"]
    rename = [Edit(2, 1, 2, 2, "z")]
    # a list of lines, indent 2, CRLF line breaks, no final newline
    crlf = (
        json.dumps(
            {"cells": [code(source)], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=2
        )
        .replace("\n", "\r\n")
        .encode()
    )
    assert _fixed(crlf, rename) == crlf.replace(b'"x = 1\\n"', b'"z = 1\\n"')
    # the source as one string, ASCII-escaped non-ASCII characters kept as they were written
    one = {"cells": [code("")], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    one["cells"][0]["source"] = "s = 'é'\nx = 1\n"
    escaped = json.dumps(one).encode()
    assert b"\\u00e9" in escaped
    assert _fixed(escaped, [Edit(2, 1, 2, 2, "z")]) == escaped.replace(b"x = 1", b"z = 1")
    # deleting a cell's last line, and writing into an empty cell
    data = notebook(code(source), code([])).encode()
    deleted = _fixed(data, [Edit(2, 6, 3, 6, "")])
    assert json.loads(deleted)["cells"][0]["source"] == ["import clip\n", "x = 1"]
    filled = json.loads(_fixed(data, [Edit(4, 1, 4, 1, "import os")]))
    assert filled["cells"][1]["source"] == ["import os"]
    assert _fixed(data, []) == data


def test_a_fix_across_a_cell_boundary_or_into_a_magic_is_refused():
    data = notebook(code("%pip install clip\nx = 1"), code("y = 2")).encode()
    nb = read(data)
    across = nb.apply(nb.text, [Edit(2, 1, 4, 1, "")])
    with pytest.raises(ValueError, match="cell boundary or an IPython escape"):
        nb.dump(across)
    into = nb.apply(nb.text, [Edit(1, 3, 1, 4, "X")])
    with pytest.raises(ValueError):
        nb.dump(into)


BROKEN = {
    "truncated.ipynb": '{"cells": [{"cell_type": "code", "source": ["import clip',
    "empty.ipynb": "",
    "v3.ipynb": json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}}),
    "list.ipynb": "[1, 2]",
    "cells.ipynb": json.dumps({"nbformat": 4, "cells": {}}),
    "source.ipynb": json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": 3}]}),
    "latin1.ipynb": b'{"cells": [], "nbformat": 4, "x": "\xe9"}',
}


def test_broken_notebooks_are_one_cg000_each_with_the_reason(run, tmp_path):
    for name, content in BROKEN.items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    shutil.copy(NOTEBOOKS / "zero_shot.ipynb", tmp_path)
    result = run("lint", "--no-cache", "--fix", ".")
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if "CG000" in line]
    assert lines == [
        "cells.ipynb:1:1: CG000 not a notebook: `cells` is not a list",
        "empty.ipynb:1:1: CG000 notebook is not valid JSON: Expecting value (line 1, column 1)",
        "latin1.ipynb:1:1: CG000 notebook is not UTF-8 (invalid continuation byte, line 1)",
        "list.ipynb:1:1: CG000 not a notebook: the JSON is not an object",
        "source.ipynb:1:1: CG000 cell 1: `source` is neither a string nor a list of strings",
        (
            "truncated.ipynb:1:1: CG000 notebook is not valid JSON: Unterminated string starting at "
            "(line 1, column 45)"
        ),
        (
            "v3.ipynb:1:1: CG000 nbformat 3 notebooks are not supported, only nbformat 4 "
            "(`jupyter nbconvert --to notebook --nbformat 4` converts)"
        ),
    ]
    assert "zero_shot.ipynb:cell 8:1:10: CG301" in result.stdout  # the run went on
    for name, content in BROKEN.items():
        assert (tmp_path / name).read_bytes() == (
            content if isinstance(content, bytes) else content.encode()
        )


def test_a_syntax_error_in_a_cell_is_reported_in_the_cell(run, tmp_path):
    (tmp_path / "bad.ipynb").write_text(
        notebook(code("import clip"), markdown("x"), code("model = clip.load(\n"))
    )
    result = run("lint", "--no-cache", "bad.ipynb")
    assert result.stdout.startswith(
        "bad.ipynb:cell 3:1:13: CG000 syntax error: '(' was never closed\n"
    )


# --- positions against ruff's own output on the same notebook -------------------------------------


def _ruff(path, output_format):
    result = subprocess.run(
        [
            RUFF,
            "check",
            "--isolated",
            "--no-cache",
            "--select",
            "F401",
            "--output-format",
            output_format,
            path.name,
        ],
        check=False,
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    return result.stdout


def _anchored(tmp_path):
    """A notebook where ruff's F401 sits on each line clipguard reports: cells of every kind."""
    path = tmp_path / "anchored.ipynb"
    cells = [
        code(
            "%matplotlib inline\n!nvidia-smi\nimport clip\nimport torch\n"
            "import torchvision.transforms as T\nmodel, _ = clip.load('ViT-B/32')"
        ),
        markdown("Statistics"),
        code("%%bash\necho not python"),
        code("normalize = T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)); import os"),
        code([]),
        code(
            "%%time\npreprocess = T.Compose([T.Resize(224), T.CenterCrop(224), T.ToTensor(), normalize]); "
            "import sys"
        ),
        code(
            "with torch.no_grad():\n    a = model.encode_image(preprocess(photo)[None])\n"
            "    b = model.encode_text(clip.tokenize(['a cat']))\nscores = a @ b.T; import re\n"
        ),
    ]
    cells[5]["source"] = "".join(cells[5]["source"])  # one string, as some writers store it
    path.write_text(notebook(*cells))
    return path


@needs_ruff
def test_positions_match_ruff_in_every_format(run, tmp_path):
    path = _anchored(tmp_path)

    def ours(output_format):
        result = run(
            "lint",
            "--no-cache",
            "--select",
            "CG101,CG201,CG301",
            "--output-format",
            output_format,
            path.name,
        )
        assert result.returncode == 1, result.stderr
        return result.stdout

    # text: `path:cell N:line:col:`, the same cell and line as ruff's concise output
    mine = [
        line.split(": ")[0].rsplit(":", 1)[0]
        for line in ours("text").splitlines()
        if line.startswith("anchored")
    ]
    theirs = [
        line.split(": ")[0].rsplit(":", 1)[0]
        for line in _ruff(path, "concise").splitlines()
        if line.startswith("anchored")
    ]
    assert (
        mine
        == theirs
        == ["anchored.ipynb:cell 4:1", "anchored.ipynb:cell 6:2", "anchored.ipynb:cell 7:4"]
    )
    # json: a `cell`, with the line inside it
    mine = [(f["cell"], f["line"], f["end_line"]) for f in json.loads(ours("json"))]
    theirs = [
        (f["cell"], f["location"]["row"], f["end_location"]["row"])
        for f in json.loads(_ruff(path, "json"))
    ]
    assert mine == theirs

    # sarif: lines of the joined cells, no cell
    def regions(sarif):
        return [
            r["locations"][0]["physicalLocation"]["region"]["startLine"]
            for r in json.loads(sarif)["runs"][0]["results"]
        ]

    assert regions(ours("sarif")) == regions(_ruff(path, "sarif")) == [7, 10, 14]

    # github: the annotation at 1:1 of the file, as ruff puts it
    def spans(github):
        return [line.split("::")[1].split(",", 2)[2] for line in github.splitlines()]

    assert (
        spans(ours("github"))
        == spans(_ruff(path, "github"))
        == ["line=1,col=1,endLine=1,endColumn=1"] * 3
    )
    assert ours("github").splitlines()[0].split("::")[2].startswith("cell 4:1:")


@needs_ruff
def test_cell_map_matches_ruff_on_every_kind_of_cell(tmp_path):
    # One unused import per cell; ruff's JSON gives its cell position, its SARIF the line of the
    # joined text: the cells clipguard joins and where it says they are must agree with both.
    sources = [
        "import a1\n%time import x\nfiles = !ls\nmodel?\n??model\n/print 1\n,print a b\nx = %pwd",
        "",
        "%%time\nimport a3",
        "%%capture\nimport a4",
        "import a5\n%%bash\necho",
        "if True:\n    !ls\n    import a6\n",
        "s = '''\n!inside\n'''\nimport a7",
        "%%writefile x.py\nimport a8",
        "import a9  # noqa: F401\nimport a10",
        "%pip install \\\n   foo\nimport a11",
        "%%python\nimport a12",
        "pip = 3\nimport a13",
        "cd /tmp\nimport a14",
        "x = (\n%%html\n)\nimport a15",
    ]
    cells = [code(s) for s in sources] + [
        code("import a16", vscode={"languageId": "r"}),
        code("import a17", vscode={"languageId": "python"}),
    ]
    path = tmp_path / "kinds.ipynb"
    path.write_text(notebook(*cells))
    by_cell = json.loads(_ruff(path, "json"))
    joined = json.loads(_ruff(path, "sarif"))["runs"][0]["results"]
    nb = read(path.read_bytes())
    lines = nb.text.splitlines()
    for cell, result in zip(by_cell, joined):
        region = result["locations"][0]["physicalLocation"]["region"]
        name = result["message"]["text"].split("`")[1]
        assert lines[region["startLine"] - 1][region["startColumn"] - 1 :].startswith(name)
        finding = Finding(
            "kinds.ipynb",
            region["startLine"],
            region["startColumn"],
            region["endLine"],
            region["endColumn"],
            "F401",
            "unused-import",
            "",
        )
        located = nb.locate(finding)
        assert (
            located.cell,
            located.line,
            located.column,
            located.end_line,
            located.end_column,
        ) == (
            cell["cell"],
            cell["location"]["row"],
            cell["location"]["column"],
            cell["end_location"]["row"],
            cell["end_location"]["column"],
        )
        assert nb.in_text(located) == finding
    reported = {r["message"]["text"].split("`")[1] for r in joined}
    imported = {line.split()[1] for line in lines if line.lstrip().startswith("import ")}
    assert imported - {"a9"} == reported  # a9 is silenced by its noqa; nothing else differs


def test_gate_processes_and_sarif_treat_notebooks_like_files(run, tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    shutil.copytree(NOTEBOOKS, tree)
    for n in range(3):
        shutil.copy(tree / "zero_shot.ipynb", tree / f"copy_{n}.ipynb")
    monkeypatch.chdir(tree)
    settings = Settings(select=("ALL",), ignore=("CG000",), root=str(tree))

    def keys(report):
        return [(f.path, f.cell, f.line, f.column, f.rule, f.fix) for f in report.findings]

    gated = lint_paths(["."], settings, use_cache=False, jobs=1)
    assert len(gated.findings) == 12
    assert keys(gated) == keys(
        lint_paths(["."], settings, use_cache=False, jobs=1, exhaustive=True)
    )
    assert keys(gated) == keys(lint_paths(["."], settings, use_cache=False, jobs=2))
    assert keys(gated) == keys(lint_paths(["."], settings, use_cache=True, jobs=2))
    assert keys(gated) == keys(lint_paths(["."], settings, use_cache=True, jobs=1))
    import jsonschema

    schema = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
    sarif = json.loads(run("lint", "--no-cache", "--output-format", "sarif", ".", cwd=tree).stdout)
    jsonschema.validate(sarif, schema)


LINES = [
    "import clip",
    "x = 1",
    "%matplotlib inline",
    "!ls -la",
    "files = !ls",
    "model?",
    "s = '''",
    "'''",
    "x = (",
    ")",
    "%pip install \\",
    "   foo",
    "é = 'ü'",
    "",
    "# comment ! %",
    "if True:",
    "    !echo hi",
    "%%time",
    "%%bash",
    "t = 'it''s'",
    'u = "\\"!"',
    "\t%cd ..",
    "cd /tmp",
]


@given(
    cells=st.lists(
        st.tuples(
            st.lists(st.sampled_from(LINES), max_size=6),
            st.booleans(),
            st.sampled_from(["string", "lines", "one string in a list"]),
            st.sampled_from(["code", "code", "markdown"]),
        ),
        min_size=1,
        max_size=5,
    ),
    indent=st.sampled_from([None, 1, 2]),
    ascii_only=st.booleans(),
    pick=st.integers(0, 10**6),
)
@settings(max_examples=150, deadline=None)
def test_reading_and_writing_a_notebook_keeps_every_other_byte(cells, indent, ascii_only, pick):
    content = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    for lines, trailing, as_list, kind in cells:
        source = "\n".join(lines) + ("\n" if trailing and lines else "")
        cell = {"cell_type": kind, "metadata": {}, "source": source}
        if as_list == "lines":
            cell["source"] = source.splitlines(keepends=True)
        elif as_list != "string":
            cell["source"] = [source]
        content["cells"].append(cell)
    data = json.dumps(content, indent=indent, ensure_ascii=ascii_only).encode()
    nb = read(data)
    assert nb.dump(nb.text) == data
    for cell in nb.cells:  # masking keeps every character's position
        masked = nb.text[cell.offset : cell.offset + len(cell.source)]
        assert len(masked) == len(cell.source)
        assert [i for i, c in enumerate(masked) if c == "\n"] == [
            i for i, c in enumerate(cell.source) if c == "\n"
        ]
        assert nb.text[cell.offset + len(cell.source)] == "\n"
    lines = nb.text.split("\n")[:-1]
    masked_lines = {
        n
        for start, end, _ in nb.masks
        for n in range(nb.text.count("\n", 0, start) + 1, nb.text.count("\n", 0, end) + 2)
    }
    free = [n for n in range(1, len(lines) + 1) if n not in masked_lines]
    if not free:
        return
    line = free[pick % len(free)]
    edited = nb.apply(
        nb.text, [Edit(line, len(lines[line - 1]) + 1, line, len(lines[line - 1]) + 1, "  # x")]
    )
    plain = nb.text
    for start, end, original in reversed(nb.masks):
        plain = plain[:start] + original + plain[end:]

    def cell_of(n):
        return nb.locate(Finding("nb", n, 1, n, 1, "X", "x", "")).cell

    continued = line - 1 in masked_lines and plain.split("\n")[line - 2].endswith("\\")
    if continued and cell_of(line - 1) == cell_of(line):
        with pytest.raises(ValueError):  # the edit would join a magic's continued line: refused
            nb.dump(edited)
        return
    new = json.loads(nb.dump(edited))
    cell, row = cell_of(line), None
    for number, (old, fresh) in enumerate(zip(content["cells"], new["cells"]), 1):
        old_source = "".join(old["source"]) if isinstance(old["source"], list) else old["source"]
        new_source = (
            "".join(fresh["source"]) if isinstance(fresh["source"], list) else fresh["source"]
        )
        assert type(fresh["source"]) is type(old["source"])
        if number != cell:
            assert fresh == old
        else:
            row = nb.locate(Finding("nb", line, 1, line, 1, "X", "x", "")).line
            old_rows, new_rows = old_source.split("\n"), new_source.split("\n")
            assert new_rows[row - 1] == old_rows[row - 1] + "  # x"
            assert new_rows[: row - 1] + new_rows[row:] == old_rows[: row - 1] + old_rows[row:]
    assert row is not None
    assert read(nb.dump(edited)).text == edited
