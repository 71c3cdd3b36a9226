"""Drawing the parameters of a phantom subject from its random generator: the scan settings, the heart,
each slice and the pathology, in one fixed order of draws (a subject's seed gives the same subject). The
cycle's timing, waveforms and solved amplitudes are drawn in ``cycle_draws``, what a slice looks like in
``anatomy_draws``.

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

``waveform_shape="altered"`` changes the shapes, not only the times or amplitudes
(``cycle_draws.alter_waveforms``): systole becomes two overlapping pulses (double-humped, peaking late),
E' widens and falls below A' (A'/E' 1.0-1.5, the pattern of impaired relaxation), A' comes earlier and
longer, so diastasis shortens; the amplitudes are then solved, as above, so that every motion still
closes over the beat.
``waveform_shape="independent"``, the out-of-model pathology kinds (``patch``, ``dyssync``) and
``appearance="wide"`` are drawn in ``variety``.
"""

from __future__ import annotations

import numpy as np

from data.mvm_io import SLICE_POSITIONS
from data.phantom.anatomy_draws import draw_anatomy, draw_scene, draw_texture
from data.phantom.config import PhantomConfig
from data.phantom.cycle_draws import alter_waveforms, draw_timing, solve_radial
from data.phantom.motion import Humps
from data.phantom.params import SliceParams, Timing
from data.phantom.segments import TERRITORIES, segment_centre_deg, segment_numbers
from data.phantom.variety import (
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
