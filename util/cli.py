"""Command-line plumbing of every entry point: the project's own errors become one line on stderr.

A user who points ``--dataroot`` at a broken file, or mistypes an option of a data tool, should read
what is wrong, ``error: <message>``, and get exit status 2, not a traceback or argparse's usage block.
Anything that is not an ``HDLError`` is a bug and keeps its traceback. ``run_cli`` wraps train.py and
test.py; ``ToolParser`` and ``run_tool`` wrap the data tools (importers, exporters, figures).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from util.errors import DataError, HDLError, OptionError

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def error_line(exc: BaseException) -> str:
    """The one line a user sees for a project error: ``error: <message>``, whitespace collapsed."""
    return "error: " + " ".join(str(exc).split())


def run_cli(main: Callable[[], object]) -> None:
    """Run ``main`` and exit with 0, 2 (project error) or 130 (Ctrl-C)."""
    try:
        main()
    except HDLError as exc:
        print(error_line(exc), file=sys.stderr, flush=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt as exc:
        # The trainer says what there is to resume; a bare Ctrl-C elsewhere leaves the last checkpoint.
        reason = str(exc) or "no files were left half-written; resume with --continue_train"
        print(f"interrupted {reason}" if str(exc) else f"interrupted: {reason}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except MemoryError:
        print("error: out of memory; lower --batch_size or --crop_size", file=sys.stderr)
        sys.exit(EXIT_ERROR)


class HelpFormatter(argparse.HelpFormatter):
    """``--help`` of every command: the description as written, and each option's default appended as
    ``(default: X)`` unless its help already says what happens by default (or it has none: flags, None)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            not action.option_strings
            or "default" in text.lower()
            or default is None
            or default is argparse.SUPPRESS
            or isinstance(default, bool)
        ):
            return text
        shown = " ".join(str(v) for v in default) if isinstance(default, (list, tuple)) else str(default)
        return f"{text} (default: {shown.replace('%', '%%')})"


class RawDescriptionHelpFormatter(argparse.RawDescriptionHelpFormatter, HelpFormatter):
    """``HelpFormatter`` that keeps the line breaks of a long description (a module docstring)."""


def unknown_arguments_message(parser: argparse.ArgumentParser, extras: Sequence[str]) -> str:
    """What is wrong with the arguments ``parser`` did not take: each unknown option with the closest
    valid names (a typo is named, not guessed at), or the stray values."""
    known = [s for s in parser._option_string_actions if s.startswith("--")]
    unknown = [a.split("=", 1)[0] for a in extras if a.startswith("-") and len(a) > 1]
    if not unknown:
        return f"unexpected argument(s): {' '.join(extras)}"
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(close)}?" if close else "no option is close to it; see --help"
        parts.append(f"{name} ({hint})")
    return f"unknown option{'s' if len(parts) > 1 else ''} " + ", ".join(parts)


class StrictParser(argparse.ArgumentParser):
    """The project's ``ArgumentParser``: no abbreviated options (``--steps_per_epoc`` is not taken for
    ``--steps_per_epoch``), and a usage error is one line on stderr with exit status 2, an unknown option
    named with the closest valid ones, instead of the usage block."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["allow_abbrev"] = False
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            self.error(unknown_arguments_message(self, extras))
        return parsed

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        print(error_line(OptionError(f"{self.prog}: {message}")), file=sys.stderr, flush=True)
        sys.exit(EXIT_ERROR)


class ToolParser(StrictParser):
    """A ``StrictParser`` whose usage errors become ``OptionError`` (one line, exit 2 via ``run_tool`` or
    ``run_cli``)."""

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        raise OptionError(f"{self.prog}: {message}")


def run_tool(body: Callable[[argparse.Namespace], None], parser: ToolParser, argv: Sequence[str] | None) -> int:
    """Parse ``argv`` and run ``body``; turn an ``HDLError`` into one line on stderr and exit status 2."""
    try:
        args = parser.parse_args(argv)
        body(args)
    except HDLError as exc:
        print(error_line(exc), file=sys.stderr)
        return EXIT_ERROR
    return 0


class SkippedInputs:
    """Input files a command could not read and went on without: each is said on stderr when it happens,
    and :meth:`check` makes the command fail at the end, after the results of the others are written."""

    def __init__(self, what: str = "subject file") -> None:
        self.what = what
        self.names: list[str] = []

    def skip(self, path: Path, exc: HDLError) -> None:
        print(f"{error_line(exc)} ({path.name} skipped; going on with the others)", file=sys.stderr, flush=True)
        self.names.append(path.name)

    def check(self, total: int) -> None:
        """Raise ``DataError`` naming every skipped file, if any (call when the others are done)."""
        if self.names:
            left = "nothing to report" if len(self.names) == total else "the results cover the others"
            raise DataError(
                f"{len(self.names)} of {total} {self.what}(s) could not be read: {', '.join(self.names)}; {left}"
            )


def new_folders(*paths: Path) -> list[Path]:
    """Those of ``paths`` (and the folders above them) that do not exist yet, deepest first: what a
    command that fails may take back with :func:`remove_empty_folders`."""
    missing = []
    for path in paths:
        for folder in (path, *path.parents):
            if folder.exists():
                break
            missing.append(folder)
    return sorted(set(missing), key=lambda p: len(p.parts), reverse=True)


def remove_empty_folders(folders: Sequence[Path]) -> None:
    """Remove each of ``folders`` that exists and is empty (deepest first); leave the others alone."""
    for folder in folders:
        with contextlib.suppress(OSError):  # absent or not empty: nothing to take back
            folder.rmdir()


def say(message: str) -> None:
    """Default progress/warning sink of the data tools: one line on stdout."""
    print(message, flush=True)
