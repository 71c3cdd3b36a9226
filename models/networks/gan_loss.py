"""Adversarial losses on raw discriminator scores (LSGAN, vanilla, hinge)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import NetworkConfigError, check_choice

GAN_MODES: tuple[str, ...] = ("lsgan", "vanilla", "hinge")


class GANLoss(nn.Module):
    """Adversarial loss for a discriminator that outputs raw scores (a patch map or a list of them).

    * ``'lsgan'``: mean squared error to 1 (real) or 0 (fake), as in the paper's phase GAN;
    * ``'vanilla'``: binary cross-entropy on logits against 1 / 0 (the original GAN objective, with the
      non-saturating generator loss);
    * ``'hinge'``: discriminator ``mean(relu(1 - D(real)))`` / ``mean(relu(1 + D(fake)))``, generator
      ``-mean(D(fake))``.

    Call as ``loss(prediction, target_is_real, for_discriminator=True)``. For the generator pass
    ``target_is_real=True, for_discriminator=False`` (the generator wants its fakes judged real).
    A list/tuple of predictions (multi-scale discriminators) gives the mean of the per-scale losses.
    Losses are computed in float32 so they stay accurate under mixed precision.
    """

    def __init__(self, mode: str = "lsgan") -> None:
        super().__init__()
        self.mode = check_choice("GAN loss mode", mode, GAN_MODES)

    def forward(
        self,
        prediction: torch.Tensor | list[torch.Tensor] | tuple[torch.Tensor, ...],
        target_is_real: bool,
        for_discriminator: bool = True,
    ) -> torch.Tensor:
        if isinstance(prediction, (list, tuple)):
            if not prediction:
                raise NetworkConfigError("GANLoss got an empty list of predictions")
            losses = [self._single(p, target_is_real, for_discriminator) for p in prediction]
            return torch.stack(losses).mean()
        return self._single(prediction, target_is_real, for_discriminator)

    def _single(self, prediction: torch.Tensor, target_is_real: bool, for_discriminator: bool) -> torch.Tensor:
        pred = prediction.float()
        if self.mode == "lsgan":
            return F.mse_loss(pred, torch.full_like(pred, 1.0 if target_is_real else 0.0))
        if self.mode == "vanilla":
            return F.binary_cross_entropy_with_logits(pred, torch.full_like(pred, 1.0 if target_is_real else 0.0))
        # hinge
        if for_discriminator:
            return F.relu(1 - pred).mean() if target_is_real else F.relu(1 + pred).mean()
        if not target_is_real:
            raise NetworkConfigError(
                "hinge generator loss is defined only for target_is_real=True (the generator wants its "
                "outputs judged real)"
            )
        return -pred.mean()
