"""What a lint run reports: findings, and the text edits that fix them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Applicability = Literal["safe", "unsafe"]


@dataclass(frozen=True, order=True)
class Edit:
    """Replace the text between two 1-based (line, column) positions; columns count characters."""

    line: int
    column: int
    end_line: int
    end_column: int
    content: str

    def to_json(self) -> dict:
        return {
            "content": self.content,
            "location": {"row": self.line, "column": self.column},
            "end_location": {"row": self.end_line, "column": self.end_column},
        }

    @classmethod
    def from_json(cls, data: dict) -> Edit:
        start, end = data["location"], data["end_location"]
        return cls(start["row"], start["column"], end["row"], end["column"], data["content"])


@dataclass(frozen=True)
class Fix:
    applicability: Applicability
    edits: tuple[Edit, ...]
    title: str = ""

    def to_json(self) -> dict:
        return {
            "applicability": self.applicability,
            "message": self.title or None,
            "edits": [edit.to_json() for edit in self.edits],
        }

    @classmethod
    def from_json(cls, data: dict | None) -> Fix | None:
        if data is None:
            return None
        edits = tuple(Edit.from_json(edit) for edit in data["edits"])
        return cls(data["applicability"], edits, data.get("message") or "")


@dataclass(frozen=True)
class Finding:
    """One diagnostic. Positions are 1-based; columns count characters, end is exclusive."""

    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    rule: str
    name: str
    message: str
    severity: str = "error"
    fix: Fix | None = field(default=None, compare=False)

    @property
    def sort_key(self) -> tuple:
        return (self.path, self.line, self.column, self.rule, self.message)

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "rule": self.rule,
            "name": self.name,
            "message": self.message,
            "severity": self.severity,
            "fix": self.fix.to_json() if self.fix else None,
        }

    @classmethod
    def from_json(cls, data: dict) -> Finding:
        return cls(
            data["path"], data["line"], data["column"], data["end_line"], data["end_column"],
            data["rule"], data["name"], data["message"], data["severity"],
            Fix.from_json(data["fix"]),
        )
