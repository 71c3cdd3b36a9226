"""Bland-Altman agreement: statistics on hand-made numbers, the cohort rows, the plot, and a report with
more than two methods (nothing may assume exactly ``hdl`` and ``baseline``)."""

from __future__ import annotations

import csv
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_report import FACTOR, ring_subject

from assessment.report.bland_altman import LOA_Z, Panel, agreement, plot_bland_altman, shared_limits
from assessment.report.builder import ReportBuilder
from assessment.report.peak_agreement import AGREEMENT_COLUMNS, agreement_rows
from data.mvm_io import Subject


def test_agreement_of_hand_made_pairs() -> None:
    reference = [10.0, 12.0, 8.0, 11.0]
    measured = [11.0, 15.0, 8.0, 12.0]  # differences 1, 3, 0, 1: mean 1.25, sample SD sqrt(1.5833...)
    stats = agreement(reference, measured)
    sd = math.sqrt(((1 - 1.25) ** 2 + (3 - 1.25) ** 2 + (0 - 1.25) ** 2 + (1 - 1.25) ** 2) / 3)
    assert stats.n == 4
    assert stats.bias == pytest.approx(1.25)
    assert stats.sd == pytest.approx(sd) and sd == pytest.approx(1.258306, abs=1e-6)
    assert stats.loa_low == pytest.approx(1.25 - 1.96 * sd) and stats.loa_high == pytest.approx(1.25 + 1.96 * sd)
    assert LOA_Z == 1.96


def test_agreement_skips_missing_values_and_needs_two_pairs_for_limits() -> None:
    stats = agreement([1.0, math.nan, 3.0], [2.0, 5.0, math.inf])
    assert stats.n == 1 and stats.bias == 1.0
    assert math.isnan(stats.sd) and math.isnan(stats.loa_low) and math.isnan(stats.loa_high)
    empty = agreement([], [])
    assert empty.n == 0 and math.isnan(empty.bias)
    with pytest.raises(ValueError, match="shape"):
        agreement([1.0], [1.0, 2.0])


def peak_row(data: str, subject: str, component: str, peak: str, value: float, time: float) -> dict[str, object]:
    return {
        "subject": subject,
        "slice": "mid",
        "data": data,
        "component": component,
        "curve": "global",
        "peak": peak,
        "value_cm_s": value,
        "time_ms": time,
    }


def test_agreement_rows_pair_slices_per_method() -> None:
    rows = []
    for i, (ref, hdl, zero) in enumerate(((5.0, 6.0, 0.0), (7.0, 6.0, 0.0), (6.0, 8.0, 0.0))):
        sid = f"s{i}"
        rows.append(peak_row("acquired", sid, "longitudinal", "systolic", ref, 100.0 * i))
        rows.append(peak_row("hdl", sid, "longitudinal", "systolic", hdl, 100.0 * i + 40))
        rows.append(peak_row("zero", sid, "longitudinal", "systolic", zero, math.nan))
        rows.append({**peak_row("hdl", sid, "longitudinal", "systolic", 99.0, 0.0), "curve": "segment_7"})
    stats = agreement_rows(rows, ["hdl", "zero"])
    assert all(list(r) == list(AGREEMENT_COLUMNS) for r in stats)
    by_key = {(r["method"], r["component"], r["peak"], r["quantity"]): r for r in stats}
    hdl = by_key[("hdl", "longitudinal", "systolic", "peak_velocity_cm_s")]
    assert hdl["n"] == 3 and hdl["bias"] == pytest.approx(2 / 3)  # differences 1, -1, 2; segments ignored
    assert hdl["sd"] == pytest.approx(np.std([1, -1, 2], ddof=1))
    ttp = by_key[("hdl", "longitudinal", "systolic", "time_to_peak_ms")]
    assert ttp["bias"] == pytest.approx(40.0) and ttp["sd"] == pytest.approx(0.0)
    assert by_key[("zero", "longitudinal", "systolic", "peak_velocity_cm_s")]["bias"] == pytest.approx(-6.0)
    assert by_key[("zero", "longitudinal", "systolic", "time_to_peak_ms")]["n"] == 0  # no peak found: no pair
    assert by_key[("hdl", "radial", "e_prime", "peak_velocity_cm_s")]["n"] == 0


def test_plot_shares_axes_across_methods(tmp_path: Path) -> None:
    a = Panel("a", [1.0, 2.0, 3.0], [1.5, 2.0, 2.0])
    b = Panel("b", [1.0, 2.0, 3.0], [5.0, 6.0, 9.0])
    (x0, x1), (y0, y1) = shared_limits([a, b])
    assert x0 < 1.25 and x1 > 6.0 and y0 < -1.0 and y1 > 6.0
    out = plot_bland_altman([[a, b], [a]], tmp_path / "ba.png", "cm/s", "t", limits=[[None, None], [None]])
    with Image.open(out) as im:
        assert im.format == "PNG" and im.width > 400


def shifted(subject: Subject, dz_cm_s: float) -> Subject:
    """The acquired subject with dz added to the through-plane velocity: a twin whose longitudinal peaks are
    off by exactly |dz| (the sign follows the slice's apex direction), with the same timing."""
    slices = {}
    for name, s in subject.slices.items():
        v = s.velocity.copy()
        v[:, 2] += dz_cm_s
        slices[name] = replace(s, velocity=v)
    return Subject(subject.subject_id, slices)


def test_report_with_three_methods_and_exact_agreement(tmp_path: Path) -> None:
    subject = ring_subject("ring01")
    methods = {"copy": "the acquired data", "shifted": "vz + 2 cm/s", "zero": "no motion"}
    zero = Subject("ring01", {n: replace(s, velocity=np.zeros_like(s.velocity)) for n, s in subject.slices.items()})
    builder = ReportBuilder(tmp_path, methods, FACTOR)
    builder.add_subject(subject, {"copy": subject, "shifted": shifted(subject, 2.0), "zero": zero})
    result = builder.finish()
    with open(tmp_path / "peak_agreement.csv", newline="") as f:
        rows = {(r["method"], r["component"], r["peak"], r["quantity"]): r for r in csv.DictReader(f)}
    assert len(rows) == 3 * 3 * 3 * 2
    for key, r in rows.items():
        if key[0] == "copy":
            assert float(r["bias"]) == 0 and float(r["sd"]) == 0, key
    shift = rows[("shifted", "longitudinal", "systolic", "peak_velocity_cm_s")]
    assert abs(float(shift["bias"])) == pytest.approx(2.0, abs=1e-4) and float(shift["sd"]) == pytest.approx(
        0, abs=1e-4
    )
    # A constant shift moves no peak in time (to rounding: times are interpolated between frames).
    assert float(rows[("shifted", "longitudinal", "systolic", "time_to_peak_ms")]["bias"]) == pytest.approx(0, abs=1e-6)
    text = result.index_html.read_text()
    # One figure per quantity holds every method (one figure each cost most of the report's time).
    assert "figures/agreement_peak_velocity_cm_s.png" in text
    assert sorted(p.name for p in (tmp_path / "figures").glob("agreement_*.png")) == [
        "agreement_peak_velocity_cm_s.png", "agreement_time_to_peak_ms.png"
    ]
    for method in methods:
        assert f">{method}<" in text
