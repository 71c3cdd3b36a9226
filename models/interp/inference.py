"""Rebuild a whole cine from its key frames: with the trained interpolator, or by the linear baseline.

Both work on one slice at a time, from the key frames only (what a down-sampled acquisition gives):

* the magnitude is scaled by the 99.5th percentile of the *key frames* (docs/CONVENTIONS.md), so the
  result does not depend on frames that were never acquired;
* key frames may be any increasing frame indices (the regular grid ``0, k, 2k, ...`` or a file's
  ``frame_index``); the cycle is periodic, so frames after the last key frame (and before the first)
  lie between the last key frame and the first key frame of the next cycle;
* key frames are copied through unchanged; every other frame is predicted.

The images are padded (edge replication) to a multiple of the network's size multiple and cropped back,
so any image size works.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from data.cycle import cyclic_targets, time_conditioning
from models.padding import pad_to_multiple
from util.conventions import MASK_THRESHOLD
from util.errors import DataError
from util.intensity import magnitude_scale, to_network_range, to_unit_range


@dataclass
class CineReconstruction:
    """A full cine rebuilt from its key frames (all arrays [T, H, W])."""

    magnitude: np.ndarray  # float32, original intensity units; key frames exactly as given
    unit: np.ndarray  # float32, the same on the [0, 1] scale (key-frame scale)
    myocardium: np.ndarray  # uint8 {0, 1}; key frames as given
    probability: np.ndarray  # float32 mask probability; key frames are their masks
    scale: float  # the key-frame magnitude scale used for [0, 1]
    key_frames: list[int]
    targets: list[tuple[int, int, int]]  # (frame, key0, key1) of every predicted frame


def _check_keys(key_magnitude: np.ndarray, key_mask: np.ndarray, key_frames: Sequence[int]) -> None:
    if key_magnitude.ndim != 3:
        raise DataError(f"key magnitude must be [K, H, W], got shape {key_magnitude.shape}")
    if key_mask.shape != key_magnitude.shape:
        raise DataError(f"key masks {key_mask.shape} do not match key magnitude {key_magnitude.shape}")
    if len(key_frames) != key_magnitude.shape[0]:
        raise DataError(f"{len(key_frames)} key frame indices for {key_magnitude.shape[0]} key frames")


def _empty_cine(key_magnitude: np.ndarray, key_mask: np.ndarray, key_frames: Sequence[int], num_frames: int, scale):
    h, w = key_magnitude.shape[-2:]
    keys = list(key_frames)
    magnitude = np.zeros((num_frames, h, w), np.float32)
    magnitude[keys] = key_magnitude
    unit = np.zeros((num_frames, h, w), np.float32)
    unit[keys] = to_unit_range(key_magnitude, scale)
    myocardium = np.zeros((num_frames, h, w), np.uint8)
    myocardium[keys] = key_mask != 0
    probability = myocardium.astype(np.float32)
    return CineReconstruction(magnitude, unit, myocardium, probability, scale, keys, cyclic_targets(keys, num_frames))


def linear_cine(
    key_magnitude: np.ndarray, key_mask: np.ndarray, key_frames: Sequence[int], num_frames: int
) -> CineReconstruction:
    """The baseline: magnitude blended linearly between the bracketing key frames, mask of the nearer one.

    The blend is taken on the [0, 1] scale (key frames clipped there, as the network sees them), so both
    methods are compared on the same footing. At the midpoint the earlier key frame's mask is taken.
    """
    _check_keys(key_magnitude, key_mask, key_frames)
    scale = magnitude_scale(key_magnitude)
    out = _empty_cine(key_magnitude, key_mask, key_frames, num_frames, scale)
    for target, k0, k1 in out.targets:
        a = (target - k0) / (k1 - k0)
        t = target % num_frames
        out.unit[t] = (1 - a) * out.unit[k0] + a * out.unit[k1 % num_frames]
        out.myocardium[t] = out.myocardium[k1 % num_frames] if a > MASK_THRESHOLD else out.myocardium[k0]
        out.probability[t] = out.myocardium[t]
        out.magnitude[t] = out.unit[t] * scale
    return out


def fourier_weights(key_frames: Sequence[int], num_frames: int) -> np.ndarray:
    """[T, K] weights that turn K key-frame values into all T frames by periodic band-limited interpolation.

    The cycle is periodic, so a cine is a sum of harmonics of the heart rate. With K key frames the
    harmonics 0 .. (K-1)//2 are fitted to them (least squares, exact when the key frames are evenly
    spaced and K is odd; with K even the highest, Nyquist harmonic is left out), and evaluated at every
    frame. A cine with no harmonic above (K-1)//2 is reproduced exactly; what this cannot know is the
    detail between key frames that no K samples carry.
    """
    phase = 2 * np.pi * np.arange(num_frames)[:, None] / num_frames
    harmonics = np.arange((len(key_frames) - 1) // 2 + 1)[None, :]
    basis = np.concatenate([np.cos(phase * harmonics), np.sin(phase * harmonics[:, 1:])], axis=1)  # [T, 2M+1]
    # Key values -> coefficients (pseudo-inverse of the basis at the key frames) -> every frame.
    return basis @ np.linalg.pinv(basis[list(key_frames)])


def fourier_cine(
    key_magnitude: np.ndarray, key_mask: np.ndarray, key_frames: Sequence[int], num_frames: int
) -> CineReconstruction:
    """The second stage-1 yardstick: periodic band-limited (Fourier) interpolation over the cycle.

    Magnitude and mask are interpolated on the [0, 1] scale from all key frames at once (not only the two
    bracketing ones), the magnitude clipped to [0, 1] and the mask thresholded at 0.5; key frames are
    kept as given.
    """
    _check_keys(key_magnitude, key_mask, key_frames)
    scale = magnitude_scale(key_magnitude)
    out = _empty_cine(key_magnitude, key_mask, key_frames, num_frames, scale)
    weights = fourier_weights(out.key_frames, num_frames).astype(np.float32)
    frames = [t % num_frames for t, _, _ in out.targets]
    keys = out.key_frames
    out.unit[frames] = np.clip(np.tensordot(weights[frames], out.unit[keys], axes=1), 0.0, 1.0)
    probability = np.clip(np.tensordot(weights[frames], out.probability[keys], axes=1), 0.0, 1.0)
    out.probability[frames] = probability
    out.myocardium[frames] = probability > MASK_THRESHOLD
    out.magnitude[frames] = out.unit[frames] * np.float32(scale)
    return out


def interpolate_cine(
    model,
    key_magnitude: np.ndarray,
    key_mask: np.ndarray,
    key_frames: Sequence[int],
    num_frames: int,
    batch_size: int = 8,
    progress=None,
) -> CineReconstruction:
    """Predict every non-key frame of a cine with a trained ``InterpModel``.

    Args:
        model: an ``InterpModel`` (e.g. from ``models.loading.load_trained_model``).
        key_magnitude: [K, H, W] key frames in the file's intensity units.
        key_mask: [K, H, W] their myocardium masks.
        key_frames: the K frame indices of the key frames, increasing, within [0, num_frames).
        num_frames: frames of the full cycle.
        batch_size: frames predicted per network call.
        progress: optional tqdm-like object; ``update(n)`` is called per predicted frame.

    Returns:
        The full cine; predicted magnitudes are un-normalised with the key-frame scale, predicted masks
        are the probabilities thresholded at 0.5.
    """
    _check_keys(key_magnitude, key_mask, key_frames)
    scale = magnitude_scale(key_magnitude)
    out = _empty_cine(key_magnitude, key_mask, key_frames, num_frames, scale)
    net_keys = torch.from_numpy(to_network_range(out.unit))
    masks = torch.from_numpy(out.myocardium.astype(np.float32))
    for start in range(0, len(out.targets), max(1, batch_size)):
        chunk = out.targets[start : start + batch_size]
        k0 = [k % num_frames for _, k, _ in chunk]
        k1 = [k % num_frames for _, _, k in chunk]
        pair = torch.stack([net_keys[k0], net_keys[k1]], dim=1)
        pair_mask = torch.stack([masks[k0], masks[k1]], dim=1)
        time_raw = torch.from_numpy(np.stack([time_conditioning(t, a, b, num_frames) for t, a, b in chunk]))
        pair, (h, w) = pad_to_multiple(pair, model.size_multiple)
        pair_mask, _ = pad_to_multiple(pair_mask, model.size_multiple)
        magnitude, probability = model.interpolate(pair, pair_mask, time_raw)
        unit = ((magnitude[:, 0, :h, :w] + 1) / 2).clamp(0, 1).cpu().numpy()
        prob = probability[:, 0, :h, :w].cpu().numpy()
        frames = [t % num_frames for t, _, _ in chunk]
        out.unit[frames] = unit
        out.magnitude[frames] = unit * np.float32(scale)
        out.probability[frames] = prob
        out.myocardium[frames] = prob > MASK_THRESHOLD
        if progress is not None:
            progress.update(len(chunk))
    return out
