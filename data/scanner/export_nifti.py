"""Export a subject as NIfTI volumes: magnitude, vx, vy, vz (cm/s) and masks, one set per slice.

    python -m data.scanner.export_nifti SUBJECT.h5 OUT_DIR

Files: ``OUT_DIR/<subject>_<slice>_<field>.nii.gz`` for field in magnitude, vx, vy, vz and every mask the
slice has (myocardium, lv_blood, rv_blood, tissue). Each is a 4-D volume (x, y, 1, time) in the axis
convention of ``data.scanner.nifti_axes``, with the pixel size in mm and the frame interval (RR / T) in ms, so
``python -m data.scanner.import_nifti`` reads a slice back given its VENC. Each file is written atomically.

JSON sidecars make the export read back whole (``python -m data.scanner.import_nifti --exported
OUT_DIR/<subject> OUT.h5``: every slice, no options): each velocity file's (``<subject>_<slice>_vx.json``)
says its VENC and unit (``VENC_cm_s``, ``PhaseUnits`` cm_s); the magnitude's says the RR interval in
ImageComments, as dcm2niix keeps it, and under ``HDLSlice`` the slice's name, place in the file, position,
attributes and the subject's.

A synthesised twin (``data.scanner.export_dicom.synthesised_by``: the chain's ``synthesised_by`` slice attribute
or a phantom subject) has in its magnitude's sidecar the fields dcm2niix writes for a twin exported as DICOM
(ImageType ``DERIVED\\SECONDARY\\M``, SeriesDescription ``SYNTHETIC MVM <position> magnitude``, ImageComments
with the RR interval and the derivation), so that ``data.scanner.import_nifti`` marks the slices it reads back
as synthesised, either way.
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
from util.atomic import atomic_path, json_default, write_text
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


def _write_sidecar(path: Path, fields: dict) -> Path:
    try:
        return write_text(path, json.dumps(fields, indent=1, default=json_default) + "\n")
    except HDLError as exc:
        raise DataError(str(exc)) from exc


def _magnitude_sidecar(subject: Subject, index: int, name: str, s: SliceData, method: str | None) -> dict:
    """The magnitude's sidecar: the RR interval, the slice and subject for ``--exported``, and for a
    synthesised slice its marking (see the module docstring)."""
    comment = f"HDL-MVM RR {s.rr_interval_ms:g} ms, {s.num_frames} frames"
    fields: dict = {"ImageComments": comment}
    if method is not None:
        fields = {
            "SeriesDescription": f"SYNTHETIC MVM {s.slice_position} magnitude",
            "ImageType": ["DERIVED", "SECONDARY", "M"],
            "ImageComments": f"{comment}; {derivation_text(method)}",
        }
    fields["HDLSlice"] = {
        "subject_id": subject.subject_id,
        "name": name,
        "index": index,
        "slice_position": s.slice_position,
        "rr_interval_ms": float(s.rr_interval_ms),
        "z_towards_apex": int(s.z_towards_apex),
        "rv_insertion_deg": s.rv_insertion_deg,
        "attrs": s.attrs,
        "subject_attrs": subject.attrs,
    }
    return fields


def export_nifti(subject: Subject, out_dir: str | os.PathLike, log: Callable[[str], None] = say) -> list[Path]:
    """Write every slice of ``subject`` as NIfTI files under ``out_dir``; return the paths written."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder")
    written: list[Path] = []
    method = synthesised_by(subject)
    for index, (name, s) in enumerate(subject.slices.items()):
        frame_ms = s.rr_interval_ms / s.cycle_frames
        prefix = out / f"{subject.subject_id}_{name}"
        fields: list[tuple[str, np.ndarray, type]] = [("magnitude", s.magnitude, np.float32)]
        if s.velocity is not None:
            fields += [(v, s.velocity[:, k], np.float32) for k, v in enumerate(VELOCITY_NAMES)]
        fields += [(m, getattr(s, m), np.uint8) for m in MASK_FIELDS if getattr(s, m) is not None]
        for field, frames, dtype in fields:
            img = from_frames(frames, s.pixel_spacing_mm, frame_ms, dtype)
            path = prefix.with_name(f"{prefix.name}_{field}.nii.gz")
            if field in VELOCITY_NAMES:
                venc = float(s.venc_cm_s[VELOCITY_NAMES.index(field)])
                img.header["descrip"] = f"{field} cm/s VENC {venc:g}".encode()
                side = {"VENC_cm_s": venc, "PhaseUnits": "cm_s"}
                written.append(_write_sidecar(path.with_name(f"{prefix.name}_{field}.json"), side))
            _save(img, path)
            written.append(path)
        side = _magnitude_sidecar(subject, index, name, s, method)
        written.append(_write_sidecar(prefix.with_name(f"{prefix.name}_magnitude.json"), side))
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
