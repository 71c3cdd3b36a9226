"""Drawing the parameters of a phantom subject from its random generator.

Ranges are those of the design brief (tissue phase mapping literature). Where several brief numbers
constrain the same quantity, the *velocities* are the target and the motion amplitude is solved for:

* timing: contraction onset 0.05-0.15 RR, end-systole 0.30-0.40 RR (later in the cycle at short RR,
  as systole shortens less than diastole), E' peak 0.45-0.50, A' peak 0.85-0.90;
* longitudinal: systolic peak base 7-9 cm/s, mid 55-70 % and apex 30-42 % of the base (~5 and ~3);
  E' at the base 10-15 cm/s, A'/E' 0.35-0.7, and the E' decay width is solved so that the longitudinal
  excursion returns to zero over the beat (the velocity integrates to a periodic motion);
* radial: the end-systolic radius fraction (0.6-0.8) is solved so that the myocardium-averaged
  systolic radial velocity is 3-4 cm/s, and the share of recoil in E' so that the early-diastolic
  peak is -5 to -7 cm/s (clipped to their physiological ranges when the target cannot be reached);
* rotation: base clockwise 4-7 degrees seen from the apex, apex counter-clockwise 6-12, mid small.

``waveform_shape="altered"`` changes the shapes, not only the times or amplitudes (``alter_waveforms``):
systole becomes two overlapping pulses (double-humped, peaking late), E' widens and falls below A'
(A'/E' 1.0-1.5, the pattern of impaired relaxation), A' comes earlier and longer, so diastasis shortens;
the amplitudes are then solved, as above, so that every motion still closes over the beat.
``waveform_shape="independent"``, the out-of-model pathology kinds (``patch``, ``dyssync``) and
``appearance="wide"`` are drawn in ``variety``.
"""

from __future__ import annotations

import numpy as np

from data.mvm_io import SLICE_POSITIONS
from data.phantom.config import PhantomConfig
from data.phantom.motion import Humps, SliceMotion, contraction_waveform
from data.phantom.params import Anatomy, Scene, SliceParams, Timing
from data.phantom.segments import TERRITORIES, segment_centre_deg, segment_numbers
from data.phantom.variety import (
    APPEARANCE_RANGES,
    describe_variety,
    draw_dyssync,
    draw_patch,
    draw_wide_extras,
    independent_waveforms,
)
from data.phantom.variety import uniform as _u


def _u_whole(rng: np.random.Generator, lo: float, hi: float) -> float:
    """Uniform draw rounded to a whole number when that stays in range: scanners set VENC in whole
    cm/s and report the RR interval in whole ms."""
    value = _u(rng, lo, hi)
    whole = float(round(value))
    return whole if lo <= whole <= hi else value


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


def draw_scene(rng: np.random.Generator, position: str, angle_deg: float, appearance: str = "reference") -> Scene:
    """Surroundings: anterior chest wall and air above, lungs left and right, liver below, aorta; grey
    levels and coil bias over the ranges of ``appearance`` (``variety.APPEARANCE_RANGES``)."""
    look = APPEARANCE_RANGES[appearance]
    bias = look["bias"][0]
    liver_shift = {"basal": -10.0, "mid": 0.0, "apical": 10.0}[position]

    def blob(cx: float, cy: float, ax: float, ay: float) -> list[float]:
        return [
            cx + _u(rng, -8, 8),
            cy + _u(rng, -8, 8),
            ax * _u(rng, 0.9, 1.1),
            ay * _u(rng, 0.9, 1.1),
            _u(rng, -15, 15),
            _u(rng, 0.0, 0.06),
            _u(rng, 0, 2 * np.pi),
            _u(rng, 0.0, 0.04),
            _u(rng, 0, 2 * np.pi),
        ]

    return Scene(
        angle_deg=angle_deg,
        skin_distance_mm=_u(rng, 68.0, 85.0),
        skin_curvature_mm=_u(rng, 150.0, 260.0),
        chest_wall_mm=_u(rng, 14.0, 24.0),
        fat_mm=_u(rng, 4.0, 9.0),
        lung_left=blob(82.0, 5.0, 45.0, 75.0),
        lung_right=blob(-105.0, 12.0, 45.0, 70.0),
        liver=blob(-45.0, -88.0 + liver_shift, 85.0, 45.0),
        aorta=[_u(rng, 15.0, 30.0), _u(rng, -68.0, -58.0), _u(rng, 9.0, 12.0)],
        intensity_chest_wall=_u(rng, *look["chest_wall"]),
        intensity_fat=_u(rng, *look["fat"]),
        intensity_liver=_u(rng, *look["liver"]),
        intensity_soft=_u(rng, *look["soft"]),
        intensity_rv_wall=_u(rng, *look["rv_wall"]),
        bias=[
            _u(rng, -0.2 * bias, 0.2 * bias),
            _u(rng, -0.2 * bias, 0.2 * bias),
            _u(rng, -0.15 * bias, 0.05 * bias),
            _u(rng, -0.1 * bias, 0.1 * bias),
        ],
    )


def _draw_acquisition(rng: np.random.Generator, config: PhantomConfig) -> dict:
    """Subject-level scan settings: RR interval, VENC, SNR and pixel spacing."""
    rr = _u_whole(rng, *config.rr_ms)
    venc_in = _u_whole(rng, *config.venc_inplane)
    venc_through = _u_whole(rng, *config.venc_through)
    snr = _u(rng, *config.snr)
    fov = _u(rng, *config.fov_mm)
    spacing = config.pixel_spacing_mm if config.pixel_spacing_mm is not None else fov / config.size
    return {
        "rr_interval_ms": rr,
        "venc_cm_s": [venc_in, venc_in, venc_through],
        "snr": snr,
        "pixel_spacing_mm": spacing,
    }


def _draw_heart(rng: np.random.Generator, config: PhantomConfig) -> dict:
    """Subject-level heart: orientation, size, ellipse, position, bulk motion, RV, gains and rotation.

    Sizes are per slice position: the mid slice takes the configured LV radius and wall, the base is a
    little larger and the apex smaller (the LV tapers towards the apex)."""
    scene_angle = _u(rng, -15.0, 15.0)
    septum = 180.0 + scene_angle + _u(rng, -10.0, 10.0)
    r_mid = _u(rng, *config.lv_radius_mm)
    wall_mid = _u(rng, *config.wall_mm)
    ellipse_angle = _u(rng, 0.0, 180.0)
    centre = [_u(rng, -8.0, 8.0), _u(rng, -8.0, 8.0)]
    bulk_amp = _u(rng, 0.0, config.bulk_motion_mm)
    bulk_dir = _u(rng, 0.0, 2 * np.pi)
    w2 = _u(rng, 0.0, 0.5)
    bulk = []
    for proj in (np.cos(bulk_dir), np.sin(bulk_dir)):
        bulk += [bulk_amp * proj, _u(rng, 0, 2 * np.pi), bulk_amp * w2 * proj, _u(rng, 0, 2 * np.pi)]
    lateral_gain = _u(rng, 0.0, 0.15)
    untwist = _u(rng, 0.7, 0.9)
    rv = {
        "offset": _u(rng, 0.9, 1.0),
        "along": _u(rng, 0.6, 0.72),
        "across": _u(rng, 1.2, 1.4),
        "wall": _u(rng, 3.0, 5.0),
        "shrink": _u(rng, 0.08, 0.15),
        "long": _u(rng, 1.0, 1.3),
    }
    long_ratio = {"basal": 1.0, "mid": _u(rng, 0.55, 0.70), "apical": _u(rng, 0.30, 0.42)}
    basal_cap = max(28.0, config.lv_radius_mm[1] + 2.0)  # the brief's 28 mm, or above a dilated LV
    radius = {
        "basal": min(r_mid * _u(rng, 1.03, 1.08), basal_cap),
        "mid": r_mid,
        "apical": r_mid * _u(rng, 0.65, 0.8),
    }
    wall = {"basal": wall_mid * _u(rng, 0.95, 1.0), "mid": wall_mid, "apical": wall_mid * _u(rng, 0.8, 0.9)}
    rotation = {"basal": _u(rng, -7.0, -4.0), "mid": _u(rng, *config.mid_rotation_deg), "apical": _u(rng, 6.0, 12.0)}
    return {
        "scene_angle": scene_angle,
        "septum": septum,
        "ellipse_angle": ellipse_angle,
        "centre": centre,
        "bulk": bulk,
        "lateral_gain": lateral_gain,
        "untwist": untwist,
        "rv": rv,
        "long_ratio": long_ratio,
        "radius": radius,
        "wall": wall,
        "rotation": rotation,
    }


def _draw_slice(
    rng: np.random.Generator,
    position: str,
    config: PhantomConfig,
    rr: float,
    timing: Timing,
    long_base: dict[str, float],
    heart: dict,
    pathology: dict,
    altered: tuple[Humps, float] | None = None,
) -> SliceParams:
    """One slice's parameters; the radial motion is solved for its velocity targets within the
    configured ejection fraction (fractional area change) range; ``altered`` (systolic humps, E' share)
    of the altered shapes replaces the one systolic pulse and fixes the E' share."""
    radius, wall, rv = heart["radius"][position], heart["wall"][position], heart["rv"]
    es_bounds = (float(np.sqrt(1.0 - config.ejection_fraction[1])), float(np.sqrt(1.0 - config.ejection_fraction[0])))
    targets = (_u(rng, 3.0, 4.0), _u(rng, 5.0, 7.0))
    humps = None
    if altered is None:
        es_fraction, e_fraction = solve_radial(timing, rr, radius, wall, *targets, es_bounds)
    else:  # equal E' bounds: the drawn share, with the end-systolic radius solved for it
        humps, share = altered
        es_fraction, e_fraction = solve_radial(timing, rr, radius, wall, *targets, es_bounds, humps, (share, share))
    k = heart["long_ratio"][position]
    centre = heart["centre"]
    return SliceParams(
        slice_position=position,
        rr_ms=rr,
        timing=timing,
        centre_mm=[centre[0] + _u(rng, -3, 3), centre[1] + _u(rng, -3, 3)],
        endo_radius_mm=radius,
        wall_mm=wall,
        es_fraction=es_fraction,
        ellipticity=_u(rng, 0.0, 0.06),
        ellipse_angle_deg=heart["ellipse_angle"] + _u(rng, -10, 10),
        septum_deg=heart["septum"] + _u(rng, -4, 4),
        radial_e_fraction=e_fraction,
        long_systolic_cm_s=long_base["s_base"] * k,
        long_e_cm_s=long_base["e_base"] * k,
        long_a_cm_s=long_base["a_base"] * k,
        long_lateral_gain=heart["lateral_gain"],
        rotation_deg=heart["rotation"][position],
        untwist_e_fraction=heart["untwist"],
        bulk_mm=heart["bulk"],
        rv_offset_mm=rv["offset"] * (radius + wall),
        rv_axis_along_mm=rv["along"] * (radius + wall),
        rv_axis_across_mm=rv["across"] * (radius + wall),
        rv_wall_mm=rv["wall"],
        rv_shrink=rv["shrink"],
        rv_long_gain=rv["long"],
        scene=draw_scene(rng, position, heart["scene_angle"], config.appearance),
        **pathology,
        systolic_humps=humps,
    )


#: Papillary muscle radius (mm) per slice position: largest at mid-ventricle where the muscles arise,
#: smaller at the base (towards the chordae), small or absent at the apex.
PAPILLARY_RADIUS_MM = {"basal": (3.5, 5.0), "mid": (4.5, 6.5), "apical": (1.5, 3.0)}
#: Mean depth (mm) of the trabecular layer inside the compact wall: deeper towards the apex.
TRABECULAR_DEPTH_MM = {"basal": (0.5, 1.0), "mid": (0.8, 1.4), "apical": (1.0, 1.8)}


def draw_anatomy(
    rng: np.random.Generator, params: SliceParams, texture: list[list[float]], appearance: str = "reference"
) -> Anatomy:
    """Papillary muscles, trabeculae and epicardial fat of one slice, in material coordinates.

    Papillary muscles (counter-clockwise angles from the septum S, seen from the apex): the
    anterolateral one ~145 degrees clockwise of the septum (upper right in the standard view, septum on
    the left), the posteromedial one ~100 degrees counter-clockwise (lower middle). Each is a disc
    whose centre lies inside the endocardium by less than its radius, so it joins the wall.
    """
    position, septum = params.slice_position, params.septum_deg
    look = APPEARANCE_RANGES[appearance]
    papillary = []
    lo, hi = PAPILLARY_RADIUS_MM[position]
    lo, hi = lo * look["papillary"][0], hi * look["papillary"][1]
    for offset in (-145.0, 100.0):  # anterolateral, posteromedial
        radius = _u(rng, lo, hi)
        present = position != "apical" or rng.random() < 0.6
        if present:
            papillary.append([septum + offset + _u(rng, -10.0, 10.0), radius, radius * _u(rng, 0.3, 0.5)])
    lo, hi = TRABECULAR_DEPTH_MM[position]
    trabeculae = [_u(rng, lo * look["trabecular"][0], hi * look["trabecular"][1])]
    for k in rng.choice(np.arange(5, 25), size=6, replace=False):
        trabeculae += [float(k), _u(rng, 0.4, 0.9), _u(rng, 0.0, 2 * np.pi)]
    insertion = SliceMotion(params).rv_insertion_deg()
    fat = [[angle, _u(rng, 15.0, 30.0), _u(rng, 2.5, 5.0)] for angle in insertion]
    fat.append([septum + 180.0 + _u(rng, -30.0, 30.0), _u(rng, 40.0, 70.0), _u(rng, 0.0, 2.0)])  # AV groove
    return Anatomy(
        papillary=papillary,
        trabeculae=trabeculae,
        texture=texture,
        fat=fat,
        insertion_deg=insertion,
        intensity_fat=_u(rng, *look["epicardial_fat"]),
    )


def draw_texture(rng: np.random.Generator, appearance: str = "reference") -> list[list[float]]:
    """Smooth random myocardial signal texture: 8 plane waves of wavelength 5-14 mm in random
    directions, total RMS 3-5 % of the signal (a per-subject draw, shared by the slices); ``wide``
    appearance: wavelength 3-25 mm, RMS 0-12 %."""
    look = APPEARANCE_RANGES[appearance]
    rms = _u(rng, *look["texture_rms"])
    waves = []
    for _ in range(8):
        k = 2 * np.pi / _u(rng, *look["wavelength"])
        direction = _u(rng, 0.0, 2 * np.pi)
        waves.append([k * np.cos(direction), k * np.sin(direction), _u(rng, 0.0, 2 * np.pi), rms * np.sqrt(2.0 / 8)])
    return [[float(v) for v in w] for w in waves]


def _fixed_pathology(config: PhantomConfig, rr: float) -> dict:
    """The cohort-wide pathology fields of ``SliceParams`` for a patient of ``config``."""
    delay = config.delay_ms / rr if config.delay_ms is not None else config.delay_fraction
    return {
        "delay_segments": list(config.delay_segments),
        "delay_fraction": delay,
        "hypokinetic_segments": list(config.hypokinetic_segments),
        "hypokinetic_scale": config.hypokinetic_scale,
    }


_NORMAL = {"delay_segments": [], "delay_fraction": 0.0, "hypokinetic_segments": [], "hypokinetic_scale": 1.0}


def _is_patient(rng: np.random.Generator, config: PhantomConfig, patient: bool | None) -> bool:
    """The subject's own patient draw (always made, so the later draws do not depend on the answer),
    overridden by ``patient`` when the cohort decided it."""
    drawn = bool(rng.random() < config.pathology_fraction)
    return drawn if patient is None else bool(patient)


def draw_subject(
    rng: np.random.Generator, config: PhantomConfig, patient: bool | None = None
) -> tuple[dict, dict[str, SliceParams]]:
    """Subject-level acquisition parameters and one ``SliceParams`` per slice position.

    The anatomy (papillary muscles, trabeculae, texture, fat) is drawn after the motion, and the
    per-subject timing offsets and random pathology after the anatomy, each only when asked for, so that
    adding them left every earlier draw, and so the healthy subjects of a given seed, unchanged.
    ``patient`` (set by ``generate_cohort``, which picks an exact number of patients) overrides the
    subject's own draw with probability ``pathology_fraction``; it matters only with a pathology."""
    subject = _draw_acquisition(rng, config)
    rr = subject["rr_interval_ms"]
    timing, long_base = draw_timing(rng, rr)
    altered = None
    if config.waveform_shape == "altered":  # a child stream: the parent's later draws stay as they were
        timing, long_base, humps, e_share = alter_waveforms(rng.spawn(1)[0], timing, long_base, rr)
        altered = (humps, e_share)
    elif config.waveform_shape == "independent":
        timing, long_base, e_share = independent_waveforms(rng.spawn(1)[0])
        altered = (None, e_share)
    # A cohort-wide pathology alone keeps its patient draw here, where it always was.
    early = config.has_pathology and not config.random_pathology
    diseased = early and _is_patient(rng, config, patient)
    pathology = _fixed_pathology(config, rr) if diseased else _NORMAL
    heart = _draw_heart(rng, config)
    slices = {
        position: _draw_slice(rng, position, config, rr, timing, long_base, heart, pathology, altered)
        for position in SLICE_POSITIONS
    }
    texture = draw_texture(rng, config.appearance)
    for params in slices.values():
        params.anatomy = draw_anatomy(rng, params, texture, config.appearance)
    if config.direction_offset_ms > 0:
        draw_direction_offsets(rng, config.direction_offset_ms, rr, slices)
    if config.appearance == "wide":
        draw_wide_extras(rng.spawn(1)[0], subject, slices)
    record: dict = {"patient": bool(diseased), "kind": "segments" if diseased else "none"}
    if config.random_pathology and _is_patient(rng, config, patient):
        for params in slices.values():
            for key, value in _fixed_pathology(config, rr).items():
                setattr(params, key, value)
        record = {"patient": True, **draw_random_pathology(rng, config, rr, slices)}
    subject["pathology"] = record
    return subject, slices


def draw_direction_offsets(rng: np.random.Generator, max_ms: float, rr: float, slices: dict[str, SliceParams]) -> None:
    """Per-subject timing offsets of the radial, circumferential and longitudinal waveforms (uniform in
    +-``max_ms``, shared by the slices): the directions of tissue phase mapping peak at slightly
    different times in normals."""
    offsets = [_u(rng, -max_ms, max_ms) / rr for _ in range(3)]
    for params in slices.values():
        params.direction_offsets = list(offsets)


def draw_random_pathology(
    rng: np.random.Generator, config: PhantomConfig, rr: float, slices: dict[str, SliceParams]
) -> dict:
    """One pathology of ``config.random_pathology`` drawn for a patient and applied to its slices.

    Returns the record of what was drawn (stored in the subject file): ``kind`` and its numbers.
    """
    kind = config.random_pathology[int(rng.integers(len(config.random_pathology)))]
    if kind == "territory":
        name = config.territories[int(rng.integers(len(config.territories)))]
        scale = _u(rng, *config.territory_scale)
        for params in slices.values():
            ids = segment_numbers(params.slice_position)
            params.segment_scale = [scale if seg in TERRITORIES[name] else 1.0 for seg in ids]
        return {"kind": kind, "territory": name, "motion_scale": scale}
    if kind == "lbbb":
        spread_ms = _u(rng, *config.lbbb_delay_ms)
        for params in slices.values():
            params.segment_delay = [
                -0.5 * spread_ms / rr * round(float(np.cos(np.deg2rad(segment_centre_deg(seg, 0.0)))), 12)
                for seg in segment_numbers(params.slice_position)
            ]
        return {"kind": kind, "septal_to_lateral_ms": spread_ms}
    if kind == "patch":
        return draw_patch(rng, config, slices)
    if kind == "dyssync":
        return draw_dyssync(rng, config, rr, slices)
    ejection_fraction, scale = _u(rng, *config.global_ef), _u(rng, *config.global_scale)
    for params in slices.values():
        params.es_fraction = float(np.sqrt(1.0 - ejection_fraction))
        params.long_systolic_cm_s *= scale
        params.long_e_cm_s *= scale
        params.long_a_cm_s *= scale
        params.rotation_deg *= scale
    return {"kind": kind, "ejection_fraction": ejection_fraction, "motion_scale": scale}


def describe_pathology(record: dict) -> str:
    """One line saying what a subject's pathology record holds."""
    kind = record.get("kind", "none")
    if not record.get("patient"):
        return "healthy"
    if kind == "territory":
        return f"{record['territory']} territory, motion scale {record['motion_scale']:.2f}"
    if kind == "lbbb":
        return f"LBBB-like dyssynchrony, lateral wall {record['septal_to_lateral_ms']:.0f} ms after the septum"
    if kind == "global":
        ef, scale = record["ejection_fraction"], record["motion_scale"]
        return f"globally reduced function, area EF {ef:.2f}, motion x{scale:.2f}"
    return describe_variety(record) or "the cohort-wide segment pathology"
