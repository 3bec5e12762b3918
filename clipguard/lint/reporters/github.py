"""GitHub Actions workflow commands: one `::error` annotation per finding."""

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
        props = ",".join([
            f"title={_property(f'clipguard ({f.rule})')}", f"file={_property(f.path)}",
            f"line={f.line}", f"col={f.column}", f"endLine={f.end_line}", f"endColumn={f.end_column}",
        ])
        lines.append(f"::error {props}::{_data(f'{f.rule} {f.message}')}")
    return "\n".join(lines) + ("\n" if lines else "")
