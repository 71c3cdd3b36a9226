"""Options of train.py: schedule, optimiser, checkpointing, validation and logging."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from models import MODELS, get_model_class
from models.loading import init_weights_file, saved_options
from options.base_options import BaseOptions
from util.errors import OptionError
from util.option_values import as_flags, require_at_least


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
        c.add_argument(
            "--continue_train",
            action="store_true",
            help="resume exactly from the latest checkpoint (its network options are taken unless given)",
        )
        c.add_argument(
            "--init_weights",
            default=None,
            help="start from these network weights (a run folder, a .pt checkpoint, or 'pretrained' for the "
            "shipped twin's stage) to fine-tune on your own data; the network options (architecture, inputs) "
            "come from the checkpoint unless given",
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

    def resolve(self, opt: argparse.Namespace, given: set[str]) -> None:
        """``--continue_train`` and ``--init_weights``: the network options come from the checkpoint."""
        if opt.model not in MODELS or not (opt.continue_train or opt.init_weights):
            return
        if opt.continue_train:
            flag, path = "--continue_train", resumable_checkpoint(opt)
        else:
            flag, path = f"--init_weights {opt.init_weights}", init_weights_file(opt.init_weights, opt.model)
        adopt_network_options(opt, saved_options(path), given, flag, path)

    def validate(self, opt: argparse.Namespace) -> None:
        super().validate(opt)
        require_at_least(opt, ("n_epochs", "save_epoch_freq", "keep_last", "print_freq", "display_freq"), 1)
        require_at_least(opt, ("n_epochs_decay", "steps_per_epoch", "val_max_batches", "val_freq"), 0)
        if opt.lr is not None and opt.lr <= 0:
            raise OptionError(f"--lr must be > 0, got {opt.lr}")
        check_crop_size(opt)


def check_crop_size(opt: argparse.Namespace) -> None:
    """A training crop passes through the network's ``--depth`` halvings: a multiple of ``2**depth``."""
    depth = getattr(opt, "depth", None)
    if not opt.crop_size or not isinstance(depth, int) or depth < 1:
        return
    multiple = 2**depth
    if opt.crop_size % multiple:
        lower = opt.crop_size // multiple * multiple
        sizes = " or ".join(str(s) for s in (lower, lower + multiple) if s > 0)
        raise OptionError(
            f"--crop_size {opt.crop_size} must be a multiple of {multiple} (the network halves the image "
            f"--depth {depth} times): use {sizes}"
        )


def resumable_checkpoint(opt: argparse.Namespace) -> Path:
    """``latest.pt`` of the run ``--continue_train`` resumes, or an error that says what to do instead."""
    run_dir = Path(opt.checkpoints_dir) / opt.name
    path = run_dir / "latest.pt"
    if not path.is_file():
        state = "has no checkpoint yet" if run_dir.is_dir() else "does not exist"
        raise OptionError(
            f"--continue_train: nothing to resume, {run_dir} {state} (latest.pt is written at the end of "
            f"every epoch); start the run without --continue_train, or from another run's weights with "
            f"--init_weights RUN_FOLDER"
        )
    return path


def adopt_network_options(opt: argparse.Namespace, saved: dict, given: set[str], flag: str, path: Path) -> None:
    """Set the network options of ``opt`` that the command line did not give to the ``saved`` values;
    a given value that differs from the saved one is an error listing the saved values."""
    if not saved:
        return
    if saved.get("model", opt.model) != opt.model:
        raise OptionError(f"{flag}: {path} holds a --model {saved['model']} run, not --model {opt.model}")
    names = [n for n in get_model_class(opt.model).network_options() if n in saved and hasattr(opt, n)]
    conflicts = [n for n in names if n in given and getattr(opt, n) != saved[n]]
    if conflicts:
        shown = ", ".join(f"--{n} {getattr(opt, n)} (saved: {saved[n]})" for n in conflicts)
        raise OptionError(
            f"{flag}: {shown} does not match the weights in {path}, trained with {as_flags(saved, names)}; "
            "drop the option to take the saved value"
        )
    taken = [n for n in names if n not in given and getattr(opt, n) != saved[n]]
    for name in names:
        setattr(opt, name, saved[name])
    if taken and int(os.environ.get("RANK", "0")) == 0:
        print(f"network options from {path}: {as_flags(saved, taken)}", flush=True)
