"""Which subject files a run uses: one meaning of ``--split``, ``--subjects`` and ``--max_subjects`` for
the datasets (training) and the test drivers (evaluation and synthesis).

``--split all`` is every subject in the folder (sorted by name); ``train`` / ``val`` / ``test`` are the
lists of ``splits.json`` (or the default split). ``--subjects`` keeps only the named subjects of that
split, in the split's order: naming one outside the split is an error rather than a silent leak of a
test subject into training. A subject may be named by its file (``subject_005.h5``): its stem is the name.
``--max_subjects N`` then keeps the first N.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from data.mvm_io import Subject, read_subject
from data.splits import list_subjects, load_splits
from util.errors import DataError, OptionError


def subject_name(text: str) -> str:
    """The subject a ``--subjects`` entry names: a stem as it is, or a file name (or path) without ``.h5``."""
    name = Path(text).name
    return name[: -len(".h5")] if name.lower().endswith(".h5") else name


def select_subjects(
    dataroot: str | os.PathLike,
    split: str,
    subjects: Sequence[str] | None = None,
    max_subjects: int = 0,
) -> list[Path]:
    """The subject files of ``split`` in ``dataroot``, restricted to ``subjects`` and ``max_subjects``."""
    found = list_subjects(dataroot)
    names = list(found) if split == "all" else load_splits(dataroot)[split]
    if subjects:
        subjects = [subject_name(n) for n in subjects]
        unknown = [n for n in subjects if n not in found]
        if unknown:
            raise DataError(f"{dataroot}: --subjects names unknown subject(s) {unknown}")
        outside = [n for n in subjects if n not in names]
        if outside:
            raise OptionError(f"--subjects {outside} are not in the {split!r} split of {dataroot}; add --split all")
        names = [n for n in names if n in subjects]
    if max_subjects:
        names = names[:max_subjects]
    if not names:
        raise DataError(f"{dataroot}: the {split!r} split has no subjects (see splits.json)")
    return [found[n] for n in names]


def split_paths(dataroot: str | os.PathLike, splits: Iterable[str]) -> list[Path]:
    """The subject files of the named splits of ``dataroot``, in split order; a split that is empty or
    absent contributes nothing (the folder may simply not have it)."""
    paths: list[Path] = []
    for split in splits:
        try:
            paths += select_subjects(dataroot, split)
        except DataError:
            continue
    return paths


def readable_subjects(paths: Iterable[Path], require_velocity: bool = True) -> Iterator[Subject]:
    """The subjects of ``paths`` that can be read: what an evaluation learns from its training split (an
    unreadable file is named by the evaluation when it reaches it in its own split)."""
    for path in paths:
        try:
            yield read_subject(path, require_velocity=require_velocity)
        except DataError:
            continue
