"""Is the kinematic prior ever worse than the population's average heart? A matrix of cohorts unlike the
one it was built on, healthy subjects and patients apart, against the truth.

    python -m scripts.kinematic_robustness --data_dir datasets/robustness                  # every cell
    python -m scripts.kinematic_robustness --data_dir datasets/robustness --cells reference frames30_k6

Cohorts (drawn into ``--data_dir`` when missing, by ``python -m data.phantom`` with the arguments of
``COHORTS``): ``reference`` (72 subjects, seed 2027, the cohort of ``scripts/evaluate_patients.sh``);
``frames30`` (30 frames a cycle: 5 key frames at k = 6, the quick start's setting); ``shifted`` (40 frames,
75-110 bpm, SNR 12-20); ``altered`` (the phantom's altered waveform shapes); ``out_of_model`` (defects as
smooth angular patches off the segment boundaries, dyssynchrony smooth in angle, independently drawn
waveform durations, a far wider appearance). Cells (``CELLS``): a cohort, a key-frame spacing and, for the
held-out territories, the coronary territories left out of the templates (every territory patient of the
training split) and the only patients scored.

Every cell's templates, population prior and regional normals come from the **reference** cohort's train
(and, for the normals, validation) split, as a trained model's would; the cell's test split is scored,
each subject read from its key frames and their masks only, painted on its own masks. Rows: ``kinematic``
(the model chosen per subject, ``models.kinematics.choice``), ``fixed segments`` (the template fit with
segments for every subject: the prior before the choice), ``population_bulk``, ``flow`` and the acquired
phase (a ceiling). Per group: MAE (cm/s) against ``velocity_true``, the paired difference of ``kinematic``
against ``population_bulk`` with its 95 % bootstrap interval, segment-peak r (radial systolic), detection
AUC and the healthy false-positive rate, and how often each model was chosen. The truth is read only to
score; a subject's territory (for the held-out cell) from its regional truth.
"""

from __future__ import annotations

if not __package__:  # run as a file, python scripts/<tool>.py: put the repository root on the path
    import _repo_root  # noqa: F401

import argparse
import shlex
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assessment.analysis import analyse_slice, regional_peaks, training_normals
from assessment.bootstrap import paired_difference_ci
from assessment.regional import RegionalNormals, cohort_detection, hypokinesia_scores, subject_measures
from assessment.truth import pathology_flag, subject_truth
from data.cycle import key_frame_grid
from data.mvm_io import SliceData, Subject, read_subject
from data.selection import select_subjects
from models.kinematics.fit import KinematicFit
from models.kinematics.keyframe_motion import KeyFrameMotion
from models.kinematics.population import PopulationPrior, fit_population_prior
from models.kinematics.prior import KinematicPrior
from models.kinematics.subject import keyframe_motions
from models.kinematics.templates import fit_templates
from models.kinematics.yardsticks import flow_velocity, population_plus_bulk
from models.phase.priors import grid_keys
from scripts.kinematic_ablation import subject_territories, training_subjects
from util.cli import RawDescriptionHelpFormatter, ToolParser, run_tool, say
from util.errors import OptionError

_PATIENTS = "--random_pathology territory lbbb global --pathology_fraction 0.5"
#: phantom arguments of each cohort (``--out`` is added)
COHORTS = {
    "reference": f"--subjects 72 --seed 2027 {_PATIENTS} --val_fraction 0.1 --test_fraction 0.65",
    "frames30": f"--subjects 36 --seed 2030 --frames 30 {_PATIENTS} --val_fraction 0.15 --test_fraction 0.6",
    "shifted": f"--subjects 32 --seed 2028 --frames 40 --heart_rate 75 110 --snr 12 20 {_PATIENTS} "
    "--val_fraction 0.1 --test_fraction 0.6",
    "altered": f"--subjects 30 --seed 2029 {_PATIENTS} --val_fraction 0.1 --test_fraction 0.65 "
    "--waveform_shape altered",
    "out_of_model": "--subjects 30 --seed 2031 --random_pathology patch dyssync --pathology_fraction 0.5 "
    "--waveform_shape independent --appearance wide --val_fraction 0.1 --test_fraction 0.65",
}
#: cell -> (cohort, key-frame spacing, held-out territories: none, or the only patients scored)
CELLS = {
    "reference_k6": ("reference", 6, None),
    "reference_k8": ("reference", 8, None),
    "reference_k10": ("reference", 10, None),
    "frames30_k6": ("frames30", 6, None),
    "shifted_k6": ("shifted", 6, None),
    "altered_k6": ("altered", 6, None),
    "held_out_territories_k6": ("reference", 6, ("LAD", "LCx", "RCA")),
    "out_of_model_k6": ("out_of_model", 6, None),
}
ROWS = ("kinematic", "fixed segments", "population_bulk", "flow", "acquired phase")
REFERENCE = "population_bulk"


@dataclass
class Group:
    """Per row: each subject's MAE, regional measures and hypokinesia scores; the chosen models."""

    mae: dict[str, list[float]] = field(default_factory=dict)
    peak_r: dict[str, list[float]] = field(default_factory=dict)
    scores: dict[str, list[dict[int, float]]] = field(default_factory=dict)
    truths: list = field(default_factory=list)
    chosen: Counter = field(default_factory=Counter)


@dataclass(frozen=True)
class Reference:
    """What the reference cohort's training subjects give every cell."""

    priors: dict[str, KinematicPrior]
    population: PopulationPrior
    normals: RegionalNormals


def ensure_cohort(data_dir: Path, name: str) -> Path:
    """The cohort's folder, drawn by the phantom when it holds no ``splits.json`` yet."""
    root = data_dir / name
    if not (root / "splits.json").is_file():
        say(f"drawing the {name} cohort into {root}")
        command = [sys.executable, "-m", "data.phantom", "--out", str(root), *shlex.split(COHORTS[name])]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return root


def reference_models(root: Path, hold_out: Sequence[str] = ()) -> Reference:
    train, _ = training_subjects(str(root), hold_out)
    templates = fit_templates(train)
    population = fit_population_prior(s for subject in train for s in subject.slices.values())
    normals = training_normals([*train, *(read_subject(p) for p in select_subjects(str(root), "val"))])
    priors = {"kinematic": KinematicPrior(templates), "fixed segments": KinematicPrior(templates, choose=False)}
    return Reference(priors, population, normals)


def _velocities(subject: Subject, factor: int, ref: Reference) -> tuple[dict[str, dict[str, np.ndarray]], str, float]:
    """Per slice, every row's velocity on the subject's own masks, the model the subject chose and the
    seconds the ``kinematic`` row took (measuring the key frames, choosing, fitting and painting)."""
    start = time.perf_counter()
    keys = grid_keys(subject, factor)
    motions = keyframe_motions(subject, keys)
    by_position = {subject.slices[n].slice_position: m for n, m in motions.items()}
    fits = {"kinematic": ref.priors["kinematic"].fit(by_position)}
    kinematic = {n: _painted(ref.priors["kinematic"], fits["kinematic"], motions[n], s, keys[n].stored)
                 for n, s in subject.slices.items()}  # fmt: skip
    seconds = time.perf_counter() - start
    fits.update({label: prior.fit(by_position) for label, prior in ref.priors.items() if label != "kinematic"})
    maps: dict[str, dict[str, np.ndarray]] = {}
    for name, s in subject.slices.items():
        k, stored = keys[name], list(keys[name].stored)
        rows = {label: _painted(prior, fits[label], motions[name], s, stored)
                for label, prior in ref.priors.items() if label != "kinematic"}  # fmt: skip
        rows["kinematic"] = kinematic[name]
        population = ref.population.velocity(s)
        rows[REFERENCE] = population_plus_bulk(population, s.myocardium, k.frames, s.myocardium[stored],
                                               s.rr_interval_ms, s.pixel_spacing_mm)  # fmt: skip
        longitudinal = ref.population.curves_at(s.slice_position, s.num_frames)["longitudinal"]
        rows["flow"] = flow_velocity(s.magnitude[stored], s.myocardium[stored], k.frames, s.myocardium,
                                     s.rr_interval_ms, s.pixel_spacing_mm, longitudinal, s.z_towards_apex)  # fmt: skip
        rows["acquired phase"] = s.velocity
        maps[name] = rows
    return maps, fits["kinematic"].model, seconds


def _painted(
    prior: KinematicPrior, fit: KinematicFit, motion: KeyFrameMotion, s: SliceData, stored: Sequence[int]
) -> np.ndarray:
    """The prior's velocities of every frame of slice ``s``, painted on its own masks."""
    stored = list(stored)
    return prior.velocity(fit, motion, s.slice_position, s.myocardium, s.rv_insertion_deg, s.z_towards_apex,
                          s.myocardium[stored], s.pixel_spacing_mm)  # fmt: skip


def score_into(group: Group, subject: Subject, maps: dict[str, dict[str, np.ndarray]], normals: RegionalNormals):
    """Add one subject's MAE, segment-peak r and hypokinesia scores of every row to ``group``."""
    truth = subject_truth(subject)
    reference = regional_peaks([analyse_slice(s, s.velocity_true) for s in subject.slices.values()])
    group.truths.append(truth)
    for label in ROWS:
        errors = []
        for name, s in subject.slices.items():
            myo = np.broadcast_to((s.myocardium != 0)[:, None], s.velocity_true.shape)
            errors.append(float(np.abs(maps[name][label] - s.velocity_true)[myo].mean()))
        peaks = regional_peaks([analyse_slice(s, maps[name][label]) for name, s in subject.slices.items()])
        group.mae.setdefault(label, []).append(float(np.mean(errors)))
        measures = subject_measures(peaks, reference, truth)
        group.peak_r.setdefault(label, []).append(measures["seg_peak_radial_systolic_r"])
        group.scores.setdefault(label, []).append(hypokinesia_scores(peaks.values["radial_systolic"], normals.normals))


def run_cell(cell: str, data_dir: Path, references: dict, max_subjects: int) -> dict[str, Group]:
    cohort, factor, territories = CELLS[cell]
    root = ensure_cohort(data_dir, cohort)
    hold_out = tuple(territories or ())
    if hold_out not in references:
        references[hold_out] = reference_models(ensure_cohort(data_dir, "reference"), hold_out)
    ref = references[hold_out]
    groups = {"healthy": Group(), "patients": Group()}
    seconds, prior_seconds, n_keys = [], [], 0
    for path in select_subjects(str(root), "test", max_subjects=max_subjects):
        subject = read_subject(path)
        if hold_out and not set(hold_out) & set(subject_territories(subject)):
            continue
        start = time.perf_counter()
        maps, model, prior_time = _velocities(subject, factor, ref)
        seconds.append(time.perf_counter() - start)
        prior_seconds.append(prior_time)
        n_keys = len(key_frame_grid(next(iter(subject.slices.values())).num_frames, factor))
        group = groups["patients" if pathology_flag(subject.attrs) else "healthy"]
        group.chosen[model] += 1
        score_into(group, subject, maps, ref.normals)
    only = f", only patients of {' '.join(hold_out)}, held out of the templates" if hold_out else ""
    say(f"\n### {cell}: {root.name}, {n_keys} key frames (k = {factor}){only}; "
        f"{np.mean(seconds):.1f} s a subject for every row, {np.mean(prior_seconds):.1f} s for the kinematic prior "
        "(measure, choose, fit, paint)")  # fmt: skip
    _print_cell(groups, ref.normals.threshold)
    return groups


def _print_cell(groups: dict[str, Group], threshold: float) -> None:
    say("| group | n | " + " | ".join(f"{r} MAE" for r in ROWS) + " | kinematic - population_bulk [95 % CI] "
        "| seg-peak r kinematic / population_bulk | AUC / healthy FPR kinematic | chosen |")  # fmt: skip
    say("| --- " * (len(ROWS) + 6) + "|")
    healthy_truths = groups["healthy"].truths
    for name, g in groups.items():
        if not g.truths:
            continue
        diff, low, high = paired_difference_ci(g.mae["kinematic"], g.mae[REFERENCE])
        maes = " | ".join(f"{np.mean(g.mae[r]):.3f}" for r in ROWS)
        r = [np.nanmean(g.peak_r[k]) for k in ("kinematic", REFERENCE)]
        # a held-out territory's cell scores its patients only: detection then has no healthy subject
        scores = g.scores["kinematic"] + (groups["healthy"].scores.get("kinematic", []) if name == "patients" else [])
        truths = g.truths + (healthy_truths if name == "patients" else [])
        detection = cohort_detection(scores, truths, threshold)
        chosen = ", ".join(f"{m} {c}" for m, c in g.chosen.most_common())
        auc, fpr = detection["detect_auc"], 100 * detection["detect_healthy_fpr"]
        say(f"| {name} | {len(g.truths)} | {maes} | {diff:+.3f} [{low:+.3f}, {high:+.3f}] | {r[0]:.2f} / {r[1]:.2f} "
            f"| {auc:.2f} / {fpr:.1f} % | {chosen} |")  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, dict[str, Group]]:
    unknown = [c for c in args.cells if c not in CELLS]
    if unknown:
        raise OptionError(f"--cells: unknown {', '.join(unknown)}; valid: {', '.join(CELLS)}")
    data_dir = Path(args.data_dir)
    references: dict = {}
    say(f"kinematic prior robustness: templates, population prior and normals from {data_dir / 'reference'} "
        "(train split; normals train + val); detection pooled over the group's and the healthy subjects")  # fmt: skip
    return {cell: run_cell(cell, data_dir, references, args.subjects) for cell in args.cells}


def build_parser() -> ToolParser:
    p = ToolParser(prog="python -m scripts.kinematic_robustness", description=__doc__,
                   formatter_class=RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--data_dir", required=True, help="folder of the cohorts (drawn there when missing)")
    p.add_argument("--cells", nargs="+", default=list(CELLS), metavar="CELL",
                   help=f"cells to run (default: all): {', '.join(CELLS)}")  # fmt: skip
    p.add_argument("--subjects", type=int, default=0, help="at most this many test subjects a cell (default: 0, all)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(run, build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
