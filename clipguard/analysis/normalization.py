"""Normalization steps that feed CLIP, with the statistics each one applies, judged once per file."""

from __future__ import annotations

from dataclasses import dataclass

from clipguard.analysis.encoders import Consumer
from clipguard.analysis.flow import flow_of
from clipguard.analysis.preprocessing import fed_steps
from clipguard.analysis.statistics import Evaluator, Statistic, judge
from clipguard.analysis.steps import Step


@dataclass(frozen=True)
class Judged:
    step: Step
    verdict: str  # imagenet | clip | half | none | near-clip | other
    means: list[Statistic]
    stds: list[Statistic]
    consumer: Consumer
    switched: bool  # in a branch chosen by the model's identity


def judged_steps(file) -> list[Judged]:
    """Normalization steps that feed CLIP and whose statistics can be read, with a verdict."""
    return file.memo("clipguard.normalization", _judge_all)


def _judge_all(file) -> list[Judged]:
    evaluator = Evaluator(file, flow_of(file))
    found = []
    for fed in fed_steps(file):
        step = fed.step
        if step.kind != "normalize" or step.mean is None or step.std is None:
            continue
        means, stds = evaluator.values(step.mean), evaluator.values(step.std)
        if not means or not stds or None in means or None in stds:
            continue
        verdicts = {judge(m.values, s.values) for m in means for s in stds}
        if len(verdicts) != 1:
            continue  # a switch between statistics: each branch is somebody's right answer
        found.append(Judged(step, verdicts.pop(), means, stds, fed.consumer, fed.switched))
    return found
