"""Which prior a stage-2 generator refines (``--prior``), and the kinematic prior's curves for its inputs.

``--prior none`` (default): the generator predicts the velocity from the images alone. ``population``:
the training set's mean curves on the frame's myocardium (``models.kinematics.population.PopulationPrior``)
enter as three input channels and are added to its output. ``kinematic``: the same with the subject's
own kinematic prior (``models.kinematics``), read from its key frames, in place of the population's.
``--population_prior``, the older spelling of ``--prior population``, is still read (runs saved before
``--prior`` existed hold only it; the shipped twin refines the kinematic prior).

A kinematic run's prior must be the one inference can give: for a training subject, fitted from its key
frames (every ``--prior_factor``-th frame, as the chain reads it) with templates made without it
(``models.kinematics.subject.cross_fit`` over ``--prior_folds`` folds); for a validation or test subject,
with the run's templates. A subject whose key frames cannot be read (too few, a key frame without mask,
landmarks that cannot be fitted) gets the population prior instead, said in one line that names it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from assessment.velocity import DEFAULT_SEPTUM_DEG
from data.cycle import key_frame_grid
from data.keyframes import KeyFrames
from data.mvm_io import SliceData, Subject, read_subject
from models.kinematics.population import PopulationPrior
from models.kinematics.prior import KinematicPrior
from models.kinematics.subject import (
    PriorTable,
    SliceCurves,
    chosen_models,
    cross_fit,
    grid_curves,
    keyframe_septum,
    subject_curves,
)
from models.kinematics.templates import KinematicTemplates, fit_templates
from util.errors import DataError, OptionError

PRIOR_KINDS = ("none", "population", "kinematic")
#: ``--prior_factor``'s default, also the key-frame spacing of runs saved before the option existed
DEFAULT_PRIOR_FACTOR = 6


def resolve_prior_kind(opt: argparse.Namespace) -> str:
    """The prior ``opt`` asks for, from ``--prior`` and its older alias ``--population_prior`` (options saved
    before ``--prior`` existed hold only the alias, and take ``--prior``'s default ``none``)."""
    kind = getattr(opt, "prior", None) or "none"
    if kind not in PRIOR_KINDS:
        raise OptionError(f"--prior {kind!r} is not a prior; valid: {', '.join(PRIOR_KINDS)}")
    if not getattr(opt, "population_prior", False):
        return kind
    if kind == "kinematic":
        raise OptionError(
            "--population_prior (the older spelling of --prior population) contradicts --prior kinematic; give "
            "one of them (--init_weights and --continue_train take it from the saved options of their run)"
        )
    return "population"


def add_prior_options(g: argparse._ArgumentGroup) -> None:
    """``--prior`` and its alias, and how a kinematic run fits its training and validation priors."""
    g.add_argument(
        "--prior",
        choices=PRIOR_KINDS,
        default="none",
        help="the prior the generator refines (three input channels, added to its output): none; population "
        "(the training set's mean curves on the frame's myocardium); kinematic (the subject's own, fitted "
        "to its key frames and their masks)",
    )
    g.add_argument(
        "--population_prior",
        action="store_true",
        help="the older spelling of --prior population",
    )
    g.add_argument(
        "--prior_factor",
        type=int,
        default=DEFAULT_PRIOR_FACTOR,
        help="--prior kinematic: key-frame spacing the training and validation subjects' priors are fitted "
        "from (and stage-2 evaluation's); the chain uses its own --factor",
    )
    g.add_argument(
        "--prior_folds",
        type=int,
        default=5,
        help="--prior kinematic: folds of the training subjects; each subject's prior is fitted with "
        "templates made from the other folds, as a test subject's is made without it",
    )


def prior_factor(opt: argparse.Namespace) -> int:
    """The key-frame spacing a run's kinematic priors and stage-2 comparison rows are read with."""
    return int(getattr(opt, "prior_factor", None) or DEFAULT_PRIOR_FACTOR)


def _note(message: str) -> None:
    if int(os.environ.get("RANK", "0")) == 0:
        print(message, flush=True)


def population_curves(population: PopulationPrior, s: SliceData, keys: KeyFrames) -> SliceCurves:
    """The population prior of slice ``s`` (a cycle of ``keys.n_frames``) as curves to paint."""
    c = population.curves_at(s.slice_position, keys.n_frames)
    septum = keyframe_septum(s, keys)
    return SliceCurves.uniform(c["radial"], c["circumferential"], c["longitudinal"], s,
                               DEFAULT_SEPTUM_DEG if septum is None else septum)  # fmt: skip


def population_fallback(
    population: PopulationPrior,
    subject: Subject,
    keys: Mapping[str, KeyFrames],
    reason: Exception,
    missed: list[str] | None = None,
) -> dict[str, SliceCurves]:
    """The population prior of every slice of ``subject``, in place of a kinematic one it could not get:
    said in one line naming the subject and why, or added to ``missed`` (``subject: why``) for a summary."""
    line = f"{subject.subject_id}: no kinematic prior ({' '.join(str(reason).split())})"
    if missed is None:
        _note(f"note: {line}; the population prior stands in for it")
    else:
        missed.append(line)
    return {name: population_curves(population, s, keys[name]) for name, s in subject.slices.items()}


def choose_templates(
    subjects: Sequence[Subject],
    inherited: KinematicTemplates,
    inherited_from: str,
    kind: str,
    quiet_if_own: bool = False,
) -> tuple[KinematicTemplates, bool]:
    """The kinematic templates a run keeps, and whether they are its own (fitted from ``subjects``, its
    training split). A fine-tuned run keeps those of its starting weights (``inherited``) when its own
    cohort cannot fit them, and says which it uses (a resumed run, ``quiet_if_own``, fits the same as it
    did: nothing to say then); the note that there are none is for ``kind`` ``kinematic`` only (the other
    runs do not use them)."""
    try:
        own = fit_templates(subjects)
    except DataError as exc:  # e.g. a training set too small to show the cycle
        if inherited.ready:
            _note(f"kinematic templates: those of {inherited_from} (the {len(subjects)} training subject(s) "
                  f"cannot fit their own: {' '.join(str(exc).split())})")  # fmt: skip
            return inherited, False
        if kind == "kinematic":
            _note(f"note: no kinematic prior templates ({exc})")
        return KinematicTemplates(), True
    if inherited.ready and not quiet_if_own:
        _note(f"kinematic templates: fitted from the {len(subjects)} training subjects, in place of those of "
              f"{inherited_from}")  # fmt: skip
    return own, True


def summarise_fallbacks(missed: Mapping[str, Sequence[str]], totals: Mapping[str, int]) -> None:
    """One line for the subjects of a ``--prior kinematic`` run that train on the population prior instead
    (``missed``: split -> ``subject: why`` lines; ``totals``: split -> subjects), loud when they are most."""
    count, total = sum(len(v) for v in missed.values()), sum(totals.values())
    if not count:
        return
    head = "warning" if 2 * count >= total else "note"
    shown = ", ".join(f"{len(missed[k])} of {totals[k]} {k}" for k in totals if totals[k])
    first = next(line for lines in missed.values() for line in lines)
    names = [line.split(":", 1)[0] for lines in missed.values() for line in lines]
    _note(f"{head}: --prior kinematic: {shown} subject(s) have no kinematic prior and use the population prior "
          f"({', '.join(names)}; first reason: {first.split(': ', 1)[1]})")  # fmt: skip


def kinematic_curves(
    templates: KinematicTemplates, population: PopulationPrior, subject: Subject, keys: Mapping[str, KeyFrames]
) -> dict[str, SliceCurves]:
    """The prior a kinematic run refines for every slice of ``subject``: its kinematic prior from the key
    frames ``keys`` with ``templates``, else (said) the population prior."""
    try:
        if not templates.ready:
            raise DataError("the run holds no kinematic templates")
        prior = KinematicPrior(templates.with_population(population.curves))
        return subject_curves(prior, subject, keys, report=lambda line: _note(f"note: {line}"))
    except DataError as exc:
        return population_fallback(population, subject, keys, exc)


def grid_keys(subject: Subject, factor: int) -> dict[str, KeyFrames]:
    """Key frames 0, k, 2k, ... of every (full) cine of ``subject``, as the chain takes them."""
    out = {}
    for name, s in subject.slices.items():
        grid = tuple(key_frame_grid(s.num_frames, factor))
        out[name] = KeyFrames(grid, grid, s.num_frames)
    return out


def training_curves(
    subjects: Sequence[Subject],
    population: PopulationPrior,
    factor: int,
    folds: int,
    missed: list[str] | None = None,
) -> list[dict[str, SliceCurves]]:
    """The cross-fitted prior of each training subject (``cross_fit``), the population's where it fails
    (each said, or added to ``missed``)."""
    out = []
    for subject, fitted in zip(subjects, cross_fit(subjects, factor, folds), strict=True):
        if isinstance(fitted, DataError):
            fitted = population_fallback(population, subject, grid_keys(subject, factor), fitted, missed)
        out.append(fitted)
    return out


def validation_curves(
    subject: Subject,
    templates: KinematicTemplates,
    population: PopulationPrior,
    factor: int,
    missed: list[str] | None = None,
) -> dict[str, SliceCurves]:
    """A validation subject's prior: fitted from its key frames with the run's templates (all training
    subjects, or those a fine-tuned run started from), the population's where it fails."""
    try:
        if not templates.ready:
            raise DataError("the run holds no kinematic templates")
        return grid_curves(KinematicPrior(templates.with_population(population.curves)), subject, factor)
    except DataError as exc:
        return population_fallback(population, subject, grid_keys(subject, factor), exc, missed)


def attach_prior(dataset: Any, curves: Mapping[Path, Mapping[str, SliceCurves]]) -> None:
    """Give ``dataset`` (a ``PhaseDataset``) the prior of each of its slices, painted per sample."""
    dataset.prior_of = PriorTable([curves[entry.path][entry.slice_name] for entry in dataset.slices])


def attach_kinematic_priors(
    train_dataset: Any,
    val_dataset: Any | None,
    train_subjects: Sequence[Subject],
    templates: KinematicTemplates,
    population: PopulationPrior,
    opt: argparse.Namespace,
    own_templates: bool = True,
    inherited: tuple[KinematicTemplates, str] | None = None,
) -> KinematicTemplates:
    """The priors of a ``--prior kinematic`` run's training and validation subjects, on their datasets, and
    the templates the run keeps. Training subjects are cross-fitted when the templates are the run's own
    (``own_templates``); templates a fine-tuned run kept from its starting weights never saw them, and fit
    them as they fit a validation subject. A fine-tuned run whose cohort fits its own templates but is too
    small to cross-fit them for most of its subjects keeps the ``inherited`` ones (templates, where from)
    after all, and says so: its network would otherwise train on the population prior and be used on the
    kinematic one. ``train_subjects`` are those of ``train_dataset``, in the order of its paths. The
    subjects left with the population prior are said in one summary line."""
    paths = list(dict.fromkeys(entry.path for entry in train_dataset.slices))
    order = sorted(range(len(paths)), key=lambda i: str(paths[i]))
    factor, folds = int(opt.prior_factor), int(opt.prior_folds)
    missed: dict[str, list[str]] = {"training": [], "validation": []}
    ordered = [train_subjects[i] for i in order]
    if own_templates:
        fitted = training_curves(ordered, population, factor, folds, missed["training"])
        if inherited is not None and inherited[0].ready and 2 * len(missed["training"]) >= len(ordered):
            _note(f"kinematic templates: those of {inherited[1]} after all (the {len(ordered)} training subject(s) "
                  f"fit their own but cannot cross-fit them for {len(missed['training'])}: "
                  f"{missed['training'][0].split(': ', 1)[1]})")  # fmt: skip
            templates, own_templates, missed["training"] = inherited[0], False, []
    if not own_templates:
        fitted = [validation_curves(s, templates, population, factor, missed["training"]) for s in ordered]
    attach_prior(train_dataset, {paths[i]: c for i, c in zip(order, fitted, strict=True)})
    val_paths = dict.fromkeys(entry.path for entry in val_dataset.slices) if val_dataset is not None else {}
    validation = {
        p: validation_curves(read_subject(p, check_values=False), templates, population, factor, missed["validation"])
        for p in val_paths
    }
    if validation:
        attach_prior(val_dataset, validation)
    summarise_fallbacks(missed, {"training": len(paths), "validation": len(val_paths)})
    _note(f"kinematic prior: the models the key frames chose: training {chosen_models(fitted)}; "
          f"validation {chosen_models(validation.values())}")  # fmt: skip
    return templates
