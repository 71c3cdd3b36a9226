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
- **Truth**: a segment is abnormal when its motion scale is ``<= ABNORMAL_SCALE`` (0.7). A subject is a
  patient when any segment's scale is below 1 or its delay is not 0 (:func:`is_patient`).
- **Detection**: AUC is the Mann-Whitney probability that an abnormal segment scores lower than a normal
  one (ties count one half); a segment is called abnormal when its score is ``<= threshold``; the
  threshold maximises Youden's J on training data (:func:`youden_threshold`).
- **Dyssynchrony index**: the standard deviation (ms, population SD) of the radial systolic times to
  peak over a subject's segments.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from scipy.stats import rankdata

#: a segment whose regional motion scale is at most this is abnormal (hypokinetic or akinetic)
ABNORMAL_SCALE = 0.7
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


def subframe_peak(curve: np.ndarray, frame: int) -> tuple[float, float]:
    """Position (in frames, within [frame - 0.5, frame + 0.5]) and value of the parabola through the
    discrete peak at ``frame`` and its two neighbours on the periodic curve; the frame itself when a
    neighbour is missing or the three points are collinear."""
    curve = np.asarray(curve, dtype=np.float64)
    n = curve.size
    y0 = float(curve[frame])
    before, after = float(curve[(frame - 1) % n]), float(curve[(frame + 1) % n])
    curvature = before - 2.0 * y0 + after
    if n < 3 or not (math.isfinite(before) and math.isfinite(after)) or curvature == 0.0:
        return float(frame), y0
    offset = float(np.clip(0.5 * (before - after) / curvature, -0.5, 0.5))
    return frame + offset, y0 - 0.25 * (before - after) * offset


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


def abnormal_segments(motion_scale: Mapping[int, float]) -> dict[int, bool]:
    """Truth: segment -> abnormal (motion scale <= :data:`ABNORMAL_SCALE`)."""
    return {int(s): float(v) <= ABNORMAL_SCALE for s, v in motion_scale.items()}


def is_patient(motion_scale: Mapping[int, float], delay_ms: Mapping[int, float]) -> bool:
    """A subject is a patient when any segment moves less than normal or is early or late."""
    return any(float(v) < 1.0 for v in motion_scale.values()) or any(float(v) != 0.0 for v in delay_ms.values())


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
