"""Overview figure of one subject file: magnitude, vx, vy, vz and the myocardium over several frames.

    python -m data.overview SUBJECT.h5 OUT.png [--slice mid] [--frames 0 8 16 24]

Used by the quick start to show what a phantom subject (or a synthesised one) looks like. Velocity rows
share one colour scale per direction, set from the myocardial velocities, and are left out for files
without velocity (synthesis input).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from data.mvm_io import read_subject
from util.cli import ToolParser, run_tool
from util.conventions import DIRECTIONS
from util.errors import DataError
from util.intensity import magnitude_scale
from util.plotting import VELOCITY_CMAP, close, plt, velocity_limit

DEFAULT_N_FRAMES = 6


def default_frames(n_frames: int, count: int = DEFAULT_N_FRAMES) -> list[int]:
    """``count`` frames spread evenly over the cycle, starting at frame 0."""
    return sorted({round(i * n_frames / count) % n_frames for i in range(count)})


def plot_subject_overview(
    subject_path: str | os.PathLike,
    out_png: str | os.PathLike,
    frames: Sequence[int] | None = None,
    slice_name: str | None = None,
) -> Path:
    """Render one slice of ``subject_path`` (default: ``mid`` if present, else the first) to ``out_png``.

    Rows: magnitude, vx, vy, vz (cm/s; when the file has velocity) and the myocardium mask over the
    magnitude; columns: ``frames`` (default: six frames spread over the cycle).
    """
    subject = read_subject(subject_path, require_velocity=False)
    if slice_name is None:
        slice_name = "mid" if "mid" in subject.slices else next(iter(subject.slices))
    if slice_name not in subject.slices:
        raise DataError(f"{subject_path}: no slice {slice_name!r}; the file has {list(subject.slices)}")
    s = subject.slices[slice_name]
    frames = default_frames(s.num_frames) if frames is None else [int(f) for f in frames]
    bad = [f for f in frames if not 0 <= f < s.num_frames]
    if bad or not frames:
        raise DataError(f"{subject_path}: frames {bad or frames} outside [0, {s.num_frames})")

    has_velocity = s.velocity is not None
    row_names = ["magnitude", *(DIRECTIONS if has_velocity else ()), "myocardium"]
    vlim = velocity_limit(s.velocity, s.myocardium, s.venc_cm_s)
    mscale = magnitude_scale(s.magnitude)
    h, w = s.shape
    cell = 1.6
    fig, axes = plt.subplots(
        len(row_names),
        len(frames),
        figsize=(len(frames) * cell * w / max(h, w) + 1.6, len(row_names) * cell * h / max(h, w) + 0.6),
        squeeze=False,
        constrained_layout=True,
    )
    times = s.frame_times_ms()
    index = s.frame_index if s.frame_index is not None else np.arange(s.num_frames)
    for c, f in enumerate(frames):
        axes[0, c].set_title(f"frame {int(index[f])}, {times[int(index[f])]:.0f} ms", fontsize=8)
        axes[0, c].imshow(s.magnitude[f], cmap="gray", vmin=0, vmax=mscale)
        for d in range(3 if has_velocity else 0):
            im = axes[1 + d, c].imshow(s.velocity[f, d], cmap=VELOCITY_CMAP, vmin=-vlim[d], vmax=vlim[d])
            if c == len(frames) - 1:
                fig.colorbar(im, ax=axes[1 + d, :].tolist(), shrink=0.9, label="cm/s")
        ax = axes[-1, c]
        ax.imshow(s.magnitude[f], cmap="gray", vmin=0, vmax=mscale)
        ax.imshow(np.ma.masked_equal(s.myocardium[f], 0), cmap="autumn", alpha=0.6, vmin=0, vmax=1)
    for r, name in enumerate(row_names):
        axes[r, 0].set_ylabel(name, fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    venc = ", ".join(f"{v:.0f}" for v in s.venc_cm_s)
    fig.suptitle(f"{subject.subject_id} / {slice_name} ({s.slice_position}), VENC {venc} cm/s")
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    close(fig)
    return out


def build_parser() -> ToolParser:
    p = ToolParser(prog="python -m data.overview", description=__doc__.split("\n\n")[0])
    p.add_argument("subject", help="subject file (.h5)")
    p.add_argument("out_png", help="output image (.png)")
    p.add_argument("--slice", default=None, help="slice group (default: mid, else the first)")
    p.add_argument(
        "--frames",
        type=int,
        nargs="+",
        default=None,
        help="stored frame indices to show (default: six spread over the cycle)",
    )
    return p


def _run(args: argparse.Namespace) -> None:
    out = plot_subject_overview(args.subject, args.out_png, args.frames, args.slice)
    print(out)


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(_run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
