"""From outputs to a verdict: references, comparisons, the diagnosis and what it leaves
unexplained, shared by the CLI and `clipguard.testing`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from clipguard.check.causes import CAUSES
from clipguard.check.compare import compare, peak_for
from clipguard.check.reference import reference
from clipguard.check.types import (
    DRIFT,
    ERROR,
    SHAPE,
    Cause,
    Comparison,
    Output,
    Probe,
    RunResult,
)
from clipguard.profiles import OPENAI_MODELS, Profile, openai

DEFAULT_MODEL = "ViT-B/32"
# The OpenAI model a square output of each size points to (resolutions: openai/CLIP `clip.py`).
MODEL_FOR_SIZE = {
    224: "ViT-B/32",
    288: "RN50x4",
    336: "ViT-L/14@336px",
    384: "RN50x16",
    448: "RN50x64",
}
assert all(OPENAI_MODELS[name] == n_px for n_px, name in MODEL_FOR_SIZE.items())
FAILING = (DRIFT, SHAPE, ERROR)


@dataclass
class CheckResult:
    """Everything a report needs about one checked pipeline."""

    target: str
    run: RunResult
    profile: Profile
    inferred: str | None  # why the model was chosen when --model was not given
    probes: list[Probe]  # the probes compared (skipped ones are in `skipped`)
    references: dict[str, Any]
    comparisons: list[Comparison]
    causes: list[Cause]
    unexplained: list[Comparison] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # probe -> why it was not compared
    suggestion: dict[str, Any] | None = None  # a profile the outputs match much better
    impact: dict[str, Any] | None = None  # embedding cosines (`--impact`)
    notes: list[str] = field(default_factory=list)

    @property
    def pipeline(self) -> str:
        return self.run.pipeline

    @property
    def outputs(self) -> dict[str, Output]:
        return self.run.outputs

    @property
    def captured(self) -> str:
        return self.run.captured

    @property
    def failing(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.status in FAILING]

    @property
    def passed(self) -> bool:
        """No failing probe and no cause, but what `--accept` accepted."""
        return not self.unexplained and all(cause.accepted for cause in self.causes)


def infer_profile(outputs: dict[str, Output]) -> tuple[Profile, str]:
    """The OpenAI profile whose resolution the outputs have; ViT-B/32 when none fits."""
    sizes = Counter(
        o.array.shape[-1]
        for o in outputs.values()
        if o.array is not None and o.array.ndim >= 2 and o.array.shape[-1] == o.array.shape[-2]
    )
    for n_px, _ in sizes.most_common():
        if n_px in MODEL_FOR_SIZE:
            return openai(MODEL_FOR_SIZE[n_px]), f"inferred from the {n_px}x{n_px} output"
    return openai(DEFAULT_MODEL), "the default: no output size names a model"


def diagnose_safely(
    probes: list[Probe],
    outputs: dict[str, Output],
    refs: dict[str, Any],
    profile: Profile,
    description: dict[str, Any],
    notes: list[str],
) -> list[Cause]:
    """The diagnosis, or no causes (with a note) when it fails."""
    from clipguard.check.diagnose import diagnose

    try:
        return list(diagnose(probes, outputs, refs, profile, description))
    except Exception as error:  # noqa: BLE001 - a diagnosis bug must not hide the comparison
        notes.append(f"the diagnosis failed ({type(error).__name__}: {error})")
        return []


def _library_note(probe: Probe, error: Exception) -> str:
    import PIL

    return (
        f"{probe.mode} probe skipped: the installed Pillow {PIL.__version__} cannot process "
        f"it as the reference does ({type(error).__name__}: {error})"
    )


@dataclass(frozen=True)
class ReferenceSet:
    """Reference arrays of one probe set under one profile, and the probes it had to skip."""

    profile: Profile
    arrays: dict[str, Any]
    skipped: dict[str, str] = field(default_factory=dict)


def reference_set(probes: list[Probe], profile: Profile) -> ReferenceSet:
    """Compute the references of a probe set once; a probe the installed libraries cannot
    process as the reference would (e.g. I;16 on Pillow 10) is skipped with the reason."""
    arrays, skipped = {}, {}
    for probe in probes:
        try:
            arrays[probe.name] = reference(probe.image, profile)
        except (ValueError, OSError, TypeError, KeyError, NotImplementedError) as error:
            skipped[probe.name] = _library_note(probe, error)
    return ReferenceSet(profile, arrays, skipped)


def _explained(causes: list[Cause]) -> set[str]:
    return {name for cause in causes for name in cause.probes}


def evaluate(
    target: str,
    run: RunResult,
    probes: list[Probe],
    profile: Profile | None,
    refs: ReferenceSet | None = None,
    accept: tuple[str, ...] = (),
) -> CheckResult:
    """Compare every probe with the reference and, on drift, diagnose the causes.

    `profile` None means infer it from the outputs; `refs` are reused when they were computed for
    the profile finally chosen (the caller may have computed them while the pipeline ran).
    Causes named in `accept` are listed but do not fail the check.
    """
    unknown = sorted(set(accept) - set(CAUSES))
    if unknown:
        raise ValueError(f"unknown cause id {', '.join(unknown)}")
    skipped = {
        p.name: run.outputs[p.name].skipped
        for p in probes
        if p.name in run.outputs and run.outputs[p.name].skipped
    }
    inferred = None
    if profile is None:
        profile, inferred = infer_profile(run.outputs)
    if refs is None or refs.profile != profile:
        refs = reference_set([p for p in probes if p.name not in skipped], profile)
    skipped.update(refs.skipped)
    probes = [p for p in probes if p.name not in skipped and p.name in refs.arrays]
    arrays = refs.arrays
    peak = peak_for(profile)
    missing = Output("", None, error="not run")
    comparisons = [
        compare(p, run.outputs.get(p.name) or missing, arrays[p.name], peak) for p in probes
    ]
    notes: list[str] = []
    varied = any(run.outputs.get(p.name) and run.outputs[p.name].rerun for p in probes)
    causes = []
    if varied or any(c.status in FAILING for c in comparisons):
        causes = diagnose_safely(probes, run.outputs, arrays, profile, run.description, notes)
    for cause in causes:
        cause.accepted = cause.id in accept
    explained = _explained(causes)
    unexplained = [c for c in comparisons if c.status in FAILING and c.probe not in explained]
    result = CheckResult(
        target,
        run,
        profile,
        inferred,
        probes,
        arrays,
        comparisons,
        causes,
        unexplained,
        skipped,
        notes=notes,
    )
    if not result.passed:
        from clipguard.check.alternatives import better_profile

        outputs = {
            p.name: run.outputs[p.name].array
            for p in probes
            if run.outputs.get(p.name) and run.outputs[p.name].array is not None
        }
        try:
            result.suggestion = better_profile(probes, _squeezed(outputs), profile)
        except Exception as error:  # noqa: BLE001 - a hint must not hide the verdict
            notes.append(f"the profile search failed ({type(error).__name__}: {error})")
    return result


def _squeezed(arrays: dict[str, Any]) -> dict[str, Any]:
    """Arrays without a batch dimension of one."""
    return {name: a[0] if a.ndim == 4 and a.shape[0] == 1 else a for name, a in arrays.items()}


def processable(probes: list[Probe], profile: Profile | None = None) -> list[Probe]:
    """The probes the installed libraries can process as the reference does."""
    skipped = reference_set(probes, profile or openai(DEFAULT_MODEL)).skipped
    return [p for p in probes if p.name not in skipped]
