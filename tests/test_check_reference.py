"""The reference transform equals openai-clip's and open_clip's, bit for bit; probes are sound."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipguard.check.evaluate import processable
from clipguard.check.probes import PHOTOS_DIR
from clipguard.check.probes import probe_set as all_probes
from clipguard.check.reference import center_crop_box, reference, shortest_side_size
from clipguard.profiles import Profile, open_clip_table, openai

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # openai-clip imports pkg_resources
    from clip.clip import _transform

open_clip = pytest.importorskip("open_clip")


def probe_set(kind: str = "quick"):
    """The probes the installed Pillow can process as the reference does (all, on Pillow >= 11)."""
    return processable(all_probes(kind))


FULL = probe_set("full")


def _ids(probes):
    return [p.name for p in probes]


@pytest.mark.parametrize("n_px", [224, 288, 336])
def test_openai_transform_bit_for_bit(n_px):
    transform = _transform(n_px)
    profile = Profile("test", n_px)
    for probe in FULL:
        expected = transform(probe.image).numpy()
        actual = reference(probe.image, profile)
        assert actual.dtype == np.float32 and actual.shape == (3, n_px, n_px)
        assert np.array_equal(actual, expected), probe.name


@pytest.mark.parametrize("n_px", [224, 336])
def test_open_clip_default_eval_transform_bit_for_bit(n_px):
    transform = open_clip.image_transform(n_px, is_train=False)
    profile = openai("ViT-L/14@336px") if n_px == 336 else openai("ViT-B/32")
    for probe in FULL:
        assert np.array_equal(reference(probe.image, profile), transform(probe.image).numpy()), (
            probe.name
        )


def _distinct_profiles():
    """One open_clip tag per distinct preprocessing recipe in the stored table."""
    seen = {}
    for profile in open_clip_table().values():
        key = (profile.n_px, profile.mean, profile.std, profile.interpolation, profile.resize_mode)
        seen.setdefault(key, profile)
    chosen = {}
    for profile in seen.values():  # each recipe once, at its smallest size: enough and fast
        key = (profile.mean, profile.std, profile.interpolation, profile.resize_mode)
        if key not in chosen or profile.n_px < chosen[key].n_px:
            chosen[key] = profile
    return list(chosen.values())


PROFILES = _distinct_profiles()


@pytest.mark.parametrize("profile", PROFILES, ids=[p.name for p in PROFILES])
def test_open_clip_recipes_bit_for_bit(profile):
    transform = open_clip.image_transform(
        profile.n_px,
        is_train=False,
        mean=profile.mean,
        std=profile.std,
        resize_mode=profile.resize_mode,
        interpolation=profile.interpolation,
    )
    for probe in probe_set("quick"):
        assert np.array_equal(reference(probe.image, profile), transform(probe.image).numpy()), (
            probe.name
        )


def test_recipes_cover_squash_bilinear_half_and_none():
    recipes = {(p.resize_mode, p.interpolation, p.normalization) for p in PROFILES}
    assert ("squash", "bicubic", "half") in recipes  # SigLIP
    assert ("squash", "bilinear", "imagenet") in recipes  # CLIPA
    assert ("shortest", "bilinear", "none") in recipes  # MobileCLIP


def test_longest_side_pad_bit_for_bit():
    profile = Profile("longest", 224, resize_mode="longest")
    transform = open_clip.image_transform(224, is_train=False, resize_mode="longest")
    for probe in FULL:
        assert np.array_equal(reference(probe.image, profile), transform(probe.image).numpy()), (
            probe.name
        )


def test_geometry_helpers_follow_torchvision():
    assert shortest_side_size(333, 517, 224) == (224, 347)  # int(224 * 517 / 333) = 347
    assert shortest_side_size(1000, 225, 224) == (995, 224)
    # (347 - 224) / 2 = 61.5 rounds half to even: 62, not the floor 61
    assert center_crop_box(224, 347, 224) == (0, 62, 224, 286)
    assert center_crop_box(995, 224, 224) == (386, 0, 610, 224)  # 385.5 -> 386
    assert center_crop_box(224, 349, 224) == (0, 62, 224, 286)  # 62.5 -> 62


# ---------------------------------------------------------------- probes


def test_probes_are_deterministic():
    first, second = all_probes("full"), all_probes("full")
    assert _ids(first) == _ids(second)
    for a, b in zip(first, second):
        assert a.image.mode == b.image.mode and a.image.tobytes() == b.image.tobytes(), a.name
        assert a.image is not b.image  # callers may not share (and so mutate) cached images


def test_probe_sets_sizes_and_coverage():
    quick, full = all_probes("quick"), all_probes("full")
    assert 8 <= len(quick) <= 12 and 25 <= len(full) <= 35
    assert _ids(full)[: len(quick)] == _ids(quick)
    assert len(set(_ids(full))) == len(full)
    modes = {p.mode for p in full}
    assert {"RGB", "L", "LA", "RGBA", "P", "CMYK", "I;16", "1"} <= modes
    sizes = {p.size for p in full}
    assert {(333, 517), (225, 1000)} <= sizes
    assert any(w > h for w, h in sizes) and any(w < h for w, h in sizes)
    assert any(w == h for w, h in sizes)
    assert any(min(s) < 224 for s in sizes) and any(min(s) >= 1000 for s in sizes)
    rgba = next(p for p in full if p.mode == "RGBA")
    alpha = np.asarray(rgba.image)[..., 3]
    assert alpha.min() == 0 and alpha.max() == 255 and len(np.unique(alpha)) > 100


def test_unknown_probe_set():
    with pytest.raises(ValueError, match="quick"):
        probe_set("huge")


def test_photos_are_small_and_licensed():
    photos = sorted(Path(PHOTOS_DIR).glob("*.png"))
    assert {p.stem for p in photos} == {"astronaut", "coffee", "chelsea"}
    assert sum(p.stat().st_size for p in photos) < 400_000
    for path in photos:
        with Image.open(path) as image:
            assert max(image.size) <= 320
    licence = (Path(PHOTOS_DIR) / "LICENSE.md").read_text()
    assert all(name in licence for name in ("astronaut", "coffee", "chelsea", "CC0"))
    assert any(p.name.startswith("photo-") for p in probe_set("quick"))


def test_a_probe_pillow_cannot_process_is_skipped_with_its_version():
    """On Pillow 10.4 bicubic resizing of I;16 raises; such a probe is skipped, never a crash."""
    import PIL

    from clipguard.check.evaluate import reference_set

    probes = all_probes("full")
    references = reference_set(probes, openai())
    assert set(references.arrays) | set(references.skipped) == set(_ids(probes))
    for name, note in references.skipped.items():
        assert f"Pillow {PIL.__version__}" in note and "\n" not in note, name
    sixteen = next(p for p in probes if p.mode == "I;16")
    try:
        sixteen.image.resize((8, 8), Image.Resampling.BICUBIC)
    except ValueError:
        assert sixteen.name in references.skipped
    else:
        assert sixteen.name in references.arrays
