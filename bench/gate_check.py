"""Check the byte gate on real code: `python bench/gate_check.py DIR [DIR ...]`.

Lints each directory twice, through the byte gate and exhaustively (every rule on every file),
and prints any finding one run has and the other lacks. The test suite does this on every rule
example and fixture; this script does it on whole installed packages (transformers, timm,
open_clip), which take minutes exhaustively. CG000 differs by design (only parsed files report
it) and is left out. Exit 1 if any finding differs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from clipguard.lint.config import Settings
from clipguard.lint.engine import lint_paths


def findings(directory: Path, exhaustive: bool) -> tuple[set[tuple], int, float]:
    start = time.perf_counter()
    settings = Settings(root=str(directory.parent))
    report = lint_paths([str(directory)], settings, use_cache=False, exhaustive=exhaustive)
    found = {
        (f.path, f.line, f.column, f.rule, f.message) for f in report.findings if f.rule != "CG000"
    }
    return found, report.parsed, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directories", nargs="+", type=Path)
    args = parser.parse_args()
    failed = False
    for directory in args.directories:
        gated, parsed, gated_time = findings(directory.resolve(), exhaustive=False)
        every, _, every_time = findings(directory.resolve(), exhaustive=True)
        print(
            f"{directory}: {len(every)} findings; gated {gated_time:.1f} s ({parsed} files parsed), "
            f"exhaustive {every_time:.1f} s"
        )
        for finding in sorted(every - gated):
            failed = True
            print("  missed by the gate:", *finding)
        for finding in sorted(gated - every):
            failed = True
            print("  only through the gate:", *finding)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
