"""The phase volumes of a NIfTI scan read as velocity in cm/s: their units (the option, else what the
JSON sidecar says), their VENC (the option, else the sidecars) and the conversion with its range checks.
The units are described in ``data.scanner.import_nifti``'s docstring."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from data.scanner import dicom_rules as rules
from data.scanner.dicom_vendor import raw_to_velocity, vendor_units
from data.scanner.nifti_axes import pixel_spacing_mm, read_sidecar
from data.scanner.nifti_volumes import Layout, read_frames
from util.cli import say
from util.errors import DataError, OptionError

PHASE_UNITS = ("auto", "cm_s", "radians", "raw12")
Log = Callable[[str], None]


def phase_to_velocity(
    phase: np.ndarray, venc: float, units: str, where: str, log: Log = say, rescaled: bool | None = None
) -> np.ndarray:
    """Convert a phase volume to cm/s by ``units`` (see the module docstring); check its range.

    ``rescaled`` (raw12 only): True when the values are known to be the DICOM-rescaled -4096..4094
    (dcm2niix), False when known to be stored 0..4095, None to decide from the values.
    """
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
    if lo >= 0 and hi < 4096 and not rescaled:
        return raw_to_velocity(np.clip(np.rint(phase), 0, 4095), venc)
    if lo >= -4096 and hi < 4096 and rescaled is not False:
        if not rescaled:
            log(f"note: {where}: negative 12-bit values: read as rescaled Siemens phase (-4096..4094)")
        return (venc * phase / 4096.0).astype(np.float32)
    raise DataError(f"{where}: values span {lo:g}..{hi:g}, not 12-bit phase (0..4095 or -4096..4094)")


def finite_float(value: object) -> float | None:
    """``value`` as a finite float (a sidecar's field), else None."""
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def file_phase_units(units: str, side: dict | None, where: str, log: Log) -> tuple[str, bool | None]:
    """(units, rescaled) of one phase file: the option, else what its sidecar says (see the docstring)."""
    if units != "auto":
        return units, None
    if side and side.get("PhaseUnits") in PHASE_UNITS[1:]:  # written by data.scanner.export_nifti
        return str(side["PhaseUnits"]), None
    if side:
        kind = rules.image_kind(side.get("ImageType"), None, None)[0]
        vendor = vendor_units(str(side.get("Manufacturer", "")))
        if kind == "phase" and vendor is not None:
            rescaled = (str(side.get("ConversionSoftware", "")).lower() == "dcm2niix") if vendor == "raw12" else None
            return vendor, rescaled
    log(f"note: {where}: no JSON sidecar says how the phase is stored: read as cm/s (see --phase_units)")
    return "cm_s", None


def phase_vencs(venc: Sequence[float] | None, sides: list[dict | None], paths: Sequence) -> np.ndarray:
    if venc is not None:
        return np.asarray(venc, dtype=np.float64)
    out = []
    for side, path in zip(sides, paths, strict=True):
        value = finite_float((side or {}).get("VENC_cm_s"))  # written by data.scanner.export_nifti
        if value is None or value <= 0:
            value = rules.sequence_name_encoding(str((side or {}).get("SequenceName", "")))[0]
        if value is None:
            raise OptionError(
                f"{path}: its VENC is unknown (no JSON sidecar with VENC_cm_s or a Siemens sequence name); pass --venc"
            )
        out.append(value)
    return np.asarray(out, dtype=np.float64)


def read_velocity(
    phase: Sequence[str | Path],
    venc: Sequence[float] | None,
    phase_units: str,
    layout: Layout,
    spacing: tuple[float, float],
    log: Log,
) -> tuple[np.ndarray, np.ndarray]:
    """Read the three phase volumes: (velocity [S, T, 3, H, W] in cm/s, VENC per component)."""
    sides = [read_sidecar(path) for path in phase]
    vencs = phase_vencs(venc, sides, phase)
    velocity = []
    for k, (path, side) in enumerate(zip(phase, sides, strict=True)):
        what = f"phase {'xyz'[k]}"
        img, data = read_frames(path, what, layout)
        if not np.allclose(pixel_spacing_mm(img, layout.ornt), spacing, rtol=1e-3):
            raise DataError(f"{path}: {what} has pixel size {pixel_spacing_mm(img)} mm, the magnitude {spacing} mm")
        units, rescaled = file_phase_units(phase_units, side, f"{path}", log)
        velocity.append(phase_to_velocity(data, float(vencs[k]), units, f"{path}", log, rescaled))
    return np.stack(velocity, axis=2), vencs
