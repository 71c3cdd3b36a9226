"""Stage 2 over a whole cine: the loop that evaluation and the chained predictor share.

Every frame t is synthesised from the magnitude frames around it (t-1, t, t+1 for the default window;
cyclic, as stage 2 was trained) and, for a cycle-conditioned generator, its cycle fraction t / T and the
slice position, batched over frames; the model composites its foreground with background noise drawn
from ``rng``, so the same RNG state gives the same maps.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from data.mvm_io import SliceData
from data.transforms import neighbour_indices
from models.phase.conditioning import FrameContext


@torch.no_grad()
def synthesise_cine(
    model: Any,
    cine_net: np.ndarray,
    myocardium: np.ndarray,
    s: SliceData,
    batch_size: int,
    rng: torch.Generator,
    tissue_noise: bool | None = None,
    prior: np.ndarray | None = None,
    noise_sigma: float | None = None,
    wall_band: int = 0,
) -> np.ndarray:
    """Velocity / VENC [T, 3, H, W] (float32) of every frame of a magnitude cine [T, H, W] on the network
    scale [-1, 1] of slice ``s`` (its position, orientation and VENC), given its myocardium masks
    [T, H, W] (``s``'s own, or those a stage-1 model rebuilt); ``model`` is a
    ``PhaseModel``; ``tissue_noise`` overrides the run's ``--tissue_noise`` (False: the model's estimate,
    without the scanner noise a realistic rendering adds); ``prior`` [T, 3, H, W] (VENC units) is the prior
    a ``--prior kinematic`` run refines, painted on the same masks (``models.kinematics.subject``);
    ``noise_sigma`` the slice's noise level for the tissue noise of every frame
    (``models.phase.tissue_noise.keyframe_noise_sigma``; None: each frame's own); ``wall_band`` as in
    ``PhaseInference.synthesise``."""
    cine = torch.from_numpy(np.asarray(cine_net, dtype=np.float32))
    masks = torch.from_numpy(np.asarray(myocardium, dtype=np.float32))
    t_count = cine.shape[0]
    out = np.empty((t_count, 3, *cine.shape[-2:]), dtype=np.float32)
    for start in range(0, t_count, batch_size):
        frames = np.arange(start, min(t_count, start + batch_size))
        stack = cine[torch.from_numpy(neighbour_indices(frames, t_count, model.window))]
        magnitude = stack.to(model.device, non_blocking=True)
        myo = masks[frames][:, None].to(model.device, non_blocking=True)
        context = FrameContext.of_slice(frames, t_count, s)
        given = None if prior is None else torch.from_numpy(np.asarray(prior[frames], dtype=np.float32))
        v = model.synthesise(magnitude, myo, rng, context, tissue_noise, given, noise_sigma, wall_band)
        out[frames] = v.float().cpu().numpy()
    return out
