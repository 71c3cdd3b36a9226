"""The cohort view: one summary row per subject and method, and the key metrics the cohort page shows.

``metrics.csv`` averages over every slice of the cohort, which hides a subject that fails; this table
keeps the subjects apart (the mean over each subject's slices with a reference), so an outlier is one
glance away from its own page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from models.hdl.report.slice_metrics import metric_columns
from util.metrics import mean_skipping_nan
from util.velocity import COMPONENTS

SUBJECT_ID_COLUMNS = ("subject", "method", "n_slices", "has_reference")
#: what the cohort and subject pages show of each row (all columns go to the CSV)
KEY_COLUMNS = (
    "mag_psnr_nonkey",
    "mag_ssim_nonkey",
    "myo_dice_nonkey",
    "vel_mae_myo_cm_s",
    "vel_mae_myo_true_cm_s",
    *(f"curve_{c}_r" for c in COMPONENTS),
)


def subject_columns() -> list[str]:
    return [*SUBJECT_ID_COLUMNS, *metric_columns()]


def subject_rows(slice_rows: Sequence[Mapping[str, object]], methods: Sequence[str]) -> list[dict[str, object]]:
    """One row per subject (in the order subjects were added) and method: the nan-aware mean of every
    metric over that subject's slices; ``has_reference`` is 1 when any slice had an acquired cine."""
    subjects = list(dict.fromkeys(str(r["subject"]) for r in slice_rows))
    out = []
    for subject in subjects:
        for method in methods:
            rows = [r for r in slice_rows if r["subject"] == subject and r["method"] == method]
            if not rows:
                continue
            row: dict[str, object] = {
                "subject": subject,
                "method": method,
                "n_slices": len(rows),
                "has_reference": int(any(int(r["has_reference"]) for r in rows)),
            }
            for col in metric_columns():
                row[col] = mean_skipping_nan([float(r.get(col, math.nan)) for r in rows])
            out.append(row)
    return out


def shown_columns(rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> list[str]:
    """``columns`` less those with no finite number in any row (``vel_mae_myo_true_cm_s`` off the phantom,
    everything on a cohort without a reference): an all-n/a column only takes room."""

    def has_number(col: str) -> bool:
        return any(isinstance(v, (int, float)) and math.isfinite(v) for v in (r.get(col) for r in rows))

    return [c for c in columns if has_number(c)]
