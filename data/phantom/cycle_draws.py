"""Drawing a subject's cardiac cycle: the landmark times as fractions of RR, the altered waveform shapes,
and the motion amplitudes solved so that the velocities meet the design brief's targets (the velocity
ranges are the targets, the motion follows; see ``data.phantom.sampling``'s docstring for the ranges).
"""

from __future__ import annotations

import numpy as np

from data.phantom.motion import Humps, contraction_waveform
from data.phantom.params import Timing
from data.phantom.variety import uniform as _u


def draw_timing(rng: np.random.Generator, rr_ms: float) -> tuple[Timing, dict[str, float]]:
    """Event times (fractions of RR) and the longitudinal shape parameters that close the cycle."""
    onset = float(np.clip(_u(rng, 50.0, 100.0) / rr_ms, 0.05, 0.15))
    # End-systole ~ QT-like scaling with heart rate, then clipped to the brief's 0.30-0.40 RR.
    es = float(np.clip((370.0 * np.sqrt(rr_ms / 1000.0) + _u(rng, -25.0, 25.0)) / rr_ms, 0.30, 0.40))
    sys_peak = onset + (es - onset) * _u(rng, 0.30, 0.45)
    e_peak = max(_u(rng, 0.45, 0.50), min(es + 0.07, 0.50))
    gap = e_peak - es  # isovolumic relaxation + E' acceleration time (40-70 ms)
    e_start = e_peak - float(np.clip(_u(rng, 40.0, 70.0) / rr_ms, 0.3 * gap, 0.65 * gap))
    a_peak = _u(rng, 0.85, 0.90)
    a_start = a_peak - _u(rng, 0.04, 0.07)
    a_end = a_peak + _u(rng, 0.04, 0.07)
    # Longitudinal amplitudes (base); E' fall width from the closure S' area = E' area + A' area.
    s_base = _u(rng, 7.0, 9.0)
    e_base = _u(rng, 10.0, 15.0)
    ratio_a = _u(rng, 0.35, 0.70)
    sys_area = s_base * 0.5 * (es - onset)
    a_area = ratio_a * e_base * 0.5 * (a_end - a_start)
    e_rise = e_peak - e_start
    e_fall = 2.0 * (sys_area - a_area) / e_base - e_rise
    e_fall = float(np.clip(e_fall, e_rise, a_start - 0.02 - e_peak))
    e_area = e_base * 0.5 * (e_rise + e_fall)
    ratio_a = (sys_area - e_area) / (e_base * 0.5 * (a_end - a_start))
    if not 0.25 <= ratio_a <= 1.0:  # rare: rescale E' (and A') to close the cycle
        ratio_a = float(np.clip(ratio_a, 0.25, 1.0))
        e_base = sys_area / (0.5 * (e_rise + e_fall) + ratio_a * 0.5 * (a_end - a_start))
    untwist_end = e_peak + 0.5 * e_fall
    timing = Timing(
        onset=onset,
        systolic_peak=sys_peak,
        end_systole=es,
        e_start=e_start,
        e_peak=e_peak,
        e_end=e_peak + e_fall,
        a_start=a_start,
        a_peak=a_peak,
        a_end=a_end,
        untwist_end=untwist_end,
    )
    return timing, {"s_base": s_base, "e_base": e_base, "a_base": ratio_a * e_base}


def alter_waveforms(
    rng: np.random.Generator, timing: Timing, long_base: dict[str, float], rr_ms: float
) -> tuple[Timing, dict[str, float], list[list[float]], float]:
    """Shapes the reference model never draws: a double-humped systole peaking late, a wide E' below A'
    and an earlier, longer A' (so a shorter diastasis); onset, end-systole and S' are kept.

    Systole: two overlapping pulses over the reference's onset to end-systole, the first peaking at
    12-22 % of systole, the second at 62-78 % with 55-70 % of the area (the reference peaks once at
    30-45 %). Diastole: E' rise 60-100 ms and fall 0.08-0.14 of RR, A' peak at 0.80-0.86 of RR with
    widths 0.05-0.09, A'/E' 1.0-1.5 (reference 0.35-0.7); E' is then solved so that the longitudinal
    excursion closes over the beat. The share of the radial contraction recovered in E' is drawn in
    0.3-0.5 (the reference solves it in 0.5-0.95), so A' carries more of the radial recoil too.
    Returns the new timing, longitudinal peaks, the humps and that E' share.
    """
    t, span = timing, timing.end_systole - timing.onset
    second = _u(rng, 0.55, 0.70)
    humps = [
        [t.onset, t.onset + span * _u(rng, 0.12, 0.22), t.onset + span * _u(rng, 0.45, 0.55), 1.0 - second],
        [t.onset + span * _u(rng, 0.35, 0.45), t.onset + span * _u(rng, 0.62, 0.78), t.end_systole, second],
    ]
    a_peak = _u(rng, 0.80, 0.86)
    a_start, a_end = a_peak - _u(rng, 0.06, 0.09), a_peak + _u(rng, 0.05, 0.08)
    e_start = max(t.end_systole + 0.01, t.e_peak - _u(rng, 60.0, 100.0) / rr_ms)
    e_rise = t.e_peak - e_start
    e_fall = min(_u(rng, 0.08, 0.14), a_start - 0.02 - t.e_peak)
    ratio_a = _u(rng, 1.0, 1.5)
    sys_area = long_base["s_base"] * 0.5 * span
    e_base = sys_area / (0.5 * (e_rise + e_fall) + ratio_a * 0.5 * (a_end - a_start))
    altered = Timing(
        onset=t.onset,
        systolic_peak=humps[0][1],
        end_systole=t.end_systole,
        e_start=e_start,
        e_peak=t.e_peak,
        e_end=t.e_peak + e_fall,
        a_start=a_start,
        a_peak=a_peak,
        a_end=a_end,
        untwist_end=t.e_peak + 0.5 * e_fall,
    )
    long_altered = {"s_base": long_base["s_base"], "e_base": e_base, "a_base": ratio_a * e_base}
    return altered, long_altered, humps, _u(rng, 0.3, 0.5)


def mean_radial_velocity_circular(
    phi: np.ndarray,
    timing: Timing,
    rr_ms: float,
    endo: float,
    wall: float,
    es_fraction: float,
    e_frac: float,
    humps: Humps = None,
) -> np.ndarray:
    """Myocardium-averaged radial velocity (cm/s, inward positive) of a circular, uniform LV ring.

    Averaging ``v_r = R dR/dt / r`` over the annulus gives ``2 R (-dR/dt) / (R + R_epi)``.
    """
    wave = contraction_waveform(timing, e_frac, humps)
    d_r = endo * (1.0 - es_fraction)
    radius = endo - d_r * wave.displacement(phi)
    rate = -d_r * wave.velocity(phi) / (rr_ms / 1000.0)
    epi = np.sqrt((endo + wall) ** 2 - endo**2 + radius**2)
    return -2.0 * radius * rate / (radius + epi) / 10.0


def solve_radial(
    timing: Timing,
    rr_ms: float,
    endo: float,
    wall: float,
    systolic_target: float,
    early_target: float,
    es_bounds: tuple[float, float] = (0.6, 0.8),
    humps: Humps = None,
    e_bounds: tuple[float, float] = (0.5, 0.95),
) -> tuple[float, float]:
    """End-systolic radius fraction (within ``es_bounds``) and E' recoil share (within ``e_bounds``)
    that give the target radial peaks (bisection; the nearest bound when a target is out of reach)."""
    phi = np.linspace(0.0, 1.0, 2001)
    sys = (phi > timing.onset) & (phi < timing.end_systole)
    early = (phi > timing.e_start) & (phi < timing.e_end)

    def bisect(fn, lo: float, hi: float, target: float, increasing: bool) -> float:
        f_lo, f_hi = fn(lo), fn(hi)
        if (target - f_lo) * (target - f_hi) > 0:  # out of reach: the nearest end
            return lo if abs(target - f_lo) < abs(target - f_hi) else hi
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if (fn(mid) < target) == increasing:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    def sys_peak(frac: float) -> float:
        return float(mean_radial_velocity_circular(phi, timing, rr_ms, endo, wall, frac, 0.7, humps)[sys].max())

    es_fraction = bisect(sys_peak, es_bounds[0], es_bounds[1], systolic_target, increasing=False)

    def early_peak(e_frac: float) -> float:
        v = mean_radial_velocity_circular(phi, timing, rr_ms, endo, wall, es_fraction, e_frac, humps)
        return float(-v[early].min())

    e_fraction = bisect(early_peak, e_bounds[0], e_bounds[1], early_target, increasing=True)
    return es_fraction, e_fraction
