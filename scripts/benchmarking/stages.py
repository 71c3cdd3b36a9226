"""The stage models as the benchmark builds them: through the project's own option parser and model
factory, so every section measures the default architecture that training would build."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from models import create_model
from options.train_options import TrainOptions
from scripts.benchmarking.settings import Settings
from util.trainer import seed_everything


def stage_options(stage: str, s: Settings, workdir: Path, name: str, **perf: Any) -> argparse.Namespace:
    """Training options of a stage with its default architecture; ``perf`` sets precision etc."""
    dev = s.torch_device
    gpu = "-1" if dev.type == "cpu" else str(dev.index or 0)
    args = [
        "--model", stage, "--dataroot", str(workdir / "cohort"), "--checkpoints_dir", str(workdir / "runs"),
        "--name", name, "--batch_size", str(s.batch), "--num_workers", "0", "--gpu", gpu, "--seed", "0",
        "--precision", perf.get("precision", "fp32"), "--val_freq", "0", "--no_tensorboard", "--no_progress",
        "--channels_last" if perf.get("channels_last", False) else "--no-channels_last",
    ]  # fmt: skip
    if perf.get("compile", False):
        args.append("--compile")
    return TrainOptions().parse(args, save=False)


def build_model(stage: str, s: Settings, workdir: Path, name: str, train: bool = True, **perf: Any) -> Any:
    """A stage model with freshly seeded weights: every mode starts from the same network."""
    opt = stage_options(stage, s, workdir, name, **perf)
    opt.is_train = train  # without training, the phase model builds no discriminator
    seed_everything(0)
    return create_model(opt, s.torch_device)
