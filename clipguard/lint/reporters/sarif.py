"""SARIF 2.1.0 for code-scanning uploads: rules with descriptions and help, results with regions
and stable partial fingerprints. As ruff's, a notebook's regions are lines of its joined code
cells, with no cell."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from urllib.parse import quote

from clipguard import __version__
from clipguard.analysis.source import SourceError
from clipguard.lint.config import Settings
from clipguard.lint.notebook import Notebook, is_notebook, read
from clipguard.lint.report import Report
from clipguard.pages import page, section
from clipguard.rules import all_rules

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _rule_descriptor(rule) -> dict:
    text = page(rule.code) or ""
    what = section(text, "What it does") or rule.summary or rule.message
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary or rule.message},
        "fullDescription": {"text": what},
        "help": {"text": what, "markdown": text or what},
        "helpUri": f"https://github.com/clipguard/clipguard/blob/main/rules/{rule.code}.md",
        "defaultConfiguration": {"level": "error"},
    }


def _uri(path: str) -> str:
    absolute = os.path.abspath(path)
    try:
        rel = os.path.relpath(absolute)
    except ValueError:
        rel = absolute
    if rel.startswith(".."):
        return Path(absolute).as_uri()
    return quote(rel.replace(os.sep, "/"))


def _artifact(path: str) -> dict:
    uri = _uri(path)
    return {"uri": uri} if uri.startswith("file:") else {"uri": uri, "uriBaseId": "%SRCROOT%"}


def _source(path: str, sources: dict) -> tuple[list[str], Notebook | None]:
    """The lines of the file at `path` (a notebook's joined code cells), and the notebook if any."""
    if path not in sources:
        try:
            data = Path(path).read_bytes()
            notebook = read(data) if is_notebook(path) else None
            text = notebook.text if notebook else data.decode("utf-8", errors="replace")
            sources[path] = (text.splitlines(), notebook)
        except (OSError, SourceError):
            sources[path] = ([], None)
    return sources[path]


def _fingerprint(finding, source: list[str]) -> str:
    text = source[finding.line - 1].strip() if 0 < finding.line <= len(source) else ""
    digest = hashlib.sha256(f"{finding.rule}\0{_uri(finding.path)}\0{text}".encode()).hexdigest()
    return digest[:32]


def render(report: Report, settings: Settings) -> str:
    rules = all_rules()
    index = {rule.code: i for i, rule in enumerate(rules)}
    sources: dict = {}
    results = []
    for f in report.findings:
        lines, notebook = _source(f.path, sources)
        if notebook is not None:
            f = notebook.in_text(f)
        results.append(
            {
                "ruleId": f.rule,
                "ruleIndex": index.get(f.rule, 0),
                "level": "error",
                "message": {"text": f.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": _artifact(f.path),
                            "region": {
                                "startLine": f.line,
                                "startColumn": f.column,
                                "endLine": f.end_line,
                                "endColumn": f.end_column,
                            },
                        }
                    }
                ],
                "partialFingerprints": {"primaryLocationLineHash": _fingerprint(f, lines)},
            }
        )
    sarif = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "clipguard",
                        "version": __version__,
                        "informationUri": "https://github.com/clipguard/clipguard",
                        "rules": [_rule_descriptor(rule) for rule in rules],
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(sarif, indent=2) + "\n"
