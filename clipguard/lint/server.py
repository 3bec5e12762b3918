"""`clipguard server`: a Language Server (pygls) for editors.

It publishes diagnostics when a document is opened, changed or saved, and offers each finding's
fix as a code action (labelled safe or unsafe), a `# noqa` for the line, and a fix-all of the safe
fixes. A document is linted as `clipguard lint FILE` would lint it with the buffer's text, through
`engine.lint_source`, with the configuration found from the file's directory. Like `lint`, it
never imports torch.
"""

from __future__ import annotations

import os
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from clipguard import __version__
from clipguard.diagnostics import Edit, Finding
from clipguard.lint.add_noqa import NOT_SUPPRESSIBLE, noqa_edit
from clipguard.lint.config import ConfigError, Settings, build_settings
from clipguard.lint.discovery import excluded
from clipguard.lint.engine import lint_source
from clipguard.lint.fixer import fix_text

SOURCE = "clipguard"
FIX_ALL = "source.fixAll.clipguard"
RULES_URL = "https://github.com/clipguard/clipguard/blob/main/rules/{}.md"

server = LanguageServer(
    "clipguard", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental
)
_results: dict[str, tuple[int | None, list[Finding]]] = {}  # uri -> (version, findings)


def _settings(path: str) -> Settings:
    """The configuration `clipguard lint` would use, run from the file's directory."""
    return build_settings(config_file=None, cwd=Path(path).parent)


def _findings(document: TextDocument) -> list[Finding]:
    """The document's findings, linted again only when its version changed."""
    known = _results.get(document.uri)
    if known is not None and known[0] == document.version and document.version is not None:
        return known[1]
    path = document.path or os.path.join(os.getcwd(), "untitled.py")
    try:
        settings = _settings(path)
    except ConfigError as exc:
        server.window_show_message(
            types.ShowMessageParams(types.MessageType.Error, f"clipguard: {exc}")
        )
        return []
    root = Path(settings.root) if settings.root else None
    if excluded(os.path.abspath(path), settings.exclude, root):
        findings = []  # as ruff's server, `exclude` holds for open documents too
    else:
        findings = lint_source(document.source, path, settings, display=path)
    _results[document.uri] = (document.version, findings)
    return findings


def _range(document: TextDocument, line: int, column: int, end_line: int, end_column: int):
    """1-based character positions as the client counts them (UTF-16 unless negotiated)."""
    lines = document.lines
    start = types.Position(line - 1, column - 1)
    end = types.Position(end_line - 1, end_column - 1)
    codec = document.position_codec
    return types.Range(
        codec.position_to_client_units(lines, start), codec.position_to_client_units(lines, end)
    )


def _diagnostic(document: TextDocument, finding: Finding) -> types.Diagnostic:
    unreadable = finding.rule == "CG000"
    return types.Diagnostic(
        range=_range(document, finding.line, finding.column, finding.end_line, finding.end_column),
        message=finding.message,
        # as ruff's server: findings are warnings, a file that cannot be parsed is an error
        severity=types.DiagnosticSeverity.Error if unreadable else types.DiagnosticSeverity.Warning,
        code=finding.rule,
        code_description=types.CodeDescription(href=RULES_URL.format(finding.rule)),
        source=SOURCE,
    )


def _publish(document: TextDocument) -> None:
    diagnostics = [_diagnostic(document, f) for f in _findings(document)]
    server.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(document.uri, diagnostics, document.version)
    )


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    _publish(ls.workspace.get_text_document(params.text_document.uri))


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    _publish(ls.workspace.get_text_document(params.text_document.uri))


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: LanguageServer, params: types.DidSaveTextDocumentParams) -> None:
    # The configuration or an imported module may have changed on disk: lint again.
    _results.pop(params.text_document.uri, None)
    _publish(ls.workspace.get_text_document(params.text_document.uri))


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: LanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    _results.pop(params.text_document.uri, None)
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(params.text_document.uri, [])
    )


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(
        code_action_kinds=[
            types.CodeActionKind.QuickFix,
            types.CodeActionKind.SourceFixAll,
            FIX_ALL,
        ]
    ),
)
def code_actions(ls: LanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    """Each finding's fix in the range, its `# noqa`, and fixing all safe fixes."""
    document = ls.workspace.get_text_document(params.text_document.uri)
    findings = _findings(document)
    wanted = params.context.only
    actions = []
    if not wanted or types.CodeActionKind.QuickFix in wanted:
        for finding in findings:
            if _overlaps(document, finding, params.range):
                actions.extend(_quick_fixes(document, finding))
    if not wanted or any(k in wanted for k in (types.CodeActionKind.SourceFixAll, FIX_ALL)):
        fix_all = _fix_all(document, findings)
        if fix_all is not None:
            actions.append(fix_all)
    return actions


def _overlaps(document: TextDocument, finding: Finding, selection: types.Range) -> bool:
    span = _range(document, finding.line, finding.column, finding.end_line, finding.end_column)
    start, end = (span.start.line, span.start.character), (span.end.line, span.end.character)
    return (
        start <= (selection.end.line, selection.end.character)
        and (
            selection.start.line,
            selection.start.character,
        )
        <= end
    )


def _quick_fixes(document: TextDocument, finding: Finding) -> list[types.CodeAction]:
    diagnostic = _diagnostic(document, finding)
    actions = []
    if finding.fix is not None:
        title = finding.fix.title or "Fix"
        actions.append(
            types.CodeAction(
                title=f"clipguard ({finding.rule}): {title} ({finding.fix.applicability} fix)",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[diagnostic],
                edit=_workspace_edit(document, finding.fix.edits),
                is_preferred=finding.fix.applicability == "safe",
            )
        )
    if finding.rule not in NOT_SUPPRESSIBLE:
        line = (
            document.lines[finding.line - 1].rstrip("\r\n")
            if finding.line <= len(document.lines)
            else ""
        )
        edit = noqa_edit(line, finding.line, [finding.rule])
        if edit is not None:
            actions.append(
                types.CodeAction(
                    title=f"clipguard ({finding.rule}): Disable for this line",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[diagnostic],
                    edit=_workspace_edit(document, (edit,)),
                )
            )
    return actions


def _fix_all(document: TextDocument, findings: list[Finding]) -> types.CodeAction | None:
    """Every safe fix, round after round as `clipguard lint --fix` applies them."""
    if not any(f.fix is not None and f.fix.applicability == "safe" for f in findings):
        return None
    path = document.path or os.path.join(os.getcwd(), "untitled.py")
    settings = _settings(path)
    text = document.source
    fixed, _, applied = fix_text(
        text, lambda t: lint_source(t, path, settings, display=path), settings, findings
    )
    if not applied:
        return None
    lines = document.lines
    if not lines or lines[-1].endswith(("\n", "\r")):
        end = types.Position(len(lines), 0)
    else:
        end = document.position_codec.position_to_client_units(
            lines, types.Position(len(lines) - 1, len(lines[-1]))
        )
    whole = types.Range(types.Position(0, 0), end)
    return types.CodeAction(
        title="clipguard: Fix all safe fixes",
        kind=FIX_ALL,
        edit=types.WorkspaceEdit(changes={document.uri: [types.TextEdit(whole, fixed)]}),
    )


def _workspace_edit(document: TextDocument, edits) -> types.WorkspaceEdit:
    changes = [
        types.TextEdit(_range(document, e.line, e.column, e.end_line, e.end_column), e.content)
        for e in edits
        if isinstance(e, Edit)
    ]
    return types.WorkspaceEdit(changes={document.uri: changes})


def run() -> None:
    """Speak the protocol on stdin and stdout until the client says exit."""
    server.start_io()
