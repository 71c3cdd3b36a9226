"""A subject's figures in the chain's report: what its page shows, each drawn once per subject.

``ReportBuilder.add_subject`` gathers a :class:`SubjectReading` slice by slice (every data set's analysis,
the bull's-eye values and the curve rows of the data sets the figures show) and then asks this module for
the figures: the velocity curves (a row per slice), the bull's-eye of segment peaks, the regional
bull's-eye (its panels from :func:`regional_panel`) and, with ``--gif``, the cine of the mid slice. Paths
are relative to the report folder (figures under ``FIGURE_DIR``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assessment.analysis import SliceAnalysis, segment_peak_values
from assessment.regional import RegionalNormals, RegionalPeaks, dyssynchrony_index, hypokinesia_scores
from assessment.report.bullseye import plot_bullseye
from assessment.report.cine_gif import write_cine_gif
from assessment.report.curves_plot import CurveRow, plot_velocity_curves
from assessment.report.html import Figure, safe_name
from assessment.report.regional_bullseye import RegionalPanel, plot_regional_bullseye
from assessment.report.style import REFERENCE
from assessment.truth import SubjectTruth
from assessment.velocity import COMPONENTS
from data.keyframes import KeyFrames, key_frames_of
from data.mvm_io import SLICE_POSITIONS, SliceData, Subject

INPUT_LABEL = "input (key frames held)"
TRUTH_LABEL = "truth"
FIGURE_DIR = "figures"
REGIONAL_CAPTION = (
    "AHA segments: systolic radial peaks (cm/s); outlined with *: called abnormal "
    "(the truth: motion scale <= 0.7); the dyssynchrony index under each title"
)


def held_cine(s: SliceData, keys: KeyFrames) -> np.ndarray:
    """The key frames repeated until the next one (what a viewer shows of a down-sampled cine)."""
    frames = np.asarray(keys.frames)
    stored = np.asarray(keys.stored)
    which = np.searchsorted(frames, np.arange(keys.n_frames), side="right") - 1
    which[which < 0] = len(frames) - 1  # before the first key frame: the last one of the previous cycle
    return np.asarray(s.magnitude)[stored[which]]


def anatomical_order(subject: Subject) -> list[tuple[str, SliceData]]:
    """The slices from base to apex (files list groups alphabetically, which reads apical first)."""
    rank = {p: i for i, p in enumerate(SLICE_POSITIONS)}
    return sorted(subject.slices.items(), key=lambda item: rank.get(item[1].slice_position, len(rank)))


def gif_slice(subject: Subject) -> str:
    """The slice shown as a cine: mid-ventricular if there is one, else the first."""
    for name, s in subject.slices.items():
        if s.slice_position == "mid":
            return name
    return next(iter(subject.slices))


@dataclass
class SubjectReading:
    """What a subject's slices add up to for its figures and regional reading: each data set's analyses
    (the truth's too), the bull's-eye values of the data sets shown, and a curve row per slice."""

    per_label: dict[str, list[SliceAnalysis]] = field(default_factory=dict)
    bullseye: dict[str, dict[str, dict[int, float]]] = field(default_factory=dict)
    curves: list[CurveRow] = field(default_factory=list)

    def add(self, label: str, analysis: SliceAnalysis, shown: bool) -> None:
        """One slice's analysis of a data set; ``shown``: its segment peaks go on the bull's-eye (a segment
        seen in two slices keeps its first value)."""
        self.per_label.setdefault(label, []).append(analysis)
        if not shown:
            return
        for comp in COMPONENTS:
            merged = self.bullseye.setdefault(label, {}).setdefault(comp, {})
            for seg, value in segment_peak_values(analysis, comp).items():
                merged.setdefault(seg, value)

    def add_truth(self, truth: SliceAnalysis | None) -> None:
        """The analysis of a slice's noise-free velocity (None: the slice has none)."""
        self.per_label.setdefault(TRUTH_LABEL, []).extend([truth] if truth is not None else [])

    def add_curves(self, name: str, src: SliceData, keys: KeyFrames, shown: Mapping[str, SliceAnalysis]) -> None:
        """A row of the curve figure: the slice's shown data sets, its key frames marked (ms)."""
        key_times = [k * src.rr_interval_ms / keys.n_frames for k in keys.frames]
        title = name if name == src.slice_position else f"{name} ({src.slice_position})"
        self.curves.append(CurveRow(title, shown, key_times))


def curve_and_bullseye_figures(out_dir: Path, sid: str, reading: SubjectReading) -> list[Figure]:
    """The bull's-eye of segment peaks, then the velocity curves (each when the subject has data for it)."""
    figures = []
    if reading.bullseye:
        png = Path(FIGURE_DIR) / f"{safe_name(sid)}_bullseye.png"
        plot_bullseye(reading.bullseye, out_dir / png, sid)
        figures.append(Figure(png.as_posix(), "AHA segments: peak systolic velocity (cm/s)"))
    if reading.curves:
        png = Path(FIGURE_DIR) / f"{safe_name(sid)}_curves.png"
        plot_velocity_curves(reading.curves, out_dir / png, sid)
        figures.append(
            Figure(png.as_posix(), "global radial, circumferential and longitudinal velocity, a row per slice")
        )
    return figures


def regional_panel(
    peaks: RegionalPeaks, truth: SubjectTruth, is_truth: bool, normals: RegionalNormals
) -> RegionalPanel:
    """A data set's regional bull's-eye panel: the truth marks its truly abnormal segments, every other data
    set those it scores at or below the detection threshold."""
    values = peaks.values["radial_systolic"]
    if is_truth:
        abnormal = {s for s, bad in truth.abnormal.items() if bad}
    else:
        scores = hypokinesia_scores(values, normals.normals)
        abnormal = {s for s, v in scores.items() if v <= normals.threshold}
    return RegionalPanel(values, frozenset(abnormal), dyssynchrony_index(peaks.ttp_ms))


def regional_figure(out_dir: Path, sid: str, panels: Mapping[str, RegionalPanel]) -> Figure:
    """The regional bull's-eye of ``panels`` (in their order)."""
    png = Path(FIGURE_DIR) / f"{safe_name(sid)}_regional.png"
    plot_regional_bullseye(panels, out_dir / png, sid)
    return Figure(png.as_posix(), REGIONAL_CAPTION)


def cine_figure(
    out_dir: Path, source: Subject, synthesised: Mapping[str, Subject], factor: int | None, keyframes_only: bool
) -> Figure:
    """The cine GIF of the subject's mid slice: the acquired cine (or the held key frames when the input has
    key frames only) above each synthesised one, magnitude and velocity."""
    name = gif_slice(source)
    src = source.slices[name]
    keys = key_frames_of(src, factor, keyframes_only)
    full = src.frame_index is None and not keyframes_only
    rows: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    if full:
        rows[REFERENCE] = (src.magnitude, src.velocity)
    else:
        rows[INPUT_LABEL] = (held_cine(src, keys), None)
    for method, subject in synthesised.items():
        s = subject.slices[name]
        rows[method] = (s.magnitude, s.velocity)
    myo = src.myocardium if full else next(iter(synthesised.values())).slices[name].myocardium
    gif = Path(FIGURE_DIR) / f"{safe_name(source.subject_id)}_{safe_name(name)}_cine.gif"
    write_cine_gif(rows, out_dir / gif, src.rr_interval_ms, src.venc_cm_s, title=f"{source.subject_id} / {name}",
                   key_frames=keys.frames, myocardium=myo)  # fmt: skip
    return Figure(gif.as_posix(), f"{name}: magnitude and velocity cine, {' vs '.join(rows)}")


def ordered_panels(every: Mapping[str, RegionalPanel], drawn: Sequence[str]) -> dict[str, RegionalPanel]:
    """The regional bull's-eye's panels: the truth, the acquired data, then the methods the figures show."""
    order = [TRUTH_LABEL, REFERENCE, *drawn]
    return {label: every[label] for label in order if label in every}
