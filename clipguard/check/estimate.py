"""Per-channel normalization measured from outputs: a least-squares affine fit, and its name.

A pipeline that normalizes with mean m and std s maps an unnormalized pixel x in [0, 1] to
(x - m) / s, i.e. y = a x + b with a = 1/s and b = -m/s. Fitting a and b per channel against the
reference's unnormalized tensor measures the effective statistics, whatever constants or scale
the code spelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clipguard.profiles import CLIP_MEAN, CLIP_STD, HALF, IMAGENET_MEAN, IMAGENET_STD, ONE, ZERO

# Known statistics, by the name the diagnosis uses for them (sources in clipguard.profiles).
KNOWN_STATS = {
    "clip": (CLIP_MEAN, CLIP_STD),
    "imagenet": (IMAGENET_MEAN, IMAGENET_STD),
    "half": (HALF, HALF),
    "none": (ZERO, ONE),
}
MEAN_TOLERANCE = 0.01  # absolute, in [0, 1] pixel units
STD_TOLERANCE = 0.03  # relative
UINT8_SCALE = 255.0


@dataclass
class Affine:
    """y = scale * x + offset, per channel."""

    scale: np.ndarray  # (3,)
    offset: np.ndarray  # (3,)

    @classmethod
    def from_stats(cls, mean, std) -> Affine:
        std = np.asarray(std, dtype=np.float64)
        return cls(1 / std, -np.asarray(mean, dtype=np.float64) / std)

    @property
    def mean(self) -> np.ndarray:
        return -self.offset / self.scale

    @property
    def std(self) -> np.ndarray:
        return 1 / self.scale

    def apply(self, x: np.ndarray) -> np.ndarray:
        return x * self.scale[:, None, None] + self.offset[:, None, None]


def _flat(arrays: list[np.ndarray]) -> np.ndarray:
    """Stack (C, H, W) arrays into (C, total pixels) float64."""
    return np.concatenate([a.reshape(a.shape[0], -1) for a in arrays], axis=1).astype(np.float64)


def fit_channel_maps(
    xs: list[np.ndarray], ys: list[np.ndarray], maps: dict[str, np.ndarray]
) -> dict[str, tuple[Affine, np.ndarray]]:
    """For each 3x3 channel map M: the least-squares y = a (M x) + b and its residual variance.

    All maps come from one pass over the pixels: the joint second moments of x and y.
    """
    x, y = _flat(xs), _flat(ys)
    x_mean, y_mean = x.mean(axis=1), y.mean(axis=1)
    centered = np.concatenate([x - x_mean[:, None], y - y_mean[:, None]])
    moments = centered @ centered.T / x.shape[1]
    sxx, sxy, syy = moments[:3, :3], moments[:3, 3:], np.diag(moments[3:, 3:])
    fits = {}
    for name, m in maps.items():
        var = np.einsum("ij,jk,ik->i", m, sxx, m)  # diag(M Sxx M^T)
        cov = np.diag(m @ sxy)
        scale = np.where(var > 1e-12, cov / np.maximum(var, 1e-12), 1.0)
        scale = np.where(np.abs(scale) > 1e-9, scale, 1e-9)
        fits[name] = (Affine(scale, y_mean - scale * (m @ x_mean)), syy - scale * cov)
    return fits


def spread_ratio(xs: list[np.ndarray], ys: list[np.ndarray]) -> np.ndarray:
    """Per-channel std(y) / std(x): the output's scale, independent of any alignment."""
    x, y = _flat(xs), _flat(ys)
    sx, sy = x.std(axis=1), y.std(axis=1)
    return np.where((sx > 1e-9) & (sy > 1e-9), sy / np.maximum(sx, 1e-9), 1.0)


def name_stats(mean, std) -> str | None:
    """'clip', 'imagenet', 'half' or 'none' when the statistics match one, else None."""
    mean, std = np.asarray(mean), np.asarray(std)
    for name, (known_mean, known_std) in KNOWN_STATS.items():
        if np.all(np.abs(mean - known_mean) <= MEAN_TOLERANCE) and np.all(
            np.abs(std / np.asarray(known_std) - 1) <= STD_TOLERANCE
        ):
            return name
    return None


def same_stats(mean, std, other_mean, other_std) -> bool:
    """Whether two mean/std pairs agree within the tolerance used to name statistics."""
    return bool(
        np.all(np.abs(np.asarray(mean) - np.asarray(other_mean)) <= MEAN_TOLERANCE)
        and np.all(np.abs(np.asarray(std) / np.asarray(other_std) - 1) <= STD_TOLERANCE)
    )


def looks_uint8(std) -> bool:
    """Whether an estimated std says the output is on a 0-255 scale (slope near 255 / std)."""
    # A std below 0.02 is far outside any real normalization (CLIP's smallest is 0.26).
    return bool(np.all(np.abs(np.asarray(std)) < 0.02))
