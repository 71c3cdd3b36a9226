"""Physics phase noise in the tissue (models/phase/tissue_noise.py) and the realism regions (assessment/realism.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from assessment.realism import background_exterior, highpass_std, tissue_interior
from data.phantom.acquisition import acquire
from models.phase.tissue_noise import (
    add_tissue_noise,
    magnitude_noise_sigma,
    phase_noise_std,
    wrap_velocity,
)

SIZE = 96


def disc_scene(signal: float = 0.6, radius: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """A noise-free magnitude [H, W] (a bright disc with a brighter half) and its tissue mask."""
    yy, xx = np.mgrid[:SIZE, :SIZE]
    tissue = (yy - SIZE / 2) ** 2 + (xx - SIZE / 2) ** 2 < radius**2
    magnitude = np.where(tissue, signal * np.where(xx < SIZE / 2, 1.0, 0.5), 0.0)
    return magnitude.astype(np.float32), tissue


def test_noise_sigma_is_recovered_from_the_tissue() -> None:
    clean, tissue = disc_scene()
    rng = np.random.default_rng(0)
    frames = []
    for sigma in (0.01, 0.03, 0.05):
        z = clean + sigma * (rng.standard_normal(clean.shape) + 1j * rng.standard_normal(clean.shape))
        frames.append(np.abs(z))
    mag = torch.tensor(np.stack(frames), dtype=torch.float32)
    est = magnitude_noise_sigma(mag, torch.tensor(tissue).expand(3, -1, -1))
    # Within 8%: the edge between the disc's two halves (30 sigma at the lowest noise) nudges the median.
    assert est.tolist() == pytest.approx([0.01, 0.03, 0.05], rel=0.08)
    # Faint signal in the "background" (lung, partial volume) does not bias it: only tissue is used.
    faint = torch.tensor(np.where(tissue, 0.0, 0.15), dtype=torch.float32)
    assert magnitude_noise_sigma(mag + faint, torch.tensor(tissue).expand(3, -1, -1)).tolist() == pytest.approx(
        est.tolist(), rel=1e-6
    )


def test_frames_without_tissue_borrow_the_batch_estimate_or_get_no_noise() -> None:
    clean, tissue = disc_scene()
    rng = np.random.default_rng(1)
    z = clean + 0.02 * (rng.standard_normal(clean.shape) + 1j * rng.standard_normal(clean.shape))
    mag = torch.tensor(np.stack([np.abs(z), np.abs(z)]), dtype=torch.float32)
    masks = torch.tensor(np.stack([tissue, np.zeros_like(tissue)]))  # the second frame has no tissue
    est = magnitude_noise_sigma(mag, masks)
    assert float(est[1]) == float(est[0]) == pytest.approx(0.02, rel=0.05)

    no_tissue = torch.zeros(2, 1, SIZE, SIZE)
    assert torch.isnan(magnitude_noise_sigma(mag, no_tissue)).all()
    v = torch.full((2, 3, SIZE, SIZE), 0.25)
    assert torch.equal(phase_noise_std(mag, no_tissue), torch.zeros(2, 1, SIZE, SIZE))
    assert torch.equal(add_tissue_noise(v, mag, no_tissue), v)


def test_phase_noise_std_follows_the_snr_formula() -> None:
    clean, tissue = disc_scene()
    sigma = 0.03
    rng = np.random.default_rng(2)
    mag = np.abs(clean + sigma * (rng.standard_normal(clean.shape) + 1j * rng.standard_normal(clean.shape)))
    mag_t = torch.tensor(mag, dtype=torch.float32)[None]
    std = phase_noise_std(mag_t, torch.tensor(tissue)[None])[0, 0].numpy()
    est_sigma = float(magnitude_noise_sigma(mag_t, torch.tensor(tissue)[None])[0])
    expected = math.sqrt(2) / (math.pi * (mag[tissue] / est_sigma))
    assert std[tissue] == pytest.approx(expected, rel=1e-5)
    # Bright half (SNR 20) against the dim half (SNR 10): half the noise.
    left, right = tissue & (np.mgrid[:SIZE, :SIZE][1] < SIZE / 2), tissue & (np.mgrid[:SIZE, :SIZE][1] >= SIZE / 2)
    assert np.median(std[left]) / np.median(std[right]) == pytest.approx(0.5, rel=0.05)


def test_wrap_folds_into_minus_one_one() -> None:
    v = torch.tensor([-1.0, -0.5, 0.0, 0.999, 1.0, 1.2, -1.3, 3.0])
    assert wrap_velocity(v).tolist() == pytest.approx([-1.0, -0.5, 0.0, 0.999, -1.0, -0.8, 0.7, -1.0], abs=1e-6)


def test_the_model_reproduces_the_scanners_tissue_noise() -> None:
    """Noise added to the true velocity matches what the phantom's complex-signal acquisition measures."""
    clean, tissue = disc_scene()
    frames = 8
    rng = np.random.default_rng(3)
    signal = np.repeat(clean[None], frames, axis=0)
    yy = np.mgrid[:SIZE, :SIZE][0] / SIZE
    true = np.zeros((frames, 3, SIZE, SIZE), dtype=np.float32)
    true[:, 0] = 5.0 * yy  # cm/s, a smooth ramp
    venc = np.array([20.0, 20.0, 25.0], dtype=np.float32)
    magnitude, measured = acquire(rng, signal, true, venc, sigma=1 / 20)
    mag = torch.tensor(magnitude)
    tissue_t = torch.tensor(tissue).expand(frames, -1, -1)
    twin = (
        add_tissue_noise(
            torch.tensor(true / venc[None, :, None, None]), mag, tissue_t, torch.Generator().manual_seed(0)
        ).numpy()
        * venc[None, :, None, None]
    )
    inside = tissue_interior(np.broadcast_to(tissue, (frames, SIZE, SIZE)))
    for d in range(3):
        real_noise = (measured[:, d] - true[:, d])[inside].std()
        twin_noise = (twin[:, d] - true[:, d])[inside].std()
        assert twin_noise == pytest.approx(real_noise, rel=0.08), d
        assert highpass_std(twin[:, d], inside) == pytest.approx(highpass_std(measured[:, d], inside), rel=0.08)


# ------------------------------------------------------------------------------------- realism regions


def test_realism_regions_keep_a_margin_from_the_tissue_edge() -> None:
    _, tissue = disc_scene()
    stack = np.broadcast_to(tissue, (2, SIZE, SIZE))
    inside, outside = tissue_interior(stack), background_exterior(stack)
    assert inside.shape == outside.shape == (2, SIZE, SIZE)
    assert not (inside & ~tissue).any() and not (outside & tissue).any()
    rim = tissue & ~inside
    gap = ~tissue & ~outside
    # A 1-pixel ring on each side of the edge (4-connected erosion / dilation).
    assert 0.9 < rim.sum() / gap.sum() < 1.1 and 0.02 < rim[0].sum() / tissue.sum() < 0.1
    assert np.array_equal(tissue_interior(stack, margin=0), stack)


def test_a_misplaced_mask_edge_does_not_dominate_the_tissue_texture() -> None:
    """Background noise inside a 1-pixel rim of the mask leaves the interior statistic alone."""
    _, tissue = disc_scene()
    rng = np.random.default_rng(4)
    frames = np.where(tissue, rng.normal(0.0, 0.5, (4, SIZE, SIZE)), rng.uniform(-20, 20, (4, SIZE, SIZE)))
    clean_hp = highpass_std(frames, tissue_interior(np.broadcast_to(tissue, frames.shape)))
    # The mask found from the magnitude is one pixel too wide: a ring of background noise in the mask.
    wide = np.broadcast_to(~background_exterior(tissue[None], margin=1)[0], frames.shape)
    assert highpass_std(frames, wide) > 3 * clean_hp
    assert highpass_std(frames, tissue_interior(wide)) == pytest.approx(clean_hp, rel=0.1)


def test_the_key_frames_set_the_noise_of_smoother_frames_between_them() -> None:
    """Stage 1's frames between the key frames are smoother than acquired ones: their own noise estimate is
    low, and so would their phase noise be. The acquired key frames give the slice's level instead."""
    from scipy.ndimage import gaussian_filter

    from models.phase.tissue_noise import keyframe_noise_sigma

    clean, tissue = disc_scene()
    rng = np.random.default_rng(3)
    keys = np.stack([np.abs(clean + 0.03 * (rng.standard_normal(clean.shape) + 1j * rng.standard_normal(clean.shape)))
                     for _ in range(4)])  # fmt: skip
    smooth = gaussian_filter(keys[0], 0.8)  # a synthesised frame: the same scene, smoother
    sigma = keyframe_noise_sigma(keys)
    assert sigma == pytest.approx(0.03, rel=0.08)
    own = float(magnitude_noise_sigma(torch.tensor(smooth)[None], torch.tensor(tissue)[None])[0])
    assert own < 0.6 * sigma  # what the frame would give itself
    mag = torch.tensor(smooth)[None]
    std = phase_noise_std(mag, torch.tensor(tissue)[None], sigma)[0, 0].numpy()
    inside = tissue & (smooth > 0.2)
    expected = math.sqrt(2.0) / (math.pi * np.maximum(smooth / sigma, 0.5))
    np.testing.assert_allclose(std[inside], expected[inside], rtol=1e-5)
    assert keyframe_noise_sigma(np.zeros((2, SIZE, SIZE), dtype=np.float32)) is None  # no tissue: no level
