"""`clipguard check TARGET[:OBJECT]`: the click command.

Importing this module is cheap (click only): numpy, PIL and the checker load inside the command.
"""

from __future__ import annotations

import sys

import click

EXIT_PASS, EXIT_DRIFT, EXIT_CANNOT_RUN = 0, 1, 2
EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT


def _cannot_run(message: str) -> None:
    click.echo(f"clipguard check: error: {message}", err=True)
    sys.exit(EXIT_CANNOT_RUN)


@click.command("check")
@click.argument("target")
@click.option("--model", default=None, metavar="NAME",
              help="Reference profile: ViT-B/32, ViT-L/14@336px, open_clip:MODEL/TAG, or a Hugging "
                   "Face id. Default: inferred from the output size, else ViT-B/32.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--save-diffs", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Write a PNG per failing probe: reference | pipeline | heat map of |diff|.")
@click.option("--probes", "probe_set_name", type=click.Choice(["quick", "full"]), default="full",
              show_default=True, help="quick: about 10 probes; full: about 30.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=120.0,
              show_default=True, metavar="SECONDS",
              help="Give up (exit 2) when importing and running the pipeline takes longer.")
@click.option("--memory-limit", type=click.IntRange(min=256), default=8192, show_default=True,
              metavar="MB", help="Address-space limit of the child process that runs the pipeline.")
def check(target: str, model: str | None, output_format: str, save_diffs: str | None,
          probe_set_name: str, timeout: float, memory_limit: int) -> None:
    """Run the preprocessing pipeline in TARGET (`file.py` or a module, optional `:OBJECT`) on
    probe images and compare it with the model's reference transform.

    Exit status: 0 pass, 1 drift found, 2 could not run (import error, no pipeline, timeout).
    """
    from clipguard.profiles import resolve

    profile = None
    if model is not None:
        profile = resolve(model)
        if profile is None:
            _cannot_run(f"unknown model {model!r}: use an OpenAI name (ViT-B/32, "
                        "ViT-L/14@336px), open_clip:MODEL/TAG, or a Hugging Face id; "
                        "`clipguard profiles` lists them")
    try:
        result = _run(target, profile, probe_set_name, timeout, memory_limit)
    except KeyboardInterrupt:
        click.echo("\nclipguard check: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    from clipguard.check import report

    if output_format == "json":
        click.echo(report.render_json(result), nl=False)
    else:
        click.echo(report.render_text(result), nl=False)
    if save_diffs:
        written = report.save_diffs(result, save_diffs)
        if written and output_format == "text":
            plural = "s" * (len(written) != 1)
            click.echo(f"wrote {len(written)} diff image{plural} to {save_diffs}")
    sys.exit(EXIT_PASS if result.passed else EXIT_DRIFT)


def _run(target, profile, probe_set_name, timeout, memory_limit):
    """Start the child first, so that it imports torch while we make probes and references."""
    from clipguard.check.runner import PipelineRun, RunFailure

    progress = None
    try:
        with PipelineRun(target, timeout=timeout, memory_mb=memory_limit) as run:
            from clipguard.check.evaluate import evaluate, reference_set
            from clipguard.check.probes import probe_set
            from clipguard.check.report import Progress
            from clipguard.profiles import openai

            progress = Progress()
            progress.update(f"importing {target}")
            probes = probe_set(probe_set_name)
            run.send(probes)
            refs = reference_set(probes, profile or openai("ViT-B/32"))
            outcome = run.collect(progress.probe)
        progress.update("comparing with the reference")
        result = evaluate(target, outcome.pipeline, probes, outcome.outputs, profile, refs)
    except RunFailure as failure:
        _cannot_run(str(failure))
    finally:
        if progress is not None:
            progress.close()
    result.captured = outcome.captured
    result.notes = outcome.notes + result.notes
    return result


if __name__ == "__main__":
    check(prog_name="clipguard check")
