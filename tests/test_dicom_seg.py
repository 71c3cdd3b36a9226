"""A twin exported as DICOM with its masks (``--seg``) and imported back keeps its masks and its marking."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_dicom import scramble

from data.mvm_io import SliceData, Subject, read_subject, write_subject
from data.scanner import dicom_rules as rules
from data.scanner.add_masks import main as add_masks_main
from data.scanner.export_dicom import export_dicom
from data.scanner.import_dicom import import_dicom
from util.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
QUIET = {"log": lambda m: None}


def twin_with_masks() -> Subject:
    """Two slices whose myocardium, LV and RV blood pools are three different rings, masks on key frames."""
    t, h, w = 6, 16, 18
    yy, xx = np.mgrid[:h, :w]
    slices = {}
    for i, name in enumerate(("basal", "apical")):
        r = np.hypot(yy - 8, xx - 8 - i)

        def ring(lo: float, hi: float, r: np.ndarray = r) -> np.ndarray:
            return np.repeat(((r >= lo) & (r < hi))[None].astype(np.uint8), t, axis=0)

        s = SliceData(
            name=name,
            magnitude=(100 + 20 * np.sin(0.5 * xx + i) + 3 * np.arange(t)[:, None, None]).astype(np.float32),
            myocardium=ring(3, 5),
            lv_blood=ring(0, 3),
            rv_blood=ring(6, 7),
            velocity=np.zeros((t, 3, h, w), np.float32),
            venc_cm_s=np.array([20.0, 20.0, 30.0]),
            pixel_spacing_mm=(1.5, 1.5),
            rr_interval_ms=900.0,
            slice_position=name,
            z_towards_apex=1,
            attrs={"synthesised_by": "hdl:demo", "mask_source": "synthesised"},
        )
        s.labelled_frames = np.array([0, 3])
        for field in ("myocardium", "lv_blood", "rv_blood"):
            getattr(s, field)[[1, 2, 4, 5]] = 0
        slices[name] = s
    return Subject("seg01", slices)


def check_masks(back: Subject, subject: Subject) -> None:
    for name, s in subject.slices.items():
        r = back.slices[name]
        for field in ("myocardium", "lv_blood", "rv_blood"):
            np.testing.assert_array_equal(getattr(r, field), getattr(s, field), err_msg=f"{name} {field}")
        assert r.labelled_frames.tolist() == [0, 3]


def test_seg_in_the_exported_folder_becomes_the_masks(tmp_path: Path) -> None:
    subject = twin_with_masks()
    export_dicom(subject, tmp_path / "export", seg=True, **QUIET)
    scramble(tmp_path / "export", tmp_path / "flat", seed=1)  # any names, any order, a foreign MR file
    messages: list[str] = []
    back = import_dicom(tmp_path / "flat", log=messages.append)
    check_masks(back, subject)
    assert {s.attrs["mask_source"] for s in back.slices.values()} == {"dicom_seg"}
    assert {s.attrs["synthesised_by"] for s in back.slices.values()} == {"hdl:demo"}
    assert not [m for m in messages if "SEG" in m and "skipped" in m]
    unmasked = import_dicom(tmp_path / "flat", seg=False, **QUIET)
    assert {s.attrs["mask_source"] for s in unmasked.slices.values()} == {"none"}
    assert not any(s.myocardium.any() for s in unmasked.slices.values())


def test_cli_import_keeps_masks_and_marking_and_add_masks_reads_each_segment(tmp_path: Path) -> None:
    subject = twin_with_masks()
    export_dicom(subject, tmp_path / "dicom", seg=True, **QUIET)
    done = subprocess.run(
        [sys.executable, "-m", "data.scanner.import_dicom", str(tmp_path / "dicom"), str(tmp_path / "back.h5")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "no myocardium masks" not in done.stdout and "modality SEG" not in done.stdout
    back = read_subject(tmp_path / "back.h5")
    check_masks(back, subject)
    assert back.slices["basal"].attrs["synthesised_by"] == "hdl:demo"
    # The SEG segments are told apart by their labels: "LV myocardium" is not the LV blood pool.
    plain = import_dicom(tmp_path / "dicom", seg=False, **QUIET)
    write_subject(tmp_path / "plain.h5", plain)
    seg_dir = str(tmp_path / "dicom")
    argv = [str(tmp_path / "plain.h5"), "--myocardium", seg_dir, "--lv_blood", seg_dir, "--rv_blood", seg_dir]
    assert add_masks_main(argv) == 0
    check_masks(read_subject(tmp_path / "plain.h5"), subject)


def test_seg_of_other_images_is_a_clear_error(tmp_path: Path) -> None:
    subject = twin_with_masks()
    export_dicom(subject, tmp_path / "a", seg=True, **QUIET)
    export_dicom(subject, tmp_path / "b", **QUIET)
    shutil.copytree(tmp_path / "a" / "01_basal_seg", tmp_path / "b" / "01_basal_seg")  # masks of other images
    with pytest.raises(DataError, match=r"references image .* not one of the subject's"):
        import_dicom(tmp_path / "b", **QUIET)


@pytest.mark.parametrize(
    ("image_type", "texts", "expected"),
    [
        ("DERIVED\\SECONDARY\\M\\ND", (rules.derivation_text("hdl:x (k=6)"),), "hdl:x (k=6)"),
        (["DERIVED", "SECONDARY", "M"], ("HDL-MVM RR 900 ms; " + rules.derivation_text("phantom"),), "phantom"),
        (["DERIVED", "SECONDARY"], ("", "SYNTHETIC MVM mid magnitude"), "SYNTHETIC MVM mid magnitude"),
        (["ORIGINAL", "PRIMARY", "M"], (rules.derivation_text("phantom"),), None),
        (["DERIVED", "PRIMARY"], ("MVM mid magnitude",), None),
    ],
)
def test_synthetic_marking_rule(image_type, texts, expected) -> None:
    assert rules.synthetic_marking(image_type, *texts) == expected
