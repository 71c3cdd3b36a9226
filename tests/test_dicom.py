"""DICOM import and export: identification rules, vendor scaling, hand-built scans, round trips, CLI.

The hand-built scans are written here with pydicom directly (not with the exporter), with their own
quantisation, so the importer is checked against an independent writer. Tolerances: velocities within
one 12-bit step (2 * VENC / 4096) of the continuous truth, magnitudes within half their stored step.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    EnhancedMRImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)

from data.mvm_io import SliceData, Subject, read_subject, write_subject
from data.scanner import dicom_rules as rules
from data.scanner.dicom_vendor import magnitude_to_stored, raw_to_velocity, velocity_to_raw, velocity_to_scaled
from data.scanner.export_dicom import export_dicom
from data.scanner.import_dicom import import_dicom
from util.errors import DataError, OptionError

ROOT = Path(__file__).resolve().parents[1]
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)  # normal +z (towards the head): larger z is nearer the base
T, H, W = 4, 8, 10
RR = 850.0


def step(venc) -> np.ndarray:
    return 2.0 * np.asarray(venc, dtype=np.float64) / 4096.0


# ------------------------------------------------------------------------------------ hand-built files


def _ds(sop_class: str = MRImageStorage) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.PatientID = "HB01"
    ds.StudyInstanceUID = "1.2.3.4"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    return ds


def write_image(folder: Path, pixels: np.ndarray, **attrs) -> Path:
    """One classic image with the given attributes (keywords), or private (2001,101A) via philips_venc."""
    modality = attrs.pop("Modality", "MR")
    ds = _ds(CTImageStorage if modality == "CT" else MRImageStorage)
    ds.Modality = modality
    philips_venc = attrs.pop("philips_venc", None)
    venc_item = attrs.pop("top_level_venc", None)
    for key, value in attrs.items():
        if value is not None:
            setattr(ds, key, value)
    if philips_venc is not None:
        ds.private_block(0x2001, "Philips Imaging DD 001", create=True).add_new(0x1A, "FL", [philips_venc])
    if venc_item is not None:
        item = Dataset()
        item.VelocityEncodingMaximumValue = venc_item
        ds.MRVelocityEncodingSequence = [item]
    ds.Rows, ds.Columns = pixels.shape
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
    path = folder / uuid.uuid4().hex  # no extension, random name: the importer must not rely on either
    ds.save_as(path, enforce_file_format=True)
    return path


def truth_arrays(n_slices: int, venc, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Smooth velocities within +-0.9 VENC [S, T, 3, H, W] and integer magnitudes [S, T, H, W]."""
    rng = np.random.default_rng(seed)
    t, y, x = np.meshgrid(np.arange(T), np.arange(H), np.arange(W), indexing="ij")
    vel = np.empty((n_slices, T, 3, H, W))
    for s in range(n_slices):
        for k in range(3):
            phase = rng.uniform(0, 2 * np.pi, 3)
            wave = np.sin(2 * np.pi * t / T + phase[0]) * np.cos(0.5 * y + phase[1]) * np.cos(0.4 * x + phase[2])
            vel[s, :, k] = 0.9 * venc[k] * wave
    mag = rng.integers(50, 3000, size=(n_slices, T, H, W))
    return vel, mag


def hand_scan(
    folder: Path,
    vendor: str,
    venc=(20.0, 20.0, 30.0),
    n_slices: int = 2,
    keywords: bool = False,
    seq_venc: bool = True,
    manufacturer: str | None = None,
    inplane_words: bool = True,
    contradict: float | None = None,
) -> dict:
    """Write a magnitude and three phase series per slice, vendor-style; return the truth."""
    folder.mkdir(parents=True, exist_ok=True)
    vel, mag = truth_arrays(n_slices, venc)
    positions = ["basal", "apical"] if n_slices == 2 else ["mid"]
    maker = manufacturer or ("SIEMENS" if vendor == "siemens" else "Philips Medical Systems")
    for s in range(n_slices):
        z = -10.0 * s  # slice 0 nearer the head: the base
        word = f" {positions[s]}" if keywords else ""
        common = {
            "Manufacturer": maker,
            "ImageOrientationPatient": list(AXIAL),
            "ImagePositionPatient": [-5.0, -6.0, z],
            "SliceLocation": z,
            "PixelSpacing": [1.5, 1.25],
            "NominalInterval": RR if vendor == "siemens" else None,
        }
        for c, (name, suffix) in enumerate((("magnitude", ""), ("vx", "in"), ("vy", "in"), ("vz", "through"))):
            uid = generate_uid()
            k = c - 1
            for t in range(T):
                attrs = dict(common, SeriesInstanceUID=uid, SeriesNumber=10 * s + c + 1, InstanceNumber=t + 1)
                attrs["TriggerTime"] = t * RR / T
                if c == 0:
                    pixels = mag[s, t]
                    attrs["ImageType"] = ["ORIGINAL", "PRIMARY", "M", "ND"]
                    attrs["SeriesDescription"] = f"tpm{word} magnitude"
                    if vendor == "philips":
                        attrs["ImageType"] = ["ORIGINAL", "PRIMARY", "M_PCA", "M", "PCA"]
                elif vendor == "siemens":
                    v = vel[s, t, k]
                    pixels = np.clip(np.round((v + venc[k]) / (2 * venc[k]) * 4096), 0, 4095)
                    attrs.update(ImageType=["ORIGINAL", "PRIMARY", "P", "ND"], RescaleSlope=2, RescaleIntercept=-4096)
                    attrs["SequenceName"] = f"fl2d1_v{venc[k]:g}{suffix}" if seq_venc else "fl2d1"
                    attrs["SeriesDescription"] = f"tpm{word} {name if inplane_words else 'phase'}"
                    if contradict is not None and k == 2:
                        attrs["top_level_venc"] = contradict
                else:  # Philips: cm/s = stored * 0.01 - VENC, in 16 bits (0.01 cm/s is finer than 12 bits allow)
                    pixels = np.round((vel[s, t, k] + venc[k]) / 0.01)
                    attrs.update(
                        ImageType=["ORIGINAL", "PRIMARY", "VELOCITY MAP", "P", "PCA"], BitsStored=16, HighBit=15
                    )
                    attrs.update(RescaleSlope=0.01, RescaleIntercept=-venc[k], philips_venc=venc[k])
                    attrs["SeriesDescription"] = f"PCA{word} {name}"
                write_image(folder, pixels.astype(np.uint16), **attrs)
    return {"vel": vel, "mag": mag.astype(np.float64), "positions": positions, "venc": np.asarray(venc)}


def add_foreign(folder: Path) -> None:
    """A localizer, a CT image, pydicom's bundled MR file and two non-DICOM files, in nested folders."""
    nested = folder / "misc" / "deeper"
    nested.mkdir(parents=True)
    write_image(
        nested,
        np.zeros((8, 8)),
        Manufacturer="SIEMENS",
        ImageType=["ORIGINAL", "PRIMARY", "M", "ND"],
        SeriesInstanceUID=generate_uid(),
        SeriesDescription="localizer",
        ImageOrientationPatient=list(AXIAL),
        ImagePositionPatient=[0.0, 0.0, 0.0],
        PixelSpacing=[2.0, 2.0],
    )
    write_image(nested, np.zeros((8, 8)), Modality="CT", SeriesInstanceUID=generate_uid(), SeriesDescription="ct")
    shutil.copy(get_testdata_file("MR_small.dcm"), folder / "misc" / "IMG0001")
    (folder / "notes.txt").write_text("scan notes\n")
    (nested / "random.bin").write_bytes(np.random.default_rng(1).bytes(300))


def check_slices(subject: Subject, truth: dict, z_towards_apex: int) -> None:
    assert list(subject.slices) == truth["positions"]
    for s, name in enumerate(truth["positions"]):
        sl = subject.slices[name]
        assert sl.slice_position == name and sl.z_towards_apex == z_towards_apex
        np.testing.assert_allclose(sl.venc_cm_s, truth["venc"], rtol=1e-6)
        assert sl.pixel_spacing_mm == (1.5, 1.25)
        assert sl.rr_interval_ms == pytest.approx(RR)
        err = np.abs(sl.velocity.astype(np.float64) - truth["vel"][s]).max(axis=(0, 2, 3))
        assert np.all(err <= step(truth["venc"]) + 1e-6), err / step(truth["venc"])
        np.testing.assert_allclose(sl.magnitude, truth["mag"][s], atol=1e-3)
        assert sl.myocardium.shape == (T, H, W) and not sl.myocardium.any() and sl.attrs["mask_source"] == "none"


# ------------------------------------------------------------------------------------------------ rules


@pytest.mark.parametrize(
    ("image_type", "component", "private", "kind"),
    [
        (["ORIGINAL", "PRIMARY", "P", "ND"], None, None, "phase"),
        (["ORIGINAL", "PRIMARY", "M", "ND"], None, None, "magnitude"),
        (["ORIGINAL", "PRIMARY", "VELOCITY MAP", "P", "PCA"], None, None, "phase"),
        (["ORIGINAL", "PRIMARY", "M_PCA", "M", "PCA"], None, None, "magnitude"),
        ("ORIGINAL\\PRIMARY\\PHASE", None, None, "phase"),
        (["ORIGINAL", "PRIMARY", "M", "ND"], "PHASE", None, "phase"),  # the standard attribute wins
        (["DERIVED", "PRIMARY", "OTHER"], None, "P", "phase"),
        (["DERIVED", "SECONDARY", "OTHER"], None, None, None),
        (["ORIGINAL", "PRIMARY", "M", "P"], None, None, None),
        (["ORIGINAL", "PRIMARY", "M", "ND"], "REAL", None, None),
    ],
)
def test_image_kind(image_type, component, private, kind) -> None:
    assert rules.image_kind(image_type, component, private)[0] == kind


def test_sequence_name_and_description_rules() -> None:
    assert rules.sequence_name_encoding("fl2d1_v20in") == (20.0, "in")
    assert rules.sequence_name_encoding("*fl2d1r3_v25.5through") == (25.5, "through")
    assert rules.sequence_name_encoding("fl2d1_v150rl") == (150.0, "rl")
    assert rules.sequence_name_encoding("fl2d1") == (None, None)
    assert [rules.suffix_direction(s) for s in ("in", "through", "ap", "xx", None)] == [
        "inplane",
        "z",
        "ap",
        None,
        None,
    ]
    assert rules.description_direction("MVM basal phase vx in-plane") == "x"
    assert rules.description_direction("tpm vz through-plane") == "z"
    assert rules.description_direction("PCA FH") == "fh"
    assert rules.description_direction("vx and vy") == "conflict"
    assert rules.description_direction("tpm_P") is None
    assert rules.combine_directions([("seq", "inplane"), ("desc", "y")])[0] == "y"
    assert rules.combine_directions([("seq", "z"), ("desc", "x")])[0] is None
    assert rules.position_keyword(["MVM apical vx", "TPM apex"]) == "apical"
    assert rules.position_keyword(["basal and mid"]) is None


def test_direction_vector_projects_patient_axes() -> None:
    row, col = np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, -1.0])  # a sagittal image
    np.testing.assert_allclose(rules.direction_vector("ap", row, col), [1.0, 0.0, 0.0])
    np.testing.assert_allclose(rules.direction_vector("fh", row, col), [0.0, -1.0, 0.0])
    np.testing.assert_allclose(rules.direction_vector("rl", row, col), [0.0, 0.0, -1.0])
    assert rules.direction_vector("rl", None, None) is None
    np.testing.assert_allclose(rules.direction_vector("z", None, None), [0.0, 0.0, 1.0])


def test_resolve_venc_and_philips_tag() -> None:
    assert rules.resolve_venc([(20.0, "tag"), (20.1, "name")]) == (20.0, "tag")
    venc, why = rules.resolve_venc([(20.0, "tag"), (30.0, "name")])
    assert venc is None and "contradictory" in why and "20" in why and "30" in why
    assert rules.resolve_venc([])[0] is None
    assert rules.philips_pc_velocity([0.0, 0.0, 25.0]) == 25.0
    assert rules.philips_pc_velocity([20.0, 20.0, 20.0]) == 20.0
    assert rules.philips_pc_velocity([20.0, 20.0, 30.0]) is None  # which one is this image's?
    assert rules.philips_pc_velocity(np.array([0.0, 15.0], "<f4").tobytes()) == 15.0


# ---------------------------------------------------------------------------------------- vendor maths


def test_siemens_quantisation_is_wrap_safe_and_within_one_step() -> None:
    venc = 17.3
    v = np.linspace(-venc, venc, 5001)[:-1]  # the measurable range [-VENC, VENC)
    raw = velocity_to_raw(v, venc)
    assert raw.dtype == np.uint16 and raw.min() == 0 and raw.max() == 4095
    assert np.abs(raw_to_velocity(raw, venc) - v).max() <= step(venc) + 1e-9
    assert velocity_to_raw(np.array([venc - 1e-6]), venc)[0] == 4095  # would round to 4096: no flip to -VENC
    np.testing.assert_array_equal(
        velocity_to_raw(np.array([venc + 1.0]), venc), velocity_to_raw(np.array([-venc + 1.0]), venc)
    )
    assert raw_to_velocity(np.array([0, 2048]), 20.0).tolist() == [-20.0, 0.0]
    with pytest.raises(DataError, match=r"outside the range 0\.\.4095"):
        raw_to_velocity(np.array([4096]), 20.0)


def test_philips_and_magnitude_scaling() -> None:
    v = np.linspace(-25.0, 25.0, 999)
    stored, slope, intercept = velocity_to_scaled(v, 25.0)
    assert np.abs(stored * slope + intercept - v).max() <= slope / 2 + 1e-9
    mag = np.random.default_rng(0).random((3, 8, 8)) * 7.3
    stored, slope, intercept = magnitude_to_stored(mag)
    assert stored.max() == 4095 and np.abs(stored * slope + intercept - mag).max() <= slope / 2 + 1e-12
    ints = np.arange(64).reshape(1, 8, 8) * 10.0
    assert magnitude_to_stored(ints)[1:] == (1.0, 0.0)


# ------------------------------------------------------------------------------------ hand-built scans


def test_siemens_hand_built_mixed_folder(tmp_path: Path) -> None:
    truth = hand_scan(tmp_path / "scan", "siemens")
    add_foreign(tmp_path / "scan")
    messages: list[str] = []
    subject = import_dicom(tmp_path / "scan", log=messages.append)
    # Slice 0 is nearer the head, so anatomy makes it basal, and +z (the normal) points to the base.
    check_slices(subject, truth, z_towards_apex=-1)
    assert subject.subject_id == "HB01"
    text = "\n".join(messages)
    assert "notes.txt: not a DICOM file" in text and "random.bin: not a DICOM file" in text
    assert "modality CT, not MR" in text
    assert "neither magnitude nor phase (ImageType DERIVED/SECONDARY/OTHER)" in text  # MR_small.dcm
    assert "no TriggerTime (not a cardiac cine)" in text  # the localizer
    assert "anatomy" in text


def test_philips_hand_built_with_keywords(tmp_path: Path) -> None:
    truth = hand_scan(tmp_path / "scan", "philips", venc=(15.0, 15.0, 25.0), keywords=True)
    add_foreign(tmp_path / "scan")
    subject = import_dicom(tmp_path / "scan", log=lambda m: None)
    check_slices(subject, truth, z_towards_apex=-1)
    assert subject.slices["basal"].attrs["rr_source"] == "trigger times"  # no NominalInterval written


def test_order_option_overrides_anatomy(tmp_path: Path) -> None:
    hand_scan(tmp_path, "siemens")
    subject = import_dicom(tmp_path, order="base_first", log=lambda m: None)
    # base_first: increasing location (z) goes base -> apex, so the slice at z = -10 is now basal.
    assert subject.slices["basal"].attrs["slice_location_mm"] == pytest.approx(-10.0)
    assert subject.slices["basal"].z_towards_apex == 1


def test_enhanced_multiframe_with_oblique_signs(tmp_path: Path) -> None:
    """Enhanced MR: everything per frame in functional groups; the y channel encodes along -y."""
    venc = np.array([20.0, 22.0, 30.0])
    vel, mag = truth_arrays(1, venc)
    ds = _ds(EnhancedMRImageStorage)
    ds.Modality, ds.Manufacturer, ds.SeriesInstanceUID = "MR", "Philips Medical Systems", generate_uid()
    ds.SeriesDescription, ds.ImageType = "TPM", ["ORIGINAL", "PRIMARY", "MIXED", "NONE"]
    ds.Rows, ds.Columns, ds.NumberOfFrames = H, W, 4 * T
    ds.BitsStored, ds.HighBit = 16, 15

    def item(**kw) -> Dataset:
        d = Dataset()
        for k, v in kw.items():
            setattr(d, k, v)
        return d

    shared = item(
        PixelMeasuresSequence=[item(PixelSpacing=[1.5, 1.25], SliceThickness=8)],
        PlaneOrientationSequence=[item(ImageOrientationPatient=list(AXIAL))],
    )
    ds.SharedFunctionalGroupsSequence = [shared]
    frames, per_frame = [], []
    directions = [None, [1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]]
    for c, direction in enumerate(directions):
        for t in range(T):
            groups = item(
                PlanePositionSequence=[item(ImagePositionPatient=[0.0, 0.0, 0.0])],
                CardiacSynchronizationSequence=[
                    item(NominalCardiacTriggerDelayTime=t * RR / T, RRIntervalTimeNominal=RR)
                ],
            )
            if direction is None:
                groups.MRImageFrameTypeSequence = [
                    item(FrameType=["ORIGINAL", "PRIMARY", "M", "NONE"], ComplexImageComponent="MAGNITUDE")
                ]
                groups.PixelValueTransformationSequence = [item(RescaleSlope=1, RescaleIntercept=0, RescaleType="US")]
                frames.append(mag[0, t])
            else:
                k = c - 1
                encoded = vel[0, t, k] * (-1.0 if k == 1 else 1.0)
                groups.MRImageFrameTypeSequence = [
                    item(FrameType=["ORIGINAL", "PRIMARY", "P", "NONE"], ComplexImageComponent="PHASE")
                ]
                groups.PixelValueTransformationSequence = [
                    item(RescaleSlope=0.01, RescaleIntercept=-venc[k], RescaleType="cm/s")
                ]
                groups.MRVelocityEncodingSequence = [
                    item(VelocityEncodingDirection=direction, VelocityEncodingMaximumValue=venc[k])
                ]
                frames.append(np.round((encoded + venc[k]) / 0.01))
            per_frame.append(groups)
    ds.PerFrameFunctionalGroupsSequence = per_frame
    ds.PixelData = np.stack(frames).astype("<u2").tobytes()
    ds.save_as(tmp_path / "enhanced.dcm", enforce_file_format=True)

    subject = import_dicom(tmp_path, log=lambda m: None)
    sl = subject.slices["mid"]
    np.testing.assert_allclose(sl.venc_cm_s, venc)
    assert np.abs(sl.velocity - vel[0]).max() <= 0.005 + 1e-6  # half the 0.01 cm/s stored step
    np.testing.assert_allclose(sl.magnitude, mag[0])
    assert sl.rr_interval_ms == pytest.approx(RR)


def test_foreign_only_folders_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no files"):
        import_dicom(tmp_path / "empty", log=lambda m: None)
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "a.txt").write_text("x")
    with pytest.raises(DataError, match="none of its 1 files is a DICOM file"):
        import_dicom(tmp_path / "text", log=lambda m: None)
    (tmp_path / "bundled").mkdir()
    shutil.copy(get_testdata_file("MR_small.dcm"), tmp_path / "bundled" / "x")
    messages: list[str] = []
    with pytest.raises(DataError, match="no complete 3Dir MVM slice"):
        import_dicom(tmp_path / "bundled", log=messages.append)
    assert len(messages) == 1 and "skipped series 1 ''" in messages[0] and "neither magnitude nor phase" in messages[0]
    with pytest.raises(DataError, match="not found"):
        import_dicom(tmp_path / "missing")


def test_unknown_venc_asks_for_option_and_option_overrides(tmp_path: Path) -> None:
    truth = hand_scan(tmp_path, "siemens", seq_venc=False)
    with pytest.raises(DataError, match=r"VENC .* unknown.*pass --venc X Y Z"):
        import_dicom(tmp_path, log=lambda m: None)
    subject = import_dicom(tmp_path, venc=(20.0, 20.0, 30.0), log=lambda m: None)
    check_slices(subject, truth, z_towards_apex=-1)


def test_contradictory_venc(tmp_path: Path) -> None:
    hand_scan(tmp_path, "siemens", contradict=40.0)  # vz: sequence name says 30, the standard tag 40
    with pytest.raises(DataError, match=r"contradictory VENC values: 40 .*, 30 .*pass --venc"):
        import_dicom(tmp_path, log=lambda m: None)
    subject = import_dicom(tmp_path, venc=(20.0, 20.0, 40.0), log=lambda m: None)
    assert subject.slices["basal"].venc_cm_s.tolist() == [20.0, 20.0, 40.0]
    with pytest.raises(OptionError, match="3 positive numbers"):
        import_dicom(tmp_path, venc=(20.0, -1.0, 40.0))


def test_unknown_vendor_needs_phase_units(tmp_path: Path) -> None:
    truth = hand_scan(tmp_path, "siemens", manufacturer="GE MEDICAL SYSTEMS")
    with pytest.raises(DataError, match=r"manufacturer GE MEDICAL SYSTEMS .*--phase_units raw12 or cm_s"):
        import_dicom(tmp_path, log=lambda m: None)
    check_slices(import_dicom(tmp_path, phase_units="raw12", log=lambda m: None), truth, z_towards_apex=-1)


def test_inplane_series_without_xy_words_follow_series_order(tmp_path: Path) -> None:
    truth = hand_scan(tmp_path, "siemens", n_slices=1, inplane_words=False)
    messages: list[str] = []
    subject = import_dicom(tmp_path, log=messages.append)
    assert any("taken as x by series order" in m for m in messages)
    np.testing.assert_allclose(subject.slices["mid"].velocity[:, 0], truth["vel"][0, :, 0], atol=step(20.0))
    swapped = import_dicom(tmp_path, inplane_order="yx", log=lambda m: None)
    np.testing.assert_allclose(swapped.slices["mid"].velocity[:, 1], truth["vel"][0, :, 0], atol=step(20.0))


def test_two_acquisitions_of_one_slice_are_an_error(tmp_path: Path) -> None:
    hand_scan(tmp_path / "a", "siemens", n_slices=1)
    hand_scan(tmp_path / "b", "siemens", n_slices=1)
    with pytest.raises(DataError, match="two acquisitions"):
        import_dicom(tmp_path, log=lambda m: None)


# ---------------------------------------------------------------------------------------- round trips


def synthetic_subject() -> Subject:
    rng = np.random.default_rng(5)
    t_, h, w = 6, 12, 14
    tt, yy, xx = np.meshgrid(np.arange(t_), np.arange(h), np.arange(w), indexing="ij")
    slices = {}
    for i, name in enumerate(("basal", "mid", "apical")):
        venc = np.array([17.5 + i, 17.5 + i, 24.0 + 1.123 * i])  # 25.123 does not fit a Siemens sequence name
        vel = np.stack(
            [0.95 * venc[k] * np.sin(2 * np.pi * tt / t_ + k + i) * np.cos(0.3 * yy - 0.2 * xx + k) for k in range(3)],
            axis=1,
        )
        slices[name] = SliceData(
            name=name,
            magnitude=(100 + 50 * np.cos(0.4 * xx + i) * np.sin(0.3 * yy) + rng.random((t_, h, w))).astype(np.float32),
            myocardium=np.zeros((t_, h, w), np.uint8),
            velocity=vel.astype(np.float32),
            venc_cm_s=venc,
            pixel_spacing_mm=(1.4, 1.3),
            rr_interval_ms=960.0,
            slice_position=name,
            z_towards_apex=1,
        )
    return Subject("rt01", slices)


@pytest.fixture(scope="module")
def small_subject(tmp_path_factory: pytest.TempPathFactory) -> Subject:
    """A small phantom subject when the phantom generator is available, else a synthetic one."""
    try:
        from data.phantom import PhantomConfig, generate_cohort
    except ImportError:
        return synthetic_subject()
    root = tmp_path_factory.mktemp("phantom")
    generate_cohort(root, n_subjects=1, seed=11, config=PhantomConfig(frames=8, size=32), workers=1)
    return read_subject(next(root.glob("*.h5")))


def scramble(src: Path, dst: Path, seed: int) -> None:
    """Flatten a folder tree into one folder of randomly named files, plus pydicom's MR file."""
    dst.mkdir()
    files = sorted(p for p in src.rglob("*") if p.is_file())
    rng = np.random.default_rng(seed)
    for i in rng.permutation(len(files)):
        shutil.copy(files[i], dst / f"{uuid.UUID(int=int(rng.integers(2**62))).hex}")
    shutil.copy(get_testdata_file("MR_small.dcm"), dst / "MR_small.dcm")


@pytest.mark.parametrize(("vendor", "z_dir"), [("siemens", 1), ("philips", -1)])
def test_export_import_round_trip(small_subject: Subject, tmp_path: Path, vendor: str, z_dir: int) -> None:
    for s in small_subject.slices.values():
        s.z_towards_apex = z_dir
    export_dicom(small_subject, tmp_path / "export", vendor=vendor, log=lambda m: None)
    scramble(tmp_path / "export", tmp_path / "flat", seed=3)
    back = import_dicom(tmp_path / "flat", log=lambda m: None)
    assert back.subject_id == small_subject.subject_id
    originals = {s.slice_position: s for s in small_subject.slices.values()}
    assert sorted(back.slices) == sorted(originals)
    for name, r in back.slices.items():
        s = originals[name]
        assert r.z_towards_apex == z_dir and r.pixel_spacing_mm == pytest.approx(s.pixel_spacing_mm)
        assert r.rr_interval_ms == pytest.approx(s.rr_interval_ms)
        # Siemens keeps the VENC in the 16-character sequence name: 25.123 is written as 25.12.
        np.testing.assert_allclose(r.venc_cm_s, s.venc_cm_s, atol=0.006 if vendor == "siemens" else 1e-5)
        err = np.abs(r.velocity.astype(np.float64) - s.velocity).max(axis=(0, 2, 3))
        assert np.all(err <= step(s.venc_cm_s) * 1.001), err / step(s.venc_cm_s)
        mag = np.asarray(s.magnitude, dtype=np.float64)
        stored_step = (mag.max() - min(0.0, mag.min())) / 4095
        assert np.abs(r.magnitude - mag).max() <= stored_step / 2 * 1.001
    write_subject(tmp_path / "back.h5", back)  # the importer's output is a valid subject file
    assert read_subject(tmp_path / "back.h5").slices[name].attrs["mask_source"] == "none"


def test_exported_files_are_standard(tmp_path: Path) -> None:
    subject = synthetic_subject()
    out = export_dicom(subject, tmp_path / "out", log=lambda m: None)
    series = sorted(p.name for p in out.iterdir())
    assert series[:4] == ["01_basal_magnitude", "01_basal_vx", "01_basal_vy", "01_basal_vz"] and len(series) == 12
    ds = dcmread(out / "01_basal_vz" / "IM_0002.dcm")
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian and ds.SOPClassUID == MRImageStorage
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID and ds.Modality == "MR"
    assert list(ds.ImageType) == ["ORIGINAL", "PRIMARY", "P", "ND"] and ds.SequenceName == "fl2d1_v24through"
    assert (ds.RescaleSlope, ds.RescaleIntercept, ds.BitsStored) == (2, -4096, 12)
    assert ds.SeriesDescription == "MVM basal phase vz through-plane"
    assert float(ds.TriggerTime) == pytest.approx(960.0 / 6) and float(ds.NominalInterval) == 960.0
    row, col = np.array(ds.ImageOrientationPatient[:3], float), np.array(ds.ImageOrientationPatient[3:], float)
    assert abs(row @ col) < 1e-6 and float(ds.SliceLocation) == pytest.approx(
        np.cross(row, col) @ np.array(ds.ImagePositionPatient, float), abs=1e-4
    )
    assert [float(v) for v in ds.PixelSpacing] == [1.4, 1.3]
    assert dcmread(out / "01_basal_vx" / "IM_0001.dcm").SequenceName == "fl2d1_v17.5in"
    uids = {dcmread(p).SOPInstanceUID for p in out.rglob("*.dcm")}
    assert len(uids) == 12 * 6
    philips = export_dicom(subject, tmp_path / "philips", vendor="philips", log=lambda m: None)
    ds = dcmread(philips / "02_mid_vy" / "IM_0001.dcm")
    assert ds[0x2001, 0x101A].value == pytest.approx(18.5) and "VELOCITY MAP" in ds.ImageType


def test_export_refuses_non_empty_folder_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    subject = synthetic_subject()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("x")
    with pytest.raises(DataError, match="not an empty folder"):
        export_dicom(subject, tmp_path / "busy")
    subject.slices["apical"].velocity = None  # fails after the first slices are written
    with pytest.raises(DataError, match="no velocity"):
        export_dicom(subject, tmp_path / "new", log=lambda m: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]
    with pytest.raises(OptionError, match="vendor"):
        export_dicom(subject, tmp_path / "x", vendor="ge")


# ------------------------------------------------------------------------------------------------- CLI


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_cli_import_and_export(tmp_path: Path) -> None:
    hand_scan(tmp_path / "scan", "siemens")
    shutil.copy(get_testdata_file("MR_small.dcm"), tmp_path / "scan" / "mr.dcm")
    done = run_cli("data.scanner.import_dicom", str(tmp_path / "scan"), str(tmp_path / "s.h5"), "--subject", "cli01")
    assert done.returncode == 0, done.stderr
    assert "basal: basal" in done.stdout and "skipped series" in done.stdout
    assert read_subject(tmp_path / "s.h5").subject_id == "cli01"
    done = run_cli("data.scanner.export_dicom", str(tmp_path / "s.h5"), str(tmp_path / "dicom"), "--vendor", "philips")
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "dicom").rglob("*.dcm"))) == 2 * 4 * T


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data.scanner.import_dicom", "{tmp}/missing", "{tmp}/o.h5"], "DICOM folder not found"),
        (["data.scanner.import_dicom", "{tmp}/foreign", "{tmp}/o.h5"], "no complete 3Dir MVM slice"),
        (["data.scanner.import_dicom", "{tmp}/foreign", "{tmp}/o.h5", "--venc", "1", "2"], "expected 3 argument"),
        (["data.scanner.export_dicom", "{tmp}/missing.h5", "{tmp}/out"], "file not found"),
        (["data.scanner.export_dicom", "{tmp}/missing.h5", "{tmp}/out", "--vendor", "ge"], "invalid choice"),
    ],
)
def test_cli_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "foreign").mkdir()
    shutil.copy(get_testdata_file("MR_small.dcm"), tmp_path / "foreign" / "x.dcm")
    done = run_cli(*[a.format(tmp=tmp_path) for a in args])
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "o.h5").exists() and not (tmp_path / "out").exists()


# ------------------------------------------------------------------------ external validators


def tool(name: str) -> str:
    """Path of a DICOM tool installed by scripts/run_tests.sh (HDL_DEV=1); skip with the reason if absent."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (scripts/run_tests.sh installs dcm2niix and dicom3tools with apt-get)")
    return path


def dciodvfy_errors(files: list[Path]) -> list[str]:
    """Every 'Error' line dciodvfy prints for the files, prefixed with the file name."""
    exe = tool("dciodvfy")
    errors = []
    for path in files:
        done = subprocess.run([exe, str(path)], capture_output=True, text=True, timeout=60)
        errors += [
            f"{path.parent.name}/{path.name}: {line}"
            for line in (done.stdout + done.stderr).splitlines()
            if line.startswith("Error")
        ]
    return errors


@pytest.mark.parametrize("vendor", ["siemens", "philips"])
def test_dciodvfy_accepts_acquired_and_synthetic_exports(tmp_path: Path, vendor: str) -> None:
    hand_scan(tmp_path / "scan", "siemens", n_slices=1)
    acquired = import_dicom(tmp_path / "scan", log=lambda m: None)
    out = export_dicom(acquired, tmp_path / "acquired", vendor=vendor, log=lambda m: None)
    files = sorted(out.rglob("*.dcm"))
    assert dciodvfy_errors(files) == []
    ds = dcmread(files[0])
    assert list(ds.ImageType[:2]) == ["ORIGINAL", "PRIMARY"] and "DerivationDescription" not in ds
    assert (ds.BodyPartExamined, ds.ScanOptions) == ("HEART", "CG")

    for s in acquired.slices.values():
        s.attrs["synthesised_by"] = "phase:demo"  # what the chain writes into a synthesised subject
    twin = export_dicom(acquired, tmp_path / "twin", vendor=vendor, log=lambda m: None)
    files = sorted(twin.rglob("*.dcm"))
    assert dciodvfy_errors(files) == []
    source = acquired.slices["mid"].attrs["dicom_source"]
    source_uids = {i["sop"] for c in source["channels"].values() for i in c["images"]}
    for path in files:
        ds = dcmread(path)
        assert list(ds.ImageType[:2]) == ["DERIVED", "SECONDARY"]
        assert ds.SeriesDescription.startswith("SYNTHETIC MVM mid ")
        assert "SYNTHETIC" in ds.DerivationDescription and "phase:demo" in ds.DerivationDescription
        assert ds.SOPInstanceUID not in source_uids and ds.SeriesInstanceUID not in {
            c["series"] for c in source["channels"].values()
        }
        channel = path.parent.name.split("_")[-1]
        expected = {i["sop"] for i in source["channels"][channel]["images"]}
        assert {item.ReferencedSOPInstanceUID for item in ds.SourceImageSequence} == expected
        study = ds.StudiesContainingOtherReferencedInstancesSequence[0]
        assert study.StudyInstanceUID == source["study"] == "1.2.3.4"
        assert study.ReferencedSeriesSequence[0].SeriesInstanceUID == source["channels"][channel]["series"]
    # The importer still reads a twin (DERIVED images keep their magnitude/phase words).
    back = import_dicom(twin, log=lambda m: None)
    err = np.abs(back.slices["mid"].velocity - acquired.slices["mid"].velocity).max()
    assert err <= step(acquired.slices["mid"].venc_cm_s).max() * 1.001


def test_synthetic_marking_follows_the_subject_and_the_flags(tmp_path: Path) -> None:
    subject = synthetic_subject()
    plain = export_dicom(subject, tmp_path / "a", log=lambda m: None)
    assert dcmread(next(plain.rglob("*.dcm"))).ImageType[0] == "ORIGINAL"
    forced = export_dicom(subject, tmp_path / "b", synthetic=True, log=lambda m: None)
    ds = dcmread(next(forced.rglob("*.dcm")))
    assert ds.ImageType[0] == "DERIVED" and "SourceImageSequence" not in ds  # no source UIDs known
    assert dciodvfy_errors([next(forced.rglob("*.dcm"))]) == []
    subject.attrs["phantom"] = {"seed": 1}
    assert dcmread(next(export_dicom(subject, tmp_path / "c", log=lambda m: None).rglob("*.dcm"))).ImageType[0] == (
        "DERIVED"
    )
    kept = export_dicom(subject, tmp_path / "d", synthetic=False, log=lambda m: None)
    assert dcmread(next(kept.rglob("*.dcm"))).ImageType[0] == "ORIGINAL"
    done = run_cli("data.scanner.export_dicom", "x.h5", str(tmp_path / "e"), "--synthetic", "--acquired")
    assert done.returncode == 2 and "not allowed with argument" in done.stderr
