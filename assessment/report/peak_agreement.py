"""Agreement of synthesised with acquired global peaks over the cohort: Bland-Altman statistics and plots.

A pair is one slice of one subject: the global peak (systolic, E', A') of one component (radial,
circumferential, longitudinal) of a method's twin against the same peak of the acquired slice; the
quantities are the peak velocity (cm/s) and its time to peak (ms). Slices without acquired velocity
have no pair. Works for any number of methods: every data label other than the acquired one that
appears in the peak rows, in the order given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from assessment.report.bland_altman import Panel, agreement, plot_bland_altman_series, shared_limits
from assessment.report.slice_metrics import PEAKS
from assessment.report.style import REFERENCE, method_style
from assessment.velocity import COMPONENTS

#: quantity -> (column of velocity_peaks.csv, unit); the quantity names end in their unit, which is what
#: the display rounding rule (assessment.tables) reads
QUANTITIES: dict[str, tuple[str, str]] = {
    "peak_velocity_cm_s": ("value_cm_s", "cm/s"),
    "time_to_peak_ms": ("time_ms", "ms"),
}
AGREEMENT_COLUMNS = ("method", "component", "peak", "quantity", "n", "bias", "sd", "loa_low", "loa_high")
PEAK_TITLES = {"systolic": "systolic", "e_prime": "E'", "a_prime": "A'"}


def global_peaks(peak_rows: Sequence[Mapping[str, object]]) -> dict[tuple, dict[str, float]]:
    """(data, subject, slice, component, peak) -> {column: value} of the global-curve peaks."""
    out: dict[tuple, dict[str, float]] = {}
    for r in peak_rows:
        if r["curve"] == "global":
            key = (r["data"], r["subject"], r["slice"], r["component"], r["peak"])
            out[key] = {column: float(r[column]) for column, _ in QUANTITIES.values()}
    return out


def paired(
    peaks: Mapping[tuple, Mapping[str, float]], method: str, component: str, peak: str, column: str
) -> tuple[list[float], list[float]]:
    """Acquired and ``method`` values of one peak, paired by (subject, slice), in the rows' order."""
    reference, measured = [], []
    for (data, subject, slice_name, comp, p), values in peaks.items():
        if data != REFERENCE or comp != component or p != peak:
            continue
        twin = peaks.get((method, subject, slice_name, comp, p))
        if twin is not None:
            reference.append(values[column])
            measured.append(twin[column])
    return reference, measured


def agreement_rows(peak_rows: Sequence[Mapping[str, object]], methods: Sequence[str]) -> list[dict[str, object]]:
    """One row per method, component, peak and quantity (``AGREEMENT_COLUMNS``), full precision."""
    peaks = global_peaks(peak_rows)
    rows = []
    for method in methods:
        for component in COMPONENTS:
            for peak in PEAKS:
                for quantity, (column, _) in QUANTITIES.items():
                    stats = agreement(*paired(peaks, method, component, peak, column))
                    rows.append(
                        {"method": method, "component": component, "peak": peak, "quantity": quantity}
                        | {k: getattr(stats, k) for k in AGREEMENT_COLUMNS[4:]}
                    )
    return rows


def plot_agreement(
    peak_rows: Sequence[Mapping[str, object]], methods: Sequence[str], out_dir: str | os.PathLike, prefix: str
) -> dict[str, list[tuple[str, Path]]]:
    """quantity -> [(the methods, PNG)]: one 3 x 3 grid (component x peak) per quantity with every method
    on the same panels, in its colour, so the methods compare by eye. Nothing when no slice has pairs."""
    peaks = global_peaks(peak_rows)
    out: dict[str, list[tuple[str, Path]]] = {}
    for quantity, (column, unit) in QUANTITIES.items():
        grids = {
            m: [[Panel(f"{c} {PEAK_TITLES[p]}", *paired(peaks, m, c, p, column)) for p in PEAKS] for c in COMPONENTS]
            for m in methods
        }
        if not any(len(panel.reference) for grid in grids.values() for row in grid for panel in row):
            continue
        limits = [
            [shared_limits(grids[m][r][c] for m in methods) for c in range(len(PEAKS))] for r in range(len(COMPONENTS))
        ]
        png = Path(out_dir) / f"{prefix}_{quantity}.png"
        name = quantity.replace("_", " ").removesuffix(" cm s").removesuffix(" ms")
        coloured = {m: (grids[m], method_style(m, i)["color"]) for i, m in enumerate(methods)}
        plot_bland_altman_series(coloured, png, unit, f"{name}: each method vs {REFERENCE}", f"method - {REFERENCE}",
                                 limits)  # fmt: skip
        out[quantity] = [(", ".join(methods), png)]
    return out
