"""scripts.compare_precision: the curve comparison and its verdict, and one bf16-vs-fp32 run on the CPU."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from scripts import compare_precision as cp


def test_window_means_and_relative_deviation() -> None:
    assert cp.window_means([1, 2, 3, 4, 5, 6, 7], 3) == [2.0, 5.0]
    assert cp.window_means([1, 2], 5) == [1.5]
    assert cp.max_relative_deviation([1.0, 2.2], [1.0, 2.0]) == pytest.approx(0.1)
    # Terms near zero are compared against a floor, not divided by ~0.
    assert cp.max_relative_deviation([1e-6], [0.0]) == pytest.approx(1e-3)
    assert cp.max_relative_deviation([float("nan")], [1.0]) == math.inf
    assert cp.max_relative_deviation([], [1.0]) == math.inf


def test_deviations_flag_a_curve_that_broke_off() -> None:
    ref = cp.Curves(train={"G_total": [1.0] * 10}, val={"dice": [0.8, 0.9]})
    same = cp.Curves(train={"G_total": [1.0] * 10}, val={"dice": [0.8, 0.9]})
    short = cp.Curves(train={"G_total": [1.0] * 4}, val={"dice": [0.8]})
    assert cp.deviations(same, ref, window=2) == {"train/G_total": 0.0, "val/dice": 0.0}
    assert cp.deviations(short, ref, window=2) == {"train/G_total": math.inf, "val/dice": math.inf}


def test_verdict_accepts_the_tolerance_or_the_seed_spread() -> None:
    dev = {"train/G_gan": 0.25, "train/G_l1": 0.05}
    ok, failing = cp.verdict(dev, None, tolerance=0.10)
    assert not ok and failing == ["train/G_gan"]
    # Two fp32 seeds differ by 30% on the adversarial term: 25% is within training's own spread.
    assert cp.verdict(dev, {"train/G_gan": 0.30, "train/G_l1": 0.01}, 0.10) == (True, [])
    assert cp.verdict({"train/G_l1": math.inf}, {"train/G_l1": math.inf}, 0.10) == (False, ["train/G_l1"])


def test_bf16_phase_training_matches_fp32_on_the_cpu(tiny_cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "precision"
    args = ["--dataroot", str(tiny_cohort), "--out", str(out), "--gpu", "-1", "--quick", "--stages", "phase"]
    args += ["--variants", "bf16", "--epochs", "2", "--steps_per_epoch", "6", "--val_batches", "1", "--workers", "0"]
    status = cp.main(args)
    report = json.loads((out / "precision_report.json").read_text())
    phase = report["stages"]["phase"]
    assert set(phase) == {"fp32", "fp32_seed", "bf16"} and all(r["finished"] for r in phase.values())
    dev = phase["bf16"]["deviation"]
    assert {"train/G_l1_tissue", "train/D_real", "val/vel_mae_myo_cm_s"} <= set(dev)
    # Same seed, same data: bf16 autocast moves the L1 terms by a few percent at most.
    assert dev["train/G_l1_tissue"] < 0.1 and dev["val/vel_mae_myo_cm_s"] < 0.1
    assert status == (0 if phase["bf16"]["matches"] else 1) and phase["bf16"]["matches"]


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        cp.parse_args(["--dataroot", str(tmp_path / "missing"), "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        cp.parse_args(["--dataroot", str(tmp_path), "--out", str(tmp_path), "--window", "0"])
