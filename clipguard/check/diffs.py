"""Diff images of a check (`--save-diffs`): reference | pipeline | heat map of |diff|."""

from __future__ import annotations

import re
from pathlib import Path

from clipguard.check.evaluate import FAILING, CheckResult
from clipguard.check.tolerance import EQUIVALENT_MAX_ABS


def _display(array, profile):
    import numpy as np

    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 4:
        array = array[0]
    if array.ndim != 3:
        return None
    if array.shape[0] == 1:
        array = np.repeat(array, 3, axis=0)
    array = array[:3]
    if array.shape[0] == 3:
        mean = np.asarray(profile.mean, dtype=np.float32)[:, None, None]
        std = np.asarray(profile.std, dtype=np.float32)[:, None, None]
        array = array * std + mean
    pixels = np.clip(np.nan_to_num(array), 0, 1) * 255
    return np.rint(pixels).astype(np.uint8).transpose(1, 2, 0)


def _heat(diff):
    """A black-red-yellow-white map of |diff|, scaled to its own maximum."""
    import numpy as np

    scale = max(float(diff.max()), EQUIVALENT_MAX_ABS)
    t = np.clip(diff / scale, 0, 1)
    rgb = np.stack([np.clip(3 * t, 0, 1), np.clip(3 * t - 1, 0, 1), np.clip(3 * t - 2, 0, 1)], -1)
    return np.rint(rgb * 255).astype(np.uint8)


def _panel_strip(panels, captions):
    from PIL import Image, ImageDraw

    gap, caption = 6, 14
    height = max(p.shape[0] for p in panels) + caption
    width = sum(p.shape[1] for p in panels) + gap * (len(panels) - 1)
    canvas = Image.new("RGB", (width, height), (40, 40, 40))
    draw = ImageDraw.Draw(canvas)
    left = 0
    for panel, text in zip(panels, captions):
        canvas.paste(Image.fromarray(panel), (left, caption))
        draw.text((left + 2, 1), text, fill=(230, 230, 230))
        left += panel.shape[1] + gap
    return canvas


def save_diffs(result: CheckResult, directory: str | Path) -> list[Path]:
    """Write `<probe>.png` (reference | pipeline | heat map of |diff|) per failing probe."""
    import numpy as np

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for comparison in result.comparisons:
        if comparison.status not in FAILING:
            continue
        reference = _display(result.references[comparison.probe], result.profile)
        output = result.outputs.get(comparison.probe)
        array = None if output is None else output.array
        pipeline = None if array is None else _display(array, result.profile)
        panels, captions = [reference], ["reference"]
        if pipeline is not None:
            panels.append(pipeline)
            captions.append("pipeline")
        else:
            captions[0] += f" (pipeline: {comparison.status})"
        if (
            array is not None
            and comparison.max_abs is not None
            and array.shape[-3:] == result.references[comparison.probe].shape
        ):
            diff = np.abs(
                np.nan_to_num(np.asarray(array, np.float32)) - result.references[comparison.probe]
            ).mean(axis=0)
            panels.append(_heat(diff))
            captions.append(f"|diff| max {comparison.max_abs:.3g}")
        path = directory / (re.sub(r"[^\w.-]", "_", comparison.probe) + ".png")
        _panel_strip(panels, captions).save(path)
        written.append(path)
    return written
