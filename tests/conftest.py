"""Shared fixtures: small phantom cohorts generated once per test session."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest
import torch

# One thread: the suite also runs subprocesses and data loaders on the same two cores, and torch's
# thread pool slows down by orders of magnitude when its threads have to wait for a busy core.
torch.set_num_threads(int(os.environ.get("HDL_TEST_THREADS", "1")))


def model_options(model: str, *args: str, is_train: bool = True, **values: object) -> argparse.Namespace:
    """The complete options of ``--model model`` as train.py resolves them (defaults from the parsers),
    on the CPU, with ``values`` set on top: what a test needs to build a model by hand."""
    from options.train_options import TrainOptions

    opt = TrainOptions().parse(["--model", model, "--gpu", "-1", *args], save=False)
    opt.is_train = is_train
    for name, value in values.items():
        setattr(opt, name, value)
    return opt


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5 phantom subjects, 3 slices of 24 frames at 64x64 (train 3 / val 1 / test 1)."""
    from data.phantom import PhantomConfig, generate_cohort

    root = tmp_path_factory.mktemp("tiny_cohort")
    generate_cohort(root, n_subjects=5, seed=123, config=PhantomConfig(frames=24, size=64), workers=1)
    return root


# Property tests explore new examples on every local run, but CI replays a fixed set so that a run's
# verdict does not depend on the draw.
try:
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("CI"):
        _hypothesis_settings.load_profile("ci")
except ImportError:  # hypothesis is a test dependency; without it the property tests cannot be collected
    pass


@pytest.fixture(scope="session")
def older_phase_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder whose ``weights.pt`` holds the shipped stage 2's networks under the options an older
    release saved: ``netG: r2unet`` for ``block: r2``, ``population_prior: True`` and no ``prior``
    (the twin shipped before the kinematic prior, whose generator took the same 6 input channels)."""
    from models.loading import PRETRAINED_DIR

    exported = torch.load(PRETRAINED_DIR / "phase" / "weights.pt", weights_only=True)
    newer = ("block", "prior", "prior_factor", "prior_folds")
    options = {k: v for k, v in exported["options"].items() if k not in newer}
    exported["options"] = {**options, "netG": "r2unet", "population_prior": True}
    folder = tmp_path_factory.mktemp("older_release") / "phase"
    folder.mkdir()
    torch.save(exported, folder / "weights.pt")
    return folder
