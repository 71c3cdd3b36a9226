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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.collections import PatchCollection
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


@dataclass(frozen=True)
class SegmentLook:
    """How one AHA segment is drawn: its face colour, label and label colour, outline and hatch."""

    face: object
    text: str
    text_colour: str = "black"
    edgecolor: str = "white"
    linewidth: float = 1.5
    hatch: str | None = None


def draw_segments(ax, looks: Mapping[int, SegmentLook]) -> None:
    """AHA segments as wedges (angles counter-clockwise from the right, as the geometry gives them), in the
    order given (a later outline is drawn over an earlier one), each labelled at its centre. The wedges are
    one collection, several times faster to draw than a patch each; a hatched one is a patch of its own
    (a collection has one hatch)."""
    geometry = segment_geometry()
    plain = {seg: look for seg, look in looks.items() if look.hatch is None}
    wedges = []
    for seg, look in looks.items():
        start, width, r0, r1 = geometry[seg]
        wedge = Wedge((0.0, 0.0), r1, start, start + width, width=r1 - r0)
        if seg in plain:
            wedges.append(wedge)
        else:
            wedge.set(facecolor=look.face, edgecolor=look.edgecolor, linewidth=look.linewidth, hatch=look.hatch)
            ax.add_patch(wedge)
        theta, radius = math.radians(start + width / 2), (r0 + r1) / 2
        ax.text(radius * math.cos(theta), radius * math.sin(theta), look.text, ha="center", va="center",
                fontsize=6.5, color=look.text_colour)  # fmt: skip
    if wedges:
        ax.add_collection(PatchCollection(wedges, facecolors=[look.face for look in plain.values()],
                                          edgecolors=[look.edgecolor for look in plain.values()],
                                          linewidths=[look.linewidth for look in plain.values()]))  # fmt: skip


def _draw(ax, values: Mapping[int, float], vlim: float, cmap) -> None:
    norm = plt.Normalize(-vlim, vlim)
    looks = {}
    for seg in segment_geometry():
        value = values.get(seg, math.nan)
        missing = not np.isfinite(value)
        text = f"{seg}\n" + ("-" if missing else f"{value:.1f}")
        # White text on the dark ends of the colour scale, black elsewhere.
        dark = not missing and abs(norm(value) - 0.5) > 0.3
        looks[seg] = SegmentLook("0.9" if missing else cmap(norm(value)), text, "white" if dark else "black",
                                 hatch="//" if missing else None)  # fmt: skip
    draw_segments(ax, looks)


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
