"""Options of ``--model hdl``, the chain of the two trained stages (test.py only)."""

from __future__ import annotations

import argparse

from models.hdl.predictor import WALL_BAND
from models.phase.options import add_correction_scale_option


class ChainOptions:
    """The options of ``--model hdl``. The chain has no networks of its own: it loads two trained runs."""

    default_dataset: str | None = None

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        g = parser.add_argument_group("chained synthesis (hdl)")
        g.add_argument("--interp_name", default=None, help="run name of the stage-1 (interp) model")
        g.add_argument("--phase_name", default=None, help="run name of the stage-2 (phase) model")
        g.add_argument(
            "--pretrained",
            action="store_true",
            help="use the twin shipped in pretrained/ (see pretrained/MODEL_CARD.md); with --interp_name or "
            "--phase_name, that run replaces the shipped stage (the page says which weights each stage used)",
        )
        g.add_argument(
            "--baseline_phase_name",
            default=None,
            help="run name of an L1-only phase model (train.py --model phase --l1_only) for the baseline chain; "
            "default: the baseline uses --phase_name, so only stage 1 differs",
        )
        _add_rendering_options(g)
        g.add_argument("--factor", type=int, default=6, help="temporal down-sampling factor k (key frame every k)")
        g.add_argument("--export_nifti", action="store_true", help="also write the synthesised subjects as NIfTI")
        g.add_argument(
            "--input_keyframes_only",
            action="store_true",
            help="the input files hold key frames only: consecutive frames --factor apart (files with "
            "frame_index/n_frames are recognised without this flag)",
        )
        g.add_argument(
            "--fid",
            action="store_true",
            help="compute FID (needs pytorch-fid and its Inception weights on disk; else reported as unavailable)",
        )
        g.add_argument(
            "--rows",
            nargs="+",
            default=None,
            metavar="ROW",
            help="the comparison rows to make (default: all of them; README lists what each costs): "
            "hdl, baseline, kinematic, flow, population_bulk, population, zero, acquired_phase, velocity_true "
            "(hdl is always made: every other row but baseline sits on its cine)",
        )
        g.add_argument(
            "--workers",
            type=int,
            default=1,
            help="subjects synthesised and scored in parallel, each by its own process on one core (default 1): "
            "give at most as many as cores; the results are the same as with one",
        )
        g.add_argument("--gif", action="store_true", help="also write a cine GIF per subject (default: none)")
        # None = automatic: bf16 autocast on GPU, fp32 on CPU.
        parser.set_defaults(precision=None)
        return parser


def _add_rendering_options(g: argparse._ArgumentGroup) -> None:
    """How stage 2 renders the twin: the scanner's noise, the share of its correction, the wall band."""
    g.add_argument(
        "--acquisition_noise",
        action="store_true",
        help="give the twins' tissue the scanner's phase noise (phase runs trained with --tissue_noise "
        "physics), as an acquisition has, at the noise level of each slice's key frames; default: the model's "
        "velocity estimate",
    )
    add_correction_scale_option(g)
    g.add_argument(
        "--wall_band",
        type=int,
        default=WALL_BAND,
        help="pixels around each frame's myocardium (stage 1's mask on the non-key frames) that stage 2 renders "
        "as wall, with its velocity, never as background noise however dim the rebuilt magnitude is there "
        f"(default {WALL_BAND}: stage 1's mask edge is uncertain by about a pixel; 0: the tissue and the mask "
        "alone)",
    )
