"""Convolutional building blocks shared by every network: normalisation, plain UNet and R2 (recurrent
residual) blocks, and the up-sampling step of the decoders.

All blocks keep the spatial size (3x3 convolutions with padding 1) so that the encoders and decoders
only change resolution in one place (max-pooling / up-sampling).
"""

from __future__ import annotations

import torch
from torch import nn

from util.errors import OptionError

NORM_KINDS: tuple[str, ...] = ("batch", "instance", "group", "none")
BLOCK_TYPES: tuple[str, ...] = ("unet", "r2")
UPSAMPLE_KINDS: tuple[str, ...] = ("bilinear", "transpose")

# GroupNorm works with batch size 1 and behaves the same in train and eval; 8 groups is a good
# compromise between per-channel (instance-like) and whole-layer (layer-norm-like) statistics.
MAX_GROUPS = 8


class NetworkConfigError(OptionError, ValueError):
    """An invalid network setting (unknown name, bad size).

    It is a ``ValueError`` for library users and an ``OptionError`` so that the command-line entry points
    report it in one line like any other bad option.
    """


def check_choice(name: str, value: str, valid: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``valid``; otherwise raise an error that lists the valid names."""
    if value not in valid:
        raise NetworkConfigError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
    return value


def group_count(channels: int, max_groups: int = MAX_GROUPS) -> int:
    """The largest number of groups <= ``max_groups`` that divides ``channels`` (GroupNorm requires it)."""
    for groups in range(min(max_groups, channels), 0, -1):
        if channels % groups == 0:
            return groups
    return 1


def make_norm(kind: str, channels: int) -> nn.Module:
    """A 2-D normalisation layer over ``channels`` feature maps.

    ``kind`` is 'batch', 'instance' (affine, no running statistics: the same in train and eval),
    'group' (GroupNorm with up to 8 groups that divide ``channels``) or 'none' (identity).
    """
    check_choice("norm", kind, NORM_KINDS)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "group":
        return nn.GroupNorm(group_count(channels), channels)
    return nn.Identity()


def conv_norm_act(in_ch: int, out_ch: int, norm: str, kernel_size: int = 3) -> nn.Sequential:
    """Convolution (same padding) -> norm -> ReLU.

    The convolution has a bias only without normalisation: a norm layer's shift makes it redundant.
    """
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2, bias=norm == "none"),
        make_norm(norm, out_ch),
        nn.ReLU(inplace=True),
    )


class ConvBlock(nn.Sequential):
    """The plain UNet block: two 3x3 conv-norm-ReLU layers, ``in_ch`` -> ``out_ch`` -> ``out_ch``."""

    def __init__(self, in_ch: int, out_ch: int, norm: str = "group") -> None:
        super().__init__(conv_norm_act(in_ch, out_ch, norm), conv_norm_act(out_ch, out_ch, norm))


class RecurrentConv(nn.Module):
    """Recurrent convolutional layer of R2U-Net with shared weights.

    With ``f`` = 3x3 conv-norm-ReLU (one set of weights reused at every step)::

        x_0     = f(x)
        x_{t+1} = f(x + x_t)      for t = 0 .. steps-1

    and the output is ``x_steps``. The feed-forward input ``x`` is re-injected at every step, which is
    what makes the layer recurrent: each step refines the previous state while seeing the input again,
    growing the receptive field without new parameters. (Adding the input to itself, ``f(x + x)``, would
    collapse this into a single rescaled convolution.)
    """

    def __init__(self, channels: int, norm: str = "group", steps: int = 2) -> None:
        super().__init__()
        if steps < 0:
            raise NetworkConfigError(f"recurrence steps must be >= 0, got {steps}")
        self.steps = steps
        self.f = conv_norm_act(channels, channels, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state = self.f(x)
        for _ in range(self.steps):
            state = self.f(x + state)
        return state


class RRCNNBlock(nn.Module):
    """Recurrent residual block of R2U-Net.

    A 1x1 convolution projects the input to ``out_ch`` channels (so the residual addition is defined for
    any channel change), two :class:`RecurrentConv` layers process it, and the projection is added back.
    """

    def __init__(self, in_ch: int, out_ch: int, norm: str = "group", recurrence_steps: int = 2) -> None:
        super().__init__()
        self.project = nn.Conv2d(in_ch, out_ch, kernel_size=1)
        self.body = nn.Sequential(
            RecurrentConv(out_ch, norm, recurrence_steps),
            RecurrentConv(out_ch, norm, recurrence_steps),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.project(x)
        return x + self.body(x)


def make_block(block_type: str, in_ch: int, out_ch: int, norm: str = "group", recurrence_steps: int = 2) -> nn.Module:
    """The feature block of a UNet level: 'unet' -> :class:`ConvBlock`, 'r2' -> :class:`RRCNNBlock`."""
    check_choice("block type", block_type, BLOCK_TYPES)
    check_choice("norm", norm, NORM_KINDS)
    if block_type == "unet":
        return ConvBlock(in_ch, out_ch, norm)
    return RRCNNBlock(in_ch, out_ch, norm, recurrence_steps)


class UpSample(nn.Module):
    """Doubles the spatial size and maps ``in_ch`` -> ``out_ch`` channels.

    'bilinear' (interpolation then a 3x3 convolution) avoids the checkerboard artefacts of strided
    transposed convolutions, which matter for smooth velocity maps; 'transpose' (2x2, stride 2) is the
    classic learnable alternative.
    """

    def __init__(self, in_ch: int, out_ch: int, kind: str = "bilinear") -> None:
        super().__init__()
        check_choice("upsample", kind, UPSAMPLE_KINDS)
        if kind == "transpose":
            self.up = nn.ConvTranspose2d(in_ch, out_ch, kernel_size=2, stride=2)
        else:
            self.up = nn.Sequential(
                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(x)


class FiLM(nn.Module):
    """Feature-wise linear modulation ``h * (1 + scale) + shift`` with scale/shift from a conditioning embedding.

    The ``1 +`` keeps the identity reachable with small weights; the bias starts at zero so a fresh
    layer is a mild, condition-dependent perturbation of the identity.
    """

    def __init__(self, embed_dim: int, channels: int) -> None:
        super().__init__()
        self.proj = nn.Linear(embed_dim, 2 * channels)
        nn.init.zeros_(self.proj.bias)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.proj(emb).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return h * (1 + scale) + shift
