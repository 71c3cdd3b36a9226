"""Train one HDL stage.

    python train.py --model interp --dataroot datasets/phantom --name phantom_interp
    python train.py --model phase  --dataroot datasets/phantom --name phantom_phase
    torchrun --standalone --nproc_per_node 4 train.py --model phase ...

Everything the run writes goes to ``<checkpoints_dir>/<name>/``: the options (opt_train.json), the loss
log (loss_log.csv), tensorboard events and the checkpoints (latest, best, periodic, weights.pt).
"""

from __future__ import annotations

from entry.train import main
from util.cli import run_cli

__all__ = ["main"]

if __name__ == "__main__":
    run_cli(main)
