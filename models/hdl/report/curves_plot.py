"""Plot of the global velocity-time curves of one slice: acquired vs synthesised, one panel per component."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from models.hdl.report.analysis import SliceAnalysis
from util.report.style import COMPONENT_TITLES, close, method_style, plt
from util.velocity import COMPONENTS


def plot_velocity_curves(
    analyses: Mapping[str, SliceAnalysis],
    out_png: str | os.PathLike,
    title: str = "",
    key_times_ms: Sequence[float] = (),
) -> Path:
    """Radial, circumferential and longitudinal global curves (cm/s over ms) of every method.

    ``analyses`` maps a label (``acquired``, ``hdl``, ``baseline``...) to that data's analysis; the
    acquired curve is drawn first, in black. Key-frame times are marked on the time axis: between them
    the magnitude, and hence the motion, was synthesised.
    """
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharex=True, constrained_layout=True)
    for ax, comp in zip(axes, COMPONENTS, strict=True):
        for i, (label, a) in enumerate(analyses.items()):
            ax.plot(a.times_ms, a.curves.global_curves[comp], label=label, **method_style(label, i))
        for t in key_times_ms:
            ax.axvline(t, color="0.55", linestyle=":", linewidth=0.9)
        ax.axhline(0.0, color="0.6", linewidth=0.6)
        ax.set_title(COMPONENT_TITLES[comp])
        ax.set_xlabel("time from R wave (ms)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("velocity (cm/s)")
    handles, labels = axes[0].get_legend_handles_labels()
    if key_times_ms:
        handles.append(plt.Line2D([], [], color="0.55", linestyle=":", linewidth=0.9))
        labels.append("key frames")
    axes[-1].legend(handles, labels, loc="best", fontsize=8)
    if title:
        fig.suptitle(title)
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    close(fig)
    return out

