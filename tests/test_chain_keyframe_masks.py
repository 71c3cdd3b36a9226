"""The chain on a DICOM subject whose masks are on its key frames only, and a twin's DICOM round trip.

A ring subject (``test_report.ring_subject``) keeps its myocardium on the key frames only, is written as
DICOM with SEG masks (``data.scanner.export_dicom --seg``), imported with ``data.scanner.import_dicom --myocardium`` on
that folder, and run through the chain (small untrained stages) and the report. Then the HDL twin is
exported with its masks and imported again.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from test_report import FACTOR, T_FRAMES, ring_subject, tiny_predictors

from assessment.report.builder import ReportBuilder
from assessment.report.slice_metrics import slice_metrics
from data.keyframes import key_frames_of
from data.mvm_io import Subject, read_subject, write_subject
from data.scanner.export_dicom import export_dicom
from data.scanner.import_dicom import import_dicom
from data.scanner.import_dicom import main as import_main
from data.scanner.masks import attach_masks, read_masks
from util.errors import DataError

KEYS = list(range(0, T_FRAMES, FACTOR))  # 0, 3, 6, 9


def quiet(_msg: str) -> None:
    pass


def keyframe_masked(subject: Subject) -> Subject:
    for s in subject.slices.values():
        off = [t for t in range(T_FRAMES) if t not in KEYS]
        s.myocardium[off] = 0
        s.labelled_frames = np.asarray(KEYS)
    return subject


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Subject:
    """The ring subject through DICOM + SEG (key frames only) and back, as import_dicom's CLI writes it."""
    root = tmp_path_factory.mktemp("keyseg")
    export_dicom(keyframe_masked(ring_subject("ring01")), root / "dicom", log=quiet, synthetic=False, seg=True)
    assert sorted(p.name for p in (root / "dicom").glob("*_seg")) == ["01_basal_seg", "02_mid_seg", "03_apical_seg"]
    code = import_main([str(root / "dicom"), str(root / "ring01.h5"), "--myocardium", str(root / "dicom")])
    assert code == 0
    return read_subject(root / "ring01.h5", require_velocity=False)


@pytest.fixture(scope="module")
def chain(imported: Subject, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Subject], Path]:
    out = tmp_path_factory.mktemp("chain")
    predictors = tiny_predictors()
    twins = {m: p.predict_subject(imported, FACTOR) for m, p in predictors.items()}
    builder = ReportBuilder(out, {"hdl": "the chain", "baseline": "linear"}, FACTOR, info={"data": "rings"})
    builder.add_subject(imported, twins)
    builder.finish()
    return twins, out


def test_seg_on_key_frames_comes_back_as_labelled_frames(imported: Subject) -> None:
    truth = keyframe_masked(ring_subject("ring01"))
    for name, s in imported.slices.items():
        assert s.labelled_frames.tolist() == KEYS and s.attrs["mask_source"] == "imported"
        np.testing.assert_array_equal(s.myocardium, truth.slices[name].myocardium)


def test_key_frames_must_be_labelled(imported: Subject) -> None:
    s = imported.slices["mid"]
    assert key_frames_of(s, FACTOR).frames == tuple(KEYS)
    assert key_frames_of(s, None).frames == tuple(KEYS)  # the factor the labelled frames fit
    with pytest.raises(DataError) as info:
        key_frames_of(s, 4)
    message = str(info.value)
    assert "\n" not in message
    assert "key frames [4, 8] (factor 4) have no masks" in message and "fit --factor 3" in message


def test_twins_have_masks_on_every_frame(chain, imported: Subject, tmp_path: Path) -> None:
    twins, _ = chain
    for method, twin in twins.items():
        for name, s in twin.slices.items():
            assert s.labelled_frames is None, (method, name)
            np.testing.assert_array_equal(s.myocardium[KEYS], imported.slices[name].myocardium[KEYS])
            assert np.all(np.isfinite(s.velocity))
        write_subject(tmp_path / f"{method}.h5", twin)  # validates: masks on unlabelled frames would fail


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_metrics_use_the_labelled_frames_only(chain) -> None:
    _, out = chain
    rows = read_rows(out / "metrics_per_slice.csv")
    assert len(rows) == 6
    for r in rows:
        for finite in ("mag_psnr_nonkey", "vel_psnr_x", "vel_mae_myo_cm_s", "curve_radial_rmse_cm_s"):
            assert math.isfinite(float(r[finite])), (finite, r)
        for undefined in ("myo_dice_nonkey", "peak_err_radial_systolic_cm_s", "ttp_err_longitudinal_systolic_ms"):
            assert math.isnan(float(r[undefined])), (undefined, r)


def test_myocardial_error_by_hand(chain, imported: Subject) -> None:
    """vel_mae_myo_cm_s: mean |twin - acquired| over the 3 components of the labelled frames' myocardium."""
    twins, _ = chain
    real, synth = imported.slices["mid"], twins["baseline"].slices["mid"]
    is_key = np.isin(np.arange(T_FRAMES), KEYS)
    row = slice_metrics(real, synth, is_key, float(synth.attrs["magnitude_scale"]), None, None)
    errors = []
    for t in KEYS:
        inside = real.myocardium[t] != 0
        for c in range(3):
            errors.extend(np.abs(synth.velocity[t, c][inside] - real.velocity[t, c][inside]).tolist())
    assert row["vel_mae_myo_cm_s"] == pytest.approx(float(np.mean(errors)), rel=1e-5)
    assert math.isnan(row["myo_dice_nonkey"])


def test_twin_round_trip_through_dicom_with_masks(chain, tmp_path: Path) -> None:
    """The HDL twin -> DICOM + SEG -> import: same data within a stored step, same masks, still synthetic."""
    twins, _ = chain
    twin = twins["hdl"]
    out = export_dicom(twin, tmp_path / "twin", log=quiet, seg=True)
    again = import_dicom(out, log=quiet)
    attach_masks(again, read_masks({"myocardium": out}, again), source="imported", log=quiet)
    assert list(again.slices) == list(twin.slices)
    for name, s in twin.slices.items():
        back = again.slices[name]
        assert back.labelled_frames is None
        np.testing.assert_array_equal(back.myocardium, s.myocardium)
        venc = np.asarray(s.venc_cm_s, dtype=np.float64)
        err = np.abs(back.velocity.astype(np.float64) - s.velocity).max(axis=(0, 2, 3))
        assert np.all(err <= 2 * venc / 4096 + 1e-5), err
        mag_step = (float(s.magnitude.max()) - min(0.0, float(s.magnitude.min()))) / 4095
        assert np.abs(back.magnitude - s.magnitude).max() <= mag_step / 2 * (1 + 1e-6) + 1e-6
        assert back.attrs["synthesised_by"] == "hdl"
        assert back.attrs["dicom_image_type"].startswith("DERIVED\\SECONDARY")
    again_out = export_dicom(again, tmp_path / "again", log=quiet)  # still exported as a twin
    first = next(again_out.rglob("IM_0001.dcm"))
    from pydicom import dcmread

    assert list(dcmread(first).ImageType)[:2] == ["DERIVED", "SECONDARY"]
