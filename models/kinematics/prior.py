"""The kinematic prior: a subject's velocities read from its key frames, shaped by the population.

    prior = KinematicPrior(fit_templates(training_subjects))
    motions = {name: measure_keyframe_motion(...) for name, slice in subject.slices.items()}
    fitted = prior.fit(motions)
    velocity = prior.velocity(fitted, motions["mid"], "mid", twin_masks, septum_deg, z, key_masks, spacing)

1. ``keyframe_motion.measure_keyframe_motion`` reads each slice's motion from its key frames and masks: the
   myocardium's mean distance from its centroid (global and per AHA segment), the slice's rotation
   (polar alignment of each key frame to the first), and the registration quality (Dice of the moved
   first mask with each key frame's own mask);
2. ``choice.choose_and_fit`` reads the subject as far as its key frames carry: from the population's mean
   curves, through the landmark-registered templates with the slices' gains, fitted landmark times and each
   segment's gain and delay (``fit.fit_subject``), to the measured trajectories themselves, the model
   chosen by how well each predicts a key frame left out;
3. the chosen model's curves (``choice.model_curves``) are painted on the twin's myocardium
   (``paint.paint_curves``) with the in-plane bulk velocity of the image-tracked LV centre
   (``yardsticks.bulk_velocity``).

Fallbacks, never a silent wrong answer: a key frame whose registration Dice is below
``keyframe_motion.DICE_THRESHOLD`` does not enter the rotation fit (its rotation is unknown; the slice's
rotation gain then leans on its prior), and ``badly_registered`` lists them for the caller to report.
Nothing here reads anything but the key frames, their masks and the acquisition attributes (RR interval,
pixel spacing, septum orientation, slice position).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from models.kinematics.choice import MODELS, choose_and_fit, model_curves
from models.kinematics.fit import KeyTrajectories, KinematicFit, fit_subject
from models.kinematics.keyframe_motion import DICE_THRESHOLD, KeyFrameMotion
from models.kinematics.paint import paint_curves
from models.kinematics.templates import KinematicTemplates
from models.kinematics.yardsticks import bulk_velocity
from util.errors import DataError, OptionError


def trajectories(motion: KeyFrameMotion, position: str, use_rotation: bool = True) -> KeyTrajectories:
    """The fit's view of a slice's key-frame motion; rotations of badly registered key frames are left out."""
    rotation = np.where(motion.dice >= DICE_THRESHOLD, motion.rotation_deg, np.nan)
    if not use_rotation:
        rotation = np.full_like(rotation, np.nan)
    return KeyTrajectories(
        position=position,
        fractions=motion.fractions,
        mean_distance_mm=motion.radius_mm,
        segment_ids=motion.segment_ids,
        segment_distance_mm=motion.segment_radius_mm.T,
        rotation_deg=rotation,
    )


@dataclass
class KinematicPrior:
    """Population templates and how the subject is read.

    ``choose`` (default): each subject's model is chosen from its key frames (``choice``), among
    ``candidates`` (default ``choice.MODELS``; one of them alone forces it) less the segment models without
    ``use_segments``. ``choose=False`` fits one model for every subject,
    the templates with slice gains and segments, landmark times fitted with ``fit_timing`` (the ablations
    of the prior, and its form before the choice). ``use_rotation`` and ``use_bulk`` switch the rotation
    and bulk motion measures off (ablations).
    """

    templates: KinematicTemplates
    use_rotation: bool = True
    use_bulk: bool = True
    fit_timing: bool = False
    use_segments: bool = True
    choose: bool = True
    candidates: tuple[str, ...] = MODELS

    def __post_init__(self) -> None:
        unknown = sorted(set(self.candidates) - set(MODELS))
        if unknown or not self.models:
            valid = ", ".join(MODELS)
            raise OptionError(f"kinematic prior: no valid model among {list(self.candidates)}; valid: {valid}")

    @property
    def models(self) -> tuple[str, ...]:
        """The candidate models of the choice."""
        return tuple(m for m in self.candidates if m in MODELS and (self.use_segments or "segments" not in m))

    def fit(self, motions: Mapping[str, KeyFrameMotion]) -> KinematicFit:
        """The subject fit from the key-frame motion of its slices (keyed by slice position)."""
        if not motions:
            raise DataError("kinematic prior: no slice to fit")
        rr = {round(float(m.rr_ms), 3) for m in motions.values()}
        if len(rr) != 1:
            raise DataError(f"kinematic prior: the slices of a subject disagree on the RR interval {sorted(rr)}")
        data = [trajectories(m, position, self.use_rotation) for position, m in motions.items()]
        if self.choose:
            return choose_and_fit(self.templates, data, rr.pop(), self.models)
        fitted = fit_subject(self.templates, data, rr.pop(), fit_timing=self.fit_timing)
        return fitted if self.use_segments else fitted.without_segments()

    def slice_curves(
        self,
        fitted: KinematicFit,
        motion: KeyFrameMotion,
        position: str,
        n_frames: int,
        key_masks: np.ndarray,
        pixel_spacing_mm: Sequence[float],
    ) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """The fitted curves of one slice at the frames t / T of a cycle of ``n_frames`` (``choice.model_curves``)
        and its in-plane bulk velocity [T, 2] (cm/s; None without ``use_bulk``): all that painting needs
        besides the myocardium, small enough to keep per slice for a whole training set."""
        curves = model_curves(self.templates, fitted, position, n_frames)
        if not self.use_bulk:
            return curves, None
        # The image-tracked centre, not the mask centroids: a key-frame mask a pixel off would move its
        # centroid by a pixel, which differentiation over the key times turns into cm/s. The population
        # floor keeps the mask centroids: it is then exactly the population_bulk yardstick.
        tracked = None if fitted.model == "population" else motion.tracked_displacement_mm
        bulk = bulk_velocity(key_masks, motion.frames, n_frames, motion.rr_ms, pixel_spacing_mm,
                             displacement_mm=tracked)  # fmt: skip
        return curves, bulk

    def velocity(
        self,
        fitted: KinematicFit,
        motion: KeyFrameMotion,
        position: str,
        masks: np.ndarray,
        septum_deg: float,
        z_towards_apex: int,
        key_masks: np.ndarray,
        pixel_spacing_mm: Sequence[float],
    ) -> np.ndarray:
        """The prior's velocity [T, 3, H, W] (cm/s) of one slice on the twin's myocardium ``masks``."""
        masks = np.asarray(masks) != 0
        curves, bulk = self.slice_curves(fitted, motion, position, masks.shape[0], key_masks, pixel_spacing_mm)
        segment_ids = fitted.slices[position].segment_ids
        return paint_curves(curves, segment_ids, masks, position, septum_deg, z_towards_apex, bulk)
