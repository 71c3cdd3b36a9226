"""Command-line plumbing shared by the data tools (importers and exporters).

Every tool reports a failure caused by its input as exactly one line, ``error: <message>``, on stderr and
exits with status 2, without a traceback: a user fixing a file name or an option should not have to read
a stack. Option errors from argparse follow the same rule (argparse itself would print the usage block).
Anything that is not an ``HDLError`` is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from util.cli import EXIT_ERROR, error_line
from util.errors import HDLError, OptionError


class ToolParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors become ``OptionError`` (one line, exit 2 via ``run_tool``)."""

    def error(self, message: str) -> None:  # type: ignore[override]
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


def say(message: str) -> None:
    """Default progress/warning sink of the data tools: one line on stdout."""
    print(message, flush=True)
