"""scripts/benchmark.py: the FLOP count, the loader verdict, the reference steps, and one --quick run
on the CPU whose JSON must hold finite positive figures and ratios consistent with them."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]


def load_benchmark() -> ModuleType:
    """scripts/ is not a package: import the script by its path."""
    spec = importlib.util.spec_from_file_location("hdl_benchmark", ROOT / "scripts" / "benchmark.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    # Dataclasses look their module up in sys.modules while the class is being built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark()


# --------------------------------------------------------------------------------------------- units


def test_forward_flops_counts_a_convolution_exactly(bench: ModuleType) -> None:
    # 2 FLOPs per multiply-add: 2 * C_out * H * W * C_in * k * k.
    conv = nn.Conv2d(3, 8, kernel_size=3, padding=1)
    assert bench.forward_flops(conv, (1, 3, 16, 16)) == 2 * 8 * 16 * 16 * 3 * 9
    assert bench.forward_flops(conv, (4, 3, 16, 16)) == 4 * 2 * 8 * 16 * 16 * 3 * 9
    # Counting on a meta copy leaves the network where it was.
    assert conv.weight.device.type == "cpu"


def test_stage_flops_follow_the_training_step_passes(bench: ModuleType, tmp_path: Path) -> None:
    settings = bench.resolve_settings(bench.parse_args(["--device", "cpu", "--quick"]))
    small = bench.count_flops(settings, tmp_path)
    large = bench.count_flops(bench.Settings(**{**bench.asdict(settings), "size": 64}), tmp_path)
    for flops in (small, large):
        assert flops["interp"]["train_per_image"] == 3 * flops["interp"]["forward_G"] > 0
        g, d = flops["phase"]["forward_G"], flops["phase"]["forward_D"]
        assert flops["phase"]["train_per_image"] == 3 * (g + 3 * d) and g > 0 and d > 0
    # Same-padded convolutions and exact poolings: the generators' cost grows with the pixel count
    # (exactly for R2U-Net; the interpolator's time MLP and FiLM layers do not depend on the size).
    assert large["phase"]["forward_G"] == 4 * small["phase"]["forward_G"]
    assert large["interp"]["forward_G"] == pytest.approx(4 * small["interp"]["forward_G"], rel=1e-3)
    assert large["interp"]["forward_G"] < 4 * small["interp"]["forward_G"]


def test_quick_settings_on_cpu(bench: ModuleType) -> None:
    s = bench.resolve_settings(bench.parse_args(["--device", "cpu", "--quick"]))
    assert (s.size, s.batch, s.steps, s.threads, s.compile) == (32, 2, 3, 1, False)
    assert s.train_modes[0] == "reference" and s.infer_modes[0] == "reference"
    assert not any("compile" in m for m in s.train_modes + s.infer_modes)
    full = bench.resolve_settings(bench.parse_args(["--device", "cpu", "--compile", "--train_modes", "engine_bf16"]))
    assert (full.size, full.batch, full.frames) == (256, 12, 50)
    assert full.train_modes == ("reference", "engine_bf16")  # the reference is always measured
    with pytest.raises(SystemExit):
        bench.resolve_settings(bench.parse_args(["--device", "cpu", "--size", "40"]))


def test_loader_verdict(bench: ModuleType) -> None:
    kept = [
        {"workers": 0, "samples_per_s": 50.0, "samples_per_s_per_worker": 50.0},
        {"workers": 1, "samples_per_s": 40.0, "samples_per_s_per_worker": 40.0},
        {"workers": 4, "samples_per_s": 150.0, "samples_per_s_per_worker": 37.5},
    ]
    slow = bench.loader_verdict({"kept_open": kept}, 200.0)
    assert slow["keeps_up"] is False and slow["workers"] == 4
    assert slow["workers_needed"] == 5  # 200 / 40 per worker
    assert slow["headroom"] == pytest.approx(0.75)
    fast = bench.loader_verdict({"kept_open": kept}, 100.0)
    assert fast["keeps_up"] is True and fast["workers_needed"] == 3
    assert bench.loader_verdict({"kept_open": kept}, None)["keeps_up"] is None


def test_reference_phase_step_updates_both_networks(bench: ModuleType, tmp_path: Path) -> None:
    s = bench.resolve_settings(bench.parse_args(["--device", "cpu", "--quick", "--batch", "1"]))
    model = bench.build_model("phase", s, tmp_path, "ref")
    step = bench.ReferencePhaseStep(model)
    before = {n: next(model.network(n).parameters()).detach().clone() for n in ("netG", "netD")}
    losses = step(bench.synthetic_batch("phase", 1, s.size))
    assert set(losses) == {"G", "gan", "l1_tissue", "l1_myo", "D_real", "D_fake"}
    assert all(isinstance(v, float) and math.isfinite(v) for v in losses.values())
    for name, weights in before.items():
        assert not torch.equal(weights, next(model.network(name).parameters()))
    # The discriminator is trainable again after the generator's frozen pass.
    assert all(p.requires_grad for p in model.network("netD").parameters())


# ------------------------------------------------------------------------------------- the quick run


def assert_positive(value: float) -> None:
    assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, value


@pytest.mark.slow
def test_quick_run_on_cpu_writes_consistent_figures(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(ROOT / "scripts" / "benchmark.py"), "--device", "cpu", "--quick", "--out", str(out)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    for heading in ("(a) training", "(b) chained synthesis", "(c) data loading", "vs ref", "verdict: phase"):
        assert heading in result.stdout
    data = json.loads(out.read_text())

    flops = data["flops"]
    assert flops["interp"]["train_per_image"] == 3 * flops["interp"]["forward_G"]
    phase = flops["phase"]
    assert phase["train_per_image"] == 3 * (phase["forward_G"] + 3 * phase["forward_D"])
    for stage in ("interp", "phase"):
        assert_positive(flops[stage]["train_per_image"])

    expected_modes = ["reference", "engine_fp32", "engine_fp32_cl", "engine_bf16", "engine_bf16_cl"]
    for stage in ("interp", "phase"):
        modes = data["training"][stage]
        assert list(modes) == expected_modes
        ref = modes["reference"]["images_per_s"]
        assert modes["reference"]["ratio_vs_reference"] == 1.0
        for r in modes.values():
            assert_positive(r["images_per_s"])
            assert r["ratio_vs_reference"] == pytest.approx(r["images_per_s"] / ref, rel=1e-12)
            assert r["achieved_tflops"] == pytest.approx(
                flops[stage]["train_per_image"] * r["images_per_s"] / 1e12, rel=1e-12
            )
            assert r["fraction_of_peak"] is None  # a fraction of a GPU peak means nothing on a CPU
            assert r["peak_memory_mib"] is None or r["peak_memory_mib"] >= 0
        best = max(modes.values(), key=lambda r: r["images_per_s"])
        assert data["best_training_mode"][stage] == best["mode"]

    inference = data["inference"]
    assert (inference["slices"], inference["frames"]) == (3, 12)
    modes = inference["modes"]
    assert list(modes) == ["reference", "fp32_batched", "bf16_batched", "bf16_cl_batched"]
    ref_latency = modes["reference"]["latency_s"]
    for r in modes.values():
        assert_positive(r["latency_s"])
        assert r["speedup_vs_reference"] == pytest.approx(ref_latency / r["latency_s"], rel=1e-12)
        assert r["frames_per_s"] == pytest.approx(3 * 12 / r["latency_s"], rel=1e-12)
        # Both stages ran, inside the measured call.
        assert_positive(r["stage1_s"])
        assert_positive(r["stage2_s"])
        assert r["stage1_s"] + r["stage2_s"] <= r["latency_s"] * 1.001
    assert modes["reference"]["frame_batch"] < modes["bf16_cl_batched"]["frame_batch"]

    loading = data["data_loading"]
    for stage in ("interp", "phase"):
        for reader in ("kept_open", "reopen_per_sample"):
            rows = loading[stage][reader]
            assert [r["workers"] for r in rows][:2] == [0, 1]
            for r in rows:
                assert_positive(r["samples_per_s"])
                assert r["samples_per_s_per_worker"] == pytest.approx(r["samples_per_s"] / max(1, r["workers"]))
        verdict = loading[stage]["verdict"]
        train_rate = max(r["images_per_s"] for r in data["training"][stage].values())
        assert verdict["train_images_per_s"] == pytest.approx(train_rate)
        assert verdict["keeps_up"] == (verdict["loader_samples_per_s"] >= train_rate)
        assert verdict["loader_samples_per_s"] == loading[stage]["kept_open"][-1]["samples_per_s"]
