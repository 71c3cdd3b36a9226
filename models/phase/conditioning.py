"""What the stage-2 generator is told besides the images: where the frame lies in the cycle, which slice
it is, and the population prior painted on the frame's myocardium."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from data.mvm_io import SLICE_POSITIONS, SliceData
from models.kinematics.population import CYCLE_BINS, PopulationPrior
from util.conventions import MASK_THRESHOLD

#: conditioning features: sin and cos of the cycle angle and of twice it, then the slice position one-hot
N_CONDITION_FEATURES = 4 + len(SLICE_POSITIONS)


def cycle_condition(cycle_fraction: torch.Tensor, slice_position: torch.Tensor) -> torch.Tensor:
    """Conditioning features [B, N_CONDITION_FEATURES] of frames at ``cycle_fraction`` [B] (t / T, in [0, 1))
    of slices at ``slice_position`` [B] (indices into ``SLICE_POSITIONS``).

    The cycle enters periodically (the last frame is next to the first); two harmonics let the network
    place the systolic and the two diastolic peaks.
    """
    angle = 2 * torch.pi * torch.as_tensor(cycle_fraction, dtype=torch.float32).reshape(-1)
    position = torch.as_tensor(slice_position, dtype=torch.long).reshape(-1)
    one_hot = torch.nn.functional.one_hot(position, len(SLICE_POSITIONS)).float()
    harmonics = [torch.sin(angle), torch.cos(angle), torch.sin(2 * angle), torch.cos(2 * angle)]
    return torch.cat([torch.stack(harmonics, dim=1), one_hot], dim=1)


@dataclass(frozen=True)
class FrameContext:
    """Where a batch of frames lies, besides its images: what a cycle-aware or prior-refining generator needs.

    ``cycle_fraction`` [B] (t / T), ``slice_position`` [B] (indices into ``SLICE_POSITIONS``),
    ``z_towards_apex`` [B] (+1 / -1) and ``venc`` [B, 3] (cm/s).
    """

    cycle_fraction: torch.Tensor
    slice_position: torch.Tensor
    z_towards_apex: torch.Tensor
    venc: torch.Tensor

    @classmethod
    def of_batch(cls, batch: dict[str, Any]) -> FrameContext | None:
        """The context of a dataset batch (None for hand-made batches without one)."""
        if "cycle_fraction" not in batch:
            return None
        return cls(batch["cycle_fraction"], batch["slice_position"], batch["z_towards_apex"], batch["venc"])

    @classmethod
    def of_slice(cls, frames: np.ndarray, n_frames: int, s: SliceData) -> FrameContext:
        """The context of ``frames`` of slice ``s`` (a cycle of ``n_frames``)."""
        count = len(frames)
        return cls(
            torch.from_numpy(np.asarray(frames, dtype=np.float64) / n_frames).float(),
            torch.full((count,), SLICE_POSITIONS.index(s.slice_position)),
            torch.full((count,), int(s.z_towards_apex)),
            torch.from_numpy(np.asarray(s.venc_cm_s, dtype=np.float32)).expand(count, 3),
        )


def prior_velocity(population: PopulationPrior, myocardium: torch.Tensor, context: FrameContext) -> torch.Tensor:
    """The population prior on each frame's myocardium [B, 1, H, W]: velocity / VENC [B, 3, H, W].

    The torch twin of ``PopulationPrior.velocity`` (``assessment.velocity.velocity_from_components``), batched:
    the prior's curves at each frame's cycle fraction, along the LV-centred directions of its own mask.
    """
    device = myocardium.device
    table = torch.from_numpy(population.table(CYCLE_BINS)).float().to(device)  # [P, 3, bins]
    position = torch.as_tensor(context.slice_position, device=device).long()
    at = torch.as_tensor(context.cycle_fraction, device=device).float() % 1.0 * CYCLE_BINS
    lower = at.floor().long() % CYCLE_BINS
    weight = (at - at.floor())[:, None]
    curves = table[position, :, lower] * (1 - weight) + table[position, :, (lower + 1) % CYCLE_BINS] * weight
    radial, circ, longitudinal = curves.unbind(dim=1)  # [B] each, cm/s
    mask = (myocardium[:, 0] > MASK_THRESHOLD).float()
    rows = torch.arange(mask.shape[-2], device=device, dtype=torch.float32)[None, :, None]
    cols = torch.arange(mask.shape[-1], device=device, dtype=torch.float32)[None, None, :]
    total = mask.sum(dim=(1, 2)).clamp(min=1.0)
    d_row = rows - ((mask * rows).sum(dim=(1, 2)) / total)[:, None, None]
    d_col = cols - ((mask * cols).sum(dim=(1, 2)) / total)[:, None, None]
    r = torch.hypot(d_row, d_col)
    r = torch.where(r > 0, r, torch.full_like(r, float("inf")))
    radial, circ = radial[:, None, None], circ[:, None, None]
    z = torch.as_tensor(context.z_towards_apex, device=device).float()
    vz = (longitudinal * z)[:, None, None].expand_as(mask)
    velocity = torch.stack([(-radial * d_col + circ * d_row) / r, (-radial * d_row - circ * d_col) / r, vz], dim=1)
    return velocity * mask[:, None] / torch.as_tensor(context.venc, device=device).float()[:, :, None, None]
