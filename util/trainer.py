"""The trainer: optimisers, gradient scaling, learning-rate schedules, the epoch loop, validation,
checkpoints and logs. The model (models/base_model.py) only knows its networks and losses.

One training iteration never waits for the GPU: losses stay on the device and are read (all-reduced
over ranks) only every ``--print_freq`` steps; a non-finite loss is remembered on the device with the
step it happened at and reported at the next read, before any checkpoint is written, so the last good
checkpoint is never overwritten by a diverged model.

Beside it: the contract it states for models (``util/trainable.py``), the set-up before the first step
(``util/training_setup.py``), the run's clock (``util/run_clock.py``) and what a resume carries over
beyond the tensors (``util/resume.py``).
"""

from __future__ import annotations

import argparse
import math
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from util import checkpoint as ckpt
from util.distributed import DistContext, all_reduce_max, all_reduce_mean, all_reduce_sum, barrier
from util.errors import CheckpointError, TrainingError
from util.iteration_counter import IterationCounter
from util.option_values import options_to_dict
from util.resume import rename_logged_metrics, replan_schedule, restored_best
from util.run_clock import RunClock
from util.train_logger import TrainLogger
from util.trainable import TrainableModel
from util.training_setup import configure_determinism, lr_lambda, make_optimizer, seed_everything

#: set-up helpers the entry points and the benchmarks import from here, beside the trainer
__all__ = ["TrainableModel", "Trainer", "configure_determinism", "seed_everything"]


class Trainer:
    def __init__(
        self,
        opt: argparse.Namespace,
        model: TrainableModel,
        ctx: DistContext,
        train_set: Any,
        val_set: Any | None = None,
    ) -> None:
        self.opt = opt
        self.model = model
        self.ctx = ctx
        self.device = ctx.device
        self.run_dir = Path(opt.checkpoints_dir) / opt.name
        self.train_set, self.val_set = train_set, val_set
        self.train_loader = self._loader(train_set, shuffle=True)
        self.val_loader = self._loader(val_set, shuffle=False) if val_set is not None else None
        steps = len(self.train_loader)
        if opt.steps_per_epoch:
            steps = min(steps, opt.steps_per_epoch)
        if steps == 0:
            raise TrainingError(
                f"the training split has {len(train_set)} samples, fewer than one batch of "
                f"{opt.batch_size} x {ctx.world_size} process(es); lower --batch_size"
            )
        self.steps_per_epoch = steps
        self.counter = IterationCounter(opt, steps)

        lr = opt.lr if opt.lr is not None else model.default_lr
        beta1 = opt.beta1 if opt.beta1 is not None else model.default_beta1
        self.optimizers = {
            g: make_optimizer(model.optimizer_parameters(g), lr, (beta1, opt.beta2), opt.weight_decay, self.device)
            for g in model.optimizer_order
        }
        self.schedulers = {g: torch.optim.lr_scheduler.LambdaLR(o, lr_lambda(opt)) for g, o in self.optimizers.items()}
        # One scaler for every optimiser: step() per optimiser, one update() per iteration.
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=opt.precision == "fp16")
        self.best_value: float | None = None
        self.best_epoch = 0
        self._bad_step = torch.full((), -1, dtype=torch.long, device=self.device)
        self._bad_group = ""
        self.checkpoints = ckpt.CheckpointManager(self.run_dir, keep_last=opt.keep_last)
        self._resume_within_epoch = 0  # steps of the first epoch done before an interrupted run stopped
        self._stop_requested = False
        self._deferred_rng: dict[str, Any] | None = None
        self.clock = RunClock(self, 0)  # fit() starts the run's own
        self.logger = TrainLogger(self.run_dir, enabled=ctx.is_main, tensorboard=not opt.no_tensorboard)

    # ------------------------------------------------------------------------------------ set-up

    def _loader(self, dataset: Any, shuffle: bool) -> DataLoader:
        # A DistributedSampler also for one process: its order depends only on (seed, epoch), which is
        # what makes a resumed run see the same batches as an uninterrupted one.
        sampler = DistributedSampler(
            dataset,
            num_replicas=self.ctx.world_size,
            rank=self.ctx.rank,
            shuffle=shuffle,
            seed=self.opt.seed,
            drop_last=shuffle,
        )
        workers = self.opt.num_workers
        return DataLoader(
            dataset,
            batch_size=self.opt.batch_size,
            sampler=sampler,
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
            drop_last=shuffle,
            # Workers live for the whole run (no start-up and file reopening each epoch); the datasets
            # keep their epoch in shared memory, so the per-epoch random draws still change.
            persistent_workers=workers > 0,
            prefetch_factor=4 if workers > 0 else None,
        )

    def wrap_model(self) -> None:
        """torch.compile (optional), then DDP when distributed; checkpoints keep the bare networks."""
        opt, ctx = self.opt, self.ctx

        def compile_fn(net: nn.Module) -> nn.Module:
            return torch.compile(net) if opt.compile else net

        def ddp_fn(net: nn.Module) -> nn.Module:
            if not ctx.distributed:
                return net
            ids = [ctx.device.index] if ctx.device.type == "cuda" else None
            return DistributedDataParallel(net, device_ids=ids)

        self.model.wrap_networks(compile_fn, ddp_fn)

    # ----------------------------------------------------------------------------------- one step

    def step(self, group: str, loss: torch.Tensor) -> None:
        """Back-propagate ``loss`` and update optimiser ``group`` (the model calls this)."""
        optimizer = self.optimizers[group]
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        # Remember the first step with a non-finite loss, on the device: no host sync here.
        bad = ~torch.isfinite(loss.detach()) & (self._bad_step < 0)
        self._bad_step = torch.where(bad, self.counter.global_step + 1, self._bad_step)

    def train_step(self, batch: dict[str, Any]) -> None:
        self.model.set_input(batch)
        self.model.optimize_parameters(self.step)
        self.scaler.update()
        self.counter.record_step()

    def check_finite(self) -> None:
        """Raise ``TrainingError`` naming the step if any rank saw a non-finite loss."""
        bad = all_reduce_max(self._bad_step, self.ctx) if self.ctx.distributed else self._bad_step
        step = int(bad.item())
        if step >= 0:
            losses = {k: float(v) for k, v in self.model.current_losses().items()}
            shown = ", ".join(f"{k}={v:.4g}" for k, v in losses.items())
            raise TrainingError(
                f"non-finite loss at step {step} (epoch {self.counter.epoch + 1}): {shown}. "
                f"Training stopped; the last good checkpoint is kept in {self.run_dir}"
            )

    # -------------------------------------------------------------------------------- the loop

    def fit(self) -> dict[str, Any]:
        """Train for the remaining epochs; return a summary (best metric, epochs, time)."""
        ctx = self.ctx
        start = time.perf_counter()
        self.clock = RunClock(self, self.counter.total_epochs * self.steps_per_epoch - self.counter.global_step)
        if ctx.is_main:
            print(self.clock.plan(), flush=True)
        with self.stop_signals():
            for epoch in self.counter.epochs():
                self.run_epoch(epoch)
                self.check_finite()
                with warnings.catch_warnings():
                    # With fp16 the scaler may skip every step of a short epoch (inf gradients while the
                    # scale settles); the scheduler then warns about an order that is in fact correct.
                    warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler")
                    for s in self.schedulers.values():
                        s.step()
                self.counter.record_epoch_end(epoch)
                metrics = self.validate() if self.counter.needs_validation(epoch) else {}
                if metrics:
                    self.logger.scalars("val", metrics, self.counter.global_step, epoch)
                    if ctx.is_main:
                        shown = "  ".join(f"{k} {v:.4g}" for k, v in metrics.items())
                        print(f"epoch {epoch}: validation {shown}", flush=True)
                self.save(epoch, metrics)
                if self._stop_requested:  # asked between the last step and the checkpoint: stop on it
                    raise KeyboardInterrupt
        self.logger.close()
        checksums = self.verify_replicas()
        return {
            "replica_checksums": checksums,
            "epochs": self.counter.epoch,
            "steps": self.counter.global_step,
            "best_metric": self.model.val_metric,
            "best_value": self.best_value,
            "best_epoch": self.best_epoch,
            "seconds": time.perf_counter() - start,
        }

    def run_epoch(self, epoch: int) -> None:
        """The optimiser steps of one epoch (after a resume inside an epoch, those it had not done)."""
        from tqdm import tqdm

        self.train_loader.sampler.set_epoch(epoch)
        self.train_set.set_epoch(epoch)
        self.model.train()
        done, self._resume_within_epoch = self._resume_within_epoch, 0
        show = self.ctx.is_main and not self.opt.no_progress
        desc = f"epoch {epoch}/{self.counter.total_epochs}"
        bar = tqdm(
            total=self.steps_per_epoch, initial=done, desc=desc, disable=not show, dynamic_ncols=True, leave=False
        )
        batches = iter(self.train_loader)
        if self._deferred_rng is not None:
            ckpt.set_rng_state(self._deferred_rng)
            self._deferred_rng = None
        for i in range(self.steps_per_epoch):
            try:
                batch = next(batches)
            except StopIteration:
                break
            except RuntimeError:
                # A Ctrl-C in a terminal also ends the data-loading workers: stop after the last whole step.
                if not self._stop_requested:
                    raise
                bar.close()
                self.stop_before_first_checkpoint(epoch, i)
            if i < done:  # the sampler's order and the samples' draws depend on (seed, epoch, index) only
                continue
            self.train_step(batch)
            bar.update(1)
            self.clock.step_done()
            self.log_step(epoch, bar)
            if self._stop_requested:
                bar.close()
                self.stop_before_first_checkpoint(epoch, i + 1)
        bar.close()

    def log_step(self, epoch: int, bar: Any) -> None:
        """Losses every ``--print_freq`` steps (after the check for a non-finite one), images every
        ``--display_freq``."""
        if self.counter.needs_printing():
            self.check_finite()
            losses = {k: float(v) for k, v in all_reduce_mean(self.model.current_losses(), self.ctx).items()}
            losses["lr"] = self.optimizers[self.model.optimizer_order[0]].param_groups[0]["lr"]
            self.logger.scalars("train", losses, self.counter.global_step, epoch)
            bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items() if not k.endswith("_total")})
        if self.counter.needs_display():
            self.logger.images(self.model.current_visuals(), self.counter.global_step)

    # ---------------------------------------------------------------------------- interruptions

    @contextmanager
    def stop_signals(self) -> Iterator[None]:
        """Ctrl-C and SIGTERM stop the run. Before its first checkpoint, the run stops at the end of the
        step under way and writes one there (so that ``--continue_train`` has something to resume); after
        it, at once, and ``--continue_train`` resumes from ``latest.pt``. A second signal stops at once."""
        self._stop_requested = False
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            if self._stop_requested or self.checkpoints.path("latest").exists():
                raise KeyboardInterrupt
            self._stop_requested = True

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    def stop_before_first_checkpoint(self, epoch: int, steps_done: int) -> None:
        """Write a checkpoint inside ``epoch`` after ``steps_done`` of its steps and stop (``KeyboardInterrupt``
        with the message the user reads); under DDP the ranks may be at different steps: say so instead."""
        where = f"at step {self.counter.global_step} (epoch {epoch}, before its first checkpoint)"
        if self.ctx.distributed:
            raise KeyboardInterrupt(
                f"{where}: nothing to resume, the first checkpoint comes at the end of epoch 1; start the run "
                "again without --continue_train"
            )
        self.check_finite()
        state = self.state_dict()
        state["within_epoch"] = {"epoch": epoch, "steps_done": steps_done}
        path = self.checkpoints.save_latest(state)
        raise KeyboardInterrupt(f"{where}: saved {path}; resume with --continue_train")

    @torch.no_grad()
    def verify_replicas(self) -> list[float]:
        """Per-rank checksums of every network's weights; DDP replicas that drifted apart are an error.

        DDP keeps replicas identical by construction, but a buffer updated outside autograd or a
        rank-dependent code path can break that silently; checking once at the end costs nothing.
        """
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        for name in self.model.network_names:
            for i, p in enumerate(self.model.network(name).state_dict().values()):
                if p.is_floating_point():
                    total += (p.double() * (1.0 + 1e-3 * i)).sum()
        sums = [total.clone() for _ in range(self.ctx.world_size)]
        if self.ctx.distributed:
            dist.all_gather(sums, total)
        values = [float(v) for v in sums]
        if any(abs(v - values[0]) > 1e-9 * max(1.0, abs(values[0])) for v in values):
            raise TrainingError(f"DDP replicas hold different weights after training: checksums {values}")
        if self.ctx.distributed and self.ctx.is_main:
            print(f"replicas identical on {self.ctx.world_size} ranks: checksums {values}", flush=True)
        return values

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Stage metrics on the validation split, summed over ranks then averaged per sample."""
        if self.val_loader is None:
            return {}
        self.model.eval()
        sums: dict[str, torch.Tensor] = {}
        for i, batch in enumerate(self.val_loader):
            if self.opt.val_max_batches and i >= self.opt.val_max_batches:
                break
            for k, v in self.model.validation_step(batch).items():
                sums[k] = sums.get(k, 0) + v.detach().float()
        self.model.train()
        sums = all_reduce_sum(sums, self.ctx)
        count = float(sums.pop("count", torch.tensor(1.0)))
        metrics = {k: float(v) / max(count, 1.0) for k, v in sums.items()}
        self.model.note_validation(metrics)
        return metrics

    # ------------------------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict[str, Any]:
        rng = ckpt.rng_state()
        if self.ctx.distributed:
            gathered: list[Any] = [None] * self.ctx.world_size
            dist.all_gather_object(gathered, rng)
            rng = {"per_rank": gathered}
        return {
            "networks": {n: self.model.network(n).state_dict() for n in self.model.network_names},
            "optimizers": {g: o.state_dict() for g, o in self.optimizers.items()},
            "schedulers": {g: s.state_dict() for g, s in self.schedulers.items()},
            "scaler": self.scaler.state_dict(),
            "counter": self.counter.state_dict(),
            "rng": rng,
            "options": options_to_dict(self.opt),
            "extra_state": self.model.extra_state(),
            "best": {"metric": self.model.val_metric, "value": self.best_value, "epoch": self.best_epoch},
            "world_size": self.ctx.world_size,
        }

    def _is_better(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best_value is None:
            return True
        if self.model.val_metric_higher_is_better:
            return value > self.best_value
        return value < self.best_value

    def save(self, epoch: int, metrics: dict[str, float]) -> None:
        value = metrics.get(self.model.val_metric)
        is_best = value is not None and self._is_better(value)
        if is_best:
            self.best_value, self.best_epoch = value, epoch
        state = self.state_dict()  # every rank: the RNG gather is a collective
        if self.ctx.is_main:
            self.checkpoints.save_latest(state)
            if is_best or (self.val_loader is None and self.counter.is_last_epoch(epoch)):
                self.checkpoints.save_best(state)
            if self.counter.needs_periodic_save(epoch):
                self.checkpoints.save_periodic(state, epoch)
            self.checkpoints.save_weights(state)
        barrier(self.ctx)

    def _replan_schedule(self, saved: dict[str, Any]) -> None:
        """A run continued with another length or policy follows the schedule asked for now, and says so."""
        opt = self.opt
        before = replan_schedule(self.schedulers, opt, saved)
        if before is not None and self.ctx.is_main:
            now = self.counter.total_epochs
            lr = self.optimizers[self.model.optimizer_order[0]].param_groups[0]["lr"]
            print(
                f"resume: the run had {before} epochs ({saved.get('lr_policy', opt.lr_policy)} lr), now {now}: "
                f"the lr schedule is re-planned over {now} epochs ({opt.lr_policy}), lr {lr:.3g} from epoch "
                f"{self.counter.epoch + 1}",
                flush=True,
            )

    def resume(self) -> None:
        """Restore everything from ``latest.pt`` (``--continue_train``)."""
        state = self.checkpoints.load("latest")
        try:
            for name in self.model.network_names:
                self.model.network(name).load_state_dict(state["networks"][name])
            for g, o in self.optimizers.items():
                o.load_state_dict(state["optimizers"][g])
            for g, s in self.schedulers.items():
                s.load_state_dict(state["schedulers"][g])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(
                f"{self.checkpoints.path('latest')}: does not match this model ({exc}); "
                "resume with the options the run was started with"
            ) from exc
        self.scaler.load_state_dict(state["scaler"])
        self.counter.load_state_dict(state["counter"])
        self._replan_schedule(state.get("options", {}))
        self.model.load_extra_state(state.get("extra_state", {}))
        self.best_value, self.best_epoch, note = restored_best(
            state.get("best", {}), self.model.val_metric, self.model.former_metric_names
        )
        if self.ctx.is_main:
            rename_logged_metrics(self.logger.csv_path, self.model.former_metric_names)
            if note:
                print(f"resume: {note}", flush=True)
        within = state.get("within_epoch") or {}
        self._resume_within_epoch = int(within.get("steps_done", 0))
        rng = state["rng"]
        if "per_rank" in rng:
            ranks = rng["per_rank"]
            rng = ranks[self.ctx.rank] if self.ctx.rank < len(ranks) else ranks[0]
        if self._resume_within_epoch:
            # Set once the epoch's batch iterator exists: creating it draws from the torch generator, which
            # the interrupted run had done before the steps it took.
            self._deferred_rng = rng
        else:
            ckpt.set_rng_state(rng)
        if self.ctx.is_main:
            print(
                f"resumed {self.run_dir} at epoch {self.counter.epoch}, step {self.counter.global_step}",
                flush=True,
            )
