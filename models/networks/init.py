"""Weight initialisation for convolutional / linear networks."""

from __future__ import annotations

from torch import nn
from torch.nn.utils import parametrize

from .blocks import check_choice

INIT_KINDS: tuple[str, ...] = ("normal", "xavier", "kaiming", "orthogonal")

_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.InstanceNorm2d, nn.LayerNorm)


def init_weights(net: nn.Module, kind: str = "normal", gain: float = 0.02) -> nn.Module:
    """Re-initialise ``net`` in place and return it.

    Convolution and linear weights: ``'normal'`` N(0, gain), ``'xavier'`` Xavier-normal with ``gain``,
    ``'kaiming'`` Kaiming-normal (fan-in, ReLU; ``gain`` unused), ``'orthogonal'`` with ``gain``; biases 0.
    Normalisation layers with affine parameters: weight N(1, gain) for ``'normal'`` and exactly 1
    otherwise, bias 0, so that every norm layer starts (close to) the identity affine map.

    Spectrally normalised layers are initialised through their original (un-normalised) weight.
    Modules with an attribute ``keep_init = True`` (e.g. zero-initialised residual heads whose starting
    value is part of the network's design) and their children are left untouched.
    """
    check_choice("init kind", kind, INIT_KINDS)
    skipped: set[int] = set()
    for module in net.modules():
        if getattr(module, "keep_init", False):
            skipped.update(id(m) for m in module.modules())
    for module in net.modules():
        if id(module) in skipped:
            continue
        if isinstance(module, _WEIGHTED):
            _init_weighted(module, kind, gain)
        elif isinstance(module, _NORMS) and getattr(module, "weight", None) is not None:
            if kind == "normal":
                nn.init.normal_(module.weight, 1.0, gain)
            else:
                nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return net


def _init_weighted(module: nn.Module, kind: str, gain: float) -> None:
    # A parametrized weight (spectral norm) is a computed view; initialise the stored original instead.
    weight = module.parametrizations.weight.original if parametrize.is_parametrized(module, "weight") else module.weight
    if kind == "normal":
        nn.init.normal_(weight, 0.0, gain)
    elif kind == "xavier":
        nn.init.xavier_normal_(weight, gain=gain)
    elif kind == "kaiming":
        nn.init.kaiming_normal_(weight, a=0, mode="fan_in", nonlinearity="relu")
    else:
        nn.init.orthogonal_(weight, gain=gain)
    if module.bias is not None:
        nn.init.zeros_(module.bias)
