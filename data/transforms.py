"""Array transforms used by the datasets: magnitude scaling, cropping around the heart, and
physically correct flips / rotations (the in-plane velocity vector turns with the image).
"""

from __future__ import annotations

import numpy as np

from util.errors import DataError

MAGNITUDE_PERCENTILE = 99.5


def magnitude_scale(magnitude: np.ndarray) -> float:
    """The per-slice magnitude scale: the 99.5th percentile of the frames given.

    A percentile rather than the maximum keeps a few hot pixels (fat, flow artefacts) from darkening the
    whole cine; computed over the frames present, so key-frame-only input is scaled by its key frames.
    """
    scale = float(np.percentile(magnitude, MAGNITUDE_PERCENTILE))
    return scale if scale > 0 else 1.0


def to_unit_range(magnitude: np.ndarray, scale: float) -> np.ndarray:
    """Magnitude / scale clipped to [0, 1] (float32): the scale metrics and the tissue mask use."""
    return np.clip(np.asarray(magnitude, dtype=np.float32) / np.float32(scale), 0.0, 1.0)


def to_network_range(unit: np.ndarray) -> np.ndarray:
    """[0, 1] -> [-1, 1], the range the networks see."""
    return unit * 2.0 - 1.0


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
