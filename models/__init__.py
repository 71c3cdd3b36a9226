"""Model registry: ``--model NAME`` resolves here, and an unknown name lists the valid ones."""

from __future__ import annotations

from util.registry import resolve

MODELS: dict[str, str] = {
    "interp": "models.interp_model:InterpModel",
    "phase": "models.phase_model:PhaseModel",
    "hdl": "models.hdl_model:HDLModel",
}


def get_model_class(name: str) -> type:
    """Return the model class registered as ``name``."""
    return resolve(MODELS, name, "--model", "model")


def create_model(opt, device=None) -> object:
    """Instantiate the model named by ``opt.model`` on ``device`` (CPU when None)."""
    return get_model_class(opt.model)(opt, device)
