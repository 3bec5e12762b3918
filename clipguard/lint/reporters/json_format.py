"""A JSON list of findings in the shape of docs/design.md (JSON shapes), 1-based positions, paths as given."""

from __future__ import annotations

import json

from clipguard.lint.config import Settings
from clipguard.lint.report import Report


def render(report: Report, settings: Settings) -> str:
    return json.dumps([f.to_json() for f in report.findings], indent=2) + "\n"


def statistics(report: Report, settings: Settings) -> str:
    """`--statistics`: `[{"code", "name", "count", "fixable"}]`, most frequent first, as ruff's."""
    from clipguard.lint.reporters.text import statistics_rows

    return json.dumps(statistics_rows(report, settings), indent=2) + "\n"
