"""Stage 2 at inference: the generator's deterministic foreground on an image of any size, the share of
its correction of the prior that is kept, and the synthesised map a user gets (that foreground beside the
noise model's background).

``PhaseInference`` is a mixin of ``models.phase.model.PhaseModel``, which supplies the networks, the
generator's input, condition and prior (``generator_input``, ``condition_for``, ``prior_for``) and the
composite; it is apart from the training code so that what the chain and ``test.py`` call can be read on
its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from models.padding import pad_to_multiple
from models.phase.conditioning import FrameContext
from models.phase.foreground import foreground_mask, tissue_from_magnitude
from util.errors import OptionError


@contextmanager
def eval_mode(net: nn.Module) -> Iterator[None]:
    """Evaluate ``net`` in eval mode and give it back in the mode it had."""
    was_training = net.training
    net.eval()
    try:
        yield
    finally:
        net.train(was_training)


class PhaseInference:
    """Inference of a stage-2 model: ``foreground_velocity`` (the generator alone, deterministic) and
    ``synthesise`` (the composite); the share of the correction kept, ``inference_correction_scale``."""

    #: the share chosen on the last validation (the weights' own) and the one the user asked for
    correction_scale: float | None
    correction_scale_override: float | None

    def _to_model_device(self, x: torch.Tensor | None) -> torch.Tensor | None:
        """``x`` as float32 on the model's device (None stays None)."""
        return None if x is None else x.to(self.device, dtype=torch.float32)

    @torch.no_grad()
    def foreground_velocity(
        self,
        magnitude: torch.Tensor,
        myocardium: torch.Tensor | None = None,
        context: FrameContext | None = None,
        prior: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The generator's foreground, velocity / VENC [B, 3, H, W] (float32, on the model's device).

        Deterministic: no noise, and the generator runs in eval mode. ``magnitude`` [B, window, H, W] holds
        the frames around t on the network scale [-1, 1]; ``myocardium`` [B, 1, H, W] {0, 1} is needed
        by a generator trained with ``--use_mask_channel`` or ``--prior population``; ``context`` (where the
        frames lie) by one trained with ``--cycle_conditioning`` or ``--prior population``; ``prior``
        [B, 3, H, W] (VENC units) by one trained with ``--prior kinematic``. Any H, W: the input is padded
        (edge replication) to a multiple of ``size_multiple`` and the output cropped back.
        """
        condition = self.condition_for(context)
        magnitude, myocardium = self._to_model_device(magnitude), self._to_model_device(myocardium)
        if prior is not None and (prior.dim() != 4 or prior.shape[1] != 3 or prior.shape[0] != magnitude.shape[0]
                                  or prior.shape[-2:] != magnitude.shape[-2:]):  # fmt: skip
            raise OptionError(f"prior must be [B, 3, H, W] like the magnitude {list(magnitude.shape)}, got "
                              f"{list(prior.shape)}")  # fmt: skip
        prior = self.prior_for(myocardium, context, prior)
        x, (h, w) = pad_to_multiple(self.generator_input(magnitude, myocardium, prior), self.size_multiple)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        net = self.local_network("netG")
        with eval_mode(net), self.autocast():
            out = net(x) if condition is None else net(x, condition)
        out = out[..., :h, :w].float()
        return (out if prior is None else self.inference_correction_scale * out + prior).contiguous()

    @property
    def inference_correction_scale(self) -> float:
        """The share of the correction inference keeps: ``--correction_scale``, else the weights' own choice,
        else all of it."""
        for scale in (self.correction_scale_override, self.correction_scale):
            if scale is not None:
                return float(scale)
        return 1.0

    @torch.no_grad()
    def synthesise(
        self,
        magnitude: torch.Tensor,
        myocardium: torch.Tensor | None = None,
        rng: torch.Generator | None = None,
        context: FrameContext | None = None,
        tissue_noise: bool | None = None,
        prior: torch.Tensor | None = None,
        noise_sigma: float | None = None,
        wall_band: int = 0,
    ) -> torch.Tensor:
        """Synthesised velocity / VENC [B, 3, H, W] (float32, on the model's device).

        The composite of the generator's foreground (with physics phase noise under ``--tissue_noise
        physics``) and noise-model draws on the background; the foreground is the tissue of the centre
        magnitude frame (``util.tissue``) and the myocardium (``foreground.foreground_mask``). Without the
        foreground-background scheme (``--no_fg_bg``, ``--l1_only`` runs) it is the generator's output.
        ``rng`` (any device) makes the background draws reproducible; ``tissue_noise`` and ``noise_sigma``
        as in ``composite``; ``wall_band`` widens the myocardium's share of the foreground by that many pixels
        (``foreground.foreground_mask``: the chain's, on stage 1's masks). See ``foreground_velocity`` for
        the other inputs.
        """
        foreground = self.foreground_velocity(magnitude, myocardium, context, prior)
        if not self.fg_bg:
            return foreground
        mask = foreground_mask(tissue_from_magnitude(magnitude).to(foreground.device), myocardium, wall_band)
        return self.composite(foreground, magnitude.to(foreground.device), mask, rng, tissue_noise, noise_sigma)
