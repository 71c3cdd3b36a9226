"""The trainer: torchrun DDP on CPU (gloo), exact resume after SIGKILL or Ctrl-C, stop on a NaN loss, mixed
precision and compiled steps, and checkpoints that cannot be written (full disk, a file in the way); network
options taken from the weights a run starts from; how long a run says it takes, and a stop before the first
checkpoint that writes one."""

from __future__ import annotations

import csv
import errno
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import entry.train
import train
from util.errors import HDLError, TrainingError

ROOT = Path(__file__).resolve().parents[1]
# A constant rate, so that the run of one epoch continued to two keeps the straight run's schedule.
PRIOR = ["--prior", "kinematic", "--augment", "--lr_policy", "constant"]
TINY = ["--base_channels", "8", "--depth", "2", "--num_workers", "0", "--gpu", "-1", "--no_progress"]


def loss_rows(run_dir: Path) -> dict[tuple[str, str, str], str]:
    """(epoch, step, name) -> value of the training rows; later rows win (a resumed run rewrites)."""
    with (run_dir / "loss_log.csv").open(newline="") as fh:
        return {(r["epoch"], r["step"], r["name"]): r["value"] for r in csv.DictReader(fh) if r["kind"] == "train"}


def networks(path: Path) -> dict[str, dict[str, torch.Tensor]]:
    return torch.load(path, weights_only=True)["networks"]


@pytest.mark.parametrize("model", ["interp", "phase"])
def test_torchrun_ddp_two_processes_on_cpu(tiny_cohort: Path, tmp_path: Path, model: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        str(ROOT / "train.py"), "--model", model, "--dataroot", str(tiny_cohort), "--name", "ddp",
        "--checkpoints_dir", str(tmp_path), "--n_epochs", "1", "--steps_per_epoch", "3", "--batch_size", "2",
        "--seed", "1", "--print_freq", "1", "--val_max_batches", "2", *TINY,
    ]  # fmt: skip
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    match = re.search(r"replicas identical on 2 ranks: checksums \[([^\]]+)\]", result.stdout)
    assert match, result.stdout
    checksums = [float(v) for v in match.group(1).split(",")]
    assert len(checksums) == 2 and checksums[0] == checksums[1]

    run = tmp_path / "ddp"
    # Rank 0 alone writes: one tensorboard stream, one row per (step, loss), one set of checkpoints.
    assert len(list((run / "tensorboard").glob("events.out.tfevents.*"))) == 1
    with (run / "loss_log.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["kind"] == "train"]
    keys = [(r["step"], r["name"]) for r in rows]
    assert len(keys) == len(set(keys)) and {r["step"] for r in rows} == {"1", "2", "3"}
    assert sorted(p.name for p in run.glob("*.pt")) == ["best.pt", "latest.pt", "weights.pt"]
    state = torch.load(run / "latest.pt", weights_only=False)
    assert state["counter"] == {"epoch": 1, "global_step": 3} and state["world_size"] == 2
    assert len(state["rng"]["per_rank"]) == 2


def _train_cmd(model: str, data: Path, ckpt: Path, epochs: int) -> list[str]:
    return [
        sys.executable, str(ROOT / "train.py"), "--model", model, "--dataroot", str(data), "--name", "run",
        "--checkpoints_dir", str(ckpt), "--n_epochs", str(epochs), "--steps_per_epoch", "3", "--batch_size", "2",
        "--seed", "3", "--deterministic", "--print_freq", "1", "--val_max_batches", "1", "--save_epoch_freq", "1",
        "--no_tensorboard", *TINY,
    ]  # fmt: skip


@pytest.mark.parametrize("model", ["interp", "phase"])
def test_resume_after_sigkill_matches_uninterrupted_run(tiny_cohort: Path, tmp_path: Path, model: str) -> None:
    epochs = 5
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    straight = subprocess.run(
        _train_cmd(model, tiny_cohort, tmp_path / "a", epochs), cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert straight.returncode == 0, straight.stderr[-3000:]

    proc = subprocess.Popen(
        _train_cmd(model, tiny_cohort, tmp_path / "b", epochs), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    marker = tmp_path / "b" / "run" / "epoch_0002.pt"
    deadline = time.monotonic() + 240
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists(), proc.stderr.read() if proc.poll() is not None else "timed out"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = torch.load(tmp_path / "b" / "run" / "latest.pt", weights_only=False)["counter"]["epoch"]
    assert killed_at < epochs, "the run finished before it could be killed"

    resumed = subprocess.run(
        [*_train_cmd(model, tiny_cohort, tmp_path / "b", epochs), "--continue_train"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed {tmp_path / 'b' / 'run'} at epoch {killed_at}" in resumed.stdout

    a, b = networks(tmp_path / "a" / "run" / "weights.pt"), networks(tmp_path / "b" / "run" / "weights.pt")
    assert a.keys() == b.keys()
    for name in a:
        for key in a[name]:
            torch.testing.assert_close(b[name][key], a[name][key], rtol=0, atol=0, msg=f"{name}.{key}")
    losses_a, losses_b = loss_rows(tmp_path / "a" / "run"), loss_rows(tmp_path / "b" / "run")
    assert losses_a == losses_b
    assert len(losses_a) >= epochs * 3


PRICED = ("--lambda_correction", "5", "--l1_target", "noise_free")


@pytest.mark.parametrize("recipe", [(), PRICED], ids=["plain", "priced"])
def test_a_kinematic_prior_run_resumes_exactly(tiny_cohort: Path, tmp_path: Path, recipe: tuple[str, ...]) -> None:
    """--prior kinematic: the cross-fitted priors of the samples are fitted again on resume, and the same; two
    epochs straight give the weights of one epoch and a --continue_train to the second. Also with the
    correction priced and the noise-free target, and the share of the correction kept is the same."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def run(ckpt: Path, epochs: int, *extra: str) -> subprocess.CompletedProcess:
        cmd = [*_train_cmd("phase", tiny_cohort, ckpt, epochs), *PRIOR, *recipe, *extra]
        result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    run(tmp_path / "a", 2)
    run(tmp_path / "b", 1)
    resumed = run(tmp_path / "b", 2, "--continue_train")
    assert f"resumed {tmp_path / 'b' / 'run'} at epoch 1" in resumed.stdout
    saved = torch.load(tmp_path / "b" / "run" / "weights.pt", weights_only=True)
    assert saved["options"]["prior"] == "kinematic" and "kinematic_templates" in saved["extra_state"]
    a, b = networks(tmp_path / "a" / "run" / "weights.pt"), saved["networks"]
    assert a.keys() == b.keys()
    for name in a:
        for key in a[name]:
            torch.testing.assert_close(b[name][key], a[name][key], rtol=0, atol=0, msg=f"{name}.{key}")
    assert loss_rows(tmp_path / "a" / "run") == loss_rows(tmp_path / "b" / "run")
    scale = torch.load(tmp_path / "a" / "run" / "weights.pt", weights_only=True)["extra_state"].get("correction_scale")
    assert scale is not None and scale == saved["extra_state"].get("correction_scale")


#: stage 2's validation metrics as runs wrote them before they took the chain's column names
FORMER_PHASE_METRICS = {"mae_myo_cm_s": "vel_mae_myo_cm_s", "psnr_fg_vx": "vel_psnr_tissue_x",
                        "psnr_fg_vy": "vel_psnr_tissue_y", "psnr_fg_vz": "vel_psnr_tissue_z"}  # fmt: skip


def log_rows(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "loss_log.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_a_phase_run_written_under_the_former_metric_names_resumes_exactly(tiny_cohort: Path, tmp_path: Path) -> None:
    """A checkpoint whose best is keyed ``mae_myo_cm_s`` and a loss log with the former validation names
    resume as the same run written today: the same weights, the same best (value and epoch, under the new
    name) and one log under the new names."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def run(ckpt: Path, epochs: int, *extra: str) -> None:
        cmd = [*_train_cmd("phase", tiny_cohort, ckpt, epochs), *extra]
        result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]

    run(tmp_path / "a", 2)
    run(tmp_path / "b", 1)
    old = tmp_path / "b" / "run"
    state = torch.load(old / "latest.pt", weights_only=False)
    assert state["best"]["metric"] == "vel_mae_myo_cm_s" and state["best"]["value"] is not None
    state["best"]["metric"] = "mae_myo_cm_s"
    torch.save(state, old / "latest.pt")
    rows = log_rows(old)
    assert {r["name"] for r in rows if r["kind"] == "val"} >= set(FORMER_PHASE_METRICS.values())
    former = {new: old_name for old_name, new in FORMER_PHASE_METRICS.items()}
    with (old / "loss_log.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**r, "name": former.get(r["name"], r["name"])} for r in rows)
    run(tmp_path / "b", 2, "--continue_train")

    a, b = networks(tmp_path / "a" / "run" / "weights.pt"), networks(old / "weights.pt")
    for name in a:
        for key in a[name]:
            torch.testing.assert_close(b[name][key], a[name][key], rtol=0, atol=0, msg=f"{name}.{key}")
    best_a = torch.load(tmp_path / "a" / "run" / "latest.pt", weights_only=False)["best"]
    assert torch.load(old / "latest.pt", weights_only=False)["best"] == best_a
    assert log_rows(old) == log_rows(tmp_path / "a" / "run")


def test_a_best_under_a_former_name_carries_over_and_one_of_another_metric_does_not(tmp_path: Path) -> None:
    from util.resume import rename_logged_metrics, restored_best

    renames, metric = {"mae_myo_cm_s": "vel_mae_myo_cm_s"}, "vel_mae_myo_cm_s"
    assert restored_best({"metric": "mae_myo_cm_s", "value": 0.5, "epoch": 3}, metric, renames) == (0.5, 3, None)
    assert restored_best({"metric": metric, "value": 0.4, "epoch": 2}, metric, renames) == (0.4, 2, None)
    assert restored_best({"value": 0.4, "epoch": 2}, metric, renames) == (0.4, 2, None)  # no name saved
    value, epoch, note = restored_best({"metric": "psnr_fg", "value": 30.0, "epoch": 1}, metric, renames)
    assert (value, epoch) == (None, 0) and note and "psnr_fg" in note
    log = tmp_path / "loss_log.csv"
    log.write_bytes(b"kind,epoch,step,name,value\r\ntrain,1,3,G_total,1\r\nval,1,3,mae_myo_cm_s,0.5\r\n")
    assert rename_logged_metrics(log, renames)
    assert log.read_bytes() == b"kind,epoch,step,name,value\r\ntrain,1,3,G_total,1\r\nval,1,3,vel_mae_myo_cm_s,0.5\r\n"
    assert not rename_logged_metrics(log, renames) and not rename_logged_metrics(tmp_path / "none.csv", renames)


def test_extending_a_finished_cosine_run_replans_the_schedule(
    tiny_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A finished cosine run ends at lr 0; continued to more epochs it must train again, on the new plan."""

    def run(epochs: int, *extra: str) -> str:
        cosine = ("--lr_policy", "cosine", "--seed", "2", "--print_freq", "1", "--n_epochs", str(epochs))
        train.main([*_args(tiny_cohort, tmp_path, *cosine), *extra])
        return capsys.readouterr().out

    run(1)
    finished = torch.load(tmp_path / "run" / "latest.pt", weights_only=False)
    assert finished["optimizers"]["G"]["param_groups"][0]["lr"] == 0.0
    out = run(2, "--continue_train")
    lines = [line for line in out.splitlines() if line.startswith("resume: ")]
    assert len(lines) == 1, out
    assert "the run had 1 epochs" in lines[0] and "re-planned over 2 epochs" in lines[0]
    extended = torch.load(tmp_path / "run" / "latest.pt", weights_only=False)
    before, after = finished["networks"]["netG"], extended["networks"]["netG"]
    assert any(not torch.equal(before[k], after[k]) for k in before if before[k].is_floating_point())
    rates = [float(v) for (epoch, _, name), v in loss_rows(tmp_path / "run").items() if name == "lr" and epoch == "2"]
    assert rates and min(rates) > 0


def test_nan_loss_stops_training_and_keeps_last_good_checkpoint(
    tiny_cohort: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models.interp.model import InterpModel

    original = InterpModel.compute_losses
    calls = {"n": 0}

    def poisoned(self, group):
        losses = original(self, group)
        calls["n"] += 1
        # Calls 1-3: the steps of epoch 1; call 4: its validation batch; call 5: step 4, in epoch 2.
        if calls["n"] >= 5:
            losses["total"] = losses["total"] * float("nan")
        return losses

    monkeypatch.setattr(InterpModel, "compute_losses", poisoned)
    args = [
        "--model", "interp", "--dataroot", str(tiny_cohort), "--name", "nan", "--checkpoints_dir", str(tmp_path),
        "--n_epochs", "3", "--steps_per_epoch", "3", "--batch_size", "2", "--print_freq", "100",
        "--no_tensorboard", "--val_max_batches", "1", *TINY,
    ]  # fmt: skip
    with pytest.raises(TrainingError, match=r"non-finite loss at step 4 \(epoch 2\)"):
        train.main(args)
    latest = torch.load(tmp_path / "nan" / "latest.pt", weights_only=False)
    assert latest["counter"] == {"epoch": 1, "global_step": 3}
    for tensor in latest["networks"]["netG"].values():
        assert torch.isfinite(tensor.float()).all()


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_gan_steps_on_cpu(tiny_cohort: Path, tmp_path: Path, precision: str) -> None:
    """Both GAN optimisers step under autocast; fp16 goes through the one shared GradScaler."""
    args = [
        "--model", "phase", "--dataroot", str(tiny_cohort), "--name", precision, "--checkpoints_dir", str(tmp_path),
        "--n_epochs", "1", "--steps_per_epoch", "3", "--batch_size", "2", "--print_freq", "1", "--precision", precision,
        "--no_tensorboard", "--val_max_batches", "1", *TINY,
    ]  # fmt: skip
    summary = train.main(args)
    assert summary["steps"] == 3
    state = torch.load(tmp_path / precision / "latest.pt", weights_only=False)
    rows = loss_rows(tmp_path / precision)
    assert {name for (_, _, name) in rows} >= {"D_total", "G_total"}
    assert all(float(v) == float(v) and abs(float(v)) < 1e6 for v in rows.values())  # finite
    if precision == "fp16":
        assert state["scaler"]["scale"] > 0  # the scaler was active and its state is saved
    else:
        assert state["scaler"] == {}  # disabled scaler: bf16 needs none
    for net in state["networks"].values():
        for tensor in net.values():
            assert tensor.dtype in (torch.float32, torch.int64) and torch.isfinite(tensor.float()).all()


@pytest.mark.slow
@pytest.mark.parametrize("model", ["interp", "phase"])
def test_compiled_training_saves_bare_weights(tiny_cohort: Path, tmp_path: Path, model: str) -> None:
    args = [
        "--model", model, "--dataroot", str(tiny_cohort), "--name", "c", "--checkpoints_dir", str(tmp_path),
        "--n_epochs", "1", "--steps_per_epoch", "2", "--batch_size", "2", "--compile", "--no_tensorboard",
        "--val_max_batches", "1", *TINY,
    ]  # fmt: skip
    train.main(args)
    weights = torch.load(tmp_path / "c" / "weights.pt", weights_only=True)["networks"]
    assert not any("_orig_mod" in key for net in weights.values() for key in net)


# ----------------------------------------------------------------------- outputs that cannot be written


def _args(root: Path, ckpt: Path, *extra: str) -> list[str]:
    return [
        "--model", "phase", "--dataroot", str(root), "--name", "run", "--checkpoints_dir", str(ckpt),
        "--n_epochs", "2", "--steps_per_epoch", "2", "--batch_size", "2", "--val_max_batches", "1",
        "--no_tensorboard", *TINY, *extra,
    ]  # fmt: skip


def test_disk_full_while_saving_a_checkpoint(
    tiny_cohort: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    real_save = torch.save
    calls = {"n": 0}

    def full_disk(obj, f, *a, **k):
        calls["n"] += 1
        if calls["n"] > 3:  # epoch 1 writes latest, best, weights; epoch 2 fails at latest
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(HDLError, match=r"latest\.pt: cannot write: No space left on device"):
        train.main(_args(tiny_cohort, tmp_path))
    run = tmp_path / "run"
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    state = torch.load(run / "latest.pt", weights_only=False)
    assert state["counter"]["epoch"] == 1  # the last good checkpoint is intact


def test_checkpoint_folder_that_is_a_file(tiny_cohort: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "ckpt"
    blocker.write_text("a file where the run folder should go")
    result = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *_args(tiny_cohort, blocker)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and "ckpt" in result.stderr
    assert blocker.read_text().startswith("a file")


# ----------------------------------------------------------------------------------- interrupted runs


def test_ctrl_c_stops_cleanly_and_the_run_resumes(tiny_cohort: Path, tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        str(ROOT / "train.py"),
        *_args(tiny_cohort, tmp_path, "--save_epoch_freq", "1", "--print_freq", "1"),
    ]
    # Far more epochs than can finish before the signal, however slowly the poll below gets scheduled.
    cmd[cmd.index("--n_epochs") + 1] = "1000"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A suite started in the background (`cmd &`, nohup) inherits SIGINT as ignored, and Python keeps
        # an ignored SIGINT ignored: give the run the default disposition a terminal user's process has.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # latest.pt stays once written (epoch_NNNN.pt files rotate out under --keep_last).
    marker = tmp_path / "run" / "latest.pt"
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted" in err and "--continue_train" in err and "Traceback" not in err
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]
    import torch

    state = torch.load(tmp_path / "run" / "latest.pt", weights_only=False)
    stopped_at = state["counter"]["epoch"]
    assert 1 <= stopped_at < 1000
    assert state["counter"]["global_step"] == 2 * stopped_at  # --steps_per_epoch 2, whole epochs only

    # The run resumes where it stopped and finishes at the (shortened) epoch budget.
    cmd[cmd.index("--n_epochs") + 1] = str(stopped_at + 2)
    resumed = subprocess.run([*cmd, "--continue_train"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed {tmp_path / 'run'} at epoch {stopped_at}" in resumed.stdout
    final = torch.load(tmp_path / "run" / "latest.pt", weights_only=False)["counter"]
    assert final == {"epoch": stopped_at + 2, "global_step": 2 * (stopped_at + 2)}
    steps = {int(step) for (_, step, _) in loss_rows(tmp_path / "run")}
    assert steps == set(range(1, 2 * (stopped_at + 2) + 1))


# ------------------------------------------------------------------ network options from the checkpoint


def test_fine_tuning_the_shipped_phase_model_needs_no_architecture_flags(
    tiny_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from models.loading import PRETRAINED_DIR

    args = [
        "--model", "phase", "--dataroot", str(tiny_cohort), "--name", "ft", "--checkpoints_dir", str(tmp_path),
        "--init_weights", "pretrained", "--n_epochs", "1", "--steps_per_epoch", "1", "--batch_size", "2",
        "--val_freq", "0", "--num_workers", "0", "--gpu", "-1", "--no_progress", "--no_tensorboard",
    ]  # fmt: skip
    assert train.main(args)["steps"] == 1
    out = capsys.readouterr().out
    assert "network options from" in out and "--base_channels 16 --depth 3" in out
    shipped = torch.load(PRETRAINED_DIR / "phase" / "weights.pt", weights_only=True)
    saved = torch.load(tmp_path / "ft" / "weights.pt", weights_only=True)["options"]
    for name in ("base_channels", "depth", "temporal_window", "cycle_conditioning", "prior", "block"):
        assert saved[name] == shipped["options"][name], name
    assert (saved["block"], saved["prior"]) == ("r2", "kinematic")
    # One step of fine-tuning moved the shipped weights a little, from where they were.
    key = next(k for k, v in shipped["networks"]["netG"].items() if v.is_floating_point() and v.numel() > 100)
    moved = (torch.load(tmp_path / "ft" / "weights.pt", weights_only=True)["networks"]["netG"][key] -
             shipped["networks"]["netG"][key]).abs().max()  # fmt: skip
    assert 0 < float(moved) < 0.05


def _read_until(proc: subprocess.Popen, prefix: str, timeout: float = 180) -> list[str]:
    """The lines ``proc`` prints up to the first that starts with ``prefix``; fails after ``timeout`` s."""
    import queue
    import threading

    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        seen.append(line)
        if line.startswith(prefix):
            return seen
    proc.kill()
    raise AssertionError(f"no line starting with {prefix!r} in {timeout} s: {''.join(seen)[-3000:]}")


# ------------------------------------------------------------------------ how long, and stopping early


def test_a_long_run_says_how_long_and_a_stop_before_its_first_checkpoint_writes_one(
    tiny_cohort: Path, tmp_path: Path
) -> None:
    def cmd(ckpt: Path, epochs: int) -> list[str]:
        return [
            sys.executable, str(ROOT / "train.py"), "--model", "phase", "--dataroot", str(tiny_cohort), "--name", "run",
            "--checkpoints_dir", str(ckpt), "--n_epochs", str(epochs), "--batch_size", "2", "--seed", "3",
            "--deterministic", "--val_freq", "0", "--no_tensorboard", *TINY,
        ]  # fmt: skip

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # 5000 epochs of the 108 batches of 2 in the 3 training subjects: hours on a CPU, whatever the machine.
    proc = subprocess.Popen(cmd(tmp_path / "b", 5000), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    printed = "".join(_read_until(proc, "note: this run needs about"))
    proc.send_signal(signal.SIGTERM)
    err = proc.stderr.read()  # stdout stays with the reader of _read_until
    proc.wait(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert "training: 540000 steps (5000 epochs of 108 steps, batch 2) on cpu" in printed
    assert re.search(r"estimated training time: [\d.]+ h for 540000 steps at [\d.e-]+ s a step", printed)
    assert printed.count("scripts/train_reference.sh") == 1
    latest = tmp_path / "b" / "run" / "latest.pt"
    match = re.search(r"interrupted at step (\d+) \(epoch 1, before its first checkpoint\): saved (\S+); resume", err)
    assert match and Path(match.group(2)) == latest, err[-3000:]
    stopped = int(match.group(1))
    state = torch.load(latest, weights_only=False)
    assert state["counter"] == {"epoch": 0, "global_step": stopped} and 5 <= stopped < 108
    assert state["within_epoch"] == {"epoch": 1, "steps_done": stopped}

    # Resumed (to the end of epoch 1 only), it ends where a run that was never stopped ends.
    resumed = subprocess.run([*cmd(tmp_path / "b", 1), "--continue_train"], cwd=ROOT, env=env, capture_output=True,
                             text=True)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"108 steps (1 epoch of 108 steps, batch 2) on cpu; {108 - stopped} to go from step {stopped}" in (
        resumed.stdout
    )
    straight = subprocess.run(cmd(tmp_path / "a", 1), cwd=ROOT, env=env, capture_output=True, text=True)
    assert straight.returncode == 0, straight.stderr[-3000:]
    assert "note: this run needs" not in straight.stdout
    a, b = networks(tmp_path / "a" / "run" / "weights.pt"), networks(tmp_path / "b" / "run" / "weights.pt")
    for name in a:
        for key in a[name]:
            torch.testing.assert_close(b[name][key], a[name][key], rtol=0, atol=0, msg=f"{name}.{key}")


def test_ctrl_c_in_a_terminal_with_loading_workers_before_the_first_checkpoint(
    tiny_cohort: Path, tmp_path: Path
) -> None:
    """A terminal's Ctrl-C reaches the data-loading workers too: the run still stops on a checkpoint."""
    cmd = [
        sys.executable, str(ROOT / "train.py"), "--model", "interp", "--dataroot", str(tiny_cohort), "--name", "run",
        "--checkpoints_dir", str(tmp_path), "--n_epochs", "1000", "--batch_size", "2", "--val_freq", "0",
        "--no_tensorboard", "--base_channels", "8", "--depth", "2", "--num_workers", "2", "--gpu", "-1",
        "--no_progress",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    _read_until(proc, "estimated training time")
    os.killpg(proc.pid, signal.SIGINT)  # the whole process group, as a terminal does
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err[-3000:]
    assert "before its first checkpoint): saved" in err and "resume with --continue_train" in err
    state = torch.load(tmp_path / "run" / "latest.pt", weights_only=False)
    assert state["within_epoch"]["steps_done"] == state["counter"]["global_step"] >= 5


def test_weights_of_another_architecture_are_refused_with_the_saved_options_in_full() -> None:
    import argparse

    from models.loading import load_initial_weights
    from models.phase.model import PhaseModel

    saved = torch.load(ROOT / "pretrained" / "phase" / "weights.pt", weights_only=True)["options"]
    opt = argparse.Namespace(**{**PhaseModel.option_defaults(), **saved, "is_train": True, "base_channels": 4})
    with pytest.raises(HDLError) as info:
        load_initial_weights(PhaseModel(opt), "pretrained")
    message = str(info.value)
    assert "\n" not in message and "'netG' has another architecture" in message
    assert message.endswith("--ndf 32 --n_layers_D 3 --norm_D instance")  # every saved network option, to the end
    assert "--base_channels 16 --depth 3" in message and "--cycle_conditioning --prior kinematic" in message


def test_ctrl_c_while_setting_up_says_there_is_nothing_to_resume(
    tiny_cohort: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(entry.train, "create_model", interrupted)
    with pytest.raises(KeyboardInterrupt, match="before the first step: nothing to resume; start the run again"):
        train.main(_args(tiny_cohort, tmp_path))
    assert not (tmp_path / "run").exists()
