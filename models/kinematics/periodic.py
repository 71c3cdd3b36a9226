"""Periodic (Fourier) fits of quantities known at the key frames only, and their time derivatives.

The cardiac cycle repeats, so a trajectory sampled at K key frames is fitted by the harmonics of the
heart rate, 0 .. M with M <= (K - 1) // 2 (least squares; an exact interpolation when the key frames
are evenly spaced, K is odd and M is the largest). Differentiating the fitted series gives velocities at
every frame without finite differences over the long gaps between key frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from util.errors import DataError


def max_order(n_keys: int) -> int:
    """The highest harmonic K key frames determine: (K - 1) // 2."""
    return (int(n_keys) - 1) // 2


def _basis(fraction: np.ndarray, order: int, derivative: bool) -> np.ndarray:
    """[N, 2M+1] Fourier basis (cos 0..M, sin 1..M) at cycle fractions ``fraction``, or its d/d(fraction)."""
    w = 2 * np.pi * np.arange(order + 1)[None, :]
    arg = np.asarray(fraction, dtype=np.float64)[:, None] * w
    if derivative:
        return np.concatenate([-w * np.sin(arg), (w * np.cos(arg))[:, 1:]], axis=1)
    return np.concatenate([np.cos(arg), np.sin(arg)[:, 1:]], axis=1)


def periodic_weights(
    key_frames: Sequence[int], n_frames: int, order: int | None = None, derivative: bool = False
) -> np.ndarray:
    """[T, K] weights turning values at the K key frames into the fitted periodic curve at every frame.

    ``order`` is the highest harmonic (default and maximum: :func:`max_order`). With ``derivative`` the
    weights give the derivative with respect to the cycle fraction (per cycle): divide by the RR interval
    in seconds for a rate per second.
    """
    keys = np.asarray(key_frames, dtype=np.int64)
    top = max_order(keys.size)
    order = top if order is None else int(order)
    if not 0 <= order <= top:
        raise DataError(f"periodic fit: harmonic order {order} needs more than {keys.size} key frames")
    fractions = keys / n_frames
    coefficients = np.linalg.pinv(_basis(fractions, order, False))  # [2M+1, K]
    return _basis(np.arange(n_frames) / n_frames, order, derivative) @ coefficients


def periodic_fit(
    values: np.ndarray, key_frames: Sequence[int], n_frames: int, rr_ms: float, order: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fitted values and their rate per second at every frame, from ``values`` [K, ...] at the key frames.

    Returns ``(value [T, ...], rate [T, ...])``; the rate is in units of ``values`` per second.
    """
    values = np.asarray(values, dtype=np.float64)
    flat = values.reshape(values.shape[0], -1)
    position = periodic_weights(key_frames, n_frames, order) @ flat
    rate = periodic_weights(key_frames, n_frames, order, derivative=True) @ flat / (rr_ms / 1000.0)
    shape = (n_frames, *values.shape[1:])
    return position.reshape(shape), rate.reshape(shape)


def fourier_fit(
    fractions: np.ndarray, values: np.ndarray, at: np.ndarray, order: int, derivative: bool = False
) -> np.ndarray:
    """The least-squares periodic fit of ``order`` harmonics through ``values`` [N] at cycle ``fractions``
    [N] (NaN values left out), read at the cycle fractions ``at`` (or its derivative per cycle). The order
    is lowered to what the finite values determine; none at all gives NaN."""
    fractions, values = np.asarray(fractions, np.float64), np.asarray(values, np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return np.full(np.shape(at), np.nan)
    order = min(int(order), max_order(int(finite.sum())))
    coefficients = np.linalg.lstsq(_basis(fractions[finite], order, False), values[finite], rcond=None)[0]
    return _basis(np.asarray(at, np.float64), order, derivative) @ coefficients
