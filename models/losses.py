"""Region losses that both stages use: L1 restricted to a region, soft Dice, mask dilation.

The whole-frame L1 is dominated by the large, static background; the region terms give the moving
myocardium and the tissue the weight a reader gives them. Region losses are means over the region's
pixels (not over the image), so a small region counts as much as a large one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from util.conventions import MASK_THRESHOLD


def dilate_mask(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Binary dilation of ``mask`` [B, 1, H, W] by a (2 * radius + 1)^2 square (max-pooling).

    The myocardium loss uses the target mask dilated by a few pixels: the errors of an interpolated frame
    sit on the moving borders of the wall, half of which lie just *outside* the target mask (where the
    linear blend leaves a ghost of the wall's old position).
    """
    if radius <= 0:
        return (mask > MASK_THRESHOLD).to(mask.dtype)
    binary = (mask > MASK_THRESHOLD).to(mask.dtype)
    return F.max_pool2d(binary, kernel_size=2 * radius + 1, stride=1, padding=radius)


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Mean absolute error over the pixels of ``mask`` (per sample, then averaged over the batch).

    ``eps`` (in pixels) is the least denominator: it keeps a sample whose mask is empty at zero loss
    instead of 0 / 0, and leaves the mean over a non-empty binary mask exact (it is not added to the count).
    """
    weights = mask.to(pred.dtype).expand_as(pred)
    err = (pred - target).abs() * weights
    per_sample = err.flatten(1).sum(1) / weights.flatten(1).sum(1).clamp(min=eps)
    return per_sample.mean()


def soft_dice_loss(probability: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 - soft Dice of a probability map against a binary mask, per sample, averaged over the batch.

    ``smooth`` makes an empty prediction of an empty mask score 1 (loss 0) and keeps the gradient finite.
    """
    p = probability.float().flatten(1)
    t = target.float().flatten(1)
    dice = (2 * (p * t).sum(1) + smooth) / (p.sum(1) + t.sum(1) + smooth)
    return (1 - dice).mean()
