"""Myocardium and blood-pool masks for scanner data: read from NIfTI, DICOM SEG or PNG, checked, attached.

Sources (``read_masks``), one per mask kind (myocardium, lv_blood, rv_blood):
  * a NIfTI volume (``.nii`` / ``.nii.gz``), (x, y, slice, time), reoriented like the NIfTI importer
    (``data.scanner.nifti_axes``): one slice per slice of the subject in base-to-apex file order, and either
    every frame or only the key frames named by ``mask_frames`` (as many as the volume has);
  * a DICOM SEG object (Modality SEG, read with pydicom), or a folder searched recursively for them
    (other files are left out, so the folder ``data.scanner.export_dicom --seg`` wrote, images included,
    holds the masks of every slice): each frame is placed by the source image it references
    (DerivationImageSequence / SourceImageSequence), which must be one of the images the subject was
    imported from (the ``dicom_source`` slice attribute of ``data.scanner.import_dicom``); the segment is
    the one whose label names the mask (``myocard``, ``lv``/``left``, ``rv``/``right``), or
    the only segment (``read_seg_files`` takes every segment a SEG labels, the masks of a folder the
    DICOM importer reads);
  * a folder of PNG images ``<slice>_<frame>.png`` (slice name of the subject, frame index from 0):
    any non-zero pixel is inside the mask. The frames present are the labelled ones.
Checks: slice count, image size (rows x columns), frame counts and indices, orientation (affine for NIfTI,
the source images for SEG), binary values; every failure is one ``DataError`` naming the file and the
mismatch.

Masks on key frames only (``attach_masks``): the mask datasets keep their full [T, H, W] shape, zero on
the other frames, and the slice attribute ``labelled_frames`` lists the frames whose masks are real
(absent when every frame is labelled); ``mask_source`` says where they came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data.mvm_io import Subject
from data.scanner.nifti_axes import dicom_layout, load_volume, read_sidecar, sidecar_orientation, to_frames
from util.errors import DataError, OptionError

MASK_KINDS = ("myocardium", "lv_blood", "rv_blood")
_SEGMENT_WORDS = {"myocardium": ("myocard",), "lv_blood": ("lv", "left"), "rv_blood": ("rv", "right")}
_PNG_NAME = re.compile(r"^(?P<slice>.+)_(?P<frame>\d+)\.png$", re.IGNORECASE)
Log = Callable[[str], None]


@dataclass
class SliceMasks:
    """The labelled frames of one slice and, per mask kind, one [H, W] uint8 image per labelled frame."""

    frames: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)  # kind -> frame -> mask

    def labelled(self) -> list[int]:
        return sorted({f for by_frame in self.frames.values() for f in by_frame})


def _binary(data: np.ndarray, where: str) -> np.ndarray:
    if not np.all(np.isfinite(data)):
        raise DataError(f"{where}: mask has non-finite values")
    return (np.asarray(data) != 0).astype(np.uint8)


def _frame_list(mask_frames: Sequence[int] | None, count: int, n_frames: int, where: str) -> list[int]:
    if count == n_frames and mask_frames is None:
        return list(range(n_frames))
    if mask_frames is None:
        raise DataError(
            f"{where}: has {count} frames, the cine has {n_frames}: pass --mask_frames with the {count} "
            "frame indices (from 0) the masks belong to"
        )
    frames = [int(f) for f in mask_frames]
    if len(frames) != count or sorted(set(frames)) != frames or frames[0] < 0 or frames[-1] >= n_frames:
        raise DataError(
            f"{where}: --mask_frames {frames} must be {count} increasing frame indices in 0..{n_frames - 1} "
            f"(one per mask frame of the file)"
        )
    return frames


def _from_nifti(path: Path, kind: str, subject: Subject, mask_frames: Sequence[int] | None) -> dict[str, SliceMasks]:
    img = load_volume(path, kind)
    ornt, _ = dicom_layout(img, sidecar_orientation(read_sidecar(path), str(path)))
    data = to_frames(img, path, kind, ornt)  # [S, K, H, W]
    slices = list(subject.slices.values())
    first = slices[0]
    if data.shape[0] != len(slices):
        raise DataError(f"{path}: {kind} has {data.shape[0]} slice(s), the subject has {len(slices)}")
    if data.shape[2:] != first.shape:
        raise DataError(
            f"{path}: {kind} images are {data.shape[2]}x{data.shape[3]} (rows x columns), the subject's are "
            f"{first.shape[0]}x{first.shape[1]} (a transposed or resampled mask?)"
        )
    frames = _frame_list(mask_frames, data.shape[1], first.num_frames, f"{path}")
    out = {}
    for i, s in enumerate(slices):
        if s.shape != first.shape or s.num_frames != first.num_frames:
            raise DataError(
                f"{path}: one NIfTI volume needs slices of one size and frame count; slice {s.name!r} differs"
            )
        out[s.name] = SliceMasks({kind: {f: _binary(data[i, k], f"{path}") for k, f in enumerate(frames)}})
    return out


def _from_png(folder: Path, kind: str, subject: Subject) -> dict[str, SliceMasks]:
    from PIL import Image, UnidentifiedImageError

    out: dict[str, SliceMasks] = {}
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png")
    if not files:
        raise DataError(f"{folder}: no PNG files (<slice>_<frame>.png) for {kind}")
    for path in files:
        match = _PNG_NAME.match(path.name)
        if not match or match["slice"] not in subject.slices:
            raise DataError(
                f"{path}: name is not <slice>_<frame>.png with a slice of the subject ({', '.join(subject.slices)})"
            )
        s = subject.slices[match["slice"]]
        frame = int(match["frame"])
        if frame >= s.num_frames:
            raise DataError(f"{path}: frame {frame} is beyond the {s.num_frames} frames of slice {s.name!r}")
        try:
            with Image.open(path) as im:
                pixels = np.asarray(im)
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise DataError(f"{path}: not a readable PNG image ({type(exc).__name__}: {exc})") from exc
        if pixels.ndim != 2:
            raise DataError(f"{path}: a label image must have one channel, this one has shape {pixels.shape}")
        if pixels.shape != s.shape:
            raise DataError(
                f"{path}: image is {pixels.shape[0]}x{pixels.shape[1]}, slice {s.name!r} is {s.shape[0]}x{s.shape[1]}"
            )
        out.setdefault(s.name, SliceMasks()).frames.setdefault(kind, {})[frame] = _binary(pixels, f"{path}")
    return out


def _source_index(subject: Subject) -> dict[str, tuple[str, int]]:
    """SOP instance UID of every magnitude source image -> (slice name, frame index)."""
    index = {}
    for name, s in subject.slices.items():
        source = s.attrs.get("dicom_source")
        if not isinstance(source, dict):
            continue
        for channel in source.get("channels", {}).values():
            for t, image in enumerate(channel.get("images", [])):
                index[image["sop"]] = (name, t)
    return index


def _segment_kind(seg) -> str | None:
    """The mask kind a SEG segment holds, from its label and coded property type (myocardium first, so
    that "LV myocardium" is the myocardium and not the LV blood pool); None when they name none."""
    codes = [str(c.get("CodeMeaning", "")) for c in seg.get("SegmentedPropertyTypeCodeSequence", [])]
    text = " ".join([str(seg.get("SegmentLabel", "")), *codes]).lower()
    for kind in MASK_KINDS:
        if any(re.search(rf"\b{w}", text) for w in _SEGMENT_WORDS[kind]):
            return kind
    return None


def _segment_numbers(ds, path: Path) -> dict[str, int]:
    """{mask kind: segment number} of a SEG; a single segment that names no kind is the myocardium."""
    segments = list(ds.get("SegmentSequence", []))
    if not segments:
        raise DataError(f"{path}: DICOM SEG without a SegmentSequence")
    found: dict[str, int] = {}
    for seg in segments:
        kind = _segment_kind(seg)
        if kind is not None:
            found.setdefault(kind, int(seg.SegmentNumber))
    if len(segments) == 1 and not found:
        found["myocardium"] = int(segments[0].SegmentNumber)
    return found


def _segment_number(ds, kind: str, path: Path) -> int:
    segments = list(ds.get("SegmentSequence", []))
    numbers = _segment_numbers(ds, path)
    if len(segments) == 1:
        return int(segments[0].SegmentNumber)
    if kind in numbers:
        return numbers[kind]
    labels = [str(seg.get("SegmentLabel", "")) for seg in segments]
    raise DataError(f"{path}: none of the segments {labels} is labelled as {kind}")


def _referenced_sop(frame_group, path: Path, i: int) -> str:
    for deriv in frame_group.get("DerivationImageSequence", []):
        for src in deriv.get("SourceImageSequence", []):
            return str(src.ReferencedSOPInstanceUID)
    raise DataError(f"{path}: SEG frame {i + 1} does not reference its source image (DerivationImageSequence)")


def _read_seg(path: Path, subject: Subject):
    """(dataset, frames [N, H, W], SOP index of the subject's source images) of a DICOM SEG file."""
    import pydicom

    try:
        ds = pydicom.dcmread(path)
        pixels = np.asarray(ds.pixel_array)
    except Exception as exc:  # pydicom raises many types for broken files
        raise DataError(f"{path}: not a readable DICOM SEG ({type(exc).__name__}: {exc})") from exc
    if str(ds.get("Modality", "")) != "SEG":
        raise DataError(f"{path}: Modality is {ds.get('Modality', 'missing')!r}, not a DICOM SEG")
    index = _source_index(subject)
    if not index:
        raise DataError(
            f"{path}: the subject does not record its DICOM source images; import it with data.scanner.import_dicom"
        )
    return ds, pixels.reshape((-1, *pixels.shape[-2:])), index


def _seg_frames(ds, pixels, index, number: int, kind: str, path: Path, subject: Subject) -> dict[str, SliceMasks]:
    """The frames of segment ``number`` of a read SEG, placed by their source images, as ``kind``."""
    from pydicom.dataset import Dataset

    out: dict[str, SliceMasks] = {}
    shared = (ds.get("SharedFunctionalGroupsSequence") or [Dataset()])[0]
    for i, group in enumerate(ds.get("PerFrameFunctionalGroupsSequence", [])):
        # One segment: highdicom (and others) put its identification in the shared groups.
        ident = (group.get("SegmentIdentificationSequence") or shared.get("SegmentIdentificationSequence") or [None])[0]
        if ident is None or int(ident.ReferencedSegmentNumber) != number:
            continue
        sop = _referenced_sop(group, path, i)
        if sop not in index:
            raise DataError(f"{path}: SEG frame {i + 1} references image {sop}, which is not one of the subject's")
        name, t = index[sop]
        s = subject.slices[name]
        if pixels[i].shape != s.shape:
            raise DataError(f"{path}: SEG frames are {pixels[i].shape}, slice {name!r} is {s.shape}")
        out.setdefault(name, SliceMasks()).frames.setdefault(kind, {})[t] = _binary(pixels[i], f"{path}")
    if not out:
        raise DataError(f"{path}: no frame of segment {number} ({kind})")
    return out


def _from_seg(path: Path, kind: str, subject: Subject) -> dict[str, SliceMasks]:
    ds, pixels, index = _read_seg(path, subject)
    return _seg_frames(ds, pixels, index, _segment_number(ds, kind, path), kind, path, subject)


def _merge(into: dict[str, SliceMasks], found: dict[str, SliceMasks]) -> None:
    for name, masks in found.items():
        for kind, by_frame in masks.frames.items():
            into.setdefault(name, SliceMasks()).frames.setdefault(kind, {}).update(by_frame)


def read_seg_files(files: Sequence[Path], subject: Subject) -> dict[str, SliceMasks]:
    """Every mask kind the DICOM SEG ``files`` hold (segments named by their labels, see
    ``_segment_kind``), placed by their source images: what a folder written by ``data.scanner.export_dicom
    --seg`` brings back."""
    merged: dict[str, SliceMasks] = {}
    for path in files:
        ds, pixels, index = _read_seg(Path(path), subject)
        numbers = _segment_numbers(ds, Path(path))
        if not numbers:
            labels = [str(seg.get("SegmentLabel", "")) for seg in ds.get("SegmentSequence", [])]
            raise DataError(f"{path}: none of the segments {labels} is labelled as one of {', '.join(MASK_KINDS)}")
        for kind, number in numbers.items():
            _merge(merged, _seg_frames(ds, pixels, index, number, kind, Path(path), subject))
    return merged


def _seg_files(folder: Path) -> list[Path]:
    """The DICOM SEG files under ``folder`` (recursively); an error when there is none."""
    import pydicom

    found = []
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            modality = pydicom.dcmread(file, stop_before_pixels=True, specific_tags=["Modality"]).get("Modality")
        except Exception:  # not DICOM, or unreadable: not a SEG either way
            continue
        if str(modality or "") == "SEG":
            found.append(file)
    if not found:
        raise DataError(f"{folder}: no DICOM SEG file (Modality SEG) in the folder or below it")
    return found


def read_masks(
    sources: dict[str, str | Path | None], subject: Subject, mask_frames: Sequence[int] | None = None
) -> dict[str, SliceMasks]:
    """Read every given mask source (see the module docstring): {slice name: SliceMasks}."""
    merged: dict[str, SliceMasks] = {}
    for kind, source in sources.items():
        if source is None:
            continue
        if kind not in MASK_KINDS:
            raise OptionError(f"unknown mask kind {kind!r}; expected one of {', '.join(MASK_KINDS)}")
        path = Path(source)
        if not path.exists():
            raise DataError(f"{path}: {kind} mask not found")
        if path.is_dir() and not any(p.suffix.lower() == ".png" for p in path.iterdir()):
            found: dict[str, SliceMasks] = {}
            for file in _seg_files(path):  # SEG series of one or more slices, one file per frame
                _merge(found, _from_seg(file, kind, subject))
        elif path.is_dir():
            found = _from_png(path, kind, subject)
        elif path.name.lower().endswith((".nii", ".nii.gz")):
            found = _from_nifti(path, kind, subject, mask_frames)
        else:
            found = _from_seg(path, kind, subject)
        for name, masks in found.items():
            merged.setdefault(name, SliceMasks()).frames.update(masks.frames)
    return merged


def attach_masks(subject: Subject, masks: dict[str, SliceMasks], source: str, log: Log) -> None:
    """Put the masks into the subject's slices (full [T, H, W], zero off the labelled frames)."""
    if masks and "myocardium" not in {k for m in masks.values() for k in m.frames}:
        raise OptionError("blood-pool masks need a myocardium mask (--myocardium)")
    for name, s in subject.slices.items():
        if name not in masks:
            continue
        labelled = masks[name].labelled()
        for kind in MASK_KINDS:
            by_frame = masks[name].frames.get(kind)
            if by_frame is None:
                continue
            if sorted(by_frame) != labelled:
                raise DataError(
                    f"slice {name!r}: {kind} is given on frames {sorted(by_frame)}, other masks on {labelled}"
                )
            full = np.zeros((s.num_frames, *s.shape), dtype=np.uint8)
            for t, mask in by_frame.items():
                full[t] = mask
            setattr(s, kind, full)
        s.labelled_frames = None if len(labelled) == s.num_frames else np.asarray(labelled, dtype=np.int64)
        s.attrs["mask_source"] = source
        every = "all" if s.labelled_frames is None else f"key frames {labelled}"
        log(f"{name}: masks {', '.join(k for k in MASK_KINDS if k in masks[name].frames)} on {every} ({source})")
