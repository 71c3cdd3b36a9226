"""Stage 2 over a whole cine: the loop that evaluation and the chained predictor share.

Every frame t is synthesised from the magnitude frames t-1, t, t+1 of the cycle (cyclic, as stage 2
was trained), batched over frames; the model composites its foreground with background noise drawn
from ``generator``, so the same generator state gives the same maps.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from data.transforms import neighbour_indices


@torch.no_grad()
def synthesise_cine(
    model: Any, cine_net: np.ndarray, myocardium: np.ndarray, batch_size: int, generator: torch.Generator
) -> np.ndarray:
    """Velocity / VENC [T, 3, H, W] (float32) of every frame of a magnitude cine [T, H, W] on the network
    scale [-1, 1], given its myocardium masks [T, H, W]; ``model`` is a ``PhaseModel``."""
    cine = torch.from_numpy(np.asarray(cine_net, dtype=np.float32))
    masks = torch.from_numpy(np.asarray(myocardium, dtype=np.float32))
    t_count = cine.shape[0]
    out = np.empty((t_count, 3, *cine.shape[-2:]), dtype=np.float32)
    for start in range(0, t_count, batch_size):
        frames = np.arange(start, min(t_count, start + batch_size))
        stack = cine[torch.from_numpy(neighbour_indices(frames, t_count))]
        magnitude = stack.to(model.device, non_blocking=True)
        myo = masks[frames][:, None].to(model.device, non_blocking=True)
        out[frames] = model.synthesise(magnitude, myo, generator=generator).float().cpu().numpy()
    return out
