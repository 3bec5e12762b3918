"""GitHub Actions workflow commands: one `::error` annotation per finding. As ruff's, a notebook's
annotation sits at line 1, column 1 of the file (GitHub cannot point inside a cell); its message
says where in the cell."""

from __future__ import annotations

from clipguard.lint.config import Settings
from clipguard.lint.report import Report


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(report: Report, settings: Settings) -> str:
    lines = []
    for f in report.findings:
        span = (1, 1, 1, 1) if f.cell is not None else (f.line, f.column, f.end_line, f.end_column)
        props = ",".join(
            [
                f"title={_property(f'clipguard ({f.rule})')}",
                f"file={_property(f.path)}",
                *(f"{key}={n}" for key, n in zip(("line", "col", "endLine", "endColumn"), span)),
            ]
        )
        where = f"cell {f.cell}:{f.line}:{f.column}: " if f.cell is not None else ""
        lines.append(f"::error {props}::{_data(f'{where}{f.rule} {f.message}')}")
    return "\n".join(lines) + ("\n" if lines else "")
