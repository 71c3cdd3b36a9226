"""Metrics tables as text: CSV files (full precision) and tables for people (HTML, markdown), rounded.

CSV files keep 6 significant digits, so a later analysis loses nothing. Tables that people read show
each number to the precision it means, decided in one place, :func:`display_decimals`, from the column
name: the names already carry the unit (``_cm_s``, ``_ms``) or the metric (``psnr``, ``ssim``, ``dice``,
``_r``). The markdown command prints a metrics.csv as a table, its headline metrics (``assessment.metric_names``)
headed by their names for people, or every column (``--all``), or the ones asked for (headed by the
names they were asked by, as in the README)::

    python -m assessment.tables results/quickstart/hdl/metrics.csv [--all] [--ids]
    python -m assessment.tables results/quickstart/hdl/metrics.csv --columns method mag_psnr_nonkey \\
        vel_mae_myo_cm_s --rename mag_psnr_nonkey=PSNR
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from assessment.metric_names import describe, key_columns
from util.cli import ToolParser, run_tool
from util.errors import DataError, OptionError

#: (pattern on the column name, decimals), first match wins: units before metric names, so that
#: ``curve_radial_rmse_cm_s`` is a velocity (2) and not a correlation
DISPLAY_RULES: tuple[tuple[str, int], ...] = (
    (r"_cm_s$|^cm_s$", 2),  # velocities, velocity errors, their agreement statistics
    (r"_ms$|^ms$", 0),  # times to peak: the frame interval is tens of ms
    (r"(^|_)psnr|(^|_)db($|_)", 2),  # dB
    (r"(^|_)(ssim|dice)($|_)", 3),
    (r"_r$|^r$|(^|_)correlation($|_)", 3),  # Pearson r
    (r"(^|_)auc($|_)|(^|_)ratio$", 3),  # detection AUC and ratios (hypo_ratio): read beside r, to as many decimals
    (r"(^|_)fid($|_)", 2),
    (r"(^|_)skill($|_)", 3),  # 1 - MAE / MAE(zero)
    (r"_frames$", 1),  # errors in frames (times to peak)
)
#: significant digits of a number whose column matches no rule
DEFAULT_SIGNIFICANT = 4
#: the suffixes of a metric's bootstrap interval and paired difference: they round as the metric does
INTERVAL_SUFFIX = re.compile(r"_(diff_ref|diff_ci_low|diff_ci_high|ci_low|ci_high)$")
#: an interval over fewer subjects is shown as ``n<5``, not as numbers: resampling 2-4 subjects gives few
#: distinct means, and the interval often equals the estimate, which would read as certainty
MIN_BOOTSTRAP_SUBJECTS = 5
#: the regional columns shown by default (besides the headline ones) for a cohort with patients
REGIONAL_DEFAULT_COLUMNS = (
    "seg_peak_radial_systolic_r", "detect_auc", "detect_auc_ci_low", "detect_auc_ci_high", "dyssync_err_ms",
)  # fmt: skip


def format_value(value: object) -> str:
    """Numbers with 6 significant digits (``nan``/``inf`` spelled out), anything else as text."""
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.6g}"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


def display_decimals(column: str) -> int | None:
    """Decimals a number of ``column`` is shown with, or None (no rule: ``DEFAULT_SIGNIFICANT`` digits)."""
    name = INTERVAL_SUFFIX.sub("", column.lower())
    for pattern, decimals in DISPLAY_RULES:
        if re.search(pattern, name):
            return decimals
    return None


def display_value(value: object, column: str, missing: str = "n/a") -> str:
    """``value`` as a person reads it in ``column``: rounded by :func:`display_decimals`, integers and
    text as they are, NaN and None as ``missing`` (a number that does not exist is not "nan")."""
    if value is None or (isinstance(value, str) and value == ""):
        return missing
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if not isinstance(value, (float, np.floating)):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return missing
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    decimals = display_decimals(column)
    text = f"{value:.{decimals}f}" if decimals is not None else f"{value:.{DEFAULT_SIGNIFICANT}g}"
    # -0.001 shown to 2 decimals is 0.00, not a negative number
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def display_cell(row: Mapping[str, object], column: str, missing: str = "n/a") -> str:
    """``row[column]`` as :func:`display_value` shows it, except a bootstrap interval (``*_ci_low`` /
    ``*_ci_high``) of a row over fewer than :data:`MIN_BOOTSTRAP_SUBJECTS` subjects (``n_subjects``),
    which reads ``n<5``."""
    if re.search(r"_ci_(low|high)$", column):
        n = row.get("n_subjects")
        if isinstance(n, (int, float, np.number)) and not isinstance(n, bool) and n < MIN_BOOTSTRAP_SUBJECTS:
            return f"n<{MIN_BOOTSTRAP_SUBJECTS}"
    return display_value(row.get(column), column, missing)


def has_patients(rows: Iterable[Mapping[str, object]]) -> bool:
    """Whether a metrics table holds a patients' row (``cohort`` = ``patients``, as the regional tables write)."""
    return any(r.get("cohort") == "patients" or str(r.get("method", "")).endswith("(patients)") for r in rows)


def default_columns(columns: Sequence[str], rows: Sequence[Mapping[str, object]]) -> list[str]:
    """What the markdown command shows without ``--columns`` / ``--all``: the headline columns, and for a
    cohort with patients the regional ones (segment-peak r, detection AUC and its interval, dyssynchrony)."""
    key = key_columns(columns)
    if not has_patients(rows):
        return key
    return [*key, *(c for c in REGIONAL_DEFAULT_COLUMNS if c in columns and c not in key)]


def to_csv(rows: Iterable[Mapping[str, object]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([format_value(row.get(c, math.nan)) for c in columns])
    return buf.getvalue()


def parse_cell(text: str) -> object:
    """A CSV cell back as int, float or text (``unavailable: ...`` stays text; empty stays empty)."""
    text = text.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


def to_markdown(
    rows: Iterable[Mapping[str, object]],
    columns: Sequence[str],
    headers: Mapping[str, str] | None = None,
    missing: str = "",
) -> str:
    """A GitHub markdown table of ``rows``, numbers rounded by the column's rule (by its original name,
    whatever ``headers`` renames it to); a missing value is a blank cell, as in the README's tables."""
    headers = headers or {}

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(cell(headers.get(c, c)) for c in columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    for row in rows:
        values = [cell(display_cell(row, c, missing)) for c in columns]
        lines.append("| " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


def read_csv_rows(path: str | Path) -> tuple[list[str], list[dict[str, object]]]:
    """The columns and typed rows of a CSV file written by :func:`to_csv`."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = [{k: parse_cell(v or "") for k, v in r.items()} for r in reader]
        return list(reader.fieldnames or []), rows


def _renames(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old:
            raise OptionError(f"--rename takes old=new, got {pair!r}")
        out[old] = new
    return out


def _print_markdown(args: argparse.Namespace) -> None:
    renames = _renames(args.rename)
    try:
        columns, rows = read_csv_rows(args.csv)
    except OSError as exc:
        raise DataError(f"{args.csv}: cannot read: {exc.strerror or exc}") from exc
    if args.columns and args.all:
        raise OptionError("--columns and --all choose the columns two ways; give one")
    wanted = args.columns or (columns if args.all else default_columns(columns, rows))
    unknown = [c for c in wanted if c not in columns]
    if unknown:
        raise OptionError(f"{args.csv}: no column(s) {unknown}; it has {columns}")
    # Columns asked for by name keep those names (the README's tables); the default views name them for people.
    headers = {} if args.ids or args.columns else {c: describe(c).header for c in wanted}
    sys.stdout.write(to_markdown(rows, wanted, {**headers, **renames}))


def build_parser() -> ToolParser:
    p = ToolParser(prog="python -m assessment.tables", description="Print a metrics CSV as a GitHub markdown table.")
    p.add_argument("csv", type=Path, help="a metrics CSV (metrics.csv, metrics_per_slice.csv...)")
    p.add_argument(
        "--columns",
        nargs="+",
        help="columns to show, in this order, headed by these names (default: the headline metrics, named for "
        "people)",
    )
    p.add_argument("--all", action="store_true", help="show every column of the file")
    p.add_argument("--ids", action="store_true", help="head the columns with their names in the file, not for people")
    p.add_argument(
        "--rename", nargs="+", default=[], metavar="OLD=NEW", help="column headings to rename (default: none)"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m assessment.tables FILE.csv [--columns ...] [--rename old=new ...]``; exit 2 on a bad file or
    option, with one line on stderr."""
    return run_tool(_print_markdown, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
