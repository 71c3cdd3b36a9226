"""Bad input makes the data reader and train.py stop with one line naming the file and the problem."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def copy_cohort(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def truncate(path: Path) -> str:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return "not a readable HDF5 file"


def drop_velocity(path: Path) -> str:
    with h5py.File(path, "a") as f:
        del f["mid"]["velocity"]
    return "slice 'mid': missing dataset 'velocity'"


def bad_shape(path: Path) -> str:
    with h5py.File(path, "a") as f:
        t = f["apical"]["myocardium"].shape[0]
        del f["apical"]["myocardium"]
        f["apical"].create_dataset("myocardium", data=np.zeros((t - 1, 64, 64), np.uint8), fletcher32=True)
    return "slice 'apical': field 'myocardium' has shape"


def nan_velocity(path: Path) -> str:
    with h5py.File(path, "a") as f:
        v = f["basal"]["velocity"][()]
        v[3, 0, 10, 10] = np.nan
        f["basal"]["velocity"][...] = v
    return "slice 'basal': field 'velocity' has 1 non-finite values"


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=240)


@pytest.mark.parametrize("damage", [truncate, drop_velocity, bad_shape, nan_velocity])
def test_reader_and_train_py_report_bad_files(tiny_cohort: Path, tmp_path: Path, damage) -> None:
    root = copy_cohort(tiny_cohort, tmp_path / "data")
    victim = root / "subject_000.h5"
    expected = damage(victim)

    reader = run(["-c", f"from data.mvm_io import read_subject; read_subject({str(victim)!r})"], ROOT)
    assert reader.returncode != 0 and expected in reader.stderr

    result = run(
        [
            str(ROOT / "train.py"),
            "--model", "interp",
            "--dataroot", str(root),
            "--name", "X",
            "--checkpoints_dir", str(tmp_path / "ckpt"),
            "--gpu", "-1",
        ],
        ROOT,
    )  # fmt: skip
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and str(victim) in lines[0] and expected in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "ckpt" / "X" / "latest.pt").exists()


def test_train_py_reports_missing_and_empty_folders(tmp_path: Path) -> None:
    for root, message in ((tmp_path / "nowhere", "dataset folder not found"), (tmp_path, "no subject files")):
        result = run(
            [str(ROOT / "train.py"), "--model", "phase", "--dataroot", str(root), "--checkpoints_dir", str(tmp_path)],
            ROOT,
        )
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_test_py_on_a_damaged_input_and_missing_run(tiny_cohort: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(tiny_cohort, root)
    result = subprocess.run(
        [sys.executable, str(ROOT / "test.py"), "--model", "phase", "--name", "never_trained", "--dataroot", str(root),
         "--checkpoints_dir", str(tmp_path / "ck"), "--results_dir", str(tmp_path / "res"), "--gpu", "-1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and "run folder not found" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "res" / "never_trained" / "phase" / "metrics.csv").exists()


def test_failed_starts_leave_no_run_or_results_folder(tiny_cohort: Path, tmp_path: Path) -> None:
    ckpt, res = tmp_path / "ckpt", tmp_path / "res"
    common = ["--checkpoints_dir", str(ckpt), "--gpu", "-1", "--no_progress", "--num_workers", "0"]
    # Bad data: found before anything is written.
    bad_data = run([str(ROOT / "train.py"), "--model", "phase", "--name", "A", "--dataroot", str(tmp_path / "nowhere"),
                    *common], ROOT)  # fmt: skip
    assert bad_data.returncode == 2 and "dataset folder not found" in bad_data.stderr
    # A batch larger than the training split: found once the trainer is built, after tensorboard started.
    too_big = run([str(ROOT / "train.py"), "--model", "interp", "--name", "B", "--dataroot", str(tiny_cohort),
                   "--batch_size", "100000", "--base_channels", "4", "--depth", "2", *common], ROOT)  # fmt: skip
    assert too_big.returncode == 2 and "lower --batch_size" in too_big.stderr
    # A run that does not exist: test.py writes no results folder.
    missing = run([str(ROOT / "test.py"), "--model", "interp", "--name", "C", "--dataroot", str(tiny_cohort),
                   "--results_dir", str(res), *common], ROOT)  # fmt: skip
    assert missing.returncode == 2 and "run folder not found" in missing.stderr
    assert not ckpt.exists() and not res.exists()
    # A folder that was there before a failed start stays (with what it held).
    (ckpt / "B").mkdir(parents=True)
    (ckpt / "B" / "notes.txt").write_text("mine")
    again = run([str(ROOT / "train.py"), "--model", "interp", "--name", "B", "--dataroot", str(tiny_cohort),
                 "--batch_size", "100000", *common], ROOT)  # fmt: skip
    assert again.returncode == 2 and (ckpt / "B" / "notes.txt").read_text() == "mine"
