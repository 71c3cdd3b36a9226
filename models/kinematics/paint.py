"""Painting fitted curves on a twin's myocardium: per pixel, the radial and longitudinal curves of its AHA
segment and the slice's circumferential curve, along the pixel's own LV-centred directions, plus the
in-plane bulk velocity of the frame.

Directions follow docs/CONVENTIONS.md as in ``assessment.velocity``: radial towards the frame's myocardial
centroid, circumferential counter-clockwise as displayed, longitudinal ``vz * z_towards_apex``. Each
segment's curve is spread over its pixels unchanged, so the velocity analysis of the painted map gives
the fitted segment curves back (up to the small in-plane mean that bulk-motion removal takes off a ring
that is not perfectly symmetric).
"""

from __future__ import annotations

import numpy as np

from assessment.velocity import aha_segments


def paint_curves(
    curves: dict[str, np.ndarray],
    segment_ids: np.ndarray,
    mask: np.ndarray,
    slice_position: str,
    septum_deg: float,
    z_towards_apex: int = 1,
    bulk_cm_s: np.ndarray | None = None,
) -> np.ndarray:
    """Velocity [T, 3, H, W] (cm/s) from ``curves`` (``fit.fitted_curves``: ``circumferential`` [T],
    ``segment_radial`` and ``segment_longitudinal`` [n_seg, T] in the order of ``segment_ids``) on the
    myocardium ``mask`` [T, H, W]; ``bulk_cm_s`` [T, 2] (vx, vy) is added to every myocardial pixel."""
    mask = np.asarray(mask) != 0
    segments = aha_segments(mask, slice_position, septum_deg)
    t, row, col = np.nonzero(mask)
    n_frames = mask.shape[0]
    count = np.maximum(np.bincount(t, minlength=n_frames), 1)
    d_row = row - (np.bincount(t, weights=row, minlength=n_frames) / count)[t]
    d_col = col - (np.bincount(t, weights=col, minlength=n_frames) / count)[t]
    radius = np.hypot(d_row, d_col)
    safe = np.where(radius > 0, radius, np.inf)  # a pixel on the centroid has no in-plane direction
    lookup = np.zeros(int(max(segments.max(), max(segment_ids))) + 1, dtype=np.int64)
    lookup[np.asarray(segment_ids)] = np.arange(len(segment_ids))
    index = lookup[segments[t, row, col]]
    radial = curves["segment_radial"][index, t]
    circ = curves["circumferential"][t]
    out = np.zeros((n_frames, 3, *mask.shape[1:]), dtype=np.float32)
    out[t, 0, row, col] = (-radial * d_col + circ * d_row) / safe
    out[t, 1, row, col] = (-radial * d_row - circ * d_col) / safe
    out[t, 2, row, col] = curves["segment_longitudinal"][index, t] * z_towards_apex
    if bulk_cm_s is not None:
        bulk = np.asarray(bulk_cm_s, dtype=np.float32)
        out[t, 0, row, col] += bulk[t, 0]
        out[t, 1, row, col] += bulk[t, 1]
    return out


def paint_frame(
    curves: dict[str, np.ndarray],
    segment_ids: np.ndarray,
    mask: np.ndarray,
    frame: int,
    slice_position: str,
    septum_deg: float,
    z_towards_apex: int = 1,
    bulk_cm_s: np.ndarray | None = None,
) -> np.ndarray:
    """Velocity [3, H, W] (cm/s) of frame ``frame`` alone, on its myocardium ``mask`` [H, W]: ``paint_curves``
    on that frame's column of the curves, so that a training sample paints only its own frame and gets
    exactly the values painting the whole cine gives there."""
    column = slice(int(frame), int(frame) + 1)
    one = {
        "circumferential": np.asarray(curves["circumferential"])[column],
        "segment_radial": np.asarray(curves["segment_radial"])[:, column],
        "segment_longitudinal": np.asarray(curves["segment_longitudinal"])[:, column],
    }
    bulk = None if bulk_cm_s is None else np.asarray(bulk_cm_s)[column]
    return paint_curves(one, segment_ids, np.asarray(mask)[None], slice_position, septum_deg, z_towards_apex, bulk)[0]
