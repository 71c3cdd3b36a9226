"""Dense registration of the key magnitude frames of a slice to its first key frame.

Each key frame is registered to the *first* one (not to its neighbour, so errors do not accumulate)
with scikit-image's TV-L1 optical flow, on a crop around the LV (the union of the key-frame masks and a
margin) for speed. The result says where every point of the first key frame lies in every key frame:
material trajectories sampled at the key times, which ``periodic`` turns into velocities. TV-L1 follows
the radial motion of the wall well; its smoothness term attenuates rotation several-fold (the wall is
pulled towards the still surroundings), which ``keyframe_motion`` measures by polar alignment instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.registration import optical_flow_tvl1

#: pixels kept around the union of the key-frame masks
CROP_MARGIN_PX = 12


@dataclass(frozen=True)
class KeyFrameFlow:
    """Displacement fields of the first key frame's points, on a crop of the image.

    ``flow[k]`` is [2, h, w] (rows, columns) in pixels: the point at crop position ``p`` of the first
    key frame lies at ``p + flow[k][:, p]`` in key frame ``k`` (zero for ``k = 0``). ``origin`` is the
    image position (row, col) of the crop's first pixel.
    """

    origin: tuple[int, int]
    flow: np.ndarray

    def trajectories(self, first_mask: np.ndarray) -> np.ndarray:
        """[K, N, 2] image positions (row, col) at every key frame of the N pixels of ``first_mask``
        (the first key frame's myocardium, full image size)."""
        rows, cols = np.nonzero(np.asarray(first_mask) != 0)
        r, c = rows - self.origin[0], cols - self.origin[1]
        h, w = self.flow.shape[-2:]
        if r.size == 0 or r.min() < 0 or c.min() < 0 or r.max() >= h or c.max() >= w:
            raise ValueError("trajectories: the first mask must be non-empty and inside the registered crop")
        moved = self.flow[:, :, r, c]  # [K, 2, N]
        start = np.stack([rows, cols]).astype(np.float64)
        return np.transpose(start[None] + moved, (0, 2, 1))


def lv_crop(masks: np.ndarray, margin: int = CROP_MARGIN_PX) -> tuple[slice, slice]:
    """Rows and columns of the box around the union of ``masks`` [K, H, W], grown by ``margin``."""
    union = np.any(np.asarray(masks) != 0, axis=0)
    (box,) = ndimage.find_objects(union.astype(np.int8))
    h, w = union.shape
    return (
        slice(max(box[0].start - margin, 0), min(box[0].stop + margin, h)),
        slice(max(box[1].start - margin, 0), min(box[1].stop + margin, w)),
    )


def register_to_first(magnitude: np.ndarray, masks: np.ndarray, margin: int = CROP_MARGIN_PX) -> KeyFrameFlow:
    """TV-L1 registration of every key frame ([K, H, W] magnitude) to the first, cropped around the
    LV of the key-frame masks ([K, H, W]). Intensities are scaled by the first frame's 99th percentile
    inside the crop, one scale for all frames (TV-L1's data term compares raw intensities)."""
    rows, cols = lv_crop(masks, margin)
    crop = np.asarray(magnitude, dtype=np.float32)[:, rows, cols]
    crop = crop / max(float(np.percentile(crop[0], 99)), 1e-6)
    flows = [np.zeros((2, *crop.shape[1:]), dtype=np.float32)]
    flows += [optical_flow_tvl1(crop[0], frame) for frame in crop[1:]]
    return KeyFrameFlow((rows.start, cols.start), np.stack(flows))
