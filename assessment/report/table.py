"""The report's tables: per-slice metrics, their summary per method, velocity curves and peaks (CSV).

``metrics.csv`` has one row per method the chain gives it (``models.hdl.evaluation.METHODS``, those a run
makes: the twins ``hdl`` and ``baseline``, ``kinematic``, the yardsticks ``flow``, ``population_bulk``,
``population`` and ``zero``, the ceilings ``acquired_phase`` and ``velocity_true``; ``models.rows`` makes
all but the twins): every metric is the mean over the slices that have it (a slice without a reference
velocity has no velocity metrics); ``vel_skill`` is ``1 - MAE / MAE(zero)`` of the myocardial velocity,
against the noise-free truth where it exists (the phantom), else against the acquired maps; ``fid`` is a
number only when FID was computed, else the string ``unavailable: <reason>``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from assessment.analysis import SliceAnalysis
from assessment.metrics import add_skill_scores, mean_skipping_nan
from assessment.report.slice_metrics import PEAKS, metric_columns
from assessment.tables import to_csv
from assessment.velocity import COMPONENTS
from util.atomic import write_text

ID_COLUMNS = ("method", "description", "n_slices")


def summarise(
    slice_rows: Sequence[Mapping[str, object]],
    methods: Mapping[str, str],
    fid: Mapping[str, float | str],
) -> list[dict[str, object]]:
    """One row per method: the nan-aware mean of every metric over that method's slices.

    ``methods`` maps a method to its description; ``slice_rows`` carry a ``method`` key.
    """
    summary = []
    for method, description in methods.items():
        rows = [r for r in slice_rows if r["method"] == method]
        out: dict[str, object] = {"method": method, "description": description, "n_slices": len(rows)}
        for col in metric_columns():
            out[col] = mean_skipping_nan([float(r.get(col, math.nan)) for r in rows])
        out["fid"] = fid.get(method, "unavailable: not computed")
        summary.append(out)
    add_skill_scores(summary, "vel_mae_myo_cm_s", "vel_mae_myo_true_cm_s", "vel_skill")
    return summary


def summary_columns() -> list[str]:
    return [*ID_COLUMNS, *metric_columns(), "vel_skill", "fid"]


def slice_columns() -> list[str]:
    return ["method", "subject", "slice", "slice_position", "n_frames", "has_reference", *metric_columns()]


def write_metrics(out_dir: str | os.PathLike, summary: Sequence[Mapping], slice_rows: Sequence[Mapping]) -> list[Path]:
    """``metrics.csv`` (summary) and ``metrics_per_slice.csv``."""
    out = Path(out_dir)
    return [
        write_text(out / "metrics.csv", to_csv(summary, summary_columns())),
        write_text(out / "metrics_per_slice.csv", to_csv(slice_rows, slice_columns())),
    ]


CURVE_COLUMNS = ("subject", "slice", "data", "frame", "time_ms", *COMPONENTS)
PEAK_COLUMNS = ("subject", "slice", "data", "component", "curve", "peak", "value_cm_s", "time_ms")


def curve_rows(subject: str, slice_name: str, label: str, analysis: SliceAnalysis) -> list[dict[str, object]]:
    """Long-format rows of the global curves of one slice and data set (``acquired``, ``hdl``...)."""
    g = analysis.curves.global_curves
    return [
        {
            "subject": subject,
            "slice": slice_name,
            "data": label,
            "frame": t,
            "time_ms": float(analysis.times_ms[t]),
            **{c: float(g[c][t]) for c in COMPONENTS},
        }
        for t in range(analysis.curves.n_frames)
    ]


def peak_rows(subject: str, slice_name: str, label: str, analysis: SliceAnalysis) -> list[dict[str, object]]:
    """Long-format rows of the global and segment peaks (systolic, E', A') of one slice and data set."""
    rows = []
    for c in COMPONENTS:
        summary = analysis.peaks[c]
        for p in PEAKS:
            g = summary["global"][p]
            rows.append(
                {"curve": "global", "peak": p, "value_cm_s": g["value"], "time_ms": g["time_ms"], "component": c}
            )
            seg = summary["segments"]
            for i, sid in enumerate(seg["ids"]):
                rows.append(
                    {
                        "curve": f"segment_{int(sid)}",
                        "peak": p,
                        "value_cm_s": float(seg[p]["value"][i]),
                        "time_ms": float(seg[p]["time_ms"][i]),
                        "component": c,
                    }
                )
    for r in rows:
        r.update(subject=subject, slice=slice_name, data=label)
    return rows


def write_curves(out_dir: str | os.PathLike, curves: Sequence[Mapping], peaks: Sequence[Mapping]) -> list[Path]:
    """``velocity_curves.csv`` and ``velocity_peaks.csv``: the numbers behind the plots."""
    out = Path(out_dir)
    return [
        write_text(out / "velocity_curves.csv", to_csv(curves, CURVE_COLUMNS)),
        write_text(out / "velocity_peaks.csv", to_csv(peaks, PEAK_COLUMNS)),
    ]
