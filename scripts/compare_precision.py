"""Do bf16, fp16 and torch.compile train like fp32? One command that answers it for both stages.

    python -m scripts.compare_precision --dataroot datasets/phantom --out runs/precision        # a GPU
    python -m scripts.compare_precision --dataroot datasets/phantom --out /tmp/p --gpu -1 --quick  # CPU

For each stage it trains the same configuration from the same seed in every variant (``fp32``, the
reference; ``bf16``, ``fp16``, ``compile`` = fp32 + ``--compile``, ``bf16_compile``) with ``train.py``
in a fresh process each, logging every step, and compares each variant with fp32:

* every training loss term, as means over windows of ``--window`` of the steps (a GAN's per-step losses
  jump around; their running level is what has to agree);
* every validation metric at every validation epoch.

Tolerance. A variant matches when, for every term and metric, the largest relative deviation from fp32
(``|variant - fp32| / max(|fp32|, floor)``) is within ``--tolerance`` (default 10%) **or** within the
deviation of a second fp32 run started from another seed (``fp32_seed``). Floating-point differences
make two runs of a GAN drift apart like two seeds do, so the second criterion accepts exactly the
spread that training itself has; a broken precision path (overflow, a scaler that skips every step,
a compiled graph that computes something else) lands far outside both.

The table goes to stdout, every number to ``<out>/precision_report.json``; the exit status is 1 if a
variant does not match (or did not finish). Run it as a module from the repository root, or as a file.
"""

from __future__ import annotations

if not __package__:  # run as a file, python scripts/<tool>.py: put the repository root on the path
    import _repo_root  # noqa: F401

import argparse
import csv
import math
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from util.atomic import write_json
from util.cli import RawDescriptionHelpFormatter, StrictParser

#: the repository root: train.py is run from there, in a fresh process per variant
ROOT = Path(__file__).resolve().parents[1]

VARIANTS: dict[str, list[str]] = {
    "fp32": ["--precision", "fp32"],
    "bf16": ["--precision", "bf16"],
    "fp16": ["--precision", "fp16"],
    "compile": ["--precision", "fp32", "--compile"],
    "bf16_compile": ["--precision", "bf16", "--compile"],
}
REFERENCE = "fp32"
SEED_RUN = "fp32_seed"
STAGES = ("interp", "phase")
#: relative deviations are taken against at least this, so terms near zero do not blow up the ratio
ABS_FLOOR = 1e-3
#: per-stage training arguments of the default (GPU-sized) and --quick (CPU-sized) comparisons
STAGE_ARGS = {
    "interp": "--base_channels 32 --depth 4 --batch_size 12",
    "phase": "--netG r2unet --base_channels 32 --depth 4 --ndf 64 --batch_size 12",
}
QUICK_STAGE_ARGS = {
    "interp": "--base_channels 8 --depth 2 --batch_size 4 --crop_size 64",
    "phase": "--netG unet --base_channels 8 --depth 2 --ndf 8 --n_layers_D 2 --batch_size 4 --crop_size 64",
}


@dataclass
class Curves:
    """A run's training losses (term -> per-step values, in step order) and validation metrics."""

    train: dict[str, list[float]] = field(default_factory=dict)
    val: dict[str, list[float]] = field(default_factory=dict)


def read_curves(loss_log: Path) -> Curves:
    """Training losses and validation metrics of a ``loss_log.csv`` (learning rate left out)."""
    curves = Curves()
    with loss_log.open(newline="") as fh:
        for row in csv.DictReader(fh):
            name = row["name"]
            if name == "lr":
                continue
            target = curves.train if row["kind"] == "train" else curves.val if row["kind"] == "val" else None
            if target is not None:
                target.setdefault(name, []).append(float(row["value"]))
    return curves


def _jsonable(dev: dict[str, float]) -> dict[str, float | str]:
    """Deviations for the JSON report, which has no infinity: a curve that broke off reads "diverged"."""
    return {k: (v if math.isfinite(v) else "diverged") for k, v in dev.items()}


def window_means(values: list[float], window: int) -> list[float]:
    """Means of consecutive windows of ``window`` values (a last, shorter window is dropped unless alone)."""
    n = max(1, len(values) // window)
    return [sum(values[i * window : (i + 1) * window]) / len(values[i * window : (i + 1) * window]) for i in range(n)]


def max_relative_deviation(a: list[float], b: list[float]) -> float:
    """Largest ``|a - b| / max(|b|, ABS_FLOOR)`` over aligned points (inf if any value is not finite)."""
    n = min(len(a), len(b))
    if n == 0:
        return math.inf
    worst = 0.0
    for x, y in zip(a[:n], b[:n], strict=True):
        if not (math.isfinite(x) and math.isfinite(y)):
            return math.inf
        worst = max(worst, abs(x - y) / max(abs(y), ABS_FLOOR))
    return worst


def deviations(run: Curves, ref: Curves, window: int) -> dict[str, float]:
    """Per term (``train/<loss>``, ``val/<metric>``): the largest relative deviation from the reference."""
    out = {}
    for name, values in ref.train.items():
        other = run.train.get(name, [])
        short = len(other) < len(values)
        dev = max_relative_deviation(window_means(other, window), window_means(values, window))
        out[f"train/{name}"] = math.inf if short else dev
    for name, values in ref.val.items():
        other = run.val.get(name, [])
        out[f"val/{name}"] = math.inf if len(other) < len(values) else max_relative_deviation(other, values)
    return out


def verdict(dev: dict[str, float], seed_dev: dict[str, float] | None, tolerance: float) -> tuple[bool, list[str]]:
    """Whether every term is within ``tolerance`` or within the seed-to-seed deviation; the failing terms."""
    failing = []
    for term, d in dev.items():
        spread = seed_dev.get(term, 0.0) if seed_dev else 0.0
        if not (d <= tolerance or (math.isfinite(spread) and d <= spread)):
            failing.append(term)
    return not failing, failing


# ------------------------------------------------------------------------------------------------ runs


def train_command(stage: str, variant: str, args: argparse.Namespace) -> list[str]:
    """The ``train.py`` command of one run: the same data, steps and seed for every variant, only the
    variant's precision flags differ (the seed run: fp32 from ``--seed + 1``)."""
    stage_args = (QUICK_STAGE_ARGS if args.quick else STAGE_ARGS)[stage]
    extra = getattr(args, f"{stage}_args") or stage_args
    seed = args.seed + 1 if variant == SEED_RUN else args.seed
    flags = VARIANTS[REFERENCE if variant == SEED_RUN else variant]
    return [
        sys.executable,
        str(ROOT / "train.py"),
        "--model", stage,
        "--dataroot", str(args.dataroot),
        "--name", f"{stage}_{variant}",
        "--checkpoints_dir", str(args.out),
        "--seed", str(seed),
        "--n_epochs", str(args.epochs),
        "--steps_per_epoch", str(args.steps_per_epoch),
        "--val_freq", "1",
        "--val_max_batches", str(args.val_batches),
        "--print_freq", "1",
        "--num_workers", str(args.workers),
        *(["--gpu", str(args.gpu)] if args.gpu is not None else []),
        "--no_progress",
        "--no_tensorboard",
        *flags,
        *shlex.split(extra),
    ]  # fmt: skip


def run_variant(stage: str, variant: str, args: argparse.Namespace) -> tuple[Curves | None, float, str]:
    """Train one variant in a fresh process; its curves (None if it failed), seconds, and log tail."""
    run_dir = args.out / f"{stage}_{variant}"
    log = args.out / f"{stage}_{variant}.log"
    # A stale loss log would be appended to; each comparison starts its runs afresh.
    (run_dir / "loss_log.csv").unlink(missing_ok=True)
    start = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.run(train_command(stage, variant, args), cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    tail = "\n".join(log.read_text().splitlines()[-5:])
    loss_log = run_dir / "loss_log.csv"
    if proc.returncode != 0 or not loss_log.exists():
        return None, seconds, tail
    return read_curves(loss_log), seconds, tail


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The options, checked before any training starts: a bad value would otherwise surface minutes
    later, in the first run's log."""
    p = StrictParser(
        prog="python -m scripts.compare_precision",
        description=__doc__.split("\n\n")[0],
        formatter_class=RawDescriptionHelpFormatter,
    )
    p.add_argument("--dataroot", type=Path, required=True, help="dataset folder (e.g. a phantom cohort)")
    p.add_argument("--out", type=Path, required=True, help="folder for the runs, their logs and the report")
    p.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES), help="stages to compare")
    p.add_argument(
        "--variants",
        nargs="+",
        choices=[v for v in VARIANTS if v != REFERENCE],
        default=["bf16", "fp16", "compile"],
        help="variants compared with fp32",
    )
    p.add_argument("--gpu", type=int, default=None, help="CUDA device index, -1 for the CPU (default: train.py's)")
    p.add_argument("--quick", action="store_true", help="tiny networks and few steps (a CPU check of the paths)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per run (default 4; quick: 2)")
    p.add_argument("--steps_per_epoch", type=int, default=None, help="steps per epoch (default 150; quick: 10)")
    p.add_argument("--val_batches", type=int, default=10, help="validation batches per epoch")
    p.add_argument("--window", type=float, default=0.1, help="loss window, as a fraction of all steps")
    p.add_argument("--tolerance", type=float, default=0.10, help="largest relative deviation accepted")
    p.add_argument("--no_seed_run", action="store_true", help="skip the second fp32 run (tolerance only)")
    p.add_argument("--seed", type=int, default=0, help="seed of every run (the seed run uses seed + 1)")
    p.add_argument("--workers", type=int, default=2, help="data-loading workers per run")
    p.add_argument("--interp_args", default=None, help="train.py arguments of stage 1 (default: the preset)")
    p.add_argument("--phase_args", default=None, help="train.py arguments of stage 2 (default: the preset)")
    args = p.parse_args(argv)
    args.epochs = args.epochs or (2 if args.quick else 4)
    args.steps_per_epoch = args.steps_per_epoch or (10 if args.quick else 150)
    for name in ("epochs", "steps_per_epoch", "val_batches", "workers"):
        if getattr(args, name) < (0 if name == "workers" else 1):
            p.error(f"--{name} must be at least {0 if name == 'workers' else 1}")
    if not 0 < args.window <= 1:
        p.error("--window must be in (0, 1]")
    if args.tolerance < 0:
        p.error("--tolerance must be at least 0")
    if not args.dataroot.is_dir():
        p.error(f"--dataroot {args.dataroot}: dataset folder not found")
    return args


def train_variants(stage: str, runs: list[str], args: argparse.Namespace) -> tuple[dict[str, Curves | None], dict]:
    """Train every run of a stage in turn; their curves (None where a run failed) and the stage's report,
    which keeps the log tail of a failed run so the JSON alone says why."""
    curves: dict[str, Curves | None] = {}
    stage_report: dict = {}
    for variant in runs:
        print(f"[{stage}] training {variant} ...", file=sys.stderr, flush=True)
        curves[variant], seconds, tail = run_variant(stage, variant, args)
        stage_report[variant] = {"seconds": round(seconds, 1), "finished": curves[variant] is not None}
        if curves[variant] is None:
            stage_report[variant]["log_tail"] = tail
    return curves, stage_report


def deviation_table(ref: Curves, devs: dict[str, dict[str, float] | None], window: int, stage: str) -> list[str]:
    """One row per term, one column per run compared with fp32 ("failed" where the run did not finish)."""
    lines = [f"\n{stage}: largest relative deviation from fp32 (windows of {window} steps; val per epoch)"]
    terms = [f"train/{n}" for n in ref.train] + [f"val/{n}" for n in ref.val]
    lines.append(f"{'term':<24}" + "".join(f"{v:>14}" for v in devs))
    for term in terms:
        cells = "".join(f"{'failed':>14}" if dev is None else f"{dev[term]:>13.1%} " for dev in devs.values())
        lines.append(f"{term:<24}{cells}")
    return lines


def compare_stage(stage: str, args: argparse.Namespace, window: int) -> tuple[bool, list[str], dict]:
    """Train the stage in every variant and compare each with fp32: whether all match, the table and
    verdict lines, and the stage's part of the JSON report."""
    runs = [REFERENCE, *([] if args.no_seed_run else [SEED_RUN]), *args.variants]
    curves, stage_report = train_variants(stage, runs, args)
    ref = curves[REFERENCE]
    if ref is None:
        return False, [f"{stage}: the fp32 reference failed; see {args.out / f'{stage}_{REFERENCE}.log'}"], stage_report
    seed_dev = deviations(curves[SEED_RUN], ref, window) if curves.get(SEED_RUN) else None
    if seed_dev is not None:
        stage_report[SEED_RUN]["deviation"] = _jsonable(seed_dev)
    devs = {v: deviations(curves[v], ref, window) if curves[v] else None for v in runs[1:]}
    lines = deviation_table(ref, devs, window, stage)
    all_ok = True
    for variant in args.variants:
        if devs[variant] is None:
            ok, failing = False, ["did not finish"]
        else:
            ok, failing = verdict(devs[variant], seed_dev, args.tolerance)
            stage_report[variant]["deviation"] = _jsonable(devs[variant])
        stage_report[variant]["matches"] = ok
        all_ok &= ok
        seconds = stage_report[variant]["seconds"]
        what = "matches fp32" if ok else "DOES NOT match fp32: " + ", ".join(failing)
        lines.append(f"  {variant:<13} {what}  ({seconds:.0f} s; fp32 {stage_report[REFERENCE]['seconds']:.0f} s)")
    return all_ok, lines, stage_report


def main(argv: list[str] | None = None) -> int:
    """Compare every requested stage; print the tables, write the JSON report, 1 if any variant fails."""
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    window = max(1, round(args.window * args.epochs * args.steps_per_epoch))
    report: dict = {"settings": {k: str(v) for k, v in vars(args).items()}, "window_steps": window, "stages": {}}
    all_ok = True
    lines = []
    for stage in args.stages:
        ok, stage_lines, stage_report = compare_stage(stage, args, window)
        report["stages"][stage] = stage_report
        all_ok &= ok
        lines += stage_lines
    lines.append(
        f"\ntolerance: {args.tolerance:.0%} per term, or the fp32 seed-to-seed deviation where larger"
        + (" (no seed run)" if args.no_seed_run else "")
    )
    print("\n".join(lines))
    write_json(args.out / "precision_report.json", report)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
