"""Velocity assessment of one slice: global and segment curves, peaks, times to peak; and the regional
reading of a subject's slices.

The one reader of a slice for analysis (:func:`analyse_slice`), a thin layer over
``assessment.velocity`` and ``assessment.regional`` that reads everything it needs from a ``SliceData``:
its own velocity, or any velocity given for it (a twin's, a prior's, the noise-free truth) on its masks.
The septum angle can be imposed, so that a synthesised slice (which has no RV mask) is divided into
exactly the same AHA segments as the acquired slice it is compared with. Peaks are read in the slice's
own cycle windows (``assessment.regional.cycle_windows``: end-systole from its global radial curve,
wider windows for late segments) and timed to a fraction of a frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from assessment.regional import REGIONAL_PEAKS, CycleWindows, RegionalNormals, RegionalPeaks, assess_slice, fit_normals
from assessment.truth import subject_truth
from assessment.velocity import VelocityCurves
from data.mvm_io import SliceData, Subject


@dataclass(frozen=True)
class SliceAnalysis:
    """Curves and peaks of one slice (cm/s, ms), and the cycle windows the peaks were read in."""

    curves: VelocityCurves
    peaks: dict[str, dict]
    times_ms: np.ndarray
    windows: CycleWindows | None = None

    @property
    def septum_deg(self) -> float:
        return self.curves.septum_deg


def analyse_slice(s: SliceData, velocity: np.ndarray | None = None, septum_deg: float | None = None) -> SliceAnalysis:
    """Velocity curves and peaks of ``velocity`` (cm/s, ``[T, 3, H, W]``; the slice's own when ``None``,
    which it must then hold) on the masks of slice ``s``.

    ``septum_deg`` overrides the slice's own orientation (``rv_insertion_deg``, else its RV mask, else the
    documented default).
    """
    if velocity is None:
        velocity = s.velocity
    if velocity is None:
        raise ValueError(f"slice {s.name!r} has no velocity to analyse")
    septum = septum_deg if septum_deg is not None else s.rv_insertion_deg
    curves, peaks, windows = assess_slice(
        velocity, s.myocardium, s.slice_position, s.rr_interval_ms, s.z_towards_apex, septum, s.rv_blood
    )
    return SliceAnalysis(curves=curves, peaks=peaks, times_ms=s.frame_times_ms(), windows=windows)


def analyse_truth(s: SliceData, septum_deg: float | None) -> SliceAnalysis | None:
    """The analysis of the noise-free ``velocity_true`` on the acquired masks (``None`` without it)."""
    if s.velocity_true is None:
        return None
    return analyse_slice(s, s.velocity_true, septum_deg=septum_deg)


def segment_peak_values(analysis: SliceAnalysis, component: str, peak: str = "systolic") -> dict[int, float]:
    """AHA segment number -> peak value (cm/s) of ``component`` in this slice."""
    seg = analysis.peaks[component]["segments"]
    return {int(i): float(v) for i, v in zip(seg["ids"], seg[peak]["value"], strict=True)}


def regional_peaks(analyses: Sequence[SliceAnalysis]) -> RegionalPeaks:
    """The regional reading of a subject: the segments of its slices' analyses (one data set) put
    together; a segment seen in two slices keeps its first value."""
    values: dict[str, dict[int, float]] = {f"{c}_{p}": {} for c, p in REGIONAL_PEAKS}
    ttp: dict[int, float] = {}
    circumferential: dict[str, np.ndarray] = {}
    for analysis in analyses:
        curves, peaks = analysis.curves, analysis.peaks
        circumferential.setdefault(curves.slice_position, np.asarray(curves.circumferential, dtype=np.float64))
        for c, p in REGIONAL_PEAKS:
            seg = peaks[c]["segments"]
            for i, sid in enumerate(seg["ids"]):
                values[f"{c}_{p}"].setdefault(int(sid), float(seg[p]["value"][i]))
        seg = peaks["radial"]["segments"]
        for i, sid in enumerate(seg["ids"]):
            ttp.setdefault(int(sid), float(seg["systolic"]["time_ms"][i]))
    return RegionalPeaks(values, ttp, circumferential)


def training_normals(subjects: Iterable[Subject]) -> RegionalNormals:
    """Regional normals and the detection threshold (``assessment.regional.fit_normals``) from the
    acquired velocity of training subjects; subjects without a full acquired cine in every slice are
    skipped."""
    training = []
    for subject in subjects:
        slices = list(subject.slices.values())
        if not slices or any(s.velocity is None or s.frame_index is not None for s in slices):
            continue
        peaks = regional_peaks([analyse_slice(s) for s in slices])
        training.append((peaks, subject_truth(subject)))
    return fit_normals(training)
