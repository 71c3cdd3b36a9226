"""The digital-twin phantom: its velocities are the time derivative of its moving anatomy, its numbers
are those of the design brief, its noise follows the phase-contrast model, and it is reproducible.

Images here are small (64 x 64, ~3 mm pixels; 24-40 frames) to keep the file fast; tolerances are set
from that resolution and stated where they are used.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage, stats

from data.mvm_io import SLICE_POSITIONS, read_subject
from data.phantom import (
    PhantomConfig,
    analytic_global_curves,
    generate_cohort,
    generate_subject,
    subject_seed,
    wall_radii,
)
from data.phantom.cli import main as phantom_main
from data.phantom.params import SliceParams
from data.phantom.sampling import draw_subject
from data.phantom.segments import segment_of_angle
from data.phantom.waveforms import Pulse, Waveform, pulse_with_area
from data.splits import default_splits
from util.errors import OptionError
from util.intensity import normalise_magnitude
from util.tissue import tissue_mask_from_magnitude

COMPONENTS = ("radial", "circumferential", "longitudinal")
# In-plane 4-neighbourhood, no link across frames: erosion/dilation of [T, H, W] masks frame by frame.
FRAME_CROSS = np.zeros((3, 3, 3), dtype=bool)
FRAME_CROSS[1] = ndimage.generate_binary_structure(2, 1)


@pytest.fixture(scope="module")
def subject():
    return generate_subject("twin", 3, PhantomConfig(frames=32, size=64))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("phantom_cohort")
    generate_cohort(root, 3, seed=5, config=PhantomConfig(frames=24, size=64), workers=1)
    return root


def pixel_analysis(s, field: str = "velocity_true") -> dict[str, np.ndarray]:
    """docs/CONVENTIONS.md on pixels: per frame centroid of the myocardium mask, bulk in-plane motion
    removed, radial towards the centroid, circumferential counter-clockwise as displayed; also the
    mean distance (mm) of the myocardium from its centroid, and the AHA segment of every pixel."""
    vel = getattr(s, field)
    spacing = s.pixel_spacing_mm[0]
    out: dict[str, list] = {k: [] for k in (*COMPONENTS, "mean_distance_mm", "segment", "pixels")}
    for t in range(s.num_frames):
        mask = s.myocardium[t].astype(bool)
        rows, cols = np.nonzero(mask)
        dx, dy = cols - cols.mean(), rows - rows.mean()
        r = np.hypot(dx, dy)
        v = vel[t][:, mask].astype(np.float64)
        vx, vy = v[0] - v[0].mean(), v[1] - v[1].mean()
        out["radial"].append(-(vx * dx + vy * dy) / r)
        out["circumferential"].append((vx * dy - vy * dx) / r)
        out["longitudinal"].append(v[2] * s.z_towards_apex)
        out["mean_distance_mm"].append(r.mean() * spacing)
        angle = np.rad2deg(np.arctan2(-dy, dx))  # rows point down: the displayed angle uses -dy
        out["segment"].append(segment_of_angle(angle, s.rv_insertion_deg, s.slice_position))
    result = {k: np.array([x.mean() for x in out[k]]) for k in COMPONENTS}
    result["mean_distance_mm"] = np.array(out["mean_distance_mm"])
    result["per_pixel"] = {k: out[k] for k in COMPONENTS}
    result["segment"] = out["segment"]
    return result


def segment_curve(analysis: dict, component: str, segments: tuple[int, ...]) -> np.ndarray:
    return np.array(
        [
            values[np.isin(seg, segments)].mean()
            for values, seg in zip(analysis["per_pixel"][component], analysis["segment"], strict=True)
        ]
    )


# ------------------------------------------------------------------------------ motion model


def test_waveform_displacement_is_the_integral_of_velocity():
    wave = Waveform(
        [
            pulse_with_area(0.1, 0.18, 0.35, 1.0),
            pulse_with_area(0.42, 0.47, 0.6, -0.7),
            pulse_with_area(0.93, 0.98, 1.06, -0.3),  # straddles the end of the cycle
        ]
    )
    assert wave.closed
    phi = np.linspace(0.0, 1.0, 20001)
    numeric = np.gradient(wave.displacement(phi), phi)
    np.testing.assert_allclose(numeric, wave.velocity(phi), atol=2e-3)
    np.testing.assert_allclose(wave.displacement(phi + 1.0), wave.displacement(phi), atol=1e-12)
    assert wave.displacement(0.35) - wave.displacement(0.08) == pytest.approx(1.0)  # the systolic area
    assert Pulse(0.1, 0.2, 0.4, 3.0).velocity(0.2) == pytest.approx(3.0)


def test_wall_radius_is_the_integral_of_its_rate(subject):
    """Analytic: integrating dR_endo/dt over the cycle (trapezoid, 400 steps) reproduces
    R_endo(t) - R_endo(0) to 0.02 mm (the trapezoid error; the swing is 5-10 mm)."""
    frames = 400
    for name in SLICE_POSITIONS:
        w = wall_radii(subject.slices[name], frames)
        dt = subject.slices[name].rr_interval_ms / 1000.0 / frames
        for radius, rate in (("nominal_endo_mm", "nominal_endo_rate_mm_s"), ("endo_mm", "endo_rate_mm_s")):
            integral = np.concatenate([[0.0], np.cumsum(0.5 * (w[rate][1:] + w[rate][:-1]) * dt)])
            np.testing.assert_allclose(integral, w[radius] - w[radius][0], atol=0.02)
        # End-systole: 0.6-0.8 of the end-diastolic endocardial radius; epicardium from incompressibility.
        ratio = w["nominal_endo_mm"].min() / w["nominal_endo_mm"][0]
        assert 0.6 - 1e-6 <= ratio <= 0.8 + 1e-6
        area_wall = w["epi_mm"] ** 2 - w["endo_mm"] ** 2
        np.testing.assert_allclose(area_wall, area_wall[0], rtol=1e-9)


def test_mean_radial_velocity_is_the_rate_of_the_mean_wall_distance(subject):
    """Analytic identity (area-conserving motion): -radial = d/dt mean distance from the centroid."""
    frames = 400
    s = subject.slices["mid"]
    curves = analytic_global_curves(s, frames)
    distance = wall_radii(s, frames)["mean_distance_mm"]
    dt = s.rr_interval_ms / 1000.0 / frames
    rate = (np.roll(distance, -1) - np.roll(distance, 1)) / (2 * dt)  # periodic central difference
    np.testing.assert_allclose(rate, -10.0 * curves["radial"], atol=0.05 * 10 * np.abs(curves["radial"]).max())


@pytest.mark.parametrize("name", SLICE_POSITIONS)
def test_pixel_velocity_integrates_to_the_mask_radius_change(subject, name):
    """Images: the myocardium-mean radial velocity of ``velocity_true`` (pixels), integrated over the
    frames, equals the change of the mean distance of the *mask* from its centroid. Tolerance 0.4 mm
    (0.14 pixel at 2.9 mm; the swing is ~5 mm) and 10 % of the swing."""
    s = subject.slices[name]
    a = pixel_analysis(s)
    dt = s.rr_interval_ms / 1000.0 / s.num_frames
    inward_mm = 10.0 * np.concatenate([[0.0], np.cumsum(0.5 * (a["radial"][1:] + a["radial"][:-1]) * dt)])
    change = a["mean_distance_mm"] - a["mean_distance_mm"][0]
    swing = np.ptp(a["mean_distance_mm"])
    assert swing > 3.0
    assert np.abs(-inward_mm - change).max() < min(0.4, 0.1 * swing)
    # The same against the exact model, and the cavity mask against the analytic endocardial radius.
    w = wall_radii(s)
    np.testing.assert_allclose(a["mean_distance_mm"], w["mean_distance_mm"], atol=0.4)
    # The cavity is what the myocardium encloses: blood pool plus papillary muscles and trabeculae.
    myo = s.myocardium.astype(bool)
    cavity = np.array([ndimage.binary_fill_holes(m) & ~m for m in myo])
    assert np.all(cavity >= s.lv_blood.astype(bool))
    cavity_radius = np.sqrt(cavity.reshape(s.num_frames, -1).sum(axis=1) / np.pi) * s.pixel_spacing_mm[0]
    np.testing.assert_allclose(cavity_radius, w["endo_mm"], atol=0.5)


@pytest.mark.parametrize("name", SLICE_POSITIONS)
def test_pixel_curves_match_the_analytic_curves(subject, name):
    """util-style analysis of ``velocity_true`` matches the continuum curves within 0.1 cm/s."""
    s = subject.slices[name]
    a = pixel_analysis(s)
    truth = analytic_global_curves(s)
    for comp in COMPONENTS:
        np.testing.assert_allclose(a[comp], truth[comp], atol=0.1)


def test_velocity_peaks_and_timing_are_in_the_design_ranges():
    """Over 5 drawn subjects: longitudinal systolic peaks base 7-9, mid 3.5-6.5, apex 2-4 cm/s; basal
    E' -10 to -15 cm/s; radial systolic 2.5-4.5 and early diastolic -3.5 to -7.5 cm/s (the brief's
    3-4 and -5 to -7, widened for the apex where the radius fraction reaches its 0.6 limit); peaks at
    the brief's times (systolic between onset 0.05-0.15 and end-systole 0.30-0.40, E' 0.45-0.50,
    A' 0.85-0.90 of RR, one frame of 1/100 of slack)."""
    frames = 100
    phase = np.arange(frames) / frames
    long_range = {"basal": (7.0, 9.0), "mid": (3.5, 6.5), "apical": (2.0, 4.0)}
    for seed in range(5):
        _, params = draw_subject(np.random.default_rng(seed), PhantomConfig())
        for name, p in params.items():
            t = p.timing
            assert 0.05 <= t.onset <= 0.15 and 0.30 <= t.end_systole <= 0.40
            c = analytic_global_curves(p, frames)
            lon, rad = c["longitudinal"], c["radial"]
            systole = (phase >= t.onset) & (phase <= t.end_systole)
            early = (phase > t.end_systole) & (phase < 0.7)
            late = phase >= 0.7
            lo, hi = long_range[name]
            assert lo - 0.1 <= lon[systole].max() <= hi + 0.1
            assert 2.5 <= rad[systole].max() <= 4.5
            assert -7.5 <= rad[early].min() <= -3.5
            assert t.onset < phase[np.argmax(lon)] < t.end_systole
            assert 0.45 - 0.01 <= phase[early][np.argmin(lon[early])] <= 0.50 + 0.01
            assert 0.85 - 0.01 <= phase[late][np.argmin(lon[late])] <= 0.90 + 0.01
            if name == "basal":
                assert -15.1 <= lon[early].min() <= -9.9


def test_twist_base_clockwise_apex_counter_clockwise_in_systole(subject):
    """Seen from the apex: in systole the base turns clockwise (circumferential < 0), the apex
    counter-clockwise (> 0), both on the images and in the analytic curves; reversed in diastole."""
    base, apex = subject.slices["basal"], subject.slices["apical"]
    timing = base.attrs["phantom"]["timing"]
    frames = base.num_frames
    phase = np.arange(frames) / frames
    systole = (phase > timing["onset"]) & (phase < timing["end_systole"])
    relax = (phase > timing["end_systole"]) & (phase < timing["untwist_end"])
    for s, sign in ((base, -1.0), (apex, 1.0)):
        circ = pixel_analysis(s)["circumferential"]
        assert sign * circ[systole].mean() > 0.5
        assert sign * circ[relax].mean() < -0.2
        assert sign * analytic_global_curves(s)["circumferential"][systole].mean() > 0.5


def test_delayed_segment_peaks_later_by_the_delay():
    """Septal basal segments 2-3 delayed by 0.15 RR (6 of 40 frames): their longitudinal and radial
    systolic peaks come 6 +- 1 frames after those of the opposite lateral segments 5-6."""
    delay = 0.15
    config = PhantomConfig(frames=40, size=64, delay_segments=(2, 3), delay_fraction=delay)
    s = generate_subject("late", 11, config).slices["basal"]
    a = pixel_analysis(s)
    for comp in ("longitudinal", "radial"):
        late = segment_curve(a, comp, (2, 3))
        normal = segment_curve(a, comp, (5, 6))
        shift = int(np.argmax(late[:30])) - int(np.argmax(normal[:30]))
        assert abs(shift - delay * 40) <= 1, (comp, shift)


def test_hypokinetic_segment_moves_less():
    config = PhantomConfig(frames=32, size=64, hypokinetic_segments=(11,), hypokinetic_scale=0.3)
    s = generate_subject("hypo", 2, config).slices["mid"]
    a = pixel_analysis(s)
    weak = segment_curve(a, "longitudinal", (11,)).max()
    normal = segment_curve(a, "longitudinal", (8,)).max()
    assert weak < 0.45 * normal


# ------------------------------------------------------------------------------ acquisition


@pytest.mark.parametrize("name", SLICE_POSITIONS)
def test_background_phase_is_uniform_over_the_venc(subject, name):
    """Pixels 2+ pixels away from any tissue (air, lung, black blood): KS test against U[-VENC, VENC)
    with p > 0.01, and every value within [-VENC, VENC)."""
    s = subject.slices[name]
    near_tissue = ndimage.binary_dilation(s.tissue.astype(bool), structure=FRAME_CROSS, iterations=2)
    for d, venc in enumerate(s.venc_cm_s):
        background = s.velocity[:, d][~near_tissue]
        assert background.size > 10000
        assert background.min() >= -venc and background.max() < venc
        assert stats.kstest(background, stats.uniform(loc=-venc, scale=2 * venc).cdf).pvalue > 0.01
        assert np.all(s.velocity_true[:, d][~s.tissue.astype(bool)] == 0)


@pytest.mark.parametrize("name", SLICE_POSITIONS)
def test_tissue_phase_noise_matches_the_snr(subject, name):
    """Inside the myocardium (eroded by one pixel, away from partial volume) the measured minus true
    velocity, wrapped, has std sqrt(2) VENC / (pi SNR) within 10 %."""
    s = subject.slices[name]
    inner = ndimage.binary_erosion(s.myocardium.astype(bool), structure=FRAME_CROSS)
    snr = s.attrs["snr"]
    assert 15.0 <= snr <= 30.0
    for d, venc in enumerate(s.venc_cm_s):
        diff = np.mod(s.velocity[:, d] - s.velocity_true[:, d] + venc, 2 * venc) - venc
        expected = np.sqrt(2.0) * venc / (np.pi * snr)
        assert diff[inner].std() == pytest.approx(expected, rel=0.10)
        assert abs(diff[inner].mean()) < 4 * expected / np.sqrt(inner.sum())


def test_magnitude_snr_and_contrast(subject):
    """Rician magnitude: background noise floor sigma*sqrt(pi/2), myocardium ~SNR*sigma, blood dark."""
    s = subject.slices["mid"]
    sigma = s.attrs["noise_sigma"]
    near_tissue = ndimage.binary_dilation(s.tissue.astype(bool), structure=FRAME_CROSS, iterations=2)
    assert s.magnitude[~near_tissue].mean() == pytest.approx(sigma * np.sqrt(np.pi / 2), rel=0.05)
    inner = ndimage.binary_erosion(s.myocardium.astype(bool), structure=FRAME_CROSS)
    assert s.magnitude[inner].mean() / sigma == pytest.approx(s.attrs["snr"], rel=0.15)
    blood = ndimage.binary_erosion(s.lv_blood.astype(bool), structure=FRAME_CROSS, iterations=2)
    assert s.magnitude[blood].mean() < 0.15 * s.magnitude[inner].mean()


def test_velocity_beyond_venc_wraps_around():
    """With a 3 cm/s through-plane VENC the basal longitudinal motion (7-9 cm/s) aliases: the measured
    phase is the true velocity wrapped into [-VENC, VENC), plus noise."""
    config = PhantomConfig(frames=24, size=64, venc_through=(3.0, 3.0))
    s = generate_subject("wrap", 4, config).slices["basal"]
    venc = s.venc_cm_s[2]
    assert venc == 3.0
    myo = ndimage.binary_erosion(s.myocardium.astype(bool), structure=FRAME_CROSS)
    fast = myo & (np.abs(s.velocity_true[:, 2]) > 1.5 * venc)
    assert fast.sum() > 200
    raw = s.velocity[:, 2] - s.velocity_true[:, 2]
    wrapped = np.mod(raw + venc, 2 * venc) - venc
    assert np.abs(raw[fast]).mean() > venc  # the stored value is far from the truth...
    assert np.abs(wrapped[fast]).mean() < 0.2 * venc  # ...by whole multiples of 2 VENC
    assert s.velocity[:, 2].min() >= -venc and s.velocity[:, 2].max() < venc


def test_eddy_current_offset_is_a_small_ramp_on_the_measured_phase_only():
    config = PhantomConfig(frames=24, size=64)
    clean = generate_subject("e", 8, config).slices["mid"]
    eddy = generate_subject("e", 8, PhantomConfig(frames=24, size=64, eddy_cm_s=2.0)).slices["mid"]
    np.testing.assert_array_equal(clean.velocity_true, eddy.velocity_true)
    static = (eddy.tissue.astype(bool) & ~eddy.myocardium.astype(bool)).all(axis=0)
    offsets = (eddy.velocity - eddy.velocity_true).mean(axis=0)[:, static]  # time-averaged, [3, pixels]
    assert np.abs(offsets).max() < 2.0 + 1.0  # the ramp (<= 2 cm/s) plus averaged noise
    assert np.abs(offsets.mean(axis=1)).max() > 0.1
    baseline = (clean.velocity - clean.velocity_true).mean(axis=0)[:, static]
    assert np.abs(baseline.mean(axis=1)).max() < 0.05


# ------------------------------------------------------------------------------ files, seeds


def test_same_seed_same_arrays_different_seed_differs():
    config = PhantomConfig(frames=12, size=48)
    a, b = generate_subject("a", 21, config), generate_subject("a", 21, config)
    c = generate_subject("a", 22, config)
    for name in SLICE_POSITIONS:
        for field in ("magnitude", "velocity", "velocity_true", "myocardium", "tissue", "lv_blood", "rv_blood"):
            x, y = getattr(a.slices[name], field), getattr(b.slices[name], field)
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes()
        assert not np.array_equal(a.slices[name].magnitude, c.slices[name].magnitude)
    assert a.attrs == b.attrs and a.attrs != c.attrs


#: Sums (float64) of magnitude, velocity, velocity_true and the myocardium mask of the basal and apical
#: slices of tiny subjects (seed 11 cohort, subject index below, 10 frames of 48 x 48), as written before
#: the out-of-model options (patch, dyssync, independent waveforms, wide appearance, exact patient
#: counts) existed: with their defaults, every array is unchanged.
DRAWN_BEFORE = {
    ("default", 0): [
        [6893110.09322454, -958.7786496343433, -542.1611519012367, 1164.0],
        [6823604.517489672, -6011.914768115052, -142.69523447955726, 725.0],
    ],
    ("patients", 2): [
        [6482245.604448587, -3952.3807103863837, -321.5857819787925, 845.0],
        [6400681.716578186, -1059.7234853285008, -72.00531947234413, 600.0],
    ],
    ("altered", 1): [
        [6107791.8905195, 2649.2486309543265, 120.62074164970545, 1010.0],
        [6865536.404303998, -854.3234645651855, 32.67530024633743, 565.0],
    ],
}


@pytest.mark.parametrize("cohort_kind, index", sorted(DRAWN_BEFORE))
def test_default_options_draw_the_subjects_drawn_before(cohort_kind, index):
    options = {
        "default": {},
        "patients": {"random_pathology": ("territory", "lbbb", "global")},
        "altered": {"waveform_shape": "altered", "direction_offset_ms": 20.0},
    }[cohort_kind]
    subject = generate_subject("s", subject_seed(11, index), PhantomConfig(frames=10, size=48, **options))
    for name, expected in zip(("basal", "apical"), DRAWN_BEFORE[(cohort_kind, index)], strict=True):
        s = subject.slices[name]
        sums = [float(np.sum(getattr(s, f), dtype=np.float64)) for f in ("magnitude", "velocity", "velocity_true")]
        np.testing.assert_allclose(sums, expected[:3], rtol=1e-6, atol=0.05)
        assert int(s.myocardium.sum()) == expected[3]
    for later in ("appearance", "patch_width_deg", "patch_scale", "dyssync_delay_ms"):
        assert later not in subject.attrs["phantom"]["config"]


def test_wide_appearance_spreads_the_grey_levels_and_keeps_the_motion():
    """10 subjects: the myocardium / LV blood intensity ratio (mean noisy magnitude at end-diastole, mid
    slice) spreads over a much wider range with ``appearance="wide"`` than with the reference, and so
    does the liver-like grey of the surroundings; the heart's motion and myocardium are those of the
    reference subject of the same seed."""
    ratios: dict[str, list[float]] = {"reference": [], "wide": []}
    greys: dict[str, list[float]] = {"reference": [], "wide": []}
    for look in ratios:
        for seed in range(10):
            subject = generate_subject("look", seed, PhantomConfig(frames=8, size=64, appearance=look))
            s = subject.slices["mid"]
            m = s.magnitude[0]
            ratios[look].append(float(m[s.myocardium[0] > 0].mean() / m[s.lv_blood[0] > 0].mean()))
            greys[look].append(SliceParams.from_dict(s.attrs["phantom"]).scene.intensity_liver)
            if look == "wide" and seed < 2:
                reference = generate_subject("look", seed, PhantomConfig(frames=8, size=64)).slices["mid"]
                assert np.array_equal(s.myocardium, reference.myocardium)
                inside = s.myocardium > 0
                assert np.array_equal(s.velocity_true[:, 0][inside], reference.velocity_true[:, 0][inside])
    log_spread = {look: np.ptp(np.log(values)) for look, values in ratios.items()}
    assert log_spread["wide"] > 1.5 * log_spread["reference"]  # measured 1.04 against 0.54
    assert np.ptp(greys["wide"]) > 3.0 * np.ptp(greys["reference"])


def test_bad_appearance_gives_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "never"
    argv = ["--out", str(out), "--subjects", "1", "--frames", "8", "--size", "32", "--appearance", "bright"]
    assert phantom_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: appearance: unknown value 'bright' (valid: reference, wide)")
    assert not out.exists()


def test_cohort_files_validate_with_splits_by_subject(cohort):
    files = sorted(cohort.glob("*.h5"))
    assert [f.name for f in files] == ["subject_000.h5", "subject_001.h5", "subject_002.h5"]
    splits = json.loads((cohort / "splits.json").read_text())
    assert splits == default_splits([f.stem for f in files])
    for i, path in enumerate(files):
        subj = read_subject(path)
        assert sorted(subj.slices) == sorted(SLICE_POSITIONS)
        assert subj.attrs["phantom"]["seed"] == subject_seed(5, i)
        for name, s in subj.slices.items():
            assert s.slice_position == name and s.z_towards_apex == 1
            assert s.magnitude.shape == (24, 64, 64) and s.velocity.shape == (24, 3, 64, 64)
            assert s.velocity_true is not None and s.tissue is not None and s.rv_blood is not None
            assert 15 <= s.venc_cm_s[0] == s.venc_cm_s[1] <= 30 and 20 <= s.venc_cm_s[2] <= 30
            assert 700 <= s.rr_interval_ms <= 1200
            assert 180 <= s.pixel_spacing_mm[0] * 64 <= 200
            assert 0 <= s.rv_insertion_deg < 360
            assert np.all(s.myocardium.sum(axis=(1, 2)) > 50)
            assert not np.any(s.myocardium & s.lv_blood) and not np.any(s.myocardium & s.rv_blood)
            # The stored parameters rebuild the analytic curves of this very slice.
            assert np.abs(analytic_global_curves(s)["longitudinal"]).max() > 2.0


def test_subject_does_not_depend_on_cohort_size_or_workers(cohort, tmp_path):
    config = PhantomConfig(frames=24, size=64)
    generate_cohort(tmp_path / "one", 1, seed=5, config=config, workers=1)
    small = read_subject(tmp_path / "one" / "subject_000.h5")
    big = read_subject(cohort / "subject_000.h5")
    for name in SLICE_POSITIONS:
        assert small.slices[name].velocity.tobytes() == big.slices[name].velocity.tobytes()
    tiny = PhantomConfig(frames=8, size=32)
    generate_cohort(tmp_path / "serial", 2, seed=9, config=tiny, workers=1)
    generate_cohort(tmp_path / "parallel", 2, seed=9, config=tiny, workers=2)
    for stem in ("subject_000", "subject_001"):
        a = read_subject(tmp_path / "serial" / f"{stem}.h5")
        b = read_subject(tmp_path / "parallel" / f"{stem}.h5")
        for name in SLICE_POSITIONS:
            assert a.slices[name].magnitude.tobytes() == b.slices[name].magnitude.tobytes()


def test_config_rejects_bad_values():
    with pytest.raises(OptionError, match="reversed"):
        PhantomConfig(snr=(30, 15))
    with pytest.raises(OptionError, match="segment 17"):
        PhantomConfig(delay_segments=(17,), delay_fraction=0.1)
    with pytest.raises(OptionError, match="without --delay_segments"):
        PhantomConfig(delay_fraction=0.1)
    with pytest.raises(OptionError, match="field of view"):
        PhantomConfig(size=64, pixel_spacing_mm=0.5)
    with pytest.raises(OptionError, match="subjects"):
        generate_cohort("/tmp/unused_phantom_dir", 0, seed=1)


def test_cli_writes_a_cohort_and_reports_errors_on_one_line(tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["--out", str(out), "--subjects", "1", "--frames", "8", "--size", "32", "--seed", "3", "--workers", "1"]
    assert phantom_main(argv) == 0
    assert "wrote 1 subjects" in capsys.readouterr().out
    assert read_subject(out / "subject_000.h5").slices["mid"].num_frames == 8
    assert phantom_main([*argv, "--snr", "30", "10"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: snr range is reversed")
    assert phantom_main([*argv, "--delay_segments", "3", "--delay", "0.5"]) == 2
    assert capsys.readouterr().err.startswith("error: delay")
    with pytest.raises(SystemExit) as exc:
        phantom_main(["--out", str(out), "--subjects", "0"])
    assert exc.value.code == 2


# ------------------------------------------------------------------------------ util.tissue


@pytest.mark.parametrize("name", SLICE_POSITIONS)
def test_tissue_mask_from_magnitude_agrees_with_the_phantom(subject, name):
    """On the phantom (64 x 64, SNR 15-30) the magnitude-derived foreground has Dice > 0.9 with the
    stored ``tissue`` mask and covers >= 95 % of the myocardium (measured: Dice 0.94-0.98, 100 %)."""
    s = subject.slices[name]
    mask = tissue_mask_from_magnitude(normalise_magnitude(s.magnitude))
    truth = s.tissue.astype(bool)
    dice = 2 * (mask & truth).sum() / (mask.sum() + truth.sum())
    assert dice > 0.9
    myo = s.myocardium.astype(bool)
    assert (mask & myo).sum() / myo.sum() >= 0.95
    # Blood pool more than a pixel from any tissue (wall, papillary muscles, trabeculae) reads as background.
    pool = s.lv_blood.astype(bool) & ~ndimage.binary_dilation(truth, structure=FRAME_CROSS)
    assert pool.sum() > 100 and not mask[pool].mean() > 0.05
    single = tissue_mask_from_magnitude(normalise_magnitude(s.magnitude)[5])
    assert single.shape == s.magnitude.shape[1:] and single.dtype == bool


def test_normalise_magnitude_uses_the_995th_percentile():
    rng = np.random.default_rng(0)
    mag = rng.uniform(0, 1000, size=(4, 32, 32)).astype(np.float32)
    unit = normalise_magnitude(mag)
    assert unit.dtype == np.float32 and unit.min() >= 0 and unit.max() == 1.0
    p = np.percentile(mag, 99.5)
    np.testing.assert_allclose(unit, np.clip(mag / p, 0, 1), rtol=1e-6)
    keys = mag[::2]
    np.testing.assert_allclose(normalise_magnitude(mag, reference=keys), np.clip(mag / np.percentile(keys, 99.5), 0, 1))
    assert not normalise_magnitude(np.zeros((2, 8, 8))).any()


def test_an_abbreviated_option_is_refused_with_the_closest_name(tmp_path, capsys):
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as exit_info:
        phantom_main(["--out", str(out), "--subjec", "1"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: python -m data.phantom: unknown option --subjec (did you mean --subjects?)"]
    assert not out.exists()
