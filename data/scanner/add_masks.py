"""Add myocardium (and optionally LV / RV blood) masks to an existing subject file.

    python -m data.scanner.add_masks SUBJECT.h5 --myocardium SRC [--lv_blood SRC] [--rv_blood SRC]
        [--mask_frames F ...] [--out OUT.h5]

SRC is a NIfTI volume, a DICOM SEG object or a folder of ``<slice>_<frame>.png`` images (``data.scanner.masks``).
Masks on some frames only are stored with the ``labelled_frames`` slice attribute. The file is rewritten
atomically (or ``--out`` is written): a failure leaves it as it was.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from data.mvm_io import read_subject, write_subject
from data.scanner.masks import attach_masks, read_masks
from util.cli import ToolParser, run_tool, say


def add_mask_arguments(p: argparse.ArgumentParser, required: bool) -> None:
    """The mask options shared by this tool and ``data.scanner.import_dicom``."""
    help_src = "NIfTI volume, DICOM SEG file or folder of <slice>_<frame>.png"
    myo_default = "" if required else " (default: the DICOM SEG objects in the scan's folder, else none)"
    p.add_argument("--myocardium", required=required, default=None, help=f"myocardium masks: {help_src}{myo_default}")
    p.add_argument("--lv_blood", default=None, help=f"LV blood-pool masks: {help_src} (default: none)")
    p.add_argument("--rv_blood", default=None, help=f"RV blood-pool masks: {help_src} (default: none)")
    p.add_argument(
        "--mask_frames",
        type=int,
        nargs="+",
        default=None,
        metavar="F",
        help="frame indices (from 0) of the frames of a NIfTI mask that holds key frames only (default: the "
        "mask has every frame)",
    )


def mask_sources(args: argparse.Namespace) -> dict:
    return {"myocardium": args.myocardium, "lv_blood": args.lv_blood, "rv_blood": args.rv_blood}


def build_parser() -> ToolParser:
    p = ToolParser(
        prog="python -m data.scanner.add_masks",
        description="Add myocardium (and LV / RV blood-pool) masks to an .h5 subject file.",
    )
    p.add_argument("subject", help="subject file (.h5)")
    add_mask_arguments(p, required=True)
    p.add_argument("--out", default=None, help="write here instead (default: rewrite the subject file)")
    return p


def _run(args: argparse.Namespace) -> None:
    subject = read_subject(args.subject, require_velocity=False)
    masks = read_masks(mask_sources(args), subject, args.mask_frames)
    attach_masks(subject, masks, source="added", log=say)
    path = write_subject(args.out or args.subject, subject)
    say(f"wrote {path}: masks on {len(masks)} of {len(subject.slices)} slice(s)")


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(_run, build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
