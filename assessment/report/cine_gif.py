"""Animated GIF of a cine: magnitude and the three velocity maps, one row per data set.

Rendered with matplotlib (Agg) once, then only the image data is swapped per frame, so a 50-frame GIF
takes a second or two; frames are stored by Pillow with the cine's own frame interval.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from util.atomic import atomic_path
from util.conventions import DIRECTIONS
from util.intensity import magnitude_scale
from util.plotting import VELOCITY_CMAP, close, plt, velocity_limit

#: browsers clamp shorter GIF frame delays (often to 100 ms), which would slow the cine down instead
MIN_FRAME_MS = 40
#: resolution of the GIF: the noisy velocity background compresses badly, so pixels cost bytes
GIF_DPI = 72
#: palette: grey levels (magnitude, text) and samples of the velocity colour map
GIF_GREYS = 96
GIF_VELOCITY_COLOURS = 159


def _palette() -> Image.Image:
    """The fixed GIF palette: every colour the figure can hold, so no frame is mapped to a wrong hue.

    A palette fitted to one frame would miss grey levels or velocity colours of other frames; one fixed
    palette without dithering also keeps static pixels identical between frames, which compresses well.
    """
    greys = np.linspace(0, 255, GIF_GREYS).round().astype(np.uint8)[:, None].repeat(3, axis=1)
    cmap = plt.get_cmap(VELOCITY_CMAP)(np.linspace(0, 1, GIF_VELOCITY_COLOURS))[:, :3]
    colours = np.concatenate([greys, (cmap * 255).round().astype(np.uint8)])
    pal = Image.new("P", (1, 1))
    pal.putpalette(colours.ravel().tolist())
    return pal


def _rgb(fig) -> Image.Image:
    fig.canvas.draw()
    return Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())


Rows = Mapping[str, tuple[np.ndarray, np.ndarray | None]]


@dataclass
class _Canvas:
    """The figure drawn once, with the artists whose image data is swapped per frame."""

    fig: plt.Figure
    artists: list[list]  # per row: the magnitude image, then one image (or None) per velocity direction
    caption: object


def _check_rows(rows: Rows) -> int:
    """The common frame count; rows of different lengths cannot share one GIF timeline."""
    labels = list(rows)
    t_count = rows[labels[0]][0].shape[0]
    for label, (mag, vel) in rows.items():
        if mag.shape[0] != t_count or (vel is not None and vel.shape[0] != t_count):
            raise ValueError(f"row {label!r} has a different number of frames than {labels[0]!r}")
    return t_count


def _draw_rows(rows: Rows, vlim: np.ndarray, mscale: float) -> _Canvas:
    """Lay out one row of four panels per data set, showing frame 0, with shared grey and colour scales."""
    labels = list(rows)
    h, w = rows[labels[0]][0].shape[-2:]
    panel = 1.9
    fig, axes = plt.subplots(
        len(labels),
        4,
        figsize=(4 * panel * w / max(h, w) + 0.4, len(labels) * panel * h / max(h, w) + 0.5),
        squeeze=False,
        dpi=GIF_DPI,
    )
    fig.subplots_adjust(left=0.06, right=0.99, top=0.86, bottom=0.01, wspace=0.04, hspace=0.12)
    artists = []
    for r, label in enumerate(labels):
        mag, vel = rows[label]
        row = [axes[r, 0].imshow(mag[0], cmap="gray", vmin=0, vmax=mscale, interpolation="nearest")]
        for d in range(3):
            if vel is None:
                axes[r, d + 1].text(0.5, 0.5, "no velocity", ha="center", va="center", fontsize=8)
                row.append(None)
            else:
                row.append(
                    axes[r, d + 1].imshow(
                        vel[0, d], cmap=VELOCITY_CMAP, vmin=-vlim[d], vmax=vlim[d], interpolation="nearest"
                    )
                )
        artists.append(row)
        axes[r, 0].set_ylabel(label, fontsize=9)
    titles = ["magnitude", *(f"{d} (±{v:.0f} cm/s)" for d, v in zip(DIRECTIONS, vlim, strict=True))]
    for c, name in enumerate(titles):
        axes[0, c].set_title(name, fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    return _Canvas(fig, artists, fig.suptitle("", fontsize=9))


def _render_frames(
    canvas: _Canvas, rows: Rows, t_count: int, rr_interval_ms: float, title: str, key_frames: Sequence[int]
) -> list[Image.Image]:
    """Swap each frame's data into the drawn figure and grab its pixels (redrawing axes would be slow)."""
    keys = set(int(k) for k in key_frames)
    images = []
    for t in range(t_count):
        for (mag, vel), row in zip(rows.values(), canvas.artists, strict=True):
            row[0].set_data(mag[t])
            for d in range(3):
                if row[d + 1] is not None:
                    row[d + 1].set_data(vel[t, d])
        tag = " (key frame)" if t in keys else ""
        canvas.caption.set_text(f"{title}  frame {t + 1}/{t_count}, {t * rr_interval_ms / t_count:.0f} ms{tag}".strip())
        images.append(_rgb(canvas.fig))
    return images


def _save_gif(images: Sequence[Image.Image], out_gif: str | os.PathLike, frame_ms: float) -> Path:
    """Quantise every frame to the fixed palette and store them, atomically, as a looping GIF."""
    palette = _palette()
    frames = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    with atomic_path(out_gif) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    return Path(out_gif)


def write_cine_gif(
    rows: Rows,
    out_gif: str | os.PathLike,
    rr_interval_ms: float,
    venc_cm_s: Sequence[float],
    title: str = "",
    key_frames: Sequence[int] = (),
    myocardium: np.ndarray | None = None,
) -> Path:
    """Write the GIF of ``rows``: label -> (magnitude [T, H, W], velocity [T, 3, H, W] cm/s or None).

    The first row is the reference: its magnitude scale and its myocardial velocity range (from
    ``myocardium`` [T, H, W], when given) set the grey and colour scales of every row, so rows compare
    directly. A row without velocity shows its magnitude only.
    """
    t_count = _check_rows(rows)
    ref_mag, ref_vel = next(iter(rows.values()))
    ref_vel = ref_vel if ref_vel is not None else next((v for _, v in rows.values() if v is not None), None)
    vlim = velocity_limit(ref_vel, myocardium, np.asarray(venc_cm_s))
    canvas = _draw_rows(rows, vlim, magnitude_scale(ref_mag))
    try:
        images = _render_frames(canvas, rows, t_count, rr_interval_ms, title, key_frames)
    finally:
        close(canvas.fig)
    return _save_gif(images, out_gif, max(MIN_FRAME_MS, round(rr_interval_ms / t_count)))
