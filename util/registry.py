"""Name -> class registries for ``--model`` and ``--dataset_mode``, imported lazily.

Classes are named as ``"module:Class"`` and imported on first use, so ``--help`` and the data tools do
not pay for importing every network; an unknown name fails with the list of valid ones.
"""

from __future__ import annotations

import importlib
from typing import Any

from util.errors import OptionError


def resolve(registry: dict[str, str], name: str, option: str, kind: str) -> Any:
    """Import and return the class or function registered as ``name`` (``option`` and ``kind`` word the error)."""
    if name not in registry:
        raise OptionError(f"{option} {name!r} is not a {kind}; valid ones are: {', '.join(registry)}")
    module_name, cls_name = registry[name].split(":")
    return getattr(importlib.import_module(module_name), cls_name)
