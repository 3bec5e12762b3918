"""Names imported from other linted modules, resolved once per importing file."""

from __future__ import annotations


def project_lookup(file, qualified: str):
    """`file.project.lookup(file.path, qualified)`, memoized per file: the same imported names
    are looked up at every call site, and each lookup stats candidate module paths."""
    project = file.project
    if project is None:
        return None
    found: dict = file.memo("clipguard.lookups", lambda _: {})
    if qualified not in found:
        found[qualified] = project.lookup(file.path, qualified)
    return found[qualified]
