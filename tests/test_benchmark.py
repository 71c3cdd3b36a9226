"""scripts.benchmark: the FLOP count, the loader verdict, the reference steps, the table layout, and
one --quick run on the CPU whose JSON must hold finite positive figures and ratios consistent with them."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from torch import nn

from scripts.benchmarking.cli import parse_args
from scripts.benchmarking.data_loading import loader_verdict
from scripts.benchmarking.flops import count_flops, forward_flops
from scripts.benchmarking.settings import Settings, resolve_settings
from scripts.benchmarking.stages import build_model
from scripts.benchmarking.tables import fmt, table
from scripts.benchmarking.training import ReferencePhaseStep, synthetic_batch

ROOT = Path(__file__).resolve().parents[1]


def settings_of(*argv: str) -> Settings:
    return resolve_settings(parse_args(list(argv)))


# --------------------------------------------------------------------------------------------- units


def test_forward_flops_counts_a_convolution_exactly() -> None:
    # 2 FLOPs per multiply-add: 2 * C_out * H * W * C_in * k * k.
    conv = nn.Conv2d(3, 8, kernel_size=3, padding=1)
    assert forward_flops(conv, (1, 3, 16, 16)) == 2 * 8 * 16 * 16 * 3 * 9
    assert forward_flops(conv, (4, 3, 16, 16)) == 4 * 2 * 8 * 16 * 16 * 3 * 9
    # Counting on a meta copy leaves the network where it was.
    assert conv.weight.device.type == "cpu"


def test_stage_flops_follow_the_training_step_passes(tmp_path: Path) -> None:
    settings = settings_of("--device", "cpu", "--quick")
    small = count_flops(settings, tmp_path)
    large = count_flops(Settings(**{**asdict(settings), "size": 64}), tmp_path)
    for flops in (small, large):
        assert flops["interp"]["train_per_image"] == 3 * flops["interp"]["forward_G"] > 0
        g, d = flops["phase"]["forward_G"], flops["phase"]["forward_D"]
        assert flops["phase"]["train_per_image"] == 3 * (g + 3 * d) and g > 0 and d > 0
    # Same-padded convolutions and exact poolings: the generators' cost grows with the pixel count
    # (exactly for R2U-Net; the interpolator's time MLP and FiLM layers do not depend on the size).
    assert large["phase"]["forward_G"] == 4 * small["phase"]["forward_G"]
    assert large["interp"]["forward_G"] == pytest.approx(4 * small["interp"]["forward_G"], rel=1e-3)
    assert large["interp"]["forward_G"] < 4 * small["interp"]["forward_G"]


def test_quick_settings_on_cpu() -> None:
    s = settings_of("--device", "cpu", "--quick")
    assert (s.size, s.batch, s.steps, s.threads, s.compile) == (32, 2, 3, 1, False)
    assert s.train_modes[0] == "reference" and s.infer_modes[0] == "reference"
    assert not any("compile" in m for m in s.train_modes + s.infer_modes)
    full = settings_of("--device", "cpu", "--compile", "--train_modes", "engine_bf16")
    assert (full.size, full.batch, full.frames) == (256, 12, 50)
    assert full.train_modes == ("reference", "engine_bf16")  # the reference is always measured
    with pytest.raises(SystemExit):
        settings_of("--device", "cpu", "--size", "40")


def test_loader_verdict() -> None:
    kept = [
        {"workers": 0, "samples_per_s": 50.0, "samples_per_s_per_worker": 50.0},
        {"workers": 1, "samples_per_s": 40.0, "samples_per_s_per_worker": 40.0},
        {"workers": 4, "samples_per_s": 150.0, "samples_per_s_per_worker": 37.5},
    ]
    slow = loader_verdict({"kept_open": kept}, 200.0)
    assert slow["keeps_up"] is False and slow["workers"] == 4
    assert slow["workers_needed"] == 5  # 200 / 40 per worker
    assert slow["headroom"] == pytest.approx(0.75)
    fast = loader_verdict({"kept_open": kept}, 100.0)
    assert fast["keeps_up"] is True and fast["workers_needed"] == 3
    assert loader_verdict({"kept_open": kept}, None)["keeps_up"] is None


def test_reference_phase_step_updates_both_networks(tmp_path: Path) -> None:
    s = settings_of("--device", "cpu", "--quick", "--batch", "1")
    model = build_model("phase", s, tmp_path, "ref")
    step = ReferencePhaseStep(model)
    before = {n: next(model.network(n).parameters()).detach().clone() for n in ("netG", "netD")}
    losses = step(synthetic_batch("phase", 1, s.size))
    assert set(losses) == {"G", "gan", "l1_tissue", "l1_myo", "D_real", "D_fake"}
    assert all(isinstance(v, float) and math.isfinite(v) for v in losses.values())
    for name, weights in before.items():
        assert not torch.equal(weights, next(model.network(name).parameters()))
    # The discriminator is trainable again after the generator's frozen pass.
    assert all(p.requires_grad for p in model.network("netD").parameters())


def test_figures_and_tables_keep_their_layout() -> None:
    # Three significant digits without an exponent; missing or non-finite figures read "n/a".
    values = (1234.6, 11.64, 0.004861, 0.0, None, math.nan)
    assert [fmt(v) for v in values] == ["1235", "11.6", "0.00486", "0", "n/a", "n/a"]
    assert fmt(239.43, 4) == "239.4"
    # First column left-aligned (names), the others right-aligned (numbers), a rule under the header.
    text = table(["mode", "img/s"], [["reference", "11.6"], ["engine", "3.16"]])
    assert text.splitlines() == ["mode       img/s", "----------------", "reference   11.6", "engine      3.16"]


# ------------------------------------------------------------------------------------- the quick run


def assert_positive(value: float) -> None:
    assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, value


@pytest.mark.slow
def test_quick_run_on_cpu_writes_consistent_figures(tmp_path: Path) -> None:
    out = tmp_path / "json"
    cmd = [sys.executable, "-m", "scripts.benchmark", "--device", "cpu", "--quick", "--out", str(out)]
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


@pytest.mark.slow
def test_chain_benchmark_times_every_part_and_the_workers(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``python -m scripts.benchmark chain`` on a tiny phantom: seconds a subject of every part, the share of
    scoring and pages, and the ratio of --workers 2 to one worker; the runs' tables agree."""
    from scripts.benchmarking.cli import main

    keep = tmp_path / "runs"
    result = main(["chain", "--subjects", "2", "--frames", "12", "--size", "48", "--factor", "4", "--rows", "hdl",
                   "zero", "--keep", str(keep)])  # fmt: skip
    parts = result["per_subject_s"]
    assert list(parts) == ["stage 1", "stage 2", "prior", "scoring", "pages", "other"]
    for part in ("stage 1", "stage 2", "scoring", "pages"):
        assert_positive(parts[part])
    assert 0 < result["scoring_pages_share"] < 1
    assert result["ratio"] == pytest.approx(result["wall_workers_s"] / result["wall_one_worker_s"])
    out = capsys.readouterr().out
    assert "scoring + pages" in out and "with 2: ratio" in out
    one, two = ((keep / f"workers{n}" / "hdl" / "metrics.csv").read_text() for n in (1, 2))
    assert one == two
