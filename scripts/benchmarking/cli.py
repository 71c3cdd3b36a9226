"""The command line of ``python -m scripts.benchmark``: options, one run in a temporary folder, the
text report on stdout and, with ``--out``, every number as JSON."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from scripts.benchmarking import chain
from scripts.benchmarking.runner import run
from scripts.benchmarking.settings import DEFAULT_PEAK_TFLOPS, INFER_MODES, SECTIONS, TRAIN_MODES, resolve_settings
from scripts.benchmarking.tables import report
from util.cli import HelpFormatter, StrictParser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The options; sizes left at None here get their full or ``--quick`` default in ``resolve_settings``."""
    p = StrictParser(
        prog="python -m scripts.benchmark",
        description="Benchmark HDL-MVM training, chained synthesis and data loading against a reference mode.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("--device", default=None, help="cuda, cuda:N or cpu (default: cuda when available)")
    p.add_argument("--quick", action="store_true", help="tiny sizes and few steps (a smoke test, not a measurement)")
    p.add_argument("--size", type=int, default=None, help="image size (default 256; 32 with --quick)")
    p.add_argument("--batch", type=int, default=None, help="training batch size (default 12, the paper's; 2 quick)")
    p.add_argument("--workers", type=int, default=8, help="N, the largest data-loading worker count measured")
    p.add_argument("--steps", type=int, default=None, help="timed training steps per repeat (default 20; 3 quick)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps per mode (default 5; 2 quick)")
    p.add_argument(
        "--frames", type=int, default=None, help="frames per slice of the synthesised subject (default 50; 12 quick)"
    )
    p.add_argument("--factor", type=int, default=6, help="temporal down-sampling factor of the synthesis")
    p.add_argument(
        "--peak_tflops", type=float, default=DEFAULT_PEAK_TFLOPS, help="device peak in TFLOP/s for the %%peak column"
    )
    p.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="include the torch.compile modes (default: on CUDA only; compiling on a CPU takes minutes)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads of torch, 0: torch's default (default: 0; 1 with --quick, robust on a shared machine)",
    )
    p.add_argument(
        "--train_modes", nargs="+", choices=tuple(TRAIN_MODES), default=None, help="training modes (default: all)"
    )
    p.add_argument(
        "--infer_modes", nargs="+", choices=tuple(INFER_MODES), default=None, help="synthesis modes (default: all)"
    )
    p.add_argument(
        "--sections",
        nargs="+",
        choices=SECTIONS,
        default=list(SECTIONS),
        help="what to measure; the loader verdict needs 'train' in the same run",
    )
    p.add_argument("--out", type=Path, default=None, help="write every number as JSON to this file (default: none)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and print its report; the result dictionary is returned for callers in Python.
    ``chain`` as the first argument runs the chain's benchmark instead (``scripts.benchmarking.chain``)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["chain"]:
        return chain.main(argv[1:])
    args = parse_args(argv)
    s = resolve_settings(args)
    if s.threads > 0:
        torch.set_num_threads(s.threads)
    # The phantom cohort and the throw-away checkpoints folders go to a folder removed afterwards.
    with tempfile.TemporaryDirectory(prefix="hdl_benchmark_") as tmp:
        result = run(s, Path(tmp))
    print(report(result, s), flush=True)
    if s.quick:
        print("\nQUICK mode: tiny images and few steps; the ratios are a smoke test, not performance figures.")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        # allow_nan=False: a NaN or infinite figure is a bug of the benchmark, not a number to store.
        args.out.write_text(json.dumps(result, indent=2, allow_nan=False))
        print(f"results written to {args.out}")
    return result
