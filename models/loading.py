"""Load a trained stage for inference from its run folder.

The run's own saved options rebuild the networks exactly as they were trained, so test.py and user code
need only the run folder and which checkpoint to take (``best``, ``latest``, an epoch number, or
``weights`` for the weights-only export).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import torch

from models import get_model_class
from util import checkpoint as ckpt
from util.errors import CheckpointError
from util.option_values import as_flags

#: the twin shipped with the repository (pretrained/MODEL_CARD.md): one run folder per stage
PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"


def checkpoint_path(run_dir: str | os.PathLike, which: str | int = "best") -> Path:
    """The file for ``which`` in ``run_dir``; ``best`` falls back to ``weights`` (the export) if absent."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: run folder not found (train it first, or check --checkpoints_dir/--name)")
    manager = ckpt.CheckpointManager(run_dir)
    path = run_dir / "weights.pt" if which == "weights" else manager.path(which)
    if not path.exists() and which == "best" and (run_dir / "weights.pt").exists():
        path = run_dir / "weights.pt"
    if not path.exists():
        found = sorted(p.name for p in run_dir.glob("*.pt"))
        raise CheckpointError(f"{path}: checkpoint not found; the run has {found or 'no checkpoints'}")
    return path


def init_weights_file(source: str | os.PathLike, model_name: str) -> Path:
    """The checkpoint file ``--init_weights source`` names for a ``model_name`` run: the shipped twin's
    weights of that stage for ``pretrained``, a run folder's best checkpoint (else weights.pt), or a file."""
    path = Path(source)
    if str(source) == "pretrained":
        path = PRETRAINED_DIR / model_name / "weights.pt"
    elif path.is_dir():
        path = checkpoint_path(path, "best")
    if not path.is_file():
        raise CheckpointError(f"--init_weights {source}: no checkpoint file at {path}")
    return path


def saved_options(path: str | os.PathLike) -> dict[str, Any]:
    """The resolved options a checkpoint was trained with (empty for a file that holds none)."""
    path = Path(path)
    return dict(ckpt.load(path, weights_only=path.name == "weights.pt").get("options") or {})


def _saved_network_flags(model: Any, state: dict[str, Any]) -> str:
    saved = state.get("options") or {}
    shown = as_flags(saved, type(model).network_options())
    return shown or "options it does not record (train with the options of the run that wrote it)"


def load_initial_weights(model: Any, source: str | os.PathLike) -> Path:
    """Load the network weights of ``source`` into ``model`` before training (fine-tuning).

    ``source``: a run folder (its best checkpoint, else weights.pt), a checkpoint file, or ``pretrained``
    for the shipped twin's run of the model's stage. Networks of the model that the file lacks (a
    discriminator, when starting from a weights-only export of an older run) keep their initialisation;
    a network whose shapes differ is an error naming the option to fix.
    """
    path = init_weights_file(source, model.opt.model)
    state = ckpt.load(path, weights_only=path.name == "weights.pt")
    networks = state.get("networks", {})
    loaded = [name for name in model.network_names if name in networks]
    if not loaded:
        raise CheckpointError(f"--init_weights {path}: holds no weights for {model.network_names}")
    for name in loaded:
        try:
            model.network(name).load_state_dict(networks[name])
        except RuntimeError as exc:
            raise CheckpointError(
                f"--init_weights {path}: {name!r} has another architecture ({str(exc).splitlines()[0]}); "
                f"the weights were trained with {_saved_network_flags(model, state)}"
            ) from exc
    return path


def load_trained_model(
    run_dir: str | os.PathLike,
    which: str | int = "best",
    device: torch.device | str = "cpu",
    overrides: dict[str, Any] | None = None,
):
    """Rebuild the model a run trained and load its weights and extra state (eval mode).

    Args:
        run_dir: ``<checkpoints_dir>/<name>``.
        which: ``best``, ``latest``, an epoch number or ``weights``.
        device: where to put the networks.
        overrides: option values to change for inference (e.g. ``{"precision": "bf16"}``).
    """
    path = checkpoint_path(run_dir, which)
    # The weights export loads without unpickling arbitrary objects; full checkpoints hold RNG states.
    state = ckpt.load(path, weights_only=path.name == "weights.pt")
    saved = dict(state.get("options") or {})
    if "model" not in saved:
        raise CheckpointError(f"{path}: holds no options; it was not written by train.py")
    model_cls = get_model_class(saved["model"])
    # Options added since the run was trained take their parser defaults.
    opt = argparse.Namespace(**{**model_cls.option_defaults(), **saved, "is_train": False, "compile": False})
    for name, value in (overrides or {}).items():
        setattr(opt, name, value)
    model = model_cls(opt, torch.device(device))
    networks = state.get("networks", {})
    for name in model.network_names:
        if name not in networks:
            raise CheckpointError(f"{path}: has no weights for network {name!r}")
        try:
            model.network(name).load_state_dict(networks[name])
        except RuntimeError as exc:
            raise CheckpointError(f"{path}: weights of {name!r} do not fit the network: {exc}") from exc
    model.load_extra_state(state.get("extra_state", {}))
    model.eval()
    model.checkpoint_path = path
    return model
