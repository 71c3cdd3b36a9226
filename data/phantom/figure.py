"""Figure of one phantom subject for docs/PHANTOM.md: ``python -m data.phantom.figure OUT.png [SEED]``.

Rows: basal, mid and apical slice. Columns: noisy magnitude at end-diastole and at end-systole, the
structure masks at end-systole, and the in-plane (vx, vy) and through-plane (vz) ``velocity_true`` at
mid-systole, cropped to the heart.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from data.mvm_io import SLICE_POSITIONS
from data.phantom.analytic import slice_params
from data.phantom.anatomy import render_slice
from data.phantom.config import PhantomConfig
from data.phantom.generate import generate_subject
from util.cli import ToolParser, run_tool

STRUCTURES = ("myocardium", "lv_cavity_tissue", "lv_blood", "rv_wall", "rv_blood", "epicardial_fat")


def _crop(image: np.ndarray, half: int = 36) -> np.ndarray:
    c = image.shape[-1] // 2
    return image[..., c - half : c + half, c - half : c + half]


def draw(out: str, seed: int = 0) -> None:
    """Render the subject of ``seed`` (128 x 128, 50 frames) and save the figure to ``out``."""
    import matplotlib  # here, not at the top: the phantom itself must not need a plotting backend

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    config = PhantomConfig(frames=50, size=128)
    subject = generate_subject("figure", seed, config)
    fig, axes = plt.subplots(3, 6, figsize=(15, 7.8))
    for row, position in enumerate(SLICE_POSITIONS):
        s = subject.slices[position]
        timing = s.attrs["phantom"]["timing"]
        es = round(timing["end_systole"] * config.frames) % config.frames
        mid_sys = round(0.5 * (timing["onset"] + timing["end_systole"]) * config.frames)
        render = render_slice(s_params(s), config.frames, config.size, s.pixel_spacing_mm[0])
        labels = np.zeros(s.myocardium.shape[1:], dtype=np.int64)
        for i, name in enumerate(STRUCTURES, start=1):
            labels[render.structures[name][es]] = i
        vmax = np.percentile(s.magnitude, 99.5)
        panels = [
            (_crop(s.magnitude[0]), dict(cmap="gray", vmin=0, vmax=vmax), "magnitude ED"),
            (_crop(s.magnitude[es]), dict(cmap="gray", vmin=0, vmax=vmax), "magnitude ES"),
            (_crop(labels), dict(cmap="tab10", vmin=0, vmax=9, interpolation="nearest"), "structures ES"),
        ]
        for comp, name in enumerate(("vx", "vy", "vz")):
            v = _crop(s.velocity_true[mid_sys, comp])
            panels.append((v, dict(cmap="RdBu_r", vmin=-8, vmax=8), f"{name} true, mid-systole"))
        for col, (image, style, title) in enumerate(panels):
            ax = axes[row, col]
            ax.imshow(image, **style)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{position}: {title}" if col == 0 else title, fontsize=9)
    legend = ", ".join(f"{i} {name}" for i, name in enumerate(STRUCTURES, start=1))
    fig.suptitle(
        f"Phantom subject (seed {seed}); structure colours (tab10 index): {legend}; velocity -8..8 cm/s", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(out, dpi=80)


def s_params(s):
    """The slice's stored ``SliceParams`` (to re-render the structure masks, which files do not store)."""
    return slice_params(s)


def build_parser() -> ToolParser:
    p = ToolParser(
        prog="python -m data.phantom.figure",
        description="Draw one phantom subject (slices x magnitude, structures, true velocities) for docs/PHANTOM.md.",
    )
    p.add_argument("out", help="output image (.png)")
    p.add_argument("seed", nargs="?", type=int, default=0, help="seed of the subject drawn (default: 0)")
    return p


def _run(args: argparse.Namespace) -> None:
    draw(args.out, args.seed)


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(_run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
