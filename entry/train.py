"""Train one HDL stage: the body of ``python train.py`` (see train.py for the command line)."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from data import create_dataset
from data.acquisition import acquisition_ranges
from models import create_model, get_model_class
from models.loading import load_initial_weights, read_checkpoint
from options.train_options import TrainOptions, resumable_checkpoint
from util.cli import new_folders, remove_empty_folders
from util.distributed import DistContext, barrier, cleanup, init_distributed
from util.trainer import Trainer, configure_determinism, seed_everything


def main(args: list[str] | None = None) -> dict:
    options = TrainOptions()
    opt = options.parse(args, save=False)
    get_model_class(opt.model)  # --model hdl, the chain, is not trained: fail before any set-up
    ctx = init_distributed(opt)
    # The run folder is made once the data, the model and the initial weights are known to be good; a
    # start that fails before training takes back the folders it made.
    created = new_folders(Path(opt.checkpoints_dir) / opt.name) if ctx.is_main else []
    try:
        try:
            trainer = _set_up(opt, options, ctx)
        except KeyboardInterrupt:
            left = "latest.pt is as it was; resume with --continue_train"
            if not opt.continue_train:
                left = "nothing to resume; start the run again"
            raise KeyboardInterrupt(f"while setting up, before the first step: {left}") from None
        created = []
        summary = trainer.fit()
        if ctx.is_main:
            best = summary["best_value"]
            shown = "n/a" if best is None else f"{best:.4g}"
            print(
                f"done: {summary['epochs']} epochs, {summary['steps']} steps in {summary['seconds']:.0f} s; "
                f"best {summary['best_metric']} {shown} (epoch {summary['best_epoch']}); "
                f"checkpoints in {trainer.run_dir}",
                flush=True,
            )
        # Every rank reaches the end before any tears its process group down: a gloo rank that leaves
        # while a peer still holds open pairs to it can abort the peer at exit.
        barrier(ctx)
        return summary
    except BaseException:
        _take_back(created)
        raise
    finally:
        cleanup(ctx)


def _set_up(opt: argparse.Namespace, options: TrainOptions, ctx: DistContext) -> Trainer:
    """Data, model, initial weights and trainer, ready to fit; the options saved once they are valid."""
    configure_determinism(opt, ctx.device)
    # Same seed on every rank for the initial weights (DDP also broadcasts rank 0's).
    seed_everything(opt.seed)
    train_set = create_dataset(opt, "train")
    val_set = create_dataset(opt, "val") if opt.val_freq else None
    # Saved with the options: test.py says when the subjects it is given lie outside these ranges.
    opt.training_acquisition = acquisition_ranges(dict.fromkeys(entry.path for entry in train_set.slices))
    model = create_model(opt, ctx.device)
    if opt.init_weights and not opt.continue_train:
        print(f"starting from the weights of {load_initial_weights(model, opt.init_weights)}", flush=True)
    elif opt.continue_train:  # what the run kept from where it started (fine-tuning) is in its checkpoint
        latest = resumable_checkpoint(opt)
        model.start_from_state(read_checkpoint(latest).get("extra_state", {}), str(latest), resumed=True)
    model.prepare_training(train_set, val_set)
    trainer = Trainer(opt, model, ctx, train_set, val_set)
    if opt.continue_train:
        trainer.resume()
    else:
        # Different noise draws per rank from here on (background noise, dropout...).
        seed_everything(opt.seed + 1000 * ctx.rank)
    trainer.wrap_model()
    if ctx.is_main:
        options.save(opt)
    return trainer


def _take_back(created: list[Path]) -> None:
    """After a start that failed before training: remove the run folder it made (it holds no checkpoint,
    only what the set-up wrote) and the empty folders above it that it made."""
    if created and created[0].is_dir() and not any(created[0].glob("*.pt")):
        shutil.rmtree(created[0], ignore_errors=True)
    remove_empty_folders(created)
