"""DICOM import of oblique velocity encodings and of non-standard Siemens rescales / BitsStored.

Every series is written here with pydicom, and every expected velocity is worked out by hand in the
test from first principles (not with the code under test):

* Siemens phase: the stored levels 0..L-1 span [-VENC, VENC), velocity = -VENC + 2 * VENC * raw / L;
  L = 4096 for the standard 12-bit data (rescale slope 2, intercept -4096: rescaled -4096..4094, i.e.
  velocity = VENC * rescaled / 4096);
* an encoding along a unit vector d (patient LPS) measures d . v; the importer stores v along the image
  axes x = row direction, y = column direction, z = row x column.
"""

from __future__ import annotations

import math
import uuid
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import EnhancedMRImageStorage, ExplicitVRLittleEndian, MRImageStorage, generate_uid

from data.scanner.import_dicom import import_dicom
from util.errors import DataError

T, H, W = 3, 1, 5
RR = 900.0
RAW = np.array([0, 1024, 2048, 3072, 4095], dtype=np.uint16)  # one row of 12-bit stored phase values


def quiet(_msg: str) -> None:
    pass


def _file(sop_class: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.Modality, ds.PatientID, ds.StudyInstanceUID = sop_class, "MR", "ENC01", "1.2.3.9"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    return ds


def siemens_series(
    folder: Path,
    phase: list[np.ndarray],
    suffixes: tuple[str, str, str] = ("rl", "ap", "fh"),
    venc: tuple[float, float, float] = (20.0, 20.0, 30.0),
    iop: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    rescale: tuple[float, float] | None = (2.0, -4096.0),
    bits: int = 12,
) -> None:
    """A Siemens-style slice: a magnitude series and three phase series whose every frame holds
    ``phase[c]``, encoded along the sequence-name suffixes."""
    folder.mkdir(parents=True, exist_ok=True)
    for c in range(4):
        uid = generate_uid()
        for t in range(T):
            ds = _file(MRImageStorage)
            ds.Manufacturer, ds.SeriesInstanceUID, ds.SeriesNumber = "SIEMENS", uid, c + 1
            ds.SeriesDescription = "tpm mid"
            ds.ImageOrientationPatient, ds.ImagePositionPatient = list(iop), [0.0, 0.0, 0.0]
            ds.PixelSpacing, ds.TriggerTime, ds.NominalInterval = [1.0, 1.0], t * RR / T, RR
            if c == 0:
                ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
                pixels = np.full((H, W), 100 + t, dtype=np.uint16)
            else:
                ds.ImageType = ["ORIGINAL", "PRIMARY", "P", "ND"]
                ds.SequenceName = f"fl2d1_v{venc[c - 1]:g}{suffixes[c - 1]}"
                ds.BitsStored, ds.HighBit = bits, bits - 1
                if rescale is not None:
                    ds.RescaleSlope, ds.RescaleIntercept = rescale
                pixels = np.asarray(phase[c - 1]).astype(np.uint16).reshape(H, W)
            ds.Rows, ds.Columns = H, W
            ds.PixelData = pixels.astype("<u2").tobytes()
            ds.save_as(folder / uuid.uuid4().hex, enforce_file_format=True)


# ------------------------------------------------------------------------ non-standard Siemens scaling


def _expected_standard(raw: np.ndarray, venc: float, levels: int) -> np.ndarray:
    return -venc + 2.0 * venc * raw.astype(np.float64) / levels


def _through_plane_vz(folder: Path, raw: np.ndarray, **kw) -> np.ndarray:
    """Import a slice whose z channel holds ``raw`` (x, y hold the mid value); vz of frame 0 [W]."""
    mid = np.full(W, 2048 if kw.get("bits", 12) >= 12 else 512)
    siemens_series(folder, [mid, mid, raw], suffixes=("in", "in", "through"), **kw)
    return import_dicom(folder, log=quiet).slices["mid"].velocity[0, 2, 0].astype(np.float64)


@pytest.mark.parametrize(
    ("rescale", "bits", "case"),
    [
        ((2.0, -4096.0), 12, "standard Siemens"),
        (None, 12, "rescale dropped by a converter: BitsStored gives 4096 levels"),
        ((2.0, -4096.0), 16, "12-bit values in a 16-bit container: the rescale gives 4096 levels"),
        ((1.0, -2048.0), 12, "rescaled -2048..2047: velocity = VENC * rescaled / 2048"),
    ],
)
def test_siemens_12_bit_phase_under_other_headers(tmp_path: Path, rescale, bits: int, case: str) -> None:
    vz = _through_plane_vz(tmp_path, RAW, rescale=rescale, bits=bits)
    # By hand, VENC 30: raw 0 -> -30, 1024 -> -15, 2048 -> 0, 3072 -> +15, 4095 -> 30 - 60/4096.
    expected = np.array([-30.0, -15.0, 0.0, 15.0, 30.0 - 60.0 / 4096.0])
    np.testing.assert_allclose(vz, expected, atol=1e-5, err_msg=case)


def test_siemens_10_bit_phase(tmp_path: Path) -> None:
    """BitsStored 10 with rescale (2, -1024): 1024 levels span [-VENC, VENC)."""
    raw = np.array([0, 256, 512, 768, 1023])
    vz = _through_plane_vz(tmp_path, raw, rescale=(2.0, -1024.0), bits=10)
    expected = np.array([-30.0, -15.0, 0.0, 15.0, 30.0 - 60.0 / 1024.0])
    np.testing.assert_allclose(vz, expected, atol=1e-5)
    np.testing.assert_allclose(vz, _expected_standard(raw, 30.0, 1024), atol=1e-5)


@pytest.mark.parametrize(
    ("rescale", "bits", "raw", "message"),
    [
        ((1.0, -4096.0), 12, RAW, "names 8192 phase levels but BitsStored 12 holds only 4096"),
        ((2.0, 0.0), 12, RAW, "not map the phase onto a range centred on zero"),
        (None, 16, RAW, r"reach only 2048, the lower half of the 0..65535 range that BitsStored 16 gives"),
        ((2.0, -1024.0), 12, RAW, "outside the range 0..1023"),
    ],
)
def test_contradictory_siemens_scaling_is_refused_naming_the_file(
    tmp_path: Path, rescale, bits: int, raw: np.ndarray, message: str
) -> None:
    with pytest.raises(DataError, match=message) as info:
        _through_plane_vz(tmp_path, raw, rescale=rescale, bits=bits)
    text = str(info.value)
    assert "\n" not in text and str(tmp_path) in text


# ------------------------------------------------------------------------------- oblique encodings


def test_patient_axis_encodings_on_a_rotated_slice(tmp_path: Path) -> None:
    """Siemens ``_v20rl`` / ``_v20ap`` / ``_v30fh`` on a slice turned 45 degrees about the head-feet axis.

    Row direction r = (1, 1, 0)/sqrt2, column direction c = (-1, 1, 0)/sqrt2, normal r x c = (0, 0, 1).
    The series measure the patient components v_L (rl: towards the left, +x LPS), v_P (ap: +y) and
    v_H (fh: +z), so by hand vx = (v_L + v_P)/sqrt2, vy = (v_P - v_L)/sqrt2, vz = v_H; and the largest
    speed an image axis can show is VENC_x = (20 + 20)/sqrt2, VENC_y the same, VENC_z = 30.
    """
    s = 1.0 / math.sqrt(2.0)
    raw_l = np.array([0, 1024, 2048, 3072, 4000])
    raw_p = np.array([2048, 3072, 1024, 2048, 100])
    raw_h = np.array([1000, 2048, 3000, 4095, 0])
    siemens_series(tmp_path, [raw_l, raw_p, raw_h], iop=(s, s, 0.0, -s, s, 0.0))
    sl = import_dicom(tmp_path, log=quiet).slices["mid"]
    for t in range(T):
        v_l = -20.0 + 40.0 * raw_l / 4096.0
        v_p = -20.0 + 40.0 * raw_p / 4096.0
        v_h = -30.0 + 60.0 * raw_h / 4096.0
        np.testing.assert_allclose(sl.velocity[t, 0, 0], (v_l + v_p) * s, atol=1e-4)
        np.testing.assert_allclose(sl.velocity[t, 1, 0], (v_p - v_l) * s, atol=1e-4)
        np.testing.assert_allclose(sl.velocity[t, 2, 0], v_h, atol=1e-4)
    np.testing.assert_allclose(sl.venc_cm_s, [40.0 * s, 40.0 * s, 30.0], rtol=1e-6)


def _item(**kw) -> Dataset:
    d = Dataset()
    for k, v in kw.items():
        setattr(d, k, v)
    return d


def test_enhanced_oblique_non_orthogonal_encoding_directions(tmp_path: Path) -> None:
    """Enhanced MR (0018,9090) directions that are neither image axes nor orthogonal, axial slice.

    The three encodings d1 = (1, 0, 0), d2 = (1/2, sqrt3/2, 0), d3 = (0, 3/5, 4/5) measure d_i . v of a
    known velocity v = (vx, vy, vz) (axial: image axes are the patient axes), stored Philips-style
    (cm/s = stored * 0.01 - 50). The importer must give back v itself.
    """
    dirs = [[1.0, 0.0, 0.0], [0.5, math.sqrt(3) / 2, 0.0], [0.0, 0.6, 0.8]]
    vx = np.array([10.0, -5.0, 0.0, 3.5, -12.0])
    vy = np.array([-4.0, 8.0, 1.0, 0.0, 6.0])
    vz = np.array([7.0, 0.5, -9.0, 2.0, 0.0])
    measured = [vx, 0.5 * vx + math.sqrt(3) / 2 * vy, 0.6 * vy + 0.8 * vz]
    ds = _file(EnhancedMRImageStorage)
    ds.Manufacturer, ds.SeriesInstanceUID, ds.SeriesDescription = "Philips Medical Systems", generate_uid(), "TPM"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "MIXED", "NONE"]
    ds.Rows, ds.Columns, ds.NumberOfFrames, ds.BitsStored, ds.HighBit = H, W, 4 * T, 16, 15
    ds.SharedFunctionalGroupsSequence = [
        _item(
            PixelMeasuresSequence=[_item(PixelSpacing=[1.0, 1.0], SliceThickness=8)],
            PlaneOrientationSequence=[_item(ImageOrientationPatient=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0])],
        )
    ]
    frames, per_frame = [], []
    for c in range(4):
        for t in range(T):
            groups = _item(
                PlanePositionSequence=[_item(ImagePositionPatient=[0.0, 0.0, 0.0])],
                CardiacSynchronizationSequence=[
                    _item(NominalCardiacTriggerDelayTime=t * RR / T, RRIntervalTimeNominal=RR)
                ],
            )
            kind = "MAGNITUDE" if c == 0 else "PHASE"
            groups.MRImageFrameTypeSequence = [
                _item(FrameType=["ORIGINAL", "PRIMARY", kind[0], "NONE"], ComplexImageComponent=kind)
            ]
            if c == 0:
                groups.PixelValueTransformationSequence = [_item(RescaleSlope=1, RescaleIntercept=0, RescaleType="US")]
                frames.append(np.full(W, 200 + t))
            else:
                groups.PixelValueTransformationSequence = [
                    _item(RescaleSlope=0.01, RescaleIntercept=-50, RescaleType="cm/s")
                ]
                groups.MRVelocityEncodingSequence = [
                    _item(VelocityEncodingDirection=dirs[c - 1], VelocityEncodingMaximumValue=50)
                ]
                frames.append(np.round((measured[c - 1] * (t + 1) + 50.0) / 0.01))
            per_frame.append(groups)
    ds.PerFrameFunctionalGroupsSequence = per_frame
    ds.PixelData = np.stack(frames).astype("<u2").tobytes()
    ds.save_as(tmp_path / "enhanced.dcm", enforce_file_format=True)

    sl = import_dicom(tmp_path, log=quiet).slices["mid"]
    for t in range(T):
        np.testing.assert_allclose(sl.velocity[t, :, 0], np.stack([vx, vy, vz]) * (t + 1), atol=0.02)


def test_patient_axis_encodings_on_a_coronal_slice(tmp_path: Path) -> None:
    """Coronal slice: row r = (1, 0, 0) (L), column c = (0, 0, -1) (feet), normal r x c = (0, 1, 0) (P).

    By hand vx = v_L, vy = -v_H, vz = v_P, each VENC carried to its axis unchanged.
    """
    raw_l, raw_p, raw_h = np.array([0, 1024, 2048, 3072, 4000]), np.array([4095, 0, 2048, 1, 3000]), RAW
    siemens_series(tmp_path, [raw_l, raw_p, raw_h], venc=(20.0, 25.0, 30.0), iop=(1.0, 0.0, 0.0, 0.0, 0.0, -1.0))
    sl = import_dicom(tmp_path, log=quiet).slices["mid"]
    v_l = -20.0 + 40.0 * raw_l / 4096.0
    v_p = -25.0 + 50.0 * raw_p / 4096.0
    v_h = -30.0 + 60.0 * raw_h / 4096.0
    np.testing.assert_allclose(sl.velocity[0, :, 0], np.stack([v_l, -v_h, v_p]), atol=1e-4)
    np.testing.assert_allclose(sl.venc_cm_s, [20.0, 30.0, 25.0], rtol=1e-6)
