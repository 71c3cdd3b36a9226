"""Import a 3Dir MVM scan stored as NIfTI volumes into the canonical subject file.

    python -m data.import_nifti --magnitude M.nii.gz --phase X.nii.gz Y.nii.gz Z.nii.gz --venc X Y Z OUT.h5
        [--myocardium MASK.nii.gz] [--lv_blood M] [--rv_blood M] [--phase_units raw12|radians|cm_s]
        [--rr MS] [--subject ID] [--slice_positions P ...] [--order base_first|apex_first]
        [--z_towards_apex 1|-1]

Axes (``data.nifti_axes``): 4-D volumes (x, y, slice, time) or 3-D single-slice volumes (x, y, time);
x is the image column, y the row. All volumes must have the same shape.

Phase units (``--phase_units``, default cm_s):
  * ``cm_s``: velocities in cm/s, used as they are (values beyond VENC are reported: wrong units?);
  * ``radians``: phase in [-pi, pi], velocity = phase / pi * VENC;
  * ``raw12``: Siemens 12-bit phase, velocity = -VENC + 2 * VENC * raw / 4096 for raw in 0..4095.
    Converters that apply the DICOM rescale (slope 2, intercept -4096) write -4096..4094 instead; such
    values (any below 0) are read as velocity = VENC * value / 4096.
The VENC is never in a NIfTI header, so it is required.

RR interval: ``--rr`` when given, else the number of frames times the frame interval of a 4-D header
(time unit ms or s); a 3-D file, or a header without a time unit, needs ``--rr``.

Slices: ``--slice_positions`` names each slice (basal/mid/apical); otherwise slice index 0 is the base
(``--order base_first``, the default) or the apex (``apex_first``) and positions go by thirds of the
stack. ``z_towards_apex`` (default +1) is the same for every slice. Without ``--myocardium`` the mask is
all zeros and the slices are marked ``mask_source = "none"``: segment before training.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from data.dicom_vendor import raw_to_velocity
from data.export_nifti import export_nifti
from data.mvm_io import SLICE_POSITIONS, SliceData, Subject, write_subject
from data.nifti_axes import frame_interval_ms, load_volume, pixel_spacing_mm, to_frames
from data.slice_order import positions_by_rank, slice_names
from util.cli import ToolParser, run_tool, say
from util.errors import DataError, OptionError

__all__ = ["PHASE_UNITS", "export_nifti", "import_nifti", "main", "phase_to_velocity"]

PHASE_UNITS = ("cm_s", "radians", "raw12")
ORDERS = ("base_first", "apex_first")
Log = Callable[[str], None]


def phase_to_velocity(phase: np.ndarray, venc: float, units: str, where: str, log: Log = say) -> np.ndarray:
    """Convert a phase volume to cm/s by ``units`` (see the module docstring); check its range."""
    if units == "cm_s":
        over = int(np.count_nonzero(np.abs(phase) > venc * 1.001))
        if over:
            log(f"warning: {where}: {over} values exceed VENC {venc:g} cm/s (are these cm/s? see --phase_units)")
        return phase.astype(np.float32)
    if units == "radians":
        if np.abs(phase).max(initial=0) > np.pi * 1.001:
            raise DataError(
                f"{where}: phase spans {phase.min():.3g}..{phase.max():.3g}, outside [-pi, pi]: "
                "not radians (see --phase_units)"
            )
        return (phase / np.pi * venc).astype(np.float32)
    lo, hi = float(phase.min(initial=0)), float(phase.max(initial=0))
    if lo >= 0 and hi < 4096:
        return raw_to_velocity(np.clip(np.rint(phase), 0, 4095), venc)
    if lo >= -4096 and hi < 4096:
        log(f"note: {where}: negative 12-bit values: read as rescaled Siemens phase (-4096..4094)")
        return (venc * phase / 4096.0).astype(np.float32)
    raise DataError(f"{where}: values span {lo:g}..{hi:g}, not 12-bit phase (0..4095 or -4096..4094)")


def _mask(path: str | Path | None, shape: tuple[int, ...], what: str) -> np.ndarray | None:
    if path is None:
        return None
    img = load_volume(path, what)
    data = to_frames(img, path, what)
    if data.shape != shape:
        raise DataError(f"{path}: {what} has {_shape_text(data.shape)}, the magnitude has {_shape_text(shape)}")
    if not np.all((data == 0) | (data == 1)):
        raise DataError(f"{path}: {what} is not a binary mask (values {np.unique(data)[:6].tolist()}...)")
    return data.astype(np.uint8)


def _shape_text(shape: Sequence[int]) -> str:
    s, t, h, w = shape
    return f"{s} slice(s) of {t} frames of {h}x{w} (x={w}, y={h})"


def _check_options(venc: Sequence[float], phase_units: str, rr: float | None, order: str, z_towards_apex: int) -> None:
    v = np.asarray(venc, dtype=np.float64)
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


def import_nifti(
    magnitude: str | Path,
    phase: Sequence[str | Path],
    venc: Sequence[float],
    myocardium: str | Path | None = None,
    phase_units: str = "cm_s",
    rr: float | None = None,
    subject_id: str | None = None,
    slice_positions: Sequence[str] | None = None,
    order: str = "base_first",
    z_towards_apex: int = 1,
    lv_blood: str | Path | None = None,
    rv_blood: str | Path | None = None,
    log: Log = say,
) -> Subject:
    """Read magnitude, three phase volumes (x, y, z) and optional masks into a ``Subject``.

    Raises:
        DataError: unreadable files, shape mismatches, phase values that do not fit ``phase_units``,
            an unknown RR interval.
        OptionError: invalid VENC, units, RR, order or positions.
    """
    _check_options(venc, phase_units, rr, order, z_towards_apex)
    if len(phase) != 3:
        raise OptionError(f"--phase needs 3 files (x y z), got {len(phase)}")
    mag_img = load_volume(magnitude, "magnitude")
    mag = to_frames(mag_img, magnitude, "magnitude")
    spacing = pixel_spacing_mm(mag_img)
    velocity = []
    for k, path in enumerate(phase):
        what = f"phase {'xyz'[k]}"
        img = load_volume(path, what)
        data = to_frames(img, path, what)
        if data.shape != mag.shape:
            raise DataError(f"{path}: {what} has {_shape_text(data.shape)}, the magnitude has {_shape_text(mag.shape)}")
        if not np.allclose(pixel_spacing_mm(img), spacing, rtol=1e-3):
            raise DataError(f"{path}: {what} has pixel size {pixel_spacing_mm(img)} mm, the magnitude {spacing} mm")
        velocity.append(phase_to_velocity(data, float(venc[k]), phase_units, f"{path}", log))
    vel = np.stack(velocity, axis=2)  # [S, T, 3, H, W]
    masks = {
        name: _mask(path, mag.shape, name)
        for name, path in (("myocardium", myocardium), ("lv_blood", lv_blood), ("rv_blood", rv_blood))
    }
    n_slices, n_frames = mag.shape[:2]
    if rr is None:
        step = frame_interval_ms(mag_img)
        if step is None:
            raise DataError(f"{magnitude}: the header gives no frame interval (3-D file or no time unit); pass --rr MS")
        rr = step * n_frames
    if slice_positions is None:
        positions = positions_by_rank(n_slices)
        if order == "apex_first":
            positions = positions[::-1]
    else:
        positions = list(slice_positions)
        bad = [p for p in positions if p not in SLICE_POSITIONS]
        if len(positions) != n_slices or bad:
            raise OptionError(f"--slice_positions needs {n_slices} of {', '.join(SLICE_POSITIONS)}; got {positions}")
    slices = {}
    for i, (name, position) in enumerate(zip(slice_names(positions), positions, strict=True)):
        myo = masks["myocardium"]
        slices[name] = SliceData(
            name=name,
            magnitude=mag[i].astype(np.float32),
            myocardium=myo[i] if myo is not None else np.zeros(mag.shape[1:], dtype=np.uint8),
            velocity=vel[i],
            venc_cm_s=np.asarray(venc, dtype=np.float64),
            pixel_spacing_mm=spacing,
            rr_interval_ms=float(rr),
            slice_position=position,
            z_towards_apex=z_towards_apex,
            lv_blood=None if masks["lv_blood"] is None else masks["lv_blood"][i],
            rv_blood=None if masks["rv_blood"] is None else masks["rv_blood"][i],
            attrs={"mask_source": "nifti" if myo is not None else "none", "source": "nifti"},
        )
        log(
            f"{name}: {position}, {n_frames} frames of {mag.shape[2]}x{mag.shape[3]}, pixel {spacing[0]:.3g}x"
            f"{spacing[1]:.3g} mm, VENC {'/'.join(f'{v:g}' for v in venc)} cm/s, RR {rr:.0f} ms"
            + ("" if myo is not None else ", no myocardium mask")
        )
    sid = subject_id or Path(magnitude).name.split(".nii")[0]
    return Subject(subject_id=sid, slices=slices, attrs={"source": "nifti"})


def build_parser() -> ToolParser:
    p = ToolParser(
        prog="python -m data.import_nifti", description="Import 3Dir MVM NIfTI volumes into an .h5 subject file."
    )
    p.add_argument("out", help="output subject file (.h5)")
    p.add_argument("--magnitude", required=True, help="magnitude volume (x, y, slice, time) or (x, y, time)")
    p.add_argument("--phase", required=True, nargs=3, metavar=("X", "Y", "Z"), help="phase volumes along x, y, z")
    p.add_argument("--venc", required=True, type=float, nargs=3, metavar=("X", "Y", "Z"), help="VENC in cm/s")
    p.add_argument("--myocardium", default=None, help="myocardium mask volume (0/1)")
    p.add_argument("--lv_blood", default=None, help="LV cavity mask volume (0/1)")
    p.add_argument("--rv_blood", default=None, help="RV cavity mask volume (0/1)")
    p.add_argument("--phase_units", choices=PHASE_UNITS, default="cm_s", help="unit of the phase volumes")
    p.add_argument("--rr", type=float, default=None, help="RR interval in ms (default: from the header)")
    p.add_argument("--subject", default=None, help="subject id (default: the magnitude file name)")
    p.add_argument("--slice_positions", nargs="+", choices=SLICE_POSITIONS, default=None, help="position of each slice")
    p.add_argument("--order", choices=ORDERS, default="base_first", help="is slice index 0 the base or the apex")
    p.add_argument("--z_towards_apex", type=int, choices=(1, -1), default=1, help="+1: positive vz towards the apex")
    return p


def _run(args: argparse.Namespace) -> None:
    subject = import_nifti(
        args.magnitude,
        args.phase,
        args.venc,
        myocardium=args.myocardium,
        phase_units=args.phase_units,
        rr=args.rr,
        subject_id=args.subject,
        slice_positions=args.slice_positions,
        order=args.order,
        z_towards_apex=args.z_towards_apex,
        lv_blood=args.lv_blood,
        rv_blood=args.rv_blood,
    )
    path = write_subject(args.out, subject)
    say(f"wrote {path}: subject {subject.subject_id!r}, {len(subject.slices)} slice(s)")


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(_run, build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
