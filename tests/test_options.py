"""Option composition: model and dataset options join the parser; bad names list the valid ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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


def test_option_of_another_model_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        TrainOptions().parse(["--model", "phase", "--factor", "4", "--checkpoints_dir", str(tmp_path)])
    assert info.value.code == 2
    assert "unrecognized arguments: --factor 4" in capsys.readouterr().err


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
