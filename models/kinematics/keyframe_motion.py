"""Motion of one slice measured from its key frames and their myocardium masks only.

Per key frame, relative to the first key frame:

- **bulk motion**: the LV centroid of the mask, in mm along the image axes (x along columns, y along
  rows, as ``vx`` and ``vy``);
- **radial excursion**: the mean distance of the myocardial pixels from their centroid, globally and
  per AHA segment (``assessment.velocity.aha_segments``, each frame around its own centroid);
- **rotation**: the angle that best aligns the ring of the key frame with the ring of the *first* key
  frame in polar coordinates around each frame's own centroid (each frame to the first, not chained,
  so that errors do not accumulate). The polar image covers the myocardium and the cavity next to it
  (papillary muscles, trabeculae), whose texture is what shows rotation; its radial axis is normalised
  per frame (cavity scaled by the endocardial radius, wall mapped from endocardium to epicardium), so
  contraction does not blur the comparison. The score of every angle shift is a correlation over the
  annulus; the best shift is refined to sub-step precision by a parabola through its neighbours. The
  search is limited to a physiological range (default +-20 degrees): the texture of a ring is nearly
  periodic, and an unlimited search can jump by one period. Dense optical flow is not used for this,
  as its smoothness term pulls the wall towards the still surroundings and attenuates rotation.
- **regional contraction**: each ray of the polar ring is normalised by the mask's own wall along it
  (a smooth profile of its endocardial and epicardial radii), so that a wall that contracts on one side
  only keeps its texture at the same normalised depth on every ray;
- **tracked centre**: the polar ring of each key frame is taken around the point that matches the
  first frame's centroid in the image (a hill climb of the ring correlation over the centre, within a
  few pixels of the mask centroid), not around the mask's own centroid: a ring taken a pixel off-centre
  is warped in angle by several degrees near the papillary muscles, so a segmentation that is a pixel
  off would bias the rotation. The tracked centre is also a bulk-motion measure that does not depend on
  the masks being consistent;
- **registration quality**: the Dice between the key frame's own mask and the first mask moved by the
  measured motion (centroid, radial map, rotation); below 0.8 the key frame registers badly.

Angles are counter-clockwise as displayed (docs/CONVENTIONS.md), the sense of positive circumferential
velocity; lengths in mm from the pixel spacing (row, column), pixels assumed square for radii.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage

from assessment.metrics import dice
from assessment.velocity import aha_segments, lv_centroid
from util.errors import DataError

#: normalised radial coordinate of the polar ring (0 centre, 1 endocardium, 2 epicardium): the cavity
#: next to the wall and the wall, short of the epicardial border, beyond which the still surroundings
#: would pull the angle towards zero
RING_U = np.linspace(0.4, 1.9, 38)
#: Gaussian smoothing (pixels) before the polar sampling: the pixel grid does not turn with the heart,
#: and sharp edges alias into a grid-locked pattern that pulls small rotations towards zero
SMOOTH_PX = 0.5
#: normalise each ray of the polar ring by its own wall (:func:`wall_profile`) rather than by the circle
PER_ANGLE_WALL = True
#: angular harmonics kept in a wall profile: regional contraction is smooth around the ring, while the
#: staircase of a pixel mask is not
PROFILE_HARMONICS = 4
#: angular samples of the polar ring (0.5 degree steps)
N_ANGLES = 720
#: fewest key frames a periodic fit of the motion can use
MIN_KEY_FRAMES = 4
#: Dice below which a key frame is reported as badly registered
DICE_THRESHOLD = 0.8


@dataclass(frozen=True)
class RingGeometry:
    """Centre (row, col) and equivalent-circle endocardial / epicardial radii of a mask, in pixels, and
    optionally the radii along every angle of the polar ring ([N_ANGLES] each, see :func:`wall_profile`)."""

    row: float
    col: float
    endo: float
    epi: float
    endo_at: np.ndarray | None = field(default=None, compare=False)
    epi_at: np.ndarray | None = field(default=None, compare=False)

    def radii_along(self) -> tuple[np.ndarray, np.ndarray]:
        """[N_ANGLES, 1] endocardial and epicardial radius along every angle (the circle without a profile)."""
        if self.endo_at is None or self.epi_at is None:
            return np.full((N_ANGLES, 1), self.endo), np.full((N_ANGLES, 1), self.epi)
        return self.endo_at[:, None], self.epi_at[:, None]

    def moved_to(self, row: float, col: float) -> RingGeometry:
        """The same ring (profile included) around another centre: the whole polar grid moves with it."""
        return replace(self, row=row, col=col)

    def radius_at(self, u: np.ndarray) -> np.ndarray:
        """Radius (pixels) of the normalised radial coordinate ``u`` (0 centre, 1 endo, 2 epi) on the circle."""
        return np.interp(u, [0.0, 1.0, 2.0, 3.0], [0.0, self.endo, self.epi, 2 * self.epi - self.endo])

    def u_at(self, radius: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`radius_at` (clamped at 3 beyond the ring)."""
        return np.interp(radius, [0.0, self.endo, self.epi, 2 * self.epi - self.endo], [0.0, 1.0, 2.0, 3.0])


def ring_geometry(mask: np.ndarray) -> RingGeometry:
    """Geometry of a 2-D myocardium mask: the cavity is what filling the ring's holes adds."""
    mask = np.asarray(mask) != 0
    row, col = lv_centroid(mask)
    filled = ndimage.binary_fill_holes(mask)
    epi = float(np.sqrt(filled.sum() / np.pi))
    endo = float(np.sqrt((filled & ~mask).sum() / np.pi))
    # An open ring (no enclosed cavity) still needs a cavity scale for the polar map.
    return RingGeometry(row, col, max(endo, 0.3 * epi), epi)


def wall_profile(mask: np.ndarray, geom: RingGeometry) -> RingGeometry:
    """``geom`` with the endocardial and epicardial radius of ``mask`` along every angle from its centre
    (the first and last myocardial sample of each ray, kept to its PROFILE_HARMONICS lowest angular
    harmonics; the circle's radii where a ray meets no myocardium). Why: a wall that contracts more on
    one side (regional dysfunction) than on the other moves its texture radially by different amounts
    along different angles; normalising each ray by its own wall keeps the texture of every angle at the
    same normalised depth. Low harmonics only: regional contraction is smooth around the ring, the
    staircase of a pixel mask is not."""
    theta = np.arange(N_ANGLES) * (2 * np.pi / N_ANGLES)
    r = np.arange(0.0, 2.0 * geom.epi + 2.0, 0.25)[None, :]
    rows = geom.row - r * np.sin(theta)[:, None]
    cols = geom.col + r * np.cos(theta)[:, None]
    inside = ndimage.map_coordinates(np.asarray(mask, np.float64), [rows, cols], order=1, mode="constant") > 0.5
    hit = inside.any(axis=1)
    endo = np.where(hit, r[0, np.argmax(inside, axis=1)], geom.endo)
    epi = np.where(hit, r[0, r.shape[1] - 1 - np.argmax(inside[:, ::-1], axis=1)], geom.epi)
    return replace(geom, endo_at=_low_pass(endo, PROFILE_HARMONICS), epi_at=_low_pass(epi, PROFILE_HARMONICS))


def _low_pass(values: np.ndarray, harmonics: int) -> np.ndarray:
    """A periodic profile keeping its angular harmonics 0 .. ``harmonics`` only."""
    spectrum = np.fft.rfft(values)
    spectrum[harmonics + 1 :] = 0
    return np.fft.irfft(spectrum, n=values.size)


def polar_ring(image: np.ndarray, geom: RingGeometry, order: int = 1) -> np.ndarray:
    """[N_ANGLES, len(RING_U)] samples of ``image`` at angle (counter-clockwise as displayed) and ``u``,
    each ray normalised by its own wall when ``geom`` has a profile."""
    theta = np.arange(N_ANGLES) * (2 * np.pi / N_ANGLES)
    endo, epi = geom.radii_along()
    u = RING_U[None, :]
    r = np.where(u < 1, u * endo, np.where(u < 2, endo + (u - 1) * (epi - endo), epi + (u - 2) * (epi - endo)))
    rows = geom.row - r * np.sin(theta)[:, None]
    cols = geom.col + r * np.cos(theta)[:, None]
    return ndimage.map_coordinates(np.asarray(image, np.float64), [rows, cols], order=order, mode="nearest")


def _standardised(polar: np.ndarray) -> np.ndarray:
    """Angular texture only: each radius loses its mean over angle (coil bias, contrast), unit variance."""
    centred = polar - polar.mean(axis=0, keepdims=True)
    return centred / max(float(centred.std()), 1e-12)


def shift_scores(reference: np.ndarray, moving: np.ndarray, max_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Per angle row of ``reference`` and shift ``s = i - m`` (row ``i``): the product with ``moving``
    turned by ``s`` angular steps, and the energy of that turned row; both [2 m + 1, N_ANGLES].

    Shift ``s`` is the hypothesis that ``moving`` is ``reference`` rotated by ``s`` steps counter-clockwise.
    """
    n = reference.shape[0]
    shifts = np.arange(-max_steps, max_steps + 1)
    turned = moving[(np.arange(n)[None, :] + shifts[:, None]) % n]
    return np.einsum("tu,stu->st", reference, turned), np.einsum("stu,stu->st", turned, turned)


def window_correlation(
    products: np.ndarray, energy: np.ndarray, reference_energy: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """[2 m + 1] normalised correlation per shift over the angle ``rows`` (boolean [N_ANGLES]).

    Normalised by the energy of the turned window too: a raw product over part of the ring favours the
    shift that brings the strongest texture into the window, even without motion.
    """
    norm = np.sqrt(reference_energy[rows].sum() * energy[:, rows].sum(axis=1))
    return products[:, rows].sum(axis=1) / np.maximum(norm, 1e-12)


def best_shift(scores: np.ndarray) -> float:
    """Sub-step position of the maximum of a [2 m + 1] score, in steps from the centre; NaN at an edge
    (the best angle lies at or beyond the limit of the search)."""
    i = int(np.argmax(scores))
    m = (scores.size - 1) // 2
    if i == 0 or i == scores.size - 1:
        return float("nan")
    left, mid, right = scores[i - 1], scores[i], scores[i + 1]
    curvature = left - 2 * mid + right
    offset = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
    return i - m + float(np.clip(offset, -0.5, 0.5))


def _row_segments(label0: np.ndarray, geom0: RingGeometry) -> np.ndarray:
    """AHA segment of each angle row of the first frame's polar ring (its most frequent label; 0: none)."""
    labels = polar_ring(label0, geom0, order=0).astype(np.int64)
    ids = np.unique(labels[labels > 0])
    if ids.size == 0:
        return np.zeros(N_ANGLES, dtype=np.int64)
    counts = np.stack([(labels == s).sum(axis=1) for s in ids], axis=1)
    return np.where(counts.max(axis=1) > 0, ids[counts.argmax(axis=1)], 0)


def _best_global_score(reference_spectrum: np.ndarray, moving: np.ndarray, max_steps: int) -> float:
    """Highest correlation over the full ring within +-``max_steps`` angular steps (by FFT along angle)."""
    spectrum = np.fft.rfft(moving, axis=0)
    # irfft(conj(A) B)[s] = sum over angle of a(theta) b(theta + s), for every shift s at once.
    correlation = np.fft.irfft(np.conj(reference_spectrum) * spectrum, n=N_ANGLES, axis=0).sum(axis=1)
    return float(correlation[np.arange(-max_steps, max_steps + 1) % N_ANGLES].max()) / moving.size


def track_centre(
    reference: np.ndarray, image: np.ndarray, geom: RingGeometry, max_deg: float, search_px: float
) -> RingGeometry:
    """``geom`` with its centre moved (at most ``search_px``) to the point of ``image`` whose polar ring
    best matches ``reference`` (the first key frame's, around its centroid), by a coarse-to-fine hill
    climb over the centre. Why: a polar ring taken around a centre a pixel off is warped in angle by
    up to (offset / radius) radians, several degrees near the papillary muscles, so a mask whose
    centroid is a pixel off (an inconsistent segmentation) would bias the rotation."""
    spectrum = np.fft.rfft(reference, axis=0)
    max_steps = int(np.ceil(max_deg * N_ANGLES / 360.0))

    def score(g: RingGeometry) -> float:
        return _best_global_score(spectrum, _standardised(polar_ring(image, g)), max_steps)

    best, best_score = geom, score(geom)
    neighbours = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc]
    for step in (1.0, 0.5, 0.25, 0.125):
        improved = True
        while improved:
            improved = False
            for dr, dc in neighbours:
                candidate = best.moved_to(best.row + dr * step, best.col + dc * step)
                if np.hypot(candidate.row - geom.row, candidate.col - geom.col) > search_px:
                    continue
                candidate_score = score(candidate)
                if candidate_score > best_score:
                    best, best_score, improved = candidate, candidate_score, True
    return best


def ring_rotation(
    reference: np.ndarray, moving: np.ndarray, row_segments: np.ndarray, segment_ids: np.ndarray, max_deg: float
) -> tuple[float, np.ndarray, float]:
    """Rotation (degrees) of ``moving`` relative to ``reference`` (standardised polar rings), per AHA
    segment ([S], NaN where the best angle lies at the limit) and the correlation at the global best.

    The global rotation is clipped to +-``max_deg`` when its best angle lies at the limit.
    """
    step = 360.0 / N_ANGLES
    max_steps = int(np.ceil(max_deg / step))
    products, energy = shift_scores(reference, moving, max_steps)
    reference_energy = (reference * reference).sum(axis=1)
    overall = window_correlation(products, energy, reference_energy, np.ones(N_ANGLES, dtype=bool))
    shift = best_shift(overall)
    if np.isnan(shift):
        shift = float(np.argmax(overall) - max_steps)
    per_segment = np.array(
        [best_shift(window_correlation(products, energy, reference_energy, row_segments == s)) for s in segment_ids]
    )
    correlation = float(np.interp(shift, np.arange(-max_steps, max_steps + 1), overall))
    return shift * step, per_segment * step, correlation


def _radii(masks: np.ndarray, labels: np.ndarray, segment_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean distance (pixels) of each frame's myocardium from its centroid, globally [K] and per segment
    [K, S] (NaN for a segment without pixels)."""
    overall = np.zeros(masks.shape[0])
    segments = np.full((masks.shape[0], segment_ids.size), np.nan)
    for k, mask in enumerate(masks):
        rows, cols = np.nonzero(mask)
        distance = np.hypot(rows - rows.mean(), cols - cols.mean())
        overall[k] = distance.mean()
        seg = labels[k][rows, cols]
        for j, s in enumerate(segment_ids):
            if np.any(seg == s):
                segments[k, j] = distance[seg == s].mean()
    return overall, segments


def moved_mask(mask0: np.ndarray, geom0: RingGeometry, geom: RingGeometry, rotation_deg: float) -> np.ndarray:
    """The first key frame's mask moved by the measured motion onto a frame of geometry ``geom``: its
    centroid, its normalised radial map and its rotation (each output pixel looks up where it came from)."""
    rows, cols = np.indices(mask0.shape, dtype=np.float64)
    d_row, d_col = rows - geom.row, cols - geom.col
    theta = np.arctan2(-d_row, d_col) - np.deg2rad(rotation_deg)
    r0 = geom0.radius_at(geom.u_at(np.hypot(d_row, d_col)))
    source = [geom0.row - r0 * np.sin(theta), geom0.col + r0 * np.cos(theta)]
    return ndimage.map_coordinates(mask0.astype(np.float64), source, order=1, mode="constant") > 0.5


@dataclass(frozen=True)
class KeyFrameMotion:
    """What the key frames of one slice say about its motion (K key frames, S AHA segments).

    Displacements, radii and rotations are relative to or measured at each key frame; rotations and
    displacements are zero at the first key frame by construction.
    """

    frames: np.ndarray  # [K] cycle frame of each key frame
    n_frames: int  # frames in the cycle
    rr_ms: float
    centroid_px: np.ndarray  # [K, 2] LV centroid of the mask (row, col), pixels
    displacement_mm: np.ndarray  # [K, 2] centroid minus the first one's, (x along columns, y along rows), mm
    tracked_centre_px: np.ndarray  # [K, 2] where the first key frame's centroid went (image-matched), pixels
    tracked_displacement_mm: np.ndarray  # [K, 2] the same as a displacement from the first, (x, y), mm
    radius_mm: np.ndarray  # [K] mean distance of the myocardium from its centroid, mm
    endo_radius_mm: np.ndarray  # [K] equivalent-circle radius of the cavity, mm
    epi_radius_mm: np.ndarray  # [K] equivalent-circle radius of cavity plus wall, mm
    segment_ids: np.ndarray  # [S] AHA segment numbers
    segment_radius_mm: np.ndarray  # [K, S] mean distance per segment, mm (NaN: no pixels)
    rotation_deg: np.ndarray  # [K] counter-clockwise as displayed, from the first key frame
    segment_rotation_deg: np.ndarray  # [K, S] the same per segment (NaN: best angle at the search limit)
    correlation: np.ndarray  # [K] polar-ring correlation at the best angle (1 at the first key frame)
    dice: np.ndarray  # [K] Dice of the moved first mask with the key frame's own mask

    @property
    def fractions(self) -> np.ndarray:
        """Cycle fraction of each key frame."""
        return self.frames / self.n_frames

    def badly_registered(self, threshold: float = DICE_THRESHOLD) -> list[int]:
        """Cycle frames of the key frames whose registration Dice is below ``threshold``."""
        return [int(f) for f, d in zip(self.frames, self.dice, strict=True) if d < threshold]


def check_key_frames(
    magnitude: np.ndarray, masks: np.ndarray, frames: Sequence[int], n_frames: int, where: str
) -> None:
    """One-line ``DataError`` unless the key frames can be measured: >= 4 frames, matching [K, H, W] arrays,
    increasing frames inside the cycle, a non-empty mask on every key frame."""
    frames = np.asarray(frames)
    if frames.size < MIN_KEY_FRAMES:
        raise DataError(f"{where}: {frames.size} key frames are too few to read motion (at least {MIN_KEY_FRAMES})")
    if magnitude.ndim != 3 or masks.shape != magnitude.shape or magnitude.shape[0] != frames.size:
        raise DataError(
            f"{where}: expected [K, H, W] key frames and masks for {frames.size} key frames, "
            f"got {magnitude.shape} and {masks.shape}"
        )
    if np.any(np.diff(frames) <= 0) or frames[0] < 0 or frames[-1] >= n_frames:
        raise DataError(f"{where}: key frames {frames.tolist()} must increase inside a cycle of {n_frames} frames")
    empty = [int(f) for f, m in zip(frames, masks, strict=True) if not np.any(m)]
    if empty:
        raise DataError(f"{where}: key frames {empty} have no myocardium mask")


def _align(
    smooth: np.ndarray,
    geoms: list[RingGeometry],
    labels0: np.ndarray,
    segment_ids: np.ndarray,
    max_deg: float,
    search_px: float,
) -> tuple[list[RingGeometry], list[tuple[float, np.ndarray, float]]]:
    """Each key frame's tracked geometry (centre matched to the first frame's) and its rotation
    (global, per segment, correlation) relative to the first key frame."""
    reference = _standardised(polar_ring(smooth[0], geoms[0]))
    rows = _row_segments(labels0.astype(np.float64), geoms[0])
    tracked = [geoms[0]]
    for image, g in zip(smooth[1:], geoms[1:], strict=True):
        tracked.append(track_centre(reference, image, g, max_deg, search_px) if search_px > 0 else g)
    turns = [
        ring_rotation(reference, _standardised(polar_ring(image, g)), rows, segment_ids, max_deg)
        for image, g in zip(smooth, tracked, strict=True)
    ]
    return tracked, turns


def measure_keyframe_motion(
    magnitude: np.ndarray,
    masks: np.ndarray,
    frames: Sequence[int],
    n_frames: int,
    rr_ms: float,
    pixel_spacing_mm: Sequence[float],
    slice_position: str,
    septum_deg: float,
    max_rotation_deg: float = 20.0,
    centre_search_px: float = 3.0,
    where: str = "slice",
) -> KeyFrameMotion:
    """Measure the motion of a slice from its key frames (module docstring).

    ``magnitude`` and ``masks`` are [K, H, W] (key frames only, in cycle order), ``frames`` their cycle
    frames, ``pixel_spacing_mm`` (row, column). Each key frame's ring is taken around the point that
    matches the first frame's centroid (:func:`track_centre`, at most ``centre_search_px`` from its own
    mask centroid; 0 uses the mask centroids). ``where`` names the slice in errors.
    """
    magnitude, masks = np.asarray(magnitude, np.float64), np.asarray(masks) != 0
    check_key_frames(magnitude, masks, frames, n_frames, where)
    spacing = np.asarray(pixel_spacing_mm, dtype=np.float64)
    pixel_mm = float(spacing.mean())
    geoms = [ring_geometry(m) for m in masks]
    if PER_ANGLE_WALL:
        geoms = [wall_profile(m, g) for m, g in zip(masks, geoms, strict=True)]
    labels = aha_segments(masks, slice_position, septum_deg)
    segment_ids = np.unique(labels[labels > 0])
    smooth = ndimage.gaussian_filter(magnitude, (0.0, SMOOTH_PX, SMOOTH_PX))
    tracked, turns = _align(smooth, geoms, labels[0], segment_ids, max_rotation_deg, centre_search_px)
    centroid = np.array([[g.row, g.col] for g in geoms])
    centre = np.array([[g.row, g.col] for g in tracked])
    radius, segment_radius = _radii(masks, labels, segment_ids)
    moved = [moved_mask(masks[0], geoms[0], g, t[0]) for g, t in zip(tracked, turns, strict=True)]
    return KeyFrameMotion(
        frames=np.asarray(frames, dtype=np.int64),
        n_frames=int(n_frames),
        rr_ms=float(rr_ms),
        centroid_px=centroid,
        displacement_mm=(centroid - centroid[0])[:, ::-1] * spacing[::-1],
        tracked_centre_px=centre,
        tracked_displacement_mm=(centre - centre[0])[:, ::-1] * spacing[::-1],
        radius_mm=radius * pixel_mm,
        endo_radius_mm=np.array([g.endo for g in geoms]) * pixel_mm,
        epi_radius_mm=np.array([g.epi for g in geoms]) * pixel_mm,
        segment_ids=segment_ids,
        segment_radius_mm=segment_radius * pixel_mm,
        rotation_deg=np.array([t[0] for t in turns]),
        segment_rotation_deg=np.stack([t[1] for t in turns]),
        correlation=np.array([t[2] for t in turns]),
        dice=np.array([dice(m, own) for m, own in zip(moved, masks, strict=True)]),
    )


def registration_warnings(motion: KeyFrameMotion, where: str, threshold: float = DICE_THRESHOLD) -> list[str]:
    """One line per badly registered key frame of a slice, naming the slice, the frame and its Dice."""
    return [
        f"{where}: key frame {int(f)} registers badly (Dice {d:.2f} < {threshold})"
        for f, d in zip(motion.frames, motion.dice, strict=True)
        if d < threshold
    ]
