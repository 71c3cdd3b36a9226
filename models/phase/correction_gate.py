"""How much of stage 2's correction of its prior to keep: a scale ``a`` in [0, 1] chosen on the validation
split against the acquired phase, never the truth; the chain returns ``prior + a * (network - prior)``.

On the validation split the measured map is ``m = v + n``, the truth plus the scanner's zero-mean noise,
independent of the images the generator sees. The mean squared error of ``prior + a * d`` against ``m``
(``d`` = the network's correction) is its error against the truth plus the noise variance, whatever
``a`` is, so the ``a`` that minimises it against the measurement minimises it against the truth too. It
is quadratic in ``a``: with ``e = prior - m`` over the myocardium, ``|e + a d|^2 = |e|^2 + 2 a <e, d> +
a^2 |d|^2``, least at ``a = -<e, d> / |d|^2``, clipped to [0, 1]. Validation sums ``<e, d>`` and
``|d|^2`` over its batches; one ratio gives the scale.

The validation split must look like the chain's inputs for the scale to carry over: a run trained on
stage 1's frames (scripts/train_reference.sh) validates on them too. A scale near 0 says that the
network adds nothing the validation split can see; near 1, that its correction is kept whole.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from util.errors import OptionError

#: the validation metric of a prior-refining generator: mean |foreground - prior| over the myocardium (cm/s)
CORRECTION_METRIC = "correction_myo_cm_s"
#: validation sums of <prior - measured, correction> and |correction|^2 over the myocardium, (cm/s)^2
CROSS_METRIC, SQUARE_METRIC = "correction_cross", "correction_square"


def correction_sums(
    foreground: torch.Tensor, prior: torch.Tensor, measured: torch.Tensor, venc: torch.Tensor, myo: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The batch's sums for the correction's size and its scale: ``foreground``, ``prior`` and ``measured``
    [B, 3, H, W] in VENC units, ``venc`` [B, 3] in cm/s, ``myo`` [B, 1 or 3, H, W] {0, 1}. The size is
    summed over samples of each sample's mean over the myocardium, like the other validation metrics."""
    scale = venc[:, :, None, None]
    mask = myo.expand_as(foreground).float()
    correction = (foreground - prior) * scale * mask
    error = (prior - measured) * scale * mask
    pixels = mask.flatten(1).sum(1).clamp(min=1.0)
    return {
        CORRECTION_METRIC: (correction.abs().flatten(1).sum(1) / pixels).sum(),
        CROSS_METRIC: (error * correction).sum(),
        SQUARE_METRIC: (correction * correction).sum(),
    }


def chosen_scale(metrics: dict[str, float]) -> float | None:
    """The scale in [0, 1] that the validation sums in ``metrics`` choose; None without them (a run that
    refines no prior) or when the network corrected nothing."""
    cross, square = metrics.get(CROSS_METRIC), metrics.get(SQUARE_METRIC)
    if cross is None or square is None or not math.isfinite(cross) or not square > 0:
        return None
    return min(1.0, max(0.0, -cross / square))


def set_correction_scale(phase_model: Any, scale: float) -> None:
    """Make ``phase_model`` keep ``scale`` (in [0, 1]) of its correction of its prior, over its weights' own."""
    if not 0.0 <= float(scale) <= 1.0:
        raise OptionError(f"--correction_scale must lie in [0, 1] (0: the prior, 1: the whole network), got {scale}")
    if getattr(phase_model, "prior_kind", "none") == "none":
        raise OptionError("--correction_scale scales a correction of a prior: this stage-2 model refines none")
    phase_model.correction_scale_override = float(scale)
