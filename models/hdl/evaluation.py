"""``--model hdl``: the chained HDL pipeline for test.py (it is not trained; train ``interp`` and ``phase``).

    python test.py --model hdl --name phantom --interp_name phantom_interp --phase_name phantom_phase \
        --baseline_phase_name phantom_phase_l1 --factor 6

For every subject of the chosen split, the magnitude cine is down-sampled by ``--factor`` (or read as
key frames only), the two trained stages rebuild every frame and synthesise the velocity maps, and the
same is done by the baseline chain (linear interpolation + the L1-only phase run given by
``--baseline_phase_name``, else + the HDL phase run, which then isolates stage 1). Outputs, in
``<results_dir>/<name>/hdl/``:

    subjects/<method>/<subject>.h5   the synthesised data sets, in the dataset format: the two chains and
                                     every row that reads the subject (kinematic, flow, population_bulk)
    nifti/<method>/...               the same as NIfTI (--export_nifti)
    metrics.csv, metrics_per_slice.csv, metrics_per_subject.csv, velocity_curves.csv, velocity_peaks.csv,
    peak_agreement.csv               (Bland-Altman bias and limits of agreement per method)
                                     (regional columns: assessment/report/cohort.py)
    figures/                         curve plots, bull's-eyes, cine GIFs (--gif)
    index.html                       the cohort page (opens from disk): metrics, per-subject summary,
                                     Bland-Altman agreement of peaks and times to peak
    subjects/<subject>.html          one page per subject
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from assessment.regional import RegionalNormals
from assessment.report.builder import ReportBuilder, SubjectParts
from assessment.tables import display_value
from data.acquisition import warn_outside_training
from data.keyframes import key_frames_of
from data.mvm_io import Subject, read_subject, write_subject
from data.scanner.export_nifti import export_nifti
from data.selection import readable_subjects, select_subjects
from data.transforms import crop_slice
from models.hdl.predictor import WALL_BAND, HDLPredictor
from models.kinematics.prior import KinematicPrior
from models.kinematics.subject import FALLBACK
from models.kinematics.templates import fit_templates
from models.loading import PRETRAINED_DIR, load_trained_model, training_acquisition
from models.phase.evaluation import regional_normals as phase_regional_normals
from models.rows import DESCRIPTIONS as YARDSTICK_DESCRIPTIONS
from models.rows import READS_SUBJECT, population_floor, run_kinematic_prior, yardstick_twins
from util.cli import SkippedInputs
from util.device import resolve_precision
from util.distributed import select_device
from util.errors import DataError, OptionError

#: the rows the figures show: the two twins and the kinematic prior, beside the acquired data and the truth
#: (every row is in the tables; drawing the yardsticks too would double the report's time)
DRAWN = ("hdl", "baseline", "kinematic")
#: the rows of the tables, in order: the two chains, the kinematic prior, the yardsticks, the ceilings
METHODS = (
    "hdl", "baseline", "kinematic", "flow", "population_bulk", "population", "zero", "acquired_phase", "velocity_true",
)  # fmt: skip
#: the rows --rows may choose from (``hdl`` is always made: every other row but ``baseline`` sits on its cine)
ROWS = METHODS
#: the stage runs of the shipped twin, which test.py --model hdl --pretrained loads
PRETRAINED_RUNS = {"interp_name": PRETRAINED_DIR / "interp", "phase_name": PRETRAINED_DIR / "phase"}


def selected_rows(opt: argparse.Namespace) -> tuple[str, ...]:
    """The rows of ``--rows`` in table order, ``hdl`` always among them (default: every row); an unknown
    name is an ``OptionError`` that lists the valid ones."""
    asked = getattr(opt, "rows", None)
    if not asked:
        return METHODS
    unknown = [r for r in asked if r not in ROWS]
    if unknown:
        raise OptionError(f"--rows: unknown row(s) {', '.join(unknown)}; valid: {', '.join(ROWS)}")
    return tuple(m for m in METHODS if m == "hdl" or m in asked)


def _shipped(opt: argparse.Namespace, option: str) -> bool:
    """Whether a stage comes from the shipped twin: ``--pretrained`` and no run named for that stage."""
    return bool(opt.pretrained) and option in PRETRAINED_RUNS and not getattr(opt, option)


def _run_dir(opt: argparse.Namespace, option: str) -> Path:
    if _shipped(opt, option):
        return PRETRAINED_RUNS[option]
    name = getattr(opt, option)
    if not name:
        raise OptionError(
            f"--{option} is required with --model hdl (a run name under --checkpoints_dir), or --pretrained"
        )
    return Path(opt.checkpoints_dir) / name


def _stage_label(opt: argparse.Namespace, option: str) -> str:
    """What a stage's weights are, for the page and the console: the shipped twin's, or a run's."""
    if _shipped(opt, option):
        return f"shipped twin, {PRETRAINED_RUNS[option]}"
    name = getattr(opt, option)
    return f"run {name}, in place of the shipped twin's" if opt.pretrained and option in PRETRAINED_RUNS else name


def _load_stage(opt: argparse.Namespace, option: str, device: Any, precision: str) -> Any:
    """A stage's trained model: the shipped twin's weights export, or the run's ``--which_epoch``."""
    which = "weights" if _shipped(opt, option) else opt.which_epoch
    overrides = {"precision": precision, "channels_last": device.type == "cuda"}
    return load_trained_model(_run_dir(opt, option), which, device, overrides)


def build_predictors(opt: argparse.Namespace) -> dict[str, HDLPredictor]:
    """The HDL chain and the baseline chain, on the device and precision the options ask for."""

    device = select_device(opt)
    precision = resolve_precision(opt.precision, device)
    common = {
        "device": device,
        "precision": precision,
        "batch_size": opt.batch_size,
        "seed": opt.seed,
        "acquisition_noise": opt.acquisition_noise,
        "correction_scale": getattr(opt, "correction_scale", None),
        "wall_band": getattr(opt, "wall_band", WALL_BAND),
    }
    interp = _load_stage(opt, "interp_name", device, precision)
    hdl = HDLPredictor(interp, _load_stage(opt, "phase_name", device, precision), **common)
    for option in PRETRAINED_RUNS:
        model = hdl.interp_model if option == "interp_name" else hdl.phase_model
        print(f"{option.split('_')[0]} stage: {_stage_label(opt, option)} ({model.checkpoint_path})", flush=True)
    if "baseline" not in selected_rows(opt):
        return {"hdl": hdl}
    baseline_run = opt.baseline_phase_name
    phase = _load_stage(opt, "baseline_phase_name", device, precision) if baseline_run else hdl.phase_model
    baseline = HDLPredictor(None, phase, interpolation="linear", name="baseline", **common)
    return {"hdl": hdl, "baseline": baseline}


def kinematic_prior(opt: argparse.Namespace, phase_model: Any) -> KinematicPrior | None:
    """The kinematic prior of the ``kinematic`` row: the phase run's templates, else (runs trained before
    it existed, such as the shipped twin) templates fitted from the ``train`` split of ``--dataroot`` when
    the evaluated split is another one; None (no row, said once) when neither is possible."""
    if "kinematic" not in selected_rows(opt):
        return None
    own = run_kinematic_prior(phase_model)
    if own is not None:
        return own
    if opt.split in ("all", "train"):
        print(f"note: no kinematic row: the phase run holds no templates and --split {opt.split} includes the "
              "training subjects they would be fitted from")  # fmt: skip
        return None
    try:
        fitted = fit_templates(readable_subjects(select_subjects(opt.dataroot, "train")))
    except DataError as exc:
        print(f"note: no kinematic row: the phase run holds no templates and the train split gives none ({exc})")
        return None
    print(f"kinematic prior: templates fitted from {fitted.count} subjects of the train split of {opt.dataroot} "
          "(the phase run holds none)", flush=True)  # fmt: skip
    return KinematicPrior(fitted.with_population(population_floor(phase_model)))


def _descriptions(opt: argparse.Namespace) -> dict[str, str]:
    interp, phase = (_stage_label(opt, o) for o in PRETRAINED_RUNS)
    if opt.baseline_phase_name:
        baseline = f"linear interpolation + L1-only phase generator ({opt.baseline_phase_name})"
    else:
        baseline = f"linear interpolation + the HDL phase model ({phase}; no L1-only run given)"
    described = {
        "hdl": f"hybrid UNet interpolation ({interp}) + foreground-background GAN ({phase})",
        "baseline": baseline,
        **YARDSTICK_DESCRIPTIONS,
    }
    return {method: described[method] for method in selected_rows(opt)}


def _crop(subject: Subject, opt: argparse.Namespace) -> Subject:
    """Crop every slice around its key frames' myocardium when --crop_size is set (as the stages trained)."""
    size = opt.crop_size
    if not size:
        return subject

    slices = {}
    for name, s in subject.slices.items():
        keys = key_frames_of(s, opt.factor, opt.input_keyframes_only)
        slices[name], _ = crop_slice(s, list(keys.stored), size, f"{subject.subject_id}: slice {name!r}")
    return replace(subject, slices=slices)


def _export_nifti(subject: Subject, out_dir: Path) -> None:
    export_nifti(subject, out_dir, log=lambda _msg: None)


def _twins_of(
    subject: Subject, predictors: dict[str, HDLPredictor], opt: argparse.Namespace, out_dir: Path, stem: str,
    kinematic: KinematicPrior | None,
) -> tuple[dict[str, Subject], list[tuple[str, str]]]:  # fmt: skip
    """Every method's twin of one subject, written in the dataset format (and NIfTI), and the yardsticks."""
    twins = {m: p.predict_subject(subject, opt.factor, opt.input_keyframes_only) for m, p in predictors.items()}
    keys = {name: key_frames_of(s, opt.factor, opt.input_keyframes_only) for name, s in subject.slices.items()}
    population = predictors["hdl"].phase_model.population
    # A --prior kinematic phase run's predictor has fitted this same prior (same templates, key frames and
    # masks) to make the twin; the kinematic row fits it again (about a second per subject) rather than
    # carry the predictor's curves here, which would also have to tell its population fallback apart.
    twins.update(yardstick_twins(twins["hdl"], population, subject, keys, kinematic, selected_rows(opt)))
    files: list[tuple[str, str]] = []
    for method in (m for m in (*predictors, *READS_SUBJECT) if m in twins):  # the twins that read the subject
        rel = Path("subjects") / method / f"{stem}.h5"
        write_subject(out_dir / rel, twins[method])
        said = f"{method} twin of {subject.subject_id} (dataset format)"
        if "kinematic_model" in twins[method].attrs:
            said += (f"; the model its key frames chose: {twins[method].attrs['kinematic_model']} "
                     f"(leave-one-key-frame-out score {float(twins[method].attrs['kinematic_loo']):.2f})")  # fmt: skip
        files.append((rel.as_posix(), said))
        if opt.export_nifti:
            _export_nifti(twins[method], out_dir / "nifti" / method)
    return twins, files


def regional_normals(opt: argparse.Namespace) -> RegionalNormals:
    """Regional normals and the detection threshold from the acquired data of the training and validation
    splits of ``--dataroot`` (``models.phase.evaluation.regional_normals``)."""
    return phase_regional_normals(opt.dataroot)


def _report_builder(opt: argparse.Namespace, hdl: HDLPredictor, out_dir: Path, n_subjects: int) -> ReportBuilder:
    info = {
        "data": f"{opt.dataroot} ({opt.split} split, {n_subjects} subject(s))",
        "input": "key frames only" if opt.input_keyframes_only else f"full cines, key frame every {opt.factor}",
        "factor": opt.factor,
        "stage 1": f"{_stage_label(opt, 'interp_name')}: {hdl.interp_model.checkpoint_path}",
        "stage 2": f"{_stage_label(opt, 'phase_name')}: {hdl.phase_model.checkpoint_path}",
        "device": f"{hdl.device} ({hdl.precision})",
        **_validation_correction(hdl),
        "seed": opt.seed,
    }
    return ReportBuilder(
        out_dir,
        _descriptions(opt),
        opt.factor,
        keyframes_only=opt.input_keyframes_only,
        fid=opt.fid,
        device=str(hdl.device),
        title=f"HDL digital twins: {opt.name}",
        info=info,
        normals=regional_normals(opt),
        seed=opt.seed,
        drawn=DRAWN,
        gif=bool(getattr(opt, "gif", False)),
    )


def _validation_correction(hdl: HDLPredictor) -> dict[str, str]:
    """The pages' record of what stage 2's weights did to their prior on their validation split."""
    if not hdl.refines_kinematic_prior:
        return {}
    value = getattr(hdl.phase_model, "validation_correction_cm_s", None)
    shown = "not recorded with these weights" if value is None else f"{value:.2f} cm/s"
    return {"stage 2's correction of its prior on its validation split": shown,
            "share of the correction kept": correction_scale_label(hdl.phase_model)}  # fmt: skip


def kept_validation_correction(hdl: HDLPredictor) -> float | None:
    """The correction stage 2 made on its validation split, times the share inference keeps: the figure a
    chain's own correction compares with."""
    value = getattr(hdl.phase_model, "validation_correction_cm_s", None)
    return None if value is None else value * hdl.phase_model.inference_correction_scale


def correction_scale_label(phase_model: Any) -> str:
    """The share of its correction stage 2 keeps, and who chose it."""
    scale = phase_model.inference_correction_scale
    if getattr(phase_model, "correction_scale_override", None) is not None:
        return f"{scale:.2f} (--correction_scale)"
    if getattr(phase_model, "correction_scale", None) is not None:
        return f"{scale:.2f} (chosen on the validation split against the acquired phase)"
    return "1 (the weights hold no chosen share: all of it)"


#: the console's velocity errors, each named with its reference: the truth first, where there is one
VELOCITY_MAE_LABELS = (
    ("velocity MAE vs truth (velocity_true)", "vel_mae_myo_true_cm_s"),
    ("velocity MAE vs acquired phase", "vel_mae_myo_cm_s"),
)


def _has_values(rows: dict[str, dict[str, Any]], column: str) -> bool:
    return any(isinstance(r.get(column), float) and math.isfinite(r[column]) for r in rows.values())


def _print_summary(rows: dict[str, dict[str, Any]]) -> None:
    """One line per method, numbers rounded as on the pages; a FID that is unavailable is said once. The
    velocity error is against the truth where the subjects have one (the phantom), then the acquired scan."""
    velocity = tuple((label, c, " cm/s") for label, c in VELOCITY_MAE_LABELS if _has_values(rows, c))
    columns = (("magnitude PSNR", "mag_psnr_nonkey", " dB"), ("Dice", "myo_dice_nonkey", ""),
               *(velocity or ((VELOCITY_MAE_LABELS[1][0], VELOCITY_MAE_LABELS[1][1], " cm/s"),)))  # fmt: skip
    reasons = {r["fid"] for r in rows.values() if not isinstance(r["fid"], float)}
    for method, r in rows.items():
        shown = ", ".join(f"{label} {display_value(r[c], c)}{unit}" for label, c, unit in columns)
        fid = r["fid"]
        if isinstance(fid, float) or len(reasons) > 1:
            shown += f", FID {display_value(fid, 'fid')}"
        print(f"  {method:<10} {shown}")
    if len(reasons) == 1:
        print(f"  FID {reasons.pop()}")


#: what a worker process needs besides the subject's path, set once when it starts (``_start_worker``)
_WORKER: dict[str, Any] = {}


def _start_worker(state: dict[str, Any], threads: int) -> None:
    torch.set_num_threads(threads)
    _WORKER.update(state)


def _subject_parts(path: Path) -> SubjectParts | DataError:
    """One subject in a worker process: its twins written, analysed by a fresh builder, handed back."""
    return _add_subject(path, _WORKER["builder"].fresh(), _WORKER)


def _add_subject(path: Path, builder: ReportBuilder, state: dict[str, Any]) -> SubjectParts | DataError:
    """Read, synthesise and add one subject to ``builder`` (its parts returned); an unreadable file's error."""
    opt = state["opt"]
    try:
        subject = _crop(read_subject(path, require_velocity=False), opt)
    except DataError as exc:
        return exc
    twins, files = _twins_of(subject, state["predictors"], opt, state["out_dir"], path.stem, state["kinematic"])
    builder.add_subject(subject, twins, files)
    return builder.parts()


def _worker_pool(workers: int, state: dict[str, Any]) -> ProcessPoolExecutor:
    """Processes that each take whole subjects: forked where the system can (the models are shared, not
    loaded again), else spawned. A forked worker runs torch on one thread: the OpenMP pool of a parent that
    has used it hangs in a forked child (as in torch's DataLoader workers), so give as many workers as cores."""
    if "fork" in mp.get_all_start_methods():
        method, threads = "fork", 1
    else:
        method, threads = "spawn", max(1, torch.get_num_threads() // workers)
    return ProcessPoolExecutor(workers, mp.get_context(method), initializer=_start_worker, initargs=(state, threads))


def _synthesise_all(
    paths: list[Path], predictors: dict[str, HDLPredictor], builder: ReportBuilder, opt: argparse.Namespace,
    out_dir: Path,
) -> tuple[list[tuple[str, str]], SkippedInputs]:  # fmt: skip
    """Twins of every readable subject, added to the report in the order of ``paths`` (whatever the number
    of ``--workers``); an unreadable file is said and skipped, and the run fails at the end, once the others
    are written."""
    skipped = SkippedInputs()
    state = {"opt": opt, "predictors": predictors, "out_dir": out_dir, "builder": builder,
             "kinematic": kinematic_prior(opt, predictors["hdl"].phase_model)}  # fmt: skip
    workers = min(int(getattr(opt, "workers", 1) or 1), len(paths))
    progress = tqdm(total=len(paths), desc="hdl subjects", disable=opt.no_progress, dynamic_ncols=True)
    if workers > 1:
        with _worker_pool(workers, state) as pool:
            for path, parts in zip(paths, pool.map(_subject_parts, paths), strict=True):
                if isinstance(parts, DataError):
                    skipped.skip(path, parts)
                else:
                    builder.merge(parts)
                progress.update()
    else:
        for path in paths:
            parts = _add_subject(path, builder, state)
            if isinstance(parts, DataError):
                skipped.skip(path, parts)
            progress.update()
    progress.close()
    if len(skipped.names) == len(paths):
        skipped.check(len(paths))
    files = [f for sid in builder.subject_files for f in builder.subject_files[sid]]
    return files, skipped


#: a subject whose twin moved this many times further from its prior than on the validation split is flagged
CORRECTION_WARN_RATIO = 2.0


def correction_lines(slice_rows: list[dict[str, Any]], validation_cm_s: float | None) -> list[str]:
    """The console's report of stage 2's correction of its prior (``correction_myo_cm_s``), for every twin
    that refines one: the cohort's mean and its subjects' range, beside what the weights did on their
    validation split, then a warning per subject more than ``CORRECTION_WARN_RATIO`` times that. Empty when
    no twin refines a prior. Needs no truth: on a scan it is the one sign that the twin left its prior."""
    per_subject: dict[str, dict[str, list[float]]] = {}
    for r in slice_rows:
        value = float(r.get("correction_myo_cm_s", math.nan))
        if math.isfinite(value):
            per_subject.setdefault(str(r["method"]), {}).setdefault(str(r["subject"]), []).append(value)
    if not per_subject:
        return []
    means = {m: {sid: float(np.mean(v)) for sid, v in subjects.items()} for m, subjects in per_subject.items()}
    shown = "; ".join(f"{m} {np.mean(list(v.values())):.2f} (subjects {min(v.values()):.2f}-{max(v.values()):.2f})"
                      for m, v in means.items())  # fmt: skip
    if validation_cm_s is None:
        against = "its weights hold no validation figure to compare with (trained before it was recorded)"
    else:
        against = f"on its validation split {validation_cm_s:.2f}"
    lines = [f"stage 2's correction of its prior (mean |twin - prior| over the myocardium, cm/s): {shown}; {against}"]
    if validation_cm_s is None or validation_cm_s <= 0:
        return lines
    for method, subjects in means.items():
        for sid, value in subjects.items():
            if value > CORRECTION_WARN_RATIO * validation_cm_s:
                lines.append(f"warning: {sid}: stage 2 moved the {method} twin {value:.2f} cm/s from its prior, "
                             f"{value / validation_cm_s:.1f}x its validation split's {validation_cm_s:.2f}: the "
                             "images may be unlike its training; compare the kinematic row")  # fmt: skip
    return lines


def _print_prior_choices(chosen: dict[str, tuple[str, float]]) -> None:
    """A note for each subject whose kinematic prior stayed at the population floor (or stood in for a fit
    that could not be made), then one line counting the models the subjects' key frames chose."""
    if not chosen:
        return
    for sid, (model, _) in chosen.items():
        if model in ("population", FALLBACK):
            why = "no richer model predicted its key frames better" if model == "population" else "no fit"
            print(f"note: {sid}: the kinematic row is the population's ({model}: {why})")
    counts = Counter(model for model, _ in chosen.values())
    print("kinematic prior: the models the key frames chose: " + ", ".join(f"{m} {n}" for m, n in counts.most_common()))


def _check_options(opt: argparse.Namespace) -> None:
    workers = getattr(opt, "workers", 1)
    if workers < 1:
        raise OptionError(f"--workers must be >= 1, got {workers}")
    if workers > 1 and opt.fid:
        raise OptionError("--fid needs every subject's images in one process: use --workers 1 with --fid")
    if getattr(opt, "wall_band", WALL_BAND) < 0:
        raise OptionError(f"--wall_band must be >= 0 pixels, got {opt.wall_band}")


def run_hdl_test(opt: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """test.py --model hdl: synthesise, write the subjects and the report, print where everything is.

    A subject file that cannot be read is reported by name and left out; the others are synthesised and
    reported, then the run fails (non-zero exit) naming every file left out."""
    if opt.factor < 2:
        raise OptionError(f"--factor must be >= 2, got {opt.factor}")
    _check_options(opt)
    selected_rows(opt)  # a typo in --rows fails before the models load
    start = time.perf_counter()
    predictors = build_predictors(opt)
    out_dir = Path(opt.results_dir) / opt.name / "hdl"
    paths = select_subjects(opt.dataroot, opt.split, opt.subjects, opt.max_subjects)
    hdl = predictors["hdl"]
    trained = {"stage 1": training_acquisition(hdl.interp_model), "stage 2": training_acquisition(hdl.phase_model)}
    warn_outside_training(trained, paths)
    builder = _report_builder(opt, predictors["hdl"], out_dir, len(paths))
    files, skipped = _synthesise_all(paths, predictors, builder, opt, out_dir)
    result = builder.finish(files)

    rows = {str(r["method"]): r for r in result.summary}
    print(f"hdl: {len(paths)} subject(s), factor {opt.factor}, {time.perf_counter() - start:.0f} s")
    _print_prior_choices(builder.prior_models)
    _print_summary(rows)
    if getattr(hdl.phase_model, "prior_kind", "none") != "none":
        print(f"stage 2 keeps a share of its correction of its prior: {correction_scale_label(hdl.phase_model)}")
    for line in correction_lines(builder.slice_rows, kept_validation_correction(hdl)):
        print(line)
    print(f"synthesised subjects: {out_dir / 'subjects'}")
    if opt.export_nifti:
        print(f"NIfTI: {out_dir / 'nifti'}")
    print(f"metrics: {result.metrics_csv}")
    print(f"report: {result.index_html}")
    skipped.check(len(paths))
    return rows
