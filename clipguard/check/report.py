"""Reports of a check: text for people, JSON per DESIGN, diff images, and a progress line."""

from __future__ import annotations

import json
import math
import re
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from clipguard.check.evaluate import CheckResult
from clipguard.check.types import (
    DRIFT,
    EQUIVALENT,
    EQUIVALENT_MAX_ABS,
    EQUIVALENT_MEAN_ABS,
    ERROR,
    EXACT,
    SHAPE,
    Comparison,
)

FAILING = (DRIFT, SHAPE, ERROR)


# ---------------------------------------------------------------- numbers


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.4g}"
    return str(value)


def _evidence(value: Any) -> str:
    """Evidence values, compactly: floats to 4 significant digits, nested lists and dicts."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):
        return ", ".join(f"{k}={_evidence(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_evidence(v) for v in value) + ")"
    return _number(value)


def jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars and arrays unwrapped, non-finite floats as null."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------- text


def _size(comparison: Comparison) -> str:
    return f"{comparison.size[0]}x{comparison.size[1]}"


def _model_line(result: CheckResult) -> str:
    profile = result.profile
    how = f", {result.inferred}" if result.inferred else ""
    return (f"{profile.name} ({profile.n_px} px, {profile.resize_mode} resize, "
            f"{profile.interpolation}, {profile.normalization} mean/std{how})")


def verdict_line(result: CheckResult) -> str:
    """PASS or FAIL with the counts and the worst probe."""
    comparisons = result.comparisons
    counts = Counter(c.status for c in comparisons)
    total = len(comparisons)
    if result.passed:
        largest = max((c.max_abs or 0.0 for c in comparisons), default=0.0)
        return (f"PASS: {result.pipeline} matches the reference on all {total} probes "
                f"({counts[EXACT]} exact, {counts[EQUIVALENT]} within one 8-bit step; "
                f"max abs {largest:.2g})")
    failing = [c for c in comparisons if c.status in FAILING]
    parts = [f"{counts[s]} {s}" for s in (DRIFT, SHAPE, ERROR) if counts[s]]
    measured = [c for c in failing if c.max_abs is not None and math.isfinite(c.max_abs)]
    worst = max(measured, key=lambda c: c.mean_abs or 0.0, default=None)
    tail = (f"; worst {worst.probe}: max abs {worst.max_abs:.3g}, mean abs {worst.mean_abs:.3g}"
            if worst else "")
    return (f"FAIL: {result.pipeline} differs from the reference on {len(failing)} of {total} "
            f"probes ({', '.join(parts)}){tail}")


def _summary(evidence: dict[str, Any]) -> str:
    """Scalar and short evidence inline; per-probe tables only counted (JSON has them all)."""
    parts = []
    for key, value in evidence.items():
        if hasattr(value, "tolist"):
            value = value.tolist()
        if isinstance(value, dict) and value and all(
                isinstance(v, dict) and "best_hypothesis" in v for v in value.values()):
            found = ", ".join(f"{k}: {v['best_hypothesis']}" for k, v in value.items())
            parts.append(f"{key}: {found}")
        elif isinstance(value, dict) or (isinstance(value, (list, tuple)) and len(value) > 4):
            parts.append(f"{key}: {len(value)} entries")
        else:
            parts.append(f"{key}={_evidence(value)}")
    return "; ".join(parts)


def _cause_lines(result: CheckResult) -> list[str]:
    if not result.causes:
        return []
    lines = ["", "Causes, most likely first:"]
    for rank, cause in enumerate(result.causes, 1):
        probes = cause.probes
        shown = ", ".join(probes[:4]) + (f" and {len(probes) - 4} more" if len(probes) > 4 else "")
        lines.append(f"  {rank}. {cause.id} (confidence {cause.confidence:.2f}; "
                     f"{len(probes)} probe{'s' if len(probes) != 1 else ''}: {shown})")
        if cause.evidence:
            lines.append(f"     evidence: {_summary(cause.evidence)}")
        if cause.fix:
            lines.append(f"     fix: {cause.fix}")
    return lines


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
    rows = [("probe", "mode", "size", "status", "max abs", "mean abs", "PSNR")]
    for c in result.comparisons:
        psnr = "" if c.psnr is None else ("inf" if math.isinf(c.psnr) else f"{c.psnr:.1f} dB")
        status = c.status
        if c.status == SHAPE and c.shape is not None:
            status = f"shape {'x'.join(map(str, c.shape))}"
        rows.append((c.probe, c.mode, _size(c), status,
                     "" if c.max_abs is None else _number(c.max_abs),
                     "" if c.mean_abs is None else _number(c.mean_abs), psnr))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {4, 5, 6}
    return ["  " + "  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                             for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
            for row in rows]


def render_text(result: CheckResult) -> str:
    """The report for people: a verdict line, causes with evidence and fixes, a probe table."""
    heading = (f"clipguard check {result.target}: pipeline `{result.pipeline}` against "
               f"{_model_line(result)}")
    lines = [heading, verdict_line(result)]
    lines += _cause_lines(result)
    if not result.passed and not result.causes:
        lines += ["", "No cause could be named; the per-probe numbers below show where it drifts."]
    lines += _error_lines(result)
    lines += ["", (f"Probes (tolerance: max abs <= {EQUIVALENT_MAX_ABS:.4f} and mean abs <= "
                   f"{EQUIVALENT_MEAN_ABS:g}):")]
    lines += _table(result)
    printed = result.captured.strip()
    if printed:
        count = len(printed.splitlines())
        lines += ["", (f"note: the pipeline printed {count} line{'s' * (count != 1)} "
                       "(captured, not shown)")]
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- JSON


def to_json(result: CheckResult) -> dict:
    """The DESIGN shape: verdict, model, n_px, causes, probes."""
    return jsonable({
        "verdict": "pass" if result.passed else "fail",
        "model": result.profile.name,
        "n_px": result.profile.n_px,
        "causes": [cause.to_json() for cause in result.causes],
        "probes": [{"name": c.probe, "mode": c.mode, "size": list(c.size), "status": c.status,
                    "max_abs": c.max_abs, "mean_abs": c.mean_abs} for c in result.comparisons],
    })


def render_json(result: CheckResult) -> str:
    """`to_json` as strict JSON text."""
    return json.dumps(to_json(result), indent=2, allow_nan=False) + "\n"


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
            lines.append(where + f"max abs {_number(c.max_abs)}, mean abs {_number(c.mean_abs)}"
                         + (" (layout HWC, expected CHW)" if c.status == SHAPE else ""))
    if len(failing) > limit:
        lines.append(f"  ... and {len(failing) - limit} more")
    lines.append(f"  tolerance: max abs <= {EQUIVALENT_MAX_ABS:.4f}, "
                 f"mean abs <= {EQUIVALENT_MEAN_ABS:g}")
    for cause in result.causes[:3]:
        lines.append(f"likely cause: {cause.id} (confidence {cause.confidence:.2f}): "
                     f"{_summary(cause.evidence)}")
        if cause.fix:
            lines.append(f"  fix: {cause.fix}")
    return "\n".join(lines)


# ---------------------------------------------------------------- diff images


def _display(array, profile):
    import numpy as np

    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 4:
        array = array[0]
    if array.ndim != 3:
        return None
    if array.shape[0] == 1:
        array = np.repeat(array, 3, axis=0)
    array = array[:3]
    if array.shape[0] == 3:
        mean = np.asarray(profile.mean, dtype=np.float32)[:, None, None]
        std = np.asarray(profile.std, dtype=np.float32)[:, None, None]
        array = array * std + mean
    pixels = np.clip(np.nan_to_num(array), 0, 1) * 255
    return np.rint(pixels).astype(np.uint8).transpose(1, 2, 0)


def _heat(diff):
    """A black-red-yellow-white map of |diff|, scaled to its own maximum."""
    import numpy as np

    scale = max(float(diff.max()), EQUIVALENT_MAX_ABS)
    t = np.clip(diff / scale, 0, 1)
    rgb = np.stack([np.clip(3 * t, 0, 1), np.clip(3 * t - 1, 0, 1), np.clip(3 * t - 2, 0, 1)], -1)
    return np.rint(rgb * 255).astype(np.uint8)


def _panel_strip(panels, captions):
    from PIL import Image, ImageDraw

    gap, caption = 6, 14
    height = max(p.shape[0] for p in panels) + caption
    width = sum(p.shape[1] for p in panels) + gap * (len(panels) - 1)
    canvas = Image.new("RGB", (width, height), (40, 40, 40))
    draw = ImageDraw.Draw(canvas)
    left = 0
    for panel, text in zip(panels, captions):
        canvas.paste(Image.fromarray(panel), (left, caption))
        draw.text((left + 2, 1), text, fill=(230, 230, 230))
        left += panel.shape[1] + gap
    return canvas


def save_diffs(result: CheckResult, directory: str | Path) -> list[Path]:
    """Write `<probe>.png` (reference | pipeline | heat map of |diff|) per failing probe."""
    import numpy as np

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for comparison in result.comparisons:
        if comparison.status not in FAILING:
            continue
        reference = _display(result.references[comparison.probe], result.profile)
        output = result.outputs.get(comparison.probe)
        array = None if output is None else output.array
        pipeline = None if array is None else _display(array, result.profile)
        panels, captions = [reference], ["reference"]
        if pipeline is not None:
            panels.append(pipeline)
            captions.append("pipeline")
        else:
            captions[0] += f" (pipeline: {comparison.status})"
        if array is not None and comparison.max_abs is not None and array.shape[-3:] == \
                result.references[comparison.probe].shape:
            diff = np.abs(np.nan_to_num(np.asarray(array, np.float32)) -
                          result.references[comparison.probe]).mean(axis=0)
            panels.append(_heat(diff))
            captions.append(f"|diff| max {comparison.max_abs:.3g}")
        path = directory / (re.sub(r"[^\w.-]", "_", comparison.probe) + ".png")
        _panel_strip(panels, captions).save(path)
        written.append(path)
    return written


# ---------------------------------------------------------------- progress


class Progress:
    """A one-line status on stderr, shown only on a terminal and only once a run takes > 1 s."""

    def __init__(self, delay: float = 1.0, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
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
