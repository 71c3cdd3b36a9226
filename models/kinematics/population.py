"""The population prior: the training set's mean velocity curves per slice position and cycle fraction.

The global radial, circumferential and longitudinal curves of the training slices, as functions of the
cycle fraction t / T, placed on a subject's own myocardium (its centroid, its LV-centred directions, its
z orientation; ``assessment.velocity.velocity_from_components``). A model that does not beat it has
learnt the average heart, not this one. It is the ``population`` row of the stage-2 and chain tables
(``models.rows``), what ``--prior population`` refines, and the kinematic prior's floor model (``choice``:
the model a subject falls back to when its key frames support nothing richer; the kinematic prior itself
is ``prior``, beside it).

The curves are computed once from training slices with *measured* velocity and masks on every frame, as
on scanner data (the phase noise averages out over the myocardium) (``fit_population_prior``), and saved
in the phase run's checkpoint, so the prior travels with the weights.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assessment.velocity import COMPONENTS, velocity_curves, velocity_from_components
from data.mvm_io import SLICE_POSITIONS, SliceData
from util.errors import CheckpointError, DataError

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


@dataclass
class PopulationPrior:
    """Mean global velocity curves [3, CYCLE_BINS] (radial, circumferential, longitudinal; cm/s) per slice
    position, and how many training slices each mean is over."""

    curves: dict[str, np.ndarray] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return bool(self.curves)

    def curves_at(self, slice_position: str, n_frames: int) -> dict[str, np.ndarray]:
        """The prior's curves [T] at the frames t / T of a cycle of ``n_frames`` frames."""
        if slice_position not in self.curves:
            known = sorted(self.curves) or "none"
            raise DataError(f"the population prior has no {slice_position!r} slices (it has: {known})")
        return curves_at(self.curves[slice_position], n_frames)

    def velocity(self, s: SliceData, myocardium: np.ndarray | None = None) -> np.ndarray:
        """The prior placed on a slice's myocardium ([T, H, W]; default ``s.myocardium``): [T, 3, H, W] cm/s."""
        mask = s.myocardium if myocardium is None else myocardium
        curves = self.curves_at(s.slice_position, mask.shape[0])
        return velocity_from_components(curves, mask, s.z_towards_apex)

    def table(self, bins: int = CYCLE_BINS) -> np.ndarray:
        """The curves of every slice position [len(SLICE_POSITIONS), 3, bins] (zero where none was fitted)."""
        out = np.zeros((len(SLICE_POSITIONS), len(COMPONENTS), bins))
        for i, position in enumerate(SLICE_POSITIONS):
            if position in self.curves:
                out[i] = periodic_resample(self.curves[position], np.arange(bins) / bins)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {
            "curves": {k: np.asarray(v, dtype=np.float64).tolist() for k, v in self.curves.items()},
            "counts": dict(self.counts),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PopulationPrior:
        try:
            curves = {k: np.asarray(v, dtype=np.float64) for k, v in state["curves"].items()}
            counts = {k: int(v) for k, v in state["counts"].items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"population prior: unreadable state ({exc})") from exc
        if any(c.shape != (len(COMPONENTS), CYCLE_BINS) for c in curves.values()):
            raise CheckpointError(f"population prior: curves must be [{len(COMPONENTS)}, {CYCLE_BINS}]")
        return cls(curves, counts)


def fit_population_prior(slices: Iterable[SliceData]) -> PopulationPrior:
    """The mean global curves of ``slices`` (with measured velocity and masks) per slice position."""
    return PopulationPrior(*mean_cycle_curves(slices))
