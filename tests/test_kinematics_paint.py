"""Painting fitted curves on a twin's myocardium (models.kinematics.paint): on a symmetric ring, each pixel
gets its segment's radial velocity towards the centre, the slice's circumferential velocity
counter-clockwise as displayed, its segment's longitudinal velocity and the frame's bulk velocity."""

from __future__ import annotations

import numpy as np

from assessment.velocity import aha_segments, velocity_curves
from models.kinematics.paint import paint_curves

T, SIZE, CENTRE, ENDO, EPI = 4, 33, 16, 8, 13
IDS = np.arange(7, 13)


def ring_masks() -> np.ndarray:
    """[T, H, W] ring centred on the pixel (16, 16): symmetric, so the centroid is that pixel exactly."""
    rows, cols = np.indices((SIZE, SIZE))
    r = np.hypot(rows - CENTRE, cols - CENTRE)
    return np.repeat(((r >= ENDO) & (r <= EPI))[None], T, axis=0).astype(np.uint8)


def curves() -> dict[str, np.ndarray]:
    """A radial and longitudinal curve per segment (segment j: j + 1 and 10 (j + 1) times the frame's),
    and a circumferential curve, all different from frame to frame."""
    frame = np.arange(1, T + 1, dtype=np.float64)
    per_segment = np.arange(1, IDS.size + 1, dtype=np.float64)[:, None]
    return {
        "segment_radial": per_segment * frame,
        "segment_longitudinal": 10.0 * per_segment * frame,
        "circumferential": -0.5 * frame,
    }


def test_each_pixel_moves_along_its_own_directions():
    masks = ring_masks()
    bulk = np.stack([0.3 * np.arange(T), -0.7 * np.ones(T)], axis=1)
    c = curves()
    out = paint_curves(c, IDS, masks, "mid", 180.0, z_towards_apex=-1, bulk_cm_s=bulk)
    segments = aha_segments(masks, "mid", 180.0)
    radius = (ENDO + EPI) // 2
    for t in range(T):
        circ = c["circumferential"][t]
        # Right of the centre (x > 0): radial inward is -x, counter-clockwise as displayed is up (-y).
        seg = np.searchsorted(IDS, segments[t, CENTRE, CENTRE + radius])
        radial = c["segment_radial"][seg, t]
        np.testing.assert_allclose(
            out[t, :, CENTRE, CENTRE + radius],
            [-radial + bulk[t, 0], -circ + bulk[t, 1], -c["segment_longitudinal"][seg, t]],
            rtol=1e-6,
        )
        # Above the centre (y < 0): radial inward is +y, counter-clockwise as displayed is left (-x).
        seg = np.searchsorted(IDS, segments[t, CENTRE - radius, CENTRE])
        radial = c["segment_radial"][seg, t]
        np.testing.assert_allclose(
            out[t, :, CENTRE - radius, CENTRE],
            [-circ + bulk[t, 0], radial + bulk[t, 1], -c["segment_longitudinal"][seg, t]],
            rtol=1e-6,
        )
    assert np.all(out.transpose(1, 0, 2, 3)[:, masks == 0] == 0)


def test_the_velocity_analysis_gives_the_painted_curves_back():
    masks = ring_masks()
    c = curves()
    # The same radial curve on every segment: the symmetric ring then has no in-plane mean of its own,
    # and the bulk removal of the analysis takes off exactly the bulk.
    c["segment_radial"] = np.repeat(c["segment_radial"][:1], IDS.size, axis=0)
    bulk = np.stack([np.ones(T), 2.0 * np.arange(T)], axis=1)
    out = paint_curves(c, IDS, masks, "mid", 180.0, bulk_cm_s=bulk)
    measured = velocity_curves(out, masks, "mid", septum_deg=180.0)
    np.testing.assert_array_equal(measured.segment_ids, IDS)
    np.testing.assert_allclose(measured.segment_curves["radial"], c["segment_radial"], rtol=1e-5)
    np.testing.assert_allclose(measured.segment_curves["longitudinal"], c["segment_longitudinal"], rtol=1e-5)
    np.testing.assert_allclose(measured.circumferential, c["circumferential"], rtol=1e-5)
    t, rows, cols = np.nonzero(masks)
    for axis in (0, 1):
        mean = np.bincount(t, weights=out[t, axis, rows, cols]) / np.bincount(t)
        np.testing.assert_allclose(mean, bulk[:, axis], atol=1e-5)
