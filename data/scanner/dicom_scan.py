"""Header pass of the DICOM importer: find every image of a folder and describe it as a ``FrameRecord``.

Files are read with ``stop_before_pixels`` (fast) and ``force=False``, so a file without the DICOM
preamble is reported and skipped rather than guessed at. A classic image gives one record; an enhanced
(multi-frame) image gives one record per frame, reading each attribute from the frame's functional
groups first, then the shared groups, then the top level (``FrameView``), so the identification rules
work unchanged on both.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError

from data.scanner import dicom_rules as rules
from data.scanner.dicom_vendor import vendor_units

DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
PHILIPS_PC_VELOCITY = (0x2001, 0x101A)
PHILIPS_IMAGE_TYPE = (0x2005, 0x1011)


class FrameView:
    """Attribute lookup for one frame: per-frame functional groups, shared groups, then the top level."""

    def __init__(self, ds: Dataset, frame: int | None = None) -> None:
        self.ds = ds
        self.frame = frame
        self._items: list[Dataset] = []
        if frame is not None:
            for name, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
                seq = ds.get(name)
                if seq is not None and index < len(seq):
                    group = seq[index]
                    self._items.append(group)
                    # Each functional group is a macro sequence of one item holding the attributes.
                    self._items.extend(e.value[0] for e in group if e.VR == "SQ" and len(e.value))
        self._items.append(ds)

    def get(self, keyword: str, default: Any = None) -> Any:
        for item in self._items:
            if keyword in item:
                value = item[keyword].value
                if value is not None and value != "":
                    return value
        return default

    def private(self, tag: tuple[int, int]) -> Any:
        for item in self._items:
            if tag in item:
                return item[tag].value
        return None


@dataclass
class FrameRecord:
    """What the importer needs to know about one image (or one frame of a multi-frame image)."""

    path: Path
    frame: int | None
    sop_uid: str
    series_uid: str
    series_label: str
    manufacturer: str
    patient_id: str
    study_uid: str = ""
    sop_class: str = ""
    modality: str = ""
    kind: str | None = None
    reason: str = ""
    direction: str | None = None  # 'x' | 'y' | 'z' | 'inplane' | patient-axis name | 'vector'
    direction_rule: str = ""
    encoding: np.ndarray | None = None  # unit vector in image axes, when known
    venc_claims: list[tuple[float, str]] = field(default_factory=list)
    units: str | None = None
    series_number: int = 0
    description: str = ""
    row_cos: np.ndarray | None = None
    col_cos: np.ndarray | None = None
    position: np.ndarray | None = None
    slice_location: float | None = None
    trigger_ms: float | None = None
    nominal_interval_ms: float | None = None
    rows: int = 0
    cols: int = 0
    spacing: tuple[float, float] | None = None
    slope: float = 1.0
    intercept: float = 0.0
    bits_stored: int = 16
    image_type: str = ""  # ImageType / FrameType, values joined by backslashes
    derivation: str = ""  # DerivationDescription (a synthesised twin says so there, see data.scanner.export_dicom)

    @property
    def normal(self) -> np.ndarray | None:
        if self.row_cos is None or self.col_cos is None:
            return None
        return np.cross(self.row_cos, self.col_cos)

    @property
    def where(self) -> str:
        return f"{self.path}" + (f" frame {self.frame + 1}" if self.frame is not None else "")


def iter_files(root: Path) -> Iterator[Path]:
    """Every regular file under ``root`` (nested folders included), in a stable order."""
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            yield Path(folder) / name


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def _floats(value: Any, n: int) -> np.ndarray | None:
    try:
        arr = np.asarray([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr if arr.shape == (n,) and np.all(np.isfinite(arr)) else None


def _joined(value: Any) -> str:
    """A multi-valued attribute as DICOM shows it (values joined by backslashes)."""
    if value is None or isinstance(value, str):
        return value or ""
    try:
        return "\\".join(str(v) for v in value)
    except TypeError:
        return str(value)


def _venc_items(view: FrameView) -> list[Dataset]:
    seq = view.get("MRVelocityEncodingSequence")
    return list(seq) if seq else []


def _standard_direction(view: FrameView) -> np.ndarray | None:
    """The standard Velocity Encoding Direction (0018,9090) of a frame, when it has exactly one."""
    items = _venc_items(view)
    if len(items) == 1 and "VelocityEncodingDirection" in items[0]:
        return _floats(items[0].VelocityEncodingDirection, 3)
    return None


def _identify_direction(rec: FrameRecord, view: FrameView, seq_suffix: str | None) -> None:
    """Apply the direction rules (see ``dicom_rules``): set ``direction``, ``direction_rule``, ``encoding``."""
    text_claims = [
        (f"sequence name {view.get('SequenceName', '')!r}", rules.suffix_direction(seq_suffix)),
        (f"series description {rec.description!r}", rules.description_direction(rec.description)),
    ]
    standard = _standard_direction(view)
    if standard is None:
        direction, rule = rules.combine_directions(text_claims)
        vec = None if direction in (None, "inplane") else rules.direction_vector(direction, rec.row_cos, rec.col_cos)
        if direction not in (None, "inplane") and vec is None:
            direction, rule = None, f"{rule}: a patient axis needs ImageOrientationPatient, which is missing"
        rec.direction, rec.direction_rule, rec.encoding = direction, rule, vec
        return
    vec = rules.direction_vector(standard, rec.row_cos, rec.col_cos)
    if vec is None:
        rec.direction, rec.direction_rule = None, "VelocityEncodingDirection without ImageOrientationPatient"
        return
    rec.direction, rec.direction_rule, rec.encoding = "vector", "VelocityEncodingDirection", vec
    # The standard vector is exact; a text rule that contradicts it makes the image ambiguous.
    for rule, claim in text_claims:
        if claim in (None, "inplane"):
            continue
        other = None if claim == "conflict" else rules.direction_vector(claim, rec.row_cos, rec.col_cos)
        if other is None or float(other @ vec) < 0.99:
            rec.direction, rec.encoding = None, None
            rec.direction_rule = f"VelocityEncodingDirection disagrees with {rule}"
            return


def _venc_claims(rec: FrameRecord, view: FrameView, seq_venc: float | None) -> list[tuple[float, str]]:
    claims: list[tuple[float, str]] = []
    items = _venc_items(view)
    if len(items) == 1:
        value = _float(items[0].get("VelocityEncodingMaximumValue"))
        if value is not None:
            claims.append((value, "Velocity Encoding Maximum Value (0018,9217)"))
    philips = rules.philips_pc_velocity(view.private(PHILIPS_PC_VELOCITY))
    if philips is not None:
        claims.append((philips, "Philips PC Velocity (2001,101A)"))
    if seq_venc is not None:
        claims.append((seq_venc, f"sequence name {view.get('SequenceName', '')!r}"))
    return claims


def describe_frame(path: Path, ds: Dataset, frame: int | None) -> FrameRecord:
    """Build the ``FrameRecord`` of one image or frame; ``kind`` None and ``reason`` say why it is foreign."""
    view = FrameView(ds, frame)
    description = str(ds.get("SeriesDescription", "") or "")
    series_uid = str(ds.get("SeriesInstanceUID", "") or f"(no series UID: {path.name})")
    rec = FrameRecord(
        path=path,
        frame=frame,
        sop_uid=str(ds.get("SOPInstanceUID", "") or path) + ("" if frame is None else f"#{frame}"),
        series_uid=series_uid,
        series_label=f"series {ds.get('SeriesNumber', '?')} {description!r}",
        manufacturer=str(ds.get("Manufacturer", "") or ""),
        patient_id=str(ds.get("PatientID", "") or ""),
        study_uid=str(ds.get("StudyInstanceUID", "") or ""),
        sop_class=str(ds.get("SOPClassUID", "") or ""),
        description=description,
        series_number=int(_float(ds.get("SeriesNumber")) or 0),
    )
    modality = rec.modality = str(ds.get("Modality", "") or "")
    if modality != "MR":
        rec.reason = f"modality {modality or 'missing'}, not MR"
        return rec
    if "Rows" not in ds or "Columns" not in ds:
        rec.reason = "no image (Rows/Columns missing)"
        return rec
    image_type = view.get("FrameType") or ds.get("ImageType")
    philips_type = view.private(PHILIPS_IMAGE_TYPE)
    rec.image_type = _joined(image_type)
    rec.derivation = str(view.get("DerivationDescription", "") or "")
    rec.kind, rule = rules.image_kind(
        image_type, view.get("ComplexImageComponent"), philips_type if isinstance(philips_type, str) else None
    )
    if rec.kind is None:
        rec.reason = rule
        return rec
    rec.rows, rec.cols = int(ds.Rows), int(ds.Columns)
    iop = _floats(view.get("ImageOrientationPatient") or [], 6)
    if iop is not None:
        rec.row_cos, rec.col_cos = iop[:3], iop[3:]
    rec.position = _floats(view.get("ImagePositionPatient") or [], 3)
    rec.slice_location = _float(view.get("SliceLocation"))
    trigger = view.get("TriggerTime")
    if trigger is None:
        trigger = view.get("NominalCardiacTriggerDelayTime")
    rec.trigger_ms = _float(trigger)
    rec.nominal_interval_ms = _float(view.get("NominalInterval") or view.get("RRIntervalTimeNominal"))
    spacing = _floats(view.get("PixelSpacing") or [], 2)
    rec.spacing = None if spacing is None else (float(spacing[0]), float(spacing[1]))
    rec.slope = _float(view.get("RescaleSlope")) or 1.0
    rec.intercept = _float(view.get("RescaleIntercept")) or 0.0
    rec.bits_stored = int(ds.get("BitsStored", 16) or 16)
    rec.units = vendor_units(rec.manufacturer)
    if rec.kind == "phase":
        seq_venc, suffix = rules.sequence_name_encoding(str(view.get("SequenceName", "") or ""))
        _identify_direction(rec, view, suffix)
        rec.venc_claims = _venc_claims(rec, view, seq_venc)
    return rec


def read_header(path: Path) -> tuple[Dataset | None, str]:
    """Read a file's header; (None, reason) when it is not a DICOM file or cannot be read."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=False)
    except InvalidDicomError:
        return None, "not a DICOM file"
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError, BytesLengthException) as exc:
        return None, f"unreadable DICOM ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
    media_class = str(getattr(ds.get("file_meta", Dataset()), "MediaStorageSOPClassUID", ""))
    if media_class == DICOMDIR_CLASS:
        return None, "a DICOMDIR index, not an image"
    return ds, ""


def scan_folder(root: Path, log: Callable[[str], None]) -> tuple[list[FrameRecord], int]:
    """Describe every image under ``root``: (records of all DICOM images/frames, number of files seen).

    Files that are not DICOM are reported through ``log`` and left out; foreign DICOM images are kept
    as records with ``kind`` None so that the importer can report them per series.
    """
    records: list[FrameRecord] = []
    n_files = 0
    for path in iter_files(root):
        n_files += 1
        ds, reason = read_header(path)
        if ds is None:
            log(f"warning: skipped {path}: {reason}")
            continue
        n_frames = int(_float(ds.get("NumberOfFrames")) or 1)
        if "PerFrameFunctionalGroupsSequence" in ds or n_frames > 1:
            records.extend(describe_frame(path, ds, i) for i in range(n_frames))
        else:
            records.append(describe_frame(path, ds, None))
    return records, n_files
