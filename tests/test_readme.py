"""The README's demo shows exactly what clipguard prints for it, and CI runs the README's command."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BUGGY, CLEAN, REPO

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
        [
            "awk",
            (
                "/<!-- test-command -->/{found=1; next} found && /^```/{if (inblock) exit; inblock=1; next} "
                "found && inblock {print}"
            ),
            str(REPO / "README.md"),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert extracted.strip() == command
    assert len(re.findall(r"<!-- (?:main|test)-command -->", README)) == 2
    assert Path(REPO / "constraints.txt").read_text().count("torch==2.14.1") == 1


def _commands() -> list[str]:
    """Every clipguard command the README shows: `$ clipguard ...` in console blocks and
    `run: clipguard ...` in workflow blocks."""
    commands = []
    for language, body in re.findall(r"```(\w+)\n(.*?)```", README, re.DOTALL):
        for line in body.splitlines():
            if language == "console" and line.startswith("$ clipguard "):
                commands.append(line[2:].split("  #")[0].strip())
            elif language == "yaml" and line.strip().startswith("- run: clipguard "):
                commands.append(line.strip()[len("- run: ") :])
    return commands


def test_every_command_the_readme_shows_runs_as_written(tmp_path):
    commands = _commands()
    assert len(commands) >= 15 and any("--stdin-filename" in c for c in commands)
    shutil.copytree(REPO / "fixtures", tmp_path / "fixtures")
    (tmp_path / "demo.py").write_text(_block_after("<!-- demo -->", "python"))
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    for command in commands:
        result = subprocess.run(
            command,
            shell=True,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode in (0, 1), f"{command}\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stderr and "error:" not in result.stderr, command
        assert result.stdout or result.stderr or "-o " in command or ">" in command, command


def _block_with(text: str, language: str) -> str:
    return next(b for b in re.findall(rf"```{language}\n(.*?)```", README, re.DOTALL) if text in b)


def test_the_pre_commit_snippet_works_when_copied(tmp_path):
    pre_commit = shutil.which("pre-commit", path=os.path.dirname(sys.executable))
    if pre_commit is None or shutil.which("git") is None:
        pytest.skip("needs pre-commit and git")
    snippet = _block_with("repo: local", "yaml")
    assert "clipguard lint --force-exclude" in snippet
    (tmp_path / ".pre-commit-config.yaml").write_text(snippet)
    (tmp_path / "bad.py").write_text(BUGGY)
    (tmp_path / "good.py").write_text(CLEAN)
    env = {
        **os.environ,
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
        "PRE_COMMIT_HOME": str(tmp_path / ".pre-commit-home"),
    }
    for args in (["init", "-q"], ["add", "bad.py", "good.py", ".pre-commit-config.yaml"]):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    def hook_on(name: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [pre_commit, "run", "--files", name],
            check=False,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    failing = hook_on("bad.py")
    assert failing.returncode == 1 and "bad.py:9:17: CG101" in failing.stdout, failing.stdout
    passing = hook_on("good.py")
    assert passing.returncode == 0, passing.stdout


def test_the_editor_set_ups_start_the_server():
    assert '"clipguard", "server"' in _block_with("vim.lsp.config", "lua")
    vscode = json.loads(_block_with("glspc", "json"))
    assert [vscode["glspc.server.command"], *vscode["glspc.server.commandArguments"]] == [
        "clipguard",
        "server",
    ]
