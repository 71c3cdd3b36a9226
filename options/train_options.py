"""Options of train.py: schedule, optimiser, checkpointing, validation and logging."""

from __future__ import annotations

import argparse

from options.base_options import BaseOptions
from util.errors import OptionError
from util.option_values import require_at_least


class TrainOptions(BaseOptions):
    is_train = True
    description = "Train one HDL stage: --model interp (frame interpolation) or --model phase (velocity GAN)."

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser = super().initialize(parser)
        s = parser.add_argument_group("schedule")
        s.add_argument("--n_epochs", type=int, default=100, help="epochs at the initial learning rate")
        s.add_argument("--n_epochs_decay", type=int, default=0, help="further epochs with the rate decaying to 0")
        s.add_argument(
            "--lr_policy",
            choices=("linear", "cosine", "constant"),
            default="linear",
            help="linear: constant for n_epochs, then linear decay over n_epochs_decay (pix2pix); "
            "cosine: cosine annealing over all epochs; constant: no decay",
        )
        s.add_argument("--lr", type=float, default=None, help="learning rate (default: the model's)")
        s.add_argument("--beta1", type=float, default=None, help="Adam beta1 (default: the model's)")
        s.add_argument("--beta2", type=float, default=0.999, help="Adam beta2")
        s.add_argument("--weight_decay", type=float, default=0.0, help="AdamW-style decoupled weight decay")
        s.add_argument(
            "--steps_per_epoch",
            type=int,
            default=0,
            help="cap the optimiser steps of an epoch (0 = one pass over the training set)",
        )

        c = parser.add_argument_group("checkpoints")
        c.add_argument("--continue_train", action="store_true", help="resume exactly from the latest checkpoint")
        c.add_argument(
            "--init_weights",
            default=None,
            help="start from these network weights (a run folder, a .pt checkpoint, or 'pretrained' for the "
            "shipped twin's stage) to fine-tune on your own data; the architecture options must match",
        )
        c.add_argument("--save_epoch_freq", type=int, default=10, help="also keep a checkpoint every N epochs")
        c.add_argument("--keep_last", type=int, default=3, help="how many periodic checkpoints to keep")

        v = parser.add_argument_group("validation and logging")
        v.add_argument("--val_freq", type=int, default=1, help="validate every N epochs (0 = never)")
        v.add_argument("--val_max_batches", type=int, default=0, help="cap validation batches (0 = all)")
        v.add_argument("--print_freq", type=int, default=50, help="log losses every N steps")
        v.add_argument("--display_freq", type=int, default=500, help="log image panels every N steps")
        v.add_argument("--no_tensorboard", action="store_true", help="do not write tensorboard events")
        v.add_argument("--no_progress", action="store_true", help="no progress bars (e.g. in batch jobs)")
        v.add_argument(
            "--deterministic",
            action="store_true",
            help="deterministic algorithms and single-threaded data order: bit-exact resume on CPU",
        )
        return parser

    def validate(self, opt: argparse.Namespace) -> None:
        super().validate(opt)
        require_at_least(opt, ("n_epochs", "save_epoch_freq", "keep_last", "print_freq", "display_freq"), 1)
        require_at_least(opt, ("n_epochs_decay", "steps_per_epoch", "val_max_batches", "val_freq"), 0)
        if opt.lr is not None and opt.lr <= 0:
            raise OptionError(f"--lr must be > 0, got {opt.lr}")
