"""Out-of-model draws: pathology, waveforms and images unlike those the reference phantom draws.

A method built on reference phantom cohorts (e.g. a prior of per-segment gains and delays on template
curves) should be tested on hearts whose motion and images it was not built on. These options change
*what kind* of thing is drawn, not only its range:

* ``patch``: a hypokinetic region of any centre and width whose smooth edges ignore the AHA borders;
* ``dyssync``: a delay that varies smoothly with angle towards a random direction (not the septum);
* ``independent`` waveforms: systole, E' and A' with independently drawn times, durations and peaks;
* ``wide`` appearance: grey levels, blood residue, texture, coil bias, anatomy sizes and SNR over far
  wider ranges.

Each draws from the subject's generator in the same order as the reference draws it replaces, or from
a child stream, so the rest of a subject stays that of the same seed. docs/PHANTOM.md lists the ranges.
"""

from __future__ import annotations

import numpy as np

from data.phantom.config import PhantomConfig
from data.phantom.params import SliceParams, Timing
from data.phantom.segments import harmonic_delay


def uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """One uniform draw in [lo, hi) as a Python float."""
    return float(rng.uniform(lo, hi))


# ---------------------------------------------------------------------------------- appearance

#: Per appearance: ranges of the scene's grey levels (relative to the myocardium, 1), a factor on the
#: coil-bias coefficients, the texture's RMS and wavelength (mm), factors on the papillary muscle radius
#: and trabecular depth ranges, and the epicardial fat level. ``wide`` draws the same numbers over the
#: wider ranges (same draws, so the rest of the subject is unchanged).
APPEARANCE_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "reference": {
        "chest_wall": (0.45, 0.6),
        "fat": (0.7, 0.85),
        "liver": (0.42, 0.55),
        "soft": (0.3, 0.42),
        "rv_wall": (0.8, 0.95),
        "bias": (1.0, 1.0),
        "texture_rms": (0.03, 0.05),
        "wavelength": (5.0, 14.0),
        "papillary": (1.0, 1.0),
        "trabecular": (1.0, 1.0),
        "epicardial_fat": (0.75, 0.9),
    },
    "wide": {
        "chest_wall": (0.2, 1.1),
        "fat": (0.45, 1.4),
        "liver": (0.15, 1.0),
        "soft": (0.1, 0.7),
        "rv_wall": (0.55, 1.15),
        "bias": (2.5, 2.5),
        "texture_rms": (0.0, 0.12),
        "wavelength": (3.0, 25.0),
        "papillary": (0.6, 1.5),
        "trabecular": (0.3, 2.5),
        "epicardial_fat": (0.45, 1.4),
    },
}
#: ``wide`` only, from a child stream: residual blood-pool signal (relative to the myocardium) and the
#: factor on the drawn myocardial SNR.
WIDE_BLOOD = (0.0, 0.3)
WIDE_SNR_FACTOR = (0.5, 1.5)


def draw_wide_extras(rng: np.random.Generator, subject: dict, slices: dict[str, SliceParams]) -> None:
    """Blood residue (shared by the slices) and the SNR factor of a ``wide`` subject, in place."""
    blood = uniform(rng, *WIDE_BLOOD)
    subject["snr"] = max(2.0, subject["snr"] * uniform(rng, *WIDE_SNR_FACTOR))
    for params in slices.values():
        params.scene.intensity_blood = blood


# ---------------------------------------------------------------------------------- waveforms

#: Ranges of the ``independent`` waveforms (fractions of RR unless stated; longitudinal peaks at the base).
INDEPENDENT_RANGES: dict[str, tuple[float, float]] = {
    "onset": (0.04, 0.10),
    "systole": (0.22, 0.38),  # onset to end-systole
    "systolic_peak": (0.20, 0.60),  # share of systole
    "ivrt": (0.03, 0.08),  # end-systole to the start of E'
    "e_duration": (0.10, 0.22),  # shortened when it would run into A' (diastasis >= 0.01)
    "e_peak": (0.25, 0.55),  # share of E'
    "a_peak": (0.80, 0.92),
    "a_rise": (0.04, 0.08),
    "a_fall": (0.04, 0.08),
    "e_cm_s": (8.0, 16.0),
    "a_cm_s": (3.0, 10.0),
    "e_share": (0.4, 0.9),  # share of the radial contraction recovered in E'
}
#: The longitudinal systolic peak closes the excursion; E' and A' are scaled together when it would
#: leave this range (cm/s).
INDEPENDENT_S_CM_S = (5.0, 11.0)


def independent_waveforms(rng: np.random.Generator) -> tuple[Timing, dict[str, float], float]:
    """Timing, base longitudinal peaks and radial E' share with systole, E' and A' drawn independently.

    The longitudinal systolic peak is solved so that the excursion closes over the beat (S' area = E'
    area + A' area); the other motions close by construction (their pulses carry fixed areas)."""
    r = INDEPENDENT_RANGES
    onset = uniform(rng, *r["onset"])
    systole = uniform(rng, *r["systole"])
    es = onset + systole
    e_start = es + uniform(rng, *r["ivrt"])
    e_duration = uniform(rng, *r["e_duration"])
    e_share = uniform(rng, *r["e_peak"])
    a_peak = uniform(rng, *r["a_peak"])
    a_start, a_end = a_peak - uniform(rng, *r["a_rise"]), min(a_peak + uniform(rng, *r["a_fall"]), 0.995)
    e_duration = min(e_duration, a_start - 0.01 - e_start)
    e_peak, e_end = e_start + e_share * e_duration, e_start + e_duration
    e_cm_s, a_cm_s = uniform(rng, *r["e_cm_s"]), uniform(rng, *r["a_cm_s"])
    diastolic_area = e_cm_s * 0.5 * e_duration + a_cm_s * 0.5 * (a_end - a_start)
    s_cm_s = diastolic_area / (0.5 * systole)
    fitted = float(np.clip(s_cm_s, *INDEPENDENT_S_CM_S))
    e_cm_s, a_cm_s = e_cm_s * fitted / s_cm_s, a_cm_s * fitted / s_cm_s
    timing = Timing(
        onset=onset,
        systolic_peak=onset + systole * uniform(rng, *r["systolic_peak"]),
        end_systole=es,
        e_start=e_start,
        e_peak=e_peak,
        e_end=e_end,
        a_start=a_start,
        a_peak=a_peak,
        a_end=a_end,
        untwist_end=e_peak + 0.5 * (e_end - e_peak),
    )
    return timing, {"s_base": fitted, "e_base": e_cm_s, "a_base": a_cm_s}, uniform(rng, *r["e_share"])


# ---------------------------------------------------------------------------------- pathology

#: Patch edge (full width of each raised-cosine border) as a share of the patch width.
PATCH_EDGE_SHARE = (0.15, 0.3)
#: How far a patch reaches from its core level: the depth (1 - scale) there times this, per level away.
PATCH_REACH = ((1.0, 1.0), (0.4, 1.0), (0.0, 0.5))
#: Second-harmonic share of a ``dyssync`` delay (0: a pure cosine).
DYSSYNC_SECOND = (0.0, 0.35)


def draw_patch(rng: np.random.Generator, config: PhantomConfig, slices: dict[str, SliceParams]) -> dict:
    """A smooth hypokinetic patch: centre uniform in angle (from the septum), width and core scale from
    the config, core level uniform; the neighbouring levels get a shallower patch (``PATCH_REACH``),
    centre and width jittered by +-15 deg and x0.8-1.2. Applied as each slice's ``patch``."""
    centre = uniform(rng, 0.0, 360.0)
    width = uniform(rng, *config.patch_width_deg)
    edge = width * uniform(rng, *PATCH_EDGE_SHARE)
    scale = uniform(rng, *config.patch_scale)
    levels = list(slices)
    core = levels[int(rng.integers(len(levels)))]
    level_scales = {}
    for position, params in slices.items():
        away = abs(levels.index(position) - levels.index(core))
        reach = uniform(rng, *PATCH_REACH[away])
        here_centre = centre + (uniform(rng, -15.0, 15.0) if away else 0.0)
        here_width = width * (uniform(rng, 0.8, 1.2) if away else 1.0)
        level_scales[position] = 1.0 - (1.0 - scale) * reach
        params.patch = [params.septum_deg + here_centre, here_width, edge * here_width / width, level_scales[position]]
    return {
        "kind": "patch",
        "centre_deg": centre,
        "width_deg": width,
        "edge_deg": edge,
        "motion_scale": scale,
        "level": core,
        "level_scales": level_scales,
    }


def draw_dyssync(rng: np.random.Generator, config: PhantomConfig, rr: float, slices: dict[str, SliceParams]) -> dict:
    """A delay smooth in angle: ``cos(a - late) + k cos(2 (a - second))`` (``late`` and ``second``
    uniform from the septum, ``k`` in ``DYSSYNC_SECOND``), scaled and centred so that it spans exactly
    the drawn earliest-to-latest delay, +-half of it. Applied as each slice's ``delay_harmonics``."""
    late, second = uniform(rng, 0.0, 360.0), uniform(rng, 0.0, 360.0)
    share = uniform(rng, *DYSSYNC_SECOND)
    spread_ms = uniform(rng, *config.dyssync_delay_ms)
    grid = np.arange(0.0, 360.0, 0.05)
    shape = harmonic_delay(grid, [[1, 1.0, late], [2, share, second]])
    lo, hi = float(shape.min()), float(shape.max())
    gain = spread_ms / rr / (hi - lo)
    for params in slices.values():
        s = params.septum_deg
        params.delay_harmonics = [
            [0, -gain * 0.5 * (hi + lo), 0.0],
            [1, gain, s + late],
            [2, gain * share, s + second],
        ]
    return {"kind": "dyssync", "late_deg": late, "second_deg": second, "second_share": share, "spread_ms": spread_ms}


def describe_variety(record: dict) -> str | None:
    """One line for a ``patch`` or ``dyssync`` record (None for other kinds)."""
    if record.get("kind") == "patch":
        others = ", ".join(f"{k} {v:.2f}" for k, v in record["level_scales"].items() if k != record["level"])
        return (
            f"patch: centre {record['centre_deg']:.0f} deg from the septum, width {record['width_deg']:.0f} deg, "
            f"scale {record['motion_scale']:.2f} at {record['level']} ({others})"
        )
    if record.get("kind") == "dyssync":
        return (
            f"smooth dyssynchrony: {record['spread_ms']:.0f} ms earliest to latest, latest near "
            f"{record['late_deg']:.0f} deg from the septum"
        )
    return None
