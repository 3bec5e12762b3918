"""Compare one pipeline output with its reference: differences, PSNR and a status."""

from __future__ import annotations

import math

import numpy as np

from clipguard.check.tolerance import EXACT_MAX_ABS, within
from clipguard.check.types import DRIFT, EQUIVALENT, ERROR, EXACT, SHAPE, Comparison, Output, Probe

STATUS_ORDER = (EXACT, EQUIVALENT, DRIFT, SHAPE, ERROR)


def psnr(rms: float, peak: float) -> float:
    """Peak signal-to-noise ratio in dB for a root-mean-square error; inf when identical."""
    if rms == 0:
        return math.inf
    return 20 * math.log10(peak / rms)


def peak_for(profile) -> float:
    """The span of a full 0-1 input in normalized units, in the most stretched channel."""
    return 1.0 / min(profile.std)


def status_for(max_abs: float, mean_abs: float) -> str:
    """The tolerance of docs/design.md: exact, equivalent (one 8-bit step) or drift."""
    if not within(max_abs, mean_abs):
        return DRIFT
    return EXACT if max_abs <= EXACT_MAX_ABS else EQUIVALENT


def compare(probe: Probe, output: Output, reference: np.ndarray, peak: float = 1.0) -> Comparison:
    """Compare an adapted output with the reference; `peak` is the full 0-1 range once normalized.

    A layout the adapter had to transpose (HWC) keeps its numbers but is reported as `shape`:
    the values may be right, yet a model would receive them in the wrong order. Right values in
    another dtype than float32 are `drift`: float32 weights reject float64 or float16 input.
    """
    base = Comparison(
        probe.name,
        probe.mode,
        probe.size,
        ERROR,
        reference_shape=tuple(reference.shape),
        shape=output.notes.get("shape"),
    )
    if output.error is not None or output.array is None:
        base.error = output.error or "the pipeline returned nothing usable"
        return base
    array = output.array
    if base.shape is None:
        base.shape = tuple(array.shape)
    if array.shape != reference.shape:
        base.status = SHAPE
        return base
    diff = np.abs(array.astype(np.float64) - reference.astype(np.float64))
    diff[~np.isfinite(diff)] = math.inf
    base.max_abs = float(diff.max())
    base.mean_abs = float(diff.mean())
    rms = math.sqrt(float(np.mean(np.square(diff)))) if math.isfinite(base.max_abs) else math.inf
    base.psnr = psnr(rms, peak) if math.isfinite(rms) else -math.inf
    base.status = status_for(base.max_abs, base.mean_abs)
    if output.notes.get("layout") == "hwc":
        base.status = SHAPE
    elif base.status in (EXACT, EQUIVALENT) and output.notes.get("dtype", "float32") != "float32":
        base.status = DRIFT
    return base


def worst(statuses) -> str:
    """The worst of some statuses (exact < equivalent < drift < shape < error)."""
    return max(statuses, key=STATUS_ORDER.index, default=EXACT)


def passed(comparisons: list[Comparison]) -> bool:
    """True when every probe is exact or equivalent."""
    return all(c.status in (EXACT, EQUIVALENT) for c in comparisons)
