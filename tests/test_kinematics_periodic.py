"""Periodic fits through key frames (models.kinematics.periodic): exact on band-limited curves."""

from __future__ import annotations

import numpy as np
import pytest

from models.kinematics.periodic import max_order, periodic_fit, periodic_weights
from util.errors import DataError

T = 50
KEYS = np.arange(0, T, 6)  # 9 key frames: harmonics up to 4


def curve(phase: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A band-limited periodic curve (harmonics 0..3) and its derivative per cycle."""
    w = 2 * np.pi
    value = 2.0 + np.cos(w * phase) + 0.5 * np.sin(2 * w * phase) - 0.3 * np.cos(3 * w * phase + 0.4)
    slope = -w * np.sin(w * phase) + w * np.cos(2 * w * phase) + 0.9 * w * np.sin(3 * w * phase + 0.4)
    return value, slope


def test_weights_reproduce_a_band_limited_curve_and_its_derivative():
    phase = np.arange(T) / T
    value, slope = curve(phase)
    np.testing.assert_allclose(periodic_weights(KEYS, T) @ value[KEYS], value, atol=1e-9)
    np.testing.assert_allclose(periodic_weights(KEYS, T, derivative=True) @ value[KEYS], slope, atol=1e-8)


def test_fit_gives_rates_per_second_for_many_columns():
    phase = np.arange(T) / T
    value, slope = curve(phase)
    values = np.stack([value, 2 * value], axis=1)[KEYS]  # [K, 2]
    fitted, rate = periodic_fit(values, KEYS, T, rr_ms=800.0)
    np.testing.assert_allclose(fitted[:, 1], 2 * value, atol=1e-9)
    np.testing.assert_allclose(rate[:, 0], slope / 0.8, atol=1e-8)


def test_a_lower_order_is_a_least_squares_fit():
    weights = periodic_weights(KEYS, T, order=1)
    constant = np.full(KEYS.size, 3.0)
    np.testing.assert_allclose(weights @ constant, 3.0)
    assert max_order(9) == 4 and max_order(5) == 2
    with pytest.raises(DataError, match="order 5 needs more than 9 key frames"):
        periodic_weights(KEYS, T, order=5)
