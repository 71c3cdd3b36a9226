"""The stage datasets: sample contents, cyclic key frames, subject splits, crops and augmentation."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from data import create_dataset
from data.cycle import interpolation_targets, key_frame_grid, time_conditioning
from data.mvm_io import read_subject, write_subject
from data.samples.interp_dataset import InterpDataset
from data.samples.phase_dataset import PhaseDataset
from data.splits import load_splits
from util.errors import DataError, OptionError
from util.intensity import magnitude_scale


def options(root: Path, **extra) -> argparse.Namespace:
    base = {"dataroot": str(root), "seed": 0, "crop_size": 0, "max_subjects": 0, "factor": 6, "augment": False}
    base.update(extra)
    return argparse.Namespace(**base)


def test_key_frame_grid_and_targets_wrap_around_the_cycle() -> None:
    assert key_frame_grid(50, 6) == [0, 6, 12, 18, 24, 30, 36, 42, 48]
    targets = interpolation_targets(50, 6)
    assert len(targets) == 50 - 9
    assert targets[0] == (1, 0, 6) and targets[-1] == (49, 48, 50)
    np.testing.assert_allclose(time_conditioning(49, 48, 50, 50), [0.5, 0.96, 0.0, 0.98])
    np.testing.assert_allclose(time_conditioning(2, 0, 6, 24), [1 / 3, 0.0, 0.25, 2 / 24])


def test_interp_test_samples_cover_every_non_key_frame(tiny_cohort: Path) -> None:
    ds = InterpDataset(options(tiny_cohort, factor=5), "test")
    test_subject = load_splits(tiny_cohort)["test"][0]
    assert {e.subject_id for e in ds.slices} == {test_subject}
    assert len(ds) == 3 * (24 - len(key_frame_grid(24, 5)))
    sample = ds[len(ds) // 3 - 1]  # the last target of the first slice: frame 23, between keys 20 and 24 (= 0)
    assert sample["frame"] == 23
    np.testing.assert_allclose(sample["time"].numpy(), [0.75, 20 / 24, 0.0, 23 / 24], rtol=1e-6)
    assert sample["key_magnitude"].shape == (2, 64, 64) and sample["target_magnitude"].shape == (1, 64, 64)
    assert float(sample["key_magnitude"].min()) >= -1.0 and float(sample["key_magnitude"].max()) <= 1.0
    # The samples hold the file's frames: key frames 20 and 0, target 23, scaled by the slice's scale.
    entry = ds.slices[0]
    mag = read_subject(entry.path).slices[entry.slice_name].magnitude
    expected = np.clip(mag[[20, 0]] / magnitude_scale(mag), 0, 1) * 2 - 1
    np.testing.assert_allclose(sample["key_magnitude"].numpy(), expected, atol=1e-6)
    myo = read_subject(entry.path).slices[entry.slice_name].myocardium
    np.testing.assert_array_equal(sample["target_mask"][0].numpy(), myo[23])


def test_interp_training_draws_change_with_epoch_but_not_with_worker(tiny_cohort: Path) -> None:
    ds = InterpDataset(options(tiny_cohort, factors=[2, 3, 4]), "train")
    assert len(ds) == 3 * 3 * 24  # 3 training subjects x 3 slices x one item per first key frame
    a = [float(ds[i]["time"][0]) for i in range(20)]
    assert a == [float(ds[i]["time"][0]) for i in range(20)]
    ds.set_epoch(1)
    assert a != [float(ds[i]["time"][0]) for i in range(20)]
    alphas = {round(float(ds[i]["time"][0]), 4) for i in range(200)}
    assert alphas <= {0.5, round(1 / 3, 4), round(2 / 3, 4), 0.25, 0.75}


def test_splits_never_share_subjects(tiny_cohort: Path) -> None:
    seen = {}
    for split in ("train", "val", "test"):
        ds = PhaseDataset(options(tiny_cohort), split, window=3)
        seen[split] = {e.subject_id for e in ds.slices}
    assert not (seen["train"] & seen["val"]) and not (seen["train"] & seen["test"]) and not (seen["val"] & seen["test"])
    assert sum(len(v) for v in seen.values()) == 5


def test_phase_sample_contents(tiny_cohort: Path) -> None:
    ds = PhaseDataset(options(tiny_cohort), "val", window=3)
    assert len(ds) == 3 * 24
    sample = ds[0]  # frame 0: neighbours are frames 23 and 1
    entry = ds.slices[0]
    s = read_subject(entry.path).slices[entry.slice_name]
    scale = magnitude_scale(s.magnitude)
    np.testing.assert_allclose(
        sample["magnitude"].numpy(), np.clip(s.magnitude[[23, 0, 1]] / scale, 0, 1) * 2 - 1, atol=1e-6
    )
    np.testing.assert_allclose(sample["velocity"].numpy(), s.velocity[0] / s.venc_cm_s[:, None, None], rtol=1e-6)
    assert float(sample["velocity"].abs().max()) <= 1.0
    assert bool(sample["has_velocity_true"]) and sample["tissue"].shape == (1, 64, 64)
    # The tissue mask from the magnitude covers the myocardium.
    myo = sample["myocardium"].bool()
    assert (sample["tissue"].bool() & myo).sum() >= 0.95 * myo.sum()


def test_augmentation_turns_the_velocity_vector(tiny_cohort: Path) -> None:
    plain = PhaseDataset(options(tiny_cohort), "train", window=3)
    aug = PhaseDataset(options(tiny_cohort, augment=True), "train", window=3)
    seen_turn = False
    for index in range(12):
        a, b = plain[index], aug[index]
        # Whatever the draw, the speed map is a rearrangement of the same pixels.
        speed_a = torch.linalg.vector_norm(a["velocity"][:2], dim=0)
        speed_b = torch.linalg.vector_norm(b["velocity"][:2], dim=0)
        matches = []
        for k in range(4):
            for flip in (False, True):
                cand = torch.rot90(speed_a, k, dims=(0, 1))
                cand = cand.flip(-1) if flip else cand
                matches.append(torch.allclose(cand, speed_b, atol=1e-6))
        assert any(matches)
        seen_turn |= not torch.equal(a["velocity"], b["velocity"])
    assert seen_turn


def test_crop_and_unusable_inputs(tiny_cohort: Path, tmp_path: Path) -> None:
    ds = PhaseDataset(options(tiny_cohort, crop_size=32), "val", window=3)
    assert ds.image_size == (32, 32) and ds[5]["magnitude"].shape == (3, 32, 32)
    with pytest.raises(DataError, match="--crop_size 96 is larger than the image"):
        PhaseDataset(options(tiny_cohort, crop_size=96), "val", window=3)
    with pytest.raises(OptionError, match="--factor/--factors must be >= 2"):
        InterpDataset(options(tiny_cohort, factor=1), "val")
    with pytest.raises(OptionError, match="too few for factor 30"):
        InterpDataset(options(tiny_cohort, factor=30), "val")

    root = tmp_path / "imported"
    shutil.copytree(tiny_cohort, root)
    subject = read_subject(root / "subject_000.h5")
    subject.slices["mid"].attrs["mask_source"] = "none"
    write_subject(root / "subject_000.h5", subject)
    with pytest.raises(DataError, match=r"subject_000\.h5: slice 'mid': has no myocardium masks"):
        PhaseDataset(options(root), "all", window=3)


def test_persistent_workers_follow_the_epoch(tiny_cohort: Path) -> None:
    from torch.utils.data import DataLoader

    ds = InterpDataset(options(tiny_cohort, factors=[2, 3, 4, 5, 6]), "train")
    loader = DataLoader(ds, batch_size=16, num_workers=1, persistent_workers=True)
    seen = []
    for epoch in (0, 1):
        ds.set_epoch(epoch)
        batch = next(iter(loader))
        expected = torch.stack([ds[i]["time"] for i in range(16)])
        torch.testing.assert_close(batch["time"], expected)
        seen.append(batch["time"])
    assert not torch.equal(seen[0], seen[1])


def test_the_phase_window_comes_from_the_model_option_once(tiny_cohort: Path) -> None:
    ds = create_dataset(options(tiny_cohort, dataset_mode="phase", temporal_window=5), "val")
    assert ds.window == 5
    assert ds[0]["magnitude"].shape[0] == 5
