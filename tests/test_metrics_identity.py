"""Reported metrics of a perfect twin: the acquired data fed back as the synthesised data.

Every score must then be at its ideal value (PSNR inf, SSIM 1, Dice 1, errors 0, curve r 1, peak and
time-to-peak errors 0), and the non-key magnitude scores must stay ideal when only the key frames are
spoilt (and stop being ideal when a non-key frame is): a key / non-key mix-up fails. Scores are those of
the chained report (assessment/report/slice_metrics.py), the phase evaluation
(models/phase/evaluation.py) and the interpolation evaluation (models/interp/evaluation.py).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from assessment.analysis import analyse_slice
from assessment.report.slice_metrics import slice_metrics
from data.cycle import key_frame_grid
from data.mvm_io import read_subject
from data.splits import list_subjects
from models.interp.evaluation import score_cine, score_frame
from models.interp.inference import linear_cine
from models.phase.evaluation import fidelity, realism
from util.intensity import magnitude_scale, normalise_magnitude
from util.tissue import tissue_mask_from_magnitude

FACTOR = 4


@pytest.fixture(scope="module")
def acquired(tiny_cohort: Path):
    return read_subject(next(iter(list_subjects(tiny_cohort).values())), require_velocity=True).slices["mid"]


def keys_of(s) -> tuple[list[int], np.ndarray, float]:
    keys = key_frame_grid(s.num_frames, FACTOR)
    is_key = np.zeros(s.num_frames, bool)
    is_key[keys] = True
    return keys, is_key, magnitude_scale(s.magnitude[keys])


def assert_ideal(row: dict[str, float], skip: tuple[str, ...] = ()) -> None:
    for name, value in row.items():
        if name in skip:
            continue
        if "psnr" in name:
            assert value == math.inf, name
        elif "ssim" in name or "dice" in name or name.endswith("_r"):
            assert value == pytest.approx(1.0, abs=1e-12), name
        else:  # errors
            assert value == pytest.approx(0.0, abs=1e-9), name


# ------------------------------------------------------------------------------------------ chained report


def test_report_of_the_acquired_slice_against_itself_is_ideal(acquired) -> None:
    _, is_key, scale = keys_of(acquired)
    real_analysis = analyse_slice(acquired)
    twin = replace(acquired, rv_blood=None, velocity_true=None)  # a twin has neither
    twin_analysis = analyse_slice(twin, septum_deg=real_analysis.septum_deg)
    row = slice_metrics(acquired, twin, is_key, scale, real_analysis, twin_analysis)
    # stage 2's correction of its prior compares the twin with no reference: the report builder fills it
    # from the twin's attributes, and slice_metrics leaves it n/a
    assert math.isnan(row.pop("correction_myo_cm_s"))
    assert not any(math.isnan(v) for v in row.values())
    assert_ideal(row, skip=("vel_mae_myo_true_cm_s",))
    # Against the phantom's truth the measured velocity scores its own noise, computed here directly.
    myo = np.broadcast_to((acquired.myocardium != 0)[:, None], acquired.velocity.shape)
    expected = np.abs(acquired.velocity.astype(np.float64) - acquired.velocity_true)[myo].mean()
    assert row["vel_mae_myo_true_cm_s"] == pytest.approx(float(expected), rel=1e-9)


def test_report_scores_non_key_frames_only_for_the_magnitude(acquired) -> None:
    keys, is_key, scale = keys_of(acquired)
    spoilt_keys = acquired.magnitude.copy()
    spoilt_keys[keys] = spoilt_keys[keys][:, ::-1]  # key frames upside down: they are not scored
    masks = acquired.myocardium.copy()
    masks[keys] = 0
    twin = replace(acquired, magnitude=spoilt_keys, myocardium=masks)
    row = slice_metrics(acquired, twin, is_key, scale, None, None)
    for name in ("mag_psnr_nonkey", "mag_psnr_tissue_nonkey"):
        assert row[name] == math.inf, name
    assert row["mag_ssim_nonkey"] == pytest.approx(1.0) and row["myo_dice_nonkey"] == pytest.approx(1.0)

    spoilt_non_keys = acquired.magnitude.copy()
    spoilt_non_keys[~is_key] *= 0.5  # (one spoilt frame among perfect ones would still average to inf)
    row = slice_metrics(acquired, replace(acquired, magnitude=spoilt_non_keys), is_key, scale, None, None)
    assert math.isfinite(row["mag_psnr_nonkey"]) and row["mag_ssim_nonkey"] < 1.0


# ------------------------------------------------------------------------------------------- phase stage


def test_phase_fidelity_of_the_measured_maps_is_ideal(acquired) -> None:
    venc = np.asarray(acquired.venc_cm_s, np.float64)
    ref = acquired.velocity / venc[None, :, None, None]
    tissue = np.asarray(tissue_mask_from_magnitude(normalise_magnitude(acquired.magnitude)), bool)
    myo = acquired.myocardium != 0
    assert_ideal(fidelity(ref, ref, tissue, myo, venc))
    # The tissue-only columns look at the tissue only: noise on the background spoils the others.
    pred = ref.copy()
    background = np.broadcast_to(~tissue[:, None], pred.shape)
    pred[background] = np.random.default_rng(0).uniform(-1, 1, int(background.sum()))
    out = fidelity(pred, ref, tissue, myo, venc)
    for d in ("x", "y", "z"):
        assert out[f"vel_psnr_tissue_{d}"] == math.inf and math.isfinite(out[f"vel_psnr_{d}"])
        assert out[f"vel_ssim_{d}"] < 0.9
    assert out["vel_mae_myo_cm_s"] == 0.0


def test_phase_realism_statistics_by_hand() -> None:
    # Tissue: a 24 x 24 square moving rigidly (constant velocity, no texture: high-pass std 0);
    # background: uniform over [-VENC, VENC) whose std is VENC / sqrt(3).
    rng = np.random.default_rng(1)
    venc = np.array([100.0, 120.0, 150.0])
    tissue = np.zeros((4, 64, 64), bool)
    tissue[:, 20:44, 20:44] = True
    velocity = rng.uniform(-1, 1, (4, 3, 64, 64))
    velocity[np.broadcast_to(tissue[:, None], velocity.shape)] = 0.3
    stats = realism(velocity, tissue, venc)
    assert stats["vel_hp_std_tissue_cm_s"] == pytest.approx(0.0, abs=1e-9)
    assert stats["vel_bg_std_cm_s"] == pytest.approx(float(np.mean(venc)) / math.sqrt(3), rel=0.03)


# ------------------------------------------------------------------------------------------ interp stage


def test_interp_scores_of_the_true_frames_are_ideal(acquired) -> None:
    keys, is_key, _ = keys_of(acquired)
    rec = linear_cine(acquired.magnitude[keys], acquired.myocardium[keys], keys, acquired.num_frames)
    perfect = replace(
        rec,
        unit=np.clip(acquired.magnitude / rec.scale, 0, 1).astype(np.float32),
        myocardium=acquired.myocardium.copy(),
    )
    scores = score_cine(perfect, acquired.magnitude, acquired.myocardium)
    assert scores.n_frames == int((~is_key).sum())
    summary = scores.summary()
    assert_ideal({k: v for k, v in summary.items() if k != "n_frames"})
    # Spoiling the key frames of the reconstruction changes nothing: they are not scored.
    perfect.unit[keys] = 0.0
    perfect.myocardium[keys] = 0
    assert_ideal(
        {
            k: v
            for k, v in score_cine(perfect, acquired.magnitude, acquired.myocardium).summary().items()
            if k != "n_frames"
        }
    )
    # The linear baseline is not perfect on a beating heart.
    assert score_cine(rec, acquired.magnitude, acquired.myocardium).summary()["dice"] < 1.0


def test_score_frame_of_identical_frames() -> None:
    rng = np.random.default_rng(2)
    unit = rng.random((16, 16))
    mask = (rng.random((16, 16)) > 0.5).astype(np.uint8)
    assert_ideal(score_frame(unit, mask, unit, mask))
