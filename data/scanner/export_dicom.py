"""Export a subject as a 3Dir MVM DICOM scan that viewers and the importer read back.

    python -m data.scanner.export_dicom SUBJECT.h5 OUT_DIR [--vendor siemens|philips] [--synthetic | --acquired]
        [--seg]

Per slice: one magnitude series and three phase series (vx, vy, vz), classic MR Image Storage objects,
explicit VR little endian with a valid file meta header, one file per frame:
``OUT_DIR/<nn>_<slice>_<magnitude|vx|vy|vz>/IM_<frame>.dcm``.

What the files say, and why:
  * SeriesDescription ``MVM <position> magnitude`` / ``MVM <position> phase vx in-plane`` / ...
    ``vz through-plane``: the words the importer's rules read (slice position, direction).
  * Siemens: ImageType ``ORIGINAL\\PRIMARY\\M|P\\ND``; SequenceName ``fl2d1_v<VENC>in`` or
    ``fl2d1_v<VENC>through`` (the VENC lives only there, as on the scanner; the name is limited to 16
    characters, so a VENC with many decimals is written rounded to what fits); phase stored as 12-bit
    0..4095 with RescaleSlope 2 / RescaleIntercept -4096, quantised wrap-safe (``dicom_vendor``).
  * Philips: ImageType ``ORIGINAL\\PRIMARY\\M_PCA\\M\\PCA`` / ``ORIGINAL\\PRIMARY\\VELOCITY MAP\\P\\PCA``;
    private PC Velocity (2001,101A) holds the VENC; phase stored as 12-bit integers whose rescale
    gives cm/s (0..4095 onto [-VENC, VENC]).
  * Magnitude: 12-bit unsigned integers with RescaleSlope/Intercept chosen per slice so the cine spans
    the stored range; it reads back within half a stored step (slope / 2), exactly for integer
    magnitudes up to 4095.
  * Geometry: a short-axis stack in patient coordinates (LPS) whose normal is a typical LV long axis
    (towards the patient's left, front and feet); slices ordered basal -> apical ``SLICE_GAP_MM``
    apart, each slice's normal pointing to the apex when ``z_towards_apex`` is +1 and to the base when
    -1, so that positive vz is along the normal, as the importer assumes. ImagePositionPatient,
    ImageOrientationPatient and SliceLocation (= position . normal) are consistent.
  * Timing: TriggerTime of frame t = t * RR / T, NominalInterval = RR, CardiacNumberOfImages = T;
    ScanOptions ``CG`` (cardiac gating, the condition for TriggerTime) and BodyPartExamined ``HEART``
    (unpaired, so no Laterality): dciodvfy reports no error. ImageComments ``HDL-MVM RR <ms> ms, <T>
    frames``, which dcm2niix copies into its JSON sidecar for ``data.scanner.import_nifti``.
  * Synthesised twins: a subject whose slices carry ``synthesised_by`` (written by the chain), a phantom
    subject (file attribute ``phantom``), or ``--synthetic``, is written as ImageType ``DERIVED\\SECONDARY
    \\...``, SeriesDescription ``SYNTHETIC MVM ...`` and a DerivationDescription saying it is synthetic and
    what made it (repeated in ImageComments, which dcm2niix keeps in its sidecar); every UID is new.
    When the slice records the images it came from (``dicom_source``, written by ``data.scanner.import_dicom``),
    each image lists them in SourceImageSequence and, in the Common Instance Reference module, their
    series and study. ``--acquired`` turns the marking off.

The files are written into a temporary folder beside OUT_DIR that is renamed to OUT_DIR only when every
file is written: a failure leaves nothing behind. OUT_DIR must not exist or be empty.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, MRImageStorage, generate_uid

from data.mvm_io import SLICE_POSITIONS, SliceData, Subject, read_subject
from data.scanner.dicom_rules import derivation_text
from data.scanner.dicom_vendor import RAW_BITS, ds_number, magnitude_to_stored, velocity_to_raw, velocity_to_scaled
from data.scanner.export_seg import write_seg
from util.cli import ToolParser, run_tool, say
from util.errors import DataError, OptionError

VENDORS = ("siemens", "philips")
LONG_AXIS_LPS = np.array([0.6, -0.45, -0.66]) / np.linalg.norm([0.6, -0.45, -0.66])
SLICE_GAP_MM = 10.0
SLICE_THICKNESS_MM = 8.0
PHILIPS_CREATOR = "Philips Imaging DD 001"
_DIRECTIONS = (("vx", "in-plane", "in"), ("vy", "in-plane", "in"), ("vz", "through-plane", "through"))
Log = Callable[[str], None]


def _sequence_name(venc: float, suffix: str) -> str:
    """Siemens-style ``fl2d1_v<VENC><suffix>`` within the 16 characters of the SH value."""
    for text in (f"{venc:g}", f"{venc:.2f}".rstrip("0").rstrip("."), f"{venc:.1f}".rstrip("0").rstrip(".")):
        for prefix in ("fl2d1_v", "fl_v"):
            if len(prefix + text + suffix) <= 16:
                return prefix + text + suffix
    return f"fl_v{round(venc)}{suffix}"


def _geometry(s: SliceData, offset_mm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row cosines, column cosines, position of the first pixel) of a slice ``offset_mm`` from the base."""
    normal = LONG_AXIS_LPS * (1 if s.z_towards_apex >= 0 else -1)
    row = np.cross(LONG_AXIS_LPS, [0.0, 0.0, 1.0])
    row /= np.linalg.norm(row)
    col = np.cross(normal, row)  # so that row x col = normal
    h, w = s.shape
    dy, dx = s.pixel_spacing_mm
    centre = LONG_AXIS_LPS * offset_mm
    first = centre - row * dx * (w - 1) / 2 - col * dy * (h - 1) / 2
    return row, col, first


def _base_dataset(subject: Subject, study: dict, vendor: str) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = MRImageStorage
    ds.Modality = "MR"
    ds.Manufacturer = "SIEMENS" if vendor == "siemens" else "Philips Medical Systems"
    ds.ManufacturerModelName = "HDL-MVM digital twin"
    ds.PatientName = f"{subject.subject_id}^"  # one family-name component, not the retired single-name form
    ds.PatientID = subject.subject_id
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyInstanceUID = study["uid"]
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = study["date"]
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = study["time"]
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "3Dir MVM (tissue phase mapping)"
    ds.FrameOfReferenceUID = study["frame_of_reference"]
    ds.PositionReferenceIndicator = ""
    ds.PatientPosition = "HFS"
    ds.ScanningSequence = "GR"
    ds.SequenceVariant = "SP"
    ds.ScanOptions = "CG"  # cardiac gating: the condition under which TriggerTime belongs in an MR image
    ds.BodyPartExamined = "HEART"  # an unpaired structure: Laterality (type 2C) is then not required
    ds.MRAcquisitionType = "2D"
    ds.RepetitionTime = "5.6"
    ds.EchoTime = "3.5"
    ds.EchoTrainLength = 1
    ds.FlipAngle = "15"
    ds.ImagedNucleus = "1H"
    ds.MagneticFieldStrength = "3"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = RAW_BITS
    ds.HighBit = RAW_BITS - 1
    ds.PixelRepresentation = 0
    ds.SliceThickness = SLICE_THICKNESS_MM
    return ds


def _image_type(vendor: str, phase: bool, synthetic: bool = False) -> list[str]:
    head = ["DERIVED", "SECONDARY"] if synthetic else ["ORIGINAL", "PRIMARY"]
    if vendor == "siemens":
        return [*head, "P" if phase else "M", "ND"]
    return [*head, "VELOCITY MAP", "P", "PCA"] if phase else [*head, "M_PCA", "M", "PCA"]


def synthesised_by(subject: Subject) -> str | None:
    """How the subject was synthesised (None: acquired): the chain's ``synthesised_by`` slice attribute,
    or ``phantom`` for a subject of the embedded phantom (its ``phantom`` file attribute)."""
    methods = sorted({str(s.attrs["synthesised_by"]) for s in subject.slices.values() if s.attrs.get("synthesised_by")})
    if methods:
        return ", ".join(methods)
    return "phantom" if "phantom" in subject.attrs else None


def _source_references(s: SliceData, channel: str) -> tuple[str, list[str], list[dict]] | None:
    """(study UID, series UIDs, [{series, sop_class, sop}]) of the scan a slice was imported from, for one
    channel ('magnitude', 'vx', 'vy', 'vz'); None when the subject does not say (``dicom_source``)."""
    source = s.attrs.get("dicom_source")
    if not isinstance(source, dict) or not isinstance(source.get("channels"), dict):
        return None
    channels = source["channels"]
    entries = [channels.get(channel)]
    if channel != "magnitude" and channel not in channels:  # oblique encodings: every phase series
        entries = [e for name, e in channels.items() if name != "magnitude"]
    entries = [e for e in entries if isinstance(e, dict) and e.get("series") and e.get("images")]
    if not entries:
        return None
    images = [image for e in entries for image in e["images"]]
    return str(source.get("study", "")), [str(e["series"]) for e in entries], images


def _mark_synthetic(ds: Dataset, s: SliceData, series: dict) -> None:
    """Derivation attributes of a synthesised image: what made it and, when known, the images it came from."""
    ds.DerivationDescription = derivation_text(series["synthetic"])[:1024]
    # dcm2niix keeps ImageComments (not the DerivationDescription) in its JSON sidecar: say it there too.
    ds.ImageComments = f"{ds.ImageComments}; {ds.DerivationDescription}"
    refs = _source_references(s, series["channel"])
    if refs is None:
        return
    study, source_series, images = refs

    def reference(image: dict) -> Dataset:
        item = Dataset()
        item.ReferencedSOPClassUID = image["sop_class"]
        item.ReferencedSOPInstanceUID = image["sop"]
        return item

    ds.SourceImageSequence = [reference(image) for image in images]
    # Common Instance Reference module: the series (of another study) the referenced instances belong to.
    series_items = []
    for uid in source_series:
        item = Dataset()
        item.SeriesInstanceUID = uid
        item.ReferencedInstanceSequence = [reference(image) for image in images if image["series"] == uid]
        series_items.append(item)
    if study and study != ds.StudyInstanceUID:
        study_item = Dataset()
        study_item.StudyInstanceUID = study
        study_item.ReferencedSeriesSequence = series_items
        ds.StudiesContainingOtherReferencedInstancesSequence = [study_item]
    else:
        ds.ReferencedSeriesSequence = series_items


def _write_series(
    folder: Path,
    base: Dataset,
    s: SliceData,
    geometry: tuple[np.ndarray, np.ndarray, np.ndarray],
    series: dict,
    stored: np.ndarray,
) -> None:
    """Write one series (one file per frame) of stored integers ``stored`` [T, H, W]."""
    folder.mkdir(parents=True)
    row, col, first = geometry
    normal = np.cross(row, col)
    t_count = stored.shape[0]
    series_uid = generate_uid()
    for t in range(t_count):
        ds = base.copy()
        ds.SOPInstanceUID = generate_uid()
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = series["number"]
        ds.SeriesDescription = series["description"]
        ds.ImageType = series["image_type"]
        if series.get("sequence_name"):
            ds.SequenceName = series["sequence_name"]
        ds.InstanceNumber = t + 1
        ds.AcquisitionNumber = 1
        ds.TriggerTime = ds_number(t * s.rr_interval_ms / t_count)
        ds.NominalInterval = ds_number(s.rr_interval_ms)
        ds.HeartRate = round(60000.0 / s.rr_interval_ms)
        ds.CardiacNumberOfImages = t_count
        ds.ImageOrientationPatient = [ds_number(v) for v in (*row, *col)]
        ds.ImagePositionPatient = [ds_number(v) for v in first]
        ds.SliceLocation = ds_number(float(first @ normal))
        ds.PixelSpacing = [ds_number(v) for v in s.pixel_spacing_mm]
        ds.Rows, ds.Columns = int(stored.shape[1]), int(stored.shape[2])
        ds.RescaleSlope = series["slope"]
        ds.RescaleIntercept = series["intercept"]
        ds.RescaleType = series.get("rescale_type", "US")
        ds.WindowCenter, ds.WindowWidth = series["window"]
        # Type 3, copied by dcm2niix into its JSON sidecar, where data.scanner.import_nifti reads the RR interval.
        ds.ImageComments = f"HDL-MVM RR {ds_number(s.rr_interval_ms):g} ms, {t_count} frames"
        if series.get("synthetic"):
            _mark_synthetic(ds, s, series)
        if "philips_venc" in series:
            block = ds.private_block(0x2001, PHILIPS_CREATOR, create=True)
            block.add_new(0x1A, "FL", [float(series["philips_venc"])])
        ds.PixelData = np.ascontiguousarray(stored[t], dtype="<u2").tobytes()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds.save_as(folder / f"IM_{t + 1:04d}.dcm", enforce_file_format=True)


def _description(text: str, synthetic: str | None) -> str:
    return f"SYNTHETIC {text}" if synthetic else text


def _phase_series(
    s: SliceData, k: int, vendor: str, label: str, synthetic: str | None, log: Log
) -> tuple[dict, np.ndarray]:
    """Series attributes and stored integers of velocity component ``k`` in the vendor's convention."""
    venc = float(s.venc_cm_s[k])
    v = np.asarray(s.velocity[:, k], dtype=np.float64)
    name, plane, suffix = _DIRECTIONS[k]
    info = {
        "description": _description(f"MVM {label} phase {name} {plane}", synthetic),
        "image_type": _image_type(vendor, phase=True, synthetic=bool(synthetic)),
        "synthetic": synthetic,
        "channel": name,
    }
    if vendor == "siemens":
        outside = int(np.count_nonzero((v < -venc) | (v >= venc)))
        if outside:
            log(f"warning: {s.name} {name}: {outside} values beyond +-VENC {venc:g} cm/s are aliased, as on a scanner")
        stored = velocity_to_raw(v, venc)
        # Window in rescaled units (-4096..4094), where a viewer applies it.
        info.update(slope=2, intercept=-(2**RAW_BITS), window=(0, 2 ** (RAW_BITS + 1)))
        info["sequence_name"] = _sequence_name(venc, suffix)
    else:
        outside = int(np.count_nonzero(np.abs(v) > venc))
        if outside:
            log(f"warning: {s.name} {name}: {outside} values beyond +-VENC {venc:g} cm/s are clipped")
        stored, slope, intercept = velocity_to_scaled(v, venc)
        info.update(slope=slope, intercept=intercept, window=(0, ds_number(2 * venc)))
        info.update(philips_venc=venc, rescale_type="cm/s")
    return info, stored


def _slice_order(subject: Subject) -> list[SliceData]:
    """Slices from base to apex (by slice_position; file order among equals)."""
    items = list(subject.slices.values())
    return sorted(items, key=lambda s: SLICE_POSITIONS.index(s.slice_position))


def _write_seg(s: SliceData, root: Path, prefix: str, number: int, synthetic: str | None, log: Log) -> None:
    if s.attrs.get("mask_source") == "none" and not s.myocardium.any():
        log(f"{s.name}: no masks to write as DICOM SEG")
        return
    images = [dcmread(p) for p in sorted((root / f"{prefix}_magnitude").glob("IM_*.dcm"))]
    write_seg(s, images, root / f"{prefix}_seg", number, bool(synthetic))
    fields = [f for f in ("myocardium", "lv_blood", "rv_blood") if getattr(s, f) is not None]
    log(f"{s.name}: DICOM SEG of {', '.join(fields)}")


def _write_all(subject: Subject, root: Path, vendor: str, synthetic: str | None, log: Log, seg: bool = False) -> None:
    now = datetime.datetime.now()
    study = {
        "uid": generate_uid(),
        "frame_of_reference": generate_uid(),
        "date": now.strftime("%Y%m%d"),
        "time": now.strftime("%H%M%S"),
    }
    base = _base_dataset(subject, study, vendor)
    for i, s in enumerate(_slice_order(subject)):
        if s.velocity is None:
            raise DataError(f"slice {s.name!r} has no velocity: a phase series needs one")
        label = s.slice_position if s.name == s.slice_position else f"{s.slice_position} ({s.name})"
        geometry = _geometry(s, i * SLICE_GAP_MM)
        stored, slope, intercept = magnitude_to_stored(s.magnitude)
        hi = float(stored.max()) * slope + intercept
        mag = {
            "number": 10 * (i + 1),
            "description": _description(f"MVM {label} magnitude", synthetic),
            "image_type": _image_type(vendor, phase=False, synthetic=bool(synthetic)),
            "synthetic": synthetic,
            "channel": "magnitude",
            "slope": slope,
            "intercept": intercept,
            "window": (ds_number(hi / 2), ds_number(max(hi, 1e-6))),
        }
        if vendor == "siemens":
            mag["sequence_name"] = "fl2d1"
        _write_series(root / f"{i + 1:02d}_{s.name}_magnitude", base, s, geometry, mag, stored)
        for k, (name, _, _) in enumerate(_DIRECTIONS):
            info, raw = _phase_series(s, k, vendor, label, synthetic, log)
            info["number"] = 10 * (i + 1) + k + 1
            _write_series(root / f"{i + 1:02d}_{s.name}_{name}", base, s, geometry, info, raw)
        log(f"{s.name}: 4 series of {s.num_frames} frames ({vendor})")
        if seg:
            _write_seg(s, root, f"{i + 1:02d}_{s.name}", 10 * (i + 1) + 5, synthetic, log)


def export_dicom(
    subject: Subject,
    out_dir: str | os.PathLike,
    vendor: str = "siemens",
    log: Log = say,
    synthetic: bool | None = None,
    seg: bool = False,
) -> Path:
    """Write ``subject`` as DICOM series under ``out_dir`` (which must not exist or be empty); return it.

    ``synthetic``: True marks the series as a synthesised twin, False as acquired; None (default) decides
    from the subject (``synthesised_by`` slice attributes written by the chain, or a phantom subject).
    ``seg``: also write each slice's masks as DICOM SEG (``data.scanner.export_seg``) in ``<nn>_<slice>_seg/``.
    """
    method = synthesised_by(subject)
    if synthetic is True and method is None:
        method = "marked synthetic by the user"
    marked = method if synthetic is not False else None
    if vendor not in VENDORS:
        raise OptionError(f"vendor must be one of {', '.join(VENDORS)}; got {vendor!r}")
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(f"{out}: exists and is not an empty folder; choose a new output folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as exc:
        raise DataError(f"{out}: cannot write: {exc.strerror or exc}") from exc
    try:
        _write_all(subject, tmp, vendor, marked, log, seg=seg)
        if out.exists():
            out.rmdir()
        os.rename(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"{out}: cannot write: {exc.strerror or exc}") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def build_parser() -> ToolParser:
    p = ToolParser(
        prog="python -m data.scanner.export_dicom", description="Export an .h5 subject as 3Dir MVM DICOM series."
    )
    p.add_argument("subject", help="subject file (.h5)")
    p.add_argument("out_dir", help="output folder (must not exist or be empty)")
    p.add_argument("--vendor", choices=VENDORS, default="siemens", help="phase storage convention (default: siemens)")
    mark = p.add_mutually_exclusive_group()
    mark.add_argument(
        "--synthetic",
        dest="synthetic",
        action="store_true",
        default=None,
        help="mark the series as a synthesised twin (default: when the file says it was synthesised)",
    )
    mark.add_argument("--acquired", dest="synthetic", action="store_false", help="mark the series as acquired")
    p.add_argument("--seg", action="store_true", help="also write the masks as DICOM SEG (<nn>_<slice>_seg/)")
    return p


def _run(args: argparse.Namespace) -> None:
    subject = read_subject(args.subject)
    out = export_dicom(subject, args.out_dir, vendor=args.vendor, synthetic=args.synthetic, seg=args.seg)
    say(f"wrote {out}")


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(_run, build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
