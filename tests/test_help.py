"""Every command of the tree explains itself: ``python -m <module> --help`` exits 0, prints a description,
help for every argument and the default of every option that takes a value, and writes no file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("assessment", "data", "models", "util", "scripts")


def command_modules() -> list[str]:
    """Every module with a ``__main__`` block and every package with a ``__main__.py``, as ``-m`` names."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if path.name == "__main__.py":
                found.add(".".join(parts[:-1]))
            elif 'if __name__ == "__main__"' in path.read_text(encoding="utf-8"):
                found.add(".".join(parts))
    return sorted(found)


@dataclass
class Entry:
    """One argument of a help text: how it is written (``--venc X Y Z``) and its help."""

    invocation: str
    help: str
    positional: bool

    @property
    def flags(self) -> list[str]:
        return [alias.split()[0] for alias in self.invocation.split(", ")]

    @property
    def takes_value(self) -> bool:
        return any(" " in alias for alias in self.invocation.split(", "))


def parse_help(text: str) -> tuple[str, str, list[Entry]]:
    """(usage, description, arguments) of an argparse help text."""
    blocks = text.split("\n\n")
    usage = blocks[0]
    description = ""
    entries: list[Entry] = []
    section = None
    for line in "\n\n".join(blocks[1:]).splitlines():
        if re.match(r"^\S.*:$", line):
            section = line[:-1]
            continue
        if section is None:
            description += line.strip() + " "
            continue
        start = re.match(r"^  (\S.*)$", line)
        if start and (start.group(1).startswith("-") or section == "positional arguments"):
            parts = re.split(r"\s{2,}", start.group(1), maxsplit=1)
            rest = parts[1] if len(parts) > 1 else ""
            entries.append(Entry(parts[0], rest.strip(), not start.group(1).startswith("-")))
        elif entries and re.match(r"^\s{3,}\S", line):
            entries[-1].help = f"{entries[-1].help} {line.strip()}".strip()
    return usage, description.strip(), entries


def run_help(module: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


MODULES = command_modules()


def test_every_command_is_found() -> None:
    commands = (
        "data.scanner.import_dicom",
        "data.phantom",
        "data.phantom.figure",
        "assessment.tables",
        "scripts.benchmark",
    )
    for module in commands:
        assert module in MODULES


@pytest.fixture(scope="module")
def helps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[subprocess.CompletedProcess, list[str]]]:
    """Each module's ``--help`` run once in its own empty folder: (result, files left there)."""
    out = {}
    for module in MODULES:
        cwd = tmp_path_factory.mktemp(module.replace(".", "_"))
        done = run_help(module, cwd)
        out[module] = (done, sorted(p.name for p in cwd.iterdir()))
    return out


@pytest.mark.parametrize("module", MODULES)
def test_help_exits_0_with_a_description_and_writes_nothing(helps, module: str) -> None:
    done, files = helps[module]
    assert done.returncode == 0, done.stderr
    assert files == [], f"--help wrote {files}"
    usage, description, entries = parse_help(done.stdout)
    assert usage.startswith("usage: python -m "), usage
    assert len(description.split()) >= 4, f"no description in:\n{done.stdout}"
    assert entries, done.stdout


@pytest.mark.parametrize(
    "module",
    MODULES,
)
def test_every_argument_has_help_and_every_option_its_default(helps, module: str) -> None:
    done, _ = helps[module]
    usage, _, entries = parse_help(done.stdout)
    no_help = [e.invocation for e in entries if not e.help]
    assert no_help == [], f"{module}: arguments without help: {no_help}"
    required = [e for e in entries if not e.positional and not re.search(rf"\[{re.escape(e.flags[0])}[\] ]", usage)]
    no_default = [
        e.invocation
        for e in entries
        if not e.positional and e.takes_value and e not in required and "default" not in e.help.lower()
    ]
    assert no_default == [], f"{module}: options whose default the help does not give: {no_default}"


def test_parse_help_reads_argparse_layout() -> None:
    text = (
        "usage: python -m x [-h] --need NEED [--venc X Y Z] [--flag] out\n\nDoes a thing to a file.\n\n"
        "positional arguments:\n  out           output file\n\noptions:\n  -h, --help    show this help\n"
        "  --need NEED   needed\n  --venc X Y Z  VENC in cm/s\n                (default: the headers)\n"
        "  --flag\n  --a_very_long_option_name VALUE\n                which one (default: 3)\n"
    )
    usage, description, entries = parse_help(text)
    assert description == "Does a thing to a file."
    got = {e.invocation: (e.help, e.positional, e.takes_value) for e in entries}
    assert got == {
        "out": ("output file", True, False),
        "-h, --help": ("show this help", False, False),
        "--need NEED": ("needed", False, True),
        "--venc X Y Z": ("VENC in cm/s (default: the headers)", False, True),
        "--flag": ("", False, False),
        "--a_very_long_option_name VALUE": ("which one (default: 3)", False, True),
    }
    assert "[--need" not in usage and "[--venc " in usage
