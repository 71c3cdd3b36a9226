"""What a training run sets up before its first step, outside the trainer's loop: the learning-rate
schedule as a function of epochs, the optimiser, the seeds and the determinism switches."""

from __future__ import annotations

import argparse
import math
import os
from typing import Any

import torch


def lr_lambda(opt: argparse.Namespace):
    """Learning-rate factor as a function of completed epochs, for ``--lr_policy``."""
    total = opt.n_epochs + opt.n_epochs_decay
    if opt.lr_policy == "linear":
        # Constant for n_epochs, then down to (almost) zero over n_epochs_decay.
        return lambda e: 1.0 - max(0, e + 1 - opt.n_epochs) / float(opt.n_epochs_decay + 1)
    if opt.lr_policy == "cosine":
        return lambda e: 0.5 * (1.0 + math.cos(math.pi * min(e, total) / total))
    return lambda e: 1.0


def make_optimizer(params, lr: float, betas: tuple[float, float], weight_decay: float, device: torch.device):
    """Adam(W) with the fused CUDA kernel on GPU (one launch for all tensors) and foreach on CPU."""
    kwargs: dict[str, Any] = {"lr": lr, "betas": betas, "weight_decay": weight_decay}
    if device.type == "cuda":
        kwargs["fused"] = True
    else:
        kwargs["foreach"] = True
    cls = torch.optim.AdamW if weight_decay > 0 else torch.optim.Adam
    return cls(params, **kwargs)


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's generators: a run is reproduced from its ``--seed``."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def configure_determinism(opt: argparse.Namespace, device: torch.device) -> None:
    """``--deterministic``: bit-reproducible kernels; otherwise the fastest ones (cuDNN autotuning, TF32)."""
    if getattr(opt, "deterministic", False):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    elif device.type == "cuda":
        # Input sizes are fixed during training, so cuDNN's autotuner pays for itself after one step.
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
