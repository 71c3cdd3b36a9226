"""The velocity yardsticks every stage-2 and chain table shows beside the model.

How much of a synthesised velocity map comes from the subject, and how much from what every heart does?
Two maps answer it without looking at the images:

* ``zero``: no motion at all, zero velocity everywhere. A model must beat it to have learnt anything;
  the skill score ``1 - MAE(model) / MAE(zero)`` measures by how much.
* ``population``: the training set's mean global radial, circumferential and longitudinal curves, per
  slice position, as functions of the cycle fraction t / T, placed on the subject's own myocardium (its
  centroid, its LV-centred directions, its z orientation; ``assessment.velocity.velocity_from_components``).
  A model that does not beat it has learnt the average heart, not this one.

The prior is fitted once from the training split (``fit_population_prior``), from the *measured*
velocities, as it would be on scanner data (the phase noise averages out over the myocardium), and it is
saved in the phase run's checkpoint, so it travels with the weights.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assessment.velocity import COMPONENTS, velocity_from_components
from data.mvm_io import SLICE_POSITIONS, SliceData
from models.kinematics.population import CYCLE_BINS, curves_at, mean_cycle_curves, periodic_resample
from util.errors import CheckpointError, DataError

__all__ = ["CYCLE_BINS", "PopulationPrior", "fit_population_prior", "periodic_resample"]


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
