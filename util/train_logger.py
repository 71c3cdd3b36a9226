"""Training logs on rank 0: a CSV of losses and validation metrics, tensorboard scalars and image panels.

Other ranks get a logger whose methods do nothing, so the training loop needs no rank checks.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import torch


class TrainLogger:
    def __init__(self, run_dir: str | os.PathLike, enabled: bool, tensorboard: bool = True) -> None:
        self.enabled = enabled
        self.dir = Path(run_dir)
        self.csv_path = self.dir / "loss_log.csv"
        self._writer = None
        if enabled and tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # imported lazily: it is slow to import

            self._writer = SummaryWriter(log_dir=str(self.dir / "tensorboard"))

    def scalars(self, kind: str, values: dict[str, float], step: int, epoch: int) -> None:
        """Append one row per call to the CSV (columns: kind, epoch, step, name, value) and to tensorboard."""
        if not self.enabled:
            return
        new = not self.csv_path.exists()
        self.dir.mkdir(parents=True, exist_ok=True)
        with self.csv_path.open("a", newline="") as fh:
            w = csv.writer(fh)
            if new:
                w.writerow(["kind", "epoch", "step", "name", "value"])
            for name, value in values.items():
                w.writerow([kind, epoch, step, name, f"{value:.6g}"])
        if self._writer is not None:
            for name, value in values.items():
                if math.isfinite(value):
                    self._writer.add_scalar(f"{kind}/{name}", value, step)

    def images(self, visuals: dict[str, torch.Tensor], step: int, max_images: int = 4) -> None:
        """One panel per visual: the first few images of the batch, [-1, 1] mapped to [0, 1]."""
        if not self.enabled or self._writer is None:
            return
        for name, batch in visuals.items():
            imgs = batch[:max_images].detach().float().cpu().clamp(-1, 1).add(1).div(2)
            self._writer.add_images(f"images/{name}", imgs, step, dataformats="NCHW")

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

