"""Normalization steps judged once per file: which statistics each one applies, and to what."""

from __future__ import annotations

from dataclasses import dataclass

from clipguard.analysis.constants import Evaluator, Value, judge
from clipguard.analysis.pipelines import Target, module_model
from clipguard.analysis.steps import Step


@dataclass(frozen=True)
class Judged:
    step: Step
    verdict: str  # imagenet | clip | half | none | near-clip | other
    means: list[Value]
    stds: list[Value]
    target: Target
    switched: bool  # in a branch chosen by the model's identity


def judged_steps(file) -> list[Judged]:
    """Normalization steps that feed CLIP and whose statistics can be read, with a verdict."""
    return file.memo("clipguard.normalization", _judge_all)


def _judge_all(file) -> list[Judged]:
    model = module_model(file)
    evaluator = Evaluator(file, model.flow)
    found = []
    for step in model.steps:
        if step.kind != "normalize" or step.mean is None or step.std is None:
            continue
        means, stds = evaluator.values(step.mean), evaluator.values(step.std)
        if not means or not stds or None in means or None in stds:
            continue
        verdicts = {judge(m.values, s.values) for m in means for s in stds}
        if len(verdicts) != 1:
            continue  # a switch between statistics: each branch is somebody's right answer
        target = model.target(step, in_switch=True)
        if target is None:
            continue
        found.append(Judged(step, verdicts.pop(), means, stds, target, model.in_switch(step.node)))
    return found
