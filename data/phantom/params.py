"""Parameter records of a phantom slice: timing, geometry, motion amplitudes, pathology, surroundings.

These are plain data (no behaviour beyond (de)serialisation). A ``SliceParams`` holds everything needed
to rebuild the motion of a slice, so the analytic curves of a stored file can be recomputed from its
``phantom`` attribute alone (``SliceParams.from_dict(slice.attrs["phantom"])``).

Frames of reference: lengths in mm in a *math* frame centred on the image centre, x to the right
(+column) and y **up** (-row), so that angles are counter-clockwise as displayed, as in
docs/CONVENTIONS.md. Times are cycle phases (fractions of the RR interval).
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any


@dataclass
class Timing:
    """Event times of one cardiac cycle, as fractions of RR (phase 0 = R wave = end-diastole).

    Systolic wave from ``onset`` to ``end_systole`` peaking at ``systolic_peak``; early-diastolic (E')
    wave from ``e_start`` (end of isovolumic relaxation) to ``e_end``; diastasis until ``a_start``;
    atrial (A') wave to ``a_end``. Untwisting runs from end-systole to ``untwist_end``, mostly during
    isovolumic relaxation and early filling, peaking at ``e_start``.
    """

    onset: float
    systolic_peak: float
    end_systole: float
    e_start: float
    e_peak: float
    e_end: float
    a_start: float
    a_peak: float
    a_end: float
    untwist_end: float


@dataclass
class Scene:
    """Static surroundings of a slice, in mm relative to the LV centre at end-diastole, unrotated.

    The whole scene is rotated by ``angle_deg`` about the LV centre (patient orientation varies).
    Intensities are relative to the myocardium (1.0); blood, lung and air carry no signal (black blood).
    """

    angle_deg: float
    skin_distance_mm: float
    skin_curvature_mm: float
    chest_wall_mm: float
    fat_mm: float  # subcutaneous fat: the outer layer of the chest wall
    lung_left: list[float]  # centre x, y, semi-axis x, y, tilt deg, harmonic a2, phase2, a3, phase3
    lung_right: list[float]
    liver: list[float]
    aorta: list[float]  # centre x, y, radius
    intensity_chest_wall: float
    intensity_fat: float
    intensity_liver: float
    intensity_soft: float
    intensity_rv_wall: float
    bias: list[float]  # coefficients of x, y, x^2 + y^2, x*y (field-of-view normalised) in the log bias
    # Residual signal of the LV and RV blood pools (0: black blood; ``appearance="wide"`` draws some).
    intensity_blood: float = 0.0


@dataclass
class Anatomy:
    """Structures drawn in the LV's *material* coordinates, so that the motion model carries them.

    Material coordinates are the end-diastolic, un-stretched polar ``(rho0, alpha0)`` of
    ``motion.SliceMotion`` (mm, radians counter-clockwise) or the Cartesian ``rho0 (cos, sin)``.

    ``papillary``: one ``[angle_deg, radius_mm, depth_mm]`` per muscle: a disc of that radius centred
    ``depth_mm`` inside the end-diastolic endocardium (less than the radius, so it is attached to the
    wall). ``trabeculae``: ``[mean_depth_mm, k1, a1, p1, k2, a2, p2, ...]``: the bright trabecular
    layer reaches ``max(0, mean + sum a cos(k alpha0 + p))`` mm inside the endocardium. ``texture``:
    plane waves ``[kx, ky, phase, amplitude]`` (rad/mm) of the relative signal of LV material and of
    the RV wall. ``fat``: epicardial fat pads ``[angle_deg, half_width_deg, thickness_mm]`` (raised-cosine
    thickness profile outside the epicardium), centred at the RV insertion points ``insertion_deg``.
    """

    papillary: list[list[float]]
    trabeculae: list[float]
    texture: list[list[float]]
    fat: list[list[float]]
    insertion_deg: list[float]
    intensity_fat: float


@dataclass
class SliceParams:
    """Everything that defines one phantom slice (see module docstring for frames and units)."""

    slice_position: str
    rr_ms: float
    timing: Timing
    # Geometry of the LV at end-diastole (mm), before the elliptical stretch.
    centre_mm: list[float]
    endo_radius_mm: float
    wall_mm: float
    es_fraction: float  # end-systolic / end-diastolic endocardial radius
    ellipticity: float  # semi-axes scaled by (1 + e) and (1 - e)
    ellipse_angle_deg: float
    septum_deg: float  # angle of the septum centre (direction of the RV centre), CONVENTIONS angle
    # Motion amplitudes.
    radial_e_fraction: float  # share of the systolic contraction recovered during E' (rest during A')
    long_systolic_cm_s: float  # longitudinal peaks (towards apex positive): S' > 0
    long_e_cm_s: float  # E' magnitude (the velocity is -long_e_cm_s)
    long_a_cm_s: float  # A' magnitude
    long_lateral_gain: float  # longitudinal velocity x (1 + g cos(angle - lateral)); lateral > septal
    rotation_deg: float  # peak systolic rotation, counter-clockwise seen from the apex positive
    untwist_e_fraction: float  # share of the rotation undone by early diastole (rest during A')
    bulk_mm: list[float]  # x and y translation: [a1, phase1, a2, phase2] per axis, 8 numbers
    # Right ventricle (ellipse in the scene, contracting about its own centre).
    rv_offset_mm: float
    rv_axis_along_mm: float
    rv_axis_across_mm: float
    rv_wall_mm: float
    rv_shrink: float  # fractional shrink of the RV cavity ellipse at end-systole
    rv_long_gain: float  # RV longitudinal velocity relative to the LV of the same slice
    scene: Scene
    # Pathology.
    delay_segments: list[int]
    delay_fraction: float
    hypokinetic_segments: list[int]
    hypokinetic_scale: float
    # Anatomy in material coordinates (None: a uniform ring, as in files written before it existed).
    anatomy: Anatomy | None = None
    # Pathology drawn per patient, one value per AHA segment of this slice in the order of
    # ``segments.segment_numbers(slice_position)``; None is normal. They combine with the cohort-wide
    # fields above: scales multiply, delays add.
    segment_scale: list[float] | None = None  # radial and longitudinal motion scale (1 normal, 0 akinetic)
    segment_delay: list[float] | None = None  # phase delay, fraction of RR (negative: early)
    # Timing offsets of the radial (contraction), circumferential (rotation) and longitudinal waveforms,
    # fractions of RR (None: all three share the slice's event times).
    direction_offsets: list[float] | None = None
    # Systolic wave as several pulses, ``[start, peak, end, share]`` each (phases; shares of the systolic
    # area, summing to 1), for the altered waveform shapes (None: the one pulse of ``timing``, onset to
    # end-systole peaking at ``systolic_peak``).
    systolic_humps: list[list[float]] | None = None
    # Pathology as smooth functions of the angle (degrees, as displayed), not tied to the AHA borders:
    # a patch ``[centre_deg, width_deg, edge_deg, scale]`` scaling radial and longitudinal motion
    # (``segments.patch_scale``) and a delay ``[[order, amplitude, phase_deg], ...]`` in fractions of RR
    # (``segments.harmonic_delay``). They combine with the per-segment fields: scales multiply, delays add.
    patch: list[float] | None = None
    delay_harmonics: list[list[float]] | None = None

    @property
    def epi_radius_mm(self) -> float:
        return self.endo_radius_mm + self.wall_mm

    @property
    def delta_radius_mm(self) -> float:
        """End-diastolic minus end-systolic endocardial radius of normal tissue."""
        return self.endo_radius_mm * (1.0 - self.es_fraction)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict of plain Python numbers. Fields added later are left out at their
        defaults, so that slices drawn without them keep the attributes they had before they existed."""
        out = _plain(asdict(self))
        for name in ("systolic_humps", "patch", "delay_harmonics"):
            if out[name] is None:
                del out[name]
        if out["scene"]["intensity_blood"] == 0.0:
            del out["scene"]["intensity_blood"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SliceParams:
        # Fields with a default may be absent (files written before they existed); the others may not.
        kwargs = {f.name: data[f.name] for f in fields(cls) if f.name in data or f.default is MISSING}
        kwargs["timing"] = Timing(**data["timing"])
        kwargs["scene"] = Scene(**data["scene"])
        if kwargs.get("anatomy") is not None:
            kwargs["anatomy"] = Anatomy(**kwargs["anatomy"])
        return cls(**kwargs)


def _plain(value: Any) -> Any:
    """Turn numpy scalars and tuples into plain JSON types, recursively."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value
