"""Export a subject as NIfTI volumes: magnitude, vx, vy, vz (cm/s) and masks, one set per slice.

    python -m data.scanner.export_nifti SUBJECT.h5 OUT_DIR

Files: ``OUT_DIR/<subject>_<slice>_<field>.nii.gz`` for field in magnitude, vx, vy, vz and every mask the
slice has (myocardium, lv_blood, rv_blood, tissue). Each is a 4-D volume (x, y, 1, time) in the axis
convention of ``data.scanner.nifti_axes``, with the pixel size in mm and the frame interval (RR / T) in ms, so
``python -m data.scanner.import_nifti`` reads a slice back given its VENC. Each file is written atomically.

A synthesised twin (``data.scanner.export_dicom.synthesised_by``: the chain's ``synthesised_by`` slice attribute
or a phantom subject) gets a JSON sidecar beside its magnitude, ``<subject>_<slice>_magnitude.json``,
with the fields dcm2niix writes for a twin exported as DICOM (ImageType ``DERIVED\\SECONDARY\\M``,
SeriesDescription ``SYNTHETIC MVM <position> magnitude``, ImageComments with the RR interval and the
derivation), so that ``data.scanner.import_nifti`` marks the slices it reads back as synthesised, either way.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from data.mvm_io import MASK_FIELDS, SliceData, Subject, read_subject
from data.scanner.dicom_rules import derivation_text
from data.scanner.export_dicom import synthesised_by
from data.scanner.nifti_axes import from_frames
from util.atomic import atomic_path, write_text
from util.cli import ToolParser, run_tool, say
from util.errors import DataError, HDLError

VELOCITY_NAMES = ("vx", "vy", "vz")


def _save(img, path: Path) -> None:
    # nibabel picks compression from the file name, which a temporary name would hide: gzip explicitly.
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(gzip.compress(img.to_bytes(), compresslevel=6))
    except HDLError as exc:
        raise DataError(str(exc)) from exc


def _twin_sidecar(s: SliceData, method: str, path: Path) -> Path:
    """The JSON sidecar that marks a synthesised slice (see the module docstring)."""
    fields = {
        "SeriesDescription": f"SYNTHETIC MVM {s.slice_position} magnitude",
        "ImageType": ["DERIVED", "SECONDARY", "M"],
        "ImageComments": f"HDL-MVM RR {s.rr_interval_ms:g} ms, {s.num_frames} frames; {derivation_text(method)}",
    }
    try:
        return write_text(path, json.dumps(fields, indent=1) + "\n")
    except HDLError as exc:
        raise DataError(str(exc)) from exc


def export_nifti(subject: Subject, out_dir: str | os.PathLike, log: Callable[[str], None] = say) -> list[Path]:
    """Write every slice of ``subject`` as NIfTI files under ``out_dir``; return the paths written."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder")
    written: list[Path] = []
    method = synthesised_by(subject)
    for name, s in subject.slices.items():
        frame_ms = s.rr_interval_ms / s.cycle_frames
        prefix = out / f"{subject.subject_id}_{name}"
        fields: list[tuple[str, np.ndarray, type]] = [("magnitude", s.magnitude, np.float32)]
        if s.velocity is not None:
            fields += [(v, s.velocity[:, k], np.float32) for k, v in enumerate(VELOCITY_NAMES)]
        fields += [(m, getattr(s, m), np.uint8) for m in MASK_FIELDS if getattr(s, m) is not None]
        for field, frames, dtype in fields:
            img = from_frames(frames, s.pixel_spacing_mm, frame_ms, dtype)
            if field in VELOCITY_NAMES:
                img.header["descrip"] = f"{field} cm/s VENC {s.venc_cm_s[VELOCITY_NAMES.index(field)]:g}".encode()
            path = prefix.with_name(f"{prefix.name}_{field}.nii.gz")
            _save(img, path)
            written.append(path)
        if method is not None:
            written.append(_twin_sidecar(s, method, prefix.with_name(f"{prefix.name}_magnitude.json")))
        log(f"{name}: {len(fields)} NIfTI files ({', '.join(f for f, _, _ in fields)})")
    return written


def build_parser() -> ToolParser:
    p = ToolParser(prog="python -m data.scanner.export_nifti", description="Export an .h5 subject as NIfTI volumes.")
    p.add_argument("subject", help="subject file (.h5)")
    p.add_argument("out_dir", help="output folder")
    return p


def _run(args: argparse.Namespace) -> None:
    paths = export_nifti(read_subject(args.subject, require_velocity=False), args.out_dir)
    say(f"wrote {len(paths)} files to {args.out_dir}")


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(_run, build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
