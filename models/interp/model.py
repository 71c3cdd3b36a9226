"""Stage 1: frame interpolation with the hybrid UNet.

From two key magnitude frames, their myocardium masks and the time conditioning, the network predicts
the magnitude frame between them and its myocardium mask. The loss follows the paper:

    lambda_l1     * L1 over the whole frame
  + lambda_myo    * L1 over the myocardial region (target mask dilated by --myo_dilation pixels)
  + lambda_tissue * L1 over the tissue foreground
  + lambda_dice   * soft Dice of the mask
  + lambda_bce    * binary cross-entropy of the mask (off by default)

All magnitude terms are on the network's [-1, 1] scale. Validation reports PSNR on the [0, 1] scale
(whole image and tissue foreground) and Dice of the mask thresholded at 0.5, with the same numbers for
the baselines (linear blend of the key frames, nearest key frame's mask) so the logs show the margin.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch
import torch.nn.functional as F

from assessment.metrics import dice_torch, psnr_torch
from models.base_model import BaseModel
from models.losses import dilate_mask, masked_l1, soft_dice_loss
from models.networks import HybridInterpUNet, add_network_options, init_weights
from models.networks import time_features as make_time_features
from util.conventions import MASK_THRESHOLD
from util.errors import OptionError
from util.option_values import require_at_least

#: probability above which a pixel belongs to the predicted myocardium
#: initialisation choices: PyTorch's own per-layer defaults, or one of init_weights' schemes


def features_from_raw_time(time_raw: torch.Tensor) -> torch.Tensor:
    """[B, 4] raw ``[alpha, phase0, phase1, phase_target]`` -> [B, N_TIME_FEATURES] network features."""
    if time_raw.dim() != 2 or time_raw.shape[1] != 4:
        raise OptionError(f"time must be [B, 4] = [alpha, phase0, phase1, phase_target], got {list(time_raw.shape)}")
    t = time_raw.detach().float()
    return make_time_features(t[:, 0], t[:, 1], t[:, 2], t[:, 3])


def linear_blend(key_magnitude: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """The stage-1 baseline: (1 - alpha) * key0 + alpha * key1, per sample ([B, 2, H, W], [B])."""
    a = alpha.to(key_magnitude.dtype).view(-1, 1, 1, 1)
    return (1 - a) * key_magnitude[:, :1] + a * key_magnitude[:, 1:]


def nearest_key_mask(key_mask: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """The mask baseline: the mask of the nearer key frame (the first one at alpha = 0.5)."""
    second = (alpha > MASK_THRESHOLD).view(-1, 1, 1, 1)
    return torch.where(second, key_mask[:, 1:], key_mask[:, :1])


class InterpModel(BaseModel):
    """The hybrid UNet frame interpolator (network ``netG``) with its losses and metrics."""

    default_dataset = "interp"
    default_lr = 1e-3
    default_beta1 = 0.9
    optimizer_order = ("G",)
    val_metric = "psnr_fg"
    val_metric_higher_is_better = True

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        n = parser.add_argument_group("interpolation network")
        add_network_options(
            n, block="unet", init_type="pytorch", init_help="weight initialisation (the residual heads start at zero)"
        )
        n.add_argument("--time_dim", type=int, default=64, help="width of the time embedding")
        n.add_argument(
            "--no_residual_blend",
            action="store_true",
            help="predict the frame from scratch instead of a correction of the linear blend of the key frames",
        )
        if is_train:
            w = parser.add_argument_group("interpolation losses")
            w.add_argument("--lambda_l1", type=float, default=1.0, help="L1 over the whole frame")
            w.add_argument("--lambda_myo", type=float, default=1.0, help="L1 over the (dilated) myocardium")
            w.add_argument("--lambda_tissue", type=float, default=1.0, help="L1 over the tissue foreground")
            w.add_argument("--lambda_dice", type=float, default=1.0, help="soft Dice loss of the mask")
            w.add_argument("--lambda_bce", type=float, default=0.0, help="binary cross-entropy of the mask")
            w.add_argument(
                "--myo_dilation",
                type=int,
                default=3,
                help="pixels by which the target myocardium is dilated for the myocardial L1 (covers the "
                "moving borders, where interpolation errors are largest)",
            )
        return parser

    def __init__(self, opt: argparse.Namespace, device: torch.device | None = None) -> None:
        super().__init__(opt, device)
        require_at_least(opt, ("base_channels", "depth", "time_dim"), 1)
        losses = ("lambda_l1", "lambda_myo", "lambda_tissue", "lambda_dice", "lambda_bce", "myo_dilation")
        # The loss weights exist only in training options; a test-time model has none to check.
        require_at_least(opt, losses, 0)
        net = HybridInterpUNet(
            base_channels=opt.base_channels,
            depth=opt.depth,
            block=opt.block,
            norm=opt.norm,
            time_dim=opt.time_dim,
            recurrence_steps=opt.recurrence_steps,
            upsample=opt.upsample,
            residual_blend=not opt.no_residual_blend,
        )
        init_type = opt.init_type
        if init_type != "pytorch":
            init_weights(net, init_type, opt.init_gain)
        self.add_network("netG", net)
        if opt.verbose:
            n_params = sum(p.numel() for p in net.parameters())
            print(f"netG: HybridInterpUNet, {n_params / 1e6:.2f} M parameters\n{net}")

    @property
    def size_multiple(self) -> int:
        """H and W of the input must be multiples of this (one halving per level)."""
        return 2 ** int(self.opt.depth)

    # ------------------------------------------------------------------------------------ training

    def set_input(self, batch: dict[str, Any]) -> None:
        self.key_magnitude = self.to_device(batch["key_magnitude"])
        self.key_mask = self.to_device(batch["key_mask"])
        self.target_magnitude = self.to_device(batch["target_magnitude"])
        self.target_mask = self.to_device(batch["target_mask"])
        self.target_tissue = self.to_device(batch["target_tissue"])
        time_raw = batch["time"]
        self.alpha = time_raw[:, 0].to(self.device, non_blocking=True)
        # Features are built on the host from the small [B, 4] tensor: no device work, no sync.
        self.time = features_from_raw_time(time_raw.cpu()).to(self.device, non_blocking=True)

    def forward(self) -> None:
        self.pred_magnitude, self.mask_logits = self.netG(self.key_magnitude, self.key_mask, self.time)

    def compute_losses(self, group: str) -> dict[str, torch.Tensor]:
        opt = self.opt
        pred = self.pred_magnitude.float()
        target = self.target_magnitude.float()
        logits = self.mask_logits.float()
        myo_region = dilate_mask(self.target_mask.float(), int(opt.myo_dilation))
        terms = {
            "l1": (pred - target).abs().mean(),
            "myo": masked_l1(pred, target, myo_region),
            "tissue": masked_l1(pred, target, self.target_tissue.float()),
            "dice": soft_dice_loss(torch.sigmoid(logits), self.target_mask),
            "bce": F.binary_cross_entropy_with_logits(logits, self.target_mask.float()),
        }
        weights = {name: float(getattr(opt, f"lambda_{name}")) for name in terms}
        total = sum(weights[name] * value for name, value in terms.items() if weights[name] > 0)
        if not isinstance(total, torch.Tensor):  # every weight zero: nothing to learn, but stay a tensor
            total = pred.sum() * 0.0
        return {**terms, "total": total}

    def current_visuals(self) -> dict[str, torch.Tensor]:
        if not hasattr(self, "pred_magnitude"):
            return {}
        with torch.no_grad():
            return {
                "key0": self.key_magnitude[:, :1].detach(),
                "key1": self.key_magnitude[:, 1:].detach(),
                "linear": linear_blend(self.key_magnitude, self.alpha).detach(),
                "prediction": self.pred_magnitude.detach().float(),
                "target": self.target_magnitude.detach(),
                "mask_prediction": torch.sigmoid(self.mask_logits.detach().float()) * 2 - 1,
                "mask_target": self.target_mask.detach() * 2 - 1,
            }

    @torch.no_grad()
    def validation_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Sums over the batch of per-sample PSNR (whole, foreground), Dice and loss, model and baselines."""
        self.set_input(batch)
        with self.autocast():
            self.forward()
        losses = self.compute_losses("G")
        target01 = (self.target_magnitude.float() + 1) / 2
        pred01 = (self.pred_magnitude.float() + 1) / 2
        linear01 = (linear_blend(self.key_magnitude.float(), self.alpha) + 1) / 2
        tissue = self.target_tissue
        pred_mask = torch.sigmoid(self.mask_logits.float()) > MASK_THRESHOLD
        true_mask = self.target_mask > MASK_THRESHOLD
        batch_size = self.target_magnitude.shape[0]
        return {
            "loss": losses["total"].detach() * batch_size,
            "psnr": psnr_torch(pred01, target01, 1.0).sum(),
            "psnr_fg": psnr_torch(pred01, target01, 1.0, tissue).sum(),
            "dice": dice_torch(pred_mask, true_mask).sum(),
            "psnr_linear": psnr_torch(linear01, target01, 1.0).sum(),
            "psnr_fg_linear": psnr_torch(linear01, target01, 1.0, tissue).sum(),
            "dice_nearest": dice_torch(nearest_key_mask(self.key_mask, self.alpha) > MASK_THRESHOLD, true_mask).sum(),
            "count": torch.tensor(float(batch_size), device=self.device),
        }

    # ----------------------------------------------------------------------------------- inference

    @torch.no_grad()
    def interpolate(
        self, key_magnitude: torch.Tensor, key_mask: torch.Tensor, time_raw: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict the frames between pairs of key frames.

        Args:
            key_magnitude: [B, 2, H, W], the two key frames on the network scale [-1, 1].
            key_mask: [B, 2, H, W], their myocardium masks {0, 1}.
            time_raw: [B, 4], ``[alpha, phase0, phase1, phase_target]`` as built by
                ``data.cycle.time_conditioning``.

        Returns:
            ``(magnitude [B, 1, H, W] in [-1, 1], mask_probability [B, 1, H, W] in [0, 1])``, float32 on
            the model's device. H and W must be multiples of ``size_multiple``. The networks are used in
            whatever mode they are in (``load_trained_model`` returns them in eval mode).
        """
        time = features_from_raw_time(time_raw.cpu()).to(self.device)
        with self.autocast():
            magnitude, logits = self.netG(self.to_device(key_magnitude), self.to_device(key_mask), time)
        return magnitude.float(), torch.sigmoid(logits.float())
