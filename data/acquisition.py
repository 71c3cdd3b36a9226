"""The acquisition of a cohort, as ranges: pixel spacing, frames per cycle, RR interval and VENC.

A trained run records the ranges of its training subjects (``train.py`` saves them with its options as
``training_acquisition``); ``test.py`` compares the subjects it is given with them and says, once, what lies
outside (a scan unlike the training data is where trained weights are least to be trusted). Ranges are
``{key: [low, high]}`` over every slice, keys as in :data:`QUANTITIES`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np

from data.mvm_io import open_h5
from util.errors import DataError

#: key -> (what it is, unit, decimals shown)
QUANTITIES = {
    "pixel_spacing_mm": ("pixel spacing", " mm", 2),
    "n_frames": ("frame count", "", 0),
    "rr_interval_ms": ("RR interval", " ms", 0),
    "venc_inplane_cm_s": ("in-plane VENC", " cm/s", 0),
    "venc_through_cm_s": ("through-plane VENC", " cm/s", 0),
}
#: relative slack before a value counts as outside: what a file or the model card states is rounded, and a
#: few per cent off the training range is not yet a scan unlike the training data
TOLERANCE = 0.05


def slice_acquisition(group: h5py.Group) -> dict[str, list[float]]:
    """The values of one slice group of a subject file (attributes and the magnitude's frame count only)."""
    spacing = np.asarray(group.attrs["pixel_spacing_mm"], dtype=np.float64).reshape(-1)
    venc = np.asarray(group.attrs["venc_cm_s"], dtype=np.float64).reshape(-1)
    frames = group.attrs.get("n_frames", group["magnitude"].shape[0])
    return {
        "pixel_spacing_mm": [float(v) for v in spacing],
        "n_frames": [float(np.asarray(frames).reshape(-1)[0])],
        "rr_interval_ms": [float(np.asarray(group.attrs["rr_interval_ms"]).reshape(-1)[0])],
        "venc_inplane_cm_s": [float(v) for v in venc[:2]],
        "venc_through_cm_s": [float(venc[2])] if venc.size > 2 else [],
    }


def acquisition_ranges(paths: Iterable[str | os.PathLike]) -> dict[str, list[float]]:
    """``{key: [low, high]}`` over every slice of the subject files ``paths`` (read without their arrays)."""
    values: dict[str, list[float]] = {key: [] for key in QUANTITIES}
    for path in paths:
        with open_h5(path) as f:
            try:
                for group in (f[k] for k in f if isinstance(f[k], h5py.Group)):
                    for key, found in slice_acquisition(group).items():
                        values[key].extend(found)
            except (KeyError, OSError, TypeError, ValueError) as exc:
                raise DataError(f"{path}: acquisition attributes cannot be read ({exc})") from exc
    return {key: [min(v), max(v)] for key, v in values.items() if v}


def _span(lo: float, hi: float, decimals: int) -> str:
    low, high = f"{lo:.{decimals}f}", f"{hi:.{decimals}f}"
    return low if low == high else f"{low}-{high}"


def outside_training(trained: Mapping[str, Sequence[float]], seen: Mapping[str, Sequence[float]]) -> list[str]:
    """What of ``seen`` (the ranges of the subjects at hand) lies outside ``trained``, one phrase each:
    ``pixel spacing 2.00 mm is outside the training range 1.41-1.56 mm``."""
    out = []
    for key, (name, unit, decimals) in QUANTITIES.items():
        if key not in trained or key not in seen:
            continue
        (lo, hi), (s_lo, s_hi) = (float(v) for v in trained[key]), (float(v) for v in seen[key])
        if not all(map(math.isfinite, (lo, hi, s_lo, s_hi))):
            continue
        slack = TOLERANCE * max(abs(lo), abs(hi))
        if lo - slack <= s_lo and s_hi <= hi + slack:
            continue
        training = _span(lo, hi, decimals)
        where = f"the training range {training}" if "-" in training else f"the training's {training}"
        out.append(f"{name} {_span(s_lo, s_hi, decimals)}{unit} is outside {where}{unit}")
    return out


def warn_outside_training(trained_by: Mapping[str, Mapping[str, Sequence[float]] | None], paths: Sequence[Path]) -> str:
    """Say in one line (and return it) where the subject files ``paths`` lie outside the training ranges of
    the weights ``trained_by`` names (``{"stage 2": ranges}``; None: the weights record none);
    nothing when they lie inside."""
    recorded = {what: ranges for what, ranges in trained_by.items() if ranges}
    if not recorded or not paths:
        return ""
    try:
        seen = acquisition_ranges(paths)
    except DataError:  # the reader names an unreadable file when it reads it; this is only advice
        return ""
    weights_of: dict[str, list[str]] = {}
    for what, ranges in recorded.items():
        for phrase in outside_training(ranges, seen):
            weights_of.setdefault(phrase, []).append(what)
    if not weights_of:
        return ""
    phrases_of: dict[str, list[str]] = {}  # the weights' names -> what lies outside the ranges of all of them
    for phrase, names in weights_of.items():
        phrases_of.setdefault(" and ".join(names), []).append(phrase)
    said = "; ".join(f"{', '.join(phrases)} (weights of {names})" for names, phrases in phrases_of.items())
    line = f"warning: {said}: the subjects are unlike the training data, where the weights are least to be trusted"
    print(line, flush=True)
    return line
