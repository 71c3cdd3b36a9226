"""Helpers on parsed option values, shared by the option parsers, the models' own checks and the trainer.

They live below every other layer so that a model can validate its options, and the trainer can store
them in a checkpoint, without importing the parsers in ``options/``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any

from util.errors import OptionError


def require_at_least(values: Mapping[str, Any] | argparse.Namespace, names: Iterable[str], minimum: float) -> None:
    """Raise ``OptionError`` naming the first option in ``names`` whose value is below ``minimum``."""
    get = values.__getitem__ if isinstance(values, Mapping) else lambda n: getattr(values, n)
    for name in names:
        if get(name) < minimum:
            raise OptionError(f"--{name} must be >= {minimum}, got {get(name)}")


def options_to_dict(opt: argparse.Namespace) -> dict:
    """The options as a plain, JSON-able dict (sorted keys make diffs between runs readable)."""
    return {k: v for k, v in sorted(vars(opt).items()) if not k.startswith("_")}


def as_flags(values: Mapping[str, Any], names: Iterable[str]) -> str:
    """``values`` of ``names`` as a command line: ``--name value``, ``--flag`` for a true switch, and
    ``(no --flag)`` for a false one (names ``values`` lacks are left out)."""
    parts = []
    for name in names:
        if name not in values:
            continue
        value = values[name]
        if isinstance(value, bool):
            parts.append(f"--{name}" if value else f"(no --{name})")
        else:
            parts.append(f"--{name} {value}")
    return " ".join(parts)
