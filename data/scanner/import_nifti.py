"""Import a 3Dir MVM scan stored as NIfTI volumes into the canonical subject file.

    python -m data.scanner.import_nifti --magnitude M.nii.gz --phase X.nii.gz Y.nii.gz Z.nii.gz OUT.h5
    python -m data.scanner.import_nifti --exported OUT_DIR/SUBJECT OUT.h5     # what export_nifti wrote
        [--venc X Y Z] [--myocardium MASK.nii.gz] [--lv_blood M] [--rv_blood M]
        [--phase_units auto|raw12|radians|cm_s] [--rr MS] [--subject ID] [--slice_positions P ...]
        [--order base_first|apex_first] [--z_towards_apex 1|-1]

Axes (``data.scanner.nifti_axes``): 4-D volumes (x, y, slice, time) or 3-D single-slice volumes (x, y, time);
x is the image column, y the row. All volumes must have the same shape and orientation. The voxels are
put in the DICOM layout from the affine (and the DICOM orientation of a JSON sidecar when there is one),
so a scan converted by dcm2niix, which flips the rows, comes back the right way up with vy its sign.

JSON sidecars (``x.json`` beside ``x.nii.gz``, as dcm2niix writes them) are read when present:
ImageOrientationPatientDICOM (orientation), Manufacturer and ImageType (phase units), SequenceName
(Siemens ``_v<VENC>``: the VENC), RepetitionTime and ImageComments (RR interval, below).

Phase units (``--phase_units``, default auto):
  * ``auto``: from the sidecar: Siemens phase -> raw12 (dcm2niix writes it rescaled, -4096..4094),
    Philips -> cm_s; without a sidecar, cm_s;
  * ``cm_s``: velocities in cm/s, used as they are (values beyond VENC are reported: wrong units?);
  * ``radians``: phase in [-pi, pi], velocity = phase / pi * VENC;
  * ``raw12``: Siemens 12-bit phase, velocity = -VENC + 2 * VENC * raw / 4096 for raw in 0..4095.
    Converters that apply the DICOM rescale (slope 2, intercept -4096) write -4096..4094 instead; such
    values (any below 0, or any file converted by dcm2niix) are read as velocity = VENC * value / 4096.
The VENC is never in a NIfTI header: ``--venc``, else the Siemens sequence names of the sidecars.

RR interval: ``--rr`` when given; else ``RR <ms> ms`` in the sidecar's ImageComments (written by
``data.scanner.export_dicom``); else the number of frames times the frame interval of a 4-D header (time unit
ms or s), unless that interval is the sidecar's RepetitionTime (dcm2niix stores the TR there, not the
frame interval of a cine). A 3-D file, or a header without a time unit, needs ``--rr``.

Synthesised twins: a magnitude sidecar with ImageType ``DERIVED`` and a ``SYNTHETIC`` series description
or derivation (what dcm2niix keeps of ``data.scanner.export_dicom``'s twin, and what
``data.scanner.export_nifti`` writes for one) gives slices with ``synthesised_by``, as
``data.scanner.import_dicom`` does.

Slices: ``--slice_positions`` names each slice (basal/mid/apical); otherwise slice index 0 is the base
(``--order base_first``, the default) or the apex (``apex_first``) and positions go by thirds of the
stack. ``z_towards_apex`` (default +1) is the same for every slice. Without ``--myocardium`` the mask is
all zeros and the slices are marked ``mask_source = "none"``: segment before training.

The phase volumes are read as velocity in ``data.scanner.nifti_phase``, every volume checked against the
magnitude's layout in ``data.scanner.nifti_volumes``; this module assembles the subject and runs the command.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np

from data.mvm_io import MASK_FIELDS, SLICE_POSITIONS, SliceData, Subject, write_subject
from data.scanner import dicom_rules as rules
from data.scanner.export_nifti import export_nifti
from data.scanner.nifti_axes import (
    dicom_layout,
    frame_interval_ms,
    load_volume,
    pixel_spacing_mm,
    read_sidecar,
    sidecar_orientation,
    to_frames,
)
from data.scanner.nifti_phase import PHASE_UNITS, Log, finite_float, phase_to_velocity, read_velocity
from data.scanner.nifti_volumes import Layout, read_mask
from data.slice_order import positions_by_rank, slice_names
from util.cli import ToolParser, run_tool, say
from util.errors import DataError, OptionError

__all__ = ["PHASE_UNITS", "export_nifti", "import_exported", "import_nifti", "main", "phase_to_velocity"]

ORDERS = ("base_first", "apex_first")
RR_COMMENT = re.compile(r"\bRR\s*=?\s*(\d+(?:\.\d+)?)\s*ms\b", re.IGNORECASE)


def _check_options(
    venc: Sequence[float] | None, phase_units: str, rr: float | None, order: str, z_towards_apex: int
) -> None:
    v = np.asarray(venc if venc is not None else [1.0, 1.0, 1.0], dtype=np.float64)
    if v.shape != (3,) or not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise OptionError(f"--venc needs 3 positive numbers (x y z, cm/s), got {list(venc)}")
    if phase_units not in PHASE_UNITS:
        raise OptionError(f"phase_units must be one of {', '.join(PHASE_UNITS)}; got {phase_units!r}")
    if rr is not None and not (np.isfinite(rr) and rr > 0):
        raise OptionError(f"--rr must be a positive number of ms, got {rr}")
    if order not in ORDERS:
        raise OptionError(f"order must be base_first or apex_first; got {order!r}")
    if z_towards_apex not in (1, -1):
        raise OptionError(f"z_towards_apex must be 1 or -1; got {z_towards_apex}")


def _rr_interval(rr: float | None, img: nib.Nifti1Image, side: dict | None, path, n_frames: int) -> tuple[float, str]:
    """The RR interval in ms and where it came from (see the module docstring)."""
    if rr is not None:
        return float(rr), "--rr"
    match = RR_COMMENT.search(str((side or {}).get("ImageComments", "")))
    if match and float(match.group(1)) > 0:
        return float(match.group(1)), "JSON sidecar ImageComments"
    step = frame_interval_ms(img)
    if step is None:
        raise DataError(f"{path}: the header gives no frame interval (3-D file or no time unit); pass --rr MS")
    tr_ms = finite_float((side or {}).get("RepetitionTime"))
    if tr_ms is not None and abs(step - 1000.0 * tr_ms) <= 1e-3 * max(step, 1.0):
        raise DataError(
            f"{path}: the header's time step {step:g} ms is the repetition time (RepetitionTime of the JSON "
            "sidecar, as dcm2niix writes it), not the frame interval of the cine; pass --rr MS"
        )
    return step * n_frames, "header time step x frames"


def _positions(slice_positions: Sequence[str] | None, order: str, n_slices: int) -> list[str]:
    if slice_positions is None:
        positions = positions_by_rank(n_slices)
        return positions[::-1] if order == "apex_first" else positions
    positions = list(slice_positions)
    bad = [p for p in positions if p not in SLICE_POSITIONS]
    if len(positions) != n_slices or bad:
        raise OptionError(f"--slice_positions needs {n_slices} of {', '.join(SLICE_POSITIONS)}; got {positions}")
    return positions


def import_nifti(
    magnitude: str | Path,
    phase: Sequence[str | Path],
    venc: Sequence[float] | None = None,
    myocardium: str | Path | None = None,
    phase_units: str = "auto",
    rr: float | None = None,
    subject_id: str | None = None,
    slice_positions: Sequence[str] | None = None,
    order: str = "base_first",
    z_towards_apex: int = 1,
    lv_blood: str | Path | None = None,
    rv_blood: str | Path | None = None,
    log: Log = say,
    tissue: str | Path | None = None,
) -> Subject:
    """Read magnitude, three phase volumes (x, y, z) and optional masks into a ``Subject``.

    Raises:
        DataError: unreadable files, shape or orientation mismatches, phase values that do not fit
            ``phase_units``, an unknown RR interval.
        OptionError: invalid or missing VENC, invalid units, RR, order or positions.
    """
    _check_options(venc, phase_units, rr, order, z_towards_apex)
    if len(phase) != 3:
        raise OptionError(f"--phase needs 3 files (x y z), got {len(phase)}")
    mag_img = load_volume(magnitude, "magnitude")
    side = read_sidecar(magnitude)
    ornt, how = dicom_layout(mag_img, sidecar_orientation(side, str(magnitude)))
    mag = to_frames(mag_img, magnitude, "magnitude", ornt)
    layout = Layout(img=mag_img, ornt=ornt, shape=mag.shape)
    spacing = pixel_spacing_mm(mag_img, ornt)
    vel, vencs = read_velocity(phase, venc, phase_units, layout, spacing, log)
    masks = {
        name: read_mask(path, name, layout)
        for name, path in (
            ("myocardium", myocardium),
            ("lv_blood", lv_blood),
            ("rv_blood", rv_blood),
            ("tissue", tissue),
        )
    }
    rr_ms, rr_source = _rr_interval(rr, mag_img, side, magnitude, mag.shape[1])
    common = {
        "venc_cm_s": vencs,
        "pixel_spacing_mm": spacing,
        "rr_interval_ms": rr_ms,
        "z_towards_apex": z_towards_apex,
    }
    positions = _positions(slice_positions, order, mag.shape[0])
    made_by = _synthesised_by(side)
    slices = {}
    for i, (name, position) in enumerate(zip(slice_names(positions), positions, strict=True)):
        mask_i = {m: None if masks[m] is None else masks[m][i] for m in masks}
        slices[name] = _slice(name, position, mag[i], vel[i], mask_i, common, rr_source)
        if made_by:
            slices[name].attrs["synthesised_by"] = made_by
        log(f"{name}: {_describe(slices[name], rr_source)}, orientation: {how}" + _mask_note(mask_i["myocardium"]))
    sid = subject_id or Path(magnitude).name.split(".nii")[0]
    return Subject(subject_id=sid, slices=slices, attrs={"source": "nifti"})


def import_exported(prefix: str | Path, log: Log = say) -> Subject:
    """Every slice of the subject ``data.scanner.export_nifti`` wrote as ``prefix_<slice>_<field>.nii.gz``
    (``prefix``: ``OUT_DIR/<subject>``), with what its sidecars say: VENC, units, RR, slice names, order,
    positions and attributes."""
    prefix = Path(prefix)
    found = []
    for magnitude in sorted(prefix.parent.glob(f"{prefix.name}_*_magnitude.nii.gz")):
        meta = (read_sidecar(magnitude) or {}).get("HDLSlice")
        if not isinstance(meta, dict) or meta.get("subject_id") != prefix.name:
            continue  # another subject's whose name starts alike, or not written by export_nifti
        stem = magnitude.name[: -len("_magnitude.nii.gz")]
        files = {f: magnitude.with_name(f"{stem}_{f}.nii.gz") for f in ("vx", "vy", "vz", *MASK_FIELDS)}
        masks = {m: files[m] if files[m].is_file() else None for m in MASK_FIELDS}
        one = import_nifti(
            magnitude, [files["vx"], files["vy"], files["vz"]], rr=float(meta["rr_interval_ms"]),
            subject_id=prefix.name, slice_positions=[meta["slice_position"]],
            z_towards_apex=int(meta["z_towards_apex"]), log=log, **masks,
        )  # fmt: skip
        s = next(iter(one.slices.values()))
        rv = meta.get("rv_insertion_deg")
        attrs = {**s.attrs, **dict(meta.get("attrs") or {})}
        found.append((int(meta["index"]), replace(s, name=str(meta["name"]), rv_insertion_deg=rv, attrs=attrs), meta))
    if not found:
        raise DataError(
            f"{prefix}: no {prefix.name}_<slice>_magnitude.nii.gz with a sidecar of data.scanner.export_nifti; "
            "import other NIfTI files with --magnitude and --phase"
        )
    found.sort(key=lambda item: item[0])
    subject_attrs = {**dict(found[0][2].get("subject_attrs") or {}), "source": "nifti"}
    return Subject(prefix.name, {s.name: s for _, s, _ in found}, subject_attrs)


def _synthesised_by(side: dict | None) -> str | None:
    """The ``synthesised_by`` of a magnitude whose sidecar marks a synthesised twin (``data.scanner.export_dicom``
    through dcm2niix, or ``data.scanner.export_nifti``); None for acquired data or no sidecar."""
    if not side:
        return None
    texts = [side.get(k) for k in ("DerivationDescription", "ImageComments", "SeriesDescription")]
    return rules.synthetic_marking(side.get("ImageType"), *[str(t) for t in texts if t])


def _slice(
    name: str, position: str, mag: np.ndarray, vel: np.ndarray, masks: dict, common: dict, rr_source: str
) -> SliceData:
    """One imported slice; a missing myocardium becomes an all-zero mask (``mask_source`` "none")."""
    myo = masks["myocardium"]
    return SliceData(
        name=name,
        magnitude=mag.astype(np.float32),
        myocardium=myo if myo is not None else np.zeros(mag.shape, dtype=np.uint8),
        velocity=vel,
        slice_position=position,
        lv_blood=masks["lv_blood"],
        rv_blood=masks["rv_blood"],
        tissue=masks.get("tissue"),
        attrs={"mask_source": "nifti" if myo is not None else "none", "source": "nifti", "rr_source": rr_source},
        **common,
    )


def _describe(s: SliceData, rr_source: str) -> str:
    t, h, w = s.magnitude.shape
    spacing, vencs = s.pixel_spacing_mm, s.venc_cm_s
    return (
        f"{s.slice_position}, {t} frames of {h}x{w}, pixel {spacing[0]:.3g}x{spacing[1]:.3g} mm, VENC "
        f"{'/'.join(f'{v:g}' for v in vencs)} cm/s, RR {s.rr_interval_ms:.0f} ms ({rr_source})"
    )


def _mask_note(myo: np.ndarray | None) -> str:
    return "" if myo is not None else ", no myocardium mask"


def build_parser() -> ToolParser:
    p = ToolParser(
        prog="python -m data.scanner.import_nifti",
        description="Import 3Dir MVM NIfTI volumes into an .h5 subject file.",
    )
    p.add_argument("out", nargs="?", help="output subject file (.h5); may also come after --slice_positions' values")
    p.add_argument(
        "--magnitude",
        help="magnitude volume (x, y, slice, time) or (x, y, time) (required unless --exported; no default)",
    )
    p.add_argument(
        "--phase",
        nargs=3,
        metavar=("X", "Y", "Z"),
        help="phase volumes along x, y, z (required unless --exported; no default)",
    )
    p.add_argument(
        "--exported",
        metavar="PREFIX",
        help="instead of --magnitude and --phase: every slice data.scanner.export_nifti wrote as "
        "PREFIX_<slice>_<field>.nii.gz (PREFIX: OUT_DIR/<subject>), with its sidecars (default: none)",
    )
    p.add_argument(
        "--venc", type=float, nargs=3, metavar=("X", "Y", "Z"), help="VENC in cm/s (default: the JSON sidecars)"
    )
    p.add_argument("--myocardium", default=None, help="myocardium mask volume (0/1) (default: none, all-zero masks)")
    p.add_argument("--lv_blood", default=None, help="LV cavity mask volume (0/1) (default: none)")
    p.add_argument("--rv_blood", default=None, help="RV cavity mask volume (0/1) (default: none)")
    p.add_argument(
        "--phase_units", choices=PHASE_UNITS, default="auto", help="unit of the phase volumes (default: sidecars)"
    )
    p.add_argument("--rr", type=float, default=None, help="RR interval in ms (default: from the header)")
    p.add_argument("--subject", default=None, help="subject id (default: the magnitude file name)")
    p.add_argument(
        "--slice_positions",
        nargs="+",
        default=None,
        metavar="POSITION",
        help=f"position of each slice in file order, one of {', '.join(SLICE_POSITIONS)} "
        "(default: by thirds of the stack, base from --order)",
    )
    p.add_argument("--order", choices=ORDERS, default="base_first", help="is slice index 0 the base or the apex")
    p.add_argument("--z_towards_apex", type=int, choices=(1, -1), default=1, help="+1: positive vz towards the apex")
    return p


def output_and_positions(out: str | None, positions: Sequence[str] | None) -> tuple[str, list[str] | None]:
    """The output file and the slice positions of a command line where the output may follow the
    positions (``--slice_positions mid OUT.h5``: the last value that is no slice position is the output)."""
    values = None if positions is None else list(positions)
    if out is None and values and values[-1] not in SLICE_POSITIONS:
        out = values.pop()
    if out is None:
        raise OptionError("python -m data.scanner.import_nifti: the output subject file (.h5) is missing")
    if values is not None and not values:
        raise OptionError(f"--slice_positions needs one of {', '.join(SLICE_POSITIONS)} per slice; got none")
    bad = [v for v in values or [] if v not in SLICE_POSITIONS]
    if bad:
        raise OptionError(
            f"--slice_positions: {bad[0]!r} is not a slice position ({', '.join(SLICE_POSITIONS)}); "
            f"the output file is {out!r}"
        )
    return out, values


def _run(args: argparse.Namespace) -> None:
    out, positions = output_and_positions(args.out, args.slice_positions)
    if args.exported:
        if args.magnitude or args.phase:
            raise OptionError(
                "--exported reads the magnitude and phase files itself: leave out --magnitude and --phase"
            )
        subject = import_exported(args.exported)
        path = write_subject(out, subject)
        say(f"wrote {path}: subject {subject.subject_id!r}, {len(subject.slices)} slice(s)")
        return
    missing = [flag for flag, value in (("--magnitude", args.magnitude), ("--phase", args.phase)) if not value]
    if missing:
        raise OptionError(f"python -m data.scanner.import_nifti: {' and '.join(missing)} required (or --exported)")
    subject = import_nifti(
        args.magnitude,
        args.phase,
        args.venc,
        myocardium=args.myocardium,
        phase_units=args.phase_units,
        rr=args.rr,
        subject_id=args.subject,
        slice_positions=positions,
        order=args.order,
        z_towards_apex=args.z_towards_apex,
        lv_blood=args.lv_blood,
        rv_blood=args.rv_blood,
    )
    path = write_subject(out, subject)
    say(f"wrote {path}: subject {subject.subject_id!r}, {len(subject.slices)} slice(s)")


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(_run, build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
