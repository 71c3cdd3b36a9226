"""What a benchmark run measures: the training and synthesis modes, and the settings resolved from
the command line. Every other module reads a frozen ``Settings``, so one run cannot mix sizes."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch

STAGES = ("interp", "phase")
SECTIONS = ("train", "infer", "data")
#: bf16 dense tensor-core peak of an H100 SXM5 (989.4 TFLOP/s without sparsity); H200 has the same
#: peak, an H100 PCIe about 756
DEFAULT_PEAK_TFLOPS = 989.0


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


def _with_reference(names: tuple[str, ...], compile_modes: bool) -> tuple[str, ...]:
    """The requested modes, compile modes dropped unless wanted, "reference" first and always there:
    every ratio is taken against it."""
    kept = tuple(n for n in names if compile_modes or "compile" not in n)
    return ("reference", *[n for n in kept if n != "reference"])


def resolve_settings(args: argparse.Namespace) -> Settings:
    """The run's settings from the parsed command line; ``SystemExit`` on sizes the networks cannot take."""
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda was given but CUDA is not available")
    quick = bool(args.quick)
    compile_modes = args.compile if args.compile is not None else torch.device(device).type == "cuda"

    def pick(value: int | None, full: int, small: int) -> int:
        return int(value) if value is not None else (small if quick else full)

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
        train_modes=_with_reference(tuple(args.train_modes or TRAIN_MODES), compile_modes),
        infer_modes=_with_reference(tuple(args.infer_modes or INFER_MODES), compile_modes),
        sections=tuple(s for s in SECTIONS if s in args.sections),
    )
    _check(settings)
    return settings


def _check(settings: Settings) -> None:
    """Refuse sizes before anything is built: a failure minutes into a run would waste the warm-ups."""
    if settings.size % 16 or settings.size < 32:
        raise SystemExit(
            f"--size must be a multiple of 16 and >= 32 (the networks halve it 4 times), got {settings.size}"
        )
    if settings.frames <= settings.factor or settings.frames < 8:
        raise SystemExit(f"--frames must be >= 8 and larger than --factor {settings.factor}, got {settings.frames}")
    if min(settings.batch, settings.steps) < 1 or settings.warmup < 0:
        raise SystemExit("--batch and --steps must be >= 1, --warmup >= 0")
