"""The volumes of a NIfTI scan beside its magnitude: each must match the magnitude's shape, orientation
and voxel size (``Layout``), and masks must be binary; the messages say which file and how it differs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from data.scanner.nifti_axes import load_volume, to_frames
from util.errors import DataError


@dataclass
class Layout:
    """The reference every volume must match: the magnitude's image, its reorientation and frame shape."""

    img: nib.Nifti1Image
    ornt: np.ndarray
    shape: tuple[int, ...]


def _shape_text(shape: Sequence[int]) -> str:
    s, t, h, w = shape
    return f"{s} slice(s) of {t} frames of {h}x{w} (x={w}, y={h})"


def affine_mismatch(reference: np.ndarray, other: np.ndarray, single_slice: bool) -> str | None:
    """Where the voxel axes of two affines differ (None: they agree within 0.1 % of the largest voxel
    size). A single-slice volume (or a 3-D one, whose third axis is time) has no through-plane spacing,
    so converters fill its third column with the slice thickness, 1 or anything: only the in-plane
    columns are compared then."""
    ref, own = np.asarray(reference, dtype=np.float64)[:3, :3], np.asarray(other, dtype=np.float64)[:3, :3]
    columns = (0, 1) if single_slice else (0, 1, 2)
    tol = 1e-3 * max(float(np.abs(ref[:, list(columns)]).max()), 1e-6)
    for j in columns:
        if not np.allclose(own[:, j], ref[:, j], rtol=1e-3, atol=tol):
            axis = "ijk"[j]
            return (
                f"voxel axis {axis} is {np.round(own[:, j], 4).tolist()} mm, "
                f"the magnitude's {np.round(ref[:, j], 4).tolist()} mm (RAS)"
            )
    return None


def read_frames(path: str | Path, what: str, layout: Layout) -> tuple[nib.Nifti1Image, np.ndarray]:
    """Load a volume that must match ``layout`` in shape and orientation: (image, frames [S, T, H, W])."""
    img = load_volume(path, what)
    data = to_frames(img, path, what, layout.ornt)
    if data.shape != layout.shape:
        raise DataError(f"{path}: {what} has {_shape_text(data.shape)}, the magnitude has {_shape_text(layout.shape)}")
    problem = affine_mismatch(layout.img.affine, img.affine, single_slice=layout.shape[0] == 1)
    if problem:
        raise DataError(
            f"{path}: {what} has another orientation or voxel size than the magnitude "
            f"(axes {''.join(nib.aff2axcodes(img.affine))} vs {''.join(nib.aff2axcodes(layout.img.affine))}: {problem})"
        )
    return img, data


def read_mask(path: str | Path | None, what: str, layout: Layout) -> np.ndarray | None:
    """A 0/1 mask volume matching the magnitude, as uint8 [S, T, H, W]; None when ``path`` is None."""
    if path is None:
        return None
    _, data = read_frames(path, what, layout)
    if not np.all((data == 0) | (data == 1)):
        raise DataError(f"{path}: {what} is not a binary mask (values {np.unique(data)[:6].tolist()}...)")
    return data.astype(np.uint8)
