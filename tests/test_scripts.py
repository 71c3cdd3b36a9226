"""The Python commands in scripts/ run as people type them: as a file from anywhere, and as a module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: every tool in scripts/ that has a command line (a ``__main__`` block)
TOOLS = sorted(p.stem for p in (ROOT / "scripts").glob("*.py") if '__name__ == "__main__"' in p.read_text())


def test_the_tools_are_found() -> None:
    assert {"benchmark", "compare_precision", "mutation_check", "phantom_speed"} <= set(TOOLS)


@pytest.mark.parametrize("tool", TOOLS)
def test_a_tool_runs_as_a_file_from_another_folder(tool: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / f"{tool}.py"), "--help"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:")
    assert "Traceback" not in result.stderr


def test_the_benchmark_runs_as_a_module_from_the_root() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scripts.benchmark", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "--quick" in result.stdout


def test_a_script_refuses_an_abbreviated_option_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from scripts.compare_precision import parse_args

    with pytest.raises(SystemExit) as info:
        parse_args(["--dataroot", str(tmp_path), "--out", str(tmp_path), "--quic"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "error: python -m scripts.compare_precision: unknown option --quic (did you mean --quick?)"
    ], err


def test_the_editable_install_of_setup_env_makes_the_readmes_example_import_from_any_folder(tmp_path: Path) -> None:
    """setup_env.sh's ``pip install -e`` (here into a folder of its own, not the environment the tests run
    in), then the imports of the README's Python example from another folder, with the same Python."""
    import os
    import re

    flags = ["--no-deps", "--no-build-isolation", "--no-index"]
    assert f'_pip {" ".join(flags)} -e "$HDL_ROOT"' in (ROOT / "scripts" / "setup_env.sh").read_text()
    prefix = tmp_path / "prefix"
    pip = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q", *flags, "--prefix",
           str(prefix), "-e", str(ROOT)]  # fmt: skip
    installed = subprocess.run(pip, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-3000:]
    site_dir = next(prefix.glob("lib/python*/site-packages"))
    example = next(b for b in re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
                   if "HDLPredictor" in b)  # fmt: skip
    imports = [line for line in example.splitlines() if line.startswith(("from ", "import "))]
    assert len(imports) >= 2, example
    code = "\n".join([f"import site; site.addsitedir({str(site_dir)!r})", *imports, "import data",
                      "print(data.__file__)"])  # fmt: skip
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert Path(result.stdout.strip()).parent.name == "data"
    assert not list(ROOT.glob("*.egg-info")), "the install left build files in the repository"
