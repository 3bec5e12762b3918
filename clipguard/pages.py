"""Rule pages (`rules/CGNNN.md`): found in the package (wheel installs) or the source checkout."""

from __future__ import annotations

import re
from pathlib import Path

_PACKAGED = Path(__file__).parent / "rule_pages"
_CHECKOUT = Path(__file__).parent.parent / "rules"


def pages_dir() -> Path:
    return _PACKAGED if _PACKAGED.is_dir() else _CHECKOUT


def page(code: str) -> str | None:
    path = pages_dir() / f"{code.upper()}.md"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def section(text: str, title: str) -> str:
    """The body of a `## title` section of a page, stripped."""
    match = re.search(
        rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL
    )
    return match.group(1).strip() if match else ""


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)
