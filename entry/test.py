"""Evaluate a stage or run the chain: the body of ``python test.py`` (see test.py for the command line)."""

from __future__ import annotations

from models import get_test_runner
from options.test_options import TestOptions
from util.cli import new_folders, remove_empty_folders


def main(args: list[str] | None = None) -> dict:
    options = TestOptions()
    opt = options.parse(args, save=False)
    out_dir = options.options_file(opt).parent
    created = new_folders(out_dir)
    try:
        result = get_test_runner(opt.model)(opt)
    finally:
        # The options go with what was written; a run that wrote nothing leaves no folder behind.
        if out_dir.is_dir() and any(out_dir.iterdir()):
            options.save(opt)
        else:
            remove_empty_folders(created)
    return result
