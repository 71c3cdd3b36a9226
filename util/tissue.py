"""Tissue foreground from a magnitude image.

In velocity mapping only pixels with tissue signal carry a meaningful phase; everywhere else (air,
lung, black blood) the phase is uniform noise. The phase-synthesis stage therefore generates velocities
on a *tissue foreground* and fills the rest from the noise model, and it must find that foreground from
the magnitude alone, identically in training and at inference: ``tissue_mask_from_magnitude`` is that
single definition.

Rule (per frame, on a magnitude already normalised to [0, 1] by ``util.intensity.normalise_magnitude``):

1. Gaussian smoothing (sigma 1 pixel): averages the Rician noise so the threshold separates tissue from
   noise rather than noisy pixels from each other;
2. Otsu threshold of the smoothed frame (128 bins over [0, 1]), computed for all frames at once. With
   black-blood contrast the histogram is bimodal: a no-signal mode near the Rician noise floor (air,
   lung, blood) and a tissue mode. The threshold is bounded to [0.08, 0.35] so that an unusual frame
   (almost all tissue, or almost none) cannot push it into the middle of one mode;
3. removal of connected components smaller than ``H * W / 1024`` pixels (noise specks);
4. filling of holes smaller than ``H * W / 1024`` pixels. Larger holes are kept on purpose: the LV and RV
   cavities are holes in the tissue and must stay background.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

_BINS = 128
_THRESHOLD_RANGE = (0.08, 0.35)
_SMOOTH_SIGMA = 1.0
# 2D connectivity inside each frame, none across frames (frames are independent images).
_FRAME_STRUCTURE = np.zeros((3, 3, 3), dtype=bool)
_FRAME_STRUCTURE[1] = ndimage.generate_binary_structure(2, 1)


def _otsu_per_frame(frames: np.ndarray) -> np.ndarray:
    """Otsu threshold of each frame of [T, H, W] values in [0, 1], vectorised over frames."""
    t = frames.shape[0]
    idx = np.clip((frames.reshape(t, -1) * _BINS).astype(np.int64), 0, _BINS - 1)
    idx += np.arange(t)[:, None] * _BINS
    hist = np.bincount(idx.ravel(), minlength=t * _BINS).reshape(t, _BINS).astype(np.float64)
    centres = (np.arange(_BINS) + 0.5) / _BINS
    w0 = np.cumsum(hist, axis=1)
    m0 = np.cumsum(hist * centres, axis=1)
    total, mean_total = w0[:, -1:], m0[:, -1:]
    w1 = total - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean_total * w0 - m0 * total) ** 2 / (w0 * w1)
    between = np.where((w0 > 0) & (w1 > 0), between, -1.0)
    # Threshold at the upper edge of the best split bin.
    return (np.argmax(between, axis=1) + 1) / _BINS


def _sizes_by_label(labels: np.ndarray, count: int) -> np.ndarray:
    return np.bincount(labels.ravel(), minlength=count + 1)


def tissue_mask_from_magnitude(magnitude01: np.ndarray) -> np.ndarray:
    """Boolean tissue foreground of a [0, 1]-normalised magnitude frame [H, W] or frames [T, H, W].

    See the module docstring for the rule. Frames are processed independently (vectorised).
    """
    arr = np.asarray(magnitude01, dtype=np.float32)
    if arr.ndim not in (2, 3):
        raise ValueError(f"expected a magnitude frame [H, W] or frames [T, H, W], got shape {arr.shape}")
    single = arr.ndim == 2
    frames = arr[None] if single else arr
    h, w = frames.shape[-2:]
    smooth = ndimage.gaussian_filter(frames, sigma=(0.0, _SMOOTH_SIGMA, _SMOOTH_SIGMA), truncate=2.0)
    threshold = np.clip(_otsu_per_frame(smooth), *_THRESHOLD_RANGE)
    mask = smooth > threshold[:, None, None]
    min_area = max(2, (h * w) // 1024)
    labels, count = ndimage.label(mask, structure=_FRAME_STRUCTURE)
    sizes = _sizes_by_label(labels, count)
    keep = sizes >= min_area
    keep[0] = False
    mask = keep[labels]
    labels, count = ndimage.label(~mask, structure=_FRAME_STRUCTURE)
    sizes = _sizes_by_label(labels, count)
    small_hole = sizes < min_area
    small_hole[0] = False
    mask |= small_hole[labels]
    return mask[0] if single else mask
