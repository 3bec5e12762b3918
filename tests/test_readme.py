"""The README's demo shows exactly what clipguard prints for it, and CI runs the README's command."""

import re
import subprocess
from pathlib import Path

from conftest import REPO

README = (REPO / "README.md").read_text()


def _block_after(marker: str, language: str) -> str:
    tail = README.split(marker, 1)[1]
    return re.search(rf"```{language}\n(.*?)```", tail, re.DOTALL).group(1)


def test_demo_output_is_what_clipguard_prints(run, tmp_path):
    (tmp_path / "demo.py").write_text(_block_after("<!-- demo -->", "python"))
    console = _block_after("<!-- demo -->", "console").splitlines()
    assert console[0] == "$ clipguard lint demo.py"
    result = run("lint", "--no-cache", "demo.py")
    assert result.stdout.splitlines() == console[1:]
    assert result.returncode == 1


def test_notebook_output_is_what_clipguard_prints(run):
    console = _block_after("<!-- notebook -->", "console").splitlines()
    assert console[0] == "$ clipguard lint fixtures/notebooks/zero_shot.ipynb"
    result = run("lint", "--no-cache", "fixtures/notebooks/zero_shot.ipynb", cwd=REPO)
    assert result.stdout.splitlines() == console[1:]
    assert result.returncode == 1


def test_ci_runs_the_readme_test_command():
    script = (REPO / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in script
    command = _block_after("<!-- test-command -->", "bash").strip()
    assert "pytest" in command and "-c constraints.txt" in command and ".[test]" in command
    extracted = subprocess.run(
        ["awk", ('/<!-- test-command -->/{found=1; next} found && /^```/{if (inblock) exit; inblock=1; next} '
                'found && inblock {print}'), str(REPO / "README.md")], check=True, capture_output=True, text=True).stdout
    assert extracted.strip() == command
    assert len(re.findall(r"<!-- (?:main|test)-command -->", README)) == 2
    assert Path(REPO / "constraints.txt").read_text().count("torch==2.14.1") == 1
