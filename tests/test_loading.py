"""A damaged or foreign checkpoint in any run folder stops loading with one line naming the file, never
with PyTorch's advice to load it unsafely (``weights_only=False``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models.loading import load_trained_model, read_checkpoint, verify_shipped
from util.errors import CheckpointError

ROOT = Path(__file__).resolve().parents[1]


def assert_one_line(message: str, path: Path, reason: str) -> None:
    assert "\n" not in message
    assert "weights_only" not in message and "trust" not in message
    assert message.startswith(f"{path}: checkpoint unreadable (")
    assert reason in message


def test_a_truncated_export_is_one_line(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"networks": {"netG": {"w": torch.ones(4096)}}}, run / "weights.pt")
    data = (run / "weights.pt").read_bytes()
    (run / "weights.pt").write_bytes(data[:1000])
    with pytest.raises(CheckpointError) as caught:
        load_trained_model(run, "weights")
    assert_one_line(str(caught.value), run / "weights.pt", "Error: ")  # torch's type and first sentence


def test_an_export_holding_arbitrary_objects_is_refused_without_the_unsafe_advice(tmp_path: Path) -> None:
    path = tmp_path / "run" / "weights.pt"
    path.parent.mkdir()
    torch.save({"options": {"dataroot": Path("/data")}}, path)  # a pickled object, not a plain value
    with pytest.raises(CheckpointError) as caught:
        read_checkpoint(path)
    assert_one_line(str(caught.value), path, "it holds objects a weights-only load refuses: Unsupported global")
    assert "pathlib" in str(caught.value)


def test_a_full_checkpoint_that_is_not_one_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "run" / "latest.pt"
    path.parent.mkdir()
    path.write_text("not a checkpoint\nsecond line\n")
    with pytest.raises(CheckpointError) as caught:
        read_checkpoint(path)
    assert_one_line(str(caught.value), path, "UnpicklingError")


def test_a_missing_file_and_a_run_folder_outside_pretrained(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"missing\.pt: checkpoint not found$"):
        read_checkpoint(tmp_path / "missing.pt")
    path = tmp_path / "run" / "weights.pt"
    path.parent.mkdir()
    torch.save({"networks": {}}, path)
    assert verify_shipped(path) is None  # no model card above it: not a shipped file
    assert read_checkpoint(path) == {"networks": {}}


def test_test_py_stops_on_a_damaged_run_with_one_line(tmp_path: Path) -> None:
    run = tmp_path / "checkpoints" / "broken"
    run.mkdir(parents=True)
    (run / "best.pt").write_bytes(b"\x80\x02damaged")
    result = subprocess.run(
        [sys.executable, "test.py", "--model", "phase", "--name", "broken", "--checkpoints_dir",
         str(tmp_path / "checkpoints"), "--results_dir", str(tmp_path / "results"), "--gpu", "-1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"error: {run / 'best.pt'}: checkpoint unreadable (")
    assert "Traceback" not in result.stderr and "weights_only" not in result.stderr
