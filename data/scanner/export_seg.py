"""Masks of a subject as DICOM Segmentation objects (highdicom), one per slice, beside its image series.

One SEG series per slice, one instance per labelled frame referencing the magnitude image of that frame
(a cine's frames share one plane position, which a single multi-frame SEG cannot hold), one BINARY
segment per mask present (myocardium; LV and RV blood pool when the subject has them) and only the
labelled frames (``labelled_frames``: masks on key frames only stay key frames). The segments are
coded with SNOMED CT terms (myocardium of the left ventricle, left / right ventricle cavity), so viewers
and ``data.scanner.masks`` (which reads a SEG back by its source-image references) can tell them apart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from data.mvm_io import SliceData
from util.errors import DataError

SEGMENTS = (
    ("myocardium", "LV myocardium", "LeftVentricleMyocardium"),
    ("lv_blood", "LV blood pool", "LeftVentricle"),
    ("rv_blood", "RV blood pool", "RightVentricle"),
)


def _codes(name: str):
    return codes.SCT.AnatomicalStructure, getattr(codes.SCT, name)


def write_seg(s: SliceData, images: list[Dataset], path: Path, series_number: int, synthetic: bool) -> Path:
    """Write the masks of slice ``s`` into folder ``path``: one SEG instance per labelled frame, each
    referencing its magnitude image in ``images`` (one per frame)."""
    try:
        import highdicom as hd
    except ImportError as exc:  # pragma: no cover - highdicom is a requirement
        raise DataError("DICOM SEG export needs highdicom (pip install highdicom)") from exc
    present = [(field, label, name) for field, label, name in SEGMENTS if getattr(s, field) is not None]
    frames = s.mask_frames()
    if len(images) != s.num_frames:
        raise DataError(f"slice {s.name!r}: {len(images)} magnitude images for {s.num_frames} frames")
    descriptions = []
    for number, (_, label, name) in enumerate(present, start=1):
        category, kind = _codes(name)
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=label,
                segmented_property_category=category,
                segmented_property_type=kind,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL
                if not synthetic
                else hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                algorithm_identification=None
                if not synthetic
                else hd.AlgorithmIdentificationSequence(
                    name="HDL-MVM", version="1", family=codes.cid7162.ArtificialIntelligence
                ),
            )
        )
    pixels = np.stack([getattr(s, f) for f, _, _ in present], axis=-1).astype(bool)  # [T, H, W, segments]
    series_uid = generate_uid()
    # One SEG instance per labelled frame: the frames of a cine share one plane position, which one
    # multi-frame SEG cannot hold (highdicom requires distinct positions).
    for t in frames:
        seg = hd.seg.Segmentation(
            source_images=[images[t]],
            pixel_array=pixels[t : t + 1],
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions,
            series_instance_uid=series_uid,
            series_number=series_number,
            sop_instance_uid=generate_uid(),
            instance_number=int(t) + 1,
            manufacturer="HDL-MVM",
            manufacturer_model_name="HDL-MVM digital twin",
            software_versions="1",
            device_serial_number="0",
            series_description=("SYNTHETIC " if synthetic else "") + f"MVM {s.slice_position} masks",
            omit_empty_frames=False,
        )
        path.mkdir(parents=True, exist_ok=True)
        seg.save_as(path / f"SEG_{int(t) + 1:04d}.dcm")
    return path
