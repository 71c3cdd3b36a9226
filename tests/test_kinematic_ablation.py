"""Which subjects ``scripts.kinematic_ablation`` fits its templates on and which it scores, by value.

The guards of the kinematic prior (docs/KINEMATICS_GUARDS.md) rest on this selection: templates from
another cohort (``--templates_from``), a coronary territory's patients left out of the fit
(``--hold_out_territory``) and only that territory's patients scored (``--only_territory``). A small
phantom cohort whose drawn pathology is known gives the expected names; the script reads a subject's
territory from its regional truth (``aha_motion_scale``), not from the phantom's record used here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data.mvm_io import read_subject
from data.phantom import PhantomConfig, generate_cohort
from scripts.kinematic_ablation import main, scored_subjects, subject_territories, training_subjects
from util.errors import DataError

# Seed 10 of this config: train 000 RCA, 001 LCx, 002 RCA; val 003 LCx; test 004 RCA, 005 LBBB, 006 LCx,
# 007 LBBB (checked against the files' records below).
CONFIG = PhantomConfig(
    frames=12, size=32, random_pathology=("territory", "lbbb"), pathology_fraction=1.0, territories=("RCA", "LCx")
)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ablation_cohort")
    generate_cohort(root, 8, seed=10, config=CONFIG, workers=1, test_fraction=0.5)
    return root


@pytest.fixture(scope="module")
def other(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ablation_other")
    generate_cohort(
        root, 4, seed=3, config=PhantomConfig(frames=12, size=32), workers=1, val_fraction=0.0, test_fraction=0.5
    )
    return root


def _recorded(root: Path) -> dict[str, str]:
    """Each subject's drawn pathology as the phantom recorded it: the territory, or the kind."""
    out = {}
    for path in sorted(root.glob("subject_*.h5")):
        record = read_subject(path).attrs["phantom"]["pathology"]
        out[path.stem] = record.get("territory", record["kind"])
    return out


def test_the_cohort_is_the_one_the_tests_expect(cohort):
    assert _recorded(cohort) == {
        "subject_000": "RCA",
        "subject_001": "LCx",
        "subject_002": "RCA",
        "subject_003": "LCx",
        "subject_004": "RCA",
        "subject_005": "lbbb",
        "subject_006": "LCx",
        "subject_007": "lbbb",
    }
    territories = {p.stem: subject_territories(read_subject(p)) for p in sorted(cohort.glob("subject_*.h5"))}
    assert territories["subject_000"] == {"RCA"} and territories["subject_006"] == {"LCx"}
    assert territories["subject_005"] == set()  # LBBB delays a segment, it does not reduce its motion


def test_held_out_territory_leaves_its_training_patients_out(cohort):
    kept, dropped = training_subjects(str(cohort), ["RCA"])
    assert [s.subject_id for s in kept] == ["subject_001"] and dropped == ["subject_000", "subject_002"]
    kept, dropped = training_subjects(str(cohort), ["LCx"])
    assert [s.subject_id for s in kept] == ["subject_000", "subject_002"] and dropped == ["subject_001"]
    kept, dropped = training_subjects(str(cohort))
    assert [s.subject_id for s in kept] == ["subject_000", "subject_001", "subject_002"] and dropped == []
    with pytest.raises(DataError, match="no training subject is left"):
        training_subjects(str(cohort), ["RCA", "LCx"])


def test_only_territory_scores_that_territory_s_patients(cohort):
    def names(only: list[str]) -> list[str]:
        return [s.subject_id for s in scored_subjects(str(cohort), "test", only)]

    assert names(["RCA"]) == ["subject_004"]
    assert names(["LCx"]) == ["subject_006"]
    assert names(["RCA", "LCx"]) == ["subject_004", "subject_006"]
    assert names([]) == ["subject_004", "subject_005", "subject_006", "subject_007"]
    assert names(["LAD"]) == []


def test_templates_from_another_cohort_use_its_train_split(cohort, other):
    """The other cohort's split: train subject_000, val subject_001, test subject_002 and 003."""
    assert json.loads((other / "splits.json").read_text())["train"] == ["subject_000"]
    kept, dropped = training_subjects(str(other))
    assert [s.subject_id for s in kept] == ["subject_000"] and dropped == []
    assert kept[0].attrs["phantom"]["seed"] != read_subject(cohort / "subject_000.h5").attrs["phantom"]["seed"]


@pytest.mark.parametrize("option", ["--hold_out_territory", "--only_territory"])
def test_bad_territory_is_a_one_line_error(cohort, capsys, option):
    assert main(["--dataroot", str(cohort), option, "LMCA"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "invalid choice: 'LMCA'" in err[0]
