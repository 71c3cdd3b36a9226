"""A cohort folder's subjects and its train / validation / test split (``splits.json``).

The split is by subject, never by slice or frame: ``splits.json`` names each subject file (stem) once;
a folder without one is split deterministically by name (``default_splits``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from data.mvm_io import SUBJECT_SUFFIX
from util.atomic import write_json
from util.errors import DataError

SPLIT_NAMES = ("train", "val", "test")


def list_subjects(dataroot: str | os.PathLike) -> dict[str, Path]:
    """Map subject name (file stem) to path for every ``*.h5`` in ``dataroot``, sorted by name."""
    root = Path(dataroot)
    if not root.exists():
        raise DataError(f"{root}: dataset folder not found")
    if not root.is_dir():
        raise DataError(f"{root}: is not a folder (--dataroot must be a folder of .h5 subject files)")
    files = sorted(p for p in root.glob(f"*{SUBJECT_SUFFIX}") if not p.name.startswith("."))
    if not files:
        raise DataError(f"{root}: no subject files (*{SUBJECT_SUFFIX}) in the dataset folder")
    return {p.stem: p for p in files}


def default_splits(names: Iterable[str], val_fraction: float = 0.15, test_fraction: float = 0.15) -> dict:
    """Deterministic split by subject (sorted names; the last ones go to val and test).

    Used when the folder has no splits.json. At least one subject goes to train; val and test get one
    each when there are 3 or more subjects.
    """
    names = sorted(names)
    n = len(names)
    n_test = max(1, round(n * test_fraction)) if n >= 3 else 0
    n_val = max(1, round(n * val_fraction)) if n >= 3 else 0
    n_train = n - n_val - n_test
    return {
        "train": names[:n_train],
        "val": names[n_train : n_train + n_val],
        "test": names[n_train + n_val :],
    }


def load_splits(dataroot: str | os.PathLike) -> dict[str, list[str]]:
    """Read ``splits.json`` (validated against the files present) or fall back to ``default_splits``."""
    root = Path(dataroot)
    subjects = list_subjects(root)
    split_file = root / "splits.json"
    if not split_file.exists():
        return default_splits(subjects)
    try:
        splits = json.loads(split_file.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{split_file}: not valid JSON ({exc})") from exc
    if not isinstance(splits, dict):
        raise DataError(f"{split_file}: expected an object with keys {SPLIT_NAMES}")
    out: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for key in SPLIT_NAMES:
        names = splits.get(key, [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise DataError(f"{split_file}: {key!r} must be a list of subject names")
        for n in names:
            if n not in subjects:
                raise DataError(f"{split_file}: {key!r} names subject {n!r}, which has no file in {root}")
            if n in seen:
                raise DataError(f"{split_file}: subject {n!r} is in both {seen[n]!r} and {key!r}")
            seen[n] = key
        out[key] = list(names)
    unknown = set(splits) - set(SPLIT_NAMES)
    if unknown:
        raise DataError(f"{split_file}: unknown split(s) {sorted(unknown)}; valid are {SPLIT_NAMES}")
    return out


def write_splits(dataroot: str | os.PathLike, splits: dict[str, list[str]]) -> Path:
    """Write ``splits.json`` atomically."""
    return write_json(Path(dataroot) / "splits.json", {k: list(splits.get(k, [])) for k in SPLIT_NAMES})
