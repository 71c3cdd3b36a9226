"""Array transforms used by the datasets: cropping around the heart, and physically correct flips /
rotations (the in-plane velocity vector turns with the image).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from data.mvm_io import SliceData
from util.errors import DataError


def crop_box(myocardium: np.ndarray, size: int, where: str) -> tuple[int, int]:
    """Top-left corner of a ``size`` x ``size`` crop centred on the myocardium (union over frames).

    The box is shifted to stay inside the image, so the heart is off-centre rather than padded.
    """
    h, w = myocardium.shape[-2:]
    if size > h or size > w:
        raise DataError(f"{where}: --crop_size {size} is larger than the image ({h}x{w})")
    union = myocardium.reshape(-1, h, w).any(axis=0)
    if union.any():
        rows, cols = np.nonzero(union)
        cr, cc = round(rows.mean()), round(cols.mean())
    else:
        cr, cc = h // 2, w // 2
    r0 = min(max(cr - size // 2, 0), h - size)
    c0 = min(max(cc - size // 2, 0), w - size)
    return r0, c0


def crop_slice(s: SliceData, keys: list[int], size: int, where: str) -> tuple[SliceData, list[int] | None]:
    """``s`` cropped to ``size`` x ``size`` around the myocardium of its key frames (``size`` 0: unchanged).

    Only the key frames' masks are used to place the window: they are all that inference would know.
    """
    if not size:
        return s, None
    r0, c0 = crop_box(s.myocardium[keys], size, where)
    window = (..., slice(r0, r0 + size), slice(c0, c0 + size))
    arrays = {
        name: getattr(s, name)[window]
        for name in ("magnitude", "myocardium", "velocity", "velocity_true", "lv_blood", "rv_blood", "tissue")
        if getattr(s, name) is not None
    }
    return replace(s, **arrays), [r0, c0, size, size]


def window_centre(window: int) -> int:
    """Where frame t sits in a stack of ``window`` frames centred on it (t-1, t, t+1: 1; t-2 .. t+2: 2)."""
    return int(window) // 2


def neighbour_indices(frames: np.ndarray | int, n_frames: int, window: int = 3) -> np.ndarray:
    """Indices of the ``window`` frames centred on each frame t of a cycle of ``n_frames`` (cyclic):
    [..., window], e.g. t-1, t, t+1 for a window of 3.

    Stage 2 synthesises frame t from this stack, in training (the dataset) and at inference.
    """
    if window < 1 or window % 2 == 0:
        raise DataError(f"the temporal window must be an odd number of frames >= 1, got {window}")
    t = np.asarray(frames)
    offsets = np.arange(window) - window_centre(window)
    return (t[..., None] + offsets) % n_frames


def random_dihedral(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[int, bool]:
    """A random element of the dihedral group of the square for ``dihedral``: quarter turns and a mirror.

    A non-square image only gets half turns, which keep its shape. Draws two integers from ``rng``.
    """
    k_rot = int(rng.integers(4)) if shape[-1] == shape[-2] else 2 * int(rng.integers(2))
    return k_rot, bool(rng.integers(2))


def dihedral(image: np.ndarray, k_rot: int, flip: bool) -> np.ndarray:
    """Rotate ``image`` [..., H, W] by ``k_rot`` quarter turns counter-clockwise (as displayed), then
    mirror left-right if ``flip``. Exact: no interpolation."""
    out = np.rot90(image, k=k_rot, axes=(-2, -1))
    if flip:
        out = out[..., ::-1]
    return np.ascontiguousarray(out)


def dihedral_velocity(velocity: np.ndarray, k_rot: int, flip: bool) -> np.ndarray:
    """Apply ``dihedral`` to a velocity field [..., 3, H, W] and turn the in-plane vector with it.

    A counter-clockwise quarter turn (as displayed, rows pointing down) maps a vector (vx, vy) to
    (vy, -vx); a left-right mirror maps vx to -vx. vz is a scalar under in-plane motions.
    """
    out = dihedral(velocity, k_rot, flip).copy()
    vx, vy = out[..., 0, :, :].copy(), out[..., 1, :, :].copy()
    for _ in range(k_rot % 4):
        vx, vy = vy, -vx
    if flip:
        vx = -vx
    out[..., 0, :, :], out[..., 1, :, :] = vx, vy
    return out
