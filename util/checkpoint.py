"""Full-state checkpoints, written atomically, and the weights-only export.

A checkpoint holds everything needed to continue a run exactly: network weights, optimisers,
schedulers, the gradient scaler, the iteration counter, the state of every random generator, the
options, the model's extra state (e.g. the background noise model) and the best validation score.
Files in ``checkpoints/<name>/``:

    latest.pt             after every epoch (``--continue_train`` resumes from it)
    best.pt               the epoch with the best validation metric
    epoch_0010.pt ...     every ``--save_epoch_freq`` epochs, the last ``--keep_last`` kept
    weights.pt            networks + options + extra state only, loadable with
                          ``torch.load(path, weights_only=True)`` (what test.py and users need)
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from util.atomic import atomic_path
from util.errors import CheckpointError

PERIODIC = re.compile(r"^epoch_(\d{4,})\.pt$")


def rng_state() -> dict[str, Any]:
    """The state of Python's, NumPy's and torch's (CPU and every CUDA device) generators."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """``torch.save`` through a temporary file and a rename: a crash never leaves a broken checkpoint."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def load(path: str | os.PathLike, weights_only: bool = False, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a checkpoint, turning a missing or unreadable file into a ``CheckpointError``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=weights_only)
    except Exception as exc:  # torch raises many types for a corrupt file; all mean the same here
        raise CheckpointError(f"{path}: checkpoint unreadable ({type(exc).__name__}: {exc})") from exc


def to_plain(value: Any) -> Any:
    """Options and extra state as types ``weights_only`` loading accepts (tensors, numbers, str, ...)."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


class CheckpointManager:
    """Writes and finds the checkpoints of one run (rank 0 writes; every rank may read)."""

    def __init__(self, run_dir: str | os.PathLike, keep_last: int = 3) -> None:
        self.dir = Path(run_dir)
        self.keep_last = keep_last

    def path(self, which: str | int) -> Path:
        if isinstance(which, int) or str(which).isdigit():
            return self.dir / f"epoch_{int(which):04d}.pt"
        return self.dir / f"{which}.pt"

    def save_latest(self, state: dict[str, Any]) -> Path:
        return save(self.path("latest"), state)

    def save_best(self, state: dict[str, Any]) -> Path:
        return save(self.path("best"), state)

    def save_periodic(self, state: dict[str, Any], epoch: int) -> Path:
        path = save(self.path(epoch), state)
        periodic = sorted(p for p in self.dir.iterdir() if PERIODIC.match(p.name))
        for old in periodic[: -self.keep_last]:
            old.unlink(missing_ok=True)
        return path

    def save_weights(self, state: dict[str, Any]) -> Path:
        """The export: networks, options and extra state, nothing that needs pickled objects."""
        export = {
            "networks": state["networks"],
            "options": to_plain(state.get("options", {})),
            "extra_state": to_plain(state.get("extra_state", {})),
            "epoch": int(state.get("counter", {}).get("epoch", 0)),
        }
        return save(self.dir / "weights.pt", export)

    def load(self, which: str | int = "latest", weights_only: bool = False) -> dict[str, Any]:
        return load(self.path(which), weights_only=weights_only)
