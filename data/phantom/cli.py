"""Command line of the phantom: ``python -m data.phantom --out DIR --subjects N ...``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from data.phantom.config import APPEARANCES, PATHOLOGY_KINDS, WAVEFORM_SHAPES, PhantomConfig
from data.phantom.generate import generate_cohort
from data.phantom.pathology_summary import cohort_pathology
from util.cli import StrictParser
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
    rate.add_argument(
        "--rr",
        type=_finite_float,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=defaults.rr_ms,
        help="RR interval range in ms (default 700-1200)",
    )
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


def _range(p: argparse.ArgumentParser, flag: str, default: tuple[float, float], text: str) -> None:
    """A MIN MAX option whose help shows its default range."""
    help_text = f"{text} (default {default[0]:g}-{default[1]:g})".replace("%", "%%")
    p.add_argument(flag, type=_finite_float, nargs=2, metavar=("MIN", "MAX"), default=default, help=help_text)


def _add_pathology_options(p: argparse.ArgumentParser, defaults: PhantomConfig) -> None:
    """Patients: a pathology shared by the cohort's patients, or one drawn per patient (docs/PHANTOM.md)."""
    g = p.add_argument_group("pathology shared by every patient")
    g.add_argument(
        "--delay_segments",
        type=int,
        nargs="+",
        default=[],
        metavar="SEG",
        help="late AHA segments 1-16 (default: none)",
    )
    delay = g.add_mutually_exclusive_group()
    delay.add_argument("--delay", type=_finite_float, default=0.0, help="their delay, fraction of RR 0-0.3 (default 0)")
    delay.add_argument("--delay_ms", type=_finite_float, default=None, help="their delay in ms, 0-300")
    g.add_argument(
        "--hypokinetic_segments",
        type=int,
        nargs="+",
        default=[],
        metavar="SEG",
        help="hypokinetic AHA segments 1-16 (default: none)",
    )
    g.add_argument("--hypokinetic_scale", type=_finite_float, default=1.0, help="their motion scale 0-1 (default 1)")
    r = p.add_argument_group("pathology drawn per patient")
    r.add_argument(
        "--random_pathology",
        nargs="+",
        default=[],
        metavar="KIND",
        help=f"kinds drawn per patient, one each: {', '.join(PATHOLOGY_KINDS)} (default: none)",
    )
    r.add_argument(
        "--territories",
        nargs="+",
        default=list(defaults.territories),
        metavar="NAME",
        help="coronary territories a territory patient may get (default LAD RCA LCx)",
    )
    _range(r, "--territory_scale", defaults.territory_scale, "motion scale of the territory, 0 akinetic")
    _range(r, "--lbbb_delay_ms", defaults.lbbb_delay_ms, "septal-to-lateral delay of an lbbb patient, ms")
    _range(r, "--global_ef", defaults.global_ef, "area ejection fraction of a global patient")
    _range(r, "--global_scale", defaults.global_scale, "longitudinal and rotation scale of a global patient")
    _range(r, "--patch_width", defaults.patch_width_deg, "angular width of a patch patient's patch, degrees")
    _range(r, "--patch_scale", defaults.patch_scale, "motion scale in the core of the patch, 0 akinetic")
    _range(r, "--dyssync_delay_ms", defaults.dyssync_delay_ms, "earliest-to-latest delay of a dyssync patient, ms")
    p.add_argument(
        "--pathology_fraction",
        type=_finite_float,
        default=1.0,
        help="fraction 0-1 of subjects who are patients: round(fraction x subjects), .5 rounded up, "
        "spread over the splits in proportion (default 1)",
    )


def _add_variation_options(p: argparse.ArgumentParser, defaults: PhantomConfig) -> None:
    """Normal variation, waveform shapes and image appearance (opt-in; docs/PHANTOM.md)."""
    h = p.add_argument_group("normal variation (opt-in)")
    h.add_argument(
        "--direction_offset_ms",
        type=_finite_float,
        default=0.0,
        help="largest timing offset between the radial, circumferential and longitudinal waves, ms (default 0)",
    )
    _range(h, "--mid_rotation", defaults.mid_rotation_deg, "mid-ventricular peak systolic rotation, degrees")
    w = p.add_argument_group("waveform shapes")
    w.add_argument(
        "--waveform_shape",
        default=defaults.waveform_shape,
        metavar="SHAPE",
        help=f"velocity waveform shapes: {', '.join(WAVEFORM_SHAPES)} (altered: double-humped systole, "
        "E' below A', shorter diastasis; independent: systole, E' and A' timed and sized independently; "
        "docs/PHANTOM.md) (default reference)",
    )
    w.add_argument(
        "--appearance",
        default=defaults.appearance,
        metavar="LOOK",
        help=f"image appearance: {', '.join(APPEARANCES)} (wide: far wider grey levels, blood residue, "
        "texture, coil bias, anatomy sizes and SNR; docs/PHANTOM.md) (default reference)",
    )


def build_parser() -> argparse.ArgumentParser:
    defaults = PhantomConfig()
    p = StrictParser(
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
    _range(p, "--fov", defaults.fov_mm, "field of view in mm when --pixel_spacing is not given")
    _range(p, "--snr", defaults.snr, "myocardial SNR of the magnitude; sets the phase noise too")
    _range(p, "--venc_inplane", defaults.venc_inplane, "in-plane VENC in cm/s (shared by x and y)")
    _range(p, "--venc_through", defaults.venc_through, "through-plane VENC in cm/s")
    _add_heart_options(p, defaults)
    p.add_argument("--eddy", type=_finite_float, default=0.0, help="max eddy-current offset, cm/s (default 0: off)")
    p.add_argument(
        "--bulk", type=_finite_float, default=defaults.bulk_motion_mm, help="max bulk translation, mm (default 1.5)"
    )
    _add_pathology_options(p, defaults)
    _add_variation_options(p, defaults)
    p.add_argument("--workers", type=_positive_int, default=2, help="processes (default 2)")
    p.add_argument(
        "--val_fraction", type=_finite_float, default=0.15, help="share of the subjects in the val split (default 0.15)"
    )
    p.add_argument(
        "--test_fraction",
        type=_finite_float,
        default=0.15,
        help="share of the subjects in the test split (default 0.15)",
    )
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
        random_pathology=tuple(args.random_pathology),
        territories=tuple(args.territories),
        territory_scale=tuple(args.territory_scale),
        lbbb_delay_ms=tuple(args.lbbb_delay_ms),
        global_ef=tuple(args.global_ef),
        global_scale=tuple(args.global_scale),
        direction_offset_ms=args.direction_offset_ms,
        mid_rotation_deg=tuple(args.mid_rotation),
        waveform_shape=args.waveform_shape,
        patch_width_deg=tuple(args.patch_width),
        patch_scale=tuple(args.patch_scale),
        dyssync_delay_ms=tuple(args.dyssync_delay_ms),
        appearance=args.appearance,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        start = time.perf_counter()
        compression = None if args.compression == "none" else args.compression
        paths = generate_cohort(
            args.out, args.subjects, args.seed, config, args.workers, compression, args.val_fraction, args.test_fraction
        )
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
    records = cohort_pathology(paths)
    patients = [(path.stem, text) for path, (patient, _, text) in zip(paths, records, strict=True) if patient]
    print(f"patients: {len(patients)} of {len(paths)}" + ("" if patients else " (every subject is healthy)"))
    for stem, text in patients:
        print(f"  {stem}: {text}")
    return 0
