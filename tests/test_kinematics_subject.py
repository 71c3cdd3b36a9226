"""A subject's kinematic prior kept as curves (models/kinematics/subject.py): painting one frame gives what
painting the cine gives there, and the curves paint what ``KinematicPrior.velocity`` paints."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from data.keyframes import key_frames_of
from data.mvm_io import read_subject
from data.splits import load_splits
from models.kinematics.prior import KinematicPrior
from models.kinematics.subject import (
    FALLBACK,
    PriorTable,
    SliceCurves,
    chosen_models,
    keyframe_motions,
    kinematic_velocities,
    subject_curves,
)
from models.kinematics.templates import fit_templates

FACTOR = 6


def test_curves_paint_the_prior_whole_or_one_frame_at_a_time(tiny_cohort: Path) -> None:
    splits = load_splits(tiny_cohort)
    prior = KinematicPrior(fit_templates([read_subject(tiny_cohort / f"{n}.h5") for n in splits["train"]]))
    subject = read_subject(tiny_cohort / f"{splits['test'][0]}.h5")
    keys = {name: key_frames_of(s, FACTOR) for name, s in subject.slices.items()}
    curves = subject_curves(prior, subject, keys)
    velocities, chosen = kinematic_velocities(prior, subject, subject, keys)
    motions = keyframe_motions(subject, keys)
    fitted = prior.fit({subject.slices[n].slice_position: m for n, m in motions.items()})
    assert chosen.model == fitted.model and chosen.loo_score == fitted.scores[fitted.model]
    table = PriorTable(list(curves.values()))
    for index, (name, s) in enumerate(subject.slices.items()):
        stored = list(keys[name].stored)
        direct = prior.velocity(fitted, motions[name], s.slice_position, s.myocardium, s.rv_insertion_deg,
                                s.z_towards_apex, s.myocardium[stored], s.pixel_spacing_mm)  # fmt: skip
        np.testing.assert_array_equal(velocities[name], direct)
        assert np.abs(direct).max() > 0.5
        for t in (0, 5, s.num_frames - 1):
            np.testing.assert_array_equal(table(index, t, s.myocardium[t]), direct[t])


def test_the_chosen_models_are_counted_per_subject(tiny_cohort: Path) -> None:
    """One count per subject (its slices share their model), most first; a fallback is named as such."""
    splits = load_splits(tiny_cohort)
    subject = read_subject(tiny_cohort / f"{splits['test'][0]}.h5")
    keys = {name: key_frames_of(s, FACTOR) for name, s in subject.slices.items()}
    prior = KinematicPrior(fit_templates([read_subject(tiny_cohort / f"{n}.h5") for n in splits["train"]]))
    curves = subject_curves(prior, subject, keys)
    model = next(iter(curves.values())).model
    assert all(c.model == model for c in curves.values())
    s = next(iter(subject.slices.values()))
    fallback = {"mid": SliceCurves.uniform(np.zeros(4), np.zeros(4), np.zeros(4), s, 0.0)}
    line = chosen_models([curves, curves, fallback])
    assert line == f"{model} 2, {FALLBACK} 1"
    assert chosen_models([]) == "none"
