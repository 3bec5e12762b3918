"""Every registered rule has a page, every page a rule, and the page's examples behave."""

import re

import pytest

from clipguard.lint.examples import run_example
from clipguard.pages import code_blocks, pages_dir, section
from clipguard.rules import all_rules

SECTIONS = [
    "What it does",
    "Why is this bad?",
    "Example",
    "Use instead",
    "Fix safety",
    "References",
]
RULES = [rule for rule in all_rules()]


def test_pages_and_rules_match_one_to_one():
    pages = {p.stem for p in pages_dir().glob("CG*.md")}
    assert pages == {rule.code for rule in RULES}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_page_has_every_section(rule):
    text = (pages_dir() / f"{rule.code}.md").read_text()
    assert text.startswith(f"# {rule.code}: {rule.name}\n")
    titles = re.findall(r"^## (.+?)\s*$", text, re.MULTILINE)
    assert titles == SECTIONS
    for title in SECTIONS:
        assert section(text, title), f"{rule.code}: empty section {title!r}"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_page_examples_behave(rule):
    text = (pages_dir() / f"{rule.code}.md").read_text()
    bad, good = code_blocks(section(text, "Example")), code_blocks(section(text, "Use instead"))
    assert bad and good
    for block in bad:
        assert run_example(rule, block), f"{rule.code}: the page's Example does not fire:\n{block}"
    for block in good:
        assert not run_example(rule, block), (
            f"{rule.code}: the page's 'Use instead' fires:\n{block}"
        )
