"""A per-file result cache keyed by content hash, configuration and version.

Stat data (mtime, size) lets an unchanged file skip even being read; the content hash decides.
One JSON file per configuration fingerprint, read once and written once per run.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from clipguard import __version__

CACHE_DIR = ".clipguard_cache"


class Cache:
    def __init__(self, root: Path, fingerprint: str) -> None:
        self.file = root / CACHE_DIR / __version__ / f"{fingerprint}.json"
        self.entries: dict[str, dict] = {}
        self.dirty = False
        try:
            data = json.loads(self.file.read_text())
            if isinstance(data, dict):
                self.entries = data
        except (OSError, ValueError):
            pass

    def get(self, path: str) -> dict | None:
        return self.entries.get(path)

    def put(self, path: str, entry: dict) -> None:
        if self.entries.get(path) != entry:
            self.entries[path] = entry
            self.dirty = True

    def save(self) -> None:
        """Write atomically if anything changed; entries of files not linted this run are kept."""
        if not self.dirty:
            return
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            gitignore = self.file.parent.parent / ".gitignore"
            if not gitignore.exists():
                gitignore.write_text("*\n")
            fd, tmp = tempfile.mkstemp(dir=self.file.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as handle:
                json.dump(self.entries, handle, separators=(",", ":"))
            os.replace(tmp, self.file)
        except OSError:
            pass  # a cache that cannot be written only costs speed
