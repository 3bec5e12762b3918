"""Probe images: deterministic inputs, each chosen to reveal one kind of preprocessing mistake.

Every generator is a pure function of its arguments (sizes, seed); nothing is read from disk
except the three photographs in `fixtures/photos` (scikit-image samples, see its LICENSE.md).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from clipguard.check.types import Probe

PHOTOS_DIR = Path(__file__).resolve().parents[1] / "data" / "photos"  # -> fixtures/photos
PHOTOS = ("astronaut", "coffee", "chelsea")


def _to_image(rgb: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))


def _field(width: int, height: int, cells: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth random field in [0, 1): coarse noise upsampled bicubically."""
    if width >= height:
        coarse_w, coarse_h = max(2, round(cells * width / height)), cells
    else:
        coarse_w, coarse_h = cells, max(2, round(cells * height / width))
    noise = rng.random((coarse_h, coarse_w), dtype=np.float32)
    return np.asarray(Image.fromarray(noise, "F").resize((width, height), Image.Resampling.BICUBIC))


def smooth(width: int, height: int, seed: int = 0) -> Image.Image:
    """Natural-looking smooth colour: three octaves of upsampled noise plus a soft gradient."""
    # Large probes are generated small and upscaled: the content is smooth anyway, and time counts.
    scale = int(np.ceil(np.sqrt(width * height / 400_000)))
    if scale > 1:
        small = smooth(width // scale, height // scale, seed)
        return small.resize((width, height), Image.Resampling.BICUBIC)
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    channels = []
    for channel in range(3):
        value = 0.55 * _field(width, height, 3, rng) + 0.3 * _field(width, height, 9, rng)
        value = value + 0.15 * _field(width, height, 27, rng)
        value = value + 0.25 * (x if channel == 0 else y if channel == 1 else (x + y) / 2) - 0.1
        channels.append(value)
    return _to_image(np.stack(channels, axis=-1) * 255)


def gradient(width: int, height: int) -> Image.Image:
    """Linear gradients: red across, green down, blue along the diagonal."""
    x = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height)[:, None].repeat(width, 1)
    return _to_image(np.stack([x, y, 255 - (x + y) / 2], axis=-1))


def ramps(width: int, height: int) -> Image.Image:
    """Per-channel ramps with different ranges, so each channel's scale and order can be fitted."""
    x = np.linspace(0, 1, width)[None, :].repeat(height, 0)
    y = np.linspace(0, 1, height)[:, None].repeat(width, 1)
    red = 255 * x
    green = 30 + 200 * y
    blue = 60 + 120 * (1 - x) * (0.5 + 0.5 * y)
    return _to_image(np.stack([red, green, blue], axis=-1))


def checkerboard(width: int, height: int, cell: int = 4) -> Image.Image:
    """Coloured checkerboard: high frequencies that tell filters and antialiasing apart."""
    ys, xs = np.mgrid[0:height, 0:width]
    on = ((xs // cell + ys // cell) % 2).astype(np.float64)
    return _to_image(np.stack([on * 230 + 10, (1 - on) * 200 + 30, on * 120 + 60], axis=-1))


def zone_plate(width: int, height: int) -> Image.Image:
    """Circular zone plate whose frequency reaches Nyquist at the edges; channels phase-shifted."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    radius2 = (xs - width / 2) ** 2 + (ys - height / 2) ** 2
    phase = np.pi * radius2 / max(width, height)
    return _to_image(np.stack([127.5 + 127.5 * np.cos(phase + shift) for shift in (0, 2, 4)], -1))


def markers(width: int, height: int, seed: int = 1) -> Image.Image:
    """Asymmetric corner marks and a one-pixel ruler at the centre: crops, offsets, flips."""
    image = smooth(width, height, seed)
    draw = ImageDraw.Draw(image)
    w, h = width, height
    draw.rectangle((0.08 * w, 0.08 * h, 0.25 * w, 0.18 * h), fill=(230, 20, 20))
    draw.polygon([(0.7 * w, 0.1 * h), (0.92 * w, 0.1 * h), (0.92 * w, 0.3 * h)], fill=(20, 210, 40))
    draw.ellipse((0.1 * w, 0.75 * h, 0.22 * w, 0.9 * h), fill=(30, 40, 240))
    draw.rectangle((0.75 * w, 0.7 * h, 0.8 * w, 0.92 * h), fill=(250, 250, 250))
    draw.rectangle((0.75 * w, 0.87 * h, 0.92 * w, 0.92 * h), fill=(250, 250, 250))
    left, top = int(0.4 * w), int(0.4 * h)
    for column in range(left, int(0.6 * w), 2):
        draw.line((column, top, column, int(0.6 * h)), fill=(0, 0, 0))
    draw.line((left, h // 2, int(0.6 * w), h // 2), fill=(255, 255, 0))
    return image


def with_alpha(image: Image.Image, seed: int = 2) -> Image.Image:
    """RGBA: alpha ramps left to right, with a fully transparent block that still hides colour."""
    width, height = image.size
    alpha = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    rng = np.random.default_rng(seed)
    left, top = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
    alpha[top : top + height // 3, left : left + width // 3] = 0
    rgba = np.dstack([np.asarray(image), np.clip(alpha, 0, 255).astype(np.uint8)])
    return Image.fromarray(rgba, "RGBA")


def luminance_alpha(width: int, height: int) -> Image.Image:
    """LA: a grey gradient under a vertical alpha ramp."""
    gray = np.asarray(gradient(width, height).convert("L"))
    alpha = np.linspace(255, 0, height)[:, None].repeat(width, 1).astype(np.uint8)
    return Image.fromarray(np.dstack([gray, alpha]), "LA")


def sixteen_bit(width: int, height: int) -> Image.Image:
    """I;16: a smooth field stored in 16 bits, partly above 255 as real 16-bit files are."""
    gray = np.asarray(smooth(width, height, 5).convert("L"), dtype=np.float64)
    return Image.fromarray((gray * 1.6).astype(np.uint16))


def _palette(image: Image.Image, colors: int) -> Image.Image:
    # Fast octree, not median cut: ten times quicker and just as deterministic.
    return image.quantize(colors, method=Image.Quantize.FASTOCTREE)


def photo(name: str) -> Image.Image:
    """One of the bundled photographs, fully loaded."""
    with Image.open(PHOTOS_DIR / f"{name}.png") as image:
        return image.convert("RGB")


def _rgb(
    maker: Callable[..., Image.Image], name: str, size: tuple[int, int], purpose: str, *args
) -> Probe:
    return Probe(f"{name}-{size[0]}x{size[1]}", maker(*size, *args), purpose)


def _converted(
    probe: Probe, mode: str, image: Image.Image | None = None, purpose: str = ""
) -> Probe:
    image = image if image is not None else probe.image.convert(mode)
    return Probe(f"{probe.name}-{mode.lower().replace(';', '')}", image, purpose)


def _quick() -> list[Probe]:
    smooth_small = _rgb(smooth, "smooth", (400, 400), "", 7)
    palette = _rgb(smooth, "smooth", (300, 450), "", 8)
    probes = [
        _rgb(smooth, "smooth", (640, 480), "landscape, smooth colour", 0),
        _rgb(smooth, "smooth", (333, 517), "portrait, crop offset 61.5 (rounds to 62)", 3),
        _rgb(ramps, "ramps", (400, 300), "per-channel ramps: normalization and channel order"),
        _rgb(markers, "markers", (517, 333), "asymmetric marks: crop offset and flips"),
        _rgb(checkerboard, "checker", (500, 375), "high frequency: interpolation filter", 3),
        _rgb(zone_plate, "zoneplate", (800, 600), "all frequencies: antialiasing"),
        _rgb(smooth, "smooth", (160, 120), "smaller than the model input: upscaling", 4),
        _converted(smooth_small, "RGBA", with_alpha(smooth_small.image), "alpha handling"),
        _converted(palette, "P", _palette(palette.image, 64), "palette image: mode conversion"),
    ]
    if (PHOTOS_DIR / "astronaut.png").exists():
        probes.insert(0, Probe("photo-astronaut", photo("astronaut"), "photograph (public domain)"))
    return probes


def _full_extra() -> list[Probe]:
    markers_portrait = _rgb(markers, "markers", (333, 517), "", 9)
    checker_mono = _rgb(checkerboard, "checker", (300, 200), "", 5)
    transparent = _rgb(smooth, "smooth", (333, 517), "", 10)
    probes = [
        _rgb(smooth, "smooth", (225, 1000), "very tall and narrow", 11),
        _rgb(ramps, "ramps", (1000, 225), "very wide and short"),
        _rgb(smooth, "smooth", (224, 224), "already the model size: no resize", 12),
        _rgb(smooth, "smooth", (3000, 2000), "very large: strong downscale", 13),
        _rgb(gradient, "gradient", (480, 640), "portrait gradients"),
        _rgb(checkerboard, "checker", (640, 480), "one-pixel checkerboard: aliasing", 1),
        _rgb(zone_plate, "zoneplate", (333, 517), "zone plate at an odd ratio"),
        markers_portrait,
        _rgb(markers, "markers", (301, 299), "near-square with odd sides", 14),
        _rgb(ramps, "ramps", (299, 301), "near-square ramps"),
        _rgb(smooth, "smooth", (1001, 999), "odd, nearly square", 15),
        _rgb(smooth, "smooth", (100, 400), "narrow and smaller than the model input", 16),
        _converted(_rgb(gradient, "gradient", (320, 240), ""), "L", purpose="greyscale"),
        Probe("gradient-400x300-la", luminance_alpha(400, 300), "greyscale with alpha"),
        _converted(transparent, "RGBA", with_alpha(transparent.image, 6), "alpha at an odd ratio"),
        _converted(_rgb(smooth, "smooth", (400, 300), "", 17), "CMYK", purpose="CMYK: conversion"),
        Probe("smooth-320x240-i16", sixteen_bit(320, 240), "16-bit greyscale"),
        _converted(checker_mono, "1", purpose="bilevel: Pillow resizes it with NEAREST"),
        _converted(
            markers_portrait, "P", _palette(markers_portrait.image, 32), "palette with sharp marks"
        ),
    ]
    for name in PHOTOS[1:]:
        if (PHOTOS_DIR / f"{name}.png").exists():
            probes.append(Probe(f"photo-{name}", photo(name), "photograph (CC0)"))
    return probes


@cache
def _probe_set(kind: str) -> tuple[Probe, ...]:
    if kind == "quick":
        return tuple(_quick())
    if kind == "full":
        return tuple(_quick() + _full_extra())
    raise ValueError(f"unknown probe set {kind!r}: expected 'quick' or 'full'")


def probe_set(kind: str = "quick") -> list[Probe]:
    """The `quick` (about 10) or `full` (about 30) probe set, generated once per process."""
    return [Probe(p.name, p.image.copy(), p.purpose) for p in _probe_set(kind)]


def user_images(directory: str | Path) -> tuple[list[Probe], list[str]]:
    """The images of a folder (`--images`) as probes, loaded as PIL loads them, with a note per
    file that is not an image PIL can open. Raises ValueError when there is no image at all."""
    folder = Path(directory)
    if not folder.is_dir():
        raise ValueError(f"--images {directory}: not a folder")
    probes, notes = [], []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        try:
            with Image.open(path) as image:
                image.load()
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            notes.append(f"--images: {path.name} skipped: not an image Pillow can open ({error})")
            continue
        probes.append(Probe(f"image-{path.name}", image, f"your image {path.name}"))
    if not probes:
        raise ValueError(f"--images {directory}: no image Pillow can open in that folder")
    return probes, notes
