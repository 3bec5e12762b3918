"""Running the rules on files: in this process, or in a pool of processes when there are many."""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from clipguard.analysis.project import Project
from clipguard.analysis.source import Decoded, SourceError, parse
from clipguard.diagnostics import Finding
from clipguard.lint.notebook import source_text
from clipguard.lint.runner import lint_file, unreadable
from clipguard.rule import Rule

PARALLEL_MIN_FILES = 24


class LintError(Exception):
    """The run cannot finish (exit 2), e.g. a worker process was killed."""


def rules_for(rules: tuple[type[Rule], ...], codes) -> tuple[type[Rule], ...]:
    wanted = set(codes)
    return tuple(r for r in rules if r.code in wanted)


_WORKER: dict = {}


def run(work, rules, project, jobs) -> list[list[Finding]]:
    """The findings of each (scan, codes, deps) of `work`, in order."""
    tasks = [(str(scan.file.path), scan.file.display, codes) for scan, codes, _ in work]
    if jobs is None:  # automatic: processes pay off only on many files
        jobs = (os.cpu_count() or 1) if len(tasks) >= PARALLEL_MIN_FILES else 1
    if jobs < 2 or len(tasks) < 2:
        _WORKER.update(rules=rules, project=project)
        return [_lint_task(task) for task in tasks]
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    context = multiprocessing.get_context(method)
    chunk = max(1, min(8, len(tasks) // (jobs * 4)))
    # largest files first, in small chunks, so no worker is left with a long file at the end
    order = sorted(range(len(tasks)), key=lambda i: -work[i][0].size)
    try:
        with ProcessPoolExecutor(
            min(jobs, len(tasks)),
            mp_context=context,
            initializer=_init_worker,
            initargs=(rules, project),
        ) as pool:
            done = pool.map(_lint_task, [tasks[i] for i in order], chunksize=chunk)
            results: list[list[Finding]] = [[] for _ in tasks]
            for index, findings in zip(order, done):
                results[index] = findings
            return results
    except BrokenProcessPool:
        raise LintError("a worker process was killed (out of memory?); try fewer --jobs") from None


def _init_worker(rules, project) -> None:
    _WORKER.update(rules=rules, project=project)


def _lint_task(task: tuple[str, str, tuple[str, ...]]) -> list[Finding]:
    path, display, codes = task
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return [unreadable(display, f"cannot read: {exc.strerror or exc}")]
    try:
        decoded = source_text(path, data)
    except SourceError as err:
        return [unreadable(display, err.message, err.line, err.column)]
    return lint_decoded(path, display, decoded, codes, _WORKER["rules"], _WORKER["project"])


def lint_decoded(
    path: str,
    display: str,
    decoded: Decoded,
    codes: tuple[str, ...],
    rules: tuple[type[Rule], ...],
    project: Project,
) -> list[Finding]:
    try:
        if not codes:
            parse(decoded.text, display)
            return []
        file = project.adopt(
            path, decoded.text, lambda: parse(decoded.text, display), decoded.newline
        )
    except SourceError as err:
        return [unreadable(display, err.message, err.line, err.column)]
    try:
        return lint_file(file, rules_for(rules, codes), display, isolate=True)
    except RecursionError:
        return [unreadable(display, "too deeply nested to analyze")]
    except Exception as exc:  # noqa: BLE001 - a bug must not hide the other files' findings
        return [unreadable(display, f"internal error while analyzing: {type(exc).__name__}: {exc}")]
