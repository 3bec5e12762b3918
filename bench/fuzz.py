"""Fuzz every rule for longer than CI does: `python bench/fuzz.py --minutes 10`.

Runs the properties of `tests/test_fuzz.py` (rules never raise; every fix still parses) on
hypothesmith programs and on mutated real snippets, with fresh random seeds, and prints each
failure's minimal example. Exit 1 if anything failed.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import hypothesmith
from test_fuzz import CLIP_PRELUDE, check_source, mutated


def _properties():
    @given(mutated())
    def mutated_code(text):
        check_source(text)

    @given(CLIP_PRELUDE, hypothesmith.from_grammar())
    def grammar(prelude, program):
        check_source(prelude + "\n" + program if prelude else program)

    @given(hypothesmith.from_node())
    def node(program):
        check_source(program)

    return [("mutated", mutated_code, 1000), ("grammar", grammar, 300), ("node", node, 50)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="total time budget")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # generated programs trigger SyntaxWarnings by the thousand
    deadline = time.monotonic() + args.minutes * 60
    failures, rounds = 0, 0
    while time.monotonic() < deadline:
        for name, prop, examples in _properties():
            if time.monotonic() >= deadline:
                break
            configured = settings(
                max_examples=examples,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )(prop)
            started = time.monotonic()
            try:
                configured()
                status = "ok"
            except Exception as exc:  # noqa: BLE001 - report every failure and keep fuzzing
                failures += 1
                status = f"FAILED: {type(exc).__name__}: {str(exc)[:2000]}"
            print(
                f"round {rounds} {name}: {examples} examples, {time.monotonic() - started:.0f} s: {status}",
                flush=True,
            )
        rounds += 1
    print(f"{failures} failure(s) in {rounds} round(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
