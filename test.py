"""Evaluate a trained stage, or synthesise full 3Dir MVM data with the chained model.

    python test.py --model interp --name phantom_interp --factor 6
    python test.py --model phase  --name phantom_phase
    python test.py --model hdl    --name phantom --interp_name phantom_interp --phase_name phantom_phase

Outputs go to ``<results_dir>/<name>/<model>/``: metrics.csv (one row per method), synthesised subjects
in the dataset format, and for the chain the plots and index.html.
"""

from __future__ import annotations

from entry.test import main
from util.cli import run_cli

__all__ = ["main"]

if __name__ == "__main__":
    run_cli(main)
