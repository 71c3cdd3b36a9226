"""assessment.metrics: PSNR against scikit-image and by hand, SSIM against a numpy implementation of Wang et al.
(2004) written here (not the scikit-image function it wraps), masked variants against hand-computed
values, edge cases.

Tolerances: agreement with references and between numpy and torch is to 1e-10 (float64) or 1e-4 dB
(float32 torch); hand-computed values to 1e-12.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio

from assessment.metrics import (
    curve_agreement,
    dice,
    dice_torch,
    mae,
    psnr,
    psnr_frames,
    psnr_torch,
    ssim,
    ssim_frames,
    ssim_whole_and_masked,
)


@pytest.fixture
def pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    target = rng.random((48, 40))
    pred = np.clip(target + 0.05 * rng.standard_normal(target.shape), 0, 1)
    return pred, target


# ---------------------------------------------------------------------------------------------------- PSNR
@pytest.mark.parametrize("data_range", [1.0, 2.0, 4095.0])
def test_psnr_matches_skimage(pair, data_range):
    pred, target = pair
    ref = peak_signal_noise_ratio(target, pred, data_range=data_range)
    assert psnr(pred, target, data_range) == pytest.approx(ref, abs=1e-10)


def test_psnr_data_range_shifts_by_20log10():
    target = np.zeros((8, 8))
    pred = np.full((8, 8), 0.1)  # MSE 0.01
    assert psnr(pred, target, 1.0) == pytest.approx(20.0, abs=1e-12)
    assert psnr(pred, target, 2.0) - psnr(pred, target, 1.0) == pytest.approx(20 * math.log10(2), abs=1e-12)


def test_psnr_integer_inputs_do_not_overflow():
    target = np.full((8, 8), 10, dtype=np.uint16)
    pred = np.full((8, 8), 5, dtype=np.uint16)  # 5 - 10 would wrap in uint16
    assert psnr(pred, target, 4095.0) == pytest.approx(10 * math.log10(4095.0**2 / 25.0), abs=1e-12)


def test_psnr_masked_hand_computed():
    target = np.zeros((10, 10))
    pred = np.full((10, 10), 0.9)  # large error everywhere ...
    mask = np.zeros((10, 10), dtype=np.uint8)
    mask[2:4, 3:8] = 1
    pred[mask == 1] = 0.1  # ... except inside the mask: MSE 0.01 there
    assert psnr(pred, target, 1.0, mask) == pytest.approx(20.0, abs=1e-12)
    whole_mse = (90 * 0.81 + 10 * 0.01) / 100
    assert psnr(pred, target, 1.0) == pytest.approx(10 * math.log10(1 / whole_mse), abs=1e-12)


def test_psnr_perfect_is_inf_and_empty_mask_is_nan(pair):
    _, target = pair
    assert psnr(target, target, 1.0) == math.inf
    assert math.isnan(psnr(target + 0.1, target, 1.0, np.zeros(target.shape, bool)))


def test_psnr_rejects_bad_input(pair):
    pred, target = pair
    with pytest.raises(ValueError):
        psnr(pred, target[:-1], 1.0)
    with pytest.raises(ValueError):
        psnr(pred, target, 0.0)


# ---------------------------------------------------------------------------------------------------- SSIM
def wang_ssim_map(x: np.ndarray, y: np.ndarray, data_range: float, win: int = 7) -> np.ndarray:
    """SSIM of Wang et al. (2004) at every pixel whose win x win window lies inside the image.

    Written from the paper's formula, independently of scikit-image: uniform window, sample (N - 1)
    variances and covariance, K1 = 0.01, K2 = 0.03. Returns the [H - win + 1, W - win + 1] map, whose
    pixel (i, j) belongs to image pixel (i + win // 2, j + win // 2).
    """
    from numpy.lib.stride_tricks import sliding_window_view

    wx = sliding_window_view(np.asarray(x, np.float64), (win, win)).reshape(*np.subtract(x.shape, win - 1), -1)
    wy = sliding_window_view(np.asarray(y, np.float64), (win, win)).reshape(*np.subtract(y.shape, win - 1), -1)
    n = win * win
    mx, my = wx.mean(-1), wy.mean(-1)
    vx = ((wx - mx[..., None]) ** 2).sum(-1) / (n - 1)
    vy = ((wy - my[..., None]) ** 2).sum(-1) / (n - 1)
    cxy = ((wx - mx[..., None]) * (wy - my[..., None])).sum(-1) / (n - 1)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))


@pytest.mark.parametrize("data_range", [1.0, 2.0])
def test_ssim_matches_the_wang_formula(pair, data_range):
    pred, target = pair
    assert ssim(pred, target, data_range) == pytest.approx(wang_ssim_map(pred, target, data_range).mean(), abs=1e-10)
    assert ssim(pred, target, 2.0) > ssim(pred, target, 1.0)  # a larger range forgives the same error


def test_ssim_masked_is_the_mean_of_the_wang_map_over_the_mask(pair):
    pred, target = pair
    mask = np.zeros(pred.shape, bool)
    mask[10:30, 5:25] = True
    mask[0:2, :] = True  # within the border band: left out, as in the unmasked mean
    expected = wang_ssim_map(pred, target, 1.0)[10 - 3 : 30 - 3, 5 - 3 : 25 - 3].mean()
    assert ssim(pred, target, 1.0, mask) == pytest.approx(expected, abs=1e-10)


def test_ssim_known_values():
    rng = np.random.default_rng(5)
    image = rng.random((20, 20))
    assert ssim(image, image, 1.0) == pytest.approx(1.0, abs=1e-12)
    # Two constant images a, b: no variance, so SSIM = (2 a b + C1) / (a^2 + b^2 + C1), C1 = (0.01 L)^2.
    flat_a, flat_b = np.full((16, 16), 0.4), np.full((16, 16), 0.6)
    c1 = 1e-4
    assert ssim(flat_b, flat_a, 1.0) == pytest.approx((2 * 0.4 * 0.6 + c1) / (0.16 + 0.36 + c1), abs=1e-12)
    # The same texture on top of the offset: the contrast-structure term stays 1, the luminance term is
    # the closed form of each window's mean m, (2 m (m + d) + C1) / (m^2 + (m + d)^2 + C1).
    from numpy.lib.stride_tricks import sliding_window_view

    m = sliding_window_view(image, (7, 7)).mean(axis=(-2, -1))
    d = 0.25
    expected = ((2 * m * (m + d) + c1) / (m**2 + (m + d) ** 2 + c1)).mean()
    assert ssim(image + d, image, 1.0) == pytest.approx(expected, abs=1e-12)


def test_ssim_all_true_mask_equals_unmasked(pair):
    pred, target = pair
    assert ssim(pred, target, 1.0, np.ones(pred.shape, bool)) == pytest.approx(ssim(pred, target, 1.0), abs=1e-12)


def test_ssim_masked_hand_computed_on_constant_patch():
    # Left part: constant a in pred, b in target, so variances and covariance vanish and
    # SSIM = (2ab + C1) / (a^2 + b^2 + C1), C1 = (0.01 * L)^2, wherever the 7x7 window sees only that part.
    rng = np.random.default_rng(1)
    a, b, data_range = 0.3, 0.5, 1.0
    target = rng.random((32, 32))
    pred = target.copy()
    pred[:, :16], target[:, :16] = a, b
    mask = np.zeros((32, 32), bool)
    mask[5:27, 4:12] = True  # at least 3 pixels from the image border and from column 16
    c1 = (0.01 * data_range) ** 2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    assert ssim(pred, target, data_range, mask) == pytest.approx(expected, abs=1e-12)
    # The identical textured right part gives SSIM 1 there.
    right = np.zeros((32, 32), bool)
    right[5:27, 22:28] = True
    assert ssim(pred, target, data_range, right) == pytest.approx(1.0, abs=1e-12)


def test_ssim_rejects_non_2d(pair):
    pred, target = pair
    with pytest.raises(ValueError):
        ssim(pred[None], target[None], 1.0)


# ------------------------------------------------------------------------------------------ frame stacks
def test_frame_helpers_average_per_frame_values():
    rng = np.random.default_rng(2)
    target = rng.random((3, 24, 24))
    pred = target + 0.02 * rng.standard_normal(target.shape)
    per_frame_psnr = [peak_signal_noise_ratio(target[t], pred[t], data_range=1.0) for t in range(3)]
    per_frame_ssim = [wang_ssim_map(pred[t], target[t], 1.0).mean() for t in range(3)]
    assert psnr_frames(pred, target, 1.0) == pytest.approx(np.mean(per_frame_psnr), abs=1e-10)
    assert ssim_frames(pred, target, 1.0) == pytest.approx(np.mean(per_frame_ssim), abs=1e-10)


def test_psnr_frames_with_per_frame_masks_skips_empty_frames():
    target = np.zeros((3, 6, 6))
    pred = np.zeros((3, 6, 6))
    pred[0, 0, 0] = 0.1  # frame 0 masked at that pixel only: MSE 0.01 -> 20 dB
    pred[1, 0, 0] = 0.01  # frame 1: MSE 1e-4 -> 40 dB
    masks = np.zeros((3, 6, 6), bool)
    masks[0, 0, 0] = masks[1, 0, 0] = True  # frame 2 has an empty mask and is skipped
    assert psnr_frames(pred, target, 1.0, masks) == pytest.approx(30.0, abs=1e-10)
    shared = np.zeros((6, 6), bool)
    shared[0, :2] = True  # one [H, W] mask for every frame: MSEs 0.005, 5e-5, 0 -> inf overall
    assert psnr_frames(pred, target, 1.0, shared) == math.inf
    assert psnr_frames(pred[:2], target[:2], 1.0, shared) == pytest.approx(
        (10 * math.log10(1 / 0.005) + 10 * math.log10(1 / 5e-5)) / 2, abs=1e-10
    )


# ---------------------------------------------------------------------------------------------------- Dice
def test_dice_values_and_edge_cases():
    a = np.zeros((4, 4), np.uint8)
    b = np.zeros((4, 4), np.uint8)
    assert dice(a, b) == 1.0  # both empty
    a[0, :2] = 1
    assert dice(a, b) == 0.0  # one empty
    b[0, 1:4] = 1
    assert dice(a, b) == pytest.approx(2 * 1 / (2 + 3))
    assert dice(a, a) == 1.0
    with pytest.raises(ValueError):
        dice(a, b[:2])


# ---------------------------------------------------------------------------------------------------- MAE
def test_mae_masked_broadcast_over_velocity_components():
    target = np.zeros((3, 4, 4))
    pred = np.full((3, 4, 4), 7.0)
    pred[:, 1, 1] = [1.0, -2.0, 3.0]
    mask = np.zeros((4, 4), bool)
    mask[1, 1] = True
    assert mae(pred, target, mask) == pytest.approx(2.0)
    assert mae(pred, target) == pytest.approx((45 * 7.0 + 6.0) / 48)
    assert math.isnan(mae(pred, target, np.zeros((4, 4), bool)))


# -------------------------------------------------------------------------------------- curve agreement
def test_curve_agreement_values():
    t = np.linspace(0, 2 * np.pi, 50, endpoint=False)
    true = np.sin(t)
    res = curve_agreement(2 * true + 1, true)
    assert res["correlation"] == pytest.approx(1.0, abs=1e-12)
    assert res["rmse"] == pytest.approx(np.sqrt(np.mean((true + 1) ** 2)), abs=1e-12)
    assert curve_agreement(-true, true)["correlation"] == pytest.approx(-1.0, abs=1e-12)


def test_curve_agreement_constant_and_nan_are_safe():
    true = np.array([1.0, 2.0, 3.0, 4.0])
    with np.errstate(all="raise"):
        res = curve_agreement(np.full(4, 2.0), true)
    assert math.isnan(res["correlation"])
    assert res["rmse"] == pytest.approx(math.sqrt((1 + 0 + 1 + 4) / 4))
    pred = np.array([1.0, np.nan, 3.0, 4.0])  # the NaN sample is left out of both curves
    assert curve_agreement(pred, true) == {"correlation": pytest.approx(1.0), "rmse": pytest.approx(0.0)}
    with pytest.raises(ValueError):
        curve_agreement(true[:3], true)


# --------------------------------------------------------------------------------------------------- torch
def test_psnr_torch_matches_numpy_per_sample():
    rng = np.random.default_rng(3)
    target = rng.random((4, 2, 16, 16))
    pred = target + 0.03 * rng.standard_normal(target.shape)
    mask = rng.random((4, 1, 16, 16)) > 0.5
    for data_range in (1.0, 2.0):
        got = psnr_torch(torch.from_numpy(pred), torch.from_numpy(target), data_range)
        got_masked = psnr_torch(torch.from_numpy(pred), torch.from_numpy(target), data_range, torch.from_numpy(mask))
        got32 = psnr_torch(torch.from_numpy(pred).float(), torch.from_numpy(target).float(), data_range)
        for b in range(4):
            assert got[b].item() == pytest.approx(psnr(pred[b], target[b], data_range), abs=1e-10)
            assert got_masked[b].item() == pytest.approx(psnr(pred[b], target[b], data_range, mask[b]), abs=1e-10)
            assert got32[b].item() == pytest.approx(psnr(pred[b], target[b], data_range), abs=1e-4)


def test_psnr_torch_perfect_and_empty_mask():
    x = torch.rand(2, 1, 8, 8)
    mask = torch.zeros(2, 1, 8, 8)
    mask[0, 0, 0, 0] = 1
    out = psnr_torch(x, x, 1.0)
    assert torch.isinf(out).all()
    masked = psnr_torch(x + 0.1, x, 1.0, mask)
    assert masked[0].item() == pytest.approx(20.0, abs=1e-4)
    assert torch.isnan(masked[1])


def test_dice_torch_matches_numpy():
    rng = np.random.default_rng(4)
    pred = rng.random((5, 12, 12)) > 0.6
    target = rng.random((5, 12, 12)) > 0.5
    pred[4] = target[4] = False  # both empty -> 1
    got = dice_torch(torch.from_numpy(pred), torch.from_numpy(target.astype(np.float32)))
    assert got.shape == (5,)
    for b in range(5):
        assert got[b].item() == pytest.approx(dice(pred[b], target[b]), abs=1e-6)
    assert got[4].item() == 1.0


def test_ssim_whole_and_masked_equals_the_two_separate_values() -> None:
    rng = np.random.default_rng(3)
    target = rng.random((24, 20))
    pred = target + 0.1 * rng.standard_normal(target.shape)
    mask = np.zeros(target.shape, dtype=bool)
    mask[5:15, 4:12] = True
    whole, masked = ssim_whole_and_masked(pred, target, 1.0, mask)
    assert whole == ssim(pred, target, 1.0)
    assert masked == ssim(pred, target, 1.0, mask)
    assert masked != whole
    assert np.isnan(ssim_whole_and_masked(pred, target, 1.0, None)[1])


def test_stack_ssim_and_psnr_equal_the_per_frame_skimage_calls():
    """The vectorised scoring (one SSIM map for the stack) gives every frame's scikit-image value."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from assessment.metrics import psnr_stack, ssim_whole_and_masked
    from assessment.ssim_stack import ssim_stack_whole_and_masked

    rng = np.random.default_rng(4)
    target = rng.uniform(-1, 1, size=(5, 24, 20))
    pred = target + rng.normal(0, 0.2, size=target.shape)
    mask = rng.uniform(size=target.shape) > 0.6
    mask[2] = False  # a frame with an empty mask: NaN, as the per-frame call
    whole, masked = ssim_stack_whole_and_masked(pred, target, 2.0, mask)
    for t in range(5):
        assert whole[t] == pytest.approx(structural_similarity(target[t], pred[t], data_range=2.0), abs=1e-6)
        expected = ssim_whole_and_masked(pred[t], target[t], 2.0, mask[t])[1]
        assert (np.isnan(masked[t]) and np.isnan(expected)) or masked[t] == pytest.approx(expected, abs=1e-6)
    assert np.isnan(masked[2])
    for t, value in enumerate(psnr_stack(pred, target, 2.0)):
        assert value == pytest.approx(peak_signal_noise_ratio(target[t], pred[t], data_range=2.0), abs=1e-6)
    shared = psnr_stack(pred, target, 2.0, mask[0])
    assert shared[1] == pytest.approx(psnr(pred[1], target[1], 2.0, mask[0]), abs=1e-6)


def test_psnr_of_a_stack_whole_and_masked_from_one_squared_error() -> None:
    from assessment.metrics import psnr_stack, psnr_stack_whole_and_masked

    rng = np.random.default_rng(6)
    target = rng.uniform(-1, 1, size=(4, 16, 16))
    pred = target + rng.normal(0, 0.1, size=target.shape)
    mask = rng.uniform(size=target.shape) > 0.5
    mask[1] = False
    whole, masked = psnr_stack_whole_and_masked(pred, target, 2.0, mask)
    np.testing.assert_array_equal(whole, psnr_stack(pred, target, 2.0))
    np.testing.assert_array_equal(masked, psnr_stack(pred, target, 2.0, mask))
    assert np.isnan(masked[1]) and np.all(np.isnan(psnr_stack_whole_and_masked(pred, target, 2.0, None)[1]))
