"""The layers of the tree (docs/ARCHITECTURE.md) are enforced: import-linter rejects an upward import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("scripts", "options", "models", "data", "util")


def copy_tree(dst: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, dst / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dst / "pyproject.toml")
    return dst


def lint(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--no-cache"], cwd=tree, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not LINT.exists(), reason="import-linter is a test dependency (requirements-dev.txt)")
@pytest.mark.parametrize(
    ("module", "statement", "broken"),
    [
        ("util/metrics.py", "from models.hdl.keyframes import KeyFrames", "util is not allowed to import models"),
        ("data/transforms.py", "from options.base_options import BaseOptions", "data is not allowed to import options"),
        ("models/phase/model.py", "from models.interp.model import InterpModel", "models.phase is not allowed"),
        ("data/scanner/masks.py", "from data.phantom.config import PhantomConfig", "data.scanner is not allowed"),
        ("data/samples/slice_dataset.py", "from data.scanner import masks", "data.samples is not allowed"),
        ("data/cycle.py", "from data.samples.slice_dataset import SliceDataset", "data.cycle is not allowed"),
        ("data/mvm_io.py", "from data.selection import select_subjects", "data.mvm_io is not allowed"),
    ],
)
def test_an_upward_or_sideways_import_breaks_the_contract(
    tmp_path: Path, module: str, statement: str, broken: str
) -> None:
    tree = copy_tree(tmp_path)
    assert lint(tree).returncode == 0, "the tree as committed must keep every contract"
    with (tree / module).open("a") as fh:
        fh.write(f"\n{statement}  # deliberate violation\n")
    result = lint(tree)
    assert result.returncode != 0
    assert broken in result.stdout


@pytest.mark.skipif(not LINT.exists(), reason="import-linter is a test dependency (requirements-dev.txt)")
def test_a_data_module_outside_the_layers_breaks_the_contract(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    (tree / "data" / "loose.py").write_text('"""A module placed in no layer of data/."""\n')
    result = lint(tree)
    assert result.returncode != 0
    assert "data.loose" in result.stdout
