"""Model registry: ``--model NAME`` resolves here, and an unknown name lists the valid ones.

Models are imported lazily so ``--help`` and the data tools do not pay for importing every network.
"""

from __future__ import annotations

import importlib

from util.errors import OptionError

MODELS: dict[str, str] = {
    "interp": "models.interp_model:InterpModel",
    "phase": "models.phase_model:PhaseModel",
    "hdl": "models.hdl_model:HDLModel",
}


def get_model_class(name: str) -> type:
    """Return the model class registered as ``name``."""
    if name not in MODELS:
        raise OptionError(f"--model {name!r} is not a model; valid models are: {', '.join(MODELS)}")
    module_name, cls_name = MODELS[name].split(":")
    return getattr(importlib.import_module(module_name), cls_name)


def create_model(opt, device=None) -> object:
    """Instantiate the model named by ``opt.model`` on ``device`` (CPU when None)."""
    return get_model_class(opt.model)(opt, device)
