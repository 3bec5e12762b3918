"""Jupyter notebooks (nbformat 4) for the lint, read with the standard library's `json`.

The Python code cells are joined in order into one text that the analysis reads like any module,
so data flow crosses cells; each cell is followed by one line break, as ruff joins them. IPython
syntax is masked so the text parses: an escape (`%magic`, `%%time`, `!shell`, `?help`, `help?`,
`/call`, `x = !cmd`) keeps its length, padded with spaces, as a comment at the top level (so the
imports after `%matplotlib` are still the module's top imports) and as the expression `0` in a
block or an assignment. Cells of another kind or in another language (`%%bash`, a VS Code
language id) are left out, as ruff leaves them out.
Positions in the text map back to (cell, line, column); fixed text is written back into the
cells' JSON with every byte outside the edited lines kept.
"""

from __future__ import annotations

import bisect
import difflib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from clipguard.analysis.source import Decoded, SourceError, decode
from clipguard.diagnostics import Edit, Finding
from clipguard.lint.edits import apply_edits, edit_spans

SUFFIX = ".ipynb"

# Cell magics whose body is Python run in the notebook's namespace: those cells are linted.
TRANSPARENT_CELL_MAGICS = frozenset(
    {"capture", "debug", "ipytest", "prun", "pypy", "python", "python3", "time", "timeit"}
)
# Line magics IPython runs without their `%` (automagic): a cell opening with one is a shell
# session, not Python (unless an assignment follows: `time = 5`).
# fmt: off
AUTOMAGICS = frozenset({
    "alias", "alias_magic", "autoawait", "autocall", "automagic", "bookmark", "cd", "code_wrap",
    "colors", "conda", "config", "debug", "dhist", "dirs", "doctest_mode", "edit", "env", "gui",
    "history", "killbgscripts", "load", "load_ext", "loadpy", "logoff", "logon", "logstart",
    "logstate", "logstop", "lsmagic", "macro", "magic", "mamba", "matplotlib", "micromamba",
    "notebook", "page", "pastebin", "pdb", "pdef", "pdoc", "pfile", "pinfo", "pinfo2", "pip",
    "popd", "pprint", "precision", "prun", "psearch", "psource", "pushd", "pwd", "pycat", "pylab",
    "quickref", "recall", "rehashx", "reload_ext", "rerun", "reset", "reset_selective", "run",
    "save", "sc", "set_env", "sx", "system", "tb", "time", "timeit", "unalias", "unload_ext",
    "who", "who_ls", "whos", "xdel", "xmode",
})
# fmt: on
_ASSIGNMENTS = frozenset(["=", "+=", "-=", "*=", "/=", "//=", "%=", "**=", "&=", "|=", "^="])

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_MAYBE_IPYTHON = re.compile(r"^[ \t]*[%!?/,;]|\?[ \t]*\r?$|=[ \t]*[%!]", re.MULTILINE)
# Where an escape starts on a line that begins a logical line: the escape runs to the line's end.
_ESCAPES = (
    re.compile(r"[ \t]*([%!?/,;])"),  # %magic, %%cell, !shell, !!shell, ?help, /call, ,quote
    re.compile(
        r"[ \t]*[\w.]+(?:\[[^\]\r\n]*\])?(?:[ \t]*,[ \t]*[\w.]+)*[ \t]*=[ \t]*([%!])"
    ),  # x = !ls
    re.compile(r"[ \t]*([\w.*]+(?:\[[^\]\r\n]*\])?\?{1,2})[ \t]*(?:\r\n|\r|\n)?$"),  # model?
)
_CODE_SPECIAL = re.compile(r"""[\\'"#()\[\]{}]""")
_STRING_END = {q: re.compile(r"\\(?:.|$)|" + q, re.DOTALL) for q in ("'", '"', "'''", '"""')}
_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class NotebookError(SourceError):
    """The file is not an nbformat 4 notebook; a CG000 finding says why."""


def is_notebook(path: str | Path) -> bool:
    """Whether `path` names a Jupyter notebook."""
    return str(path).endswith(SUFFIX)


def source_text(path: str | Path, data: bytes) -> Decoded:
    """The Python text the analysis reads from a file's bytes: a notebook's joined code cells."""
    return read(data).decoded if is_notebook(path) else decode(data)


def python_bytes(data: bytes) -> bytes:
    """A notebook's joined Python text as UTF-8, for the byte gate; NotebookError if unreadable."""
    return read(data).text.encode("utf-8", "surrogatepass")


def in_cells(path: str | Path, findings: list[Finding]) -> list[Finding]:
    """Findings of the notebook at `path` with positions inside their cells, as ruff gives them."""
    if not findings or not is_notebook(path):
        return findings
    try:
        notebook = read(Path(path).read_bytes())
    except (OSError, SourceError):  # a CG000 for the file itself: its position is the file's
        return findings
    return [notebook.locate(finding) for finding in findings]


def read(data: bytes) -> Notebook:
    """Read notebook bytes; NotebookError says why they are not an nbformat 4 notebook."""
    try:
        raw = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise NotebookError(f"notebook is not UTF-8 ({exc.reason}, line {line})", line) from None
    bom = raw.startswith("\ufeff")
    raw = raw.removeprefix("\ufeff")
    try:
        content = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"notebook is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise NotebookError("notebook is too deeply nested to read") from None
    return Notebook(raw, content, bom)


@dataclass(frozen=True)
class Cell:
    """A Python code cell as the joined text holds it."""

    number: int  # 1-based among all the notebook's cells, as ruff and the editors count
    line: int  # the line of the joined text it starts on
    offset: int  # the character of the joined text it starts at
    source: str  # as the notebook holds it, unmasked


class Notebook:
    """An nbformat 4 notebook: `text` joins its Python cells, with IPython escapes masked."""

    def __init__(self, raw: str, content: Any, bom: bool = False) -> None:
        self.raw, self.bom = raw, bom
        self.cells, self.text, self.masks = _join(content)
        self._lines = [cell.line for cell in self.cells]
        self._by_number = {cell.number: cell for cell in self.cells}
        # Where the cells and the masked escapes are in each text the fixer made from `text`.
        self._marks: dict[str, _Marks | None] = {
            self.text: ([c.offset for c in self.cells], [(s, e) for s, e, _ in self.masks])
        }

    @property
    def decoded(self) -> Decoded:
        match = _LINE_BREAK.search(self.text)
        return Decoded(self.text, "utf-8", self.bom, match.group() if match else "\n")

    # --- positions ----------------------------------------------------------------------------

    def locate(self, finding: Finding) -> Finding:
        """`finding` with its positions, and its fix's, inside their cells."""
        if not self.cells or finding.cell is not None:
            return finding
        cell, line = self._in_cell(finding.line)
        fix = finding.fix
        if fix is not None:
            fix = replace(fix, edits=tuple(self._locate_edit(edit) for edit in fix.edits))
        return replace(
            finding, cell=cell, line=line, end_line=self._in_cell(finding.end_line)[1], fix=fix
        )

    def in_text(self, finding: Finding) -> Finding:
        """`finding` with positions in the joined text again (what ruff's SARIF reports)."""
        cell = self._by_number.get(finding.cell) if finding.cell is not None else None
        if cell is None:
            return finding
        return replace(
            finding,
            cell=None,
            line=finding.line + cell.line - 1,
            end_line=finding.end_line + cell.line - 1,
        )

    def _in_cell(self, line: int) -> tuple[int, int]:
        cell = self.cells[max(0, bisect.bisect_right(self._lines, line) - 1)]
        return cell.number, max(1, line - cell.line + 1)

    def _locate_edit(self, edit: Edit) -> Edit:
        cell, line = self._in_cell(edit.line)
        return replace(edit, cell=cell, line=line, end_line=self._in_cell(edit.end_line)[1])

    # --- fixing -------------------------------------------------------------------------------

    def apply(self, text: str, edits: Iterable[Edit]) -> str:
        """`apply_edits` on a text made from `text`, following where its cells and escapes move."""
        edits = list(edits)
        fixed = apply_edits(text, edits)
        marks = self._marks.get(text)
        self._marks[fixed] = None if marks is None else _moved(marks, edit_spans(text, edits))
        return fixed

    def dump(self, fixed: str) -> bytes:
        """The notebook's bytes with `fixed` (made from `text` by `apply`) in its cells."""
        replacements = []
        spans: dict[int, tuple[int, int]] | None = None
        for cell, source in zip(self.cells, self._sources(fixed)):
            if source == cell.source:
                continue
            spans = spans if spans is not None else _source_spans(self.raw)
            if cell.number - 1 not in spans:
                raise ValueError(f"cell {cell.number} has no `source` to write into")
            start, end = spans[cell.number - 1]
            value = _source_json(self.raw, start, end, cell.source, source)
            replacements.append((start, end, value))
        raw = self.raw
        for start, end, value in reversed(replacements):
            raw = raw[:start] + value + raw[end:]
        data = (("\ufeff" if self.bom else "") + raw).encode("utf-8", "surrogatepass")
        if read(data).text != fixed:
            raise ValueError("the fixed notebook would not read back as the fixed text")
        return data

    def diff(self, fixed: str, display: str) -> str:
        """A unified diff of each cell `fixed` changes, headed `path:cell N` as ruff's."""
        out = []
        for cell, source in zip(self.cells, self._sources(fixed)):
            if source != cell.source:
                name = f"{display}:cell {cell.number}"
                out.extend(
                    difflib.unified_diff(
                        _diff_lines(cell.source), _diff_lines(source), fromfile=name, tofile=name
                    )
                )
        return "".join(out)

    def _sources(self, fixed: str) -> list[str]:
        """Each cell's new source in `fixed`, escapes unmasked."""
        marks = self._marks.get(fixed)
        if marks is None:
            raise ValueError("a fix crosses a cell boundary or an IPython escape")
        starts, masks = marks
        sources = []
        for number, (start, end) in enumerate(zip(starts, [*starts[1:], len(fixed)])):
            pieces, cursor = [], start
            for (mask_start, mask_end), (_, _, original) in zip(masks, self.masks):
                if start <= mask_start < end:
                    pieces.append(fixed[cursor:mask_start] + original)
                    cursor = mask_end
            segment = "".join(pieces) + fixed[cursor:end]
            if not segment.endswith("\n"):
                raise ValueError(
                    f"a fix removed the line break that ends cell {self.cells[number].number}"
                )
            sources.append(segment[:-1])
        return sources


_Marks = tuple[list[int], list[tuple[int, int]]]


def _moved(marks: _Marks, spans: list[tuple[int, int, str]]) -> _Marks | None:
    """Where cell starts and masked escapes are after the edits `spans`; None if an edit crosses a
    cell start or touches an escape. Text inserted at a cell's start belongs to that cell."""
    starts, masks = marks
    for start, end, _ in spans:
        if any(start < s < end for s in starts) or any(start < e and end > s for s, e in masks):
            return None

    def shift(offset: int, past_insertions: bool) -> int:
        delta = 0
        for start, end, content in spans:
            if end < offset or end == offset and (start < offset or past_insertions):
                delta += len(content) - (end - start)
        return offset + delta

    return (
        [shift(s, False) for s in starts],
        [(shift(s, True), shift(e, False)) for s, e in masks],
    )


# --- reading --------------------------------------------------------------------------------------


def _join(content: Any) -> tuple[list[Cell], str, list[tuple[int, int, str]]]:
    """The Python cells, the joined text, and the masked escapes (start, end, original text)."""
    if not isinstance(content, dict):
        raise NotebookError("not a notebook: the JSON is not an object")
    if "nbformat" not in content:
        raise NotebookError("not a notebook: no `nbformat` version")
    if content["nbformat"] != 4:
        raise NotebookError(
            f"nbformat {content['nbformat']!r} notebooks are not supported, only "
            "nbformat 4 (`jupyter nbconvert --to notebook --nbformat 4` converts)"
        )
    cells = content.get("cells")
    if not isinstance(cells, list):
        raise NotebookError("not a notebook: `cells` is not a list")
    metadata = content.get("metadata")
    python = _python_notebook(metadata if isinstance(metadata, dict) else {})
    joined: list[Cell] = []
    parts: list[str] = []
    masks: list[tuple[int, int, str]] = []
    line, offset = 1, 0
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict):
            raise NotebookError(f"cell {number} is not a JSON object")
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        elif not isinstance(source, str):
            raise NotebookError(
                f"cell {number}: `source` is neither a string nor a list of strings"
            )
        if not python or not _python_cell(cell, source):
            continue
        masked, spans = _mask(source)
        joined.append(Cell(number, line, offset, source))
        masks.extend((offset + s, offset + e, source[s:e]) for s, e in spans)
        chunk = masked + "\n"
        parts.append(chunk)
        line += len(_LINE_BREAK.findall(chunk))
        offset += len(chunk)
    return joined, "".join(parts), masks


def _python_notebook(metadata: dict) -> bool:
    """Whether the notebook's kernel runs Python (`language_info` first, then the kernelspec)."""
    for key, field in (("language_info", "name"), ("kernelspec", "language")):
        entry = metadata.get(key)
        if isinstance(entry, dict) and field in entry:
            return entry[field] == "python"
    return True


def _python_cell(cell: dict, source: str) -> bool:
    """A code cell in Python: no other VS Code language, no automagic, no non-Python cell magic."""
    if cell.get("cell_type") != "code":
        return False
    metadata = cell.get("metadata")
    vscode = metadata.get("vscode") if isinstance(metadata, dict) else None
    if isinstance(vscode, dict) and vscode.get("languageId", "python") != "python":
        return False
    lines = source.split("\n")
    first = lines[0].split()[:2]
    if first and first[0] in AUTOMAGICS and (len(first) < 2 or first[1] not in _ASSIGNMENTS):
        return False
    for text in lines:
        word = next(iter(text.split()), "")
        if word.startswith("%%") and word[2:] not in TRANSPARENT_CELL_MAGICS:
            return False
    return True


def _mask(source: str) -> tuple[str, list[tuple[int, int]]]:
    """`source` with each IPython escape masked, and the (start, end) of each masked span."""
    if not _MAYBE_IPYTHON.search(source):
        return source, []
    lines = _LINES.findall(source)
    spans = []
    quote, depth, continued = None, 0, False
    offset, index = 0, 0
    while index < len(lines):
        line = lines[index]
        start = None
        if quote is None and depth == 0 and not continued:
            start = next((m.start(1) for p in _ESCAPES if (m := p.match(line))), None)
        if start is None:
            quote, depth, continued = _scan(line, quote, depth)
            offset += len(line)
            index += 1
            continue
        # The escape runs to the end of its line, and over the lines a backslash continues it to.
        last = index
        while last + 1 < len(lines) and lines[last].rstrip("\r\n").endswith("\\"):
            last += 1
        length = sum(len(text) for text in lines[index : last + 1])
        ending = len(lines[last]) - len(lines[last].rstrip("\r\n"))
        spans.append((offset + start, offset + length - ending))
        offset += length
        index = last + 1
    out, cursor = [], 0
    for start, end in spans:
        out.append(source[cursor:start])
        at_top = start == 0 or source[start - 1] in "\r\n"
        out.append(("#" if at_top else "0") + re.sub(r"[^\r\n]", " ", source[start + 1 : end]))
        cursor = end
    out.append(source[cursor:])
    return "".join(out), spans


def _scan(line: str, quote: str | None, depth: int) -> tuple[str | None, int, bool]:
    """After `line`: the quote of a string still open, the bracket depth, and whether a backslash
    continues the line; given the open quote and the depth before it."""
    body = line.rstrip("\r\n")
    index = 0
    while True:
        if quote is not None:
            closed = last = None
            for last in _STRING_END[quote].finditer(body, index):
                if last.group() == quote:
                    closed = last
                    break
            if closed is None:  # triple quotes go on; single ones only after a final backslash
                open_on = len(quote) == 3 or (last is not None and last.group() == "\\")
                return (quote if open_on else None), depth, False
            index, quote = closed.end(), None
            continue
        match = _CODE_SPECIAL.search(body, index)
        if match is None:
            return None, depth, False
        char, index = match.group(), match.end()
        if char == "#":
            return None, depth, False
        if char == "\\":
            if index == len(body):
                return None, depth, True
            index += 1
        elif char in "'\"":
            quote = char * 3 if body.startswith(char * 3, index - 1) else char
            index += len(quote) - 1
        elif char in "([{":
            depth += 1
        else:
            depth = max(0, depth - 1)


# --- writing --------------------------------------------------------------------------------------


def _skip(raw: str, index: int) -> int:
    return _JSON_SPACE.match(raw, index).end()


def _members(raw: str, index: int) -> tuple[dict[str, tuple[int, int]], int]:
    """The span of each member's value of the JSON object at `raw[index]`, and where it ends."""
    spans = {}
    index = _skip(raw, index + 1)
    while raw[index] != "}":
        key, index = _DECODER.raw_decode(raw, index)
        start = _skip(raw, _skip(raw, index) + 1)
        _, end = _DECODER.raw_decode(raw, start)
        spans[key] = (start, end)
        index = _skip(raw, end)
        if raw[index] == ",":
            index = _skip(raw, index + 1)
    return spans, index + 1


def _source_spans(raw: str) -> dict[int, tuple[int, int]]:
    """The span of each cell's `source` value in the notebook's JSON, by the cell's index."""
    top, _ = _members(raw, _skip(raw, 0))
    index = _skip(raw, top["cells"][0] + 1)
    spans, number = {}, 0
    while raw[index] != "]":
        members, end = _members(raw, index)
        if "source" in members:
            spans[number] = members["source"]
        number += 1
        index = _skip(raw, end)
        if raw[index] == ",":
            index = _skip(raw, index + 1)
    return spans


def _lines(text: str) -> list[str]:
    """Lines split at "\\n" only, keeping it: how nbformat stores a source as a list."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def _diff_lines(text: str) -> list[str]:
    return [line if line.endswith("\n") else line + "\n" for line in _lines(text)]


def _source_json(raw: str, start: int, end: int, old: str, new: str) -> str:
    """The JSON for a cell's new source, in the style of its old value `raw[start:end]`: a string
    stays a string and a list a list, with its layout and the JSON of every unchanged line kept."""
    value = raw[start:end]
    ascii_only = raw.isascii() and "\\u" in raw

    def encode(text: str) -> str:
        return json.dumps(text, ensure_ascii=ascii_only)

    old_lines, new_lines = _lines(old), _lines(new)
    if value.startswith('"'):
        pieces = _string_pieces(value)
        if len(pieces) != len(old_lines):
            pieces = [encode(t)[1:-1] for t in old_lines]
        return '"' + "".join(_merge(pieces, old_lines, new_lines, lambda t: encode(t)[1:-1])) + '"'
    if not new_lines:
        return "[]"
    elements, between = _array_items(value)
    opening, closing = _array_margins(raw, start, value)
    separator = between[0] if between else "," + opening
    if [json.loads(e) for e in elements] != old_lines:  # not one string per line: encode anew
        elements = [encode(t) for t in old_lines]
        between = [separator] * (len(elements) - 1)
    # An unchanged line keeps the text after it; the last line is followed by the closing margin.
    items = _merge(
        list(zip(elements, [*between, None])), old_lines, new_lines, lambda t: (encode(t), None)
    )
    out = ["[", opening]
    for position, (element, after) in enumerate(items):
        out.append(element)
        out.append(closing if position + 1 == len(items) else after or separator)
    out.append("]")
    return "".join(out)


def _merge(pieces: list, old: list[str], new: list[str], encode) -> list:
    """The pieces of `new`: the old ones of its unchanged first and last lines, new ones between."""
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    return [
        *pieces[:head],
        *(encode(t) for t in new[head : len(new) - tail]),
        *pieces[len(pieces) - tail :],
    ]


def _string_pieces(value: str) -> list[str]:
    """The body of a JSON string cut after each `\\n` escape: one piece per line."""
    body = value[1:-1]
    pieces, start = [], 0
    for match in re.finditer(r"\\.", body):
        if match.group() == "\\n":
            pieces.append(body[start : match.end()])
            start = match.end()
    if start < len(body):
        pieces.append(body[start:])
    return pieces


def _array_items(value: str) -> tuple[list[str], list[str]]:
    """The JSON of each element of an array, and the text between consecutive elements."""
    elements, between = [], []
    index = _skip(value, 1)
    while value[index] != "]":
        _, end = _DECODER.raw_decode(value, index)
        elements.append(value[index:end])
        index = _skip(value, end)
        if value[index] == ",":
            index = _skip(value, index + 1)
            between.append(value[end:index])
    return elements, between


def _array_margins(raw: str, start: int, value: str) -> tuple[str, str]:
    """The whitespace after `[` and before `]` of the array `value` at `raw[start]`; for an empty
    one, what the notebook's indentation gives."""
    inner = value[1:-1]
    if inner.strip():
        return inner[: len(inner) - len(inner.lstrip())], inner[len(inner.rstrip()) :]
    layout = re.match(r"[ \t]*\{(\r?\n)([ \t]*)", raw)
    if layout is None:  # compact JSON
        return "", ""
    line = raw[raw.rfind("\n", 0, start) + 1 : start]
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    return layout.group(1) + indent + (layout.group(2) or " "), layout.group(1) + indent
