"""Landmarks of the cardiac cycle on a global radial velocity curve, to sub-frame precision.

The radial velocity (positive towards the LV centre: contraction) of a short-axis slice rises from zero
at the onset of contraction to its systolic peak, crosses zero at end-systole, falls to the early
diastolic (E') trough and, after diastasis, to the atrial (A') trough. Those five events are the
landmarks of this module, as cycle fractions (0 = R wave, 1 = the next one):

========== ===========================================================================================
onset      the curve first reaches 20 % of its systolic peak (a level, not zero: a measured curve is never
           exactly zero before contraction)
systolic   the systolic peak, the largest value in the first half of the cycle
end_syst.  after the systolic peak, the curve falls below 5 % of it (inward motion stops; a level, not
           zero, because isovolumic relaxation holds the wall nearly still before it recoils)
e_peak     the E' trough, the smallest value in the 0.3 of the cycle after end-systole
a_peak     the A' trough, the smallest value between 0.2 after E' and the end of the cycle
========== ===========================================================================================

Peaks are refined by a parabola through the peak sample and its two neighbours, crossings by linear
interpolation, so the times are finer than a frame.
"""

from __future__ import annotations

import numpy as np

#: Landmark names, in cycle order.
LANDMARKS: tuple[str, ...] = ("onset", "systolic_peak", "end_systole", "e_peak", "a_peak")
#: Fractions of the systolic peak that mark the onset of contraction and end-systole.
ONSET_LEVEL = 0.2
END_SYSTOLE_LEVEL = 0.05


def parabolic_peak(values: np.ndarray, index: int) -> tuple[float, float]:
    """Sub-sample position (in samples, periodic) and value of an extremum at ``values[index]``."""
    n = values.size
    left, centre, right = values[(index - 1) % n], values[index], values[(index + 1) % n]
    curvature = left - 2.0 * centre + right
    if curvature == 0.0 or not np.isfinite(curvature):
        return float(index), float(centre)
    offset = float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))
    return index + offset, float(centre - 0.25 * (left - right) * offset)


def _crossing(values: np.ndarray, start: int, stop: int, level: float, step: int) -> float | None:
    """First sample position (linear interpolation) from ``start`` towards ``stop`` where the curve passes
    ``level`` going from above to below it (``step`` +1: forwards; -1: backwards, from above)."""
    for i in range(start, stop, step):
        a, b = values[i], values[i + step]
        if a >= level > b:
            return i + step * (a - level) / (a - b)
    return None


def detect_landmarks(radial: np.ndarray) -> np.ndarray | None:
    """Cycle fractions [5] of :data:`LANDMARKS` on a global radial curve [T] (T >= 12), or None when the
    curve does not show them in order (no positive systolic peak, no end-systole before 0.75 of the cycle,
    or no A' trough)."""
    v = np.nan_to_num(np.asarray(radial, dtype=np.float64))
    n = v.size
    if n < 12:
        return None
    first_half = np.arange(1, n // 2)
    s_idx = int(first_half[np.argmax(v[first_half])])
    s_pos, s_val = parabolic_peak(v, s_idx)
    if s_val <= 0:
        return None
    onset = _crossing(v, s_idx, 0, ONSET_LEVEL * s_val, -1)
    es = _crossing(v, s_idx, int(0.75 * n), END_SYSTOLE_LEVEL * s_val, 1)
    if onset is None or es is None:
        return None
    e_window = np.arange(int(np.ceil(es)), min(n - 2, int(es + 0.3 * n)) + 1)
    if e_window.size == 0:
        return None
    e_pos, _ = parabolic_peak(v, int(e_window[np.argmin(v[e_window])]))
    a_window = np.arange(int(e_pos + 0.2 * n), n)
    if a_window.size < 2:
        return None
    a_pos, _ = parabolic_peak(v, int(a_window[np.argmin(v[a_window])]))
    times = np.array([onset, s_pos, es, e_pos, a_pos]) / n
    return times if np.all(np.diff(times) > 0) and times[-1] < 1.0 else None
