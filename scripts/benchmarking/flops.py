"""FLOPs per image, counted from the networks themselves, so the achieved TFLOP/s and the fraction
of the device's peak follow any change of architecture without a hand-kept formula."""

from __future__ import annotations

import copy
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from models.networks import N_TIME_FEATURES
from scripts.benchmarking.settings import Settings
from scripts.benchmarking.stages import build_model


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
