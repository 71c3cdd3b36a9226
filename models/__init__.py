"""Models: the two trainable stages, the chain that joins them, and what ``--model NAME`` resolves to.

``--model`` names one of three commands. ``interp`` and ``phase`` are trainable models (train.py builds
them; test.py evaluates them); ``hdl`` is the chain of the two trained stages, run by test.py only. Each
command adds its options to the parser (``modify_commandline_options``) and names its default dataset;
an unknown name lists the valid ones. Classes are imported on first use, so ``--help`` and the data
tools do not pay for importing every network.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, Protocol

from util.registry import resolve

#: trainable models: train.py builds them, the checkpoints rebuild them
MODELS: dict[str, str] = {
    "interp": "models.interp.model:InterpModel",
    "phase": "models.phase.model:PhaseModel",
}
#: every --model name: its options and default dataset
COMMANDS: dict[str, str] = {**MODELS, "hdl": "models.hdl.options:ChainOptions"}
#: what test.py runs for each --model name
TEST_RUNNERS: dict[str, str] = {
    "interp": "models.interp.evaluation:run_interp_test",
    "phase": "models.phase.evaluation:run_phase_test",
    "hdl": "models.hdl.evaluation:run_hdl_test",
}


class Command(Protocol):
    """What option composition needs of a ``--model`` name."""

    default_dataset: str | None

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser: ...


def get_command(name: str) -> Command:
    """The options provider of ``--model name`` (a model class, or the chain's options)."""
    return resolve(COMMANDS, name, "--model", "model")


def get_model_class(name: str) -> type:
    """The trainable model class registered as ``name``."""
    return resolve(MODELS, name, "--model", "trainable model (hdl is the chain: run it with test.py)")


def get_test_runner(name: str) -> Callable[[argparse.Namespace], dict[str, Any]]:
    """The function test.py runs for ``--model name``."""
    return resolve(TEST_RUNNERS, name, "--model", "model")


def create_model(opt: argparse.Namespace, device: Any = None) -> Any:
    """Instantiate the trainable model named by ``opt.model`` on ``device`` (CPU when None)."""
    return get_model_class(opt.model)(opt, device)
