"""How a pipeline treats non-RGB images: measured against conversion hypotheses.

CLIP converts to RGB after resizing and cropping, so Pillow resizes "P" and "1" images with
NEAREST and RGBA images with their alpha. A pipeline that converts first, or composites alpha
onto white first (transformers 5 `convert_to_rgb`), gives other pixels on those probes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clipguard.check import hypotheses as hyp
from clipguard.check.search import ABSOLUTE, RELATIVE, Fit, mix, target_size
from clipguard.check.types import Probe
from clipguard.profiles import Profile

CONVERSION_NAMES = {
    "after": "convert after crop",
    "before": "convert to RGB before resizing",
    "white": "composite alpha onto white before resizing",
}
EXPLAINED = 0.5  # an alternative conversion explains a probe when it halves the error
TRUSTED_MODEL = 4 * ABSOLUTE  # an RGB model this accurate can blame a mode without an alternative


def conversion_error(
    probe: Probe, plan: hyp.Plan, y: np.ndarray, model: Fit, profile: Profile, conversion: str
) -> float:
    """Mean abs error (normalized units) of the model on one probe with one RGB conversion."""
    x = mix(hyp.render(probe.image, plan, model.interpolation, conversion), model.order)
    scale = np.abs(model.affine.scale)[:, None, None]
    std = np.asarray(profile.std)[:, None, None]
    return float(np.mean(np.abs(y - model.affine.apply(x)) / scale / std))


def mode_findings(
    probes: list[Probe],
    arrays: dict[str, np.ndarray],
    profile: Profile,
    model: Fit,
    reference_geometry: str,
) -> dict[str, dict[str, Any]]:
    """Per mode, evidence that the RGB model does not explain its smallest drifted probe."""
    findings: dict[str, dict[str, Any]] = {}
    for probe in sorted(probes, key=lambda p: (p.size[0] * p.size[1], p.name)):
        if probe.mode in findings:
            continue
        y = arrays[probe.name]
        if y.shape[0] != 3:
            findings[probe.mode] = {"probe": probe.name, "channels": int(y.shape[0])}
            continue
        geometry = hyp.geometries(target_size(y, profile.n_px), reference_geometry).get(
            model.geometry
        )
        plan = geometry(*probe.size) if geometry else None
        if plan is None or (plan.box[3] - plan.box[1], plan.box[2] - plan.box[0]) != y.shape[1:]:
            continue
        as_reference = conversion_error(probe, plan, y, model, profile, "after")
        if as_reference <= RELATIVE * model.error + 2 * ABSOLUTE:
            continue
        alternatives = {
            c: conversion_error(probe, plan, y, model, profile, c) for c in ("before", "white")
        }
        conversion = min(alternatives, key=alternatives.get)
        entry: dict[str, Any] = {
            "probe": probe.name,
            "mean_abs_vs_reference": round(as_reference, 5),
        }
        if alternatives[conversion] < as_reference * EXPLAINED:
            entry.update(
                best_hypothesis=CONVERSION_NAMES[conversion],
                mean_abs_under_hypothesis=round(alternatives[conversion], 5),
            )
        elif model.error > TRUSTED_MODEL or model.explained < 0.5:
            continue  # the RGB drift is unexplained too: nothing singles out this mode
        findings[probe.mode] = entry
    return findings
