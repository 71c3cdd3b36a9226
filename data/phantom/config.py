"""Configuration of the digital-twin phantom: image grid, acquisition ranges and pathology.

Every range is sampled uniformly per subject by the subject's own random generator. The defaults are
the numbers of the design brief (tissue phase mapping literature): myocardial SNR 15-30, VENC 15-30
cm/s in-plane and 20-30 cm/s through-plane, RR 700-1200 ms, 50 frames per cycle.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from data.phantom.segments import TERRITORIES, slice_of_segment
from util.errors import OptionError

Range = tuple[float, float]

#: Kinds of pathology drawn per patient (``random_pathology``); docs/PHANTOM.md describes each.
PATHOLOGY_KINDS = ("territory", "lbbb", "global", "patch", "dyssync")
#: Families of velocity waveform shapes (``waveform_shape``); docs/PHANTOM.md describes each.
WAVEFORM_SHAPES = ("reference", "altered", "independent")
#: Ranges of the image appearance (``appearance``); docs/PHANTOM.md describes each.
APPEARANCES = ("reference", "wide")
#: Options added after files were first written: left out of a file's config record at these defaults,
#: so that a cohort drawn without them keeps the attributes it had before they existed.
_LATER_DEFAULTS: dict[str, Any] = {
    "patch_width_deg": (40.0, 140.0),
    "patch_scale": (0.0, 0.8),
    "dyssync_delay_ms": (60.0, 150.0),
    "appearance": "reference",
}


@dataclass
class PhantomConfig:
    """How a phantom cohort is drawn.

    Attributes:
        frames: frames per cardiac cycle (frame ``t`` lies at phase ``t / frames`` of the RR interval).
        size: image height and width in pixels.
        pixel_spacing_mm: square pixel size. ``None`` (default) draws a field of view per subject from
            ``fov_mm`` (180-200 mm: the heart, both ventricles, the anterior chest wall, parts of both
            lungs and of the liver) and sets the spacing to FOV / size, e.g. ~1.5 mm at 128 pixels.
        fov_mm: field-of-view range used when ``pixel_spacing_mm`` is None.
        snr: range of the myocardial magnitude SNR (noise-free myocardial signal / noise std); the
            same number sets the phase noise, sigma_v = sqrt(2) VENC / (pi SNR).
        venc_inplane: range of the in-plane VENC (cm/s), shared by x and y.
        venc_through: range of the through-plane VENC (cm/s).
        rr_ms: range of the RR interval (ms).
        heart_rate_bpm: range of the heart rate (beats per minute) instead of ``rr_ms`` (which it
            replaces by ``60000 / bpm``); None (default) keeps ``rr_ms``. 50-86 bpm is 700-1200 ms.
        lv_radius_mm: range of the mid-ventricular end-diastolic endocardial radius (mm); the base is
            3-8 % larger and the apex 20-35 % smaller. Default 20-26 (normal LV, ED diameter 40-52 mm at
            mid-ventricle; the base reaches the brief's 28 mm).
        wall_mm: range of the mid-ventricular end-diastolic wall thickness (mm); default 8-12.
        ejection_fraction: range of each slice's area ejection fraction, 1 - (R_ES / R_ED)^2 (the
            fractional area change of the cavity). Within it, the end-systolic radius is solved for the
            brief's radial velocities. Default 0.36-0.64 (R_ES / R_ED 0.6-0.8, the brief's range);
            lower values give failing hearts with slower radial motion.
        eddy_cm_s: largest eddy-current velocity offset (cm/s) at the edge of the field of view. The
            offset is a linear spatial ramp per direction, constant over the cycle, added to the
            measured phase only (``velocity_true`` never has it). 0 (default) switches it off, so the
            phase noise statistics are exactly those of the noise model.
        bulk_motion_mm: largest amplitude of the smooth in-plane translation of the whole heart over the
            cycle (0 disables it). The velocity analysis removes it as bulk motion.
        delay_segments: AHA segments (1-16) whose motion is delayed (dyssynchrony).
        delay_fraction: the delay as a fraction of the RR interval (0-0.3).
        delay_ms: the delay in ms instead (converted per subject with its RR; overrides delay_fraction).
        hypokinetic_segments: AHA segments (1-16) whose radial and longitudinal motion is scaled down.
        hypokinetic_scale: the motion scale of those segments (1 normal, 0 akinetic).
        pathology_fraction: fraction of subjects that get the pathology above; the rest are normal. In
            a cohort (``generate_cohort``) exactly ``round_half_up(fraction x subjects)`` are patients,
            spread over the splits in proportion (``patient_flags``); a subject drawn alone is a patient
            with this probability (its own generator). 1 (default) gives every subject the pathology.
        random_pathology: kinds of pathology drawn per patient (each patient gets one, chosen at
            random): ``territory`` (hypokinesia or akinesia of a coronary territory), ``lbbb``
            (dyssynchrony: septum early, lateral wall late), ``global`` (globally reduced function),
            ``patch`` (a smooth hypokinetic patch off the AHA borders) and ``dyssync`` (a delay smooth
            in angle towards a random direction).
            Empty (default): only the cohort-wide pathology above. ``pathology_fraction`` picks the
            patients; the cohort-wide segments, if any, apply to the same patients.
        territories: coronary territories a ``territory`` patient may get (AHA 17-segment model).
        territory_scale: range of the territory's radial and longitudinal motion scale (0 akinetic).
        lbbb_delay_ms: range of the septal-to-lateral delay of an ``lbbb`` patient (ms): a segment at
            angle ``a`` from the septum centre is delayed by ``-D/2 cos(a)``, septum early, lateral late.
        patch_width_deg: range of the angular width (full width at half depth, degrees) of a ``patch``
            patient's smooth hypokinetic patch, centred anywhere (uniform angle), edges not on AHA borders.
        patch_scale: range of the patch's radial and longitudinal motion scale in its core level.
        dyssync_delay_ms: range of the earliest-to-latest delay of a ``dyssync`` patient, whose delay
            is a smooth function of angle (a cosine towards a uniform direction plus a second harmonic).
        global_ef: range of the slices' area ejection fraction of a ``global`` patient.
        global_scale: range of the scale of a ``global`` patient's longitudinal motion and rotation.
        direction_offset_ms: largest timing offset (ms) of the radial, circumferential and longitudinal
            waveforms of every subject against each other, drawn per subject in +-this (0: off).
        mid_rotation_deg: range of the mid-ventricular peak systolic rotation (degrees, counter-
            clockwise seen from the apex); the default -1 to 3 may be near zero, published normals are
            small but non-zero (e.g. 1 to 3).
        waveform_shape: ``reference`` (default): the waveform shapes of the design brief; ``altered``:
            shapes that the reference model never draws, per subject (a double-humped systolic wave
            peaking late, a wide E' smaller than A', an earlier A' and a shorter diastasis), to test a
            method on hearts whose curve shapes differ from those it was built on; ``independent``:
            systole, E' and A' with independently drawn times, durations and amplitudes.
        appearance: ``reference`` (default): the intensities, texture and anatomy sizes of the design
            brief; ``wide``: the same draws over far wider ranges (tissue grey levels, blood residue,
            texture, coil bias, papillary muscles, trabeculae, SNR; docs/PHANTOM.md).
    """

    frames: int = 50
    size: int = 128
    pixel_spacing_mm: float | None = None
    fov_mm: Range = (180.0, 200.0)
    snr: Range = (15.0, 30.0)
    venc_inplane: Range = (15.0, 30.0)
    venc_through: Range = (20.0, 30.0)
    rr_ms: Range = (700.0, 1200.0)
    heart_rate_bpm: Range | None = None
    lv_radius_mm: Range = (20.0, 26.0)
    wall_mm: Range = (8.0, 12.0)
    ejection_fraction: Range = (0.36, 0.64)
    eddy_cm_s: float = 0.0
    bulk_motion_mm: float = 1.5
    delay_segments: tuple[int, ...] = field(default_factory=tuple)
    delay_fraction: float = 0.0
    delay_ms: float | None = None
    hypokinetic_segments: tuple[int, ...] = field(default_factory=tuple)
    hypokinetic_scale: float = 1.0
    pathology_fraction: float = 1.0
    random_pathology: tuple[str, ...] = field(default_factory=tuple)
    territories: tuple[str, ...] = tuple(TERRITORIES)
    territory_scale: Range = (0.0, 0.8)
    lbbb_delay_ms: Range = (60.0, 150.0)
    global_ef: Range = (0.20, 0.40)
    global_scale: Range = (0.4, 0.7)
    direction_offset_ms: float = 0.0
    mid_rotation_deg: Range = (-1.0, 3.0)
    waveform_shape: str = "reference"
    patch_width_deg: Range = (40.0, 140.0)
    patch_scale: Range = (0.0, 0.8)
    dyssync_delay_ms: Range = (60.0, 150.0)
    appearance: str = "reference"

    def __post_init__(self) -> None:
        self.delay_segments = tuple(int(s) for s in self.delay_segments)
        self.hypokinetic_segments = tuple(int(s) for s in self.hypokinetic_segments)
        self.random_pathology = tuple(str(k) for k in self.random_pathology)
        self.territories = tuple(str(k) for k in self.territories)
        self.waveform_shape = str(self.waveform_shape)
        self.appearance = str(self.appearance)
        ranges = ("territory_scale", "lbbb_delay_ms", "global_ef", "global_scale", "mid_rotation_deg")
        ranges += ("patch_width_deg", "patch_scale", "dyssync_delay_ms")
        for name in ("fov_mm", "snr", "venc_inplane", "venc_through", "rr_ms", "lv_radius_mm", "wall_mm", *ranges):
            setattr(self, name, tuple(float(v) for v in getattr(self, name)))
        self.ejection_fraction = tuple(float(v) for v in self.ejection_fraction)
        if self.heart_rate_bpm is not None:
            self.heart_rate_bpm = tuple(float(v) for v in self.heart_rate_bpm)
            _check_range("heart_rate", self.heart_rate_bpm, 30.0, 200.0)
            self.rr_ms = (60000.0 / self.heart_rate_bpm[1], 60000.0 / self.heart_rate_bpm[0])
        self.validate()

    def validate(self) -> None:
        """Raise ``OptionError`` with a one-line message for any invalid value."""
        if not isinstance(self.frames, int) or self.frames < 8:
            raise OptionError(f"phantom frames must be an integer >= 8, got {self.frames}")
        if not isinstance(self.size, int) or self.size < 32:
            raise OptionError(f"phantom image size must be an integer >= 32, got {self.size}")
        if self.pixel_spacing_mm is not None:
            fov = self.pixel_spacing_mm * self.size
            if not math.isfinite(self.pixel_spacing_mm) or not 120.0 <= fov <= 400.0:
                raise OptionError(
                    f"pixel spacing {self.pixel_spacing_mm} mm gives a {fov:.0f} mm field of view at size "
                    f"{self.size}; it must be 120-400 mm for the heart and its surroundings to fit"
                )
        _check_range("fov_mm", self.fov_mm, 120.0, 400.0)
        _check_range("snr", self.snr, 2.0, 1000.0)
        _check_range("venc_inplane", self.venc_inplane, 1.0, 500.0)
        _check_range("venc_through", self.venc_through, 1.0, 500.0)
        _check_range("rr_ms", self.rr_ms, 300.0, 2000.0)
        _check_range("lv_radius", self.lv_radius_mm, 12.0, 40.0)
        _check_range("wall", self.wall_mm, 4.0, 20.0)
        _check_range("ejection_fraction", self.ejection_fraction, 0.05, 0.85)
        if not (math.isfinite(self.eddy_cm_s) and 0.0 <= self.eddy_cm_s <= 10.0):
            raise OptionError(f"eddy-current offset must be within 0-10 cm/s, got {self.eddy_cm_s}")
        if not (math.isfinite(self.bulk_motion_mm) and 0.0 <= self.bulk_motion_mm <= 10.0):
            raise OptionError(f"bulk motion amplitude must be within 0-10 mm, got {self.bulk_motion_mm}")
        for name in ("delay_segments", "hypokinetic_segments"):
            for seg in getattr(self, name):
                try:
                    slice_of_segment(seg)
                except ValueError as exc:
                    raise OptionError(f"{name}: {exc}") from exc
        if not (math.isfinite(self.delay_fraction) and 0.0 <= self.delay_fraction <= 0.3):
            raise OptionError(f"delay must be a fraction of the RR interval within 0-0.3, got {self.delay_fraction}")
        if self.delay_ms is not None and not (math.isfinite(self.delay_ms) and 0.0 <= self.delay_ms <= 300.0):
            raise OptionError(f"delay in ms must be within 0-300, got {self.delay_ms}")
        has_delay = self.delay_fraction > 0 or (self.delay_ms or 0) > 0
        if has_delay and not self.delay_segments:
            raise OptionError("a delay was given without --delay_segments to apply it to")
        if not (math.isfinite(self.hypokinetic_scale) and 0.0 <= self.hypokinetic_scale <= 1.0):
            raise OptionError(f"hypokinetic scale must be within 0-1, got {self.hypokinetic_scale}")
        if self.hypokinetic_segments and self.hypokinetic_scale == 1.0:
            raise OptionError("hypokinetic segments were given with scale 1 (normal motion); set a scale < 1")
        if not (math.isfinite(self.pathology_fraction) and 0.0 <= self.pathology_fraction <= 1.0):
            raise OptionError(f"pathology fraction must be within 0-1, got {self.pathology_fraction}")
        self._validate_random_pathology()

    def _validate_random_pathology(self) -> None:
        for kind in self.random_pathology:
            if kind not in PATHOLOGY_KINDS:
                raise OptionError(f"random_pathology: unknown kind {kind!r} (valid: {', '.join(PATHOLOGY_KINDS)})")
        for name in self.territories:
            if name not in TERRITORIES:
                raise OptionError(f"territories: unknown territory {name!r} (valid: {', '.join(TERRITORIES)})")
        if not self.territories:
            raise OptionError("territories: give at least one of " + ", ".join(TERRITORIES))
        _check_range("territory_scale", self.territory_scale, 0.0, 1.0)
        _check_range("lbbb_delay_ms", self.lbbb_delay_ms, 0.0, 300.0)
        _check_range("patch_width", self.patch_width_deg, 10.0, 300.0)
        _check_range("patch_scale", self.patch_scale, 0.0, 1.0)
        _check_range("dyssync_delay_ms", self.dyssync_delay_ms, 0.0, 300.0)
        _check_range("global_ef", self.global_ef, 0.05, 0.85)
        _check_range("global_scale", self.global_scale, 0.0, 1.0)
        _check_range("mid_rotation", self.mid_rotation_deg, -10.0, 10.0)
        if not (math.isfinite(self.direction_offset_ms) and 0.0 <= self.direction_offset_ms <= 100.0):
            raise OptionError(f"direction_offset_ms must be within 0-100 ms, got {self.direction_offset_ms}")
        if self.waveform_shape not in WAVEFORM_SHAPES:
            raise OptionError(
                f"waveform_shape: unknown shape {self.waveform_shape!r} (valid: {', '.join(WAVEFORM_SHAPES)})"
            )
        if self.appearance not in APPEARANCES:
            raise OptionError(f"appearance: unknown value {self.appearance!r} (valid: {', '.join(APPEARANCES)})")

    @property
    def has_pathology(self) -> bool:
        return bool(self.delay_segments or self.hypokinetic_segments)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (stored in every subject file)."""
        out = asdict(self)
        for key, default in _LATER_DEFAULTS.items():
            if out[key] == default:
                del out[key]
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        return out


def _check_range(name: str, value: Range, low: float, high: float) -> None:
    """One-line OptionError naming the option (the CLI's name) for a malformed MIN MAX range."""
    if len(value) != 2:
        raise OptionError(f"{name} must be two numbers MIN MAX, got {list(value)}")
    lo, hi = value
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise OptionError(f"{name} must be finite, got {list(value)}")
    if lo > hi:
        raise OptionError(f"{name} range is reversed: MIN {lo} > MAX {hi}")
    if lo < low or hi > high:
        raise OptionError(f"{name} must lie within {low:g}-{high:g}, got {lo:g}-{hi:g}")
