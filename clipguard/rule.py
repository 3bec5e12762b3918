"""The rule API: one rule is one small class that carries its own examples.

A rule subclass sets `code`, `name`, `message`, its `valid` and `invalid` examples and its
trigger bytes, and implements `run()`: it asks the analysis questions about `self.file`
(`clipguard.analysis`), decides what is wrong, and reports with `self.report(...)`. The engine
knows nothing of any rule: adding a module under `clipguard/rules/` adds the rule (see
CONTRIBUTING.md).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import ClassVar

from clipguard.analysis.source import SourceFile
from clipguard.diagnostics import Applicability, Edit, Finding, Fix


@dataclass(frozen=True)
class Valid:
    """Source that must produce no finding of this rule."""

    code: str
    files: dict[str, str] = field(default_factory=dict)  # other modules of the same project


@dataclass(frozen=True)
class Invalid:
    """Source that must produce findings of this rule: `count` of them, and if given,
    `fixed` is the source after applying every fix the rule offers (safe and unsafe)."""

    code: str
    count: int = 1
    fixed: str | None = None
    files: dict[str, str] = field(default_factory=dict)


class Rule:
    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    message: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    fix_applicability: ClassVar[Applicability | None] = None
    valid: ClassVar[tuple[Valid | str, ...]] = ()
    invalid: ClassVar[tuple[Invalid | str, ...]] = ()
    # Byte substrings of which one must occur in a file for this rule to fire there; empty = always.
    triggers: ClassVar[tuple[bytes, ...]] = ()
    # Byte substrings (or patterns) that, in a project module the file imports, can make the rule
    # fire in the file when the file names what holds them (an imported constant, a helper
    # returning CLIP features). Empty: only the file's own code can, as when the finding is a call
    # in the file.
    imported_triggers: ClassVar[tuple[bytes | re.Pattern[bytes], ...]] = ()
    # Whether the rule is about what a CLIP model is fed (images, text, its mode): it then runs
    # only where code builds or calls one and in the modules that code reaches (the gate's users
    # and what they prepare), not in every module that merely mentions CLIP.
    needs_model: ClassVar[bool] = False

    def __init__(self, file: SourceFile) -> None:
        self.file = file
        self.findings: list[Finding] = []

    def report(
        self,
        node: ast.AST,
        message: str | None = None,
        *,
        edits: list[Edit] | None = None,
        applicability: Applicability | None = None,
        fix_title: str = "",
    ) -> None:
        """Report a finding at `node`; `edits` make it fixable (safe or unsafe)."""
        fix = None
        if edits:
            edits = sorted({edit for edit in edits if edit is not None})
            fix = Fix(applicability or self.fix_applicability or "unsafe", tuple(edits), fix_title)
        line, col, end_line, end_col = self.file.span(node)
        self.findings.append(
            Finding(
                self.file.path,
                line,
                col,
                end_line,
                end_col,
                self.code,
                self.name,
                message or self.message,
                "error",
                fix,
            )
        )

    def run(self) -> None:
        """Find this rule's mistakes in `self.file` and report them."""
        raise NotImplementedError
