"""Option composition: model and dataset options join the parser; bad names list the valid ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.phase.priors import resolve_prior_kind
from options.test_options import TestOptions
from options.train_options import TrainOptions
from util.errors import OptionError


def test_unknown_model_lists_valid_names(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="--model 'pix2pix' is not a model; valid ones are: interp, phase, hdl"):
        TrainOptions().parse(["--model", "pix2pix", "--checkpoints_dir", str(tmp_path)])


def test_unknown_dataset_lists_valid_names(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="--dataset_mode 'frames' is not a dataset; valid ones are: interp, phase"):
        TrainOptions().parse(["--model", "interp", "--dataset_mode", "frames", "--checkpoints_dir", str(tmp_path)])


def test_model_and_dataset_options_are_added_and_saved(tmp_path: Path) -> None:
    opt = TrainOptions().parse(
        ["--model", "interp", "--name", "run1", "--checkpoints_dir", str(tmp_path), "--factor", "4", "--lr", "0.01"]
    )
    assert opt.dataset_mode == "interp" and opt.factor == 4 and opt.is_train
    saved = json.loads((tmp_path / "run1" / "opt_train.json").read_text())
    assert saved["factor"] == 4 and saved["lr"] == 0.01 and saved["model"] == "interp"
    phase = TrainOptions().parse(["--model", "phase", "--checkpoints_dir", str(tmp_path)], save=False)
    assert phase.dataset_mode == "phase" and not hasattr(phase, "factor")


def test_option_of_another_model_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match=r"unknown option --factor \(did you mean --prior_factor\?\)"):
        TrainOptions().parse(["--model", "phase", "--factor", "4", "--checkpoints_dir", str(tmp_path)])


@pytest.mark.parametrize(
    ("args", "unknown", "suggested"),
    [
        (["--model", "phase", "--steps_per_epoc", "1"], "--steps_per_epoc", "--steps_per_epoch"),
        # the first, lenient pass must not take --mod for --model either
        (["--mod", "phase"], "--mod", "--model"),
        (["--model", "phase", "--lambda_tisue=5"], "--lambda_tisue", "--lambda_tissue"),
    ],
)
def test_abbreviated_or_misspelt_options_are_refused_with_the_closest_names(
    tmp_path: Path, args: list[str], unknown: str, suggested: str
) -> None:
    with pytest.raises(OptionError) as info:
        TrainOptions().parse([*args, "--checkpoints_dir", str(tmp_path)], save=False)
    message = str(info.value)
    assert f"unknown option {unknown} (did you mean " in message and suggested in message, message
    assert "\n" not in message


def test_train_py_says_a_misspelt_option_in_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, str(root / "train.py"), "--model", "phase", "--steps_per_epoc", "1",
           "--checkpoints_dir", str(tmp_path)]  # fmt: skip
    result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: train.py: unknown option --steps_per_epoc (did you mean --steps_per_epoch?)"
    ]
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch_size", "0"], "--batch_size must be >= 1"),
        (["--n_epochs", "0"], "--n_epochs must be >= 1"),
        (["--lr", "-1"], "--lr must be > 0"),
        (["--name", "a/b"], "--name must be a plain folder name"),
    ],
)
def test_invalid_values_name_the_option(tmp_path: Path, args: list[str], message: str) -> None:
    with pytest.raises(OptionError, match=message):
        TrainOptions().parse(["--model", "interp", "--checkpoints_dir", str(tmp_path), *args])


def test_test_options_save_under_results(tmp_path: Path) -> None:
    opt = TestOptions().parse(
        ["--model", "interp", "--name", "r", "--results_dir", str(tmp_path), "--checkpoints_dir", str(tmp_path)]
    )
    assert not opt.is_train
    assert (tmp_path / "r" / "interp" / "opt_test.json").exists()
    with pytest.raises(OptionError, match="--which_epoch must be best, latest or an epoch number"):
        TestOptions().parse(["--model", "interp", "--which_epoch", "last", "--results_dir", str(tmp_path)])


@pytest.mark.parametrize(
    ("cls", "model", "expected"),
    [
        (TrainOptions, "phase", ["--netG", "--lambda_myo", "--augment", "--precision", "--continue_train"]),
        (TrainOptions, "interp", ["--block", "--factor", "--factors", "--lambda_dice"]),
        (TestOptions, "hdl", ["--interp_name", "--phase_name", "--factor", "--results_dir"]),
    ],
)
def test_help_lists_the_chosen_models_options(
    cls, model: str, expected: list[str], capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as info:
        cls().parse(["--model", model, "--help"], save=False)
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in expected:
        assert option in text, option


# ----------------------------------------------------------- network options that travel with the weights


def _pretrained_phase_options() -> dict:
    import torch

    from models.loading import PRETRAINED_DIR

    return torch.load(PRETRAINED_DIR / "phase" / "weights.pt", weights_only=True)["options"]


def test_init_weights_reads_an_older_release_s_spellings_as_today_s(older_phase_weights: Path, tmp_path: Path) -> None:
    weights = older_phase_weights / "weights.pt"
    opt = TrainOptions().parse(
        ["--model", "phase", "--init_weights", str(weights), "--checkpoints_dir", str(tmp_path)], save=False
    )
    assert opt.block == "r2"  # saved as netG: r2unet
    assert opt.population_prior is True and resolve_prior_kind(opt) == "population"  # saved before --prior existed


def test_init_weights_takes_the_network_options_saved_with_the_weights(tmp_path: Path) -> None:
    saved = _pretrained_phase_options()
    base = ["--model", "phase", "--init_weights", "pretrained", "--checkpoints_dir", str(tmp_path)]
    opt = TrainOptions().parse(base, save=False)
    for name in ("base_channels", "depth", "temporal_window", "cycle_conditioning", "prior", "block", "ndf"):
        assert getattr(opt, name) == saved[name], name
    assert (opt.prior, opt.block) == ("kinematic", "r2")
    assert (opt.base_channels, opt.depth, opt.temporal_window) == (16, 3, 5)  # not the parser's 32, 4, 3
    # Training choices stay the run's own: the loss weights are not architecture.
    assert opt.lambda_myo == 100.0 and opt.lr is None
    # Giving the saved value is fine; a different value is refused in one line listing the saved ones.
    assert TrainOptions().parse([*base, "--depth", "3"], save=False).depth == 3
    with pytest.raises(OptionError) as info:
        TrainOptions().parse([*base, "--depth", "4", "--base_channels", "16"], save=False)
    message = str(info.value)
    assert "\n" not in message and "--depth 4 (saved: 3)" in message  # 4 is the default: given all the same
    assert "--base_channels 16 --depth 3" in message and "--temporal_window 5" in message
    assert not (tmp_path / "experiment").exists()


def test_continue_train_takes_the_runs_network_options(tmp_path: Path) -> None:
    import torch

    run = tmp_path / "r"
    run.mkdir()
    saved = {"model": "interp", "base_channels": 8, "depth": 2, "block": "r2", "lambda_l1": 5.0}
    torch.save({"options": saved}, run / "latest.pt")
    base = ["--model", "interp", "--name", "r", "--checkpoints_dir", str(tmp_path), "--continue_train"]
    opt = TrainOptions().parse(base, save=False)
    assert (opt.base_channels, opt.depth, opt.block, opt.lambda_l1) == (8, 2, "r2", 1.0)
    with pytest.raises(OptionError, match=r"--continue_train: --block unet \(saved: r2\) does not match"):
        TrainOptions().parse([*base, "--block", "unet"], save=False)
    with pytest.raises(OptionError, match="holds a --model interp run, not --model phase"):
        TrainOptions().parse(["--model", "phase", *base[2:]], save=False)


def test_continue_train_without_a_checkpoint_says_what_to_do(tmp_path: Path) -> None:
    args = ["--model", "interp", "--name", "new", "--checkpoints_dir", str(tmp_path), "--continue_train"]
    with pytest.raises(OptionError) as info:
        TrainOptions().parse(args)
    message = str(info.value)
    assert message.startswith("--continue_train: nothing to resume") and "does not exist" in message
    assert "start the run without --continue_train" in message and "checkpoint not found" not in message
    assert not (tmp_path / "new").exists()
    (tmp_path / "new").mkdir()
    with pytest.raises(OptionError, match="new has no checkpoint yet"):
        TrainOptions().parse(args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "interp", "--crop_size", "50"], r"--crop_size 50 must be a multiple of 16 .*use 48 or 64"),
        (["--model", "phase", "--depth", "3", "--crop_size", "20"], r"multiple of 8 .*use 16 or 24"),
    ],
)
def test_crop_size_is_checked_against_the_networks_depth(tmp_path: Path, args: list[str], message: str) -> None:
    with pytest.raises(OptionError, match=message):
        TrainOptions().parse([*args, "--checkpoints_dir", str(tmp_path)])
    assert not list(tmp_path.iterdir())
    assert TrainOptions().parse(["--model", "interp", "--crop_size", "48"], save=False).crop_size == 48


@pytest.mark.parametrize(("model", "default"), [("interp", "unet"), ("phase", "r2")])
def test_both_stages_name_the_block_type_alike_and_take_the_old_spelling(
    tmp_path: Path, model: str, default: str
) -> None:
    base = ["--model", model, "--checkpoints_dir", str(tmp_path)]
    assert TrainOptions().parse(base, save=False).block == default
    assert TrainOptions().parse([*base, "--block", "r2"], save=False).block == "r2"
    assert TrainOptions().parse([*base, "--netG", "r2unet"], save=False).block == "r2"
    assert TrainOptions().parse([*base, "--netG", "unet", "--ngf", "8"], save=False).base_channels == 8
    with pytest.raises(OptionError, match="invalid choice: 'resnet'"):
        TrainOptions().parse([*base, "--block", "resnet"], save=False)


def test_a_run_saved_with_the_old_generator_option_resumes_under_the_new_name(tmp_path: Path) -> None:
    import torch

    run = tmp_path / "r"
    run.mkdir()
    torch.save({"options": {"model": "phase", "netG": "unet", "base_channels": 8, "depth": 2}}, run / "latest.pt")
    base = ["--model", "phase", "--name", "r", "--checkpoints_dir", str(tmp_path), "--continue_train"]
    opt = TrainOptions().parse(base, save=False)
    assert (opt.block, opt.base_channels, opt.depth) == ("unet", 8, 2) and not hasattr(opt, "netG")
    with pytest.raises(OptionError, match=r"--block r2 \(saved: unet\) does not match"):
        TrainOptions().parse([*base, "--netG", "r2unet"], save=False)
