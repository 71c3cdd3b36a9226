"""The key-frame yardsticks (models.kinematics.yardsticks) on a synthetic ring whose motion is known:
a bulk translation, a radial contraction and a rotation, all sinusoidal over the cycle."""

from __future__ import annotations

import numpy as np
import pytest
from test_kinematics_motion import SPACING, ring_image

from assessment.velocity import velocity_curves
from models.kinematics.keyframe_motion import measure_keyframe_motion
from models.kinematics.registration import register_to_first
from models.kinematics.yardsticks import bulk_velocity, flow_curves, flow_velocity, population_plus_bulk
from util.errors import DataError

T, FACTOR, RR_MS = 54, 6, 900.0
KEYS = np.arange(0, T, FACTOR)
PHASE = np.arange(T) / T
W = 2 * np.pi
SHIFT_ROW, SHIFT_COL, CONTRACTION, TURN_DEG = 2.0, 1.5, 0.08, 4.0


def motion(phase: float) -> tuple[float, tuple[float, float], float]:
    """(angle deg, (row, col) shift px, scale) of the ring at a cycle phase."""
    shift = (SHIFT_ROW * np.sin(W * phase), SHIFT_COL * (np.cos(W * phase) - 1))
    return TURN_DEG * np.sin(W * phase), shift, 1 - CONTRACTION * (1 - np.cos(W * phase))


@pytest.fixture(scope="module")
def cine() -> tuple[np.ndarray, np.ndarray]:
    frames = [ring_image(*motion(p)) for p in PHASE]
    return np.stack([f[0] for f in frames]), np.stack([f[1] for f in frames])


def true_bulk() -> np.ndarray:
    """[T, 2] (vx, vy) cm/s of the translation."""
    rr_s = RR_MS / 1000
    vx = -SHIFT_COL * W * np.sin(W * PHASE) * SPACING[1] / rr_s / 10
    vy = SHIFT_ROW * W * np.cos(W * PHASE) * SPACING[0] / rr_s / 10
    return np.stack([vx, vy], axis=1)


def true_curves(first_mask: np.ndarray) -> dict[str, np.ndarray]:
    """Mean radial / circumferential velocity (cm/s) of the material points of the first frame."""
    rows, cols = np.nonzero(first_mask)
    d0 = np.hypot(rows - rows.mean(), cols - cols.mean()).mean() * SPACING[0]  # mm
    rr_s = RR_MS / 1000
    scale_rate = -CONTRACTION * W * np.sin(W * PHASE) / rr_s  # d scale / dt
    turn_rate = np.deg2rad(TURN_DEG) * W * np.cos(W * PHASE) / rr_s  # rad / s
    scale = 1 - CONTRACTION * (1 - np.cos(W * PHASE))
    return {"radial": -d0 * scale_rate / 10, "circumferential": d0 * scale * turn_rate / 10}


def test_bulk_velocity_follows_the_mask_centroids(cine):
    _, masks = cine
    bulk = bulk_velocity(masks[KEYS], KEYS, T, RR_MS, SPACING)
    # Peaks 1.6 (vx) and 2.1 cm/s (vy); centroids of binary masks are good to ~0.1 pixel, which the
    # derivative of the fit turns into up to ~0.2 cm/s.
    np.testing.assert_allclose(bulk, true_bulk(), atol=0.25)


def test_bulk_velocity_from_tracked_displacements_ignores_mask_offsets(cine):
    magnitude, masks = cine
    key_masks = np.stack(
        [np.roll(m, o, axis=(0, 1)) for m, o in zip(masks[KEYS], [(1, 0), (-1, 1)] * 4 + [(0, -1)], strict=True)]
    )
    motion = measure_keyframe_motion(magnitude[KEYS], key_masks, KEYS, T, RR_MS, SPACING, "mid", 180.0)
    tracked = bulk_velocity(key_masks, KEYS, T, RR_MS, SPACING, displacement_mm=motion.tracked_displacement_mm)
    np.testing.assert_allclose(tracked, true_bulk(), atol=0.25)
    from_masks = bulk_velocity(key_masks, KEYS, T, RR_MS, SPACING)
    assert np.abs(from_masks - true_bulk()).max() > 0.5  # what a pixel of mask offset does to the centroids


def test_population_plus_bulk_adds_the_bulk_on_the_myocardium_only(cine):
    _, masks = cine
    prior = np.zeros((T, 3, *masks.shape[1:]), dtype=np.float32)
    prior[:, 2] = 3.0 * masks
    out = population_plus_bulk(prior, masks, KEYS, masks[KEYS], RR_MS, SPACING)
    t, rows, cols = np.nonzero(masks)
    np.testing.assert_allclose(out[t, 0, rows, cols], true_bulk()[t, 0], atol=0.25)
    np.testing.assert_allclose(out[t, 1, rows, cols], true_bulk()[t, 1], atol=0.25)
    assert np.all(out[:, :2][~np.repeat(masks[:, None] != 0, 2, axis=1)] == 0)
    np.testing.assert_array_equal(out[:, 2], prior[:, 2])
    # Curves remove bulk motion: the prior's (zero) in-plane curves are unchanged.
    curves = velocity_curves(out, masks, "mid", septum_deg=180.0)
    np.testing.assert_allclose(curves.radial, 0.0, atol=1e-5)


def test_flow_reads_radial_velocity_and_bulk(cine):
    magnitude, masks = cine
    registration = register_to_first(magnitude[KEYS], masks[KEYS])
    curves, bulk = flow_curves(registration, masks[0], KEYS, T, RR_MS, SPACING)
    truth = true_curves(masks[0])
    # Radial peak 1.45 cm/s: within 0.1 cm/s at every frame, sign included.
    np.testing.assert_allclose(curves["radial"], truth["radial"], atol=0.1)
    np.testing.assert_allclose(bulk, true_bulk(), atol=0.1)
    # Rotation: right sign and timing, but attenuated by the smoothness of the flow (0.5-1 of the truth).
    circumferential = curves["circumferential"]
    assert np.corrcoef(circumferential, truth["circumferential"])[0, 1] > 0.98
    gain = np.polyfit(truth["circumferential"], circumferential, 1)[0]
    assert 0.5 < gain < 1.05


def test_flow_velocity_paints_the_curves_on_the_twin_masks(cine):
    magnitude, masks = cine
    longitudinal = 2.0 * np.sin(W * PHASE)
    registration = register_to_first(magnitude[KEYS], masks[KEYS])
    curves, bulk = flow_curves(registration, masks[0], KEYS, T, RR_MS, SPACING)
    out = flow_velocity(magnitude[KEYS], masks[KEYS], KEYS, masks, RR_MS, SPACING, longitudinal, -1, registration)
    assert out.shape == (T, 3, *masks.shape[1:]) and out.dtype == np.float32
    measured = velocity_curves(out, masks, "mid", z_towards_apex=-1, septum_deg=180.0)
    np.testing.assert_allclose(measured.radial, curves["radial"], atol=0.05)
    np.testing.assert_allclose(measured.circumferential, curves["circumferential"], atol=0.05)
    np.testing.assert_allclose(measured.longitudinal, longitudinal, atol=1e-5)
    t, rows, cols = np.nonzero(masks)
    mean_vx = np.bincount(t, weights=out[t, 0, rows, cols]) / np.bincount(t)
    np.testing.assert_allclose(mean_vx, bulk[:, 0], atol=0.05)
    assert np.all(out.transpose(1, 0, 2, 3)[:, masks == 0] == 0)


def test_flow_velocity_needs_four_key_frames(cine):
    magnitude, masks = cine
    with pytest.raises(DataError, match="flow yardstick: 3 key frames are too few"):
        flow_velocity(magnitude[KEYS[:3]], masks[KEYS[:3]], KEYS[:3], masks, RR_MS, SPACING, np.zeros(T))
