"""Call a pipeline on the probes: each probe twice, each run under its own fixed seed.

The two runs tell random augmentation apart from drift; fixing the seeds (Python's `random`,
numpy's global generator, torch's) makes the same input give the same report every time. When
no input form is asked for and the pipeline refuses every PIL probe with a type error, the other
forms are tried on one probe and the first it takes is used for all. Shared by the child process
of `clipguard check` and by `clipguard.testing` (in-process, where RNG states are restored).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from types import FunctionType, ModuleType
from typing import Any

from clipguard.check import inputs
from clipguard.check.adapt import adapt
from clipguard.check.tolerance import EXACT_MAX_ABS
from clipguard.check.types import Output, Probe

SEEDS = (0, 1)  # one per run of a probe
# Exceptions that say "not this type of input": their type, or a message that names a type
# (read_image given a PIL image fails to open the file "<PIL.Image.Image ...>").
REFUSALS = ("TypeError", "AttributeError")
_NAMES_A_TYPE = re.compile(r"PIL|Image|ndarray|[Tt]ensor|\bstr\b|path|type")
RANDOM_STEPS = ("Random", "ColorJitter", "TrivialAugment", "AutoAugment", "RandAugment", "AugMix")
LIBRARIES = (
    "torchvision",
    "transformers",
    "open_clip",
    "timm",
    "PIL",
    "cv2",
    "albumentations",
    "kornia",
    "clip",
    "numpy",
    "torch",
)


def describe(error: BaseException) -> str:
    """One line: the exception's type and the first line of its message."""
    if isinstance(error, SystemExit):
        return f"SystemExit: sys.exit({error.code!r}) was called"
    if isinstance(error, MemoryError):
        return "MemoryError: the memory limit was reached"
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0] if message else ''}".rstrip(": ")


def where(error: BaseException) -> str:
    """Where it raised, as " (file:line)": the innermost frame of the user's own code if any."""
    here = os.path.dirname(__file__)
    frames = [
        f for f in traceback.extract_tb(error.__traceback__) if not f.filename.startswith(here)
    ]
    library = ("site-packages", "dist-packages", os.path.dirname(os.__file__))
    own = [
        f
        for f in frames
        if not any(part in f.filename for part in library) and not f.filename.startswith("<")
    ]
    frame = (own or frames or [None])[-1]
    return f" ({frame.filename}:{frame.lineno})" if frame else ""


@contextlib.contextmanager
def seeded(seed: int, restore: bool) -> Iterator[None]:
    """Seed every global generator the pipeline could draw from; optionally put them back."""
    numpy = sys.modules.get("numpy")
    torch = sys.modules.get("torch")
    saved = (
        random.getstate(),
        numpy.random.get_state() if numpy else None,
        torch.get_rng_state() if torch and hasattr(torch, "get_rng_state") else None,
    )
    random.seed(seed)
    if numpy:
        numpy.random.seed(seed)
    if torch is not None and hasattr(torch, "manual_seed"):
        torch.manual_seed(seed)
    try:
        yield
    finally:
        if restore:
            random.setstate(saved[0])
            if numpy:
                numpy.random.set_state(saved[1])
            if saved[2] is not None:
                torch.set_rng_state(saved[2])


def _once(
    pipeline: Callable,
    probe: Probe,
    form: str,
    folder: str | None,
    seed: int,
    catch: type[BaseException],
    restore: bool,
) -> Output:
    with seeded(seed, restore):
        try:
            value = pipeline(inputs.feed(probe.image, form, probe.name, folder))
        except catch as error:  # a probe's failure is part of the report
            return Output(probe.name, None, error=f"{describe(error)}{where(error)}")
    return adapt(probe.name, value)


def spread(first: Output, second: Output) -> dict[str, Any] | None:
    """How two runs on the same probe differ; None when they agree."""
    if (first.array is None) != (second.array is None):
        return {"errors": [first.error, second.error]}
    if first.array is None:  # both raised; messages may differ by an address, not a verdict
        return None
    if first.array.shape != second.array.shape:
        return {"shapes": [list(first.array.shape), list(second.array.shape)]}
    import numpy as np

    diff = np.abs(first.array.astype(np.float64) - second.array)
    diff[np.isnan(first.array) & np.isnan(second.array)] = 0.0
    diff = np.nan_to_num(diff, nan=np.inf)
    if diff.max() <= EXACT_MAX_ABS:
        return None
    return {"max_abs": float(diff.max()), "mean_abs": float(diff.mean())}


def run_probe(
    pipeline: Callable,
    probe: Probe,
    form: str = inputs.PIL,
    folder: str | None = None,
    catch: type[BaseException] = Exception,
    restore: bool = False,
) -> Output:
    """The Output of the first run, with `rerun` set when the second run differs."""
    reason = inputs.unsupported(probe.mode, form)
    if reason is not None:
        return Output(probe.name, None, skipped=f"{reason} ({inputs.DESCRIPTIONS[form]} input)")
    first, second = (_once(pipeline, probe, form, folder, seed, catch, restore) for seed in SEEDS)
    first.rerun = spread(first, second)
    return first


def _passed_through(output: Output, probe: Probe, form: str, folder: str | None) -> bool:
    """Whether the pipeline returned its input untouched (as torchvision v2 does with types it
    does not know): that form was not taken."""
    import numpy as np

    fed = adapt(probe.name, inputs.feed(probe.image, form, probe.name, folder))
    return (
        fed.array is not None
        and fed.array.shape == output.array.shape
        and bool(np.array_equal(fed.array, output.array))
    )


def _refused(output: Output) -> bool:
    error = output.error or ""
    return output.skipped is None and bool(
        error.startswith(REFUSALS) or _NAMES_A_TYPE.search(error.partition(":")[2])
    )


def run_probes(
    pipeline: Callable,
    probes: list[Probe],
    form: str | None,
    folder: str | None,
    send: Callable[..., None],
    catch: type[BaseException] = Exception,
    restore: bool = False,
) -> str:
    """Run every probe, reporting through `send`: ("start", name), ("output", Output) and, when
    the pipeline took another form than PIL, ("input", form, why) before the probes again.
    Returns the form used."""
    chosen = form or inputs.PIL
    outputs = []
    for probe in probes:
        send("start", probe.name)
        outputs.append(run_probe(pipeline, probe, chosen, folder, catch, restore))
        send("output", outputs[-1])
    if form is not None or not outputs or not all(_refused(o) for o in outputs):
        return chosen
    trial = next((p for p in probes if p.mode == "RGB"), probes[0])
    for alternative in inputs.FALLBACKS:
        output = _once(pipeline, trial, alternative, folder, SEEDS[0], catch, restore)
        if output.array is not None and not _passed_through(output, trial, alternative, folder):
            refusal = next(o.error for o in outputs if o.error)
            send("input", alternative, refusal)
            for probe in probes:
                send("start", probe.name)
                send("output", run_probe(pipeline, probe, alternative, folder, catch, restore))
            return alternative
    return chosen


def _library(value: Any) -> str | None:
    if isinstance(value, ModuleType):
        module = value.__name__
    elif isinstance(value, (FunctionType, type)):
        module = value.__module__
    else:
        module = type(value).__module__
    root = module.split(".")[0] if isinstance(module, str) else ""
    return root if root in LIBRARIES else None


def _parts(value: Any, depth: int = 0) -> Iterator[Any]:
    """The object, the steps of a Compose-like object, and the globals a function uses."""
    yield value
    if depth > 3 or isinstance(value, ModuleType):
        return
    steps = getattr(value, "transforms", None)
    if isinstance(steps, (list, tuple)):
        for step in steps:
            yield from _parts(step, depth + 1)
    code, names = getattr(value, "__code__", None), getattr(value, "__globals__", {})
    for name in code.co_names if code is not None else ():
        if name in names:
            yield from _parts(names[name], depth + 1)


def describe_pipeline(pipeline: Any) -> dict[str, list[str]]:
    """The image libraries a pipeline is built from, and its steps whose names say random."""
    libraries, random_steps = set(), []
    for part in _parts(pipeline):
        library = _library(part)
        if library:
            libraries.add(library)
        if not isinstance(part, (ModuleType, FunctionType)):
            name = (part if isinstance(part, type) else type(part)).__name__
            if name.startswith(RANDOM_STEPS) and name not in random_steps:
                random_steps.append(name)
    return {"libraries": sorted(libraries), "random_steps": random_steps}
