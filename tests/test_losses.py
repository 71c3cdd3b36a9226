"""models.losses: masked L1, soft Dice and mask dilation against values worked out by hand."""

from __future__ import annotations

import pytest
import torch

from models.losses import dilate_mask, masked_l1, soft_dice_loss


def test_masked_l1_is_the_mean_over_the_mask_on_a_2x2_example() -> None:
    pred = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    target = torch.tensor([[[[0.0, 0.5], [5.0, 4.5]]]])
    mask = torch.tensor([[[[1.0, 0.0], [1.0, 1.0]]]])
    # |errors| 1, 1.5, 2, 0.5; the mask keeps 1, 2 and 0.5: (1 + 2 + 0.5) / 3.
    assert masked_l1(pred, target, mask).item() == pytest.approx(3.5 / 3, abs=1e-7)
    assert masked_l1(pred, target, torch.ones_like(mask)).item() == pytest.approx(5.0 / 4, abs=1e-7)


def test_masked_l1_broadcasts_the_mask_over_channels_and_averages_samples() -> None:
    pred = torch.zeros(2, 3, 2, 2)
    target = torch.zeros(2, 3, 2, 2)
    target[0, :, 0, 0] = torch.tensor([1.0, -2.0, 3.0])  # sample 0, the one masked pixel: mean 2
    target[0, :, 1, 1] = 100.0  # outside the mask
    target[1] = 7.0  # sample 1 has an empty mask: loss 0, not 0 / 0
    mask = torch.zeros(2, 1, 2, 2)
    mask[0, 0, 0, 0] = 1.0
    assert masked_l1(pred, target, mask).item() == pytest.approx((2.0 + 0.0) / 2, abs=1e-7)


def test_soft_dice_loss_with_smooth_term_by_hand() -> None:
    p = torch.tensor([[[[0.5, 1.0], [0.0, 0.25]]], [[[0.0, 0.0], [0.0, 0.0]]]])
    t = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]], [[[0.0, 0.0], [0.0, 0.0]]]])
    # Sample 0: sum(p t) = 1.5, sum p = 1.75, sum t = 2: Dice (2 * 1.5 + 1) / (3.75 + 1) = 4 / 4.75.
    # Sample 1: empty prediction of an empty mask: (0 + 1) / (0 + 1) = 1, loss 0.
    expected = ((1 - 4 / 4.75) + 0.0) / 2
    assert soft_dice_loss(p, t).item() == pytest.approx(expected, abs=1e-7)
    # smooth = 0.5: (3 + 0.5) / (3.75 + 0.5) for sample 0, still 1 for sample 1.
    assert soft_dice_loss(p, t, smooth=0.5).item() == pytest.approx((1 - 3.5 / 4.25) / 2, abs=1e-7)
    assert soft_dice_loss(t, t).item() == pytest.approx(0.0, abs=1e-7)


def test_dilate_mask_by_one_pixel_is_a_3x3_square() -> None:
    mask = torch.zeros(1, 1, 5, 5)
    mask[0, 0, 2, 2] = 1.0
    out = dilate_mask(mask, 1)
    expected = torch.zeros(1, 1, 5, 5)
    expected[0, 0, 1:4, 1:4] = 1.0
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    torch.testing.assert_close(dilate_mask(mask * 0.7, 0), mask, rtol=0, atol=0)  # threshold 0.5
