"""AHA 16-segment bull's-eye of segment peak velocities: acquired and synthesised side by side.

The plot is anatomical, in the standard orientation (docs/CONVENTIONS.md "AHA segments" with the septum
at 180 degrees): anterior at the top, septum on the left, basal ring outside, mid ring, apical ring
inside; the apex cap (segment 17) is not measured by short-axis MVM and is left blank. A segment whose
slice is missing from the subject is hatched grey.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.patches import Wedge

from assessment.report.style import COMPONENT_TITLES
from util.plotting import VELOCITY_CMAP, close, plt

# ring: (first segment, sectors, start angle of the first sector in degrees, inner radius, outer radius)
_RINGS = (
    (1, 6, 60.0, 0.75, 1.0),  # basal
    (7, 6, 60.0, 0.5, 0.75),  # mid
    (13, 4, 45.0, 0.25, 0.5),  # apical
)


def segment_geometry() -> dict[int, tuple[float, float, float, float]]:
    """AHA segment -> (start angle deg, width deg, inner radius, outer radius) in the bull's-eye."""
    geometry = {}
    for first, n, start, r0, r1 in _RINGS:
        width = 360.0 / n
        for i in range(n):
            geometry[first + i] = ((start + i * width) % 360.0, width, r0, r1)
    return geometry


def bullseye_axes(rows: int, cols: int, figsize: tuple[float, float]):
    """A figure of ``rows x cols`` empty bull's-eye axes (plain axes of equal aspect, no frame): wedges on
    plain axes draw several times faster than bars on polar axes, and a fixed layout than a constrained one."""
    fig, axes = plt.subplots(rows, cols, figsize=figsize, squeeze=False)
    for ax in axes.ravel():
        ax.set_xlim(-1.02, 1.02)
        ax.set_ylim(-1.02, 1.02)
        ax.set_aspect("equal")
        ax.set_axis_off()
    return fig, axes


def draw_segment(ax, seg: int, face, text: str, text_colour: str = "black", **edge: object) -> None:
    """One AHA segment as a wedge (angles counter-clockwise from the right, as the geometry gives them),
    labelled at its centre; ``edge`` holds the wedge's edgecolor / linewidth / hatch."""
    start, width, r0, r1 = segment_geometry()[seg]
    ax.add_patch(Wedge((0.0, 0.0), r1, start, start + width, width=r1 - r0, facecolor=face, **edge))
    theta, radius = math.radians(start + width / 2), (r0 + r1) / 2
    ax.text(radius * math.cos(theta), radius * math.sin(theta), text, ha="center", va="center", fontsize=6.5,
            color=text_colour)  # fmt: skip


def _draw(ax, values: Mapping[int, float], vlim: float, cmap) -> None:
    norm = plt.Normalize(-vlim, vlim)
    for seg in segment_geometry():
        value = values.get(seg, math.nan)
        missing = not np.isfinite(value)
        text = f"{seg}\n" + ("-" if missing else f"{value:.1f}")
        # White text on the dark ends of the colour scale, black elsewhere.
        dark = not missing and abs(norm(value) - 0.5) > 0.3
        draw_segment(ax, seg, "0.9" if missing else cmap(norm(value)), text, "white" if dark else "black",
                     edgecolor="white", linewidth=1.5, hatch="//" if missing else None)  # fmt: skip


def plot_bullseye(
    peaks: Mapping[str, Mapping[str, Mapping[int, float]]],
    out_png: str | os.PathLike,
    title: str = "",
    peak_name: str = "peak systolic velocity",
) -> Path:
    """One row per velocity component, one column per data set (acquired first).

    ``peaks[label][component][segment]`` is the segment's peak velocity in cm/s. Each row shares one
    symmetric colour scale, so the columns compare directly.
    """
    labels = list(peaks)
    components = [c for c in COMPONENT_TITLES if any(c in peaks[label] for label in labels)]
    cmap = plt.get_cmap(VELOCITY_CMAP)
    fig, axes = bullseye_axes(len(components), len(labels), (2.7 * len(labels) + 0.9, 2.7 * len(components) + 0.4))
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.9, wspace=0.05, hspace=0.12)
    for row, comp in enumerate(components):
        values = [v for label in labels for v in peaks[label].get(comp, {}).values() if np.isfinite(v)]
        vlim = max(max((abs(v) for v in values), default=1.0), 0.5)
        for col, label in enumerate(labels):
            ax = axes[row, col]
            _draw(ax, peaks[label].get(comp, {}), vlim, cmap)
            if row == 0:
                ax.set_title(label, fontsize=10, y=1.0)  # placed, not fitted around the axes (faster)
        mappable = plt.cm.ScalarMappable(norm=plt.Normalize(-vlim, vlim), cmap=cmap)
        bar = fig.colorbar(mappable, ax=axes[row, :].tolist(), shrink=0.8, pad=0.02)
        bar.set_label(f"{COMPONENT_TITLES[comp]} (cm/s)", fontsize=8)
    fig.suptitle(f"{title}: {peak_name}" if title else peak_name, fontsize=10)
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    close(fig)
    return out
