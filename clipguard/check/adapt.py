"""Turn whatever a pipeline returned into a float32 CHW numpy array, noting what it took.

Duck-typed on purpose: importing torch, transformers or PIL here would slow every check down
and would not tell us more than `type(x).__module__` and a few attributes do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from clipguard.check.types import Output

CHANNEL_COUNTS = (1, 3, 4)


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _is_pil(value: Any) -> bool:
    return hasattr(value, "getbands") and hasattr(value, "mode") and hasattr(value, "size")


def _unwrap(value: Any, notes: dict[str, Any]) -> Any:
    """Containers around the pixels: dicts and BatchFeature with `pixel_values`, one-item lists."""
    for _ in range(4):
        if isinstance(value, Mapping) and "pixel_values" in value:
            notes["container"] = "pixel_values"
            value = value["pixel_values"]
        elif hasattr(value, "pixel_values") and not _is_tensor(value):
            notes["container"] = "pixel_values"
            value = value.pixel_values
        elif isinstance(value, (list, tuple)) and len(value) == 1:
            notes["list"] = type(value).__name__
            value = value[0]
        else:
            break
    return value


def _to_numpy(value: Any, notes: dict[str, Any]) -> np.ndarray:
    if _is_tensor(value):
        notes["type"] = "tensor"
        notes["dtype"] = str(value.dtype).removeprefix("torch.")
        value = value.detach().cpu()
        if notes["dtype"] in ("bfloat16", "complex32") or "float8" in notes["dtype"]:
            value = value.float()  # numpy has no such dtype
        return value.numpy()
    if _is_pil(value):
        notes["type"] = "PIL"
        notes["mode"] = value.mode
        array = np.asarray(value)
        notes["dtype"] = str(array.dtype)
        return array
    if isinstance(value, np.ndarray):
        notes["type"] = "ndarray"
    else:
        notes["type"] = type(value).__name__
    array = np.asarray(value)
    notes["dtype"] = str(array.dtype)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
    ):
        raise TypeError(f"the pipeline returned {type(value).__name__}, not an image array")
    return array


def _to_chw(array: np.ndarray, notes: dict[str, Any]) -> np.ndarray:
    if array.ndim == 4 and array.shape[0] == 1:
        notes["batch"] = 1
        array = array[0]
    elif array.ndim == 4:
        notes["batch"] = int(array.shape[0])
        return array
    if array.ndim == 2:
        notes["layout"] = "hw"
        return array[None]
    if array.ndim != 3:
        return array
    if notes.get("type") == "PIL":  # always HWC, and no other layout to choose: not a finding
        return array.transpose(2, 0, 1)
    if array.shape[0] not in CHANNEL_COUNTS and array.shape[-1] in CHANNEL_COUNTS:
        notes["layout"] = "hwc"
        return array.transpose(2, 0, 1)
    return array


def adapt(probe_name: str, value: Any) -> Output:
    """An `Output` for the value a pipeline returned on one probe (never raises)."""
    notes: dict[str, Any] = {}
    try:
        value = _unwrap(value, notes)
        if value is None:
            raise TypeError("the pipeline returned None")
        array = _to_numpy(value, notes)
        notes["shape"] = tuple(int(n) for n in array.shape)
        array = _to_chw(array, notes)
        array = np.ascontiguousarray(array, dtype=np.float32)
    except Exception as error:  # noqa: BLE001 - an unusable return value is that probe's finding
        return Output(probe_name, None, error=f"{type(error).__name__}: {error}", notes=notes)
    return Output(probe_name, array, notes=notes)
