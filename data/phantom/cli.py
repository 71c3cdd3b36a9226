"""Command line of the phantom: ``python -m data.phantom --out DIR --subjects N ...``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from data.phantom.config import PhantomConfig
from data.phantom.generate import generate_cohort
from util.errors import HDLError, OptionError


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _add_heart_options(p: argparse.ArgumentParser, defaults: PhantomConfig) -> None:
    """Cohort diversity: heart rate (or RR), LV size, wall thickness and ejection fraction ranges."""
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--rr", type=_finite_float, nargs=2, metavar=("MIN", "MAX"), default=defaults.rr_ms, help="RR ms")
    rate.add_argument(
        "--heart_rate",
        type=_finite_float,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=None,
        help="heart rate range in bpm, instead of --rr (default: RR 700-1200 ms, i.e. 50-86 bpm)",
    )
    p.add_argument(
        "--lv_radius",
        type=_finite_float,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=defaults.lv_radius_mm,
        help="mid-ventricular end-diastolic endocardial radius, mm (default 20-26)",
    )
    p.add_argument(
        "--wall",
        type=_finite_float,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=defaults.wall_mm,
        help="mid-ventricular end-diastolic wall thickness, mm (default 8-12)",
    )
    p.add_argument(
        "--ejection_fraction",
        type=_finite_float,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=defaults.ejection_fraction,
        help="slice area ejection fraction 1-(R_ES/R_ED)^2 (default 0.36-0.64)",
    )


def build_parser() -> argparse.ArgumentParser:
    defaults = PhantomConfig()
    p = argparse.ArgumentParser(
        prog="python -m data.phantom",
        description="Generate a cohort of digital-twin 3Dir MVM subjects (HDF5 files and splits.json).",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--subjects", type=_positive_int, default=20, help="number of subjects (default 20)")
    p.add_argument("--frames", type=_positive_int, default=defaults.frames, help="frames per cycle (default 50)")
    p.add_argument("--size", type=_positive_int, default=defaults.size, help="image size in pixels (default 128)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="cohort seed (default 0)")
    p.add_argument(
        "--pixel_spacing", type=_finite_float, default=None, help="pixel size in mm (default: FOV 180-200 mm / size)"
    )
    p.add_argument("--fov", type=_finite_float, nargs=2, metavar=("MIN", "MAX"), default=defaults.fov_mm)
    p.add_argument("--snr", type=_finite_float, nargs=2, metavar=("MIN", "MAX"), default=defaults.snr)
    p.add_argument("--venc_inplane", type=_finite_float, nargs=2, metavar=("MIN", "MAX"), default=defaults.venc_inplane)
    p.add_argument("--venc_through", type=_finite_float, nargs=2, metavar=("MIN", "MAX"), default=defaults.venc_through)
    _add_heart_options(p, defaults)
    p.add_argument("--eddy", type=_finite_float, default=0.0, help="max eddy-current offset, cm/s (default 0: off)")
    p.add_argument("--bulk", type=_finite_float, default=defaults.bulk_motion_mm, help="max bulk translation, mm")
    p.add_argument("--delay_segments", type=int, nargs="+", default=[], metavar="SEG", help="AHA segments (1-16)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--delay", type=_finite_float, default=0.0, help="delay as a fraction of RR (0-0.3)")
    group.add_argument("--delay_ms", type=_finite_float, default=None, help="delay in ms (0-300)")
    p.add_argument("--hypokinetic_segments", type=int, nargs="+", default=[], metavar="SEG", help="AHA segments")
    p.add_argument("--hypokinetic_scale", type=_finite_float, default=1.0, help="motion scale 0-1 of those segments")
    p.add_argument(
        "--pathology_fraction", type=_finite_float, default=1.0, help="fraction of subjects with the pathology"
    )
    p.add_argument("--workers", type=_positive_int, default=2, help="processes (default 2)")
    p.add_argument(
        "--compression",
        choices=("gzip", "lzf", "none"),
        default="lzf",
        help="HDF5 compression (default lzf: ~2x faster than gzip, ~10%% larger)",
    )
    return p


def config_from_args(args: argparse.Namespace) -> PhantomConfig:
    """The ``PhantomConfig`` of parsed options (validated: OptionError names the bad option)."""
    return PhantomConfig(
        frames=args.frames,
        size=args.size,
        pixel_spacing_mm=args.pixel_spacing,
        fov_mm=tuple(args.fov),
        snr=tuple(args.snr),
        venc_inplane=tuple(args.venc_inplane),
        venc_through=tuple(args.venc_through),
        rr_ms=tuple(args.rr),
        heart_rate_bpm=None if args.heart_rate is None else tuple(args.heart_rate),
        lv_radius_mm=tuple(args.lv_radius),
        wall_mm=tuple(args.wall),
        ejection_fraction=tuple(args.ejection_fraction),
        eddy_cm_s=args.eddy,
        bulk_motion_mm=args.bulk,
        delay_segments=tuple(args.delay_segments),
        delay_fraction=args.delay,
        delay_ms=args.delay_ms,
        hypokinetic_segments=tuple(args.hypokinetic_segments),
        hypokinetic_scale=args.hypokinetic_scale,
        pathology_fraction=args.pathology_fraction,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        start = time.perf_counter()
        compression = None if args.compression == "none" else args.compression
        paths = generate_cohort(args.out, args.subjects, args.seed, config, args.workers, compression)
    except OptionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except HDLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    print(
        f"wrote {len(paths)} subjects x 3 slices x {config.frames} frames of {config.size}x{config.size} "
        f"to {args.out} (seed {args.seed}) in {seconds:.1f} s"
    )
    return 0
