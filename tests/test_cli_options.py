"""The lint options a ruff user reaches for, and `clipguard profiles`, through the real script."""

import json
import os

from conftest import BUGGY, CLEAN

SQUASHING = BUGGY.replace(
    "T.Resize(224, interpolation=T.InterpolationMode.BICUBIC)", "T.Resize((224, 224))"
)


def test_output_file_gets_the_report_without_colour(run, project):
    root = project({"app.py": BUGGY})
    result = run(
        "lint",
        "--no-cache",
        "-o",
        "reports/lint.txt",
        "app.py",
        env={**os.environ, "FORCE_COLOR": "1"},
    )
    assert result.returncode == 1 and result.stdout == ""
    written = (root / "reports" / "lint.txt").read_text()
    assert written.startswith("app.py:9:17: CG101 ") and "Found 1 error." in written
    json_run = run(
        "lint", "--no-cache", "--output-format", "json", "--output-file", "r.json", "app.py"
    )
    assert (
        json_run.returncode == 1 and json.loads((root / "r.json").read_text())[0]["rule"] == "CG101"
    )


def test_colour_follows_the_terminal_force_color_and_no_color(run, project):
    project({"app.py": BUGGY})
    plain = run(
        "lint",
        "--no-cache",
        "app.py",
        env={k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")},
    )
    assert "\x1b[" not in plain.stdout  # a pipe is not a terminal
    forced = run(
        "lint", "--no-cache", "app.py", env={**os.environ, "FORCE_COLOR": "1", "NO_COLOR": ""}
    )
    assert "\x1b[1;31mCG101\x1b[0m" in forced.stdout and "\x1b[1mapp.py\x1b[0m" in forced.stdout
    off = run(
        "lint", "--no-cache", "app.py", env={**os.environ, "FORCE_COLOR": "", "NO_COLOR": "1"}
    )
    assert "\x1b[" not in off.stdout


def test_quiet_prints_findings_only_and_silent_nothing(run, project):
    project({"app.py": BUGGY, "clean.py": CLEAN})
    quiet = run("lint", "--no-cache", "-q", "app.py")
    assert quiet.returncode == 1 and quiet.stdout.splitlines() == [quiet.stdout.splitlines()[0]]
    assert " CG101 " in quiet.stdout
    silent = run("lint", "--no-cache", "--silent", "app.py")
    assert silent.returncode == 1 and silent.stdout == "" and silent.stderr == ""
    assert run("lint", "--no-cache", "-q", "clean.py").stdout == ""


def test_fix_only_and_show_fixes(run, project):
    root = project({"app.py": SQUASHING})
    result = run("lint", "--no-cache", "--fix-only", "--unsafe-fixes", "--show-fixes", "app.py")
    assert result.returncode == 0, result.stderr  # CG202 (no fix) remains, fix-only exits 0
    assert " CG202 " not in result.stdout
    assert result.stdout.splitlines() == [
        "Fixed 2 errors:",
        "- app.py:",
        "    1 × CG101 (imagenet-normalization)",
        "    1 × CG201 (non-bicubic-resize)",
        "Fixed 2 errors.",
    ]
    assert "0.48145466" in (root / "app.py").read_text()
    with_findings = run("lint", "--no-cache", "--fix", "--show-fixes", "app.py")
    assert with_findings.returncode == 1 and " CG202 " in with_findings.stdout
    assert "Fixed" not in with_findings.stdout  # nothing was fixed this time


def test_diff_names_the_hidden_unsafe_fixes(run, project):
    project({"app.py": BUGGY})
    result = run("lint", "--no-cache", "--diff", "app.py")
    assert result.returncode == 0 and result.stdout == ""
    assert (
        result.stderr.strip() == "No errors would be fixed (1 fix available with `--unsafe-fixes`)."
    )
    unsafe = run("lint", "--no-cache", "--diff", "--unsafe-fixes", "app.py")
    assert unsafe.returncode == 1 and unsafe.stderr.strip() == "Would fix 1 error."
    assert unsafe.stdout.startswith("--- app.py\n+++ app.py\n")


def test_statistics_as_json_and_other_formats_refused(run, project):
    project({"app.py": SQUASHING})
    result = run("lint", "--no-cache", "--statistics", "--output-format", "json", "app.py")
    rows = json.loads(result.stdout)
    assert [row["code"] for row in rows] == ["CG101", "CG201", "CG202"]
    assert rows[0] == {
        "code": "CG101",
        "name": "imagenet-normalization",
        "count": 1,
        "fixable": False,
    }
    refused = run("lint", "--statistics", "--output-format", "sarif", "app.py")
    assert (
        refused.returncode == 2
        and "--statistics supports the text and json formats" in refused.stderr
    )


def test_exclude_and_extend_exclude_on_the_command_line(run, project):
    root = project({"src/app.py": BUGGY, "legacy/old.py": BUGGY, "gen/made.py": BUGGY})
    (root / "pyproject.toml").write_text('[tool.clipguard]\nexclude = ["legacy"]\n')

    def paths(*args):
        out = run("lint", "--no-cache", *args, ".").stdout
        return {line.split(os.sep)[0] for line in out.splitlines() if ": CG" in line}

    assert paths() == {"src", "gen"}
    assert paths("--extend-exclude", "gen") == {"src"}
    assert paths("--exclude", "gen") == {"src", "legacy"}  # replaces the configuration's exclude
    assert paths("--exclude", "gen,src") == {"legacy"}


def test_stdin_is_linted_as_the_named_file_and_fixed_to_stdout(run, project):
    root = project({"pkg/stats.py": "MEAN = (0.485, 0.456, 0.406)\nSTD = (0.229, 0.224, 0.225)\n"})
    importer = BUGGY.replace("import clip\n", "import clip\nfrom stats import MEAN, STD\n").replace(
        "T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))", "T.Normalize(MEAN, STD)"
    )
    result = run("lint", "--no-cache", "--stdin-filename", "pkg/app.py", input=importer)
    assert result.returncode == 1 and result.stdout.startswith("pkg/app.py:10:")  # sees stats.py
    dash = run("lint", "-", input=BUGGY)
    assert dash.returncode == 1 and dash.stdout.startswith("-:9:17: CG101 ")
    fixed = run("lint", "--fix", "--unsafe-fixes", "-", input=BUGGY)
    assert (
        fixed.returncode == 0
        and "0.48145466" in fixed.stdout
        and fixed.stdout.startswith("import clip")
    )
    assert "Found 1 error (1 fixed, 0 remaining)." in fixed.stderr
    unchanged = run("lint", "--fix", "-", input=CLEAN)
    assert unchanged.returncode == 0 and unchanged.stdout == CLEAN
    assert not (root / "-").exists()
    mixed = run("lint", "-", "pkg", input=CLEAN)
    assert mixed.returncode == 2 and "cannot be combined" in mixed.stderr


def test_profiles_lists_every_spelling_aligned_and_filtered(run):
    listing = run("profiles")
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    names = {line.split()[0] for line in lines[1:]}
    assert {
        "ViT-B/32",
        "ViT-L/14@336px",
        "openai/clip-vit-large-patch14-336",
        "open_clip:ViT-B-32/laion2b_s34b_b79k",
        "hf-hub:timm/vit_base_patch32_clip_224.openai",
    } <= names
    n_px = lines[0].index("n_px")
    tabular = [
        line for line in lines[1:] if not line.startswith("<") and "<" not in line.split()[0]
    ]
    assert all(line[n_px : n_px + 4].strip().isdigit() for line in tabular)  # one column for all
    only = run("profiles", "LARGE-PATCH14-336").stdout.splitlines()
    assert [line.split()[:2] for line in only[1:]] == [["openai/clip-vit-large-patch14-336", "336"]]
    assert run("profiles", "no-such-model").returncode == 2
