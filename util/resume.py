"""What a resumed training run carries over from its checkpoint beyond the tensors: the best validation
value (also when it was saved under a former name of the metric), the loss log's metric names, and the
learning-rate plan when the run is continued with another length."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

from util.atomic import atomic_path


def restored_best(
    best: dict[str, Any], val_metric: str, former_names: dict[str, str]
) -> tuple[float | None, int, str | None]:
    """The best validation value and its epoch that a checkpoint's ``best`` record carries over to a run
    whose metric is ``val_metric``, and a note for the user when there is none to carry.

    A record under a former name of the same metric (``former_names``: old -> new, a run written before
    the metric was renamed) carries over as if it had been written today, so the resumed run picks the
    ``best`` checkpoint exactly as an uninterrupted one would. A record of another metric cannot be
    compared with this run's values: the run starts its best afresh rather than keep a wrong yardstick.
    """
    saved = best.get("metric")
    if saved is None or former_names.get(saved, saved) == val_metric:
        return best.get("value"), int(best.get("epoch", 0)), None
    return None, 0, f"the checkpoint's best is of {saved!r}, not {val_metric!r}: the best is chosen afresh"


def rename_logged_metrics(csv_path: Path, renames: dict[str, str]) -> bool:
    """Rewrite a ``loss_log.csv`` written under former metric names with today's (``renames``: old -> new),
    so that a resumed run's log reads as one run's: one name a curve. Returns whether anything changed;
    a missing log or one without a former name is left untouched."""
    if not renames or not csv_path.exists():
        return False
    with csv_path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or "name" not in rows[0]:
        return False
    column = rows[0].index("name")
    changed = False
    for row in rows[1:]:
        if len(row) > column and row[column] in renames:
            row[column], changed = renames[row[column]], True
    if changed:
        with atomic_path(csv_path) as tmp, tmp.open("w", newline="") as fh:
            csv.writer(fh).writerows(rows)
    return changed


def replan_schedule(schedulers: dict[str, Any], opt: argparse.Namespace, saved: dict[str, Any]) -> int | None:
    """Make a run continued with another length or policy follow the schedule asked for now; returns the
    number of epochs the run had before, or None when its plan is unchanged (an exact resume).

    The optimiser's saved rate is where the old plan had got to (0.0 at the end of a finished cosine
    run); it only changes at the next epoch's scheduler step, so without this an extended run would
    train its first new epoch at that rate.
    """
    keys = ("n_epochs", "n_epochs_decay", "lr_policy")
    if all(saved.get(k, getattr(opt, k)) == getattr(opt, k) for k in keys):
        return None  # same plan: the restored rates are already the schedule's
    for s in schedulers.values():
        factors = [fn(s.last_epoch) for fn in s.lr_lambdas]
        for group, base, factor in zip(s.optimizer.param_groups, s.base_lrs, factors, strict=True):
            group["lr"] = base * factor
        s._last_lr = [g["lr"] for g in s.optimizer.param_groups]
    return int(saved.get("n_epochs", opt.n_epochs)) + int(saved.get("n_epochs_decay", opt.n_epochs_decay))
