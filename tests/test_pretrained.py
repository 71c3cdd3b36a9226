"""The twin shipped in pretrained/: its files match the model card, it loads and synthesises without
training, and training can start from it."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pytest

from data.mvm_io import read_subject
from data.splits import load_splits
from models.hdl.predictor import HDLPredictor
from models.loading import PRETRAINED_DIR, load_initial_weights, load_trained_model, read_checkpoint
from models.phase.model import PhaseModel
from models.pretrained import STAGES, card_hashes, main, sha256, shipped_hashes, verify
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


def damaged_copy(tmp_path: Path, offset: int) -> Path:
    """A copy of pretrained/ whose phase weights have the byte at ``offset`` inverted."""
    copy = tmp_path / "pretrained"
    shutil.copytree(PRETRAINED_DIR, copy)
    path = copy / "phase" / "weights.pt"
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    return copy


@pytest.mark.parametrize("offset", [100, 5000])  # a broken header; a flipped byte inside a tensor
def test_a_damaged_shipped_file_is_refused_in_one_line_before_loading(tmp_path: Path, offset: int) -> None:
    copy = damaged_copy(tmp_path, offset)
    with pytest.raises(CheckpointError) as caught:
        load_trained_model(copy / "phase", "weights")
    message = str(caught.value)
    assert "\n" not in message and "weights_only" not in message
    assert message.startswith(f"{copy / 'phase' / 'weights.pt'}: damaged or changed")
    assert message.endswith("restore the shipped files with `git checkout pretrained/`")
    assert caught.value.__cause__ is None  # refused on its hash, before torch.load read it
    assert load_trained_model(copy / "interp", "weights").checkpoint_path == copy / "interp" / "weights.pt"


def test_a_file_that_would_load_unnoticed_is_still_refused(tmp_path: Path) -> None:
    copy = damaged_copy(tmp_path, 5000)
    damaged = ckpt.load(copy / "phase" / "weights.pt", weights_only=True)  # torch alone does not notice
    assert damaged["networks"]["netG"]
    with pytest.raises(CheckpointError, match="SHA-256 differs from the model card"):
        read_checkpoint(copy / "phase" / "weights.pt")


def test_a_shipped_file_the_card_does_not_list_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "pretrained"
    shutil.copytree(PRETRAINED_DIR, copy)
    card = copy / "MODEL_CARD.md"
    card.write_text("\n".join(line for line in card.read_text().splitlines() if "`phase/weights.pt`" not in line))
    with pytest.raises(CheckpointError, match=r"MODEL_CARD.md: states no SHA-256 for phase/weights.pt"):
        read_checkpoint(copy / "phase" / "weights.pt")


def test_intact_shipped_files_load_and_keep_their_hashes(tmp_path: Path) -> None:
    before = shipped_hashes()
    for stage in STAGES:
        model = load_trained_model(PRETRAINED_DIR / stage, "weights")
        assert model.checkpoint_path == PRETRAINED_DIR / stage / "weights.pt"
    assert shipped_hashes() == before == card_hashes()


def test_exporting_one_stage_leaves_the_other_as_shipped(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    copy = tmp_path / "pretrained"
    shutil.copytree(PRETRAINED_DIR, copy)
    interp_before = sha256(copy / "interp" / "weights.pt")
    (copy / "phase" / "weights.pt").unlink()
    assert main(["--root", str(copy), "export", "--phase", str(PRETRAINED_DIR / "phase"), "--which", "weights"]) == 0
    assert sha256(copy / "interp" / "weights.pt") == interp_before
    exported = ckpt.load(copy / "phase" / "weights.pt", weights_only=True)
    shipped = ckpt.load(PRETRAINED_DIR / "phase" / "weights.pt", weights_only=True)
    for name, weight in shipped["networks"]["netG"].items():
        assert np.array_equal(exported["networks"]["netG"][name].numpy(), weight.numpy())
    assert "phase/weights.pt" in capsys.readouterr().out  # the new hash table to paste into the card
    assert main(["--root", str(copy), "export"]) == 2
    assert "give --interp, --phase or both" in capsys.readouterr().err
