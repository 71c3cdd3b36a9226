"""scripts.mutation_check scores only what the tests noticed: no passing baseline, no score; a runner
error is no kill; a timeout is a kill that says so."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from scripts import mutation_check as mc


@pytest.fixture
def tiny_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tree of one module and its tests, with groups whose tests pass, are missing, are empty or hang."""
    (tmp_path / "mod.py").write_text("X = 1\n")
    (tmp_path / "test_mod.py").write_text("from mod import X\n\n\ndef test_x():\n    assert X == 1\n")
    (tmp_path / "test_empty.py").write_text("X = 1\n")
    (tmp_path / "test_slow.py").write_text("import time\n\n\ndef test_slow():\n    time.sleep(30)\n")
    for group, tests in {"tiny": ["test_mod.py"], "missing": ["test_absent.py"], "empty": ["test_empty.py"],
                         "slow": ["test_slow.py"]}.items():  # fmt: skip
        monkeypatch.setitem(mc.TESTS, group, tests)
    return tmp_path


def mutant(group: str, old: str = "X = 1", new: str = "X = 2") -> mc.Mutant:
    return mc.Mutant(group, "mod.py", old, new, f"{group} mutant")


PYTHON = [sys.executable]


def test_a_failing_test_kills_and_the_file_is_restored(tiny_tree: Path) -> None:
    verdict, _ = mc.run_mutant(tiny_tree, mutant("tiny"), PYTHON, 120)
    assert verdict == mc.Verdict("killed")
    assert (tiny_tree / "mod.py").read_text() == "X = 1\n"
    assert mc.run_mutant(tiny_tree, mutant("tiny", "X = 1", "X = 1  # same"), PYTHON, 120)[0].status == "survived"


@pytest.mark.parametrize(("group", "code"), [("missing", 4), ("empty", 5)])
def test_a_runner_error_is_not_a_kill(tiny_tree: Path, group: str, code: int) -> None:
    verdict, _ = mc.run_mutant(tiny_tree, mutant(group), PYTHON, 120)
    assert verdict.status == "error"
    assert verdict.detail.startswith(f"exit {code}, {mc.PYTEST_ERRORS[code]}")


def test_a_timeout_is_a_kill_that_says_so(tiny_tree: Path) -> None:
    verdict, seconds = mc.run_mutant(tiny_tree, mutant("slow"), PYTHON, 3)
    assert verdict == mc.Verdict("killed", "timeout after 3 s")
    assert seconds < 25


def test_the_counts_keep_errors_out_of_the_kills(tiny_tree: Path, capsys: pytest.CaptureFixture) -> None:
    counts = mc.score(tiny_tree, [mutant("tiny"), mutant("missing"), mutant("empty"), mutant("tiny", "Y")], PYTHON, 120)
    assert counts == {"killed": 1, "survived": 0, "error": 2, "invalid": 1, "timeout": 0}
    assert "invalid (snippet found 0 times)" in capsys.readouterr().out


def test_without_pytest_there_is_no_score(capsys: pytest.CaptureFixture) -> None:
    # -S drops site-packages, so the interpreter that runs the tests cannot import pytest
    assert mc.main(["--only", "dicom", "--python", f"{sys.executable} -S"]) == 2
    out, err = capsys.readouterr()
    assert "killed" not in out and "mutation score" not in out
    assert err.count("\n") == 1
    assert err.startswith("error: scripts/mutation_check.py: the unmutated tree does not pass tests/test_dicom")
    assert "No module named pytest" in err


def test_a_failing_baseline_refuses(tiny_tree: Path) -> None:
    (tiny_tree / "mod.py").write_text("X = 3\n")
    reason = mc.check_baseline(tiny_tree, [mutant("tiny")], PYTHON, 120)
    assert reason == "the unmutated tree does not pass test_mod.py (a test fails); no score without a passing baseline"
    (tiny_tree / "mod.py").write_text("X = 1\n")
    assert mc.check_baseline(tiny_tree, [mutant("tiny")], PYTHON, 120) is None


def test_every_mutant_finds_its_snippet_exactly_once() -> None:
    # A refactor that rewrites a mutated line leaves its mutant "invalid": the check would then test nothing.
    root = Path(__file__).resolve().parents[1]
    counts = {m.what: (root / m.path).read_text().count(m.old) for m in mc.MUTANTS}
    assert {what: n for what, n in counts.items() if n != 1} == {}
