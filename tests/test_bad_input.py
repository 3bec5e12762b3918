"""Bad input through the real `clipguard lint`: one clear diagnostic each, never a traceback, and
the other files' findings still reported."""

import json
import os

import pytest
from conftest import BUGGY

from clipguard.lint.runner import lint_text
from clipguard.rule import Rule
from clipguard.rules import all_rules

MEAN = "(0.485, 0.456, 0.406)"


def _lint(run, *paths):
    result = run("lint", "--no-cache", "--output-format", "json", *paths)  # times out after 120 s
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def _by_path(findings):
    grouped = {}
    for f in findings:
        grouped.setdefault(f["path"], []).append(f)
    return grouped


def _assert_buggy_reported(findings, path="app.py"):
    assert [
        (f["line"], f["column"]) for f in findings if f["path"] == path and f["rule"] == "CG101"
    ] == [(9, 17)]


BAD_FILES = {
    "syntax.py": (b"import clip\ndef f(:\n    pass\n", "syntax error", 2, 7),
    "not_utf8.py": (b"import clip\nname = 'caf\xe9'\n", "cannot decode as utf-8", 2, 1),
    "unknown_codec.py": (b"# coding: klingon\nimport clip\n", "unknown encoding: klingon", 1, 1),
    "binary.py": (b"import clip\nx = 1\x00\x01\x02\n", "binary file", 2, 1),
    "deep_parens.py": (
        b"import clip\nx = " + b"(" * 3000 + b"1" + b")" * 3000 + b"\n",
        "nested",
        2,
        None,
    ),
    "deep_chain.py": (b"import clip\nx = 1" + b" + 1" * 100_000 + b"\n", "too deeply nested", 1, 1),
    "deep_attrs.py": (b"import clip\nx = a" + b".b" * 100_000 + b"\n", "too deeply nested", 1, 1),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_is_one_cg000_and_the_run_goes_on(run, tmp_path, name):
    data, message, line, column = BAD_FILES[name]
    (tmp_path / name).write_bytes(data)
    (tmp_path / "app.py").write_text(BUGGY)
    code, findings = _lint(run, name, "app.py")
    assert code == 1
    [bad] = _by_path(findings)[name]
    assert bad["rule"] == "CG000" and message in bad["message"], bad
    assert bad["line"] == line
    if column is not None:
        assert bad["column"] == column
    _assert_buggy_reported(findings)


def test_bad_files_in_a_walked_directory(run, tmp_path):
    for name, (data, _, _, _) in BAD_FILES.items():
        (tmp_path / "pkg" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "pkg" / name).write_bytes(data)
    (tmp_path / "pkg" / "app.py").write_text(BUGGY)
    code, findings = _lint(run, ".")
    grouped = _by_path(findings)
    assert code == 1
    for name in BAD_FILES:
        assert [f["rule"] for f in grouped[os.path.join("pkg", name)]] == ["CG000"]
    _assert_buggy_reported(findings, os.path.join("pkg", "app.py"))


def _mean_text(data: bytes, encoding: str, finding) -> str:
    """The source text a finding points at, cut by its (1-based, character) columns."""
    text = data.decode(encoding).lstrip("\ufeff")
    line = text.splitlines()[finding["line"] - 1]
    return line[finding["column"] - 1 : finding["end_column"] - 1]


# Non-ASCII text before the finding on its own line: columns must count characters, not bytes.
ACCENTED = BUGGY.replace("preprocess", "prétraitement").replace(
    "        T.Normalize(", "        T.Normalize(*['é'] and "
)


@pytest.mark.parametrize("variant", ["latin-1 cookie", "bom crlf", "tabs", "utf-8 accents"])
def test_encodings_newlines_and_tabs_keep_positions(run, tmp_path, variant):
    if variant == "latin-1 cookie":
        data, encoding = ("# -*- coding: latin-1 -*-\n" + ACCENTED).encode("latin-1"), "latin-1"
    elif variant == "bom crlf":
        data, encoding = b"\xef\xbb\xbf" + ACCENTED.replace("\n", "\r\n").encode(), "utf-8"
    elif variant == "tabs":
        data, encoding = ACCENTED.replace("    ", "\t").encode(), "utf-8"
    else:
        data, encoding = ACCENTED.encode(), "utf-8"
    (tmp_path / "app.py").write_bytes(data)
    (tmp_path / "empty.py").write_bytes(b"")
    code, findings = _lint(run, "app.py", "empty.py")
    assert code == 1
    assert {f["path"] for f in findings} == {"app.py"}  # an empty file is fine
    [finding] = [f for f in findings if f["rule"] == "CG101"]
    assert _mean_text(data, encoding, finding) == MEAN


def test_directory_named_like_a_module_is_walked(run, tmp_path):
    (tmp_path / "x.py").mkdir()
    (tmp_path / "x.py" / "app.py").write_text(BUGGY)
    code, findings = _lint(run, "x.py")
    assert code == 1
    _assert_buggy_reported(findings, os.path.join("x.py", "app.py"))


def test_symlinks_that_lead_nowhere(run, tmp_path):
    (tmp_path / "loop.py").symlink_to("loop.py")
    (tmp_path / "dangling.py").symlink_to("nowhere.py")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "again").symlink_to(tmp_path / "pkg")  # a directory loop
    (tmp_path / "pkg" / "app.py").write_text(BUGGY)
    for args in (["loop.py", "dangling.py", "pkg"], ["."]):
        code, findings = _lint(run, *args)
        grouped = _by_path(findings)
        assert code == 1
        assert [f["message"] for f in grouped["loop.py"]] == [
            "cannot read: Too many levels of symbolic links"
        ]
        assert [f["message"] for f in grouped["dangling.py"]] == [
            "cannot read: No such file or directory"
        ]
        _assert_buggy_reported(findings, os.path.join("pkg", "app.py"))


def test_fifo_is_not_read(run, tmp_path):
    """A FIFO named *.py would block a read forever; it stands in for any unreadable file."""
    os.mkfifo(tmp_path / "pipe.py")
    (tmp_path / "app.py").write_text(BUGGY)
    for args in (["pipe.py", "app.py"], ["."]):
        code, findings = _lint(run, *args)
        assert code == 1
        assert [f["message"] for f in _by_path(findings)["pipe.py"]] == [
            "cannot read: not a regular file"
        ]
        _assert_buggy_reported(findings)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads mode-000 files"
)
def test_unreadable_file(run, tmp_path):
    (tmp_path / "secret.py").write_text("import clip\n")
    (tmp_path / "secret.py").chmod(0)
    (tmp_path / "app.py").write_text(BUGGY)
    code, findings = _lint(run, "secret.py", "app.py")
    assert code == 1
    assert [f["message"] for f in _by_path(findings)["secret.py"]] == [
        "cannot read: Permission denied"
    ]
    _assert_buggy_reported(findings)


def test_missing_path_is_exit_2_with_one_line(run, tmp_path):
    (tmp_path / "app.py").write_text(BUGGY)
    result = run("lint", "app.py", "missing.py")
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["clipguard: error: missing.py: no such file or directory"]
    assert "Traceback" not in result.stdout + result.stderr


def test_200k_line_file_is_read_and_parsed(run, tmp_path):
    """Named explicitly, so parsed; no CLIP marker, so no rule runs (see the next test for rules).
    How fast is bench/run.py's business; the subprocess timeout catches a hang."""
    lines = ["import numpy", *(f"v{i} = compute({i}, name='s{i}')" for i in range(199_999))]
    (tmp_path / "big.py").write_text("\n".join(lines) + "\n")
    (tmp_path / "app.py").write_text(BUGGY)
    code, findings = _lint(run, "big.py", "app.py")
    assert code == 1 and {f["path"] for f in findings} == {"app.py"}


def test_long_clip_file_with_every_rule_finishes(run, tmp_path):
    """Rules run on every line here: 10,000 lines finish, and the findings are right."""
    body = [f"features{i} = model.encode_image(batch[{i}])" for i in range(10_000 - 20)]
    (tmp_path / "big.py").write_text(BUGGY + "\n".join(body) + "\n")
    code, findings = _lint(run, "big.py")
    assert code == 1
    _assert_buggy_reported(findings, "big.py")


class _Exploding(Rule):
    code, name = "CG998", "exploding"

    def run(self):
        raise KeyError("boom")


class _Recursing(Rule):
    code, name = "CG997", "recursing"

    def run(self):
        self.run()


def test_a_rule_that_raises_becomes_one_cg000_and_others_still_report():
    findings = lint_text(BUGGY, [*all_rules(), _Exploding, _Recursing], "app.py", isolate=True)
    assert [(f.line, f.column) for f in findings if f.rule == "CG101"] == [(9, 17)]
    [internal] = [f for f in findings if f.rule == "CG000"]
    assert internal.message.startswith("internal error in CG998, CG997 while analyzing: KeyError")
    assert (internal.line, internal.column) == (1, 1)
    with pytest.raises(KeyError):
        lint_text(BUGGY, [_Exploding], "app.py")  # without isolation (tests, examples) it raises


def test_syntax_warnings_in_user_code_are_not_printed(run, tmp_path):
    (tmp_path / "app.py").write_text(BUGGY + 'x = 1if y else 2\npattern = "\\d+"\nf = "a"()\n')
    result = run("lint", "--no-cache", "app.py")
    assert result.returncode == 1 and " CG101 " in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("damage", ["not json", "entries of the wrong shape"])
def test_damaged_cache_is_ignored(run, tmp_path, damage):
    (tmp_path / "app.py").write_text(BUGGY)
    first = run("lint", "app.py")
    [cache_file] = (tmp_path / ".clipguard_cache").rglob("*.json")
    if damage == "not json":
        cache_file.write_text("{\x00")
    else:
        entries = json.loads(cache_file.read_text())
        # Stat data that still matches, the rest gone or mistyped.
        damaged = {
            path: {"mtime": e["mtime"], "size": e["size"], "marker": "yes"}
            for path, e in entries.items()
            if "mtime" in e
        }
        damaged.update(
            {
                key: {"tree": e.get("tree"), "codes": "all", "deps": 3}
                for key, e in entries.items()
                if "mtime" not in e
            }
        )
        cache_file.write_text(json.dumps(damaged))
    again = run("lint", "app.py")
    assert (again.returncode, again.stdout, again.stderr) == (
        first.returncode,
        first.stdout,
        first.stderr,
    )
    assert first.returncode == 1 and " CG101 " in first.stdout
