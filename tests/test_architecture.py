"""The layers of the tree (docs/ARCHITECTURE.md) are enforced: import-linter rejects an upward import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("scripts", "entry", "options", "models", "assessment", "data", "util")


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
        ("assessment/metrics.py", "from models.hdl.predictor import HDLPredictor", "assessment is not allowed"),
        ("data/phantom/analytic.py", "from assessment.velocity import COMPONENTS", "data is not allowed"),
        ("util/atomic.py", "from assessment.tables import to_csv", "util is not allowed to import assessment"),
        ("data/transforms.py", "from options.base_options import BaseOptions", "data is not allowed to import options"),
        ("models/phase/model.py", "from models.interp.model import InterpModel", "models.phase is not allowed"),
        ("entry/test.py", "from scripts.benchmark import main", "entry is not allowed to import scripts"),
        ("options/base_options.py", "from entry.train import main", "options is not allowed to import entry"),
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


def contract_layers() -> list[str]:
    """The packages of the top-level layers contract in pyproject.toml, from the top layer down."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    top = next(c for c in config["contracts"] if c["type"] == "layers" and "containers" not in c)
    return list(top["layers"])


def registries() -> list[tuple[str, str, str]]:
    """(package holding the registry, name, "module:attribute") of every name-to-code registry."""
    import data
    import models

    found = [("data", name, target) for name, target in data.DATASETS.items()]
    for registry in (models.COMMANDS, models.TEST_RUNNERS):
        found += [("models", name, target) for name, target in registry.items()]
    return found


@pytest.mark.parametrize(("package", "name", "target"), registries())
def test_every_registry_entry_names_a_module_its_caller_may_import(package: str, name: str, target: str) -> None:
    """Registries import by name (``util.registry.resolve``), which import-linter cannot see: the module
    must exist, hold the attribute, and sit in the registry's own package or a layer below it."""
    import importlib

    module_name, attribute = target.split(":")
    assert hasattr(importlib.import_module(module_name), attribute), target
    layers = contract_layers()
    assert layers.index(module_name.split(".")[0]) >= layers.index(package), f"{name}: {target}"
