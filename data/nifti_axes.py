"""The axis convention the NIfTI importer and exporter share, and safe reading of NIfTI volumes.

A cine slice is stored as a 4-D volume (x, y, slice, time): voxel axis i (x) is the image **column**,
axis j (y) the image **row**, axis k the slice and the fourth axis the frame, which is how NIfTI lays
out a time series. So ``frames[t] = volume[:, :, s, t].T`` is a ``[H, W]`` image in the project's
``[rows, cols]`` convention, vx is along +i and vy along +j. A 3-D volume (x, y, time) is accepted as a
single slice. Pixel spacing comes from the voxel sizes (mm; metres and microns are converted): the
project's ``pixel_spacing_mm`` is (row, column) = (size along j, size along i). The frame interval comes
from the fourth voxel size with the time unit of the header (ms or s); a 3-D file has none.
"""

from __future__ import annotations

import os
from pathlib import Path

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


def to_frames(img: nib.Nifti1Image, path: str | os.PathLike, what: str) -> np.ndarray:
    """Volume (x, y, slice, time) or (x, y, time) -> float array [slice, T, H, W]."""
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
    if not np.all(np.isfinite(data)):
        raise DataError(f"{path}: {what} has non-finite values (NaN or Inf)")
    return np.ascontiguousarray(data.transpose(2, 3, 1, 0))


def pixel_spacing_mm(img: nib.Nifti1Image) -> tuple[float, float]:
    """(row, column) spacing in mm from the voxel sizes along j and i."""
    zooms = img.header.get_zooms()
    scale = _SPACE_TO_MM.get(img.header.get_xyzt_units()[0], 1.0)
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
