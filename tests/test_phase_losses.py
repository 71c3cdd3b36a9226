"""PhaseModel.compute_losses against values computed by hand on a 2x2 batch.

The generator and the discriminator are replaced by modules whose outputs are known: the generator
returns a fixed map, the discriminator returns the vx channel of the velocity it judges (input channels
3..5 follow the three magnitude frames). The background noise model is fitted on zeros, so the composite
is the generator's output on the tissue and exactly 0 elsewhere. Every expected number below is worked
out from these inputs and the paper's definitions (LSGAN: D's real term (D(real) - 1)^2, fake term
D(fake)^2, G's adversarial term (D(fake) - 1)^2; L1 terms are means over each region's pixels), not
from the code.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import model_options
from torch import nn

from models.phase.background_noise import BackgroundNoise
from models.phase.model import PhaseModel
from util.errors import DataError, OptionError

SMALL = ["--netG", "unet", "--base_channels", "4", "--depth", "1", "--ndf", "4", "--n_layers_D", "1"]

# Velocity / VENC of the measured map, per direction [3, 2, 2].
REAL = [
    [[0.3, 0.3], [0.3, 0.3]],  # vx: constant, so D's real term is (0.3 - 1)^2
    [[0.1, -0.2], [0.4, 0.0]],
    [[0.5, 0.5], [-0.5, 0.25]],
]
G_OUT = [0.2, 0.0, 0.0]  # the generator's (constant) output per direction
TISSUE = [[1, 1], [1, 0]]
MYO = [[1, 0], [0, 0]]
# |G - real| summed over the directions, per pixel: (0,0) 0.1+0.1+0.5, (0,1) 0.1+0.2+0.5,
# (1,0) 0.1+0.4+0.5, (1,1) 0.1+0.0+0.25.
ABS_SUM = {(0, 0): 0.7, (0, 1): 0.8, (1, 0): 1.0, (1, 1): 0.35}


class FixedGenerator(nn.Module):
    def __init__(self, values: list[float]) -> None:
        super().__init__()
        self.values = nn.Parameter(torch.tensor(values)[None, :, None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.values.expand(x.shape[0], 3, *x.shape[-2:])


class VxCritic(nn.Module):
    """D(magnitude, velocity) = the velocity's vx, pixel by pixel (a 1-channel 'patch map')."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[1] == 6
        return self.gain * x[:, 3:4]


def build(myo=MYO, extra: dict | None = None, **lambdas: float) -> PhaseModel:
    opt = model_options("phase", *SMALL, "--init_type", "pytorch", **lambdas)
    model = PhaseModel(opt)
    model.netG = model._bare["netG"] = model._local["netG"] = FixedGenerator(G_OUT)
    model.netD = model._bare["netD"] = model._local["netD"] = VxCritic()
    model.noise = BackgroundNoise("empirical").fit(np.zeros((3, 8)))  # background draws are exactly 0
    batch = {
        "magnitude": torch.full((1, 3, 2, 2), -0.5),  # what D would see as vx if it were fed magnitude first
        "velocity": torch.tensor([REAL]),
        "tissue": torch.tensor([[TISSUE]], dtype=torch.float32),
        "myocardium": torch.tensor([[myo]], dtype=torch.float32),
        "venc": torch.tensor([[100.0, 100.0, 150.0]]),
        **(extra or {}),
    }
    model.set_input(batch)
    model.forward()
    return model


def test_composite_is_generator_on_tissue_and_noise_elsewhere() -> None:
    model = build()
    fake = model.fake[0].detach()
    expected = torch.tensor(G_OUT)[:, None, None] * torch.tensor(TISSUE, dtype=torch.float32)
    torch.testing.assert_close(fake, expected, rtol=0, atol=0)


def test_discriminator_loss_is_lsgan_with_real_one_and_fake_zero() -> None:
    losses = build().compute_losses("D")
    # Real vx is 0.3 everywhere: mean (0.3 - 1)^2 = 0.49 (swapped labels: 0.09).
    assert losses["real"].item() == pytest.approx(0.49, abs=1e-6)
    # Fake vx is 0.2 on the 3 tissue pixels and 0 on the background: mean D^2 = 3 * 0.04 / 4 = 0.03
    # (swapped labels: (3 * 0.64 + 1) / 4 = 0.73).
    assert losses["fake"].item() == pytest.approx(0.03, abs=1e-6)
    assert losses["total"].item() == pytest.approx(0.5 * (0.49 + 0.03), abs=1e-6)


def test_generator_loss_terms_and_weights() -> None:
    lambdas = {"lambda_gan": 2.0, "lambda_tissue": 3.0, "lambda_myo": 5.0}
    losses = build(**lambdas).compute_losses("G")
    # Adversarial: the generator wants its composite judged real, mean (D(fake) - 1)^2 = (3 * 0.64 + 1) / 4.
    gan = (3 * (0.2 - 1) ** 2 + (0 - 1) ** 2) / 4
    assert losses["gan"].item() == pytest.approx(gan, abs=1e-6)
    # L1 terms: means over the region's pixels and the three directions.
    l1_tissue = (ABS_SUM[0, 0] + ABS_SUM[0, 1] + ABS_SUM[1, 0]) / (3 * 3)
    l1_myo = ABS_SUM[0, 0] / 3
    assert losses["l1_tissue"].item() == pytest.approx(l1_tissue, abs=1e-6)
    assert losses["l1_myo"].item() == pytest.approx(l1_myo, abs=1e-6)
    total = 2.0 * gan + 3.0 * l1_tissue + 5.0 * l1_myo
    assert losses["total"].item() == pytest.approx(total, abs=1e-5)


def test_myocardium_term_follows_the_myocardium_mask_only() -> None:
    a = build().compute_losses("G")
    b = build(myo=[[0, 1], [0, 0]]).compute_losses("G")
    assert b["l1_myo"].item() == pytest.approx(ABS_SUM[0, 1] / 3, abs=1e-6)
    assert a["l1_myo"].item() != pytest.approx(b["l1_myo"].item(), abs=1e-3)
    # Nothing else depends on the myocardium mask.
    for name in ("gan", "l1_tissue"):
        assert a[name].item() == pytest.approx(b[name].item(), abs=1e-7)


def test_generator_gradient_does_not_reach_the_discriminator() -> None:
    model = build()
    model.compute_losses("G")["total"].backward()
    assert model.netD.gain.grad is None
    # d total / d G's vx value: only through the adversarial term and the L1 terms, all finite.
    assert model.netG.values.grad is not None and torch.isfinite(model.netG.values.grad).all()


def test_l1_terms_ignore_the_tissue_noise(monkeypatch: pytest.MonkeyPatch) -> None:
    # With --tissue_noise physics the composite carries phase noise on the tissue (here a known offset, as
    # a 2x2 image has no background to estimate a noise level from); the L1 terms compare the generator's
    # own output, so they keep their noise-free values.
    monkeypatch.setattr("models.phase.model.add_tissue_noise", lambda v, magnitude, tissue, *level: v + 0.05)
    model = build(tissue_noise="physics")
    assert model.fake[0, 0, 0, 0].item() == pytest.approx(G_OUT[0] + 0.05)
    losses = model.compute_losses("G")
    assert losses["l1_tissue"].item() == pytest.approx((ABS_SUM[0, 0] + ABS_SUM[0, 1] + ABS_SUM[1, 0]) / 9, abs=1e-6)
    assert losses["l1_myo"].item() == pytest.approx(ABS_SUM[0, 0] / 3, abs=1e-6)


def test_noise_free_target_moves_the_l1_terms_but_not_the_discriminator() -> None:
    # The phantom's noise-free map equals the generator's output: the L1 terms vanish, while D still
    # judges the acquired (noisy) map as real, so its terms keep their values.
    truth = torch.tensor(G_OUT)[None, :, None, None].expand(1, 3, 2, 2).clone()
    extra = {"velocity_true": truth, "has_velocity_true": torch.tensor([True])}
    model = build(extra=extra, l1_target="noise_free")
    losses = model.compute_losses("G")
    assert losses["l1_tissue"].item() == pytest.approx(0.0, abs=1e-7)
    assert losses["l1_myo"].item() == pytest.approx(0.0, abs=1e-7)
    assert model.compute_losses("D")["real"].item() == pytest.approx(0.49, abs=1e-6)
    # The default target is the acquired map, whatever the file also carries.
    measured = build(extra=extra).compute_losses("G")
    assert measured["l1_myo"].item() == pytest.approx(ABS_SUM[0, 0] / 3, abs=1e-6)


def test_noise_free_target_without_the_truth_is_refused() -> None:
    extra = {"velocity_true": torch.zeros(1, 3, 2, 2), "has_velocity_true": torch.tensor([False])}
    with pytest.raises(DataError, match="l1_target noise_free"):
        build(extra=extra, l1_target="noise_free")


def test_correction_cost_is_the_l1_of_the_correction_over_the_tissue() -> None:
    # A zero prior: the foreground is G_OUT, so every other term keeps its value and the correction's L1
    # over the 3 tissue pixels and 3 directions is (0.2 + 0 + 0) / 3.
    extra = {"prior": torch.zeros(1, 3, 2, 2)}
    plain = build(extra=extra, prior="kinematic").compute_losses("G")
    priced = build(extra=extra, prior="kinematic", lambda_correction=6.0).compute_losses("G")
    assert "correction" not in plain
    assert priced["correction"].item() == pytest.approx(0.2 / 3, abs=1e-6)
    assert priced["l1_myo"].item() == pytest.approx(plain["l1_myo"].item(), abs=1e-7)
    assert priced["total"].item() == pytest.approx(plain["total"].item() + 6.0 * 0.2 / 3, abs=1e-5)


def test_a_priced_correction_starts_at_zero_and_needs_a_prior() -> None:
    opt = model_options("phase", *SMALL, prior="kinematic", lambda_correction=1.0)
    model = PhaseModel(opt)
    assert torch.count_nonzero(model.netG.head.weight) == 0
    prior = torch.rand(2, 3, 8, 8) * 0.4 - 0.2
    x = model.generator_input(torch.rand(2, 3, 8, 8), None, prior)
    torch.testing.assert_close(model.run_generator(model.netG, x, None, prior), prior)
    with pytest.raises(OptionError, match="lambda_correction"):
        PhaseModel(model_options("phase", *SMALL, lambda_correction=1.0))
