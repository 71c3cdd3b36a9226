"""``--model hdl``: the chained HDL pipeline for test.py (it is not trained; train ``interp`` and ``phase``).

    python test.py --model hdl --name phantom --interp_name phantom_interp --phase_name phantom_phase \
        --baseline_phase_name phantom_phase_l1 --factor 6

For every subject of the chosen split, the magnitude cine is down-sampled by ``--factor`` (or read as
key frames only), the two trained stages rebuild every frame and synthesise the velocity maps, and the
same is done by the baseline chain (linear interpolation + the L1-only phase run given by
``--baseline_phase_name``, else + the HDL phase run, which then isolates stage 1). Outputs, in
``<results_dir>/<name>/hdl/``:

    subjects/<method>/<subject>.h5   the synthesised data sets, in the dataset format
    nifti/<method>/...               the same as NIfTI (--export_nifti)
    metrics.csv, metrics_per_slice.csv, metrics_per_subject.csv, velocity_curves.csv, velocity_peaks.csv,
    peak_agreement.csv               (Bland-Altman bias and limits of agreement per method)
                                     (regional columns: models/hdl/report/cohort.py)
    figures/                         curve plots, bull's-eyes, cine GIFs
    index.html                       the cohort page (opens from disk): metrics, per-subject summary,
                                     Bland-Altman agreement of peaks and times to peak
    subjects/<subject>.html          one page per subject
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from data.export_nifti import export_nifti
from data.mvm_io import Subject, read_subject, write_subject
from data.selection import select_subjects
from data.transforms import crop_slice
from models.hdl.keyframes import key_frames_of
from models.hdl.predictor import HDLPredictor
from models.hdl.report.builder import ReportBuilder
from models.loading import PRETRAINED_DIR, load_trained_model
from models.phase.yardsticks import PopulationPrior
from util.distributed import select_device
from util.errors import DataError, OptionError
from util.regional import RegionalNormals, training_normals

METHODS = ("hdl", "baseline", "zero", "population")
#: the stage runs of the shipped twin, which test.py --model hdl --pretrained loads
PRETRAINED_RUNS = {"interp_name": PRETRAINED_DIR / "interp", "phase_name": PRETRAINED_DIR / "phase"}


def _run_dir(opt: argparse.Namespace, option: str) -> Path:
    if opt.pretrained and option in PRETRAINED_RUNS:
        return PRETRAINED_RUNS[option]
    name = getattr(opt, option)
    if not name:
        raise OptionError(f"--{option} is required with --model hdl (a run name under --checkpoints_dir)")
    return Path(opt.checkpoints_dir) / name


def build_predictors(opt: argparse.Namespace) -> dict[str, HDLPredictor]:
    """The HDL chain and the baseline chain, on the device and precision the options ask for."""

    device = select_device(opt)
    common = {
        "device": device,
        "precision": opt.precision,
        "batch_size": opt.batch_size,
        "seed": opt.seed,
        "acquisition_noise": opt.acquisition_noise,
    }
    which = "weights" if opt.pretrained else opt.which_epoch
    hdl = HDLPredictor.from_runs(_run_dir(opt, "interp_name"), _run_dir(opt, "phase_name"), which, **common)
    if opt.baseline_phase_name:
        overrides = {"precision": hdl.precision, "channels_last": device.type == "cuda"}
        phase = load_trained_model(_run_dir(opt, "baseline_phase_name"), opt.which_epoch, device, overrides)
    else:
        phase = hdl.phase_model
    baseline = HDLPredictor(None, phase, interpolation="linear", name="baseline", **common)
    return {"hdl": hdl, "baseline": baseline}


def yardstick_twins(twin: Subject, population: PopulationPrior) -> dict[str, Subject]:
    """The velocity yardsticks on ``twin``'s own cine and masks: no motion (``zero``) and the training set's
    mean curves on its myocardium (``population``, when the phase run holds a prior). Only the velocity
    differs from the twin, so their rows show what stage 2 adds over knowing nothing of the subject."""
    def with_velocity(method: str, velocity_of: Any) -> Subject:
        slices = {
            name: replace(s, velocity=velocity_of(s), attrs={**s.attrs, "synthesised_by": method})
            for name, s in twin.slices.items()
        }
        return replace(twin, slices=slices)

    twins = {"zero": with_velocity("zero", lambda s: np.zeros_like(s.velocity))}
    if population.ready:
        twins["population"] = with_velocity("population", population.velocity)
    return twins


def _descriptions(opt: argparse.Namespace) -> dict[str, str]:
    interp, phase = (str(_run_dir(opt, o)) if opt.pretrained else getattr(opt, o) for o in PRETRAINED_RUNS)
    if opt.baseline_phase_name:
        baseline = f"linear interpolation + L1-only phase generator ({opt.baseline_phase_name})"
    else:
        baseline = f"linear interpolation + the HDL phase model ({phase}; no L1-only run given)"
    return {
        "hdl": f"hybrid UNet interpolation ({interp}) + foreground-background GAN ({phase})",
        "baseline": baseline,
        "zero": "yardstick: zero velocity on the HDL twin's cine",
        "population": "yardstick: the phase run's training-set mean curves on the HDL twin's myocardium",
    }


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
    subject: Subject, predictors: dict[str, HDLPredictor], opt: argparse.Namespace, out_dir: Path, stem: str
) -> tuple[dict[str, Subject], list[tuple[str, str]]]:
    """Every method's twin of one subject, written in the dataset format (and NIfTI), and the yardsticks."""
    twins: dict[str, Subject] = {}
    files: list[tuple[str, str]] = []
    for method, predictor in predictors.items():
        twin = predictor.predict_subject(subject, opt.factor, opt.input_keyframes_only)
        rel = Path("subjects") / method / f"{stem}.h5"
        write_subject(out_dir / rel, twin)
        files.append((rel.as_posix(), f"{method} twin of {subject.subject_id} (dataset format)"))
        if opt.export_nifti:
            _export_nifti(twin, out_dir / "nifti" / method)
        twins[method] = twin
    twins.update(yardstick_twins(twins["hdl"], predictors["hdl"].phase_model.population))
    return twins, files


def regional_normals(opt: argparse.Namespace) -> RegionalNormals:
    """Regional normals and the detection threshold from the acquired data of the training and
    validation splits of ``--dataroot`` (``util.regional.training_normals``); a split that
    is empty or absent is skipped, and none at all gives the defaults (ratio 1, the fixed threshold)."""
    paths = []
    for split in ("train", "val"):
        try:
            paths += select_subjects(opt.dataroot, split)
        except DataError:  # no such split in this folder: nothing to learn from it
            continue
    return training_normals(read_subject(p, require_velocity=False) for p in paths)


def _report_builder(opt: argparse.Namespace, hdl: HDLPredictor, out_dir: Path, n_subjects: int) -> ReportBuilder:
    info = {
        "data": f"{opt.dataroot} ({opt.split} split, {n_subjects} subject(s))",
        "input": "key frames only" if opt.input_keyframes_only else f"full cines, key frame every {opt.factor}",
        "factor": opt.factor,
        "stage 1": f"{_run_dir(opt, 'interp_name')} ({hdl.interp_model.checkpoint_path.name})",
        "stage 2": f"{_run_dir(opt, 'phase_name')} ({hdl.phase_model.checkpoint_path.name})",
        "device": f"{hdl.device} ({hdl.precision})",
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
    )


def _print_summary(rows: dict[str, dict[str, Any]]) -> None:
    for method, r in rows.items():
        fid = r["fid"]
        print(
            f"  {method:<10} magnitude PSNR {r['mag_psnr_nonkey']:.2f} dB, Dice {r['myo_dice_nonkey']:.3f}, "
            f"velocity MAE {r['vel_mae_myo_cm_s']:.2f} cm/s, FID {f'{fid:.2f}' if isinstance(fid, float) else fid}"
        )


def run_hdl_test(opt: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """test.py --model hdl: synthesise, write the subjects and the report, print where everything is."""
    if opt.factor < 2:
        raise OptionError(f"--factor must be >= 2, got {opt.factor}")
    start = time.perf_counter()
    predictors = build_predictors(opt)
    out_dir = Path(opt.results_dir) / opt.name / "hdl"
    paths = select_subjects(opt.dataroot, opt.split, opt.subjects, opt.max_subjects)
    builder = _report_builder(opt, predictors["hdl"], out_dir, len(paths))
    files: list[tuple[str, str]] = []
    for path in tqdm(paths, desc="hdl subjects", disable=opt.no_progress, dynamic_ncols=True):
        subject = _crop(read_subject(path, require_velocity=False), opt)
        twins, subject_files = _twins_of(subject, predictors, opt, out_dir, path.stem)
        files.extend(subject_files)
        builder.add_subject(subject, twins, subject_files)
    result = builder.finish(files)

    rows = {str(r["method"]): r for r in result.summary}
    print(f"hdl: {len(paths)} subject(s), factor {opt.factor}, {time.perf_counter() - start:.0f} s")
    _print_summary(rows)
    print(f"synthesised subjects: {out_dir / 'subjects'}")
    if opt.export_nifti:
        print(f"NIfTI: {out_dir / 'nifti'}")
    print(f"metrics: {result.metrics_csv}")
    print(f"report: {result.index_html}")
    return rows
