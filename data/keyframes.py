"""Which frames of a slice the chain is given (the key frames) and how long its cycle is.

The chain accepts two kinds of input slice:

- a full cine (T frames): it keeps frames ``0, k, 2k, ...`` (``data.cycle.key_frame_grid``)
  and ignores the rest, so that the synthesis can be compared with frames it never saw;
- a key-frame-only slice: the file stores ``frame_index`` and ``n_frames``; or, when the caller says
  the file holds consecutive key frames without an index, stored frame ``i`` is cycle frame ``i * k``.

Key frames need not be evenly spaced: ``data.cycle.cyclic_targets`` brackets every other
frame by its neighbouring key frames, across the end of the (periodic) cycle.

Masks on key frames only (``SliceData.labelled_frames``): the chain reads the myocardium of its key
frames, so every key frame must be labelled; otherwise ``key_frames_of`` stops with a one-line error that
names the unlabelled key frames and, when the labelled frames are ``0, m, 2m, ...``, the factor m that
would fit. A full cine given without a factor takes that m as its factor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.cycle import key_frame_grid
from data.mvm_io import SliceData
from util.errors import DataError


@dataclass(frozen=True)
class KeyFrames:
    """Key frames of one slice: cycle indices, where they are stored in the slice, the cycle length."""

    frames: tuple[int, ...]
    stored: tuple[int, ...]
    n_frames: int

    def is_key(self) -> np.ndarray:
        """Boolean [n_frames]: True at key frames."""
        flags = np.zeros(self.n_frames, dtype=bool)
        flags[list(self.frames)] = True
        return flags


def key_frames_of(s: SliceData, factor: int | None, keyframes_only: bool = False) -> KeyFrames:
    """The key frames the chain takes from ``s``.

    - ``s.frame_index`` set: the stored frames are the key frames (``factor`` is not needed);
    - ``keyframes_only`` without an index: consecutive key frames ``factor`` apart, so the cycle has
      ``T * factor`` frames;
    - otherwise a full cine, down-sampled by ``factor`` (which must be smaller than T; None: the spacing
      of ``s.labelled_frames`` when they are evenly spaced from frame 0).

    Raises ``DataError`` when a key frame has no mask (``s.labelled_frames`` leaves it out).
    """
    where = f"slice {s.name!r}"
    stored = s.num_frames
    if s.frame_index is not None:
        frames = [int(i) for i in np.asarray(s.frame_index)]
        return _labelled(s, KeyFrames(tuple(frames), tuple(range(stored)), s.cycle_frames), factor)
    if factor is None and not keyframes_only:
        factor = labelled_spacing(s)
    if factor is None or factor < 2:
        raise DataError(f"{where}: a down-sampling factor >= 2 is needed, got {factor}")
    if keyframes_only:
        keys = KeyFrames(tuple(i * factor for i in range(stored)), tuple(range(stored)), stored * factor)
        return _labelled(s, keys, factor)
    if stored <= factor:
        raise DataError(f"{where}: {stored} frames are too few for factor {factor} (a key frame every {factor})")
    grid = tuple(key_frame_grid(stored, factor))
    return _labelled(s, KeyFrames(grid, grid, stored), factor)


def labelled_spacing(s: SliceData) -> int | None:
    """m when ``s.labelled_frames`` is exactly ``0, m, 2m, ...`` up to the last frame (m >= 2), else None."""
    if s.labelled_frames is None or len(s.labelled_frames) < 2:
        return None
    idx = [int(i) for i in np.asarray(s.labelled_frames)]
    m = idx[1] - idx[0]
    return m if m >= 2 and idx == key_frame_grid(s.num_frames, m) else None


def _labelled(s: SliceData, keys: KeyFrames, factor: int | None) -> KeyFrames:
    """``keys`` when every stored key frame has masks; else a one-line error naming the ones without."""
    if s.labelled_frames is None:
        return keys
    labelled = {int(i) for i in np.asarray(s.labelled_frames)}
    missing = [k for k in keys.stored if k not in labelled]
    if not missing:
        return keys
    spacing = labelled_spacing(s)
    hint = f"; its labelled frames fit --factor {spacing}" if spacing is not None and spacing != factor else ""
    chosen = f"factor {factor}" if factor is not None else "its frame_index"
    raise DataError(
        f"slice {s.name!r}: key frames {missing} ({chosen}) have no masks: only frames "
        f"{sorted(labelled)} are labelled (labelled_frames){hint}"
    )
