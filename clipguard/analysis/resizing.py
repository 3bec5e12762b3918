"""Resize and crop steps that feed CLIP, with what each one does: the shared view of CG201-CG204."""

from __future__ import annotations

from dataclasses import dataclass

from clipguard.analysis.encoders import Consumer
from clipguard.analysis.flow import flow_of
from clipguard.analysis.preprocessing import fed_steps
from clipguard.analysis.steps import Step, interpolation_kinds


@dataclass(frozen=True)
class Resize:
    step: Step
    consumer: Consumer
    kinds: frozenset[str] | None  # possible interpolations; None when unreadable
    after: frozenset[str]  # what the path does after this step (`resize`: resized again)


def feeding_resizes(file, kinds=("resize",)) -> list[Resize]:
    """Resize (and optionally crop) steps that feed a CLIP model, outside model switches."""
    flow = flow_of(file)
    found = []
    for fed in fed_steps(file):
        step = fed.step
        if step.kind not in kinds or fed.switched:
            continue
        read = (
            interpolation_kinds(file, flow, step.interpolation, step)
            if step.kind == "resize"
            else None
        )
        found.append(
            Resize(step, fed.consumer, frozenset(read) if read is not None else None, fed.after)
        )
    return found


def api_label(step: Step) -> str:
    return {
        "torchvision": "`Resize`",
        "cv2": "`cv2.resize`",
        "albumentations": "albumentations resize",
        "interpolate": "`F.interpolate`",
        "pil": "PIL `resize`",
        "open_clip": "open_clip's transform",
        "hf": "the image processor",
    }.get(step.api, "this resize")
