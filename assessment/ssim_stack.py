"""SSIM of a [T, H, W] stack against one reference stack, frame by frame, at the cost of a few filters.

Each frame's value is scikit-image's ``structural_similarity`` (the definitions of ``assessment.metrics``):
the map is made with scikit-image's arithmetic, filtered along the two image axes only, a few frames at a
time. What the reference alone needs (its local means and variances) is made once for every stack compared
with it (:class:`SsimReference`).

The tables score many rows against one acquired slice, and several rows differ from the row scored before
them only in a box (the yardstick rows are zero outside the twin's myocardium and differ inside it): such a
stack is mapped in that box only, for itself and for the row it differs from, and its per-frame sums are
the earlier row's corrected there (:func:`stack_ssim` with ``near``). The SSIM map of a pixel depends only on
pixels within the window's half-width, so the result is the full computation's, up to float rounding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter

from assessment.metrics import SSIM_PAD, SSIM_WIN_SIZE, check_pair, check_range, mask_like

# scikit-image's other defaults: the stabilising constants and the sample covariance over the 2-D window
_K1, _K2 = 0.01, 0.03
_COV_NORM = SSIM_WIN_SIZE**2 / (SSIM_WIN_SIZE**2 - 1)
# the window over a [T, H, W] stack: 1 along the frames, so that each frame is filtered on its own
_WINDOW = (1, SSIM_WIN_SIZE, SSIM_WIN_SIZE)
# pixels of a stack's SSIM map made at a time (4 frames of 128^2): a chunk's dozen float64 temporaries stay in
# the CPU cache, which makes the map about 1.5x faster than in one pass over the stack
_CHUNK_PIXELS = 1 << 16
# a stack that differs from ``near`` in more than this share of the scored pixels is mapped whole: the box
# costs two maps of its area (the stack's and ``near``'s)
_BOX_SHARE = 0.4


@dataclass(frozen=True)
class SsimReference:
    """What the SSIM maps of a [T, H, W] reference stack need of the reference alone, computed once for every
    stack compared with it: the stack (float64), its local means, their squares and its local sample
    variances (scikit-image's ``ux``, ``ux ** 2`` and ``vx``)."""

    target: np.ndarray
    mean: np.ndarray
    mean_squared: np.ndarray
    variance: np.ndarray


def ssim_reference(target: np.ndarray) -> SsimReference:
    """The :class:`SsimReference` of a [T, H, W] stack."""
    target = np.asarray(target, dtype=np.float64)
    if target.ndim != 3:
        raise ValueError(f"expected a [T, H, W] stack, got shape {target.shape}")
    if min(target.shape[1:]) < SSIM_WIN_SIZE:
        raise ValueError(f"ssim needs images of at least {SSIM_WIN_SIZE}x{SSIM_WIN_SIZE}, got {target.shape[1:]}")
    ux = uniform_filter(target, size=_WINDOW)
    ux2 = ux * ux
    vx = _COV_NORM * (uniform_filter(target * target, size=_WINDOW) - ux2)
    return SsimReference(target, ux, ux2, vx)


@dataclass(frozen=True)
class StackSsim:
    """A stack's SSIM against a reference, per frame [T]: the sums of its map over the scored pixels (the
    image less the border band) and over the masked ones among them, with the mask's pixel counts. ``stack``
    is the stack scored: a later stack can be scored as a change of it (:func:`stack_ssim`'s ``near``)."""

    stack: np.ndarray
    whole_sum: np.ndarray
    masked_sum: np.ndarray | None
    masked_count: np.ndarray | None

    @property
    def whole(self) -> np.ndarray:
        """Each frame's SSIM: the mean of its map over the scored pixels."""
        _, height, width = self.stack.shape
        return self.whole_sum / ((height - 2 * SSIM_PAD) * (width - 2 * SSIM_PAD))

    @property
    def masked(self) -> np.ndarray:
        """Each frame's mean of its map over the masked pixels (NaN for none, all NaN without a mask)."""
        if self.masked_sum is None or self.masked_count is None:
            return np.full(len(self.stack), math.nan)
        n = self.masked_count
        return np.where(n > 0, self.masked_sum / np.maximum(n, 1), math.nan)


def _local_moments(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Local means of ``pred``, ``pred ** 2`` and ``target * pred`` over the SSIM window; None for a stack
    of zeros (the ``zero`` row, and the box of a row that is zero outside the myocardium), whose are zero."""
    if not pred.any():
        return None
    uy = uniform_filter(pred, size=_WINDOW)
    uyy = uniform_filter(pred * pred, size=_WINDOW)
    uxy = uniform_filter(target * pred, size=_WINDOW)
    return uy, uyy, uxy


def _map_from_moments(
    reference: tuple[np.ndarray, np.ndarray, np.ndarray],
    moments: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    data_range: float,
) -> np.ndarray:
    """The SSIM map from the reference's ``(ux, ux ** 2, vx)`` and the stack's local means ``(uy, uyy, uxy)``:
    scikit-image's arithmetic, operation for operation (so each value is its value to the last bit), done in
    place (the moments are overwritten) so that the temporaries of a few frames stay in the cache. With zero
    moments (None) that arithmetic reduces exactly to ``c1 * c2 / ((ux ** 2 + c1) * (vx + c2))``."""
    (ux, ux2, vx) = reference
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    if moments is None:
        d = ux2 + c1
        d *= vx + c2
        return np.divide(c1 * c2, d, out=d)
    uy, vy, vxy = moments
    scratch = uy * uy
    vy -= scratch  # vy = cov_norm * (uyy - uy * uy)
    vy *= _COV_NORM
    np.multiply(ux, uy, out=scratch)
    vxy -= scratch  # vxy = cov_norm * (uxy - ux * uy)
    vxy *= _COV_NORM
    a1 = 2 * ux  # a1 = 2 * ux * uy + c1
    a1 *= uy
    a1 += c1
    vxy *= 2  # a2 = 2 * vxy + c2
    vxy += c2
    uy *= uy  # b1 = ux ** 2 + uy ** 2 + c1
    uy += ux2
    uy += c1
    vy += vx  # b2 = vx + vy + c2
    vy += c2
    uy *= vy  # d = b1 * b2
    a1 *= vxy  # s = a1 * a2 / d
    a1 /= uy
    return a1


def _map_chunk(pred: np.ndarray, reference: SsimReference, frames: slice, data_range: float) -> np.ndarray:
    """The SSIM map of ``pred[frames]``."""
    ref = (reference.mean[frames], reference.mean_squared[frames], reference.variance[frames])
    return _map_from_moments(ref, _local_moments(pred[frames], reference.target[frames]), data_range)


def _chunk_frames(shape: tuple[int, ...]) -> int:
    """Frames per chunk of an SSIM map: about ``_CHUNK_PIXELS`` pixels, at least one frame."""
    return max(1, _CHUNK_PIXELS // (shape[1] * shape[2]))


def ssim_map_stack(
    pred: np.ndarray, target: np.ndarray, data_range: float, reference: SsimReference | None = None
) -> np.ndarray:
    """The SSIM map [T, H, W] of every frame of a [T, H, W] stack: scikit-image's
    ``structural_similarity(target[t], pred[t], data_range=..., full=True)`` map of each frame (same window,
    constants, sample covariance and arithmetic). ``reference`` is :func:`ssim_reference` of ``target`` when
    the caller already has it (several methods against one reference)."""
    pred, target = check_pair(pred, target)
    data_range = check_range(data_range)
    reference = ssim_reference(target) if reference is None else reference
    if np.array_equal(pred, reference.target):  # scikit-image's arithmetic gives exactly 1 there
        return np.ones_like(pred)
    step = _chunk_frames(pred.shape)
    chunks = [_map_chunk(pred, reference, slice(t, t + step), data_range) for t in range(0, len(pred), step)]
    return np.concatenate(chunks) if chunks else np.empty_like(pred)


def _sums(smap: np.ndarray, kept: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-frame sums of a [t, h, w] piece of a map, over all its pixels and over ``kept`` ones."""
    whole = smap.sum(axis=(1, 2), dtype=np.float64)
    return whole, None if kept is None else np.where(kept, smap, 0.0).sum(axis=(1, 2))


def _full(pred: np.ndarray, reference: SsimReference, data_range: float, mask: np.ndarray | None) -> StackSsim:
    """The sums of the whole map, made a few frames at a time."""
    p, (frames, height, width) = SSIM_PAD, pred.shape
    identical = np.array_equal(pred, reference.target)  # a map of ones: skip it (``ssim_map_stack``)
    whole = np.empty(frames)
    masked = None if mask is None else np.empty(frames)
    step = _chunk_frames(pred.shape)
    for start in range(0, frames, step):
        chunk = slice(start, start + step)
        smap = np.ones_like(pred[chunk]) if identical else _map_chunk(pred, reference, chunk, data_range)
        kept = None if mask is None else mask[chunk, p : height - p, p : width - p]
        whole[chunk], on_mask = _sums(smap[:, p : height - p, p : width - p], kept)
        if masked is not None:
            masked[chunk] = on_mask
    count = None if mask is None else mask[:, p : height - p, p : width - p].sum(axis=(1, 2))
    return StackSsim(pred, whole, masked, count)


def _changed_region(pred: np.ndarray, near: np.ndarray) -> tuple[slice, slice] | None:
    """The scored pixels whose map can differ between ``pred`` and ``near`` (the box of the pixels that
    differ, widened by the window's half-width, within the scored band), or None when that box is not
    small enough to be worth mapping on its own (a sample of the pixels tells most such pairs apart)."""
    p, (_, height, width) = SSIM_PAD, pred.shape
    limit = _BOX_SHARE * (height - 2 * p) * (width - 2 * p)
    for step in (8, 1):
        changed = (pred[:, ::step, ::step] != near[:, ::step, ::step]).any(axis=0)
        rows, cols = step * np.flatnonzero(changed.any(axis=1)), step * np.flatnonzero(changed.any(axis=0))
        if rows.size and (rows[-1] - rows[0]) * (cols[-1] - cols[0]) > limit:
            return None
    if rows.size == 0:
        return slice(p, p), slice(p, p)
    top, bottom = max(p, rows[0] - p), min(height - p, rows[-1] + 1 + p)
    left, right = max(p, cols[0] - p), min(width - p, cols[-1] + 1 + p)
    if (bottom - top) * (right - left) > limit:
        return None
    return slice(top, bottom), slice(left, right)


def _box_map(pred: np.ndarray, reference: SsimReference, box: tuple[slice, slice], data_range: float) -> np.ndarray:
    """The map of ``pred`` on the scored pixels ``box``: its moments filtered on the box widened by the
    window's half-width (every pixel a box pixel's window reads, none of the image's border)."""
    p, (rows, cols) = SSIM_PAD, box
    wide = (slice(None), slice(rows.start - p, rows.stop + p), slice(cols.start - p, cols.stop + p))
    inner = (slice(None), slice(p, p + rows.stop - rows.start), slice(p, p + cols.stop - cols.start))
    moments = _local_moments(pred[wide], reference.target[wide])
    at = (slice(None), rows, cols)
    ref = (reference.mean[at], reference.mean_squared[at], reference.variance[at])
    return _map_from_moments(ref, None if moments is None else tuple(m[inner] for m in moments), data_range)


def _changed(
    pred: np.ndarray, near: StackSsim, box: tuple[slice, slice], reference: SsimReference, data_range: float,
    mask: np.ndarray | None,
) -> StackSsim:  # fmt: skip
    """``near``'s sums with the box's map swapped: ``pred``'s for ``near.stack``'s."""
    if box[0].stop <= box[0].start or box[1].stop <= box[1].start:
        return StackSsim(pred, near.whole_sum, near.masked_sum, near.masked_count)
    kept = None if mask is None else mask[:, box[0], box[1]]
    new_whole, new_masked = _sums(_box_map(pred, reference, box, data_range), kept)
    old_whole, old_masked = _sums(_box_map(near.stack, reference, box, data_range), kept)
    masked = None
    if near.masked_sum is not None and new_masked is not None and old_masked is not None:
        masked = near.masked_sum - old_masked + new_masked
    return StackSsim(pred, near.whole_sum - old_whole + new_whole, masked, near.masked_count)


def stack_ssim(
    pred: np.ndarray,
    target: np.ndarray,
    data_range: float,
    mask: np.ndarray | None = None,
    reference: SsimReference | None = None,
    near: Sequence[StackSsim] = (),
) -> StackSsim:
    """The per-frame SSIM of a [T, H, W] stack against ``target``, whole and over ``mask`` ([T, H, W] or
    [H, W]; each frame's value the per-frame call's up to float rounding). ``reference``: see
    :func:`ssim_map_stack`. ``near``: stacks already scored against the same target and mask; where
    ``pred`` differs from one of them only in a small box, only that box is mapped (a stack that is zero
    outside a box: near :func:`zero_ssim`)."""
    pred, target = check_pair(pred, target)
    data_range = check_range(data_range)
    reference = ssim_reference(target) if reference is None else reference
    m = mask_like(mask, pred.shape)
    best = None
    for candidate in near:
        if candidate.stack.shape != pred.shape or (m is None) != (candidate.masked_sum is None):
            continue
        box = _changed_region(pred, candidate.stack)
        area = None if box is None else (box[0].stop - box[0].start) * (box[1].stop - box[1].start)
        if area is not None and (best is None or area < best[0]):
            best = (area, candidate, box)
    if best is not None:
        return _changed(pred, best[1], best[2], reference, data_range, m)
    return _full(pred, reference, data_range, m)


def zero_ssim(
    target: np.ndarray, data_range: float, mask: np.ndarray | None = None, reference: SsimReference | None = None
) -> StackSsim:
    """The SSIM of a stack of zeros against ``target`` (no filtering: its local means are zero): the ``near``
    of every stack that is zero outside a box."""
    return stack_ssim(np.zeros(np.shape(target)), target, data_range, mask, reference)


def ssim_stack_whole_and_masked(
    pred: np.ndarray,
    target: np.ndarray,
    data_range: float,
    mask: np.ndarray | None = None,
    reference: SsimReference | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame ``assessment.metrics.ssim_whole_and_masked`` of a [T, H, W] stack: two arrays [T] (the
    masked one all NaN without a mask, NaN for a frame with no masked pixel inside the border band)."""
    scored = stack_ssim(pred, target, data_range, mask, reference)
    return scored.whole, scored.masked
