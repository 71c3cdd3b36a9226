"""Landmark times of a subject's cycle read from its key-frame motion (a curve model's first step).

The shapes of the motion curves come from the population, their timing from the subject. A template is
the population's mean displacement curve per slice position and signal (radius excursion in mm and
rotation in degrees, both from end-diastole), *landmark-registered*: every training curve is
time-warped piecewise linearly so that its landmarks (contraction onset, systolic peak, end-systole,
E' peak, A' peak) fall on the population's mean landmark times before averaging, so that the mean keeps
sharp events instead of blurring them over subjects with different timing. Beside the mean, the
template keeps the leading principal modes of the registered curves: subjects differ in shape too (how
much of the systolic excursion early diastole recovers), and a mean alone would make the fit move the
landmarks to mimic a shape it cannot express. A subject is fitted by least squares
(``scipy.optimize.least_squares``): its landmark times warp the template onto its own cycle, the
weights of the mean and the modes per slice and signal (linear, solved in closed form) scale it, and the
result must match the displacements measured at the key frames. Landmarks are shared by the slices of
a subject. A Gaussian prior on the landmarks (the training subjects' mean and spread) is part of the
fit (maximum a posteriori): landmarks the key frames barely constrain, such as an onset between two
key frames, stay near the population's instead of wandering to where the misfit of the shape is least.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.optimize import least_squares

from models.kinematics.keyframe_motion import KeyFrameMotion

LANDMARKS: tuple[str, ...] = ("onset", "systolic_peak", "end_systole", "e_peak", "a_peak")
SIGNALS: tuple[str, ...] = ("radius", "rotation")
#: resolution of the template over the canonical cycle
TEMPLATE_BINS = 200
#: residual scales of the signals (mm, degrees): what the fit calls a comparable misfit
SIGNAL_SCALE = {"radius": 1.0, "rotation": 2.0}
#: landmarks must keep this much of the cycle between them
MIN_GAP = 0.01
#: smallest spread of the landmark prior (cycle fraction): training sets with near-identical timing
#: must not pin the fit
MIN_SPREAD = 0.005


def warp(fractions: np.ndarray, landmarks: np.ndarray, canonical: np.ndarray) -> np.ndarray:
    """Canonical cycle time of each subject cycle fraction: piecewise linear through (0, 0), the landmarks
    -> the canonical landmarks, and (1, 1)."""
    return np.interp(np.mod(fractions, 1.0), [0.0, *landmarks, 1.0], [0.0, *canonical, 1.0])


def _periodic_at(curve: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """A curve sampled at t / T (t = 0 .. T-1), linearly interpolated at cycle ``fractions``, periodic."""
    grid = np.arange(curve.size + 1) / curve.size
    return np.interp(np.mod(fractions, 1.0), grid, np.append(curve, curve[0]))


@dataclass(frozen=True)
class LandmarkTemplate:
    """Landmark-registered curves on the canonical cycle, whose landmarks are ``canonical`` (cycle
    fractions, in the order of LANDMARKS): ``curves[(slice_position, signal)]`` is [M, TEMPLATE_BINS],
    the mean then the leading principal modes."""

    canonical: np.ndarray
    curves: dict[tuple[str, str], np.ndarray]
    spread: np.ndarray  # [len(LANDMARKS)] standard deviation of the training landmarks (fractions)

    def at(self, position: str, signal: str, canonical_fractions: np.ndarray) -> np.ndarray:
        """[M, N] the mean and modes of (position, signal) at ``canonical_fractions`` [N]."""
        return np.stack([_periodic_at(c, canonical_fractions) for c in self.curves[(position, signal)]])


def build_template(
    curves: Sequence[Mapping[tuple[str, str], np.ndarray]], landmarks: Sequence[np.ndarray], modes: int = 1
) -> LandmarkTemplate:
    """The template of training subjects: ``curves[i][(position, signal)]`` is subject i's full-cycle
    displacement curve [T_i] (frames at t / T_i), ``landmarks[i]`` its landmark times (fractions);
    ``modes`` principal modes are kept beside the mean (fewer when there are too few curves)."""
    canonical = np.mean(np.asarray(landmarks, dtype=np.float64), axis=0)
    spread = np.maximum(np.std(np.asarray(landmarks, dtype=np.float64), axis=0), MIN_SPREAD)
    grid = np.arange(TEMPLATE_BINS) / TEMPLATE_BINS
    registered: dict[tuple[str, str], list[np.ndarray]] = {}
    for subject, marks in zip(curves, landmarks, strict=True):
        own_time = warp(grid, canonical, np.asarray(marks))  # canonical -> subject: the inverse warp
        for key, curve in subject.items():
            registered.setdefault(key, []).append(_periodic_at(np.asarray(curve, np.float64), own_time))
    out = {}
    for key, rows in registered.items():
        stack = np.stack(rows)
        mean = stack.mean(axis=0)
        _, singular, vt = np.linalg.svd(stack - mean, full_matrices=False)
        keep = min(modes, len(rows) - 1)
        # Modes scaled by their spread over the training curves, so that the weights are comparable.
        out[key] = np.concatenate([mean[None], vt[:keep] * singular[:keep, None] / np.sqrt(len(rows))])
    return LandmarkTemplate(canonical, out, spread)


def displacement_curves(
    radial: np.ndarray, circumferential: np.ndarray, radius_mm: np.ndarray, rr_ms: float
) -> dict[str, np.ndarray]:
    """Radius excursion (mm) and rotation (degrees) from end-diastole (frame 0), by integrating the global
    radial and circumferential velocity curves [T] (cm/s) over the cycle; ``radius_mm`` [T] is the
    mean wall radius that turns circumferential velocity into angular velocity. The linear drift that
    keeps an integral of noisy velocities from closing over the cycle is removed."""
    dt = rr_ms / 1000.0 / radial.size
    angular = np.rad2deg(10.0 * np.asarray(circumferential) / np.asarray(radius_mm))  # deg / s
    out = {}
    for name, rate in (("radius", -10.0 * np.asarray(radial)), ("rotation", angular)):
        step = 0.5 * (rate + np.roll(rate, -1)) * dt  # trapezoid from frame t to t + 1 (periodic)
        path = np.concatenate([[0.0], np.cumsum(step)])  # [T + 1]: frame 0 .. the next cycle's frame 0
        path = path - path[-1] * np.arange(path.size) / radial.size
        out[name] = path[:-1]
    return out


@dataclass(frozen=True)
class LandmarkFit:
    """A subject's landmark times (cycle fractions, in the order of LANDMARKS), the weights of the
    template's mean and modes per (slice position, signal), and the final sum of squared scaled residuals
    (prior term included)."""

    landmarks: np.ndarray
    gains: dict[tuple[str, str], np.ndarray]
    cost: float


class Observation(NamedTuple):
    """Displacements of one slice and signal at the key frames, from the first key frame."""

    position: str  # slice position
    signal: str  # one of SIGNALS
    fractions: np.ndarray  # [K] cycle fractions of the key frames
    values: np.ndarray  # [K] mm (radius) or degrees (rotation)


def observations_of(motions: Mapping[str, KeyFrameMotion]) -> list[Observation]:
    """The radius excursion and the rotation of every slice (``motions[slice_position]``)."""
    out = []
    for position, m in motions.items():
        out.append(Observation(position, "radius", m.fractions, m.radius_mm - m.radius_mm[0]))
        out.append(Observation(position, "rotation", m.fractions, m.rotation_deg - m.rotation_deg[0]))
    return out


def _ordered(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks made increasing with at least MIN_GAP between neighbours."""
    return np.maximum.accumulate(landmarks + MIN_GAP * np.arange(landmarks.size)) - MIN_GAP * np.arange(landmarks.size)


def _fit_gains(
    landmarks: np.ndarray, template: LandmarkTemplate, observations: Sequence[Observation]
) -> tuple[np.ndarray, dict[tuple[str, str], np.ndarray]]:
    """Scaled residuals and the least-squares weights of every (position, signal) for given landmarks."""
    residuals, gains = [], {}
    for position, signal, fractions, values in observations:
        basis = template.at(position, signal, warp(fractions, _ordered(landmarks), template.canonical))
        basis = (basis - basis[:, :1]).T  # [N, M]: displacements from the first key frame
        weights = np.linalg.lstsq(basis, values, rcond=None)[0]
        gains[(position, signal)] = weights
        residuals.append((values - basis @ weights) / SIGNAL_SCALE[signal])
    return np.concatenate(residuals), gains


def fit_landmarks(
    motions: Mapping[str, KeyFrameMotion], template: LandmarkTemplate, search: float = 0.12, prior: float = 1.0
) -> LandmarkFit:
    """The landmark times that best warp ``template`` onto the key-frame displacements of a subject's
    slices (``motions[slice_position]``): :func:`fit_landmark_times` of :func:`observations_of`."""
    return fit_landmark_times(observations_of(motions), template, search, prior)


def fit_landmark_times(
    observations: Sequence[Observation], template: LandmarkTemplate, search: float = 0.12, prior: float = 1.0
) -> LandmarkFit:
    """The landmark times that best warp ``template`` onto ``observations``, each within ``search`` of
    the canonical time, with the landmark prior weighted by ``prior`` (0: none). Several starts (the
    canonical times, shifted earlier and later) guard against the local minima a piecewise-linear warp
    has."""

    def residuals(x: np.ndarray) -> np.ndarray:
        misfit = _fit_gains(x, template, observations)[0]
        return np.concatenate([misfit, np.sqrt(prior) * (x - template.canonical) / template.spread])

    lower = np.clip(template.canonical - search, 0.005, 0.99)
    upper = np.clip(template.canonical + search, 0.01, 0.995)
    best = None
    for shift in (0.0, -0.04, 0.04, -0.08, 0.08):
        start = np.clip(template.canonical + shift, lower + 1e-6, upper - 1e-6)
        result = least_squares(residuals, start, bounds=(lower, upper), diff_step=0.05)
        if best is None or result.cost < best.cost:
            best = result
    landmarks = _ordered(best.x)
    _, gains = _fit_gains(landmarks, template, observations)
    return LandmarkFit(landmarks, gains, float(2 * best.cost))


def fitted_displacements(
    fit: LandmarkFit, template: LandmarkTemplate, position: str, n_frames: int
) -> dict[str, np.ndarray]:
    """The fitted displacement curves [n_frames] of a slice (radius mm, rotation degrees, from frame 0)
    at every frame t / n_frames of the subject's cycle: the template warped by the subject's landmarks,
    weighted by its fitted weights."""
    fractions = np.arange(n_frames) / n_frames
    canonical = warp(fractions, fit.landmarks, template.canonical)
    out = {}
    for signal in SIGNALS:
        basis = template.at(position, signal, canonical)
        out[signal] = (basis - basis[:, :1]).T @ fit.gains[(position, signal)]
    return out


def periodic_rate(curve: np.ndarray, rr_ms: float) -> np.ndarray:
    """Time derivative (per second) of a periodic curve sampled at every frame (central differences)."""
    dt = rr_ms / 1000.0 / curve.size
    return (np.roll(curve, -1) - np.roll(curve, 1)) / (2 * dt)
