"""The hypothesis search: which member of the render family best explains a pipeline's outputs.

The outputs are modelled as `affine(order(render(image, geometry, interpolation)))`, where the
per-channel affine map (the effective normalization) and the channel order are fitted for every
candidate. Geometry is searched first with the profile's interpolation, then interpolation on the
best geometry, then geometry again if the interpolation changed. An ablation puts the reference
back in one dimension at a time and measures how much worse the fit gets, per probe: that loss
is the evidence that the dimension is a cause. A dimension is also a cause on the probes that
reverting it alone pushes outside the tolerance of docs/design.md: tensor resizes differ from Pillow's only
by rounding, a few 8-bit steps on sharp edges, which the mean barely sees.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from clipguard.check import hypotheses as hyp
from clipguard.check.estimate import Affine, fit_channel_maps, same_stats, spread_ratio
from clipguard.check.tolerance import residual_within
from clipguard.check.types import Probe
from clipguard.profiles import Profile

# Channel maps from the rendered RGB tensor: as is, reversed, or greyscale in every channel
# (Pillow's "L" weights, ITU-R 601-2, as `convert("L")` uses).
CHANNEL_MAPS = {
    "rgb": np.eye(3),
    "bgr": np.eye(3)[::-1],
    "greyscale": np.tile([0.299, 0.587, 0.114], (3, 1)),
}


def mix(x: np.ndarray, channels: str) -> np.ndarray:
    """Apply a channel map to a (3, H, W) tensor."""
    if channels == "rgb":
        return x
    if channels == "bgr":
        return x[::-1]
    return np.tensordot(CHANNEL_MAPS[channels], x, axes=1)


MAX_SEARCH_PROBES = 4  # the most drifted probes carry the evidence; more only cost time
LARGE_PROBE = 1_000_000  # pixels; larger probes are searched only when too few others drift
# A hypothesis replaces the reference only when it lowers the error by this factor.
PREFER_REFERENCE = 0.95
# A dimension is a cause when reverting it to the reference raises the mean abs error (normalized
# units) above RELATIVE x the best error plus ABSOLUTE.
RELATIVE, ABSOLUTE = 1.5, 5e-4
MIN_EXPLAINED = 0.5  # below this R squared the family does not describe the pipeline at all
EXPLAINED = 1e-4  # a fit this close (about 1/40 of an 8-bit step on average) needs no more search


@dataclass
class Fit:
    """One hypothesis evaluated on the search probes."""

    geometry: str
    interpolation: str
    order: str
    affine: Affine
    error: float  # mean abs residual over the search probes, in the profile's normalized units
    explained: float = 1.0  # share of the output's variance the fit explains (R squared)


class ProbeLoss(NamedTuple):
    """What reverting one dimension costs on one probe, in normalized units."""

    reverted: float  # mean abs error with the dimension reverted
    best: float  # mean abs error under the best fit
    reverted_max: float
    best_max: float
    breaks_tolerance: (
        bool  # within the tolerance (docs/design.md) under the best fit, outside reverted
    )


@dataclass
class Ablation:
    """One dimension of the best fit that differs from the reference, and what reverting costs."""

    dimension: str  # geometry | interpolation | order | normalization
    found: str  # the best hypothesis's value in that dimension
    reference: str
    reverted: Fit
    per_probe: dict[str, tuple[float, float]] = field(default_factory=dict)  # (reverted, best)
    max_abs: tuple[float, float] = (0.0, 0.0)  # worst pixel over per_probe: (reverted, best)
    plans: dict[str, Any] = field(default_factory=dict)  # geometry: both plans on the worst probe

    @property
    def needed(self) -> bool:
        return bool(self.per_probe)


def reference_geometry(profile: Profile) -> str:
    return hyp.REFERENCE_GEOMETRY.get(profile.resize_mode, "shortest")


def target_size(array: np.ndarray, n: int) -> int:
    """The size a hypothesis must produce: the output's if square, else the model's."""
    height, width = array.shape[1:]
    return height if height == width else n


def needs(reverted: float, best: float) -> bool:
    """Whether reverting a dimension hurts the fit enough to make it a cause."""
    return reverted > RELATIVE * best + ABSOLUTE


class Search:
    """The search on the drifted RGB probes that share the most common output size."""

    def __init__(
        self,
        drifted: list[Probe],
        arrays: dict[str, np.ndarray],
        references: dict[str, np.ndarray],
        profile: Profile,
    ):
        self.profile = profile
        targets = {p.name: target_size(arrays[p.name], profile.n_px) for p in drifted}
        self.target = Counter(targets.values()).most_common(1)[0][0]
        self.group = [p for p in drifted if targets[p.name] == self.target]
        self.probes = _most_telling(self.group, arrays, references)
        self.ys = {p.name: arrays[p.name].astype(np.float64) for p in self.group}
        self.reference_geometry = reference_geometry(profile)
        self.geometries = hyp.geometries(self.target, self.reference_geometry)
        self.std = np.asarray(profile.std, dtype=np.float64)
        self.profile_affine = Affine.from_stats(profile.mean, profile.std)
        self._renders: dict[tuple[str, str, str], np.ndarray | None] = {}
        for probe in self.group:
            if self.ys[probe.name].shape == references[probe.name].shape:
                # The reference itself, unnormalized, needs no render.
                unnormalized = (
                    references[probe.name].astype(np.float64) * self.std[:, None, None]
                    + self.profile_affine.mean[:, None, None]
                )
                key = (probe.name, self.reference_geometry, profile.interpolation)
                self._renders[key] = unnormalized
        self.scale = self._output_scale()
        self.output_variance = np.concatenate(
            [self.ys[p.name].reshape(self.ys[p.name].shape[0], -1) for p in self.probes], 1
        ).var(1)

    def _output_scale(self) -> np.ndarray:
        for geometry in self.geometries:
            xs = self._renders_on(self.probes, geometry, self.profile.interpolation)
            if xs is not None:
                return np.abs(spread_ratio(xs, [self.ys[p.name] for p in self.probes]))
        return np.ones(3)

    def _render(self, probe: Probe, geometry: str, interpolation: str) -> np.ndarray | None:
        key = (probe.name, geometry, interpolation)
        if key not in self._renders:
            plan = self.geometries[geometry](*probe.size)
            width, height = plan.box[2] - plan.box[0], plan.box[3] - plan.box[1]
            y = self.ys[probe.name]
            fits = (height, width) == y.shape[1:] and y.shape[0] == 3
            self._renders[key] = hyp.render(probe.image, plan, interpolation) if fits else None
        return self._renders[key]

    def _renders_on(
        self, probes: list[Probe], geometry: str, interpolation: str
    ) -> list[np.ndarray] | None:
        xs = [self._render(p, geometry, interpolation) for p in probes]
        return None if any(x is None for x in xs) else xs

    def _residual(self, probe: Probe, x: np.ndarray, order: str, affine: Affine) -> np.ndarray:
        """Absolute residual of one probe in normalized units."""
        units = (self.scale * self.std)[:, None, None]
        return np.abs(self.ys[probe.name] - affine.apply(mix(x, order))) / units

    def _errors(
        self, probes: list[Probe], xs: list[np.ndarray], order: str, affine: Affine
    ) -> np.ndarray:
        """Per-probe mean abs residual in normalized units."""
        return np.array([np.mean(self._residual(p, x, order, affine)) for p, x in zip(probes, xs)])

    def evaluate(
        self,
        geometry: str,
        interpolation: str,
        order: str | None = None,
        affine: Affine | None = None,
    ) -> Fit | None:
        """The hypothesis with the best channel order and affine (unless given), or None."""
        xs = self._renders_on(self.probes, geometry, interpolation)
        if xs is None:
            return None
        explained = 1.0
        if order is None or affine is None:
            maps = CHANNEL_MAPS if order is None else {order: CHANNEL_MAPS[order]}
            fits = fit_channel_maps(xs, [self.ys[p.name] for p in self.probes], maps)
            weights = 1 / (self.scale * self.std) ** 2
            order = min(fits, key=lambda name: float(np.sum(fits[name][1] * weights)))
            affine = affine or fits[order][0]
            variance = self.output_variance
            explained = float(
                np.mean(
                    np.where(variance > 1e-12, 1 - fits[order][1] / np.maximum(variance, 1e-12), 0)
                )
            )
        error = float(self._errors(self.probes, xs, order, affine).mean())
        return Fit(geometry, interpolation, order, affine, error, explained)

    def _best_of(self, candidates) -> Fit | None:
        best = None
        for fit in candidates:  # lazily: a fit that explains everything ends the search
            if fit is not None and (best is None or fit.error < best.error * PREFER_REFERENCE):
                best = fit
            if best is not None and best.error < EXPLAINED:
                break
        return best

    def best(self) -> Fit | None:
        """Geometry with the profile's interpolation, then interpolation, then geometry again."""
        interpolation = self.profile.interpolation
        fit = self._best_of(self.evaluate(g, interpolation) for g in self.geometries)
        if fit is None or fit.error < EXPLAINED:
            return self._refine(fit) if fit is not None else None
        names = [interpolation] + [i for i in hyp.INTERPOLATIONS if i != interpolation]
        fit = self._best_of(self.evaluate(fit.geometry, i) for i in names)
        if fit.interpolation != interpolation and fit.error >= EXPLAINED:
            geometries = [fit.geometry] + [g for g in self.geometries if g != fit.geometry]
            fit = self._best_of(self.evaluate(g, fit.interpolation) for g in geometries)
        return self._refine(fit) if fit is not None else None

    def _attributable(self) -> list[Probe]:
        searched = {p.name for p in self.probes}
        return [p for p in self.group if p.size[0] * p.size[1] <= LARGE_PROBE or p.name in searched]

    def _failing(self, fit: Fit, probes: list[Probe]) -> list[str] | None:
        """The probes a fit leaves outside the tolerance; None if it cannot render them all."""
        failing = []
        for probe in probes:
            x = self._render(probe, fit.geometry, fit.interpolation)
            if x is None:
                return None
            if not residual_within(self._residual(probe, x, fit.order, fit.affine)):
                failing.append(probe.name)
        return failing

    def _refine(self, fit: Fit) -> Fit:
        """A tensor resize of the same filter, if it brings more probes within the tolerance."""
        variants = hyp.backend_variants(fit.interpolation)
        if not variants or fit.explained < MIN_EXPLAINED:
            return fit
        probes = self._attributable()
        failing = self._failing(fit, probes)
        if not failing:
            return fit
        best, fewest = fit, len(failing)
        for variant in variants:
            left = self._failing(
                Fit(fit.geometry, variant, fit.order, fit.affine, fit.error), probes
            )
            if left is not None and len(left) < fewest:
                candidate = self.evaluate(fit.geometry, variant, fit.order, fit.affine)
                if candidate is not None and candidate.error <= fit.error:
                    best, fewest = candidate, len(left)
        return best

    def _per_probe(self, best: Fit, reverted: Fit) -> dict[str, ProbeLoss]:
        """Probes of the whole group on which reverting clearly hurts, or breaks the tolerance."""
        found = {}
        for probe in self._attributable():  # attributing huge probes costs more than it tells
            x_best = self._render(probe, best.geometry, best.interpolation)
            x_reverted = self._render(probe, reverted.geometry, reverted.interpolation)
            if x_best is None or x_reverted is None:
                continue
            residuals = [
                self._residual(probe, x, fit.order, fit.affine)
                for x, fit in ((x_reverted, reverted), (x_best, best))
            ]
            errors = [float(r.mean()) for r in residuals]
            breaks = not residual_within(residuals[0]) and residual_within(residuals[1])
            if needs(*errors) or breaks:
                found[probe.name] = ProbeLoss(
                    errors[0],
                    errors[1],
                    float(residuals[0].max()),
                    float(residuals[1].max()),
                    breaks,
                )
        return found

    def _expected_stats(self, best: Fit) -> bool:
        """Whether the fitted statistics are the profile's, per output or per input channel."""
        mean, std = np.asarray(self.profile.mean), np.asarray(self.profile.std)
        arrangements = [(mean, std)]
        if best.order == "bgr":  # normalized after the swap (per input) or before (per output)
            arrangements.append((mean[::-1], std[::-1]))
        return any(same_stats(best.affine.mean, best.affine.std, m, s) for m, s in arrangements)

    def ablations(self, best: Fit) -> list[Ablation]:
        """Each dimension in which `best` differs from the reference and that the drift needs."""
        if best.explained < MIN_EXPLAINED:
            return []  # the output hardly depends on the image as any hypothesis renders it
        candidates = []
        if best.geometry != self.reference_geometry:
            candidates.append(
                (
                    "geometry",
                    best.geometry,
                    self.reference_geometry,
                    self.evaluate(
                        self.reference_geometry, best.interpolation, best.order, best.affine
                    ),
                )
            )
        if best.interpolation != self.profile.interpolation:
            candidates.append(
                (
                    "interpolation",
                    best.interpolation,
                    self.profile.interpolation,
                    self.evaluate(
                        best.geometry, self.profile.interpolation, best.order, best.affine
                    ),
                )
            )
        if best.order != "rgb":
            candidates.append(
                (
                    "order",
                    best.order,
                    "rgb",
                    self.evaluate(best.geometry, best.interpolation, "rgb"),
                )
            )
        if not self._expected_stats(best):
            candidates.append(
                (
                    "normalization",
                    "fitted",
                    "profile",
                    self.evaluate(
                        best.geometry, best.interpolation, best.order, self.profile_affine
                    ),
                )
            )
        found = []
        for dimension, value, reference, reverted in candidates:
            if reverted is None:
                continue
            losses = self._per_probe(best, reverted)
            if not needs(reverted.error, best.error):  # then only the tolerance breaks count
                losses = {name: loss for name, loss in losses.items() if loss.breaks_tolerance}
            ablation = Ablation(
                dimension,
                value,
                reference,
                reverted,
                {name: (loss.reverted, loss.best) for name, loss in losses.items()},
            )
            if losses:
                ablation.max_abs = (
                    max(loss.reverted_max for loss in losses.values()),
                    max(loss.best_max for loss in losses.values()),
                )
            if ablation.needed:
                if dimension == "geometry":
                    ablation.plans = self._plans(ablation)
                found.append(ablation)
        return found

    def _plans(self, ablation: Ablation) -> dict[str, Any]:
        """Resize and crop box of both geometries on the probe that tells them apart most."""
        name = max(ablation.per_probe, key=lambda n: ablation.per_probe[n][0])
        probe = next(p for p in self.group if p.name == name)
        found = self.geometries[ablation.found](*probe.size)
        reference = self.geometries[ablation.reference](*probe.size)
        return {
            "probe": name,
            "probe_size": list(probe.size),
            "found": {"resize": list(found.size), "crop_box": list(found.box)},
            "reference": {"resize": list(reference.size), "crop_box": list(reference.box)},
        }


def _most_telling(
    probes: list[Probe], arrays: dict[str, np.ndarray], references: dict[str, np.ndarray]
) -> list[Probe]:
    """The probes that drift most, preferring ones small enough to render quickly."""

    def drift(probe: Probe) -> float:
        array, reference = arrays[probe.name], references[probe.name]
        return float(np.abs(array - reference).mean()) if array.shape == reference.shape else np.inf

    def key(probe: Probe) -> tuple:
        return (probe.size[0] * probe.size[1] > LARGE_PROBE, -drift(probe), probe.name)

    return sorted(probes, key=key)[:MAX_SEARCH_PROBES]
