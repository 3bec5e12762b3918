"""Where `clipguard lint` prints, as ruff does: the report to stdout or `--output-file` (plain
there, coloured on a terminal), warnings and status lines to stderr; `-q` keeps only the
findings, `-s` prints nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from clipguard.lint.config import Settings
from clipguard.lint.report import Report
from clipguard.lint.reporters import renderer
from clipguard.lint.reporters import text as text_format


class Output:
    def __init__(self, file: str | None, *, quiet: bool = False, silent: bool = False) -> None:
        self.file = file
        self.quiet = quiet or silent
        self.silent = silent
        self.to_stderr = False  # stdin with --fix or --diff: the source owns stdout
        self.parts: list[str] = []

    def warn(self, message: str) -> None:
        self.status(f"clipguard: warning: {message}")

    def warnings(self, messages: list[str]) -> None:
        for message in messages:
            self.warn(message)

    def status(self, line: str) -> None:
        if not self.quiet and line:
            click.echo(line, err=True)

    def source(self, data: bytes) -> None:
        """Standard input's fixed source (or its diff), which goes to stdout even when silent."""
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        self.to_stderr = True

    def report(self, text: str) -> None:
        if not self.silent:
            self.parts.append(text)

    def show(
        self,
        report: Report,
        settings: Settings,
        output_format: str,
        *,
        statistics: bool,
        show_fixes: bool,
        mode: str,
    ) -> None:
        """Render `report` for `mode` (lint, diff or fix-only) and write it where it goes."""
        stream = sys.stderr if self.to_stderr else sys.stdout
        style = text_format.Style(self.file is None and text_format.color_enabled(stream))
        fixes = show_fixes and report.fixes and output_format == "text"
        if mode == "diff":  # the diff is the report; what it would fix is a status line
            if fixes:
                self.status(text_format.fix_summary(report, style))
            self.status(text_format.fixing_summary(report, settings, applied=False))
        elif mode == "fix-only":  # ruff prints no findings then, only what was fixed
            if output_format == "text":
                self.report(text_format.fix_summary(report, style) + "\n" if fixes else "")
                if not self.quiet:
                    line = text_format.fixing_summary(report, settings, applied=True)
                    self.report(line + "\n" if line else "")
        elif statistics:
            if output_format == "json":
                from clipguard.lint.reporters.json_format import statistics as json_statistics

                self.report(json_statistics(report, settings))
            else:
                self.report(text_format.statistics(report, settings, style))
        elif output_format == "text":
            self.report(
                text_format.render(
                    report, settings, style=style, quiet=self.quiet, show_fixes=show_fixes
                )
            )
        else:
            self.report(renderer(output_format)(report, settings))
        self._write(stream, style.enabled)

    def _write(self, stream, color: bool) -> None:
        text = "".join(self.parts)
        self.parts = []
        if self.file is None:
            if text:
                click.echo(text, nl=False, err=stream is sys.stderr, color=color)
            return
        try:
            target = Path(self.file)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            click.echo(
                f"clipguard: error: cannot write {self.file}: {exc.strerror or exc}", err=True
            )
            sys.exit(2)
