"""The comparison rows of the stage-2 and the chain tables: yardsticks, the kinematic prior, the ceilings.

Every one is a twin of the subject that differs from the model's twin only in its velocity (same cine,
same masks), so the tables compare velocities alone (:func:`yardstick_twins` makes them):

============== ============================================================================================
zero           no motion at all
population     the training set's mean curves per slice position and cycle fraction on the twin's
               myocardium (``models.kinematics.population.PopulationPrior``)
population_bulk the population prior plus the in-plane bulk velocity of the key-frame mask centroids; the
               curves remove bulk motion, so only the pixel errors differ from ``population``
flow           the key frames registered to the first by TV-L1 optical flow, the myocardial points'
               trajectories differentiated over the key times, through-plane from the population prior:
               the simplest method that reads the subject
kinematic      the kinematic prior (``models.kinematics.prior``): the subject read from its key frames as far
               as they carry (``models.kinematics.choice``: from the population's curves through the
               templates' landmark times, gains, rotation and segment delays to the measured trajectories);
               the twin's attributes ``kinematic_model`` and ``kinematic_loo`` say which model was chosen
============== ============================================================================================

Ceilings, where the input holds them (the phantom): ``acquired_phase``, the input's own measured phase on its
own masks (what the scan itself gives), and ``velocity_true``, the noise-free truth on its own masks
(what the analysis can give at best). They read the truth and are never part of a twin.

Everything but the ceilings reads only the key frames of the input, their masks and the acquisition's
attributes (RR interval, pixel spacing, septum orientation).

The chain's table (``models.hdl.evaluation``) shows every row. Stage 2's (``models.phase.evaluation``)
shows :data:`STAGE2_ROWS` on the file's own cine and masks, with the key frames of the phase run's
``--prior_factor``: ``flow`` registers every subject's key frames, which costs more than the rest of
its evaluation, and stage 2 scores the measured maps itself (its own ``acquired_phase`` row, under the
chain's name).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from typing import Any

import numpy as np

from data.keyframes import KeyFrames
from data.mvm_io import SliceData, Subject
from models.kinematics.population import PopulationPrior
from models.kinematics.prior import KinematicPrior
from models.kinematics.subject import kinematic_velocities
from models.kinematics.yardsticks import flow_velocity, population_plus_bulk
from util.conventions import CORRECTION_ATTR

#: Descriptions of the rows, for the pages.
DESCRIPTIONS = {
    "zero": "yardstick: zero velocity on the HDL twin's cine",
    "population": "yardstick: the phase run's training-set mean curves on the HDL twin's myocardium",
    "population_bulk": "yardstick: population curves plus the bulk motion of the key-frame mask centroids",
    "flow": "yardstick: key frames registered to the first (TV-L1), trajectories differentiated; "
    "through-plane from the population",
    "kinematic": "kinematic prior: the subject read from its key frames as far as they carry (a model chosen per "
    "subject: population curves, template gains, timing, segment delays, or the measured trajectories)",
    "acquired_phase": "ceiling: the input's measured phase on its own masks",
    "velocity_true": "ceiling: the noise-free truth on its own masks",
}


#: the rows that read the subject (its key frames and their masks), whose twins are saved like the HDL twin's
READS_SUBJECT = ("kinematic", "flow", "population_bulk")


#: every row this module makes
ALL_ROWS = frozenset(("zero", "population", *READS_SUBJECT, "acquired_phase", "velocity_true"))


#: the rows of stage 2's table, in its order (see the module docstring)
STAGE2_ROWS = ("zero", "population", "population_bulk", "kinematic")


def _with_velocity(twin: Subject, method: str, velocity_of: Callable[[str, SliceData], np.ndarray]) -> Subject:
    """``twin`` with another row's velocities: its attributes less stage 2's correction, which is not this row's."""

    def attrs(s: SliceData) -> dict:
        return {**{k: v for k, v in s.attrs.items() if k != CORRECTION_ATTR}, "synthesised_by": method}

    slices = {name: replace(s, velocity=velocity_of(name, s), attrs=attrs(s)) for name, s in twin.slices.items()}
    return replace(twin, slices=slices)


def _bulk_and_flow(
    source: Subject, twin: Subject, keys: dict[str, KeyFrames], population: PopulationPrior, rows: Collection[str]
) -> dict[str, Subject]:
    def keyed(name: str) -> tuple[SliceData, list[int], KeyFrames]:
        return source.slices[name], list(keys[name].stored), keys[name]

    def with_bulk(name: str, s: SliceData) -> np.ndarray:
        src, stored, k = keyed(name)
        prior = population.velocity(s)
        return population_plus_bulk(prior, s.myocardium, k.frames, src.myocardium[stored], src.rr_interval_ms,
                                    src.pixel_spacing_mm)  # fmt: skip

    def flow(name: str, s: SliceData) -> np.ndarray:
        src, stored, k = keyed(name)
        longitudinal = population.curves_at(s.slice_position, s.num_frames)["longitudinal"]
        return flow_velocity(src.magnitude[stored], src.myocardium[stored], k.frames, s.myocardium,
                             src.rr_interval_ms, src.pixel_spacing_mm, longitudinal, s.z_towards_apex)  # fmt: skip

    made = {"population_bulk": with_bulk, "flow": flow}
    return {row: _with_velocity(twin, row, velocity_of) for row, velocity_of in made.items() if row in rows}


def ceilings(source: Subject, rows: Collection[str] = ("acquired_phase", "velocity_true")) -> dict[str, Subject]:
    """``acquired_phase`` and ``velocity_true`` (each when every slice of the input holds it on every frame,
    and it is among ``rows``)."""
    full = all(s.frame_index is None and len(s.mask_frames()) == s.num_frames for s in source.slices.values())
    out = {}
    for method, field in (("acquired_phase", "velocity"), ("velocity_true", "velocity_true")):
        if method in rows and full and all(getattr(s, field) is not None for s in source.slices.values()):
            out[method] = _with_velocity(source, method, lambda _n, s, f=field: getattr(s, f))
    return out


def population_floor(phase_model: Any) -> dict[str, np.ndarray]:
    """The population curves of a phase run, the kinematic prior's floor model (empty without a prior)."""
    population = getattr(phase_model, "population", None)
    return population.curves if population is not None and population.ready else {}


def run_kinematic_prior(phase_model: Any) -> KinematicPrior | None:
    """The kinematic prior of a phase run's templates (None when it holds none: runs trained before they
    existed, or on too few subjects); templates saved before they held the population floor take the
    run's population prior."""
    templates = getattr(phase_model, "kinematics", None)
    if templates is None or not templates.ready:
        return None
    return KinematicPrior(templates.with_population(population_floor(phase_model)))


def yardstick_twins(
    twin: Subject,
    population: PopulationPrior,
    source: Subject | None = None,
    keys: dict[str, KeyFrames] | None = None,
    kinematic: KinematicPrior | None = None,
    rows: Collection[str] | None = None,
) -> dict[str, Subject]:
    """The rows of the module docstring for one subject, those of ``rows`` (default: every one): ``zero``
    always; ``population`` when the phase run holds a prior; with the ``source`` and its ``keys``,
    ``population_bulk`` and ``flow`` (with the prior), ``kinematic`` (with a ``kinematic`` prior) and the
    ceilings."""
    wanted = ALL_ROWS if rows is None else frozenset(rows)
    twins = {}
    if "zero" in wanted:
        twins["zero"] = _with_velocity(twin, "zero", lambda _n, s: np.zeros_like(s.velocity))
    if population.ready and "population" in wanted:
        twins["population"] = _with_velocity(twin, "population", lambda _n, s: population.velocity(s))
    if source is None or keys is None:
        return twins
    if population.ready:
        twins.update(_bulk_and_flow(source, twin, keys, population, wanted))
    if kinematic is not None and "kinematic" in wanted:
        velocities, chosen = kinematic_velocities(kinematic, source, twin, keys)
        row = _with_velocity(twin, "kinematic", lambda name, _s: velocities[name])
        twins["kinematic"] = replace(row, attrs={**row.attrs, "kinematic_model": chosen.model,
                                                 "kinematic_loo": chosen.loo_score})  # fmt: skip
    twins.update(ceilings(source, wanted))
    return twins
