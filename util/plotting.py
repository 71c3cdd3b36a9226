"""Figures without a display: matplotlib's headless backend, the velocity colour map and display ranges.

Importing this module selects matplotlib's Agg backend before pyplot is loaded, so figures render on
machines without a display (clusters, CI) and never open a window. The data layer's subject figure and
the report's figures share it; the report's own look (method colours) is ``assessment.report.style``.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

VELOCITY_CMAP = "RdBu_r"


def velocity_limit(velocity: np.ndarray | None, mask: np.ndarray | None, venc: np.ndarray) -> np.ndarray:
    """Symmetric display limit per direction (cm/s): the 99th percentile of |v| in the myocardium.

    Myocardial velocities are a fraction of VENC, so a +-VENC colour scale would show the wall as
    uniformly grey; the background noise (up to VENC) then saturates, which is what it is.
    """
    venc = np.asarray(venc, dtype=np.float64)
    if velocity is None or mask is None or not np.any(mask):
        return venc / 2
    inside = np.asarray(mask, dtype=bool)
    limits = []
    for d in range(3):
        values = np.abs(velocity[:, d][inside])
        limits.append(max(float(np.percentile(values, 99)), 1.0) if values.size else venc[d] / 2)
    return np.asarray(limits)


def close(fig: plt.Figure) -> None:
    """Release a figure at once: long reports would otherwise keep every figure in memory."""
    plt.close(fig)
