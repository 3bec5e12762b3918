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
        raise ValueError(
            f"unknown model {model!r}: use an OpenAI name (ViT-B/32), "
            "open_clip:MODEL/TAG, or a Hugging Face id"
        )
    return profile


def check_pipeline(
    pipeline: Callable[[Any], Any],
    model: str = "ViT-B/32",
    probes: str = "quick",
    input: str | None = None,
    accept: tuple[str, ...] = (),
):
    """Run `pipeline` on the probes and compare it with `model`'s reference: a CheckResult.

    `input` is the form each probe is given in (see `clipguard check --input`); None means PIL
    images, or the first other form the pipeline takes when it refuses them all. `accept` names
    cause ids that are known drift, as `--accept` does.
    """
    import tempfile

    from clipguard.check.evaluate import evaluate
    from clipguard.check.execute import describe_pipeline, run_probes
    from clipguard.check.types import RunResult

    profile = _profile(model)
    probe_list, refs = _references(probes, profile)
    run = RunResult(type(pipeline).__name__, {}, description=describe_pipeline(pipeline))
    run.pipeline = getattr(pipeline, "__qualname__", None) or run.pipeline

    def receive(kind: str, *message) -> None:
        if kind == "output":
            run.outputs[message[0].probe] = message[0]
        elif kind == "input":
            run.input_form, run.refusal = message
            run.outputs.clear()

    with tempfile.TemporaryDirectory(prefix="clipguard-probes-") as folder:
        run.input_form = run_probes(pipeline, probe_list, input, folder, receive, restore=True)
    return evaluate(run.pipeline, run, probe_list, profile, refs, tuple(accept))


def assert_matches_reference(
    pipeline: Callable[[Any], Any],
    model: str = "ViT-B/32",
    probes: str = "quick",
    accept: tuple[str, ...] = (),
) -> None:
    """Fail with a readable message unless `pipeline` matches `model`'s reference transform.

    `probes` is "quick" (about 10 images) or "full" (about 30). Within one 8-bit step (the
    tolerance of docs/design.md) counts as a match; so does drift by the causes in `accept`.
    """
    __tracebackhide__ = True  # pytest: show the user's line, not ours
    from clipguard.check.report import failure_message

    result = check_pipeline(pipeline, model, probes, accept=accept)
    if not result.passed:
        raise AssertionError(failure_message(result))
