"""Kinematics of a phantom slice: where every material point of the LV and RV is, and how fast it moves.

LV wall (per slice). A material point is labelled by its end-diastolic polar coordinates
``(rho0, alpha0)`` in the heart's un-stretched frame (endocardium at ``rho0 = R_ED``, epicardium at
``R_epi,ED``). At cycle phase ``phi`` it sits at

    r(phi)     = sqrt(rho0^2 + R(phi, alpha0)^2 - R_ED^2)       (in-plane incompressibility)
    alpha(phi) = alpha0 + theta(phi)                             (rigid rotation of the slice)
    p(phi)     = centre + bulk(phi) + A [r cos(alpha), r sin(alpha)]

where ``R(phi, alpha0) = R_ED - dR * scale(alpha0) * c(phi - delay(alpha0))`` is the endocardial radius
along that ray, ``c`` the normalised contraction (0 at end-diastole, 1 at end-systole), ``theta`` the
rotation and ``A`` a fixed mild elliptical stretch. Why incompressibility: myocardium keeps its volume,
so in a short-axis slice the area of every ring between the endocardium and a material radius is
conserved, ``pi (r^2 - R^2) = pi (rho0^2 - R_ED^2)``; this gives the wall thickening in systole and the
analytic radial velocity ``dr/dt = R dR/dt / r`` (largest at the endocardium). Because the radial map
of each ray depends on ``rho0`` only through ``rho0^2`` and the rotation is the same for every point,
the map preserves area exactly even with regional (angle-dependent) contraction, and it is inverted in
closed form, which is how the anatomy is drawn at every frame: each pixel is mapped back to its
material coordinates, so the mask at frame ``t`` is exactly the image of the material wall at ``t``.

The velocity is the exact time derivative of ``p``:
``v = A (dr/dt e_r + r dtheta/dt e_alpha) + d bulk/dt``; through-plane, the longitudinal velocity
(positive towards the apex) is a separate waveform per slice (the slice is assumed to follow the
myocardium, so the in-plane anatomy does not change with through-plane motion).

LV cavity content (papillary muscles, trabeculae). Material inside the end-diastolic endocardium
(``rho0 < R_ED``) is carried by the homogeneous map ``r = rho0 R(phi, alpha0) / R_ED`` with the same
rotation, bulk motion and longitudinal velocity as the wall: it meets the wall map at the endocardium
in position and velocity (both give ``r = R``, ``dr/dt = dR/dt`` there), and it has no singularity at
the centre, where the incompressible map would squeeze the cavity material into a spike. Material
outside the epicardium (epicardial fat) follows the wall's incompressible map, extended outwards.

RV. The RV cavity is an ellipse beside the septum that shrinks about its own centre in systole; its
free wall is a thin ring outside it, moving by the same incompressible radial law in the ellipse's
normalised frame: a wall point at normalised material radius ``u0`` (end-diastole) sits at
``u = sqrt(u0^2 + s^2 - 1)``, ``s`` the cavity radius, along its fixed normalised direction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.phantom.params import SliceParams, Timing
from data.phantom.segments import harmonic_delay, patch_scale, regional_values, segment_means, segment_numbers
from data.phantom.waveforms import Pulse, Waveform, pulse_with_area

Humps = list[list[float]] | None


def systolic_pulses(timing: Timing, humps: Humps, area: float) -> list[Pulse]:
    """The systolic wave with integral ``area``: one pulse from onset to end-systole (the reference
    shape), or one pulse per hump ``[start, peak, end, share]`` carrying its share of the area (the
    altered shapes). Splitting a fixed area keeps every motion's closure over the beat."""
    t = timing
    if not humps:
        return [pulse_with_area(t.onset, t.systolic_peak, t.end_systole, area)]
    return [pulse_with_area(start, peak, end, area * share) for start, peak, end, share in humps]


def contraction_waveform(timing: Timing, e_fraction: float, humps: Humps = None) -> Waveform:
    """Rate of the normalised contraction ``c``: +1 over systole, -e_fraction in E', the rest in A'."""
    t = timing
    return Waveform(
        [
            *systolic_pulses(t, humps, 1.0),
            pulse_with_area(t.e_start, t.e_peak, t.e_end, -e_fraction),
            pulse_with_area(t.a_start, t.a_peak, t.a_end, -(1.0 - e_fraction)),
        ]
    )


def rotation_waveform(timing: Timing, untwist_fraction: float, humps: Humps = None) -> Waveform:
    """Rate of the normalised rotation: +1 over systole, undone mostly during relaxation, rest in A'."""
    t = timing
    return Waveform(
        [
            *systolic_pulses(t, humps, 1.0),
            pulse_with_area(t.end_systole, t.e_start, t.untwist_end, -untwist_fraction),
            pulse_with_area(t.a_start, t.a_peak, t.a_end, -(1.0 - untwist_fraction)),
        ]
    )


def longitudinal_waveform(
    timing: Timing, systolic: float, early: float, atrial: float, humps: Humps = None
) -> Waveform:
    """Longitudinal velocity in cm/s (towards apex positive): S' peak, then -E' and -A' peaks.

    With humps, ``systolic`` is the peak of the reference pulse whose area the humps share, so the
    excursion still returns to zero over the beat."""
    t = timing
    if humps:
        systole = systolic_pulses(t, humps, systolic * 0.5 * (t.end_systole - t.onset))
    else:
        systole = [Pulse(t.onset, t.systolic_peak, t.end_systole, systolic)]
    return Waveform(
        [
            *systole,
            Pulse(t.e_start, t.e_peak, t.e_end, -early),
            Pulse(t.a_start, t.a_peak, t.a_end, -atrial),
        ]
    )


def stretch_matrix(ellipticity: float, angle_deg: float) -> np.ndarray:
    """Symmetric stretch with semi-axis factors (1 + e) along ``angle_deg`` and (1 - e) across."""
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return rot @ np.diag([1.0 + ellipticity, 1.0 - ellipticity]) @ rot.T


def _unit(angle_deg: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    return np.array([np.cos(a), np.sin(a)])


def segment_pathology(params: SliceParams) -> tuple[list[int], np.ndarray, np.ndarray]:
    """AHA segment numbers of the slice and each segment's motion scale and delay (fraction of RR).

    Combines the cohort-wide pathology (``hypokinetic_segments`` at ``hypokinetic_scale``,
    ``delay_segments`` late by ``delay_fraction``) with the per-patient ``segment_scale`` and
    ``segment_delay``: scales multiply, delays add. This is the truth a file records per slice.
    """
    p = params
    ids = segment_numbers(p.slice_position)
    scale = np.array([p.hypokinetic_scale if s in p.hypokinetic_segments else 1.0 for s in ids])
    delay = np.array([p.delay_fraction if s in p.delay_segments else 0.0 for s in ids])
    if p.segment_scale is not None:
        scale = scale * np.asarray(p.segment_scale, dtype=np.float64)
    if p.segment_delay is not None:
        delay = delay + np.asarray(p.segment_delay, dtype=np.float64)
    return ids, scale, delay


def segment_truth_values(params: SliceParams) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The regional truth of a slice per AHA segment: ``segment_pathology`` combined with the angular
    pathology (``patch``, ``delay_harmonics``) averaged over each segment's sector."""
    p = params
    ids, scale, delay = segment_pathology(p)
    if p.patch is not None:
        scale = scale * segment_means(lambda a: patch_scale(a, p.patch), p.septum_deg, p.slice_position)
    if p.delay_harmonics is not None:
        delay = delay + segment_means(lambda a: harmonic_delay(a, p.delay_harmonics), p.septum_deg, p.slice_position)
    return ids, scale, delay


@dataclass
class WallState:
    """Motion of the points asked about, all arrays of one broadcast shape (mm, mm/s, cm/s, rad)."""

    r: np.ndarray  # current radius in the un-stretched frame
    alpha: np.ndarray | None  # current angle in the un-stretched frame (float64 evaluations only)
    endo: np.ndarray  # current endocardial radius along this ray
    epi: np.ndarray  # current epicardial radius along this ray
    scale: np.ndarray  # metric factor |A e_r| turning un-stretched radial mm into image mm
    vx: np.ndarray  # in-plane velocity, math frame (x right, y up), mm/s
    vy: np.ndarray
    vz: np.ndarray  # longitudinal velocity, towards apex positive, cm/s
    rho0: np.ndarray  # material (end-diastolic, un-stretched) radius: wall map outside R, cavity map inside
    cos_a0: np.ndarray  # material direction
    sin_a0: np.ndarray


class SliceMotion:
    """Analytic motion of one slice, built from its ``SliceParams``. All methods are vectorised."""

    def __init__(self, params: SliceParams):
        p = params
        self.params = p
        self.rr_s = p.rr_ms / 1000.0
        humps = p.systolic_humps
        self.contraction = contraction_waveform(p.timing, p.radial_e_fraction, humps)
        self.rotation_wave = rotation_waveform(p.timing, p.untwist_e_fraction, humps)
        self.longitudinal = longitudinal_waveform(p.timing, p.long_systolic_cm_s, p.long_e_cm_s, p.long_a_cm_s, humps)
        self.stretch = stretch_matrix(p.ellipticity, p.ellipse_angle_deg)
        self.stretch_inv = np.linalg.inv(self.stretch)
        self.centre = np.asarray(p.centre_mm, dtype=np.float64)
        e_s, e_across = _unit(p.septum_deg), _unit(p.septum_deg + 90.0)
        self.rv_centre = self.centre + p.rv_offset_mm * e_s
        self.rv_matrix = p.rv_axis_along_mm * np.outer(e_s, e_s) + p.rv_axis_across_mm * np.outer(e_across, e_across)
        self.rv_matrix_inv = np.linalg.inv(self.rv_matrix)
        self.rv_wall_unit = p.rv_wall_mm / (0.5 * (p.rv_axis_along_mm + p.rv_axis_across_mm))
        self.segment_ids, self.segment_scale, self.segment_delay = segment_pathology(p)
        self.segment_has_delay = bool(np.any(self.segment_delay != 0.0))
        self.segment_has_scale = bool(np.any(self.segment_scale != 1.0))
        self.has_delay = self.segment_has_delay or p.delay_harmonics is not None
        self.has_hypokinesis = self.segment_has_scale or p.patch is not None
        offsets = p.direction_offsets or (0.0, 0.0, 0.0)
        self.offset_radial, self.offset_rotation, self.offset_longitudinal = (float(v) for v in offsets)

    # ------------------------------------------------------------------------------ time functions

    def contraction_at(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised contraction ``c`` and its rate dc/dt (1/s) of normal tissue."""
        phi = np.asarray(phi, dtype=np.float64) - self.offset_radial
        return self.contraction.displacement(phi), self.contraction.velocity(phi) / self.rr_s

    def rotation(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rotation angle (rad, counter-clockwise seen from the apex) and rate (rad/s)."""
        amp = np.deg2rad(self.params.rotation_deg)
        phi = np.asarray(phi, dtype=np.float64) - self.offset_rotation
        return amp * self.rotation_wave.displacement(phi), amp * self.rotation_wave.velocity(phi) / self.rr_s

    def bulk(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Bulk translation (mm) and its velocity (mm/s), x and y; zero at phase 0."""
        phi = np.asarray(phi, dtype=np.float64)
        out = []
        for axis in range(2):
            a1, p1, a2, p2 = self.params.bulk_mm[4 * axis : 4 * axis + 4]
            pos = a1 * (np.cos(2 * np.pi * phi + p1) - np.cos(p1)) + a2 * (np.cos(4 * np.pi * phi + p2) - np.cos(p2))
            vel = -(a1 * 2 * np.pi * np.sin(2 * np.pi * phi + p1) + a2 * 4 * np.pi * np.sin(4 * np.pi * phi + p2))
            out.append((pos, vel / self.rr_s))
        return out[0][0], out[1][0], out[0][1], out[1][1]

    # ------------------------------------------------------------------------------ regional terms

    def _regional_from_direction(
        self, cos_a0: np.ndarray, sin_a0: np.ndarray
    ) -> tuple[np.ndarray | float, np.ndarray | float, np.ndarray]:
        """Delay, scale and longitudinal gain from the material direction (cos, sin of alpha0).

        The direction as displayed is ``A (cos, sin)``; the lateral gain needs only its cosine with the
        lateral direction (no trigonometry), the AHA weights need its angle (only with pathology).
        """
        p = self.params
        m = self.stretch
        ix = m[0, 0] * cos_a0 + m[0, 1] * sin_a0
        iy = m[1, 0] * cos_a0 + m[1, 1] * sin_a0
        norm = np.hypot(ix, iy)
        lateral = np.deg2rad(p.septum_deg + 180.0)
        gain = 1.0 + p.long_lateral_gain * (ix * np.cos(lateral) + iy * np.sin(lateral)) / norm
        delay: np.ndarray | float = 0.0
        scale: np.ndarray | float = 1.0
        if self.has_delay or self.has_hypokinesis:
            angle = np.rad2deg(np.arctan2(iy, ix))
            if self.segment_has_delay:
                delay = regional_values(angle, self.segment_delay, p.septum_deg, p.slice_position, 0.0)
            if p.delay_harmonics is not None:
                delay = delay + harmonic_delay(angle, p.delay_harmonics)
            if self.segment_has_scale:
                scale = regional_values(angle, self.segment_scale, p.septum_deg, p.slice_position, 1.0)
            if p.patch is not None:
                scale = scale * patch_scale(angle, p.patch)
        return delay, scale, gain

    def regional(self, alpha0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per material angle: phase delay (fraction of RR), motion scale, longitudinal gain."""
        alpha0 = np.asarray(alpha0, dtype=np.float64)
        delay, scale, gain = self._regional_from_direction(np.cos(alpha0), np.sin(alpha0))
        shape = gain.shape
        return np.broadcast_to(delay, shape), np.broadcast_to(scale, shape), gain

    def endo_radius(
        self, phi: np.ndarray, delay: np.ndarray | float = 0.0, scale: np.ndarray | float = 1.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Endocardial radius (mm, un-stretched) and its rate (mm/s) for a ray with delay and scale."""
        shifted = np.asarray(phi, dtype=np.float64) - delay
        c, dc = self.contraction_at(shifted)
        dr = self.params.delta_radius_mm * scale
        return self.params.endo_radius_mm - dr * c, -dr * dc

    def longitudinal_velocity(
        self, phi: np.ndarray, delay: np.ndarray | float = 0.0, scale_gain: np.ndarray | float = 1.0
    ) -> np.ndarray:
        """Longitudinal velocity (cm/s, towards apex positive) of a ray."""
        shifted = np.asarray(phi, dtype=np.float64) - self.offset_longitudinal - delay
        return scale_gain * self.longitudinal.velocity(shifted)

    # ------------------------------------------------------------------------------ LV wall

    def _state(
        self,
        phi: np.ndarray,
        r: np.ndarray,
        cos_a: np.ndarray,
        sin_a: np.ndarray,
        cos_a0: np.ndarray,
        sin_a0: np.ndarray,
        dtype: type,
    ) -> WallState:
        """Motion of points at current un-stretched radius ``r`` and direction ``(cos_a, sin_a)``,
        material direction ``(cos_a0, sin_a0)``; ``phi`` broadcasts against them."""
        p = self.params
        delay, scale, gain = self._regional_from_direction(cos_a0, sin_a0)
        phi = np.asarray(phi, dtype=np.float64)
        if self.has_delay:  # every ray has its own clock: evaluate the waveforms per point
            endo, endo_rate = self.endo_radius(phi, delay, scale)
            vz = self.longitudinal_velocity(phi, delay, scale * gain)
        else:  # time functions of the frame only, broadcast over the points (much cheaper)
            endo, endo_rate = self.endo_radius(phi)
            endo, endo_rate = endo.astype(dtype), endo_rate.astype(dtype)
            if self.has_hypokinesis:
                endo = p.endo_radius_mm - (p.endo_radius_mm - endo) * scale
                endo_rate = endo_rate * scale
            vz = self.longitudinal_velocity(phi).astype(dtype) * (scale * gain)
        _, theta_rate = self.rotation(phi)
        theta_rate = theta_rate.astype(dtype)
        # Wall (r >= R): incompressible, dr/dt = R dR/dt / r. Cavity (r < R): homogeneous, dr/dt = r dR/dt / R.
        in_cavity = r < endo
        r_rate = np.where(in_cavity, r / endo, endo / np.maximum(r, dtype(1e-3))) * endo_rate
        rho0 = np.where(
            in_cavity,
            r * dtype(p.endo_radius_mm) / endo,
            np.sqrt(np.maximum(r * r - endo * endo + dtype(p.endo_radius_mm**2), dtype(0.0))),
        )
        ux = r_rate * cos_a - r * theta_rate * sin_a
        uy = r_rate * sin_a + r * theta_rate * cos_a
        m = self.stretch.astype(dtype)
        _, _, bvx, bvy = self.bulk(phi)
        vx = m[0, 0] * ux + m[0, 1] * uy + bvx.astype(dtype)
        vy = m[1, 0] * ux + m[1, 1] * uy + bvy.astype(dtype)
        epi = np.sqrt(dtype(p.epi_radius_mm**2 - p.endo_radius_mm**2) + endo * endo)
        metric = np.hypot(m[0, 0] * cos_a + m[0, 1] * sin_a, m[1, 0] * cos_a + m[1, 1] * sin_a)
        return WallState(
            r=r,
            alpha=np.arctan2(sin_a, cos_a) if dtype is np.float64 else None,
            endo=endo,
            epi=epi,
            scale=metric,
            vx=vx,
            vy=vy,
            vz=vz,
            rho0=rho0,
            cos_a0=cos_a0,
            sin_a0=sin_a0,
        )

    def forward(
        self, rho0: np.ndarray, alpha0: np.ndarray, phi: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, WallState]:
        """Positions (x, y mm, math frame) and motion of material points at phases ``phi`` (broadcast).

        Points with ``rho0 < R_ED`` (cavity content) follow the cavity map, the others the wall map.
        Evaluated in float64 (used for the analytic curves)."""
        p = self.params
        rho0, alpha0 = np.asarray(rho0, dtype=np.float64), np.asarray(alpha0, dtype=np.float64)
        delay, scale, _ = self.regional(alpha0)
        if self.has_delay:
            endo, _ = self.endo_radius(phi, delay, scale)
        else:  # waveform per frame only, then the per-point scale
            endo, _ = self.endo_radius(phi)
            endo = p.endo_radius_mm - (p.endo_radius_mm - endo) * scale
        theta, _ = self.rotation(phi)
        wall = np.sqrt(np.maximum(rho0**2 + endo**2 - p.endo_radius_mm**2, 0.0))
        r = np.where(rho0 < p.endo_radius_mm, rho0 * endo / p.endo_radius_mm, wall)
        alpha = alpha0 + theta
        cos_a, sin_a = np.cos(alpha), np.sin(alpha)
        state = self._state(phi, r, cos_a, sin_a, np.cos(alpha0), np.sin(alpha0), np.float64)
        bx, by, _, _ = self.bulk(phi)
        m = self.stretch
        qx, qy = r * cos_a, r * sin_a
        x = self.centre[0] + bx + m[0, 0] * qx + m[0, 1] * qy
        y = self.centre[1] + by + m[1, 0] * qx + m[1, 1] * qy
        return x, y, state

    def inverse(self, x: np.ndarray, y: np.ndarray, phi: np.ndarray, dtype=np.float32) -> WallState:
        """Motion of whatever LV material sits at image points (x, y) at phases ``phi`` (broadcast).

        The returned ``endo``/``epi`` are the current boundary radii along each point's ray, so
        ``endo <= r <= epi`` is the myocardium at that phase. No trigonometry per point: the material
        direction is the current one rotated back by the frame's rotation angle.
        """
        bx, by, _, _ = self.bulk(phi)
        dx = (x - self.centre[0]).astype(dtype) - bx.astype(dtype)
        dy = (y - self.centre[1]).astype(dtype) - by.astype(dtype)
        mi = self.stretch_inv.astype(dtype)
        qx = mi[0, 0] * dx + mi[0, 1] * dy
        qy = mi[1, 0] * dx + mi[1, 1] * dy
        r = np.hypot(qx, qy)
        safe = np.maximum(r, dtype(1e-6))
        cos_a, sin_a = qx / safe, qy / safe
        theta, _ = self.rotation(phi)
        ct, st = np.cos(theta).astype(dtype), np.sin(theta).astype(dtype)
        cos_a0 = cos_a * ct + sin_a * st
        sin_a0 = sin_a * ct - cos_a * st
        return self._state(phi, r, cos_a, sin_a, cos_a0, sin_a0, dtype)

    # ------------------------------------------------------------------------------ RV

    def rv_inverse(self, x: np.ndarray, y: np.ndarray, phi: np.ndarray, dtype=np.float32) -> dict[str, np.ndarray]:
        """RV geometry and motion at image points: normalised radius ``u`` and its metric ``scale``
        (mm per unit), current cavity and outer-wall radii (per frame), velocity (mm/s; vz cm/s).

        In the RV ellipse's normalised frame the cavity boundary is the circle of radius ``s(phi)`` and
        a wall point at normalised radius ``u`` moves as ``u du/dt = s ds/dt`` (area conservation), so
        its image velocity is ``(s ds/dt / u^2) (p - centre)`` plus the bulk motion.
        """
        p = self.params
        bx, by, bvx, bvy = self.bulk(phi)
        c, dc = self.contraction_at(phi)
        s = 1.0 - p.rv_shrink * c
        s_rate = -p.rv_shrink * dc
        dx = (x - self.rv_centre[0]).astype(dtype) - bx.astype(dtype)
        dy = (y - self.rv_centre[1]).astype(dtype) - by.astype(dtype)
        mi = self.rv_matrix_inv.astype(dtype)
        ux = mi[0, 0] * dx + mi[0, 1] * dy
        uy = mi[1, 0] * dx + mi[1, 1] * dy
        u2 = np.maximum(ux * ux + uy * uy, dtype(1e-6))
        u = np.sqrt(u2)
        outer = np.sqrt(s * s + (1.0 + self.rv_wall_unit) ** 2 - 1.0)
        u0 = np.sqrt(np.maximum(u2 - (s * s).astype(dtype) + dtype(1.0), dtype(0.0)))
        k = (s * s_rate).astype(dtype) / u2
        m = self.rv_matrix.astype(dtype)
        metric = np.hypot(m[0, 0] * ux + m[0, 1] * uy, m[1, 0] * ux + m[1, 1] * uy) / u
        vz = p.rv_long_gain * self.longitudinal.velocity(np.asarray(phi, dtype=np.float64) - self.offset_longitudinal)
        return {
            "u": u,
            "u0": u0,  # material (end-diastolic) normalised radius; the direction (ux, uy) / u is material too
            "ux": ux,
            "uy": uy,
            "cavity": s.astype(dtype),
            "outer": outer.astype(dtype),
            "scale": metric,
            "vx": k * dx + bvx.astype(dtype),
            "vy": k * dy + bvy.astype(dtype),
            "vz": vz.astype(dtype),
        }

    def rv_forward(self, u0: np.ndarray, beta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions (x, y mm) at phases ``phi`` of RV wall points with normalised material radius ``u0``
        (>= 1) and direction ``beta`` (radians) in the RV ellipse's normalised frame."""
        p = self.params
        c, _ = self.contraction_at(phi)
        s = 1.0 - p.rv_shrink * c
        u = np.sqrt(np.asarray(u0, dtype=np.float64) ** 2 + s * s - 1.0)
        bx, by, _, _ = self.bulk(phi)
        qx, qy = u * np.cos(beta), u * np.sin(beta)
        m = self.rv_matrix
        return self.rv_centre[0] + bx + m[0, 0] * qx + m[0, 1] * qy, self.rv_centre[1] + by + m[1, 0] * qx + m[
            1, 1
        ] * qy

    def rv_insertion_deg(self) -> list[float]:
        """Material angles (degrees, LV frame) of the two RV insertion points: the ends of the arc of the
        end-diastolic LV epicardium that lies inside the RV's outer wall."""
        p = self.params
        alpha = np.deg2rad(p.septum_deg) + np.deg2rad(np.arange(-180.0, 180.0, 0.25))
        q = p.epi_radius_mm * np.stack([np.cos(alpha), np.sin(alpha)])
        points = self.centre[:, None] + self.stretch @ q - self.rv_centre[:, None]
        u = np.hypot(*(self.rv_matrix_inv @ points))
        inside = np.flatnonzero(u < 1.0 + self.rv_wall_unit)
        if inside.size == 0:  # the RV does not reach the LV (not drawn by the sampler): face the septum
            return [p.septum_deg - 60.0, p.septum_deg + 60.0]
        return [float(np.rad2deg(alpha[inside[0]])), float(np.rad2deg(alpha[inside[-1]]))]

    # ------------------------------------------------------------------------------ extents

    def bulk_bound_mm(self) -> float:
        """Upper bound of the bulk displacement along either axis."""
        b = self.params.bulk_mm
        return 2.0 * max(abs(b[0]) + abs(b[2]), abs(b[4]) + abs(b[6]))

    def lv_extent_mm(self) -> float:
        """Radius around the LV centre that the LV wall never leaves (end-diastole is the largest)."""
        p = self.params
        fat = max((pad[2] for pad in p.anatomy.fat), default=0.0) if p.anatomy is not None else 0.0
        return (p.epi_radius_mm + fat) * (1.0 + p.ellipticity) + self.bulk_bound_mm()

    def rv_extent_mm(self) -> float:
        """Radius around the RV centre that the RV wall never leaves."""
        p = self.params
        return max(p.rv_axis_along_mm, p.rv_axis_across_mm) * (1.0 + self.rv_wall_unit) + self.bulk_bound_mm()
