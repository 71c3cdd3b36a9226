"""Pixel pass of the DICOM importer: group described images into slices and convert them to cm/s.

Grouping (``assemble_slices``):
  * images whose header says they are not part of the scan are reported once per series and left out;
  * the rest are grouped by plane orientation (normals within ~8 degrees), then by slice location: the
    ImagePositionPatient projected on the stack normal (SliceLocation when the position is missing);
    locations closer than ``LOCATION_TOLERANCE_MM`` are the same slice;
  * inside a slice, by channel: the magnitude, and one phase channel per velocity-encoding direction,
    each sorted by TriggerTime. Several magnitude series at one location (Siemens writes one per flow
    encoding) are allowed: the one with the most frames, then the lowest series number, is used.
    Two phase images of one direction at one trigger time are an error: they are two acquisitions and
    only the user can say which one is wanted;
  * a location needs the magnitude and three phase directions, at least 3 frames each and the same
    number of frames; anything less is reported and left out.

The three phase channels are converted to cm/s along their own encoding direction, then to the image
axes by solving ``E v_image = v_encoded`` with E the encoding directions in image axes (for the usual
x, y, z encodings E is the identity and this is a relabelling).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pydicom

from data.scanner import dicom_rules as rules
from data.scanner.dicom_scan import FrameRecord
from data.scanner.dicom_vendor import PHASE_UNITS, RAW_BITS, phase_levels, raw_to_velocity
from util.errors import DataError

LOCATION_TOLERANCE_MM = 0.5
MIN_FRAMES = 3
_AXIS_KEYS = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0)}
Log = Callable[[str], None]


@dataclass
class AssembledSlice:
    """One slice ready to become a ``SliceData``: arrays in image axes plus the facts used to order it."""

    location_mm: float
    stack_normal: np.ndarray | None  # the normal along which ``location_mm`` is measured
    normal: np.ndarray | None  # this slice's own normal: the direction of positive vz
    magnitude: np.ndarray
    velocity: np.ndarray
    venc_cm_s: np.ndarray
    pixel_spacing_mm: tuple[float, float]
    rr_interval_ms: float
    rr_source: str
    trigger_ms: np.ndarray
    keyword: str | None
    manufacturer: str
    patient_id: str
    series: list[str] = field(default_factory=list)
    source: dict = field(default_factory=dict)  # the UIDs of the images used (see ``source_uids``)
    image_type: str = ""  # of the magnitude images: DERIVED\\SECONDARY marks a synthesised twin
    derivation: str = ""  # the magnitude images' DerivationDescription


def source_uids(channels: dict[str, list[FrameRecord]]) -> dict:
    """{"study": UID, "channels": {name: {"series": UID, "images": [{series, sop_class, sop}]}}}: the
    images a slice was read from, so that a twin synthesised from it can reference them."""
    out: dict = {"study": "", "channels": {}}
    for name, records in channels.items():
        images, seen = [], set()
        for rec in records:
            sop = rec.sop_uid.split("#")[0]  # frames of one enhanced image are one instance
            if sop not in seen:
                seen.add(sop)
                images.append({"series": rec.series_uid, "sop_class": rec.sop_class, "sop": sop})
        out["channels"][name] = {"series": records[0].series_uid, "images": images}
        out["study"] = out["study"] or records[0].study_uid
    return out


@dataclass
class ImportSettings:
    venc: Sequence[float] | None = None
    phase_units: str = "auto"
    inplane_order: str = "xy"


def _report_foreign(records: list[FrameRecord], log: Log) -> None:
    by_series: dict[str, list[FrameRecord]] = defaultdict(list)
    for rec in records:
        by_series[rec.series_uid].append(rec)
    for recs in by_series.values():
        reasons = sorted({r.reason for r in recs})
        log(f"warning: skipped {recs[0].series_label} ({len(recs)} images, e.g. {recs[0].where}): {'; '.join(reasons)}")


def _usable(records: list[FrameRecord], log: Log) -> list[FrameRecord]:
    """Drop duplicates and images that cannot be placed in a cine, reporting each group once."""
    seen: set[str] = set()
    keep: list[FrameRecord] = []
    foreign: list[FrameRecord] = []
    for rec in records:
        if rec.sop_uid in seen:
            log(f"note: {rec.where} is a copy of an image already read (same SOPInstanceUID); ignored")
            continue
        seen.add(rec.sop_uid)
        if rec.kind is None:
            pass
        elif rec.trigger_ms is None:
            rec.reason = "no TriggerTime (not a cardiac cine)"
        elif rec.position is None and rec.slice_location is None:
            rec.reason = "no ImagePositionPatient or SliceLocation"
        elif rec.spacing is None:
            rec.reason = "no PixelSpacing"
        elif rec.kind == "phase" and rec.direction is None:
            rec.reason = f"phase image whose velocity-encoding direction is unknown ({rec.direction_rule})"
        if rec.kind is None or rec.reason:
            foreign.append(rec)
        else:
            keep.append(rec)
    if foreign:
        _report_foreign(foreign, log)
    return keep


def _group_locations(records: list[FrameRecord]) -> list[tuple[np.ndarray | None, float, list[FrameRecord]]]:
    """Group records by plane orientation and location: [(stack normal, location in mm, records)]."""
    stacks: list[tuple[np.ndarray | None, list[FrameRecord]]] = []
    for rec in records:
        normal = rec.normal
        for ref, members in stacks:
            if (ref is None and normal is None) or (
                ref is not None and normal is not None and abs(float(ref @ normal)) > 0.99
            ):
                members.append(rec)
                break
        else:
            stacks.append((normal, [rec]))
    out = []
    for ref, members in stacks:
        located = []
        for rec in members:
            if ref is not None and rec.position is not None:
                located.append((float(rec.position @ ref), rec))
            else:
                located.append((float(rec.slice_location), rec))
        located.sort(key=lambda x: x[0])
        groups: list[list[tuple[float, FrameRecord]]] = []
        for loc, rec in located:
            if groups and loc - groups[-1][-1][0] <= LOCATION_TOLERANCE_MM:
                groups[-1].append((loc, rec))
            else:
                groups.append([(loc, rec)])
        for group in groups:
            out.append((ref, float(np.mean([g[0] for g in group])), [g[1] for g in group]))
    return out


def _by_series(records: list[FrameRecord]) -> list[list[FrameRecord]]:
    series: dict[str, list[FrameRecord]] = defaultdict(list)
    for rec in records:
        series[rec.series_uid].append(rec)
    return sorted(series.values(), key=lambda rs: (rs[0].series_number, rs[0].series_uid))


def _channels(
    where: str, records: list[FrameRecord], settings: ImportSettings, log: Log
) -> tuple[list[FrameRecord], list[tuple[np.ndarray, list[FrameRecord]]], str]:
    """Split one location into (magnitude records, [(encoding vector, phase records)], problem)."""
    magnitude_series = _by_series([r for r in records if r.kind == "magnitude"])
    magnitude: list[FrameRecord] = []
    if magnitude_series:
        magnitude_series.sort(key=lambda rs: -len(rs))
        magnitude = magnitude_series[0]
        for extra in magnitude_series[1:]:
            log(f"note: {where}: extra magnitude {extra[0].series_label} not used ({magnitude[0].series_label} is)")
    phase: dict[tuple[float, ...], list[FrameRecord]] = defaultdict(list)
    unresolved: list[list[FrameRecord]] = []
    for series in _by_series([r for r in records if r.kind == "phase"]):
        pending = [r for r in series if r.direction == "inplane"]
        if pending:
            unresolved.append(pending)
        for rec in series:
            if rec.encoding is not None:
                phase[tuple(np.round(rec.encoding, 4))].append(rec)
    if unresolved:
        free = [a for a in settings.inplane_order if _AXIS_KEYS[a] not in phase]
        if len(unresolved) > len(free):
            return (
                magnitude,
                [],
                (
                    f"{len(unresolved)} in-plane phase series carry no x/y word in their description and only "
                    f"{len(free)} in-plane direction is left"
                ),
            )
        for axis, series in zip(free, unresolved, strict=False):
            phase[_AXIS_KEYS[axis]].extend(series)
            log(
                f"warning: {where}: {series[0].series_label} is in-plane without an x/y word: taken as {axis} "
                f"by series order (--inplane_order {settings.inplane_order})"
            )
    channels = [(_exact_encoding(k, v), v) for k, v in sorted(phase.items(), key=lambda kv: _axis_rank(kv[0]))]
    missing = []
    if not magnitude:
        missing.append("magnitude")
    if len(channels) < 3:
        missing.append(f"{3 - len(channels)} of the 3 phase directions")
    if missing:
        return magnitude, channels, "no " + " and no ".join(missing)
    if len(channels) > 3:
        return magnitude, channels, f"phase images for {len(channels)} encoding directions (expected 3)"
    return magnitude, channels, ""


def _exact_encoding(key: tuple[float, ...], records: list[FrameRecord]) -> np.ndarray:
    """The encoding direction of a channel: its records' own unit vectors (the grouping key is rounded,
    which would bias an oblique direction by up to 1e-4), or the key for in-plane series placed by order."""
    vectors = [r.encoding for r in records if r.encoding is not None]
    if not vectors:
        return np.asarray(key, dtype=np.float64)
    mean = np.mean(vectors, axis=0)
    return mean / np.linalg.norm(mean)


def _axis_rank(key: Sequence[float]) -> tuple[int, tuple[float, ...]]:
    return int(np.argmax(np.abs(key))), tuple(key)


def _frames(where: str, name: str, records: list[FrameRecord]) -> list[FrameRecord]:
    """Sort a channel by trigger time; two different images at one trigger time are an error."""
    by_time: dict[float, FrameRecord] = {}
    for rec in records:
        key = round(float(rec.trigger_ms), 2)
        if key in by_time:
            raise DataError(
                f"{where}: two {name} images at trigger time {key:g} ms ({by_time[key].where} and {rec.where}); "
                "the folder holds two acquisitions of this slice: import them from separate folders"
            )
        by_time[key] = rec
    return [by_time[k] for k in sorted(by_time)]


def _channel_venc(where: str, records: list[FrameRecord], override: float | None) -> float:
    claims: list[tuple[float, str]] = []
    for rec in records:
        claims.extend(rec.venc_claims)
    claims.sort(key=lambda c: c[1].startswith("sequence name"))  # numeric tags first
    if override is not None:
        return float(override)
    venc, why = rules.resolve_venc(claims)
    if venc is None:
        raise DataError(
            f"{where}: VENC of {records[0].series_label} is unknown or contradictory ({why}); pass --venc X Y Z (cm/s)"
        )
    return venc


class PixelReader:
    """Reads pixel arrays, keeping the last multi-frame file decoded (its frames are read in a row)."""

    def __init__(self) -> None:
        self._path = None
        self._pixels: np.ndarray | None = None

    def read(self, rec: FrameRecord) -> np.ndarray:
        if rec.path != self._path:
            try:
                ds = pydicom.dcmread(rec.path)
                self._pixels = np.asarray(ds.pixel_array)
            except Exception as exc:  # pydicom raises many types for undecodable pixel data
                raise DataError(
                    f"{rec.path}: cannot decode the pixel data ({type(exc).__name__}: {exc}); compressed "
                    "transfer syntaxes need pydicom's optional decoders (e.g. pylibjpeg)"
                ) from exc
            self._path = rec.path
        pixels = self._pixels
        if rec.frame is not None and pixels.ndim == 3:
            pixels = pixels[rec.frame]
        if pixels.shape != (rec.rows, rec.cols):
            raise DataError(f"{rec.where}: pixel data has shape {pixels.shape}, header says {rec.rows}x{rec.cols}")
        return pixels


def _phase_units(where: str, records: list[FrameRecord], settings: ImportSettings) -> str:
    if settings.phase_units != "auto":
        return settings.phase_units
    units = {r.units for r in records}
    if len(units) == 1 and None not in units:
        return units.pop()
    makers = sorted({r.manufacturer or "missing" for r in records})
    raise DataError(
        f"{where}: how manufacturer {', '.join(makers)} stores phase is not known; pass --phase_units "
        f"{' or '.join(PHASE_UNITS)} (raw12: Siemens 12-bit phase; cm_s: rescaled values are cm/s)"
    )


def _raw_levels(rec: FrameRecord) -> tuple[int, str]:
    try:
        return phase_levels(rec.slope, rec.intercept, rec.bits_stored)
    except DataError as exc:
        raise DataError(f"{rec.where}: {exc}") from exc


def _convert_channel(frames: list[FrameRecord], units: str, venc: float, reader: PixelReader, log: Log) -> np.ndarray:
    """One phase channel [T, H, W] in cm/s along its encoding direction (``dicom_vendor`` conventions)."""
    stored = [reader.read(r) for r in frames]
    if units == "cm_s":
        pairs = zip(stored, frames, strict=True)
        velocity = np.stack([(p * r.slope + r.intercept).astype(np.float32) for p, r in pairs])
        if np.abs(velocity).max(initial=0) > 1.01 * venc:
            log(f"warning: {frames[0].series_label}: values beyond VENC {venc:g} cm/s: are these cm/s (--phase_units)?")
        return velocity
    out = []
    for pixels, rec in zip(stored, frames, strict=True):
        levels, source = _raw_levels(rec)
        try:
            out.append(raw_to_velocity(pixels, venc, levels=levels))
        except DataError as exc:
            raise DataError(f"{rec.where}: {exc} ({source})") from exc
    levels, source = _raw_levels(frames[0])
    top = max(int(p.max(initial=0)) for p in stored)
    if source.startswith("BitsStored") and top < levels // 2:
        raise DataError(
            f"{frames[0].where}: Siemens phase values of {frames[0].series_label} reach only {top}, the lower half "
            f"of the 0..{levels - 1} range that {source} gives without a rescale (every velocity would be "
            "negative): BitsStored is not the depth of the data; fix BitsStored or RescaleSlope/RescaleIntercept"
        )
    if source != f"rescale (slope 2, intercept {-levels})" and source != f"BitsStored {RAW_BITS}":
        log(f"note: {frames[0].series_label}: {levels} phase levels span [-VENC, VENC) ({source})")
    return np.stack(out)


def _rr_interval(records: list[FrameRecord], trigger: np.ndarray) -> tuple[float, str]:
    nominal = [r.nominal_interval_ms for r in records if r.nominal_interval_ms and r.nominal_interval_ms > 0]
    if nominal:
        return float(np.median(nominal)), "NominalInterval"
    step = float(np.median(np.diff(trigger)))
    if not step > 0:
        raise DataError("cannot derive the RR interval: no NominalInterval and the trigger times do not increase")
    return step * len(trigger), "trigger times"


def _sorted_frames(
    where: str, magnitude: list[FrameRecord], channels: list[tuple[np.ndarray, list[FrameRecord]]], log: Log
) -> tuple[list[FrameRecord], list[list[FrameRecord]], np.ndarray]:
    """Each channel sorted by trigger time and checked against the magnitude: (magnitude, phase channels,
    trigger times in ms)."""
    mag_frames = _frames(where, "magnitude", magnitude)
    phase_frames = [_frames(where, f"phase ({_axis_name(e)})", recs) for e, recs in channels]
    counts = [len(mag_frames)] + [len(f) for f in phase_frames]
    if len(set(counts)) != 1:
        raise DataError(f"{where}: magnitude and phase channels have different frame counts {counts}")
    every = mag_frames + [r for f in phase_frames for r in f]
    shapes = {(r.rows, r.cols) for r in every}
    spacings = {tuple(np.round(r.spacing, 4)) for r in every}
    if len(shapes) != 1 or len(spacings) != 1:
        raise DataError(
            f"{where}: magnitude and phase images differ in size {sorted(shapes)} or spacing {sorted(spacings)}"
        )
    trigger = np.array([r.trigger_ms for r in mag_frames], dtype=np.float64)
    step = float(np.median(np.diff(trigger))) if counts[0] > 1 else 0.0
    for frames in phase_frames:
        other = np.array([r.trigger_ms for r in frames])
        if np.max(np.abs(other - trigger)) > 0.5 * step:
            log(
                f"warning: {where}: {frames[0].series_label} trigger times differ from the magnitude's "
                "by over half a frame"
            )
    return mag_frames, phase_frames, trigger


def _image_velocity(
    where: str,
    encodings: np.ndarray,
    phase_frames: list[list[FrameRecord]],
    settings: ImportSettings,
    reader: PixelReader,
    log: Log,
) -> tuple[np.ndarray, np.ndarray]:
    """Velocity [T, 3, H, W] in cm/s along the image axes and the VENC of each axis."""
    override = None if settings.venc is None else np.asarray(settings.venc, dtype=np.float64)
    vencs, fields = [], []
    for e, frames in zip(encodings, phase_frames, strict=True):
        axis = int(np.argmax(np.abs(e)))
        venc = _channel_venc(where, frames, None if override is None else override[axis])
        units = _phase_units(where, frames, settings)
        vencs.append(venc)
        fields.append(_convert_channel(frames, units, venc, reader, log))
    if np.linalg.cond(encodings) > 10:
        raise DataError(
            f"{where}: the three velocity-encoding directions are nearly coplanar: {encodings.round(3).tolist()}"
        )
    to_image = np.linalg.inv(encodings)
    encoded = np.stack(fields, axis=1)  # [T, 3, H, W] along the encoding directions
    velocity = np.einsum("ij,tjhw->tihw", to_image, encoded).astype(np.float32)
    venc_axes = np.abs(to_image) @ np.asarray(vencs)  # the largest speed each image axis can show
    return velocity, (override if override is not None else venc_axes)


def _assemble_one(
    where: str,
    ref_normal: np.ndarray | None,
    location: float,
    magnitude: list[FrameRecord],
    channels: list[tuple[np.ndarray, list[FrameRecord]]],
    settings: ImportSettings,
    reader: PixelReader,
    log: Log,
) -> AssembledSlice:
    mag_frames, phase_frames, trigger = _sorted_frames(where, magnitude, channels, log)
    encodings = np.stack([e for e, _ in channels])
    velocity, venc_axes = _image_velocity(where, encodings, phase_frames, settings, reader, log)
    mag = np.stack([(reader.read(r) * r.slope + r.intercept).astype(np.float32) for r in mag_frames])
    every = mag_frames + [r for f in phase_frames for r in f]
    rr, rr_source = _rr_interval(every, trigger)
    return AssembledSlice(
        location_mm=location,
        stack_normal=None if ref_normal is None else np.asarray(ref_normal, dtype=np.float64),
        normal=mag_frames[0].normal,
        magnitude=mag,
        velocity=velocity,
        venc_cm_s=np.asarray(venc_axes, dtype=np.float64),
        pixel_spacing_mm=tuple(float(s) for s in mag_frames[0].spacing),
        rr_interval_ms=rr,
        rr_source=rr_source,
        trigger_ms=trigger,
        keyword=rules.position_keyword({r.description for r in every}),
        manufacturer=mag_frames[0].manufacturer,
        patient_id=mag_frames[0].patient_id,
        series=sorted({r.series_label for r in every}),
        image_type=mag_frames[0].image_type,
        derivation=mag_frames[0].derivation,
        source=source_uids(
            {"magnitude": mag_frames, **{_channel_name(e): f for e, f in zip(encodings, phase_frames, strict=True)}}
        ),
    )


def _channel_name(encoding: np.ndarray) -> str:
    """'vx' | 'vy' | 'vz' for an encoding along a positive image axis, else 'phase <direction>'."""
    name = _axis_name(encoding)
    return f"v{name}" if name in ("x", "y", "z") else f"phase {name}"


def _axis_name(encoding: np.ndarray) -> str:
    if np.count_nonzero(encoding) == 1:
        axis = int(np.argmax(np.abs(encoding)))
        return ("-" if encoding[axis] < 0 else "") + "xyz"[axis]
    return "direction " + ", ".join(f"{c:.2f}" for c in encoding)


def assemble_slices(records: list[FrameRecord], settings: ImportSettings, log: Log) -> list[AssembledSlice]:
    """Group records into complete slices and read their pixels (see the module docstring)."""
    usable = _usable(records, log)
    out: list[AssembledSlice] = []
    reader = PixelReader()
    for normal, location, members in _group_locations(usable):
        where = f"slice at {location:.1f} mm"
        magnitude, channels, problem = _channels(where, members, settings, log)
        frames_ok = magnitude and len({round(r.trigger_ms, 2) for r in magnitude}) >= MIN_FRAMES
        if not problem and not frames_ok:
            problem = f"fewer than {MIN_FRAMES} frames (not a cine)"
        if problem:
            labels = ", ".join(sorted({r.series_label for r in members}))
            log(f"warning: skipped {where} ({labels}): {problem}")
            continue
        out.append(_assemble_one(where, normal, location, magnitude, channels, settings, reader, log))
    return out
