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
