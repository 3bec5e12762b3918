"""The records passed between the runner, the comparison, the diagnosis and the reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Probe statuses, worst last.
EXACT, EQUIVALENT, DRIFT, SHAPE, ERROR = "exact", "equivalent", "drift", "shape", "error"


@dataclass
class Probe:
    """One input image: a PIL image plus what it is meant to reveal."""

    name: str
    image: Any  # PIL.Image.Image
    purpose: str = ""

    @property
    def mode(self) -> str:
        return self.image.mode

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size  # (width, height), as PIL gives it


@dataclass
class Output:
    """What the pipeline returned for one probe, adapted to a float32 CHW numpy array.

    `notes` records how it was adapted, for the diagnosis: e.g. {"layout": "hwc"},
    {"dtype": "uint8"}, {"batch": 1}, {"container": "pixel_values"}, {"type": "PIL"}.
    """

    probe: str
    array: Any | None  # numpy float32 (C, H, W), or None on error
    error: str | None = None  # "ValueError: ..." when the pipeline raised
    notes: dict[str, Any] = field(default_factory=dict)
    rerun: dict[str, Any] | None = None  # how a second run on the same probe differed, if it did
    skipped: str | None = None  # why the probe could not be given to the pipeline at all


@dataclass
class Comparison:
    probe: str
    mode: str
    size: tuple[int, int]
    status: str
    max_abs: float | None = None
    mean_abs: float | None = None
    psnr: float | None = None
    shape: tuple[int, ...] | None = None
    reference_shape: tuple[int, ...] | None = None
    error: str | None = None


@dataclass
class Cause:
    """One named reason for drift, with the numbers that support it."""

    id: str  # a cause id of clipguard.check.causes (docs/design.md), e.g. "normalization.imagenet"
    confidence: float  # 0..1
    evidence: dict[str, Any]
    probes: list[str]
    fix: str = ""  # a suggestion in the user's terms
    accepted: bool = False  # named with --accept: listed, but does not fail the check

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "confidence": round(self.confidence, 3),
            "evidence": self.evidence,
            "probes": self.probes,
            "fix": self.fix,
            "accepted": self.accepted,
        }


@dataclass
class RunResult:
    """What running the pipeline produced: its name, an Output per probe, captured prints."""

    pipeline: str
    outputs: dict[str, Output]
    captured: str = ""
    restarts: int = 0
    notes: list[str] = field(default_factory=list)
    description: dict[str, Any] = field(default_factory=dict)  # execute.describe_pipeline
    input_form: str = "pil"
    refusal: str | None = None  # the error that made the run fall back from PIL input
