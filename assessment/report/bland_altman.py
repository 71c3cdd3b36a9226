"""Bland-Altman agreement: bias and 95% limits of agreement, and the plot that shows them.

Correlation says whether two measurements move together; Bland-Altman says by how much they differ,
which is what a clinician replacing an acquisition by a synthesised one needs to know. For pairs
(reference a, measured b): differences d = b - a, bias = mean(d), SD = sample standard deviation of d
(ddof 1), limits of agreement = bias -+ 1.96 SD (95% of differences if they are roughly normal). Each
point of the plot is one pair at x = (a + b) / 2, y = b - a.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assessment.tables import display_value
from util.atomic import atomic_path
from util.plotting import close, plt

#: the normal quantile of the 95% limits of agreement
LOA_Z = 1.96


@dataclass(frozen=True)
class Agreement:
    """Bland-Altman statistics of n finite pairs; sd and the limits are NaN below 2 pairs."""

    n: int
    bias: float
    sd: float
    loa_low: float
    loa_high: float


def finite_pairs(reference: Sequence[float], measured: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The pairs where both values are finite (a peak that was not found is no measurement)."""
    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(measured, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"reference and measured differ in shape: {a.shape} vs {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep]


def agreement(reference: Sequence[float], measured: Sequence[float]) -> Agreement:
    """Bias (mean of measured - reference) and bias -+ ``LOA_Z`` SD over the finite pairs."""
    a, b = finite_pairs(reference, measured)
    d = b - a
    if d.size == 0:
        return Agreement(0, math.nan, math.nan, math.nan, math.nan)
    bias = float(d.mean())
    sd = float(d.std(ddof=1)) if d.size > 1 else math.nan
    return Agreement(int(d.size), bias, sd, bias - LOA_Z * sd, bias + LOA_Z * sd)


@dataclass(frozen=True)
class Panel:
    """One Bland-Altman panel: a title and the pairs it shows."""

    title: str
    reference: Sequence[float]
    measured: Sequence[float]


Limits = tuple[tuple[float, float], tuple[float, float]]


def shared_limits(panels: Iterable[Panel]) -> Limits:
    """x and y ranges that hold every point and limit line of ``panels``, so that the same panel of
    several methods can be drawn on the same axes and compared by eye."""
    xs, ys = [], []
    for p in panels:
        a, b = finite_pairs(p.reference, p.measured)
        stats = agreement(a, b)
        xs += list((a + b) / 2)
        ys += [*(b - a), *(v for v in (stats.loa_low, stats.loa_high) if math.isfinite(v))]

    def padded(values: list[float]) -> tuple[float, float]:
        if not values:
            return (-1.0, 1.0)
        lo, hi = min(values), max(values)
        pad = max(0.08 * (hi - lo), 0.05 * max(abs(lo), abs(hi)), 1e-3)
        return (lo - pad, hi + pad)

    ys.append(0.0)  # zero difference is always on the plot: the eye judges the bias against it
    return padded(xs), padded(ys)


def _draw(ax, series: Sequence[tuple[str, Panel, str]], limits: Limits | None, unit: str) -> None:
    """One panel: each series' points, bias (solid) and limits of agreement (dashed) in its colour, and its
    statistics in a box (one line per series, prefixed by its label when there are several)."""
    across = ax.get_yaxis_transform()  # x in axes fraction: a line across the panel at a data y
    ax.hlines(0.0, 0.0, 1.0, transform=across, color="0.7", linewidth=0.8)
    key = unit.replace("/", "_")  # "cm/s" -> the rounding rule of "cm_s"
    lines = []
    for label, panel, colour in series:
        a, b = finite_pairs(panel.reference, panel.measured)
        stats = agreement(a, b)
        ax.scatter((a + b) / 2, b - a, s=14, color=colour, alpha=0.8, edgecolors="none", label=label)
        # the bias (solid) and the limits (dashed) as one collection: one artist rather than three
        drawn = [(v, width, style) for v, width, style in ((stats.bias, 1.3, "-"), (stats.loa_low, 1.0, "--"),
                 (stats.loa_high, 1.0, "--")) if math.isfinite(v)]  # fmt: skip
        if drawn:
            values, widths, styles = zip(*drawn, strict=True)
            ax.hlines(values, 0.0, 1.0, transform=across, colors=colour, linewidths=widths, linestyles=styles)
        low, bias, high = (display_value(v, key) for v in (stats.loa_low, stats.bias, stats.loa_high))
        prefix = f"{label}: " if len(series) > 1 else ""
        lines.append(f"{prefix}n={stats.n} bias {bias}\n{' ' * len(prefix)}LoA {low} to {high}")
    box = {"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1.5}  # readable over the points
    ax.text(0.02, 0.97, "\n".join(lines), transform=ax.transAxes, va="top", fontsize=6, family="monospace", bbox=box)
    if limits is not None:
        ax.set_xlim(*limits[0])
        ax.set_ylim(*limits[1])
    ax.locator_params(nbins=4)  # a few ticks: their labels are most of a panel's drawing time
    ax.set_title(series[0][1].title, fontsize=9, y=1.0)  # placed, not fitted around the axes (faster)
    ax.grid(alpha=0.3)


def plot_bland_altman(
    grid: Sequence[Sequence[Panel]],
    out_png: str | os.PathLike,
    unit: str,
    title: str = "",
    colour: str = "tab:red",
    difference: str = "measured - reference",
    limits: Sequence[Sequence[Limits | None]] | None = None,
) -> Path:
    """A grid of Bland-Altman panels (``grid[row][col]``), each with its bias (solid) and limits of
    agreement (dashed); ``limits[row][col]`` fixes a panel's axes (see :func:`shared_limits`).

    ``unit`` ("cm/s", "ms") labels the axes and rounds the annotations (``assessment.tables`` rule);
    ``difference`` names the y axis.
    """
    return plot_bland_altman_series({"": (grid, colour)}, out_png, unit, title, difference, limits)


def plot_bland_altman_series(
    grids: Mapping[str, tuple[Sequence[Sequence[Panel]], str]],
    out_png: str | os.PathLike,
    unit: str,
    title: str = "",
    difference: str = "measured - reference",
    limits: Sequence[Sequence[Limits | None]] | None = None,
) -> Path:
    """:func:`plot_bland_altman` of several series on the same panels: ``grids`` maps a label to its grid
    and colour (every grid the same shape). One figure for several methods draws far faster than one each,
    and puts the methods on the same axes by construction. The layout is fixed, not constrained (which
    would cost as much again as drawing)."""
    labels = list(grids)
    first = grids[labels[0]][0]
    rows, cols = len(first), max(len(r) for r in first)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.7 * rows + 0.5), squeeze=False)
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.08, top=0.9, wspace=0.3, hspace=0.45)
    for r, row in enumerate(first):
        for c in range(cols):
            if c >= len(row):
                axes[r, c].set_axis_off()
                continue
            series = [(label, grids[label][0][r][c], grids[label][1]) for label in labels]
            _draw(axes[r, c], series, limits[r][c] if limits is not None else None, unit)
            if r == rows - 1:
                axes[r, c].set_xlabel(f"mean of the two ({unit})", fontsize=8)
            if c == 0:
                axes[r, c].set_ylabel(f"{difference} ({unit})", fontsize=8)
    if len(labels) > 1:
        handles, names = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, names, loc="upper right", ncol=len(labels), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10, x=0.02, ha="left")
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    close(fig)
    return Path(out_png)
