"""Golden lint fixtures: `fixtures/lint/<CODE>/<case>.py` beside `<case>.txt`, or a folder
`<case>/` (a small project) with `expected.txt`. Each expected line is `relpath:line:col: CODE`;
an empty file means no finding at all, of any rule.

Fix fixtures: `fixtures/fix/<CODE>/<case>.in.py` beside `<case>.out.py`, the result of
`--fix --unsafe-fixes`; fixing the output again must change nothing.
"""

from pathlib import Path

import pytest

from clipguard.lint.engine import Settings, lint_paths
from clipguard.lint.fixer import fix_source

ROOT = Path(__file__).resolve().parent.parent / "fixtures"
LINT_CASES = sorted(
    [p for p in (ROOT / "lint").glob("*/*.py")]
    + [p for p in (ROOT / "lint").glob("*/*/") if p.is_dir()]
)
FIX_CASES = sorted((ROOT / "fix").glob("*/*.in.py"))


def _expected(case: Path) -> list[str]:
    listing = case / "expected.txt" if case.is_dir() else case.with_suffix(".txt")
    assert listing.exists(), f"missing {listing}"
    return sorted(line.strip() for line in listing.read_text().splitlines() if line.strip())


@pytest.mark.parametrize("case", LINT_CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_lint_fixture(case):
    base = case if case.is_dir() else case.parent
    report = lint_paths([str(case)], Settings(select=("ALL",)), use_cache=False)
    got = sorted(
        f"{Path(f.path).resolve().relative_to(base.resolve())}:{f.line}:{f.column}: {f.rule}"
        for f in report.findings
    )
    assert got == _expected(case)


@pytest.mark.parametrize("case", FIX_CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fix_fixture(case):
    source = case.read_text()
    expected = case.with_name(case.name.replace(".in.py", ".out.py")).read_text()
    settings = Settings(select=("ALL",), unsafe_fixes=True)
    fixed = fix_source(source, settings, path=str(case))
    assert fixed == expected
    assert fix_source(fixed, settings, path=str(case)) == fixed
    compile(fixed, str(case), "exec")
