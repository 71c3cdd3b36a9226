"""Shared look of the report figures: headless backend, method colours, display ranges.

Importing this module selects matplotlib's Agg backend before pyplot is loaded, so the report renders
on machines without a display (clusters, CI) and never opens a window.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

#: label of the reference data in every figure and table
REFERENCE = "acquired"
#: line style per method; unknown methods cycle through the fallbacks
METHOD_STYLES: dict[str, dict] = {
    REFERENCE: {"color": "black", "linestyle": "-", "linewidth": 2.0},
    "hdl": {"color": "tab:red", "linestyle": "-", "linewidth": 1.6},
    "baseline": {"color": "tab:blue", "linestyle": "--", "linewidth": 1.4},
}
_FALLBACK_COLOURS = ("tab:green", "tab:purple", "tab:orange", "tab:brown")
VELOCITY_CMAP = "RdBu_r"
COMPONENT_TITLES = {"radial": "radial", "circumferential": "circumferential", "longitudinal": "longitudinal"}


def method_style(label: str, index: int = 0) -> dict:
    """Line style of a method: fixed for the reference, HDL and the baseline, cycled for others."""
    if label in METHOD_STYLES:
        return dict(METHOD_STYLES[label])
    return {"color": _FALLBACK_COLOURS[index % len(_FALLBACK_COLOURS)], "linestyle": "-.", "linewidth": 1.4}


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
