"""A cohort folder's subjects and its split: the default split, splits.json read back and refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_mvm_io import write_one

from data.splits import default_splits, list_subjects, load_splits, write_splits
from util.errors import DataError


def test_splits_default_and_file(tmp_path: Path) -> None:
    for i in range(7):
        write_one(tmp_path / f"sub_{i}.h5")
    assert list(list_subjects(tmp_path)) == [f"sub_{i}" for i in range(7)]
    splits = load_splits(tmp_path)
    assert splits == default_splits([f"sub_{i}" for i in range(7)])
    assert len(splits["val"]) == 1 and len(splits["test"]) == 1 and len(splits["train"]) == 5
    write_splits(tmp_path, {"train": ["sub_0"], "val": ["sub_1"], "test": ["sub_2"]})
    assert load_splits(tmp_path)["test"] == ["sub_2"]
    (tmp_path / "splits.json").write_text(json.dumps({"train": ["sub_0", "nobody"]}))
    with pytest.raises(DataError, match="names subject 'nobody'"):
        load_splits(tmp_path)
    (tmp_path / "splits.json").write_text(json.dumps({"train": ["sub_0"], "test": ["sub_0"]}))
    with pytest.raises(DataError, match="in both 'train' and 'test'"):
        load_splits(tmp_path)


def test_empty_or_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no subject files"):
        list_subjects(tmp_path)
    with pytest.raises(DataError, match="dataset folder not found"):
        list_subjects(tmp_path / "nope")
