"""test.py --model phase: synthesise the velocity maps of every frame of the chosen subjects and compare
them with the measured maps, next to the yardsticks and the ceiling (docs/GLOSSARY.md).

Every frame t of every slice is synthesised from the measured magnitude frames t-1, t, t+1 (cyclic),
scaled per slice as in training, and the file's myocardium mask. A ``--prior kinematic`` run refines each
subject's kinematic prior, fitted as in training from its key frames (every ``--prior_factor``-th frame)
and their masks with the run's templates, and painted on the file's masks. Whole images are used (the generator is
fully convolutional; inference pads to its size multiple). Rows of ``metrics.csv`` (column ``method``):

* the model (``fg_bg_gan``; ``fg_bg_gan_tissue_noise`` with ``--tissue_noise physics``, ``gan_whole_image``
  for a ``--no_fg_bg`` run, ``l1_only`` for an L1 run);
* the L1-only baseline generator, when ``--baseline_name RUN`` names one;
* the comparison rows (``models.rows``, as in the chain's table): ``zero`` (no motion), ``population``
  (the training set's mean curves, stored in the run, placed on the subject's myocardium),
  ``population_bulk`` (the same plus the bulk motion of the key-frame mask centroids) and ``kinematic``
  (the subject's kinematic prior from the run's templates, when it holds them); both read the key
  frames 0, k, 2k, ... of the run's ``--prior_factor`` and their masks;
* ``acquired_phase`` (phantom only, where the noise-free ``velocity_true`` exists): the measured maps
  scored against the truth. A model that predicted the true velocity exactly would score about this
  against the measurement, so it is the floor of the fidelity columns;
* ``real``: the realism statistics of the measured maps, the target of the model rows' statistics.

Columns (blank where they do not apply; the chain's names, docs/GLOSSARY.md):

* ``vel_psnr_<x|y|z>``, ``vel_ssim_<x|y|z>``: per direction, whole image, velocity in units of VENC (data
  range 2), per frame and averaged; ``vel_psnr_tissue_<x|y|z>``, ``vel_ssim_tissue_<x|y|z>``: the same over
  the tissue foreground. The foreground is ``util.tissue.tissue_mask_from_magnitude`` of the measured
  magnitude, the region the composite fills with the generator's output (and one that exists for acquired
  data, which has no ``tissue`` field). Whole-image scores of a composite are low by design: its background
  is independent noise.
* ``vel_mae_myo_cm_s``: mean absolute velocity error inside the myocardium, cm/s, over the three directions;
  ``vel_mae_myo_true_cm_s``: the same against ``velocity_true`` (phantom only); ``vel_skill``:
  ``1 - MAE / MAE(zero)``, on ``vel_mae_myo_true_cm_s`` where it exists (else ``vel_mae_myo_cm_s``): 0 is
  no better than a still heart, 1 is perfect;
The fidelity columns score the model's *estimate* (the composite without ``--tissue_noise physics``):
noise added to look like an acquisition is independent of the truth by construction, and would count
against the model what is only realism. The realism columns score the rendering a user gets (with that
noise), which is also what ``subjects/`` holds.

* ``vel_hp_std_tissue_cm_s``, ``vel_bg_std_cm_s``: realism statistics (``assessment/realism.py``), cm/s,
  averaged over the three directions: fine-scale texture in the tissue and the spread of the background,
  each at a pixel's distance from the tissue boundary.

* regional function (``assessment.regional``, ``assessment.regional_table``; the same columns as the chain's
  metrics.csv, described in assessment/report/cohort.py): per subject, each method's segment peaks,
  times to peak and circumferential curves against the truth's (``velocity_true``, else the measured
  maps), averaged over subjects: ``seg_peak_*_r`` / ``_mae_cm_s``, ``hypo_ratio``, ``dyssync_index_ms``,
  ``dyssync_err_ms``, ``circ_r_<level>``; hypokinesia detection over the cohort (``detect_*``, with the
  regional normals and threshold from the training and validation splits' measured data; n/a without
  the phantom's ``aha_*`` truth); bootstrap intervals over subjects and paired differences from
  ``population`` (``<metric>_ci_*``, ``<metric>_diff_*``). When the cohort holds healthy subjects and
  patients, rows ``<method> (healthy)`` and ``<method> (patients)`` follow (``cohort`` column).

Slice scores are averaged over slices. Outputs in ``<results_dir>/<name>/phase/``: ``metrics.csv``,
``metrics_per_slice.csv`` and ``subjects/<subject>.h5``: the subject in the dataset format with the
magnitude and masks copied and the model's synthesised velocity (cm/s) in ``velocity``.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from assessment import metrics
from assessment.analysis import analyse_slice, regional_peaks, training_normals
from assessment.realism import background_exterior, highpass_std, masked_std, tissue_interior
from assessment.regional import RegionalNormals
from assessment.regional_table import (
    RegionalRecord,
    add_regional_summary,
    group_members,
    regional_rows,
    summary_columns,
)
from assessment.tables import display_value, to_csv
from assessment.truth import subject_truth
from data.acquisition import warn_outside_training
from data.mvm_io import SliceData, Subject, read_subject, write_subject
from data.selection import readable_subjects, select_subjects, split_paths
from models.kinematics.population import PopulationPrior
from models.kinematics.prior import KinematicPrior
from models.kinematics.subject import SliceCurves
from models.loading import load_trained_model, training_acquisition
from models.phase.correction_gate import set_correction_scale
from models.phase.priors import grid_keys, kinematic_curves, prior_factor
from models.phase.synthesis import synthesise_cine
from models.rows import STAGE2_ROWS, run_kinematic_prior, yardstick_twins
from util.atomic import write_text
from util.cli import SkippedInputs
from util.conventions import DIRECTIONS, VELOCITY_DATA_RANGE, venc_scale
from util.distributed import select_device
from util.errors import DataError
from util.intensity import normalise_magnitude, to_network_range
from util.tissue import tissue_mask_from_magnitude

#: the velocity maps' PSNR and SSIM, whole image and tissue, per direction: the chain's names
#: (``assessment.report.slice_metrics``), ``vel_psnr_x`` ... ``vel_ssim_tissue_z``
FIDELITY_COLUMNS = tuple(
    f"vel_{metric}{region}_{d.removeprefix('v')}"
    for metric in ("psnr", "ssim")
    for region in ("", "_tissue")
    for d in DIRECTIONS
)
MAE, MAE_TRUE, SKILL = "vel_mae_myo_cm_s", "vel_mae_myo_true_cm_s", "vel_skill"
HP_STD, BG_STD = "vel_hp_std_tissue_cm_s", "vel_bg_std_cm_s"
REALISM_COLUMNS = (HP_STD, BG_STD)
COLUMNS = ("method", "run", *FIDELITY_COLUMNS, MAE, MAE_TRUE, SKILL, *REALISM_COLUMNS, "n_slices")
FLOOR, REAL = "acquired_phase", "real"
ZERO = "zero"
#: the row stage 2's paired differences are against: ``population``, as in stage-2 tables written before
#: ``population_bulk`` was one of its rows (the chain's are against ``population_bulk``)
CI_REFERENCE = ("population",)
#: per-subject metrics that get a bootstrap interval and a paired difference from ``population``
REGIONAL_CI_METRICS = (
    MAE,
    MAE_TRUE,
    "seg_peak_radial_systolic_r",
    "seg_peak_radial_systolic_mae_cm_s",
    "dyssync_err_ms",
    "detect_auc",
)
REGIONAL_COLUMNS = tuple(summary_columns(REGIONAL_CI_METRICS))


# -------------------------------------------------------------------------------------------- scoring


def fidelity(pred: np.ndarray, ref: np.ndarray, tissue: np.ndarray, myo: np.ndarray, venc: np.ndarray) -> dict:
    """PSNR / SSIM per direction (whole, foreground) and the myocardial MAE (cm/s) of [T, 3, H, W] maps in
    VENC units against ``ref``; ``tissue`` and ``myo`` are [T, H, W]."""
    out: dict[str, float] = {}
    for c, d in enumerate(DIRECTIONS):
        p, r, x = pred[:, c], ref[:, c], d.removeprefix("v")
        out[f"vel_psnr_{x}"] = metrics.psnr_frames(p, r, VELOCITY_DATA_RANGE)
        out[f"vel_psnr_tissue_{x}"] = metrics.psnr_frames(p, r, VELOCITY_DATA_RANGE, tissue)
        out[f"vel_ssim_{x}"] = metrics.ssim_frames(p, r, VELOCITY_DATA_RANGE)
        out[f"vel_ssim_tissue_{x}"] = metrics.ssim_frames(p, r, VELOCITY_DATA_RANGE, tissue)
    scale = venc_scale(venc)
    out[MAE] = metrics.mae(pred * scale, ref * scale, myo[:, None])
    return out


def realism(velocity: np.ndarray, tissue: np.ndarray, venc: np.ndarray) -> dict[str, float]:
    """High-pass std in the tissue and background std, cm/s, averaged over the directions.

    Both keep a margin from the tissue boundary (``assessment.realism.tissue_interior`` / ``background_exterior``),
    so the statistics describe the tissue's texture and the background's noise, not the mask's edge.
    """
    cm_s = velocity * venc_scale(venc)
    inside, outside = tissue_interior(tissue), background_exterior(tissue)
    return {
        HP_STD: float(np.mean([highpass_std(cm_s[:, c], inside) for c in range(3)])),
        BG_STD: float(np.mean([masked_std(cm_s[:, c], outside) for c in range(3)])),
    }


def average_rows(per_slice: list[dict[str, Any]], methods: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """One row per method: the mean over its slices of each column (NaN values skipped)."""
    rows = []
    for method, run in methods:
        mine = [r for r in per_slice if r["method"] == method]
        if not mine:
            continue
        row: dict[str, Any] = {"method": method, "run": run, "n_slices": len(mine)}
        for column in COLUMNS[2:-1]:
            if column != SKILL:  # a ratio of the averages, added by add_skill
                row[column] = metrics.mean_skipping_nan([r.get(column, math.nan) for r in mine])
        rows.append(row)
    return rows


def _blank_nan(row: dict[str, Any], columns: tuple[str, ...] | list[str] = COLUMNS) -> dict[str, Any]:
    return {c: ("" if isinstance(row.get(c), float) and math.isnan(row[c]) else row.get(c, "")) for c in columns}


#: the console's names of the velocity errors: each says its reference
MAE_LABELS = {
    MAE_TRUE: "MAE vs truth (velocity_true)",
    MAE: "MAE vs acquired phase",
}


def format_table(rows: list[dict[str, Any]]) -> str:
    """Metrics as a text table, one column per method (the rows are too wide the other way round), rounded
    as on the pages."""
    width = max(14, *(len(r["method"]) + 2 for r in rows))
    label_width = max(len(label) for label in (*COLUMNS, *MAE_LABELS.values())) + 2
    lines = [f"{'':<{label_width}}" + "".join(f"{r['method']:>{width}}" for r in rows)]
    columns = list(COLUMNS[2:])
    has_truth = any(math.isfinite(float(r.get(MAE_TRUE, math.nan))) for r in rows)
    if has_truth:  # the headline error is against the truth where it exists (the phantom)
        columns.remove(MAE_TRUE)
        columns.insert(columns.index(MAE), MAE_TRUE)
    for column in columns:
        cells = "".join(f"{display_value(r.get(column, math.nan), column, missing='-'):>{width}}" for r in rows)
        lines.append(f"{MAE_LABELS.get(column, column):<{label_width}}{cells}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- main


def _load(opt: argparse.Namespace, name: str, device: torch.device) -> Any:
    overrides = {"precision": opt.precision, "channels_last": opt.channels_last}
    return load_trained_model(Path(opt.checkpoints_dir) / name, opt.which_epoch, device, overrides=overrides)


def _load_methods(opt: argparse.Namespace, device: torch.device) -> list[tuple[str, str, Any]]:
    """(method label, run name, model) of the run and of ``--baseline_name``, labels made unique."""
    methods: list[tuple[str, str, Any]] = []
    for run in (opt.name, opt.baseline_name):
        if not run:
            continue
        model = _load(opt, run, device)
        if getattr(opt, "correction_scale", None) is not None and model.refines_prior:
            set_correction_scale(model, opt.correction_scale)
        label = model.method_name
        if label in {m for m, _, _ in methods}:  # two runs of one kind: tell them apart by run name
            label = f"{label}:{run}"
        methods.append((label, run, model))
    return methods


def comparison_maps(
    subject: Subject, population: PopulationPrior, kinematic: KinematicPrior | None, factor: int
) -> dict[str, dict[str, np.ndarray]]:
    """Per slice of ``subject``, velocity / VENC [T, 3, H, W] of the comparison rows
    (``models.rows.STAGE2_ROWS``) on the file's own masks: ``zero``; with a population prior
    ``population`` and ``population_bulk``; with a ``kinematic`` prior ``kinematic``. The rows that read
    the subject see only its key frames 0, k, 2k, ... (``factor`` k) and their masks."""
    twins = yardstick_twins(subject, population, subject, grid_keys(subject, factor), kinematic, STAGE2_ROWS)
    out = {}
    for name, s in subject.slices.items():
        venc = venc_scale(s.venc_cm_s, dtype=np.float32)
        out[name] = {row: twin.slices[name].velocity / venc for row, twin in twins.items()}
    return out


def _score(pred: np.ndarray, s: SliceData, tissue: np.ndarray, rendered: np.ndarray | None) -> dict[str, float]:
    """Fidelity of ``pred`` [T, 3, H, W] in VENC units (and realism of ``rendered``, when given)."""
    venc = np.asarray(s.venc_cm_s, dtype=np.float64)
    scale = venc_scale(venc)
    myo = np.asarray(s.myocardium) != 0
    row = fidelity(pred, s.velocity / scale, tissue, myo, venc)
    if rendered is not None:
        row.update(realism(rendered, tissue, venc))
    if s.velocity_true is not None:
        row[MAE_TRUE] = metrics.mae(pred * scale, s.velocity_true, myo[:, None])
    return row


def subject_priors(subject: Subject, methods: list[tuple[str, str, Any]]) -> list[dict[str, SliceCurves] | None]:
    """Per method, the prior curves of every slice of ``subject`` that a ``--prior kinematic`` run refines
    (``models.phase.priors.kinematic_curves`` from the key frames of its ``--prior_factor``), else None."""
    out: list[dict[str, SliceCurves] | None] = []
    for _method, _run, model in methods:
        if getattr(model, "prior_kind", "none") != "kinematic":
            out.append(None)
            continue
        keys = grid_keys(subject, prior_factor(model.opt))
        out.append(kinematic_curves(model.kinematics, model.population, subject, keys))
    return out


def _evaluate_slice(
    s: SliceData, key: dict[str, str], methods: list[tuple[str, str, Any]], generators: list, batch_size: int,
    priors: list[SliceCurves | None], compared: dict[str, np.ndarray],
) -> tuple[list[dict[str, Any]], np.ndarray, dict[str, np.ndarray]]:  # fmt: skip
    """Rows of every method, comparison row (``compared``: label -> its map in VENC units), floor and
    ``real`` on one slice, the first model's maps, and every scored estimate (label -> [T, 3, H, W] in VENC
    units, for the regional reading); ``priors``: each method's prior curves of the slice (kinematic runs)
    or None."""
    unit = normalise_magnitude(s.magnitude)
    tissue = np.asarray(tissue_mask_from_magnitude(unit), dtype=bool)
    myo = np.asarray(s.myocardium) != 0
    rows, synthesised, estimates = [], None, {}
    for (method, run, model), gen, curves in zip(methods, generators, priors, strict=True):
        cine = to_network_range(unit)
        prior = None if curves is None else curves.paint(myo) / venc_scale(s.venc_cm_s, dtype=np.float32)
        estimate = synthesise_cine(model, cine, myo, s, batch_size, gen, tissue_noise=False, prior=prior)
        rendered = estimate
        if model.tissue_noise:  # the rendering a user gets: the estimate with the scanner's noise
            rendered = synthesise_cine(model, cine, myo, s, batch_size, gen, prior=prior)
        rows.append({**key, "method": method, "run": run, **_score(estimate, s, tissue, rendered)})
        synthesised = rendered if synthesised is None else synthesised
        estimates[method] = estimate
    for name, pred in compared.items():
        rows.append({**key, "method": name, "run": "", **_score(pred, s, tissue, None)})
        estimates[name] = pred
    venc = np.asarray(s.venc_cm_s, dtype=np.float64)
    ref = s.velocity / venc_scale(venc)
    if s.velocity_true is not None:
        floor = fidelity(ref, s.velocity_true / venc_scale(venc), tissue, myo, venc)
        rows.append({**key, "method": FLOOR, "run": "", **floor, MAE_TRUE: floor[MAE]})
        estimates[FLOOR] = ref
    rows.append({**key, "method": REAL, "run": "", **realism(ref, tissue, venc)})
    return rows, synthesised, estimates


def add_skill(rows: list[dict[str, Any]]) -> None:
    """``vel_skill = 1 - MAE / MAE(zero)`` of every row, with the MAE against the truth where it exists."""
    metrics.add_skill_scores(rows, MAE, MAE_TRUE, SKILL, ZERO)


def regional_record(subject: Subject, estimates: list[dict[str, np.ndarray]]) -> RegionalRecord:
    """The regional reading of one subject: every label's estimates (one dict per slice, in the order of
    ``subject.slices``, VENC units) against the truth's, else the measured maps."""
    slices = list(subject.slices.values())
    venc = [venc_scale(s.venc_cm_s, dtype=np.float64) for s in slices]
    labels = list(dict.fromkeys(k for per_slice in estimates for k in per_slice))
    data = {
        label: regional_peaks([analyse_slice(s, e[label] * v) for s, e, v in zip(slices, estimates, venc, strict=True)])
        for label in labels
    }
    truth_known = all(s.velocity_true is not None for s in slices)
    reference = regional_peaks([analyse_slice(s, s.velocity_true if truth_known else s.velocity) for s in slices])
    return RegionalRecord(subject.subject_id, subject_truth(subject), reference, data)


def regional_normals(dataroot: str) -> RegionalNormals:
    """Regional normals and detection threshold from the training and validation splits' measured data
    (``assessment.analysis.training_normals``); a split that is empty or absent, or a file that cannot be read,
    is skipped."""
    return training_normals(readable_subjects(split_paths(dataroot, ("train", "val")), require_velocity=False))


def add_regional(
    rows: list[dict[str, Any]], per_slice: list[dict[str, Any]], records: list[RegionalRecord], normals: RegionalNormals
) -> list[dict[str, Any]]:
    """Fill the regional columns of the method rows (whole cohort), and return the rows of the healthy
    subjects and the patients apart (``<method> (healthy)`` / ``(patients)``) when the cohort holds both."""
    methods = [str(r["method"]) for r in rows]
    per_subject = {
        (r.subject, m): {c: metrics.mean_skipping_nan([x.get(c, math.nan) for x in per_slice
                                                         if x["subject"] == r.subject and x["method"] == m])
                         for c in (MAE, MAE_TRUE)}
        for r in records for m in methods
    }  # fmt: skip
    regional = regional_rows(records, methods, normals, per_subject)
    add_regional_summary(rows, regional, normals, REGIONAL_CI_METRICS, references=CI_REFERENCE)
    groups = []
    for group, members in group_members(regional).items():
        mine = [{**r, "method": f"{r['method']} ({group})"} for r in per_slice if r["subject"] in members]
        labels = [(f"{r['method']} ({group})", str(r.get("run", ""))) for r in rows]
        group_rows = average_rows(mine, labels)
        metrics.add_skill_scores(group_rows, MAE, MAE_TRUE, SKILL, f"{ZERO} ({group})")
        kept = {m: [x for x in xs if x.subject in members] for m, xs in regional.items()}
        add_regional_summary(group_rows, kept, normals, REGIONAL_CI_METRICS, group, references=CI_REFERENCE)
        groups += group_rows
    return groups


def _write_outputs(out_dir: Path, rows: list[dict[str, Any]], per_slice: list[dict[str, Any]]) -> None:
    columns = [*COLUMNS, *REGIONAL_COLUMNS]
    write_text(out_dir / "metrics.csv", to_csv([_blank_nan(r, columns) for r in rows], columns))
    slice_columns = ["subject", "slice", *COLUMNS[:-1]]
    write_text(
        out_dir / "metrics_per_slice.csv",
        to_csv([{**_blank_nan(r), **{k: r[k] for k in ("subject", "slice")}} for r in per_slice], slice_columns),
    )


def _evaluate_subject(
    subject: Subject, path: Path, methods: list, generators: list, opt: argparse.Namespace, per_slice: list,
    kinematic: KinematicPrior | None,
) -> tuple[dict[str, SliceData], list]:  # fmt: skip
    """Rows of every slice of one subject (into ``per_slice``); its slices with the synthesised velocity, and
    each slice's velocity estimates per method (for the regional measures). The comparison rows use the
    first run's population prior and key-frame spacing, and ``kinematic``."""
    slices_out, estimates = {}, []
    for name, s in subject.slices.items():
        if s.frame_index is not None:
            raise DataError(f"{path}: slice {name!r} holds key frames only; stage 2 needs every frame")
    priors = subject_priors(subject, methods)
    first = methods[0][2]
    compared = comparison_maps(subject, first.population, kinematic, prior_factor(first.opt))
    for name, s in subject.slices.items():
        mine = [None if p is None else p[name] for p in priors]
        rows, synthesised, maps = _evaluate_slice(s, {"subject": path.stem, "slice": name}, methods, generators,
                                                  max(1, int(opt.batch_size)), mine, compared[name])  # fmt: skip
        per_slice.extend(rows)
        estimates.append(maps)
        velocity = synthesised * venc_scale(s.venc_cm_s, dtype=np.float32)
        attrs = {**s.attrs, "synthesised_fields": "velocity", "synthesised_by": f"phase:{opt.name}"}
        slices_out[name] = replace(s, velocity=velocity, velocity_true=None, attrs=attrs)
    return slices_out, estimates


def run_phase_test(opt: argparse.Namespace) -> dict[str, Any]:
    """Evaluate a phase run (and the L1-only run of ``--baseline_name``) on the chosen subjects; returns the
    rows and output paths."""
    device = select_device(opt)
    methods = _load_methods(opt, device)
    first = methods[0][2]
    if first.fg_bg:
        print(first.noise.describe())
    if not first.population.ready:
        print(f"note: run {opt.name} holds no population prior (trained before it existed): no population row")
    kinematic = run_kinematic_prior(first)
    if kinematic is None:
        print(f"note: run {opt.name} holds no kinematic prior templates: no kinematic row")
    out_dir = Path(opt.results_dir) / opt.name / "phase"
    generators = [torch.Generator(device=device).manual_seed(int(opt.seed)) for _ in methods]
    paths = select_subjects(opt.dataroot, opt.split, opt.subjects, opt.max_subjects)
    warn_outside_training({f"run {run}": training_acquisition(model) for _, run, model in methods}, paths)
    per_slice: list[dict[str, Any]] = []
    records: list[RegionalRecord] = []
    written = []
    skipped = SkippedInputs()
    for path in tqdm(paths, desc="phase synthesis", disable=opt.no_progress, dynamic_ncols=True):
        try:
            subject = read_subject(path, require_velocity=True)
        except DataError as exc:
            skipped.skip(path, exc)
            continue
        slices_out, estimates = _evaluate_subject(subject, path, methods, generators, opt, per_slice, kinematic)
        target = out_dir / "subjects" / f"{path.stem}.h5"
        written.append(write_subject(target, Subject(subject.subject_id, slices_out, subject.attrs)))
        records.append(regional_record(replace(subject, subject_id=path.stem), estimates))
    if len(skipped.names) == len(paths):
        skipped.check(len(paths))

    labels = [(m, run) for m, run, _ in methods] + [(row, "") for row in STAGE2_ROWS] + [(FLOOR, ""), (REAL, "")]
    rows = average_rows(per_slice, labels)
    add_skill(rows)
    rows += add_regional(rows, per_slice, records, regional_normals(opt.dataroot))
    _write_outputs(out_dir, rows, per_slice)
    n_slices = rows[0]["n_slices"] if rows else 0
    print(f"stage 2: {len(paths)} subject(s), {n_slices} slice(s); velocity metrics in VENC units, errors in cm/s "
          "in the myocardium, against the truth (velocity_true, the phantom's) or the acquired phase")  # fmt: skip
    print(format_table(rows))
    print(f"results in {out_dir}")
    skipped.check(len(paths))
    return {"rows": rows, "metrics_csv": out_dir / "metrics.csv", "subjects": written}
