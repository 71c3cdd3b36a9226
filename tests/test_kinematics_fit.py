"""The kinematic prior's curve model: landmarks found on known curves, templates registered by them, and the
subject fit recovering known landmark times, gains and segment delays from synthetic key-frame
displacements."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import cumulative_trapezoid

from data.phantom.motion import contraction_waveform, rotation_waveform
from data.phantom.params import Timing
from models.kinematics.fit import (
    GAIN_SD,
    SIGMA_DISTANCE_MM,
    SIGMA_ROTATION_DEG,
    KeyTrajectories,
    KinematicFit,
    SliceFit,
    fit_subject,
    fitted_curves,
    segment_shrinkage,
)
from models.kinematics.landmarks import LANDMARKS, detect_landmarks, parabolic_peak
from models.kinematics.templates import (
    TEMPLATE_BINS,
    KinematicTemplates,
    cycle_warp,
    periodic_displacement,
)
from util.errors import DataError

CANONICAL = np.array([0.10, 0.19, 0.37, 0.48, 0.88])
RR = 1000.0
EXCURSION_MM = {"basal": 6.0, "mid": 5.0, "apical": 4.0}
TWIST_DEG = {"basal": -6.0, "mid": 1.5, "apical": 9.0}


def _timing(landmarks: np.ndarray) -> Timing:
    """A phantom timing whose systole, E' and A' events sit at the given landmark-like times."""
    onset, peak, es, e_peak, a_peak = landmarks
    return Timing(
        onset - 0.04, peak, es, e_peak - 0.05, e_peak, e_peak + 0.12, a_peak - 0.05, a_peak, a_peak + 0.05, 0.6
    )


def _templates() -> KinematicTemplates:
    """Templates whose radial excursion and rotation follow the phantom's waveforms with canonical timing."""
    grid = np.arange(TEMPLATE_BINS) / TEMPLATE_BINS
    t = _timing(CANONICAL)
    contraction, twist = contraction_waveform(t, 0.7).displacement(grid), rotation_waveform(t, 0.8).displacement(grid)
    curves = {
        p: {
            "radial": EXCURSION_MM[p] * contraction,
            "rotation": TWIST_DEG[p] * twist,
            "longitudinal": 8.0 * contraction,
        }
        for p in EXCURSION_MM
    }
    timing = np.stack([CANONICAL * RR, np.zeros(5)], axis=1)
    return KinematicTemplates(curves, CANONICAL.copy(), timing, np.full(5, 30.0), 20)


def _trajectories(templates, landmarks, gains, fractions, segment_delay_ms=None, segment_gain=None):
    """Noise-free key-frame trajectories of a subject with the given landmarks and slice gains."""
    warp = cycle_warp(landmarks, templates.canonical)
    out = []
    for position, gain in gains.items():
        radial = templates.spline(position, "radial")
        ids = np.arange(1, 7) if position != "apical" else np.arange(13, 17)
        delays = np.zeros(ids.size) if segment_delay_ms is None else np.asarray(segment_delay_ms[position]) / RR
        seg_gain = np.ones(ids.size) if segment_gain is None else np.asarray(segment_gain[position])
        segments = np.stack(
            [30.0 - g * gain * radial(warp(np.mod(fractions - d, 1.0))) for g, d in zip(seg_gain, delays, strict=True)]
        )
        rotation = 2.0 + 0.9 * templates.spline(position, "rotation")(warp(fractions))
        out.append(KeyTrajectories(position, fractions, 30.0 - gain * radial(warp(fractions)), ids, segments, rotation))
    return out


def test_landmarks_of_a_known_contraction_curve():
    """The contraction rate of a phantom waveform (radial velocity shape): its systolic peak, its E' and A'
    troughs are the pulses' peaks; onset and end-systole where it passes 20 % and 5 % of the peak."""
    timing = _timing(np.array([0.12, 0.2, 0.36, 0.47, 0.86]))
    wave = contraction_waveform(timing, 0.7)
    n = 80
    curve = wave.velocity(np.arange(n) / n)
    found = detect_landmarks(curve)
    assert found is not None
    fine = np.linspace(0, 1, 100001)
    v = wave.velocity(fine)
    s = v.max()
    systole = fine < 0.36
    onset = fine[systole & (v >= 0.2 * s)][0]
    es = fine[(fine > 0.2) & (v < 0.05 * s)][0]
    # Crossings within a quarter frame; peaks within half a frame (a parabola on an asymmetric pulse).
    error = np.abs(found - np.array([onset, 0.2, es, 0.47, 0.86])) * n
    assert np.all(error <= np.array([0.25, 0.5, 0.25, 0.5, 0.5])), error


def test_parabolic_peak_finds_an_off_grid_peak():
    x = np.arange(20.0)
    position, value = parabolic_peak(-((x - 7.3) ** 2) + 4.0, 7)
    assert position == pytest.approx(7.3) and value == pytest.approx(4.0)


def test_landmarks_reject_a_curve_without_a_cycle():
    assert detect_landmarks(-np.ones(50)) is None
    assert detect_landmarks(np.ones(8)) is None


def test_periodic_displacement_removes_the_drift():
    v = np.sin(2 * np.pi * np.arange(40) / 40) + 0.3  # the offset integrates to a drift
    d = periodic_displacement(v, 1000.0)
    assert d[0] == pytest.approx(0.0) and d[-1] == pytest.approx(0.0, abs=1e-12)
    assert np.ptp(d) == pytest.approx(10.0 / np.pi, rel=0.02)  # 10 mm per cm: amplitude 1/(2 pi) s x 2


@pytest.mark.parametrize("keys", [9, 5])
def test_fit_recovers_known_landmarks_and_gains(keys):
    """Key trajectories of a heart whose events are 10-25 ms off the canonical ones and whose slices move
    0.7-1.2 times the template. With 9 key frames the fit finds the landmark times within 10 ms (3 ms on
    average; end-systole, which the still isovolumic period hides, is the hardest) and the gains within
    3 %; with 5 it still lands closer to the truth than the population's timing and within 10 % on gains."""
    templates = _templates()
    truth = CANONICAL + np.array([0.015, -0.01, 0.025, 0.02, -0.015])
    gains = {"basal": 0.8, "mid": 1.2, "apical": 0.7}
    fractions = np.arange(keys) / keys
    fit = fit_subject(templates, _trajectories(templates, truth, gains, fractions), RR, fit_timing=True)
    error = np.abs(fit.landmarks - truth)
    if keys == 9:
        assert error.max() < 0.010 and error.mean() < 0.004
    else:
        assert error.mean() < np.abs(CANONICAL - truth).mean()
    for position, gain in gains.items():
        assert fit.slices[position].radial_gain == pytest.approx(gain, rel=0.03 if keys == 9 else 0.1)
    for position in ("basal", "apical"):  # the mid slice turns 1.5 degrees: its rotation gain stays near the prior
        assert fit.slices[position].rotation_gain == pytest.approx(0.9, rel=0.05 if keys == 9 else 0.1)


def test_segment_fit_recovers_delay_and_hypokinesia():
    """One late segment (+70 ms) and one hypokinetic (x0.3): their fitted delay and gain."""
    templates = _templates()
    fractions = np.arange(9) / 9
    delays = {"basal": [0, 0, 0, 0, 70, 0], "mid": [0] * 6, "apical": [0] * 4}
    seg_gain = {"basal": [1, 0.3, 1, 1, 1, 1], "mid": [1] * 6, "apical": [1] * 4}
    gains = {"basal": 1.0, "mid": 1.0, "apical": 1.0}
    data = _trajectories(templates, CANONICAL, gains, fractions, delays, seg_gain)
    fit = fit_subject(templates, data, RR, fit_timing=True).slices["basal"]
    assert fit.segment_delay[4] * RR == pytest.approx(70.0, abs=8.0)
    assert fit.segment_gain[1] == pytest.approx(0.3, abs=0.05)
    np.testing.assert_allclose(np.delete(fit.segment_delay, 4) * RR, 0.0, atol=8.0)


def test_fitted_curves_are_the_derivative_of_the_fitted_displacement():
    """The radial curve integrates (over the cycle, RR known) to the fitted mean-distance change."""
    templates = _templates()
    fractions = np.arange(9) / 9
    data = _trajectories(templates, CANONICAL, {"basal": 1.0, "mid": 1.0, "apical": 1.0}, fractions)
    fit = fit_subject(templates, data, RR, fit_timing=True)
    n = 400
    curves = fitted_curves(templates, fit, "mid", n)
    excursion_mm = cumulative_trapezoid(curves["radial"], dx=RR / 1000.0 / n, initial=0.0) * 10.0
    warp = cycle_warp(fit.landmarks, templates.canonical)
    expected = fit.slices["mid"].radial_gain * templates.spline("mid", "radial")(warp(np.arange(n) / n))
    np.testing.assert_allclose(excursion_mm, expected, atol=0.05)
    assert curves["segment_radial"].shape == (6, n)


def test_too_few_key_frames_or_a_missing_mask_is_one_line():
    templates = _templates()
    fractions = np.arange(3) / 3
    with pytest.raises(DataError, match="3 key frames"):
        fit_subject(templates, _trajectories(templates, CANONICAL, {"mid": 1.0}, fractions), RR, fit_timing=True)
    data = _trajectories(templates, CANONICAL, {"mid": 1.0}, np.arange(9) / 9)[0]
    broken = KeyTrajectories(
        "mid",
        data.fractions,
        np.r_[np.nan, data.mean_distance_mm[1:]],
        data.segment_ids,
        data.segment_distance_mm,
        data.rotation_deg,
    )
    with pytest.raises(DataError, match="no myocardium mask"):
        fit_subject(templates, [broken], RR, fit_timing=True)


def test_templates_state_round_trip():
    templates = _templates()
    again = KinematicTemplates.from_state(templates.state_dict())
    np.testing.assert_array_equal(again.curves["mid"]["radial"], templates.curves["mid"]["radial"])
    np.testing.assert_array_equal(again.canonical, templates.canonical)
    assert len(LANDMARKS) == again.timing.shape[0]


def test_fitted_curves_of_a_hand_made_fit():
    """Cosine templates, the canonical timing (an identity warp), RR 800 ms: every fitted curve in closed form.

    Radial excursion A (1 - cos 2 pi phi) / 2 mm, rotation B sin 2 pi phi degrees, longitudinal excursion
    C (1 - cos 2 pi phi) / 2 mm; the velocities are their derivatives per second (1.25 cycles per second)
    in cm/s, the circumferential one the angular rate (rad/s) times the fitted mean distance (cm)."""
    a, b, c, rr, n = 5.0, 8.0, 9.0, 800.0, 40
    grid = np.arange(TEMPLATE_BINS) / TEMPLATE_BINS
    wave = (1 - np.cos(2 * np.pi * grid)) / 2
    curves = {"mid": {"radial": a * wave, "rotation": b * np.sin(2 * np.pi * grid), "longitudinal": c * wave}}
    timing = np.stack([CANONICAL * rr, np.zeros(5)], axis=1)
    templates = KinematicTemplates(curves, CANONICAL.copy(), timing, np.full(5, 30.0), 20)
    gain, rot_gain, level = 0.8, 1.5, 30.0
    seg_gain, seg_delay = np.array([1.0, 0.5]), np.array([0.0, 0.1])
    s = SliceFit("mid", level, gain, rot_gain, np.array([7, 8]), seg_gain, seg_delay, np.full(2, level))
    fitted = fitted_curves(templates, KinematicFit(CANONICAL.copy(), rr, {"mid": s}), "mid", n)
    phi = np.arange(n) / n
    per_s = 1000.0 / rr
    rate = np.pi * np.sin(2 * np.pi * phi) * per_s / 10.0  # d/dt of (1 - cos) / 2 mm, in cm/s
    tol = {"rtol": 1e-4, "atol": 1e-5}
    np.testing.assert_allclose(fitted["radial"], gain * a * rate, **tol)
    np.testing.assert_allclose(fitted["longitudinal"], c * rate, **tol)
    angular = np.radians(rot_gain * b * 2 * np.pi * np.cos(2 * np.pi * phi) * per_s)
    distance_cm = (level - gain * a * (1 - np.cos(2 * np.pi * phi)) / 2) / 10.0
    np.testing.assert_allclose(fitted["circumferential"], angular * distance_cm, **tol)
    late = np.pi * np.sin(2 * np.pi * (phi - 0.1)) * per_s / 10.0
    np.testing.assert_allclose(fitted["segment_radial"], [a * rate, 0.5 * a * late], **tol)
    relative = seg_gain / seg_gain.mean()
    np.testing.assert_allclose(fitted["segment_longitudinal"], [relative[0] * c * rate, relative[1] * c * late], **tol)


def test_slice_gains_are_shrunk_towards_one_by_their_prior():
    """With the timing fixed, the slice fit is linear: level and gain of the mean distance, and of the
    rotation, by least squares with the prior gain 1 +- GAIN_SD. Few key frames of a slice that moves half as
    far as the template (and turns twice as far) give gains pulled towards 1 by the amounts the normal
    equations say."""
    templates = _templates()
    fractions = np.arange(4) / 4
    data = _trajectories(templates, CANONICAL, {"apical": 0.5}, fractions)
    tr = data[0]
    tr = KeyTrajectories(tr.position, fractions, tr.mean_distance_mm, tr.segment_ids, tr.segment_distance_mm,
                         1.0 + 2.0 * templates.spline("apical", "rotation")(fractions))  # fmt: skip
    fit = fit_subject(templates, [tr], RR, fit_timing=False).slices["apical"]

    def ridge(template: np.ndarray, values: np.ndarray, sigma: float, sign: float) -> float:
        """Gain of ``level + sign * gain * template`` fitted to ``values`` with the prior gain 1 +- GAIN_SD."""
        design = np.vstack([np.stack([np.ones_like(template), sign * template], 1) / sigma, [0.0, 1.0 / GAIN_SD]])
        target = np.r_[values / sigma, 1.0 / GAIN_SD]
        return float(np.linalg.lstsq(design, target, rcond=None)[0][1])

    radial = ridge(templates.spline("apical", "radial")(fractions), tr.mean_distance_mm, SIGMA_DISTANCE_MM, -1.0)
    rotation = ridge(templates.spline("apical", "rotation")(fractions), tr.rotation_deg, SIGMA_ROTATION_DEG, 1.0)
    assert 0.505 < radial < 0.9 and 1.0 < rotation < 1.9  # the prior pulls both towards 1
    assert fit.radial_gain == pytest.approx(radial, abs=1e-5)
    assert fit.rotation_gain == pytest.approx(rotation, abs=1e-5)


def test_timing_prior_does_not_extrapolate_far_beyond_the_training_hearts():
    """Training RR 940-1150 ms: a heart at 1000 ms gets the regression's fractions, one at 715 ms those of
    890 ms (the range widened by RR_MARGIN_MS), where the linear regression of a few subjects would put
    end-systole far later in the cycle."""
    from models.kinematics.templates import RR_MARGIN_MS

    templates = _templates()
    slope = np.array([0.12, 0.21, 0.17, 0.48, 0.89])
    intercept = np.array([-12.0, -23.0, 178.0, 13.0, -16.0])
    templates = KinematicTemplates(templates.curves, templates.canonical, np.stack([intercept, slope], 1),
                                   np.full(5, 15.0), 6, (940.0, 1150.0))  # fmt: skip
    mean, sd = templates.expected_landmarks(1000.0)
    np.testing.assert_allclose(mean, (intercept + slope * 1000.0) / 1000.0)
    np.testing.assert_allclose(sd, 15.0 / 1000.0)
    trusted = 940.0 - RR_MARGIN_MS
    mean, _ = templates.expected_landmarks(715.0)
    np.testing.assert_allclose(mean, (intercept + slope * trusted) / trusted)
    assert (intercept[2] + slope[2] * 715.0) / 715.0 - mean[2] > 0.04  # what extrapolation would have given
    again = KinematicTemplates.from_state(templates.state_dict())
    assert again.rr_range_ms == (940.0, 1150.0)


def test_landmarks_never_meet():
    """Two landmarks that meet would make the warp, and so the velocity, infinitely steep between them:
    the fit keeps them MIN_LANDMARK_GAP apart and inside the cycle."""
    from models.kinematics.fit import MIN_LANDMARK_GAP, _monotone

    out = _monotone(np.array([0.149, 0.150, 0.150, 0.99, 0.995]))
    assert np.all(np.diff(out) >= MIN_LANDMARK_GAP - 1e-12)
    assert out[0] == pytest.approx(0.149) and out[-1] <= 1.0 - MIN_LANDMARK_GAP
    np.testing.assert_array_equal(_monotone(CANONICAL.copy()), CANONICAL)  # sensible landmarks are kept


def test_segment_priors_narrow_with_few_key_frames():
    assert segment_shrinkage(9) == 1.0 and segment_shrinkage(12) == 1.0
    assert segment_shrinkage(7) == pytest.approx(4 / 6) and segment_shrinkage(5) == pytest.approx(2 / 6)
    assert segment_shrinkage(4) == pytest.approx(1 / 6) and segment_shrinkage(3) == pytest.approx(1 / 6)
