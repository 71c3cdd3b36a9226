"""The yardsticks beside the model (zero, population prior, Fourier interpolation), the skill score, the
cycle-aware generator, and the shipped twin."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import model_options

from assessment.velocity import velocity_curves, velocity_from_components
from data.mvm_io import SliceData, Subject
from data.transforms import neighbour_indices
from models.interp.inference import fourier_cine, fourier_weights, linear_cine
from models.kinematics.population import CYCLE_BINS, PopulationPrior, fit_population_prior, periodic_resample
from models.phase.conditioning import FrameContext, cycle_condition, prior_velocity
from models.phase.evaluation import ZERO, add_skill, comparison_maps
from models.phase.model import PhaseModel
from util.errors import DataError, OptionError

T, SIZE = 50, 48


def ring(t_count: int = T) -> np.ndarray:
    rows, cols = np.mgrid[:SIZE, :SIZE]
    r = np.hypot(rows - 23.5, cols - 23.5)
    return np.repeat(((r > 9) & (r < 15))[None], t_count, axis=0).astype(np.uint8)


def curves_of(shift: float, t_count: int = T) -> dict[str, np.ndarray]:
    angle = 2 * np.pi * (np.arange(t_count) / t_count + shift)
    return {"radial": 3 * np.sin(angle), "circumferential": np.cos(2 * angle), "longitudinal": 6 * np.cos(angle)}


def slice_with(curves: dict[str, np.ndarray], position: str = "basal", z: int = 1) -> SliceData:
    mask = ring(len(curves["radial"]))
    t_count = mask.shape[0]
    return SliceData(
        name=position,
        magnitude=np.ones((t_count, SIZE, SIZE), np.float32),
        velocity=velocity_from_components(curves, mask, z),
        myocardium=mask,
        venc_cm_s=np.array([20.0, 20.0, 30.0]),
        pixel_spacing_mm=np.array([1.5, 1.5]),
        rr_interval_ms=1000.0,
        slice_position=position,
        z_towards_apex=z,
    )


# ----------------------------------------------------------------------------------------- skill


def test_the_zero_map_scores_skill_zero_and_a_perfect_one_skill_one() -> None:
    rows = [
        {"method": ZERO, "vel_mae_myo_cm_s": 2.0, "vel_mae_myo_true_cm_s": 1.6},
        {"method": "model", "vel_mae_myo_cm_s": 1.5, "vel_mae_myo_true_cm_s": 0.4},
        {"method": "perfect", "vel_mae_myo_cm_s": 0.5, "vel_mae_myo_true_cm_s": 0.0},
    ]
    add_skill(rows)
    assert [r["vel_skill"] for r in rows] == [0.0, pytest.approx(0.75), 1.0]  # on the error against the truth


def test_skill_uses_the_measured_error_where_there_is_no_truth() -> None:
    rows = [
        {"method": ZERO, "vel_mae_myo_cm_s": 2.0, "vel_mae_myo_true_cm_s": math.nan},
        {"method": "m", "vel_mae_myo_cm_s": 1.0},
    ]
    add_skill(rows)
    assert rows[1]["vel_skill"] == pytest.approx(0.5)


def test_the_zero_yardstick_is_zero_everywhere() -> None:
    subject = Subject("s", {"basal": slice_with(curves_of(0.0))})
    maps = comparison_maps(subject, PopulationPrior(), None, 6)["basal"]
    assert set(maps) == {"zero"} and maps["zero"].shape == (T, 3, SIZE, SIZE) and not maps["zero"].any()


def test_stage_two_gets_the_population_rows_of_the_chain() -> None:
    # with a population prior: population on the file's masks, and population_bulk, which on a still ring
    # (no bulk motion of the key-frame masks) is the same map
    prior = fit_population_prior([slice_with(curves_of(0.1))])
    subject = Subject("s", {"basal": slice_with(curves_of(0.0))})
    maps = comparison_maps(subject, prior, None, 6)["basal"]
    assert list(maps) == ["zero", "population", "population_bulk"]
    venc = np.array([20.0, 20.0, 30.0], dtype=np.float32)[None, :, None, None]
    np.testing.assert_allclose(maps["population"], prior.velocity(subject.slices["basal"]) / venc)
    np.testing.assert_allclose(maps["population_bulk"], maps["population"], atol=1e-6)


# ------------------------------------------------------------------------------------- population


def test_population_on_a_subject_equal_to_the_training_mean_gives_its_curves_back() -> None:
    # Two training slices whose curves (the subject's, scaled by 0.5 and by 1.5) average to the subject's.
    base = curves_of(0.1)
    training = [slice_with({k: f * v for k, v in base.items()}) for f in (0.5, 1.5)]
    prior = fit_population_prior(training)
    assert prior.counts == {"basal": 2}
    subject = slice_with(base)
    placed = prior.velocity(subject)
    got = velocity_curves(placed, subject.myocardium, "basal").global_curves
    for name, curve in base.items():
        np.testing.assert_allclose(got[name], curve, atol=1e-4)


def test_population_follows_the_cycle_fraction_not_the_frame_number() -> None:
    prior = fit_population_prior([slice_with(curves_of(0.0))])
    shorter = prior.curves_at("basal", 25)  # the same heart sampled with 25 frames
    for name, curve in curves_of(0.0, 25).items():
        np.testing.assert_allclose(shorter[name], curve, atol=0.02 * np.abs(curve).max())


def test_population_turns_longitudinal_with_the_slice_orientation() -> None:
    prior = fit_population_prior([slice_with(curves_of(0.0), z=1)])
    flipped = slice_with(curves_of(0.0), z=-1)
    vz_up, vz_down = prior.velocity(slice_with(curves_of(0.0)))[:, 2], prior.velocity(flipped)[:, 2]
    np.testing.assert_allclose(vz_down, -vz_up, atol=1e-6)


def test_population_without_the_slice_position_and_round_trip_of_its_state() -> None:
    prior = fit_population_prior([slice_with(curves_of(0.0), "apical")])
    with pytest.raises(DataError, match="no 'basal' slices"):
        prior.curves_at("basal", T)
    again = PopulationPrior.from_state(prior.state_dict())
    np.testing.assert_array_equal(again.curves["apical"], prior.curves["apical"])
    assert again.curves["apical"].shape == (3, CYCLE_BINS)


def test_periodic_resample_wraps_around_the_cycle() -> None:
    curve = np.array([0.0, 1.0, 2.0, 3.0])
    np.testing.assert_allclose(periodic_resample(curve, np.array([0.875, 1.25])), [1.5, 1.0])


# -------------------------------------------------------------------------------------- Fourier


def test_fourier_interpolation_is_exact_on_a_band_limited_cycle() -> None:
    t = np.arange(30)[:, None, None] / 30
    rows, cols = np.mgrid[:8, :8] / 8
    cine = 0.5 + 0.2 * np.cos(2 * np.pi * (t + rows)) + 0.1 * np.sin(4 * np.pi * (t + cols))  # harmonics 1, 2
    cine[:, 0, :2] = 2.0  # a bright, still corner sets the magnitude scale, so nothing else is clipped
    keys = list(range(0, 30, 6))  # 5 key frames carry harmonics 0..2
    masks = np.zeros((5, 8, 8), np.uint8)
    rec = fourier_cine(cine[keys].astype(np.float32), masks, keys, 30)
    np.testing.assert_allclose(rec.unit * rec.scale, cine, atol=1e-5)
    assert rec.scale == pytest.approx(np.percentile(cine[keys], 99.5))
    linear = linear_cine(cine[keys].astype(np.float32), masks, keys, 30)
    assert np.abs(linear.magnitude - cine).max() > 0.05  # which linear interpolation is not


def test_fourier_weights_reproduce_the_key_frames() -> None:
    weights = fourier_weights([0, 7, 14, 21, 28], 35)
    np.testing.assert_allclose(weights[[0, 7, 14, 21, 28]], np.eye(5), atol=1e-12)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)  # a constant stays constant


# --------------------------------------------------------------------------------- conditioning


def test_the_cycle_condition_changes_the_generator_output() -> None:
    torch.manual_seed(0)
    opt = model_options("phase", "--base_channels", "4", "--depth", "2", "--netG", "unet", "--cycle_conditioning")
    model = PhaseModel(opt)
    magnitude = torch.rand(2, 3, 16, 16) * 2 - 1

    def at(fraction: float, position: int) -> torch.Tensor:
        context = FrameContext(torch.full((2,), fraction), torch.full((2,), position), torch.ones(2), torch.ones(2, 3))
        return model.foreground_velocity(magnitude, None, context)

    systole, diastole, apex = at(0.2, 0), at(0.6, 0), at(0.2, 2)
    assert not torch.allclose(systole, diastole) and not torch.allclose(systole, apex)
    with pytest.raises(OptionError, match="--cycle_conditioning"):
        model.foreground_velocity(magnitude)


def test_cycle_condition_is_periodic_and_one_hot_in_the_slice() -> None:
    features = cycle_condition(torch.tensor([0.0, 1.0, 0.25]), torch.tensor([0, 1, 2]))
    torch.testing.assert_close(features[0, :4], features[1, :4], atol=1e-6, rtol=0)
    torch.testing.assert_close(features[2, :4], torch.tensor([1.0, 0.0, 0.0, -1.0]), atol=1e-6, rtol=0)
    assert features[:, 4:].argmax(dim=1).tolist() == [0, 1, 2]


def test_the_prior_channel_is_the_population_yardstick() -> None:
    prior = fit_population_prior([slice_with(curves_of(0.1), "mid", z=-1)])
    s = slice_with(curves_of(0.1), "mid", z=-1)
    frames = np.array([3, 17, 40])
    context = FrameContext.of_slice(frames, T, s)
    mask = torch.from_numpy(s.myocardium[frames, None].astype(np.float32))
    batched = prior_velocity(prior, mask, context).numpy()
    expected = prior.velocity(s)[frames] / s.venc_cm_s[None, :, None, None]
    np.testing.assert_allclose(batched, expected, atol=1e-5)


def test_a_prior_refining_generator_starts_from_the_prior() -> None:
    torch.manual_seed(0)
    opt = model_options("phase", "--base_channels", "4", "--depth", "2", "--netG", "unet", "--population_prior")
    model = PhaseModel(opt)
    assert model.network("netG").in_channels == 6
    s = slice_with(curves_of(0.1))
    model.population = fit_population_prior([s])
    frames = np.array([5, 30])
    context = FrameContext.of_slice(frames, T, s)
    mask = torch.from_numpy(s.myocardium[frames, None].astype(np.float32))
    magnitude = torch.zeros(2, 3, SIZE, SIZE)
    torch.nn.init.zeros_(model.network("netG").head.weight)
    torch.nn.init.zeros_(model.network("netG").head.bias)  # a network that adds nothing: tanh(0) = 0
    out = model.foreground_velocity(magnitude, mask, context)
    torch.testing.assert_close(out, prior_velocity(model.population, mask, context))
    with pytest.raises(OptionError, match="refines the population prior"):
        model.foreground_velocity(magnitude, mask)


def test_a_wider_window_takes_the_frames_around_t_cyclically() -> None:
    assert neighbour_indices(0, 10, 5).tolist() == [8, 9, 0, 1, 2]
    assert neighbour_indices(np.array([9]), 10).tolist() == [[8, 9, 0]]
    opt = model_options("phase", "--base_channels", "4", "--depth", "2", "--netG", "unet", "--temporal_window", "5")
    model = PhaseModel(opt)
    assert model.network("netG").in_channels == 5 and model.network("netD").in_channels == 8
    with pytest.raises(OptionError, match="must be odd"):
        PhaseModel(model_options("phase", "--base_channels", "4", "--depth", "2", "--temporal_window", "4"))
