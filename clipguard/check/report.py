"""The text report of a check, for people: verdict, causes with their numbers, what is left
unexplained, a probe table; also the failure message of `clipguard.testing` and a progress line."""

from __future__ import annotations

import math
import sys
import threading
import time
from collections import Counter
from typing import Any

from clipguard.check.alternatives import describe
from clipguard.check.evaluate import FAILING, CheckResult
from clipguard.check.inputs import DESCRIPTIONS
from clipguard.check.tolerance import EQUIVALENT_MAX_ABS, EQUIVALENT_MEAN_ABS
from clipguard.check.types import DRIFT, EQUIVALENT, ERROR, EXACT, SHAPE, Comparison

SHOWN = 3  # entries of a per-probe table shown in text; JSON has them all
# Evidence keyed by probe name: numbers per probe, or a message or shape per probe.
NUMBER_TABLES = ("per_probe",)
GROUPED_TABLES = ("errors", "output_shapes", "shapes_between_runs", "errors_between_runs")

# ---------------------------------------------------------------- numbers


def number(value: Any) -> str:
    """A value as the report prints it: floats to 4 significant digits."""
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.4g}"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _per_probe(table: dict[str, dict[str, Any]]) -> str:
    """`name a -> b` for the probes that differ most, then how many more."""

    def first(item) -> float:
        values = [v for v in item[1].values() if _is_number(v)]
        return -values[0] if values else 0.0

    keys = [k for k, v in next(iter(table.values())).items() if _is_number(v)]
    rows = sorted(table.items(), key=first)[:SHOWN]
    shown = ", ".join(
        f"{name} " + " -> ".join(number(row[k]) for k in keys if k in row) for name, row in rows
    )
    more = f" and {len(table) - SHOWN} more" if len(table) > SHOWN else ""
    return f"({' -> '.join(k.replace('_', ' ') for k in keys)}) {shown}{more}"


def _grouped(table: dict[str, Any]) -> str:
    """Probe -> message (or shape) tables, grouped by the value: `value (on 3 probes: a, b, c)`."""
    groups: dict[str, list[str]] = {}
    for name, value in table.items():
        groups.setdefault(plain(value), []).append(name)
    parts = []
    for value, names in groups.items():
        listed = ", ".join(names[:SHOWN]) + (
            f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
        )
        parts.append(f"{value} (on {len(names)} probe{'s' * (len(names) != 1)}: {listed})")
    return "; ".join(parts)


def plain(value: Any, key: str = "") -> str:
    """Evidence in plain numbers: tuples for lists, `key=value` for small dicts, the few largest
    rows of a per-probe table, messages grouped by probe."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict) and value:
        rows = list(value.values())
        if key in NUMBER_TABLES and all(isinstance(r, dict) and r for r in rows):
            return _per_probe(value)
        if key in GROUPED_TABLES:
            return _grouped(value)
        return ", ".join(f"{k}={_nested(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        if (
            all(_is_number(v) for v in value)
            and len(value) == 3
            and all(isinstance(v, int) for v in value)
        ):
            return "x".join(map(str, value))  # a shape
        return "(" + ", ".join(plain(v) for v in value) + ")"
    return number(value)


def _nested(value: Any) -> str:
    text = plain(value)
    return f"({text})" if isinstance(value, dict) else text


def evidence_line(evidence: dict[str, Any]) -> str:
    """All of a cause's evidence on one line, `key: value; ...`."""
    parts = []
    for key, value in evidence.items():
        label = key.replace("_", " ")
        parts.append(
            f"{label}: {plain(value, key)}" if isinstance(value, dict) else f"{key}={plain(value)}"
        )
    return "; ".join(parts)


# ---------------------------------------------------------------- text


def _size(comparison: Comparison) -> str:
    return f"{comparison.size[0]}x{comparison.size[1]}"


def _model_line(result: CheckResult) -> str:
    how = f", {result.inferred}" if result.inferred else ""
    return f"{result.profile.name} ({result.profile.n_px} px, {describe(result.profile)}{how})"


def verdict_line(result: CheckResult) -> str:
    """PASS or FAIL with the counts and the worst probe."""
    comparisons = result.comparisons
    counts = Counter(c.status for c in comparisons)
    total = len(comparisons)
    failing = result.failing
    if result.passed and not failing and not result.causes:
        largest = max((c.max_abs or 0.0 for c in comparisons), default=0.0)
        return (
            f"PASS: {result.pipeline} matches the reference on all {total} probes "
            f"({counts[EXACT]} exact, {counts[EQUIVALENT]} within one 8-bit step; "
            f"max abs {largest:.2g})"
        )
    if result.passed:
        accepted = ", ".join(c.id for c in result.causes)
        return (
            f"PASS: {result.pipeline} matches the reference on {total - len(failing)} of "
            f"{total} probes; the rest differ only by accepted causes ({accepted})"
        )
    parts = [f"{counts[s]} {s}" for s in (DRIFT, SHAPE, ERROR) if counts[s]]
    measured = [c for c in failing if c.max_abs is not None and math.isfinite(c.max_abs)]
    worst = max(measured, key=lambda c: c.mean_abs or 0.0, default=None)
    tail = (
        f"; worst {worst.probe}: max abs {worst.max_abs:.3g}, mean abs {worst.mean_abs:.3g}"
        if worst
        else ""
    )
    if not failing:
        return (
            f"FAIL: {result.pipeline} matches the reference on all {total} probes, but "
            f"{', '.join(c.id for c in result.causes if not c.accepted)}"
        )
    return (
        f"FAIL: {result.pipeline} differs from the reference on {len(failing)} of {total} "
        f"probes ({', '.join(parts)}){tail}"
    )


def _cause_lines(result: CheckResult) -> list[str]:
    if not result.causes:
        return []
    lines = ["", "Causes, most likely first:"]
    for rank, cause in enumerate(result.causes, 1):
        probes = cause.probes
        shown = ", ".join(probes[:4]) + (f" and {len(probes) - 4} more" if len(probes) > 4 else "")
        accepted = ", accepted" if cause.accepted else ""
        lines.append(
            f"  {rank}. {cause.id} (confidence {cause.confidence:.2f}; "
            f"{len(probes)} probe{'s' if len(probes) != 1 else ''}: {shown}{accepted})"
        )
        if cause.evidence:
            lines.append(f"     evidence: {evidence_line(cause.evidence)}")
        if cause.fix:
            lines.append(f"     fix: {cause.fix}")
    return lines


def _unexplained_lines(result: CheckResult) -> list[str]:
    if not result.unexplained:
        return []
    lines = ["", "Unexplained (failing probes that no cause names):"]
    for c in result.unexplained:
        numbers = (
            f"max abs {number(c.max_abs)}, mean abs {number(c.mean_abs)}"
            if c.max_abs is not None
            else c.error or f"shape {c.shape}"
        )
        lines.append(f"  {c.probe} ({c.mode}, {_size(c)}): {c.status}, {numbers}")
    return lines


def suggestion_line(suggestion: dict[str, Any]) -> str:
    """The profile hint: which --model the outputs match, with the numbers."""
    also = f" (or {', '.join(suggestion['also'])})" if suggestion.get("also") else ""
    return (
        f"the outputs match {suggestion['model']} ({suggestion['recipe']}) much better: "
        f"mean abs {number(suggestion['mean_abs'])} against "
        f"{number(suggestion['mean_abs_current'])}, {suggestion['passing']} of "
        f"{suggestion['probes']} RGB probes within tolerance against "
        f"{suggestion['passing_current']}: pass --model {suggestion['model']}{also}"
    )


def _impact_lines(result: CheckResult) -> list[str]:
    impact = result.impact
    if impact is None:
        return []
    if impact["mean"] is None:
        return ["", f"Impact ({impact['model']}): no probe has an output of the model's shape"]
    return [
        "",
        (
            f"Impact (cosine similarity of reference and pipeline embeddings, "
            f"{impact['model']}): mean {impact['mean']:.4f}, worst {impact['min']:.4f} "
            f"on {impact['worst']}"
        ),
    ]


def _error_lines(result: CheckResult) -> list[str]:
    errors: dict[str, list[str]] = {}
    for comparison in result.comparisons:
        if comparison.status == ERROR:
            errors.setdefault(comparison.error or "unknown error", []).append(comparison.probe)
    if not errors:
        return []
    lines = ["", "Errors:"]
    for message, probes in errors.items():
        lines.append(f"  {message}")
        lines.append(f"    on {', '.join(probes)}")
    return lines


def _table(result: CheckResult) -> list[str]:
    cosines = (result.impact or {}).get("probes", {})
    rows = [
        ("probe", "mode", "size", "status", "max abs", "mean abs", "PSNR")
        + (("cosine",) if cosines else ())
    ]
    for c in result.comparisons:
        psnr = "" if c.psnr is None else ("inf" if math.isinf(c.psnr) else f"{c.psnr:.1f} dB")
        status = c.status
        if c.status == SHAPE and c.shape is not None:
            status = f"shape {'x'.join(map(str, c.shape))}"
        row = (
            c.probe,
            c.mode,
            _size(c),
            status,
            "" if c.max_abs is None else number(c.max_abs),
            "" if c.mean_abs is None else number(c.mean_abs),
            psnr,
        )
        if cosines:
            row += (f"{cosines[c.probe]:.4f}" if c.probe in cosines else "",)
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {4, 5, 6, 7}
    return [
        "  "
        + "  ".join(
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths))
        ).rstrip()
        for row in rows
    ]


def input_line(result: CheckResult) -> str | None:
    """Which form the probes were given in, when not PIL, and why."""
    form = result.run.input_form
    if form == "pil":
        return None
    refusal = (result.run.refusal or "")[:160]
    why = (
        f"the pipeline refused PIL images ({refusal}) and took these"
        if result.run.refusal
        else "as --input asked"
    )
    return f"input: {DESCRIPTIONS.get(form, form)}, {why}"


def render_text(result: CheckResult) -> str:
    """The report for people: a verdict line, causes with evidence and fixes, a probe table."""
    heading = (
        f"clipguard check {result.target}: pipeline `{result.pipeline}` against "
        f"{_model_line(result)}"
    )
    lines = [heading]
    if input_line(result):
        lines.append(input_line(result))
    lines.append(verdict_line(result))
    lines += _cause_lines(result)
    lines += _unexplained_lines(result)
    if result.suggestion:
        lines += ["", f"Profile: {suggestion_line(result.suggestion)}"]
    lines += _impact_lines(result)
    lines += _error_lines(result)
    lines += [
        "",
        (
            f"Probes (tolerance: max abs <= {EQUIVALENT_MAX_ABS:.4f} and mean abs <= "
            f"{EQUIVALENT_MEAN_ABS:g}):"
        ),
    ]
    lines += _table(result)
    printed = result.captured.strip()
    if printed:
        count = len(printed.splitlines())
        lines += [
            "",
            (
                f"note: the pipeline printed {count} line{'s' * (count != 1)} "
                "(captured; -s shows them)"
            ),
        ]
    lines += [f"note: {name}: {why}" for name, why in result.skipped.items()]
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- failure message (pytest)


def failure_message(result: CheckResult, limit: int = 5) -> str:
    """What differed, where and by how much, and the likely cause: for assertion errors."""
    lines = [verdict_line(result).removeprefix("FAIL: ") + f" ({_model_line(result)})"]
    failing = [c for c in result.comparisons if c.status in FAILING]
    failing.sort(key=lambda c: (c.status != ERROR, -(c.mean_abs or 0.0)))
    for c in failing[:limit]:
        where = f"  {c.probe} ({c.mode}, {_size(c)}): "
        if c.status == ERROR:
            lines.append(where + f"raised {c.error}")
        elif c.status == SHAPE and c.max_abs is None:
            lines.append(where + f"shape {c.shape}, expected {c.reference_shape}")
        else:
            lines.append(
                where
                + f"max abs {number(c.max_abs)}, mean abs {number(c.mean_abs)}"
                + (" (layout HWC, expected CHW)" if c.status == SHAPE else "")
            )
    if len(failing) > limit:
        lines.append(f"  ... and {len(failing) - limit} more")
    lines.append(
        f"  tolerance: max abs <= {EQUIVALENT_MAX_ABS:.4f}, mean abs <= {EQUIVALENT_MEAN_ABS:g}"
    )
    for cause in [c for c in result.causes if not c.accepted][:3]:
        lines.append(
            f"likely cause: {cause.id} (confidence {cause.confidence:.2f}): "
            f"{evidence_line(cause.evidence)}"
        )
        if cause.fix:
            lines.append(f"  fix: {cause.fix}")
    if result.suggestion:
        lines.append(f"profile: {suggestion_line(result.suggestion)}")
    return "\n".join(lines)


# ---------------------------------------------------------------- progress


class Progress:
    """A one-line status on stderr, shown only on a terminal and only once a run takes > 1 s."""

    def __init__(self, delay: float = 1.0, stream=None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled and bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.monotonic()
        self.delay = delay
        self.text = ""
        self.shown = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True)
        if self.enabled:
            self._thread.start()

    def update(self, text: str) -> None:
        """Set the status text (drawn on the next tick)."""
        self.text = text

    def probe(self, done: int, total: int, name: str) -> None:
        """The runner's progress callback."""
        self.update(f"probe {done + 1}/{total}: {name}")

    def _tick(self) -> None:
        while not self._stop.wait(0.2):
            elapsed = time.monotonic() - self.start
            if elapsed >= self.delay and self.text:
                line = f"clipguard check: {self.text} ({elapsed:.0f} s)"
                self.stream.write("\r\x1b[K" + line[:120])
                self.stream.flush()
                self.shown = True

    def close(self) -> None:
        """Stop and erase the line."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
