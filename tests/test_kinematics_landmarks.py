"""Landmark times fitted to key-frame displacements (models.kinematics.landmarks), on curves built
from a known shape and known landmark times."""

from __future__ import annotations

import numpy as np
import pytest

from models.kinematics.landmarks import (
    Observation,
    build_template,
    displacement_curves,
    fit_landmark_times,
    fitted_displacements,
    periodic_rate,
    warp,
)

CANONICAL = np.array([0.10, 0.20, 0.35, 0.47, 0.87])
# Displacement at (0, onset, systolic peak, end-systole, E' peak, A' peak, 1) of the canonical cycle.
SHAPE = {"radius": [0.0, 0.0, -2.0, -5.0, -2.5, -0.5, 0.0], "rotation": [0.0, 0.0, 1.0, 4.0, 1.0, 0.5, 0.0]}


def shaped(landmarks: np.ndarray, fractions: np.ndarray, signal: str, gain: float = 1.0) -> np.ndarray:
    """The piecewise-linear shape with its landmarks moved to ``landmarks``, at cycle ``fractions``."""
    return gain * np.interp(fractions, [0.0, *landmarks, 1.0], SHAPE[signal])


def training(rng: np.random.Generator, n: int = 8, frames: int = 100):
    offsets = rng.uniform(-0.02, 0.02, (n, 5))
    landmarks = list(CANONICAL + offsets - offsets.mean(axis=0))  # their mean is CANONICAL
    phase = np.arange(frames) / frames
    curves = [
        {("mid", s): shaped(m, phase, s, rng.uniform(0.8, 1.2)) for s in ("radius", "rotation")} for m in landmarks
    ]
    return curves, landmarks


def test_warp_maps_landmarks_onto_the_canonical_times():
    own = CANONICAL + np.array([0.02, -0.01, 0.03, 0.0, -0.02])
    np.testing.assert_allclose(warp(own, own, CANONICAL), CANONICAL)
    np.testing.assert_allclose(warp(np.array([0.0, 1.0]), own, CANONICAL), [0.0, 0.0])  # periodic


def test_template_is_the_registered_mean():
    curves, landmarks = training(np.random.default_rng(0))
    template = build_template(curves, landmarks, modes=1)
    np.testing.assert_allclose(template.canonical, CANONICAL, atol=1e-12)
    grid = np.arange(200) / 200
    mean = template.curves[("mid", "radius")][0]
    # Registered on their landmarks, the curves differ only by their gains: the mean keeps the shape.
    gain = mean @ shaped(CANONICAL, grid, "radius") / np.sum(shaped(CANONICAL, grid, "radius") ** 2)
    np.testing.assert_allclose(mean, gain * shaped(CANONICAL, grid, "radius"), atol=0.1)
    assert template.curves[("mid", "radius")].shape == (2, 200)


@pytest.mark.parametrize("n_keys, tolerance", [(25, 0.004), (9, 0.02)])
def test_fit_recovers_the_landmark_times(n_keys, tolerance):
    curves, landmarks = training(np.random.default_rng(1))
    template = build_template(curves, landmarks, modes=1)
    truth = CANONICAL + np.array([0.03, -0.03, 0.04, -0.03, 0.02])
    keys = np.arange(n_keys) / n_keys
    observations = [Observation("mid", s, keys, shaped(truth, keys, s, 1.1)) for s in ("radius", "rotation")]
    fit = fit_landmark_times(observations, template, prior=0.0)  # the data alone
    np.testing.assert_allclose(fit.landmarks, truth, atol=tolerance)
    assert fit.cost < 0.05 * sum(float(o.values @ o.values) for o in observations)


def test_fitted_displacements_follow_the_subject_and_differentiate():
    curves, landmarks = training(np.random.default_rng(1))
    template = build_template(curves, landmarks, modes=1)
    truth = CANONICAL + np.array([0.02, -0.02, 0.03, -0.02, 0.01])
    keys = np.arange(25) / 25
    observations = [Observation("mid", s, keys, shaped(truth, keys, s, 1.1)) for s in ("radius", "rotation")]
    fit = fit_landmark_times(observations, template, prior=0.0)
    d = fitted_displacements(fit, template, "mid", 50)
    phase = np.arange(50) / 50
    # Within 4 % of the radius excursion (5.5 mm) at every frame, between key frames included.
    np.testing.assert_allclose(d["radius"], shaped(truth, phase, "radius", 1.1), atol=0.22)
    w = 2 * np.pi
    np.testing.assert_allclose(periodic_rate(np.sin(w * phase), 500.0), w / 0.5 * np.cos(w * phase), rtol=0, atol=0.05)


def test_the_prior_keeps_unconstrained_landmarks_at_the_population_times():
    curves, landmarks = training(np.random.default_rng(2))
    template = build_template(curves, landmarks, modes=1)
    keys = np.arange(4) / 4
    flat = [Observation("mid", s, keys, np.zeros(4)) for s in ("radius", "rotation")]  # nothing to read
    np.testing.assert_allclose(fit_landmark_times(flat, template).landmarks, CANONICAL, atol=1e-3)
    np.testing.assert_allclose(template.spread, np.std(np.asarray(landmarks), axis=0))


def test_displacement_integrates_the_velocity_curves():
    frames, rr_ms = 50, 1000.0
    phase = np.arange(frames) / frames
    w = 2 * np.pi
    radius_mm = np.full(frames, 25.0)
    # Radial velocity (cm/s, towards the centre) of a radius 25 - 3 (1 - cos) mm: -d/dt / 10.
    radial = -(-3.0 * w * np.sin(w * phase)) / 10.0
    circumferential = 25.0 * np.deg2rad(5.0) * w * np.cos(w * phase) / 10.0  # 5 sin(w t) degrees
    d = displacement_curves(radial, circumferential, radius_mm, rr_ms)
    np.testing.assert_allclose(d["radius"], -3.0 * (1 - np.cos(w * phase)), atol=0.03)
    np.testing.assert_allclose(d["rotation"], 5.0 * np.sin(w * phase), atol=0.05)
