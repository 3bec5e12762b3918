"""`clipguard lint --fix` never damages a file: every fix fixture and every fixable rule example,
as written and re-encoded (Latin-1 with a cookie; UTF-8 BOM with CRLF), through the real CLI."""

import os
import stat
from pathlib import Path

import pytest
from conftest import BUGGY

from clipguard.analysis.source import SourceFile
from clipguard.diagnostics import Edit, Finding, Fix
from clipguard.lint import fixer
from clipguard.lint.config import Settings
from clipguard.lint.edits import apply_edits
from clipguard.lint.engine import lint_paths
from clipguard.lint.examples import as_invalid
from clipguard.lint.fixer import FileChanged, fix_text, write_atomic
from clipguard.rules import all_rules

FIX_ROOT = Path(__file__).resolve().parent.parent / "fixtures" / "fix"
MODE = 0o754  # unusual on purpose: --fix must keep it


def _cases():
    for path in sorted(FIX_ROOT.glob("*/*.in.py")):
        out = path.with_name(path.name.replace(".in.py", ".out.py"))
        yield pytest.param(
            path.read_text(),
            out.read_text() if out.exists() else None,
            id=f"{path.parent.name}/{path.name}",
        )
    for rule in all_rules():
        for index, example in enumerate(map(as_invalid, rule.invalid)):
            if example.fixed is not None and not example.files:
                yield pytest.param(example.code, None, id=f"{rule.code}-example-{index}")


CASES = list(_cases())


def _plain(text: str) -> bytes:
    return text.encode()


def _latin1(text: str) -> bytes:
    return ("# -*- coding: latin-1 -*-\n" + text + "# café, naïve\n").encode("latin-1")


def _bom_crlf(text: str) -> bytes:
    return b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()


VARIANTS = {"plain": _plain, "latin-1": _latin1, "bom-crlf": _bom_crlf}


def _fix(run, directory: Path, names: list[str]):
    result = run(
        "lint",
        "--fix",
        "--unsafe-fixes",
        "--select",
        "ALL",
        "--no-cache",
        "--exit-zero",
        *names,
        cwd=directory,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result


@pytest.mark.parametrize(("source", "expected"), CASES)
def test_fix_keeps_the_file_intact(run, tmp_path, source, expected):
    names = {variant: f"case_{variant.replace('-', '_')}.py" for variant in VARIANTS}
    for variant, name in names.items():
        (tmp_path / name).write_bytes(VARIANTS[variant](source))
        (tmp_path / name).chmod(MODE)
    _fix(run, tmp_path, sorted(names.values()))
    written = {variant: (tmp_path / name).read_bytes() for variant, name in names.items()}
    fixed = written["plain"].decode()
    assert fixed != source, "the case has a fix, so --fix must change the file"
    if expected is not None:
        assert fixed == expected
    for variant, name in names.items():
        compile(written[variant], name, "exec")  # bytes: honours the BOM and the coding cookie
        # Re-encoding commutes with fixing: encoding, BOM and line breaks are kept.
        assert written[variant] == VARIANTS[variant](fixed), variant
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == MODE
    assert sorted(os.listdir(tmp_path)) == sorted(names.values())  # no temp file left behind
    _fix(run, tmp_path, sorted(names.values()))
    for variant, name in names.items():
        assert (tmp_path / name).read_bytes() == written[variant], (
            "a second --fix must change nothing"
        )


def test_variants_are_what_they_claim():
    assert _latin1("x = 1\n").startswith(b"# -*- coding: latin-1 -*-\n") and b"caf\xe9" in _latin1(
        ""
    )
    crlf = _bom_crlf("a = 1\nb = 2\n")
    assert crlf == b"\xef\xbb\xbfa = 1\r\nb = 2\r\n"


def test_write_atomic_refuses_a_file_changed_on_disk(tmp_path):
    path = tmp_path / "a.py"
    path.write_bytes(b"x = 1\n")
    path.chmod(0o640)
    with pytest.raises(FileChanged):
        write_atomic(path, b"x = 0\n", b"x = 2\n")
    assert path.read_bytes() == b"x = 1\n"
    write_atomic(path, b"x = 1\n", b"x = 2\n")
    assert path.read_bytes() == b"x = 2\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["a.py"]


def test_write_atomic_keeps_a_symlink_and_writes_its_target(tmp_path):
    (tmp_path / "real.py").write_bytes(b"x = 1\n")
    (tmp_path / "link.py").symlink_to("real.py")
    write_atomic(tmp_path / "link.py", b"x = 1\n", b"x = 2\n")
    assert (tmp_path / "link.py").is_symlink()
    assert (tmp_path / "real.py").read_bytes() == b"x = 2\n"


def test_write_atomic_cleans_up_when_the_write_fails(tmp_path, monkeypatch):
    path = tmp_path / "a.py"
    path.write_bytes(b"x = 1\n")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_atomic(path, b"x = 1\n", b"x = 2\n")
    assert path.read_bytes() == b"x = 1\n"
    assert os.listdir(tmp_path) == ["a.py"]


def test_edit_during_the_run_is_not_overwritten(tmp_path, monkeypatch):
    """The user saves the file while clipguard computes fixes: their edit wins, with a warning."""
    path = tmp_path / "app.py"
    path.write_text(BUGGY)
    theirs = BUGGY + "# the user's new line\n"
    real_fix_text = fixer.fix_text

    def fix_text_while_the_user_saves(*args, **kwargs):
        result = real_fix_text(*args, **kwargs)
        path.write_text(theirs)
        return result

    monkeypatch.setattr(fixer, "fix_text", fix_text_while_the_user_saves)
    monkeypatch.chdir(tmp_path)
    report = lint_paths(
        ["app.py"], Settings(root=str(tmp_path), fix=True, unsafe_fixes=True), use_cache=False
    )
    assert path.read_text() == theirs
    assert report.warnings == ["app.py: changed on disk while clipguard ran; not fixed"]
    assert report.fixed == 0 and any(f.rule == "CG101" for f in report.findings)
    assert os.listdir(tmp_path) == ["app.py"]


def test_a_fix_that_cannot_be_encoded_is_skipped_not_written(tmp_path, monkeypatch):
    """A fix inserting text a Latin-1 file cannot hold leaves the file as it was."""
    path = tmp_path / "app.py"
    original = ("# -*- coding: latin-1 -*-\n" + BUGGY).encode("latin-1")
    path.write_bytes(original)
    real_fix_text = fixer.fix_text

    def fix_text_adding_a_snowman(*args, **kwargs):
        text, remaining, applied = real_fix_text(*args, **kwargs)
        return text + "# ☃\n", remaining, applied

    monkeypatch.setattr(fixer, "fix_text", fix_text_adding_a_snowman)
    monkeypatch.chdir(tmp_path)
    report = lint_paths(
        ["app.py"], Settings(root=str(tmp_path), fix=True, unsafe_fixes=True), use_cache=False
    )
    assert path.read_bytes() == original
    assert (
        report.fixed == 0
        and len(report.warnings) == 1
        and "fixes not applied" in report.warnings[0]
    )


def _finding(line: int, *edits: Edit) -> Finding:
    return Finding(
        "a.py", line, 1, line, 2, "CG999", "test", "m", "error", Fix("safe", tuple(edits))
    )


def test_apply_edits_keeps_crlf_and_rejects_positions_outside_the_text():
    text = "import clip\r\nx = 1\r\n"
    assert apply_edits(text, [Edit(2, 6, 2, 6, "\ny = 2")]) == "import clip\r\nx = 1\r\ny = 2\r\n"
    for bad in (
        Edit(2, 7, 2, 7, "x"),
        Edit(2, 8, 2, 8, "x"),
        Edit(4, 1, 4, 1, "x"),
        Edit(0, 1, 0, 1, "x"),
        Edit(1, 0, 1, 1, "x"),
        Edit(2, 3, 2, 2, "x"),
    ):
        with pytest.raises(ValueError):
            apply_edits(text, [bad])


def test_fix_text_drops_a_malformed_fix_and_applies_the_others():
    text = "a = 1\nb = 2\n"
    findings = [
        _finding(1, Edit(1, 5, 1, 6, "3"), Edit(1, 4, 1, 6, "4")),  # overlaps itself
        _finding(1, Edit(1, 40, 1, 41, "5")),  # past the end of its line: would land on line 2
        _finding(2, Edit(2, 5, 2, 6, "7")),
    ]
    fixed, _, applied = fix_text(text, lambda t: [], Settings(fix=True), findings)
    assert (fixed, applied) == ("a = 1\nb = 7\n", 1)


def test_fix_text_falls_back_when_fixes_together_break_the_code():
    text = "def g(a, b=2): pass\n"
    # Each is fine alone; together a parameter without default follows one with a default.
    findings = [_finding(1, Edit(1, 7, 1, 8, "a=1")), _finding(1, Edit(1, 11, 1, 13, ""))]
    fixed, _, applied = fix_text(text, lambda t: [], Settings(fix=True), findings)
    assert (fixed, applied) == ("def g(a=1, b=2): pass\n", 1)


def test_added_import_stays_below_shebang_and_coding_cookie():
    text = "#!/usr/bin/env python\n# -*- coding: latin-1 -*-\nx = 1\n"
    edit = SourceFile.from_text(text).add_import("import torch", "torch", "torch")
    assert (
        apply_edits(text, [edit])
        == "#!/usr/bin/env python\n# -*- coding: latin-1 -*-\nimport torch\nx = 1\n"
    )
    bare = "# coding: utf-8"
    edit = SourceFile.from_text(bare).add_import("import torch", "torch", "torch")
    assert apply_edits(bare, [edit]) == "# coding: utf-8\nimport torch"
