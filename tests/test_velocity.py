"""assessment.velocity on analytic fields over a ring-shaped myocardium (docs/CONVENTIONS.md signs and angles).

The ring's true centre is off the pixel grid, so the mask centroid differs from it by ~0.05 pixel;
tolerances below are set from that: 1% of the speed for radial and circumferential velocities built
around the true centre, 1e-10 where the computation is exact (e.g. bulk correction, longitudinal sign),
and a frame (ms at frame resolution) for peak timing.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from assessment.velocity import (
    DEFAULT_SEPTUM_DEG,
    aha_segments,
    curve_peaks,
    lv_centroid,
    peak_summary,
    septum_angle,
    velocity_components,
    velocity_components_frames,
    velocity_curves,
)

H = W = 64
CENTRE = (31.3, 32.6)  # (row, col), deliberately off-grid
R_IN, R_OUT = 10.0, 18.0


def _offsets(centre=CENTRE):
    rows, cols = np.mgrid[:H, :W].astype(np.float64)
    d_row, d_col = rows - centre[0], cols - centre[1]
    return d_row, d_col, np.hypot(d_row, d_col)


def _ring(centre=CENTRE) -> np.ndarray:
    _, _, r = _offsets(centre)
    return (r >= R_IN) & (r <= R_OUT)


def _inward(speed: float) -> np.ndarray:
    """[3, H, W] field of in-plane speed ``speed`` towards the true centre (contraction)."""
    d_row, d_col, r = _offsets()
    v = np.zeros((3, H, W))
    v[0], v[1] = -speed * d_col / r, -speed * d_row / r
    return v


def _rotation(omega: float) -> np.ndarray:
    """[3, H, W] rigid rotation about the true centre, counter-clockwise as displayed for omega > 0."""
    d_row, d_col, _ = _offsets()
    v = np.zeros((3, H, W))
    v[0], v[1] = omega * d_row, -omega * d_col
    return v


def _pixel_at(angle_deg: float, radius: float, centre) -> tuple[int, int]:
    a = math.radians(angle_deg)
    return round(centre[0] - radius * math.sin(a)), round(centre[1] + radius * math.cos(a))


# --------------------------------------------------------------------------------------------- components
def test_centroid_of_ring_is_near_true_centre():
    row, col = lv_centroid(_ring())
    assert abs(row - CENTRE[0]) < 0.1 and abs(col - CENTRE[1]) < 0.1
    with pytest.raises(ValueError):
        lv_centroid(np.zeros((4, 4)))


def test_inward_motion_is_positive_radial_without_circumferential():
    mask = _ring()
    out = velocity_components(_inward(3.0), mask)
    radial, circ = out["radial"][mask], out["circumferential"][mask]
    np.testing.assert_allclose(radial, 3.0, atol=0.03)
    np.testing.assert_allclose(circ, 0.0, atol=0.03)
    assert np.isnan(out["radial"][~mask]).all() and np.isnan(out["longitudinal"][~mask]).all()


def test_counter_clockwise_rotation_is_positive_circumferential_omega_r():
    mask = _ring()
    omega = 0.4
    out = velocity_components(_rotation(omega), mask)
    _, _, r_true = _offsets()
    # Bulk correction turns the rotation about the true centre into one about the mask centroid exactly.
    _, _, r_centroid = _offsets(lv_centroid(mask))
    np.testing.assert_allclose(out["circumferential"][mask], omega * r_centroid[mask], rtol=1e-10)
    np.testing.assert_allclose(out["circumferential"][mask], omega * r_true[mask], rtol=0.01)
    np.testing.assert_allclose(out["radial"][mask], 0.0, atol=1e-10)
    assert (out["circumferential"][mask] > 0).all()


def test_bulk_translation_is_removed():
    mask = _ring()
    field = _inward(3.0) + _rotation(-0.3)
    moved = field.copy()
    moved[0] += 2.0
    moved[1] -= 1.5
    ref = velocity_components(field, mask)
    out = velocity_components(moved, mask)
    for name in ("radial", "circumferential"):
        np.testing.assert_allclose(out[name][mask], ref[name][mask], atol=1e-10)
    raw = velocity_components(moved, mask, bulk_correction=False)
    assert np.nanmax(np.abs(raw["radial"] - ref["radial"])) > 2.0


@pytest.mark.parametrize("z_towards_apex", [1, -1])
def test_longitudinal_sign_follows_z_towards_apex(z_towards_apex):
    mask = _ring()
    v = np.zeros((3, H, W))
    v[2] = 5.0
    out = velocity_components(v, mask, z_towards_apex=z_towards_apex)
    np.testing.assert_allclose(out["longitudinal"][mask], 5.0 * z_towards_apex, atol=1e-12)
    with pytest.raises(ValueError):
        velocity_components(v, mask, z_towards_apex=0)


def test_frames_version_matches_single_frame_version():
    masks = np.stack([_ring(), _ring((30.2, 34.8))])
    vel = np.stack([_inward(2.0) + _rotation(0.2), _inward(-1.0)])
    vel[:, 2] = np.array([1.0, -4.0])[:, None, None]
    stack = velocity_components_frames(vel, masks, z_towards_apex=-1)
    for t in range(2):
        single = velocity_components(vel[t], masks[t], z_towards_apex=-1)
        for name, m in single.items():
            np.testing.assert_array_equal(np.isnan(stack[name][t]), np.isnan(m))
            np.testing.assert_allclose(stack[name][t][masks[t]], m[masks[t]], atol=1e-12)


# ------------------------------------------------------------------------------------------------- septum
def test_septum_angle_priority_and_rv_mask():
    mask = _ring()
    d_row, d_col, _ = _offsets(_pixel_at(150.0, 25.0, CENTRE))
    rv = np.hypot(d_row, d_col) <= 5.0  # a disc centred 25 px from the LV centre at 150 degrees
    assert septum_angle(mask, rv_mask=rv) == pytest.approx(150.0, abs=2.0)
    assert septum_angle(np.stack([mask, mask]), rv_mask=np.stack([rv, rv])) == pytest.approx(150.0, abs=2.0)
    assert septum_angle(mask, rv_insertion_deg=-30.0, rv_mask=rv) == pytest.approx(330.0)
    assert septum_angle(mask) == DEFAULT_SEPTUM_DEG == 180.0
    assert septum_angle(mask, rv_mask=np.zeros_like(rv)) == DEFAULT_SEPTUM_DEG


# ----------------------------------------------------------------------------------------------- segments
@pytest.mark.parametrize("septum", [180.0, 200.0, 10.0, 350.0])
def test_aha_segment_numbering(septum):
    mask = _ring()
    centre = lv_centroid(mask)
    basal = aha_segments(mask, "basal", septum)
    mid = aha_segments(mask, "mid", septum)
    apical = aha_segments(mask, "apical", septum)
    at = lambda seg, angle: seg[_pixel_at(septum + angle, 14.0, centre)]  # noqa: E731
    assert at(basal, 30) == 3  # inferoseptal
    assert at(basal, -30) == 2  # anteroseptal
    assert at(mid, 30) == 9 and at(mid, -30) == 8
    assert at(apical, 0) == 14  # apical septal
    # Every sector at its centre angle, counter-clockwise from the anterior segment.
    for k in range(6):
        assert at(basal, -90 + 60 * k) == 1 + k
        assert at(mid, -90 + 60 * k) == 7 + k
    for k in range(4):
        assert at(apical, -90 + 90 * k) == 13 + k
    assert (basal[~mask] == 0).all() and (basal[mask] > 0).all()
    counts = np.bincount(basal[mask], minlength=7)[1:]
    assert counts.min() > 0.8 * mask.sum() / 6  # sectors of equal angle hold similar pixel counts


def test_aha_anatomy_with_default_septum():
    # Septum on the left (180 degrees): anterior at the top, inferior at the bottom, lateral on the right.
    mask = _ring()
    centre = lv_centroid(mask)
    basal = aha_segments(mask, "basal", DEFAULT_SEPTUM_DEG)
    apical = aha_segments(mask, "apical", DEFAULT_SEPTUM_DEG)
    top = (round(centre[0] - 14), round(centre[1]))
    bottom = (round(centre[0] + 14), round(centre[1]))
    right = (round(centre[0]), round(centre[1] + 14))
    assert basal[top] == 1 and basal[bottom] == 4
    assert apical[top] == 13 and apical[bottom] == 15 and apical[right] == 16


def test_aha_rejects_unknown_slice_and_keeps_stack_shape():
    mask = _ring()
    with pytest.raises(ValueError, match="slice_position"):
        aha_segments(mask, "equatorial", 180.0)
    stack = aha_segments(np.stack([mask, mask]), "mid", 180.0)
    assert stack.shape == (2, H, W)
    np.testing.assert_array_equal(stack[1], aha_segments(mask, "mid", 180.0))


# -------------------------------------------------------------------------------------------------- curves
def test_velocity_curves_global_and_segments():
    n_frames = 20
    t = np.arange(n_frames)
    speed = 3.0 * np.sin(2 * np.pi * t / n_frames)
    omega = 0.2 * np.cos(2 * np.pi * t / n_frames)
    vz = -4.0 + 0.5 * t
    vel = np.stack([_inward(s) + _rotation(w) for s, w in zip(speed, omega, strict=True)])
    vel[:, 0] += 1.0  # a bulk translation, removed
    vel[:, 2] = vz[:, None, None]
    masks = np.repeat(_ring()[None], n_frames, axis=0)
    masks[5] = False  # a frame without myocardium -> NaN

    curves = velocity_curves(vel, masks, "basal", z_towards_apex=-1)
    valid = t != 5
    mean_r = _offsets(lv_centroid(_ring()))[2][_ring()].mean()
    np.testing.assert_allclose(curves.radial[valid], speed[valid], atol=0.01)
    np.testing.assert_allclose(curves.circumferential[valid], omega[valid] * mean_r, atol=0.01)
    np.testing.assert_allclose(curves.longitudinal[valid], -vz[valid], atol=1e-12)
    assert np.isnan(curves.radial[5]) and np.isnan(curves.segment_curves["longitudinal"][:, 5]).all()
    assert curves.septum_deg == DEFAULT_SEPTUM_DEG and curves.n_frames == n_frames
    np.testing.assert_array_equal(curves.segment_ids, np.arange(1, 7))
    assert curves.segment_curves["radial"].shape == (6, n_frames)
    # A uniform field: every segment follows the global curve.
    for name in ("radial", "longitudinal"):
        np.testing.assert_allclose(
            curves.segment_curves[name][:, valid],
            np.broadcast_to(curves.global_curves[name][valid], (6, 19)),
            atol=0.05,
        )

    apical = velocity_curves(vel, masks, "apical", septum_deg=90.0)
    np.testing.assert_array_equal(apical.segment_ids, np.arange(13, 17))
    assert apical.septum_deg == 90.0 and apical.segment_curves["circumferential"].shape == (4, n_frames)


def test_velocity_curves_septum_from_rv_mask():
    mask = _ring()
    d_row, d_col, _ = _offsets(_pixel_at(200.0, 25.0, CENTRE))
    rv = np.hypot(d_row, d_col) <= 5.0
    curves = velocity_curves(np.zeros((3, 3, H, W)), np.stack([mask] * 3), "mid", rv_mask=rv)
    assert curves.septum_deg == pytest.approx(200.0, abs=2.0)


# --------------------------------------------------------------------------------------------------- peaks
def _bump(phase: np.ndarray, centre: float, width: float = 0.04) -> np.ndarray:
    return np.exp(-0.5 * ((phase - centre) / width) ** 2)


def test_curve_peaks_known_values_and_times():
    n, rr = 50, 1000.0
    phase = np.arange(n) / n
    curve = 5.0 * _bump(phase, 0.20) - 8.0 * _bump(phase, 0.48) - 4.0 * _bump(phase, 0.88)
    peaks = curve_peaks(curve, rr)
    assert peaks["systolic"]["frame"] == 10 and peaks["systolic"]["time_ms"] == pytest.approx(200.0)
    assert peaks["e_prime"]["frame"] == 24 and peaks["e_prime"]["time_ms"] == pytest.approx(480.0)
    assert peaks["a_prime"]["frame"] == 44 and peaks["a_prime"]["time_ms"] == pytest.approx(880.0)
    assert peaks["systolic"]["value"] == pytest.approx(5.0, abs=1e-3)
    assert peaks["e_prime"]["value"] == pytest.approx(-8.0, abs=1e-3)
    assert peaks["a_prime"]["value"] == pytest.approx(-4.0, abs=1e-3)
    # Reversed polarity (e.g. a base turning clockwise in systole) and its automatic detection.
    for polarity in (-1, "auto"):
        flipped = curve_peaks(-curve, 800.0, polarity=polarity)
        assert flipped["systolic"]["value"] == pytest.approx(-5.0, abs=1e-3)
        assert flipped["systolic"]["time_ms"] == pytest.approx(160.0)
        assert flipped["e_prime"]["value"] == pytest.approx(8.0, abs=1e-3)


def test_curve_peaks_windows_are_a_parameter_and_validated():
    n = 50
    phase = np.arange(n) / n
    curve = 5.0 * _bump(phase, 0.20) + 2.0 * _bump(phase, 0.36)
    windows = {"systolic": (0.3, 0.4), "e_prime": (0.4, 0.7), "a_prime": (0.7, 1.0)}
    assert curve_peaks(curve, 1000.0, windows)["systolic"]["frame"] == 18
    with pytest.raises(ValueError):
        curve_peaks(curve, 1000.0, {"systolic": (0.5, 0.4), "e_prime": (0.4, 0.7), "a_prime": (0.7, 1.0)})
    with pytest.raises(ValueError):
        curve_peaks(curve, 1000.0, {"systolic": (0.0, 0.4)})
    nan_peaks = curve_peaks(np.where(phase < 0.4, np.nan, curve), 1000.0)
    assert math.isnan(nan_peaks["systolic"]["value"]) and nan_peaks["systolic"]["frame"] is None


def test_peak_summary_segment_timing_and_dispersion():
    # Longitudinal systolic peaks delayed per segment (no bulk correction applies to vz), a basal
    # clockwise systolic rotation (negative circumferential) and a radial contraction.
    n, rr = 40, 900.0
    phase = np.arange(n) / n
    mask = _ring()
    seg = aha_segments(mask, "basal", DEFAULT_SEPTUM_DEG)
    peak_frames = np.array([6, 6, 8, 10, 6, 4])  # segments 1..6
    vel = np.zeros((n, 3, H, W))
    for k, frame in enumerate(peak_frames):
        vel[:, 2, seg == k + 1] = (8.0 * _bump(phase, frame / n) - 10.0 * _bump(phase, 0.475))[:, None]
    vel += np.stack([_inward(s) for s in 3.5 * _bump(phase, 0.2)])
    vel += np.stack([_rotation(w) for w in -0.3 * _bump(phase, 0.25)])
    curves = velocity_curves(vel, np.repeat(mask[None], n, axis=0), "basal")
    summary = peak_summary(curves, rr)

    lon = summary["longitudinal"]
    np.testing.assert_array_equal(lon["segments"]["ids"], np.arange(1, 7))
    np.testing.assert_allclose(lon["segments"]["systolic"]["time_ms"], peak_frames * rr / n)
    np.testing.assert_allclose(lon["segments"]["systolic"]["value"], 8.0, atol=1e-6)
    np.testing.assert_allclose(lon["segments"]["e_prime"]["time_ms"], 19 * rr / n)
    assert lon["systolic_time_dispersion_ms"] == pytest.approx(np.std(peak_frames * rr / n), abs=1e-9)
    assert lon["global"]["e_prime"]["value"] == pytest.approx(-10.0, abs=0.1)

    rad = summary["radial"]
    assert rad["polarity"] == 1 and rad["global"]["systolic"]["time_ms"] == pytest.approx(8 * rr / n)
    assert rad["global"]["systolic"]["value"] == pytest.approx(3.5, abs=0.05)

    circ = summary["circumferential"]
    assert circ["polarity"] == -1
    assert circ["global"]["systolic"]["value"] < 0
    assert circ["global"]["systolic"]["time_ms"] == pytest.approx(10 * rr / n)
    np.testing.assert_allclose(circ["segments"]["systolic"]["time_ms"], 10 * rr / n)


def test_auto_polarity_ignores_untwist_starting_inside_the_systolic_window():
    # A basal clockwise twist (negative) followed by a faster untwist that begins before 0.40 of RR:
    # the systolic direction is the net one, so the systolic peak is the twist, not the untwist.
    n = 50
    phase = np.arange(n) / n
    curve = -2.0 * _bump(phase, 0.18, 0.06) + 3.0 * _bump(phase, 0.39, 0.02)
    assert curve[19] > 2.5  # the untwist exceeds the twist at frame 19, inside [0, 0.40)
    peaks = curve_peaks(curve, 1000.0, polarity="auto")
    assert peaks["systolic"]["frame"] == 9 and peaks["systolic"]["value"] == pytest.approx(-2.0, abs=0.01)
    assert peaks["e_prime"]["frame"] == 20 and peaks["e_prime"]["value"] == pytest.approx(
        3.0 * math.exp(-0.125), abs=0.01
    )
