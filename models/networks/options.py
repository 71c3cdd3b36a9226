"""The network options both stages share, declared once: block type, widths, depth, normalisation,
recurrence, up-sampling and initialisation.

Both stages name the block type ``--block unet|r2`` (plain or R2U-Net blocks). The phase stage's older
spelling, ``--netG unet|r2unet``, is still accepted on the command line, and ``legacy_network_options``
reads runs saved with it.
"""

from __future__ import annotations

import argparse
from typing import Any

from .blocks import BLOCK_TYPES, NORM_KINDS, UPSAMPLE_KINDS
from .init import INIT_KINDS

#: ``--init_type`` values: PyTorch's own initialisation, or one of ``init_weights``' kinds
INIT_CHOICES: tuple[str, ...] = ("pytorch", *INIT_KINDS)
#: older names of a block type (``--netG r2unet``) and the block type they name
BLOCK_ALIASES: dict[str, str] = {"r2unet": "r2"}
#: older option names and the option that took their place
OPTION_ALIASES: dict[str, str] = {"netG": "block"}


def block_type(value: str) -> str:
    """The block type ``value`` names, an older name (``r2unet``) included; argparse checks the choices."""
    return BLOCK_ALIASES.get(value, value)


def add_network_options(
    group: argparse._ArgumentGroup, *, block: str, init_type: str, init_help: str = "weight initialisation"
) -> None:
    """Add the shared network options to ``group``, with the stage's default block type and initialisation."""
    group.add_argument(
        "--block",
        "--netG",
        dest="block",
        type=block_type,
        choices=BLOCK_TYPES,
        default=block,
        help="unet: plain UNet blocks; r2: R2U-Net blocks (recurrent residual; --netG r2unet is the same)",
    )
    group.add_argument(
        "--base_channels",
        "--ngf",
        dest="base_channels",
        type=int,
        default=32,
        help="feature maps at full resolution (widths base * 2**level)",
    )
    group.add_argument("--depth", type=int, default=4, help="down-sampling steps (H, W divisible by 2**depth)")
    group.add_argument("--norm", choices=NORM_KINDS, default="group", help="normalisation layers")
    group.add_argument("--recurrence_steps", type=int, default=2, help="recurrent steps of the r2 blocks")
    group.add_argument("--upsample", choices=UPSAMPLE_KINDS, default="bilinear", help="decoder up-sampling")
    group.add_argument("--init_type", choices=INIT_CHOICES, default=init_type, help=init_help)
    group.add_argument("--init_gain", type=float, default=0.02, help="gain of the normal/xavier/orthogonal init")


def legacy_network_options(saved: dict[str, Any]) -> dict[str, Any]:
    """Options saved by a run under older names (``netG: r2unet``) under today's (``block: r2``)."""
    out = dict(saved)
    for old, new in OPTION_ALIASES.items():
        if old in out:
            value = out.pop(old)
            out.setdefault(new, block_type(value) if new == "block" else value)
    return out
