"""``python -m scripts.benchmark chain``: where the time of ``test.py --model hdl`` goes, per subject.

    python -m scripts.benchmark chain                        # 2 phantom subjects, 3 x 50 x 128^2, shipped twin
    python -m scripts.benchmark chain --subjects 2 --frames 12 --size 64 --rows hdl kinematic   # a quick look

A phantom cohort is generated into a temporary folder (the evaluated subjects in the test split, as many
in the train split for the regional normals and the kinematic templates), or ``--dataroot`` is read. The
chain runs twice, in this process, on the same subjects:

1. ``--workers 1``, with the parts timed by wrapping the functions that do them: stage 1 (the cine rebuilt
   from the key frames, ``HDLPredictor.rebuild_cine``), stage 2 (the rest of ``predict_subject``), the prior
   (every other row: kinematic prior, flow, population, ceilings: ``yardstick_twins``), scoring (analysis
   and metrics of every slice and row: ``ReportBuilder._analyse`` and ``_score``) and pages (the rest of
   ``add_subject``, i.e. the figures, and ``finish``: tables, agreement plots, pages); what is left
   (reading and writing files, loading the models) is ``other``;
2. ``--workers N`` (default 2; 1 skips this run), timed as a whole: the ratio of the two wall times is the
   parallel speed-up.

Seconds are wall-clock on a machine that may be shared: run it on an idle one, and compare figures only
from the same machine (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

from assessment.report.builder import ReportBuilder
from data.phantom import PhantomConfig, generate_cohort
from data.splits import write_splits
from entry.test import main as test_main
from models.hdl import evaluation
from models.hdl.predictor import HDLPredictor
from util.cli import HelpFormatter

#: the parts of the chain, in the order they run for a subject
PARTS = ("stage 1", "stage 2", "prior", "scoring", "pages", "other")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m scripts.benchmark chain",
        description="Seconds per subject of test.py --model hdl by part, and the speed-up of --workers.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("--dataroot", type=Path, default=None, help="a cohort to read (default: a phantom, generated)")
    p.add_argument("--subjects", type=int, default=2, help="subjects evaluated (default 2)")
    p.add_argument("--frames", type=int, default=50, help="frames of the generated phantom (default 50)")
    p.add_argument("--size", type=int, default=128, help="image size of the generated phantom (default 128)")
    p.add_argument("--factor", type=int, default=6, help="temporal down-sampling factor (default 6)")
    p.add_argument("--workers", type=int, default=2, help="the worker count compared with one (default 2)")
    p.add_argument("--rows", nargs="+", default=None, help="test.py --rows (default: every row)")
    p.add_argument("--gif", action="store_true", help="also write the cine GIFs (test.py --gif)")
    p.add_argument("--keep", type=Path, default=None, help="write the runs' results here (default: a temporary folder)")
    return p.parse_args(argv)


def _cohort(args: argparse.Namespace, tmp: Path) -> Path:
    """``--dataroot``, else a phantom of ``2 x --subjects`` subjects, half of them in the test split."""
    if args.dataroot is not None:
        return args.dataroot
    config = PhantomConfig(frames=args.frames, size=args.size, random_pathology=("territory", "lbbb"),
                           pathology_fraction=0.5)  # fmt: skip
    root = tmp / "cohort"
    names = sorted(p.stem for p in generate_cohort(root, 2 * args.subjects, seed=0, config=config, workers=1))
    write_splits(root, {"train": names[: args.subjects], "test": names[args.subjects :]})
    return root


@contextlib.contextmanager
def timed_parts() -> Iterator[dict[str, float]]:
    """Seconds spent in each part (``PARTS`` but ``other``) while the context is open, in this process."""
    seconds: dict[str, float] = defaultdict(float)

    def timing(part: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[part] += time.perf_counter() - start

        return wrapped

    wrapped = {
        (HDLPredictor, "rebuild_cine"): "stage 1",
        (HDLPredictor, "predict_subject"): "stages",
        (evaluation, "yardstick_twins"): "prior",
        (ReportBuilder, "_analyse"): "scoring",
        (ReportBuilder, "_score"): "scoring",
        (ReportBuilder, "add_subject"): "subject report",
        (ReportBuilder, "finish"): "finish",
    }
    with contextlib.ExitStack() as stack:
        for (owner, name), part in wrapped.items():
            stack.enter_context(mock.patch.object(owner, name, timing(part, getattr(owner, name))))
        yield seconds
    seconds["stage 2"] = seconds.pop("stages", 0.0) - seconds["stage 1"]
    seconds["pages"] = seconds.pop("subject report", 0.0) - seconds["scoring"] + seconds.pop("finish", 0.0)


def _run_chain(root: Path, out: Path, args: argparse.Namespace, workers: int) -> float:
    """Wall seconds of one ``test.py --model hdl --pretrained`` run on the test split of ``root``."""
    argv = ["--model", "hdl", "--pretrained", "--dataroot", str(root), "--name", f"workers{workers}",
            "--results_dir", str(out), "--factor", str(args.factor), "--max_subjects", str(args.subjects),
            "--no_progress", "--gpu", "-1"]  # fmt: skip
    argv += ["--workers", str(workers)] if workers > 1 else []
    argv += ["--rows", *args.rows] if args.rows else []
    argv += ["--gif"] if args.gif else []
    start = time.perf_counter()
    test_main(argv)
    return time.perf_counter() - start


def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Seconds per subject by part (one worker), both wall times and their ratio."""
    root = _cohort(args, tmp)
    results = args.keep or tmp / "results"
    with timed_parts() as seconds:
        one = _run_chain(root, results, args, 1)
    seconds["other"] = one - sum(seconds.values())
    per_subject = {part: seconds[part] / args.subjects for part in PARTS}
    many = _run_chain(root, results, args, args.workers) if args.workers > 1 else one
    report_share = (per_subject["scoring"] + per_subject["pages"]) / (one / args.subjects)
    return {"per_subject_s": per_subject, "wall_one_worker_s": one, "wall_workers_s": many,
            "workers": args.workers, "ratio": many / one, "scoring_pages_share": report_share}  # fmt: skip


def report(result: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [f"chain: {args.subjects} subject(s), seconds per subject by part (--workers 1)"]
    lines += [f"  {part:<8} {seconds:8.1f}" for part, seconds in result["per_subject_s"].items()]
    scoring_pages = result["per_subject_s"]["scoring"] + result["per_subject_s"]["pages"]
    share = 100 * result["scoring_pages_share"]
    lines.append(f"  scoring + pages {scoring_pages:.1f} s a subject, {share:.0f}% of the chain")
    lines.append(f"  whole chain: {result['wall_one_worker_s']:.1f} s with 1 worker, {result['wall_workers_s']:.1f} s "
                 f"with {result['workers']}: ratio {result['ratio']:.2f}")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hdl_chain_benchmark_") as tmp:
        result = measure(args, Path(tmp))
    print(report(result, args), flush=True)
    return result
