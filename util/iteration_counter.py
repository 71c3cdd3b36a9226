"""Where training is (epoch, global step) and whether it is time to log, validate or save.

Owning this in one object keeps the schedule decisions out of the training loop and makes resume state
one ``state_dict``: a resumed run starts at the epoch after the checkpoint with the same global step.
"""

from __future__ import annotations

import argparse


class IterationCounter:
    def __init__(self, opt: argparse.Namespace, steps_per_epoch: int) -> None:
        self.total_epochs = int(opt.n_epochs + opt.n_epochs_decay)
        self.steps_per_epoch = int(steps_per_epoch)
        self.print_freq = int(opt.print_freq)
        self.display_freq = int(opt.display_freq)
        self.val_freq = int(opt.val_freq)
        self.save_epoch_freq = int(opt.save_epoch_freq)
        self.epoch = 0  # epochs completed
        self.global_step = 0  # optimiser steps completed (each rank steps in lockstep under DDP)

    # --------------------------------------------------------------------------------- progress

    def epochs(self) -> range:
        """The epochs still to run (1-based), starting after the last completed one."""
        return range(self.epoch + 1, self.total_epochs + 1)

    def record_step(self) -> None:
        self.global_step += 1

    def record_epoch_end(self, epoch: int) -> None:
        self.epoch = epoch

    # ------------------------------------------------------------------------------- decisions

    def needs_printing(self) -> bool:
        return self.global_step % self.print_freq == 0

    def needs_display(self) -> bool:
        return self.global_step % self.display_freq == 0

    def needs_validation(self, epoch: int) -> bool:
        return self.val_freq > 0 and (epoch % self.val_freq == 0 or epoch == self.total_epochs)

    def needs_periodic_save(self, epoch: int) -> bool:
        return epoch % self.save_epoch_freq == 0

    def is_last_epoch(self, epoch: int) -> bool:
        return epoch == self.total_epochs

    # ----------------------------------------------------------------------------------- state

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "global_step": self.global_step}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
