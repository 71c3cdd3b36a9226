"""Regional function: per-subject peak windows, segment peaks, their agreement, hypokinesia detection and
the dyssynchrony index.

Rules (stage-free; the report and the stage-2 evaluation apply them):

- **Peak windows from the subject's own cycle** (:func:`cycle_windows`). End-systole is where the global
  radial curve, after its systolic peak (the maximum before mid-cycle), first crosses zero (linear
  interpolation between frames); a curve without such a crossing falls back to the fixed 0.40 of RR.
  Clamped to 0.2-0.6 of RR. The global curve is read in ``systolic [0, ES)``, ``E' [ES, B)``,
  ``A' [B, 1)`` with ``B`` the middle of diastole. A segment may be late (dyssynchrony shifts its whole
  curve by up to ~150 ms), so its windows are wider by a margin ``m = delay_margin_ms / RR``: systolic
  ``[0, ES + m)``, E' ``[ES, B + m / 2)``, A' the rest; both capped at 0.8 of RR so that A' keeps its
  window. The windows overlap, which is harmless because the systolic peak is a maximum and the
  diastolic peaks are minima of the radial and longitudinal curves.
- **Segment score** (:func:`hypokinesia_scores`): the segment's systolic radial peak divided by the
  median over the subject's segments, divided by that segment's ratio in healthy subjects (the
  *regional normals*, :func:`fit_regional_normals`: per segment, the median ratio over healthy subjects).
  About 1 for a normal segment, about the motion scale for a hypokinetic one; lower is more abnormal.
  The normals are fitted at evaluation time on the acquired velocity of the training and validation
  subjects that are not known patients (``assessment.analysis.training_normals``); without any, every ratio is 1.
- **Truth** (``assessment.truth``): a segment is abnormal when its motion scale is ``<= ABNORMAL_SCALE``
  (0.7). A subject is a patient when any segment's scale is below 1 or its delay is not 0.
- **Detection**: AUC is the Mann-Whitney probability that an abnormal segment scores lower than a normal
  one (ties count one half); a segment is called abnormal when its score is ``<= threshold``; the
  threshold maximises Youden's J on the training subjects' scores (:func:`youden_threshold`,
  :func:`fit_normals`), or is :data:`ABNORMAL_SCALE` when the training data hold no abnormal segment
  with known truth. Sensitivity and specificity are pooled over the subject-segments with known truth;
  the healthy false-positive rate is the share of the healthy subjects' segments called abnormal.
- **Dyssynchrony index**: the standard deviation (ms, population SD) of the radial systolic times to
  peak over a subject's segments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from scipy.stats import rankdata

from assessment.bootstrap import DEFAULT_RESAMPLES, bootstrap_draws, percentile_interval, resampled_means
from assessment.metrics import curve_agreement, mean_skipping_nan
from assessment.truth import ABNORMAL_SCALE, SubjectTruth
from assessment.velocity import VelocityCurves, peak_summary, velocity_curves
from data.mvm_io import SLICE_POSITIONS

#: extra room for a late segment's peaks: LBBB delays reach ~150 ms, plus a frame or two
DEFAULT_DELAY_MARGIN_MS = 200.0
#: end-systole (fraction of RR) when the global radial curve shows no zero crossing after its peak
FALLBACK_END_SYSTOLE = 0.40
_END_SYSTOLE_RANGE = (0.2, 0.6)
_WINDOW_CAP = 0.8
#: the segment peaks compared between data sets: (component, peak)
REGIONAL_PEAKS: tuple[tuple[str, str], ...] = (
    ("radial", "systolic"),
    ("radial", "e_prime"),
    ("longitudinal", "systolic"),
    ("longitudinal", "e_prime"),
)


# ----------------------------------------------------------------------------------------- windows
@dataclass(frozen=True)
class CycleWindows:
    """Peak windows (fractions of RR) of one cycle: for the global curve and, wider, for the segments."""

    end_systole: float
    global_windows: Mapping[str, tuple[float, float]]
    segment_windows: Mapping[str, tuple[float, float]]


def end_systole_fraction(global_radial: np.ndarray) -> float:
    """End-systole as a fraction of the cycle: the first downward zero crossing of the global radial curve
    after its systolic peak, interpolated between frames (see the module docstring)."""
    curve = np.asarray(global_radial, dtype=np.float64)
    n = curve.size
    early = np.flatnonzero(np.isfinite(curve) & (np.arange(n) < n / 2))
    if early.size == 0 or curve[early].max() <= 0:
        return FALLBACK_END_SYSTOLE
    peak = int(early[np.argmax(curve[early])])
    for k in range(peak + 1, n):
        if not np.isfinite(curve[k]):
            continue
        if curve[k] <= 0:
            before, after = curve[k - 1], curve[k]
            # Linear interpolation of the crossing between frames k - 1 and k.
            crossing = (k - 1) + before / (before - after) if np.isfinite(before) and before > 0 else float(k)
            return float(np.clip(crossing / n, *_END_SYSTOLE_RANGE))
    return FALLBACK_END_SYSTOLE


def cycle_windows(
    global_radial: np.ndarray, rr_interval_ms: float, delay_margin_ms: float = DEFAULT_DELAY_MARGIN_MS
) -> CycleWindows:
    """The systolic / E' / A' windows of one cycle from its global radial curve [T] (module docstring)."""
    rr = float(rr_interval_ms)
    if not math.isfinite(rr) or rr <= 0:
        raise ValueError(f"rr_interval_ms must be positive, got {rr_interval_ms}")
    if not math.isfinite(delay_margin_ms) or delay_margin_ms < 0:
        raise ValueError(f"delay_margin_ms must be >= 0, got {delay_margin_ms}")
    es = end_systole_fraction(global_radial)
    margin = float(delay_margin_ms) / rr
    middle = es + 0.5 * (1.0 - es)  # E' lies in early diastole, A' in late diastole
    boundary = max(min(middle + margin / 2, _WINDOW_CAP), middle)
    systolic_end = max(min(es + margin, _WINDOW_CAP), es)
    global_windows = {"systolic": (0.0, es), "e_prime": (es, middle), "a_prime": (middle, 1.0)}
    segment_windows = {"systolic": (0.0, systolic_end), "e_prime": (es, boundary), "a_prime": (boundary, 1.0)}
    return CycleWindows(es, MappingProxyType(global_windows), MappingProxyType(segment_windows))


# ------------------------------------------------------------------------------------ agreement
def segment_agreement(pred: Mapping[int, float], true: Mapping[int, float]) -> dict[str, float]:
    """Pearson r and mean absolute error of two sets of segment peaks (AHA number -> value), over the
    segments both have a finite value for; r is NaN for fewer than 3 segments or a constant set."""
    common = sorted(s for s in set(pred) & set(true) if math.isfinite(pred[s]) and math.isfinite(true[s]))
    if not common:
        return {"r": math.nan, "mae": math.nan}
    p = np.array([pred[s] for s in common])
    t = np.array([true[s] for s in common])
    mae = float(np.mean(np.abs(p - t)))
    dp, dt = p - p.mean(), t - t.mean()
    denom = float(np.sqrt(np.sum(dp**2) * np.sum(dt**2)))
    r = float(np.sum(dp * dt) / denom) if p.size >= 3 and denom > 0 else math.nan
    return {"r": r, "mae": mae}


def dyssynchrony_index(times_to_peak_ms: Mapping[int, float] | Sequence[float]) -> float:
    """SD (ms) of the segments' systolic times to peak (population SD: the segments are all of them, not a
    sample); segments without a time are left out; NaN when fewer than two have one."""
    values = times_to_peak_ms.values() if isinstance(times_to_peak_ms, Mapping) else times_to_peak_ms
    times = np.array([float(v) for v in values], dtype=np.float64)
    times = times[np.isfinite(times)]
    return float(np.std(times)) if times.size >= 2 else math.nan


# -------------------------------------------------------------------------------- hypokinesia
def peak_ratios(peaks: Mapping[int, float]) -> dict[int, float]:
    """Each segment's peak over the median of the subject's finite segment peaks (NaN if that is <= 0)."""
    finite = [v for v in peaks.values() if math.isfinite(v)]
    median = float(np.median(finite)) if finite else math.nan
    if not median > 0:
        return dict.fromkeys(peaks, math.nan)
    return {s: float(v) / median for s, v in peaks.items()}


def fit_regional_normals(healthy_peaks: Sequence[Mapping[int, float]]) -> dict[int, float]:
    """Per AHA segment, the median of :func:`peak_ratios` over healthy subjects' systolic radial peaks."""
    collected: dict[int, list[float]] = {}
    for peaks in healthy_peaks:
        for s, ratio in peak_ratios(peaks).items():
            if math.isfinite(ratio):
                collected.setdefault(int(s), []).append(ratio)
    return {s: float(np.median(v)) for s, v in sorted(collected.items())}


def hypokinesia_scores(peaks: Mapping[int, float], normals: Mapping[int, float]) -> dict[int, float]:
    """Segment scores (module docstring): ratio to the subject's median over the healthy ratio; a segment
    without a normal (none fitted) is divided by 1."""
    scores = {}
    for s, ratio in peak_ratios(peaks).items():
        normal = float(normals.get(int(s), 1.0))
        scores[int(s)] = ratio / normal if normal > 0 else math.nan
    return scores


def hypokinetic_ratio(peaks: Mapping[int, float], abnormal: Mapping[int, bool]) -> float:
    """Mean peak of the abnormal segments over the mean of the normal ones (NaN without both kinds)."""
    low = [peaks[s] for s, bad in abnormal.items() if bad and s in peaks and math.isfinite(peaks[s])]
    normal = [peaks[s] for s, bad in abnormal.items() if not bad and s in peaks and math.isfinite(peaks[s])]
    if not low or not normal or np.mean(normal) == 0:
        return math.nan
    return float(np.mean(low) / np.mean(normal))


# ------------------------------------------------------------------------------------ detection
def _finite_pairs(scores: Sequence[float], abnormal: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64)
    a = np.asarray(abnormal, dtype=bool)
    if s.shape != a.shape:
        raise ValueError(f"scores and labels differ in length: {s.size} vs {a.size}")
    keep = np.isfinite(s)
    return s[keep], a[keep]


def detection_auc(scores: Sequence[float], abnormal: Sequence[bool]) -> float:
    """Probability that an abnormal segment scores lower than a normal one, ties counting one half
    (Mann-Whitney U from mid-ranks); NaN without both kinds."""
    s, a = _finite_pairs(scores, abnormal)
    n_bad, n_good = int(a.sum()), int((~a).sum())
    if n_bad == 0 or n_good == 0:
        return math.nan
    ranks = rankdata(s)  # mid-ranks: tied scores share the mean of their ranks
    u_good = float(ranks[~a].sum()) - n_good * (n_good + 1) / 2.0
    return u_good / (n_bad * n_good)


def _half_pair_counts(scores: Sequence[np.ndarray], abnormal: Sequence[np.ndarray]) -> np.ndarray:
    """[n, n] matrix: entry (i, k) is twice the Mann-Whitney count of the pairs (normal segment of subject
    i, abnormal segment of subject k), i.e. 2 per normal scoring higher plus 1 per tie. Doubled so that
    it holds integers: every later sum is then exact in float64."""
    n = len(scores)
    bad = np.concatenate([np.empty(0), *(s[a] for s, a in zip(scores, abnormal, strict=True))])
    owner = np.repeat(np.arange(n), [int(a.sum()) for a in abnormal]).astype(np.int64)
    half = np.empty((n, bad.size))
    for i, (s, a) in enumerate(zip(scores, abnormal, strict=True)):
        good = np.sort(s[~a])
        below = np.searchsorted(good, bad, side="left")
        up_to = np.searchsorted(good, bad, side="right")
        half[i] = 2 * (good.size - up_to) + (up_to - below)
    return half @ (owner[:, None] == np.arange(n)).astype(np.float64)


def resampled_detection_auc(
    scores: Sequence[np.ndarray], abnormal: Sequence[np.ndarray], draws: np.ndarray
) -> np.ndarray:
    """:func:`detection_auc` of the pooled segments of the subjects in each row of ``draws`` (subject
    positions, repeats allowed), for all rows at once; ``scores[i]`` / ``abnormal[i]`` are subject i's.

    A resample is a multiset of subjects with counts ``c``, so its Mann-Whitney U is ``c @ P @ c`` with
    ``P`` the per-subject-pair counts, computed once instead of ranking every resample. All sums are of
    integers (half-units), hence exact, and the final division is the one :func:`detection_auc` does:
    the values are identical to it, bit for bit (NaN where a class is empty)."""
    finite = [np.isfinite(np.asarray(s, dtype=np.float64)) for s in scores]
    s = [np.asarray(v, dtype=np.float64)[k] for v, k in zip(scores, finite, strict=True)]
    a = [np.asarray(v, dtype=bool)[k] for v, k in zip(abnormal, finite, strict=True)]
    n = len(s)
    draws = np.asarray(draws, dtype=np.int64)
    n_rows = draws.shape[0]
    rows = np.repeat(np.arange(n_rows), draws.shape[1])
    counts = np.bincount(rows * n + draws.ravel(), minlength=n_rows * n).reshape(n_rows, n).astype(np.float64)
    n_bad = counts @ np.array([float(v.sum()) for v in a])
    n_good = counts @ np.array([float((~v).sum()) for v in a])
    u_good = ((counts @ _half_pair_counts(s, a)) * counts).sum(axis=1) / 2.0
    pairs = n_bad * n_good
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pairs > 0, u_good / np.where(pairs > 0, pairs, 1.0), np.nan)


def detection_rates(scores: Sequence[float], abnormal: Sequence[bool], threshold: float) -> dict[str, float]:
    """Sensitivity and specificity of "abnormal when score <= threshold" (NaN where a class is empty)."""
    s, a = _finite_pairs(scores, abnormal)
    called = s <= threshold
    sensitivity = float(called[a].mean()) if a.any() else math.nan
    specificity = float((~called[~a]).mean()) if (~a).any() else math.nan
    return {"sensitivity": sensitivity, "specificity": specificity}


def youden_threshold(scores: Sequence[float], abnormal: Sequence[bool]) -> float:
    """The threshold maximising sensitivity + specificity - 1 (the first such score, then moved halfway to
    the next larger score so that data scoring between the two is called like the training data
    below it); NaN without both kinds."""
    s, a = _finite_pairs(scores, abnormal)
    if not a.any() or a.all():
        return math.nan
    candidates = np.unique(s)
    j = [sum(detection_rates(s, a, float(c)).values()) - 1.0 for c in candidates]
    best = int(np.argmax(j))
    if best + 1 < candidates.size:
        return float(0.5 * (candidates[best] + candidates[best + 1]))
    return float(candidates[best])


# ------------------------------------------------------------------------------ one subject, one data set
def assess_slice(
    velocity: np.ndarray,
    myocardium: np.ndarray,
    slice_position: str,
    rr_interval_ms: float,
    z_towards_apex: int = 1,
    septum_deg: float | None = None,
    rv_mask: np.ndarray | None = None,
) -> tuple[VelocityCurves, dict[str, dict], CycleWindows]:
    """Curves, peaks and windows of one slice: ``assessment.velocity.velocity_curves``, then the peaks in the
    slice's own cycle windows (:func:`cycle_windows`), timed to a fraction of a frame."""
    curves = velocity_curves(velocity, myocardium, slice_position, z_towards_apex, septum_deg, rv_mask)
    windows = cycle_windows(curves.radial, rr_interval_ms)
    peaks = peak_summary(curves, rr_interval_ms, windows.global_windows, windows.segment_windows, subframe=True)
    return curves, peaks, windows


@dataclass(frozen=True)
class RegionalPeaks:
    """What regional function reads from one data set of one subject.

    ``values["radial_systolic"]`` maps AHA segment -> peak (cm/s), likewise for every
    :data:`REGIONAL_PEAKS`; ``ttp_ms`` the radial systolic time to peak per segment;
    ``circumferential`` the global circumferential curve per slice position.
    """

    values: dict[str, dict[int, float]]
    ttp_ms: dict[int, float]
    circumferential: dict[str, np.ndarray]


# ----------------------------------------------------------------------------------- per-subject measures
SEGMENT_PEAK_COLUMNS = tuple(f"seg_peak_{c}_{p}_{stat}" for c, p in REGIONAL_PEAKS for stat in ("r", "mae_cm_s"))
SUBJECT_COLUMNS = (
    *SEGMENT_PEAK_COLUMNS,
    "hypo_ratio",
    "dyssync_index_ms",
    "dyssync_err_ms",
    *(f"circ_r_{level}" for level in SLICE_POSITIONS),
)
COHORT_COLUMNS = ("detect_auc", "detect_sensitivity", "detect_specificity", "detect_healthy_fpr")


def subject_measures(data: RegionalPeaks, reference: RegionalPeaks | None, truth: SubjectTruth) -> dict[str, float]:
    """:data:`SUBJECT_COLUMNS` of one data set of one subject against ``reference`` (the truth's or the
    acquired peaks; without one, only ``dyssync_index_ms`` and ``hypo_ratio``). ``hypo_ratio`` is the
    mean systolic radial peak of the truly abnormal segments over that of the normal ones, in ``data``."""
    out = dict.fromkeys(SUBJECT_COLUMNS, math.nan)
    out["dyssync_index_ms"] = dyssynchrony_index(data.ttp_ms)
    if truth.known:
        out["hypo_ratio"] = hypokinetic_ratio(data.values["radial_systolic"], truth.abnormal)
    if reference is None:
        return out
    for c, p in REGIONAL_PEAKS:
        agreement = segment_agreement(data.values[f"{c}_{p}"], reference.values[f"{c}_{p}"])
        out[f"seg_peak_{c}_{p}_r"], out[f"seg_peak_{c}_{p}_mae_cm_s"] = agreement["r"], agreement["mae"]
    out["dyssync_err_ms"] = abs(out["dyssync_index_ms"] - dyssynchrony_index(reference.ttp_ms))
    for level in SLICE_POSITIONS:
        if level in data.circumferential and level in reference.circumferential:
            agreement = curve_agreement(data.circumferential[level], reference.circumferential[level])
            out[f"circ_r_{level}"] = agreement["correlation"]
    return out


# --------------------------------------------------------------------------------- normals and cohort
@dataclass(frozen=True)
class RegionalNormals:
    """Regional normals (AHA segment -> healthy peak ratio) and the detection threshold on the scores.

    ``threshold_rule`` says where the threshold came from: ``youden`` (maximising Youden's J on the
    training data's scores) or ``fixed`` (:data:`ABNORMAL_SCALE`, the truth's own cut-off, when the
    training data hold no abnormal segment with known truth).
    """

    normals: dict[int, float]
    threshold: float = ABNORMAL_SCALE
    n_healthy: int = 0
    threshold_rule: str = "fixed"


def fit_normals(training: Sequence[tuple[RegionalPeaks, SubjectTruth]]) -> RegionalNormals:
    """Normals from the subjects that are not known patients, then the threshold (see
    :class:`RegionalNormals`) on every training subject whose truth is known."""
    healthy = [peaks.values["radial_systolic"] for peaks, truth in training if not truth.patient]
    normals = fit_regional_normals(healthy)
    scores, labels = [], []
    for peaks, truth in training:
        if truth.known:
            subject_scores = hypokinesia_scores(peaks.values["radial_systolic"], normals)
            for seg, bad in truth.abnormal.items():
                scores.append(subject_scores.get(seg, math.nan))
                labels.append(bad)
    threshold = youden_threshold(scores, labels) if scores else math.nan
    if math.isfinite(threshold):
        return RegionalNormals(normals, threshold, len(healthy), "youden")
    return RegionalNormals(normals, ABNORMAL_SCALE, len(healthy), "fixed")


def _flatten(scores: Sequence[Mapping[int, float]], truths: Sequence[SubjectTruth]) -> tuple[list[float], list[bool]]:
    flat_scores, flat_labels = [], []
    for subject_scores, truth in zip(scores, truths, strict=True):
        for seg, bad in truth.abnormal.items():
            flat_scores.append(subject_scores.get(seg, math.nan))
            flat_labels.append(bad)
    return flat_scores, flat_labels


def cohort_detection(
    scores: Sequence[Mapping[int, float]], truths: Sequence[SubjectTruth], threshold: float
) -> dict[str, float]:
    """:data:`COHORT_COLUMNS` pooled over the subject-segments of the subjects whose truth is known:
    AUC, sensitivity and specificity at ``threshold``, and the false-positive rate over the segments of
    the healthy subjects (the share called abnormal)."""
    flat_scores, flat_labels = _flatten(scores, truths)
    rates = detection_rates(flat_scores, flat_labels, threshold)
    healthy = [i for i, t in enumerate(truths) if t.known and not t.patient]
    healthy_scores, _ = _flatten([scores[i] for i in healthy], [truths[i] for i in healthy])
    finite = np.array([v for v in healthy_scores if math.isfinite(v)])
    return {
        "detect_auc": detection_auc(flat_scores, flat_labels),
        "detect_sensitivity": rates["sensitivity"],
        "detect_specificity": rates["specificity"],
        "detect_healthy_fpr": float(np.mean(finite <= threshold)) if finite.size else math.nan,
    }


# ------------------------------------------------------------------------------ one method over a cohort
@dataclass(frozen=True)
class SubjectRegional:
    """One method's regional reading of one subject: per-subject measures (:data:`SUBJECT_COLUMNS` and any
    other per-subject metric the caller adds), hypokinesia scores per segment, the subject's truth."""

    subject: str
    measures: dict[str, float]
    scores: dict[int, float]
    truth: SubjectTruth


def _subject_statistic(rows: Sequence[SubjectRegional], metric: str) -> Callable[[np.ndarray], np.ndarray]:
    """``draws -> values``: ``metric`` over the subjects in each row of ``draws`` (subject positions,
    repeats allowed), one value per row, all rows at once (:func:`resampled_detection_auc`,
    :func:`resampled_means`: each value that of the statistic on its row alone)."""
    if metric == "detect_auc":
        per_subject = [_flatten([r.scores], [r.truth]) for r in rows]
        scores = [np.asarray(s, dtype=np.float64) for s, _ in per_subject]
        abnormal = [np.asarray(a, dtype=bool) for _, a in per_subject]
        return lambda draws: resampled_detection_auc(scores, abnormal, draws)
    values = np.array([float(r.measures.get(metric, math.nan)) for r in rows], dtype=np.float64)
    return lambda draws: resampled_means(values, draws)


def summarise_regional(
    rows: Sequence[SubjectRegional],
    reference: Sequence[SubjectRegional] | None,
    threshold: float,
    ci_metrics: Sequence[str],
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> dict[str, float]:
    """One method's regional summary over a cohort: the mean over subjects of every per-subject measure,
    :func:`cohort_detection`, and for each of ``ci_metrics`` its 95 % bootstrap interval over subjects
    (``<metric>_ci_low`` / ``_ci_high``) and, when ``reference`` (the reference method's rows, same
    subjects in the same order) is given, the difference from it (``<metric>_diff_ref``) with its
    paired interval (``_diff_ci_low`` / ``_diff_ci_high``; the same resampled subjects for both)."""
    if reference is not None and [r.subject for r in reference] != [r.subject for r in rows]:
        raise ValueError("summarise_regional: the reference method's subjects differ from the method's")
    names = list(dict.fromkeys(k for r in rows for k in r.measures))
    out = {k: mean_skipping_nan([r.measures.get(k, math.nan) for r in rows]) for k in names}
    out.update(cohort_detection([r.scores for r in rows], [r.truth for r in rows], threshold))
    everyone = np.arange(len(rows))[None]  # one "resample": every subject once
    # One set of resamples for every metric and for the paired differences; each method's statistic is
    # evaluated on it once (the interval and the difference's interval share those values).
    draws = bootstrap_draws(len(rows), n_resamples, seed)
    nan_pair = (math.nan, math.nan)
    for metric in ci_metrics:
        stat = _subject_statistic(rows, metric)
        values = None if draws is None else stat(draws)
        out[f"{metric}_ci_low"], out[f"{metric}_ci_high"] = nan_pair if values is None else percentile_interval(values)
        diff = dict.fromkeys(("diff_ref", "diff_ci_low", "diff_ci_high"), math.nan)
        if reference is not None:
            ref_stat = _subject_statistic(reference, metric)
            diff["diff_ref"] = float(stat(everyone)[0] - ref_stat(everyone)[0])
            if values is not None:
                diff["diff_ci_low"], diff["diff_ci_high"] = percentile_interval(values - ref_stat(draws))
        out.update({f"{metric}_{k}": v for k, v in diff.items()})
    return out


def ci_columns(metrics: Sequence[str]) -> list[str]:
    """The interval columns :func:`summarise_regional` adds for ``metrics``, in table order."""
    suffixes = ("ci_low", "ci_high", "diff_ref", "diff_ci_low", "diff_ci_high")
    return [f"{m}_{s}" for m in metrics for s in suffixes]


# ------------------------------------------------------------------------------------- training data
