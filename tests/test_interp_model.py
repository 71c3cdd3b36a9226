"""Stage 1 (frame interpolation): the model's losses and metrics, its inference API, rebuilding a cine
from key frames, and train.py / test.py end to end on the tiny phantom cohort."""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import model_options

from models.interp.model import InterpModel, linear_blend, nearest_key_mask
from models.networks import NetworkConfigError

LOSS_TERMS = ("l1", "myo", "tissue", "dice", "bce")


def make_opt(*args: str) -> argparse.Namespace:
    return model_options("interp", "--base_channels", "8", "--depth", "2", "--time_dim", "16", *args)


def disk(size: int, centre: tuple[float, float], radius: float) -> torch.Tensor:
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return (((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) <= radius**2).float()


def moving_disk_batch(batch: int = 4, size: int = 32) -> dict[str, torch.Tensor]:
    """A bright disk moving right by 3/8 of the image between the key frames, the target in between."""
    alphas = torch.linspace(0.25, 0.75, batch)
    row, c0, c1, radius = size / 2, 0.3 * size, 0.675 * size, 0.16 * size
    keys, key_masks, targets, target_masks = [], [], [], []
    for a in alphas:
        c = c0 + (c1 - c0) * float(a)
        k0, k1, tg = disk(size, (row, c0), radius), disk(size, (row, c1), radius), disk(size, (row, c), radius)
        keys.append(torch.stack([k0, k1]) * 1.6 - 0.8)
        key_masks.append(torch.stack([k0, k1]))
        targets.append(tg[None] * 1.6 - 0.8)
        target_masks.append(tg[None])
    time = torch.stack([torch.stack([a, torch.tensor(0.1), torch.tensor(0.3), 0.1 + 0.2 * a]) for a in alphas])
    return {
        "key_magnitude": torch.stack(keys),
        "key_mask": torch.stack(key_masks),
        "target_magnitude": torch.stack(targets),
        "target_mask": torch.stack(target_masks),
        "target_tissue": torch.ones(batch, 1, size, size),
        "time": time,
    }


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


# ------------------------------------------------------------------------------------------ the model


@pytest.mark.parametrize("block", ["unet", "r2"])
def test_model_builds_and_predicts_with_both_blocks(block: str) -> None:
    model = InterpModel(make_opt("--block", block))
    batch = moving_disk_batch()
    model.set_input(batch)
    model.forward()
    assert model.pred_magnitude.shape == (4, 1, 32, 32)
    assert model.mask_logits.shape == (4, 1, 32, 32)
    assert model.pred_magnitude.abs().max() <= 1
    visuals = model.current_visuals()
    assert set(visuals) >= {"key0", "key1", "prediction", "target", "mask_prediction", "mask_target"}
    assert all(v.shape == (4, 1, 32, 32) and v.min() >= -1 and v.max() <= 1 for v in visuals.values())


def test_losses_are_finite_and_the_total_is_the_weighted_sum() -> None:
    batch = moving_disk_batch()
    base = InterpModel(make_opt())
    base.set_input(batch)
    with torch.no_grad():
        base.forward()
        terms = base.compute_losses("G")
    assert all(math.isfinite(float(terms[t])) and float(terms[t]) > 0 for t in LOSS_TERMS)
    # default weights: 1 for every term but BCE
    expected = sum(float(terms[t]) for t in LOSS_TERMS if t != "bce")
    assert float(terms["total"]) == pytest.approx(expected, rel=1e-5)
    state = base.netG.state_dict()
    for term in LOSS_TERMS:
        weights = [f"--lambda_{t}={2.0 if t == term else 0.0}" for t in LOSS_TERMS]
        model = InterpModel(make_opt(*weights))
        model.netG.load_state_dict(state)
        model.set_input(batch)
        with torch.no_grad():
            model.forward()
            total = float(model.compute_losses("G")["total"])
        # only this term counts, twice
        assert total == pytest.approx(2 * float(terms[term]), rel=1e-5)


def test_myocardial_loss_covers_the_dilated_border() -> None:
    """An error one pixel outside the target myocardium counts in the myocardial term only when dilated."""
    batch = moving_disk_batch(batch=1)
    ring = torch.nn.functional.max_pool2d(batch["target_mask"], 3, 1, 1) - batch["target_mask"]
    values = {}
    for dilation in (0, 2):
        model = InterpModel(make_opt(f"--myo_dilation={dilation}"))
        model.set_input(batch)
        model.pred_magnitude = batch["target_magnitude"] + 0.5 * ring
        model.mask_logits = torch.zeros_like(ring)
        values[dilation] = float(model.compute_losses("G")["myo"])
    assert values[0] == 0.0
    assert values[2] > 0.01


def test_negative_loss_weight_is_rejected() -> None:
    with pytest.raises(Exception, match="lambda_dice"):
        InterpModel(make_opt("--lambda_dice=-1"))


def test_size_must_be_divisible_by_two_to_the_depth() -> None:
    model = InterpModel(make_opt("--depth", "3"))
    batch = moving_disk_batch(size=36)
    with pytest.raises(NetworkConfigError, match=r"divisible by 2\*\*3"):
        model.interpolate(batch["key_magnitude"], batch["key_mask"], batch["time"])


def test_untrained_model_is_the_linear_blend_and_validation_reports_baselines() -> None:
    model = InterpModel(make_opt())
    model.eval()
    batch = moving_disk_batch()
    magnitude, probability = model.interpolate(batch["key_magnitude"], batch["key_mask"], batch["time"])
    blend = linear_blend(batch["key_magnitude"], batch["time"][:, 0])
    assert magnitude.shape == probability.shape == (4, 1, 32, 32)
    assert not magnitude.requires_grad
    torch.testing.assert_close(magnitude, blend, atol=1e-5, rtol=0)
    assert probability.min() >= 0 and probability.max() <= 1
    sums = model.validation_step(batch)
    assert float(sums["count"]) == 4
    assert float(sums["psnr"]) == pytest.approx(float(sums["psnr_linear"]), rel=1e-4)
    assert float(sums["psnr_fg"]) == pytest.approx(float(sums["psnr_fg_linear"]), rel=1e-4)
    assert 0 <= float(sums["dice"]) <= 4


def test_nearest_key_mask_takes_the_closer_key_frame() -> None:
    masks = torch.cat([torch.zeros(3, 1, 2, 2), torch.ones(3, 1, 2, 2)], dim=1)
    chosen = nearest_key_mask(masks, torch.tensor([0.2, 0.5, 0.8]))
    assert chosen[:, 0, 0, 0].tolist() == [0.0, 0.0, 1.0]


def test_overfits_one_batch() -> None:
    """A tiny network drives its loss on one batch down tenfold: the gradients reach every head."""
    model = InterpModel(make_opt("--no_residual_blend"))
    batch = moving_disk_batch(batch=2, size=16)
    optimizer = torch.optim.Adam(model.netG.parameters(), lr=1e-2)

    def step(group: str, loss: torch.Tensor) -> None:
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    model.set_input(batch)
    losses = []
    for _ in range(200):
        model.optimize_parameters(step)
        losses.append(float(model.current_losses()["G_total"]))
        if losses[-1] < losses[0] / 10:
            break
    assert losses[-1] < losses[0] / 10, f"loss went from {losses[0]:.3f} to {losses[-1]:.3f}"


# ------------------------------------------------------------------------------ rebuilding a cine


def test_cyclic_targets_wrap_around_the_cycle() -> None:
    from models.interp.inference import cyclic_targets

    assert cyclic_targets([0, 4, 8], 10) == [
        (1, 0, 4),
        (2, 0, 4),
        (3, 0, 4),
        (5, 4, 8),
        (6, 4, 8),
        (7, 4, 8),
        (9, 8, 10),
    ]
    # a first key frame after 0: the frames before it belong to the gap that wraps
    assert cyclic_targets([2, 5], 7) == [(3, 2, 5), (4, 2, 5), (6, 5, 9), (7, 5, 9), (8, 5, 9)]


def test_linear_cine_reproduces_a_linear_ramp_and_copies_key_frames() -> None:
    from models.interp.inference import linear_cine

    t_count, keys = 10, [0, 3, 6, 9]
    ramp = np.stack([np.full((8, 8), 10.0 + t, np.float32) for t in range(t_count)])
    ramp[:, 0, 0] = 100.0  # the scale (99.5th percentile of the key frames) stays above every value
    masks = np.zeros((t_count, 8, 8), np.uint8)
    for t in keys:
        masks[t, t // 3] = 1  # key frame t marks row t // 3
    rec = linear_cine(ramp[keys], masks[keys], keys, t_count)
    np.testing.assert_array_equal(rec.magnitude[keys], ramp[keys])
    np.testing.assert_allclose(rec.magnitude[1:9], ramp[1:9], rtol=1e-5)
    # frame 1 is nearer key 0, frame 2 nearer key 3; the wrap 9 -> 10 has no frame in between
    assert rec.myocardium[1].any(axis=1).tolist() == [True] + [False] * 7
    assert rec.myocardium[2].any(axis=1).tolist() == [False, True] + [False] * 6
    assert [t for t, _, _ in rec.targets] == [1, 2, 4, 5, 7, 8]


def test_interpolate_cine_pads_sizes_the_network_cannot_take() -> None:
    from models.interp.inference import interpolate_cine

    model = InterpModel(make_opt("--depth", "2"))
    model.eval()
    rng = np.random.default_rng(0)
    keys = [0, 4]
    mag = rng.uniform(0, 500, (2, 30, 22)).astype(np.float32)
    mask = (rng.random((2, 30, 22)) > 0.8).astype(np.uint8)
    rec = interpolate_cine(model, mag, mask, keys, 8, batch_size=4)
    assert rec.magnitude.shape == (8, 30, 22) and rec.myocardium.dtype == np.uint8
    np.testing.assert_array_equal(rec.magnitude[keys], mag)
    assert np.isfinite(rec.magnitude).all() and (rec.magnitude >= 0).all()
    assert set(np.unique(rec.myocardium)) <= {0, 1}


def test_frame_scores_agree_with_scikit_image() -> None:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from models.interp.evaluation import score_frame

    rng = np.random.default_rng(1)
    truth = rng.uniform(0, 1, (40, 40))
    pred = np.clip(truth + rng.normal(0, 0.05, truth.shape), 0, 1)
    mask = np.zeros((40, 40), np.uint8)
    mask[10:20, 10:20] = 1
    scores = score_frame(pred, mask, truth, mask)
    assert scores["psnr"] == pytest.approx(peak_signal_noise_ratio(truth, pred, data_range=1.0), rel=1e-9)
    assert scores["ssim"] == pytest.approx(structural_similarity(truth, pred, data_range=1.0), rel=1e-9)
    assert scores["dice"] == 1.0
    assert math.isfinite(scores["psnr_fg"]) and math.isfinite(scores["ssim_fg"])


# ------------------------------------------------------------------------------------- end to end


def read_metrics(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_train_then_test_end_to_end(tiny_cohort: Path, tmp_path: Path) -> None:
    import test as test_script
    import train as train_script
    from data.cycle import key_frame_grid
    from data.mvm_io import read_subject

    ckpt, results = tmp_path / "ckpt", tmp_path / "results"
    common = ["--model", "interp", "--dataroot", str(tiny_cohort), "--name", "tiny", "--gpu", "-1"]
    common += ["--checkpoints_dir", str(ckpt), "--batch_size", "4", "--num_workers", "0", "--no_progress"]
    summary = train_script.main(
        [*common, "--n_epochs", "1", "--steps_per_epoch", "3", "--base_channels", "8", "--depth", "3"]
    )
    assert summary["steps"] == 3
    run = ckpt / "tiny"
    for name in ("latest.pt", "best.pt", "weights.pt", "opt_train.json", "loss_log.csv"):
        assert (run / name).is_file(), name

    factor = 5  # does not divide the 24 frames: the last gap (21..23) wraps to frame 0
    rows = test_script.main([*common, "--results_dir", str(results), "--factor", str(factor)])
    out = results / "tiny" / "interp"
    table = read_metrics(out / "metrics.csv")
    assert list(table[0]) == ["method", "psnr", "psnr_fg", "ssim", "ssim_fg", "dice", "n_frames"]
    assert [r["method"] for r in table] == ["hdl_interp", "linear", "fourier"]
    n_expected = 3 * (24 - len(key_frame_grid(24, factor)))  # one test subject, 3 slices
    for r in table:
        assert all(math.isfinite(float(r[c])) for c in ("psnr", "psnr_fg", "ssim", "ssim_fg", "dice"))
        assert int(r["n_frames"]) == n_expected
        assert 0 <= float(r["dice"]) <= 1 and float(r["ssim"]) <= 1
    assert rows["hdl_interp"]["psnr"] == pytest.approx(float(table[0]["psnr"]), rel=1e-5)
    assert (out / "metrics_per_slice.csv").is_file()

    files = sorted((out / "subjects").glob("*.h5"))
    assert len(files) == 1
    written = read_subject(files[0], require_velocity=False)
    original = read_subject(tiny_cohort / files[0].name)
    keys = key_frame_grid(24, factor)
    for name, s in written.slices.items():
        ref = original.slices[name]
        assert s.magnitude.shape == ref.magnitude.shape == (24, 64, 64)
        np.testing.assert_array_equal(s.magnitude[keys], ref.magnitude[keys])
        np.testing.assert_array_equal(s.myocardium[keys], ref.myocardium[keys])
        assert not np.array_equal(s.magnitude[1], ref.magnitude[1])  # predicted, not copied
        assert s.attrs["synthesised_fields"] == "magnitude,myocardium"
        assert list(s.attrs["key_frames"]) == keys
        assert s.venc_cm_s.tolist() == ref.venc_cm_s.tolist() and s.slice_position == ref.slice_position


def test_test_reports_a_missing_run_clearly(tiny_cohort: Path, tmp_path: Path) -> None:
    import test as test_script
    from util.errors import CheckpointError

    with pytest.raises(CheckpointError, match="run folder not found"):
        args = ["--model", "interp", "--dataroot", str(tiny_cohort), "--name", "absent", "--gpu", "-1"]
        test_script.main([*args, "--checkpoints_dir", str(tmp_path), "--results_dir", str(tmp_path / "r")])


def test_test_py_skips_an_unreadable_subject_names_it_and_exits_non_zero(tiny_cohort: Path, tmp_path: Path) -> None:
    import re
    import shutil
    import subprocess
    import sys

    import train as train_script
    from data.splits import load_splits

    ckpt = tmp_path / "ckpt"
    train_script.main(
        ["--model", "interp", "--dataroot", str(tiny_cohort), "--name", "tiny", "--gpu", "-1", "--checkpoints_dir",
         str(ckpt), "--batch_size", "4", "--num_workers", "0", "--no_progress", "--n_epochs", "1",
         "--steps_per_epoch", "1", "--base_channels", "4", "--depth", "2", "--val_freq", "0"]
    )  # fmt: skip
    root = tmp_path / "data"
    root.mkdir()
    name = load_splits(tiny_cohort)["test"][0]
    shutil.copy(tiny_cohort / f"{name}.h5", root / f"{name}.h5")
    (root / "a_truncated.h5").write_bytes((tiny_cohort / f"{name}.h5").read_bytes()[:4096])
    result = subprocess.run(
        [sys.executable, "test.py", "--model", "interp", "--name", "tiny", "--dataroot", str(root), "--split", "all",
         "--checkpoints_dir", str(ckpt), "--results_dir", str(tmp_path / "res"), "--gpu", "-1", "--no_progress"],
        cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "a_truncated.h5" in result.stderr and "skipped; going on with the others" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: 1 of 2 subject file(s) could not be read")
    out = tmp_path / "res" / "tiny" / "interp"
    assert (out / "subjects" / f"{name}.h5").is_file()
    rows = read_metrics(out / "metrics.csv")
    assert int(rows[0]["n_frames"]) == 3 * 20  # the readable subject's non-key frames at k = 6
    # The console table rounds as the pages do: dB to 2 decimals, SSIM and Dice to 3.
    line = next(x for x in result.stdout.splitlines() if x.startswith("hdl_interp"))
    assert re.fullmatch(r"hdl_interp +(-?\d+\.\d\d +){2}(\d\.\d\d\d +){3}60", line), line
