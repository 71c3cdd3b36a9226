"""Names and constants that every layer shares, so that a column, a plot title and a metric agree.

Velocity directions: ``vx`` along image columns, ``vy`` along image rows, ``vz`` through the plane (see
docs/CONVENTIONS.md). Velocities enter the networks and the image metrics in units of VENC, so their
data range is 2 (from -1 to 1). A mask probability counts as myocardium above ``MASK_THRESHOLD``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DIRECTIONS: tuple[str, str, str] = ("vx", "vy", "vz")
#: velocity / VENC spans [-1, 1]
VELOCITY_DATA_RANGE = 2.0
#: a pixel belongs to a mask when its probability (or a blended mask value) exceeds this
MASK_THRESHOLD = 0.5
#: a twin slice's attribute: how far stage 2 moved it from the prior it refines, mean |twin - prior| over
#: the myocardium (cm/s); the chain's ``correction_myo_cm_s`` column
CORRECTION_ATTR = "stage2_correction_cm_s"


def venc_scale(venc: Sequence[float] | np.ndarray, ndim: int = 4, dtype: np.dtype | type | None = None) -> np.ndarray:
    """The three VENCs shaped to scale velocity maps of ``ndim`` axes, whose direction axis is the third from
    last: ``[T, 3, H, W]`` (4, the default) or ``[3, H, W]`` (3). ``velocity / venc_scale(venc)`` is in units
    of VENC, ``unit * venc_scale(venc)`` in cm/s; ``dtype`` as ``np.asarray`` takes it (None: keep)."""
    return np.asarray(venc, dtype=dtype).reshape((1,) * (ndim - 3) + (3, 1, 1))
