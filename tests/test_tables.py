"""assessment.tables: the display rounding rule, markdown tables and the ``python -m assessment.tables`` command."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from assessment.metric_names import key_columns
from assessment.report.slice_metrics import metric_columns
from assessment.tables import display_decimals, display_value, main, parse_cell, to_csv, to_markdown


@pytest.mark.parametrize(
    ("column", "decimals"),
    [
        ("mag_psnr_nonkey", 2),
        ("vel_psnr_tissue_x", 2),
        ("vel_psnr_x", 2),
        ("mag_ssim_nonkey", 3),
        ("vel_ssim_tissue_z", 3),
        ("ssim_fg", 3),
        ("myo_dice_nonkey", 3),
        ("dice", 3),
        ("curve_radial_r", 3),
        ("curve_radial_rmse_cm_s", 2),  # the unit wins over the "_r..." of rmse
        ("vel_mae_myo_true_cm_s", 2),
        ("peak_velocity_cm_s", 2),
        ("ttp_err_radial_systolic_ms", 0),
        ("time_to_peak_ms", 0),
        ("fid", 2),
        ("detect_auc", 3),  # rounded like r, beside which it is read
        ("detect_auc_ci_low", 3),
        ("hypo_ratio", 3),
        ("seg_peak_radial_systolic_r_ci_high", 3),  # an interval rounds as its metric
        ("vel_mae_myo_cm_s_diff_ci_low", 2),
        ("n_slices", None),
        ("description", None),
    ],
)
def test_display_decimals_follow_the_unit_or_metric_in_the_name(column: str, decimals: int | None) -> None:
    assert display_decimals(column) == decimals


def test_display_value_rounds_and_spells_out_what_is_missing() -> None:
    assert display_value(25.84567, "mag_psnr_nonkey") == "25.85"
    assert display_value(np.float32(0.97749), "myo_dice_nonkey") == "0.977"
    assert display_value(0.66349, "curve_longitudinal_r") == "0.663"
    assert display_value(1.254, "vel_mae_myo_cm_s") == "1.25"
    assert display_value(187.6, "ttp_err_radial_systolic_ms") == "188"
    assert display_value(-0.001, "vel_mae_myo_cm_s") == "0.00"  # no negative zero
    assert display_value(6, "n_slices") == "6" and display_value(np.int64(6), "n_slices") == "6"
    assert display_value(123.456789, "other") == "123.5"
    assert display_value(math.nan, "mag_psnr_nonkey") == "n/a"
    assert display_value(math.nan, "mag_psnr_nonkey", missing="") == ""
    assert display_value(None, "fid") == "n/a"
    assert display_value("unavailable: not requested", "fid") == "unavailable: not requested"
    assert display_value(math.inf, "fid") == "inf"


def test_csv_keeps_full_precision() -> None:
    text = to_csv([{"mag_psnr_nonkey": 25.845678, "n": 3}], ["mag_psnr_nonkey", "n"])
    assert text.splitlines()[1] == "25.8457,3"


def test_parse_cell_returns_what_to_csv_wrote() -> None:
    assert parse_cell("6") == 6 and isinstance(parse_cell("6"), int)
    assert parse_cell("25.8457") == pytest.approx(25.8457)
    assert math.isnan(parse_cell("nan"))
    assert parse_cell("unavailable: x") == "unavailable: x"
    assert parse_cell("") == ""


def test_markdown_table_rounds_renames_and_escapes() -> None:
    rows = [
        {"method": "hdl", "mag_psnr_nonkey": 25.8457, "myo_dice_nonkey": 0.97749, "note": "a|b"},
        {"method": "baseline", "mag_psnr_nonkey": 24.4, "myo_dice_nonkey": math.nan, "note": ""},
    ]
    text = to_markdown(rows, ["method", "mag_psnr_nonkey", "myo_dice_nonkey", "note"], {"mag_psnr_nonkey": "PSNR"})
    assert text.splitlines() == [
        "| method | PSNR | myo_dice_nonkey | note |",
        "| --- | --- | --- | --- |",
        "| hdl | 25.85 | 0.977 | a\\|b |",
        "| baseline | 24.40 |  |  |",
    ]


def test_command_prints_a_metrics_csv_as_markdown(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text(
        to_csv(
            [{"method": "hdl", "psnr": 25.845678, "ssim": 0.66349, "n_frames": 40}],
            ["method", "psnr", "ssim", "n_frames"],
        )
    )
    assert main([str(path), "--columns", "method", "psnr", "--rename", "psnr=PSNR (dB)"]) == 0
    assert capsys.readouterr().out == "| method | PSNR (dB) |\n| --- | --- |\n| hdl | 25.85 |\n"
    assert main([str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[2] == "| hdl | 25.85 | 0.663 | 40 |"
    assert main([str(path), "--columns", "nope"]) == 2
    assert "no column(s) ['nope']" in capsys.readouterr().err
    assert main([str(path), "--rename", "psnr"]) == 2
    assert "old=new" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.csv")]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_command_shows_the_regional_columns_for_a_cohort_with_patients_and_marks_small_intervals(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Patients in the cohort: segment-peak r, AUC (and its interval) and dyssynchrony by default; an interval
    over fewer than 5 subjects reads n<5, not an interval equal to the estimate."""
    columns = ["method", "n_slices", "cohort", "n_subjects", "vel_mae_myo_cm_s", "seg_peak_radial_systolic_r",
               "detect_auc", "detect_auc_ci_low", "detect_auc_ci_high", "dyssync_err_ms", "hypo_ratio"]  # fmt: skip
    row = {"n_slices": 9, "vel_mae_myo_cm_s": 1.23456, "seg_peak_radial_systolic_r": 0.81234, "detect_auc": 0.87654,
           "detect_auc_ci_low": 0.87654, "detect_auc_ci_high": 0.87654, "dyssync_err_ms": 12.4, "hypo_ratio": 0.5}
    rows = [{**row, "method": "hdl", "cohort": "all", "n_subjects": 3},
            {**row, "method": "hdl (patients)", "cohort": "patients", "n_subjects": 2}]  # fmt: skip
    path = tmp_path / "metrics.csv"
    path.write_text(to_csv(rows, columns))
    assert main([str(path), "--ids"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("| method | n_slices | vel_mae_myo_cm_s | seg_peak_radial_systolic_r | detect_auc | "
                        "detect_auc_ci_low | detect_auc_ci_high | dyssync_err_ms |")  # fmt: skip
    assert lines[2] == "| hdl | 9 | 1.23 | 0.812 | 0.877 | n<5 | n<5 | 12 |"
    healthy_only = tmp_path / "healthy.csv"
    healthy_only.write_text(to_csv([{**rows[0], "n_subjects": 20}], columns))
    assert main([str(healthy_only), "--ids", "--all"]) == 0
    assert "| 0.877 | 0.877 | 0.877 | 12 | 0.500 |" in capsys.readouterr().out
    assert main([str(healthy_only), "--ids"]) == 0
    assert "detect_auc" not in capsys.readouterr().out  # no patients: the headline columns only


def test_a_chain_table_leads_with_the_error_against_the_truth() -> None:
    """The chain's columns name the truth's error before the acquired phase's, so every table made from
    them (the CSV, the pages, this command's default) leads with it."""
    columns = metric_columns()
    assert columns.index("vel_mae_myo_true_cm_s") < columns.index("vel_mae_myo_cm_s")
    shown = key_columns(["method", *columns])
    assert shown.index("vel_mae_myo_true_cm_s") < shown.index("vel_mae_myo_cm_s")
