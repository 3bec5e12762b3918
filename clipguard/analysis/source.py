"""One Python file as the rules see it: text, `ast` tree, import table, positions and edits."""

from __future__ import annotations

import ast
import gc
import io
import re
import tokenize
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from clipguard.analysis.imports import ImportTable, dotted_name
from clipguard.diagnostics import Edit

if TYPE_CHECKING:
    from clipguard.analysis.project import Project

T = TypeVar("T")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_MISSING = object()
_HEADER_COMMENT = re.compile(r"#!|[ \t\f]*#.*?coding[:=]")  # PEP 263 cookie, or a shebang


class SourceError(Exception):
    """The file cannot be read, decoded or parsed; becomes a CG000 finding."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    bom: bool
    newline: str


def decode(data: bytes) -> Decoded:
    """Decode source bytes as Python does: BOM, then a coding cookie, else UTF-8."""
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise SourceError("binary file: contains a NUL byte", line)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        message = str(exc.msg if hasattr(exc, "msg") else exc)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as bad:  # the usual case: Latin-1 or cp1252 bytes, no cookie
            line = data[: bad.start].count(b"\n") + 1
            raise SourceError(
                f"cannot decode as utf-8 ({bad.reason}) and no encoding is declared", line
            ) from None
        raise SourceError(f"cannot decode: {message.split(' for ')[0]}") from None
    bom = encoding == "utf-8-sig"
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        line = 1
        if isinstance(exc, UnicodeDecodeError):
            line = data[: exc.start].count(b"\n") + 1
        name = "utf-8" if bom else encoding
        raise SourceError(
            f"cannot decode as {name}: {exc.reason if hasattr(exc, 'reason') else exc}", line
        ) from None
    text = text.removeprefix("\ufeff")
    match = _LINE_BREAK.search(text)
    return Decoded(text, "utf-8" if bom else encoding, bom, match.group() if match else "\n")


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: an `ast` tree is millions of acyclic objects, and
    collections triggered while building and analyzing one cost half the time (200,000 lines:
    parse 9 s with it, 3 s without). Nested uses are fine; the outermost re-enables it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse(text: str, filename: str) -> ast.Module:
    """Parse with the stdlib; every failure becomes a SourceError with a position."""
    try:
        with gc_paused(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the user's SyntaxWarnings are not ours to print
            return ast.parse(text, filename=filename)
    except SyntaxError as exc:
        return _raise_syntax(exc)
    except (RecursionError, MemoryError):
        raise SourceError("too deeply nested to parse") from None
    except ValueError as exc:
        raise SourceError(f"cannot parse: {exc}") from None


def _raise_syntax(exc: SyntaxError):
    raise SourceError(f"syntax error: {exc.msg}", exc.lineno or 1, exc.offset or 1) from None


class SourceFile:
    """A parsed module plus what rules share: import table, positions, memoized analyses."""

    def __init__(
        self,
        path: str,
        text: str,
        tree: ast.Module,
        *,
        newline: str = "\n",
        project: Project | None = None,
    ) -> None:
        self.path = path
        self.text = text
        self.tree = tree
        self.newline = newline
        self.project = project
        self._memo: dict[str, Any] = {}
        self._utf8: dict[int, bytes | None] = {}

    @classmethod
    def from_text(
        cls, text: str, path: str = "<string>", project: Project | None = None
    ) -> SourceFile:
        return cls(path, text, parse(text, path), project=project)

    @cached_property
    def lines(self) -> list[str]:
        """Lines without their line breaks, split as Python's tokenizer does."""
        return _LINE_BREAK.split(self.text)

    @cached_property
    def imports(self) -> ImportTable:
        return ImportTable(self.tree)

    def qualname(self, node: ast.AST) -> str | None:
        """`torchvision.transforms.Resize` for `T.Resize` after `import torchvision.transforms as T`."""
        return self.imports.resolve(node)

    def name(self, node: ast.AST) -> str | None:
        """The qualified name if imported, else the dotted spelling (`model.encode_image`)."""
        return self.imports.resolve(node) or dotted_name(node)

    def memo(self, key: str, compute: Callable[[SourceFile], T]) -> T:
        """An analysis computed once per file and shared by every rule that asks for it."""
        if key not in self._memo:
            self._memo[key] = compute(self)
        return self._memo[key]

    def segment(self, node: ast.AST) -> str:
        line, col, end_line, end_col = self.span(node)
        return self.text_between(line, col, end_line, end_col)

    def text_between(self, line: int, col: int, end_line: int, end_col: int) -> str:
        if line == end_line:
            return self.lines[line - 1][col - 1 : end_col - 1]
        parts = [
            self.lines[line - 1][col - 1 :],
            *self.lines[line : end_line - 1],
            self.lines[end_line - 1][: end_col - 1],
        ]
        return self.newline.join(parts)

    def column(self, line: int, byte_offset: int) -> int:
        """Convert an `ast` UTF-8 byte offset on a 1-based line into a 1-based character column."""
        encoded = self._utf8.get(line, _MISSING)
        if encoded is _MISSING:  # encode each line once: minified files have one huge line
            text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
            encoded = self._utf8[line] = None if text.isascii() else text.encode("utf-8")
        if encoded is None:
            return byte_offset + 1
        return len(encoded[:byte_offset].decode("utf-8", "replace")) + 1

    def span(self, node: ast.AST) -> tuple[int, int, int, int]:
        """1-based (line, column, end_line, end_column) of a node; end is exclusive."""
        line = node.lineno
        end_line = getattr(node, "end_lineno", None) or line
        end_offset = getattr(node, "end_col_offset", None)
        end_col = (
            self.column(end_line, end_offset)
            if end_offset is not None
            else self.column(line, node.col_offset) + 1
        )
        return line, self.column(line, node.col_offset), end_line, end_col

    def replace(self, node: ast.AST, content: str) -> Edit:
        return Edit(*self.span(node), content)

    def insert(self, line: int, column: int, content: str) -> Edit:
        return Edit(line, column, line, column, content)

    def add_import(self, statement: str, binds: str, qualified: str) -> Edit | None:
        """An edit adding `statement` after the module's top imports, or None if `binds` already
        names `qualified` here."""
        if self.imports.bindings.get(binds) == qualified:
            return None
        body = self.tree.body
        index = 0
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            index = 1
        after = None
        for stmt in body[index:]:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                after = stmt
            else:
                break
        if after is None and index == 1:
            after = body[0]
        if after is not None:
            end_line = after.end_lineno or after.lineno
            return self.insert(
                end_line, len(self.lines[end_line - 1]) + 1, self.newline + statement
            )
        # Never above a shebang or a coding cookie: both only work on the first two lines.
        line = 1
        while line <= min(2, len(self.lines)) and _HEADER_COMMENT.match(self.lines[line - 1]):
            line += 1
        if line > len(self.lines):
            return self.insert(line - 1, len(self.lines[line - 2]) + 1, self.newline + statement)
        return self.insert(line, 1, statement + self.newline)
