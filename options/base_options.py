"""Options shared by train.py and test.py, and the two-pass parse that lets models and datasets add theirs.

The parse works like this: the base options are parsed leniently to learn ``--model`` and
``--dataset_mode``; the chosen model and dataset then add their own options to the parser; the final parse
is strict, so ``--help`` shows everything that applies to the chosen model and a typo is an error.
The resolved options are saved as JSON with the run, so a run can always be reproduced and resumed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from data import get_dataset_class
from models import get_command
from util.atomic import write_json
from util.cli import ToolParser
from util.errors import OptionError
from util.option_values import options_to_dict, require_at_least

DEFAULT_DATAROOT = "datasets/phantom"


def given_options(parser: argparse.ArgumentParser, args: list[str] | None) -> set[str]:
    """The names (``dest``) of the options the command line sets, whatever their value: a value equal to
    the default given explicitly counts as given. ``args`` defaults to ``sys.argv[1:]``."""
    defaults = [(action, action.default) for action in parser._actions]
    parser_defaults = dict(parser._defaults)
    try:
        for action, _ in defaults:
            action.default = argparse.SUPPRESS
        parser._defaults.clear()
        return set(vars(parser.parse_args(args)))
    finally:
        for action, default in defaults:
            action.default = default
        parser._defaults.update(parser_defaults)


class BaseOptions:
    """Options common to training and testing. Subclasses set ``is_train`` and add their own."""

    is_train = False

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        g = parser.add_argument_group("experiment")
        g.add_argument("--name", default="experiment", help="run name: files go to <checkpoints_dir>/<name>")
        g.add_argument("--model", default="interp", help="interp (stage 1), phase (stage 2) or hdl (chain)")
        g.add_argument("--checkpoints_dir", default="checkpoints", help="where runs keep their state")
        g.add_argument("--seed", type=int, default=0, help="seed of every random generator")
        g.add_argument(
            "--gpu",
            type=int,
            default=None,
            help="CUDA device index; -1 forces CPU. Default: LOCAL_RANK under torchrun, else 0 when CUDA "
            "is available (restrict devices with CUDA_VISIBLE_DEVICES)",
        )
        g.add_argument("--verbose", action="store_true", help="print the network architectures")

        d = parser.add_argument_group("data")
        d.add_argument("--dataroot", default=DEFAULT_DATAROOT, help="folder of <subject>.h5 files")
        d.add_argument("--dataset_mode", default=None, help="dataset type (default: the model's own)")
        d.add_argument("--batch_size", type=int, default=8, help="samples per batch (per process under DDP)")
        d.add_argument("--num_workers", type=int, default=2, help="data-loading worker processes")
        d.add_argument(
            "--crop_size",
            type=int,
            default=0,
            help="crop a square of this many pixels around the heart (0 = whole image); must be divisible by 2**depth",
        )
        d.add_argument("--max_subjects", type=int, default=0, help="use at most this many subjects per split")

        p = parser.add_argument_group("performance")
        p.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32", help="autocast dtype")
        p.add_argument("--compile", action="store_true", help="torch.compile the networks")
        p.add_argument(
            "--channels_last",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="use the channels_last memory format (faster convolutions on GPU)",
        )
        return parser

    # --------------------------------------------------------------------------------------- parsing

    def build_parser(self, args: list[str] | None) -> argparse.ArgumentParser:
        """Build the full parser: base options, then the chosen model's and dataset's."""
        # The lenient passes must not act on --help: it would print before the model's options exist.
        lenient = self._new_parser(add_help=False)
        known, _ = lenient.parse_known_args(args)
        command = get_command(known.model)
        command.modify_commandline_options(lenient, self.is_train)
        known, _ = lenient.parse_known_args(args)
        dataset_mode = known.dataset_mode or command.default_dataset

        parser = self._new_parser(add_help=True)
        command.modify_commandline_options(parser, self.is_train)
        if dataset_mode is not None:
            get_dataset_class(dataset_mode).modify_commandline_options(parser, self.is_train)
        return parser

    def _new_parser(self, add_help: bool) -> argparse.ArgumentParser:
        # No abbreviations in either pass: the lenient one would otherwise take --mod for --model.
        parser = ToolParser(
            prog=Path(sys.argv[0]).name,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
            description=self.description,
            add_help=add_help,
        )
        return self.initialize(parser)

    description = ""

    def parse(self, args: list[str] | None = None, save: bool = True) -> argparse.Namespace:
        """Parse, validate and (on rank 0) save the options. ``args`` defaults to ``sys.argv[1:]``."""
        parser = self.build_parser(args)
        opt = parser.parse_args(args)
        opt.is_train = self.is_train
        if opt.dataset_mode is None:
            opt.dataset_mode = get_command(opt.model).default_dataset
        self.resolve(opt, given_options(parser, args))
        self.validate(opt)
        if save and int(os.environ.get("RANK", "0")) == 0:
            self.save(opt)
        return opt

    def resolve(self, opt: argparse.Namespace, given: set[str]) -> None:
        """Complete the options from elsewhere (a checkpoint) where the command line did not set them;
        ``given`` holds the names the command line set. Nothing to do by default."""
        return None

    def validate(self, opt: argparse.Namespace) -> None:
        """Reject values argparse cannot check on its own, with the option's name in the message."""
        require_at_least(opt, ("batch_size",), 1)
        require_at_least(opt, ("num_workers", "crop_size", "max_subjects"), 0)
        if not opt.name or "/" in opt.name or opt.name in (".", ".."):
            raise OptionError(f"--name must be a plain folder name, got {opt.name!r}")

    def options_file(self, opt: argparse.Namespace) -> Path:
        return Path(opt.checkpoints_dir) / opt.name / f"opt_{'train' if self.is_train else 'test'}.json"

    def save(self, opt: argparse.Namespace) -> Path:
        """Write the resolved options as JSON beside the run's checkpoints."""
        return write_json(self.options_file(opt), options_to_dict(opt))
