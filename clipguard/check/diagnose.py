"""Name what drifted, from measurements: `diagnose(probes, outputs, references, profile)`.

Errors, output shapes, layout and dtype are read off the outputs. The values of the drifted RGB
probes go to the hypothesis search (`search`), whose ablations become causes: geometry,
interpolation, channel order and the fitted normalization (`estimate`). Non-RGB probes that the
resulting model does not explain are tested against conversion hypotheses (`modes`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clipguard.check import hypotheses as hyp
from clipguard.check.estimate import Affine, looks_uint8, name_stats
from clipguard.check.fixes import suggest
from clipguard.check.hypotheses import TENSOR_RESIZES, no_crop
from clipguard.check.modes import mode_findings
from clipguard.check.search import Ablation, Fit, Search, mix, reference_geometry, target_size
from clipguard.check.types import EQUIVALENT_MAX_ABS, EQUIVALENT_MEAN_ABS, Cause, Output, Probe
from clipguard.profiles import Profile

INTERPOLATION_CAUSES = {"bilinear": "interpolation.bilinear", "nearest": "interpolation.nearest",
                        "bicubic-no-antialias": "antialias.missing",
                        "bilinear-no-antialias": "antialias.missing"}
# Rank: unusable output first, then wrong shapes, then value causes by impact, then the rest.
TIERS = {"error": 0, "layout.hwc": 1, "geometry.size": 1, "geometry.no-crop": 1, "dtype": 3,
         "mode.error": 4, "mode.conversion": 4}
ROUNDING_TIER = 5


def diagnose(probes: list[Probe], outputs: dict[str, Output], references: dict[str, np.ndarray],
             profile: Profile) -> list[Cause]:
    """Causes of drift between `outputs` and `references`, most likely first; [] if none."""
    probes = [p for p in probes if p.name in outputs and p.name in references]
    arrays, hwc = _arrays(outputs)
    causes = _error_causes(probes, outputs, profile)
    if hwc:
        causes.append(_cause("layout.hwc", 1.0, {"output_layout": "HWC"}, hwc, profile))
    rgb = [p for p in probes if p.mode == "RGB" and p.name in arrays]
    drifted = [p for p in rgb if _drifted(arrays[p.name], references[p.name])]
    causes += _shape_causes(probes, outputs, arrays, profile)
    model = Fit(reference_geometry(profile), profile.interpolation, "rgb",
                Affine.from_stats(profile.mean, profile.std), 0.0)
    searchable = [p for p in drifted if arrays[p.name].shape[0] == 3]
    if searchable:
        search = Search(searchable, arrays, references, profile)
        best = search.best()
        if best is not None:
            model = best
            causes += [_value_cause(a, best, profile) for a in search.ablations(best)]
    others = [p for p in probes if p.mode != "RGB" and p.name in arrays
              and _drifted(arrays[p.name], references[p.name])]
    causes += _mode_causes(others, arrays, profile, model)
    _extend_tensor_resize(causes, others, arrays, profile, model)
    causes += _dtype_causes(outputs, causes, profile)
    _note_pil_outputs(causes, outputs)
    return _rank(_merge(causes), {p.name for p in rgb})


def _cause(cause_id: str, confidence: float, evidence: dict[str, Any], probes: list[str],
           profile: Profile) -> Cause:
    return Cause(cause_id, float(min(max(confidence, 0.0), 1.0)), evidence, sorted(set(probes)),
                 suggest(cause_id, profile, evidence))


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
    if array.shape != reference.shape:
        return True
    diff = np.abs(array - reference)
    return bool(diff.max() > EQUIVALENT_MAX_ABS or diff.mean() > EQUIVALENT_MEAN_ABS)


def _error_causes(probes: list[Probe], outputs: dict[str, Output],
                  profile: Profile) -> list[Cause]:
    failed = [p for p in probes if outputs[p.name].array is None]
    rgb = [p for p in failed if p.mode == "RGB"]
    other = [p for p in failed if p.mode != "RGB"]
    causes = []
    if rgb:
        errors = {p.name: (outputs[p.name].error or "")[:300] for p in rgb}
        causes.append(_cause("error", 1.0, {"errors": errors}, list(errors), profile))
    rgb_ran = any(p.mode == "RGB" and outputs[p.name].array is not None for p in probes)
    if other and rgb_ran:  # when RGB fails too, the mode is not what breaks it
        errors = {p.name: (outputs[p.name].error or "")[:300] for p in other}
        evidence = {"modes": sorted({p.mode for p in other}), "errors": errors}
        causes.append(_cause("mode.error", 1.0, evidence, list(errors), profile))
    return causes


def _shape_causes(probes: list[Probe], outputs: dict[str, Output], arrays: dict[str, np.ndarray],
                  profile: Profile) -> list[Cause]:
    """RGB probes whose output has another size, batch or channel count than the reference."""
    n = profile.n_px
    found: dict[str, dict[str, list[int]]] = {}
    for probe in probes:
        output = outputs[probe.name]
        if probe.mode != "RGB" or output.array is None:
            continue
        if probe.name not in arrays:  # a batch of several images, or no image at all
            found.setdefault("geometry.size", {})[probe.name] = list(np.shape(output.array))
            continue
        channels, height, width = arrays[probe.name].shape
        if channels != 3:
            found.setdefault("mode.conversion", {})[probe.name] = [channels, height, width]
        elif (height, width) != (n, n):
            uncropped = (width, height) == no_crop(*probe.size, n).size
            found.setdefault("geometry.no-crop" if uncropped else "geometry.size", {})[
                probe.name] = [channels, height, width]
    causes = []
    for cause_id, shapes in found.items():
        evidence: dict[str, Any] = {"expected_shape": [3, n, n], "output_shapes": shapes}
        if cause_id == "geometry.no-crop":
            evidence["best_hypothesis"] = "no-crop"
        causes.append(_cause(cause_id, 1.0, evidence, list(shapes), profile))
    return causes


def _value_cause(ablation: Ablation, best: Fit, profile: Profile) -> Cause:
    """The cause id and evidence for one needed dimension of the best fit."""
    evidence: dict[str, Any] = {}
    if ablation.dimension == "geometry":
        cause_id = _geometry_cause(ablation.found, ablation.reference)
        evidence.update(best_hypothesis=ablation.found, reference=ablation.reference,
                        example=ablation.plans)
    elif ablation.dimension == "interpolation":
        cause_id = INTERPOLATION_CAUSES.get(ablation.found, "interpolation.other")
        evidence.update(best_hypothesis=ablation.found, reference=ablation.reference)
        if ablation.found in TENSOR_RESIZES:  # rounding, not a filter: the worst pixel tells
            evidence.update(resampling=TENSOR_RESIZES[ablation.found],
                            max_abs_vs_reference=round(ablation.max_abs[0], 5),
                            max_abs_under_hypothesis=round(ablation.max_abs[1], 5))
    elif ablation.dimension == "order":
        cause_id = "channels.bgr" if ablation.found == "bgr" else "mode.conversion"
        evidence.update(best_hypothesis=ablation.found)
    else:
        cause_id, stats = _normalization_cause(best.affine, profile)
        evidence.update(stats)
    evidence.update(
        mean_abs_vs_reference=round(ablation.reverted.error, 5),
        mean_abs_under_hypothesis=round(best.error, 5),
        per_probe={name: {"vs_reference": round(reverted, 5), "under_hypothesis": round(under, 5)}
                   for name, (reverted, under) in ablation.per_probe.items()})
    confidence = 1 - best.error / ablation.reverted.error
    return _cause(cause_id, confidence, evidence, list(ablation.per_probe), profile)


def _geometry_cause(found: str, reference: str) -> str:
    if "squash" in (found, reference):
        return "geometry.squash"
    if found.startswith("resize-"):
        return "geometry.scale"
    if "round-long-side" in found or "floor-crop-offset" in found:
        return "geometry.offset"
    return "geometry.no-crop"  # no-crop, longest+pad


def _normalization_cause(affine: Affine, profile: Profile) -> tuple[str, dict[str, Any]]:
    def rounded(values) -> list[float]:
        return [round(float(v), 5) for v in values]

    mean, std = affine.mean, affine.std
    evidence: dict[str, Any] = {"estimated_mean": rounded(mean), "estimated_std": rounded(std),
                                "expected_mean": rounded(profile.mean),
                                "expected_std": rounded(profile.std)}
    if looks_uint8(std):
        on_unit_scale = mean * 255, std * 255
        evidence.update(scale="0-255", named=name_stats(*on_unit_scale),
                        mean_on_0_1_scale=rounded(on_unit_scale[0]),
                        std_on_0_1_scale=rounded(on_unit_scale[1]))
        return "range.uint8", evidence
    named = name_stats(mean, std)
    evidence["named"] = named
    if named == "imagenet":
        return "normalization.imagenet", evidence
    if named == "none":
        return "normalization.missing", evidence
    return "normalization.other", evidence


def _mode_causes(others: list[Probe], arrays: dict[str, np.ndarray], profile: Profile,
                 model: Fit) -> list[Cause]:
    findings = mode_findings(others, arrays, profile, model, reference_geometry(profile))
    if not findings:
        return []
    explained = [1 - f["mean_abs_under_hypothesis"] / max(f["mean_abs_vs_reference"], 1e-9)
                 if "mean_abs_under_hypothesis" in f else 1.0 if "channels" in f else 0.5
                 for f in findings.values()]
    affected = [p.name for p in others if p.mode in findings]
    return [_cause("mode.conversion", float(np.mean(explained)), {"modes": findings}, affected,
                   profile)]


def _within_tolerance(probe: Probe, y: np.ndarray, plan: hyp.Plan, model: Fit, interpolation: str,
                      profile: Profile) -> bool:
    """Whether the model with this interpolation renders the probe within the DESIGN tolerance,
    converting its mode after resizing or before (for L, CMYK or I;16 only the rounding differs)."""
    units = np.abs(model.affine.scale)[:, None, None] * np.asarray(profile.std)[:, None, None]
    for conversion in ("after", "before"):
        x = mix(hyp.render(probe.image, plan, interpolation, conversion), model.order)
        residual = np.abs(y - model.affine.apply(x)) / units
        if residual.max() <= EQUIVALENT_MAX_ABS and residual.mean() <= EQUIVALENT_MEAN_ABS:
            return True
    return False


def _extend_tensor_resize(causes: list[Cause], others: list[Probe], arrays: dict[str, np.ndarray],
                          profile: Profile, model: Fit) -> None:
    """Non-RGB probes that only the tensor resize puts outside the tolerance join its cause."""
    cause = next((c for c in causes if c.evidence.get("best_hypothesis") in TENSOR_RESIZES), None)
    if cause is None:
        return
    covered = {name for c in causes for name in c.probes}
    for probe in others:
        y = arrays[probe.name]
        geometry = hyp.geometries(target_size(y, profile.n_px), reference_geometry(profile)).get(
            model.geometry)
        plan = geometry(*probe.size) if geometry and y.shape[0] == 3 else None
        if probe.name in covered or plan is None or (
                plan.box[3] - plan.box[1], plan.box[2] - plan.box[0]) != y.shape[1:]:
            continue
        if (_within_tolerance(probe, y, plan, model, model.interpolation, profile)
                and not _within_tolerance(probe, y, plan, model, profile.interpolation, profile)):
            cause.probes = sorted({*cause.probes, probe.name})


def _dtype_causes(outputs: dict[str, Output], causes: list[Cause],
                  profile: Profile) -> list[Cause]:
    found: dict[str, list[str]] = {}
    for name, output in outputs.items():
        dtype = str(output.notes.get("dtype", "")).replace("torch.", "")
        if dtype and dtype != "float32":
            found.setdefault(dtype, []).append(name)
    if any(c.id == "range.uint8" for c in causes):  # its fix (scale to float) covers the dtype
        found = {d: names for d, names in found.items() if not d.startswith(("uint", "int"))}
    if not found:
        return []
    probes = [name for names in found.values() for name in names]
    return [_cause("dtype", 1.0, {"output_dtypes": sorted(found), "expected": "float32"}, probes,
                   profile)]


def _note_pil_outputs(causes: list[Cause], outputs: dict[str, Output]) -> None:
    """A pipeline that returns PIL images lacks ToTensor and Normalize: say so in its fix."""
    if not any(o.notes.get("type") == "PIL" for o in outputs.values()):
        return
    for cause in causes:
        if cause.id.startswith(("range.", "normalization.")):
            cause.evidence["output_type"] = "PIL image"
            cause.fix = "the pipeline returns a PIL image: end it with ToTensor() and Normalize(...)"


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
    return list(merged.values())


def _impact(cause: Cause) -> float:
    """How much worse the fit gets without this cause, in normalized mean abs units."""
    evidence = cause.evidence
    return evidence.get("mean_abs_vs_reference", 0.0) - evidence.get("mean_abs_under_hypothesis", 0.0)


def _rank(causes: list[Cause], rgb_probes: set[str]) -> list[Cause]:
    def tier(cause: Cause) -> int:
        if cause.id.startswith("mode.") and rgb_probes.intersection(cause.probes):
            return 1  # ordinary RGB images are affected too: not a corner case
        if "max_abs_vs_reference" in cause.evidence and _impact(cause) < EQUIVALENT_MEAN_ABS:
            return ROUNDING_TIER  # within the mean tolerance: only a few pixels break the max
        return TIERS.get(cause.id, 2)

    return sorted(causes, key=lambda c: (tier(c), -_impact(c)))
