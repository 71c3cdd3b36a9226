"""How far the kinematic prior reads a subject: a model chosen per subject from its key frames alone.

A fit with more freedom follows the subject further and the noise further too; which wins depends on the
subject (a patient's segments differ, a healthy heart's do not), on how many key frames there are (five
distances cannot pin a segment's level, gain and delay), and on whether the population's curve shapes fit
this heart at all. So every subject is read by nested models, and its own key frames choose:

================= =========================================================================================
population        the population's mean curves per cycle fraction (``population.mean_cycle_curves``), no
                  fit: the floor, what ``population_bulk`` shows (with the image-tracked bulk motion)
gains             the landmark-registered templates at the population's landmark times for the subject's
                  RR, a radial and a rotation gain per slice
timing            ``gains`` with the landmark times fitted to the key frames (kept only when no two
                  landmarks collapse: ``fit.landmarks_separated``)
segments          ``gains`` with each AHA segment's gain and delay (``fit.fit_segments``, shrunk towards
                  the slice with few key frames)
timing_segments   ``timing`` with segments
model_free        no template: the measured trajectories themselves (mean distance, rotation, segment
                  distances), fitted by the heart rate's harmonics through the key times and
                  differentiated; through-plane from the population, which a short-axis image does not show
================= =========================================================================================

The criterion is leave-one-key-frame-out prediction (``loo_scores``): each model is fitted to all key frames
but one, each trajectory's level is fitted on those, and the held-out key frame's mean distance, rotation
and segment distances are predicted; the squared errors, in units of the measurement noise assumed by the
fit (``fit.SIGMA_*``), are summed over key frames and slices, the slices' mean distance and rotation apart
from their segments' distances (averaged over the segments). ``chosen_model`` reads them in two steps: the
simplest slice-level model (``population``, ``gains``, ``timing``) whose slice score is within ``MARGIN``
of the best, then its segments where an F test on the segment distances finds their gains and delays
significant (``segment_test``, ``SEGMENT_P``: left-out key frames are too few to judge three numbers per
segment); ``model_free`` only where it predicts everything far better (``FREE_MARGIN``): a richer model has
to predict clearly better to be believed. Nothing but the key-frame
trajectories enters: never the velocities, the phantom's parameters or any other frame's mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.stats import f as f_distribution

from models.kinematics.fit import (
    SIGMA_DISTANCE_MM,
    SIGMA_ROTATION_DEG,
    SIGMA_SEGMENT_MM,
    KeyTrajectories,
    KinematicFit,
    SliceFit,
    fit_subject,
    fitted_curves,
    landmarks_separated,
)
from models.kinematics.periodic import fourier_fit, max_order
from models.kinematics.population import curves_at, periodic_resample
from models.kinematics.templates import KinematicTemplates, cycle_warp, periodic_displacement
from util.errors import DataError

#: The models, simplest first (the order the margin rule prefers).
MODELS: tuple[str, ...] = ("population", "gains", "timing", "segments", "timing_segments", "model_free")
#: Template fits: model -> (landmark times fitted, segments fitted).
TEMPLATE_MODELS = {
    "gains": (False, False),
    "timing": (True, False),
    "segments": (False, True),
    "timing_segments": (True, True),
}
#: How much worse than the best slice-level score the chosen (simpler) model may be. Chosen on subjects
#: that no table reports (validation splits, and train splits of cohorts whose templates came from
#: another): margins 0.1 / 0.2 / 0.3 gave pooled paired differences against population_bulk of -0.07 to
#: -0.09 cm/s; with 0.3 no group of subjects was worse on average and no subject worse by more than 0.025
#: cm/s (0.1 let a subject lose 0.1: key-frame distances a little better predicted by the template's gains
#: while the velocity between key frames is not).
MARGIN = 0.3
#: Significance at which segments are fitted: the F test of their gains and delays against the slice model
#: on the segment distances (``segment_test``). On the validation subjects, patients whose segments the
#: velocities showed (segment fit 0.1-0.2 cm/s closer to the truth) gave p < 0.03, healthy subjects p > 0.9.
SEGMENT_P = 0.05
#: The slice-level model with segments: the population moves every segment alike, so its segments are
#: those of the templates with slice gains.
WITH_SEGMENTS = {"population": "segments", "gains": "segments", "timing": "timing_segments"}
#: How much better than every other model ``model_free`` has to score to be chosen: its score is the error
#: of an interpolated position, while what it gives is that interpolant's derivative, whose error between
#: key frames is larger than the position's suggests (on the validation splits a reference heart's
#: ``model_free`` predicted held-out key frames 15 % better than the population and gave velocities 35 %
#: worse; where the templates did not fit at all, it scored 2 to 3 times better).
FREE_MARGIN = 0.5
#: Samples of the cycle on which the population floor's curves are integrated into trajectories.
FLOOR_BINS = 200


def _drop(tr: KeyTrajectories, index: int) -> KeyTrajectories:
    keep = np.arange(tr.fractions.size) != index
    return replace(
        tr,
        fractions=tr.fractions[keep],
        mean_distance_mm=tr.mean_distance_mm[keep],
        segment_distance_mm=tr.segment_distance_mm[:, keep],
        rotation_deg=tr.rotation_deg[keep],
    )


def _flat_fit(templates: KinematicTemplates, data: Sequence[KeyTrajectories], rr_ms: float, model: str) -> KinematicFit:
    """A fit of no template numbers (``population``, ``model_free``): unit gains, the RR law's landmarks."""
    landmarks, _ = templates.expected_landmarks(rr_ms)
    slices = {}
    for tr in data:
        n = tr.segment_ids.size
        level = float(np.nanmean(tr.mean_distance_mm))
        slices[tr.position] = SliceFit(tr.position, level, 1.0, 1.0, tr.segment_ids, np.ones(n), np.zeros(n),
                                       np.full(n, level))  # fmt: skip
    return KinematicFit(landmarks, float(rr_ms), slices, model, {tr.position: tr for tr in data})


def fit_models(
    templates: KinematicTemplates,
    data: Sequence[KeyTrajectories],
    rr_ms: float,
    models: Sequence[str] = MODELS,
    n_keys: int | None = None,
) -> dict[str, KinematicFit | DataError]:
    """The subject fit of each of ``models``, or the ``DataError`` saying why it cannot be made (no
    population curves for a slice position, collapsed landmarks). A template fit with segments serves its
    model without them too. ``n_keys``: the key-frame count the segment priors are shrunk for (default:
    the trajectories')."""
    out: dict[str, KinematicFit | DataError] = {}
    for fit_timing in (False, True):
        wanted = [m for m in models if TEMPLATE_MODELS.get(m, (None,))[0] is fit_timing]
        if not wanted:
            continue
        try:
            fitted = fit_subject(templates, list(data), rr_ms, fit_timing=fit_timing, n_keys=n_keys)
        except DataError as exc:  # e.g. a leave-one-out fold of 4 key frames: too few for a template fit
            out.update(dict.fromkeys(wanted, exc))
            continue
        bad = fit_timing and not landmarks_separated(fitted.landmarks, templates.canonical)
        for m in wanted:
            error = DataError(f"collapsed landmarks {np.round(fitted.landmarks, 3).tolist()}")
            out[m] = error if bad else (fitted if TEMPLATE_MODELS[m][1] else fitted.without_segments())
    for m in ("population", "model_free"):
        if m in models:
            missing = m == "population" and any(tr.position not in templates.population for tr in data)
            no_floor = DataError("the templates hold no population curves for every slice")
            out[m] = no_floor if missing else _flat_fit(templates, data, rr_ms, m)
    return out


def _floor_trajectories(templates: KinematicTemplates, tr: KeyTrajectories, rr_ms: float, fractions: np.ndarray):
    """The population floor's mean distance and rotation shapes (levels 0) at cycle ``fractions``."""
    curves = curves_at(templates.population[tr.position], FLOOR_BINS)
    radius_cm = float(np.nanmean(tr.mean_distance_mm)) / 10.0
    inward = periodic_displacement(curves["radial"], rr_ms)[:-1]  # mm towards the centre
    turned = periodic_displacement(np.degrees(curves["circumferential"] / radius_cm), rr_ms, scale=1.0)[:-1]
    return -periodic_resample(inward, fractions), periodic_resample(turned, fractions)


def trajectory_shapes(
    templates: KinematicTemplates, fit: KinematicFit, tr: KeyTrajectories, fractions: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What ``fit`` predicts of a slice's mean distance [N], rotation [N] and segment distances [S, N] at
    cycle ``fractions``, each up to its level; ``tr`` holds the key frames the fit saw (``model_free``)."""
    if fit.model == "model_free":
        order = max_order(tr.fractions.size)
        distance = fourier_fit(tr.fractions, tr.mean_distance_mm, fractions, order)
        rotation = fourier_fit(tr.fractions, tr.rotation_deg, fractions, order)
        segments = np.stack([fourier_fit(tr.fractions, d, fractions, order) for d in tr.segment_distance_mm])
        return distance, np.nan_to_num(rotation), segments
    if fit.model == "population":
        distance, rotation = _floor_trajectories(templates, tr, fit.rr_ms, fractions)
        return distance, rotation, np.tile(distance, (tr.segment_ids.size, 1))
    s = fit.slices[tr.position]
    warp = cycle_warp(fit.landmarks, templates.canonical)
    radial, turn = templates.spline(tr.position, "radial"), templates.spline(tr.position, "rotation")
    delayed = zip(s.segment_gain, s.segment_delay, strict=True)
    segments = [-g * radial(warp(np.mod(fractions - d, 1.0))) for g, d in delayed]
    return -s.radial_gain * radial(warp(fractions)), s.rotation_gain * turn(warp(fractions)), np.asarray(segments)


def _held_out_error(predicted: np.ndarray, measured: np.ndarray, held: int) -> float:
    """Error at key frame ``held`` of a shape whose level is fitted on the other key frames (NaN: unmeasured)."""
    train = np.isfinite(measured) & np.isfinite(predicted) & (np.arange(measured.size) != held)
    if not np.isfinite(measured[held]) or not train.any():
        return np.nan
    level = np.mean(measured[train] - predicted[train])
    return float(measured[held] - level - predicted[held])


def _slice_loo(templates: KinematicTemplates, fit: KinematicFit, tr: KeyTrajectories, held: int) -> np.ndarray:
    """The held-out key frame's squared errors (in noise units) of one slice, for a fit made without it:
    ``[mean distance + rotation, mean over segments of the segment distances]``."""
    seen = _drop(tr, held)
    distance, rotation, segments = trajectory_shapes(templates, fit, seen, tr.fractions)
    trajectory = [
        (_held_out_error(distance, tr.mean_distance_mm, held) / SIGMA_DISTANCE_MM) ** 2,
        (_held_out_error(rotation, tr.rotation_deg, held) / SIGMA_ROTATION_DEG) ** 2,
    ]
    pairs = zip(segments, tr.segment_distance_mm, strict=True)
    segment = np.square([_held_out_error(p, m, held) / SIGMA_SEGMENT_MM for p, m in pairs])
    return np.array([np.nansum(trajectory), np.nanmean(segment) if np.isfinite(segment).any() else 0.0])


@dataclass(frozen=True)
class LooScore:
    """A model's leave-one-key-frame-out errors (RMS per slice and key frame, in noise units): of the slices'
    mean distance and rotation (``trajectory``), of their segments' distances (``segments``)."""

    trajectory: float
    segments: float

    @property
    def total(self) -> float:
        return float(np.hypot(self.trajectory, self.segments))


def loo_scores(
    templates: KinematicTemplates, data: Sequence[KeyTrajectories], rr_ms: float, models: Sequence[str] = MODELS
) -> dict[str, LooScore]:
    """Per model, the leave-one-key-frame-out scores (module docstring; inf where a fit cannot be made).
    The slices of a subject share their key frames, so each fold leaves the same key frame out of all."""
    n_keys = min(tr.fractions.size for tr in data)
    totals = {m: np.zeros(2) for m in models}
    for held in range(n_keys):
        fits = fit_models(templates, [_drop(tr, held) for tr in data], rr_ms, models, n_keys)
        for model, fit in fits.items():
            if isinstance(fit, DataError):
                totals[model] = np.full(2, np.inf)
            elif np.all(np.isfinite(totals[model])):
                totals[model] += sum(_slice_loo(templates, fit, tr, held) for tr in data)
    return {m: LooScore(*np.sqrt(v / (n_keys * len(data)))) for m, v in totals.items()}


def segment_test(templates: KinematicTemplates, without: KinematicFit, with_segments: KinematicFit) -> float:
    """p-value of the F test that a fit's segment gains and delays (``with_segments``) explain the segment
    distances better than the slice moving as one (``without``), each segment's level fitted: the
    residual variance of the richer fit is the measurement noise the test weighs the gain against."""
    residuals = []
    for fit in (without, with_segments):
        out = []
        for tr in fit.trajectories.values():
            _, _, shapes = trajectory_shapes(templates, fit, tr, tr.fractions)
            for shape, measured in zip(shapes, tr.segment_distance_mm, strict=True):
                ok = np.isfinite(measured) & np.isfinite(shape)
                out.append(measured[ok] - shape[ok] - np.mean(measured[ok] - shape[ok]))
        residuals.append(np.concatenate(out))
    n_segments = sum(tr.segment_ids.size for tr in with_segments.trajectories.values())
    extra, left = 2 * n_segments, residuals[1].size - 3 * n_segments
    rss_without, rss_with = (float(np.sum(np.square(r))) for r in residuals)
    if left <= 0 or rss_with <= 0.0:
        return 1.0
    statistic = max(rss_without - rss_with, 0.0) / extra / (rss_with / left)
    return float(f_distribution.sf(statistic, extra, left))


def chosen_model(
    scores: dict[str, LooScore],
    segment_p: dict[str, float],
    margin: float = MARGIN,
    free_margin: float = FREE_MARGIN,
    significance: float = SEGMENT_P,
) -> str:
    """The model the scores choose (module docstring): ``model_free`` where its total times ``1 +
    free_margin`` beats every other model's; else the simplest of the slice-level models (``population``,
    ``gains``, ``timing``) whose ``trajectory`` score is within ``margin`` of their best, with its segments
    where their F test (``segment_p``, by the model whose segments they are) is below ``significance``."""
    others = [m for m in scores if m != "model_free"]
    free = scores["model_free"].total if "model_free" in scores else np.inf
    if np.isfinite(free) and all(free * (1.0 + free_margin) < scores[m].total for m in others):
        return "model_free"
    level = {m: scores[m].trajectory for m in ("population", "gains", "timing") if m in scores}
    best = min(level.values(), default=np.inf)
    if not np.isfinite(best):
        raise DataError("no model of the kinematic prior could be fitted to the key frames")
    chosen = next(m for m in MODELS if m in level and level[m] <= best * (1.0 + margin))
    with_segments = WITH_SEGMENTS[chosen]
    if with_segments not in scores or scores[with_segments].trajectory > best * (1.0 + margin):
        return chosen
    tested = "gains" if chosen == "population" else chosen
    return with_segments if segment_p.get(tested, 1.0) < significance else chosen


def choose_and_fit(
    templates: KinematicTemplates, data: Sequence[KeyTrajectories], rr_ms: float, models: Sequence[str] = MODELS
) -> KinematicFit:
    """The fit, on all key frames, of the model the key frames choose (``chosen_model`` of ``loo_scores`` and
    the segments' ``segment_test``), with every candidate's score; a model that cannot be fitted on all key
    frames is not chosen."""
    fits = fit_models(templates, data, rr_ms, models)
    unusable = LooScore(np.inf, np.inf)
    scores = {
        m: (unusable if isinstance(fits[m], DataError) else v)
        for m, v in loo_scores(templates, data, rr_ms, models).items()
    }
    segment_p = {
        model: segment_test(templates, fits[model], fits[WITH_SEGMENTS[model]])
        for model in ("gains", "timing")
        if isinstance(fits.get(model), KinematicFit) and isinstance(fits.get(WITH_SEGMENTS[model]), KinematicFit)
    }
    return replace(fits[chosen_model(scores, segment_p)], scores={m: v.total for m, v in scores.items()})


def _free_curves(templates: KinematicTemplates, fit: KinematicFit, position: str, n_frames: int) -> dict:
    """``model_free`` curves: the trajectories' harmonic fits differentiated (cm/s), through-plane from the
    population floor (or the templates at the RR law's times where there is none)."""
    tr = fit.trajectories[position]
    fractions = np.arange(n_frames) / n_frames
    order, per_second = max_order(tr.fractions.size), 1000.0 / fit.rr_ms

    def rate(values: np.ndarray) -> np.ndarray:
        return fourier_fit(tr.fractions, values, fractions, order, derivative=True) * per_second

    distance_cm = fourier_fit(tr.fractions, tr.mean_distance_mm, fractions, order) / 10.0
    turning = np.nan_to_num(np.radians(rate(tr.rotation_deg)))
    if position in templates.population:
        longitudinal = curves_at(templates.population[position], n_frames)["longitudinal"]
    else:
        longitudinal = fitted_curves(templates, _flat_fit(templates, [tr], fit.rr_ms, "gains"), position, n_frames)[
            "longitudinal"
        ]
    seg_radial = np.stack([-np.nan_to_num(rate(d)) / 10.0 for d in tr.segment_distance_mm])
    return {
        "radial": -rate(tr.mean_distance_mm) / 10.0,
        "circumferential": turning * distance_cm,
        "longitudinal": longitudinal,
        "segment_radial": seg_radial,
        "segment_longitudinal": np.tile(longitudinal, (tr.segment_ids.size, 1)),
    }


def model_curves(templates: KinematicTemplates, fit: KinematicFit, position: str, n_frames: int) -> dict:
    """The velocity curves (cm/s) of a slice at the frames t / T for any model's fit: the keys of
    ``fit.fitted_curves`` (global ``radial``, ``circumferential``, ``longitudinal`` [T]; ``segment_radial``
    and ``segment_longitudinal`` [n_seg, T] in the order of the slice's segment ids)."""
    if fit.model == "model_free":
        return _free_curves(templates, fit, position, n_frames)
    if fit.model == "population":
        curves = curves_at(templates.population[position], n_frames)
        n_seg = fit.slices[position].segment_ids.size
        curves["segment_radial"] = np.tile(curves["radial"], (n_seg, 1))
        curves["segment_longitudinal"] = np.tile(curves["longitudinal"], (n_seg, 1))
        return curves
    return fitted_curves(templates, fit, position, n_frames)
