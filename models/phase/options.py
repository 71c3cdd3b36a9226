"""Stage 2's options: the generator and its inputs, the foreground-background scheme, the discriminator
and the loss weights when training; the comparison run when evaluating (the rest comes from the run's
saved options); and the checks of their values that a model built from them runs first."""

from __future__ import annotations

import argparse

from models.networks import BLOCK_TYPES, GAN_MODES, NORM_KINDS, add_network_options
from models.phase.background_noise import NOISE_KINDS
from models.phase.priors import add_prior_options, resolve_prior_kind
from models.phase.tissue_noise import TISSUE_NOISE_KINDS
from util.errors import OptionError
from util.option_values import require_at_least

#: what the L1 terms of stage 2 compare the synthesised maps with (``--l1_target``)
L1_TARGETS = ("measured", "noise_free")


def add_phase_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
    """The options of ``--model phase`` (``PhaseModel.modify_commandline_options``)."""
    if not is_train:
        # The architecture and losses come from the run's saved options; only the comparison is chosen.
        t = parser.add_argument_group("phase evaluation")
        t.add_argument(
            "--baseline_name",
            default=None,
            help="run name of an L1-only generator (trained with --l1_only) to evaluate beside the model",
        )
        add_correction_scale_option(t)
        return parser
    add_generator_options(parser.add_argument_group("phase generator"))
    add_scheme_options(parser.add_argument_group("foreground-background scheme"))
    add_discriminator_options(parser.add_argument_group("phase discriminator and losses"))
    return parser


def add_correction_scale_option(group: argparse._ArgumentGroup) -> None:
    """``--correction_scale``: how much of a prior-refining generator's correction inference keeps."""
    group.add_argument(
        "--correction_scale",
        type=float,
        default=None,
        metavar="A",
        help="keep this share (0-1) of stage 2's correction of its prior: prior + A (network - prior); "
        "default: the share its weights chose on their validation split against the acquired phase, or 1 "
        "for weights that hold none (models/phase/correction_gate.py)",
    )


def add_generator_options(g: argparse._ArgumentGroup) -> None:
    """The generator's network, its inputs (mask channel, temporal window, cycle) and its prior."""
    add_network_options(g, block="r2", init_type="normal")
    g.add_argument(
        "--use_mask_channel",
        action="store_true",
        help="give the generator the myocardium mask of frame t as a fourth input channel",
    )
    g.add_argument(
        "--temporal_window",
        type=int,
        default=3,
        help="magnitude frames the generator sees, centred on frame t (3: t-1, t, t+1; 5 adds t-2, t+2)",
    )
    g.add_argument(
        "--cycle_conditioning",
        action="store_true",
        help="condition the generator (FiLM) on the frame's cycle fraction t/T and the slice position",
    )
    add_prior_options(g)


def add_scheme_options(s: argparse._ArgumentGroup) -> None:
    """The foreground-background scheme: background and tissue noise, and the variants without it."""
    s.add_argument(
        "--noise_model",
        choices=NOISE_KINDS,
        default="uniform",
        help="background noise: uniform over [-VENC, VENC), or empirical (per-direction distribution of "
        "the training set's background, stored in the checkpoint)",
    )
    s.add_argument(
        "--tissue_noise",
        choices=TISSUE_NOISE_KINDS,
        default="none",
        help="phase noise on the foreground: none (the paper's scheme, foreground = generator output) or "
        "physics (std sqrt(2) VENC / (pi SNR) from the magnitude, so synthesised tissue looks acquired)",
    )
    s.add_argument("--no_fg_bg", action="store_true", help="ablation: generate the whole image, no composite")
    s.add_argument(
        "--l1_only",
        action="store_true",
        help="baseline: no GAN, no foreground-background scheme, L1 over the whole image (no discriminator)",
    )


def add_discriminator_options(n: argparse._ArgumentGroup) -> None:
    """The PatchGAN discriminator and the weights of the loss terms."""
    n.add_argument("--ndf", type=int, default=64, help="discriminator feature maps of the first layer")
    n.add_argument("--n_layers_D", type=int, default=3, help="strided layers (3: 70x70 patches)")
    n.add_argument(
        "--norm_D",
        choices=NORM_KINDS,
        default="instance",
        help="discriminator normalisation (real and fake go through D as one batch)",
    )
    n.add_argument("--gan_mode", choices=GAN_MODES, default="lsgan", help="adversarial loss")
    n.add_argument("--lambda_gan", type=float, default=1.0, help="weight of the adversarial term")
    n.add_argument("--lambda_tissue", type=float, default=100.0, help="L1 over the tissue")
    n.add_argument("--lambda_myo", type=float, default=100.0, help="L1 over the myocardium")
    n.add_argument("--lambda_l1", type=float, default=100.0, help="whole-image L1 of --l1_only")
    n.add_argument(
        "--lambda_correction",
        type=float,
        default=0.0,
        help="for a prior-refining generator: L1 on its correction of the prior over the tissue, so that it "
        "corrects only where the images pay for it (a fraction c of --lambda_tissue stops a pixel's "
        "correction where (1+c)/2 of its targets lie beyond it); > 0 also starts the output layer at zero, "
        "so that training begins at the prior",
    )
    n.add_argument(
        "--l1_target",
        choices=L1_TARGETS,
        default="measured",
        help="what the L1 terms pull towards: the acquired phase (measured), or, for simulated cohorts only, "
        "the phantom's noise-free velocity (noise_free; every training file needs velocity_true). Training "
        "only: the discriminator still sees acquired maps, and inference reads no truth either way",
    )


def check_phase_options(opt: argparse.Namespace) -> str:
    """Refuse option values no stage-2 model can be built from, with the option's name; returns the prior
    kind (``--prior``, or its older spelling), written back under both spellings so that the options the
    run saves read back the same."""
    require_at_least(opt, ("base_channels", "depth", "ndf", "n_layers_D", "temporal_window"), 1)
    if opt.temporal_window % 2 == 0:
        raise OptionError(f"--temporal_window must be odd (frames centred on t), got {opt.temporal_window}")
    kind = resolve_prior_kind(opt)
    opt.prior, opt.population_prior = kind, kind == "population"
    if kind == "kinematic":
        require_at_least(opt, ("prior_factor", "prior_folds"), 2)
    require_at_least(opt, ("lambda_gan", "lambda_tissue", "lambda_myo", "lambda_l1"), 0)
    lambda_correction = float(getattr(opt, "lambda_correction", 0.0) or 0.0)
    if lambda_correction < 0:
        raise OptionError(f"--lambda_correction must be >= 0, got {lambda_correction}")
    if lambda_correction > 0 and kind == "none":
        raise OptionError("--lambda_correction penalises the correction of a prior: give --prior")
    if opt.block not in BLOCK_TYPES:
        raise OptionError(f"--block {opt.block!r} is not a block type; valid: {', '.join(BLOCK_TYPES)}")
    if opt.tissue_noise not in TISSUE_NOISE_KINDS:
        raise OptionError(
            f"--tissue_noise {opt.tissue_noise!r} is not a tissue noise model; valid: {', '.join(TISSUE_NOISE_KINDS)}"
        )
    if opt.tissue_noise != "none" and (bool(opt.l1_only) or bool(opt.no_fg_bg)):
        raise OptionError(
            "--tissue_noise physics needs the foreground-background scheme; it cannot be combined with "
            "--l1_only or --no_fg_bg"
        )
    return kind
