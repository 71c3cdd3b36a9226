"""Data: the MVM subject file format, datasets for the two stages, the digital-twin phantom, importers.

Dataset registry: ``--dataset_mode NAME`` resolves here, and an unknown name lists the valid ones.
"""

from __future__ import annotations

import importlib

from util.errors import OptionError

DATASETS: dict[str, str] = {
    "interp": "data.interp_dataset:InterpDataset",
    "phase": "data.phase_dataset:PhaseDataset",
}


def get_dataset_class(name: str) -> type:
    """Return the dataset class registered as ``name``."""
    if name not in DATASETS:
        raise OptionError(f"--dataset_mode {name!r} is not a dataset; valid ones are: {', '.join(DATASETS)}")
    module_name, cls_name = DATASETS[name].split(":")
    return getattr(importlib.import_module(module_name), cls_name)


def create_dataset(opt, split: str):
    """Instantiate the dataset named by ``opt.dataset_mode`` on one split (train, val or test)."""
    return get_dataset_class(opt.dataset_mode)(opt, split)
