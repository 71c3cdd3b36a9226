"""Motion read from key frames (models.kinematics.keyframe_motion): a synthetic textured ring with a
papillary muscle, turned, translated and scaled by known amounts, must give those amounts back."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from models.kinematics.keyframe_motion import (
    DICE_THRESHOLD,
    _radii,
    measure_keyframe_motion,
    registration_warnings,
    ring_geometry,
)
from util.errors import DataError

SIZE = 96
CENTRE = (47.3, 48.6)
ENDO, EPI = 13.0, 21.0
SPACING = (1.5, 1.5)


def ring_image(
    angle_deg: float = 0.0, shift: tuple[float, float] = (0.0, 0.0), scale: float = 1.0, size: int = SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude and mask of a textured ring (with a bright papillary blob inside) turned counter-clockwise
    as displayed by ``angle_deg``, moved by ``shift`` (rows, cols) pixels and scaled by ``scale``."""
    rows, cols = np.indices((size, size), dtype=np.float64)
    d_row = (rows - CENTRE[0] - shift[0]) / scale
    d_col = (cols - CENTRE[1] - shift[1]) / scale
    r = np.hypot(d_row, d_col)
    theta = np.arctan2(-d_row, d_col) - np.deg2rad(angle_deg)  # material angle
    texture = 1.0 + 0.25 * np.cos(3 * theta + 0.4) + 0.2 * np.cos(7 * theta + 1.1) + 0.1 * np.cos(11 * theta + 2.0)
    wall = (r >= ENDO) & (r <= EPI)
    # Soft edges (about one pixel), as in a band-limited MR image: hard edges alias into a pattern that
    # stays with the pixel grid instead of turning with the ring.
    soft_wall = np.clip(r - ENDO + 0.5, 0, 1) * np.clip(EPI + 0.5 - r, 0, 1)
    blob_row, blob_col = -(ENDO - 2.0) * np.sin(np.deg2rad(60)), (ENDO - 2.0) * np.cos(np.deg2rad(60))
    material_row, material_col = -r * np.sin(theta), r * np.cos(theta)
    blob = np.clip(3.5 + 0.5 - np.hypot(material_row - blob_row, material_col - blob_col), 0, 1)
    image = 0.05 + soft_wall * texture + 1.2 * blob * (1 - soft_wall)
    return ndimage.gaussian_filter(image, 0.7), wall.astype(np.uint8)


def regional_ring(angle_deg: float, squeeze: float) -> tuple[np.ndarray, np.ndarray]:
    """The ring turned by ``angle_deg`` with its wall pulled in along each material ray by
    ``squeeze * (1 + cos(angle)) / 2``: a side that contracts while the opposite side does not."""
    rows, cols = np.indices((SIZE, SIZE), dtype=np.float64)
    d_row, d_col = rows - CENTRE[0], cols - CENTRE[1]
    theta = np.arctan2(-d_row, d_col) - np.deg2rad(angle_deg)  # material angle (rays keep their angle)
    r = np.hypot(d_row, d_col) / (1 - squeeze * (1 + np.cos(theta)) / 2)
    # A texture that also changes across the wall: a wall sampled at the wrong depth looks turned.
    depth = r - ENDO
    texture = 1.0 + 0.25 * np.cos(3 * theta + 0.4 * depth) + 0.2 * np.cos(7 * theta + 1.1 - 0.5 * depth)
    soft_wall = np.clip(r - ENDO + 0.5, 0, 1) * np.clip(EPI + 0.5 - r, 0, 1)
    image = 0.05 + soft_wall * texture
    return ndimage.gaussian_filter(image, 0.7), ((r >= ENDO) & (r <= EPI)).astype(np.uint8)


def key_stack(motions: list[tuple[float, tuple[float, float], float]]) -> tuple[np.ndarray, np.ndarray]:
    frames = [ring_image(a, s, f) for a, s, f in motions]
    return np.stack([f[0] for f in frames]), np.stack([f[1] for f in frames])


def measure(magnitude: np.ndarray, masks: np.ndarray, **kwargs: object):
    k = magnitude.shape[0]
    frames = np.arange(k) * 6
    return measure_keyframe_motion(magnitude, masks, frames, 6 * k, 1000.0, SPACING, "mid", 180.0, **kwargs)


MOTIONS = [
    (0.0, (0.0, 0.0), 1.0),
    (7.0, (0.0, 0.0), 1.0),
    (-12.0, (2.5, -1.5), 1.0),
    (4.0, (-1.0, 3.0), 0.8),
    (-3.5, (1.0, 1.0), 0.9),
]


def test_ring_geometry_gives_the_equivalent_radii():
    _, mask = ring_image()
    g = ring_geometry(mask)
    assert g.row == pytest.approx(CENTRE[0], abs=0.1) and g.col == pytest.approx(CENTRE[1], abs=0.1)
    assert g.endo == pytest.approx(ENDO, abs=0.3) and g.epi == pytest.approx(EPI, abs=0.3)


def test_rotation_translation_and_scale_are_recovered():
    m = measure(*key_stack(MOTIONS))
    angles = np.array([a for a, _, _ in MOTIONS])
    # Rotation within 0.3 degree (0.5-degree polar sampling with parabolic refinement).
    np.testing.assert_allclose(m.rotation_deg, angles, atol=0.3)
    # Centroid displacement (x along columns, y along rows) within 0.15 mm (0.1 pixel: binary masks).
    shifts = np.array([[s[1], s[0]] for _, s, _ in MOTIONS]) * SPACING[0]
    np.testing.assert_allclose(m.displacement_mm, shifts, atol=0.15)
    # Mean radius scales with the ring within 1 % (pixelated ring).
    scales = np.array([f for _, _, f in MOTIONS])
    np.testing.assert_allclose(m.radius_mm / m.radius_mm[0], scales, rtol=0.01)
    np.testing.assert_allclose(m.endo_radius_mm / m.endo_radius_mm[0], scales, rtol=0.02)
    assert m.radius_mm[0] == pytest.approx(SPACING[0] * (ENDO + EPI) / 2, rel=0.02)
    assert np.all(m.dice > 0.95) and m.badly_registered() == []
    assert m.correlation[0] == pytest.approx(1.0)


def test_masks_a_pixel_off_do_not_bias_the_rotation():
    magnitude, masks = key_stack(MOTIONS)
    offsets = [(0, 0), (-1, 1), (0, -1), (1, 1), (-1, -1)]  # the first mask exact: the tracked point is the centre
    masks = np.stack([np.roll(m, o, axis=(0, 1)) for m, o in zip(masks, offsets, strict=True)])
    m = measure(magnitude, masks)
    angles = np.array([a for a, _, _ in MOTIONS])
    np.testing.assert_allclose(m.rotation_deg, angles, atol=0.3)
    # The tracked centre follows the image, not the shifted masks: within 0.3 mm (0.2 pixel).
    shifts = np.array([[s[1], s[0]] for _, s, _ in MOTIONS]) * SPACING[0]
    np.testing.assert_allclose(m.tracked_displacement_mm, shifts, atol=0.3)
    assert np.abs(m.displacement_mm - shifts).max() > 1.0  # the mask centroids carry the offsets
    without = measure(magnitude, masks, centre_search_px=0.0)
    assert np.abs(without.rotation_deg - angles).max() > 0.5  # what the tracked centre avoids


def test_regional_contraction_does_not_bias_the_rotation():
    frames = [regional_ring(a, q) for a, q in [(0.0, 0.0), (3.0, 0.1), (6.0, 0.25), (-4.0, 0.15)]]
    m = measure(np.stack([f[0] for f in frames]), np.stack([f[1] for f in frames]))
    # One side squeezed by up to 25 % while the ring turns: within 0.5 degree.
    np.testing.assert_allclose(m.rotation_deg, [0.0, 3.0, 6.0, -4.0], atol=0.5)


def test_segment_measures_follow_the_ring():
    m = measure(*key_stack(MOTIONS))
    np.testing.assert_array_equal(m.segment_ids, np.arange(7, 13))
    angles = np.array([a for a, _, _ in MOTIONS])
    # Each 60-degree sector has less texture than the whole ring: within 1 degree.
    np.testing.assert_allclose(m.segment_rotation_deg, np.repeat(angles[:, None], 6, axis=1), atol=1.0)
    scales = np.array([f for _, _, f in MOTIONS])
    np.testing.assert_allclose(
        m.segment_radius_mm / m.segment_radius_mm[:1], np.repeat(scales[:, None], 6, 1), rtol=0.02
    )


def test_rotation_is_searched_only_within_the_limit():
    magnitude, masks = key_stack(
        [(0.0, (0.0, 0.0), 1.0), (30.0, (0.0, 0.0), 1.0), (5.0, (0, 0), 1.0), (0.0, (0, 0), 1.0)]
    )
    m = measure(magnitude, masks, max_rotation_deg=20.0)
    assert abs(m.rotation_deg[1]) <= 20.0 + 1e-9  # the search never reports beyond its range
    assert m.rotation_deg[2] == pytest.approx(5.0, abs=0.3)
    assert np.all(np.isnan(m.segment_rotation_deg[1]) | (np.abs(m.segment_rotation_deg[1]) <= 20.0))


def test_a_mask_that_does_not_fit_the_motion_is_reported():
    magnitude, masks = key_stack(MOTIONS)
    rows, cols = np.indices((SIZE, SIZE))
    # An elongated ring on key frame 2: the first mask, moved, cannot cover it.
    r = np.hypot((rows - CENTRE[0]) / 1.8, (cols - CENTRE[1]) * 1.0)
    masks[2] = ((r >= 8) & (r <= 13)).astype(np.uint8)
    m = measure(magnitude, masks)
    assert m.badly_registered() == [12]
    (line,) = registration_warnings(m, "slice 'mid'")
    assert line.startswith("slice 'mid': key frame 12 registers badly (Dice 0.")


def test_bad_input_is_one_line():
    magnitude, masks = key_stack(MOTIONS)
    with pytest.raises(DataError, match="3 key frames are too few"):
        measure(magnitude[:3], masks[:3])
    masks[3] = 0
    with pytest.raises(DataError, match=r"key frames \[18\] have no myocardium mask"):
        measure(magnitude, masks)


def test_radii_per_segment_are_their_own_pixels_mean_distance():
    """A row of four pixels around the centroid (3, 3): the outer two (segment 1) 3 pixels away, the inner two
    (segment 2) 1 pixel; segment 5 has no pixels. Key frame 2 has the outer pair 5 pixels away."""
    masks = np.zeros((2, 7, 11), dtype=bool)
    labels = np.zeros((2, 7, 11), dtype=np.int64)
    for k, (outer, inner) in enumerate([(3, 1), (5, 1)]):
        for col, label in ((5 - outer, 1), (5 - inner, 2), (5 + inner, 2), (5 + outer, 1)):
            masks[k, 3, col] = True
            labels[k, 3, col] = label
    overall, segments = _radii(masks, labels, np.array([1, 2, 5]))
    np.testing.assert_allclose(overall, [2.0, 3.0])
    np.testing.assert_allclose(segments, [[3.0, 1.0, np.nan], [5.0, 1.0, np.nan]])


def test_a_dice_at_the_threshold_registers_well():
    m = replace(measure(*key_stack(MOTIONS[:4])), dice=np.array([1.0, DICE_THRESHOLD, DICE_THRESHOLD - 1e-9, 0.3]))
    assert m.badly_registered() == [12, 18]
    assert m.badly_registered(threshold=0.3) == []
    warned = [line.split(" registers")[0] for line in registration_warnings(m, "s")]
    assert warned == ["s: key frame 12", "s: key frame 18"]
