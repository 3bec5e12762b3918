"""The `clipguard` command line: lint, check, rule, rules, profiles."""

from __future__ import annotations

import os
import sys

import click

from clipguard import __version__

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _codes(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(code.strip() for value in values for code in value.split(",") if code.strip())


def _fail(message: str) -> None:
    click.echo(f"clipguard: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="clipguard")
def main() -> None:
    """Find CLIP preprocessing and similarity mistakes, statically (lint) or at run time (check)."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--select", multiple=True, help="Rule codes or prefixes to enable (CG1, CG301, ALL).")
@click.option("--extend-select", multiple=True, help="Codes or prefixes to enable on top of the selection.")
@click.option("--ignore", multiple=True, help="Codes or prefixes to disable.")
@click.option("--fix", is_flag=True, help="Apply safe fixes.")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply (with --fix) or show unsafe fixes.")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff; write nothing.")
@click.option("--output-format", type=click.Choice(["text", "json", "sarif", "github"]), default="text",
              show_default=True)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings remain.")
@click.option("--statistics", is_flag=True, help="Print counts per rule instead of findings.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the result cache.")
@click.option("--config", "config_file", type=click.Path(), help="A pyproject.toml or clipguard.toml to use.")
@click.option("--force-exclude", is_flag=True, help="Apply `exclude` to files named on the command line too.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Worker processes (default: CPUs).")
def lint(paths, select, extend_select, ignore, fix, unsafe_fixes, diff, output_format, exit_zero,
         statistics, no_cache, config_file, force_exclude, jobs) -> None:
    """Lint PATHS (default: the current directory). Never imports torch."""
    from clipguard.lint.config import ConfigError, build_settings
    from clipguard.lint.discovery import PathError
    from clipguard.lint.engine import LintError, lint_paths
    from clipguard.lint.reporters import renderer
    from clipguard.lint.reporters.text import statistics as render_statistics

    try:
        settings = build_settings(config_file=config_file, select=_codes(select),
                                  extend_select=_codes(extend_select), ignore=_codes(ignore),
                                  fix=fix, unsafe_fixes=unsafe_fixes)
        report = lint_paths(list(paths) or ["."], settings, use_cache=not no_cache, jobs=jobs, diff=diff,
                            force_exclude=force_exclude)
    except (ConfigError, PathError, LintError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        click.echo("clipguard: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("CLIPGUARD_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc}")
    for warning in report.warnings:
        click.echo(f"clipguard: warning: {warning}", err=True)
    if diff:
        click.echo("".join(report.diffs), nl=False)
        noun = "fix" if report.fixed == 1 else "fixes"
        click.echo(f"Would apply {report.fixed} {noun}." if report.fixed else "No fixes available.", err=True)
        sys.exit(EXIT_FINDINGS if report.fixed and not exit_zero else EXIT_CLEAN)
    if statistics:
        click.echo(render_statistics(report, settings), nl=False)
    else:
        click.echo(renderer(output_format)(report, settings), nl=False)
    sys.exit(EXIT_FINDINGS if report.findings and not exit_zero else EXIT_CLEAN)


@main.command()
@click.argument("code")
def rule(code: str) -> None:
    """Print the page of rule CODE (for example CG101)."""
    from clipguard.pages import page
    from clipguard.rules import rule_by_code

    text = page(code) if rule_by_code(code) else None
    if text is None:
        _fail(f"unknown rule '{code}' (see `clipguard rules`)")
    click.echo(text, nl=False)


@main.command()
def rules() -> None:
    """List every rule: code, name, fix availability, summary."""
    from clipguard.lint.config import OPT_IN_PREFIX
    from clipguard.rules import all_rules

    for r in all_rules():
        fix = {"safe": "fix", "unsafe": "unsafe fix"}.get(r.fix_applicability or "", "")
        opt = " (opt-in)" if r.code.startswith(OPT_IN_PREFIX) else ""
        click.echo(f"{r.code}  {r.name:<34} {fix:<11} {r.summary or r.message}{opt}")


@main.command()
def profiles() -> None:
    """List the reference preprocessing profiles `check --model` accepts."""
    from clipguard.profiles import all_profiles

    click.echo(f"{'profile':<58} {'n_px':>4}  {'stats':<8} {'interp':<8} resize")
    for p in all_profiles():
        click.echo(f"{p.name:<58} {p.n_px:>4}  {p.normalization:<8} {p.interpolation:<8} {p.resize_mode}")


try:
    from clipguard.check.command import check as _check
except ImportError:  # pragma: no cover - the runtime checker is optional
    _check = None
if _check is not None:
    main.add_command(_check)
