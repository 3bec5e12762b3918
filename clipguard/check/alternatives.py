"""Another known profile whose reference the outputs match much better than the one in use.

A SigLIP processor checked against ViT-B/32 drifts on every probe; against a SigLIP profile it
matches. Candidates are the distinct recipes (size, statistics, interpolation, resize mode) of
the known profiles at the output's size; each is first scored on a few small probes, and only the
best is compared on every probe.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clipguard.check.reference import reference
from clipguard.check.tolerance import residual_within
from clipguard.check.types import Probe
from clipguard.profiles import Profile, all_profiles

MUCH_BETTER = 0.2  # the candidate's mean abs difference, as a share of the current one's
SCREEN_PROBES = 4


def _recipe(profile: Profile) -> tuple:
    return (profile.n_px, profile.mean, profile.std, profile.interpolation, profile.resize_mode)


def describe(profile: Profile) -> str:
    """A profile's recipe in words: `squash, bicubic, mean/std half`."""
    return (
        f"{profile.resize_mode} resize, {profile.interpolation}, {profile.normalization} mean/std"
    )


def _difference(probe: Probe, y: np.ndarray, profile: Profile) -> np.ndarray | None:
    """|output - reference| under `profile`; None when the shapes differ or Pillow cannot."""
    try:
        expected = reference(probe.image, profile)
    except (ValueError, OSError, TypeError):  # a probe the installed Pillow cannot do
        return None
    return np.abs(y - expected) if y.shape == expected.shape else None


def _mean_abs(probes: list[Probe], arrays: dict[str, np.ndarray], profile: Profile) -> list[float]:
    differences = [_difference(p, arrays[p.name], profile) for p in probes]
    return [float(d.mean()) if d is not None else np.inf for d in differences]


def better_profile(
    probes: list[Probe], arrays: dict[str, np.ndarray], current: Profile
) -> dict[str, Any] | None:
    """The `--model` to suggest, with the numbers, when another profile fits much better."""
    rgb = [p for p in probes if p.mode == "RGB" and p.name in arrays and arrays[p.name].ndim == 3]
    sizes = {arrays[p.name].shape[1:] for p in rgb}
    if len(sizes) != 1:
        return None
    height, width = sizes.pop()
    if height != width:
        return None
    screen = sorted(rgb, key=lambda p: (p.size[0] * p.size[1], p.name))[:SCREEN_PROBES]
    by_recipe: dict[tuple, list[Profile]] = {}
    for profile in all_profiles():
        if profile.n_px == height and _recipe(profile) != _recipe(current):
            by_recipe.setdefault(_recipe(profile), []).append(profile)
    if not by_recipe:
        return None
    now = float(np.mean(_mean_abs(screen, arrays, current)))
    scores = {
        recipe: float(np.mean(_mean_abs(screen, arrays, named[0])))
        for recipe, named in by_recipe.items()
    }
    recipe = min(scores, key=scores.get)
    if not scores[recipe] < MUCH_BETTER * now:
        return None
    candidate = by_recipe[recipe][0]
    passing = {name: 0 for name in ("candidate", "current")}
    errors = {name: [] for name in passing}
    for probe in rgb:
        for name, profile in (("candidate", candidate), ("current", current)):
            diff = _difference(probe, arrays[probe.name], profile)
            if diff is not None:
                passing[name] += residual_within(diff)
                errors[name].append(float(diff.mean()))
    if passing["candidate"] < passing["current"]:
        return None
    return {
        "model": candidate.name,
        "also": [p.name for p in by_recipe[recipe][1:3]],
        "recipe": describe(candidate),
        "probes": len(rgb),
        "passing": passing["candidate"],
        "passing_current": passing["current"],
        "mean_abs": round(float(np.mean(errors["candidate"])), 5),
        "mean_abs_current": round(float(np.mean(errors["current"])), 5),
    }
