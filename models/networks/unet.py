"""UNet / R2U-Net: the phase generator of the foreground-background GAN (R2U-Net with ``block='r2'``)."""

from __future__ import annotations

import torch
from torch import nn

from .blocks import FiLM, NetworkConfigError, UpSample, check_choice, make_block

OUT_ACTIVATIONS: tuple[str, ...] = ("tanh", "none")


def check_spatial_size(h: int, w: int, depth: int) -> None:
    """Raise unless H and W can be halved ``depth`` times without remainder.

    Every skip connection concatenates an encoder map with an up-sampled decoder map, which only line up
    when each pooling step divides the size exactly.
    """
    if depth < 1:
        raise NetworkConfigError(f"network depth must be >= 1, got {depth}")
    multiple = 2**depth
    if h % multiple or w % multiple:
        raise NetworkConfigError(
            f"input size {h}x{w} (HxW) is not supported: with depth {depth}, H and W must be divisible by "
            f"2**{depth} = {multiple}; crop or pad the images to a multiple of {multiple}"
        )


def level_channels(base_channels: int, depth: int) -> list[int]:
    """Feature widths of the levels 0 (full resolution) .. depth (bottleneck): base * 2**level."""
    if base_channels < 1:
        raise NetworkConfigError(f"base_channels must be >= 1, got {base_channels}")
    return [base_channels * 2**level for level in range(depth + 1)]


class Encoder(nn.Module):
    """A UNet encoder: a block at full resolution, then (max-pool, block) ``depth`` times.

    ``forward`` returns the feature map of every level, finest first; the last one is the bottleneck.
    """

    def __init__(self, in_ch: int, widths: list[int], block: str, norm: str, recurrence_steps: int = 2) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2)
        ins = [in_ch, *widths[:-1]]
        self.blocks = nn.ModuleList(
            make_block(block, i, o, norm, recurrence_steps) for i, o in zip(ins, widths, strict=True)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for level, blk in enumerate(self.blocks):
            x = blk(x if level == 0 else self.pool(x))
            feats.append(x)
        return feats


class DecoderLevel(nn.Module):
    """One decoder step: up-sample the coarser map, concatenate the skip, then a block back to ``out_ch``."""

    def __init__(
        self, in_ch: int, out_ch: int, block: str, norm: str, upsample: str, recurrence_steps: int = 2
    ) -> None:
        super().__init__()
        self.up = UpSample(in_ch, out_ch, upsample)
        # After the concatenation: out_ch from the up-sampled path + out_ch from the skip.
        self.block = make_block(block, 2 * out_ch, out_ch, norm, recurrence_steps)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.block(torch.cat([self.up(x), skip], dim=1))


class UNet(nn.Module):
    """Encoder-decoder with skip connections for image-to-image mapping.

    ``depth`` max-pooling steps halve the size each time; widths are ``base_channels * 2**level``
    (32-64-128-256-512 by default). ``block='r2'`` gives R2U-Net (recurrent residual blocks).
    The output passes through tanh (``out_activation='tanh'``, for targets in [-1, 1] such as
    velocity / VENC) or is left linear ('none'). H and W must be divisible by ``2**depth``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        base_channels: int = 32,
        depth: int = 4,
        block: str = "unet",
        norm: str = "group",
        out_activation: str = "tanh",
        recurrence_steps: int = 2,
        upsample: str = "bilinear",
        condition_dim: int = 0,
        embed_dim: int = 64,
    ) -> None:
        super().__init__()
        check_choice("output activation", out_activation, OUT_ACTIVATIONS)
        if depth < 1:
            raise NetworkConfigError(f"network depth must be >= 1, got {depth}")
        widths = level_channels(base_channels, depth)
        self.depth = depth
        self.in_channels = in_channels
        self.encoder = Encoder(in_channels, widths, block, norm, recurrence_steps)
        self.decoder = nn.ModuleList(
            DecoderLevel(widths[level + 1], widths[level], block, norm, upsample, recurrence_steps)
            for level in reversed(range(depth))
        )
        self.head = nn.Conv2d(widths[0], out_channels, kernel_size=1)
        self.out_activation = nn.Tanh() if out_activation == "tanh" else nn.Identity()
        self.condition_dim = condition_dim
        if condition_dim:
            # A condition vector (e.g. where the frame lies in the cycle) modulates the bottleneck and every
            # decoder level, as the interpolation network's time embedding does.
            self.condition_mlp = nn.Sequential(
                nn.Linear(condition_dim, embed_dim), nn.SiLU(), nn.Linear(embed_dim, embed_dim), nn.SiLU()
            )
            self.films = nn.ModuleList(FiLM(embed_dim, widths[level]) for level in reversed(range(depth + 1)))

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise NetworkConfigError(f"UNet expects input [B, {self.in_channels}, H, W], got {list(x.shape)}")
        if (condition is None) != (self.condition_dim == 0):
            given = "none" if condition is None else "one"
            raise NetworkConfigError(f"UNet built with condition_dim={self.condition_dim} was given {given}")
        if condition is not None and condition.shape != (x.shape[0], self.condition_dim):
            raise NetworkConfigError(
                f"condition must be [B={x.shape[0]}, {self.condition_dim}], got {list(condition.shape)}"
            )
        check_spatial_size(x.shape[-2], x.shape[-1], self.depth)
        feats = self.encoder(x)
        emb = None if condition is None else self.condition_mlp(condition.to(x.dtype))
        h = feats[-1] if emb is None else self.films[0](feats[-1], emb)
        for i, (level, dec) in enumerate(zip(reversed(range(self.depth)), self.decoder, strict=True)):
            h = dec(h, feats[level])
            if emb is not None:
                h = self.films[i + 1](h, emb)
        return self.out_activation(self.head(h))
