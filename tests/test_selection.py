"""Subject selection (data/selection.py): one meaning of --split, --subjects and --max_subjects."""

from __future__ import annotations

from pathlib import Path

import pytest

from data.selection import select_subjects
from data.splits import load_splits
from util.errors import DataError, OptionError


def test_subjects_may_be_named_by_file_or_by_stem(tiny_cohort: Path) -> None:
    test = load_splits(tiny_cohort)["test"][0]
    expected = [tiny_cohort / f"{test}.h5"]
    assert select_subjects(tiny_cohort, "test", [test]) == expected
    assert select_subjects(tiny_cohort, "test", [f"{test}.h5"]) == expected
    assert select_subjects(tiny_cohort, "all", [str(tiny_cohort / f"{test}.h5")]) == expected


def test_unknown_and_out_of_split_subjects_are_refused(tiny_cohort: Path) -> None:
    train = load_splits(tiny_cohort)["train"][0]
    with pytest.raises(DataError, match=r"unknown subject\(s\) \['nobody'\]"):
        select_subjects(tiny_cohort, "test", ["nobody.h5"])
    with pytest.raises(OptionError, match="not in the 'test' split"):
        select_subjects(tiny_cohort, "test", [f"{train}.h5"])
