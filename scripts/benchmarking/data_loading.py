"""Section (c): data-loading throughput of both datasets on a generated phantom cohort, the project's
reader (HDF5 files kept open per worker) against reopening the file per sample, and whether the loader
keeps up with the best training rate of section (a)."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler

from data import create_dataset
from data.phantom import PhantomConfig, generate_cohort
from scripts.benchmarking.settings import STAGES, Settings
from scripts.benchmarking.stages import stage_options

#: batches prefetched per worker while measuring loaders; those in flight at the start are skipped
LOADER_PREFETCH = 2


class ReopenPerSample(Dataset):
    """The reference reader: the subject's HDF5 file is opened for each sample and closed after it."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        try:
            return self.dataset[index]
        finally:
            self.dataset.close()


def measure_loader(dataset: Dataset, s: Settings, workers: int) -> dict[str, float]:
    """Samples/s of a DataLoader as the trainer builds it, in steady state.

    The batches already in flight when the first one arrives (``workers * prefetch``) were produced
    during the start-up wait; they are skipped so the rate is the production rate, and the start-up
    (forking, opening files, first batch) is reported on its own.
    """
    skip = workers * LOADER_PREFETCH if workers else 1
    needed = (1 + skip + s.loader_batches) * s.batch
    sampler = RandomSampler(dataset, replacement=True, num_samples=needed, generator=torch.Generator().manual_seed(0))
    loader = DataLoader(
        dataset,
        batch_size=s.batch,
        sampler=sampler,
        num_workers=workers,
        pin_memory=s.is_cuda,
        drop_last=True,
        prefetch_factor=LOADER_PREFETCH if workers else None,
    )
    begin = time.perf_counter()
    iterator = iter(loader)
    next(iterator)
    first = time.perf_counter()
    for _ in range(skip):
        next(iterator)
    clock = time.perf_counter()
    for _ in range(s.loader_batches):
        next(iterator)
    end = time.perf_counter()
    del iterator  # shuts the workers down
    rate = s.loader_batches * s.batch / (end - clock)
    return {
        "workers": workers,
        "samples_per_s": rate,
        "samples_per_s_per_worker": rate / max(1, workers),
        "startup_s": first - begin,
    }


def worker_counts(s: Settings) -> list[int]:
    """0 (main process), 1 and N; N is capped by the cores (more workers than cores only time-share)."""
    n = min(s.workers, os.cpu_count() or 1)
    return sorted({0, 1, n})


def measure_loading(s: Settings, workdir: Path, best_rates: dict[str, float]) -> dict[str, Any]:
    """Loader throughput of both datasets on a generated phantom cohort, and the verdict per stage."""
    root = workdir / "cohort"
    begin = time.perf_counter()
    config = PhantomConfig(frames=s.frames, size=s.size)
    generate_cohort(root, s.cohort_subjects, seed=0, config=config, workers=min(s.cohort_subjects, os.cpu_count() or 1))
    out: dict[str, Any] = {"cohort": {"subjects": s.cohort_subjects, "seconds": time.perf_counter() - begin}}
    for stage in STAGES:
        dataset = create_dataset(stage_options(stage, s, workdir, f"loader_{stage}"), "all")
        results: dict[str, list[dict[str, float]]] = {"kept_open": [], "reopen_per_sample": []}
        for workers in worker_counts(s):
            results["reopen_per_sample"].append(measure_loader(ReopenPerSample(dataset), s, workers))
            results["kept_open"].append(measure_loader(dataset, s, workers))
        dataset.close()
        out[stage] = {"samples": len(dataset), **results, "verdict": loader_verdict(results, best_rates.get(stage))}
    return out


def loader_verdict(results: dict[str, list[dict[str, float]]], train_rate: float | None) -> dict[str, Any]:
    """Whether the project's loader with N workers delivers samples as fast as training eats them."""
    kept = results["kept_open"]
    with_n = kept[-1]
    one = next((r for r in kept if r["workers"] == 1), with_n)
    verdict: dict[str, Any] = {"workers": with_n["workers"], "loader_samples_per_s": with_n["samples_per_s"]}
    if train_rate is None:
        return {**verdict, "train_images_per_s": None, "keeps_up": None, "workers_needed": None}
    per_worker = max(one["samples_per_s_per_worker"], 1e-9)
    return {
        **verdict,
        "train_images_per_s": train_rate,
        "keeps_up": with_n["samples_per_s"] >= train_rate,
        "headroom": with_n["samples_per_s"] / train_rate,
        # Workers scale about linearly while there are free cores; one more core runs the training loop.
        "workers_needed": math.ceil(train_rate / per_worker),
    }
