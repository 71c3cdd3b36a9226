"""The cohort view: per-subject rows, which columns a page shows, subject page names and links."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from assessment.report.cohort import KEY_COLUMNS, shown_columns, subject_rows
from assessment.report.html import data_table, write_page
from assessment.report.pages import relative_to_page, subject_page_paths


def test_subject_rows_average_each_subject_apart() -> None:
    slices = [
        {"subject": "a", "method": "hdl", "has_reference": 1, "mag_psnr_nonkey": 20.0},
        {"subject": "a", "method": "hdl", "has_reference": 1, "mag_psnr_nonkey": 30.0},
        {"subject": "a", "method": "zero", "has_reference": 1, "mag_psnr_nonkey": 10.0},
        {"subject": "b", "method": "hdl", "has_reference": 0, "mag_psnr_nonkey": math.nan},
    ]
    rows = subject_rows(slices, ["hdl", "zero"])
    assert [(r["subject"], r["method"], r["n_slices"], r["has_reference"]) for r in rows] == [
        ("a", "hdl", 2, 1),
        ("a", "zero", 1, 1),
        ("b", "hdl", 1, 0),
    ]
    assert rows[0]["mag_psnr_nonkey"] == pytest.approx(25.0)
    assert math.isnan(rows[2]["mag_psnr_nonkey"]) and math.isnan(rows[0]["myo_dice_nonkey"])
    assert shown_columns(rows, KEY_COLUMNS) == ["mag_psnr_nonkey"]


def test_subject_page_names_are_safe_and_distinct() -> None:
    pages = subject_page_paths(["P 01", "P_01", "p_01", "../x"])
    assert pages == {
        "P 01": "subjects/P_01.html",
        "P_01": "subjects/P_01_2.html",
        "p_01": "subjects/p_01_3.html",
        "../x": "subjects/x.html",
    }
    assert relative_to_page("figures/a.png", "subjects/P_01.html") == "../figures/a.png"
    assert relative_to_page("subjects/hdl/P.h5", "subjects/P_01.html") == "hdl/P.h5"


def test_data_table_links_and_rounds(tmp_path: Path) -> None:
    rows = [{"subject": "a&b", "vel_mae_myo_cm_s": 1.23456, "ttp_ms": 87.6, "n_slices": 3}]
    text = data_table(
        rows, ["subject", "vel_mae_myo_cm_s", "ttp_ms", "n_slices"], links={"subject": {"a&b": "s/a.html"}}
    )
    assert '<a href="s/a.html">a&amp;b</a>' in text
    assert "<td>1.23</td>" in text and "<td>88</td>" in text and "<td>3</td>" in text


def test_write_page_refuses_broken_or_absolute_links(tmp_path: Path) -> None:
    (tmp_path / "f.png").write_bytes(b"x")
    write_page(tmp_path / "sub" / "p.html", '<img src="../f.png"><a href="../index.html">', pending={"../index.html"})
    with pytest.raises(FileNotFoundError, match="missing"):
        write_page(tmp_path / "q.html", '<img src="nope.png">')
    with pytest.raises(FileNotFoundError, match="outside"):
        write_page(tmp_path / "q.html", '<a href="https://example.org/x">')
    assert not (tmp_path / "q.html").exists()
