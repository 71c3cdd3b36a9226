"""Regional function (assessment/regional.py, assessment/bootstrap.py): per-subject peak windows, sub-frame times to
peak, the dyssynchrony index, segment-peak agreement, hypokinesia detection and bootstrap intervals, on
hand-made curves and peaks whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assessment.bootstrap import (
    bootstrap_batched,
    bootstrap_mean_ci,
    bootstrap_statistic,
    paired_difference_ci,
    resampled_means,
)
from assessment.metrics import mean_skipping_nan
from assessment.regional import (
    FALLBACK_END_SYSTOLE,
    REGIONAL_PEAKS,
    RegionalPeaks,
    SubjectRegional,
    ci_columns,
    cohort_detection,
    cycle_windows,
    detection_auc,
    detection_rates,
    dyssynchrony_index,
    end_systole_fraction,
    fit_normals,
    fit_regional_normals,
    hypokinesia_scores,
    hypokinetic_ratio,
    peak_ratios,
    resampled_detection_auc,
    segment_agreement,
    subject_measures,
    summarise_regional,
    youden_threshold,
)
from assessment.regional_table import reference_method, subject_group
from assessment.truth import (
    ABNORMAL_SCALE,
    SubjectTruth,
    abnormal_segments,
    is_patient,
    pathology_flag,
    truth_from_attrs,
)
from assessment.velocity import DEFAULT_PEAK_WINDOWS, curve_peaks, subframe_peak
from util.errors import DataError

LAD = (1, 2, 7, 8, 13, 14)


def radial_cycle(phi: np.ndarray) -> np.ndarray:
    """A radial curve over the cycle fraction: systolic bump 0.05-0.33 (peak +4 at 0.19), E' dip
    0.33-0.60 (peak -6 at 0.465), A' dip 0.75-0.95 (peak -3 at 0.85); end-systole at 0.33."""
    phi = np.mod(phi, 1.0)
    out = np.zeros_like(phi)
    sys = (phi >= 0.05) & (phi < 0.33)
    out[sys] = 4 * np.sin(np.pi * (phi[sys] - 0.05) / 0.28)
    early = (phi >= 0.33) & (phi < 0.60)
    out[early] = -6 * np.sin(np.pi * (phi[early] - 0.33) / 0.27)
    late = (phi >= 0.75) & (phi < 0.95)
    out[late] = -3 * np.sin(np.pi * (phi[late] - 0.75) / 0.20)
    return out


# ------------------------------------------------------------------------------------------- windows


def test_end_systole_is_the_zero_crossing_after_the_systolic_peak() -> None:
    phi = np.arange(50) / 50
    assert end_systole_fraction(radial_cycle(phi)) == pytest.approx(0.33, abs=0.004)
    # No positive systolic peak: the fixed boundary.
    assert end_systole_fraction(-np.abs(radial_cycle(phi))) == FALLBACK_END_SYSTOLE


def test_subject_windows_keep_a_150_ms_late_systolic_peak_in_systole_at_rr_700() -> None:
    rr, n = 700.0, 50
    phi = np.arange(n) / n
    shift = 150.0 / rr
    late = radial_cycle(phi - shift)  # the whole segment curve 150 ms late
    windows = cycle_windows(radial_cycle(phi), rr)
    assert windows.end_systole == pytest.approx(0.33, abs=0.004)
    assert windows.segment_windows["systolic"] == pytest.approx((0.0, 0.33 + 200.0 / rr), abs=0.004)
    peaks = curve_peaks(late, rr, windows.segment_windows, subframe=True)
    assert peaks["systolic"]["value"] == pytest.approx(4.0, abs=0.05)
    assert peaks["systolic"]["time_ms"] == pytest.approx((0.19 + shift) * rr, abs=3.0)
    assert peaks["e_prime"]["time_ms"] == pytest.approx((0.465 + shift) * rr, abs=3.0)
    assert peaks["e_prime"]["value"] == pytest.approx(-6.0, abs=0.1)
    # The fixed windows cut the late systolic peak off at 0.40 of RR: a lower value, timed too early.
    fixed = curve_peaks(late, rr, DEFAULT_PEAK_WINDOWS)
    assert fixed["systolic"]["time_ms"] < 0.40 * rr < peaks["systolic"]["time_ms"]
    # An on-time segment is read at its own peaks with the same windows.
    on_time = curve_peaks(radial_cycle(phi), rr, windows.segment_windows, subframe=True)
    assert on_time["systolic"]["time_ms"] == pytest.approx(0.19 * rr, abs=3.0)
    assert on_time["a_prime"]["time_ms"] == pytest.approx(0.85 * rr, abs=3.0)


def test_subframe_peak_recovers_an_off_grid_peak() -> None:
    frames = np.arange(20, dtype=np.float64)
    parabola = 5.0 - (frames - 7.3) ** 2  # exactly a parabola around its peak
    position, value = subframe_peak(parabola, 7)
    assert position == pytest.approx(7.3) and value == pytest.approx(5.0)
    peaks = curve_peaks(parabola, 1000.0, {"systolic": (0, 0.5), "e_prime": (0.5, 0.8), "a_prime": (0.8, 1)},
                        subframe=True)  # fmt: skip
    assert peaks["systolic"]["time_ms"] == pytest.approx(365.0) and peaks["systolic"]["frame"] == 7
    # Periodic: a peak on frame 0 uses the last frame as its left neighbour.
    wrapped = np.cos(2 * np.pi * (frames / 20 + 0.01))  # peak at -0.2 frames = frame 19.8
    position, value = subframe_peak(wrapped, 0)
    assert position == pytest.approx(-0.2, abs=0.01) and value == pytest.approx(1.0, abs=1e-3)


# ------------------------------------------------------------------------------------- dyssynchrony


def test_one_segment_40_ms_late_gives_the_known_dyssynchrony_index() -> None:
    rr, n = 1000.0, 40
    t = np.arange(n) * rr / n
    times = {}
    for seg in range(1, 17):
        t0 = 200.0 + (40.0 if seg == 5 else 0.0)
        curve = np.cos(2 * np.pi * (t - t0) / rr)
        times[seg] = curve_peaks(curve, rr, subframe=True)["systolic"]["time_ms"]
    assert times[1] == pytest.approx(200.0, abs=1.0) and times[5] == pytest.approx(240.0, abs=1.0)
    # 15 segments at 200 ms, one at 240 ms: SD = 40 * sqrt(15) / 16.
    assert dyssynchrony_index(times) == pytest.approx(40 * math.sqrt(15) / 16, abs=0.3)
    assert dyssynchrony_index({1: 200.0, 2: math.nan}) != dyssynchrony_index({1: 200.0, 2: 210.0})
    assert math.isnan(dyssynchrony_index([200.0]))
    assert dyssynchrony_index([100.0, 140.0]) == pytest.approx(20.0)


# ----------------------------------------------------------------------------------------- agreement


def test_segment_agreement_r_and_mae() -> None:
    true = {1: 1.0, 2: 2.0, 3: 3.0, 4: 4.0}
    pred = {1: 2.0, 2: 4.0, 3: 6.0, 4: 8.0, 5: 9.0}  # segment 5 has no truth: left out
    out = segment_agreement(pred, true)
    assert out["r"] == pytest.approx(1.0) and out["mae"] == pytest.approx(2.5)
    anti = segment_agreement({1: 3.0, 2: 1.0, 3: 2.0}, {1: 1.0, 2: 3.0, 3: 2.0})
    assert anti["r"] == pytest.approx(-1.0) and anti["mae"] == pytest.approx(4.0 / 3)
    assert math.isnan(segment_agreement({1: 1.0, 2: 1.0, 3: 1.0}, {1: 1.0, 2: 2.0, 3: 3.0})["r"])


# ---------------------------------------------------------------------------------------- hypokinesia


def cohort_peaks() -> tuple[list[dict[int, float]], list[dict[int, float]], list[dict[int, float]]]:
    """Two healthy subjects, a patient with the LAD territory at half motion, and a patient whose
    segment 3 is abnormal in the truth but moves normally in the data (a miss)."""
    healthy = [dict.fromkeys(range(1, 17), 4.0), dict.fromkeys(range(1, 17), 5.0)]
    lad = {s: (2.0 if s in LAD else 4.0) for s in range(1, 17)}
    missed = dict.fromkeys(range(1, 17), 4.0)
    scales = [dict.fromkeys(range(1, 17), 1.0)] * 2
    scales += [{s: (0.5 if s in LAD else 1.0) for s in range(1, 17)}]
    scales += [{s: (0.6 if s == 3 else 1.0) for s in range(1, 17)}]
    return [*healthy, lad, missed], scales, healthy


def test_known_scaled_territory_gives_known_ratio_scores_and_auc() -> None:
    peaks, scales, healthy = cohort_peaks()
    normals = fit_regional_normals(healthy)
    assert normals == dict.fromkeys(range(1, 17), 1.0)
    truth = [abnormal_segments(s) for s in scales]
    assert hypokinetic_ratio(peaks[2], truth[2]) == pytest.approx(0.5)
    assert math.isnan(hypokinetic_ratio(peaks[0], truth[0]))  # no abnormal segment
    scores = [hypokinesia_scores(p, normals) for p in peaks]
    assert scores[2][1] == pytest.approx(0.5) and scores[2][3] == pytest.approx(1.0)
    flat_scores = [sc[s] for sc in scores for s in range(1, 17)]
    flat_truth = [tr[s] for tr in truth for s in range(1, 17)]
    # 6 abnormal segments below all 57 normal ones, 1 tied with all of them: (6 + 0.5) / 7.
    assert detection_auc(flat_scores, flat_truth) == pytest.approx(6.5 / 7)
    rates = detection_rates(flat_scores, flat_truth, 0.7)
    assert rates == {"sensitivity": pytest.approx(6 / 7), "specificity": 1.0}
    assert [is_patient(s, dict.fromkeys(s, 0.0)) for s in scales] == [False, False, True, True]
    assert is_patient({1: 1.0}, {1: 40.0})


def test_regional_normals_divide_out_a_segment_that_is_always_lower() -> None:
    # Apical segments move less in every healthy subject: relative to normals they are not abnormal.
    healthy = [{s: (2.0 if s >= 13 else 4.0) * k for s in range(1, 17)} for k in (1.0, 1.2, 0.9)]
    normals = fit_regional_normals(healthy)
    assert normals[13] == pytest.approx(0.5) and normals[1] == pytest.approx(1.0)
    scores = hypokinesia_scores({s: (2.0 if s >= 13 else 4.0) for s in range(1, 17)}, normals)
    assert scores[13] == pytest.approx(1.0) and scores[1] == pytest.approx(1.0)
    assert peak_ratios({1: 2.0, 2: 4.0, 3: 6.0}) == {1: 0.5, 2: 1.0, 3: 1.5}


def test_youden_threshold_and_rank_auc_with_ties() -> None:
    scores = [0.3, 0.5, 0.9, 1.0, 1.1]
    labels = [True, True, False, False, False]
    assert youden_threshold(scores, labels) == pytest.approx(0.7)  # halfway between 0.5 and 0.9
    assert detection_auc(scores, labels) == 1.0
    assert detection_auc([1.0, 1.0], [True, False]) == 0.5
    assert detection_auc([0.9, 0.4, 0.6], [True, False, False]) == 0.0
    assert math.isnan(detection_auc([0.1, 0.2], [False, False]))
    assert math.isnan(youden_threshold([0.1, 0.2], [True, True]))


# ------------------------------------------------------------------------------------------ bootstrap


def test_bootstrap_interval_contains_the_mean_and_is_reproducible() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 10.0, math.nan]
    low, high = bootstrap_mean_ci(values, seed=3)
    assert low < 4.0 < high  # the mean of the finite values
    assert low >= 1.0 and high <= 10.0
    assert bootstrap_mean_ci(values, seed=3) == (low, high)
    assert bootstrap_mean_ci(values, seed=4) != (low, high)
    assert bootstrap_mean_ci([2.5, 2.5, 2.5]) == (2.5, 2.5)
    assert all(math.isnan(v) for v in bootstrap_mean_ci([1.0]))


def test_paired_difference_resamples_subjects_together() -> None:
    ref = np.array([1.0, 5.0, 2.0, 8.0, 3.0])
    mean, low, high = paired_difference_ci(ref - 0.5, ref, seed=1)
    # The same shift on every subject: every resample has the same difference, however spread the values.
    assert (mean, low, high) == pytest.approx((-0.5, -0.5, -0.5))
    mean, low, high = paired_difference_ci([1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0], seed=1)
    assert mean == pytest.approx(2.5) and low < 2.5 < high


def test_bootstrap_statistic_skips_resamples_without_a_value() -> None:
    labels = np.array([True, False, False, False])
    # A statistic defined only when the resample holds subject 0.
    low, high = bootstrap_statistic(lambda idx: 1.0 if labels[idx].any() else math.nan, 4, n_resamples=200)
    assert (low, high) == (1.0, 1.0)
    with pytest.raises(ValueError, match="level"):
        bootstrap_statistic(lambda idx: 0.0, 4, level=1.5)


def test_resampled_auc_equals_ranking_every_resample() -> None:
    # Coarse scores (many ties), NaN scores, a subject without segments, subjects with one class only: the
    # all-at-once AUC must equal detection_auc on each pooled resample exactly, NaN where a class is empty.
    rng = np.random.default_rng(7)
    scores, abnormal = [], []
    for i in range(9):
        n = 0 if i == 4 else int(rng.integers(1, 8))
        s = np.round(rng.normal(1.0, 0.4, n), 1)
        s[rng.random(n) < 0.15] = math.nan
        a = rng.random(n) < (0.0 if i in (0, 1, 2) else 0.4)
        scores.append(s)
        abnormal.append(a)
    draws = rng.integers(0, 9, size=(500, 9))
    draws[:3] = [0, 1, 2, 0, 1, 2, 0, 1, 2]  # normal segments only
    draws[3] = 4  # no segment at all
    fast = resampled_detection_auc(scores, abnormal, draws)
    reference = [detection_auc(np.concatenate([scores[i] for i in idx]), np.concatenate([abnormal[i] for i in idx]))
                 for idx in draws]  # fmt: skip
    np.testing.assert_array_equal(fast, np.array(reference))
    assert np.isnan(fast[:4]).all() and np.isfinite(fast[4:]).sum() > 400


def test_resampled_means_equal_the_row_by_row_mean_to_the_bit() -> None:
    rng = np.random.default_rng(11)
    for n in (2, 7, 9, 47, 130):
        values = rng.normal(size=n) * 1e3
        draws = rng.integers(0, n, size=(400, n))
        expected = np.array([mean_skipping_nan(values[idx]) for idx in draws])
        np.testing.assert_array_equal(resampled_means(values, draws), expected)
        values[rng.random(n) < 0.3] = math.nan  # subjects without the measure: skipped, not zero
        values[0] = math.nan
        draws[0] = 0  # a resample of NaN only
        expected = np.array([mean_skipping_nan(values[idx]) for idx in draws])
        got = resampled_means(values, draws)
        np.testing.assert_array_equal(got, expected)
        assert math.isnan(got[0])


def test_bootstrap_batched_draws_the_same_resamples() -> None:
    values = np.random.default_rng(3).normal(size=12)
    each = bootstrap_statistic(lambda idx: float(values[idx].max()), 12, n_resamples=300, seed=5)
    at_once = bootstrap_batched(lambda draws: values[draws].max(axis=1), 12, n_resamples=300, seed=5)
    assert each == at_once


# ------------------------------------------------------------------------------- truth and cohort summary


def truth_of(scale: dict[int, float], delay: dict[int, float] | None = None) -> SubjectTruth:
    return SubjectTruth(scale, delay or dict.fromkeys(scale, 0.0))


def peaks_of(radial_systolic: dict[int, float]) -> RegionalPeaks:
    values = {f"{c}_{p}": dict(radial_systolic) for c, p in REGIONAL_PEAKS}
    return RegionalPeaks(values, dict.fromkeys(radial_systolic, 200.0), {})


def test_truth_from_slice_attributes() -> None:
    basal = {"aha_segment_ids": np.arange(1, 7), "aha_motion_scale": [0.5, 0.5, 1, 1, 1, 1],
             "aha_delay_ms": np.zeros(6)}  # fmt: skip
    apical = {"aha_segment_ids": np.arange(13, 17), "aha_motion_scale": np.ones(4), "aha_delay_ms": [0, 0, 60, 0]}
    truth = truth_from_attrs([basal, {"other": 1}, apical], pathology=False, where="s.h5")
    assert truth.known and truth.patient and sorted(truth.motion_scale) == [1, 2, 3, 4, 5, 6, 13, 14, 15, 16]
    assert truth.abnormal[1] and not truth.abnormal[3] and truth.delay_ms[15] == 60.0
    unknown = truth_from_attrs([{"other": 1}], pathology=False, where="s.h5")
    assert not unknown.known and not unknown.patient
    assert truth_from_attrs([{}], pathology=True, where="s.h5").patient
    with pytest.raises(DataError, match=r"s\.h5: a slice has"):
        truth_from_attrs([{"aha_segment_ids": [1]}], pathology=False, where="s.h5")
    with pytest.raises(DataError, match="differ in length"):
        truth_from_attrs([{**basal, "aha_delay_ms": [0.0]}], pathology=False, where="s.h5")


def test_fit_normals_threshold_by_youden_or_the_fixed_rule() -> None:
    healthy = peaks_of(dict.fromkeys(range(1, 17), 4.0))
    lad = peaks_of({s: (2.0 if s in LAD else 4.0) for s in range(1, 17)})
    lad_truth = truth_of({s: (0.5 if s in LAD else 1.0) for s in range(1, 17)})
    fitted = fit_normals([(healthy, truth_of(dict.fromkeys(range(1, 17), 1.0))), (lad, lad_truth)])
    # Only the healthy subject makes the normals; scores 0.5 (LAD) and 1.0: J = 1 at 0.5, halfway to 1.0.
    assert fitted.normals == dict.fromkeys(range(1, 17), 1.0) and fitted.n_healthy == 1
    assert fitted.threshold == pytest.approx(0.75) and fitted.threshold_rule == "youden"
    unknown = fit_normals([(healthy, SubjectTruth({}, {})), (lad, SubjectTruth({}, {}))])
    assert unknown.threshold == ABNORMAL_SCALE and unknown.threshold_rule == "fixed" and unknown.n_healthy == 2


def test_cohort_detection_and_healthy_false_positives() -> None:
    ones = dict.fromkeys(range(1, 17), 1.0)
    healthy_scores = {**ones, 2: 0.6}  # one healthy segment scores low: a false positive
    patient_scores = {s: (0.5 if s in LAD else 1.0) for s in range(1, 17)}
    truths = [truth_of(ones), truth_of({s: (0.5 if s in LAD else 1.0) for s in range(1, 17)}), SubjectTruth({}, {})]
    out = cohort_detection([healthy_scores, patient_scores, dict.fromkeys(range(1, 17), 0.1)], truths, 0.7)
    assert out["detect_healthy_fpr"] == pytest.approx(1 / 16)
    assert out["detect_sensitivity"] == 1.0 and out["detect_specificity"] == pytest.approx(25 / 26)
    # The unknown subject's low scores do not count; the healthy 0.6 is above the LAD's 0.5: AUC 1.
    assert out["detect_auc"] == 1.0


def test_subject_measures_against_a_reference() -> None:
    phi = np.arange(20) / 20
    ref = RegionalPeaks({f"{c}_{p}": {1: 1.0, 2: 2.0, 3: 3.0} for c, p in REGIONAL_PEAKS}, {1: 100.0, 2: 140.0},
                        {"mid": np.sin(2 * np.pi * phi)})  # fmt: skip
    data = RegionalPeaks({f"{c}_{p}": {1: 1.5, 2: 2.5, 3: 3.5} for c, p in REGIONAL_PEAKS}, {1: 100.0, 2: 100.0},
                         {"mid": 2 * np.sin(2 * np.pi * phi)})  # fmt: skip
    truth = truth_of({1: 0.5, 2: 1.0, 3: 1.0})
    out = subject_measures(data, ref, truth)
    assert out["seg_peak_radial_systolic_r"] == pytest.approx(1.0)
    assert out["seg_peak_longitudinal_e_prime_mae_cm_s"] == pytest.approx(0.5)
    assert out["dyssync_index_ms"] == 0.0 and out["dyssync_err_ms"] == pytest.approx(20.0)
    assert out["hypo_ratio"] == pytest.approx(1.5 / 3.0)
    assert out["circ_r_mid"] == pytest.approx(1.0) and math.isnan(out["circ_r_basal"])
    alone = subject_measures(data, None, SubjectTruth({}, {}))
    assert alone["dyssync_index_ms"] == 0.0 and math.isnan(alone["seg_peak_radial_systolic_r"])
    assert math.isnan(alone["hypo_ratio"])


def test_summarise_regional_means_intervals_and_paired_difference() -> None:
    truth = truth_of({s: (0.5 if s in LAD else 1.0) for s in range(1, 17)})
    scores = {s: (0.5 if s in LAD else 1.0) for s in range(1, 17)}
    method = [SubjectRegional(f"s{i}", {"dyssync_err_ms": float(e)}, scores, truth) for i, e in enumerate([2, 4, 6])]
    reference = [SubjectRegional(r.subject, {"dyssync_err_ms": r.measures["dyssync_err_ms"] + 10}, dict.fromkeys(
        range(1, 17), 1.0), truth) for r in method]  # fmt: skip
    out = summarise_regional(method, reference, 0.7, ["dyssync_err_ms", "detect_auc"], seed=0, n_resamples=300)
    assert out["dyssync_err_ms"] == pytest.approx(4.0) and out["detect_auc"] == 1.0
    assert out["dyssync_err_ms_ci_low"] < 4.0 < out["dyssync_err_ms_ci_high"]
    assert out["dyssync_err_ms_diff_ref"] == pytest.approx(-10.0)
    assert out["dyssync_err_ms_diff_ci_low"] == pytest.approx(-10.0) == out["dyssync_err_ms_diff_ci_high"]
    # The reference scores every segment 1.0: AUC 0.5; the method separates them: +0.5 in every resample.
    assert out["detect_auc_diff_ref"] == pytest.approx(0.5) and out["detect_auc_diff_ci_low"] == pytest.approx(0.5)
    assert ci_columns(["a"]) == ["a_ci_low", "a_ci_high", "a_diff_ref", "a_diff_ci_low", "a_diff_ci_high"]
    with pytest.raises(ValueError, match="subjects differ"):
        summarise_regional(method, reference[:2], 0.7, [])


def test_a_segment_at_exactly_the_cut_off_is_abnormal() -> None:
    assert abnormal_segments({1: 0.7, 2: 0.71, 3: 0.0}) == {1: True, 2: False, 3: True}


def test_bootstrap_percentiles_cut_2_5_percent_off_each_tail() -> None:
    # The statistic is uniform over 0, 0.01, ..., 1: its 2.5th and 97.5th percentiles are 0.025 and 0.975.
    low, high = bootstrap_statistic(lambda idx: idx[0] / 100.0, 101, n_resamples=4000, seed=2)
    assert low == pytest.approx(0.025, abs=0.011) and high == pytest.approx(0.975, abs=0.011)
    low90, high90 = bootstrap_statistic(lambda idx: idx[0] / 100.0, 101, n_resamples=4000, level=0.9, seed=2)
    assert low90 == pytest.approx(0.05, abs=0.011) and high90 == pytest.approx(0.95, abs=0.011)


def test_groups_and_the_reference_method() -> None:
    assert subject_group(truth_of({1: 1.0})) == "healthy"
    assert subject_group(truth_of({1: 1.0}, {1: 80.0})) == "patients"
    assert subject_group(SubjectTruth({}, {}, pathology=True)) == "patients"
    assert subject_group(SubjectTruth({}, {})) == "unknown"
    assert reference_method(["hdl", "population", "population_bulk"]) == "population_bulk"
    assert reference_method(["hdl", "population"]) == "population" and reference_method(["hdl"]) is None
    assert pathology_flag({"phantom": {"pathology": True}}) and not pathology_flag({"phantom": {"seed": 1}})
    assert pathology_flag({"pathology": 1}) and not pathology_flag({})
    # The phantom's files: a boolean ``patient`` beside a one-line description in ``pathology``.
    assert not pathology_flag({"patient": False, "pathology": "healthy", "phantom": {"pathology": {"patient": False}}})
    assert pathology_flag({"patient": True, "pathology": "LAD territory, motion scale 0.30"})
    assert pathology_flag({"phantom": {"pathology": {"patient": True, "kind": "lbbb"}}})


def test_clinical_label_reads_the_phantoms_attributes_and_says_nothing_without_them() -> None:
    from assessment.truth import clinical_label

    lad = {"patient": np.bool_(True), "pathology": "LAD territory, motion scale 0.32"}
    assert clinical_label(lad) == ("patient", "LAD territory, motion scale 0.32")
    assert clinical_label({"patient": False, "pathology": b"healthy"}) == ("healthy", "healthy")
    assert clinical_label({"rr_interval_ms": 900.0}) == ("", "")  # scanner data: left blank
