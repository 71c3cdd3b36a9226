"""``scripts.kinematic_robustness`` on a small cohort: a cell scores its test split, healthy subjects and
patients apart, with every row, the paired difference and the models chosen; a held-out-territory cell
scores only those patients (its empty healthy group once made it fail); a typo in ``--cells`` is one line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scripts import kinematic_robustness as robustness
from util.errors import OptionError

TINY = ("--subjects 10 --seed 4 --frames 24 --size 64 --random_pathology territory --pathology_fraction 0.5 "
        "--val_fraction 0.2 --test_fraction 0.4")  # fmt: skip


@pytest.fixture
def tiny_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(robustness.COHORTS, "reference", TINY)
    monkeypatch.setitem(robustness.CELLS, "tiny", ("reference", 6, None))
    monkeypatch.setitem(robustness.CELLS, "tiny_held_out", ("reference", 6, ("LAD", "LCx", "RCA")))


@pytest.mark.slow
def test_a_cell_scores_its_test_split_by_group_and_a_held_out_cell_its_patients(
    tiny_cells: None, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    results = robustness.run(robustness.build_parser().parse_args(
        ["--data_dir", str(tmp_path), "--cells", "tiny", "tiny_held_out"]))  # fmt: skip
    out = capsys.readouterr().out
    tiny = results["tiny"]
    n = sum(len(g.truths) for g in tiny.values())
    assert n == 4 and all(len(g.mae[row]) == len(g.truths) for g in tiny.values() for row in robustness.ROWS)
    assert all(v >= 0 for g in tiny.values() for row in robustness.ROWS for v in g.mae[row])
    assert sum(sum(g.chosen.values()) for g in tiny.values()) == n
    rows = [line for line in out.splitlines() if re.match(r"\| (healthy|patients) \| \d+ \|", line)]
    assert len(rows) >= 2 and all(line.count("|") == len(robustness.ROWS) + 7 for line in rows)
    held = results["tiny_held_out"]
    assert not held["healthy"].truths and held["patients"].truths
    assert "only patients of LAD LCx RCA, held out of the templates" in out


def test_an_unknown_cell_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="--cells: unknown nope; valid: reference_k6"):
        robustness.run(robustness.build_parser().parse_args(["--data_dir", str(tmp_path), "--cells", "nope"]))
