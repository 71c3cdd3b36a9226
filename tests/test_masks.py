"""Masks for scanner data: NIfTI, PNG and DICOM SEG sources, key frames, add_masks, SEG export."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pytest
from PIL import Image
from test_dicom import H, T, W, hand_scan

from data.mvm_io import read_subject, write_subject
from data.scanner.export_dicom import export_dicom
from data.scanner.import_dicom import import_dicom
from data.scanner.masks import attach_masks, read_masks
from util.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
QUIET = {"log": lambda m: None}


def masks_truth(n_slices: int, seed: int = 0) -> np.ndarray:
    """Random binary masks [S, T, H, W] with a distinct top row, so a flip or transpose would show."""
    rng = np.random.default_rng(seed)
    m = (rng.random((n_slices, T, H, W)) > 0.6).astype(np.uint8)
    m[:, :, 0, :] = 0
    m[:, :, 0, 0] = 1
    return m


def save_nifti(path: Path, frames: np.ndarray) -> Path:
    """[S, K, H, W] -> a volume (x, y, slice, time) = frames[s, t].T, right-handed affine (DICOM layout)."""
    nib.save(nib.Nifti1Image(frames.transpose(3, 2, 0, 1).astype(np.uint8), np.diag([1.25, 1.5, 10.0, 1.0])), path)
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_import_dicom_with_nifti_masks_on_all_and_on_key_frames(tmp_path: Path) -> None:
    hand_scan(tmp_path / "scan", "siemens")  # 2 slices: basal (file slice 0), apical
    myo, lv = masks_truth(2), masks_truth(2, seed=1)
    save_nifti(tmp_path / "myo.nii.gz", myo)
    save_nifti(tmp_path / "lv.nii.gz", lv)
    subject = import_dicom(tmp_path / "scan", **QUIET)
    attach_masks(
        subject,
        read_masks({"myocardium": tmp_path / "myo.nii.gz", "lv_blood": tmp_path / "lv.nii.gz"}, subject),
        "imported",
        **QUIET,
    )
    for i, s in enumerate(subject.slices.values()):
        np.testing.assert_array_equal(s.myocardium, myo[i])
        np.testing.assert_array_equal(s.lv_blood, lv[i])
        assert s.labelled_frames is None and s.attrs["mask_source"] == "imported"

    keys = [0, 2]
    save_nifti(tmp_path / "keys.nii.gz", myo[:, keys])
    done = run_cli(
        "data.scanner.import_dicom",
        str(tmp_path / "scan"),
        str(tmp_path / "k.h5"),
        "--myocardium",
        str(tmp_path / "keys.nii.gz"),
        "--mask_frames",
        "0",
        "2",
    )
    assert done.returncode == 0, done.stderr
    back = read_subject(tmp_path / "k.h5")
    for i, s in enumerate(back.slices.values()):
        assert s.labelled_frames.tolist() == keys and s.mask_frames().tolist() == keys
        np.testing.assert_array_equal(s.myocardium[keys], myo[i][keys])
        assert not s.myocardium[[1, 3]].any()
    with h5py.File(tmp_path / "k.h5", "r") as f:
        assert f["basal"].attrs["labelled_frames"].tolist() == keys


@pytest.mark.parametrize(
    ("volume", "extra", "message"),
    [
        ("keys", [], r"has 2 frames, the cine has 4: pass --mask_frames"),
        ("keys", ["--mask_frames", "3", "1"], r"--mask_frames \[3, 1\] must be 2 increasing frame indices"),
        ("transposed", [], r"images are 10x8 \(rows x columns\), the subject's are 8x10"),
        ("one_slice", [], r"has 1 slice\(s\), the subject has 2"),
    ],
)
def test_mask_mismatches_are_one_line_errors_and_write_nothing(tmp_path: Path, volume, extra, message) -> None:
    hand_scan(tmp_path / "scan", "siemens")
    myo = masks_truth(2)
    arrays = {"keys": myo[:, :2], "transposed": myo.transpose(0, 1, 3, 2), "one_slice": myo[:1]}
    save_nifti(tmp_path / "m.nii.gz", arrays[volume])
    done = run_cli(
        "data.scanner.import_dicom",
        str(tmp_path / "scan"),
        str(tmp_path / "o.h5"),
        "--myocardium",
        str(tmp_path / "m.nii.gz"),
        *extra,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "m.nii.gz" in lines[0] and re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "o.h5").exists()


def test_add_masks_from_png_key_frames(tmp_path: Path) -> None:
    hand_scan(tmp_path / "scan", "siemens")
    write_subject(tmp_path / "s.h5", import_dicom(tmp_path / "scan", **QUIET))
    myo = masks_truth(2)
    (tmp_path / "png").mkdir()
    for name, i in (("basal", 0), ("apical", 1)):
        for t in (1, 3):
            Image.fromarray(myo[i, t] * 255).save(tmp_path / "png" / f"{name}_{t:03d}.png")
    done = run_cli("data.scanner.add_masks", str(tmp_path / "s.h5"), "--myocardium", str(tmp_path / "png"))
    assert done.returncode == 0, done.stderr
    back = read_subject(tmp_path / "s.h5")
    for name, i in (("basal", 0), ("apical", 1)):
        s = back.slices[name]
        assert s.labelled_frames.tolist() == [1, 3] and s.attrs["mask_source"] == "added"
        np.testing.assert_array_equal(s.myocardium[[1, 3]], myo[i, [1, 3]])
    Image.fromarray(np.zeros((H + 1, W), np.uint8)).save(tmp_path / "png" / "basal_000.png")
    before = (tmp_path / "s.h5").read_bytes()
    done = run_cli("data.scanner.add_masks", str(tmp_path / "s.h5"), "--myocardium", str(tmp_path / "png"))
    assert done.returncode == 2 and "basal_000.png: image is 9x10, slice 'basal' is 8x10" in done.stderr
    assert (tmp_path / "s.h5").read_bytes() == before


def test_labelled_frames_are_validated(tmp_path: Path) -> None:
    hand_scan(tmp_path / "scan", "siemens", n_slices=1)
    subject = import_dicom(tmp_path / "scan", **QUIET)
    s = subject.slices["mid"]
    s.myocardium[:] = masks_truth(1)[0]
    s.labelled_frames = np.array([0, 2])
    with pytest.raises(DataError, match=r"'myocardium' is not empty on frames outside 'labelled_frames' \[0, 2\]"):
        write_subject(tmp_path / "x.h5", subject)
    s.myocardium[[1, 3]] = 0
    for bad in ([2, 0], [0, 4], []):
        s.labelled_frames = np.array(bad, dtype=np.int64)
        with pytest.raises(DataError, match="'labelled_frames' must be frame indices increasing strictly"):
            write_subject(tmp_path / "x.h5", subject)


def test_seg_export_is_valid_and_reads_back(tmp_path: Path) -> None:
    from test_dicom import dciodvfy_errors

    hand_scan(tmp_path / "scan", "siemens")
    subject = import_dicom(tmp_path / "scan", **QUIET)
    myo, rv = masks_truth(2), masks_truth(2, seed=2)
    for i, s in enumerate(subject.slices.values()):
        s.myocardium, s.rv_blood = myo[i].copy(), rv[i].copy()
        s.myocardium[[1, 3]] = 0
        s.rv_blood[[1, 3]] = 0
        s.labelled_frames = np.array([0, 2])
        s.attrs["synthesised_by"] = "interp:demo"
    out = export_dicom(subject, tmp_path / "twin", seg=True, **QUIET)
    segs = sorted(out.glob("*_seg/*.dcm"))
    assert [p.parent.name for p in segs] == ["01_basal_seg"] * 2 + ["02_apical_seg"] * 2
    assert dciodvfy_errors(segs) == []
    again = import_dicom(out, **QUIET)  # the SEG series are skipped as foreign; source UIDs are the twin's
    for kind, truth in (("myocardium", myo), ("rv_blood", rv)):
        masks = read_masks({kind: out / "01_basal_seg"}, again)
        assert list(masks) == ["basal"] and sorted(masks["basal"].frames[kind]) == [0, 2]
        for t in (0, 2):
            np.testing.assert_array_equal(masks["basal"].frames[kind][t], truth[0, t])
    with pytest.raises(DataError, match="does not record its DICOM source images"):
        read_masks({"myocardium": segs[0]}, read_subject_without_source(again, tmp_path))


def read_subject_without_source(subject, tmp_path: Path):
    for s in subject.slices.values():
        s.attrs.pop("dicom_source")
    return subject

