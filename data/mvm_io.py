"""Reader and writer of the canonical MVM subject file (one HDF5 file per subject).

Layout (see README, "Dataset format"): one group per short-axis slice holding

    magnitude   [T, H, W]      float32 or uint16    magnitude cine
    velocity    [T, 3, H, W]   float32, cm/s        vx (columns), vy (rows), vz (through-plane)
    myocardium  [T, H, W]      uint8 {0, 1}         LV myocardium mask
    optional    lv_blood, rv_blood, tissue [T, H, W] uint8; velocity_true [T, 3, H, W] float32
    optional    frame_index [T] int                  frames kept, when the file holds only key frames

and the attributes venc_cm_s (3), pixel_spacing_mm (2), rr_interval_ms, slice_position, optional
rv_insertion_deg, z_towards_apex, n_frames (the full cycle length when frame_index is present),
optional labelled_frames (int array: the only frames whose masks are real, see ``labelled_frames``).

The reader validates every field and raises ``DataError`` with a one-line message naming the file, the
slice, the field and the problem; the writer is atomic (temporary file in the same folder, then rename)
so a crash or a full disk never leaves a half-written subject behind.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from util.atomic import atomic_path, json_default
from util.errors import DataError, HDLError

SLICE_POSITIONS = ("basal", "mid", "apical")
MASK_FIELDS = ("myocardium", "lv_blood", "rv_blood", "tissue")
FRAME_FIELDS = ("magnitude", "myocardium", "lv_blood", "rv_blood", "tissue")
VELOCITY_FIELDS = ("velocity", "velocity_true")
MIN_FRAMES = 3
SUBJECT_SUFFIX = ".h5"
FORMAT_VERSION = "hdl-mvm/1"


@dataclass
class SliceData:
    """One short-axis slice of a subject: cine arrays plus acquisition attributes."""

    name: str
    magnitude: np.ndarray
    myocardium: np.ndarray
    venc_cm_s: np.ndarray
    pixel_spacing_mm: tuple[float, float]
    rr_interval_ms: float
    slice_position: str
    velocity: np.ndarray | None = None
    rv_insertion_deg: float | None = None
    z_towards_apex: int = 1
    lv_blood: np.ndarray | None = None
    rv_blood: np.ndarray | None = None
    tissue: np.ndarray | None = None
    velocity_true: np.ndarray | None = None
    frame_index: np.ndarray | None = None
    n_frames: int | None = None
    labelled_frames: np.ndarray | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    def mask_frames(self) -> np.ndarray:
        """Indices (into the stored frames) whose masks are real: ``labelled_frames``, else every frame.

        Masks on key frames only: ``labelled_frames`` lists the stored frames that were segmented; the
        mask datasets keep the full [T, H, W] shape and are all zero on every other frame, which a
        consumer must ignore (not read as "no myocardium")."""
        if self.labelled_frames is None:
            return np.arange(self.num_frames)
        return np.asarray(self.labelled_frames, dtype=np.int64)

    @property
    def num_frames(self) -> int:
        """Frames stored in this file (key frames only, when ``frame_index`` is set)."""
        return int(self.magnitude.shape[0])

    @property
    def cycle_frames(self) -> int:
        """Frames of the full cardiac cycle (``n_frames`` for key-frame-only files)."""
        return int(self.n_frames) if self.n_frames is not None else self.num_frames

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.magnitude.shape[-2]), int(self.magnitude.shape[-1])

    def frame_times_ms(self) -> np.ndarray:
        """Trigger time of every frame of the full cycle, frames evenly spaced over one RR interval."""
        return np.arange(self.cycle_frames) * (self.rr_interval_ms / self.cycle_frames)


@dataclass
class Subject:
    """A subject: its slices in file order, and free-form file attributes (e.g. phantom parameters)."""

    subject_id: str
    slices: dict[str, SliceData]
    attrs: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- writing


def _attr_value(value: Any) -> Any:
    """HDF5 stores scalars, strings and arrays; anything richer is stored as JSON text."""
    if isinstance(value, (str, int, float, bool, np.integer, np.floating, np.bool_)):
        return value
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float, np.number)) for v in value):
        return np.asarray(value)
    return "json:" + json.dumps(value, default=json_default)


def _read_attr(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value.startswith("json:"):
        return json.loads(value[5:])
    if isinstance(value, np.generic):
        return value.item()
    return value


def _write_slice(group: h5py.Group, s: SliceData, compression: str | None) -> None:
    h, w = s.magnitude.shape[-2:]

    def put(name: str, array: np.ndarray | None, dtype: Any, chunk: tuple[int, ...]) -> None:
        if array is None:
            return
        group.create_dataset(
            name, data=np.asarray(array, dtype=dtype), chunks=chunk, compression=compression, fletcher32=True
        )

    mag_dtype = np.uint16 if s.magnitude.dtype == np.uint16 else np.float32
    # One chunk per frame: the datasets read single frames, so this keeps a read to one chunk.
    put("magnitude", s.magnitude, mag_dtype, (1, h, w))
    put("velocity", s.velocity, np.float32, (1, 3, h, w))
    put("velocity_true", s.velocity_true, np.float32, (1, 3, h, w))
    for name in MASK_FIELDS:
        put(name, getattr(s, name), np.uint8, (1, h, w))
    if s.frame_index is not None:
        group.create_dataset("frame_index", data=np.asarray(s.frame_index, dtype=np.int64), fletcher32=True)
    group.attrs["venc_cm_s"] = np.asarray(s.venc_cm_s, dtype=np.float64)
    group.attrs["pixel_spacing_mm"] = np.asarray(s.pixel_spacing_mm, dtype=np.float64)
    group.attrs["rr_interval_ms"] = float(s.rr_interval_ms)
    group.attrs["slice_position"] = s.slice_position
    group.attrs["z_towards_apex"] = int(s.z_towards_apex)
    if s.rv_insertion_deg is not None:
        group.attrs["rv_insertion_deg"] = float(s.rv_insertion_deg)
    if s.n_frames is not None:
        group.attrs["n_frames"] = int(s.n_frames)
    if s.labelled_frames is not None:
        group.attrs["labelled_frames"] = np.asarray(s.labelled_frames, dtype=np.int64)
    for key, value in s.attrs.items():
        group.attrs[key] = _attr_value(value)


def write_subject(path: str | os.PathLike, subject: Subject, compression: str | None = "gzip") -> Path:
    """Write ``subject`` to ``path`` atomically and return the path.

    The file is first written next to its destination under a temporary name and renamed only once it
    is complete, so readers never see a partial file and an existing file survives a failed write.
    """
    path = Path(path)
    if not subject.slices:
        raise DataError(f"{path}: subject {subject.subject_id!r} has no slices to write")
    for s in subject.slices.values():
        validate_slice(s, f"{path}: slice {s.name!r}")
    try:
        with atomic_path(path) as tmp, h5py.File(tmp, "w", track_order=True) as f:
            f.attrs["subject_id"] = subject.subject_id
            f.attrs["format"] = FORMAT_VERSION
            for key, value in subject.attrs.items():
                f.attrs[key] = _attr_value(value)
            for name, s in subject.slices.items():
                _write_slice(f.create_group(name), s, compression)
    except HDLError as exc:
        raise DataError(str(exc)) from exc
    return path


# ------------------------------------------------------------------------------------------ validation


def _fail(where: str, problem: str) -> DataError:
    # One line, whatever the problem quotes (the repr of a numpy array spans several).
    return DataError(f"{where}: {' '.join(problem.split())}")


def validate_slice(s: SliceData, where: str, check_values: bool = True) -> None:
    """Check shapes, dtypes, values and attributes of one slice; raise ``DataError`` naming the problem."""
    mag = s.magnitude
    if mag.ndim != 3:
        raise _fail(where, f"field 'magnitude' must be [T, H, W], got shape {tuple(mag.shape)}")
    t, h, w = mag.shape
    if t < MIN_FRAMES and s.frame_index is None:
        raise _fail(where, f"field 'magnitude' has {t} frames; at least {MIN_FRAMES} are needed")
    if h < 8 or w < 8:
        raise _fail(where, f"field 'magnitude' has an image size of {h}x{w}; at least 8x8 is needed")
    for name in FRAME_FIELDS[1:]:
        arr = getattr(s, name)
        if arr is not None and tuple(arr.shape) != (t, h, w):
            raise _fail(where, f"field {name!r} has shape {tuple(arr.shape)}, magnitude has {(t, h, w)}")
    for name in VELOCITY_FIELDS:
        arr = getattr(s, name)
        if arr is not None and tuple(arr.shape) != (t, 3, h, w):
            raise _fail(where, f"field {name!r} has shape {tuple(arr.shape)}, expected {(t, 3, h, w)}")
    venc = np.asarray(s.venc_cm_s, dtype=np.float64)
    if venc.shape != (3,) or not np.all(np.isfinite(venc)) or np.any(venc <= 0):
        raise _fail(where, f"attribute 'venc_cm_s' must be 3 positive numbers, got {venc.tolist()}")
    spacing = np.asarray(s.pixel_spacing_mm, dtype=np.float64)
    if spacing.shape != (2,) or not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise _fail(where, f"attribute 'pixel_spacing_mm' must be 2 positive numbers, got {spacing.tolist()}")
    if not np.isfinite(s.rr_interval_ms) or s.rr_interval_ms <= 0:
        raise _fail(where, f"attribute 'rr_interval_ms' must be positive, got {s.rr_interval_ms}")
    if s.slice_position not in SLICE_POSITIONS:
        raise _fail(where, f"attribute 'slice_position' is {s.slice_position!r}; expected one of {SLICE_POSITIONS}")
    if s.z_towards_apex not in (1, -1):
        raise _fail(where, f"attribute 'z_towards_apex' must be +1 or -1, got {s.z_towards_apex}")
    if s.frame_index is not None:
        idx = np.asarray(s.frame_index)
        n = s.n_frames
        if idx.shape != (t,):
            raise _fail(where, f"field 'frame_index' has shape {idx.shape}, expected ({t},)")
        if n is None or n < MIN_FRAMES:
            raise _fail(where, f"attribute 'n_frames' must be >= {MIN_FRAMES} when 'frame_index' is present")
        if t < 1 or np.any(np.diff(idx) <= 0) or idx[0] < 0 or idx[-1] >= n:
            raise _fail(where, f"field 'frame_index' must increase strictly within [0, {n}), got {idx.tolist()}")
    if s.labelled_frames is not None:
        _check_labelled_frames(s, where, t)
    if not check_values:
        return
    for name in ("magnitude", *VELOCITY_FIELDS):
        arr = getattr(s, name)
        if arr is not None and np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
            bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
            raise _fail(where, f"field {name!r} has {bad} non-finite values (NaN or Inf)")
    for name in MASK_FIELDS:
        arr = getattr(s, name)
        if arr is not None and not np.all((arr == 0) | (arr == 1)):
            found = np.unique(arr)[:6].tolist()
            raise _fail(where, f"field {name!r} is not a binary mask (values {found}...)")


def _check_labelled_frames(s: SliceData, where: str, t: int) -> None:
    try:
        idx = np.asarray(s.labelled_frames)
        ok = idx.ndim == 1 and idx.size > 0 and np.issubdtype(idx.dtype, np.integer)
    except (TypeError, ValueError):
        ok = False
    if not ok or np.any(np.diff(idx) <= 0) or idx[0] < 0 or idx[-1] >= t:
        raise _fail(
            where,
            f"attribute 'labelled_frames' must be frame indices increasing strictly within [0, {t}), "
            f"got {np.asarray(s.labelled_frames).tolist()}",
        )
    others = np.setdiff1d(np.arange(t), idx)
    for name in ("myocardium", "lv_blood", "rv_blood"):
        arr = getattr(s, name)
        if arr is not None and others.size and np.any(np.asarray(arr)[others]):
            raise _fail(where, f"field {name!r} is not empty on frames outside 'labelled_frames' {idx.tolist()}")


# --------------------------------------------------------------------------------------------- reading


def read_error(where: str, dataset: h5py.Dataset, exc: Exception) -> DataError:
    """The one-line ``DataError`` for a dataset HDF5 could not read: a failed Fletcher-32 checksum (bytes
    of the file changed since it was written; HDF5 says only that a filter failed) is said as such."""
    name = dataset.name.rsplit("/", 1)[-1]
    text = " ".join(str(exc).split())
    if dataset.fletcher32 and "filter" in text.lower():
        return _fail(where, f"dataset {name!r} fails its checksum: the file was damaged after it was written "
                            "(restore or regenerate it)")  # fmt: skip
    return _fail(where, f"dataset {name!r} cannot be read ({text})")


def _read_dataset(group: h5py.Group, name: str, where: str, required: bool) -> np.ndarray | None:
    if name not in group:
        if required:
            raise _fail(where, f"missing dataset {name!r}")
        return None
    obj = group[name]
    if not isinstance(obj, h5py.Dataset):
        raise _fail(where, f"{name!r} is not a dataset")
    try:
        return obj[()]
    except (OSError, RuntimeError, ValueError) as exc:
        raise read_error(where, obj, exc) from exc


#: subject files read by this process whose datasets carry no checksum (see ``note_unverified``)
UNVERIFIED_FILES: list[Path] = []


def note_unverified(path: Path, f: h5py.File) -> None:
    """Say once per process that files without checksums cannot be verified: damage inside them reads as
    data. Files written before the checksums were added, or by other tools, have none."""
    datasets: list[h5py.Dataset] = []
    f.visititems(lambda _, obj: datasets.append(obj) if isinstance(obj, h5py.Dataset) else None)
    if path in UNVERIFIED_FILES or all(ds.fletcher32 for ds in datasets):
        return
    UNVERIFIED_FILES.append(path)
    if len(UNVERIFIED_FILES) == 1:
        print(
            f"note: subject files without checksums cannot be verified (damage inside them reads as data); "
            f"the first read is {path} (written by an older version or another tool; reading it and writing "
            "it again with data.mvm_io adds them). Said once, for the first such file",
            file=sys.stderr,
            flush=True,
        )


def _required_attr(group: h5py.Group, name: str, where: str) -> Any:
    if name not in group.attrs:
        raise _fail(where, f"missing attribute {name!r}")
    return _read_attr(group.attrs[name])


def _as_float_array(value: Any, name: str, where: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise _fail(where, f"attribute {name!r} is not numeric: {value!r}") from exc


def _as_number(value: Any, name: str, where: str, kind: type = float) -> Any:
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
        if arr.size != 1:
            raise ValueError
        return kind(arr[0])
    except (TypeError, ValueError, OverflowError) as exc:
        raise _fail(where, f"attribute {name!r} must be a single number, got {value!r}") from exc


KNOWN_ATTRS = {
    "venc_cm_s",
    "pixel_spacing_mm",
    "rr_interval_ms",
    "slice_position",
    "rv_insertion_deg",
    "z_towards_apex",
    "n_frames",
    "labelled_frames",
}


def _read_slice(group: h5py.Group, where: str, require_velocity: bool, check_values: bool) -> SliceData:
    magnitude = _read_dataset(group, "magnitude", where, True)
    if magnitude is not None and magnitude.dtype not in (np.float32, np.float64, np.uint16):
        raise _fail(where, f"field 'magnitude' has dtype {magnitude.dtype}; expected float32 or uint16")
    if magnitude is not None and magnitude.dtype == np.float64:
        magnitude = magnitude.astype(np.float32)
    arrays: dict[str, np.ndarray | None] = {"magnitude": magnitude}
    arrays["velocity"] = _read_dataset(group, "velocity", where, require_velocity)
    arrays["myocardium"] = _read_dataset(group, "myocardium", where, True)
    for name in ("lv_blood", "rv_blood", "tissue", "velocity_true", "frame_index"):
        arrays[name] = _read_dataset(group, name, where, False)
    for name in VELOCITY_FIELDS:
        if arrays[name] is not None:
            arrays[name] = np.asarray(arrays[name], dtype=np.float32)
    for name in MASK_FIELDS:
        arr = arrays[name]
        if arr is not None and arr.dtype != np.uint8:
            if not np.issubdtype(arr.dtype, np.number) and arr.dtype != np.bool_:
                raise _fail(where, f"field {name!r} has non-numeric dtype {arr.dtype}")
            # Store as uint8 but let validation see the original values (e.g. 0.5 or 255 are rejected).
            if np.all((arr == 0) | (arr == 1)):
                arrays[name] = arr.astype(np.uint8)
    slice_position = _required_attr(group, "slice_position", where)
    rv = group.attrs.get("rv_insertion_deg")
    n_frames = group.attrs.get("n_frames")
    labelled = group.attrs.get("labelled_frames")
    z_dir = group.attrs.get("z_towards_apex", 1)
    extras = {k: _read_attr(v) for k, v in group.attrs.items() if k not in KNOWN_ATTRS}
    s = SliceData(
        name=group.name.lstrip("/"),
        magnitude=arrays["magnitude"],
        myocardium=arrays["myocardium"],
        velocity=arrays["velocity"],
        venc_cm_s=_as_float_array(_required_attr(group, "venc_cm_s", where), "venc_cm_s", where),
        pixel_spacing_mm=tuple(
            _as_float_array(_required_attr(group, "pixel_spacing_mm", where), "pixel_spacing_mm", where)
        ),
        rr_interval_ms=_as_number(_required_attr(group, "rr_interval_ms", where), "rr_interval_ms", where),
        slice_position=str(slice_position),
        rv_insertion_deg=None if rv is None else _as_number(rv, "rv_insertion_deg", where),
        z_towards_apex=_as_number(z_dir, "z_towards_apex", where, int),
        lv_blood=arrays["lv_blood"],
        rv_blood=arrays["rv_blood"],
        tissue=arrays["tissue"],
        velocity_true=arrays["velocity_true"],
        frame_index=arrays["frame_index"],
        n_frames=None if n_frames is None else _as_number(n_frames, "n_frames", where, int),
        labelled_frames=None if labelled is None else np.atleast_1d(np.asarray(labelled)),
        attrs=extras,
    )
    validate_slice(s, where, check_values=check_values)
    return s


def open_h5(path: str | os.PathLike) -> h5py.File:
    """Open an HDF5 file for reading, turning every way it can fail into a ``DataError``."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected an HDF5 subject file")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        reason = str(exc).split("(")[0].strip().rstrip(":") or "unreadable"
        raise DataError(f"{path}: not a readable HDF5 file (truncated or corrupt?): {reason}") from exc


def read_subject(
    path: str | os.PathLike,
    require_velocity: bool = True,
    slices: Sequence[str] | None = None,
    check_values: bool = True,
) -> Subject:
    """Read and validate a subject file.

    Args:
        path: the ``.h5`` file.
        require_velocity: False accepts files without ``velocity`` (synthesis input: magnitude and masks).
        slices: read only these slice groups (default: all, in file order).
        check_values: also scan arrays for NaN/Inf and non-binary masks (the slow part of validation).

    Raises:
        DataError: naming the file, slice, field and problem.
    """
    path = Path(path)
    with open_h5(path) as f:
        try:
            names = [k for k in f if isinstance(f[k], h5py.Group)]
        except (OSError, RuntimeError) as exc:
            raise DataError(f"{path}: file structure cannot be read (truncated or corrupt?): {exc}") from exc
        if not names:
            raise DataError(f"{path}: contains no slice groups")
        if slices is not None:
            missing = [s for s in slices if s not in names]
            if missing:
                raise DataError(f"{path}: slice(s) {missing} not found; the file has {names}")
            names = list(slices)
        note_unverified(path, f)
        subject_id = str(_read_attr(f.attrs.get("subject_id", path.stem)))
        file_attrs = {k: _read_attr(v) for k, v in f.attrs.items() if k not in ("subject_id", "format")}
        data = {}
        for name in names:
            data[name] = _read_slice(f[name], f"{path}: slice {name!r}", require_velocity, check_values)
    return Subject(subject_id=subject_id, slices=data, attrs=file_attrs)


def read_subject_attrs(path: str | os.PathLike) -> dict[str, Any]:
    """The file-level attributes of a subject file (without reading its slices): e.g. a phantom
    subject's ``patient`` and ``pathology``."""
    with open_h5(path) as f:
        return {k: _read_attr(v) for k, v in f.attrs.items() if k != "format"}


# ------------------------------------------------------------------------------------- folders, splits
