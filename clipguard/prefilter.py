"""The byte-level gate: decide from raw bytes, without parsing, whether a file can have findings."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Signs that a module uses a CLIP-family model, searched in the lower-cased bytes. Deliberately
# broad: a false "yes" costs one parse, a false "no" a missed finding. "clip" also covers
# `clip.load`, `open_clip`, `CLIPModel`, `OpenCLIP`, checkpoint names and config strings.
# Plain substring tests on lower-cased bytes are five times faster here than one regex.
CLIP_MARKERS = (b"clip", b"siglip", b"encode_image", b"encode_text", b"get_image_features",
                b"get_text_features", b"image_embeds", b"text_embeds")
FILE_NOQA = re.compile(rb"^[ \t]*#[ \t]*clipguard:[ \t]*noqa(?::[ \t]*(?P<codes>[A-Z0-9, \t]+))?[ \t]*\r?$",
                       re.MULTILINE | re.IGNORECASE)


def has_clip_marker(data: bytes) -> bool:
    lowered = data.lower()
    return any(marker in lowered for marker in CLIP_MARKERS)


def trigger_pattern(triggers: Iterable[bytes]) -> re.Pattern[bytes] | None:
    """One compiled alternation of every enabled rule's triggers; None means 'always'."""
    triggers = sorted(set(triggers))
    if not triggers:
        return None
    return re.compile(b"|".join(re.escape(t) for t in triggers))


def file_noqa(data: bytes) -> set[str] | None:
    """Codes silenced for the whole file by `# clipguard: noqa[: CODES]`; {"ALL"} for all; else None."""
    match = FILE_NOQA.search(data)
    if match is None:
        return None
    codes = match.group("codes")
    if not codes:
        return {"ALL"}
    return {c.decode().upper() for c in re.split(rb"[\s,]+", codes) if c}
