"""PatchGAN discriminator: classifies overlapping image patches as real or synthesised.

Judging patches rather than whole images makes the discriminator a texture / local-statistics critic,
which is what the phase GAN needs: the L1 terms already enforce the low-frequency content, and the
adversarial term should push the local noise and detail of the synthesised velocity maps towards the
real ones.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from .blocks import NetworkConfigError, make_norm

MAX_WIDTH_MULT = 8


class PatchDiscriminator(nn.Module):
    """The 70x70-style PatchGAN (with the defaults ``n_layers=3``).

    4x4 convolutions: ``n_layers`` with stride 2 (widths base, 2 base, 4 base, capped at 8 base), one
    more with stride 1, then a stride-1 convolution to a 1-channel map of raw scores (no sigmoid: the
    loss decides how scores are read, see :class:`~models.networks.gan_loss.GANLoss`). LeakyReLU 0.2
    throughout; no normalisation on the first layer (it would erase the input's absolute level).
    Each output value sees a 70x70 input patch for ``n_layers=3``; a 256x256 input gives a 30x30 map.
    ``spectral_norm=True`` wraps every convolution in spectral normalisation (a Lipschitz constraint that
    stabilises training, usually combined with ``norm='none'``).
    """

    def __init__(
        self,
        in_channels: int,
        base_channels: int = 64,
        n_layers: int = 3,
        norm: str = "instance",
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        if n_layers < 1:
            raise NetworkConfigError(f"PatchDiscriminator needs n_layers >= 1, got {n_layers}")
        make_norm(norm, 1)  # validates the name
        self.in_channels = in_channels

        def conv(i: int, o: int, stride: int, bias: bool) -> nn.Module:
            layer = nn.Conv2d(i, o, kernel_size=4, stride=stride, padding=1, bias=bias)
            return _spectral_norm(layer) if spectral_norm else layer

        # With a norm layer after it, a convolution's bias is redundant (the norm's shift replaces it).
        use_bias = norm == "none"
        layers: list[nn.Module] = [conv(in_channels, base_channels, 2, True), nn.LeakyReLU(0.2, inplace=True)]
        width = base_channels
        for n in range(1, n_layers + 1):
            next_width = base_channels * min(2**n, MAX_WIDTH_MULT)
            stride = 2 if n < n_layers else 1
            layers += [
                conv(width, next_width, stride, use_bias),
                make_norm(norm, next_width),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            width = next_width
        layers.append(conv(width, 1, 1, True))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise NetworkConfigError(f"PatchDiscriminator expects [B, {self.in_channels}, H, W], got {list(x.shape)}")
        return self.model(x)
