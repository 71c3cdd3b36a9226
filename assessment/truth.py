"""The regional truth of a subject: which AHA segments move less than normal or late, as its file says.

- A segment is abnormal when its motion scale is ``<= ABNORMAL_SCALE`` (0.7); a subject is a patient when
  any segment's scale is below 1 or its delay is not 0 (:func:`is_patient`), or when its file flags
  pathology that is not regional (:func:`pathology_flag`).
- The phantom records the truth per slice in the attributes ``aha_segment_ids``, ``aha_motion_scale`` and
  ``aha_delay_ms`` (:func:`truth_from_attrs`, :func:`subject_truth`); scanner data has none, and its truth
  is unknown (empty).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from data.mvm_io import Subject
from util.errors import DataError

#: a segment whose regional motion scale is at most this is abnormal (hypokinetic or akinetic)
ABNORMAL_SCALE = 0.7


def abnormal_segments(motion_scale: Mapping[int, float]) -> dict[int, bool]:
    """Truth: segment -> abnormal (motion scale <= :data:`ABNORMAL_SCALE`)."""
    return {int(s): float(v) <= ABNORMAL_SCALE for s, v in motion_scale.items()}


def is_patient(motion_scale: Mapping[int, float], delay_ms: Mapping[int, float]) -> bool:
    """A subject is a patient when any segment moves less than normal or is early or late."""
    return any(float(v) < 1.0 for v in motion_scale.values()) or any(float(v) != 0.0 for v in delay_ms.values())


@dataclass(frozen=True)
class SubjectTruth:
    """The regional pathology a subject was given: per AHA segment, motion scale and delay (ms); empty
    when unknown. ``pathology`` is a file-level flag, for pathology that is not regional."""

    motion_scale: dict[int, float]
    delay_ms: dict[int, float]
    pathology: bool = False

    @property
    def known(self) -> bool:
        return bool(self.motion_scale)

    @property
    def patient(self) -> bool:
        return self.pathology or is_patient(self.motion_scale, self.delay_ms)

    @property
    def abnormal(self) -> dict[int, bool]:
        return abnormal_segments(self.motion_scale)


TRUTH_ATTRS = ("aha_segment_ids", "aha_motion_scale", "aha_delay_ms")


def pathology_flag(file_attrs: Mapping[str, object]) -> bool:
    """Whether a subject file says it is a patient: its ``patient`` attribute (the phantom's; its
    ``pathology`` attribute is the one-line description), else the phantom's record of what it drew, else a
    boolean ``pathology`` attribute."""
    if "patient" in file_attrs:
        return bool(file_attrs["patient"])
    phantom = file_attrs.get("phantom")
    record = phantom.get("pathology") if isinstance(phantom, Mapping) else None
    if isinstance(record, Mapping):
        return bool(record.get("patient", False))
    flag = file_attrs.get("pathology", record if isinstance(record, bool) else False)
    return bool(flag) if isinstance(flag, (bool, int, float, np.bool_, np.integer)) else False


def clinical_label(file_attrs: Mapping[str, object]) -> tuple[str, str]:
    """Who the subject is, as its file says: (``patient`` / ``healthy``, the one-line ``pathology``
    description) from the ``patient`` attribute the phantom writes; ("", "") for a file without it (scanner
    data: nothing is known, so nothing is said)."""
    if "patient" not in file_attrs:
        return "", ""
    pathology = file_attrs.get("pathology", "")
    description = pathology.decode() if isinstance(pathology, bytes) else pathology
    status = "patient" if bool(file_attrs["patient"]) else "healthy"
    return status, description if isinstance(description, str) else ""


def truth_from_attrs(slice_attrs: Sequence[Mapping[str, object]], pathology: bool, where: str) -> SubjectTruth:
    """The truth from the slices' ``aha_segment_ids`` / ``aha_motion_scale`` / ``aha_delay_ms``
    attributes (unknown, i.e. empty, when no slice has them). Raises ``DataError`` naming ``where`` when
    a slice has some but not all, or arrays of different lengths."""
    scale: dict[int, float] = {}
    delay: dict[int, float] = {}
    for attrs in slice_attrs:
        present = [k for k in TRUTH_ATTRS if k in attrs]
        if not present:
            continue
        if len(present) != len(TRUTH_ATTRS):
            raise DataError(f"{where}: a slice has {present} but not all of {list(TRUTH_ATTRS)}")
        ids, sc, dl = (np.atleast_1d(np.asarray(attrs[k], dtype=np.float64)) for k in TRUTH_ATTRS)
        if not ids.shape == sc.shape == dl.shape:
            raise DataError(f"{where}: {list(TRUTH_ATTRS)} differ in length ({ids.size}, {sc.size}, {dl.size})")
        for i, s, d in zip(ids, sc, dl, strict=True):
            scale[int(i)], delay[int(i)] = float(s), float(d)
    return SubjectTruth(scale, delay, bool(pathology))


def subject_truth(subject: Subject) -> SubjectTruth:
    """The subject's regional truth from its slices' ``aha_*`` attributes (empty when it has none)."""
    attrs = [s.attrs for s in subject.slices.values()]
    return truth_from_attrs(attrs, pathology_flag(subject.attrs), f"subject {subject.subject_id!r}")


def territories_of(truth: SubjectTruth, territories: Mapping[str, Iterable[int]]) -> list[str]:
    """The named territories (e.g. coronary: name -> AHA segments) holding a segment whose motion scale
    is reduced (below 1, not only the abnormal ones: a mild territory patient counts as that territory's
    patient). Read from the regional truth, so it works for any file that records it; empty when none."""
    reduced = {seg for seg, scale in truth.motion_scale.items() if scale < 1.0}
    return [name for name, segments in territories.items() if reduced & set(segments)]
