"""Population templates of the kinematic prior: landmark-registered mean displacement curves.

From training slices with *measured* velocity and masks on every frame (as on scanner data; never the
phantom's parameters), per subject:

1. the global radial, circumferential and longitudinal curves (``assessment.velocity.velocity_curves``);
2. the subject's landmarks (``landmarks.detect_landmarks``) on the mean radial curve of its slices: the
   slices of one heart share its electrical and mechanical events;
3. per slice, the curves integrated into displacements over the cycle: radial excursion (mm, inward
   positive), rotation (degrees, counter-clockwise seen from the apex; the circumferential velocity is
   the angular rate times the myocardium's mean distance from its centroid) and longitudinal excursion
   (mm, towards the apex positive). A measured curve does not integrate to exactly zero over the beat,
   so the linear drift is removed: a displacement is periodic;
4. each displacement resampled on a canonical cycle whose landmarks are the training mean
   (``canonical``), through a monotone piecewise-cubic time warp that maps the subject's landmarks onto
   them.

The templates are the per-slice-position means of the registered displacements: sharper than a mean
over raw cycle fractions, where timing differences between subjects blur every peak. Displacements, not
velocities, are what the warp preserves: a heart whose systole is shorter moves as far, faster.
The landmark times are also regressed on the RR interval (time in ms = a + b RR), the prior of the
subject fit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.interpolate import CubicSpline, PchipInterpolator

from assessment.velocity import velocity_curves
from data.mvm_io import SliceData, Subject
from models.kinematics.landmarks import LANDMARKS, detect_landmarks
from models.kinematics.population import CYCLE_BINS, mean_cycle_curves
from util.errors import CheckpointError, DataError

#: Samples of the canonical cycle the templates are stored on.
TEMPLATE_BINS = 200
#: How far beyond the training hearts' RR range (ms, each side) the timing regression is trusted; a heart
#: further out takes the landmark fractions of the nearest trusted RR instead of a linear extrapolation
#: (which, from a few training subjects, can put end-systole after E').
RR_MARGIN_MS = 50.0
#: The displacements a template holds per slice position, with their units.
DISPLACEMENTS: dict[str, str] = {"radial": "mm", "rotation": "deg", "longitudinal": "mm"}


def cycle_warp(landmarks: np.ndarray, canonical: np.ndarray) -> PchipInterpolator:
    """Monotone map from a subject's cycle fraction to the canonical one: 0 -> 0, each landmark onto its
    canonical time, 1 -> 1 (piecewise cubic, so its slope is continuous)."""
    return PchipInterpolator(np.r_[0.0, landmarks, 1.0], np.r_[0.0, canonical, 1.0])


def periodic_displacement(velocity: np.ndarray, rr_ms: float, scale: float = 10.0) -> np.ndarray:
    """Integral over the cycle [T + 1] (frame 0 .. T, the last closing the cycle) of a periodic curve [T]
    sampled at t / T, drift removed; ``scale`` turns the curve's unit x s into the displacement's (10:
    cm/s -> mm)."""
    v = np.nan_to_num(np.asarray(velocity, dtype=np.float64))
    step_s = rr_ms / 1000.0 / v.size
    closed = np.r_[v, v[:1]]
    cumulative = np.r_[0.0, np.cumsum(0.5 * (closed[1:] + closed[:-1]))] * step_s * scale
    return cumulative - np.linspace(0.0, 1.0, v.size + 1) * cumulative[-1]


def mean_distance_mm(mask: np.ndarray, spacing_mm: float) -> np.ndarray:
    """Mean distance (mm) of the myocardium from its centroid, per frame of a [T, H, W] mask."""
    out = np.full(mask.shape[0], np.nan)
    for t, frame in enumerate(np.asarray(mask) != 0):
        rows, cols = np.nonzero(frame)
        if rows.size:
            out[t] = np.hypot(rows - rows.mean(), cols - cols.mean()).mean() * spacing_mm
    return out


def slice_displacements(s: SliceData) -> dict[str, np.ndarray]:
    """The three displacement curves [T + 1] of a slice with velocity and masks on every frame."""
    curves = velocity_curves(s.velocity, s.myocardium, s.slice_position, s.z_towards_apex).global_curves
    radius_cm = mean_distance_mm(s.myocardium, float(s.pixel_spacing_mm[0])) / 10.0
    angular = np.degrees(curves["circumferential"] / radius_cm)  # deg/s
    return {
        "radial": periodic_displacement(curves["radial"], s.rr_interval_ms),
        "rotation": periodic_displacement(angular, s.rr_interval_ms, scale=1.0),
        "longitudinal": periodic_displacement(curves["longitudinal"], s.rr_interval_ms),
    }


def resample_to_canonical(displacement: np.ndarray, landmarks: np.ndarray, canonical: np.ndarray) -> np.ndarray:
    """A displacement [T + 1] of a subject, read at the subject times of the canonical grid [TEMPLATE_BINS]."""
    subject_time = PchipInterpolator(np.r_[0.0, canonical, 1.0], np.r_[0.0, landmarks, 1.0])
    grid = np.arange(TEMPLATE_BINS) / TEMPLATE_BINS
    frames = np.linspace(0.0, 1.0, displacement.size)
    return np.interp(subject_time(grid), frames, displacement)


@dataclass
class KinematicTemplates:
    """Landmark-registered mean displacements per slice position, and the landmark timing model.

    ``curves[position][name]`` is [TEMPLATE_BINS] on the canonical cycle (``DISPLACEMENTS`` for units);
    ``canonical`` [5] the canonical landmark fractions; ``timing`` [5, 2] the ``a, b`` of each landmark's
    time in ms ``a + b RR``; ``timing_sd_ms`` [5] the residual SD of that regression; ``count`` the
    training subjects; ``rr_range_ms`` the training hearts' RR range; ``population`` the same subjects' mean
    velocity curves per cycle fraction, unregistered (``population.mean_cycle_curves``: the floor model of
    ``choice``; empty in templates saved before it existed, where ``with_population`` adds them).
    """

    curves: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    canonical: np.ndarray = field(default_factory=lambda: np.zeros(len(LANDMARKS)))
    timing: np.ndarray = field(default_factory=lambda: np.zeros((len(LANDMARKS), 2)))
    timing_sd_ms: np.ndarray = field(default_factory=lambda: np.ones(len(LANDMARKS)))
    count: int = 0
    rr_range_ms: tuple[float, float] = (0.0, float("inf"))
    population: dict[str, np.ndarray] = field(default_factory=dict)
    _splines: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def ready(self) -> bool:
        return bool(self.curves)

    def expected_landmarks(self, rr_ms: float) -> tuple[np.ndarray, np.ndarray]:
        """Prior mean and SD of the landmark fractions of a heart with this RR interval (within the training
        RR range widened by ``RR_MARGIN_MS``; outside it, those of the nearest RR in that range)."""
        low, high = self.rr_range_ms
        rr = float(np.clip(rr_ms, low - RR_MARGIN_MS, high + RR_MARGIN_MS))
        mean_ms = self.timing[:, 0] + self.timing[:, 1] * rr
        return mean_ms / rr, self.timing_sd_ms / rr

    def spline(self, position: str, name: str) -> CubicSpline:
        """The template displacement as a periodic cubic spline of the canonical cycle fraction."""
        if position not in self.curves:
            raise DataError(f"the kinematic templates have no {position!r} slices (they have: {sorted(self.curves)})")
        if (position, name) not in self._splines:  # the subject fit evaluates them thousands of times
            values = self.curves[position][name]
            grid = np.arange(TEMPLATE_BINS + 1) / TEMPLATE_BINS
            self._splines[position, name] = CubicSpline(grid, np.r_[values, values[:1]], bc_type="periodic")
        return self._splines[position, name]

    def state_dict(self) -> dict[str, Any]:
        return {
            "curves": {p: {k: v.tolist() for k, v in c.items()} for p, c in self.curves.items()},
            "canonical": self.canonical.tolist(),
            "timing": self.timing.tolist(),
            "timing_sd_ms": self.timing_sd_ms.tolist(),
            "count": self.count,
            "rr_range_ms": [float(v) for v in self.rr_range_ms],
        } | ({"population": {p: np.asarray(v, dtype=np.float64).tolist() for p, v in self.population.items()}}
             if self.population else {})  # fmt: skip

    def with_population(self, curves: dict[str, np.ndarray]) -> KinematicTemplates:
        """These templates with ``curves`` ([3, CYCLE_BINS] per slice position, e.g. a phase run's
        ``PopulationPrior.curves``) as their population floor, where they hold none of their own."""
        if self.population or not curves:
            return self
        return replace(self, population={p: np.asarray(v, dtype=np.float64) for p, v in curves.items()}, _splines={})

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> KinematicTemplates:
        try:
            curves = {p: {k: np.asarray(v, dtype=np.float64) for k, v in c.items()} for p, c in state["curves"].items()}
            out = cls(
                curves,
                np.asarray(state["canonical"], dtype=np.float64),
                np.asarray(state["timing"], dtype=np.float64),
                np.asarray(state["timing_sd_ms"], dtype=np.float64),
                int(state["count"]),
                tuple(float(v) for v in state.get("rr_range_ms", (0.0, float("inf")))),
                {p: np.asarray(v, dtype=np.float64) for p, v in state.get("population", {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"kinematic templates: unreadable state ({exc})") from exc
        if out.canonical.shape != (len(LANDMARKS),) or out.timing.shape != (len(LANDMARKS), 2):
            raise CheckpointError("kinematic templates: landmark arrays of the wrong shape")
        if any(c.shape != (len(DISPLACEMENTS), CYCLE_BINS) for c in out.population.values()):
            raise CheckpointError(f"kinematic templates: population curves must be [3, {CYCLE_BINS}]")
        return out


def subject_landmarks(subject: Subject) -> np.ndarray | None:
    """Landmarks of a subject from the mean global radial curve of its full-cine slices (None: not found)."""
    curves = [
        velocity_curves(s.velocity, s.myocardium, s.slice_position, s.z_towards_apex).radial
        for s in subject.slices.values()
        if s.velocity is not None and len(s.mask_frames()) == s.num_frames
    ]
    if not curves or len({c.size for c in curves}) != 1:
        return None
    return detect_landmarks(np.nanmean(np.stack(curves), axis=0))


def fit_templates(subjects: Iterable[Subject]) -> KinematicTemplates:
    """Templates from training subjects (full cines with measured velocity and masks)."""
    subjects = list(subjects)
    records: list[tuple[np.ndarray, float, dict[str, dict[str, np.ndarray]]]] = []
    for subject in subjects:
        landmarks = subject_landmarks(subject)
        if landmarks is None:
            continue
        full = [s for s in subject.slices.values() if s.velocity is not None and len(s.mask_frames()) == s.num_frames]
        slices = {s.slice_position: slice_displacements(s) for s in full}
        records.append((landmarks, float(full[0].rr_interval_ms), slices))
    if len(records) < 2:
        raise DataError(f"kinematic templates: {len(records)} training subjects show the cycle's landmarks; need 2+")
    canonical = np.mean([r[0] for r in records], axis=0)
    sums: dict[str, dict[str, list[np.ndarray]]] = {}
    for landmarks, _, slices in records:
        for position, displacements in slices.items():
            for name, curve in displacements.items():
                registered = resample_to_canonical(curve, landmarks, canonical)
                sums.setdefault(position, {}).setdefault(name, []).append(registered)
    curves = {p: {k: np.mean(v, axis=0) for k, v in c.items()} for p, c in sums.items()}
    rr = [r[1] for r in records]
    timing, sd = _timing_regression([r[0] for r in records], rr)
    population, _ = mean_cycle_curves(s for subject in subjects for s in subject.slices.values())
    return KinematicTemplates(curves, canonical, timing, sd, len(records), (min(rr), max(rr)), population)


def _timing_regression(landmarks: Sequence[np.ndarray], rr_ms: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Per landmark, least squares of its time in ms on RR (a + b RR) and the residual SD (at least 5 ms:
    the prior never claims more than the data can show). With one RR value the slope is 0."""
    rr = np.asarray(rr_ms, dtype=np.float64)
    times = np.asarray(landmarks) * rr[:, None]
    design = np.stack([np.ones_like(rr), rr], axis=1) if np.ptp(rr) > 0 else np.ones((rr.size, 1))
    coef, *_ = np.linalg.lstsq(design, times, rcond=None)
    residual = times - design @ coef
    if coef.shape[0] == 1:
        coef = np.vstack([coef, np.zeros_like(coef)])
    sd = np.maximum(residual.std(axis=0, ddof=min(2, rr.size - 1)), 5.0)
    return coef.T, sd
