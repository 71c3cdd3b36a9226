"""One benchmark run: every requested section in order, then the ratios against the references of
the same run and the achieved FLOP rates, so the result dictionary is complete before it is printed."""

from __future__ import annotations

import contextlib
import os
import platform
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from scripts.benchmarking.data_loading import measure_loading
from scripts.benchmarking.flops import count_flops
from scripts.benchmarking.settings import Settings
from scripts.benchmarking.synthesis import run_inference
from scripts.benchmarking.timing import section
from scripts.benchmarking.training import run_training


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
    """What a figure depends on besides the code: versions, device, cores, threads, and when."""
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


def add_training(result: dict[str, Any], s: Settings, workdir: Path) -> dict[str, float]:
    """Section (a) into ``result``, with the best mode per stage; returns the best rates, which the
    loader verdict of section (c) compares against."""
    result["training"] = run_training(s, workdir)
    result["best_training_mode"] = {
        stage: max(modes.values(), key=lambda r: r["images_per_s"])["mode"]
        for stage, modes in result["training"].items()
    }
    return {stage: max(r["images_per_s"] for r in modes.values()) for stage, modes in result["training"].items()}


def run(s: Settings, workdir: Path) -> dict[str, Any]:
    """Every requested section, then the ratios against the references and the utilisation."""
    result: dict[str, Any] = {"settings": asdict(s), "environment": environment(s)}
    with section("FLOP count"):
        result["flops"] = count_flops(s, workdir)
    best: dict[str, float] = {}
    if "train" in s.sections:
        best = add_training(result, s, workdir)
    if "infer" in s.sections:
        result["inference"] = run_inference(s, workdir, result["flops"])
    if "data" in s.sections:
        with section("data loading"):
            result["data_loading"] = measure_loading(s, workdir, best)
    add_ratios(result)
    add_utilisation(result, s)
    return result
