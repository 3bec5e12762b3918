"""`--fix`: apply fixes until none is left, check the result, and write it atomically."""

from __future__ import annotations

import ast
import os
import stat
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

from clipguard.config import Settings
from clipguard.diagnostics import Finding
from clipguard.edits import apply_edits, compatible_fixes, well_formed

MAX_ROUNDS = 10
Linter = Callable[[str], list[Finding]]


class FileChanged(Exception):
    """The file changed on disk after it was read; it is left alone."""


def applicable(finding: Finding, settings: Settings) -> bool:
    if finding.fix is None:
        return False
    return finding.fix.applicability == "safe" or settings.unsafe_fixes


def still_valid(text: str) -> bool:
    """The fixed text parses for both `ast` and libcst, and libcst round-trips it exactly."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
        import libcst  # only here: libcst is the lossless reference, and slow to import

        return libcst.parse_module(text).code == text
    except Exception:  # noqa: BLE001 - SyntaxError, RecursionError, libcst.ParserSyntaxError, ...
        return False


def fix_text(text: str, lint: Linter, settings: Settings,
             findings: list[Finding] | None = None) -> tuple[str, list[Finding], int]:
    """Apply applicable fixes round after round; return (text, remaining findings, fixes applied)."""
    findings = lint(text) if findings is None else findings
    applied = 0
    for _ in range(MAX_ROUNDS):
        fixes = compatible_fixes(well_formed(text, [f.fix for f in findings if applicable(f, settings)]))
        if not fixes:
            break
        candidate = apply_edits(text, [edit for fix in fixes for edit in fix.edits])
        if not still_valid(candidate) and len(fixes) > 1:
            # One broken fix must not block the others: fall back to the first fix alone.
            fixes = fixes[:1]
            candidate = apply_edits(text, list(fixes[0].edits))
        if candidate == text or not still_valid(candidate):
            break
        text, applied = candidate, applied + len(fixes)
        findings = lint(text)
    return text, findings, applied


def fix_source(text: str, settings: Settings, path: str = "<string>") -> str:
    """The source after `--fix` (and `--unsafe-fixes` if set) with the enabled rules."""
    from clipguard.checker import lint_text

    rules = settings.enabled_rules()
    fixed, _, _ = fix_text(text, lambda t: lint_text(t, rules, path), settings)
    return fixed


def write_atomic(path: Path, original: bytes, data: bytes) -> None:
    """Replace `path` with `data` via a temp file in the same directory and a rename, keeping its
    mode; refuse if the file no longer holds `original`."""
    real = Path(os.path.realpath(path))
    if real.read_bytes() != original:
        raise FileChanged(f"{path}: changed on disk while clipguard ran; not fixed")
    mode = stat.S_IMODE(real.stat().st_mode)
    fd, tmp = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".clipguard")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if real.read_bytes() != original:
            raise FileChanged(f"{path}: changed on disk while clipguard ran; not fixed")
        os.replace(tmp, real)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
