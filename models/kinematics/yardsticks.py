"""Two velocity yardsticks that read the subject from its key frames only, for the chain's tables.

* ``population + bulk`` (:func:`population_plus_bulk`): the population prior's map plus the subject's
  in-plane bulk motion (breathing, whole-heart translation), read from the centroids of the key-frame
  masks. The velocity curves of ``assessment.velocity`` remove the mean in-plane myocardial velocity per
  frame, so this yardstick changes pixel errors only, never the radial / circumferential curves.
* ``flow`` (:func:`flow_velocity`): the simplest method that reads the subject's own wall motion. The
  key magnitude frames are registered to the first by dense optical flow (``registration``); every
  myocardial point of the first key frame then has a trajectory sampled at the key times; a periodic
  (Fourier) fit through them, differentiated, gives each point's in-plane velocity at every frame. The
  points' mean radial and circumferential velocities (about their own centroid, bulk removed: the
  definitions of ``assessment.velocity``, averaged over material points) and their mean velocity (the bulk)
  are painted on the twin's masks at every frame with ``assessment.velocity.velocity_from_components``;
  through-plane comes from a given longitudinal curve (the population prior's), as the key frames show
  nothing of it. Painting curves rather than following points keeps the map on the twin's own masks
  at every frame; the cost is that regional differences are not carried.

Units: velocities in cm/s, (vx, vy) along (columns, rows) as in docs/CONVENTIONS.md; ``rr_ms`` the RR
interval; ``pixel_spacing_mm`` (row, column). Key frames are given by their cycle frame indices; the
twin has ``T = masks.shape[0]`` frames over one cycle.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assessment.velocity import lv_centroid, velocity_from_components
from models.kinematics.keyframe_motion import check_key_frames
from models.kinematics.periodic import max_order, periodic_fit
from models.kinematics.registration import KeyFrameFlow, register_to_first

#: harmonics of the bulk-motion fit: breathing and whole-heart translation are smooth over the cycle,
#: and a low order keeps the noise of mask centroids from being amplified by the derivative
BULK_ORDER = 2


def _spacing(pixel_spacing_mm: Sequence[float]) -> np.ndarray:
    """(column, row) spacing in mm: the order of (vx, vy)."""
    row, col = (float(v) for v in pixel_spacing_mm)
    return np.array([col, row])


def bulk_velocity(
    key_masks: np.ndarray,
    key_frames: Sequence[int],
    n_frames: int,
    rr_ms: float,
    pixel_spacing_mm: Sequence[float],
    order: int = BULK_ORDER,
    displacement_mm: np.ndarray | None = None,
) -> np.ndarray:
    """[T, 2] in-plane bulk velocity (vx, vy) in cm/s at every frame of the cycle, from the LV centroids
    of the key-frame masks [K, H, W] (a periodic fit of ``order`` harmonics, at most what K allows).

    ``displacement_mm`` [K, 2] (x, y) replaces the mask centroids when given, e.g. the image-tracked
    ``KeyFrameMotion.tracked_displacement_mm``: a mask a pixel off moves its centroid by a pixel, which
    the derivative turns into centimetres per second, while the tracked centre follows the image."""
    if displacement_mm is not None:
        position_mm = np.asarray(displacement_mm, dtype=np.float64)
    else:
        centroids = np.array([lv_centroid(m) for m in np.asarray(key_masks)])  # (row, col) pixels
        position_mm = centroids[:, ::-1] * _spacing(pixel_spacing_mm)
    order = min(order, max_order(len(key_frames)))
    _, rate_mm_s = periodic_fit(position_mm, key_frames, n_frames, rr_ms, order)
    return rate_mm_s / 10.0


def population_plus_bulk(
    velocity: np.ndarray,
    masks: np.ndarray,
    key_frames: Sequence[int],
    key_masks: np.ndarray,
    rr_ms: float,
    pixel_spacing_mm: Sequence[float],
    order: int = BULK_ORDER,
    displacement_mm: np.ndarray | None = None,
) -> np.ndarray:
    """The ``population + bulk`` yardstick: ``velocity`` [T, 3, H, W] (the population prior placed on the
    twin's masks, cm/s) plus the bulk velocity of :func:`bulk_velocity` (from the key-frame mask
    centroids, or ``displacement_mm``) on every myocardial pixel of the twin's ``masks`` [T, H, W].
    Returns a new float32 map; the curves it gives equal the prior's, since curves remove bulk motion,
    so only pixel errors change."""
    velocity, masks = np.asarray(velocity), np.asarray(masks) != 0
    bulk = bulk_velocity(key_masks, key_frames, masks.shape[0], rr_ms, pixel_spacing_mm, order, displacement_mm)
    out = velocity.astype(np.float32, copy=True)
    out[:, :2] += (bulk[:, :, None, None] * masks[:, None]).astype(np.float32)
    return out


def flow_curves(
    registration: KeyFrameFlow,
    first_mask: np.ndarray,
    key_frames: Sequence[int],
    n_frames: int,
    rr_ms: float,
    pixel_spacing_mm: Sequence[float],
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Mean radial and circumferential velocity [T] (cm/s) of the first key frame's myocardial points
    followed by ``registration``, and their mean (bulk) velocity [T, 2] (vx, vy), at every frame."""
    spacing = _spacing(pixel_spacing_mm)
    path = registration.trajectories(first_mask)[..., ::-1] * spacing  # [K, N, 2] (x, y) mm
    position, rate = periodic_fit(path, key_frames, n_frames, rr_ms)  # [T, N, 2] mm, mm/s
    offset = position - position.mean(axis=1, keepdims=True)
    bulk = rate.mean(axis=1)
    own = rate - bulk[:, None]
    r = np.maximum(np.hypot(offset[..., 0], offset[..., 1]), 1e-9)
    # assessment.velocity: radial = -(vx dx + vy dy) / r (towards the centre), circumferential = (vx dy - vy dx) / r.
    radial = -(own[..., 0] * offset[..., 0] + own[..., 1] * offset[..., 1]) / r
    circumferential = (own[..., 0] * offset[..., 1] - own[..., 1] * offset[..., 0]) / r
    curves = {"radial": radial.mean(axis=1) / 10.0, "circumferential": circumferential.mean(axis=1) / 10.0}
    return curves, bulk / 10.0


def flow_velocity(
    key_magnitude: np.ndarray,
    key_masks: np.ndarray,
    key_frames: Sequence[int],
    masks: np.ndarray,
    rr_ms: float,
    pixel_spacing_mm: Sequence[float],
    longitudinal: np.ndarray,
    z_towards_apex: int = 1,
    registration: KeyFrameFlow | None = None,
) -> np.ndarray:
    """The ``flow`` yardstick (module docstring): [T, 3, H, W] float32 cm/s on the twin's ``masks``.

    ``key_magnitude`` and ``key_masks`` are [K, H, W] at the cycle frames ``key_frames``; ``longitudinal``
    is the [T] through-plane curve (positive towards the apex); ``registration`` reuses a
    :func:`registration.register_to_first` result (computed here when None).
    """
    masks = np.asarray(masks) != 0
    n_frames = masks.shape[0]
    key_magnitude, key_masks = np.asarray(key_magnitude), np.asarray(key_masks) != 0
    check_key_frames(key_magnitude, key_masks, key_frames, n_frames, "flow yardstick")
    if registration is None:
        registration = register_to_first(key_magnitude, key_masks)
    curves, bulk = flow_curves(registration, key_masks[0], key_frames, n_frames, rr_ms, pixel_spacing_mm)
    curves["longitudinal"] = np.asarray(longitudinal, dtype=np.float64)
    out = velocity_from_components(curves, masks, z_towards_apex)
    out[:, :2] += (bulk[:, :, None, None] * masks[:, None]).astype(np.float32)
    return out
