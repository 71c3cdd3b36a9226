"""Plot of the global velocity-time curves of a subject: acquired vs synthesised, a row per slice and a
panel per component, in one figure (one figure a subject draws far faster than one a slice)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from assessment.analysis import SliceAnalysis
from assessment.report.style import COMPONENT_TITLES, method_style
from assessment.velocity import COMPONENTS
from util.plotting import close, plt


@dataclass(frozen=True)
class CurveRow:
    """One slice of the figure: its title, each data set's analysis, the key-frame times (ms)."""

    title: str
    analyses: Mapping[str, SliceAnalysis]
    key_times_ms: Sequence[float] = ()


def plot_velocity_curves(rows: Sequence[CurveRow], out_png: str | os.PathLike, title: str = "") -> Path:
    """Radial, circumferential and longitudinal global curves (cm/s over ms) of every data set, a row per
    slice.

    Each row's ``analyses`` maps a label (``acquired``, ``hdl``, ``baseline``...) to that data's analysis;
    the acquired curve is drawn first, in black. Key-frame times are marked on the time axis: between them
    the magnitude, and hence the motion, was synthesised. The layout is fixed (a constrained one would cost
    as much as the drawing).
    """
    height = 3.0 * len(rows) + 1.0  # inches: the rows, the title above and the time axis below
    fig, axes = plt.subplots(len(rows), 3, figsize=(13, height), squeeze=False)
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.6 / height, top=1 - 0.65 / height, wspace=0.22, hspace=0.45)
    for r, row in enumerate(rows):
        for ax, comp in zip(axes[r], COMPONENTS, strict=True):
            for i, (label, a) in enumerate(row.analyses.items()):
                ax.plot(a.times_ms, a.curves.global_curves[comp], label=label, **method_style(label, i))
            if len(row.key_times_ms):  # one collection of lines (y in axes fraction), not one artist each
                ax.vlines(row.key_times_ms, 0.0, 1.0, transform=ax.get_xaxis_transform(), color="0.55",
                          linestyle=":", linewidth=0.9)  # fmt: skip
            ax.axhline(0.0, color="0.6", linewidth=0.6)
            ax.set_title(f"{row.title}: {COMPONENT_TITLES[comp]}", fontsize=9, y=1.0)  # placed, not fitted: faster
            ax.grid(alpha=0.3)
        axes[r, 0].set_ylabel("velocity (cm/s)")
    for ax in axes[-1]:
        ax.set_xlabel("time from R wave (ms)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if any(row.key_times_ms for row in rows):
        handles.append(plt.Line2D([], [], color="0.55", linestyle=":", linewidth=0.9))
        labels.append("key frames")
    axes[0, -1].legend(handles, labels, loc="best", fontsize=8)
    if title:
        fig.suptitle(title)
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    close(fig)
    return out
