"""Velocity assessment: LV-centred radial / circumferential / longitudinal velocities, AHA segments,
velocity-time curves and their peaks.

Every sign and angle follows docs/CONVENTIONS.md:

- in-plane velocity ``(vx, vy)`` is along (increasing column, increasing row); angles are
  counter-clockwise *as displayed* from the +column axis, i.e. the pixel at angle ``a`` and distance
  ``r`` from the centroid ``(row0, col0)`` is ``(row0 - r sin a, col0 + r cos a)``;
- radial > 0 towards the LV centroid (contraction), circumferential > 0 counter-clockwise seen from the
  apex (as displayed), longitudinal = ``vz * z_towards_apex`` > 0 towards the apex;
- the mean in-plane myocardial velocity (bulk motion: breathing, whole-heart translation) is removed
  per frame before projecting, so that a translating heart does not read as contraction on one side
  and expansion on the other;
- AHA segments start at the septum centre and run counter-clockwise as displayed.

Pixels are assumed square (true for short-axis MVM acquisitions), so geometry is done in pixel units.
The work is done on the list of myocardial pixels of all frames at once (a few per cent of the image),
which keeps it vectorised and light on memory.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

COMPONENTS: tuple[str, ...] = ("radial", "circumferential", "longitudinal")

# Septum angle used when neither rv_insertion_deg nor an RV mask is available: the standard short-axis
# view shows the septum on the left of the image.
DEFAULT_SEPTUM_DEG = 180.0

# AHA layout per slice: (first segment number, number of sectors, angle where the first sector starts
# relative to the septum centre S). Basal and mid start with the anterior segment at S-120 (six 60-degree
# sectors: anterior, anteroseptal, inferoseptal, inferior, inferolateral, anterolateral); apical starts
# with the anterior segment at S-135 (four 90-degree sectors: anterior, septal, inferior, lateral).
_AHA_LAYOUT: dict[str, tuple[int, int, float]] = {
    "basal": (1, 6, -120.0),
    "mid": (7, 6, -120.0),
    "apical": (13, 4, -135.0),
}

# Peak windows as fractions of the RR interval, from the timing of the cardiac cycle (docs/PHANTOM.md):
# end-systole falls at 0.30-0.40 of RR, so the systolic peak lies before 0.40; the
# early-diastolic (E') peak at ~0.45-0.50 lies in [0.40, 0.70); the atrial (A') peak at ~0.85-0.90 lies
# after diastasis, in [0.70, 1.0).
# Read-only, as it is the default argument of the peak functions.
DEFAULT_PEAK_WINDOWS: Mapping[str, tuple[float, float]] = MappingProxyType(
    {"systolic": (0.0, 0.40), "e_prime": (0.40, 0.70), "a_prime": (0.70, 1.0)}
)


# ----------------------------------------------------------------------------------------- validation
def _check_z(z_towards_apex: int) -> int:
    if z_towards_apex not in (1, -1):
        raise ValueError(f"z_towards_apex must be +1 or -1, got {z_towards_apex}")
    return int(z_towards_apex)


def _aha_layout(slice_position: str) -> tuple[int, int, float]:
    key = str(slice_position).strip().lower()
    if key not in _AHA_LAYOUT:
        raise ValueError(f"unknown slice_position {slice_position!r}: expected one of {sorted(_AHA_LAYOUT)}")
    return _AHA_LAYOUT[key]


def _as_stack(mask: np.ndarray, name: str) -> np.ndarray:
    """A boolean [T, H, W] view of a [H, W] or [T, H, W] mask."""
    mask = np.asarray(mask) != 0
    if mask.ndim == 2:
        return mask[None]
    if mask.ndim != 3:
        raise ValueError(f"{name} must be [H, W] or [T, H, W], got shape {mask.shape}")
    return mask


# ------------------------------------------------------------------------------------------- geometry
def lv_centroid(mask: np.ndarray) -> tuple[float, float]:
    """Centroid ``(row, col)`` of a 2-D LV myocardium mask (non-zero = myocardium), in pixels."""
    mask = np.asarray(mask) != 0
    if mask.ndim != 2:
        raise ValueError(f"lv_centroid expects a 2-D mask, got shape {mask.shape}")
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        raise ValueError("lv_centroid: the mask is empty")
    return float(rows.mean()), float(cols.mean())


def _angle_deg(d_row: np.ndarray | float, d_col: np.ndarray | float) -> np.ndarray:
    """Angle in [0, 360) of an offset, counter-clockwise as displayed (rows point down, hence -d_row)."""
    return np.mod(np.degrees(np.arctan2(-np.asarray(d_row, float), np.asarray(d_col, float))), 360.0)


@dataclass(frozen=True)
class _Pixels:
    """The myocardial pixels of a [T, H, W] mask stack, with their offsets from their frame's centroid."""

    t: np.ndarray  # frame index of each pixel
    row: np.ndarray
    col: np.ndarray
    d_row: np.ndarray  # offset from the centroid of the pixel's own frame
    d_col: np.ndarray


def _pixels(mask: np.ndarray) -> _Pixels:
    t, row, col = np.nonzero(mask)
    n_frames = mask.shape[0]
    count = np.bincount(t, minlength=n_frames)
    # Frames without pixels get a 0/0 centroid, which is never looked up.
    with np.errstate(invalid="ignore", divide="ignore"):
        row0 = np.bincount(t, weights=row, minlength=n_frames) / count
        col0 = np.bincount(t, weights=col, minlength=n_frames) / count
    return _Pixels(t, row, col, row - row0[t], col - col0[t])


def _frame_mean(values: np.ndarray, t: np.ndarray, n_frames: int) -> np.ndarray:
    """Mean of per-pixel values per frame, ignoring NaN; NaN for frames without a finite value."""
    ok = np.isfinite(values)
    n = np.bincount(t[ok], minlength=n_frames)
    s = np.bincount(t[ok], weights=values[ok], minlength=n_frames)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def _components_at_pixels(
    velocity: np.ndarray, px: _Pixels, z_towards_apex: int, bulk_correction: bool
) -> dict[str, np.ndarray]:
    """Radial, circumferential and longitudinal velocity of each myocardial pixel."""
    vx = velocity[px.t, 0, px.row, px.col].astype(np.float64)
    vy = velocity[px.t, 1, px.row, px.col].astype(np.float64)
    vz = velocity[px.t, 2, px.row, px.col].astype(np.float64)
    if bulk_correction:
        n_frames = velocity.shape[0]
        vx = vx - _frame_mean(vx, px.t, n_frames)[px.t]
        vy = vy - _frame_mean(vy, px.t, n_frames)[px.t]
    r = np.hypot(px.d_col, px.d_row)
    # A pixel exactly at the centroid has no radial direction: its in-plane components are undefined.
    r = np.where(r > 0, r, np.nan)
    # Unit vector towards the centroid is -(d_col, d_row) / r; the counter-clockwise (as displayed)
    # tangent is (d_row, -d_col) / r in (col, row) components.
    radial = -(vx * px.d_col + vy * px.d_row) / r
    circumferential = (vx * px.d_row - vy * px.d_col) / r
    return {"radial": radial, "circumferential": circumferential, "longitudinal": vz * z_towards_apex}


def velocity_components_frames(
    velocity: np.ndarray, mask: np.ndarray, z_towards_apex: int = 1, bulk_correction: bool = True
) -> dict[str, np.ndarray]:
    """Radial / circumferential / longitudinal velocity maps of a cine.

    ``velocity`` is [T, 3, H, W] (vx, vy, vz in cm/s), ``mask`` the [T, H, W] myocardium. Returns
    [T, H, W] float64 maps per component, NaN outside the mask (and, for the in-plane components, at a
    pixel lying exactly on the centroid). Each frame uses its own centroid and bulk velocity: the heart
    moves during the cycle.
    """
    z = _check_z(z_towards_apex)
    velocity = np.asarray(velocity)
    mask = np.asarray(mask) != 0
    if velocity.ndim != 4 or velocity.shape[1] != 3 or velocity.shape[2:] != mask.shape[1:]:
        raise ValueError(f"expected velocity [T, 3, H, W] and mask [T, H, W], got {velocity.shape}, {mask.shape}")
    if velocity.shape[0] != mask.shape[0]:
        raise ValueError(f"velocity has {velocity.shape[0]} frames but the mask {mask.shape[0]}")
    px = _pixels(mask)
    values = _components_at_pixels(velocity, px, z, bulk_correction)
    maps = {}
    for name, v in values.items():
        out = np.full(mask.shape, np.nan)
        out[px.t, px.row, px.col] = v
        maps[name] = out
    return maps


def velocity_from_components(
    components: Mapping[str, np.ndarray], mask: np.ndarray, z_towards_apex: int = 1
) -> np.ndarray:
    """Velocity [T, 3, H, W] (vx, vy, vz) whose every myocardial pixel moves with the global curves.

    ``components`` holds [T] curves ``radial``, ``circumferential`` and ``longitudinal`` (cm/s); each
    pixel of the [T, H, W] ``mask`` gets them along its own LV-centred directions (the inverse of the
    projection above), every other pixel zero. Projecting the result back gives the curves again, up to
    the small in-plane mean that bulk-motion removal takes off a ring that is not perfectly symmetric.
    """
    z = _check_z(z_towards_apex)
    mask = np.asarray(mask) != 0
    curves = {name: np.asarray(components[name], dtype=np.float64) for name in COMPONENTS}
    if mask.ndim != 3 or any(c.shape != (mask.shape[0],) for c in curves.values()):
        raise ValueError(f"expected [T] curves and a [T, H, W] mask, got {mask.shape}")
    px = _pixels(mask)
    r = np.hypot(px.d_col, px.d_row)
    safe = np.where(r > 0, r, np.inf)  # a pixel on the centroid has no in-plane direction: no in-plane motion
    radial, circ = curves["radial"][px.t], curves["circumferential"][px.t]
    out = np.zeros((mask.shape[0], 3, *mask.shape[1:]), dtype=np.float32)
    # Towards the centroid: -(d_col, d_row) / r; counter-clockwise tangent: (d_row, -d_col) / r.
    out[px.t, 0, px.row, px.col] = (-radial * px.d_col + circ * px.d_row) / safe
    out[px.t, 1, px.row, px.col] = (-radial * px.d_row - circ * px.d_col) / safe
    out[px.t, 2, px.row, px.col] = curves["longitudinal"][px.t] * z
    return out


def velocity_components(
    velocity_frame: np.ndarray, mask: np.ndarray, z_towards_apex: int = 1, bulk_correction: bool = True
) -> dict[str, np.ndarray]:
    """Radial / circumferential / longitudinal maps [H, W] of one frame ([3, H, W] velocity, [H, W] mask).

    NaN outside the mask. See :func:`velocity_components_frames`.
    """
    velocity_frame = np.asarray(velocity_frame)
    mask = np.asarray(mask)
    if velocity_frame.ndim != 3 or mask.ndim != 2:
        raise ValueError(f"expected velocity [3, H, W] and mask [H, W], got {velocity_frame.shape}, {mask.shape}")
    maps = velocity_components_frames(velocity_frame[None], mask[None], z_towards_apex, bulk_correction)
    return {name: m[0] for name, m in maps.items()}


# ------------------------------------------------------------------------------------------ AHA segments
def septum_angle(mask: np.ndarray, rv_insertion_deg: float | None = None, rv_mask: np.ndarray | None = None) -> float:
    """Angle (degrees in [0, 360), counter-clockwise as displayed) of the septum centre seen from the LV.

    Priority: ``rv_insertion_deg`` when given; else the direction of the RV-mask centroid from the LV
    centroid (the RV crescent wraps around the septum, so its centroid lies in the septum's direction);
    else :data:`DEFAULT_SEPTUM_DEG`. Masks may be [H, W] or [T, H, W]; a stack is pooled over frames
    (all its pixels together), which gives one septum for the whole cine: segments are anatomical and
    must not jump from frame to frame. An empty RV mask (e.g. an apical slice beyond the RV) falls back to
    the default.
    """
    if rv_insertion_deg is not None:
        angle = float(rv_insertion_deg)
        if not math.isfinite(angle):
            raise ValueError(f"rv_insertion_deg must be finite, got {rv_insertion_deg}")
        return angle % 360.0
    if rv_mask is not None:
        rv = _as_stack(rv_mask, "rv_mask")
        if rv.any():
            lv = _as_stack(mask, "mask")
            if not lv.any():
                raise ValueError("septum_angle: the LV mask is empty")
            _, lv_r, lv_c = np.nonzero(lv)
            _, rv_r, rv_c = np.nonzero(rv)
            return float(_angle_deg(rv_r.mean() - lv_r.mean(), rv_c.mean() - lv_c.mean()))
    return DEFAULT_SEPTUM_DEG


def _segment_index(px: _Pixels, slice_position: str, septum_deg: float) -> tuple[np.ndarray, int, int]:
    """Sector index (0-based) of each pixel, the first AHA number of the slice and its sector count."""
    first, n_sectors, start = _aha_layout(slice_position)
    width = 360.0 / n_sectors
    rel = np.mod(_angle_deg(px.d_row, px.d_col) - (septum_deg + start), 360.0)
    # np.mod can round a tiny negative number up to exactly 360: clamp into the last sector.
    idx = np.minimum((rel // width).astype(np.int64), n_sectors - 1)
    return idx, first, n_sectors


def aha_segments(mask: np.ndarray, slice_position: str, septum_deg: float) -> np.ndarray:
    """AHA segment number of every pixel: 1-6 basal, 7-12 mid, 13-16 apical, 0 outside the mask.

    ``mask`` is [H, W] or [T, H, W] (each frame around its own centroid); the result has its shape.
    Raises ``ValueError`` for a slice position other than "basal", "mid" or "apical".
    """
    _aha_layout(slice_position)
    raw = np.asarray(mask)
    stack = _as_stack(raw, "mask")
    px = _pixels(stack)
    idx, first, _ = _segment_index(px, slice_position, float(septum_deg))
    out = np.zeros(stack.shape, dtype=np.int64)
    out[px.t, px.row, px.col] = idx + first
    return out.reshape(raw.shape)


# -------------------------------------------------------------------------------------------------- curves
@dataclass(frozen=True)
class VelocityCurves:
    """Velocity-time curves of one slice, in cm/s.

    ``global_curves[c]`` is [T]: the mean of component ``c`` over the myocardium per frame.
    ``segment_curves[c]`` is [n_segments, T], rows in the order of ``segment_ids`` (AHA numbers).
    A frame without myocardium (or a segment without pixels in a frame) is NaN.
    """

    slice_position: str
    septum_deg: float
    segment_ids: np.ndarray
    global_curves: dict[str, np.ndarray]
    segment_curves: dict[str, np.ndarray]

    @property
    def n_frames(self) -> int:
        return int(self.global_curves["radial"].shape[0])

    @property
    def radial(self) -> np.ndarray:
        return self.global_curves["radial"]

    @property
    def circumferential(self) -> np.ndarray:
        return self.global_curves["circumferential"]

    @property
    def longitudinal(self) -> np.ndarray:
        return self.global_curves["longitudinal"]


def velocity_curves(
    velocity: np.ndarray,
    myocardium: np.ndarray,
    slice_position: str,
    z_towards_apex: int = 1,
    septum_deg: float | None = None,
    rv_mask: np.ndarray | None = None,
) -> VelocityCurves:
    """Global and per-AHA-segment velocity-time curves of one slice.

    ``velocity`` [T, 3, H, W] in cm/s, ``myocardium`` [T, H, W]. The septum is ``septum_deg`` when given
    (e.g. the file's ``rv_insertion_deg``), else found from ``rv_mask`` ([T, H, W] or [H, W]) by
    :func:`septum_angle`, else the default. Bulk in-plane motion is removed per frame.
    """
    z = _check_z(z_towards_apex)
    first, n_sectors, _ = _aha_layout(slice_position)
    velocity = np.asarray(velocity)
    mask = np.asarray(myocardium) != 0
    if velocity.ndim != 4 or velocity.shape[1] != 3 or mask.ndim != 3 or velocity.shape[2:] != mask.shape[1:]:
        raise ValueError(f"expected velocity [T, 3, H, W] and myocardium [T, H, W], got {velocity.shape}, {mask.shape}")
    if velocity.shape[0] != mask.shape[0]:
        raise ValueError(f"velocity has {velocity.shape[0]} frames but the myocardium {mask.shape[0]}")
    septum = septum_angle(mask, rv_insertion_deg=septum_deg, rv_mask=rv_mask)
    n_frames = mask.shape[0]
    px = _pixels(mask)
    values = _components_at_pixels(velocity, px, z, bulk_correction=True)
    idx, _, _ = _segment_index(px, slice_position, septum)

    # Per-(frame, segment) means with one bincount over the flattened (frame, segment) index.
    bins = px.t * n_sectors + idx
    global_curves: dict[str, np.ndarray] = {}
    segment_curves: dict[str, np.ndarray] = {}
    for name, v in values.items():
        global_curves[name] = _frame_mean(v, px.t, n_frames)
        segment_curves[name] = _frame_mean(v, bins, n_frames * n_sectors).reshape(n_frames, n_sectors).T
    return VelocityCurves(
        slice_position=str(slice_position).strip().lower(),
        septum_deg=septum,
        segment_ids=np.arange(first, first + n_sectors),
        global_curves=global_curves,
        segment_curves=segment_curves,
    )


# --------------------------------------------------------------------------------------------------- peaks
def _check_windows(windows: Mapping[str, tuple[float, float]]) -> None:
    if set(windows) != set(DEFAULT_PEAK_WINDOWS):
        raise ValueError(f"windows must have exactly the keys {sorted(DEFAULT_PEAK_WINDOWS)}, got {sorted(windows)}")
    for key, (lo, hi) in windows.items():
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"window {key!r} must satisfy 0 <= start < end <= 1, got ({lo}, {hi})")


def _resolve_polarity(curve: np.ndarray, in_systole: np.ndarray, polarity: int | str) -> int:
    if polarity in (1, -1):
        return int(polarity)
    if polarity != "auto":
        raise ValueError(f"polarity must be 1, -1 or 'auto', got {polarity!r}")
    # The net (summed) velocity over the systolic window: the direction the slice has turned by its end.
    # Not the largest single value: rapid early-diastolic untwisting, faster than the systolic twist,
    # can start inside the window when end-systole is early (~0.30 of RR).
    net = float(np.nansum(curve[in_systole]))
    return 1 if net >= 0 else -1


def subframe_peak(curve: np.ndarray, frame: int) -> tuple[float, float]:
    """Position (in frames, within [frame - 0.5, frame + 0.5]) and value of the parabola through the
    discrete peak at ``frame`` and its two neighbours on the periodic curve; the frame itself when a
    neighbour is missing or the three points are collinear."""
    curve = np.asarray(curve, dtype=np.float64)
    n = curve.size
    y0 = float(curve[frame])
    before, after = float(curve[(frame - 1) % n]), float(curve[(frame + 1) % n])
    curvature = before - 2.0 * y0 + after
    if n < 3 or not (math.isfinite(before) and math.isfinite(after)) or curvature == 0.0:
        return float(frame), y0
    offset = float(np.clip(0.5 * (before - after) / curvature, -0.5, 0.5))
    return frame + offset, y0 - 0.25 * (before - after) * offset


def curve_peaks(
    curve: np.ndarray,
    rr_interval_ms: float,
    windows: Mapping[str, tuple[float, float]] = DEFAULT_PEAK_WINDOWS,
    polarity: int | str = 1,
    subframe: bool = False,
) -> dict[str, dict[str, float | int | None]]:
    """Systolic, early-diastolic (E') and late-diastolic (A') peaks of a velocity-time curve [T].

    Frame ``t`` lies at ``t / T`` of the cycle (docs/CONVENTIONS.md); a window ``(start, end)`` holds
    the frames with ``start <= t / T < end``. With ``polarity=1`` (radial, longitudinal) the systolic
    peak is the maximum of its window and E' and A' the minima of theirs; ``-1`` swaps max and min, and
    ``"auto"`` takes the sign of the net velocity over the systolic window (circumferential velocity,
    whose systolic direction differs between base and apex). Returns, per peak (``"systolic"``,
    ``"e_prime"``, ``"a_prime"``), ``value`` (cm/s), ``time_ms`` (time to peak from frame 0, at frame
    resolution) and ``frame``; a window without frames or finite values gives NaN and ``frame=None``.
    With ``subframe=True``, ``value`` and ``time_ms`` are those of the parabola through the discrete peak
    and its neighbours on the periodic curve (:func:`subframe_peak`): a peak between two
    frames is timed between them, to a fraction of a frame.
    """
    curve = np.asarray(curve, dtype=np.float64)
    if curve.ndim != 1 or curve.size == 0:
        raise ValueError(f"curve must be a non-empty 1-D array, got shape {curve.shape}")
    rr = float(rr_interval_ms)
    if not math.isfinite(rr) or rr <= 0:
        raise ValueError(f"rr_interval_ms must be positive, got {rr_interval_ms}")
    _check_windows(windows)
    n = curve.size
    phase = np.arange(n) / n
    in_window = {key: (phase >= lo) & (phase < hi) for key, (lo, hi) in windows.items()}
    sign = _resolve_polarity(curve, in_window["systolic"], polarity)

    peaks: dict[str, dict[str, float | int | None]] = {}
    for key, selected in in_window.items():
        # Systolic peaks point in the polarity's direction, diastolic ones the opposite way.
        direction = sign if key == "systolic" else -sign
        frames = np.flatnonzero(selected & np.isfinite(curve))
        if frames.size == 0:
            peaks[key] = {"value": math.nan, "time_ms": math.nan, "frame": None}
            continue
        best = int(frames[np.argmax(direction * curve[frames])])
        peaks[key] = {"value": float(curve[best]), "time_ms": best * rr / n, "frame": best}
        if subframe:
            position, value = subframe_peak(curve, best)
            peaks[key].update(value=value, time_ms=(position % n) * rr / n)
    return peaks


def peak_summary(
    curves: VelocityCurves,
    rr_interval_ms: float,
    windows: Mapping[str, tuple[float, float]] = DEFAULT_PEAK_WINDOWS,
    segment_windows: Mapping[str, tuple[float, float]] | None = None,
    subframe: bool = False,
) -> dict[str, dict]:
    """Peaks of every component: global curve and per segment, with the dispersion of systolic timing.

    For each component: ``polarity`` (1 for radial and longitudinal; for circumferential the sign found
    on the global curve, then used for every segment so that all segments are timed on the same event),
    ``global`` (:func:`curve_peaks` of the global curve), ``segments`` (``ids`` and, per peak, arrays of
    ``value`` and ``time_ms`` in segment order) and ``systolic_time_dispersion_ms``: the standard
    deviation of the segments' systolic times to peak (population SD over the slice's segments, which
    are all the segments and not a sample; segments without a peak are left out; NaN if none has one).
    ``segment_windows`` (default: ``windows``) are the segments' windows, wider where a late segment's
    peaks must stay in their window (``assessment.regional.cycle_windows``); ``subframe`` times every peak to a
    fraction of a frame (:func:`curve_peaks`).
    """
    summary: dict[str, dict] = {}
    for name in COMPONENTS:
        curve = curves.global_curves[name]
        polarity: int | str = "auto" if name == "circumferential" else 1
        global_peaks = curve_peaks(curve, rr_interval_ms, windows, polarity, subframe)
        n = curve.size
        phase = np.arange(n) / n
        lo, hi = windows["systolic"]
        sign = _resolve_polarity(curve, (phase >= lo) & (phase < hi), polarity)
        seg_windows = windows if segment_windows is None else segment_windows
        per_segment = [
            curve_peaks(seg, rr_interval_ms, seg_windows, sign, subframe) for seg in curves.segment_curves[name]
        ]
        segments: dict[str, object] = {"ids": curves.segment_ids.copy()}
        for key in DEFAULT_PEAK_WINDOWS:
            segments[key] = {
                "value": np.array([p[key]["value"] for p in per_segment], dtype=np.float64),
                "time_ms": np.array([p[key]["time_ms"] for p in per_segment], dtype=np.float64),
            }
        times = segments["systolic"]["time_ms"]
        times = times[np.isfinite(times)]
        summary[name] = {
            "polarity": sign,
            "global": global_peaks,
            "segments": segments,
            "systolic_time_dispersion_ms": float(np.std(times)) if times.size else math.nan,
        }
    return summary
