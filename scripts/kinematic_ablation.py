"""What each part of the kinematic prior adds: myocardial velocity error against the truth, healthy and
patients apart, beside the yardsticks and the acquisition.

    python -m scripts.kinematic_ablation --dataroot datasets/patients --split test
    python -m scripts.kinematic_ablation --dataroot datasets/patients --split val --factor 10   # 5 key frames
    python -m scripts.kinematic_ablation --dataroot datasets/altered --templates_from datasets/patients
    python -m scripts.kinematic_ablation --dataroot datasets/patients --hold_out_territory RCA --only_territory RCA

The templates come from the ``train`` split's measured velocities and masks (of ``--templates_from``'s
cohort when given, less its patients of a ``--hold_out_territory``); every subject of ``--split``
is read from its key frames (every ``--factor``-th frame) and their masks only, as the chain would, and
painted on its own masks (the twin's masks would add stage 1's segmentation error to every row alike).
Rows: the kinematic prior (its model chosen per subject from the key frames, ``models.kinematics.choice``)
and its variants (no rotation, no bulk motion, no segment models among the candidates; ``fixed segments``:
the template fit with segments for every subject, the prior before the choice; ``fixed segments +
fitted timing``: the same with landmark times fitted (``fit_timing``); ``model_free``: the measured trajectories alone),
``population``,
``population_bulk``, ``zero`` and the acquired phase (the scan itself, a ceiling). Columns: mean
myocardial MAE (cm/s) with its 95 % bootstrap interval over subjects, the paired difference against
``population_bulk`` with its interval, and the Pearson r of the global radial and circumferential curves
(pooled over slices) against the truth's.
The truth (``velocity_true``, the phantom's files) is read here only, to score. A subject's coronary
territory, for the two territory options, is read from its regional truth (``aha_motion_scale``).
"""

from __future__ import annotations

if not __package__:  # run as a file, python scripts/<tool>.py: put the repository root on the path
    import _repo_root  # noqa: F401

import argparse
import time
from collections.abc import Iterator, Sequence

import numpy as np

from assessment.bootstrap import bootstrap_mean_ci, paired_difference_ci
from assessment.truth import pathology_flag, subject_truth, territories_of
from assessment.velocity import velocity_curves
from data.cycle import key_frame_grid
from data.mvm_io import Subject, read_subject
from data.phantom.segments import TERRITORIES
from data.selection import select_subjects
from models.kinematics.population import fit_population_prior
from models.kinematics.prior import KinematicPrior
from models.kinematics.subject import keyframe_motions
from models.kinematics.templates import fit_templates
from models.kinematics.yardsticks import population_plus_bulk
from models.phase.priors import grid_keys
from util.cli import RawDescriptionHelpFormatter, ToolParser, run_tool, say
from util.errors import DataError

VARIANTS = {
    "kinematic": {},
    "no rotation": {"use_rotation": False},
    "no bulk": {"use_bulk": False},
    "no segments": {"use_segments": False},
    "fixed segments": {"choose": False},
    "fixed segments + fitted timing": {"choose": False, "fit_timing": True},
    "model_free": {"candidates": ("model_free",)},
}
REFERENCE = "population_bulk"


def subject_maps(subject: Subject, factor: int, priors: dict[str, KinematicPrior], population) -> dict:
    """Per slice name, every row's velocity map [T, 3, H, W] on the subject's own masks."""
    keys = grid_keys(subject, factor)
    motions = keyframe_motions(subject, keys)
    by_position = {subject.slices[n].slice_position: m for n, m in motions.items()}
    fits = {label: prior.fit(by_position) for label, prior in priors.items()}
    maps: dict[str, dict[str, np.ndarray]] = {}
    for name, s in subject.slices.items():
        stored = list(keys[name].stored)
        rows = {
            label: prior.velocity(
                fits[label],
                motions[name],
                s.slice_position,
                s.myocardium,
                s.rv_insertion_deg,
                s.z_towards_apex,
                s.myocardium[stored],
                s.pixel_spacing_mm,
            )
            for label, prior in priors.items()
        }
        rows["population"] = population.velocity(s)
        rows[REFERENCE] = population_plus_bulk(rows["population"], s.myocardium, keys[name].frames,
                                               s.myocardium[stored], s.rr_interval_ms, s.pixel_spacing_mm)  # fmt: skip
        rows["zero"] = np.zeros_like(s.velocity_true)
        rows["acquired phase"] = s.velocity
        maps[name] = rows
    return maps


def score_subject(subject: Subject, maps: dict) -> tuple[dict[str, float], dict[str, dict[str, list]]]:
    """Mean myocardial MAE per row, and per row the global curves (radial, circumferential) and the truth's."""
    errors: dict[str, list[float]] = {}
    curves: dict[str, dict[str, list]] = {}
    for name, s in subject.slices.items():
        myo = np.broadcast_to((s.myocardium != 0)[:, None], s.velocity_true.shape)
        truth = velocity_curves(s.velocity_true, s.myocardium, s.slice_position, s.z_towards_apex)
        for label, velocity in maps[name].items():
            errors.setdefault(label, []).append(float(np.abs(velocity - s.velocity_true)[myo].mean()))
            got = velocity_curves(velocity, s.myocardium, s.slice_position, s.z_towards_apex)
            for component in ("radial", "circumferential"):
                pair = curves.setdefault(label, {}).setdefault(component, [[], []])
                pair[0].append(got.global_curves[component])
                pair[1].append(truth.global_curves[component])
    return {label: float(np.mean(v)) for label, v in errors.items()}, curves


def _table(group: str, mae: dict[str, list[float]], curves: dict[str, dict[str, list]]) -> None:
    say(f"\n{group} ({len(mae[REFERENCE])} subjects):\n")
    say(f"| row | MAE cm/s [95 % CI] | vs {REFERENCE} [95 % CI] | r radial | r circumferential |")
    say("| --- | --- | --- | --- | --- |")
    for label, values in mae.items():
        low, high = bootstrap_mean_ci(values)
        diff, d_low, d_high = paired_difference_ci(values, mae[REFERENCE])
        r = []
        for component in ("radial", "circumferential"):
            got, truth = (np.concatenate(x) for x in curves[label][component])
            ok = np.isfinite(got) & np.isfinite(truth)
            r.append(np.corrcoef(got[ok], truth[ok])[0, 1] if np.ptp(got[ok]) > 0 else float("nan"))
        say(f"| {label} | {np.mean(values):.3f} [{low:.3f}, {high:.3f}] | {diff:+.3f} [{d_low:+.3f}, {d_high:+.3f}] "
            f"| {r[0]:.3f} | {r[1]:.3f} |")  # fmt: skip


def subject_territories(subject: Subject) -> set[str]:
    """The coronary territories (AHA 17-segment model) with reduced motion in the subject's regional truth."""
    return set(territories_of(subject_truth(subject), TERRITORIES))


def training_subjects(dataroot: str, hold_out: Sequence[str] = ()) -> tuple[list[Subject], list[str]]:
    """The ``train`` split of ``dataroot`` without its patients of the ``hold_out`` territories, and the
    names of those left out: the templates and the population prior then never see such a patient."""
    kept, dropped = [], []
    for path in select_subjects(dataroot, "train"):
        subject = read_subject(path)
        (dropped if subject_territories(subject) & set(hold_out) else kept).append(subject)
    if not kept:
        raise DataError(f"{dataroot}: no training subject is left once {', '.join(hold_out)} is held out")
    return kept, [s.subject_id for s in dropped]


def scored_subjects(dataroot: str, split: str, only: Sequence[str] = (), max_subjects: int = 0) -> Iterator[Subject]:
    """The subjects of ``split`` to score: all, or those of the ``only`` territories (``max_subjects`` counts
    the split's subjects before the territory filter)."""
    for path in select_subjects(dataroot, split, max_subjects=max_subjects):
        subject = read_subject(path)
        if not only or subject_territories(subject) & set(only):
            yield subject


def _score(args: argparse.Namespace, priors: dict[str, KinematicPrior], population) -> tuple[dict, dict, list, int]:
    """Every row's MAE per subject and pooled curves, healthy and patients apart; seconds a subject."""
    groups: dict[str, dict[str, list[float]]] = {"healthy": {}, "patients": {}}
    pooled: dict[str, dict[str, dict[str, list]]] = {"healthy": {}, "patients": {}}
    seconds, n_keys = [], 0
    for subject in scored_subjects(args.dataroot, args.split, args.only_territory, args.subjects):
        start = time.perf_counter()
        maps = subject_maps(subject, args.factor, priors, population)
        seconds.append(time.perf_counter() - start)
        n_keys = len(key_frame_grid(next(iter(subject.slices.values())).num_frames, args.factor))
        errors, curves = score_subject(subject, maps)
        group = "patients" if pathology_flag(subject.attrs) else "healthy"
        for label, value in errors.items():
            groups[group].setdefault(label, []).append(value)
            for component, (got, truth) in curves[label].items():
                target = pooled[group].setdefault(label, {}).setdefault(component, [[], []])
                target[0] += got
                target[1] += truth
    if not seconds:
        raise DataError(f"{args.dataroot}: no subject of the {args.split!r} split has {', '.join(args.only_territory)}")
    return groups, pooled, seconds, n_keys


def run(args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    source = args.templates_from or args.dataroot
    train, dropped = training_subjects(source, args.hold_out_territory)
    templates = fit_templates(train)
    population = fit_population_prior(s for subject in train for s in subject.slices.values())
    priors = {label: KinematicPrior(templates, **flags) for label, flags in VARIANTS.items()}
    groups, pooled, seconds, n_keys = _score(args, priors, population)
    held = (
        f" (held out, {', '.join(args.hold_out_territory)}: {', '.join(dropped) or 'none'})"
        if args.hold_out_territory
        else ""
    )
    only = f"; only {', '.join(args.only_territory)} territory subjects" if args.only_territory else ""
    say(
        f"{args.dataroot} ({args.split}{only}), {n_keys} key frames a cycle (factor {args.factor}); templates from "
        f"{templates.count} training subjects of {source}{held}; {np.mean(seconds):.1f} s a subject for every row"
    )
    for group, mae in groups.items():
        if mae:
            _table(group, mae, pooled[group])
    return groups


def build_parser() -> ToolParser:
    p = ToolParser(prog="python -m scripts.kinematic_ablation", description=__doc__,
                   formatter_class=RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--dataroot", required=True, help="a phantom cohort with splits.json")
    p.add_argument("--split", default="test", help="the subjects to score (default: test)")
    p.add_argument("--factor", type=int, default=6, help="a key frame every FACTOR frames (default: 6)")
    p.add_argument("--subjects", type=int, default=0, help="at most this many subjects (default: 0, all)")
    p.add_argument(
        "--templates_from",
        default=None,
        metavar="DATAROOT",
        help="fit the templates and the population prior on this cohort's train split (default: --dataroot)",
    )
    territories = {"nargs": "+", "default": [], "choices": tuple(TERRITORIES), "metavar": "TERRITORY"}
    p.add_argument("--hold_out_territory", **territories,
                   help="leave the training patients of these coronary territories (LAD, RCA, LCx) out of the fit")
    p.add_argument("--only_territory", **territories,
                   help="score only the subjects of these territories (default: every subject of --split)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(run, build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
