"""The text report of a benchmark run: one table per section and the loader verdicts, built from the
result dictionary alone, so the printed figures are exactly those written to the JSON file."""

from __future__ import annotations

import math
from typing import Any

from scripts.benchmarking.settings import STAGES, Settings


def fmt(value: float | None, digits: int = 3) -> str:
    """``digits`` significant digits without an exponent (timings span 1e-3 to 1e4); "n/a" for none."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    return f"{value:.{decimals}f}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Aligned columns: the first left-aligned (names), the others right-aligned (numbers)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    body = [
        "  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True))) for r in rows
    ]
    return "\n".join([line, "-" * len(line), *body])


def _memory_header(s: Settings) -> str:
    """A GPU reports allocated memory; a CPU only the growth of the resident set."""
    return "peak MiB" if s.is_cuda else "peak RSS +MiB"


def training_table(result: dict[str, Any], s: Settings) -> str:
    """Section (a): images/s, ratio, memory and achieved FLOP rate per stage and mode."""
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
    return table(["stage", "mode", "img/s", "vs ref", _memory_header(s), unit, "% peak"], rows)


def inference_table(result: dict[str, Any], s: Settings) -> str:
    """Section (b): latency, speed-up and the split into the two stages per mode."""
    rows = [
        [r["mode"], str(r["frame_batch"]), fmt(r["latency_s"]), f"{r['speedup_vs_reference']:.2f}x",
         fmt(r["frames_per_s"]), fmt(r["stage1_s"]), fmt(r["stage2_s"]), fmt(r["peak_memory_mib"], 4)]
        for r in result["inference"]["modes"].values()
    ]  # fmt: skip
    headers = ["mode", "batch", "latency s", "speed-up", "frames/s", "stage 1 s", "stage 2 s", _memory_header(s)]
    return table(headers, rows)


def loading_table(result: dict[str, Any]) -> str:
    """Section (c): samples/s per dataset, reader and worker count."""
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
    """One sentence per stage: does the loader feed the best training rate, and how many workers would."""
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


def _header(result: dict[str, Any], s: Settings) -> list[str]:
    """The device, the sizes and the FLOPs per image that the utilisation columns rest on."""
    env, flops = result["environment"], result["flops"]
    kind = "QUICK (smoke test, not a measurement)" if s.quick else "full"
    return [
        f"HDL-MVM benchmark on {env['device_name']} ({s.device}), torch {env['torch']}, {kind}: "
        f"size {s.size}, batch {s.batch}",
        f"FLOPs per image and training step (3 x forward of every pass): interp "
        f"{fmt(flops['interp']['train_per_image'] / 1e9)} GFLOP, phase {fmt(flops['phase']['train_per_image'] / 1e9)} "
        f"GFLOP (G {fmt(flops['phase']['forward_G'] / 1e9)} + 3 x D {fmt(flops['phase']['forward_D'] / 1e9)} forward)",
    ]


def report(result: dict[str, Any], s: Settings) -> str:
    """The whole text report: the header, then each measured section with its table."""
    parts = _header(result, s)
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
