"""test.py --model interp: rebuild every test cine from its key frames and score it against the frames
that were left out, next to two yardsticks: linear interpolation between the bracketing key frames, and
periodic band-limited (Fourier) interpolation over the cycle from all key frames.

For every slice of the chosen subjects the cine is down-sampled by ``--factor`` (key frames
``0, k, 2k, ...``), every other frame is predicted, and both methods are scored on exactly the same
frames, the non-key ones:

* magnitude PSNR and SSIM on the [0, 1] scale (data range 1), the real frame scaled with the same
  key-frame scale as the prediction; over the whole image and over the tissue foreground. The
  foreground is ``util.tissue.tissue_mask_from_magnitude`` of the *real* frame: the definition the
  training losses use, and one that also exists for acquired data (which has no ``tissue`` field);
* Dice of the myocardium mask (prediction thresholded at 0.5; linear takes the nearer key frame's mask,
  Fourier thresholds the interpolated masks).

Frame scores are averaged over all scored frames (every frame counts equally). Outputs, in
``<results_dir>/<name>/interp/``: ``metrics.csv`` (one row per method), ``metrics_per_slice.csv`` and
``subjects/<subject>.h5``: each subject in the dataset format with all T frames, the key frames copied
and the others interpolated (magnitude in the file's intensity units, myocardium predicted). Fields that
stage 1 does not predict (velocity, other masks) are copied from the input when present, so the file
stays a complete data set; the slice attributes ``synthesised_fields`` and ``key_frames`` say what was
predicted.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from assessment import metrics
from assessment.tables import display_value, to_csv
from data.acquisition import warn_outside_training
from data.cycle import key_frame_grid
from data.mvm_io import SliceData, Subject, read_subject, write_subject
from data.selection import select_subjects
from data.transforms import crop_slice
from models.interp.inference import CineReconstruction, fourier_cine, interpolate_cine, linear_cine
from models.loading import load_trained_model, training_acquisition
from util.atomic import write_text
from util.cli import SkippedInputs
from util.distributed import select_device
from util.errors import DataError, OptionError
from util.intensity import to_unit_range
from util.tissue import tissue_mask_from_magnitude

METHODS = ("hdl_interp", "linear", "fourier")
METRIC_COLUMNS = ("psnr", "psnr_fg", "ssim", "ssim_fg", "dice")
MAGNITUDE_RANGE = 1.0  # metrics on the [0, 1] magnitude scale


@dataclass
class FrameScores:
    """Per-frame scores of one method, collected then averaged."""

    values: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in METRIC_COLUMNS})

    def add(self, scores: dict[str, float]) -> None:
        for name, value in scores.items():
            self.values[name].append(value)

    def extend(self, other: FrameScores) -> None:
        for name, vals in other.values.items():
            self.values[name].extend(vals)

    @property
    def n_frames(self) -> int:
        return len(self.values["psnr"])

    def summary(self) -> dict[str, float]:
        """Mean of each metric over the frames where it is defined (an empty foreground gives no value)."""
        out = {}
        for name, vals in self.values.items():
            out[name] = metrics.mean_skipping_nan(vals)
        out["n_frames"] = self.n_frames
        return out


def score_frame(
    pred_unit: np.ndarray,
    pred_mask: np.ndarray,
    true_unit: np.ndarray,
    true_mask: np.ndarray,
    tissue: np.ndarray | None = None,
) -> dict[str, float]:
    """PSNR / SSIM (whole and foreground) and Dice of one predicted frame against the real one.

    ``tissue`` is the foreground of the real frame (computed from ``true_unit`` when not given).
    """
    if tissue is None:
        tissue = tissue_mask_from_magnitude(true_unit)
    return {
        "psnr": metrics.psnr(pred_unit, true_unit, MAGNITUDE_RANGE),
        "psnr_fg": metrics.psnr(pred_unit, true_unit, MAGNITUDE_RANGE, tissue),
        "ssim": metrics.ssim(pred_unit, true_unit, MAGNITUDE_RANGE),
        "ssim_fg": metrics.ssim(pred_unit, true_unit, MAGNITUDE_RANGE, tissue),
        "dice": metrics.dice(pred_mask, true_mask),
    }


def score_cine(rec: CineReconstruction, true_magnitude: np.ndarray, true_mask: np.ndarray) -> FrameScores:
    """Scores of the predicted (non-key) frames of ``rec``, the real frames scaled like the prediction."""
    frames = [target % rec.unit.shape[0] for target, _, _ in rec.targets]
    true_unit = to_unit_range(true_magnitude[frames], rec.scale)
    tissue = tissue_mask_from_magnitude(true_unit) if frames else true_unit.astype(bool)
    scores = FrameScores()
    for i, t in enumerate(frames):
        scores.add(score_frame(rec.unit[t], rec.myocardium[t], true_unit[i], true_mask[t], tissue[i]))
    return scores


# ---------------------------------------------------------------------------------------- subjects


def check_full_cine(s: SliceData, factor: int, where: str) -> None:
    if s.frame_index is not None:
        raise DataError(
            f"{where}: holds key frames only (frame_index); scoring needs the full cine. "
            "Use test.py --model hdl to synthesise from key frames"
        )
    if s.num_frames <= factor:
        raise DataError(f"{where}: {s.num_frames} frames are too few for --factor {factor}")


# ----------------------------------------------------------------------------------------- outputs


def format_table(rows: dict[str, dict[str, float]]) -> str:
    """The metrics as an aligned text table (what test.py prints), rounded as on the pages."""
    header = ["method", *METRIC_COLUMNS, "n_frames"]
    lines = [f"{header[0]:<12}" + "".join(f"{h:>10}" for h in header[1:])]
    for method, row in rows.items():
        cells = "".join(f"{display_value(row[c], c):>10}" for c in METRIC_COLUMNS)
        lines.append(f"{method:<12}{cells}{int(row['n_frames']):>10d}")
    return "\n".join(lines)


def output_slice(
    s: SliceData, rec: CineReconstruction, factor: int, crop: list[int] | None, checkpoint: Path
) -> SliceData:
    attrs = {
        **s.attrs,
        "synthesised_fields": "magnitude,myocardium",
        "key_frames": np.asarray(rec.key_frames, dtype=np.int64),
        "interp_factor": int(factor),
        "interp_checkpoint": str(checkpoint),
    }
    if crop is not None:
        attrs["crop_box"] = np.asarray(crop, dtype=np.int64)
    return replace(s, magnitude=rec.magnitude, myocardium=rec.myocardium, attrs=attrs)


# -------------------------------------------------------------------------------------------- main


def _evaluate_subject(
    subject: Subject, path: Path, model: Any, opt: argparse.Namespace, totals: dict[str, FrameScores], per_slice: list
) -> dict[str, SliceData]:
    """Score every slice of one subject (into ``totals`` and ``per_slice``); its output slices."""
    factor = int(opt.factor)
    slices_out = {}
    for name, s in subject.slices.items():
        where = f"{path}: slice {name!r}"
        check_full_cine(s, factor, where)
        keys = key_frame_grid(s.num_frames, factor)
        s, box = crop_slice(s, keys, opt.crop_size, where)
        key_mag, key_mask = s.magnitude[keys], s.myocardium[keys]
        recs = {
            "hdl_interp": interpolate_cine(model, key_mag, key_mask, keys, s.num_frames, opt.batch_size),
            "linear": linear_cine(key_mag, key_mask, keys, s.num_frames),
            "fourier": fourier_cine(key_mag, key_mask, keys, s.num_frames),
        }
        for method, rec in recs.items():
            scores = score_cine(rec, s.magnitude, s.myocardium)
            totals[method].extend(scores)
            per_slice.append({"subject": path.stem, "slice": name, "method": method, **scores.summary()})
        slices_out[name] = output_slice(s, recs["hdl_interp"], factor, box, model.checkpoint_path)
    return slices_out


def run_interp_test(opt: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Score a trained interpolation run on the chosen subjects; returns {method: {metric: value}}."""
    factor = int(opt.factor)
    if factor < 2:
        raise OptionError(f"--factor must be >= 2, got {factor}")
    device = select_device(opt)
    run_dir = Path(opt.checkpoints_dir) / opt.name
    overrides = {"precision": opt.precision, "channels_last": opt.channels_last}
    model = load_trained_model(run_dir, opt.which_epoch, device, overrides=overrides)
    crop = opt.crop_size
    trained_crop = model.opt.crop_size
    if crop != trained_crop:
        # Normalisation layers see whole-image statistics: a different window changes the predictions.
        trained = f"crops of {trained_crop} pixels" if trained_crop else "whole images"
        print(f"note: the run was trained on {trained}; evaluating with --crop_size {crop}")
    out_dir = Path(opt.results_dir) / opt.name / "interp"
    paths = select_subjects(opt.dataroot, opt.split, opt.subjects, opt.max_subjects)
    warn_outside_training({f"run {opt.name}": training_acquisition(model)}, paths)
    totals = {m: FrameScores() for m in METHODS}
    per_slice: list[dict[str, object]] = []
    skipped = SkippedInputs()
    bar = tqdm(paths, desc=f"interp k={factor}", disable=opt.no_progress, dynamic_ncols=True)
    for path in bar:
        try:
            subject = read_subject(path, require_velocity=False)
        except DataError as exc:
            skipped.skip(path, exc)
            continue
        slices_out = _evaluate_subject(subject, path, model, opt, totals, per_slice)
        write_subject(out_dir / "subjects" / f"{path.stem}.h5", Subject(subject.subject_id, slices_out, subject.attrs))
    if len(skipped.names) == len(paths):
        skipped.check(len(paths))

    rows = {m: totals[m].summary() for m in METHODS}
    columns = ["method", *METRIC_COLUMNS, "n_frames"]
    write_text(out_dir / "metrics.csv", to_csv([{"method": m, **r} for m, r in rows.items()], columns))
    write_text(out_dir / "metrics_per_slice.csv", to_csv(per_slice, ["subject", "slice", *columns]))
    print(f"stage 1, k = {factor}, {len(paths)} subject(s), {rows[METHODS[0]]['n_frames']} interpolated frames")
    print(format_table(rows))
    print(f"results in {out_dir}")
    skipped.check(len(paths))
    return rows
