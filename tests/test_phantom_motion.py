"""Motion of every phantom structure checked by value against the time derivative of its position.

The reference is computed independently of the velocity code: material points are tracked with
``SliceMotion.forward`` / ``rv_forward`` (positions only) and differentiated by central finite
differences; the circumferential velocity is the tracked point's angular rate times its radius, from
``atan2`` of the tracked positions. A factor-2 error in ``r dtheta/dt``, in the cavity map's rate or in
the RV's contraction rate fails these tests (checked by mutation, see docs/PHANTOM.md).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from data.phantom import PhantomConfig, SliceMotion
from data.phantom.anatomy import pixel_grid, render_slice
from data.phantom.cli import main as phantom_main
from data.phantom.sampling import draw_subject
from util.errors import OptionError

H = 1e-5  # phase step of the finite differences (fraction of RR)
FRAMES = 40


#: Waveform shape families of the phantom: every derivative check runs on each.
SHAPES = ("reference", "altered", "independent")


def _params(seed: int = 4, position: str = "basal", shape: str = "reference", **changes):
    _, slices = draw_subject(np.random.default_rng(seed), PhantomConfig(waveform_shape=shape))
    return dataclasses.replace(slices[position], **changes)


def _tracked_velocity(track, phi: float, rr_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """Central-difference velocity (mm/s) of tracked positions ``track(phi) -> (x, y)``."""
    xp, yp = track(phi + H)
    xm, ym = track(phi - H)
    dt = 2 * H * rr_ms / 1000.0
    return (xp - xm) / dt, (yp - ym) / dt


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("position", ["basal", "apical"])
def test_circumferential_velocity_is_radius_times_angular_rate(position, shape):
    """No stretch, no bulk motion: a mid-wall point's circumferential speed is r dtheta/dt, theta its
    tracked angle about the LV centre; the rendered ``velocity`` of the pixel under it agrees."""
    p = _params(position=position, shape=shape, ellipticity=0.0, bulk_mm=[0.0] * 8)
    motion = SliceMotion(p)
    rho0, alpha0 = p.endo_radius_mm + 0.5 * p.wall_mm, np.deg2rad(np.arange(0.0, 360.0, 30.0))
    systole = np.linspace(p.timing.onset, p.timing.end_systole, 201)
    phi = float(systole[np.argmax(np.abs(motion.rotation(systole)[1]))])  # fastest turn (a double hump dips)

    def angle_radius(ph: float) -> tuple[np.ndarray, np.ndarray]:
        x, y, _ = motion.forward(np.full_like(alpha0, rho0), alpha0, ph)
        return np.unwrap(np.arctan2(y - p.centre_mm[1], x - p.centre_mm[0])), np.hypot(
            x - p.centre_mm[0], y - p.centre_mm[1]
        )

    (theta_p, _), (theta_m, _), (_, radius) = angle_radius(phi + H), angle_radius(phi - H), angle_radius(phi)
    circ_expected = radius * (theta_p - theta_m) / (2 * H * p.rr_ms / 1000.0) / 10.0  # cm/s
    assert np.abs(circ_expected).min() > 0.5  # the test has something to measure
    x, y, _ = motion.forward(np.full_like(alpha0, rho0), alpha0, phi)
    state = motion.inverse(x, y, np.float64(phi), dtype=np.float64)
    dx, dy = x - p.centre_mm[0], y - p.centre_mm[1]
    circ_model = (-state.vx * dy + state.vy * dx) / np.hypot(dx, dy) / 10.0
    np.testing.assert_allclose(circ_model, circ_expected, rtol=1e-4)
    # The rendered image at the frame nearest phi: the pixel centre nearest each tracked point (<= 1.1 mm
    # away; the whole slice turns at one angular rate, so its circumferential speed is that rate times
    # the pixel's own radius).
    size, spacing = 128, 1.5
    frame = round(phi * FRAMES)
    phi_f = frame / FRAMES
    (theta_p, _), (theta_m, _) = angle_radius(phi_f + H), angle_radius(phi_f - H)
    theta_rate = (theta_p - theta_m) / (2 * H * p.rr_ms / 1000.0)  # rad/s
    xs, ys, _ = motion.forward(np.full_like(alpha0, rho0), alpha0, phi_f)
    gx, gy = pixel_grid(size, spacing)
    cols = np.rint(xs / spacing + (size - 1) / 2).astype(int)
    rows = np.rint(-ys / spacing + (size - 1) / 2).astype(int)
    velocity = render_slice(p, FRAMES, size, spacing).velocity[frame]
    vx, vy = velocity[0, rows, cols] * 10.0, velocity[1, rows, cols] * -10.0  # image cm/s -> math mm/s
    px, py = gx[0, cols] - p.centre_mm[0], gy[rows, 0] - p.centre_mm[1]
    circ_pixels = (-vx * py + vy * px) / np.hypot(px, py) / 10.0
    np.testing.assert_allclose(circ_pixels, theta_rate * np.hypot(px, py) / 10.0, rtol=1e-3, atol=1e-3)


#: Every kind of pathology the phantom draws, as slice parameter changes (mid slice: segments 7-12):
#: a hypokinetic territory, an akinetic one, LBBB-like delays with early (negative) septal segments, a
#: cohort-wide delay, per-direction timing offsets, a smooth angular patch, a delay smooth in angle
#: (``dyssync``: early and late rays), and all of them at once.
PATHOLOGIES = {
    "healthy": {},
    "hypokinetic": {"segment_scale": [0.3, 0.3, 1.0, 1.0, 1.0, 1.0]},
    "akinetic": {"segment_scale": [1.0, 1.0, 1.0, 0.0, 0.0, 1.0]},
    "lbbb_early_and_late": {"segment_delay": [0.0, -0.06, -0.06, 0.0, 0.07, 0.07]},
    "cohort_delay": {"delay_segments": [9, 10], "delay_fraction": 0.12},
    "direction_offsets": {"direction_offsets": [0.03, -0.04, 0.05]},
    "patch": {"patch": [250.0, 80.0, 20.0, 0.2]},
    "dyssync": {"delay_harmonics": [[0, 0.01, 0.0], [1, 0.06, 37.0], [2, 0.015, 101.0]]},
    "all": {
        "segment_scale": [0.5, 1.0, 1.0, 1.0, 0.2, 1.0],
        "segment_delay": [0.1, -0.05, 0.0, 0.0, 0.0, 0.02],
        "direction_offsets": [-0.02, 0.03, 0.01],
        "patch": [20.0, 130.0, 35.0, 0.0],
        "delay_harmonics": [[1, -0.05, 300.0], [2, 0.02, 10.0]],
    },
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("pathology", sorted(PATHOLOGIES))
@pytest.mark.parametrize("region", ["wall", "cavity", "fat"])
def test_lv_material_velocity_is_the_derivative_of_its_position(region, pathology, shape):
    """Wall (incompressible map), cavity tissue (papillary muscles: homogeneous map) and epicardial fat,
    healthy and with every kind of pathology, reference and altered waveform shapes: the model velocity
    at a tracked point equals the finite difference of its position, all phases."""
    p = _params(seed=7, position="mid", shape=shape, **PATHOLOGIES[pathology])
    motion = SliceMotion(p)
    rho0 = {
        "wall": p.endo_radius_mm + 0.3 * p.wall_mm,
        "cavity": p.endo_radius_mm - 3.0,
        "fat": p.epi_radius_mm + 2.0,
    }[region]
    alpha0 = np.deg2rad(np.arange(5.0, 360.0, 40.0))
    for phi in np.linspace(0.02, 0.98, 13):
        vx, vy = _tracked_velocity(lambda ph: motion.forward(np.full_like(alpha0, rho0), alpha0, ph)[:2], phi, p.rr_ms)
        x, y, _ = motion.forward(np.full_like(alpha0, rho0), alpha0, phi)
        st = motion.inverse(x, y, np.float64(phi), dtype=np.float64)
        np.testing.assert_allclose(st.rho0, rho0, atol=1e-6)
        np.testing.assert_allclose(st.vx, vx, atol=1e-3 + 1e-4 * np.abs(vx).max())
        np.testing.assert_allclose(st.vy, vy, atol=1e-3 + 1e-4 * np.abs(vy).max())


@pytest.mark.parametrize("shape", SHAPES)
def test_rv_wall_velocity_is_the_derivative_of_its_position(shape):
    """RV free wall points tracked with ``rv_forward``; the velocity that the images carry (``rv_inverse``)
    equals their finite-difference velocity, and in the rendered images the RV wall pixels carry it."""
    p = _params(seed=2, position="mid", shape=shape)
    motion = SliceMotion(p)
    u0 = 1.0 + 0.5 * motion.rv_wall_unit
    beta = np.deg2rad(np.arange(0.0, 360.0, 30.0))
    for phi in np.linspace(0.02, 0.98, 13):
        vx, vy = _tracked_velocity(lambda ph: motion.rv_forward(u0, beta, ph), phi, p.rr_ms)
        x, y = motion.rv_forward(u0, beta, phi)
        rv = motion.rv_inverse(x, y, np.float64(phi), dtype=np.float64)
        np.testing.assert_allclose(rv["u0"], u0, atol=1e-9)
        np.testing.assert_allclose(rv["vx"], vx, atol=1e-3 + 1e-4 * np.abs(vx).max())
        np.testing.assert_allclose(rv["vy"], vy, atol=1e-3 + 1e-4 * np.abs(vy).max())
    # Rendered: every RV wall pixel at mid-systole moves like the material at its centre.
    phi = 0.5 * (p.timing.onset + p.timing.end_systole)
    size, spacing = 128, 1.5
    render = render_slice(p, FRAMES, size, spacing)
    frame = round(phi * FRAMES)
    phi = frame / FRAMES
    rows, cols = np.nonzero(render.structures["rv_wall"][frame] & ~_near(render.structures["myocardium"][frame]))
    gx, gy = pixel_grid(size, spacing)
    x, y = gx[0, cols], gy[rows, 0]
    rv = motion.rv_inverse(x, y, np.float64(phi), dtype=np.float64)
    beta_px = np.arctan2(rv["uy"], rv["ux"])
    vx, vy = _tracked_velocity(lambda ph: motion.rv_forward(rv["u0"], beta_px, ph), phi, p.rr_ms)
    assert rows.size > 50 and np.hypot(vx, vy).max() > 10.0  # > 1 cm/s: the RV moves
    np.testing.assert_allclose(render.velocity[frame, 0, rows, cols], vx / 10.0, atol=1e-3)
    np.testing.assert_allclose(render.velocity[frame, 1, rows, cols], -vy / 10.0, atol=1e-3)


def _near(mask: np.ndarray, pixels: int = 2) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_dilation(mask, iterations=pixels)


def test_papillary_muscles_are_tissue_in_the_cavity_not_myocardium():
    p = _params(seed=1, position="mid")
    assert len(p.anatomy.papillary) == 2
    render = render_slice(p, 8, 128, 1.5)
    s = render.structures
    cavity_tissue = s["lv_cavity_tissue"]
    assert cavity_tissue.sum(axis=(1, 2)).min() > 20
    assert not np.any(cavity_tissue & s["myocardium"]) and not np.any(cavity_tissue & s["lv_blood"])
    assert np.all(render.tissue[cavity_tissue]) and not np.any(render.tissue[s["lv_blood"]])
    assert s["epicardial_fat"].sum() > 0
    assert render.signal[cavity_tissue].mean() > 0.8 and render.signal[s["lv_blood"]].mean() < 0.3


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--lv_radius", ["30", "20"], "lv_radius range is reversed"),
        ("--lv_radius", ["5", "20"], "lv_radius must lie within"),
        ("--wall", ["2", "10"], "wall must lie within"),
        ("--ejection_fraction", ["0.5", "0.95"], "ejection_fraction must lie within"),
        ("--heart_rate", ["20", "80"], "heart_rate must lie within"),
    ],
)
def test_cohort_options_are_validated_on_one_line(tmp_path, capsys, option, value, message):
    argv = ["--out", str(tmp_path / "x"), "--subjects", "1", "--frames", "8", "--size", "32", option, *value]
    assert phantom_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {message}")


def test_cohort_options_shape_the_hearts():
    """Heart rate sets RR = 60000 / bpm; the LV radius and wall options set the mid slice; a low
    ejection fraction range gives a larger end-systolic radius fraction."""
    config = PhantomConfig(
        heart_rate_bpm=(100, 120), lv_radius_mm=(30, 32), wall_mm=(5, 6), ejection_fraction=(0.2, 0.3)
    )
    with pytest.raises(OptionError, match="heart_rate"):
        PhantomConfig(heart_rate_bpm=(100, 300))
    for seed in range(3):
        subject, slices = draw_subject(np.random.default_rng(seed), config)
        assert 500 <= subject["rr_interval_ms"] <= 600
        mid = slices["mid"]
        assert 30 <= mid.endo_radius_mm <= 32 and 5 <= mid.wall_mm <= 6
        for s in slices.values():
            assert 0.2 - 1e-9 <= 1 - s.es_fraction**2 <= 0.3 + 1e-9


def test_stats_prints_the_cohort_table(tmp_path, capsys):
    from assessment.phantom_normals import main as stats_main
    from data.phantom import generate_cohort

    generate_cohort(tmp_path, 2, seed=1, config=PhantomConfig(frames=16, size=64), workers=1)
    assert stats_main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| basal | longitudinal | systolic |" in out and "RV free wall" in out
    assert stats_main([str(tmp_path / "empty")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
