"""Patients in the phantom: pathology drawn per subject, checked by value.

Regional checks use material points at the endocardium of a segment's centre in a slice without
ellipticity, bulk motion or rotation, where the radial velocity is exactly the endocardial rate
``dR/dt = -dR_max * scale * dc/dt(phi - delay)``: so a segment's motion scale is the ratio of its
velocity to the same subject's without pathology, and its delay the shift of its time to peak.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from assessment.velocity import velocity_curves
from data.mvm_io import read_subject
from data.phantom import PhantomConfig, SliceMotion, generate_cohort, generate_subject
from data.phantom.cli import main as phantom_main
from data.phantom.generate import patient_count, patient_flags, segment_truth
from data.phantom.pathology_summary import pathology_table
from data.phantom.sampling import draw_subject
from data.phantom.segments import TERRITORIES, segment_centre_deg, segment_interval, segment_numbers
from data.splits import default_splits
from util.errors import OptionError

PHASES = np.linspace(0.0, 1.0, 4001, endpoint=False)


def _plain_params(seed: int, position: str, **changes):
    """A drawn slice without stretch, bulk motion or rotation, with ``changes`` applied."""
    _, slices = draw_subject(np.random.default_rng(seed), PhantomConfig())
    flat = {"ellipticity": 0.0, "bulk_mm": [0.0] * 8, "rotation_deg": 0.0}
    return dataclasses.replace(slices[position], **{**flat, **changes})


def _endocardial_radial_speed(params, segment: int) -> np.ndarray:
    """Radial velocity (mm/s, inward positive) of the endocardial point at a segment's centre, over PHASES,
    by central differences of its tracked distance from the LV centre."""
    motion = SliceMotion(params)
    alpha0 = np.deg2rad(segment_centre_deg(segment, params.septum_deg))
    h = 1e-5

    def radius(phi: np.ndarray) -> np.ndarray:
        x, y, _ = motion.forward(np.full(phi.shape, params.endo_radius_mm), np.full(phi.shape, alpha0), phi)
        return np.hypot(x - params.centre_mm[0], y - params.centre_mm[1])

    return -(radius(PHASES + h) - radius(PHASES - h)) / (2 * h * params.rr_ms / 1000.0)


def test_random_pathology_is_deterministic_per_seed_and_recorded():
    config = PhantomConfig(frames=8, size=32, random_pathology=("territory", "lbbb", "global"), pathology_fraction=0.6)
    records = [draw_subject(np.random.default_rng(seed), config)[0]["pathology"] for seed in range(12)]
    again = [draw_subject(np.random.default_rng(seed), config)[0]["pathology"] for seed in range(12)]
    assert records == again
    kinds = {r["kind"] for r in records if r["patient"]}
    assert kinds == {"territory", "lbbb", "global"}
    assert 0 < sum(not r["patient"] for r in records) < 12


def test_healthy_subjects_are_unchanged_by_the_patient_options():
    """The patient draws come after every healthy draw: a healthy subject of a mixed cohort is the same
    subject as in an all-healthy cohort of that seed."""
    mixed = PhantomConfig(random_pathology=("territory",), pathology_fraction=0.5)
    for seed in range(6):
        drawn, slices = draw_subject(np.random.default_rng(seed), mixed)
        if drawn["pathology"]["patient"]:
            continue
        _, healthy = draw_subject(np.random.default_rng(seed), PhantomConfig())
        assert slices["mid"].to_dict() == healthy["mid"].to_dict()
        return
    pytest.fail("no healthy subject among six at fraction 0.5")


def test_hypokinetic_territory_scales_its_segments_velocity():
    """LAD at motion scale 0.35: segment 1's endocardial velocity is 0.35 of the healthy one at every
    phase; segment 4 (RCA) is untouched."""
    scale = 0.35
    ids = segment_numbers("basal")
    sick = _plain_params(5, "basal", segment_scale=[scale if s in TERRITORIES["LAD"] else 1.0 for s in ids])
    healthy = _plain_params(5, "basal")
    weak, normal = _endocardial_radial_speed(sick, 1), _endocardial_radial_speed(healthy, 1)
    assert np.abs(normal).max() > 10.0  # > 1 cm/s: there is motion to scale
    np.testing.assert_allclose(weak, scale * normal, atol=1e-3 * np.abs(normal).max())
    np.testing.assert_allclose(_endocardial_radial_speed(sick, 4), _endocardial_radial_speed(healthy, 4), atol=1e-6)


@pytest.mark.parametrize("delay_ms", [90.0, -60.0])
def test_delayed_segment_peaks_later_by_its_delay(delay_ms):
    """A late (or early, negative) segment's systolic velocity peak moves by exactly its delay."""
    params = _plain_params(8, "mid")
    delay = [0.0] * 6
    delay[4] = delay_ms / params.rr_ms  # segment 11
    late = dataclasses.replace(params, segment_delay=delay)
    systole = PHASES < 0.45
    t_late = PHASES[np.argmax(np.where(systole, _endocardial_radial_speed(late, 11), -np.inf))]
    t_normal = PHASES[np.argmax(np.where(systole, _endocardial_radial_speed(params, 11), -np.inf))]
    assert (t_late - t_normal) * params.rr_ms == pytest.approx(delay_ms, abs=0.5)


def test_lbbb_moves_the_septum_before_the_lateral_wall():
    """An LBBB patient, rendered and analysed like a scan (assessment.velocity on velocity_true): the septal
    segments reach their systolic radial peak before the lateral ones, by about the drawn delay's share
    at the segment centres (cos 30 deg of it), and the file records those delays."""
    config = PhantomConfig(frames=40, size=64, random_pathology=("lbbb",), lbbb_delay_ms=(140.0, 150.0))
    subject = generate_subject("lbbb", 4, config)
    spread = subject.attrs["phantom"]["pathology"]["septal_to_lateral_ms"]
    assert subject.attrs["patient"] and "LBBB" in subject.attrs["pathology"]
    s = subject.slices["basal"]
    truth = dict(zip(s.attrs["aha_segment_ids"], s.attrs["aha_delay_ms"], strict=True))
    np.testing.assert_allclose(
        [truth[2], truth[5]], [-0.5 * spread * np.cos(np.pi / 6), 0.5 * spread * np.cos(np.pi / 6)]
    )
    curves = velocity_curves(s.velocity_true, s.myocardium, "basal", septum_deg=s.rv_insertion_deg)
    frame_ms = s.rr_interval_ms / s.num_frames
    ids = list(curves.segment_ids)
    radial = curves.segment_curves["radial"][:, : s.num_frames // 2]
    ttp = {seg: np.argmax(radial[ids.index(seg)]) * frame_ms for seg in (2, 3, 5, 6)}
    septal, lateral = 0.5 * (ttp[2] + ttp[3]), 0.5 * (ttp[5] + ttp[6])
    assert lateral - septal == pytest.approx(spread * np.cos(np.pi / 6), abs=2 * frame_ms)


def test_global_dysfunction_lowers_ejection_and_long_axis_motion_but_not_the_regional_truth():
    config = PhantomConfig(random_pathology=("global",), global_ef=(0.25, 0.25), global_scale=(0.5, 0.5))
    drawn, sick = draw_subject(np.random.default_rng(2), config)
    _, healthy = draw_subject(np.random.default_rng(2), PhantomConfig())
    for position in ("basal", "apical"):
        assert 1.0 - sick[position].es_fraction ** 2 == pytest.approx(0.25)
        assert sick[position].long_systolic_cm_s == pytest.approx(0.5 * healthy[position].long_systolic_cm_s)
        assert sick[position].rotation_deg == pytest.approx(0.5 * healthy[position].rotation_deg)
        truth = segment_truth(sick[position])
        assert np.all(truth["aha_motion_scale"] == 1.0) and np.all(truth["aha_delay_ms"] == 0.0)
    assert drawn["pathology"] == {"patient": True, "kind": "global", "ejection_fraction": 0.25, "motion_scale": 0.5}


def test_direction_offsets_shift_each_wave_alone():
    """A +40 ms longitudinal offset moves the longitudinal systolic peak by 40 ms and leaves the
    rotation's timing alone."""
    params = _plain_params(3, "basal", rotation_deg=-6.0)
    shifted = dataclasses.replace(params, direction_offsets=[0.0, 0.0, 40.0 / params.rr_ms])
    a, b = SliceMotion(params), SliceMotion(shifted)
    lon_a, lon_b = a.longitudinal_velocity(PHASES), b.longitudinal_velocity(PHASES)
    shift_ms = (PHASES[np.argmax(lon_b)] - PHASES[np.argmax(lon_a)]) * params.rr_ms
    assert shift_ms == pytest.approx(40.0, abs=0.5)
    np.testing.assert_array_equal(a.rotation(PHASES)[1], b.rotation(PHASES)[1])


def test_files_record_the_segment_truth_and_the_cohort_summary(tmp_path, capsys):
    out = tmp_path / "cohort"
    argv = ["--out", str(out), "--subjects", "4", "--frames", "8", "--size", "32", "--workers", "1", "--seed", "1"]
    argv += ["--random_pathology", "territory", "--territories", "RCA", "--territory_scale", "0.2", "0.3"]
    assert phantom_main([*argv, "--pathology_fraction", "0.5"]) == 0
    printed = capsys.readouterr().out
    patients = [line.split(":")[0].strip() for line in printed.splitlines() if "RCA territory" in line]
    assert printed.count("RCA territory") == len(patients) >= 1
    for stem in patients:
        s = read_subject(out / f"{stem}.h5").slices["mid"]
        scale = dict(zip(s.attrs["aha_segment_ids"], s.attrs["aha_motion_scale"], strict=True))
        assert 0.2 <= scale[9] <= 0.3 and scale[10] == scale[9]
        assert scale[7] == scale[8] == scale[11] == scale[12] == 1.0
    table = pathology_table(out)
    assert f"| territory | {len(patients)} |" in table and f"| healthy | {4 - len(patients)} |" in table


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--random_pathology", "territory", "--territories", "LMCA"], "territories: unknown territory 'LMCA'"),
        (["--random_pathology", "infarct"], "random_pathology: unknown kind 'infarct'"),
        (["--hypokinetic_segments", "17", "--hypokinetic_scale", "0.5"], "hypokinetic_segments: AHA segment 17"),
        (["--hypokinetic_segments", "3", "--hypokinetic_scale", "1.5"], "hypokinetic scale must be within 0-1"),
        (["--random_pathology", "territory", "--territory_scale", "-0.2", "0.5"], "territory_scale must lie"),
        (["--random_pathology", "lbbb", "--lbbb_delay_ms", "50", "400"], "lbbb_delay_ms must lie within 0-300"),
        (["--delay_segments", "5", "--delay_ms", "350"], "delay in ms must be within 0-300"),
        (["--pathology_fraction", "1.5"], "pathology fraction must be within 0-1"),
        (["--random_pathology", "patch", "--patch_width", "5", "90"], "patch_width must lie within 10-300"),
        (["--random_pathology", "patch", "--patch_scale", "0.5", "0.2"], "patch_scale range is reversed"),
        (["--random_pathology", "dyssync", "--dyssync_delay_ms", "50", "400"], "dyssync_delay_ms must lie within"),
    ],
)
def test_bad_pathology_options_give_one_line_and_write_nothing(tmp_path, capsys, option, message):
    out = tmp_path / "never"
    assert phantom_main(["--out", str(out), "--subjects", "1", "--frames", "8", "--size", "32", *option]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()


def test_config_checks_the_kinds_directly():
    with pytest.raises(OptionError, match="global_scale"):
        PhantomConfig(random_pathology=("global",), global_scale=(0.5, 1.2))


def test_cohort_of_patients_is_reproducible(tmp_path):
    config = PhantomConfig(frames=8, size=32, random_pathology=("territory", "lbbb"))
    generate_cohort(tmp_path / "a", 2, seed=3, config=config, workers=1)
    generate_cohort(tmp_path / "b", 2, seed=3, config=config, workers=1)
    for stem in ("subject_000", "subject_001"):
        a, b = read_subject(tmp_path / "a" / f"{stem}.h5"), read_subject(tmp_path / "b" / f"{stem}.h5")
        assert a.attrs["pathology"] == b.attrs["pathology"]
        assert a.slices["basal"].velocity_true.tobytes() == b.slices["basal"].velocity_true.tobytes()


def _raised_cosine_patch(angle: np.ndarray, centre: float, width: float, edge: float, scale: float) -> np.ndarray:
    """The patch written out here, independently of the phantom's code."""
    d = np.abs((angle - centre + 180.0) % 360.0 - 180.0)
    t = np.clip((0.5 * width - d + 0.5 * edge) / edge, 0.0, 1.0)
    return 1.0 - (1.0 - scale) * (0.5 - 0.5 * np.cos(np.pi * t))


def test_patch_truth_is_the_segment_mean_of_its_angular_scale_and_scales_the_motion():
    """A patch patient: each AHA segment's recorded motion scale is the mean over its sector of the
    smooth angular scale; at the patch centre the endocardium moves at the level's scale of the healthy
    speed; the file says what was drawn."""
    config = PhantomConfig(frames=8, size=32, random_pathology=("patch",), patch_width_deg=(70.0, 90.0))
    drawn, slices = draw_subject(np.random.default_rng(3), config)
    record = drawn["pathology"]
    assert record["kind"] == "patch" and 70.0 <= record["width_deg"] <= 90.0
    for position, params in slices.items():
        centre, width, edge, scale = params.patch
        assert scale == pytest.approx(record["level_scales"][position])
        expected = []
        for seg in segment_numbers(position):
            start, end = segment_interval(seg, params.septum_deg)
            angle = np.linspace(start, end, 200001)
            expected.append(np.mean(_raised_cosine_patch(angle, centre, width, edge, scale)))
        np.testing.assert_allclose(segment_truth(params)["aha_motion_scale"], expected, atol=1e-5)
    core = record["level"]
    assert min(segment_truth(slices[core])["aha_motion_scale"]) < 1.0
    params = slices[core]
    sick = dataclasses.replace(params, ellipticity=0.0, bulk_mm=[0.0] * 8, rotation_deg=0.0)
    healthy = dataclasses.replace(sick, patch=None)
    alpha0 = np.deg2rad(params.patch[0])

    def speed(p) -> np.ndarray:
        """Rate of the endocardial point's distance from the centre at the patch centre (mm per phase)."""
        motion, h = SliceMotion(p), 1e-5

        def radius(phi: np.ndarray) -> np.ndarray:
            x, y, _ = motion.forward(p.endo_radius_mm, alpha0, phi)
            return np.hypot(x - p.centre_mm[0], y - p.centre_mm[1])

        return (radius(PHASES + h) - radius(PHASES - h)) / (2 * h)

    np.testing.assert_allclose(speed(sick), record["motion_scale"] * speed(healthy), atol=1e-6)
    subject = generate_subject("patch", 3, config)
    assert subject.attrs["patient"] and subject.attrs["pathology"].startswith("patch: centre ")


@pytest.mark.parametrize("relative_deg", [0.0, 75.0, 200.0, 290.0])
def test_smooth_dyssync_shifts_each_angle_by_its_delay(relative_deg):
    """A dyssync patient: at any angle, the systolic peak of the endocardial radial velocity (the model
    velocity that velocity_true carries, tracked at 4001 phases) moves by the drawn delay at that angle
    (within 0.5 ms); the delays span the drawn earliest-to-latest delay; the file records the segment
    means of the delay function."""
    config = PhantomConfig(random_pathology=("dyssync",), dyssync_delay_ms=(120.0, 140.0))
    drawn, slices = draw_subject(np.random.default_rng(6), config)
    record = drawn["pathology"]
    params = dataclasses.replace(slices["mid"], ellipticity=0.0, bulk_mm=[0.0] * 8, rotation_deg=0.0)
    healthy = dataclasses.replace(params, delay_harmonics=None)
    angle = params.septum_deg + relative_deg
    delay_ms = params.rr_ms * sum(a * np.cos(np.deg2rad(k * (angle - ph))) for k, a, ph in params.delay_harmonics)
    grid = np.arange(0.0, 360.0, 0.1)
    span = [sum(a * np.cos(np.deg2rad(k * (g - ph))) for k, a, ph in params.delay_harmonics) for g in grid]
    assert (max(span) - min(span)) * params.rr_ms == pytest.approx(record["spread_ms"], abs=0.01)
    assert 120.0 <= record["spread_ms"] <= 140.0 and abs(delay_ms) > 1.0

    def peak_ms(p) -> float:
        motion = SliceMotion(p)
        alpha0 = np.full(PHASES.shape, np.deg2rad(angle))
        x, y, _ = motion.forward(np.full(PHASES.shape, p.endo_radius_mm), alpha0, PHASES)
        state = motion.inverse(x, y, PHASES, dtype=np.float64)
        inward = -(state.vx * (x - p.centre_mm[0]) + state.vy * (y - p.centre_mm[1])) / p.endo_radius_mm
        systole = (PHASES > 0.0) & (PHASES < 0.5)
        return float(PHASES[np.argmax(np.where(systole, inward, -np.inf))] * p.rr_ms)

    assert peak_ms(params) - peak_ms(healthy) == pytest.approx(delay_ms, abs=0.5)
    truth = segment_truth(slices["mid"])["aha_delay_ms"]
    assert np.ptp(truth) > 0.5 * record["spread_ms"]


def test_pathology_fraction_is_an_exact_count_stratified_over_the_splits(tmp_path, capsys):
    """round(fraction x subjects) patients (.5 up), each split getting its share as evenly as rounding
    allows, chosen from the seed: 4 at 0.5 -> 2, 10 at 0.3 -> 3, 5 at 0.5 -> 3."""
    for subjects, fraction, count in ((4, 0.5, 2), (10, 0.3, 3), (5, 0.5, 3), (7, 0.0, 0), (7, 1.0, 7)):
        assert patient_count(fraction, subjects) == count
    names = [f"subject_{i:03d}" for i in range(20)]
    splits = default_splits(names, 0.15, 0.15)
    flags = patient_flags(5, 0.5, splits, names)
    assert flags == patient_flags(5, 0.5, splits, names) and flags != patient_flags(6, 0.5, splits, names)
    assert sum(flags) == 10
    for members in splits.values():
        share = 10 * len(members) / 20
        assert np.floor(share) <= sum(flags[names.index(n)] for n in members) <= np.ceil(share)
    out = tmp_path / "four"
    argv = ["--out", str(out), "--subjects", "4", "--frames", "8", "--size", "32", "--workers", "1"]
    assert phantom_main([*argv, "--random_pathology", "patch", "dyssync", "--pathology_fraction", "0.5"]) == 0
    assert "patients: 2 of 4" in capsys.readouterr().out


def test_healthy_subjects_of_a_mixed_cohort_are_those_of_an_all_healthy_cohort(tmp_path):
    config = PhantomConfig(frames=8, size=32, random_pathology=("patch", "dyssync"), pathology_fraction=0.5)
    generate_cohort(tmp_path / "mixed", 4, seed=9, config=config, workers=1)
    generate_cohort(tmp_path / "healthy", 4, seed=9, config=PhantomConfig(frames=8, size=32), workers=1)
    healthy_seen = 0
    for i in range(4):
        mixed = read_subject(tmp_path / "mixed" / f"subject_00{i}.h5")
        if mixed.attrs["patient"]:
            continue
        healthy_seen += 1
        normal = read_subject(tmp_path / "healthy" / f"subject_00{i}.h5")
        for name in ("basal", "mid", "apical"):
            a, b = mixed.slices[name], normal.slices[name]
            assert a.magnitude.tobytes() == b.magnitude.tobytes()
            assert a.velocity.tobytes() == b.velocity.tobytes()
    assert healthy_seen == 2
