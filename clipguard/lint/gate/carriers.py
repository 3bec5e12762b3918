"""Which top-level names of a module carry a trigger to its importers.

A rule reads another module only through a top-level name the linted file refers to (an imported
constant, helper function or class), so another module's trigger matters only to importers that
name the statement holding it, or a statement that refers to that one, and so on.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable

_HEAD = re.compile(rb"^[A-Za-z_@([]", re.MULTILINE)  # the first line of a top-level statement
_DEFINITION = re.compile(rb"^(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)", re.MULTILINE)
_COMPOUND = re.compile(rb"(?:if|elif|else|try|except|finally|with|for|while|async)\b")
_ASSIGNED = re.compile(rb"[ \t]*([\w.\[\], \t]+?)[ \t]*(?::[^=\n]*)?(?<![=!<>])=(?!=)")
_INNER = re.compile(
    rb"^[ \t]+(?:(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)|(\w+)[ \t]*(?::[^=\n]*)?=(?!=)|"
    rb"(?=from[ \t]|import[ \t]))",
    re.MULTILINE,
)
_IDENTIFIER = re.compile(rb"[A-Za-z_]\w*")
ANY = None


def trigger_carriers(
    data: bytes,
    triggers: tuple[bytes | re.Pattern[bytes], ...],
    bound_names,
    positions: Iterable[int] = (),
) -> set[bytes] | None:
    """The top-level names of a module through which an importer can reach one of `triggers`:
    names bound by a statement holding a trigger, or holding such a name. `bound_names(data, at)`
    reads the names an import statement at `at` binds. ANY (None) when a statement holding one
    binds names that cannot be read from the bytes. A trigger is bytes or a compiled pattern;
    `positions` are more places that count as triggers."""
    positions = sorted({*positions, *(p for t in triggers for p in _occurrences(data, t))})
    if not positions:
        return set()
    units = _units(data)
    starts = [start for start, _ in units]
    pending = _by_unit(starts, positions, set())
    carriers: set[bytes] = set()
    reached: set[int] = set()
    while pending:
        fresh: set[bytes] = set()
        for index, held in pending.items():
            names = _unit_names(data, *units[index], bound_names, held)
            if names is ANY or b"*" in names:
                return ANY
            fresh |= {
                name for name in names if not name.startswith(b"__")
            } - carriers  # not `__all__`
        reached |= pending.keys()
        carriers |= fresh
        if not fresh:
            break
        mentions = re.compile(
            b"|".join(re.escape(name) for name in sorted(fresh, key=len, reverse=True))
        )
        pending = _by_unit(starts, [m.start() for m in mentions.finditer(data)], reached)
    return carriers


def names_any(names: set[bytes] | None, data: bytes) -> bool:
    """Whether a module `data` names one of `names` (ANY: it may name anything)."""
    return names is ANY or any(name in data for name in names)


def _by_unit(starts: list[int], positions, reached: set[int]) -> dict[int, list[int]]:
    """The positions grouped by the statement holding them, leaving out `reached` statements."""
    grouped: dict[int, list[int]] = {}
    for position in positions:
        index = bisect.bisect_right(starts, position) - 1
        if index >= 0 and index not in reached:
            grouped.setdefault(index, []).append(position)
    return grouped


def _units(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each top-level statement; a decorator belongs to the definition below."""
    heads = [m.start() for m in _HEAD.finditer(data)]
    units, decorated = [], None
    for index, start in enumerate(heads):
        end = heads[index + 1] if index + 1 < len(heads) else len(data)
        if data[start : start + 1] == b"@":
            decorated = start if decorated is None else decorated
            continue
        units.append((start if decorated is None else decorated, end))
        decorated = None
    if decorated is not None:  # decorators with nothing below them (not valid Python)
        units.append((decorated, len(data)))
    return units


def _unit_names(
    data: bytes, start: int, end: int, bound_names, held: list[int]
) -> set[bytes] | None:
    if data[start : start + 1] == b"@":  # decorators: the definition below them
        definition = _DEFINITION.search(data, start, end)
        return {definition.group(1)} if definition is not None else ANY
    definition = _DEFINITION.match(data, start)
    if definition is not None:
        return {definition.group(1)}
    imported = bound_names(data, start, held)  # only the clauses holding a trigger
    if imported is not None:
        return imported
    if _COMPOUND.match(data, start):  # `if TYPE_CHECKING:`, `try:`: what the block binds
        names: set[bytes] = set()
        for inner in _INNER.finditer(data, start, end):
            before = data[max(0, inner.start() - 200) : inner.start()].rstrip()[-1:]
            if before and before in b"(,[{\\":
                continue  # a keyword argument on a continuation line
            name = inner.group(1) or inner.group(2)
            if name:
                names.add(name)
            else:
                names |= bound_names(data, inner.end()) or set()
        return names
    assignment = _ASSIGNED.match(data, start)
    if assignment is None:
        return ANY  # an expression statement, or text of a string that starts at column 0
    return set(_IDENTIFIER.findall(assignment.group(1)))


def _occurrences(data: bytes, word: bytes | re.Pattern[bytes]):
    if isinstance(word, re.Pattern):
        yield from (match.start() for match in word.finditer(data))
        return
    position = data.find(word)
    while position != -1:
        yield position
        position = data.find(word, position + len(word))
