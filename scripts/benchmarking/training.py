"""Section (a): training throughput and peak memory of both stages, the project's engine against the
paper-style loop. Batches are synthetic and in memory, so the step is timed, not the loader."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, Protocol

import torch
from torch.utils.data import Dataset

from models.losses import masked_l1
from models.phase.foreground import composite
from models.phase.model import frozen
from scripts.benchmarking.settings import STAGES, TRAIN_MODES, Settings, TrainMode
from scripts.benchmarking.stages import build_model
from scripts.benchmarking.timing import PeakMemory, release_memory, section, set_backend_flags, timed_seconds
from util.distributed import DistContext
from util.trainer import Trainer

Batch = dict[str, torch.Tensor]


class Stepper(Protocol):
    """A training step of one mode, and the host read that ends a timed block."""

    def __call__(self, batch: Batch) -> Any:
        """One optimiser step of every network of the stage on ``batch``."""

    def finish(self) -> None:
        """Wait for pending work and check it, outside the timed block."""


def synthetic_batch(stage: str, batch: int, size: int, seed: int = 0) -> Batch:
    """A training batch with the shapes and value ranges of the datasets' (content does not change
    the arithmetic of dense convolutions, so timings equal those on real data)."""
    g = torch.Generator().manual_seed(seed)

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(shape, generator=g) * 2 - 1

    def mask(fraction: float) -> torch.Tensor:
        return (torch.rand((batch, 1, size, size), generator=g) < fraction).float()

    if stage == "phase":
        return {
            "magnitude": uniform(batch, 3, size, size),
            "velocity": uniform(batch, 3, size, size),
            "tissue": mask(0.5),
            "myocardium": mask(0.05),
            "venc": torch.full((batch, 3), 20.0),
        }
    time_raw = torch.rand((batch, 4), generator=g)
    return {
        "key_magnitude": uniform(batch, 2, size, size),
        "key_mask": (torch.rand((batch, 2, size, size), generator=g) < 0.05).float(),
        "target_magnitude": uniform(batch, 1, size, size),
        "target_mask": mask(0.05),
        "target_tissue": mask(0.5),
        "time": time_raw,
    }


class FixedBatches(Dataset):
    """The samples of one in-memory batch; only there because the trainer builds a loader."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.length = len(next(iter(batch.values())))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Batch:
        return {k: v[index] for k, v in self.batch.items()}

    def set_epoch(self, epoch: int) -> None:
        """The trainer calls this every epoch; the samples do not change."""


class ReferenceInterpStep:
    """The interpolation reference: default Adam, fp32 eager, every loss term read every step."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.optimizer = torch.optim.Adam(model.network("netG").parameters(), lr=model.default_lr)

    def __call__(self, batch: Batch) -> dict[str, float]:
        m = self.model
        m.set_input(batch)
        m.forward()
        losses = m.compute_losses("G")
        self.optimizer.zero_grad()
        losses["total"].backward()
        self.optimizer.step()
        # Logging every step, as the paper's loop does: one host-device synchronisation per term.
        return {k: v.item() for k, v in losses.items()}

    def finish(self) -> None:
        """Nothing is pending: every step already synchronised."""


class ReferencePhaseStep:
    """The phase GAN as the paper's loop steps it: generator first, then the discriminator with a
    separate pass on real and on (detached) fake maps, every loss read with ``.item()`` every step.

    The networks, the composite, the noise model and the GAN loss are the model's own; the
    discriminator is frozen during the generator's pass as in pix2pix, so the reference does no
    gradient work the project's engine avoids (its ratio is not inflated by wasted weight gradients).
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.net_g, self.net_d = model.network("netG"), model.network("netD")
        betas = (model.default_beta1, 0.999)
        self.opt_g = torch.optim.Adam(self.net_g.parameters(), lr=model.default_lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.net_d.parameters(), lr=model.default_lr, betas=betas)

    def __call__(self, batch: Batch) -> dict[str, float]:
        m, dev = self.model, self.model.device
        o = m.opt
        magnitude, real = batch["magnitude"].to(dev), batch["velocity"].to(dev)
        tissue, myocardium = batch["tissue"].to(dev), batch["myocardium"].to(dev)
        foreground = self.net_g(magnitude)
        fake = composite(foreground, m.noise.sample(foreground.shape, dev), tissue)

        with frozen(self.net_d):
            gan = m.gan_loss(self.net_d(torch.cat([magnitude, fake], 1)), True, for_discriminator=False)
        l1_tissue = masked_l1(fake, real, tissue)
        l1_myo = masked_l1(fake, real, myocardium)
        loss_g = o.lambda_gan * gan + o.lambda_tissue * l1_tissue + o.lambda_myo * l1_myo
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()

        loss_real = m.gan_loss(self.net_d(torch.cat([magnitude, real], 1)), True)
        loss_fake = m.gan_loss(self.net_d(torch.cat([magnitude, fake.detach()], 1)), False)
        loss_d = 0.5 * (loss_real + loss_fake)
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        terms = {"G": loss_g, "gan": gan, "l1_tissue": l1_tissue, "l1_myo": l1_myo, "D_real": loss_real}
        return {k: v.item() for k, v in {**terms, "D_fake": loss_fake}.items()}

    def finish(self) -> None:
        """Nothing is pending: every step already synchronised."""


class EngineStep:
    """One step of the project's engine: ``Trainer.train_step`` (fused/foreach Adam, one GradScaler,
    autocast, update order D then G with one discriminator pass on real and fake, no host sync)."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer

    def __call__(self, batch: Batch) -> None:
        self.trainer.train_step(batch)

    def finish(self) -> None:
        """The one host read the engine makes every --print_freq steps (raises on a non-finite loss)."""
        self.trainer.check_finite()


def build_stepper(stage: str, mode: TrainMode, s: Settings, workdir: Path, batch: Batch) -> Stepper:
    """The step of one mode on a freshly seeded model: the reference loop, or the project's trainer."""
    name = f"bench_{stage}_{mode.name}"
    model = build_model(
        stage, s, workdir, name, precision=mode.precision, channels_last=mode.channels_last, compile=mode.compile
    )
    if mode.reference:
        return (ReferencePhaseStep if stage == "phase" else ReferenceInterpStep)(model)
    trainer = Trainer(model.opt, model, DistContext(0, 1, 0, s.torch_device), FixedBatches(batch))
    if mode.compile:
        torch._dynamo.reset()  # each mode compiles its own networks from a clean cache
    trainer.wrap_model()
    return EngineStep(trainer)


def run_timed_steps(step: Stepper, batch: Batch, s: Settings, warmup: int, memory: PeakMemory) -> list[float]:
    """Warm up, then time ``s.repeats`` blocks of ``s.steps`` steps; peak memory covers the timed blocks."""
    for _ in range(warmup):
        step(batch)
    step.finish()
    memory.reset()
    seconds = [timed_seconds(lambda: step(batch), s.steps, s.torch_device) for _ in range(s.repeats)]
    step.finish()
    return seconds


def measure_training(stage: str, mode: TrainMode, s: Settings, workdir: Path) -> dict[str, Any]:
    """Throughput (images/s, median over repeats) and peak memory of one stage in one mode."""
    dev = s.torch_device
    memory = PeakMemory(dev)
    set_backend_flags(dev, optimised=not mode.reference)
    batch = synthetic_batch(stage, s.batch, s.size)
    if s.is_cuda and not mode.reference:
        # What the trainer's DataLoader(pin_memory=True) hands over; the reference loop uses pageable memory.
        batch = {k: v.pin_memory() for k, v in batch.items()}
    step = build_stepper(stage, mode, s, workdir, batch)
    # Compilation happens in the first steps (forward, backward, and the frozen / unfrozen D variants).
    warmup = max(s.warmup, 3) if mode.compile else s.warmup
    seconds = run_timed_steps(step, batch, s, warmup, memory)
    peak = memory.peak_mib()
    del step
    release_memory(dev)
    rates = [s.steps * s.batch / t for t in seconds]
    return {
        "mode": mode.name,
        "summary": mode.summary,
        "images_per_s": statistics.median(rates),
        "images_per_s_all": rates,
        "seconds_per_step": statistics.median(seconds) / s.steps,
        "peak_memory_mib": peak,
        "steps": s.steps,
        "repeats": s.repeats,
        "warmup_steps": warmup,
    }


def run_training(s: Settings, workdir: Path) -> dict[str, dict[str, Any]]:
    """Every requested mode of both stages, the reference first."""
    out: dict[str, dict[str, Any]] = {stage: {} for stage in STAGES}
    for stage in STAGES:
        for name in s.train_modes:
            with section(f"training {stage} {name}"):
                out[stage][name] = measure_training(stage, TRAIN_MODES[name], s, workdir)
    return out
