"""Rules that identify what a DICOM image of a velocity-mapping scan is, from its header alone.

The rules are plain functions of header values so that each can be tested, and so that this file is
the one place that documents them.

Magnitude or phase (``image_kind``), first rule that decides wins:
  1. ComplexImageComponent (0008,9208), as in enhanced MR frames: MAGNITUDE -> magnitude, PHASE ->
     phase; REAL, IMAGINARY or MIXED -> not part of the scan.
  2. ImageType values 3 and later (Siemens ``ORIGINAL\\PRIMARY\\P\\ND``; Philips
     ``ORIGINAL\\PRIMARY\\VELOCITY MAP\\P\\PCA`` and ``...\\M_PCA\\M\\PCA``): P, PHASE, VELOCITY,
     VELOCITY MAP, PHASE MAP -> phase; M, MAG, MAGNITUDE or M_<anything> -> magnitude. A header naming
     both is contradictory and the image is not used.
  3. Philips private image type (2005,1011): P -> phase, M -> magnitude.

Encoding direction of a phase image (``sequence_name_encoding``, ``description_direction``); velocities
are always stored along the image axes x (increasing column), y (increasing row), z (slice normal,
ImageOrientationPatient row x column):
  1. The standard velocity-encoding direction (0018,9090), a unit vector in patient coordinates, when
     present (enhanced MR), projected on the image axes.
  2. The suffix of the sequence name after ``_v<VENC>`` (Siemens ``fl2d1_v20in``): ``through`` or
     ``tp`` -> z; ``in`` -> in-plane, x or y decided by rule 3 (or by series order, see the importer);
     ``rl``, ``ap``, ``fh`` (and reversed ``lr``, ``pa``, ``hf``, ``si``, ``is``) -> that patient axis,
     positive towards the second letter (rl: towards the patient's left), projected on the image axes.
  3. Words of the series description (split on anything not a letter or digit): ``vx``, ``x``,
     ``col``, ``column``, ``read``, ``readout`` -> x; ``vy``, ``y``, ``row`` -> y; ``vz``, ``z``,
     ``through``, ``throughplane``, ``tp`` -> z; the patient-axis words of rule 2 likewise.
  Rules that disagree (e.g. ``_v20through`` with a description saying ``vx``) make the direction unknown.

VENC (``resolve_venc``): every source present is collected, and they must agree within 1 %:
  the standard Velocity Encoding Maximum Value (0018,9217) (enhanced MR), the number in the sequence
  name (``_v20in`` -> 20 cm/s), and Philips' private PC Velocity (2001,101A) when its non-zero values
  are all equal (a vector of different values does not say which one belongs to this image, so it is
  not used). None -> unknown; disagreement -> contradictory; both stop the import unless ``--venc`` is
  given. Agreeing sources are consistent, and the numeric tags are preferred to the sequence-name text.

Slice position (``position_keyword``): series-description words ``basal``/``base``, ``mid``/
``midventricular``/``midcavity``, ``apical``/``apex``.

Synthesised twin (``derivation_text``, ``synthetic_marking``): ImageType starting with ``DERIVED`` and a
text that starts with ``SYNTHETIC`` (DerivationDescription, SeriesDescription) or holds the derivation
text (ImageComments, which dcm2niix copies into its JSON sidecar where the DerivationDescription is
lost). The method is what ``derivation_text`` put between the parentheses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

_PHASE_WORDS = {"P", "PHASE", "VELOCITY", "VELOCITY MAP", "PHASE MAP"}
_MAG_WORDS = {"M", "MAG", "MAGNITUDE"}
_FOREIGN_COMPONENTS = {"REAL", "IMAGINARY", "MIXED"}

# Patient coordinates are LPS: +x towards the patient's left, +y posterior, +z towards the head.
PATIENT_AXES: dict[str, tuple[float, float, float]] = {
    "rl": (1.0, 0.0, 0.0),
    "lr": (-1.0, 0.0, 0.0),
    "ap": (0.0, 1.0, 0.0),
    "pa": (0.0, -1.0, 0.0),
    "fh": (0.0, 0.0, 1.0),
    "hf": (0.0, 0.0, -1.0),
    "is": (0.0, 0.0, 1.0),
    "si": (0.0, 0.0, -1.0),
}
_AXIS_WORDS = {
    "x": ("vx", "x", "col", "cols", "column", "columns", "read", "readout"),
    "y": ("vy", "y", "row", "rows"),
    "z": ("vz", "z", "through", "throughplane", "tp"),
}
_POSITION_WORDS = {
    "basal": ("basal", "base"),
    "mid": ("mid", "midventricular", "midcavity", "midventricle"),
    "apical": ("apical", "apex"),
}
_SYNTHESISED_BY = re.compile(r"synthesised by HDL-MVM \((.*)\)")
_SEQ_VENC = re.compile(r"_v(\d+(?:\.\d+)?)([a-z]*)$")
VENC_AGREEMENT = 0.01


def _words(text: str | None) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", (text or "").lower()) if w]


def image_kind(
    image_type: Sequence[str] | str | None, complex_component: str | None, philips_type: str | None
) -> tuple[str | None, str]:
    """Return (``'magnitude'`` | ``'phase'`` | None, the rule or the reason it failed)."""
    component = (complex_component or "").strip().upper()
    if component == "MAGNITUDE":
        return "magnitude", "ComplexImageComponent"
    if component == "PHASE":
        return "phase", "ComplexImageComponent"
    if component in _FOREIGN_COMPONENTS:
        return None, f"ComplexImageComponent {component}"
    if isinstance(image_type, str):
        image_type = image_type.split("\\")
    values = [str(v).strip().upper() for v in (image_type or [])][2:]
    is_phase = any(v in _PHASE_WORDS for v in values)
    is_mag = any(v in _MAG_WORDS or v.startswith("M_") for v in values)
    if is_phase and is_mag:
        return None, f"ImageType {'/'.join(values)} names both magnitude and phase"
    if is_phase:
        return "phase", "ImageType"
    if is_mag:
        return "magnitude", "ImageType"
    private = (philips_type or "").strip().upper()
    if private in ("P", "M"):
        return ("phase" if private == "P" else "magnitude"), "Philips image type (2005,1011)"
    shown = "/".join(str(v) for v in (image_type or [])) or "missing"
    return None, f"neither magnitude nor phase (ImageType {shown})"


def sequence_name_encoding(sequence_name: str | None) -> tuple[float | None, str | None]:
    """Parse Siemens ``..._v<VENC><suffix>``: (VENC in cm/s or None, direction suffix or None)."""
    match = _SEQ_VENC.search((sequence_name or "").strip().lower())
    if not match:
        return None, None
    venc = float(match.group(1))
    suffix = match.group(2) or None
    return (venc if venc > 0 else None), suffix


def suffix_direction(suffix: str | None) -> str | None:
    """Map a sequence-name suffix to 'x' | 'y' | 'z' | 'inplane' | a patient-axis name | None."""
    if suffix in ("through", "tp"):
        return "z"
    if suffix == "in":
        return "inplane"
    if suffix in PATIENT_AXES:
        return suffix
    return None


def description_direction(text: str | None) -> str | None:
    """Direction word(s) of a series description: 'x' | 'y' | 'z' | patient-axis name; None if absent.

    Returns ``'conflict'`` when the description names more than one direction.
    """
    found = set()
    for word in _words(text):
        for axis, names in _AXIS_WORDS.items():
            if word in names:
                found.add(axis)
        if word in PATIENT_AXES:
            found.add(word)
    if len(found) > 1:
        return "conflict"
    return found.pop() if found else None


def combine_directions(named: Iterable[tuple[str, str | None]]) -> tuple[str | None, str]:
    """Merge the direction claims of several rules, given as (rule, claim) in priority order.

    'inplane' is refined by a later 'x' or 'y'; any other disagreement is a conflict. Returns (direction
    or None, explanation).
    """
    result: str | None = None
    used: list[str] = []
    for rule, claim in named:
        if claim is None:
            continue
        if claim == "conflict":
            return None, f"{rule} names several directions"
        if result is None or (result == "inplane" and claim in ("x", "y")):
            result = claim
            used.append(rule)
        elif claim == "inplane" and result in ("x", "y"):
            used.append(rule)
        elif claim != result:
            return None, f"{used[-1]} says {result!r} but {rule} says {claim!r}"
    return result, " + ".join(used) if used else "no direction in the header"


def direction_vector(
    direction: str | Sequence[float], row_cos: np.ndarray | None, col_cos: np.ndarray | None
) -> np.ndarray | None:
    """Encoding direction as a unit vector in image axes (x, y, z); None if it needs the geometry and
    the image has none. ``direction`` is 'x' | 'y' | 'z', a patient-axis name or an LPS vector."""
    if isinstance(direction, str) and direction in ("x", "y", "z"):
        return np.eye(3)["xyz".index(direction)]
    vec = np.asarray(PATIENT_AXES[direction] if isinstance(direction, str) else direction, dtype=np.float64)
    if row_cos is None or col_cos is None or not np.linalg.norm(vec) > 0:
        return None
    vec = vec / np.linalg.norm(vec)
    normal = np.cross(row_cos, col_cos)
    image = np.array([vec @ row_cos, vec @ col_cos, vec @ normal])
    # Snap the float noise of axis-aligned encodings so that channels group exactly.
    image[np.abs(image) < 1e-3] = 0.0
    return image / np.linalg.norm(image)


def resolve_venc(candidates: Iterable[tuple[float, str]]) -> tuple[float | None, str]:
    """Combine VENC claims (value, source), most trusted first: (VENC or None, explanation)."""
    cands = [(float(v), s) for v, s in candidates if v is not None and np.isfinite(v) and v > 0]
    if not cands:
        return None, "no VENC in the header"
    values = np.array([v for v, _ in cands])
    if values.max() - values.min() > VENC_AGREEMENT * values.max():
        listed = ", ".join(f"{v:g} ({s})" for v, s in cands)
        return None, f"contradictory VENC values: {listed}"
    return cands[0][0], cands[0][1]


def philips_pc_velocity(value: object) -> float | None:
    """The VENC in Philips (2001,101A) PC Velocity when it is unambiguous (all non-zero values equal)."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):  # an unknown private element read as raw bytes (UN)
        if len(value) % 4:
            return None
        values = np.frombuffer(bytes(value), dtype="<f4").astype(np.float64)
    else:
        try:
            values = np.atleast_1d(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError):
            return None
    nonzero = np.abs(values[np.isfinite(values) & (values != 0)])
    if nonzero.size == 0 or nonzero.max() - nonzero.min() > VENC_AGREEMENT * nonzero.max():
        return None
    return float(nonzero[0])


def position_keyword(texts: Iterable[str | None]) -> str | None:
    """'basal' | 'mid' | 'apical' named by the words of the texts; None if none or several are named."""
    found = set()
    for text in texts:
        for word in _words(text):
            for position, names in _POSITION_WORDS.items():
                if word in names:
                    found.add(position)
    return found.pop() if len(found) == 1 else None


def derivation_text(method: str) -> str:
    """What a synthesised twin's images say about their origin (DerivationDescription, ImageComments)."""
    return f"SYNTHETIC digital twin, not acquired on a scanner: synthesised by HDL-MVM ({method})"


def synthetic_marking(image_type: str | Sequence[str] | None, *texts: str | None) -> str | None:
    """The ``synthesised_by`` of images marked as a synthesised twin (see the module docstring): the
    method named by ``derivation_text`` when a text holds it, else the first SYNTHETIC text; None for
    anything else (acquired images)."""
    kind = image_type if isinstance(image_type, str) else "\\".join(str(v) for v in image_type or ())
    if not kind.upper().startswith("DERIVED"):
        return None
    for text in texts:
        match = _SYNTHESISED_BY.search(text or "")
        if match and "SYNTHETIC" in (text or "").upper():
            return match.group(1)
    marked = [str(t) for t in texts if str(t or "").upper().startswith("SYNTHETIC")]
    return marked[0] if marked else None
