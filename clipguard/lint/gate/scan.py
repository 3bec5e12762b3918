"""What the gate learns of one file from its bytes, and the stat-keyed cache of it."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

from clipguard.analysis.vocab.models import holds_clip_code
from clipguard.lint.cache import Cache
from clipguard.lint.discovery import SourcePath
from clipguard.lint.gate.imports import scan_imports
from clipguard.lint.gate.markers import has_clip_marker
from clipguard.lint.noqa import file_noqa
from clipguard.lint.notebook import NotebookError, is_notebook, python_bytes


@dataclass
class Scan:
    """What the byte gate learned of one file; cached with its stat data and content hash."""

    file: SourcePath
    data: bytes | None = None
    error: str | None = None
    sha: str = ""
    mentions_clip: bool = False
    builds_clip: bool = False  # holds a CLIP model or feature source, so its importers may use CLIP
    imports: list[str] | None = None  # module names, read from the bytes when needed
    codes: list[str] | None = None  # enabled rules whose trigger bytes occur here, when needed
    noqa: list[str] | None = None
    binary: bool = False
    cached: dict | None = None
    mtime: int = 0
    size: int = 0

    def bytes(self) -> bytes:
        """The bytes the gate reads: the file's, or a notebook's joined Python cells."""
        if self.data is None:
            self.data = Path(self.file.path).read_bytes()
            if is_notebook(self.file.path):
                try:
                    self.data = python_bytes(self.data)
                except NotebookError:  # broken since it was cached: the next run reports it
                    self.data = b""
        return self.data

    def entry(self) -> dict:
        """What the scan cache keeps of this file."""
        return _entry(self)

    def module_names(self) -> list[str]:
        """The modules this file imports, read from its bytes once."""
        if self.imports is None:
            self.imports = scan_imports(self.bytes())
        return self.imports


def scan_file(file: SourcePath, cache: Cache | None) -> Scan:
    scan = Scan(file)
    key = str(file.path)
    try:
        stat = os.stat(file.path)
    except OSError as exc:
        scan.error = f"cannot read: {exc.strerror or exc}"
        return scan
    if not S_ISREG(stat.st_mode):  # a FIFO or device named *.py: reading it could block forever
        scan.error = "cannot read: not a regular file"
        return scan
    scan.mtime, scan.size = stat.st_mtime_ns, stat.st_size
    entry = cache.get(key) if cache is not None else None
    if not well_formed(entry):
        entry = None
    if (
        entry is not None
        and entry.get("mtime") == stat.st_mtime_ns
        and entry.get("size") == stat.st_size
    ):
        restore(scan, entry)
        return scan
    try:
        data = Path(file.path).read_bytes()
    except OSError as exc:
        scan.error = f"cannot read: {exc.strerror or exc}"
        return scan
    except MemoryError:
        scan.error = "cannot read: file too large"
        return scan
    scan.data = data
    scan.sha = hashlib.sha256(data).hexdigest()
    if is_notebook(file.path):
        try:
            scan.data = data = python_bytes(data)
        except NotebookError as exc:
            scan.error = exc.message
            return scan
    if entry is not None and entry.get("sha") == scan.sha:
        restore(scan, entry)
        return scan
    _learn(scan, data)
    return scan


def scan_bytes(file: SourcePath, data: bytes) -> Scan:
    """What the gate learns of `data` as the contents of `file`, e.g. source read from stdin."""
    scan = Scan(file, data=data, sha=hashlib.sha256(data).hexdigest(), size=len(data))
    _learn(scan, data)
    return scan


def _learn(scan: Scan, data: bytes) -> None:
    scan.binary = b"\x00" in data
    lowered = data.lower()
    noqa = file_noqa(data, lowered)
    scan.noqa = sorted(noqa) if noqa is not None else None
    scan.mentions_clip = has_clip_marker(lowered)
    scan.builds_clip = scan.mentions_clip and holds_clip_code(data, lowered)


def restore(scan: Scan, entry: dict) -> None:
    scan.cached, scan.sha = entry, entry["sha"]
    scan.mentions_clip = entry["mentions_clip"]
    scan.builds_clip = entry.get("builds_clip", False)
    scan.imports, scan.codes = entry.get("imports"), entry.get("codes")
    scan.noqa, scan.binary = entry.get("noqa"), entry.get("binary", False)


_ENTRY_KEYS = {"sha": str, "mentions_clip": bool}


def well_formed(entry) -> bool:
    """A cache entry this version can use (a damaged cache file only costs speed)."""
    return (
        isinstance(entry, dict)
        and all(isinstance(entry.get(k), t) for k, t in _ENTRY_KEYS.items())
        and all(
            entry.get(k) is None or isinstance(entry.get(k), list)
            for k in ("noqa", "imports", "codes")
        )
    )


def _entry(scan: Scan) -> dict:
    return {
        "mtime": scan.mtime,
        "size": scan.size,
        "sha": scan.sha,
        "mentions_clip": scan.mentions_clip,
        "builds_clip": scan.builds_clip,
        "imports": scan.imports,
        "codes": scan.codes,
        "noqa": scan.noqa,
        "binary": scan.binary,
    }
