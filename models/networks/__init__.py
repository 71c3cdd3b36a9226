"""Network building blocks: UNet / R2U-Net, the hybrid interpolation UNet, PatchGAN, GAN losses, init.

Pure PyTorch (no torchvision), so the core installs and runs on a CPU-only build.
"""

from .blocks import (
    BLOCK_TYPES,
    NORM_KINDS,
    UPSAMPLE_KINDS,
    ConvBlock,
    NetworkConfigError,
    RecurrentConv,
    RRCNNBlock,
    UpSample,
    make_block,
    make_norm,
)
from .gan_loss import GAN_MODES, GANLoss
from .init import INIT_KINDS, init_weights
from .interp_unet import N_TIME_FEATURES, HybridInterpUNet, time_features
from .options import INIT_CHOICES, add_network_options, legacy_network_options
from .patchgan import PatchDiscriminator
from .unet import UNet, check_spatial_size

__all__ = [
    "BLOCK_TYPES",
    "GAN_MODES",
    "INIT_CHOICES",
    "INIT_KINDS",
    "NORM_KINDS",
    "N_TIME_FEATURES",
    "UPSAMPLE_KINDS",
    "ConvBlock",
    "GANLoss",
    "HybridInterpUNet",
    "NetworkConfigError",
    "PatchDiscriminator",
    "RRCNNBlock",
    "RecurrentConv",
    "UNet",
    "UpSample",
    "add_network_options",
    "check_spatial_size",
    "init_weights",
    "legacy_network_options",
    "make_block",
    "make_norm",
    "time_features",
]
