"""What a lint run found and did, for the reporters and the command line."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from clipguard.diagnostics import Finding


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0  # files discovered
    parsed: int = 0  # files that passed the byte gate and were parsed (or came from the cache)
    fixed: int = 0  # fixes applied (or, with diff, that would be)
    fixes: dict[str, Counter[str]] = field(default_factory=dict)  # display path -> fixes per rule
    diffs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
