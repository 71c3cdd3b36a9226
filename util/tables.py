"""Metrics tables as text: CSV files and the values in them, one format for every stage's results."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np


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


def to_csv(rows: Iterable[Mapping[str, object]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([format_value(row.get(c, math.nan)) for c in columns])
    return buf.getvalue()
