"""The rules: one module each, found by name. `all_rules()` lists them sorted by code."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from clipguard.rule import Rule


@cache
def all_rules() -> tuple[type[Rule], ...]:
    found: dict[str, type[Rule]] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Rule)
                and value.code
                and value.__module__ == module.__name__
            ):
                if value.code in found:
                    raise RuntimeError(
                        f"two rules claim {value.code}: {found[value.code]} and {value}"
                    )
                found[value.code] = value
    return tuple(found[code] for code in sorted(found))


def rule_by_code(code: str) -> type[Rule] | None:
    return next((rule for rule in all_rules() if rule.code == code.upper()), None)
