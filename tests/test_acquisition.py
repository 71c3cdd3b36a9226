"""A cohort's acquisition ranges (data/acquisition.py), what the shipped model card states of them, and the
one warning for subjects outside them."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest

from data.acquisition import acquisition_ranges, outside_training, warn_outside_training
from data.splits import list_subjects
from models.loading import PRETRAINED_DIR, card_training_acquisition


def _respace(path: Path, factor: float) -> None:
    with h5py.File(path, "a") as f:
        for group in f.values():
            group.attrs["pixel_spacing_mm"] = group.attrs["pixel_spacing_mm"] * factor


def test_ranges_of_a_cohort_and_what_lies_outside(tiny_cohort: Path) -> None:
    ranges = acquisition_ranges(list_subjects(tiny_cohort).values())
    assert set(ranges) == {"pixel_spacing_mm", "n_frames", "rr_interval_ms", "venc_inplane_cm_s", "venc_through_cm_s"}
    assert ranges["n_frames"] == [24, 24] and all(lo <= hi for lo, hi in ranges.values())
    assert outside_training(ranges, ranges) == []
    seen = {**ranges, "pixel_spacing_mm": [2.0, 2.0], "n_frames": [30, 30]}
    trained = {**ranges, "pixel_spacing_mm": [1.4, 1.6]}
    assert outside_training(trained, seen) == [
        "pixel spacing 2.00 mm is outside the training range 1.40-1.60 mm",
        "frame count 30 is outside the training's 24",
    ]
    # A few per cent off is rounding, not a scan unlike the training data.
    assert outside_training(trained, {"pixel_spacing_mm": [1.39, 1.62]}) == []


def test_the_shipped_card_states_the_training_ranges_and_a_coarse_scan_is_said_once(
    tiny_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    shipped = {stage: card_training_acquisition(PRETRAINED_DIR, stage) for stage in ("interp", "phase")}
    assert shipped["phase"]["pixel_spacing_mm"] == [1.406, 1.5625] and shipped["interp"]["n_frames"] == [50, 50]
    paths = []
    for path in list(list_subjects(tiny_cohort).values())[:2]:
        paths.append(tmp_path / path.name)
        paths[-1].write_bytes(path.read_bytes())
        _respace(paths[-1], 2.0 / h5py.File(path, "r")["mid"].attrs["pixel_spacing_mm"][0])
    line = warn_outside_training({"stage 1": shipped["interp"], "stage 2": shipped["phase"], "run x": None}, paths)
    assert capsys.readouterr().out.splitlines() == [line]
    assert line.startswith(
        "warning: pixel spacing 2.00 mm is outside the training range 1.41-1.56 mm, frame count 24 is outside the "
        "training's 50 (weights of stage 1 and stage 2): "
    ), line
    assert warn_outside_training({"run x": None}, paths) == "" and capsys.readouterr().out == ""
