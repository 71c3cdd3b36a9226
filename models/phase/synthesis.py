"""Stage 2 over a whole cine: the loop that evaluation and the chained predictor share.

Every frame t is synthesised from the magnitude frames around it (t-1, t, t+1 for the default window;
cyclic, as stage 2 was trained) and, for a cycle-conditioned generator, its cycle fraction t / T and the
slice position, batched over frames; the model composites its foreground with background noise drawn
from ``generator``, so the same generator state gives the same maps.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from data.mvm_io import SLICE_POSITIONS
from data.transforms import neighbour_indices


@torch.no_grad()
def synthesise_cine(
    model: Any,
    cine_net: np.ndarray,
    myocardium: np.ndarray,
    slice_position: str,
    batch_size: int,
    generator: torch.Generator,
) -> np.ndarray:
    """Velocity / VENC [T, 3, H, W] (float32) of every frame of a magnitude cine [T, H, W] on the network
    scale [-1, 1] of a slice at ``slice_position``, given its myocardium masks [T, H, W]; ``model`` is a
    ``PhaseModel``."""
    cine = torch.from_numpy(np.asarray(cine_net, dtype=np.float32))
    masks = torch.from_numpy(np.asarray(myocardium, dtype=np.float32))
    t_count = cine.shape[0]
    out = np.empty((t_count, 3, *cine.shape[-2:]), dtype=np.float32)
    for start in range(0, t_count, batch_size):
        frames = np.arange(start, min(t_count, start + batch_size))
        stack = cine[torch.from_numpy(neighbour_indices(frames, t_count, model.window))]
        magnitude = stack.to(model.device, non_blocking=True)
        myo = masks[frames][:, None].to(model.device, non_blocking=True)
        position = torch.full((len(frames),), SLICE_POSITIONS.index(slice_position))
        cycle_fraction = torch.from_numpy(frames / t_count)
        v = model.synthesise(magnitude, myo, generator, cycle_fraction, position)
        out[frames] = v.float().cpu().numpy()
    return out
