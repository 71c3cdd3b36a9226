"""Options of test.py: which checkpoint, where results go, and what to evaluate."""

from __future__ import annotations

import argparse
from pathlib import Path

from options.base_options import BaseOptions
from util.errors import OptionError


class TestOptions(BaseOptions):
    is_train = False
    description = (
        "Evaluate one HDL stage (--model interp | phase) or synthesise full 3Dir MVM data sets with the "
        "chained model (--model hdl)."
    )

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser = super().initialize(parser)
        t = parser.add_argument_group("test")
        t.add_argument("--results_dir", default="results", help="outputs go to <results_dir>/<name>/<model>")
        t.add_argument("--which_epoch", default="best", help="checkpoint to load: best, latest or an epoch")
        t.add_argument("--split", default="test", choices=("train", "val", "test", "all"), help="subjects")
        t.add_argument("--subjects", nargs="*", default=None, help="only these subjects (file stems or names)")
        t.add_argument("--no_progress", action="store_true", help="no progress bars")
        return parser

    def validate(self, opt: argparse.Namespace) -> None:
        super().validate(opt)
        if opt.which_epoch not in ("best", "latest") and not opt.which_epoch.isdigit():
            raise OptionError(f"--which_epoch must be best, latest or an epoch number, got {opt.which_epoch!r}")

    def options_file(self, opt: argparse.Namespace) -> Path:
        return Path(opt.results_dir) / opt.name / opt.model / "opt_test.json"
