"""Replicate padding of image batches to a network's size multiple, shared by both stages' inference.

The UNets halve the image ``depth`` times, so H and W must be multiples of ``2 ** depth``. Whole
acquired images rarely are: they are padded at the bottom and right by edge replication (which adds
no edges for the convolutions to react to) and the output is cropped back to ``(h, w)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """``x`` [..., H, W] padded to multiples of ``multiple``, and the original ``(H, W)`` to crop back to."""
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % multiple, -w % multiple
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
    return x, (h, w)
