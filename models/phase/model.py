"""Stage 2: the foreground-background GAN that synthesises the three velocity maps.

From the magnitude frames around t (t-1, t, t+1 by default; ``--temporal_window 5`` adds t-2 and t+2;
optionally with the myocardium mask of frame t) the generator ``netG`` (R2U-Net by default) predicts vx,
vy, vz of frame t in units of VENC. With ``--cycle_conditioning`` the generator also knows where the frame
lies in the cardiac cycle and which slice it is (basal, mid, apical), through FiLM layers: longitudinal
velocity is barely visible in a short-axis image, but it follows the cycle. Only the tissue
foreground carries velocity: the background (air, lung) holds phase noise, which no network can predict
pixel by pixel. So the synthesised map is a composite

    composite = G(x)             on the tissue foreground (util.tissue.tissue_mask_from_magnitude)
              = noise-model draw on the background        (models/phase/background_noise.py)

and the PatchGAN ``netD`` judges the composite against the measured map, both next to the magnitude.
The noise model is fixed (uniform over [-VENC, VENC)) or estimated from the training set, and it is
saved with the checkpoint: nothing at inference depends on measured velocities.

``--tissue_noise physics`` also gives the foreground the scanner's phase noise, whose std follows from
the magnitude's SNR (models/phase/tissue_noise.py): composite = wrap(G(x) + noise) on the tissue. The L1 terms
then compare the generator's own output G(x), so what it learns is the noise-free velocity field. The
default, ``none``, is the paper's scheme: the foreground is exactly G(x).

Generator loss (paper defaults)::

    lambda_gan * GAN(D(magnitude, composite) -> real)
  + lambda_tissue * L1 over the tissue foreground + lambda_myo * L1 over the myocardium

The L1 terms are means over each region's pixels (not over the image), so the myocardium, a few percent
of the image, is not drowned by its size and the weights do not depend on the crop.

Variants: ``--no_fg_bg`` generates the whole image (the GAN must learn the background noise itself);
``--l1_only`` is the baseline with neither GAN nor composite: L1 over the whole image, no ``netD``.

Update order ("D", "G"): the generator's adversarial gradient comes from a discriminator that has
already been updated on this batch, so it pushes against the critic's current opinion rather than one
step behind it; one generator forward serves both updates (D sees it detached).

This module holds the model's construction, training step, validation and saved state; its inference
(``foreground_velocity``, ``synthesise``) is ``models/phase/inference.py``, the checks of its options
``models/phase/options.py``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import torch
from torch import nn

from assessment.metrics import psnr_torch
from data.mvm_io import read_subject
from models.base_model import BaseModel
from models.kinematics.population import PopulationPrior, fit_population_prior
from models.kinematics.templates import KinematicTemplates
from models.losses import masked_l1
from models.networks import (
    GANLoss,
    PatchDiscriminator,
    UNet,
    init_weights,
)
from models.phase.background_noise import BackgroundNoise, collect_background
from models.phase.conditioning import N_CONDITION_FEATURES, FrameContext, cycle_condition, prior_velocity
from models.phase.correction_gate import CORRECTION_METRIC, chosen_scale, correction_sums
from models.phase.foreground import centre_frame, centre_frame01, composite, foreground_mask
from models.phase.inference import PhaseInference
from models.phase.options import add_phase_options, check_phase_options
from models.phase.priors import attach_kinematic_priors, choose_templates
from models.phase.tissue_noise import add_tissue_noise
from util.conventions import DIRECTIONS, VELOCITY_DATA_RANGE
from util.errors import DataError, OptionError


@contextmanager
def frozen(net: nn.Module) -> Iterator[None]:
    """No parameter gradients for ``net`` inside the block (the generator's pass through D).

    Autograd decides at forward time which leaves need gradients, so the backward that runs later,
    outside the block, does not compute the discriminator's.
    """
    params = [p for p in net.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


class PhaseModel(PhaseInference, BaseModel):
    """The foreground-background phase GAN (``netG``, ``netD`` when training) and its noise model."""

    default_dataset = "phase"
    default_lr = 2e-4
    default_beta1 = 0.5
    optimizer_order = ("D", "G")
    val_metric = "vel_mae_myo_cm_s"
    val_metric_higher_is_better = False
    #: validation metrics of runs trained before the columns took the chain's names: a checkpoint or
    #: loss log that holds them resumes under the new ones (util.trainer)
    former_metric_names: ClassVar[dict[str, str]] = {
        "mae_myo_cm_s": "vel_mae_myo_cm_s",
        **{f"psnr_fg_{d}": f"vel_psnr_tissue_{d.removeprefix('v')}" for d in DIRECTIONS},
    }

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        return add_phase_options(parser, is_train)

    def __init__(self, opt: argparse.Namespace, device: torch.device | None = None) -> None:
        super().__init__(opt, device)
        #: none, population or kinematic (models/phase/priors.py); the options are checked first
        self.prior_kind = check_phase_options(opt)
        self.refines_prior = self.prior_kind != "none"
        self.window = int(opt.temporal_window)
        self.cycle_conditioning = bool(opt.cycle_conditioning)
        #: the weight of the correction's own L1 (``--lambda_correction``; 0 when evaluating)
        self.lambda_correction = float(getattr(opt, "lambda_correction", 0.0) or 0.0)
        self.l1_only = bool(opt.l1_only)
        self.noise_free_target = getattr(opt, "l1_target", "measured") == "noise_free"
        #: whether synthesised maps are composites (generator foreground + noise background)
        self.fg_bg = not (self.l1_only or bool(opt.no_fg_bg))
        self.use_mask_channel = bool(opt.use_mask_channel)
        #: whether the composite's foreground carries physics phase noise
        self.tissue_noise = opt.tissue_noise == "physics"
        self.noise = BackgroundNoise(opt.noise_model)
        #: the training set's mean velocity curves, the ``population`` yardstick (fitted before training)
        self.population = PopulationPrior()
        #: the kinematic prior's population templates (models/kinematics), fitted with the population prior
        self.kinematics = KinematicTemplates()
        #: the templates of the weights a fine-tuned or resumed run starts from (``start_from_state``)
        self.start_kinematics, self.start_from, self.start_resumed = KinematicTemplates(), "", False
        self._val_rng: torch.Generator | None = None
        #: the last validation's mean correction of the prior (cm/s), kept with the weights so that the chain
        #: can tell a scan on which the network left its prior far more than on the validation split
        self.validation_correction_cm_s: float | None = None
        #: the share of its correction the generator keeps at inference, chosen on the last validation
        #: (models/phase/correction_gate.py); None: weights that hold none keep all of it
        self.correction_scale: float | None = None
        #: the scale the user asked for (``--correction_scale``), over the weights' own
        self.correction_scale_override: float | None = None
        self._build_networks(opt)

    def _build_networks(self, opt: argparse.Namespace) -> None:
        """``netG`` and, when training a GAN, ``netD`` with its loss; the optimiser groups they need."""
        net_g = UNet(
            in_channels=self.window + int(self.use_mask_channel) + 3 * int(self.refines_prior),
            out_channels=3,
            base_channels=int(opt.base_channels),
            depth=int(opt.depth),
            block=opt.block,
            norm=opt.norm,
            out_activation="tanh",
            recurrence_steps=int(opt.recurrence_steps),
            upsample=opt.upsample,
            condition_dim=N_CONDITION_FEATURES if self.cycle_conditioning else 0,
        )
        self._initialise_weights(net_g)
        if self.lambda_correction > 0:
            # A correction that pays for its size starts at none: the untrained generator returns its prior.
            nn.init.zeros_(net_g.head.weight)
            nn.init.zeros_(net_g.head.bias)
        self.add_network("netG", net_g)
        self.has_discriminator = bool(opt.is_train) and not self.l1_only
        if self.has_discriminator:
            # D sees the magnitude frames beside the three velocity maps.
            net_d = PatchDiscriminator(self.window + 3, int(opt.ndf), int(opt.n_layers_D), opt.norm_D)
            self._initialise_weights(net_d)
            self.add_network("netD", net_d)
            self.gan_loss = GANLoss(opt.gan_mode)
        # The trainer builds one optimiser per group: no discriminator, no "D" group.
        self.optimizer_order = ("D", "G") if self.has_discriminator else ("G",)
        if opt.verbose:
            for name in self.network_names:
                n_params = sum(p.numel() for p in self.network(name).parameters())
                print(f"{name}: {n_params / 1e6:.2f} M parameters\n{self.network(name)}")

    def _initialise_weights(self, net: nn.Module) -> None:
        """``--init_type``'s initialisation; ``pytorch`` keeps each layer's own default."""
        if self.opt.init_type != "pytorch":
            init_weights(net, self.opt.init_type, float(self.opt.init_gain))

    @property
    def size_multiple(self) -> int:
        """The generator needs H and W divisible by this; inference pads to it."""
        return 2 ** int(self.opt.depth)

    @property
    def method_name(self) -> str:
        """What this run is, for result tables."""
        if self.l1_only:
            return "l1_only"
        if not self.fg_bg:
            return "gan_whole_image"
        return "fg_bg_gan_tissue_noise" if self.tissue_noise else "fg_bg_gan"

    # ------------------------------------------------------------------------------------ training

    def prepare_training(self, train_dataset: Any, val_dataset: Any | None = None) -> None:
        """Estimate what the run keeps from its training split (the same on every rank): the population
        prior (models/kinematics/population.py), the kinematic prior's templates
        (models/kinematics/templates.py) and the empirical background noise model; for a ``--prior
        kinematic`` run, also give both datasets their subjects' priors (models/phase/priors.py)."""
        paths = dict.fromkeys(entry.path for entry in train_dataset.slices)
        if self.noise_free_target:
            missing = [str(e.path) for e in train_dataset.slices if not e.has_velocity_true]
            if missing:
                raise DataError(f"{missing[0]}: --l1_target noise_free needs velocity_true in every training file")
        subjects = [read_subject(path, check_values=False) for path in paths]
        self.population = fit_population_prior(s for subject in subjects for s in subject.slices.values())
        self.kinematics, own = choose_templates(
            subjects, self.start_kinematics, self.start_from, self.prior_kind, quiet_if_own=self.start_resumed
        )
        if self.noise.kind == "empirical" and self.fg_bg:
            self.noise.fit(collect_background(train_dataset, seed=int(self.opt.seed)))
            if int(os.environ.get("RANK", "0")) == 0:
                print(self.noise.describe(), flush=True)
        if self.prior_kind == "kinematic":
            inherited = (self.start_kinematics, self.start_from) if self.start_from and not self.start_resumed else None
            self.kinematics = attach_kinematic_priors(
                train_dataset, val_dataset, subjects, self.kinematics, self.population, self.opt, own, inherited
            )

    def generator_input(
        self, magnitude: torch.Tensor, myocardium: torch.Tensor | None, prior: torch.Tensor | None
    ) -> torch.Tensor:
        """The generator's input: magnitude [B, window, H, W] (+ myocardium mapped to [-1, 1], + the prior
        [B, 3, H, W], for the runs that use them)."""
        if magnitude.dim() != 4 or magnitude.shape[1] != self.window:
            raise OptionError(
                f"magnitude must be [B, {self.window}, H, W] (the frames around t), got {list(magnitude.shape)}"
            )
        parts = [magnitude]
        if self.use_mask_channel:
            if myocardium is None:
                raise OptionError("this generator was trained with --use_mask_channel: pass the myocardium mask")
            parts.append(myocardium.to(magnitude.dtype) * 2 - 1)
        if prior is not None:
            parts.append(prior.to(magnitude.dtype))
        return torch.cat(parts, dim=1)

    def prior_for(
        self, myocardium: torch.Tensor | None, context: FrameContext | None, given: torch.Tensor | None = None
    ) -> torch.Tensor | None:
        """The prior [B, 3, H, W] (VENC units, on the device) a prior-refining generator starts from, else
        None: ``given`` when the caller has it (a kinematic run's, which only the caller can read from the
        subject's key frames), else the population prior on ``myocardium``."""
        if not self.refines_prior:
            if given is not None:
                raise OptionError("this generator refines no prior (trained with --prior none): pass none")
            return None
        if given is not None:
            return given.to(self.device, dtype=torch.float32)
        if self.prior_kind == "kinematic":
            raise OptionError(
                "this generator refines the kinematic prior (--prior kinematic): pass the subject's prior "
                "[B, 3, H, W] in VENC units (models.kinematics.subject: its key frames' curves painted on the "
                "frames' myocardium)"
            )
        if myocardium is None or context is None or not self.population.ready:
            raise OptionError(
                "this generator refines the population prior: it needs the myocardium, the frame context and a "
                "fitted prior (prepare_training, or a checkpoint that holds one)"
            )
        return prior_velocity(self.population, myocardium.float(), context)

    def set_input(self, batch: dict[str, Any]) -> None:
        self.magnitude = self.to_device(batch["magnitude"])
        self.real = self.to_device(batch["velocity"])
        #: the L1 terms' target: the acquired phase, or the phantom's noise-free velocity (``--l1_target``)
        self.l1_target = self.real if not self.noise_free_target else self._noise_free_target(batch)
        self.myocardium = self.to_device(batch["myocardium"])
        self.tissue = foreground_mask(self.to_device(batch["tissue"]), self.myocardium)
        self.venc = batch["venc"].to(self.device, non_blocking=True).float()
        self.context = FrameContext.of_batch(batch)
        self.condition = self.condition_for(self.context)
        self.prior = self.prior_for(self.myocardium, self.context, batch.get("prior"))

    def _noise_free_target(self, batch: dict[str, Any]) -> torch.Tensor:
        """The phantom's velocity of the batch (``--l1_target noise_free``): simulated training files only."""
        if not bool(torch.as_tensor(batch["has_velocity_true"]).all()):
            raise DataError(
                "--l1_target noise_free: a training file has no velocity_true (only simulated cohorts carry the "
                "noise-free velocity); train on a phantom cohort or use --l1_target measured"
            )
        return self.to_device(batch["velocity_true"])

    def condition_for(self, context: FrameContext | None) -> torch.Tensor | None:
        """The generator's condition [B, N_CONDITION_FEATURES] on the device, or None when not conditioned."""
        if not self.cycle_conditioning:
            return None
        if context is None:
            raise OptionError("this generator was trained with --cycle_conditioning: pass the frames' context")
        return cycle_condition(context.cycle_fraction, context.slice_position).to(self.device)

    def run_generator(
        self, net: nn.Module, x: torch.Tensor, condition: torch.Tensor | None, prior: torch.Tensor | None
    ) -> torch.Tensor:
        """The foreground: the network's output, plus the prior for a prior-refining generator."""
        out = net(x) if condition is None else net(x, condition)
        return out if prior is None else out + prior.to(out.dtype)

    def forward(self, rng: torch.Generator | None = None) -> None:
        x = self.generator_input(self.magnitude, self.myocardium, self.prior)
        self.foreground = self.run_generator(self.netG, x, self.condition, self.prior)
        if self.fg_bg:
            self.fake = self.composite(self.foreground, self.magnitude, self.tissue, rng)
        else:
            self.fake = self.foreground.float()

    def composite(
        self,
        foreground: torch.Tensor,
        magnitude: torch.Tensor,
        tissue: torch.Tensor,
        rng: torch.Generator | None = None,
        tissue_noise: bool | None = None,
        noise_sigma: float | None = None,
    ) -> torch.Tensor:
        """The synthesised map: ``foreground`` (+ tissue noise if chosen) on ``tissue``, noise elsewhere.

        ``magnitude`` [B, window, H, W] on the network scale; its centre frame sets the tissue noise level.
        ``tissue_noise`` overrides the run's ``--tissue_noise`` (False: the model's estimate of the velocity
        on the tissue, without the scanner's noise an acquisition would add). ``noise_sigma``: the slice's
        noise level for every frame (``tissue_noise.keyframe_noise_sigma``), instead of each frame's own.
        """
        if self.tissue_noise if tissue_noise is None else tissue_noise:
            foreground = add_tissue_noise(foreground, centre_frame01(magnitude), tissue, rng, noise_sigma)
        noise = self.noise.sample(foreground.shape, foreground.device, rng)
        return composite(foreground, noise, tissue)

    @staticmethod
    def _discriminate(net: nn.Module, magnitude: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
        """D's scores for velocity maps next to the magnitude frames they belong to."""
        return net(torch.cat([magnitude, velocity.to(magnitude.dtype)], dim=1))

    def compute_losses(self, group: str) -> dict[str, torch.Tensor]:
        opt = self.opt
        if group == "D":
            # Real and fake in one pass: a DDP-wrapped discriminator may be called only once per backward.
            # The default instance norm is per sample, so this equals two separate passes.
            magnitude = torch.cat([self.magnitude, self.magnitude], dim=0)
            velocity = torch.cat([self.real, self.fake.detach()], dim=0)
            pred_real, pred_fake = self._discriminate(self.netD, magnitude, velocity).chunk(2)
            loss_real = self.gan_loss(pred_real, True)
            loss_fake = self.gan_loss(pred_fake, False)
            return {"real": loss_real, "fake": loss_fake, "total": 0.5 * (loss_real + loss_fake)}
        if group != "G":
            raise ValueError(f"unknown optimiser group {group!r}")
        if self.l1_only:
            l1 = (self.fake.float() - self.l1_target).abs().mean()
            return self._with_correction_cost({"l1": l1, "total": float(opt.lambda_l1) * l1})
        # The generator's own output: on the tissue this equals the composite unless tissue noise is added,
        # which must not enter the L1 terms (their optimum would stay the same, only noisier).
        foreground = self.foreground.float()
        l1_tissue = masked_l1(foreground, self.l1_target, self.tissue)
        l1_myo = masked_l1(foreground, self.l1_target, self.myocardium)
        # The generator's pass goes through the frozen, un-wrapped discriminator (see local_network).
        net_d = self.local_network("netD")
        with frozen(net_d):
            gan = self.gan_loss(self._discriminate(net_d, self.magnitude, self.fake), True, for_discriminator=False)
        total = float(opt.lambda_gan) * gan + float(opt.lambda_tissue) * l1_tissue + float(opt.lambda_myo) * l1_myo
        return self._with_correction_cost({"gan": gan, "l1_tissue": l1_tissue, "l1_myo": l1_myo, "total": total})

    def _with_correction_cost(self, losses: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``losses`` plus the L1 of the generator's correction of its prior over the tissue, when priced."""
        if self.lambda_correction <= 0 or self.prior is None:
            return losses
        correction = masked_l1(self.foreground.float(), self.prior.float(), self.tissue)
        return {**losses, "correction": correction, "total": losses["total"] + self.lambda_correction * correction}

    def current_visuals(self) -> dict[str, torch.Tensor]:
        if not hasattr(self, "fake"):
            return {}
        with torch.no_grad():
            visuals = {"magnitude": centre_frame(self.magnitude).detach().float(), "tissue": self.tissue * 2 - 1}
            for c, d in enumerate(DIRECTIONS):
                visuals[f"real_{d}"] = self.real[:, c : c + 1].detach()
                visuals[f"fake_{d}"] = self.fake[:, c : c + 1].detach().float()
            return visuals

    @torch.no_grad()
    def validation_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Sums over the batch of the per-sample myocardial MAE (cm/s) and foreground PSNR per direction."""
        self.set_input(batch)
        if self._val_rng is None:
            # A private random-number generator: validation draws never shift the training noise sequence.
            self._val_rng = torch.Generator(device=self.device).manual_seed(int(self.opt.seed))
        with self.autocast():
            self.forward(self._val_rng)
        fake = self.fake.float()
        err_cm_s = (fake - self.real).abs() * self.venc[:, :, None, None]
        myo = self.myocardium.expand_as(err_cm_s)
        mae = (err_cm_s * myo).flatten(1).sum(1) / myo.flatten(1).sum(1).clamp(min=1.0)
        out = {"vel_mae_myo_cm_s": mae.sum()}
        if self.prior is not None:
            # The size of the network's correction of its prior (what the chain compares scans against) and
            # the sums that choose how much of it to keep (models/phase/correction_gate.py).
            out.update(correction_sums(self.foreground.float(), self.prior, self.real, self.venc, self.myocardium))
        for c, d in enumerate(DIRECTIONS):
            psnr = psnr_torch(fake[:, c : c + 1], self.real[:, c : c + 1], VELOCITY_DATA_RANGE, self.tissue)
            out[f"vel_psnr_tissue_{d.removeprefix('v')}"] = torch.nan_to_num(psnr, nan=0.0, posinf=100.0).sum()
        out["count"] = torch.tensor(float(fake.shape[0]), device=self.device)
        return out

    # ------------------------------------------------------------------------------------ state

    def note_validation(self, metrics: dict[str, float]) -> None:
        if CORRECTION_METRIC in metrics:
            self.validation_correction_cm_s = float(metrics[CORRECTION_METRIC])
        scale = chosen_scale(metrics)
        if scale is not None:
            self.correction_scale = scale

    def extra_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"noise_model": self.noise.state_dict()}
        if self.validation_correction_cm_s is not None:
            state["validation_correction_cm_s"] = self.validation_correction_cm_s
        if self.correction_scale is not None:
            state["correction_scale"] = self.correction_scale
        if self.population.ready:
            state["population_prior"] = self.population.state_dict()
        if self.kinematics.ready:
            state["kinematic_templates"] = self.kinematics.state_dict()
        return state

    def start_from_state(self, state: dict[str, Any], source: str, resumed: bool = False) -> None:
        """Keep the kinematic templates of the checkpoint training starts from (``source``): a cohort too
        small to fit its own keeps them (``prepare_training``); a resumed run so keeps what it had."""
        if "kinematic_templates" in state:
            self.start_kinematics = KinematicTemplates.from_state(state["kinematic_templates"])
            self.start_from, self.start_resumed = source, resumed

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "noise_model" in state:
            self.noise.load_state_dict(state["noise_model"])
        if "population_prior" in state:
            self.population = PopulationPrior.from_state(state["population_prior"])
        if "kinematic_templates" in state:
            self.kinematics = KinematicTemplates.from_state(state["kinematic_templates"])
        self.validation_correction_cm_s = state.get("validation_correction_cm_s")
        self.correction_scale = state.get("correction_scale")
