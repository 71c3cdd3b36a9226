"""Velocity assessment of one slice: global and segment curves, peaks, times to peak.

A thin layer over ``util.velocity`` that reads everything it needs from a ``SliceData``. The septum
angle can be imposed, so that a synthesised slice (which has no RV mask) is divided into exactly the
same AHA segments as the acquired slice it is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.mvm_io import SliceData
from util.velocity import VelocityCurves, peak_summary, velocity_curves


@dataclass(frozen=True)
class SliceAnalysis:
    """Curves and peaks of one slice (cm/s, ms)."""

    curves: VelocityCurves
    peaks: dict[str, dict]
    times_ms: np.ndarray

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
    curves = velocity_curves(
        s.velocity,
        s.myocardium,
        s.slice_position,
        z_towards_apex=s.z_towards_apex,
        septum_deg=septum,
        rv_mask=s.rv_blood,
    )
    return SliceAnalysis(curves=curves, peaks=peak_summary(curves, s.rr_interval_ms), times_ms=s.frame_times_ms())


def segment_peak_values(analysis: SliceAnalysis, component: str, peak: str = "systolic") -> dict[int, float]:
    """AHA segment number -> peak value (cm/s) of ``component`` in this slice."""
    seg = analysis.peaks[component]["segments"]
    return {int(i): float(v) for i, v in zip(seg["ids"], seg[peak]["value"], strict=True)}
