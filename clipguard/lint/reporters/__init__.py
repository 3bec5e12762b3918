"""Output formats for `clipguard lint`: text, json, sarif, github. Each renders a Report."""

from __future__ import annotations

from collections.abc import Callable

from clipguard.lint.config import Settings
from clipguard.lint.report import Report


def renderer(name: str) -> Callable[[Report, Settings], str]:
    if name == "text":
        from clipguard.lint.reporters.text import render
    elif name == "json":
        from clipguard.lint.reporters.json_format import render
    elif name == "sarif":
        from clipguard.lint.reporters.sarif import render
    elif name == "github":
        from clipguard.lint.reporters.github import render
    else:
        raise ValueError(name)
    return render
