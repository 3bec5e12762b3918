"""`clipguard check` inside a user's own test suite.

    from clipguard.testing import assert_matches_reference

    def test_preprocess_matches_clip():
        assert_matches_reference(my_preprocess, model="ViT-B/32")

Runs in-process (pytest already isolates the test); probes and references are computed once per
process and reused across calls.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

__all__ = ["assert_matches_reference", "check_pipeline"]


@cache
def _references(probes: str, profile):
    from clipguard.check.evaluate import reference_set
    from clipguard.check.probes import probe_set

    probe_list = probe_set(probes)
    return probe_list, reference_set(probe_list, profile)


def _profile(model: str):
    from clipguard.profiles import resolve

    profile = resolve(model)
    if profile is None:
        raise ValueError(f"unknown model {model!r}: use an OpenAI name (ViT-B/32), "
                         "open_clip:MODEL/TAG, or a Hugging Face id")
    return profile


def check_pipeline(pipeline: Callable[[Any], Any], model: str = "ViT-B/32",
                   probes: str = "quick"):
    """Run `pipeline` on the probes and compare it with `model`'s reference: a CheckResult."""
    from clipguard.check.adapt import adapt
    from clipguard.check.evaluate import evaluate
    from clipguard.check.types import Output

    profile = _profile(model)
    probe_list, refs = _references(probes, profile)
    outputs = {}
    for probe in probe_list:
        try:  # a copy: the pipeline may change the image in place
            value = pipeline(probe.image.copy())
        except Exception as error:  # noqa: BLE001 - a probe's failure is part of the report
            outputs[probe.name] = Output(probe.name, None, error=f"{type(error).__name__}: {error}")
            continue
        outputs[probe.name] = adapt(probe.name, value)
    name = getattr(pipeline, "__qualname__", None) or type(pipeline).__name__
    return evaluate(name, name, probe_list, outputs, profile, refs)


def assert_matches_reference(pipeline: Callable[[Any], Any], model: str = "ViT-B/32",
                             probes: str = "quick") -> None:
    """Fail with a readable message unless `pipeline` matches `model`'s reference transform.

    `probes` is "quick" (about 10 images) or "full" (about 30). Within one 8-bit step (DESIGN's
    tolerance) counts as a match.
    """
    __tracebackhide__ = True  # pytest: show the user's line, not ours
    from clipguard.check.report import failure_message

    result = check_pipeline(pipeline, model, probes)
    if not result.passed:
        raise AssertionError(failure_message(result))
