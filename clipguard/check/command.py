"""`clipguard check TARGET[:OBJECT]`: the click command.

Importing this module is cheap (click only): numpy, PIL and the checker load inside the command.
Whatever goes wrong ends in one line and exit 2 (with `--output-format json`, also a JSON error
object on stdout), never in a traceback; `CLIPGUARD_DEBUG=1` lets internal errors raise.
"""

from __future__ import annotations

import os
import sys

import click

EXIT_PASS, EXIT_DRIFT, EXIT_CANNOT_RUN = 0, 1, 2
EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT
FORMATS = ("text", "json", "github", "junit")
INPUT_FORMS = ("pil", "numpy", "tensor-uint8", "tensor-float", "path")  # clipguard.check.inputs


class CannotRun(Exception):
    """The check cannot be run: a one-line reason."""


def _cannot_run(message: str, output_format: str, target: str) -> None:
    click.echo(f"clipguard check: error: {message}", err=True)
    if output_format != "text":
        from clipguard.check import formats

        click.echo(formats.render_error(output_format, target, message), nl=False)
    sys.exit(EXIT_CANNOT_RUN)


def _cause_ids(values: tuple[str, ...]) -> tuple[str, ...]:
    from clipguard.check.causes import CAUSES

    accepted = tuple(v.strip() for value in values for v in value.split(",") if v.strip())
    unknown = [cause for cause in accepted if cause not in CAUSES]
    if unknown:
        raise CannotRun(
            f"--accept: unknown cause id {', '.join(map(repr, unknown))}; the cause "
            f"ids are {', '.join(CAUSES)}"
        )
    return accepted


@click.command("check")
@click.argument("target")
@click.option(
    "--model",
    default=None,
    metavar="NAME",
    help="Reference profile: ViT-B/32, ViT-L/14@336px, open_clip:MODEL/TAG, or a Hugging "
    "Face id. Default: inferred from the output size, else ViT-B/32.",
)
@click.option(
    "--output-format",
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
)
@click.option(
    "--save-diffs",
    type=click.Path(file_okay=False),
    default=None,
    metavar="DIR",
    help="Write a PNG per failing probe: reference | pipeline | heat map of |diff|.",
)
@click.option(
    "--probes",
    "probe_set_name",
    type=click.Choice(["quick", "full"]),
    default="full",
    show_default=True,
    help="quick: about 10 probes; full: about 30.",
)
@click.option(
    "--input",
    "input_form",
    type=click.Choice(INPUT_FORMS),
    default=None,
    help="Give each probe as this (a path is a PNG in a temporary folder). Default: PIL "
    "images, or the first other form the pipeline takes if it refuses them all.",
)
@click.option(
    "--images",
    type=click.Path(),
    default=None,
    metavar="DIR",
    help="Add the images of DIR as probes, loaded as PIL loads them.",
)
@click.option(
    "--accept",
    multiple=True,
    metavar="CAUSE",
    help="A known drift (cause id, repeatable or comma-separated): listed, but passes.",
)
@click.option(
    "--impact",
    is_flag=False,
    flag_value="auto",
    default=None,
    metavar="[MODEL]",
    help="Report the cosine similarity of reference and pipeline embeddings, with a "
    "CLIP model on this machine: a folder or checkpoint, default the caches.",
)
@click.option(
    "-s",
    "--show-output",
    is_flag=True,
    help="Print what the pipeline prints (on stderr, as it runs).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=120.0,
    show_default=True,
    metavar="SECONDS",
    help="Give up (exit 2) when importing and running the pipeline takes longer.",
)
@click.option(
    "--memory-limit",
    type=click.IntRange(min=256),
    default=8192,
    show_default=True,
    metavar="MB",
    help="Address-space limit of the child process that runs the pipeline.",
)
def check(
    target: str,
    model: str | None,
    output_format: str,
    save_diffs: str | None,
    probe_set_name: str,
    input_form: str | None,
    images: str | None,
    accept: tuple[str, ...],
    impact: str | None,
    show_output: bool,
    timeout: float,
    memory_limit: int,
) -> None:
    """Run the preprocessing pipeline in TARGET (`file.py` or a module, optional `:OBJECT`) on
    probe images and compare it with the model's reference transform.

    Exit status: 0 pass, 1 drift found, 2 could not run (import error, no pipeline, timeout).
    """
    try:
        options = dict(click.get_current_context().params, accept=_cause_ids(accept))
        passed = _check(**options)
    except KeyboardInterrupt:
        click.echo("\nclipguard check: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except CannotRun as failure:
        _cannot_run(str(failure), output_format, target)
    except Exception as error:
        if os.environ.get("CLIPGUARD_DEBUG"):
            raise
        _cannot_run(f"internal error: {type(error).__name__}: {error}", output_format, target)
    sys.exit(EXIT_PASS if passed else EXIT_DRIFT)


def _check(
    target,
    model,
    output_format,
    save_diffs,
    probe_set_name,
    input_form,
    images,
    accept,
    impact,
    show_output,
    timeout,
    memory_limit,
) -> bool:
    from clipguard.profiles import openai, resolve

    profile = None
    if model is not None:
        profile = resolve(model)
        if profile is None:
            raise CannotRun(
                f"unknown model {model!r}: use an OpenAI name (ViT-B/32, "
                "ViT-L/14@336px), open_clip:MODEL/TAG, or a Hugging Face id; "
                "`clipguard profiles` lists them"
            )
    source = None
    if impact is not None:
        from clipguard.check.impact import ImpactError, locate

        try:
            source = locate(impact, profile or openai("ViT-B/32"))
        except ImpactError as error:
            raise CannotRun(str(error)) from None
    extra, notes = [], []
    if images is not None:
        from clipguard.check.probes import user_images

        try:
            extra, notes = user_images(images)
        except ValueError as error:
            raise CannotRun(str(error)) from None
    result = _run(
        target,
        profile,
        probe_set_name,
        extra,
        input_form,
        accept,
        show_output,
        timeout,
        memory_limit,
    )
    result.notes = notes + result.notes
    if source is not None:
        from clipguard.check.impact import measure

        outputs = {name: output.array for name, output in result.outputs.items()}
        result.impact = measure(source, result.references, outputs)
    written = []
    if save_diffs:  # before the report: a failure here must leave stdout clean
        from clipguard.check.diffs import save_diffs as write

        written = write(result, save_diffs)
    from clipguard.check import formats

    click.echo(formats.render(output_format, result), nl=False)
    if written and output_format == "text":
        plural = "s" * (len(written) != 1)
        click.echo(f"wrote {len(written)} diff image{plural} to {save_diffs}")
    return result.passed


def _run(
    target, profile, probe_set_name, extra, input_form, accept, show_output, timeout, memory_limit
):
    """Start the child first, so that it imports torch while we make probes and references."""
    from clipguard.check.runner import PipelineRun, RunFailure

    progress = None
    echo = sys.stderr if show_output else None
    try:
        with PipelineRun(
            target, timeout=timeout, memory_mb=memory_limit, input_form=input_form, echo=echo
        ) as run:
            from clipguard.check.evaluate import evaluate, reference_set
            from clipguard.check.probes import probe_set
            from clipguard.check.report import Progress
            from clipguard.profiles import openai

            progress = Progress(enabled=not show_output)
            progress.update(f"importing {target}")
            probes = probe_set(probe_set_name) + extra
            refs = reference_set(probes, profile or openai("ViT-B/32"))
            probes = [p for p in probes if p.name not in refs.skipped]
            run.send(probes)
            outcome = run.collect(progress.probe)
        progress.update("comparing with the reference")
        result = evaluate(target, outcome, probes, profile, refs, accept)
    except RunFailure as failure:
        raise CannotRun(str(failure)) from None
    finally:
        if progress is not None:
            progress.close()
    result.skipped = {**refs.skipped, **result.skipped}
    result.notes = outcome.notes + result.notes
    return result


if __name__ == "__main__":
    check(prog_name="clipguard check")
