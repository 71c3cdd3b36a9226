"""The tissue foreground of the frame being synthesised, and the composite of the generator's foreground
with the background noise (the foreground-background scheme of ``models.phase.model``)."""

from __future__ import annotations

import numpy as np
import torch

from data.transforms import window_centre
from models.losses import dilate_mask
from util.tissue import tissue_mask_from_magnitude


def composite(foreground: torch.Tensor, noise: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``foreground`` where ``mask`` is set, ``noise`` elsewhere: exactly, value for value.

    ``mask`` [B, 1, H, W] (non-zero = foreground) broadcasts over the three directions. Gradients reach
    the generator from the foreground pixels only. The result is float32.
    """
    return torch.where(mask != 0, foreground.float(), noise.float())


def foreground_mask(tissue: torch.Tensor, myocardium: torch.Tensor | None, wall_band: int = 0) -> torch.Tensor:
    """Where the composite takes the generator's foreground: the magnitude's tissue (float 0/1, [B, 1, H, W])
    and the myocardium (the same shape, non-zero = myocardium), whatever its brightness. A myocardial pixel
    dimmer than the tissue threshold (a thin or dim wall on an unfamiliar appearance) would otherwise get
    the background's noise, uniform over +-VENC, where the velocity is scored.

    ``wall_band``: pixels by which the myocardium is widened first (a square neighbourhood). The chain's
    masks of the non-key frames are stage 1's, whose edge is uncertain by about a pixel: a wall pixel it
    left out and whose rebuilt magnitude is dim would get noise of about VENC / 2 on average where the
    foreground errs by about the velocity's own size.
    """
    if myocardium is None:
        return tissue
    if wall_band < 0:
        raise ValueError(f"wall_band must be >= 0 pixels, got {wall_band}")
    wall = dilate_mask((myocardium != 0).to(tissue.dtype).to(tissue.device), int(wall_band))
    return torch.maximum(tissue, wall)


def centre_frame(magnitude: torch.Tensor) -> torch.Tensor:
    """Frame t [B, 1, H, W] of ``magnitude`` [B, window, H, W], the frame whose velocity is synthesised."""
    centre = window_centre(magnitude.shape[1])
    return magnitude[:, centre : centre + 1]


def centre_frame01(magnitude: torch.Tensor) -> torch.Tensor:
    """The centre frame t [B, H, W] of ``magnitude`` [B, window, H, W], from the network scale [-1, 1] to [0, 1]."""
    return ((centre_frame(magnitude)[:, 0].detach().float() + 1.0) / 2.0).clamp(0.0, 1.0)


def tissue_from_magnitude(magnitude: torch.Tensor) -> torch.Tensor:
    """The tissue foreground [B, 1, H, W] (float 0/1) of the centre frame of ``magnitude`` [B, window, H, W].

    The magnitude is on the network scale [-1, 1]; the mask is computed on [0, 1] with the same function
    the datasets use (``util.tissue.tissue_mask_from_magnitude``), so inference composites exactly the
    foreground the generator was trained on.
    """
    unit = centre_frame01(magnitude).cpu().numpy()
    masks = np.asarray(tissue_mask_from_magnitude(unit), dtype=np.float32)  # per frame, vectorised
    return torch.from_numpy(masks)[:, None].to(magnitude.device)
