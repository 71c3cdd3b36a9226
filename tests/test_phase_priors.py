"""Stage 2's prior (models/phase/priors.py): which one a run refines (``--prior``, the older
``--population_prior``, saved options of old runs), the cross-fitted kinematic priors of the training
subjects, the prior a sample carries under augmentation, the explicit prior at inference, and
test.py --model phase on a ``--prior kinematic`` run."""

from __future__ import annotations

import argparse
import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import test as test_entry
import train as train_entry
from data import create_dataset
from data.mvm_io import Subject, read_subject
from data.splits import load_splits
from data.transforms import dihedral_velocity, random_dihedral
from models.kinematics.population import fit_population_prior
from models.kinematics.prior import KinematicPrior
from models.kinematics.subject import cross_fit, fold_of, grid_curves
from models.kinematics.templates import KinematicTemplates, fit_templates
from models.loading import PRETRAINED_DIR, load_trained_model
from models.phase.model import PhaseModel
from models.phase.priors import grid_keys, kinematic_curves, resolve_prior_kind, training_curves
from options.train_options import TrainOptions
from util.conventions import venc_scale
from util.errors import DataError, OptionError

SMALL = ["--netG", "unet", "--base_channels", "4", "--depth", "2", "--ndf", "8", "--n_layers_D", "2"]
FAST = ["--batch_size", "2", "--num_workers", "0", "--no_progress", "--no_tensorboard", "--seed", "0", "--gpu", "-1"]
FACTOR = 6


def parse(root: Path, tmp: Path, *extra: str) -> argparse.Namespace:
    args = ["--model", "phase", "--dataroot", str(root), "--checkpoints_dir", str(tmp), *SMALL, *FAST, *extra]
    return TrainOptions().parse(args, save=False)


# ------------------------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("prior", "alias", "kind"),
    [(None, False, "none"), ("none", False, "none"), ("population", False, "population"),
     ("kinematic", False, "kinematic"), (None, True, "population"), ("population", True, "population"),
     ("none", True, "population")],
)  # fmt: skip
def test_the_prior_kind_from_prior_and_its_older_spelling(prior: str | None, alias: bool, kind: str) -> None:
    values = {"population_prior": alias} | ({} if prior is None else {"prior": prior})
    assert resolve_prior_kind(argparse.Namespace(**values)) == kind


def test_kinematic_and_the_older_population_spelling_contradict(tiny_cohort: Path, tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="contradicts --prior kinematic"):
        resolve_prior_kind(argparse.Namespace(prior="kinematic", population_prior=True))
    with pytest.raises(OptionError, match="contradicts --prior kinematic"):
        PhaseModel(parse(tiny_cohort, tmp_path, "--prior", "kinematic", "--population_prior"))
    with pytest.raises(OptionError, match="--prior_folds must be"):
        PhaseModel(parse(tiny_cohort, tmp_path, "--prior", "kinematic", "--prior_folds", "1"))


def test_the_command_line_spellings_build_the_same_generator(tiny_cohort: Path, tmp_path: Path) -> None:
    models = {
        args: PhaseModel(parse(tiny_cohort, tmp_path, *args))
        for args in [(), ("--population_prior",), ("--prior", "population"), ("--prior", "kinematic")]
    }
    kinds = {args: (m.prior_kind, m.opt.prior, m.opt.population_prior) for args, m in models.items()}
    assert kinds == {
        (): ("none", "none", False),
        ("--population_prior",): ("population", "population", True),
        ("--prior", "population"): ("population", "population", True),
        ("--prior", "kinematic"): ("kinematic", "kinematic", False),
    }
    first_conv = {args: next(x for x in m.netG.modules() if isinstance(x, nn.Conv2d)) for args, m in models.items()}
    channels = {args: conv.in_channels for args, conv in first_conv.items()}
    assert channels == {(): 3, ("--population_prior",): 6, ("--prior", "population"): 6, ("--prior", "kinematic"): 6}


def test_options_saved_before_prior_existed_load_as_the_population_prior(older_phase_weights: Path) -> None:
    """An older release's options hold ``population_prior: True`` and no ``prior``; today's shipped twin
    refines the kinematic prior."""
    saved = torch.load(older_phase_weights / "weights.pt", weights_only=True)["options"]
    assert saved["population_prior"] is True and "prior" not in saved
    older = load_trained_model(older_phase_weights, "weights")
    assert older.prior_kind == "population" and older.refines_prior
    assert load_trained_model(PRETRAINED_DIR / "phase", "weights").prior_kind == "kinematic"
    old = argparse.Namespace(**{**PhaseModel.option_defaults(), **saved, "is_train": False, "base_channels": 4})
    assert PhaseModel(old).prior_kind == "population"


def test_train_help_shows_the_prior_options(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        TrainOptions().parse(["--model", "phase", "--help"], save=False)
    shown = " ".join(capsys.readouterr().out.split())
    for flag in ("--prior {none,population,kinematic}", "--population_prior", "--prior_factor", "--prior_folds"):
        assert flag in shown, flag


# ------------------------------------------------------------------------------------ cross-fitting


@pytest.fixture(scope="module")
def cohort(tiny_cohort: Path) -> list[Subject]:
    """Every subject of the tiny cohort, in the sorted order of their files."""
    return [read_subject(p) for p in sorted(tiny_cohort.glob("*.h5"))]


def test_folds_are_round_robin_over_the_sorted_subjects() -> None:
    assert fold_of(7, 3) == [0, 1, 2, 0, 1, 2, 0]
    with pytest.raises(DataError, match="at least 2 folds"):
        fold_of(4, 1)


def test_a_subjects_prior_comes_from_templates_fitted_without_its_fold(cohort: list[Subject]) -> None:
    fitted_from: list[list[str]] = []

    def recording_fit(subjects: list[Subject]) -> KinematicTemplates:
        fitted_from.append([s.subject_id for s in subjects])
        return fit_templates(subjects)

    out = cross_fit(cohort, FACTOR, 2, fit=recording_fit)
    ids = [s.subject_id for s in cohort]
    folds = [ids[0::2], ids[1::2]]
    assert fitted_from == [folds[1], folds[0]]  # fold 0's templates from fold 1 alone, and back
    for i, subject in enumerate(cohort):
        assert subject.subject_id not in fitted_from[i % 2]
        assert not isinstance(out[i], DataError), out[i]
        own = grid_curves(KinematicPrior(fit_templates([cohort[j] for j in range(len(cohort)) if j % 2 != i % 2])),
                          subject, FACTOR)  # fmt: skip
        everyone = grid_curves(KinematicPrior(fit_templates(cohort)), subject, FACTOR)
        for name, curves in out[i].items():
            for key, value in curves.curves.items():
                np.testing.assert_array_equal(value, own[name].curves[key])
            assert not np.array_equal(curves.curves["circumferential"], everyone[name].curves["circumferential"])


def test_a_subject_that_cannot_be_fitted_gets_the_population_prior_and_is_named(
    cohort: list[Subject], capsys: pytest.CaptureFixture
) -> None:
    population = fit_population_prior(s for subject in cohort for s in subject.slices.values())
    # Two folds; one subject lacks the mask of key frame 6 (and so does not enter the other fold's templates).
    labelled = {n: replace(s, labelled_frames=np.array([t for t in range(s.num_frames) if t != 6]))
                for n, s in cohort[0].slices.items()}  # fmt: skip
    curves = training_curves([Subject("unlabelled_key", labelled, {}), *cohort[1:]], population, FACTOR, 2)
    out = capsys.readouterr().out
    assert out.count("note: ") == 1 and "note: unlabelled_key: no kinematic prior" in out and "[6]" in out
    assert curves[1]["mid"].bulk_cm_s is not None  # the others are read from their key frames
    expected = population.curves_at("mid", cohort[0].slices["mid"].num_frames)
    mid = curves[0]["mid"]
    assert mid.bulk_cm_s is None
    np.testing.assert_array_equal(mid.curves["circumferential"], expected["circumferential"])
    np.testing.assert_array_equal(mid.curves["segment_radial"][3], expected["radial"])


def test_a_key_frame_that_registers_badly_is_named_and_kept_out_of_the_rotation_fit(
    cohort: list[Subject], capsys: pytest.CaptureFixture
) -> None:
    subject = cohort[0]
    mid = subject.slices["mid"]
    masks = mid.myocardium.copy()
    # Key frame 6's mask becomes an elongated ring: the first key frame's mask, moved, cannot cover it.
    rows, cols = np.nonzero(masks[6])
    centre, radius = (rows.mean(), cols.mean()), np.hypot(rows - rows.mean(), cols - cols.mean()).mean()
    r, c = np.indices(masks.shape[1:])
    stretched = np.hypot((r - centre[0]) / 1.8, c - centre[1])
    masks[6] = ((stretched >= radius - 2) & (stretched <= radius + 2)).astype(masks.dtype)
    odd = Subject(subject.subject_id, {**subject.slices, "mid": replace(mid, myocardium=masks)}, subject.attrs)
    population = fit_population_prior(s for other in cohort[1:] for s in other.slices.values())
    curves = kinematic_curves(fit_templates(cohort[1:]), population, odd, grid_keys(odd, FACTOR))
    out = capsys.readouterr().out
    assert f"note: {subject.subject_id}, slice 'mid': key frame 6 registers badly (Dice 0." in out
    assert "population prior stands in" not in out  # the subject keeps its kinematic prior
    assert curves["mid"].bulk_cm_s is not None


def _train_one_step(root: Path, ckpt: Path, *extra: str) -> str:
    """One step of a run on one training subject (too few to fit kinematic templates); its console."""
    args = ["--model", "phase", "--dataroot", str(root), "--name", "r", "--checkpoints_dir", str(ckpt),
            "--n_epochs", "1", "--steps_per_epoch", "1", "--max_subjects", "1", "--val_max_batches", "1",
            *FAST, *extra]  # fmt: skip
    train_entry.main(args)
    return (ckpt / "r").as_posix()


def _assert_the_shipped_templates(weights: Path) -> None:
    """The run's weights hold exactly the shipped twin's kinematic templates."""
    shipped = torch.load(PRETRAINED_DIR / "phase" / "weights.pt", weights_only=True)["extra_state"]
    saved = torch.load(weights, weights_only=True)["extra_state"]
    assert saved["kinematic_templates"].keys() == shipped["kinematic_templates"].keys()
    for key, value in shipped["kinematic_templates"].items():
        if isinstance(value, torch.Tensor):
            torch.testing.assert_close(saved["kinematic_templates"][key], value, rtol=0, atol=0)


def test_fine_tuning_on_a_small_cohort_keeps_the_templates_it_started_from(
    tiny_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _train_one_step(tiny_cohort, tmp_path, "--init_weights", "pretrained")
    out = capsys.readouterr().out
    said = [line for line in out.splitlines() if line.startswith("kinematic templates: ")]
    assert len(said) == 1 and "those of" in said[0] and "pretrained" in said[0], out
    assert "population prior" not in out  # every subject's prior is fitted with the shipped templates
    _assert_the_shipped_templates(tmp_path / "r" / "weights.pt")


def test_fine_tuning_on_a_cohort_that_fits_templates_but_cannot_cross_fit_them_keeps_the_started_ones(
    tiny_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Two training subjects fit templates of their own, but not without either of them: the network would
    train on the population prior and then be used on the kinematic one. The run keeps the templates it
    started from, says so in one line, and every training subject gets a kinematic prior."""
    args = ["--model", "phase", "--dataroot", str(tiny_cohort), "--name", "r", "--checkpoints_dir", str(tmp_path),
            "--n_epochs", "1", "--steps_per_epoch", "1", "--max_subjects", "2", "--val_max_batches", "1",
            *FAST, "--init_weights", "pretrained"]  # fmt: skip
    train_entry.main(args)
    out = capsys.readouterr().out
    said = [line for line in out.splitlines() if line.startswith("kinematic templates: ")]
    assert said[-1].startswith("kinematic templates: those of ")
    assert "after all (the 2 training subject(s) fit their own but cannot cross-fit them" in said[-1]
    assert "population prior" not in out, out
    _assert_the_shipped_templates(tmp_path / "r" / "weights.pt")


def test_a_kinematic_run_left_with_the_population_prior_says_so_once(
    tiny_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _train_one_step(tiny_cohort, tmp_path, *SMALL, "--prior", "kinematic")
    out = capsys.readouterr().out
    said = [line for line in out.splitlines() if "population prior" in line]
    assert len(said) == 1, out
    assert said[0].startswith("warning: --prior kinematic: 1 of 1 training, 1 of 1 validation subject(s) have no "
                              "kinematic prior and use the population prior")  # fmt: skip


def test_a_run_without_the_kinematic_prior_says_nothing_of_its_templates(
    tiny_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _train_one_step(tiny_cohort, tmp_path, *SMALL, "--prior", "none")
    assert "kinematic" not in capsys.readouterr().out


# ------------------------------------------------------------------------------- samples and batches


def test_the_prior_of_a_sample_turns_with_the_augmentation(tiny_cohort: Path, tmp_path: Path) -> None:
    plain = create_dataset(parse(tiny_cohort, tmp_path, "--prior", "kinematic"), "train")
    turned = create_dataset(parse(tiny_cohort, tmp_path, "--prior", "kinematic", "--augment"), "train")
    model = PhaseModel(parse(tiny_cohort, tmp_path, "--prior", "kinematic"))
    model.prepare_training(plain)
    turned.prior_of = plain.prior_of
    seen = set()
    for index in range(0, len(plain), 11):
        a, b = plain[index], turned[index]
        i, t = plain.items[index]
        k_rot, flip = random_dihedral(turned.rng(index), tuple(a["magnitude"].shape))
        seen.add((k_rot, flip))
        venc = venc_scale(plain.slices[i].venc_cm_s, ndim=3)
        cm_s = plain.prior_of(i, t, a["myocardium"][0].numpy())
        np.testing.assert_array_equal(a["prior"].numpy(), (cm_s / venc).astype(np.float32))
        expected = (dihedral_velocity(cm_s, k_rot, flip) / venc).astype(np.float32)
        np.testing.assert_array_equal(b["prior"].numpy(), expected)
        # Exactly as the velocity turns.
        velocity = a["velocity"].numpy() * venc
        np.testing.assert_allclose(b["velocity"].numpy(), dihedral_velocity(velocity, k_rot, flip) / venc, atol=1e-6)
        assert float(a["prior"].abs().max()) > 0
    assert len(seen) > 2


def test_a_kinematic_generator_needs_its_prior_and_a_plain_one_takes_none(tiny_cohort: Path, tmp_path: Path) -> None:
    kinematic = PhaseModel(parse(tiny_cohort, tmp_path, "--prior", "kinematic"))
    plain = PhaseModel(parse(tiny_cohort, tmp_path))
    magnitude, myo = torch.zeros(2, 3, 16, 16), torch.zeros(2, 1, 16, 16)
    with pytest.raises(OptionError, match=r"refines the kinematic prior \(--prior kinematic\): pass"):
        kinematic.synthesise(magnitude, myo)
    with pytest.raises(OptionError, match="must be \\[B, 3, H, W\\]"):
        kinematic.synthesise(magnitude, myo, prior=torch.zeros(2, 3, 8, 16))
    prior = torch.full((2, 3, 16, 16), 0.25)
    zero = kinematic.foreground_velocity(magnitude, myo, prior=torch.zeros_like(prior))
    # The prior is an input and is added to the output: the network's own part is the same function of it.
    assert kinematic.foreground_velocity(magnitude, myo, prior=prior).shape == (2, 3, 16, 16)
    assert not torch.equal(kinematic.foreground_velocity(magnitude, myo, prior=prior), zero)
    with pytest.raises(OptionError, match="refines no prior"):
        plain.synthesise(magnitude, myo, prior=prior)


# ------------------------------------------------------------------------------------ train -> test


@pytest.fixture(scope="module")
def kinematic_run(tiny_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ckpt = tmp_path_factory.mktemp("kinematic_run")
    train_entry.main(["--model", "phase", "--dataroot", str(tiny_cohort), "--checkpoints_dir", str(ckpt), *SMALL,
                      *FAST, "--name", "kin", "--prior", "kinematic", "--n_epochs", "1", "--steps_per_epoch", "2",
                      "--val_max_batches", "1"])  # fmt: skip
    return ckpt


def test_a_kinematic_run_saves_its_prior_and_test_refines_each_subjects(
    kinematic_run: Path, tiny_cohort: Path, tmp_path: Path
) -> None:
    model = load_trained_model(kinematic_run / "kin", "best")
    assert model.prior_kind == "kinematic" and model.kinematics.ready and model.population.ready
    saved = torch.load(kinematic_run / "kin" / "weights.pt", weights_only=True)["options"]
    assert (saved["prior"], saved["population_prior"], saved["prior_factor"], saved["prior_folds"]) == (
        "kinematic", False, 6, 5
    )  # fmt: skip
    test_entry.main(["--model", "phase", "--dataroot", str(tiny_cohort), "--checkpoints_dir", str(kinematic_run),
                     "--results_dir", str(tmp_path), "--name", "kin", "--gpu", "-1", "--no_progress"])  # fmt: skip
    with (tmp_path / "kin" / "phase" / "metrics.csv").open(newline="") as fh:
        rows = {r["method"]: r for r in csv.DictReader(fh)}
    assert float(rows["fg_bg_gan"]["vel_mae_myo_cm_s"]) > 0
    name = load_splits(tiny_cohort)["test"][0]
    twin = read_subject(tmp_path / "kin" / "phase" / "subjects" / f"{name}.h5", require_velocity=True)
    assert all(np.isfinite(s.velocity).all() for s in twin.slices.values())
