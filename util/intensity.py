"""Magnitude normalisation, the one definition the datasets, models, metrics and figures share.

A slice's magnitude is divided by its scale (a high percentile of its frames) and clipped to [0, 1];
the networks see [-1, 1]. Metrics, the tissue mask and the figures work on the [0, 1] scale.
"""

from __future__ import annotations

import numpy as np

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


def normalise_magnitude(magnitude: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Scale a magnitude cine to [0, 1]: divide by the 99.5th percentile of ``reference``, clip.

    Args:
        magnitude: frames [..., H, W] of one slice (any real dtype).
        reference: the frames the percentile is taken from (default ``magnitude`` itself). Pass the key
            frames when only key frames are available at inference, so training and inference scale
            the same way.

    Returns:
        float32 array of the shape of ``magnitude``. A reference with no signal (percentile <= 0)
        leaves the values unscaled rather than dividing by zero.
    """
    return to_unit_range(magnitude, magnitude_scale(magnitude if reference is None else reference))
