"""The byte-level gate: decide from raw bytes, without parsing, whether a file can have findings."""

from __future__ import annotations

import bisect
import re

# Signs that a module uses a CLIP-family model, searched in the lower-cased bytes. Deliberately
# broad: a false "yes" costs one parse, a false "no" a missed finding. Besides these, any "clip"
# that is not one of NOT_CLIP counts (`clip.load`, `open_clip`, `CLIPModel`, checkpoint names).
# Plain substring tests on lower-cased bytes are five times faster here than one regex.
# Cosine similarities count too: a softmax over them needs a logit scale whatever embedded them.
CLIP_MARKERS = (b"siglip", b"encode_image", b"encode_text", b"get_image_features",
                b"get_text_features", b"image_embeds", b"text_embeds", b"cosine_similarity",
                b"cosinesimilarity")
# Words with "clip" in them that are not CLIP: gradient and value clipping, np/torch.clip.
NOT_CLIP = (b"clip_grad", b"gradient_clip", b".clip(", b"clip_sample", b"clipping", b"clipped",
            b"clip_value", b"clip_val", b"clip_range", b"clip_denoised", b"clipboard", b"eclipse",
            b"clip_norm", b"clip_by_", b"clip_coef", b"clip_eps", b"clip_param", b"clip_ratio",
            b"clip_min", b"clip_max", b"clip_low", b"clip_high", b"clip_thresh", b"clip_limit",
            b"clip_loss")
ENCODERS = (b"encode_image", b"encode_text", b"get_image_features", b"get_text_features")
# Where CLIP models are built or features come from: importers of such a module may use CLIP.
# Calls, not mentions: documentation utilities that name these methods are imported everywhere.
CLIP_SOURCES = (*(b"." + m + b"(" for m in ENCODERS),
                b"clip.load(", b"create_model_and_transforms(", b"create_model_from_pretrained(")
# What the analysis reads in another module besides the rules' imported triggers, written as
# code: a helper that hands images to CLIP, a class with its own encoder method.
CROSS_MODULE = (*(b"." + m + b"(" for m in ENCODERS), *(b"def " + m + b"(" for m in ENCODERS),
                b".visual(", b".vision_model(", b".vision_tower(", b".image_encoder(")
# A module that does not mention CLIP matters only if it prepares images (a pipeline its
# CLIP-using importers apply): it then names an image library or a normalization config.
IMAGE_WORK = (b"torchvision", b"albumentations", b"cv2", b"PIL", b"kornia", b"interpolate",
              b"img_norm", b"Normalize", b"normalize", b"IMAGENET", b"485", b"123.6", b"monai")


def has_clip_marker(lowered: bytes) -> bool:
    """Whether the lower-cased bytes of a module show a CLIP-family model."""
    mentions = lowered.count(b"clip")
    if mentions and mentions > sum(lowered.count(word) for word in NOT_CLIP):
        return True
    return any(marker in lowered for marker in CLIP_MARKERS)


def prepares_images(data: bytes) -> bool:
    return any(word in data for word in IMAGE_WORK)


def has_clip_source(data: bytes) -> bool:
    return any(source in data for source in CLIP_SOURCES)


FILE_NOQA = re.compile(rb"^[ \t]*#[ \t]*clipguard:[ \t]*noqa(?::[ \t]*(?P<codes>[A-Z0-9, \t]+))?[ \t]*\r?$",
                       re.MULTILINE | re.IGNORECASE)


def file_noqa(data: bytes, lowered: bytes) -> set[str] | None:
    """Codes silenced for the whole file by `# clipguard: noqa[: CODES]`; {"ALL"} for all; else None.
    `lowered` is `data.lower()`: most files never name clipguard, and `in` is cheaper than the regex."""
    if b"clipguard" not in lowered:
        return None
    match = FILE_NOQA.search(data)
    if match is None:
        return None
    codes = match.group("codes")
    if not codes:
        return {"ALL"}
    return {c.decode().upper() for c in re.split(rb"[\s,]+", codes) if c}


# --- which names of a module carry a trigger to its importers ---------------------------------------
# A rule reads another module only through a top-level name the linted file refers to (an imported
# constant, helper function or class), so another module's trigger matters only to importers that
# name the statement holding it, or a statement that refers to that one, and so on.

_HEAD = re.compile(rb"^[A-Za-z_@([]", re.MULTILINE)  # the first line of a top-level statement
_DEFINITION = re.compile(rb"^(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)", re.MULTILINE)
_COMPOUND = re.compile(rb"(?:if|elif|else|try|except|finally|with|for|while|async)\b")
_ASSIGNED = re.compile(rb"[ \t]*([\w.\[\], \t]+?)[ \t]*(?::[^=\n]*)?(?<![=!<>])=(?!=)")
_INNER = re.compile(rb"^[ \t]+(?:(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)|(\w+)[ \t]*(?::[^=\n]*)?=(?!=)|"
                    rb"(?=from[ \t]|import[ \t]))", re.MULTILINE)
_IDENTIFIER = re.compile(rb"[A-Za-z_]\w*")
ANY = None


def trigger_carriers(data: bytes, triggers: tuple[bytes | re.Pattern[bytes], ...], bound_names) -> set[bytes] | None:
    """The top-level names of a module through which an importer can reach one of `triggers`:
    names bound by a statement holding a trigger, or holding such a name. `bound_names(data, at)`
    reads the names an import statement at `at` binds. ANY (None) when a statement holding one
    binds names that cannot be read from the bytes. A trigger is bytes or a compiled pattern."""
    positions = sorted(p for t in triggers for p in _occurrences(data, t))
    if not positions:
        return set()
    units = _units(data)
    starts = [start for start, _ in units]
    pending = _by_unit(starts, positions, set())
    carriers: set[bytes] = set()
    reached: set[int] = set()
    while pending:
        fresh: set[bytes] = set()
        for index, held in pending.items():
            names = _unit_names(data, *units[index], bound_names, held)
            if names is ANY or b"*" in names:
                return ANY
            fresh |= {name for name in names if not name.startswith(b"__")} - carriers  # not `__all__`
        reached |= pending.keys()
        carriers |= fresh
        if not fresh:
            break
        mentions = re.compile(b"|".join(re.escape(name) for name in sorted(fresh, key=len, reverse=True)))
        pending = _by_unit(starts, [m.start() for m in mentions.finditer(data)], reached)
    return carriers


def names_any(names: set[bytes] | None, data: bytes) -> bool:
    """Whether a module `data` names one of `names` (ANY: it may name anything)."""
    return names is ANY or any(name in data for name in names)


def _by_unit(starts: list[int], positions, reached: set[int]) -> dict[int, list[int]]:
    """The positions grouped by the statement holding them, leaving out `reached` statements."""
    grouped: dict[int, list[int]] = {}
    for position in positions:
        index = bisect.bisect_right(starts, position) - 1
        if index >= 0 and index not in reached:
            grouped.setdefault(index, []).append(position)
    return grouped


def _units(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each top-level statement; a decorator belongs to the definition below."""
    heads = [m.start() for m in _HEAD.finditer(data)]
    units, decorated = [], None
    for index, start in enumerate(heads):
        end = heads[index + 1] if index + 1 < len(heads) else len(data)
        if data[start:start + 1] == b"@":
            decorated = start if decorated is None else decorated
            continue
        units.append((start if decorated is None else decorated, end))
        decorated = None
    if decorated is not None:  # decorators with nothing below them (not valid Python)
        units.append((decorated, len(data)))
    return units


def _unit_names(data: bytes, start: int, end: int, bound_names, held: list[int]) -> set[bytes] | None:
    if data[start:start + 1] == b"@":  # decorators: the definition below them
        definition = _DEFINITION.search(data, start, end)
        return {definition.group(1)} if definition is not None else ANY
    definition = _DEFINITION.match(data, start)
    if definition is not None:
        return {definition.group(1)}
    imported = bound_names(data, start, held)  # only the clauses holding a trigger
    if imported is not None:
        return imported
    if _COMPOUND.match(data, start):  # `if TYPE_CHECKING:`, `try:`: what the block binds
        names: set[bytes] = set()
        for inner in _INNER.finditer(data, start, end):
            before = data[max(0, inner.start() - 200):inner.start()].rstrip()[-1:]
            if before and before in b"(,[{\\":
                continue  # a keyword argument on a continuation line
            name = inner.group(1) or inner.group(2)
            if name:
                names.add(name)
            else:
                names |= bound_names(data, inner.end()) or set()
        return names
    assignment = _ASSIGNED.match(data, start)
    if assignment is None:
        return ANY  # an expression statement, or text of a string that starts at column 0
    return set(_IDENTIFIER.findall(assignment.group(1)))


def _occurrences(data: bytes, word: bytes | re.Pattern[bytes]):
    if isinstance(word, re.Pattern):
        yield from (match.start() for match in word.finditer(data))
        return
    position = data.find(word)
    while position != -1:
        yield position
        position = data.find(word, position + len(word))
