"""The axis convention the NIfTI importer and exporter share, and safe reading of NIfTI volumes.

A cine slice is stored as a 4-D volume (x, y, slice, time): voxel axis i (x) is the image **column**,
axis j (y) the image **row**, axis k the slice and the fourth axis the frame, which is how NIfTI lays
out a time series. So ``frames[t] = volume[:, :, s, t].T`` is a ``[H, W]`` image in the project's
``[rows, cols]`` convention, vx is along +i and vy along +j. A 3-D volume (x, y, time) is accepted as a
single slice. Pixel spacing comes from the voxel sizes (mm; metres and microns are converted): the
project's ``pixel_spacing_mm`` is (row, column) = (size along j, size along i). The frame interval comes
from the fourth voxel size with the time unit of the header (ms or s); a 3-D file has none.

Orientation (``dicom_layout``). The affine says where each voxel axis points; the project's images are
in the DICOM layout, columns along the row cosine r and rows along the column cosine c of
ImageOrientationPatient (so that vx, vy, vz are along r, c and r x c, as the scanner encoded them).
Converters do not keep that layout: dcm2niix flips the row order (its affine then has a left-handed
voxel frame). The importer therefore puts the voxels back in the DICOM layout before reading frames:
  * with the DICOM orientation (``ImageOrientationPatientDICOM`` of dcm2niix's JSON sidecar): each of
    r and c is matched to the in-plane voxel axis closest to it, which is flipped when it points the
    other way (and i and j are swapped when i is along c);
  * without it: a left-handed voxel frame (determinant of the affine < 0) is taken to be a DICOM image
    whose rows were flipped, as dcm2niix writes it, and the rows are flipped back; a right-handed one
    (e.g. ``data.scanner.export_nifti``'s) is already in the DICOM layout.
The slice axis is left as it is. Phase values are not changed: they are velocities along the DICOM
image axes, which the reorientation restores.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from util.errors import DataError

_SPACE_TO_MM = {"mm": 1.0, "meter": 1000.0, "micron": 0.001, "unknown": 1.0}
_TIME_TO_MS = {"msec": 1.0, "sec": 1000.0, "usec": 0.001}


def load_volume(path: str | os.PathLike, what: str) -> nib.Nifti1Image:
    """Load a NIfTI image, turning every failure into a ``DataError`` naming the file and its role."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {what} file not found")
    try:
        img = nib.load(str(path))
        img.get_data_dtype()
    except Exception as exc:  # nibabel raises many types for foreign or truncated files
        raise DataError(f"{path}: not a readable NIfTI {what} image ({type(exc).__name__}: {exc})") from exc
    if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
        raise DataError(f"{path}: {what} is a {type(img).__name__}, not a NIfTI image")
    return img


IDENTITY = np.array([[0, 1], [1, 1], [2, 1]])
_LPS = np.diag([-1.0, -1.0, 1.0])  # NIfTI world coordinates are RAS, DICOM's are LPS


def sidecar_path(path: str | os.PathLike) -> Path:
    """The JSON sidecar a converter writes beside a NIfTI file (``x.nii.gz`` -> ``x.json``)."""
    path = Path(path)
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            return path.with_name(name[: -len(suffix)] + ".json")
    return path.with_suffix(".json")


def read_sidecar(path: str | os.PathLike) -> dict[str, Any] | None:
    """The JSON sidecar of a NIfTI file (dcm2niix's BIDS fields); None when there is none."""
    side = sidecar_path(path)
    if not side.is_file():
        return None
    try:
        data = json.loads(side.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{side}: JSON sidecar cannot be read ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, dict):
        raise DataError(f"{side}: JSON sidecar is not an object")
    return data


def sidecar_orientation(side: dict[str, Any] | None, where: str) -> np.ndarray | None:
    """``ImageOrientationPatientDICOM`` of a sidecar as 6 floats (row cosine, column cosine), if present."""
    if not side or "ImageOrientationPatientDICOM" not in side:
        return None
    try:
        iop = np.asarray(side["ImageOrientationPatientDICOM"], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        iop = np.zeros(0)
    if iop.shape != (6,) or not np.all(np.isfinite(iop)) or min(np.linalg.norm(iop[:3]), np.linalg.norm(iop[3:])) < 0.5:
        raise DataError(
            f"{where}: ImageOrientationPatientDICOM is not 6 direction cosines: {iop.tolist()}"
        )
    return iop


def dicom_layout(img: nib.Nifti1Image, iop: np.ndarray | None) -> tuple[np.ndarray, str]:
    """The nibabel orientation (``nib.orientations`` array) that puts the in-plane voxel axes in the DICOM
    layout (see the module docstring), and how it was decided."""
    axes = _LPS @ np.asarray(img.affine, dtype=np.float64)[:3, :3]
    norms = np.linalg.norm(axes, axis=0)
    if not np.all(np.isfinite(axes)) or np.any(norms == 0):
        return IDENTITY.copy(), "affine unusable: voxel axes kept"
    units = axes / norms
    if iop is None:
        if np.linalg.det(units) < 0:
            return np.array([[0, 1], [1, -1], [2, 1]]), "left-handed affine: rows flipped back (DICOM layout)"
        return IDENTITY.copy(), "right-handed affine: voxel axes kept"
    row, col = iop[:3] / np.linalg.norm(iop[:3]), iop[3:] / np.linalg.norm(iop[3:])
    dots = units[:, :2].T @ np.stack([row, col], axis=1)  # [voxel axis i/j, (r, c)]
    swap = abs(dots[1, 0]) > abs(dots[0, 0])
    ornt = IDENTITY.copy()
    for axis in (0, 1):
        target = (1 - axis) if swap else axis
        ornt[axis] = [target, 1 if dots[axis, target] >= 0 else -1]
    return ornt, "DICOM orientation of the JSON sidecar"


def to_frames(img: nib.Nifti1Image, path: str | os.PathLike, what: str, ornt: np.ndarray | None = None) -> np.ndarray:
    """Volume (x, y, slice, time) or (x, y, time) -> float array [slice, T, H, W], reoriented by ``ornt``."""
    try:
        data = np.asarray(img.dataobj, dtype=np.float64)
    except Exception as exc:
        raise DataError(f"{path}: the {what} data cannot be read ({type(exc).__name__}: {exc})") from exc
    if data.ndim == 5 and data.shape[3] == 1:  # (x, y, z, 1, t) written by some converters
        data = data[:, :, :, 0, :]
    if data.ndim == 3:
        data = data[:, :, None, :]
    if data.ndim != 4:
        raise DataError(f"{path}: {what} has shape {data.shape}; expected (x, y, slice, time) or (x, y, time)")
    if ornt is not None:
        data = nib.orientations.apply_orientation(data, ornt)
    if not np.all(np.isfinite(data)):
        raise DataError(f"{path}: {what} has non-finite values (NaN or Inf)")
    return np.ascontiguousarray(data.transpose(2, 3, 1, 0))


def pixel_spacing_mm(img: nib.Nifti1Image, ornt: np.ndarray | None = None) -> tuple[float, float]:
    """(row, column) spacing in mm from the voxel sizes along j and i (after ``ornt``)."""
    zooms = img.header.get_zooms()
    scale = _SPACE_TO_MM.get(img.header.get_xyzt_units()[0], 1.0)
    if ornt is not None and int(ornt[0][0]) == 1:  # i and j swapped
        zooms = (zooms[1], zooms[0], *zooms[2:])
    return float(zooms[1]) * scale, float(zooms[0]) * scale


def frame_interval_ms(img: nib.Nifti1Image) -> float | None:
    """The time between frames of a 4-D image in ms; None when the header does not say."""
    zooms = img.header.get_zooms()
    unit = img.header.get_xyzt_units()[1]
    if len(zooms) < 4 or unit not in _TIME_TO_MS or not zooms[3] > 0:
        return None
    return float(zooms[3]) * _TIME_TO_MS[unit]


def from_frames(frames: np.ndarray, spacing_mm: tuple[float, float], frame_ms: float, dtype: type) -> nib.Nifti1Image:
    """[T, H, W] -> a 4-D image (x, y, 1, time) with voxel sizes in mm and the frame interval in ms."""
    data = np.asarray(frames).transpose(2, 1, 0)[:, :, None, :].astype(dtype)
    dy, dx = spacing_mm
    img = nib.Nifti1Image(np.ascontiguousarray(data), affine=np.diag([dx, dy, 1.0, 1.0]))
    img.header.set_zooms((dx, dy, 1.0, frame_ms))
    img.header.set_xyzt_units("mm", "msec")
    return img
