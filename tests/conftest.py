"""Shared fixtures: small phantom cohorts generated once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Two cores are shared by the data loaders and the maths; more threads only add contention.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5 phantom subjects, 3 slices of 24 frames at 64x64 (train 3 / val 1 / test 1)."""
    from data.phantom import PhantomConfig, generate_cohort

    root = tmp_path_factory.mktemp("tiny_cohort")
    generate_cohort(root, n_subjects=5, seed=123, config=PhantomConfig(frames=24, size=64), workers=1)
    return root
