"""Stage 2: the background noise model, the foreground-background composite, losses, checkpoints and
the train -> test pipeline of the phase GAN (small networks on the tiny phantom cohort)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import test as test_entry
import train as train_entry
from assessment.regional import RegionalNormals, RegionalPeaks
from assessment.regional_table import RegionalRecord
from assessment.truth import SubjectTruth
from data import create_dataset
from data.mvm_io import read_subject
from data.splits import list_subjects, load_splits
from models.loading import load_trained_model
from models.phase.background_noise import BackgroundNoise, collect_background
from models.phase.evaluation import COLUMNS, REGIONAL_COLUMNS, add_regional, add_skill, average_rows
from models.phase.foreground import composite, foreground_mask, tissue_from_magnitude
from models.phase.model import PhaseModel
from models.phase.tissue_noise import phase_noise_std
from options.train_options import TrainOptions
from util.errors import OptionError
from util.intensity import to_network_range, to_unit_range

SMALL = ["--netG", "unet", "--base_channels", "8", "--depth", "2", "--ndf", "8", "--n_layers_D", "2"]
FAST = ["--batch_size", "2", "--num_workers", "0", "--no_progress", "--no_tensorboard", "--seed", "0"]


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (largest gap between the empirical CDFs)."""
    a, b = np.sort(np.ravel(a)), np.sort(np.ravel(b))
    grid = np.concatenate([a, b])
    return float(
        np.max(np.abs(np.searchsorted(a, grid, "right") / a.size - np.searchsorted(b, grid, "right") / b.size))
    )


def make_opt(root: Path, tmp: Path, *extra: str):
    args = ["--model", "phase", "--dataroot", str(root), "--checkpoints_dir", str(tmp), *SMALL, *FAST, *extra]
    return TrainOptions().parse(args, save=False)


def first_batch(opt, split: str = "train", size: int = 2) -> dict:
    dataset = create_dataset(opt, split)
    return next(iter(DataLoader(dataset, batch_size=size, shuffle=False)))


# ------------------------------------------------------------------------------------------- noise model


def test_uniform_noise_is_uniform_over_minus_one_one() -> None:
    noise = BackgroundNoise("uniform")
    x = noise.sample((16, 3, 64, 64), rng=torch.Generator().manual_seed(0))
    assert x.shape == (16, 3, 64, 64) and x.dtype == torch.float32
    assert float(x.min()) >= -1.0 and float(x.max()) < 1.0
    for c in range(3):
        v = x[:, c]
        assert abs(float(v.mean())) < 0.01
        assert float(v.std()) == pytest.approx(1 / math.sqrt(3), abs=0.005)
        # Flat histogram: every tenth of [-1, 1) holds a tenth of the draws.
        hist = torch.histc(v, bins=10, min=-1, max=1) / v.numel()
        assert torch.allclose(hist, torch.full_like(hist, 0.1), atol=0.01)


def test_empirical_noise_reproduces_a_non_uniform_distribution() -> None:
    rng = np.random.default_rng(0)
    n = 200_000
    vx = np.clip(rng.normal(0.1, 0.2, n), -1, 1)  # bell-shaped with an offset
    vy = rng.uniform(-0.5, 0.5, n)  # narrower than [-1, 1)
    vz = np.where(rng.random(n) < 0.3, 0.0, rng.uniform(-1, 1, n))  # an atom at 0 (masked background)
    data = np.stack([vx, vy, vz]).astype(np.float32)
    noise = BackgroundNoise("empirical").fit(data)
    draws = noise.sample((50, 3, 64, 64), rng=torch.Generator().manual_seed(1)).numpy()
    for c in range(3):
        d = draws[:, c]
        assert ks_distance(d, data[c]) < 0.01
        assert d.std() == pytest.approx(data[c].std(), rel=0.02)
        assert d.min() >= data[c].min() and d.max() <= data[c].max()
    assert np.mean(draws[:, 2] == 0.0) == pytest.approx(0.3, abs=0.01)


def test_noise_state_loads_weights_only_and_reproduces_draws(tmp_path: Path) -> None:
    fitted = BackgroundNoise("empirical").fit(np.random.default_rng(0).normal(0, 0.3, (3, 5000)))
    torch.save({"noise_model": fitted.state_dict()}, tmp_path / "state.pt")
    restored = BackgroundNoise("uniform")
    restored.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True)["noise_model"])
    assert restored.kind == "empirical"
    a = fitted.sample((2, 3, 8, 8), rng=torch.Generator().manual_seed(5))
    b = restored.sample((2, 3, 8, 8), rng=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_unfitted_empirical_noise_refuses_to_sample() -> None:
    with pytest.raises(RuntimeError, match="not been fitted"):
        BackgroundNoise("empirical").sample((1, 3, 4, 4))
    with pytest.raises(OptionError, match="uniform, empirical"):
        BackgroundNoise("gaussian")


# -------------------------------------------------------------------------------------------- the model


def test_shapes_and_the_composite_is_exact(tiny_cohort: Path, tmp_path: Path) -> None:
    opt = make_opt(tiny_cohort, tmp_path)
    model = PhaseModel(opt)
    assert model.network_names == ["netG", "netD"] and model.optimizer_order == ("D", "G")
    batch = first_batch(opt)
    model.set_input(batch)
    model.forward()
    assert model.foreground.shape == model.fake.shape == batch["velocity"].shape == (2, 3, 64, 64)
    # The dataset's foreground is the one inference computes from the magnitude.
    tissue = tissue_from_magnitude(batch["magnitude"])
    assert torch.equal(tissue, batch["tissue"])
    assert 0 < float(tissue.mean()) < 1

    gen = torch.Generator().manual_seed(7)
    out = model.synthesise(batch["magnitude"], batch["myocardium"], rng=gen)
    fg = model.foreground_velocity(batch["magnitude"], batch["myocardium"])
    noise = model.noise.sample(out.shape, rng=torch.Generator().manual_seed(7))
    inside = tissue.expand_as(out) != 0
    assert torch.equal(out[inside], fg[inside])
    assert torch.equal(out[~inside], noise[~inside])
    # Deterministic foreground; fresh noise on every call without an rng.
    assert torch.equal(fg, model.foreground_velocity(batch["magnitude"], batch["myocardium"]))
    assert not torch.equal(model.synthesise(batch["magnitude"])[~inside], out[~inside])
    # Any image size: padded to the size multiple and cropped back.
    assert model.synthesise(batch["magnitude"][..., :60, :62]).shape == (2, 3, 60, 62)


def test_a_myocardial_pixel_below_the_tissue_threshold_gets_the_foreground(tiny_cohort: Path, tmp_path: Path) -> None:
    """A dim myocardial pixel (a thin wall, an unfamiliar appearance) is not background: the composite gives it
    the generator's foreground, not noise uniform over +-VENC, at inference and in training alike."""
    opt = make_opt(tiny_cohort, tmp_path)
    model = PhaseModel(opt)
    batch = first_batch(opt)
    tissue = tissue_from_magnitude(batch["magnitude"])
    dim = torch.nonzero(tissue[0, 0] == 0)[0]  # a background pixel of the first sample, called myocardium
    batch["myocardium"] = batch["myocardium"].clone()
    batch["myocardium"][0, 0, dim[0], dim[1]] = 1.0
    out = model.synthesise(batch["magnitude"], batch["myocardium"], rng=torch.Generator().manual_seed(3))
    fg = model.foreground_velocity(batch["magnitude"], batch["myocardium"])
    assert torch.equal(out[0, :, dim[0], dim[1]], fg[0, :, dim[0], dim[1]])
    model.set_input(batch)
    assert model.tissue[0, 0, dim[0], dim[1]] == 1 and torch.equal(model.tissue[1], batch["tissue"][1])


def test_the_wall_band_widens_the_myocardiums_share_of_the_foreground() -> None:
    tissue = torch.zeros(1, 1, 7, 7)
    tissue[0, 0, 0, 0] = 1.0
    myo = torch.zeros(1, 1, 7, 7)
    myo[0, 0, 3, 3] = 1.0
    assert torch.equal(foreground_mask(tissue, myo), tissue + myo)
    banded = foreground_mask(tissue, myo, wall_band=1)
    expected = tissue.clone()
    expected[0, 0, 2:5, 2:5] = 1.0
    assert torch.equal(banded, expected)
    assert foreground_mask(tissue, myo, wall_band=2)[0, 0].sum() == 1 + 25
    with pytest.raises(ValueError, match="wall_band must be >= 0 pixels, got -1"):
        foreground_mask(tissue, myo, wall_band=-1)


def test_a_window_of_five_frames_is_centred_on_t(tiny_cohort: Path, tmp_path: Path) -> None:
    opt = make_opt(tiny_cohort, tmp_path, "--temporal_window", "5")
    model = PhaseModel(opt)
    dataset = create_dataset(opt, "train")
    assert dataset.window == 5
    batch = next(iter(DataLoader(dataset, batch_size=2, shuffle=False)))
    assert batch["magnitude"].shape[1] == 5
    # Frame t is the third of t-2 .. t+2: the tissue, and the training visual, are of frame t.
    assert torch.equal(tissue_from_magnitude(batch["magnitude"]), batch["tissue"])
    entry, t = dataset.slices[int(batch["slice_index"][0])], int(batch["frame"][0])
    frame_t = dataset.read_frames(entry, "magnitude", [t])[0]
    model.set_input(batch)
    model.forward()
    visual = model.current_visuals()["magnitude"]
    assert visual.shape == (2, 1, 64, 64)
    assert torch.equal(visual, batch["magnitude"][:, 2:3].float())
    assert not torch.equal(visual, batch["magnitude"][:, 1:2].float())
    expected = to_network_range(to_unit_range(frame_t, entry.mag_scale))
    np.testing.assert_allclose(visual[0, 0].numpy(), expected, atol=1e-6)


def test_composite_passes_gradients_to_the_foreground_only() -> None:
    fg = torch.zeros(1, 3, 4, 4, requires_grad=True)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2, :] = 1
    composite(fg, torch.ones(1, 3, 4, 4), mask).sum().backward()
    assert torch.equal(fg.grad[..., :2, :], torch.ones(1, 3, 2, 4))
    assert torch.equal(fg.grad[..., 2:, :], torch.zeros(1, 3, 2, 4))


def test_r2unet_with_mask_channel(tiny_cohort: Path, tmp_path: Path) -> None:
    opt = make_opt(tiny_cohort, tmp_path, "--netG", "r2unet", "--use_mask_channel")
    model = PhaseModel(opt)
    assert model.network("netG").in_channels == 4
    batch = first_batch(opt, "val")
    assert model.synthesise(batch["magnitude"], batch["myocardium"]).shape == (2, 3, 64, 64)
    with pytest.raises(OptionError, match="--use_mask_channel"):
        model.synthesise(batch["magnitude"], None)


def test_l1_only_has_no_discriminator_and_no_composite(tiny_cohort: Path, tmp_path: Path) -> None:
    opt = make_opt(tiny_cohort, tmp_path, "--l1_only")
    model = PhaseModel(opt)
    assert model.network_names == ["netG"] and model.optimizer_order == ("G",)
    assert not hasattr(model, "netD") and model.method_name == "l1_only"
    batch = first_batch(opt)
    out = model.synthesise(batch["magnitude"], rng=torch.Generator().manual_seed(0))
    assert torch.equal(out, model.foreground_velocity(batch["magnitude"]))
    model.set_input(batch)
    model.forward()
    losses = model.compute_losses("G")
    whole = (model.foreground.float() - batch["velocity"]).abs().mean()
    assert torch.allclose(losses["l1"], whole) and torch.allclose(losses["total"], 100 * whole)


def test_no_fg_bg_generates_the_whole_image(tiny_cohort: Path, tmp_path: Path) -> None:
    model = PhaseModel(make_opt(tiny_cohort, tmp_path, "--no_fg_bg"))
    assert "netD" in model.network_names and model.method_name == "gan_whole_image"
    batch = first_batch(make_opt(tiny_cohort, tmp_path))
    assert torch.equal(model.synthesise(batch["magnitude"]), model.foreground_velocity(batch["magnitude"]))


def test_physics_tissue_noise_on_the_foreground_only(tiny_cohort: Path, tmp_path: Path) -> None:
    opt = make_opt(tiny_cohort, tmp_path, "--tissue_noise", "physics")
    model = PhaseModel(opt)
    assert model.tissue_noise and model.method_name == "fg_bg_gan_tissue_noise"
    batch = first_batch(opt, "val", size=4)
    fg = model.foreground_velocity(batch["magnitude"])
    out = model.synthesise(batch["magnitude"], rng=torch.Generator().manual_seed(3))
    tissue = tissue_from_magnitude(batch["magnitude"])
    inside = tissue.expand_as(out) != 0
    # Foreground: the generator's output plus noise whose spread follows the magnitude's SNR.
    std = phase_noise_std((batch["magnitude"][:, 1] + 1) / 2, tissue).expand_as(out)
    z = (out - fg)[inside] / std[inside]
    assert float(z.mean()) == pytest.approx(0.0, abs=0.05) and float(z.std()) == pytest.approx(1.0, abs=0.05)
    assert 0.005 < float(std[inside].median()) < 0.2
    # Background: the noise model's draws, as without tissue noise.
    assert float(out[~inside].std()) == pytest.approx(1 / math.sqrt(3), rel=0.05)
    assert float(out.min()) >= -1.0 and float(out.max()) < 1.0
    # Training: D sees the noisy composite, the L1 terms the generator's own output.
    model.set_input(batch)
    model.forward()
    losses = model.compute_losses("G")
    from models.losses import masked_l1

    assert torch.allclose(losses["l1_tissue"], masked_l1(model.foreground.float(), model.real, model.tissue))
    assert not torch.equal(model.fake[inside], model.foreground.float()[inside])


def test_tissue_noise_needs_the_composite(tiny_cohort: Path, tmp_path: Path) -> None:
    for flag in ("--l1_only", "--no_fg_bg"):
        with pytest.raises(OptionError, match="--tissue_noise physics needs the foreground-background scheme"):
            PhaseModel(make_opt(tiny_cohort, tmp_path, "--tissue_noise", "physics", flag))


def test_empirical_noise_matches_the_training_background(tiny_cohort: Path, tmp_path: Path) -> None:
    opt = make_opt(tiny_cohort, tmp_path, "--noise_model", "empirical")
    model = PhaseModel(opt)
    train_set = create_dataset(opt, "train")
    model.prepare_training(train_set)
    background = collect_background(train_set)
    draws = model.noise.sample((64, 3, 64, 64), rng=torch.Generator().manual_seed(0)).numpy()
    for c in range(3):
        assert ks_distance(draws[:, c], background[c]) < 0.02
        assert draws[:, c].std() == pytest.approx(background[c].std(), rel=0.03)


def test_overfits_one_batch_and_the_generator_step_leaves_d_alone(tiny_cohort: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    opt = make_opt(tiny_cohort, tmp_path)
    model = PhaseModel(opt)
    batch = first_batch(opt)
    # The measured phase noise cannot be fitted by any generator; its noise-free truth can.
    batch["velocity"] = batch["velocity_true"]
    optims = {g: torch.optim.Adam(model.optimizer_parameters(g), lr=2e-3, betas=(0.5, 0.999)) for g in ("D", "G")}
    net_d = model.network("netD")

    def step(group: str, loss: torch.Tensor) -> None:
        optims[group].zero_grad(set_to_none=True)
        d_grads = [None if p.grad is None else p.grad.clone() for p in net_d.parameters()]
        loss.backward()
        if group == "G":  # the generator's backward must not reach the discriminator
            for before, p in zip(d_grads, net_d.parameters(), strict=True):
                assert (before is None and p.grad is None) or torch.equal(before, p.grad)
        optims[group].step()

    def l1() -> float:
        return float(model.current_losses()["G_l1_tissue"] + model.current_losses()["G_l1_myo"])

    model.train()
    model.set_input(batch)
    model.optimize_parameters(step)
    start = l1()
    for _ in range(20):
        model.optimize_parameters(step)
    assert all(p.requires_grad for p in net_d.parameters())
    assert l1() < 0.2 * start, (start, l1())


# --------------------------------------------------------------------------------- train -> test, files


@pytest.fixture(scope="module")
def trained_runs(tiny_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GAN run (empirical noise), one with physics tissue noise and an L1-only baseline, two steps each."""
    ckpt = tmp_path_factory.mktemp("phase_runs")
    common = ["--model", "phase", "--dataroot", str(tiny_cohort), "--checkpoints_dir", str(ckpt), *SMALL, *FAST]
    common += ["--n_epochs", "1", "--steps_per_epoch", "2", "--print_freq", "1", "--val_max_batches", "1"]
    train_entry.main([*common, "--name", "gan", "--noise_model", "empirical"])
    train_entry.main([*common, "--name", "l1", "--l1_only"])
    train_entry.main([*common, "--name", "gan_tn", "--tissue_noise", "physics"])
    return ckpt


def test_checkpoint_round_trip_restores_the_noise_model(trained_runs: Path, tiny_cohort: Path) -> None:
    model = load_trained_model(trained_runs / "gan", "best")
    assert model.noise.kind == "empirical" and model.network_names == ["netG"]
    export = torch.load(trained_runs / "gan" / "weights.pt", weights_only=True)
    saved = export["extra_state"]["noise_model"]
    assert saved["kind"] == "empirical" and torch.equal(saved["quantiles"], model.noise.quantiles)
    from_weights = load_trained_model(trained_runs / "gan", "weights")
    assert torch.equal(from_weights.noise.quantiles, model.noise.quantiles)
    # It is the training background's distribution, estimated again the same way.
    reference = BackgroundNoise("empirical").fit(collect_background(create_dataset(model.opt, "train")))
    assert torch.allclose(model.noise.quantiles, reference.quantiles)


def test_a_run_records_its_training_ranges_and_test_py_says_once_when_a_scan_lies_outside(
    trained_runs: Path, tiny_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    import h5py

    from data.acquisition import acquisition_ranges

    saved = torch.load(trained_runs / "gan" / "weights.pt", weights_only=True)["options"]["training_acquisition"]
    train_files = [tiny_cohort / f"{name}.h5" for name in load_splits(tiny_cohort)["train"]]
    assert saved == acquisition_ranges(train_files)
    root = tmp_path / "data"
    root.mkdir()
    name = load_splits(tiny_cohort)["test"][0]
    args = ["--model", "phase", "--name", "gan", "--dataroot", str(root), "--split", "all", "--no_progress",
            "--checkpoints_dir", str(trained_runs), "--results_dir", str(tmp_path / "res")]  # fmt: skip
    (root / f"{name}.h5").write_bytes((tiny_cohort / f"{name}.h5").read_bytes())
    test_entry.main(args)
    assert "warning: " not in capsys.readouterr().out  # a subject like the training ones
    with h5py.File(root / f"{name}.h5", "a") as f:  # coarser pixels than any training subject's
        for group in f.values():
            group.attrs["pixel_spacing_mm"] = [2.5, 2.5]
    test_entry.main(args)
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning: ")]
    low, high = saved["pixel_spacing_mm"]
    assert warnings == [
        f"warning: pixel spacing 2.50 mm is outside the training range {low:.2f}-{high:.2f} mm (weights of run gan): "
        "the subjects are unlike the training data, where the weights are least to be trusted"
    ]


def test_train_then_test_writes_metrics_and_subjects(trained_runs: Path, tiny_cohort: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    args = ["--model", "phase", "--name", "gan", "--baseline_name", "l1", "--dataroot", str(tiny_cohort)]
    args += ["--checkpoints_dir", str(trained_runs), "--results_dir", str(results), "--no_progress"]
    out = test_entry.main(args)
    out_dir = results / "gan" / "phase"
    with (out_dir / "metrics.csv").open(newline="") as fh:
        rows = {r["method"]: r for r in csv.DictReader(fh)}
    assert list(next(iter(rows.values())).keys()) == [*COLUMNS, *REGIONAL_COLUMNS]
    # Regional function of each method against the phantom's truth (one test subject: no intervals).
    for method in ("fg_bg_gan", "population", "acquired_phase"):
        assert float(rows[method]["seg_peak_radial_systolic_mae_cm_s"]) >= 0.0, method
        assert math.isfinite(float(rows[method]["dyssync_index_ms"])), method
        assert rows[method]["cohort"] == "all" and rows[method]["ci_reference"] == "population"
    gan, population = rows["fg_bg_gan"], rows["population"]
    assert population["seg_peak_radial_systolic_mae_cm_s_diff_ref"] == ""  # the reference itself
    mae = "seg_peak_radial_systolic_mae_cm_s"
    assert float(gan[f"{mae}_diff_ref"]) == pytest.approx(float(gan[mae]) - float(population[mae]), abs=1e-5)
    assert rows["real"]["seg_peak_radial_systolic_r"] == ""
    assert set(rows) == {
        "fg_bg_gan", "l1_only", "zero", "population", "population_bulk", "kinematic", "acquired_phase", "real"
    }  # fmt: skip
    fidelity = [c for c in COLUMNS if c.startswith(("vel_psnr", "vel_ssim", "vel_mae"))]
    for method in ("fg_bg_gan", "l1_only", "zero", "population", "acquired_phase"):
        assert all(math.isfinite(float(rows[method][c])) for c in fidelity), rows[method]
    for method in ("fg_bg_gan", "l1_only", "real"):
        assert all(math.isfinite(float(rows[method][c])) for c in ("vel_hp_std_tissue_cm_s", "vel_bg_std_cm_s"))
    assert rows["real"]["vel_psnr_x"] == "" and rows["acquired_phase"]["vel_bg_std_cm_s"] == ""
    # The composite's background is noise like the real one; the L1 baseline's is smooth.
    assert float(rows["fg_bg_gan"]["vel_bg_std_cm_s"]) > 5 * float(rows["l1_only"]["vel_bg_std_cm_s"])
    assert float(rows["fg_bg_gan"]["vel_bg_std_cm_s"]) == pytest.approx(float(rows["real"]["vel_bg_std_cm_s"]), rel=0.1)
    assert len(out["rows"]) == 8
    # The yardsticks: zero scores skill 0 by definition; the population prior knows the average heart.
    assert float(rows["zero"]["vel_skill"]) == 0.0 and rows["zero"]["vel_hp_std_tissue_cm_s"] == ""
    assert 0.0 < float(rows["population"]["vel_skill"]) < 1.0
    assert float(rows["fg_bg_gan"]["vel_skill"]) == pytest.approx(
        1 - float(rows["fg_bg_gan"]["vel_mae_myo_true_cm_s"]) / float(rows["zero"]["vel_mae_myo_true_cm_s"]), abs=1e-5
    )

    test_subjects = load_splits(tiny_cohort)["test"]
    for name in test_subjects:
        synthesised = read_subject(out_dir / "subjects" / f"{name}.h5")
        original = read_subject(list_subjects(tiny_cohort)[name])
        assert list(synthesised.slices) == list(original.slices)
        for key, s in synthesised.slices.items():
            o = original.slices[key]
            assert np.array_equal(s.magnitude, o.magnitude) and np.array_equal(s.myocardium, o.myocardium)
            assert s.velocity.shape == o.velocity.shape and np.all(np.isfinite(s.velocity))
            assert np.all(np.abs(s.velocity) <= np.asarray(o.venc_cm_s)[None, :, None, None] + 1e-4)
            assert s.velocity_true is None


def test_tissue_noise_run_matches_the_measured_texture(trained_runs: Path, tiny_cohort: Path, tmp_path: Path) -> None:
    """The saved option comes back at test time and the tissue noise shows in the texture statistic.

    (After two steps the generators still carry their random initialisation's texture, so the match with
    the measured texture is checked with a noise-free field in tests/test_tissue_noise.py.)"""
    assert load_trained_model(trained_runs / "gan_tn", "best").tissue_noise
    results = tmp_path / "results"
    args = ["--model", "phase", "--name", "gan_tn", "--baseline_name", "gan", "--dataroot", str(tiny_cohort)]
    test_entry.main([*args, "--checkpoints_dir", str(trained_runs), "--results_dir", str(results), "--no_progress"])
    with (results / "gan_tn" / "phase" / "metrics.csv").open(newline="") as fh:
        rows = {r["method"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {
        "fg_bg_gan_tissue_noise", "fg_bg_gan", "zero", "population", "population_bulk", "kinematic",
        "acquired_phase", "real",
    }  # fmt: skip
    with_noise, without = (float(rows[m]["vel_hp_std_tissue_cm_s"]) for m in ("fg_bg_gan_tissue_noise", "fg_bg_gan"))
    assert with_noise > 1.4 * without
    assert float(rows["fg_bg_gan_tissue_noise"]["vel_bg_std_cm_s"]) == pytest.approx(
        float(rows["real"]["vel_bg_std_cm_s"]), rel=0.1
    )


def test_an_unreadable_subject_is_skipped_and_the_table_is_rounded_as_on_the_pages(
    trained_runs: Path, tiny_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    import re
    import shutil

    from util.errors import DataError

    root = tmp_path / "data"
    root.mkdir()
    name = load_splits(tiny_cohort)["test"][0]
    shutil.copy(tiny_cohort / f"{name}.h5", root / f"{name}.h5")
    (root / "broken.h5").write_text("not an HDF5 file")
    args = ["--model", "phase", "--name", "gan", "--dataroot", str(root), "--split", "all", "--no_progress"]
    with pytest.raises(DataError, match=r"1 of 2 subject file\(s\) could not be read: broken\.h5"):
        test_entry.main([*args, "--checkpoints_dir", str(trained_runs), "--results_dir", str(tmp_path / "res")])
    out = tmp_path / "res" / "gan" / "phase"
    assert (out / "subjects" / f"{name}.h5").is_file() and (out / "metrics.csv").is_file()
    captured = capsys.readouterr()
    assert "broken.h5" in captured.err and "skipped" in captured.err
    table = {line.split()[0]: line.split()[1:] for line in captured.out.splitlines() if line[:1].strip()}
    assert all(re.fullmatch(r"-?\d+\.\d\d|-", v) for v in table["vel_psnr_x"]), table["vel_psnr_x"]  # dB: 2
    assert all(re.fullmatch(r"-?\d\.\d\d\d|-", v) for v in table["vel_ssim_tissue_z"])  # SSIM: 3
    # Each velocity error names its reference; on the phantom the truth's leads.
    errors = [line for line in captured.out.splitlines() if line.startswith("MAE vs ")]
    labels = ("MAE vs truth (velocity_true)", "MAE vs acquired phase")
    assert len(errors) == 2 and all(line.startswith(label) for line, label in zip(errors, labels, strict=True))
    for line, label in zip(errors, labels, strict=True):  # cm/s: 2, '-' where none
        assert all(re.fullmatch(r"\d+\.\d\d|-", v) for v in line[len(label) :].split()), line
    assert "against the truth (velocity_true" in captured.out
    assert all(re.fullmatch(r"-?\d\.\d\d\d|-", v) for v in table["vel_skill"])
    assert table["n_slices"] == ["3"] * len(table["n_slices"])


def test_regional_rows_split_healthy_subjects_and_patients() -> None:
    """Hand-made readings: a healthy subject and a patient whose LAD segments move half as much in the truth
    and in the ``model``'s reading, while ``population`` reads every segment alike."""
    lad = {1, 2, 7, 8, 13, 14}

    def peaks(radial: dict[int, float]) -> RegionalPeaks:
        keys = ("radial_systolic", "radial_e_prime", "longitudinal_systolic", "longitudinal_e_prime")
        return RegionalPeaks({k: dict(radial) for k in keys}, dict.fromkeys(radial, 200.0), {})

    normal = peaks(dict.fromkeys(range(1, 17), 4.0))
    hypo = peaks({s: (2.0 if s in lad else 4.0) for s in range(1, 17)})
    healthy_truth = SubjectTruth(dict.fromkeys(range(1, 17), 1.0), dict.fromkeys(range(1, 17), 0.0))
    patient_truth = SubjectTruth(
        {s: (0.5 if s in lad else 1.0) for s in range(1, 17)}, dict.fromkeys(range(1, 17), 0.0)
    )
    records = [
        RegionalRecord("h", healthy_truth, normal, {"model": normal, "population": normal, "zero": normal}),
        RegionalRecord("p", patient_truth, hypo, {"model": hypo, "population": normal, "zero": normal}),
    ]
    per_slice = [
        {"subject": sub, "slice": "mid", "method": m, "vel_mae_myo_cm_s": mae, "vel_mae_myo_true_cm_s": mae}
        for sub in ("h", "p")
        for m, mae in (("model", 1.0 if sub == "h" else 3.0), ("population", 2.0), ("zero", 4.0))
    ]
    rows = average_rows(per_slice, [("model", "run"), ("zero", ""), ("population", "")])
    add_skill(rows)
    groups = add_regional(rows, per_slice, records, RegionalNormals({}))
    by_method = {r["method"]: r for r in [*rows, *groups]}
    assert [r["method"] for r in groups] == [
        f"{m} ({g})" for g in ("healthy", "patients") for m in ("model", "zero", "population")
    ]
    assert by_method["model"]["cohort"] == "all" and by_method["model (patients)"]["cohort"] == "patients"
    assert by_method["model"]["detect_auc"] == 1.0 and by_method["population"]["detect_auc"] == 0.5
    assert by_method["model"]["seg_peak_radial_systolic_mae_cm_s"] == 0.0
    assert by_method["population (patients)"]["seg_peak_radial_systolic_mae_cm_s"] == pytest.approx(12 / 16)
    assert by_method["model"]["detect_auc_diff_ref"] == pytest.approx(0.5)
    # The skill of each group against the group's own zero row: 1 - 1/4 healthy, 1 - 3/4 patients.
    assert by_method["model (healthy)"]["vel_skill"] == pytest.approx(0.75)
    assert by_method["model (patients)"]["vel_skill"] == pytest.approx(0.25)
    assert by_method["model (patients)"]["n_subjects"] == 1
