"""The chained HDL pipeline: key-frame selection, the predictor (shapes, units, key frames, key-frame-only
input, the linear baseline, determinism) and test.py --model hdl end to end, on two tiny trained runs."""

from __future__ import annotations

import csv
import math
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import ndimage

import test as test_entry
import train as train_entry
from data.keyframes import key_frames_of
from data.mvm_io import SliceData, Subject, read_subject, write_subject
from data.splits import load_splits
from models.hdl.evaluation import METHODS, correction_lines
from models.hdl.predictor import WALL_BAND, HDLPredictor
from models.kinematics.population import PopulationPrior
from models.kinematics.subject import SliceCurves
from models.rows import yardstick_twins
from util.conventions import CORRECTION_ATTR
from util.errors import DataError, OptionError
from util.intensity import magnitude_scale, to_unit_range

FACTOR = 6
FAST = ["--n_epochs", "1", "--steps_per_epoch", "2", "--batch_size", "4", "--num_workers", "0", "--gpu", "-1"]
QUIET = ["--no_progress", "--no_tensorboard", "--val_max_batches", "1", "--seed", "0"]
TINY_INTERP = ["--base_channels", "4", "--depth", "2", "--time_dim", "8", "--factor", str(FACTOR)]
TINY_PHASE = ["--base_channels", "4", "--depth", "2", "--netG", "unet", "--ndf", "8", "--n_layers_D", "2"]


@pytest.fixture(scope="module")
def runs(tiny_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """checkpoints/ with hdl_interp, hdl_phase and hdl_phase_l1, each trained for two steps."""
    ckpt = tmp_path_factory.mktemp("checkpoints")
    common = ["--dataroot", str(tiny_cohort), "--checkpoints_dir", str(ckpt), *FAST, *QUIET]
    train_entry.main(["--model", "interp", "--name", "hdl_interp", *common, *TINY_INTERP])
    train_entry.main(["--model", "phase", "--name", "hdl_phase", *common, *TINY_PHASE])
    train_entry.main(["--model", "phase", "--name", "hdl_phase_l1", *common, *TINY_PHASE, "--l1_only"])
    return ckpt


@pytest.fixture(scope="module")
def predictor(runs: Path) -> HDLPredictor:
    return HDLPredictor.from_runs(runs / "hdl_interp", runs / "hdl_phase", device="cpu", batch_size=7)


@pytest.fixture(scope="module")
def test_slice(tiny_cohort: Path) -> SliceData:
    name = load_splits(tiny_cohort)["test"][0]
    return read_subject(tiny_cohort / f"{name}.h5").slices["mid"]


@pytest.fixture(scope="module")
def full_twin(predictor: HDLPredictor, test_slice: SliceData) -> SliceData:
    """The twin of the test slice from its full cine, down-sampled by FACTOR."""
    return predictor.predict_slice(test_slice, FACTOR)


def key_frame_slice(s: SliceData, keys: list[int]) -> SliceData:
    """``s`` as a down-sampled acquisition: only the key frames and their masks, no velocity."""
    return replace(
        s,
        magnitude=s.magnitude[keys],
        myocardium=s.myocardium[keys],
        velocity=None,
        velocity_true=None,
        tissue=None,
        lv_blood=None,
        rv_blood=None if s.rv_blood is None else s.rv_blood[keys],
        frame_index=np.asarray(keys),
        n_frames=s.num_frames,
    )


# ------------------------------------------------------------------------------------------ key frames


def test_key_frames_of_full_cines_and_key_frame_only_slices(test_slice: SliceData) -> None:
    keys = key_frames_of(test_slice, FACTOR)
    assert keys.frames == keys.stored == (0, 6, 12, 18) and keys.n_frames == 24
    assert keys.is_key().sum() == 4 and keys.is_key()[12]
    indexed = key_frames_of(key_frame_slice(test_slice, [1, 5, 13]), None)
    assert indexed.frames == (1, 5, 13) and indexed.stored == (0, 1, 2) and indexed.n_frames == 24
    consecutive = key_frames_of(replace(test_slice, magnitude=test_slice.magnitude[:5]), 4, keyframes_only=True)
    assert consecutive.frames == (0, 4, 8, 12, 16) and consecutive.n_frames == 20
    with pytest.raises(DataError, match="too few for factor 30"):
        key_frames_of(test_slice, 30)
    with pytest.raises(DataError, match="factor >= 2"):
        key_frames_of(test_slice, None)


# ------------------------------------------------------------------------------------------- predictor


def test_predict_slice_shapes_units_and_key_frames(full_twin: SliceData, test_slice: SliceData) -> None:
    out = full_twin
    t, h, w = test_slice.magnitude.shape
    assert out.magnitude.shape == (t, h, w) and out.magnitude.dtype == test_slice.magnitude.dtype
    assert out.myocardium.shape == (t, h, w) and out.myocardium.dtype == np.uint8
    assert set(np.unique(out.myocardium)) <= {0, 1}
    assert out.velocity.shape == (t, 3, h, w) and out.velocity.dtype == np.float32
    assert out.frame_index is None and out.n_frames is None
    keys = [0, 6, 12, 18]
    # Key frames are the input, bit for bit.
    np.testing.assert_array_equal(out.magnitude[keys], test_slice.magnitude[keys])
    np.testing.assert_array_equal(out.myocardium[keys], test_slice.myocardium[keys])
    # Synthesised magnitudes are in the input's units: within [0, key-frame scale].
    scale = magnitude_scale(test_slice.magnitude[keys])
    assert out.attrs["magnitude_scale"] == pytest.approx(scale)
    others = np.setdiff1d(np.arange(t), keys)
    assert out.magnitude[others].min() >= 0 and out.magnitude[others].max() <= scale * (1 + 1e-5)
    # Velocity in cm/s: the tanh output and the background noise are within [-VENC, VENC] per direction.
    assert np.all(np.isfinite(out.velocity))
    venc = np.asarray(test_slice.venc_cm_s, dtype=np.float32)
    assert np.all(np.abs(out.velocity) <= venc[None, :, None, None] * (1 + 1e-5))
    assert np.abs(out.velocity).max(axis=(0, 2, 3)) == pytest.approx(venc, rel=0.05)  # noise reaches +-VENC
    assert out.attrs["key_frames"].tolist() == keys and out.attrs["synthesised_by"] == "hdl"
    # Acquisition attributes are carried over; the twin knows its septum.
    assert out.rr_interval_ms == test_slice.rr_interval_ms and out.slice_position == test_slice.slice_position
    assert out.rv_insertion_deg is not None


def test_key_frame_only_input_gives_the_same_twin(
    predictor: HDLPredictor, test_slice: SliceData, full_twin: SliceData, tmp_path: Path
) -> None:
    full = full_twin
    keys = [0, 6, 12, 18]
    path = write_subject(tmp_path / "keys.h5", Subject("keys", {"mid": key_frame_slice(test_slice, keys)}))
    stored = read_subject(path, require_velocity=False).slices["mid"]
    twin = predictor.predict_slice(stored, None)  # frame_index and n_frames say everything
    # Same key frames, same seed, same slice name: the same twin, background noise included.
    for name in ("magnitude", "myocardium", "velocity"):
        np.testing.assert_array_equal(getattr(twin, name), getattr(full, name), err_msg=name)


def test_linear_baseline_blends_key_frames(predictor: HDLPredictor, test_slice: SliceData) -> None:
    baseline = HDLPredictor(None, predictor.phase_model, interpolation="linear")
    assert baseline.name == "baseline"
    out = baseline.predict_slice(test_slice, FACTOR)
    keys = [0, 6, 12, 18]
    scale = magnitude_scale(test_slice.magnitude[keys])
    unit = to_unit_range(test_slice.magnitude, scale)
    for target, k0, k1 in ((3, 0, 6), (8, 6, 12), (21, 18, 0)):
        alpha = ((target - k0) % 24) / FACTOR
        expected = ((1 - alpha) * unit[k0] + alpha * unit[k1]) * scale
        np.testing.assert_allclose(out.magnitude[target], expected, rtol=1e-5, atol=1e-3 * scale)
    # Masks: the nearer key frame's, the first one at the midpoint.
    np.testing.assert_array_equal(out.myocardium[3], test_slice.myocardium[0])
    np.testing.assert_array_equal(out.myocardium[4], test_slice.myocardium[6])
    with pytest.raises(OptionError, match="needs a stage-1 model"):
        HDLPredictor(None, predictor.phase_model)


def test_the_noise_generator_depends_on_the_seed_and_slice_only(predictor: HDLPredictor) -> None:
    def draws(p: HDLPredictor, name: str) -> torch.Tensor:
        return torch.rand(1000, generator=p.generator(name))

    same = HDLPredictor(predictor.interp_model, predictor.phase_model, device="cpu", seed=predictor.seed)
    other = HDLPredictor(predictor.interp_model, predictor.phase_model, device="cpu", seed=predictor.seed + 1)
    assert torch.equal(draws(predictor, "mid"), draws(same, "mid"))
    assert not torch.equal(draws(predictor, "mid"), draws(other, "mid"))
    assert not torch.equal(draws(predictor, "mid"), draws(predictor, "basal"))


def test_acquisition_noise_takes_the_slices_noise_level_from_its_key_frames(
    predictor: HDLPredictor, test_slice: SliceData, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``acquisition_noise`` stage 2's tissue noise has the level of the acquired key frames on every
    frame (stage 1's frames between them would give themselves about half); without it, none."""
    from models.hdl import predictor as predictor_module
    from models.phase.tissue_noise import keyframe_noise_sigma

    seen = []
    original = predictor_module.synthesise_cine
    monkeypatch.setattr(predictor_module, "synthesise_cine",
                        lambda *a, **k: seen.append(k) or original(*a, **k))  # fmt: skip
    noisy = HDLPredictor(predictor.interp_model, predictor.phase_model, device="cpu", acquisition_noise=True)
    noisy.predict_slice(test_slice, FACTOR)
    predictor.predict_slice(test_slice, FACTOR)
    keys = key_frames_of(test_slice, FACTOR)
    unit = noisy.rebuild_cine(test_slice, keys).unit
    assert seen[0]["tissue_noise"] is None and seen[0]["noise_sigma"] == keyframe_noise_sigma(unit[list(keys.frames)])
    assert seen[0]["noise_sigma"] is not None and seen[0]["noise_sigma"] > 0
    assert seen[1]["tissue_noise"] is False and seen[1]["noise_sigma"] is None


def test_the_wall_band_renders_the_pixels_next_to_the_rebuilt_wall_as_wall(
    predictor: HDLPredictor, test_slice: SliceData
) -> None:
    """Stage 1's mask edge is uncertain by about a pixel: with the default band a dim pixel next to the rebuilt
    myocardium gets stage 2's velocity, not background noise; the twin is otherwise the same as without it."""

    def twin(seed: int, **band: int) -> SliceData:
        return HDLPredictor(predictor.interp_model, predictor.phase_model, device="cpu", seed=seed,
                            **band).predict_slice(test_slice, FACTOR)  # fmt: skip

    assert predictor.wall_band == WALL_BAND == 1
    banded, bare = twin(0), twin(0, wall_band=0)
    myo = banded.myocardium != 0
    ring = ndimage.binary_dilation(myo, np.ones((1, 3, 3), bool)) & ~myo
    differs = np.any(banded.velocity != bare.velocity, axis=1)
    assert differs.any() and not differs[~ring].any()  # only ring pixels change (those the tissue missed)
    # There the band gives stage 2's deterministic foreground, whatever the seed of the background noise.
    other, plain_other = twin(1), twin(1, wall_band=0)
    moved = differs[:, None].repeat(3, axis=1)
    np.testing.assert_array_equal(banded.velocity[moved], other.velocity[moved])
    assert np.all(bare.velocity[moved] != plain_other.velocity[moved])
    with pytest.raises(OptionError, match="wall_band must be >= 0 pixels"):
        HDLPredictor(predictor.interp_model, predictor.phase_model, wall_band=-1)


# ------------------------------------------------------------------------------------------- test.py


def hdl_args(root: Path, runs: Path, results: Path, *extra: str) -> list[str]:
    return [
        "--model",
        "hdl",
        "--name",
        "chain",
        "--dataroot",
        str(root),
        "--checkpoints_dir",
        str(runs),
        "--results_dir",
        str(results),
        "--interp_name",
        "hdl_interp",
        "--phase_name",
        "hdl_phase",
        "--gpu",
        "-1",
        "--no_progress",
        *extra,
    ]


def test_run_test_writes_twins_metrics_and_report(
    tiny_cohort: Path, runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    extra = ["--baseline_phase_name", "hdl_phase_l1", "--export_nifti", "--factor", str(FACTOR)]
    rows = test_entry.main(hdl_args(tiny_cohort, runs, tmp_path, *extra))
    out = tmp_path / "chain" / "hdl"
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == f"report: {out / 'index.html'}"
    assert list(rows) == list(METHODS)  # the chains, the kinematic prior, the yardsticks, the ceilings
    assert "L1-only phase generator (hdl_phase_l1)" in str(rows["baseline"]["description"])
    name = load_splits(tiny_cohort)["test"][0]
    subject = read_subject(tiny_cohort / f"{name}.h5")
    # The two chains and every row that reads the subject are saved, in the dataset format and as NIfTI.
    for method in ("hdl", "baseline", "kinematic", "flow", "population_bulk"):
        twin = read_subject(out / "subjects" / method / f"{name}.h5")
        assert list(twin.slices) == list(subject.slices) and twin.subject_id == subject.subject_id
        assert twin.slices["mid"].velocity.shape[0] == 24
        assert twin.slices["mid"].attrs.get("synthesised_by", method) == method
        assert np.any(twin.slices["mid"].velocity != 0)
        assert any((out / "nifti" / method).glob("*vx*.nii.gz"))
    assert not (out / "subjects" / "zero").exists()  # a row that does not read the subject has nothing to show
    # The model the key frames chose for the kinematic row: in its file, the per-subject table, the console.
    chosen = read_subject(out / "subjects" / "kinematic" / f"{name}.h5").attrs["kinematic_model"]
    assert chosen in ("population", "gains", "timing", "segments", "timing_segments", "model_free")
    with open(out / "metrics_per_subject.csv", newline="") as f:
        per_subject = {r["method"]: r for r in csv.DictReader(f) if r["subject"] == name}
    assert per_subject["kinematic"]["prior_model"] == chosen and float(per_subject["kinematic"]["prior_loo_score"]) > 0
    assert per_subject["hdl"]["prior_model"] in ("", "nan")
    assert f"kinematic prior: the models the key frames chose: {chosen} 1" in printed
    with open(out / "metrics.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["method"] for r in table] == list(METHODS)
    for r in table:
        assert r["fid"] == "unavailable: not requested (run with --fid)"
        assert math.isfinite(float(r["vel_mae_myo_true_cm_s"]))
        # The ceilings are the input itself (its cine too); every other row has the twin's rebuilt cine.
        ceiling = r["method"] in ("acquired_phase", "velocity_true")
        assert math.isfinite(float(r["mag_psnr_nonkey"])) != ceiling
    by_method = {r["method"]: r for r in table}
    assert float(by_method["zero"]["vel_skill"]) == 0.0  # the yardstick of the skill score
    # The yardsticks share the HDL twin's cine and masks: only their velocity differs.
    assert by_method["zero"]["mag_psnr_nonkey"] == by_method["hdl"]["mag_psnr_nonkey"]
    hdl_skill = 1 - float(by_method["hdl"]["vel_mae_myo_true_cm_s"]) / float(by_method["zero"]["vel_mae_myo_true_cm_s"])
    assert float(by_method["hdl"]["vel_skill"]) == pytest.approx(hdl_skill, abs=1e-5)  # CSV: 6 digits
    # Regional function against the phantom's truth; one test subject: no bootstrap interval.
    for column in ("seg_peak_radial_systolic_r", "detect_auc", "dyssync_err_ms", "circ_r_apical", "cohort"):
        assert column in by_method["hdl"], column
    assert float(by_method["hdl"]["seg_peak_radial_systolic_mae_cm_s"]) >= 0.0
    assert math.isfinite(float(by_method["hdl"]["dyssync_index_ms"]))
    assert by_method["hdl"]["ci_reference"] == "population_bulk" and by_method["hdl"]["n_subjects"] == "1"
    # The ceilings score the input's own phase against the truth: the truth itself is exact.
    assert float(by_method["velocity_true"]["vel_mae_myo_true_cm_s"]) == 0.0
    assert (
        0.0
        < float(by_method["acquired_phase"]["vel_mae_myo_true_cm_s"])
        < float(by_method["zero"]["vel_mae_myo_true_cm_s"])
    )
    # Bulk motion changes pixels only: population and population + bulk share their curves.
    pop, bulk = by_method["population"], by_method["population_bulk"]
    assert (
        pop["curve_radial_r"] == bulk["curve_radial_r"]
        and pop["vel_mae_myo_true_cm_s"] != bulk["vel_mae_myo_true_cm_s"]
    )
    assert math.isnan(float(by_method["hdl"]["vel_mae_myo_true_cm_s_ci_low"]))
    assert (out / "index.html").is_file() and (out / "opt_test.json").is_file()


def test_run_test_on_key_frames_without_velocity(
    tiny_cohort: Path, runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Input files of consecutive key frames, no velocity: twins and curves, no scores."""
    name = load_splits(tiny_cohort)["test"][0]
    subject = read_subject(tiny_cohort / f"{name}.h5")
    keys = list(range(0, 24, FACTOR))
    slices = {n: replace(key_frame_slice(s, keys), frame_index=None, n_frames=None) for n, s in subject.slices.items()}
    root = tmp_path / "keys"
    write_subject(root / f"{name}.h5", Subject(subject.subject_id, slices))
    rows = test_entry.main(hdl_args(root, runs, tmp_path / "res", "--split", "all", "--input_keyframes_only"))
    out = tmp_path / "res" / "chain" / "hdl"
    twin = read_subject(out / "subjects" / "hdl" / f"{name}.h5")
    assert twin.slices["mid"].magnitude.shape[0] == len(keys) * FACTOR
    assert math.isnan(float(rows["hdl"]["vel_mae_myo_cm_s"]))
    with open(out / "velocity_curves.csv", newline="") as f:
        assert {r["data"] for r in csv.DictReader(f)} == set(METHODS) - {"acquired_phase", "velocity_true"}
    assert "No acquired velocity" in (out / "index.html").read_text()
    assert capsys.readouterr().out.strip().endswith("index.html")


def test_run_test_needs_both_stage_runs(tiny_cohort: Path, runs: Path, tmp_path: Path) -> None:
    args = hdl_args(tiny_cohort, runs, tmp_path)
    i = args.index("--interp_name")
    with pytest.raises(OptionError, match="--interp_name is required"):
        test_entry.main(args[:i] + args[i + 2 :])


def test_pretrained_with_a_named_stage_run_uses_that_run_and_says_so(
    tiny_cohort: Path, runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from models.loading import PRETRAINED_DIR

    args = hdl_args(tiny_cohort, runs, tmp_path, "--pretrained", "--factor", str(FACTOR))
    i = args.index("--interp_name")
    rows = test_entry.main(args[:i] + args[i + 2 :])  # stage 1 shipped, stage 2 the run hdl_phase
    printed = capsys.readouterr().out
    shipped = PRETRAINED_DIR / "interp"
    assert f"interp stage: shipped twin, {shipped} ({shipped / 'weights.pt'})" in printed
    assert f"phase stage: run hdl_phase, in place of the shipped twin's ({runs / 'hdl_phase' / 'best.pt'})" in printed
    description = str(rows["hdl"]["description"])
    assert "hdl_phase" in description and str(PRETRAINED_DIR / "interp") in description
    assert str(PRETRAINED_DIR / "phase") not in description
    page = (tmp_path / "chain" / "hdl" / "index.html").read_text()
    assert str(runs / "hdl_phase" / "best.pt") in page and str(PRETRAINED_DIR / "interp" / "weights.pt") in page
    # The console uses the pages' rounding, and says once that FID was not asked for.
    summary = [line for line in printed.splitlines() if "magnitude PSNR" in line]
    assert len(summary) == len(METHODS)
    # The phantom has a truth: the velocity error against it leads, and each error names its reference.
    mae = r"(\d+\.\d\d cm/s|n/a cm/s)"
    pattern = (r"  \w+ +magnitude PSNR (-?\d+\.\d\d|inf) dB, Dice \d\.\d\d\d, "
               rf"velocity MAE vs truth \(velocity_true\) {mae}, velocity MAE vs acquired phase {mae}")  # fmt: skip
    assert all(re.fullmatch(pattern, line) for line in summary), summary
    assert printed.count("FID unavailable: not requested") == 1


def test_an_unreadable_subject_is_named_skipped_and_fails_the_run_at_the_end(
    tiny_cohort: Path, runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    root = tmp_path / "data"
    root.mkdir()
    name = load_splits(tiny_cohort)["test"][0]
    shutil.copy(tiny_cohort / f"{name}.h5", root / f"{name}.h5")
    (root / "aaa_broken.h5").write_bytes((tiny_cohort / f"{name}.h5").read_bytes()[:5000])
    with pytest.raises(DataError, match=r"1 of 2 subject file\(s\) could not be read: aaa_broken\.h5; the results"):
        test_entry.main(hdl_args(root, runs, tmp_path / "res", "--split", "all"))
    out = tmp_path / "res" / "chain" / "hdl"
    assert read_subject(out / "subjects" / "hdl" / f"{name}.h5").subject_id == name
    with open(out / "metrics.csv", newline="") as f:
        assert {r["method"] for r in csv.DictReader(f)} == set(METHODS)
    err = capsys.readouterr().err
    assert "aaa_broken.h5" in err and "skipped; going on with the others" in err


def test_the_readmes_python_example_runs_and_saves_a_twin_with_its_curves(runs: Path, tiny_cohort: Path,
                                                                          tmp_path: Path) -> None:  # fmt: skip
    """The README's Python example, as it is written there, in a folder laid out as it assumes."""
    import subprocess
    import sys

    from assessment.analysis import analyse_slice

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    example = next(b for b in blocks if "HDLPredictor" in b)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "my_interp").symlink_to(runs / "hdl_interp")
    (tmp_path / "checkpoints" / "my_phase").symlink_to(runs / "hdl_phase")
    name = load_splits(tiny_cohort)["test"][0]
    shutil.copy(tiny_cohort / f"{name}.h5", tmp_path / "subject.h5")
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    twin = read_subject(tmp_path / "twin.h5")
    assert twin.subject_id == name and list(twin.slices) == ["basal", "mid", "apical"]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    for line, (slice_name, s) in zip(lines, twin.slices.items(), strict=True):
        assert s.velocity.shape == (24, 3, 64, 64)
        a = analyse_slice(s)  # the saved twin gives the curves and peaks the example printed
        peak = a.peaks["longitudinal"]["global"]["systolic"]
        assert line == (
            f"{slice_name}: radial {a.curves.radial.min():.2f} to {a.curves.radial.max():.2f} cm/s, "
            f"longitudinal systolic peak {peak['value']:.2f} cm/s at {peak['time_ms']:.0f} ms"
        )


def _stripped(subject: Subject, keys: list[int]) -> Subject:
    """What a scanner would give of ``subject``: no velocity, no truth, no phantom attributes, masks on the
    key frames only (zero elsewhere, as ``labelled_frames`` says)."""
    hidden = {"phantom", "aha_segment_ids", "aha_motion_scale", "aha_delay_ms", "snr", "noise_sigma"}
    slices = {}
    for name, s in subject.slices.items():
        mask = np.zeros_like(s.myocardium)
        mask[keys] = s.myocardium[keys]
        attrs = {k: v for k, v in s.attrs.items() if k not in hidden}
        slices[name] = replace(s, velocity=None, velocity_true=None, myocardium=mask, lv_blood=None,
                               rv_blood=None, tissue=None, labelled_frames=np.asarray(keys), attrs=attrs)  # fmt: skip
    return Subject(subject.subject_id, slices, {})


def test_the_twin_and_the_rows_that_read_the_subject_never_read_the_truth(
    predictor: HDLPredictor, tiny_cohort: Path
) -> None:
    """Leak test: the twin, the kinematic prior and the yardsticks made from a subject file are
    bit-identical to those made from the same file without its velocities, its truth, the phantom's
    parameters and the masks of its non-key frames."""
    from models.kinematics.prior import KinematicPrior

    name = load_splits(tiny_cohort)["test"][0]
    full = read_subject(tiny_cohort / f"{name}.h5")
    keys = list(range(0, 24, FACTOR))
    stripped = _stripped(full, keys)
    phase = predictor.phase_model
    assert phase.kinematics.ready  # fitted from the training split with the population prior
    prior = KinematicPrior(phase.kinematics)
    made = []
    for source in (full, stripped):
        twin = predictor.predict_subject(source, FACTOR)
        key_map = {n: key_frames_of(s, FACTOR) for n, s in source.slices.items()}
        rows = yardstick_twins(twin, phase.population, source, key_map, prior)
        made.append({"hdl": twin, **{m: rows[m] for m in ("kinematic", "flow", "population_bulk")}})
    for method, twin in made[0].items():
        for slice_name, s in twin.slices.items():
            other = made[1][method].slices[slice_name]
            assert s.velocity.tobytes() == other.velocity.tobytes(), (method, slice_name)
            assert s.myocardium.tobytes() == other.myocardium.tobytes(), (method, slice_name)
    assert np.abs(made[0]["kinematic"].slices["mid"].velocity).max() > 0.5  # the prior says something


def test_a_kinematic_prior_run_makes_a_twin_that_never_reads_the_truth(
    runs: Path, tiny_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A phase run trained with --prior kinematic: the predictor fits the subject's prior from its key
    frames and refines it; the twin is bit-identical without the velocities, the truth, the phantom's
    parameters and the masks of non-key frames, and differs from the same generator given a zero prior."""
    common = ["--dataroot", str(tiny_cohort), "--checkpoints_dir", str(tmp_path), *FAST, *QUIET]
    train_entry.main(["--model", "phase", "--name", "kin", *common, *TINY_PHASE, "--prior", "kinematic"])
    hdl = HDLPredictor.from_runs(runs / "hdl_interp", tmp_path / "kin", device="cpu", batch_size=7)
    assert hdl.refines_kinematic_prior
    name = load_splits(tiny_cohort)["test"][0]
    full = read_subject(tiny_cohort / f"{name}.h5")
    capsys.readouterr()
    twins = [hdl.predict_subject(source, FACTOR) for source in (full, _stripped(full, list(range(0, 24, FACTOR))))]
    assert "note:" not in capsys.readouterr().out  # read from the key frames, no population stand-in
    for slice_name, s in twins[0].slices.items():
        other = twins[1].slices[slice_name]
        assert s.velocity.shape == (24, 3, 64, 64) and np.isfinite(s.velocity).all()
        assert s.velocity.tobytes() == other.velocity.tobytes(), slice_name
    # Without its prior (zero in its place) the same generator gives another twin: the prior reached it.
    mid = full.slices["mid"]
    zero = SliceCurves.uniform(*np.zeros((3, 24)), mid, 0.0)
    from_zero = hdl.predict_slice(mid, FACTOR, prior_curves=zero)
    assert not np.array_equal(from_zero.velocity, twins[0].slices["mid"].velocity)
    # The size of the correction: from a zero prior it is the twin's own mean |velocity| in the myocardium;
    # the weights kept their validation split's figure.
    myo = np.broadcast_to((from_zero.myocardium != 0)[:, None], from_zero.velocity.shape)
    assert from_zero.attrs[CORRECTION_ATTR] == pytest.approx(float(np.abs(from_zero.velocity)[myo].mean()), rel=1e-5)
    assert twins[0].slices["mid"].attrs[CORRECTION_ATTR] > 0
    assert hdl.phase_model.validation_correction_cm_s > 0
    saved = torch.load(tmp_path / "kin" / "latest.pt", weights_only=False)["extra_state"]
    assert saved["validation_correction_cm_s"] == pytest.approx(hdl.phase_model.validation_correction_cm_s)
    # The share of the correction its validation split chose is kept with the weights; none of it is the prior.
    assert 0.0 <= saved["correction_scale"] <= 1.0
    assert hdl.phase_model.correction_scale == pytest.approx(saved["correction_scale"])
    prior_only = HDLPredictor.from_runs(runs / "hdl_interp", tmp_path / "kin", device="cpu", correction_scale=0.0)
    assert prior_only.predict_slice(mid, FACTOR).attrs[CORRECTION_ATTR] == pytest.approx(0.0, abs=1e-5)


def test_the_rows_made_on_the_twins_cine_do_not_inherit_stage_2s_correction(test_slice: SliceData) -> None:
    twin = Subject("s", {"mid": replace(test_slice, attrs={**test_slice.attrs, CORRECTION_ATTR: 0.3})})
    rows = yardstick_twins(twin, PopulationPrior(), rows=("zero",))
    assert CORRECTION_ATTR not in rows["zero"].slices["mid"].attrs
    assert rows["zero"].slices["mid"].attrs["synthesised_by"] == "zero"


def test_the_console_reports_stage_2s_correction_and_warns_far_above_the_validation_split() -> None:
    values = (("hdl", "a", 0.2), ("hdl", "a", 0.4), ("hdl", "b", 0.9), ("kinematic", "a", math.nan))
    rows = [{"method": m, "subject": sid, "correction_myo_cm_s": v} for m, sid, v in values]
    lines = correction_lines(rows, 0.3)
    assert lines[0] == ("stage 2's correction of its prior (mean |twin - prior| over the myocardium, cm/s): "
                        "hdl 0.60 (subjects 0.30-0.90); on its validation split 0.30")  # fmt: skip
    assert lines[1:] == ["warning: b: stage 2 moved the hdl twin 0.90 cm/s from its prior, 3.0x its validation "
                         "split's 0.30: the images may be unlike its training; compare the kinematic row"]  # fmt: skip
    unrecorded = correction_lines(rows, None)
    assert len(unrecorded) == 1 and "no validation figure" in unrecorded[0]
    assert correction_lines([r for r in rows if r["method"] == "kinematic"], 0.3) == []


def test_workers_give_the_same_tables_as_one_worker(tiny_cohort: Path, runs: Path, tmp_path: Path) -> None:
    """--workers 2 processes whole subjects in two processes: every table is the same as with one."""
    rows = ["--rows", "hdl", "kinematic", "population", "zero", "--split", "all", "--max_subjects", "3"]
    tables = {}
    for workers in ("1", "2"):
        test_entry.main(hdl_args(tiny_cohort, runs, tmp_path / workers, *rows, "--workers", workers))
        out = tmp_path / workers / "chain" / "hdl"
        files = ("metrics.csv", "metrics_per_subject.csv", "velocity_peaks.csv")
        tables[workers] = [(out / f).read_text() for f in files]
        assert len(list((out / "subjects" / "kinematic").glob("*.h5"))) == 3
    assert tables["1"] == tables["2"]
    assert tables["1"][0].count("\n") == 1 + 4  # the header and the 4 rows


def test_the_wall_band_option_reaches_both_twins(
    tiny_cohort: Path, runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models.hdl import evaluation

    seen = []

    class Recording(HDLPredictor):
        def __init__(self, *args, **kwargs) -> None:
            seen.append(kwargs["wall_band"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(evaluation, "HDLPredictor", Recording)
    rows = ("--rows", "hdl", "baseline", "--max_subjects", "1", "--wall_band", "0")
    test_entry.main(hdl_args(tiny_cohort, runs, tmp_path, *rows))
    assert seen == [0, 0]


def test_rows_makes_only_the_rows_asked_for_and_a_typo_lists_the_valid_ones(
    tiny_cohort: Path, runs: Path, tmp_path: Path
) -> None:
    rows = test_entry.main(hdl_args(tiny_cohort, runs, tmp_path, "--rows", "zero", "kinematic"))
    assert list(rows) == ["hdl", "kinematic", "zero"]  # hdl always: the other rows sit on its cine
    out = tmp_path / "chain" / "hdl"
    assert not (out / "subjects" / "baseline").exists() and (out / "subjects" / "kinematic").is_dir()
    with pytest.raises(OptionError, match=r"--rows: unknown row\(s\) kinematc; valid: hdl, baseline, kinematic, "):
        test_entry.main(hdl_args(tiny_cohort, runs, tmp_path / "typo", "--rows", "kinematc"))
    with pytest.raises(OptionError, match="--workers must be >= 1"):
        test_entry.main(hdl_args(tiny_cohort, runs, tmp_path / "w", "--workers", "0"))
    with pytest.raises(OptionError, match="--wall_band must be >= 0 pixels, got -1"):
        test_entry.main(hdl_args(tiny_cohort, runs, tmp_path / "b", "--wall_band", "-1"))
