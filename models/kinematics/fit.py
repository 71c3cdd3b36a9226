"""The subject fit of the kinematic prior: the population's curve shapes, the subject's timing and gains.

What the key frames show of a slice (``KeyTrajectories``): the myocardium's mean distance from its
centroid (global and per AHA segment) and the rotation of the slice, at each key frame. Between two key
frames the wall moves ``k`` times further than between neighbouring frames, so these displacements are
what the subject fit matches:

1. **Timing and slice gains** (``fit_slices``): the five landmark times, shared by the slices of the heart,
   a radial gain and a rotation gain per slice, and the unknown level of each trajectory. The model of a
   slice's mean distance is ``c - g_r D_r(w(phi))`` and of its rotation ``c' + g_t D_t(w(phi))``, with
   ``D`` the population templates (``templates.KinematicTemplates``) and ``w`` the warp that puts the
   subject's landmarks on the canonical ones. Least squares (``scipy.optimize.least_squares``) with the
   population as prior: landmark times around their regression on RR (its residual SD), gains around 1.
   With ``fit_timing=False`` the landmark times stay the population's for the subject's RR and only the
   gains are fitted. Both are candidates of the per-subject model choice (``choice``: ``gains`` and
   ``segments`` keep the population's timing, ``timing`` and ``timing_segments`` fit it).
2. **Segments** (``fit_segments``): with the timing fixed, each AHA segment's radial gain and delay from its
   own mean-distance trajectory, priors gain = the slice's radial gain +- 0.5 and delay 0 +- 60 ms, both
   shrunk towards the slice in proportion to how few key frames there are (``segment_shrinkage``): with
   five key frames a segment has five distances for its level, gain and delay, and an unshrunk fit
   follows the noise.

The velocities are the fitted displacements' time derivatives (:func:`fitted_curves`): the same curve
shapes as the population, stretched to the subject's events, scaled by its gains, shifted per segment.
The longitudinal velocity, which a short-axis image does not show, takes the fitted timing and the
population's amplitude, scaled per segment by the segment's radial gain relative to the slice's (regional
dysfunction reduces every direction of motion) and delayed with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import least_squares

from models.kinematics.templates import KinematicTemplates, cycle_warp
from util.errors import DataError

#: Measurement noise assumed for the trajectories: mean distance of a slice (mm), of a segment (mm), and
#: the rotation (degrees). They weigh the data against the priors.
SIGMA_DISTANCE_MM = 0.12
SIGMA_SEGMENT_MM = 0.3
SIGMA_ROTATION_DEG = 1.0
#: Priors of the gains and segment delays.
GAIN_SD = 0.35
SEGMENT_GAIN_SD = 0.5
SEGMENT_DELAY_SD_MS = 60.0
#: Least time between two landmarks (fraction of the cycle; the canonical gaps are 0.08-0.4).
MIN_LANDMARK_GAP = 0.03
#: Fewest key frames a trajectory needs (a level, a gain and timing to fit).
MIN_KEY_FRAMES = 4
#: Most evaluations of the timing fit's residuals: a heart whose landmarks the templates place converges in
#: a few (the landmarks are 5 numbers); one they do not describe wanders for hundreds, and its timing is
#: then not to be trusted anyway (the model choice scores it as it stands).
TIMING_MAX_EVALUATIONS = 40
#: Key frames at which the segment priors take their full width; fewer narrow them (``segment_shrinkage``).
FULL_SEGMENT_KEYS = 9
#: A fitted landmark gap below this share of its canonical gap means the landmarks collapsed (two events
#: the fit pushed together, e.g. onset onto the systolic peak): such a timing fit is not used.
MIN_GAP_SHARE = 0.4


def segment_shrinkage(n_keys: int) -> float:
    """Width of the segment priors relative to their full width, for a slice with ``n_keys`` key frames:
    1 from ``FULL_SEGMENT_KEYS`` on, falling linearly to 1/6 at ``MIN_KEY_FRAMES``."""
    return float(np.clip((n_keys - 3) / (FULL_SEGMENT_KEYS - 3), 1 / 6, 1.0))


def landmarks_separated(landmarks: np.ndarray, canonical: np.ndarray) -> bool:
    """Whether every gap between neighbouring landmarks (and from the last to the cycle's end) is at least
    ``MIN_GAP_SHARE`` of the canonical one: the guard against collapsed landmarks."""
    gaps = np.diff(np.r_[landmarks, 1.0 + landmarks[0]])
    reference = np.diff(np.r_[canonical, 1.0 + canonical[0]])
    return bool(np.all(gaps >= MIN_GAP_SHARE * reference))


@dataclass(frozen=True)
class KeyTrajectories:
    """What the key frames of one slice show: at cycle fractions ``fractions`` [K], the mean distance (mm) of
    the myocardium from its centroid, per AHA segment [n_seg, K] too, and the slice's rotation (degrees,
    counter-clockwise seen from the apex, relative to any reference; NaN where unmeasured)."""

    position: str
    fractions: np.ndarray
    mean_distance_mm: np.ndarray
    segment_ids: np.ndarray
    segment_distance_mm: np.ndarray
    rotation_deg: np.ndarray


@dataclass(frozen=True)
class SliceFit:
    """Fitted numbers of one slice: levels and gains, per segment gain, delay (fraction of RR), level."""

    position: str
    distance_level_mm: float
    radial_gain: float
    rotation_gain: float
    segment_ids: np.ndarray
    segment_gain: np.ndarray
    segment_delay: np.ndarray
    segment_level_mm: np.ndarray


#: The model a fit becomes when its segments move as their slice.
WITHOUT_SEGMENTS = {"segments": "gains", "timing_segments": "timing"}


@dataclass(frozen=True)
class KinematicFit:
    """A subject's fitted landmark times (cycle fractions) and slices, the model they belong to (one of
    ``choice.MODELS``; a template fit unless ``choice`` chose otherwise), the key-frame trajectories it was
    read from and, where the model was chosen, every candidate's leave-one-key-frame-out score."""

    landmarks: np.ndarray
    rr_ms: float
    slices: dict[str, SliceFit]
    model: str = "segments"
    trajectories: dict[str, KeyTrajectories] = field(default_factory=dict, compare=False)
    scores: dict[str, float] = field(default_factory=dict, compare=False)

    def without_segments(self) -> KinematicFit:
        """The same fit with every segment moving as its slice (no regional gains or delays)."""
        slices = {
            name: replace(
                s,
                segment_gain=np.full(s.segment_ids.size, s.radial_gain),
                segment_delay=np.zeros(s.segment_ids.size),
            )
            for name, s in self.slices.items()
        }
        return replace(self, slices=slices, model=WITHOUT_SEGMENTS.get(self.model, self.model))


def _check(trajectories: list[KeyTrajectories]) -> None:
    for tr in trajectories:
        if tr.fractions.size < MIN_KEY_FRAMES:
            raise DataError(f"slice {tr.position!r}: {tr.fractions.size} key frames, the kinematic prior needs >= 4")
        if not np.all(np.isfinite(tr.mean_distance_mm)):
            raise DataError(f"slice {tr.position!r}: a key frame has no myocardium mask")


def _monotone(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks made increasing inside (0, 1) with at least ``MIN_LANDMARK_GAP`` between neighbours (the
    optimiser may step past an ordering, and two landmarks that meet make the warp, and so the velocity,
    infinitely steep between them)."""
    out = np.clip(landmarks, MIN_LANDMARK_GAP, 1.0 - MIN_LANDMARK_GAP)
    for i in range(1, out.size):
        out[i] = max(out[i], out[i - 1] + MIN_LANDMARK_GAP)
    for i in range(out.size - 1, -1, -1):  # the last ones pushed back inside the cycle, gaps kept
        out[i] = min(out[i], 1.0 - MIN_LANDMARK_GAP * (out.size - i))
    return out


def _linear_fit(design: np.ndarray, target: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """``(level, gain)`` of ``target ~ level + gain * design`` (noise ``sigma``) with the gain's prior 1 +-
    ``GAIN_SD``, in closed form, and the weighted residuals (data, then prior)."""
    rows = np.vstack([np.stack([np.ones_like(design), design], axis=1) / sigma, [[0.0, 1.0 / GAIN_SD]]])
    wanted = np.r_[target / sigma, 1.0 / GAIN_SD]
    solution = np.linalg.lstsq(rows, wanted, rcond=None)[0]
    return solution, rows @ solution - wanted


def _slice_solution(templates: KinematicTemplates, tr: KeyTrajectories, warp) -> tuple[tuple, np.ndarray]:
    """A slice's ``(level, radial gain, rotation level, rotation gain)`` for a given warp, and its weighted
    residuals. For fixed landmarks the model is linear in these numbers, so they are solved exactly: the
    timing fit then searches the landmark times alone (variable projection)."""
    psi = warp(tr.fractions)
    radial = templates.spline(tr.position, "radial")(psi)
    (level, neg_gain), distance = _linear_fit(-radial, tr.mean_distance_mm, SIGMA_DISTANCE_MM)
    measured = np.isfinite(tr.rotation_deg)
    if measured.any():
        rotation = templates.spline(tr.position, "rotation")(psi[measured])
        (rot_level, rot_gain), turn = _linear_fit(rotation, tr.rotation_deg[measured], SIGMA_ROTATION_DEG)
    else:
        rot_level, rot_gain, turn = 0.0, 1.0, np.zeros(1)
    # the distance model is level - gain * radial: the fitted slope of -radial is the gain itself
    return (float(level), float(neg_gain), float(rot_level), float(rot_gain)), np.r_[distance, turn]


def _timing_residuals(x: np.ndarray, templates: KinematicTemplates, data: list[KeyTrajectories], rr: float):
    """Residuals of the timing fit at landmark times ``x`` [5]: their prior, the ordering guard, and every
    slice's residuals at its best levels and gains."""
    prior_mean, prior_sd = templates.expected_landmarks(rr)
    landmarks = _monotone(x)
    warp = cycle_warp(landmarks, templates.canonical)
    out = [(x - prior_mean) / prior_sd, 10.0 * (x - landmarks)]
    out += [_slice_solution(templates, tr, warp)[1] for tr in data]
    return np.concatenate(out)


def fit_slices(
    templates: KinematicTemplates, data: list[KeyTrajectories], rr_ms: float, *, fit_timing: bool
) -> tuple[np.ndarray, dict]:
    """Landmark fractions [5] and per slice ``(level, radial gain, rotation level, rotation gain)``.
    ``fit_timing=False`` keeps the landmarks at the population's expectation for this RR interval."""
    _check(data)
    prior_mean, _ = templates.expected_landmarks(rr_ms)
    landmarks = _monotone(prior_mean.copy())
    if fit_timing:
        result = least_squares(_timing_residuals, prior_mean, args=(templates, data, rr_ms), method="trf",
                               max_nfev=TIMING_MAX_EVALUATIONS)  # fmt: skip
        landmarks = _monotone(result.x)
    warp = cycle_warp(landmarks, templates.canonical)
    return landmarks, {tr.position: _slice_solution(templates, tr, warp)[0] for tr in data}


def _segment_displacement(templates: KinematicTemplates, position: str, warp, fractions: np.ndarray, delay: float):
    """Template radial excursion of a segment delayed by ``delay`` (fraction of RR), periodic in time."""
    shifted = np.mod(fractions - delay, 1.0)
    return templates.spline(position, "radial")(warp(shifted))


def fit_segments(
    templates: KinematicTemplates,
    tr: KeyTrajectories,
    warp,
    rr_ms: float,
    slice_gain: float = 1.0,
    n_keys: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per segment of ``tr``: radial gain, delay (fraction of RR) and distance level; the gains' prior is
    centred on the slice's ``slice_gain``, and both priors narrow with few key frames (``n_keys``, default
    the trajectory's: a leave-one-out fit passes the full count, to be judged as the full fit would be)."""
    shrink = segment_shrinkage(tr.fractions.size if n_keys is None else n_keys)
    delay_sd = shrink * SEGMENT_DELAY_SD_MS / rr_ms
    gain_sd = shrink * SEGMENT_GAIN_SD
    gains, delays, levels = [], [], []
    for distance in tr.segment_distance_mm:
        measured = np.isfinite(distance)

        def residuals(x: np.ndarray, d: np.ndarray = distance, m: np.ndarray = measured) -> np.ndarray:
            level, gain, delay = x
            model = level - gain * _segment_displacement(templates, tr.position, warp, tr.fractions, delay)
            return np.r_[(model - d)[m] / SIGMA_SEGMENT_MM, (gain - slice_gain) / gain_sd, delay / delay_sd]

        start = np.array([float(np.nanmax(distance)) if measured.any() else 0.0, slice_gain, 0.0])
        bounds = ([-np.inf, 0.0, -3 * delay_sd], [np.inf, 3.0, 3 * delay_sd])
        x = least_squares(residuals, start, bounds=bounds, method="trf").x
        levels.append(x[0])
        gains.append(x[1])
        delays.append(x[2])
    return np.asarray(gains), np.asarray(delays), np.asarray(levels)


def fit_subject(
    templates: KinematicTemplates,
    data: list[KeyTrajectories],
    rr_ms: float,
    *,
    fit_timing: bool,
    n_keys: int | None = None,
) -> KinematicFit:
    """The whole fit of a subject's slices (see the module docstring); ``fit_timing=False`` keeps the
    population's landmark times for the subject's RR; ``n_keys`` as for ``fit_segments``."""
    landmarks, per_slice = fit_slices(templates, data, rr_ms, fit_timing=fit_timing)
    warp = cycle_warp(landmarks, templates.canonical)
    slices = {}
    for tr in data:
        level, gain, _, rot_gain = per_slice[tr.position]
        slice_gain = float(np.clip(gain, 0.0, 3.0))
        seg_gain, seg_delay, seg_level = fit_segments(templates, tr, warp, rr_ms, slice_gain, n_keys)
        slices[tr.position] = SliceFit(
            tr.position, float(level), float(gain), float(rot_gain), tr.segment_ids, seg_gain, seg_delay, seg_level
        )
    model = "timing_segments" if fit_timing else "segments"
    return KinematicFit(landmarks, float(rr_ms), slices, model, {tr.position: tr for tr in data})


def _derivative(spline, warp, fractions: np.ndarray) -> np.ndarray:
    """d/dphi of ``spline(warp(phi))`` (per unit cycle fraction)."""
    return spline(warp(fractions), 1) * warp(fractions, 1)


def fitted_curves(templates: KinematicTemplates, fit: KinematicFit, position: str, n_frames: int) -> dict:
    """The fitted velocity curves (cm/s) of a slice at the frames t / T: ``radial``, ``circumferential`` and
    ``longitudinal`` [T] (global), and ``segment_radial`` and ``segment_longitudinal`` [n_seg, T]."""
    s = fit.slices[position]
    warp = cycle_warp(fit.landmarks, templates.canonical)
    fractions = np.arange(n_frames) / n_frames
    per_second = 1000.0 / fit.rr_ms  # cycle fractions per second
    radial_tpl, rotation_tpl = templates.spline(position, "radial"), templates.spline(position, "rotation")
    long_tpl = templates.spline(position, "longitudinal")
    radial = s.radial_gain * _derivative(radial_tpl, warp, fractions) * per_second / 10.0
    distance_cm = (s.distance_level_mm - s.radial_gain * radial_tpl(warp(fractions))) / 10.0
    angular = np.radians(s.rotation_gain * _derivative(rotation_tpl, warp, fractions) * per_second)
    relative = s.segment_gain / max(float(np.mean(s.segment_gain)), 1e-6)
    seg_radial, seg_long = [], []
    for gain, rel, delay in zip(s.segment_gain, relative, s.segment_delay, strict=True):
        shifted = np.mod(fractions - delay, 1.0)
        seg_radial.append(gain * _derivative(radial_tpl, warp, shifted) * per_second / 10.0)
        seg_long.append(rel * _derivative(long_tpl, warp, shifted) * per_second / 10.0)
    return {
        "radial": radial,
        "circumferential": angular * distance_cm,
        "longitudinal": _derivative(long_tpl, warp, fractions) * per_second / 10.0,
        "segment_radial": np.asarray(seg_radial),
        "segment_longitudinal": np.asarray(seg_long),
    }
