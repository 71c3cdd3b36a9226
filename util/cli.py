"""Entry-point wrapper: the project's own errors become one line on stderr and a non-zero exit.

A user who points ``--dataroot`` at a broken file should read what is wrong with it, not a traceback;
anything that is not an ``HDLError`` is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from util.errors import HDLError

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
    except KeyboardInterrupt:
        print("interrupted: no files were left half-written; resume with --continue_train", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except MemoryError:
        print("error: out of memory; lower --batch_size or --crop_size", file=sys.stderr)
        sys.exit(EXIT_ERROR)
