"""Resize and crop steps that feed CLIP, with what each one does: the shared view of CG201-CG204."""

from __future__ import annotations

from dataclasses import dataclass

from clipguard.analysis.pipelines import Target, module_model
from clipguard.analysis.steps import Step, interpolation_kinds


@dataclass(frozen=True)
class Resize:
    step: Step
    target: Target
    kinds: frozenset[str] | None  # possible interpolations; None when unreadable


def feeding_resizes(file, kinds=("resize",)) -> list[Resize]:
    """Resize (and optionally crop) steps that feed a CLIP model."""
    model = module_model(file)
    found = []
    for step in model.steps:
        if step.kind not in kinds:
            continue
        target = model.target(step)
        if target is None:
            continue
        read = interpolation_kinds(file, model.flow, step.interpolation, step) if step.kind == "resize" else None
        found.append(Resize(step, target, frozenset(read) if read is not None else None))
    return found


def api_label(step: Step) -> str:
    return {"torchvision": "`Resize`", "cv2": "`cv2.resize`", "albumentations": "albumentations resize",
            "interpolate": "`F.interpolate`", "pil": "PIL `resize`", "open_clip": "open_clip's transform",
            "hf": "the image processor"}.get(step.api, "this resize")
