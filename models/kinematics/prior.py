"""The kinematic prior: a subject's velocities read from its key frames, shaped by the population.

    prior = KinematicPrior(fit_templates(training_subjects))
    motions = {name: measure_keyframe_motion(...) for name, slice in subject.slices.items()}
    fitted = prior.fit(motions)
    velocity = prior.velocity(fitted, motions["mid"], "mid", twin_masks, septum_deg, z, key_masks, spacing)

1. ``keyframe_motion.measure_keyframe_motion`` reads each slice's motion from its key frames and masks: the
   myocardium's mean distance from its centroid (global and per AHA segment), the slice's rotation
   (polar alignment of each key frame to the first), and the registration quality (Dice of the moved
   first mask with each key frame's own mask);
2. ``fit.fit_subject`` fits the population's landmark-registered displacement templates to them: the
   landmark times (shared by the slices), the slices' radial and rotation gains, each segment's gain and
   delay;
3. the fitted curves (``fit.fitted_curves``) are painted on the twin's myocardium (``paint.paint_curves``)
   with the in-plane bulk velocity of the image-tracked LV centre (``yardsticks.bulk_velocity``).

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

from models.kinematics.fit import KeyTrajectories, KinematicFit, fit_subject, fitted_curves
from models.kinematics.keyframe_motion import DICE_THRESHOLD, KeyFrameMotion
from models.kinematics.paint import paint_curves
from models.kinematics.templates import KinematicTemplates
from models.kinematics.yardsticks import bulk_velocity
from util.errors import DataError


def trajectories(motion: KeyFrameMotion, position: str, use_rotation: bool = True) -> KeyTrajectories:
    """The fit's view of a slice's key-frame motion; rotations of badly registered key frames are left out."""
    rotation = np.where(motion.dice >= DICE_THRESHOLD, motion.rotation_deg, np.nan)
    if not use_rotation:
        rotation = np.full_like(rotation, np.nan)
    return KeyTrajectories(
        position=position,
        phases=motion.fractions,
        mean_distance_mm=motion.radius_mm,
        segment_ids=motion.segment_ids,
        segment_distance_mm=motion.segment_radius_mm.T,
        rotation_deg=rotation,
    )


@dataclass
class KinematicPrior:
    """Population templates and how the subject is read (``use_rotation``, ``use_bulk``, ``use_timing``,
    ``use_segments``: the ablations of the prior).

    The landmark times are not fitted by default (``use_timing=False``: the population's times for the
    subject's RR interval). Chosen on the validation split of the patient cohort (seed 2027, 7 subjects,
    ``scripts/kinematic_ablation.py --split val``): MAE 0.396 cm/s without the timing fit against 0.416
    with it. Nine key frames place an event to about two thirds of a frame, no better than the RR
    regression does, and a fit that moves a landmark wrongly moves the whole curve.
    """

    templates: KinematicTemplates
    use_rotation: bool = True
    use_bulk: bool = True
    use_timing: bool = False
    use_segments: bool = True

    def fit(self, motions: Mapping[str, KeyFrameMotion]) -> KinematicFit:
        """The subject fit from the key-frame motion of its slices (keyed by slice position)."""
        if not motions:
            raise DataError("kinematic prior: no slice to fit")
        rr = {round(float(m.rr_ms), 3) for m in motions.values()}
        if len(rr) != 1:
            raise DataError(f"kinematic prior: the slices of a subject disagree on the RR interval {sorted(rr)}")
        data = [trajectories(m, position, self.use_rotation) for position, m in motions.items()]
        fitted = fit_subject(self.templates, data, rr.pop(), fit_timing=self.use_timing)
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
        """The fitted curves of one slice at the frames t / T of a cycle of ``n_frames`` (``fit.fitted_curves``)
        and its in-plane bulk velocity [T, 2] (cm/s; None without ``use_bulk``): all that painting needs
        besides the myocardium, small enough to keep per slice for a whole training set."""
        curves = fitted_curves(self.templates, fitted, position, n_frames)
        if not self.use_bulk:
            return curves, None
        # The image-tracked centre, not the mask centroids: a key-frame mask a pixel off would move its
        # centroid by a pixel, which differentiation over the key times turns into cm/s.
        bulk = bulk_velocity(key_masks, motion.frames, n_frames, motion.rr_ms, pixel_spacing_mm,
                             displacement_mm=motion.tracked_displacement_mm)  # fmt: skip
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
