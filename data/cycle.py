"""The cardiac cycle as both stages and the chain see it: key frames, the frames between them, and time.

The cycle is periodic (frame ``T`` is frame ``0``): the frames after the last key frame are bracketed by
it and by the first key frame of the next cycle. Training samples (``data.samples.interp_dataset``) and
inference on whole cines (``models.interp.inference``, ``data.keyframes``) use the same helpers.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from util.errors import DataError


def key_frame_grid(num_frames: int, factor: int) -> list[int]:
    """Key frames kept by down-sampling a cycle of ``num_frames`` by ``factor``: 0, k, 2k, ..."""
    return list(range(0, num_frames, factor))


def cyclic_targets(key_frames: Sequence[int], num_frames: int) -> list[tuple[int, int, int]]:
    """Every non-key frame with its bracketing key frames, as ``(target, key0, key1)``.

    Indices past the end of the cycle stand for the next cycle (``t + num_frames`` is frame ``t``): the
    frames after the last key frame and before the first one are bracketed by the last key frame and the
    first key frame of the next cycle.
    """
    keys = [int(k) for k in key_frames]
    if not keys:
        raise DataError("no key frames: at least one key frame is needed to interpolate a cine")
    if any(b <= a for a, b in itertools.pairwise(keys)) or keys[0] < 0 or keys[-1] >= num_frames:
        raise DataError(f"key frames must increase strictly within [0, {num_frames}), got {keys}")
    out = []
    for k0, k1 in itertools.pairwise([*keys, keys[0] + num_frames]):
        out.extend((t, k0, k1) for t in range(k0 + 1, k1))
    return out


def interpolation_targets(num_frames: int, factor: int) -> list[tuple[int, int, int]]:
    """``cyclic_targets`` of the key-frame grid of ``factor``: key1 may be ``num_frames`` (frame 0 again)."""
    return cyclic_targets(key_frame_grid(num_frames, factor), num_frames)


def time_conditioning(target: int, key0: int, key1: int, num_frames: int) -> np.ndarray:
    """[alpha, phase0, phase1, phase_target] for a target between key frames (key1 may exceed T)."""
    alpha = (target - key0) / (key1 - key0)
    return np.array(
        [alpha, key0 / num_frames, (key1 % num_frames) / num_frames, (target % num_frames) / num_frames],
        dtype=np.float32,
    )
