"""How long a training run is: its number of steps at the start, an estimate of its training time after
the first few steps, and, once, on a CPU, a pointer to the faster settings for a run of more than an hour."""

from __future__ import annotations

import argparse
import time
from typing import Protocol

import torch

from util.distributed import DistContext
from util.iteration_counter import IterationCounter


class TimedRun(Protocol):
    """What the clock reads of the trainer (``util.trainer.Trainer``)."""

    opt: argparse.Namespace
    ctx: DistContext
    device: torch.device
    counter: IterationCounter
    steps_per_epoch: int


#: a CPU run whose estimate exceeds this many seconds says so once, pointing at the faster settings
LONG_CPU_RUN_S = 3600.0
#: steps timed for the estimate, after the first one (which pays for set-up and warm-up)
TIMED_STEPS = 4


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class RunClock:
    """Says how long a run is: its number of steps at the start, and after the first few steps an estimate
    of the whole run's training time; once, on a CPU, that a run of more than an hour has faster settings."""

    def __init__(self, trainer: TimedRun, steps_left: int) -> None:
        self.trainer = trainer
        self.steps_left = max(0, int(steps_left))
        self.done = 0
        self.t0 = 0.0
        self.estimate: float | None = None

    def plan(self) -> str:
        t, c = self.trainer, self.trainer.counter
        total = c.total_epochs * t.steps_per_epoch
        ranks = f" x {t.ctx.world_size} processes" if t.ctx.world_size > 1 else ""
        text = (
            f"training: {total} steps ({c.total_epochs} epoch{'s' if c.total_epochs != 1 else ''} of "
            f"{t.steps_per_epoch} steps, batch "
            f"{t.opt.batch_size}{ranks}) on {t.device}"
        )
        return text if self.steps_left == total else f"{text}; {self.steps_left} to go from step {c.global_step}"

    def step_done(self) -> None:
        """Call after every step: times steps 2 .. 1 + TIMED_STEPS of this process, then reports once."""
        self.done += 1
        if self.done == 1 or self.done == 1 + TIMED_STEPS:
            if self.trainer.device.type == "cuda":
                torch.cuda.synchronize(self.trainer.device)
            now = time.perf_counter()
            if self.done == 1:
                self.t0 = now
            else:
                self.report((now - self.t0) / TIMED_STEPS)

    def report(self, per_step: float) -> None:
        self.estimate = per_step * self.steps_left
        if not self.trainer.ctx.is_main:
            return
        print(
            f"estimated training time: {_duration(self.estimate)} for {self.steps_left} steps at "
            f"{per_step:.3g} s a step (validation and checkpoints come on top)",
            flush=True,
        )
        if self.trainer.device.type == "cpu" and self.estimate > LONG_CPU_RUN_S:
            print(
                f"note: this run needs about {_duration(self.estimate)} on the CPU. The CPU settings of "
                "scripts/train_reference.sh train the shipped twin on 2 cores in about 30 minutes: "
                "--num_workers 0 --batch_size 8, --steps_per_epoch 75-100 for 20-25 epochs, --crop_size 96 "
                "(interp) or 64 (phase), --base_channels 16",
                flush=True,
            )
