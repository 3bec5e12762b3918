"""Run a rule's own `valid` / `invalid` examples: they are its tests and its documentation."""

from __future__ import annotations

import tempfile
from pathlib import Path

from clipguard.analysis.project import Project
from clipguard.diagnostics import Finding
from clipguard.lint.edits import apply_edits, compatible_fixes
from clipguard.lint.gate.imports import scan_imports
from clipguard.lint.runner import lint_text
from clipguard.rule import Invalid, Rule, Valid

MAIN = "main.py"


def write_project(root: Path, code: str, files: dict[str, str] | None = None) -> None:
    """Write an example as a project: `code` as `main.py` beside the other modules in `files`."""
    for name, text in {MAIN: code, **(files or {})}.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def run_example(rule: type[Rule], code: str, files: dict[str, str] | None = None) -> list[Finding]:
    """Findings of `rule` on `code`, linted as `main.py` beside the other modules in `files`."""
    if not files:
        return [f for f in lint_text(code, [rule], MAIN) if f.rule == rule.code]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_project(root, code, files)
        paths = sorted(root.rglob("*.py"))
        project = Project(paths, {p: scan_imports(p.read_bytes()) for p in paths})
        main = str(root / MAIN)
        found = lint_text(code, [rule], main, project)
        return [f for f in found if f.rule == rule.code]


def fix_all(code: str, findings: list[Finding]) -> str:
    """Apply every fix (safe and unsafe) the findings offer: the first round of
    `--fix --unsafe-fixes` (`fixer.fix_text` repeats rounds until none is left)."""
    fixes = compatible_fixes(f.fix for f in findings if f.fix)
    return apply_edits(code, [edit for fix in fixes for edit in fix.edits])


def as_valid(example: Valid | str) -> Valid:
    return example if isinstance(example, Valid) else Valid(example)


def as_invalid(example: Invalid | str) -> Invalid:
    return example if isinstance(example, Invalid) else Invalid(example)


def check_examples(rule: type[Rule]) -> list[str]:
    """Problems with a rule's examples, as readable sentences; empty when all behave."""
    problems = []
    for example in map(as_valid, rule.valid):
        found = run_example(rule, example.code, example.files)
        if found:
            problems.append(
                f"{rule.code}: valid example fires {[f.message for f in found]}:\n{example.code}"
            )
    for example in map(as_invalid, rule.invalid):
        found = run_example(rule, example.code, example.files)
        if len(found) != example.count:
            problems.append(
                f"{rule.code}: invalid example gives {len(found)} findings, "
                f"expected {example.count}:\n{example.code}"
            )
        elif example.fixed is not None:
            fixed = fix_all(example.code, found)
            if fixed != example.fixed:
                problems.append(f"{rule.code}: fix gives\n{fixed}\nexpected\n{example.fixed}")
    return problems
