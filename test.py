"""Evaluate a trained stage, or synthesise full 3Dir MVM data with the chained model.

    python test.py --model interp --name phantom_interp --factor 6
    python test.py --model phase  --name phantom_phase
    python test.py --model hdl    --name phantom --interp_name phantom_interp --phase_name phantom_phase

Outputs go to ``<results_dir>/<name>/<model>/``: metrics.csv (one row per method), synthesised subjects
in the dataset format, and for the chain the plots and index.html.
"""

from __future__ import annotations

from models import get_test_runner
from options.test_options import TestOptions
from util.cli import new_folders, remove_empty_folders, run_cli


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


if __name__ == "__main__":
    run_cli(main)
