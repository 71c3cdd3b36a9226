"""The kinematic prior's model choice (models/kinematics/choice.py): each subject read as far as its own key
frames carry, never further. Synthetic trajectories with known content choose the model that made them;
phantom subjects that made the fixed template fit fail (5 key frames, altered waveforms) get a prior no
worse than the population's; collapsed landmarks are never used; the population floor is the
``population_bulk`` yardstick itself."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_kinematics_fit import CANONICAL, RR, _templates, _trajectories

from data.keyframes import key_frames_of
from data.mvm_io import Subject, read_subject
from data.phantom import PhantomConfig, generate_cohort
from data.phantom.generate import generate_subject, subject_seed
from data.splits import load_splits
from models.kinematics.choice import (
    MODELS,
    LooScore,
    _flat_fit,
    _held_out_error,
    choose_and_fit,
    chosen_model,
    fit_models,
    loo_scores,
    model_curves,
)
from models.kinematics.fit import KeyTrajectories, fitted_curves, landmarks_separated
from models.kinematics.population import fit_population_prior
from models.kinematics.prior import KinematicPrior
from models.kinematics.subject import grid_curves
from models.kinematics.templates import KinematicTemplates, fit_templates
from models.kinematics.yardsticks import population_plus_bulk
from models.phase.priors import grid_keys
from util.errors import DataError, OptionError

POSITIONS = ("basal", "mid", "apical")
UNIT = {p: 1.0 for p in POSITIONS}


def _with_population(templates: KinematicTemplates) -> KinematicTemplates:
    """The synthetic templates with a population floor: their own curves at the canonical times, unit gains."""
    flat = [KeyTrajectories(p, np.arange(9) / 9, np.full(9, 30.0), np.arange(1, 7), np.full((6, 9), 30.0),
                            np.zeros(9)) for p in POSITIONS]  # fmt: skip
    fit = _flat_fit(templates, flat, RR, "gains")
    curves = {p: fitted_curves(templates, fit, p, 100) for p in POSITIONS}
    return templates.with_population({p: np.stack([c["radial"], c["circumferential"], c["longitudinal"]])
                                      for p, c in curves.items()})  # fmt: skip


def _noisy(data: list[KeyTrajectories], seed: int = 0) -> list[KeyTrajectories]:
    """Measurement noise about the size the fit assumes (0.1 mm, 0.25 mm per segment, 0.5 degrees)."""
    rng = np.random.default_rng(seed)
    return [replace(tr, mean_distance_mm=tr.mean_distance_mm + rng.normal(0, 0.1, tr.fractions.size),
                    segment_distance_mm=tr.segment_distance_mm + rng.normal(0, 0.25, tr.segment_distance_mm.shape),
                    rotation_deg=tr.rotation_deg + rng.normal(0, 0.5, tr.fractions.size)) for tr in data]  # fmt: skip


HYPOKINETIC = {"basal": [1, 1, 0.2, 0.2, 1, 1], "mid": [1, 1, 0.2, 0.2, 1, 1], "apical": [1, 0.3, 1, 1]}


@pytest.mark.parametrize(
    ("keys", "gains", "segment_gain", "expected"),
    [
        (9, UNIT, None, "population"),  # the average heart: nothing to read beyond the floor
        (5, UNIT, None, "population"),
        (9, {p: 0.6 for p in POSITIONS}, None, "gains"),  # weak everywhere: slice gains, the segments alike
        (5, {p: 0.6 for p in POSITIONS}, None, "gains"),
        (9, UNIT, HYPOKINETIC, "segments"),  # a hypokinetic territory: the segments differ
    ],
)
def test_the_key_frames_choose_the_model_that_made_them(keys, gains, segment_gain, expected):
    templates = _with_population(_templates())
    data = _noisy(_trajectories(templates, CANONICAL, gains, np.arange(keys) / keys, segment_gain=segment_gain))
    fit = choose_and_fit(templates, data, RR)
    assert fit.model == expected
    assert set(fit.scores) == set(MODELS)
    assert fit.scores[expected] == min(fit.scores[m] for m in ("population", expected))
    if expected == "gains":
        assert fit.slices["mid"].radial_gain == pytest.approx(0.6, abs=0.05)


def test_a_heart_no_template_describes_is_read_model_free():
    """A displacement with a second harmonic the templates do not have: the measured trajectories win, and
    their radial velocity follows the true derivative, which the population's does not."""
    templates = _with_population(_templates())
    fractions = np.arange(9) / 9
    data = []
    for p in POSITIONS:
        distance = 30.0 - 3.0 * np.sin(4 * np.pi * fractions) - 2.0 * np.cos(2 * np.pi * fractions)
        data.append(KeyTrajectories(p, fractions, distance, np.arange(1, 7), np.tile(distance, (6, 1)),
                                    5.0 * np.sin(4 * np.pi * fractions)))  # fmt: skip
    fit = choose_and_fit(templates, _noisy(data), RR)
    assert fit.model == "model_free"
    n = 50
    t = np.arange(n) / n
    truth = -(-12 * np.pi * np.cos(4 * np.pi * t) + 4 * np.pi * np.sin(2 * np.pi * t)) / 10.0  # cm/s, RR 1 s
    free = model_curves(templates, fit, "mid", n)["radial"]
    floor = model_curves(templates, fit_models(templates, data, RR, ("population",))["population"], "mid", n)
    assert np.corrcoef(free, truth)[0, 1] > 0.95 and np.corrcoef(floor["radial"], truth)[0, 1] < 0.5
    assert np.abs(free - truth).mean() < 0.3 * np.abs(truth).mean()


def test_a_held_out_key_frame_is_predicted_from_the_others_alone():
    """Leave-one-key-frame-out means out of everything: the shape's level is fitted on the other key frames
    (a held-out outlier keeps its whole error), and each fold's fit never saw the frame it is scored on, so
    on the average heart with noise every extra freedom predicts worse than the floor (scored on frames it
    had seen, the freer fits would look better: in-sample error)."""
    assert _held_out_error(np.zeros(5), np.array([0.0, 0.0, 0.0, 0.0, 5.0]), 4) == 5.0
    assert _held_out_error(np.ones(5), np.array([2.0, 2.0, 2.0, 2.0, 7.0]), 4) == 5.0
    templates = _with_population(_templates())
    data = _noisy(_trajectories(templates, CANONICAL, UNIT, np.arange(9) / 9))
    scores = loo_scores(templates, data, RR, ("population", "gains", "timing", "segments"))
    floor = scores["population"]
    assert scores["gains"].trajectory > floor.trajectory and scores["timing"].trajectory > floor.trajectory + 0.1
    assert scores["segments"].segments > floor.segments + 0.1


def test_collapsed_landmarks_are_never_used():
    canonical = CANONICAL
    assert landmarks_separated(canonical, canonical)
    collapsed = canonical.copy()
    collapsed[1] = collapsed[0] + 0.005  # onset on the systolic peak
    assert not landmarks_separated(collapsed, canonical)
    # A timing model that cannot be fitted is scored inf and never chosen, whatever its score claims.
    scores = {m: LooScore(1.0, 1.0) for m in MODELS}
    scores["population"] = LooScore(5.0, 5.0)
    scores["gains"] = scores["segments"] = LooScore(5.0, 5.0)
    scores["timing"] = scores["timing_segments"] = LooScore(np.inf, np.inf)
    scores["model_free"] = LooScore(20.0, 20.0)
    assert chosen_model(scores, {"gains": 0.5}) == "population"
    assert chosen_model(scores, {"gains": 0.001}) == "segments"  # the floor's segments are the templates'
    scores["gains"] = LooScore(2.0, 5.0)
    assert chosen_model(scores, {"gains": 0.5}) == "gains"


def test_a_collapsing_timing_fit_gives_way_and_the_velocities_stay_physiological():
    """Key frames whose onset and systolic peak lie 5 ms apart (a heart the templates cannot time): the
    timing fit would push two landmarks together and make the warp, and so the velocity, explode; it is
    refused, and the chosen model's velocities stay within twice the templates' own peak."""
    templates = _with_population(_templates())
    truth = CANONICAL.copy()
    truth[0] = truth[1] - 0.005
    data = _trajectories(templates, truth, UNIT, np.arange(9) / 9)
    fits = fit_models(templates, data, RR)
    timing = fits["timing"]
    assert isinstance(timing, DataError) or landmarks_separated(timing.landmarks, templates.canonical)
    fit = choose_and_fit(templates, data, RR)
    reference = np.abs(model_curves(templates, fits["gains"], "basal", 50)["radial"]).max()
    assert np.abs(model_curves(templates, fit, "basal", 50)["radial"]).max() < 2.0 * reference


def test_an_unknown_candidate_is_one_line():
    with pytest.raises(OptionError, match="no valid model among \\['segmentz'\\]; valid: population"):
        KinematicPrior(_templates(), candidates=("segmentz",))


def test_the_population_floor_is_the_population_bulk_yardstick(tiny_cohort: Path) -> None:
    splits = load_splits(tiny_cohort)
    train = [read_subject(tiny_cohort / f"{n}.h5") for n in splits["train"]]
    templates, population = fit_templates(train), fit_population_prior(s for t in train for s in t.slices.values())
    for p, curves in population.curves.items():
        np.testing.assert_array_equal(templates.population[p], curves)
    subject = read_subject(tiny_cohort / f"{splits['test'][0]}.h5")
    curves = grid_curves(KinematicPrior(templates, candidates=("population",)), subject, 6)
    for name, s in subject.slices.items():
        keys = key_frames_of(s, 6)
        stored = list(keys.stored)
        expected = population_plus_bulk(population.velocity(s), s.myocardium, keys.frames, s.myocardium[stored],
                                        s.rr_interval_ms, s.pixel_spacing_mm)  # fmt: skip
        np.testing.assert_allclose(curves[name].paint(s.myocardium), expected, atol=1e-5)
        assert curves[name].model == "population" and np.isfinite(curves[name].loo_score)


# ------------------------------------------------------------------ failure modes seen on phantom subjects
def _mae(subject: Subject, velocity: dict[str, np.ndarray]) -> float:
    errors = []
    for name, s in subject.slices.items():
        myo = np.broadcast_to((s.myocardium != 0)[:, None], s.velocity_true.shape)
        errors.append(float(np.abs(velocity[name] - s.velocity_true)[myo].mean()))
    return float(np.mean(errors))


@pytest.fixture(scope="module")
def reference_training(tmp_path_factory: pytest.TempPathFactory) -> tuple[KinematicTemplates, object]:
    """Templates and population prior from 5 reference-shaped subjects (40 frames, 96 px)."""
    root = tmp_path_factory.mktemp("choice_reference")
    generate_cohort(root, n_subjects=5, seed=7, config=PhantomConfig(frames=40, size=96), workers=1)
    train = [read_subject(p) for p in sorted(root.glob("*.h5"))]
    return fit_templates(train), fit_population_prior(s for t in train for s in t.slices.values())


@pytest.mark.parametrize(
    ("config", "cohort_seed", "index"),
    [
        (PhantomConfig(frames=30, size=96), 8, 1),  # 5 key frames: the fixed segment fit follows the noise
        (PhantomConfig(frames=40, size=96, waveform_shape="altered"), 9, 3),  # a shape the templates lack
    ],
    ids=["five_key_frames", "altered_waveform"],
)
def test_a_subject_that_defeated_the_fixed_fit_gets_no_worse_than_the_population(
    reference_training, config, cohort_seed, index
):
    templates, population = reference_training
    subject = generate_subject(f"subject_{index:03d}", subject_seed(cohort_seed, index), config, patient=False)
    keys = grid_keys(subject, 6)
    bulk = {}
    for name, s in subject.slices.items():
        stored = list(keys[name].stored)
        bulk[name] = population_plus_bulk(population.velocity(s), s.myocardium, keys[name].frames,
                                          s.myocardium[stored], s.rr_interval_ms, s.pixel_spacing_mm)  # fmt: skip
    maes = {}
    for label, prior in (("chosen", KinematicPrior(templates)), ("fixed", KinematicPrior(templates, choose=False))):
        curves = grid_curves(prior, subject, 6)
        maes[label] = _mae(subject, {n: curves[n].paint(s.myocardium) for n, s in subject.slices.items()})
    floor = _mae(subject, bulk)
    assert maes["fixed"] > floor + 0.03, maes  # the failure this guards against
    assert maes["chosen"] <= floor + 0.02, maes
