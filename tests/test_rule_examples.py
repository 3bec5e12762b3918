"""Every rule's own examples behave as declared: valid ones are silent, invalid ones fire."""

import pytest

from clipguard.lint.examples import check_examples
from clipguard.rules import all_rules


@pytest.mark.parametrize("rule", all_rules(), ids=lambda rule: rule.code)
def test_examples_behave(rule):
    assert rule.valid and rule.invalid, f"{rule.code} declares no examples"
    assert check_examples(rule) == []


def test_codes_and_names_are_unique():
    rules = all_rules()
    assert len({r.code for r in rules}) == len(rules)
    assert len({r.name for r in rules}) == len(rules)
