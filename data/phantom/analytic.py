"""Exact velocity curves and wall radii of a phantom slice, from its motion model (no images).

These are the reference answers for the velocity analysis: the myocardium-averaged radial,
circumferential and longitudinal velocities per frame, defined exactly as in docs/CONVENTIONS.md
(centroid of the myocardium, bulk in-plane motion removed, radial positive towards the centre,
circumferential positive counter-clockwise seen from the apex, longitudinal positive towards the apex),
but evaluated on the *continuous* wall instead of pixels. The average over the myocardium is a
quadrature over material points: because the motion conserves area, each material point keeps the
area weight ``rho0 d(rho0) d(alpha0)`` it has at end-diastole, so the average is exact up to the
quadrature resolution (errors ~1e-4 cm/s). Comparing ``assessment.velocity`` run on ``velocity_true`` with
these curves therefore measures only the pixel discretisation.

Identity used by the tests: for a material region of constant area, the mean over the region of the
velocity component along ``(p - c) / |p - c|`` (``c`` its centroid) is the time derivative of the mean
distance of the region from its centroid. So ``-radial`` (cm/s) integrates to the change of
``mean_distance_mm`` (mm / 10): velocities and moving anatomy agree by construction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from data.phantom.motion import SliceMotion
from data.phantom.params import SliceParams
from data.phantom.segments import segment_numbers, segment_of_angle

_N_RADIAL = 16
_N_ANGULAR = 360


def slice_params(source: Any) -> SliceParams:
    """``SliceParams`` from params, a stored ``SliceData`` (its ``phantom`` attribute) or a dict."""
    if isinstance(source, SliceParams):
        return source
    if isinstance(source, dict):
        return SliceParams.from_dict(source)
    attrs = getattr(source, "attrs", None)
    if isinstance(attrs, dict) and "phantom" in attrs:
        return SliceParams.from_dict(attrs["phantom"])
    raise TypeError(f"cannot get phantom slice parameters from {type(source).__name__}")


def _frames(source: Any, frames: int | None) -> int:
    if frames is not None:
        return int(frames)
    cycle = getattr(source, "cycle_frames", None)
    if cycle is None:
        raise ValueError("give the number of frames per cycle")
    return int(cycle)


def frame_phases(frames: int) -> np.ndarray:
    """Cycle phase of each frame: frame ``t`` lies at ``t / frames`` (docs/CONVENTIONS.md)."""
    return np.arange(frames) / frames


def _material_points(p: SliceParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Midpoint-rule grid over the end-diastolic wall and its area weights."""
    d_rho = p.wall_mm / _N_RADIAL
    rho0 = p.endo_radius_mm + (np.arange(_N_RADIAL) + 0.5) * d_rho
    alpha0 = (np.arange(_N_ANGULAR) + 0.5) * (2 * np.pi / _N_ANGULAR)
    rho0, alpha0 = np.meshgrid(rho0, alpha0, indexing="ij")
    weight = rho0 * d_rho * (2 * np.pi / _N_ANGULAR)
    return rho0.ravel(), alpha0.ravel(), weight.ravel()


def _projected(source: Any, frames: int | None) -> dict[str, np.ndarray]:
    """Per frame and material point: offsets from the centroid and bulk-free velocity (mm, mm/s)."""
    p = slice_params(source)
    t_count = _frames(source, frames)
    motion = SliceMotion(p)
    rho0, alpha0, w = _material_points(p)
    phi = frame_phases(t_count)[:, None]
    x, y, st = motion.forward(rho0[None], alpha0[None], phi)
    wn = w / w.sum()
    cx, cy = x @ wn, y @ wn
    dx, dy = x - cx[:, None], y - cy[:, None]
    vx = st.vx - (st.vx @ wn)[:, None]
    vy = st.vy - (st.vy @ wn)[:, None]
    r = np.hypot(dx, dy)
    return {"dx": dx, "dy": dy, "r": r, "vx": vx, "vy": vy, "vz": st.vz, "w": wn, "septum": p.septum_deg}


def _curves(d: dict[str, np.ndarray], select: np.ndarray | None = None) -> dict[str, np.ndarray]:
    radial = -(d["vx"] * d["dx"] + d["vy"] * d["dy"]) / d["r"] / 10.0
    circ = (-d["vx"] * d["dy"] + d["vy"] * d["dx"]) / d["r"] / 10.0
    w = np.broadcast_to(d["w"], radial.shape)
    if select is not None:
        w = w * select
    total = w.sum(axis=1)
    return {
        "radial": (radial * w).sum(axis=1) / total,
        "circumferential": (circ * w).sum(axis=1) / total,
        "longitudinal": (d["vz"] * w).sum(axis=1) / total,
    }


def analytic_global_curves(source: Any, frames: int | None = None) -> dict[str, np.ndarray]:
    """Myocardium-averaged radial, circumferential and longitudinal velocity per frame (cm/s).

    Args:
        source: ``SliceParams``, the ``SliceData`` of a phantom file, or its ``attrs["phantom"]`` dict.
        frames: frames per cycle (default: the slice's own number of frames).

    Returns:
        ``{"radial", "circumferential", "longitudinal"}``, each ``[frames]`` float64, with the signs of
        docs/CONVENTIONS.md: the same quantities ``assessment.velocity`` computes from ``velocity_true``.
    """
    return _curves(_projected(source, frames))


def analytic_segment_curves(source: Any, frames: int | None = None) -> dict[int, dict[str, np.ndarray]]:
    """The same curves per AHA segment, the segment of each point taken from its current angle
    about the myocardial centroid (as the velocity analysis assigns pixels)."""
    d = _projected(source, frames)
    p = slice_params(source)
    angle = np.rad2deg(np.arctan2(d["dy"], d["dx"]))
    seg = segment_of_angle(angle, p.septum_deg, p.slice_position)
    return {s: _curves(d, (seg == s).astype(np.float64)) for s in segment_numbers(p.slice_position)}


def wall_radii(source: Any, frames: int | None = None) -> dict[str, np.ndarray]:
    """LV wall size per frame.

    Returns (all ``[frames]``):
        ``endo_mm``, ``epi_mm``: equivalent-circle radii sqrt(area / pi) of the cavity and of the
            cavity plus wall (exact for the ellipse and regional motion);
        ``endo_rate_mm_s``, ``epi_rate_mm_s``: their analytic time derivatives;
        ``nominal_endo_mm``, ``nominal_endo_rate_mm_s``: the model radius R(t) of normal tissue before
            the elliptical stretch, and dR/dt (closed form);
        ``mean_distance_mm``: mean distance of the myocardium from its centroid, whose time derivative
            is ``-10 * radial`` of ``analytic_global_curves`` (mm/s).
    """
    p = slice_params(source)
    t_count = _frames(source, frames)
    motion = SliceMotion(p)
    phi = frame_phases(t_count)[:, None]
    alpha0 = ((np.arange(_N_ANGULAR) + 0.5) * (2 * np.pi / _N_ANGULAR))[None]
    delay, scale, _ = motion.regional(alpha0)
    endo, endo_rate = motion.endo_radius(phi, delay, scale)
    det = float(np.linalg.det(motion.stretch))
    offset = p.epi_radius_mm**2 - p.endo_radius_mm**2
    mean_sq = (endo**2).mean(axis=1)
    mean_rr = (endo * endo_rate).mean(axis=1)
    endo_eq = np.sqrt(det * mean_sq)
    epi_eq = np.sqrt(det * (mean_sq + offset))
    nominal, nominal_rate = motion.endo_radius(phi[:, 0])
    d = _projected(source, t_count)
    return {
        "endo_mm": endo_eq,
        "epi_mm": epi_eq,
        "endo_rate_mm_s": det * mean_rr / endo_eq,
        "epi_rate_mm_s": det * mean_rr / epi_eq,
        "nominal_endo_mm": nominal,
        "nominal_endo_rate_mm_s": nominal_rate,
        "mean_distance_mm": (d["r"] * d["w"]).sum(axis=1),
    }
