"""Load a trained stage for inference from its run folder.

The run's own saved options rebuild the networks exactly as they were trained, so test.py and user code
need only the run folder and which checkpoint to take (``best``, ``latest``, an epoch number, or
``weights`` for the weights-only export).

Every checkpoint is read through ``read_checkpoint``: a shipped file (one listed in the ``MODEL_CARD.md``
of the folder above its run folder, as ``pretrained/`` is) is checked against the card's SHA-256 before
it is unpickled, and an unreadable file is one line naming it, never PyTorch's advice to retry with
``weights_only=False`` (which would run whatever code a damaged or foreign file holds).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
from pathlib import Path
from typing import Any

import torch

from models import get_model_class
from models.networks import legacy_network_options
from util import checkpoint as ckpt
from util.errors import CheckpointError
from util.option_values import as_flags

#: the twin shipped with the repository (pretrained/MODEL_CARD.md): one run folder per stage
PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"
#: the file in a shipped folder that states each weights file's SHA-256
MODEL_CARD = "MODEL_CARD.md"
_HASH_LINE = re.compile(r"^\|\s*`(?P<file>[\w/.]+)`\s*\|\s*`(?P<sha>[0-9a-f]{64})`\s*\|", re.M)
#: the model card's table of what each stage's training subjects spanned: a header row of ``stage`` and
#: ``data.acquisition`` keys, then a row per stage (``| `phase` | 1.41-1.56 | 50 | ...``)
_ACQUISITION_HEADER = re.compile(r"^\|\s*stage\s*\|(?P<keys>(?:\s*[a-z_]+\s*\|)+)\s*$", re.M)
_ACQUISITION_ROW = re.compile(r"^\|\s*`(?P<stage>\w+)`\s*\|(?P<cells>(?:\s*[0-9.]+(?:-[0-9.]+)?\s*\|)+)\s*$", re.M)
#: where PyTorch's refusal of a weights-only load says what it refused (the advice before it is dropped)
_REFUSAL = "WeightsUnpickler error:"


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def card_hashes(root: Path = PRETRAINED_DIR) -> dict[str, str]:
    """The hashes ``root/MODEL_CARD.md`` states (its table rows ``| `file` | `sha256` |``)."""
    card = root / MODEL_CARD
    if not card.is_file():
        raise CheckpointError(f"{card}: model card not found")
    return {m["file"]: m["sha"] for m in _HASH_LINE.finditer(card.read_text())}


def card_training_acquisition(root: Path, stage: str) -> dict[str, list[float]] | None:
    """The ranges of ``stage``'s training subjects that ``root/MODEL_CARD.md`` states, or None."""
    card = root / MODEL_CARD
    text = card.read_text() if card.is_file() else ""
    header = _ACQUISITION_HEADER.search(text)
    if header is None:
        return None
    keys = [k.strip() for k in header["keys"].strip().strip("|").split("|")]
    for row in _ACQUISITION_ROW.finditer(text, header.end()):
        if row["stage"] == stage:
            cells = [c.strip() for c in row["cells"].strip().strip("|").split("|")]
            spans = [[float(v) for v in c.split("-")] for c in cells]
            return {k: [span[0], span[-1]] for k, span in zip(keys, spans, strict=False)}
    return None


def training_acquisition(model: Any) -> dict[str, list[float]] | None:
    """What the training subjects of ``model`` (from ``load_trained_model``) spanned: recorded with its
    options since ``train.py`` records it, else, for the shipped twin, as its model card states; else None."""
    recorded = getattr(model.opt, "training_acquisition", None)
    if recorded:
        return dict(recorded)
    path = getattr(model, "checkpoint_path", None)
    if path is None:
        return None
    root = Path(path).resolve().parent.parent
    if not (root / MODEL_CARD).is_file():
        return None
    return card_training_acquisition(root, Path(path).parent.name)


def verify_shipped(path: Path) -> str | None:
    """Check a shipped weights file against its model card; its hash, or None for a file not shipped.

    A file is shipped when the folder above its run folder holds a model card (``pretrained/``, or a
    copy of it); every file there must be listed and match, so a damaged, truncated or swapped file is
    refused before ``torch.load`` reads it (a flipped byte inside a tensor would otherwise load).
    """
    root = path.resolve().parent.parent
    if not (root / MODEL_CARD).is_file() and root != PRETRAINED_DIR:
        return None
    name = f"{path.parent.name}/{path.name}"
    stated = card_hashes(root).get(name)
    if stated is None:
        raise CheckpointError(f"{root / MODEL_CARD}: states no SHA-256 for {name}, so {path} cannot be verified")
    if sha256(path) != stated:
        raise CheckpointError(
            f"{path}: damaged or changed, its SHA-256 differs from the model card ({root / MODEL_CARD}); "
            "restore the shipped files with `git checkout pretrained/`"
        )
    return stated


def _first_sentence(exc: BaseException) -> str:
    """``exc`` in a few words: its type and the first sentence of its message, or what a weights-only
    load refused (PyTorch's message leads with advice to load unsafely, which is not repeated)."""
    text = str(exc)
    if _REFUSAL in text:
        return "it holds objects a weights-only load refuses: " + text.split(_REFUSAL, 1)[1].strip().split(". ")[0]
    first = text.strip().splitlines()[0].split(". ")[0] if text.strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def read_checkpoint(path: Path, weights_only: bool | None = None) -> dict[str, Any]:
    """Load a checkpoint file, verified first if shipped; errors are one line naming the file.

    ``weights_only`` defaults to True for the weights export (``weights.pt``), which then loads without
    unpickling arbitrary objects; full checkpoints hold RNG states, which need the full unpickler.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    verify_shipped(path)
    try:
        return ckpt.load(path, weights_only=path.name == "weights.pt" if weights_only is None else weights_only)
    except CheckpointError as exc:
        # Not chained: the cause's full text is PyTorch's, which for a refused weights-only load advises
        # retrying with weights_only=False; its first sentence is all the message keeps.
        cause = exc.__cause__ or exc
        raise CheckpointError(
            f"{path}: checkpoint unreadable ({_first_sentence(cause)}); it is damaged or was not written by "
            "train.py or models.pretrained"
        ) from None


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
    """The resolved options a checkpoint was trained with (empty for a file that holds none), under today's
    names (``legacy_network_options``)."""
    return legacy_network_options(read_checkpoint(Path(path)).get("options") or {})


def _saved_network_flags(model: Any, state: dict[str, Any]) -> str:
    saved = legacy_network_options(state.get("options") or {})
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
    state = read_checkpoint(path)
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
    model.start_from_state(state.get("extra_state", {}), str(path))
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
    state = read_checkpoint(path)
    saved = legacy_network_options(state.get("options") or {})
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
