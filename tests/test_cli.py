"""The lint command line, end to end through the real console script."""

import json
import os
import stat

from conftest import BUGGY, CLEAN


def test_finding_is_reported_with_exit_1(run, project):
    project({"app.py": BUGGY})
    result = run("lint", "app.py", "--no-cache")
    assert result.returncode == 1, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("app.py:9:") and " CG101 " in first
    assert "Found 1 error." in result.stdout


def test_clean_file_exits_0(run, project):
    project({"app.py": CLEAN})
    result = run("lint", "app.py")
    assert result.returncode == 0
    assert result.stdout.strip() == "All checks passed!"


def test_default_path_is_current_directory(run, project):
    project({"pkg/app.py": BUGGY})
    result = run("lint", "--no-cache")
    assert result.returncode == 1
    assert result.stdout.startswith(os.path.join("pkg", "app.py") + ":9:")


def test_exit_zero_and_statistics(run, project):
    project({"app.py": BUGGY})
    result = run("lint", "app.py", "--exit-zero", "--statistics")
    assert result.returncode == 0
    assert result.stdout.split()[:2] == ["1", "CG101"]
    assert result.stdout.strip().endswith("imagenet-normalization")


def test_missing_path_is_a_usage_error(run, project):
    result = run("lint", "does_not_exist.py")
    assert result.returncode == 2
    assert result.stderr.strip() == "clipguard: error: does_not_exist.py: no such file or directory"
    assert "Traceback" not in result.stderr


def test_unknown_selector_is_a_usage_error(run, project):
    project({"app.py": BUGGY})
    result = run("lint", "--select", "CG999", "app.py")
    assert result.returncode == 2
    assert "--select: unknown rule selector 'CG999'" in result.stderr


def test_select_and_ignore_take_prefixes(run, project):
    project({"app.py": BUGGY})
    assert run("lint", "--no-cache", "--ignore", "CG1", "app.py").returncode == 0
    assert run("lint", "--no-cache", "--select", "CG3", "app.py").returncode == 0
    assert run("lint", "--no-cache", "--select", "CG1", "app.py").returncode == 1
    assert (
        run("lint", "--no-cache", "--select", "ALL", "--ignore", "CG101", "app.py").returncode == 0
    )
    assert (
        run(
            "lint", "--no-cache", "--select", "CG2", "--extend-select", "CG101", "app.py"
        ).returncode
        == 1
    )


def test_noqa_on_the_line_and_for_the_file(run, project):
    lines = BUGGY.splitlines(keepends=True)
    lines[8] = lines[8].rstrip("\n") + "  # noqa: CG101\n"
    project({"line.py": "".join(lines)})
    assert run("lint", "--no-cache", "line.py").returncode == 0
    lines[8] = lines[8].replace("# noqa: CG101", "# noqa: CG201")
    project({"wrong_code.py": "".join(lines)})
    assert run("lint", "--no-cache", "wrong_code.py").returncode == 1
    project({"file.py": "# clipguard: noqa\n" + BUGGY})
    assert run("lint", "--no-cache", "file.py").returncode == 0


def test_pyproject_config(run, project):
    root = project({"src/app.py": BUGGY, "legacy/old.py": BUGGY, "tests/test_x.py": BUGGY})
    (root / "pyproject.toml").write_text(
        '[tool.clipguard]\nexclude = ["legacy"]\nper-file-ignores = {"tests/*" = ["CG1"]}\n'
    )
    result = run("lint", "--no-cache", ".")
    assert result.returncode == 1
    paths = {line.split(":")[0] for line in result.stdout.splitlines() if ":" in line}
    assert paths == {os.path.join("src", "app.py")}
    (root / "pyproject.toml").write_text('[tool.clipguard]\nignore = ["CG101"]\n')
    assert run("lint", "--no-cache", ".").returncode == 0


def test_invalid_config_names_the_key(run, project):
    root = project({"app.py": BUGGY})
    (root / "pyproject.toml").write_text('[tool.clipguard]\nselekt = ["CG1"]\n')
    result = run("lint", "app.py")
    assert result.returncode == 2
    assert "tool.clipguard.selekt: unknown key" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    (root / "pyproject.toml").write_text('[tool.clipguard]\nselect = "CG1"\n')
    result = run("lint", "app.py")
    assert (
        result.returncode == 2
        and "tool.clipguard.select: must be a list of strings" in result.stderr
    )


def test_json_output_shape(run, project):
    project({"app.py": BUGGY})
    result = run("lint", "--no-cache", "--output-format", "json", "app.py")
    data = json.loads(result.stdout)
    assert len(data) == 1
    finding = data[0]
    assert set(finding) == {
        "path",
        "line",
        "column",
        "end_line",
        "end_column",
        "rule",
        "name",
        "message",
        "severity",
        "fix",
    }
    assert finding["path"] == "app.py" and finding["line"] == 9 and finding["column"] >= 1
    assert finding["rule"] == "CG101" and finding["name"] == "imagenet-normalization"
    assert finding["fix"] is None or finding["fix"]["applicability"] in {"safe", "unsafe"}


def test_github_annotations(run, project):
    project({"app.py": BUGGY})
    result = run("lint", "--no-cache", "--output-format", "github", "app.py")
    line = result.stdout.strip()
    assert line.startswith("::error title=clipguard (CG101),file=app.py,line=9,col=")
    assert "::CG101 " in line


def test_unreadable_files_do_not_stop_the_run(run, project):
    root = project({"app.py": BUGGY, "broken.py": "import clip\nfeatures = model.encode_image(\n"})
    (root / "binary.py").write_bytes(b"\x00\x01\x02")
    result = run("lint", "--no-cache", ".")
    assert result.returncode == 1
    out = result.stdout
    assert "broken.py:2:" in out and "CG000 syntax error" in out
    assert "binary.py:1:1: CG000 binary file" in out
    assert "app.py:9:" in out


def test_rule_and_rules_commands(run):
    listing = run("rules")
    assert (
        listing.returncode == 0
        and "CG101" in listing.stdout
        and "imagenet-normalization" in listing.stdout
    )
    page = run("rule", "CG101")
    assert page.returncode == 0 and page.stdout.startswith("# CG101")
    assert run("rule", "CG999").returncode == 2


def test_fix_writes_atomically_and_keeps_mode_and_newlines(run, project):
    root = project({})
    path = root / "app.py"
    path.write_bytes(("# keep this comment\n" + BUGGY).replace("\n", "\r\n").encode())
    os.chmod(path, 0o640)
    result = run("lint", "--no-cache", "--fix", "--unsafe-fixes", "app.py")
    fixed = path.read_bytes()
    assert b"0.48145466" in fixed and b"0.485," not in fixed
    assert b"# keep this comment\r\n" in fixed and b"\n" not in fixed.replace(b"\r\n", b"")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert result.returncode == 0, result.stdout
    assert [p.name for p in root.iterdir() if p.name.startswith(".app.py")] == []
    again = run("lint", "--no-cache", "--fix", "--unsafe-fixes", "app.py")
    assert again.returncode == 0 and path.read_bytes() == fixed


def test_unsafe_fix_needs_the_flag_and_diff_writes_nothing(run, project):
    root = project({"app.py": BUGGY})
    before = (root / "app.py").read_text()
    result = run("lint", "--no-cache", "--fix", "app.py")
    assert result.returncode == 1 and (root / "app.py").read_text() == before
    assert "--unsafe-fixes" in result.stdout
    diff = run("lint", "--no-cache", "--diff", "--unsafe-fixes", "app.py")
    assert diff.returncode == 1
    assert (
        "-    T.Normalize((0.485" in diff.stdout and "+    T.Normalize((0.48145466" in diff.stdout
    )
    assert (root / "app.py").read_text() == before
