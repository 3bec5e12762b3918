"""The forms a probe is handed to a pipeline in: `--input pil|numpy|tensor-uint8|tensor-float|path`.

Every form carries the probe's own pixels: an array is `numpy.asarray(image)` (channels last,
uint8), a tensor is that array channels first (as `pil_to_tensor` and `read_image` give it), a
path is a PNG of the image. A mode that a form cannot carry (an array has no palette, a PNG no
CMYK) skips that probe, with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PIL, NUMPY, TENSOR_UINT8, TENSOR_FLOAT, PATH = (
    "pil",
    "numpy",
    "tensor-uint8",
    "tensor-float",
    "path",
)
FORMS = (PIL, NUMPY, TENSOR_UINT8, TENSOR_FLOAT, PATH)
FALLBACKS = (NUMPY, TENSOR_UINT8, TENSOR_FLOAT, PATH)  # tried in this order when PIL is refused
DESCRIPTIONS = {
    PIL: "PIL images",
    NUMPY: "numpy arrays (H, W, C) of uint8",
    TENSOR_UINT8: "uint8 tensors (C, H, W), as read_image gives them",
    TENSOR_FLOAT: "float32 tensors (C, H, W) in [0, 1], as ToTensor() gives them",
    PATH: "paths of PNG files",
}
ARRAY_MODES = ("RGB", "RGBA", "L", "LA")  # the modes whose pixels an array holds as they are
PNG_MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "I;16")


def unsupported(mode: str, form: str) -> str | None:
    """Why a probe of this PIL mode cannot be given in this form, or None."""
    if form in (NUMPY, TENSOR_UINT8, TENSOR_FLOAT) and mode not in ARRAY_MODES:
        return f"an array has no {mode} mode"
    if form == PATH and mode not in PNG_MODES:
        return f"a PNG cannot hold a {mode} image"
    return None


def _array(image: Any):
    import numpy as np

    return np.array(image)  # a copy: the pipeline may write into it


def _tensor(image: Any):
    import torch

    pixels = torch.from_numpy(_array(image))
    return pixels[None] if pixels.ndim == 2 else pixels.permute(2, 0, 1).contiguous()


def feed(image: Any, form: str, name: str, folder: str | None) -> Any:
    """The probe `image` in `form`; a path form writes `<folder>/<name>.png` once."""
    if form == PIL:
        return image.copy()
    if form == NUMPY:
        return _array(image)
    if form == TENSOR_UINT8:
        return _tensor(image)
    if form == TENSOR_FLOAT:
        return _tensor(image).float() / 255
    if form == PATH:
        if folder is None:
            raise ValueError("a path input needs a folder to write the probes in")
        path = Path(folder) / f"{name}.png"
        if not path.exists():
            image.save(path, compress_level=1)
        return str(path)
    raise ValueError(f"unknown input form {form!r}: expected one of {', '.join(FORMS)}")
