"""Bull's-eye of the segments' systolic radial peaks per data set, the segments each calls abnormal
outlined, and each data set's dyssynchrony index under its title.

Same layout as ``assessment.report.bullseye`` (anterior at the top, septum on the left, basal ring outside),
one shared colour scale from 0 to the largest peak so that the columns compare directly. A segment called
abnormal (score at or below the detection threshold) gets a thick black outline and an asterisk; a
segment the data set does not have is hatched grey.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assessment.report.bullseye import SegmentLook, bullseye_axes, draw_segments, segment_geometry
from util.plotting import close, plt

_CMAP = "viridis"


@dataclass(frozen=True)
class RegionalPanel:
    """One data set: segment -> systolic radial peak (cm/s), the segments it calls abnormal, its
    dyssynchrony index (ms, NaN when unknown)."""

    peaks: Mapping[int, float]
    abnormal: frozenset[int] = field(default_factory=frozenset)
    dyssynchrony_ms: float = math.nan


def _draw_panel(ax, panel: RegionalPanel, vmax: float) -> None:
    cmap = plt.get_cmap(_CMAP)
    flagged_last = sorted(segment_geometry(), key=lambda seg: seg in panel.abnormal)  # outlines on top
    looks = {}
    for seg in flagged_last:
        value = panel.peaks.get(seg, math.nan)
        missing = not np.isfinite(value)
        flagged = seg in panel.abnormal
        text = f"{seg}{'*' if flagged else ''}\n" + ("-" if missing else f"{value:.1f}")
        dark = not missing and value / vmax < 0.5  # viridis is dark at its low end
        face = "0.9" if missing else cmap(min(max(value / vmax, 0.0), 1.0))
        looks[seg] = SegmentLook(face, text, "white" if dark else "black", "black" if flagged else "white",
                                 2.5 if flagged else 1.0, "//" if missing else None)  # fmt: skip
    draw_segments(ax, looks)


def plot_regional_bullseye(panels: Mapping[str, RegionalPanel], out_png: str | os.PathLike, title: str = "") -> Path:
    """One bull's-eye per data set (in the order given), side by side; returns the PNG path."""
    labels = list(panels)
    values = [v for p in panels.values() for v in p.peaks.values() if np.isfinite(v)]
    vmax = max(max(values, default=1.0), 0.5)
    fig, axes = bullseye_axes(1, len(labels), (2.7 * len(labels) + 0.9, 3.3))
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.03, top=0.78, wspace=0.08)
    for ax, label in zip(axes[0], labels, strict=True):
        panel = panels[label]
        _draw_panel(ax, panel, vmax)
        di = "n/a" if not math.isfinite(panel.dyssynchrony_ms) else f"{panel.dyssynchrony_ms:.0f} ms"
        ax.set_title(f"{label}\ndyssynchrony index {di}", fontsize=9, y=1.0)  # placed, not fitted: faster
    mappable = plt.cm.ScalarMappable(norm=plt.Normalize(0.0, vmax), cmap=plt.get_cmap(_CMAP))
    bar = fig.colorbar(mappable, ax=axes[0, :].tolist(), shrink=0.8, pad=0.02)
    bar.set_label("systolic radial peak (cm/s)", fontsize=8)
    heading = "systolic radial segment peaks; * outlined: called abnormal"
    fig.suptitle(f"{title}: {heading}" if title else heading, fontsize=10)
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    close(fig)
    return out
