"""Performance benchmark of HDL-MVM: training, chained synthesis and data loading, in one run.

    python scripts/benchmark.py --device cuda                  # the full benchmark on a GPU
    python scripts/benchmark.py --device cpu --quick           # tiny sizes, a minute or so on 2 cores
    python scripts/benchmark.py --device cuda --out results.json --peak_tflops 989

Three measurements, each against a reference measured in the same run, so every ratio compares runs
on the same machine, under the same load, minutes apart:

(a) training throughput (images/s) and peak memory of both stages. The reference is the same networks
    in fp32, eager, NCHW, ``torch.optim.Adam`` with its default settings, cuDNN with its defaults,
    stepped the way the paper's loop does it (generator step, then a discriminator step with separate
    passes on real and on fake, every loss read with ``.item()`` at every step). The other modes run
    the project's own engine (``util.trainer.Trainer.train_step``) with precision, memory format and
    ``torch.compile`` varied one at a time.
(b) latency of the chained synthesis of one subject (``HDLPredictor.predict_subject``): fp32, NCHW,
    small frame batches against bf16 autocast, large frame batches, channels_last and optionally
    ``torch.compile``.
(c) data-loading throughput of the phase and interpolation datasets on a phantom cohort generated
    into a temporary folder, with 0, 1 and N workers, with the HDF5 files kept open per worker (the
    project's reader) or reopened for every sample (the reference reader), and whether the loader
    keeps up with the best training rate measured in (a).

Timing: every mode is warmed up first (cuDNN autotuning, allocator growth, compilation), and the device
is synchronised only around the timed region, never inside it. See docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import ctypes
import gc
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: the project's packages live in ROOT
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, Dataset, RandomSampler  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from data import create_dataset  # noqa: E402
from data.interp_dataset import key_frame_grid  # noqa: E402
from data.phantom import PhantomConfig, generate_cohort, generate_subject  # noqa: E402
from models import create_model  # noqa: E402
from models.hdl.predictor import HDLPredictor  # noqa: E402
from models.losses import masked_l1  # noqa: E402
from models.networks import N_TIME_FEATURES  # noqa: E402
from models.phase.model import composite, frozen  # noqa: E402
from options.train_options import TrainOptions  # noqa: E402
from util.distributed import DistContext  # noqa: E402
from util.tissue import tissue_mask_from_magnitude  # noqa: E402
from util.trainer import Trainer, configure_determinism, seed_everything  # noqa: E402

STAGES = ("interp", "phase")
SECTIONS = ("train", "infer", "data")
#: bf16 dense tensor-core peak of an H100 SXM5 (989.4 TFLOP/s without sparsity); H200 has the same
#: peak, an H100 PCIe about 756
DEFAULT_PEAK_TFLOPS = 989.0
#: batches prefetched per worker while measuring loaders; those in flight at the start are skipped
LOADER_PREFETCH = 2
MIB = 2**20


# ------------------------------------------------------------------------------------------ settings


@dataclass(frozen=True)
class TrainMode:
    """One way of running a training step; modes differ from their neighbours in one setting."""

    name: str
    precision: str  # fp32 | bf16
    channels_last: bool
    compile: bool
    reference: bool  # the paper-style loop and default settings instead of the project's engine
    summary: str


@dataclass(frozen=True)
class InferMode:
    """One configuration of the chained synthesis."""

    name: str
    precision: str
    channels_last: bool
    compile: bool
    large_batch: bool
    summary: str


TRAIN_MODES: dict[str, TrainMode] = {
    m.name: m
    for m in (
        TrainMode("reference", "fp32", False, False, True, "fp32 eager NCHW, Adam defaults, G then D, .item()/step"),
        TrainMode("engine_fp32", "fp32", False, False, False, "project engine, fp32 eager NCHW"),
        TrainMode("engine_fp32_cl", "fp32", True, False, False, "project engine, fp32 eager channels_last"),
        TrainMode("engine_bf16", "bf16", False, False, False, "project engine, bf16 autocast NCHW"),
        TrainMode("engine_bf16_cl", "bf16", True, False, False, "project engine, bf16 autocast channels_last"),
        TrainMode("engine_bf16_cl_compile", "bf16", True, True, False, "bf16 channels_last + torch.compile"),
    )
}

INFER_MODES: dict[str, InferMode] = {
    m.name: m
    for m in (
        InferMode("reference", "fp32", False, False, False, "fp32 eager NCHW, small frame batches"),
        InferMode("fp32_batched", "fp32", False, False, True, "fp32 eager NCHW, large frame batches"),
        InferMode("bf16_batched", "bf16", False, False, True, "bf16 autocast NCHW, large frame batches"),
        InferMode("bf16_cl_batched", "bf16", True, False, True, "bf16 channels_last, large frame batches"),
        InferMode("bf16_cl_batched_compile", "bf16", True, True, True, "bf16 channels_last + torch.compile"),
    )
}


@dataclass(frozen=True)
class Settings:
    """Everything a run measures, resolved from the command line (``--quick`` shrinks the defaults)."""

    device: str
    quick: bool
    size: int
    batch: int
    workers: int
    warmup: int
    steps: int
    repeats: int
    frames: int
    factor: int
    infer_batch_small: int
    infer_batch_large: int
    infer_repeats: int
    cohort_subjects: int
    loader_batches: int
    peak_tflops: float
    compile: bool
    threads: int
    train_modes: tuple[str, ...]
    infer_modes: tuple[str, ...]
    sections: tuple[str, ...]

    @property
    def torch_device(self) -> torch.device:
        return torch.device(self.device)

    @property
    def is_cuda(self) -> bool:
        return self.torch_device.type == "cuda"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark HDL-MVM training, chained synthesis and data loading against a reference mode.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--device", default=None, help="cuda, cuda:N or cpu (default: cuda when available)")
    p.add_argument("--quick", action="store_true", help="tiny sizes and few steps (a smoke test, not a measurement)")
    p.add_argument("--size", type=int, default=None, help="image size (default 256; 32 with --quick)")
    p.add_argument("--batch", type=int, default=None, help="training batch size (default 12, the paper's; 2 quick)")
    p.add_argument("--workers", type=int, default=8, help="N, the largest data-loading worker count measured")
    p.add_argument("--steps", type=int, default=None, help="timed training steps per repeat (default 20; 3 quick)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps per mode (default 5; 2 quick)")
    p.add_argument("--frames", type=int, default=None, help="frames per slice of the synthesised subject (50; 12)")
    p.add_argument("--factor", type=int, default=6, help="temporal down-sampling factor of the synthesis")
    p.add_argument("--peak_tflops", type=float, default=DEFAULT_PEAK_TFLOPS, help="device peak for the %%peak column")
    p.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="include the torch.compile modes (default: on CUDA only; compiling on a CPU takes minutes)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads of torch (0: torch's default; 1 with --quick, robust on a shared machine)",
    )
    p.add_argument("--train_modes", nargs="+", choices=tuple(TRAIN_MODES), default=None, help="training modes")
    p.add_argument("--infer_modes", nargs="+", choices=tuple(INFER_MODES), default=None, help="synthesis modes")
    p.add_argument(
        "--sections",
        nargs="+",
        choices=SECTIONS,
        default=list(SECTIONS),
        help="what to measure; the loader verdict needs 'train' in the same run",
    )
    p.add_argument("--out", type=Path, default=None, help="write every number as JSON to this file")
    return p.parse_args(argv)


def resolve_settings(args: argparse.Namespace) -> Settings:
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda was given but CUDA is not available")
    quick = bool(args.quick)
    compile_modes = args.compile if args.compile is not None else torch.device(device).type == "cuda"

    def pick(value: int | None, full: int, small: int) -> int:
        return int(value) if value is not None else (small if quick else full)

    def with_compile(names: tuple[str, ...]) -> tuple[str, ...]:
        # "reference" is always measured: every ratio is taken against it.
        kept = tuple(n for n in names if compile_modes or "compile" not in n)
        return ("reference", *[n for n in kept if n != "reference"])

    train_modes = with_compile(tuple(args.train_modes or TRAIN_MODES))
    infer_modes = with_compile(tuple(args.infer_modes or INFER_MODES))
    settings = Settings(
        device=device,
        quick=quick,
        size=pick(args.size, 256, 32),
        batch=pick(args.batch, 12, 2),
        workers=max(1, int(args.workers)),
        warmup=pick(args.warmup, 5, 2),
        steps=pick(args.steps, 20, 3),
        repeats=1 if quick else 3,
        frames=pick(args.frames, 50, 12),
        factor=int(args.factor),
        infer_batch_small=2 if quick else 4,
        infer_batch_large=16 if quick else 64,
        infer_repeats=1 if quick else 3,
        cohort_subjects=2 if quick else 4,
        loader_batches=6 if quick else 40,
        peak_tflops=float(args.peak_tflops),
        compile=compile_modes,
        threads=pick(args.threads, 0, 1),
        train_modes=train_modes,
        infer_modes=infer_modes,
        sections=tuple(s for s in SECTIONS if s in args.sections),
    )
    if settings.size % 16 or settings.size < 32:
        raise SystemExit(
            f"--size must be a multiple of 16 and >= 32 (the networks halve it 4 times), got {settings.size}"
        )
    if settings.frames <= settings.factor or settings.frames < 8:
        raise SystemExit(f"--frames must be >= 8 and larger than --factor {settings.factor}, got {settings.frames}")
    if min(settings.batch, settings.steps) < 1 or settings.warmup < 0:
        raise SystemExit("--batch and --steps must be >= 1, --warmup >= 0")
    return settings


# ------------------------------------------------------------------------------ device and memory


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _proc_status_kib(field: str) -> int | None:
    """A ``VmRSS``/``VmHWM`` line of /proc/self/status in KiB (Linux), or None elsewhere."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's resident-set high-water mark (VmHWM) to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def release_memory(device: torch.device) -> None:
    """Free what the previous mode left: Python garbage, the CUDA cache, and free heap pages (glibc),
    so the next mode's memory baseline is not inflated by memory the allocator kept."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakMemory:
    """Peak memory of one mode: ``torch.cuda.max_memory_allocated`` on a GPU; on a CPU, the peak
    resident set size above the RSS before the mode was built (from /proc, no extra packages)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        release_memory(device)
        self.baseline_kib = _proc_status_kib("VmRSS")

    def reset(self) -> None:
        """Start the peak from here (after warm-up: compilation and autotuning are not training)."""
        if self.device.type == "cuda":
            synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        elif not _reset_peak_rss():
            self.baseline_kib = None

    def peak_mib(self) -> float | None:
        if self.device.type == "cuda":
            synchronize(self.device)
            return torch.cuda.max_memory_allocated(self.device) / MIB
        hwm = _proc_status_kib("VmHWM")
        if hwm is None or self.baseline_kib is None:
            return None
        return max(0.0, (hwm - self.baseline_kib) / 1024.0)


def timed_seconds(fn: Callable[[], None], n: int, device: torch.device) -> float:
    """Seconds for ``n`` calls of ``fn``; the device is synchronised before and after, never inside.

    On CUDA the interval is taken with events on the current stream, so it is the device's wall time
    from the first kernel of the block to the last one, independent of host jitter at the edges.
    """
    if device.type == "cuda":
        synchronize(device)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(n):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3
    begin = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - begin


def set_backend_flags(device: torch.device, optimised: bool) -> None:
    """cuDNN autotuning and TF32 as the project's trainer sets them, or PyTorch's defaults."""
    if optimised:
        configure_determinism(argparse.Namespace(deterministic=False), device)
        return
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = True


# ------------------------------------------------------------------------------------------- models


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


def synthetic_batch(stage: str, batch: int, size: int, seed: int = 0) -> dict[str, torch.Tensor]:
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

    def __init__(self, batch: dict[str, torch.Tensor]) -> None:
        self.batch = batch
        self.length = len(next(iter(batch.values())))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {k: v[index] for k, v in self.batch.items()}

    def set_epoch(self, epoch: int) -> None:
        """The trainer calls this every epoch; the samples do not change."""


# -------------------------------------------------------------------------------- training steps


class ReferenceInterpStep:
    """The interpolation reference: default Adam, fp32 eager, every loss term read every step."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.optimizer = torch.optim.Adam(model.network("netG").parameters(), lr=model.default_lr)

    def __call__(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
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

    def __call__(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        m, dev = self.model, self.model.device
        s = m.settings
        magnitude, real = batch["magnitude"].to(dev), batch["velocity"].to(dev)
        tissue, myocardium = batch["tissue"].to(dev), batch["myocardium"].to(dev)
        foreground = self.net_g(magnitude)
        fake = composite(foreground, m.noise.sample(foreground.shape, dev), tissue)

        with frozen(self.net_d):
            gan = m.gan_loss(self.net_d(torch.cat([magnitude, fake], 1)), True, for_discriminator=False)
        l1_tissue = masked_l1(fake, real, tissue)
        l1_myo = masked_l1(fake, real, myocardium)
        loss_g = float(s["lambda_gan"]) * gan + float(s["lambda_tissue"]) * l1_tissue + float(s["lambda_myo"]) * l1_myo
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

    def __call__(self, batch: dict[str, torch.Tensor]) -> None:
        self.trainer.train_step(batch)

    def finish(self) -> None:
        """The one host read the engine makes every --print_freq steps (raises on a non-finite loss)."""
        self.trainer.check_finite()


def build_stepper(stage: str, mode: TrainMode, s: Settings, workdir: Path, batch: dict) -> Any:
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


def run_timed_steps(step: Any, batch: dict, s: Settings, warmup: int, memory: PeakMemory) -> list[float]:
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


# ------------------------------------------------------------------------------------------- FLOPs


def forward_flops(net: nn.Module, *shapes: tuple[int, ...]) -> int:
    """FLOPs of one forward pass (2 per multiply-add of convolutions and matrix products), counted by
    ``FlopCounterMode`` on a meta-device copy: shapes only, no arithmetic, any image size in no time."""
    meta = copy.deepcopy(net).to("meta")
    inputs = [torch.empty(shape, device="meta") for shape in shapes]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        meta(*inputs)
    return int(counter.get_total_flops())


def count_flops(s: Settings, workdir: Path) -> dict[str, dict[str, int]]:
    """Per image: forward FLOPs of every network, and of a training step (3 x the forward FLOPs of
    every network pass of the step: the backward pass costs about twice the forward)."""
    cpu = Settings(**{**asdict(s), "device": "cpu"})
    size = s.size
    interp = build_model("interp", cpu, workdir, "flops_interp").network("netG")
    phase = build_model("phase", cpu, workdir, "flops_phase")
    i_fwd = forward_flops(interp, (1, 2, size, size), (1, 2, size, size), (1, N_TIME_FEATURES))
    g_fwd = forward_flops(phase.network("netG"), (1, 3, size, size))
    d_fwd = forward_flops(phase.network("netD"), (1, 6, size, size))
    return {
        "interp": {"forward_G": i_fwd, "train_per_image": 3 * i_fwd},
        # Discriminator passes per image and step: the fake in the generator's step, real and fake in its own.
        "phase": {"forward_G": g_fwd, "forward_D": d_fwd, "train_per_image": 3 * (g_fwd + 3 * d_fwd)},
    }


# --------------------------------------------------------------------------------------- inference


def compile_for_inference(interp: Any, phase: Any) -> None:
    """torch.compile both generators for inference.

    ``InterpModel.interpolate`` runs ``self.netG``, which ``wrap_networks`` replaces. The phase model's
    ``foreground_velocity`` runs the bare ``network("netG")``; on this throw-away instance the call is
    routed to the compiled module, which is what running ``local_network("netG")`` there would do.
    """
    torch._dynamo.reset()
    for model in (interp, phase):
        model.wrap_networks(torch.compile, lambda net: net)
    phase.network = phase.local_network


def instrument_stages(predictor: HDLPredictor) -> dict[str, float]:
    """Accumulate the wall time of stage 1 (``rebuild_cine``) and stage 2 (``synthesise_velocity``);
    both return host arrays, so their wall time includes the device work."""
    totals = {"stage1_s": 0.0, "stage2_s": 0.0}

    def wrap(method: str, key: str) -> None:
        inner = getattr(predictor, method)

        def timed(*args: Any, **kwargs: Any) -> Any:
            begin = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                totals[key] += time.perf_counter() - begin

        setattr(predictor, method, timed)

    wrap("rebuild_cine", "stage1_s")
    wrap("synthesise_velocity", "stage2_s")
    return totals


def measure_inference(mode: InferMode, s: Settings, workdir: Path, subject: Any) -> dict[str, Any]:
    """Median latency of ``predict_subject`` on one subject, after one warm-up call."""
    dev = s.torch_device
    memory = PeakMemory(dev)
    set_backend_flags(dev, optimised=mode.name != "reference")
    perf = {"precision": mode.precision, "channels_last": mode.channels_last}
    interp = build_model("interp", s, workdir, f"infer_interp_{mode.name}", train=False, **perf)
    phase = build_model("phase", s, workdir, f"infer_phase_{mode.name}", train=False, **perf)
    interp.eval()
    phase.eval()
    if mode.compile:
        compile_for_inference(interp, phase)
    batch = s.infer_batch_large if mode.large_batch else s.infer_batch_small
    predictor = HDLPredictor(interp, phase, device=dev, precision=mode.precision, batch_size=batch, seed=0)
    stages = instrument_stages(predictor)
    predictor.predict_subject(subject, factor=s.factor)  # warm-up: autotuning, allocator, compilation
    memory.reset()
    latencies, splits = [], []
    for _ in range(s.infer_repeats):
        stages.update(stage1_s=0.0, stage2_s=0.0)
        synchronize(dev)
        begin = time.perf_counter()
        predictor.predict_subject(subject, factor=s.factor)
        synchronize(dev)
        latencies.append(time.perf_counter() - begin)
        splits.append(dict(stages))
    peak = memory.peak_mib()
    del predictor, interp, phase
    release_memory(dev)
    median = statistics.median(latencies)
    split = splits[latencies.index(median)] if median in latencies else splits[-1]
    n_frames = len(subject.slices) * s.frames
    return {
        "mode": mode.name,
        "summary": mode.summary,
        "precision": mode.precision,
        "channels_last": mode.channels_last,
        "compile": mode.compile,
        "frame_batch": batch,
        "latency_s": median,
        "latency_s_all": latencies,
        "frames_per_s": n_frames / median,
        **split,
        "peak_memory_mib": peak,
    }


def host_tissue_seconds(subject: Any) -> float:
    """Host (CPU) time of the tissue masks of every frame of the subject, computed once per slice.

    Stage 2 needs the tissue foreground of every synthesised frame, and it is computed on the host
    (scipy), whatever the device: this is the floor that no device speed-up removes.
    """
    begin = time.perf_counter()
    for sl in subject.slices.values():
        mag = np.asarray(sl.magnitude, dtype=np.float32)
        tissue_mask_from_magnitude(np.clip(mag / np.percentile(mag, 99.5), 0, 1))
    return time.perf_counter() - begin


def inference_flops(flops: dict[str, dict[str, int]], s: Settings, n_slices: int) -> int:
    """Forward FLOPs of synthesising one subject: stage 1 on every non-key frame, stage 2 on every frame."""
    targets = s.frames - len(key_frame_grid(s.frames, s.factor))
    per_slice = targets * flops["interp"]["forward_G"] + s.frames * flops["phase"]["forward_G"]
    return n_slices * per_slice


# ------------------------------------------------------------------------------------ data loading


class ReopenPerSample(Dataset):
    """The reference reader: the subject's HDF5 file is opened for each sample and closed after it."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        try:
            return self.dataset[index]
        finally:
            self.dataset.close()


def measure_loader(dataset: Dataset, s: Settings, workers: int) -> dict[str, float]:
    """Samples/s of a DataLoader as the trainer builds it, in steady state.

    The batches already in flight when the first one arrives (``workers * prefetch``) were produced
    during the start-up wait; they are skipped so the rate is the production rate, and the start-up
    (forking, opening files, first batch) is reported on its own.
    """
    skip = workers * LOADER_PREFETCH if workers else 1
    needed = (1 + skip + s.loader_batches) * s.batch
    sampler = RandomSampler(dataset, replacement=True, num_samples=needed, generator=torch.Generator().manual_seed(0))
    loader = DataLoader(
        dataset,
        batch_size=s.batch,
        sampler=sampler,
        num_workers=workers,
        pin_memory=s.is_cuda,
        drop_last=True,
        prefetch_factor=LOADER_PREFETCH if workers else None,
    )
    begin = time.perf_counter()
    iterator = iter(loader)
    next(iterator)
    first = time.perf_counter()
    for _ in range(skip):
        next(iterator)
    clock = time.perf_counter()
    for _ in range(s.loader_batches):
        next(iterator)
    end = time.perf_counter()
    del iterator  # shuts the workers down
    rate = s.loader_batches * s.batch / (end - clock)
    return {
        "workers": workers,
        "samples_per_s": rate,
        "samples_per_s_per_worker": rate / max(1, workers),
        "startup_s": first - begin,
    }


def worker_counts(s: Settings) -> list[int]:
    """0 (main process), 1 and N; N is capped by the cores (more workers than cores only time-share)."""
    n = min(s.workers, os.cpu_count() or 1)
    return sorted({0, 1, n})


def measure_loading(s: Settings, workdir: Path, best_rates: dict[str, float]) -> dict[str, Any]:
    """Loader throughput of both datasets on a generated phantom cohort, and the verdict per stage."""
    root = workdir / "cohort"
    begin = time.perf_counter()
    config = PhantomConfig(frames=s.frames, size=s.size)
    generate_cohort(root, s.cohort_subjects, seed=0, config=config, workers=min(s.cohort_subjects, os.cpu_count() or 1))
    out: dict[str, Any] = {"cohort": {"subjects": s.cohort_subjects, "seconds": time.perf_counter() - begin}}
    for stage in STAGES:
        dataset = create_dataset(stage_options(stage, s, workdir, f"loader_{stage}"), "all")
        results: dict[str, list[dict[str, float]]] = {"kept_open": [], "reopen_per_sample": []}
        for workers in worker_counts(s):
            results["reopen_per_sample"].append(measure_loader(ReopenPerSample(dataset), s, workers))
            results["kept_open"].append(measure_loader(dataset, s, workers))
        dataset.close()
        out[stage] = {"samples": len(dataset), **results, "verdict": loader_verdict(results, best_rates.get(stage))}
    return out


def loader_verdict(results: dict[str, list[dict[str, float]]], train_rate: float | None) -> dict[str, Any]:
    """Whether the project's loader with N workers delivers samples as fast as training eats them."""
    kept = results["kept_open"]
    with_n = kept[-1]
    one = next((r for r in kept if r["workers"] == 1), with_n)
    verdict: dict[str, Any] = {"workers": with_n["workers"], "loader_samples_per_s": with_n["samples_per_s"]}
    if train_rate is None:
        return {**verdict, "train_images_per_s": None, "keeps_up": None, "workers_needed": None}
    per_worker = max(one["samples_per_s_per_worker"], 1e-9)
    return {
        **verdict,
        "train_images_per_s": train_rate,
        "keeps_up": with_n["samples_per_s"] >= train_rate,
        "headroom": with_n["samples_per_s"] / train_rate,
        # Workers scale about linearly while there are free cores; one more core runs the training loop.
        "workers_needed": math.ceil(train_rate / per_worker),
    }


# ------------------------------------------------------------------------------------------ report


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    return f"{value:.{decimals}f}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    body = [
        "  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True))) for r in rows
    ]
    return "\n".join([line, "-" * len(line), *body])


def training_table(result: dict[str, Any], s: Settings) -> str:
    rows = []
    for stage in STAGES:
        flops = result["flops"][stage]["train_per_image"]
        for r in result["training"][stage].values():
            tflops = flops * r["images_per_s"] / 1e12
            peak = f"{100 * tflops / s.peak_tflops:.1f}" if s.is_cuda else "n/a"
            rows.append(
                [stage, r["mode"], fmt(r["images_per_s"]), f"{r['ratio_vs_reference']:.2f}x",
                 fmt(r["peak_memory_mib"], 4), fmt(tflops * 1e3 if not s.is_cuda else tflops), peak]
            )  # fmt: skip
    unit = "TFLOP/s" if s.is_cuda else "GFLOP/s"
    mem = "peak MiB" if s.is_cuda else "peak RSS +MiB"
    return table(["stage", "mode", "img/s", "vs ref", mem, unit, "% peak"], rows)


def inference_table(result: dict[str, Any], s: Settings) -> str:
    rows = [
        [r["mode"], str(r["frame_batch"]), fmt(r["latency_s"]), f"{r['speedup_vs_reference']:.2f}x",
         fmt(r["frames_per_s"]), fmt(r["stage1_s"]), fmt(r["stage2_s"]), fmt(r["peak_memory_mib"], 4)]
        for r in result["inference"]["modes"].values()
    ]  # fmt: skip
    mem = "peak MiB" if s.is_cuda else "peak RSS +MiB"
    headers = ["mode", "batch", "latency s", "speed-up", "frames/s", "stage 1 s", "stage 2 s", mem]
    return table(headers, rows)


def loading_table(result: dict[str, Any]) -> str:
    rows = []
    for stage in STAGES:
        for reader in ("reopen_per_sample", "kept_open"):
            for r in result["data_loading"][stage][reader]:
                rows.append(
                    [stage, reader, str(r["workers"]), fmt(r["samples_per_s"]),
                     fmt(r["samples_per_s_per_worker"]), fmt(r["startup_s"])]
                )  # fmt: skip
    return table(["dataset", "reader", "workers", "samples/s", "per worker", "start-up s"], rows)


def verdict_lines(result: dict[str, Any]) -> list[str]:
    lines = []
    for stage in STAGES:
        v = result["data_loading"][stage]["verdict"]
        if v["keeps_up"] is None:
            lines.append(f"{stage}: no training rate measured, no verdict")
            continue
        status = "keeps up with" if v["keeps_up"] else "does NOT keep up with"
        lines.append(
            f"{stage}: {v['workers']} worker(s) load {fmt(v['loader_samples_per_s'])} samples/s and {status} "
            f"training at {fmt(v['train_images_per_s'])} img/s (x{v['headroom']:.2f}); "
            f"about {v['workers_needed']} worker(s) needed"
        )
    return lines


def report(result: dict[str, Any], s: Settings) -> str:
    env, flops = result["environment"], result["flops"]
    kind = "QUICK (smoke test, not a measurement)" if s.quick else "full"
    parts = [
        f"HDL-MVM benchmark on {env['device_name']} ({s.device}), torch {env['torch']}, {kind}: "
        f"size {s.size}, batch {s.batch}",
        f"FLOPs per image and training step (3 x forward of every pass): interp "
        f"{fmt(flops['interp']['train_per_image'] / 1e9)} GFLOP, phase {fmt(flops['phase']['train_per_image'] / 1e9)} "
        f"GFLOP (G {fmt(flops['phase']['forward_G'] / 1e9)} + 3 x D {fmt(flops['phase']['forward_D'] / 1e9)} forward)",
    ]
    if "training" in result:
        peak = f"; % peak of {s.peak_tflops:g} TFLOP/s" if s.is_cuda else ""
        parts += [
            "",
            f"(a) training: images/s after {s.warmup} warm-up steps, median of {s.repeats} x {s.steps} steps{peak}",
            training_table(result, s),
        ]
    if "inference" in result:
        inf = result["inference"]
        parts += [
            "",
            f"(b) chained synthesis of one subject: {inf['slices']} slices x {s.frames} frames at {s.size}x{s.size}, "
            f"factor {s.factor}; {fmt(inf['forward_flops'] / 1e9)} GFLOP forward; host tissue masks alone "
            f"{fmt(inf['host_tissue_s'])} s",
            inference_table(result, s),
        ]
    if "data_loading" in result:
        parts += [
            "",
            f"(c) data loading: batch {s.batch}, phantom cohort of {s.cohort_subjects} subjects",
            loading_table(result),
        ]
        parts += ["verdict: " + line for line in verdict_lines(result)]
    return "\n".join(parts)


def add_ratios(result: dict[str, Any]) -> None:
    """Ratios against the reference of the same run (throughput: higher is better; latency: ref / mode)."""
    for modes in result.get("training", {}).values():
        ref = modes["reference"]
        for r in modes.values():
            r["ratio_vs_reference"] = r["images_per_s"] / ref["images_per_s"]
            ref_mem, mem = ref["peak_memory_mib"], r["peak_memory_mib"]
            r["memory_vs_reference"] = mem / ref_mem if mem is not None and ref_mem else None
    if "inference" in result:
        modes = result["inference"]["modes"]
        ref_latency = modes["reference"]["latency_s"]
        for r in modes.values():
            r["speedup_vs_reference"] = ref_latency / r["latency_s"]


def add_utilisation(result: dict[str, Any], s: Settings) -> None:
    """Achieved TFLOP/s per mode and, on a GPU, the fraction of ``--peak_tflops`` it reaches."""
    for stage, modes in result.get("training", {}).items():
        per_image = result["flops"][stage]["train_per_image"]
        for r in modes.values():
            r["achieved_tflops"] = per_image * r["images_per_s"] / 1e12
            r["fraction_of_peak"] = r["achieved_tflops"] / s.peak_tflops if s.is_cuda else None
    if "inference" in result:
        for r in result["inference"]["modes"].values():
            r["achieved_tflops"] = result["inference"]["forward_flops"] / r["latency_s"] / 1e12


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "cpu"


def environment(s: Settings) -> dict[str, Any]:
    dev = s.torch_device
    return {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "timestamp_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


# -------------------------------------------------------------------------------------------- main


@contextlib.contextmanager
def section(title: str) -> Iterator[None]:
    """Announce a section on stderr (the table goes to stdout) with its duration."""
    print(f"[benchmark] {title} ...", file=sys.stderr, flush=True)
    begin = time.perf_counter()
    yield
    print(f"[benchmark] {title}: {time.perf_counter() - begin:.1f} s", file=sys.stderr, flush=True)


def run_training(s: Settings, workdir: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {stage: {} for stage in STAGES}
    for stage in STAGES:
        for name in s.train_modes:
            with section(f"training {stage} {name}"):
                out[stage][name] = measure_training(stage, TRAIN_MODES[name], s, workdir)
    return out


def run_inference(s: Settings, workdir: Path, flops: dict[str, dict[str, int]]) -> dict[str, Any]:
    subject = generate_subject("benchmark", 0, PhantomConfig(frames=s.frames, size=s.size))
    out: dict[str, Any] = {
        "slices": len(subject.slices),
        "frames": s.frames,
        "forward_flops": inference_flops(flops, s, len(subject.slices)),
        "host_tissue_s": host_tissue_seconds(subject),
        "modes": {},
    }
    for name in s.infer_modes:
        with section(f"inference {name}"):
            out["modes"][name] = measure_inference(INFER_MODES[name], s, workdir, subject)
    return out


def run(s: Settings, workdir: Path) -> dict[str, Any]:
    """Every requested section, then the ratios against the references and the utilisation."""
    result: dict[str, Any] = {"settings": asdict(s), "environment": environment(s)}
    with section("FLOP count"):
        result["flops"] = count_flops(s, workdir)
    best: dict[str, float] = {}
    if "train" in s.sections:
        result["training"] = run_training(s, workdir)
        best = {stage: max(r["images_per_s"] for r in modes.values()) for stage, modes in result["training"].items()}
        result["best_training_mode"] = {
            stage: max(modes.values(), key=lambda r: r["images_per_s"])["mode"]
            for stage, modes in result["training"].items()
        }
    if "infer" in s.sections:
        result["inference"] = run_inference(s, workdir, result["flops"])
    if "data" in s.sections:
        with section("data loading"):
            result["data_loading"] = measure_loading(s, workdir, best)
    add_ratios(result)
    add_utilisation(result, s)
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    s = resolve_settings(args)
    if s.threads > 0:
        torch.set_num_threads(s.threads)
    with tempfile.TemporaryDirectory(prefix="hdl_benchmark_") as tmp:
        result = run(s, Path(tmp))
    print(report(result, s), flush=True)
    if s.quick:
        print("\nQUICK mode: tiny images and few steps; the ratios are a smoke test, not performance figures.")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        # allow_nan=False: a NaN or infinite figure is a bug of the benchmark, not a number to store.
        args.out.write_text(json.dumps(result, indent=2, allow_nan=False))
        print(f"results written to {args.out}")
    return result


if __name__ == "__main__":
    main()
