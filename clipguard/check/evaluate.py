"""From outputs to a verdict: references, comparisons and the diagnosis, shared by the CLI
and `clipguard.testing`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from clipguard.check.compare import compare, passed, peak_for
from clipguard.check.reference import references
from clipguard.check.types import Cause, Comparison, Output, Probe
from clipguard.profiles import OPENAI_MODELS, Profile, openai

DEFAULT_MODEL = "ViT-B/32"
# The OpenAI model a square output of each size points to (resolutions: openai/CLIP `clip.py`).
MODEL_FOR_SIZE = {224: "ViT-B/32", 288: "RN50x4", 336: "ViT-L/14@336px", 384: "RN50x16",
                  448: "RN50x64"}
assert all(OPENAI_MODELS[name] == n_px for n_px, name in MODEL_FOR_SIZE.items())


@dataclass
class CheckResult:
    """Everything a report needs about one checked pipeline."""

    target: str
    pipeline: str
    profile: Profile
    inferred: str | None  # why the model was chosen when --model was not given
    probes: list[Probe]
    outputs: dict[str, Output]
    references: dict[str, Any]
    comparisons: list[Comparison]
    causes: list[Cause]
    captured: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return passed(self.comparisons)


def infer_profile(outputs: dict[str, Output]) -> tuple[Profile, str]:
    """The OpenAI profile whose resolution the outputs have; ViT-B/32 when none fits."""
    sizes = Counter(o.array.shape[-1] for o in outputs.values()
                    if o.array is not None and o.array.ndim >= 2
                    and o.array.shape[-1] == o.array.shape[-2])
    for n_px, _ in sizes.most_common():
        if n_px in MODEL_FOR_SIZE:
            return openai(MODEL_FOR_SIZE[n_px]), f"inferred from the {n_px}x{n_px} output"
    return openai(DEFAULT_MODEL), "the default: no output size names a model"


def diagnose_safely(probes: list[Probe], outputs: dict[str, Output], refs: dict[str, Any],
                    profile: Profile, notes: list[str]) -> list[Cause]:
    """The diagnosis, or no causes (with a note) when it is missing or fails."""
    try:
        from clipguard.check.diagnose import diagnose
    except ImportError:
        return []
    try:
        return list(diagnose(probes, outputs, refs, profile))
    except Exception as error:  # noqa: BLE001 - a diagnosis bug must not hide the comparison
        notes.append(f"the diagnosis failed ({type(error).__name__}: {error})")
        return []


@dataclass(frozen=True)
class ReferenceSet:
    """Reference arrays of one probe set under one profile."""

    profile: Profile
    arrays: dict[str, Any]


def reference_set(probes: list[Probe], profile: Profile) -> ReferenceSet:
    """Compute the references of a probe set once."""
    return ReferenceSet(profile, references(probes, profile))


def evaluate(target: str, pipeline: str, probes: list[Probe], outputs: dict[str, Output],
             profile: Profile | None, refs: ReferenceSet | None = None) -> CheckResult:
    """Compare every probe with the reference and, on drift, diagnose the causes.

    `profile` None means infer it from the outputs; `refs` are reused when they were computed for
    the profile finally chosen (the caller may have computed them while the pipeline ran).
    """
    inferred = None
    if profile is None:
        profile, inferred = infer_profile(outputs)
    if refs is None or refs.profile != profile:
        refs = reference_set(probes, profile)
    arrays = refs.arrays
    peak = peak_for(profile)
    comparisons = [compare(p, outputs.get(p.name) or Output(p.name, None, error="not run"),
                           arrays[p.name], peak) for p in probes]
    notes: list[str] = []
    causes = [] if passed(comparisons) else diagnose_safely(probes, outputs, arrays, profile, notes)
    return CheckResult(target, pipeline, profile, inferred, probes, outputs, arrays, comparisons,
                       causes, notes=notes)

