"""Data: the MVM subject file format, datasets for the two stages, the digital-twin phantom, importers.

Dataset registry: ``--dataset_mode NAME`` resolves here, and an unknown name lists the valid ones.
"""

from __future__ import annotations

from util.registry import resolve

DATASETS: dict[str, str] = {
    "interp": "data.samples.interp_dataset:InterpDataset",
    "phase": "data.samples.phase_dataset:PhaseDataset",
}


def get_dataset_class(name: str) -> type:
    """Return the dataset class registered as ``name``."""
    return resolve(DATASETS, name, "--dataset_mode", "dataset")


def create_dataset(opt, split: str):
    """Instantiate the dataset named by ``opt.dataset_mode`` on one split (train, val or test)."""
    return get_dataset_class(opt.dataset_mode).from_options(opt, split)
