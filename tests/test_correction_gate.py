"""The share of stage 2's correction kept at inference: chosen against the measurement, applied by the model."""

from __future__ import annotations

import pytest
import torch
from conftest import model_options

from models.phase.correction_gate import (
    CORRECTION_METRIC,
    CROSS_METRIC,
    SQUARE_METRIC,
    chosen_scale,
    correction_sums,
    set_correction_scale,
)
from models.phase.model import PhaseModel
from util.errors import OptionError

SMALL = ["--netG", "unet", "--base_channels", "4", "--depth", "1", "--ndf", "4", "--n_layers_D", "1"]


def maps(seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    truth = torch.randn(4, 3, 16, 16, generator=g) * 0.1
    prior = truth + torch.randn(4, 3, 16, 16, generator=g) * 0.05
    venc = torch.full((4, 3), 20.0)
    myo = torch.ones(4, 1, 16, 16)
    return truth, prior, venc, myo


def test_the_scale_chosen_against_noisy_measurements_is_the_one_the_truth_would_choose() -> None:
    # The network corrects twice too far: prior + 0.5 (foreground - prior) is the truth, so 0.5 is best.
    truth, prior, venc, myo = maps()
    foreground = prior + 2 * (truth - prior)
    noise = torch.randn(truth.shape, generator=torch.Generator().manual_seed(1)) * 0.05
    sums = correction_sums(foreground, prior, truth + noise, venc, myo)
    assert chosen_scale({k: float(v) for k, v in sums.items()}) == pytest.approx(0.5, abs=0.03)
    exact = correction_sums(foreground, prior, truth, venc, myo)
    assert chosen_scale({k: float(v) for k, v in exact.items()}) == pytest.approx(0.5, abs=1e-5)
    # The size: mean |foreground - prior| over the myocardium in cm/s, summed over the 4 samples.
    size = ((foreground - prior).abs() * 20).mean(dim=(1, 2, 3)).sum()
    assert float(sums[CORRECTION_METRIC]) == pytest.approx(float(size), rel=1e-5)


def test_a_correction_away_from_the_measurement_is_dropped_and_none_chooses_nothing() -> None:
    truth, prior, venc, myo = maps()
    wrong = correction_sums(prior - (truth - prior), prior, truth, venc, myo)
    assert chosen_scale({k: float(v) for k, v in wrong.items()}) == 0.0
    too_little = correction_sums(prior + 0.25 * (truth - prior), prior, truth, venc, myo)
    assert chosen_scale({k: float(v) for k, v in too_little.items()}) == 1.0
    assert chosen_scale({CROSS_METRIC: 0.0, SQUARE_METRIC: 0.0}) is None
    assert chosen_scale({"vel_mae_myo_cm_s": 1.0}) is None


def test_the_model_keeps_its_chosen_share_and_saves_it() -> None:
    model = PhaseModel(model_options("phase", *SMALL, prior="kinematic"))
    magnitude = torch.rand(2, 3, 8, 8) * 2 - 1
    prior = torch.rand(2, 3, 8, 8) * 0.4 - 0.2
    whole = model.foreground_velocity(magnitude, prior=prior)
    assert model.inference_correction_scale == 1.0  # weights that chose nothing keep all of it
    model.note_validation({CORRECTION_METRIC: 0.8, CROSS_METRIC: -3.0, SQUARE_METRIC: 10.0})
    assert model.correction_scale == pytest.approx(0.3)
    torch.testing.assert_close(model.foreground_velocity(magnitude, prior=prior), prior + 0.3 * (whole - prior))
    other = PhaseModel(model_options("phase", *SMALL, prior="kinematic"))
    other.load_extra_state(model.extra_state())
    assert other.correction_scale == pytest.approx(0.3)
    set_correction_scale(other, 0.0)
    assert other.inference_correction_scale == 0.0


def test_a_scale_outside_zero_one_or_without_a_prior_is_refused() -> None:
    with pytest.raises(OptionError, match="--correction_scale must lie in"):
        set_correction_scale(PhaseModel(model_options("phase", *SMALL, prior="kinematic")), 1.5)
    with pytest.raises(OptionError, match="refines none"):
        set_correction_scale(PhaseModel(model_options("phase", *SMALL)), 0.5)
