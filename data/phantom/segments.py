"""AHA segments as angular sectors, and smooth regional weights for pathology.

Angles follow docs/CONVENTIONS.md: degrees, counter-clockwise as displayed (seen from the apex), from
the +column axis; segments start at the septum centre ``S`` and go counter-clockwise. A pathological
segment is applied through a *smooth* angular weight (a raised-cosine step a few degrees wide at each
border) rather than a hard sector: a hard border would make neighbouring material points move
differently by a finite amount, tearing the simulated tissue, and would put an unphysical velocity jump
into the images.
"""

from __future__ import annotations

import numpy as np

# (first segment number, number of sectors, sector width, offset of segment 1's start from S), per slice.
_LAYOUT = {
    "basal": (1, 6, 60.0, -120.0),
    "mid": (7, 6, 60.0, -120.0),
    "apical": (13, 4, 90.0, -135.0),
}

#: Half-width (degrees) of the smooth transition at a segment border.
BORDER_HALF_WIDTH_DEG = 10.0

#: Coronary territories of the AHA 17-segment model (Cerqueira et al., Circulation 2002; segment 17,
#: the apical cap, has no short-axis slice here): left anterior descending, right coronary, circumflex.
TERRITORIES: dict[str, tuple[int, ...]] = {
    "LAD": (1, 2, 7, 8, 13, 14),
    "RCA": (3, 4, 9, 10, 15),
    "LCx": (5, 6, 11, 12, 16),
}


def slice_of_segment(segment: int) -> str:
    """The slice position holding AHA segment ``segment`` (1-16; the apical cap 17 has no slice)."""
    for name, (first, count, _, _) in _LAYOUT.items():
        if first <= segment < first + count:
            return name
    raise ValueError(f"AHA segment {segment} is not in a basal, mid or apical slice (valid: 1-16)")


def segment_numbers(slice_position: str) -> list[int]:
    """AHA segment numbers of a slice position."""
    first, count, _, _ = _LAYOUT[slice_position]
    return list(range(first, first + count))


def segment_interval(segment: int, septum_deg: float) -> tuple[float, float]:
    """Start and end angle (degrees, end > start, counter-clockwise) of an AHA segment."""
    first, _, width, offset = _LAYOUT[slice_of_segment(segment)]
    start = septum_deg + offset + (segment - first) * width
    return start, start + width


def segment_centre_deg(segment: int, septum_deg: float) -> float:
    """Angle (degrees) of the centre of an AHA segment."""
    start, end = segment_interval(segment, septum_deg)
    return 0.5 * (start + end)


def segment_of_angle(angle_deg: np.ndarray, septum_deg: float, slice_position: str) -> np.ndarray:
    """AHA segment number of every angle (same shape), for a slice position and septum angle."""
    first, count, width, offset = _LAYOUT[slice_position]
    rel = np.mod(np.asarray(angle_deg, dtype=np.float64) - (septum_deg + offset), 360.0)
    return first + np.minimum((rel // width).astype(np.int64), count - 1)


def _smooth_step(x: np.ndarray, half_width: float) -> np.ndarray:
    """0 for x < -h, 1 for x > h, raised cosine in between (value 0.5 at x = 0)."""
    t = np.clip((x + half_width) / (2 * half_width), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * t)


def segment_weight(
    angle_deg: np.ndarray, segments: tuple[int, ...], septum_deg: float, slice_position: str
) -> np.ndarray:
    """Smooth membership in [0, 1] of each angle in the union of ``segments`` that lie in this slice.

    Inside a segment the weight is 1, outside 0, with a raised-cosine border of +-10 degrees centred on
    the AHA border. Two adjacent listed segments join seamlessly (the two borders sum to 1).
    """
    angle = np.asarray(angle_deg, dtype=np.float64)
    total = np.zeros(angle.shape)
    for seg in segments:
        if slice_of_segment(seg) != slice_position:
            continue
        start, end = segment_interval(seg, septum_deg)
        centre, half = 0.5 * (start + end), 0.5 * (end - start)
        # Signed angular distance from the sector centre, wrapped into [-180, 180).
        d = np.abs(np.mod(angle - centre + 180.0, 360.0) - 180.0)
        total = total + _smooth_step(half - d, BORDER_HALF_WIDTH_DEG)
    return np.minimum(total, 1.0)


def regional_values(
    angle_deg: np.ndarray, values: np.ndarray, septum_deg: float, slice_position: str, normal: float
) -> np.ndarray:
    """A per-segment quantity (``values`` in the order of ``segment_numbers``) spread smoothly over angle.

    The segments' smooth weights sum to 1 at every angle (adjacent raised-cosine borders are
    complementary), so the result is ``sum_s w_s(angle) values_s``: the segment's value inside it, a
    smooth blend across each border. Segments at ``normal`` are skipped (their contribution is folded
    into ``normal``), which keeps the common case of one abnormal territory cheap.
    """
    angle = np.asarray(angle_deg, dtype=np.float64)
    out = np.full(angle.shape, float(normal))
    for seg, value in zip(segment_numbers(slice_position), np.asarray(values, dtype=np.float64), strict=True):
        if value != normal:
            out = out + (value - normal) * segment_weight(angle, (seg,), septum_deg, slice_position)
    return out


# ---------------------------------------------------------------------------- angular pathology
# Regional pathology as a smooth function of angle whose edges need not follow the AHA borders. Both
# functions depend on the material direction only (not on time), so the motion model applies them like
# the per-segment values and its velocity stays the exact time derivative of the positions.


def patch_scale(angle_deg: np.ndarray, patch: list[float]) -> np.ndarray:
    """Motion scale of a smooth angular patch ``[centre_deg, width_deg, edge_deg, scale]``: ``scale``
    in its core, 1 away from it, a raised-cosine edge ``edge_deg`` wide centred on each of its borders
    (so ``width_deg`` is the full width at half depth)."""
    centre, width, edge, scale = patch
    angle = np.asarray(angle_deg, dtype=np.float64)
    d = np.abs(np.mod(angle - centre + 180.0, 360.0) - 180.0)
    return 1.0 - (1.0 - scale) * _smooth_step(0.5 * width - d, 0.5 * edge)


def harmonic_delay(angle_deg: np.ndarray, harmonics: list[list[float]]) -> np.ndarray:
    """Phase delay (fraction of RR) ``sum a cos(k (angle - phase))`` of ``[k, a, phase_deg]`` terms
    (``k = 0`` is a constant)."""
    angle = np.asarray(angle_deg, dtype=np.float64)
    out = np.zeros(angle.shape)
    for order, amplitude, phase in harmonics:
        out = out + amplitude * np.cos(np.deg2rad(order * (angle - phase)))
    return out


def segment_means(fn, septum_deg: float, slice_position: str, samples: int = 3600) -> np.ndarray:
    """Mean of an angular function ``fn(angle_deg)`` over each AHA segment of a slice (its sector
    between the AHA borders, midpoint rule), in the order of ``segment_numbers``."""
    out = []
    for seg in segment_numbers(slice_position):
        start, end = segment_interval(seg, septum_deg)
        angle = start + (np.arange(samples) + 0.5) * (end - start) / samples
        out.append(float(np.mean(fn(angle))))
    return np.asarray(out)
