"""Where and in which precision the networks run: one resolution for training, evaluation and the predictor.

``--precision`` names an autocast dtype. ``None`` means automatic: bf16 on a GPU (about twice as fast,
half the memory, and bf16 keeps fp32's range so nothing overflows) and fp32 on a CPU, where bf16
convolutions are slower than fp32 ones.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from util.errors import OptionError

AUTOCAST_DTYPES: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(device: torch.device | str | None) -> torch.device:
    """``None`` means the first GPU when there is one, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_precision(precision: str | None, device: torch.device) -> str:
    """The precision to run in on ``device``: ``precision`` itself, or the automatic choice for None."""
    if precision is None:
        return "bf16" if device.type == "cuda" else "fp32"
    if precision not in AUTOCAST_DTYPES:
        raise OptionError(f"precision must be one of {sorted(AUTOCAST_DTYPES)}, got {precision!r}")
    return precision


def autocast(precision: str, device: torch.device) -> AbstractContextManager:
    """The mixed-precision context of ``precision`` on ``device`` (no context for fp32)."""
    dtype = AUTOCAST_DTYPES[resolve_precision(precision, device)]
    return nullcontext() if dtype is None else torch.autocast(device_type=device.type, dtype=dtype)
