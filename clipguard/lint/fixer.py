"""`--fix`: apply fixes until none is left, check the result, and write it atomically."""

from __future__ import annotations

import ast
import difflib
import hashlib
import os
import stat
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from clipguard.analysis.source import Decoded, SourceError, decode
from clipguard.diagnostics import Edit, Finding
from clipguard.lint.config import Settings
from clipguard.lint.edits import apply_edits, compatible_fixes, well_formed
from clipguard.lint.notebook import is_notebook, read

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


def fix_text(
    text: str,
    lint: Linter,
    settings: Settings,
    findings: list[Finding] | None = None,
    tally: Counter[str] | None = None,
    apply: Callable[[str, list[Edit]], str] = apply_edits,
) -> tuple[str, list[Finding], int]:
    """Apply applicable fixes round after round; return (text, remaining findings, fixes applied).
    `tally`, when given, counts the fixes applied per rule code; `apply(text, edits)` applies one
    round's edits (a notebook's follow its cells)."""
    findings = lint(text) if findings is None else findings
    applied = 0
    for _ in range(MAX_ROUNDS):
        rule_of = {id(f.fix): f.rule for f in findings if applicable(f, settings)}
        fixes = compatible_fixes(
            well_formed(text, [f.fix for f in findings if applicable(f, settings)])
        )
        if not fixes:
            break
        candidate = apply(text, [edit for fix in fixes for edit in fix.edits])
        if not still_valid(candidate) and len(fixes) > 1:
            # One broken fix must not block the others: fall back to the first fix alone.
            fixes = fixes[:1]
            candidate = apply(text, list(fixes[0].edits))
        if candidate == text or not still_valid(candidate):
            break
        text, applied = candidate, applied + len(fixes)
        if tally is not None:
            tally.update(rule_of[id(fix)] for fix in fixes)
        findings = lint(text)
    return text, findings, applied


@dataclass
class FileFix:
    """What fixing one file did: the findings left, how many fixes, a diff or a warning."""

    findings: list[Finding]
    applied: int = 0
    diff: str = ""
    warnings: list[str] = field(default_factory=list)
    rules: Counter[str] = field(default_factory=Counter)  # fixes applied per rule code


def fix_file(
    path: Path,
    display: str,
    data: bytes,
    sha: str,
    findings: list[Finding],
    lint: Linter,
    settings: Settings,
    diff: bool,
) -> FileFix:
    """Fix the file whose bytes were `data` (hash `sha` when its findings were made) and write it
    atomically, or with `diff` only describe the change. `lint` lints a text as this file."""
    if hashlib.sha256(data).hexdigest() != sha:  # the findings describe other contents
        return FileFix(
            findings, warnings=[f"{display}: changed on disk while clipguard ran; not fixed"]
        )
    tally: Counter[str] = Counter()
    try:
        notebook = read(data) if is_notebook(path) else None
        decoded = notebook.decoded if notebook else decode(data)
        # Lint again from exactly these bytes: the edits' positions must describe them.
        fixed, remaining, applied = fix_text(
            decoded.text,
            lint,
            settings,
            tally=tally,
            apply=notebook.apply if notebook else apply_edits,
        )
        # a notebook: the cells' JSON edited, every other byte kept
        new_data = notebook.dump(fixed) if notebook else encode_like(decoded, fixed)
    except (ValueError, SourceError, RecursionError) as exc:  # UnicodeEncodeError is a ValueError
        message = exc.message if isinstance(exc, SourceError) else exc
        return FileFix(findings, warnings=[f"{display}: fixes not applied: {message}"])
    if not applied:
        return FileFix(findings)
    if diff and notebook:
        return FileFix(findings, applied, diff=notebook.diff(fixed, display), rules=tally)
    if diff:
        return FileFix(
            findings, applied, diff=unified_diff(decoded.text, fixed, display), rules=tally
        )
    try:
        write_atomic(path, data, new_data)
    except FileChanged:
        return FileFix(
            findings, warnings=[f"{display}: changed on disk while clipguard ran; not fixed"]
        )
    except OSError as exc:
        return FileFix(findings, warnings=[f"{display}: cannot write: {exc}"])
    return FileFix(remaining, applied, rules=tally)


def encode_like(decoded: Decoded, text: str) -> bytes:
    """`text` in the encoding (and BOM) `decoded` came in; ValueError if it would not decode back
    to itself (a character the encoding lacks, a coding cookie pushed below line 2)."""
    data = (("\ufeff" if decoded.bom else "") + text).encode(decoded.encoding)
    if decode(data).text != text:
        raise ValueError("the fixed text would not decode back to itself")
    return data


def unified_diff(before: str, after: str, display: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=display,
        tofile=display,
    )
    return "".join(lines)


def fix_source(text: str, settings: Settings, path: str = "<string>") -> str:
    """The source after `--fix` (and `--unsafe-fixes` if set) with the enabled rules."""
    from clipguard.lint.runner import lint_text

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
