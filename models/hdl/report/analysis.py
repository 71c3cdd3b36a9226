"""Velocity assessment of one slice: global and segment curves, peaks, times to peak; and the regional
reading of a subject's slices.

A thin layer over ``util.velocity`` and ``util.regional`` that reads everything it needs from a
``SliceData``. The septum angle can be imposed, so that a synthesised slice (which has no RV mask) is
divided into exactly the same AHA segments as the acquired slice it is compared with. Peaks are read in
the slice's own cycle windows (``util.regional.cycle_windows``: end-systole from its global radial curve,
wider windows for late segments) and timed to a fraction of a frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from data.mvm_io import SliceData
from util.regional import CycleWindows, RegionalPeaks, assess_slice, regional_peaks
from util.velocity import VelocityCurves


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


def analyse_slice(s: SliceData, septum_deg: float | None = None) -> SliceAnalysis:
    """Velocity curves and peaks of ``s`` (which must hold velocity).

    ``septum_deg`` overrides the slice's own orientation (``rv_insertion_deg``, else its RV mask, else the
    documented default).
    """
    if s.velocity is None:
        raise ValueError(f"slice {s.name!r} has no velocity to analyse")
    septum = septum_deg if septum_deg is not None else s.rv_insertion_deg
    curves, peaks, windows = assess_slice(
        s.velocity, s.myocardium, s.slice_position, s.rr_interval_ms, s.z_towards_apex, septum, s.rv_blood
    )
    return SliceAnalysis(curves=curves, peaks=peaks, times_ms=s.frame_times_ms(), windows=windows)


def analyse_truth(s: SliceData, septum_deg: float | None) -> SliceAnalysis | None:
    """The analysis of the noise-free ``velocity_true`` on the acquired masks (``None`` without it)."""
    if s.velocity_true is None:
        return None
    return analyse_slice(replace(s, velocity=s.velocity_true), septum_deg=septum_deg)


def segment_peak_values(analysis: SliceAnalysis, component: str, peak: str = "systolic") -> dict[int, float]:
    """AHA segment number -> peak value (cm/s) of ``component`` in this slice."""
    seg = analysis.peaks[component]["segments"]
    return {int(i): float(v) for i, v in zip(seg["ids"], seg[peak]["value"], strict=True)}


def subject_peaks(analyses: Sequence[SliceAnalysis]) -> RegionalPeaks:
    """The regional reading of a subject from its slices' analyses (one data set)."""
    return regional_peaks([(a.curves, a.peaks) for a in analyses])
