"""Which frames of a slice the chain is given (the key frames) and how long its cycle is.

The chain accepts two kinds of input slice:

- a full cine (T frames): it keeps frames ``0, k, 2k, ...`` (``data.interp_dataset.key_frame_grid``)
  and ignores the rest, so that the synthesis can be compared with frames it never saw;
- a key-frame-only slice: the file stores ``frame_index`` and ``n_frames``; or, when the caller says
  the file holds consecutive key frames without an index, stored frame ``i`` is cycle frame ``i * k``.

Key frames need not be evenly spaced: ``models.interp.inference.cyclic_targets`` brackets every other
frame by its neighbouring key frames, across the end of the (periodic) cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.interp_dataset import key_frame_grid
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
    - otherwise a full cine, down-sampled by ``factor`` (which must be smaller than T).
    """
    where = f"slice {s.name!r}"
    stored = s.num_frames
    if s.frame_index is not None:
        frames = [int(i) for i in np.asarray(s.frame_index)]
        return KeyFrames(tuple(frames), tuple(range(stored)), s.cycle_frames)
    if factor is None or factor < 2:
        raise DataError(f"{where}: a down-sampling factor >= 2 is needed, got {factor}")
    if keyframes_only:
        return KeyFrames(tuple(i * factor for i in range(stored)), tuple(range(stored)), stored * factor)
    if stored <= factor:
        raise DataError(f"{where}: {stored} frames are too few for factor {factor} (a key frame every {factor})")
    grid = tuple(key_frame_grid(stored, factor))
    return KeyFrames(grid, grid, stored)
