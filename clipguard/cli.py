"""The `clipguard` command line: lint, check, rule, rules, profiles."""

from __future__ import annotations

import os
import sys

import click

from clipguard import __version__

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _codes(values: tuple[str, ...]) -> tuple[str, ...]:
    """Comma-separated values of a repeatable option, as one tuple."""
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
@click.option(
    "--extend-select", multiple=True, help="Codes or prefixes to enable on top of the selection."
)
@click.option("--ignore", multiple=True, help="Codes or prefixes to disable.")
@click.option("--fix", is_flag=True, help="Apply safe fixes.")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply (with --fix) or show unsafe fixes.")
@click.option("--fix-only", is_flag=True, help="Apply fixes; report nothing else, exit 0.")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff; write nothing.")
@click.option("--show-fixes", is_flag=True, help="List the fixes applied, per file and rule.")
@click.option(
    "--add-noqa", is_flag=True, help="Append `# noqa: CODES` to every line with a finding."
)
@click.option(
    "--output-format",
    type=click.Choice(["text", "json", "sarif", "github"]),
    default="text",
    show_default=True,
)
@click.option(
    "-o", "--output-file", type=click.Path(dir_okay=False), help="Write the report to this file."
)
@click.option("-q", "--quiet", is_flag=True, help="Print the findings and nothing else.")
@click.option("-s", "--silent", is_flag=True, help="Print nothing; the exit code still tells.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings remain.")
@click.option("--statistics", is_flag=True, help="Print counts per rule instead of findings.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the result cache.")
@click.option(
    "--config", "config_file", type=click.Path(), help="A pyproject.toml or clipguard.toml to use."
)
@click.option(
    "--exclude", multiple=True, help="Patterns to skip, replacing `exclude` of the configuration."
)
@click.option("--extend-exclude", multiple=True, help="Patterns to skip on top of `exclude`.")
@click.option(
    "--respect-gitignore/--no-respect-gitignore",
    default=None,
    help="Skip what .gitignore, .ignore and .git/info/exclude exclude (default: yes).",
)
@click.option(
    "--force-exclude",
    is_flag=True,
    help="Apply `exclude` and .gitignore to files named on the command line too.",
)
@click.option(
    "--stdin-filename", type=click.Path(), help="Read the source from stdin, as this file."
)
@click.option(
    "--jobs", type=click.IntRange(min=1), default=None, help="Worker processes (default: CPUs)."
)
def lint(
    paths,
    select,
    extend_select,
    ignore,
    fix,
    unsafe_fixes,
    fix_only,
    diff,
    show_fixes,
    add_noqa,
    output_format,
    output_file,
    quiet,
    silent,
    exit_zero,
    statistics,
    no_cache,
    config_file,
    exclude,
    extend_exclude,
    respect_gitignore,
    force_exclude,
    stdin_filename,
    jobs,
) -> None:
    """Lint PATHS (default: the current directory; `-` reads stdin). Never imports torch."""
    from clipguard.lint.config import ConfigError, build_settings
    from clipguard.lint.discovery import PathError
    from clipguard.lint.engine import LintError
    from clipguard.lint.output import Output

    out = Output(output_file, quiet=quiet, silent=silent)
    stdin = stdin_filename is not None or list(paths) == ["-"]
    if "-" in paths and not stdin:
        _fail("`-` (standard input) cannot be combined with other paths")
    if stdin_filename is not None:
        for other in (p for p in paths if p != "-"):
            out.warn(f"ignoring {other} in favor of standard input")
    if statistics and output_format not in ("text", "json"):
        _fail(f"--statistics supports the text and json formats, not {output_format}")
    if add_noqa and stdin:
        _fail("--add-noqa cannot read from standard input")
    if add_noqa and (fix or fix_only or diff):
        out.warn("--fix is incompatible with --add-noqa; no fixes are applied")
    try:
        settings = build_settings(
            config_file=config_file,
            select=_codes(select),
            extend_select=_codes(extend_select),
            ignore=_codes(ignore),
            fix=(fix or fix_only) and not add_noqa,
            unsafe_fixes=unsafe_fixes,
            exclude=_codes(exclude) if exclude else None,
            extend_exclude=_codes(extend_exclude),
            respect_gitignore=respect_gitignore,
        )
        if add_noqa:
            from clipguard.lint.add_noqa import add_noqa as run_add_noqa

            added, warnings = run_add_noqa(
                list(paths) or ["."],
                settings,
                use_cache=not no_cache,
                jobs=jobs,
                force_exclude=force_exclude,
            )
            out.warnings(warnings)
            if added:
                out.status(f"Added {added} noqa directive{'' if added == 1 else 's'}.")
            sys.exit(EXIT_CLEAN)
        if stdin:
            from clipguard.lint.stdin import lint_stdin

            report, source = lint_stdin(
                sys.stdin.buffer.read(),
                stdin_filename,
                settings,
                diff=diff,
                force_exclude=force_exclude,
            )
            if source is not None:
                out.source(
                    source
                )  # the fixed source or the diff owns stdout; the report goes to stderr
        else:
            from clipguard.lint.engine import lint_paths

            report = lint_paths(
                list(paths) or ["."],
                settings,
                use_cache=not no_cache,
                jobs=jobs,
                diff=diff,
                force_exclude=force_exclude,
            )
    except (ConfigError, PathError, LintError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        click.echo("clipguard: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("CLIPGUARD_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc}")
    out.warnings(report.warnings)
    if diff and not stdin:
        out.report("".join(report.diffs))
    out.show(
        report,
        settings,
        output_format,
        statistics=statistics,
        show_fixes=show_fixes,
        mode="diff" if diff else "fix-only" if fix_only else "lint",
    )
    if exit_zero or fix_only:
        sys.exit(EXIT_CLEAN)
    if diff:
        sys.exit(EXIT_FINDINGS if report.fixed else EXIT_CLEAN)
    sys.exit(EXIT_FINDINGS if report.findings else EXIT_CLEAN)


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
@click.argument("pattern", required=False, default="")
def profiles(pattern: str) -> None:
    """List the model names `check --model` accepts, with their reference preprocessing;
    PATTERN keeps those containing it (case-insensitive)."""
    from clipguard.profiles import PATTERNS, spellings

    wanted = pattern.lower()
    rows = [(name, p) for name, p in spellings() if wanted in name.lower()]
    patterns = [(name, what) for name, what in PATTERNS if wanted in name.lower() or not wanted]
    if not rows and not patterns:
        _fail(f"no profile name contains {pattern!r} (see `clipguard profiles`)")
    width = max(len("name"), *(len(name) for name, _ in rows + patterns))
    click.echo(f"{'name':<{width}}  {'n_px':>4}  {'stats':<8} {'interp':<8} resize")
    for name, p in rows:
        stats, interp = p.normalization, p.interpolation
        click.echo(f"{name:<{width}}  {p.n_px:>4}  {stats:<8} {interp:<8} {p.resize_mode}")
    for name, what in patterns:
        click.echo(f"{name:<{width}}  {what}")


@main.command()
def server() -> None:
    """Run the Language Server on stdin/stdout (needs `pip install 'clipguard[server]'`)."""
    try:
        from clipguard.lint.server import run
    except ImportError as exc:
        _fail(
            f"clipguard server needs pygls ({exc.name} is missing): pip install 'clipguard[server]'"
        )
    run()


try:
    from clipguard.check.command import check as _check
except ImportError:  # pragma: no cover - the runtime checker is optional
    _check = None
if _check is not None:
    main.add_command(_check)
