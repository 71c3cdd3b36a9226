"""The population's mean velocity curves per slice position and cycle fraction: the simplest prior.

Both the ``population`` yardstick (``models.phase.yardsticks.PopulationPrior``) and the kinematic prior's
floor model (``choice``: the model a subject falls back to when its key frames support nothing richer)
are these curves, computed here once from training slices with *measured* velocity and masks on every
frame, as on scanner data (the phase noise averages out over the myocardium).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from assessment.velocity import COMPONENTS, velocity_curves
from data.mvm_io import SLICE_POSITIONS, SliceData
from util.errors import DataError

#: resolution of the mean curves over the cycle (stored at fractions k / CYCLE_BINS)
CYCLE_BINS = 100


def periodic_resample(curve: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Values of a periodic curve sampled at t / T (t = 0 .. T-1) at the cycle ``fractions`` (linear)."""
    curve = np.asarray(curve, dtype=np.float64)
    grid = np.arange(curve.shape[-1] + 1) / curve.shape[-1]
    closed = np.concatenate([curve, curve[..., :1]], axis=-1).reshape(-1, grid.size)
    at = np.mod(np.asarray(fractions, dtype=np.float64), 1.0)
    rows = [np.interp(at, grid, row) for row in closed]
    return np.stack(rows).reshape(*curve.shape[:-1], at.size)


def mean_cycle_curves(slices: Iterable[SliceData]) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Per slice position, the mean global (radial, circumferential, longitudinal) curves [3, CYCLE_BINS]
    (cm/s) of ``slices`` that hold velocity and masks on every frame, and how many slices each mean is
    over. Slices without them are skipped; ``DataError`` when none is left."""
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for s in slices:
        if s.velocity is None or len(s.mask_frames()) != s.num_frames:
            continue  # masks on key frames only: no curve over the whole cycle
        curves = velocity_curves(s.velocity, s.myocardium, s.slice_position, s.z_towards_apex).global_curves
        stacked = np.stack([np.nan_to_num(curves[name]) for name in COMPONENTS])
        resampled = periodic_resample(stacked, np.arange(CYCLE_BINS) / CYCLE_BINS)
        sums[s.slice_position] = sums.get(s.slice_position, 0.0) + resampled
        counts[s.slice_position] = counts.get(s.slice_position, 0) + 1
    if not sums:
        raise DataError("population prior: no training slice has velocities and masks on every frame")
    ordered = [p for p in SLICE_POSITIONS if p in sums]
    return {p: sums[p] / counts[p] for p in ordered}, {p: counts[p] for p in ordered}


def curves_at(mean: np.ndarray, n_frames: int) -> dict[str, np.ndarray]:
    """Mean curves [3, bins] read at the frames t / T of a cycle of ``n_frames``, by component name."""
    fractions = np.arange(n_frames) / n_frames
    return {name: periodic_resample(mean[i], fractions) for i, name in enumerate(COMPONENTS)}
