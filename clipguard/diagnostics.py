"""What a lint run reports: findings, and the text edits that fix them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Applicability = Literal["safe", "unsafe"]


@dataclass(frozen=True, order=True)
class Edit:
    """Replace the text between two 1-based (line, column) positions; columns count characters.
    In a notebook's report, positions are inside the code cell `cell` (1-based, as ruff counts)."""

    line: int
    column: int
    end_line: int
    end_column: int
    content: str
    cell: int | None = None

    def to_json(self) -> dict:
        data = {
            "content": self.content,
            "location": {"row": self.line, "column": self.column},
            "end_location": {"row": self.end_line, "column": self.end_column},
        }
        if self.cell is not None:
            data["cell"] = self.cell
        return data

    @classmethod
    def from_json(cls, data: dict) -> Edit:
        start, end = data["location"], data["end_location"]
        return cls(
            start["row"],
            start["column"],
            end["row"],
            end["column"],
            data["content"],
            data.get("cell"),
        )


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
    """One diagnostic. Positions are 1-based; columns count characters, end is exclusive. In a
    notebook's report, `cell` is the cell (1-based among all cells, as ruff and editors count)
    and the positions are inside it."""

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
    cell: int | None = None

    @property
    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.line, self.column, self.rule, self.message)

    def to_json(self) -> dict:
        data = {
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
        if self.cell is not None:
            data = {"path": self.path, "cell": self.cell, **data}
        return data

    @classmethod
    def from_json(cls, data: dict) -> Finding:
        return cls(
            data["path"],
            data["line"],
            data["column"],
            data["end_line"],
            data["end_column"],
            data["rule"],
            data["name"],
            data["message"],
            data["severity"],
            Fix.from_json(data["fix"]),
            data.get("cell"),
        )
