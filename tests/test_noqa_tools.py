"""CG901 (unused-noqa) and `--add-noqa`, through the real console script."""

import os
import stat

from conftest import BUGGY, CLEAN

from clipguard.lint.add_noqa import with_noqa


def _with_comment(line_number: int, comment: str, text: str = BUGGY) -> str:
    lines = text.splitlines(keepends=True)
    lines[line_number - 1] = lines[line_number - 1].rstrip("\n") + comment + "\n"
    return "".join(lines)


def test_extend_select_cg9_reports_unused_and_unknown_codes(run, project):
    project(
        {
            "app.py": _with_comment(9, "  # noqa: CG101, CG201"),  # CG101 is used, CG201 is not
            "plain.py": "x = 1  # noqa: CG999\ny = 2  # noqa: E501\nz = 3  # noqa\n",
        }
    )
    default = run("lint", "--no-cache", ".")
    assert default.returncode == 0, default.stdout + default.stderr  # CG901 is opt-in
    result = run("lint", "--no-cache", "--extend-select", "CG9", ".")
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stdout.splitlines() if " CG901 " in line]
    assert lines == [
        "app.py:9:65: CG901 [*] Unused `noqa` directive (unused: `CG201`)",
        "plain.py:1:8: CG901 [*] Unused `noqa` directive (unknown: `CG999`)",
    ]


def test_cg901_fix_removes_what_is_unused_and_a_second_fix_changes_nothing(run, project):
    root = project(
        {
            "app.py": _with_comment(9, "  # noqa: CG201, CG101  # reviewed"),
            "plain.py": "x = 1  # noqa: CG101\n",
        }
    )
    fixed = run("lint", "--no-cache", "--extend-select", "CG9", "--fix", ".")
    assert fixed.returncode == 0, fixed.stdout
    assert (root / "app.py").read_text() == _with_comment(9, "  # noqa: CG101  # reviewed")
    assert (root / "plain.py").read_text() == "x = 1\n"
    before = {p.name: p.read_bytes() for p in root.glob("*.py")}
    again = run("lint", "--no-cache", "--extend-select", "CG9", "--fix", ".")
    assert again.returncode == 0 and {p.name: p.read_bytes() for p in root.glob("*.py")} == before


def test_a_code_of_a_rule_not_enabled_is_reported_as_such(run, project):
    project({"app.py": _with_comment(9, "  # noqa: CG101")})
    result = run("lint", "--no-cache", "--select", "CG901", "app.py")
    assert "Unused `noqa` directive (non-enabled: `CG101`)" in result.stdout


def test_add_noqa_silences_every_finding_and_keeps_comments(run, project):
    buggy = _with_comment(6, "  # resize first")
    root = project(
        {
            "app.py": buggy.replace(
                "T.Resize(224, interpolation=T.InterpolationMode.BICUBIC)", "T.Resize((224, 224))"
            )
        }
    )
    path = root / "app.py"
    path.write_bytes(
        _with_comment(9, "  # noqa: E501", path.read_text()).replace("\n", "\r\n").encode()
    )
    os.chmod(path, 0o640)
    before = run("lint", "--no-cache", "app.py")
    assert before.returncode == 1 and "CG201" in before.stdout and "CG101" in before.stdout
    added = run("lint", "--no-cache", "--add-noqa", "app.py")
    assert added.returncode == 0, added.stderr
    assert added.stderr.strip() == "Added 2 noqa directives."
    lines = path.read_bytes().decode().split("\r\n")
    assert lines[5].endswith("T.Resize((224, 224)),  # resize first  # noqa: CG201, CG202")
    assert lines[8].endswith("(0.229, 0.224, 0.225)),  # noqa: E501, CG101")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in root.iterdir() if p.name.startswith(".app.py")] == []
    assert run("lint", "--no-cache", "app.py").returncode == 0
    again = run("lint", "--no-cache", "--add-noqa", "app.py")
    assert again.returncode == 0 and again.stderr == ""
    # what --add-noqa wrote, CG901 accepts as used
    assert run("lint", "--no-cache", "--extend-select", "CG9", "app.py").returncode == 0


def test_add_noqa_never_writes_inside_a_string_or_after_a_continuation():
    text = 'x = f("""\nbody""")\ny = 1 + \\\n    2\nz = 3\n'
    new, placed, unplaceable = with_noqa(text, {1: ["CG101"], 3: ["CG101"], 5: ["CG101"]})
    assert unplaceable == [1, 3] and placed == 1
    assert new == 'x = f("""\nbody""")\ny = 1 + \\\n    2\nz = 3  # noqa: CG101\n'


def test_clean_files_get_no_directive(run, project):
    root = project({"app.py": CLEAN})
    result = run("lint", "--no-cache", "--add-noqa", ".")
    assert result.returncode == 0 and result.stderr == ""
    assert (root / "app.py").read_text() == CLEAN
