"""Name what drifted, from measurements: `diagnose(probes, outputs, references, profile)`.

Probes whose two runs differ are `augmentation.random` and are left out of the rest, which is
measured on what is stable. Errors, output shapes, layout and dtype are read off the outputs. The
values of the drifted RGB probes go to the hypothesis search (`search`), whose ablations become
causes: geometry, interpolation, channel order and the fitted normalization (`estimate`). Non-RGB
probes that the resulting model does not explain are tested against conversion hypotheses
(`modes`). Every other drifted probe, in any mode or size, joins each cause whose reversal it
needs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clipguard.check import causes as ids
from clipguard.check import hypotheses as hyp
from clipguard.check import modes
from clipguard.check.estimate import KNOWN_STATS, Affine, looks_uint8, name_stats
from clipguard.check.execute import SEEDS
from clipguard.check.fixes import suggest
from clipguard.check.hypotheses import TENSOR_RESIZES, no_crop
from clipguard.check.search import (
    Ablation,
    Fit,
    Search,
    mix,
    needs,
    reference_geometry,
    target_size,
)
from clipguard.check.tolerance import EQUIVALENT_MEAN_ABS, residual_within
from clipguard.check.types import Cause, Output, Probe
from clipguard.profiles import Profile

INTERPOLATION_CAUSES = {
    "bilinear": ids.INTERPOLATION_BILINEAR,
    "nearest": ids.INTERPOLATION_NEAREST,
    "bicubic-no-antialias": ids.ANTIALIAS_MISSING,
    "bilinear-no-antialias": ids.ANTIALIAS_MISSING,
}


class Context:
    """What every cause of one diagnosis shares: the profile and the pipeline's libraries."""

    def __init__(self, profile: Profile, libraries: list[str]) -> None:
        self.profile, self.libraries = profile, libraries

    def cause(
        self, cause_id: str, confidence: float, evidence: dict[str, Any], probes: list[str]
    ) -> Cause:
        return Cause(
            cause_id,
            float(min(max(confidence, 0.0), 1.0)),
            evidence,
            sorted(set(probes)),
            suggest(cause_id, self.profile, evidence, self.libraries),
        )


def diagnose(
    probes: list[Probe],
    outputs: dict[str, Output],
    references: dict[str, np.ndarray],
    profile: Profile,
    description: dict[str, Any] | None = None,
) -> list[Cause]:
    """Causes of drift between `outputs` and `references`, most likely first; [] if none."""
    description = description or {}
    context = Context(profile, list(description.get("libraries", ())))
    probes = [p for p in probes if p.name in outputs and p.name in references]
    causes = []
    random = _random_cause(probes, outputs, description, context)
    if random is not None:
        causes.append(random)
        probes = [p for p in probes if p.name not in random.probes]
    outputs = {p.name: outputs[p.name] for p in probes}
    arrays, hwc = _arrays(outputs)
    causes += _error_causes(probes, outputs, context)
    if hwc:
        causes.append(context.cause(ids.LAYOUT_HWC, 1.0, {"output_layout": "HWC"}, hwc))
    rgb = [p for p in probes if p.mode == "RGB" and p.name in arrays]
    drifted = [p for p in rgb if _drifted(arrays[p.name], references[p.name])]
    causes += _shape_causes(probes, outputs, arrays, context)
    model = Fit(
        reference_geometry(profile),
        profile.interpolation,
        "rgb",
        Affine.from_stats(profile.mean, profile.std),
        0.0,
    )
    searchable = [p for p in drifted if arrays[p.name].shape[0] == 3]
    reverted: list[tuple[Fit, Cause]] = []
    search = None
    if searchable:
        search = Search(searchable, arrays, references, profile)
        best = search.best()
        if best is not None:
            model = best
            for ablation in search.ablations(best):
                reverted.append((ablation.reverted, _value_cause(ablation, best, context)))
            causes += [cause for _, cause in reverted]
    others = [
        p
        for p in probes
        if p.mode != "RGB" and p.name in arrays and _drifted(arrays[p.name], references[p.name])
    ]
    causes += _mode_causes(others, arrays, context, model)
    if search is not None and reverted:
        everything = [
            p for p in probes if p.name in arrays and _drifted(arrays[p.name], references[p.name])
        ]
        _attribute_rest(causes, reverted, everything, arrays, search, model, context)
    causes += _dtype_causes(outputs, causes, context)
    _note_pil_outputs(causes, outputs)
    return _rank(_merge(causes), {p.name for p in rgb})


def _random_cause(
    probes: list[Probe], outputs: dict[str, Output], description: dict[str, Any], context: Context
) -> Cause | None:
    """Probes on which two runs, seeded alike every time, gave different outputs."""
    varied = {p.name: outputs[p.name].rerun for p in probes if outputs[p.name].rerun}
    if not varied:
        return None
    measured = [r for r in varied.values() if "max_abs" in r]
    evidence: dict[str, Any] = {
        "runs": len(SEEDS),
        "seeds": list(SEEDS),
        "probes_differing": len(varied),
        "probes_run": len(probes),
    }
    if measured:
        evidence["max_abs_between_runs"] = round(max(r["max_abs"] for r in measured), 5)
        evidence["mean_abs_between_runs"] = round(
            float(np.mean([r["mean_abs"] for r in measured])), 5
        )
    shapes = {name: r["shapes"] for name, r in varied.items() if "shapes" in r}
    if shapes:
        evidence["shapes_between_runs"] = shapes
    errors = {name: r["errors"] for name, r in varied.items() if "errors" in r}
    if errors:
        evidence["errors_between_runs"] = errors
    if description.get("random_steps"):
        evidence["random_steps"] = list(description["random_steps"])
    evidence["per_probe"] = {
        name: {k: round(v, 5) for k, v in r.items()} for name, r in varied.items() if "max_abs" in r
    }
    return context.cause(ids.AUGMENTATION_RANDOM, 1.0, evidence, list(varied))


def _arrays(outputs: dict[str, Output]) -> tuple[dict[str, np.ndarray], list[str]]:
    """Float arrays in (C, H, W), and the probes whose output was laid out HWC."""
    arrays, hwc = {}, []
    for name, output in outputs.items():
        if output.array is None:
            continue
        array = np.asarray(output.array, dtype=np.float32)
        while array.ndim > 3 and array.shape[0] == 1:  # a batch of one is not drift
            array = array[0]
        if array.ndim == 2:
            array = array[None]
        if array.ndim == 3 and array.shape[-1] in (1, 3, 4) and array.shape[0] not in (1, 3, 4):
            array = array.transpose(2, 0, 1)  # the runner did not adapt the layout; do it here
            hwc.append(name)
        elif str(output.notes.get("layout", "")).lower() == "hwc":
            hwc.append(name)
        if array.ndim == 3:
            arrays[name] = np.nan_to_num(array)
    return arrays, hwc


def _drifted(array: np.ndarray, reference: np.ndarray) -> bool:
    return array.shape != reference.shape or not residual_within(np.abs(array - reference))


def _error_causes(probes: list[Probe], outputs: dict[str, Output], context: Context) -> list[Cause]:
    failed = [p for p in probes if outputs[p.name].array is None]
    rgb = [p for p in failed if p.mode == "RGB"]
    other = [p for p in failed if p.mode != "RGB"]
    rgb_ran = any(p.mode == "RGB" and outputs[p.name].array is not None for p in probes)
    causes = []
    if rgb:  # when RGB fails too, the mode is not what breaks the others
        errors = {p.name: (outputs[p.name].error or "")[:300] for p in rgb + other * (not rgb_ran)}
        causes.append(context.cause(ids.ERROR, 1.0, {"errors": errors}, list(errors)))
    if other and rgb_ran:
        errors = {p.name: (outputs[p.name].error or "")[:300] for p in other}
        evidence = {"modes": sorted({p.mode for p in other}), "errors": errors}
        causes.append(context.cause(ids.MODE_ERROR, 1.0, evidence, list(errors)))
    return causes


def _shape_causes(
    probes: list[Probe], outputs: dict[str, Output], arrays: dict[str, np.ndarray], context: Context
) -> list[Cause]:
    """Probes whose output has another size, batch or channel count than the reference."""
    n = context.profile.n_px
    found: dict[str, dict[str, list[int]]] = {}
    for probe in probes:
        output = outputs[probe.name]
        if output.array is None:
            continue
        if probe.name not in arrays:  # a batch of several images, or no image at all
            found.setdefault(ids.GEOMETRY_SIZE, {})[probe.name] = list(np.shape(output.array))
            continue
        channels, height, width = arrays[probe.name].shape
        if channels != 3:
            found.setdefault(ids.MODE_CONVERSION, {})[probe.name] = [channels, height, width]
        elif (height, width) != (n, n):
            uncropped = (width, height) == no_crop(*probe.size, n).size
            cause_id = ids.GEOMETRY_NO_CROP if uncropped else ids.GEOMETRY_SIZE
            found.setdefault(cause_id, {})[probe.name] = [channels, height, width]
    causes = []
    for cause_id, shapes in found.items():
        evidence: dict[str, Any] = {"expected_shape": [3, n, n], "output_shapes": shapes}
        if cause_id == ids.GEOMETRY_NO_CROP:
            evidence["best_hypothesis"] = "no-crop"
        causes.append(context.cause(cause_id, 1.0, evidence, list(shapes)))
    return causes


def _value_cause(ablation: Ablation, best: Fit, context: Context) -> Cause:
    """The cause id and evidence for one needed dimension of the best fit."""
    evidence: dict[str, Any] = {}
    if ablation.dimension == "geometry":
        cause_id = _geometry_cause(ablation.found, ablation.reference)
        evidence.update(
            best_hypothesis=ablation.found, reference=ablation.reference, example=ablation.plans
        )
    elif ablation.dimension == "interpolation":
        cause_id = INTERPOLATION_CAUSES.get(ablation.found, ids.INTERPOLATION_OTHER)
        evidence.update(best_hypothesis=ablation.found, reference=ablation.reference)
        if ablation.found in TENSOR_RESIZES:  # rounding, not a filter: the worst pixel tells
            evidence.update(
                resampling=TENSOR_RESIZES[ablation.found],
                max_abs_vs_reference=round(ablation.max_abs[0], 5),
                max_abs_under_hypothesis=round(ablation.max_abs[1], 5),
            )
    elif ablation.dimension == "order":
        cause_id = ids.CHANNELS_BGR if ablation.found == "bgr" else ids.MODE_CONVERSION
        evidence.update(best_hypothesis=ablation.found)
    else:
        cause_id, stats = _normalization_cause(best.affine, context.profile)
        evidence.update(stats)
    evidence.update(
        mean_abs_vs_reference=round(ablation.reverted.error, 5),
        mean_abs_under_hypothesis=round(best.error, 5),
        per_probe={
            name: {"vs_reference": round(reverted, 5), "under_hypothesis": round(under, 5)}
            for name, (reverted, under) in ablation.per_probe.items()
        },
    )
    confidence = 1 - best.error / ablation.reverted.error
    return context.cause(cause_id, confidence, evidence, list(ablation.per_probe))


def _geometry_cause(found: str, reference: str) -> str:
    if "squash" in (found, reference):
        return ids.GEOMETRY_SQUASH
    if found.startswith("resize-"):
        return ids.GEOMETRY_SCALE
    if "round-long-side" in found or "floor-crop-offset" in found:
        return ids.GEOMETRY_OFFSET
    return ids.GEOMETRY_NO_CROP  # no-crop, longest+pad


def _rounded(values) -> list[float]:
    return [round(float(v), 5) for v in values]


def _double_normalization(mean: np.ndarray, std: np.ndarray) -> dict[str, Any] | None:
    """Two known normalizations one after the other: (x - m1) / s1, then (. - m2) / s2.

    Their product has mean m1 + s1 m2 and std s1 s2, so each known first pair leaves one
    second pair; it counts when that second pair is a known one too."""
    for first, (m1, s1) in KNOWN_STATS.items():
        if first == "none":
            continue
        m1, s1 = np.asarray(m1), np.asarray(s1)
        second_std = std / s1
        second_mean = (mean - m1) / s1
        second = name_stats(second_mean, second_std)
        if second not in (None, "none"):
            return {
                "first_named": first,
                "second_named": second,
                "estimated_second_mean": _rounded(second_mean),
                "estimated_second_std": _rounded(second_std),
            }
    return None


def _normalization_cause(affine: Affine, profile: Profile) -> tuple[str, dict[str, Any]]:
    mean, std = affine.mean, affine.std
    evidence: dict[str, Any] = {
        "estimated_mean": _rounded(mean),
        "estimated_std": _rounded(std),
        "expected_mean": _rounded(profile.mean),
        "expected_std": _rounded(profile.std),
    }
    if looks_uint8(std):
        on_unit_scale = mean * 255, std * 255
        evidence.update(
            scale="0-255",
            named=name_stats(*on_unit_scale),
            mean_on_0_1_scale=_rounded(on_unit_scale[0]),
            std_on_0_1_scale=_rounded(on_unit_scale[1]),
        )
        return ids.RANGE_UINT8, evidence
    named = name_stats(mean, std)
    evidence["named"] = named
    if named == "imagenet":
        return ids.NORMALIZATION_IMAGENET, evidence
    if named == "none":
        return ids.NORMALIZATION_MISSING, evidence
    if named is None:
        rescaled = name_stats(mean / 255, std / 255)
        if rescaled is not None:  # statistics 255 times too large: the pixels were in [0, 1/255]
            evidence.update(
                named=rescaled,
                extra_factor="1/255",
                std_ratio_to_expected=_rounded(std / np.asarray(profile.std)),
                mean_on_0_1_scale=_rounded(mean / 255),
                std_on_0_1_scale=_rounded(std / 255),
            )
            return ids.RANGE_DOUBLE_RESCALE, evidence
        double = _double_normalization(mean, std)
        if double is not None:
            evidence.update(double)
            return ids.NORMALIZATION_DOUBLE, evidence
    return ids.NORMALIZATION_OTHER, evidence


def _mode_causes(
    others: list[Probe], arrays: dict[str, np.ndarray], context: Context, model: Fit
) -> list[Cause]:
    findings = modes.mode_findings(
        others, arrays, context.profile, model, reference_geometry(context.profile)
    )
    if not findings:
        return []
    explained = [
        1 - f["mean_abs_under_hypothesis"] / max(f["mean_abs_vs_reference"], 1e-9)
        if "mean_abs_under_hypothesis" in f
        else 1.0
        if "channels" in f
        else 0.5
        for f in findings.values()
    ]
    affected = [p.name for p in others if p.mode in findings]
    return [
        context.cause(ids.MODE_CONVERSION, float(np.mean(explained)), {"modes": findings}, affected)
    ]


def _residuals(probe: Probe, y: np.ndarray, fit: Fit, search: Search) -> list[np.ndarray]:
    """Residuals (normalized units) of one fit on one probe, converting its mode after resizing
    and before (for L, CMYK or I;16 only the rounding differs); [] if the fit cannot render it."""
    family = hyp.geometries(target_size(y, search.profile.n_px), search.reference_geometry)
    geometry = family.get(fit.geometry)
    plan = geometry(*probe.size) if geometry and y.shape[0] == 3 else None
    if plan is None or (plan.box[3] - plan.box[1], plan.box[2] - plan.box[0]) != y.shape[1:]:
        return []
    units = (search.scale * search.std)[:, None, None]
    conversions = ("after",) if probe.mode == "RGB" else ("after", "before")
    return [
        np.abs(
            y
            - fit.affine.apply(mix(hyp.render(probe.image, plan, fit.interpolation, c), fit.order))
        )
        / units
        for c in conversions
    ]


def _attribute_rest(
    causes: list[Cause],
    reverted: list[tuple[Fit, Cause]],
    drifted: list[Probe],
    arrays: dict[str, np.ndarray],
    search: Search,
    model: Fit,
    context: Context,
) -> None:
    """Drifted probes no cause names yet join each value cause whose reversal they need: the
    large ones, the non-RGB ones the model explains, those of another output size. A non-RGB
    probe that only converting before resizing brings within the tolerance is mode.conversion."""
    covered = {name for cause in causes for name in cause.probes}
    converted: dict[str, dict[str, Any]] = {}
    for probe in drifted:
        if probe.name in covered:
            continue
        y = arrays[probe.name].astype(np.float64)
        best = _residuals(probe, y, model, search)
        if not best:
            continue
        best_error = min(float(r.mean()) for r in best)
        best_within = any(residual_within(r) for r in best)
        named = False
        for fit, cause in reverted:
            residuals = _residuals(probe, y, fit, search)
            if not residuals:
                continue
            broken = best_within and not any(residual_within(r) for r in residuals)
            if needs(min(float(r.mean()) for r in residuals), best_error) or broken:
                cause.probes = sorted({*cause.probes, probe.name})
                named = True
        if (
            not named
            and len(best) == 2
            and residual_within(best[1])
            and not residual_within(best[0])
        ):
            converted.setdefault(
                probe.mode,
                {
                    "probe": probe.name,
                    "best_hypothesis": modes.CONVERSION_NAMES["before"],
                    "max_abs_vs_reference": round(float(best[0].max()), 5),
                    "max_abs_under_hypothesis": round(float(best[1].max()), 5),
                },
            )
            converted[probe.mode].setdefault("probes", []).append(probe.name)
    if converted:
        names = [name for finding in converted.values() for name in finding.pop("probes")]
        causes.append(context.cause(ids.MODE_CONVERSION, 1.0, {"modes": converted}, names))


def _dtype_causes(outputs: dict[str, Output], causes: list[Cause], context: Context) -> list[Cause]:
    found: dict[str, list[str]] = {}
    for name, output in outputs.items():
        dtype = str(output.notes.get("dtype", "")).replace("torch.", "")
        if dtype and dtype != "float32":
            found.setdefault(dtype, []).append(name)
    if any(c.id == ids.RANGE_UINT8 for c in causes):  # its fix (scale to float) covers the dtype
        found = {d: names for d, names in found.items() if not d.startswith(("uint", "int"))}
    if not found:
        return []
    probes = [name for names in found.values() for name in names]
    return [
        context.cause(
            ids.DTYPE, 1.0, {"output_dtypes": sorted(found), "expected": "float32"}, probes
        )
    ]


def _note_pil_outputs(causes: list[Cause], outputs: dict[str, Output]) -> None:
    """A pipeline that returns PIL images lacks ToTensor and Normalize: say so in its fix."""
    if not any(o.notes.get("type") == "PIL" for o in outputs.values()):
        return
    for cause in causes:
        if cause.id.startswith(("range.", "normalization.")):
            cause.evidence["output_type"] = "PIL image"
            cause.fix = (
                "the pipeline returns a PIL image: end it with ToTensor() and Normalize(...)"
            )


def _merge(causes: list[Cause]) -> list[Cause]:
    """One cause per id: the strongest evidence, every probe it explains."""
    merged: dict[str, Cause] = {}
    for cause in causes:
        kept = merged.get(cause.id)
        if kept is None:
            merged[cause.id] = cause
        else:
            kept.probes = sorted(set(kept.probes) | set(cause.probes))
            kept.confidence = max(kept.confidence, cause.confidence)
            if isinstance(kept.evidence.get("modes"), dict) and "modes" in cause.evidence:
                kept.evidence["modes"] = {**cause.evidence["modes"], **kept.evidence["modes"]}
    return list(merged.values())


def _impact(cause: Cause) -> float:
    """How much worse the fit gets without this cause, in normalized mean abs units."""
    evidence = cause.evidence
    return evidence.get("mean_abs_vs_reference", 0.0) - evidence.get(
        "mean_abs_under_hypothesis", 0.0
    )


def _rank(causes: list[Cause], rgb_probes: set[str]) -> list[Cause]:
    def tier(cause: Cause) -> int:
        if cause.id.startswith("mode.") and rgb_probes.intersection(cause.probes):
            return 1  # ordinary RGB images are affected too: not a corner case
        if "max_abs_vs_reference" in cause.evidence and _impact(cause) < EQUIVALENT_MEAN_ABS:
            return ids.ROUNDING_TIER  # within the mean tolerance: only a few pixels break the max
        return ids.tier(cause.id)

    return sorted(causes, key=lambda c: (tier(c), -_impact(c)))
