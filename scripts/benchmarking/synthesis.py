"""Section (b): latency of the chained synthesis of one subject (``HDLPredictor.predict_subject``),
split into its two stages, plus the host-side tissue masks that no device speed-up removes."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from data.cycle import key_frame_grid
from data.phantom import PhantomConfig, generate_subject
from models.hdl.predictor import HDLPredictor
from scripts.benchmarking.settings import INFER_MODES, InferMode, Settings
from scripts.benchmarking.stages import build_model
from scripts.benchmarking.timing import PeakMemory, release_memory, section, set_backend_flags, synchronize
from util.tissue import tissue_mask_from_magnitude


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


def build_predictor(mode: InferMode, s: Settings, workdir: Path) -> HDLPredictor:
    """Both stage models in eval mode with the mode's precision, memory format and compilation."""
    perf = {"precision": mode.precision, "channels_last": mode.channels_last}
    interp = build_model("interp", s, workdir, f"infer_interp_{mode.name}", train=False, **perf)
    phase = build_model("phase", s, workdir, f"infer_phase_{mode.name}", train=False, **perf)
    interp.eval()
    phase.eval()
    if mode.compile:
        compile_for_inference(interp, phase)
    batch = s.infer_batch_large if mode.large_batch else s.infer_batch_small
    return HDLPredictor(interp, phase, device=s.torch_device, precision=mode.precision, batch_size=batch, seed=0)


def timed_predictions(
    predictor: HDLPredictor, subject: Any, s: Settings, stages: dict[str, float]
) -> tuple[list[float], list[dict[str, float]]]:
    """Latency of ``s.infer_repeats`` calls, each with its split into the two stages."""
    latencies, splits = [], []
    for _ in range(s.infer_repeats):
        stages.update(stage1_s=0.0, stage2_s=0.0)
        synchronize(s.torch_device)
        begin = time.perf_counter()
        predictor.predict_subject(subject, factor=s.factor)
        synchronize(s.torch_device)
        latencies.append(time.perf_counter() - begin)
        splits.append(dict(stages))
    return latencies, splits


def measure_inference(mode: InferMode, s: Settings, workdir: Path, subject: Any) -> dict[str, Any]:
    """Median latency of ``predict_subject`` on one subject, after one warm-up call."""
    dev = s.torch_device
    memory = PeakMemory(dev)
    set_backend_flags(dev, optimised=mode.name != "reference")
    predictor = build_predictor(mode, s, workdir)
    batch = predictor.batch_size
    stages = instrument_stages(predictor)
    predictor.predict_subject(subject, factor=s.factor)  # warm-up: autotuning, allocator, compilation
    memory.reset()
    latencies, splits = timed_predictions(predictor, subject, s, stages)
    peak = memory.peak_mib()
    del predictor
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


def run_inference(s: Settings, workdir: Path, flops: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Every requested synthesis mode on one phantom subject, the reference first."""
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
