"""Normalization steps that feed CLIP, with the statistics each one applies, judged once per file."""

from __future__ import annotations

import ast
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

    @property
    def where(self):
        """Where the statistics are written: the mean literal when the step reads one channel
        of it (`(x - self.mean[0]) / self.std[0]`), else the step's mean argument."""
        literals = {id(m.literal): m.literal for m in self.means if m.literal is not None}
        if isinstance(self.step.mean, ast.Subscript) and len(literals) == 1:
            return next(iter(literals.values()))
        return self.step.mean


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
