"""A subject's kinematic prior read from its key frames and kept as curves, to paint on any myocardium.

The slices of one heart share its landmark times, so the prior is fitted once per subject
(``KinematicPrior.fit`` over the key-frame motion of all its slices); what each slice keeps is small:
its fitted curves on the cycle's frames, its in-plane bulk velocity, its segment ids, septum angle and
through-plane direction (``SliceCurves``). Painting them on a myocardium (the twin's rebuilt masks, a
training sample's frame) is then cheap and needs nothing else, so:

- the chain paints them on the twin's masks, for the ``kinematic`` row and for the prior a ``--prior
  kinematic`` phase run refines (one fit per subject serves both);
- stage 2's evaluation paints them on the subject's own masks;
- a ``--prior kinematic`` training run paints one frame per sample (``PriorTable``), from curves
  cross-fitted so that no subject's prior comes from templates it helped to make (``cross_fit``).

Nothing here reads anything but the key frames, their masks and the acquisition attributes: never the
velocities, the phantom's parameters or the masks of other frames.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from assessment.velocity import DEFAULT_SEPTUM_DEG, septum_angle
from data.keyframes import KeyFrames, key_frames_of
from data.mvm_io import SliceData, Subject
from models.kinematics.keyframe_motion import KeyFrameMotion, measure_keyframe_motion, registration_warnings
from models.kinematics.paint import paint_curves, paint_frame
from models.kinematics.prior import KinematicPrior
from models.kinematics.templates import KinematicTemplates, fit_templates
from util.errors import DataError

#: AHA segments 1-16: every segment a basal, mid or apical slice can have
ALL_SEGMENTS = np.arange(1, 17)
#: The ``model`` of a population prior standing in for a kinematic fit that could not be made.
FALLBACK = "fallback"


def keyframe_septum(s: SliceData, keys: KeyFrames) -> float | None:
    """The septum angle of ``s`` for its AHA segments: the file's, else from the key frames' RV mask, else
    None. The twin has no RV mask of its own, so the chain carries this one over."""
    if s.rv_insertion_deg is not None:
        return float(s.rv_insertion_deg)
    stored = list(keys.stored)
    if s.rv_blood is None or not np.any(s.rv_blood[stored]) or not np.any(s.myocardium[stored]):
        return None
    return float(septum_angle(s.myocardium[stored], rv_mask=s.rv_blood[stored]))


def _file_septum(s: SliceData) -> float:
    return float(s.rv_insertion_deg) if s.rv_insertion_deg is not None else DEFAULT_SEPTUM_DEG


def keyframe_motions(source: Subject, keys: Mapping[str, KeyFrames]) -> dict[str, KeyFrameMotion]:
    """The key-frame motion of every slice of ``source`` (its key frames and their masks only)."""
    motions = {}
    for name, s in source.slices.items():
        k = keys[name]
        stored = list(k.stored)
        motions[name] = measure_keyframe_motion(
            s.magnitude[stored], s.myocardium[stored], k.frames, k.n_frames, s.rr_interval_ms,
            s.pixel_spacing_mm, s.slice_position, _file_septum(s), where=f"{source.subject_id}: slice {name!r}",
        )  # fmt: skip
    return motions


@dataclass(frozen=True)
class SliceCurves:
    """What one slice keeps of its prior: ``curves`` as ``choice.model_curves`` gives them on the T frames of
    the cycle (``circumferential`` [T], ``segment_radial`` and ``segment_longitudinal`` [n_seg, T] in the
    order of ``segment_ids``), the bulk velocity [T, 2] (or None), the slice's geometry, and the model the
    subject's key frames chose (``choice.MODELS``; ``FALLBACK`` for the population prior standing in for a
    fit that could not be made) with its leave-one-key-frame-out score (NaN where nothing was chosen)."""

    curves: dict[str, np.ndarray]
    segment_ids: np.ndarray
    bulk_cm_s: np.ndarray | None
    slice_position: str
    septum_deg: float
    z_towards_apex: int
    model: str = "population"
    loo_score: float = float("nan")

    @classmethod
    def uniform(
        cls, radial: np.ndarray, circumferential: np.ndarray, longitudinal: np.ndarray, s: SliceData, septum: float
    ) -> SliceCurves:
        """Global curves [T] the same in every segment, no bulk motion: how a population prior is painted
        when it stands in for a subject whose kinematic fit failed."""
        rows = len(ALL_SEGMENTS)
        curves = {
            "circumferential": np.asarray(circumferential, dtype=np.float64),
            "segment_radial": np.tile(np.asarray(radial, dtype=np.float64), (rows, 1)),
            "segment_longitudinal": np.tile(np.asarray(longitudinal, dtype=np.float64), (rows, 1)),
        }
        return cls(curves, ALL_SEGMENTS, None, s.slice_position, float(septum), int(s.z_towards_apex), FALLBACK)

    def paint(self, masks: np.ndarray) -> np.ndarray:
        """Velocity [T, 3, H, W] (cm/s) on the myocardium ``masks`` [T, H, W] of every frame of the cycle."""
        return paint_curves(self.curves, self.segment_ids, masks, self.slice_position, self.septum_deg,
                            self.z_towards_apex, self.bulk_cm_s)  # fmt: skip

    def paint_frame(self, frame: int, mask: np.ndarray) -> np.ndarray:
        """Velocity [3, H, W] (cm/s) of frame ``frame`` on its myocardium ``mask`` [H, W]."""
        return paint_frame(self.curves, self.segment_ids, mask, frame, self.slice_position, self.septum_deg,
                           self.z_towards_apex, self.bulk_cm_s)  # fmt: skip


def subject_curves(
    prior: KinematicPrior,
    source: Subject,
    keys: Mapping[str, KeyFrames],
    report: Callable[[str], None] | None = None,
) -> dict[str, SliceCurves]:
    """The prior of every slice of ``source`` from its key frames ``keys``: one fit for the subject, then each
    slice's curves on its cycle. Raises ``DataError`` when the subject cannot be read (too few key frames,
    a key frame without mask, landmarks that cannot be fitted). A key frame that registers badly stays out
    of the rotation fit; ``report`` gets one line for each, naming the subject, the slice and the frame."""
    motions = keyframe_motions(source, keys)
    if report is not None:
        for name, motion in motions.items():
            for line in registration_warnings(motion, f"{source.subject_id}, slice '{name}'"):
                report(line)
    fitted = prior.fit({source.slices[name].slice_position: m for name, m in motions.items()})
    out = {}
    for name, s in source.slices.items():
        k = keys[name]
        key_masks = s.myocardium[list(k.stored)]
        curves, bulk = prior.slice_curves(fitted, motions[name], s.slice_position, k.n_frames, key_masks,
                                          s.pixel_spacing_mm)  # fmt: skip
        septum = keyframe_septum(s, k)
        out[name] = SliceCurves(
            curves, fitted.slices[s.slice_position].segment_ids, bulk, s.slice_position,
            DEFAULT_SEPTUM_DEG if septum is None else septum, int(s.z_towards_apex),
            fitted.model, float(fitted.scores.get(fitted.model, np.nan)),
        )  # fmt: skip
    return out


def chosen_models(priors: Iterable[Mapping[str, SliceCurves]]) -> str:
    """How many subjects' priors (``subject_curves`` results; a subject's slices share their model) each
    model gave, most first: ``segments 12, population 5, ...``."""
    counts = Counter(next(iter(p.values())).model for p in priors if p)
    return ", ".join(f"{model} {n}" for model, n in counts.most_common()) or "none"


def kinematic_velocities(
    prior: KinematicPrior, source: Subject, twin: Subject, keys: Mapping[str, KeyFrames]
) -> tuple[dict[str, np.ndarray], SliceCurves]:
    """The kinematic prior's velocity [T, 3, H, W] (cm/s) of every slice, on the twin's masks, and one
    slice's curves (the model chosen and its score are the subject's, shared by its slices)."""
    curves = subject_curves(prior, source, keys)
    return {name: curves[name].paint(s.myocardium) for name, s in twin.slices.items()}, next(iter(curves.values()))


def grid_curves(prior: KinematicPrior, subject: Subject, factor: int) -> dict[str, SliceCurves]:
    """``subject_curves`` of full cines read as the chain reads them with ``--factor factor``: key frames
    0, k, 2k, ... (``data.keyframes.key_frames_of``) and their masks only."""
    keys = {name: key_frames_of(s, factor) for name, s in subject.slices.items()}
    return subject_curves(prior, subject, keys)


def fold_of(count: int, folds: int) -> list[int]:
    """The cross-fitting fold of each of ``count`` subjects in their sorted order: round robin."""
    if folds < 2:
        raise DataError(f"cross-fitting needs at least 2 folds, got {folds}")
    return [i % folds for i in range(count)]


def cross_fit(
    subjects: Sequence[Subject],
    factor: int,
    folds: int,
    fit: Callable[[Sequence[Subject]], KinematicTemplates] = fit_templates,
) -> list[dict[str, SliceCurves] | DataError]:
    """Each subject's prior (``grid_curves``) with templates ``fit`` from the subjects of the other folds
    only (``fold_of`` over the given order): a training subject's prior is then what a test subject's
    would be, made without it. A subject that cannot be read, or whose fold's templates cannot be made,
    gets the ``DataError`` saying why, for the caller's stated fallback."""
    fold = fold_of(len(subjects), folds)
    out: list[dict[str, SliceCurves] | DataError] = [DataError("not fitted")] * len(subjects)
    for f in sorted(set(fold)):
        members = [i for i, g in enumerate(fold) if g == f]
        try:
            prior = KinematicPrior(fit([s for s, g in zip(subjects, fold, strict=True) if g != f]))
        except DataError as exc:
            for i in members:
                out[i] = DataError(f"no templates without its fold ({exc})")
            continue
        for i in members:
            try:
                out[i] = grid_curves(prior, subjects[i], factor)
            except DataError as exc:
                out[i] = exc
    return out


@dataclass
class PriorTable:
    """The prior of each slice of a dataset (by its index in ``SliceDataset.slices``), painted one frame at
    a time: the dataset's ``prior_of``. Picklable, and small: data-loader workers get their own copy."""

    slices: list[SliceCurves]

    def __call__(self, slice_index: int, frame: int, mask: np.ndarray) -> np.ndarray:
        """Velocity [3, H, W] (cm/s) of frame ``frame`` of slice ``slice_index`` on its myocardium [H, W]."""
        return self.slices[slice_index].paint_frame(frame, mask)
