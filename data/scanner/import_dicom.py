"""Import a 3Dir MVM (tissue phase mapping) DICOM scan into the canonical subject file.

    python -m data.scanner.import_dicom DICOM_DIR OUT.h5 [--venc X Y Z] [--subject ID]
        [--order auto|base_first|apex_first] [--phase_units auto|raw12|cm_s] [--inplane_order xy|yx]

The folder may hold the files in any order, under any names, in nested folders, mixed with other
series (localizers, other modalities) and non-DICOM files: those are reported and skipped. Which image
is magnitude or phase, its velocity-encoding direction, its VENC and the vendor's phase scaling are
decided by the rules documented in ``data.scanner.dicom_rules`` and ``data.scanner.dicom_vendor``; grouping into slices
and the conversion to cm/s in ``data.scanner.dicom_assemble``.

Base or apex (``order_slices``). Geometry alone does not say which end of a stack is the base, so:
  1. ``--order base_first`` / ``apex_first``: slices in increasing location along the slice normal
     go from base to apex / apex to base. This overrides everything below.
  2. ``auto`` (default): series-description words ``basal``/``mid``/``apical`` give each slice's
     position when every slice has one, and the direction of the stack when two or more do;
  3. otherwise anatomy: ImagePositionPatient is in patient coordinates (LPS) whatever the patient's
     position on the table, and the LV long axis runs from base to apex towards the patient's left,
     front and feet, so the normal is oriented along (+L, +A, +F) = (1, -1, -1)/sqrt(3). This is used
     when the normal is within ~70 degrees of that axis (any short-axis plan); it is wrong only for
     dextrocardia or a non-short-axis stack, where ``--order`` must be given.
  Without keywords, n slices ordered base to apex get positions basal / mid / apical by thirds
  (1 slice: mid; 2: basal and apical; 3: one each). ``z_towards_apex`` is set from the same decision:
  positive vz is along the slice normal (row x column of ImageOrientationPatient).

Synthesised twins: images marked DERIVED\\SECONDARY whose DerivationDescription says "SYNTHETIC"
(what ``data.scanner.export_dicom`` writes for a twin) give slices with ``synthesised_by`` (the method named in
that description), so that a twin exported and imported again is still known as synthetic; every slice
records the magnitude's ImageType in ``dicom_image_type``.

Masks: DICOM SEG objects in the folder (``data.scanner.export_dicom --seg`` writes them beside the images) give
the masks of the images they reference (``mask_source = "dicom_seg"``), unless ``--no_seg`` or
``--myocardium`` is given. ``--myocardium`` (and ``--lv_blood``, ``--rv_blood``) take a NIfTI volume, a DICOM SEG object
or a folder of PNG images, for every frame or for key frames only (``data.scanner.masks``; key frames are
recorded in the ``labelled_frames`` slice attribute). Without them the importer writes an all-zero
(valid binary) ``myocardium`` mask and marks each slice ``mask_source = "none"``: such a file is input
for ``test.py``; segment the myocardium (``python -m data.scanner.add_masks``) before training or the velocity
analysis.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from data.mvm_io import SLICE_POSITIONS, SliceData, Subject, write_subject
from data.scanner import dicom_rules as rules
from data.scanner.add_masks import add_mask_arguments, mask_sources
from data.scanner.dicom_assemble import AssembledSlice, ImportSettings, assemble_slices
from data.scanner.dicom_scan import FrameRecord, scan_folder
from data.scanner.dicom_vendor import PHASE_UNITS
from data.scanner.masks import attach_masks, read_masks, read_seg_files
from data.slice_order import positions_by_rank, slice_names
from util.cli import ToolParser, run_tool, say
from util.errors import DataError, OptionError

ORDERS = ("auto", "base_first", "apex_first")
INPLANE_ORDERS = ("xy", "yx")
APEX_PRIOR_LPS = np.array([1.0, -1.0, -1.0]) / np.sqrt(3.0)
MIN_APEX_COSINE = 0.3
Log = Callable[[str], None]


def _towards_apex(slices: list[AssembledSlice], order: str, log: Log) -> tuple[int, str]:
    """+1 if increasing location goes from base to apex, -1 if the reverse; and how that was decided."""
    if order == "base_first":
        return 1, "--order base_first"
    if order == "apex_first":
        return -1, "--order apex_first"
    ranked = sorted((s.location_mm, SLICE_POSITIONS.index(s.keyword)) for s in slices if s.keyword)
    ranks = [r for _, r in ranked]
    if len(set(ranks)) >= 2:
        if ranks == sorted(ranks):
            return 1, "series descriptions"
        if ranks == sorted(ranks, reverse=True):
            return -1, "series descriptions"
        log("warning: the basal/mid/apical words of the series descriptions are not in location order; ignored")
    normal = slices[0].stack_normal
    if normal is not None:
        cosine = float(normal @ APEX_PRIOR_LPS)
        if abs(cosine) >= MIN_APEX_COSINE:
            return (1 if cosine > 0 else -1), "anatomy (slice normal vs. LV long axis)"
    log(
        "warning: cannot tell the base from the apex (no keywords, no usable orientation): assumed base first; "
        "pass --order to choose"
    )
    return 1, "assumed"


def order_slices(
    slices: list[AssembledSlice], order: str = "auto", log: Log = say
) -> list[tuple[AssembledSlice, str, int, str]]:
    """Order slices from base to apex: [(slice, slice_position, z_towards_apex, how it was decided)]."""
    normals = [s.stack_normal for s in slices]
    for other in normals[1:]:
        same = (other is None and normals[0] is None) or (
            other is not None and normals[0] is not None and abs(float(other @ normals[0])) > 0.99
        )
        if not same:
            raise DataError("the slices lie in more than one plane orientation; import one short-axis stack at a time")
    towards_apex, how = _towards_apex(slices, order, log)
    ordered = sorted(slices, key=lambda s: towards_apex * s.location_mm)
    use_keywords = order == "auto" and all(s.keyword for s in ordered)
    positions = [s.keyword for s in ordered] if use_keywords else positions_by_rank(len(ordered))
    source = "series description" if use_keywords else f"by rank; base/apex from {how}"
    out = []
    for s, position in zip(ordered, positions, strict=True):
        same_way = 1
        if s.normal is not None and s.stack_normal is not None:
            same_way = 1 if float(s.normal @ s.stack_normal) > 0 else -1
        out.append((s, position, same_way * towards_apex, source))
    return out


def _subject_id(slices: list[AssembledSlice], dicom_dir: Path) -> str:
    ids = {s.patient_id for s in slices if s.patient_id}
    return ids.pop() if len(ids) == 1 else dicom_dir.resolve().name


def _check_settings(venc: Sequence[float] | None, phase_units: str, order: str, inplane_order: str) -> None:
    if venc is not None:
        v = np.asarray(venc, dtype=np.float64)
        if v.shape != (3,) or not np.all(np.isfinite(v)) or np.any(v <= 0):
            raise OptionError(f"--venc needs 3 positive numbers (x y z, cm/s), got {list(venc)}")
    if phase_units not in ("auto", *PHASE_UNITS):
        raise OptionError(f"phase_units must be one of auto, {', '.join(PHASE_UNITS)}; got {phase_units!r}")
    if order not in ORDERS:
        raise OptionError(f"order must be one of {', '.join(ORDERS)}; got {order!r}")
    if inplane_order not in INPLANE_ORDERS:
        raise OptionError(f"inplane_order must be xy or yx; got {inplane_order!r}")


def import_dicom(
    dicom_dir: str | Path,
    venc: Sequence[float] | None = None,
    subject_id: str | None = None,
    order: str = "auto",
    phase_units: str = "auto",
    inplane_order: str = "xy",
    log: Log = say,
    seg: bool = True,
) -> Subject:
    """Read a folder of DICOM files holding a 3Dir MVM scan and return it as a ``Subject``.

    Args:
        dicom_dir: folder searched recursively; foreign and non-DICOM files are reported and skipped.
        venc: (x, y, z) VENC in cm/s along the image axes; overrides the headers (needed when they
            hold none or disagree).
        subject_id: defaults to the PatientID (when unique), else the folder name.
        order: 'auto', 'base_first' or 'apex_first' (see the module docstring).
        phase_units: 'auto' (from Manufacturer), 'raw12' (Siemens) or 'cm_s' (Philips-style).
        inplane_order: which of x/y the first in-plane series (by series number) is, when the headers
            say only "in-plane".
        log: sink for the one-line progress, note and warning messages.
        seg: read the masks of the DICOM SEG objects in the folder (``data.scanner.export_dicom --seg``); False
            leaves them out (masks given another way).

    Raises:
        DataError: no complete slice, an ambiguous folder, or a VENC/scaling that needs an option.
    """
    _check_settings(venc, phase_units, order, inplane_order)
    root = Path(dicom_dir)
    records = _scan(root, log)
    seg_files = sorted({r.path for r in records if r.modality == "SEG"})
    records = [r for r in records if r.modality != "SEG"]
    settings = ImportSettings(venc=venc, phase_units=phase_units, inplane_order=inplane_order)
    slices = assemble_slices(records, settings, log)
    if not slices:
        raise DataError(
            f"{root}: no complete 3Dir MVM slice (magnitude + 3 phase cine series at one location) among its "
            f"{len(records)} DICOM images; see the warnings above for what was skipped"
        )
    ordered = order_slices(slices, order, log)
    names = slice_names([p for _, p, _, _ in ordered])
    out: dict[str, SliceData] = {}
    for name, (s, position, z_dir, how) in zip(names, ordered, strict=True):
        out[name] = _to_slice(name, s, position, z_dir)
        log(f"{name}: {_describe(s, position, how, z_dir)}")
    sid = subject_id or _subject_id(slices, root)
    subject = Subject(subject_id=sid, slices=out, attrs={"source": "dicom", "dicom_folder": str(root)})
    if seg_files and seg:
        log(f"{len(seg_files)} DICOM SEG file(s) in the folder: their masks are imported")
        attach_masks(subject, read_seg_files(seg_files, subject), source="dicom_seg", log=log)
    elif seg_files:
        log(f"note: {len(seg_files)} DICOM SEG file(s) in the folder are left out (masks given another way)")
    return subject


def _scan(root: Path, log: Log) -> list[FrameRecord]:
    """The header records of every DICOM image under ``root``; a clear error when there are none."""
    if not root.is_dir():
        raise DataError(f"{root}: DICOM folder not found" if not root.exists() else f"{root}: is not a folder")
    records, n_files = scan_folder(root, log)
    if n_files == 0:
        raise DataError(f"{root}: the folder holds no files")
    if not records:
        raise DataError(f"{root}: none of its {n_files} files is a DICOM file")
    return records


def _to_slice(name: str, s: AssembledSlice, position: str, z_dir: int) -> SliceData:
    """An assembled slice as ``SliceData``, with an all-zero myocardium (``mask_source`` "none")."""
    made_by = rules.synthetic_marking(s.image_type, s.derivation)
    return SliceData(
        name=name,
        magnitude=s.magnitude,
        myocardium=np.zeros(s.magnitude.shape, dtype=np.uint8),
        velocity=s.velocity,
        venc_cm_s=s.venc_cm_s,
        pixel_spacing_mm=s.pixel_spacing_mm,
        rr_interval_ms=s.rr_interval_ms,
        slice_position=position,
        z_towards_apex=z_dir,
        attrs={
            "mask_source": "none",
            "source": "dicom",
            "manufacturer": s.manufacturer,
            "dicom_series": s.series,
            "trigger_times_ms": s.trigger_ms,
            "slice_location_mm": s.location_mm,
            "rr_source": s.rr_source,
            "dicom_source": s.source,
            "dicom_image_type": s.image_type,
            **({"synthesised_by": made_by} if made_by else {}),
        },
    )


def _describe(s: AssembledSlice, position: str, how: str, z_dir: int) -> str:
    t, h, w = s.magnitude.shape
    return (
        f"{position} ({how}), {t} frames of {h}x{w}, pixel {s.pixel_spacing_mm[0]:.3g}x"
        f"{s.pixel_spacing_mm[1]:.3g} mm, VENC {'/'.join(f'{v:g}' for v in s.venc_cm_s)} cm/s, "
        f"RR {s.rr_interval_ms:.0f} ms ({s.rr_source}), location {s.location_mm:.1f} mm, "
        f"z_towards_apex {z_dir:+d}, {s.manufacturer or 'unknown vendor'}"
    )


def build_parser() -> ToolParser:
    p = ToolParser(
        prog="python -m data.scanner.import_dicom",
        description="Import a 3Dir MVM DICOM scan (magnitude + 3 phase series per slice) into an .h5 subject file.",
    )
    p.add_argument("dicom_dir", help="folder of DICOM files (searched recursively; other files are skipped)")
    p.add_argument("out", help="output subject file (.h5)")
    p.add_argument(
        "--venc", type=float, nargs=3, metavar=("X", "Y", "Z"), help="VENC in cm/s (default: from the headers)"
    )
    p.add_argument("--subject", default=None, help="subject id (default: PatientID, else the folder name)")
    p.add_argument("--order", choices=ORDERS, default="auto", help="which end of the stack is the base (default: auto)")
    p.add_argument(
        "--phase_units",
        choices=("auto", *PHASE_UNITS),
        default="auto",
        help="phase pixel convention (default: from Manufacturer)",
    )
    p.add_argument(
        "--inplane_order",
        choices=INPLANE_ORDERS,
        default="xy",
        help="x/y of in-plane series whose headers do not say which (by series number)",
    )
    add_mask_arguments(p, required=False)
    p.add_argument(
        "--no_seg",
        action="store_true",
        help="leave out the DICOM SEG objects of DICOM_DIR (default: their masks are imported unless --myocardium "
        "is given)",
    )
    return p


def _run(args: argparse.Namespace) -> None:
    subject = import_dicom(
        args.dicom_dir,
        venc=args.venc,
        subject_id=args.subject,
        order=args.order,
        phase_units=args.phase_units,
        inplane_order=args.inplane_order,
        seg=not args.no_seg and args.myocardium is None,
    )
    masks = read_masks(mask_sources(args), subject, args.mask_frames)
    attach_masks(subject, masks, source="imported", log=say)
    path = write_subject(args.out, subject)
    unmasked = [name for name, s in subject.slices.items() if s.attrs.get("mask_source") == "none"]
    note = f"; no myocardium masks for {', '.join(unmasked)}: segment before training" if unmasked else ""
    say(f"wrote {path}: subject {subject.subject_id!r}, {len(subject.slices)} slice(s){note}")


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(_run, build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
