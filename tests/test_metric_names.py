"""Metric columns named for people: names, units and directions by rule, the pages' metrics table (ties,
headline vs all, how to read) and the markdown command's default and --all views."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from assessment.metric_names import GROUP_NOTES, HIGHER, LOWER, ZERO, best_indices, describe, key_columns
from assessment.report.html import data_table, metrics_table
from assessment.report.table import summary_columns
from assessment.tables import main, to_csv


@pytest.mark.parametrize(
    ("column", "header", "better", "group"),
    [
        ("mag_psnr_nonkey", "magnitude PSNR (dB)", HIGHER, "Magnitude (non-key frames)"),
        ("myo_dice_nonkey", "myocardium Dice", HIGHER, "Myocardium (non-key frames)"),
        ("vel_psnr_x", "vx PSNR, whole image (dB)", HIGHER, "Velocity maps"),
        ("vel_ssim_tissue_z", "vz SSIM, tissue", HIGHER, "Velocity maps"),
        ("vel_mae_myo_true_cm_s", "velocity error (MAE), vs truth (cm/s)", LOWER, "Velocity error"),
        ("vel_skill", "velocity skill", HIGHER, "Velocity error"),
        ("curve_circumferential_r", "circumferential curve r", HIGHER, "Velocity curves"),
        ("curve_radial_rmse_cm_s", "radial curve RMSE (cm/s)", LOWER, "Velocity curves"),
        ("peak_err_longitudinal_e_prime_cm_s", "longitudinal E' peak error (cm/s)", LOWER, "Peaks"),
        ("ttp_err_circumferential_a_prime_ms", "circumferential A' time-to-peak error (ms)", LOWER, "Peaks"),
        ("ttp_err_mean_frames", "time-to-peak error, mean of 9 peaks (frames)", LOWER, "Peaks"),
        ("psnr_fg", "magnitude PSNR, tissue (dB)", HIGHER, "Magnitude (non-key frames)"),
        ("vel_psnr_tissue_y", "vy PSNR, tissue (dB)", HIGHER, "Velocity maps"),
        ("vel_mae_myo_cm_s", "velocity error (MAE), vs acquired (cm/s)", LOWER, "Velocity error"),
        ("vel_hp_std_tissue_cm_s", "tissue texture (high-pass SD) (cm/s)", None, "Realism"),
        ("vel_bg_std_cm_s", "background SD (cm/s)", None, "Realism"),
        # columns the rules were not written for get a name from their parts
        ("segment_peak_r", "segment peak r", HIGHER, "Regional function"),
        ("segment_peak_err_cm_s", "segment peak error (cm/s)", LOWER, "Regional function"),
        ("dyssynchrony_index_ms", "dyssynchrony index (ms)", None, "Regional function"),
        ("dyssynchrony_index_err_ms", "dyssynchrony index error (ms)", LOWER, "Regional function"),
        ("detection_auc", "detection AUC", HIGHER, "Regional function"),
        ("circ_r_basal", "circumferential r basal", HIGHER, "Regional function"),
        ("peak_bias_cm_s", "peak bias (cm/s)", ZERO, "Peaks"),
        ("vel_mae_myo_true_cm_s_ci_low", "velocity error (MAE), vs truth, 95% CI low (cm/s)", None, "Velocity error"),
    ],
)
def test_names_units_and_directions(column: str, header: str, better: str | None, group: str) -> None:
    name = describe(column)
    assert (name.header, name.better, name.group) == (header, better, group)
    assert group in GROUP_NOTES


def test_every_chain_column_has_a_name_other_than_its_identifier() -> None:
    for column in summary_columns():
        if column in ("method", "description", "fid"):
            continue
        name = describe(column)
        assert "_" not in name.name, (column, name.name)
        assert name.group != "Other", column


def test_best_indices_mark_ties_alike() -> None:
    assert best_indices([0.966, 0.950, 0.966, "n/a"], HIGHER) == {0, 2}
    assert best_indices([1.2, 0.7, 0.7], LOWER) == {1, 2}
    assert best_indices([-0.3, 0.3, 1.0], ZERO) == {0, 1}
    assert best_indices([2.0, 2.0], LOWER) == set()  # nothing is better when all are equal
    assert best_indices([1.0, 2.0], None) == set()


ROWS = [
    {"method": "hdl", "description": "twin", "n_slices": 6, "mag_psnr_nonkey": 24.391, "myo_dice_nonkey": 0.966,
     "vel_psnr_x": 27.1, "vel_mae_myo_true_cm_s": 0.51, "ttp_err_circumferential_a_prime_ms": 40.0},
    {"method": "zero", "description": "still heart", "n_slices": 6, "mag_psnr_nonkey": 24.394,
     "myo_dice_nonkey": 0.966, "vel_psnr_x": 29.5, "vel_mae_myo_true_cm_s": 1.12,
     "ttp_err_circumferential_a_prime_ms": 120.0},
    {"method": "baseline", "description": "linear", "n_slices": 6, "mag_psnr_nonkey": 23.58, "myo_dice_nonkey": 0.948,
     "vel_psnr_x": 27.0, "vel_mae_myo_true_cm_s": 0.56, "ttp_err_circumferential_a_prime_ms": 40.0},
]  # fmt: skip
COLUMNS = list(ROWS[0])


def _cells(html_text: str, header: str) -> list[tuple[str, str]]:
    """(class, text) of the value cells of the first row headed ``header``."""
    row = re.search(
        rf'<td class="metric"[^>]*>{re.escape(header)}</td><td class="better">[^<]*</td>(.*?)</tr>', html_text
    )
    assert row, header
    return re.findall(r'<td class="([^"]*)">([^<]*)</td>', row.group(1))


def test_metrics_table_names_rows_marks_ties_and_explains() -> None:
    text = metrics_table(ROWS, COLUMNS)
    headline, _, full = text.partition("<details>")
    visible = re.sub(r"<[^>]+>", " ", headline)
    assert "magnitude PSNR (dB)" in visible and "myocardium Dice" in visible
    assert "ttp_err" not in visible and "mag_psnr_nonkey" not in visible
    # 24.391 and 24.394 both show as 24.39: a tie, marked alike; the equal Dice values too
    assert _cells(headline, "magnitude PSNR (dB)") == [("best", "24.39"), ("best", "24.39"), ("", "23.58")]
    assert _cells(headline, "myocardium Dice") == [("best", "0.966"), ("best", "0.966"), ("", "0.948")]
    assert _cells(full, "circumferential A&#x27; time-to-peak error (ms)") == [
        ("best", "40"),
        ("", "120"),
        ("best", "40"),
    ]
    # whole-image velocity PSNR (where zero wins) is not a headline, and its group says why
    assert "vx PSNR, whole image" not in headline and "vx PSNR, whole image (dB)" in full
    assert "a map of zeros can score above the twin" in full
    for group in ("Magnitude (non-key frames)", "Velocity error", "Peaks"):
        assert html.escape(GROUP_NOTES[group])[:40] in text


def test_markdown_command_shows_headline_columns_and_all_on_request(tmp_path: Path, capsys) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text(to_csv(ROWS, COLUMNS))
    assert main([str(path)]) == 0
    default = capsys.readouterr().out.splitlines()
    assert default[0] == (
        "| method | slices scored | magnitude PSNR (dB) | myocardium Dice | velocity error (MAE), vs truth (cm/s) |"
    )
    assert default[2] == "| hdl | 6 | 24.39 | 0.966 | 0.51 |"
    assert main([str(path), "--all"]) == 0
    full = capsys.readouterr().out.splitlines()
    assert full[0].count("|") - 1 == len(COLUMNS) == 8 and "description" in full[0]
    assert main([str(path), "--all", "--ids"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "| " + " | ".join(COLUMNS) + " |"
    assert main([str(path), "--all", "--columns", "method"]) == 2
    assert key_columns(COLUMNS) == ["method", "n_slices", "mag_psnr_nonkey", "myo_dice_nonkey", "vel_mae_myo_true_cm_s"]


def test_data_table_heads_metric_columns_with_their_names() -> None:
    text = data_table(ROWS[:1], ["method", "n_slices", "vel_mae_myo_true_cm_s"], headers={"method": "Method"})
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", text)
    assert heads == ["Method", "slices scored", "velocity error (MAE), vs truth (cm/s)"]
    assert 'title="vel_mae_myo_true_cm_s"' in text  # the CSV name stays at hand
