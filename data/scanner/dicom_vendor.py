"""Vendor conventions for storing phase-contrast velocity and magnitude in DICOM pixels.

Two conventions are implemented, and the importer picks one from the Manufacturer attribute
(``vendor_units``):

``raw12`` (Siemens)
    The phase image holds the phase as an unsigned integer over the full stored range,
    ``0 .. 2**BitsStored - 1`` (0..4095 for the usual 12 bits), with RescaleSlope 2 and
    RescaleIntercept -4096 so that the *rescaled* value spans -4096..4094. Both describe the same
    linear map onto [-VENC, VENC):

        velocity = -VENC + 2 * VENC * stored / 2**bits          (= VENC * rescaled / 4096 for 12 bits)

    The number of stored levels that span [-VENC, VENC) (4096 above) is read from the header by
    ``phase_levels``, from two sources that must agree:

    * the rescale, when it is not the identity: a rescale ``(slope, intercept)`` with slope > 0 and
      intercept < 0 maps the stored range onto ``[intercept, -intercept)``, which is [-VENC, VENC), so
      it names ``levels = -2 * intercept / slope`` (4096 for (2, -4096), 1024 for (2, -1024), 4096
      for (1, -2048)), and then velocity = VENC * rescaled / -intercept;
    * BitsStored: ``levels <= 2**BitsStored``. A rescale that names fewer levels than BitsStored
      allows is the usual "12-bit values in a 16-bit container" (a converter that rewrote BitsStored
      to 16) and the rescale wins; one that names more is contradictory and the image is refused.

    With the identity rescale (absent, or dropped by a converter) BitsStored alone gives
    ``levels = 2**BitsStored``; since phase noise in the background covers the whole range, a phase
    series whose stored values all lie in the lower half of that range means BitsStored is not the
    bit depth of the data, and the image is refused rather than read as all-negative velocities. Any
    other rescale (slope <= 0, or intercept >= 0 but not the identity) is refused. Each refusal is a
    one-line ``DataError`` naming the file. The VENC is not in the pixels: it comes from the sequence
    name (see ``dicom_rules``).

``cm_s`` (Philips)
    The rescaled value (stored * RescaleSlope + RescaleIntercept) *is* the velocity in cm/s; the VENC
    is only metadata.

Quantisation: one ``raw12`` step is 2 * VENC / 4096 cm/s. Encoding is "wrap-safe": a velocity beyond
[-VENC, VENC) is first aliased into the range, as the scanner would have measured it, and a value so
close to +VENC that it would round to 4096 (which 12 bits cannot hold, and which would otherwise wrap to
-VENC) is stored as 4095. Every in-range velocity therefore decodes within one step.
"""

from __future__ import annotations

import numpy as np
from pydicom.valuerep import format_number_as_ds

from util.errors import DataError

PHASE_UNITS = ("raw12", "cm_s")
RAW_BITS = 12

_VENDOR_UNITS = {"siemens": "raw12", "philips": "cm_s"}


def ds_number(value: float) -> float:
    """Round ``value`` to what a DICOM decimal string (16 characters) holds.

    Rescale slopes and intercepts are written as decimal strings; quantising with the rounded value keeps
    the stored integers exactly consistent with what a reader will compute from the file.
    """
    return float(format_number_as_ds(float(value)))


def vendor_name(manufacturer: str | None) -> str | None:
    """Normalise a DICOM Manufacturer string to 'siemens' or 'philips' (None for any other vendor)."""
    text = (manufacturer or "").lower()
    for vendor in _VENDOR_UNITS:
        if vendor in text:
            return vendor
    return None


def vendor_units(manufacturer: str | None) -> str | None:
    """The phase convention of a manufacturer ('raw12' or 'cm_s'); None when it is not known."""
    vendor = vendor_name(manufacturer)
    return None if vendor is None else _VENDOR_UNITS[vendor]


def raw_to_velocity(stored: np.ndarray, venc: float, bits: int = RAW_BITS, levels: int | None = None) -> np.ndarray:
    """Siemens stored phase (0 .. levels - 1, levels = 2**bits unless given) to cm/s over [-VENC, VENC)."""
    stored = np.asarray(stored)
    levels = 2**bits if levels is None else int(levels)
    if stored.size and (stored.min() < 0 or stored.max() >= levels):
        raise DataError(
            f"stored phase values span {int(stored.min())}..{int(stored.max())}, outside the range "
            f"0..{levels - 1} of the Siemens convention"
        )
    return (-venc + 2.0 * venc * stored.astype(np.float64) / levels).astype(np.float32)


def phase_levels(slope: float, intercept: float, bits_stored: int) -> tuple[int, str]:
    """Stored levels spanning [-VENC, VENC) in a Siemens phase image, and the header that gave them.

    See the module docstring; raises ``DataError`` (without a file name) for a contradictory header.
    """
    container = 2 ** int(bits_stored)
    if (slope, intercept) == (1.0, 0.0):
        return container, f"BitsStored {bits_stored}"
    rescale = f"rescale (slope {slope:g}, intercept {intercept:g})"
    if not (slope > 0 and intercept < 0):
        raise DataError(f"{rescale} does not map the phase onto a range centred on zero (Siemens convention)")
    levels = -2.0 * intercept / slope
    if levels != round(levels) or levels < 2:
        raise DataError(f"{rescale} names {levels:g} phase levels, not a whole number >= 2")
    if levels > container:
        raise DataError(
            f"{rescale} names {levels:g} phase levels but BitsStored {bits_stored} holds only {container}"
        )
    return int(levels), rescale


def velocity_to_raw(velocity: np.ndarray, venc: float, bits: int = RAW_BITS) -> np.ndarray:
    """Velocity (cm/s) to Siemens stored phase (uint16 holding 0 .. 2**bits - 1), wrap-safe."""
    levels = 2**bits
    v = np.asarray(velocity, dtype=np.float64)
    aliased = np.mod(v + venc, 2.0 * venc) - venc  # what the scanner would have measured
    raw = np.rint((aliased + venc) * levels / (2.0 * venc))
    return np.clip(raw, 0, levels - 1).astype(np.uint16)


def velocity_to_scaled(velocity: np.ndarray, venc: float, bits: int = RAW_BITS) -> tuple[np.ndarray, float, float]:
    """Velocity to Philips-style stored integers with a rescale giving cm/s: (stored, slope, intercept).

    The stored range 0 .. 2**bits - 1 is mapped linearly onto [-VENC, +VENC] (both ends included, as the
    values are cm/s and need not wrap); velocities beyond VENC are clipped.
    """
    levels = 2**bits
    slope, intercept = ds_number(2.0 * venc / (levels - 1)), ds_number(-venc)
    raw = np.rint((np.asarray(velocity, dtype=np.float64) - intercept) / slope)
    return np.clip(raw, 0, levels - 1).astype(np.uint16), slope, intercept


def magnitude_to_stored(magnitude: np.ndarray, bits: int = RAW_BITS) -> tuple[np.ndarray, float, float]:
    """Magnitude to unsigned stored integers with a rescale: (stored, slope, intercept).

    Integer-valued magnitudes that already fit the stored range are kept exactly (slope 1); anything else
    is spread over the full range, so it round-trips within half a stored step, ``slope / 2``.
    """
    levels = 2**bits
    mag = np.asarray(magnitude, dtype=np.float64)
    lo = min(0.0, float(mag.min())) if mag.size else 0.0
    hi = float(mag.max()) if mag.size else 0.0
    if lo == 0.0 and hi <= levels - 1 and np.all(mag == np.rint(mag)):
        return mag.astype(np.uint16), 1.0, 0.0
    lo = ds_number(lo)
    # Round the slope up so that the largest value still fits after the decimal-string rounding.
    slope = ds_number((hi - lo) / (levels - 1) * (1 + 1e-9)) if hi > lo else 1.0
    stored = np.clip(np.rint((mag - lo) / slope), 0, levels - 1)
    return stored.astype(np.uint16), slope, lo
