"""The twin shipped in pretrained/: its files match the model card, it loads and synthesises without
training, and training can start from it."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pytest

from data.mvm_io import load_splits, read_subject
from models.hdl.predictor import HDLPredictor
from models.loading import PRETRAINED_DIR, load_initial_weights
from models.phase.model import PhaseModel
from models.pretrained import card_hashes, main, sha256, verify
from util import checkpoint as ckpt
from util.errors import CheckpointError


def test_the_shipped_files_match_the_model_card() -> None:
    stated = verify()
    assert set(stated) == {"interp/weights.pt", "phase/weights.pt"}
    for name, digest in stated.items():
        assert sha256(PRETRAINED_DIR / name) == digest
    size = sum((PRETRAINED_DIR / name).stat().st_size for name in stated)
    assert size < 20 * 2**20


def test_a_changed_file_fails_the_check(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    copy = tmp_path / "pretrained"
    shutil.copytree(PRETRAINED_DIR, copy)
    with (copy / "phase" / "weights.pt").open("r+b") as fh:
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(CheckpointError, match="differs from the model card"):
        verify(copy)
    assert main(["--root", str(copy), "verify"]) == 2
    assert "error:" in capsys.readouterr().err
    assert set(card_hashes(copy)) == {"interp/weights.pt", "phase/weights.pt"}


def test_the_shipped_twin_synthesises_a_subject_without_training(tiny_cohort: Path) -> None:
    predictor = HDLPredictor.from_pretrained(device="cpu", batch_size=8)
    assert predictor.phase_model.population.ready  # the yardstick travels with the weights
    subject = read_subject(tiny_cohort / f"{load_splits(tiny_cohort)['test'][0]}.h5")
    twin = predictor.predict_subject(subject, factor=6)
    for name, s in twin.slices.items():
        assert s.velocity.shape == subject.slices[name].velocity.shape
        assert np.isfinite(s.velocity).all() and np.abs(s.velocity).max() > 0


def test_training_can_start_from_the_shipped_weights() -> None:
    saved = ckpt.load(PRETRAINED_DIR / "phase" / "weights.pt", weights_only=True)
    opt = argparse.Namespace(**{**PhaseModel.option_defaults(), **saved["options"], "is_train": True})
    model = PhaseModel(opt)  # with a fresh discriminator: the shipped file keeps the generator only
    path = load_initial_weights(model, "pretrained")
    assert path == PRETRAINED_DIR / "phase" / "weights.pt"
    for key, value in model.network("netG").state_dict().items():
        assert np.array_equal(value.numpy(), saved["networks"]["netG"][key].numpy())
    small = argparse.Namespace(**{**vars(opt), "base_channels": 4})
    with pytest.raises(CheckpointError, match="another architecture"):
        load_initial_weights(PhaseModel(small), "pretrained")
