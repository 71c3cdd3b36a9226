"""Builds the chained-synthesis report one subject at a time.

``add_subject`` analyses and plots a subject as soon as it is synthesised and keeps only numbers (metric
rows, curves) and figure paths, so memory does not grow with the cohort; ``finish`` writes the tables,
FID, the Bland-Altman agreement, one page per subject (``subjects/<subject>.html``) and the cohort page
(``index.html``), which links to them.

Per subject and slice, the data sets compared are the acquired slice (when the input is a full cine:
the reference) and every synthesised one (``hdl``, ``baseline`` and any other method: nothing here
assumes how many). Input without velocity, or with key
frames only, still gets the synthesised curves and bull's-eyes, with no metrics against a reference.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data.mvm_io import SLICE_POSITIONS, SliceData, Subject
from models.hdl.keyframes import KeyFrames, key_frames_of
from models.hdl.report.analysis import SliceAnalysis, analyse_slice, segment_peak_values
from models.hdl.report.bland_altman import AGREEMENT_COLUMNS, agreement_rows, plot_agreement
from models.hdl.report.cohort import subject_columns, subject_rows
from models.hdl.report.curves_plot import plot_velocity_curves
from models.hdl.report.pages import subject_page_paths, write_cohort_page, write_subject_page
from models.hdl.report.slice_metrics import metric_columns, slice_metrics
from models.hdl.report.table import curve_rows, peak_rows, summarise, summary_columns, write_curves, write_metrics
from util.atomic import write_text
from util.report import fid as fid_mod
from util.report.bullseye import plot_bullseye
from util.report.cine_gif import write_cine_gif
from util.report.html import Figure, Section, safe_name
from util.report.style import REFERENCE
from util.tables import to_csv
from util.velocity import COMPONENTS

INPUT_LABEL = "input (key frames held)"
FIGURE_DIR = "figures"
__all__ = ["INPUT_LABEL", "ReportBuilder", "ReportResult", "held_cine", "safe_name"]


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
class ReportResult:
    """What ``finish`` wrote: the cohort page, the method summary, one page per subject, every file."""

    out_dir: Path
    index_html: Path
    metrics_csv: Path
    summary: list[dict[str, object]]
    files: list[Path] = field(default_factory=list)
    subject_pages: dict[str, Path] = field(default_factory=dict)


class ReportBuilder:
    """Accumulates subjects, then writes the report into ``out_dir``.

    Args:
        out_dir: the report folder (index.html, ``subjects/<subject>.html``, CSVs, ``figures/``).
        methods: method label -> one-line description, in table order (``hdl`` first).
        factor: the down-sampling factor (for full-cine input, and key-frame-only files without index).
        keyframes_only: the input files hold key frames only.
        fid: try FID (see ``util.report.fid``); otherwise the table says it was not requested.
        device: where the Inception network runs when FID is computed.
        title, info: the page title and the key-value block under it.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        methods: Mapping[str, str],
        factor: int | None,
        keyframes_only: bool = False,
        fid: bool = False,
        device: str = "cpu",
        title: str = "HDL digital twin report",
        info: Mapping[str, object] | None = None,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.methods = dict(methods)
        self.factor = factor
        self.keyframes_only = keyframes_only
        self.title = title
        self.info = dict(info or {})
        self.slice_rows: list[dict[str, object]] = []
        self.curve_rows: list[dict[str, object]] = []
        self.peak_rows: list[dict[str, object]] = []
        self.sections: dict[str, Section] = {}
        self.subject_files: dict[str, list[tuple[str, str]]] = {}
        self.n_reference = 0
        self.fid_reason = fid_mod.unavailable_reason(fid)
        self.fid = fid_mod.FIDAccumulator(device) if self.fid_reason is None else None
        (self.out_dir / FIGURE_DIR).mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------------------------ subjects

    def add_subject(
        self, source: Subject, synthesised: Mapping[str, Subject], files: Sequence[tuple[str, str]] = ()
    ) -> None:
        """Analyse, score and plot one subject: ``source`` is the input file, ``synthesised`` maps each
        method to its twin of that subject; ``files`` are (path relative to ``out_dir``, description) of
        what was written for this subject (its twins), listed on its page."""
        sid = source.subject_id
        if sid in self.sections:
            raise ValueError(f"subject {sid!r} was added twice: its page and rows would be mixed up")
        section = Section(title=f"Subject {sid}")
        bullseye: dict[str, dict[str, dict[int, float]]] = {}
        for name, src in anatomical_order(source):
            keys = key_frames_of(src, self.factor, self.keyframes_only)
            full = src.frame_index is None and not self.keyframes_only
            analyses = self._analyse(src if full else None, {m: s.slices[name] for m, s in synthesised.items()})
            self._score(sid, name, src if full else None, keys, synthesised, analyses)
            for label, a in analyses.items():
                self.curve_rows += curve_rows(sid, name, label, a)
                self.peak_rows += peak_rows(sid, name, label, a)
                for comp in COMPONENTS:
                    merged = bullseye.setdefault(label, {}).setdefault(comp, {})
                    for seg, value in segment_peak_values(a, comp).items():
                        merged.setdefault(seg, value)
            if analyses:
                png = Path(FIGURE_DIR) / f"{safe_name(sid)}_{safe_name(name)}_curves.png"
                key_times = [k * src.rr_interval_ms / keys.n_frames for k in keys.frames]
                plot_velocity_curves(analyses, self.out_dir / png, f"{sid} / {name} ({src.slice_position})", key_times)
                section.figures.append(
                    Figure(png.as_posix(), f"{name}: global radial, circumferential and longitudinal velocity")
                )
        if bullseye:
            png = Path(FIGURE_DIR) / f"{safe_name(sid)}_bullseye.png"
            plot_bullseye(bullseye, self.out_dir / png, sid)
            section.figures.insert(0, Figure(png.as_posix(), "AHA segments: peak systolic velocity (cm/s)"))
        section.figures.insert(0, self._gif(source, synthesised))
        if not any(r["has_reference"] for r in self.slice_rows if r["subject"] == sid):
            section.note = "No acquired velocity for this subject: synthesised data only, no metrics."
        self.sections[sid] = section
        self.subject_files[sid] = list(files)

    def _analyse(self, reference: SliceData | None, synth: Mapping[str, SliceData]) -> dict[str, SliceAnalysis]:
        analyses: dict[str, SliceAnalysis] = {}
        septum = None
        if reference is not None and reference.velocity is not None:
            analyses[REFERENCE] = analyse_slice(reference)
            septum = analyses[REFERENCE].septum_deg
        for method, s in synth.items():
            analyses[method] = analyse_slice(s, septum_deg=septum)
        return analyses

    def _score(
        self,
        sid: str,
        name: str,
        reference: SliceData | None,
        keys: KeyFrames,
        synthesised: Mapping[str, Subject],
        analyses: Mapping[str, SliceAnalysis],
    ) -> None:
        has_reference = reference is not None
        if has_reference and reference.velocity is not None:
            self.n_reference += 1
            if self.fid is not None:
                self.fid.add(REFERENCE, reference.velocity, reference.venc_cm_s)
        for method, subject in synthesised.items():
            s = subject.slices[name]
            row: dict[str, object] = {
                "method": method,
                "subject": sid,
                "slice": name,
                "slice_position": s.slice_position,
                "n_frames": s.num_frames,
                "has_reference": int(has_reference),
            }
            if has_reference:
                scale = float(s.attrs.get("magnitude_scale", 1.0))
                row.update(slice_metrics(reference, s, keys.is_key(), scale, analyses.get(REFERENCE), analyses[method]))
                if self.fid is not None and reference.velocity is not None:
                    self.fid.add(method, s.velocity, s.venc_cm_s)
            else:
                row.update(dict.fromkeys(metric_columns(), math.nan))
            self.slice_rows.append(row)

    def _gif(self, source: Subject, synthesised: Mapping[str, Subject]) -> Figure:
        name = gif_slice(source)
        src = source.slices[name]
        keys = key_frames_of(src, self.factor, self.keyframes_only)
        full = src.frame_index is None and not self.keyframes_only
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
        write_cine_gif(
            rows,
            self.out_dir / gif,
            src.rr_interval_ms,
            src.venc_cm_s,
            title=f"{source.subject_id} / {name}",
            key_frames=keys.frames,
            myocardium=myo,
        )
        return Figure(gif.as_posix(), f"{name}: magnitude and velocity cine, {' vs '.join(rows)}")

    # -------------------------------------------------------------------------------------- finish

    def _fid_scores(self) -> dict[str, float | str]:
        if self.fid is None:
            return dict.fromkeys(self.methods, self.fid_reason)
        return {m: self.fid.score(REFERENCE, m) for m in self.methods}

    def _agreement(self) -> tuple[list[dict[str, object]], dict[str, list[tuple[str, str]]], Path]:
        """Bland-Altman statistics (CSV, full precision) and plots of the global peaks, every method."""
        rows = agreement_rows(self.peak_rows, list(self.methods))
        csv_path = write_text(self.out_dir / "peak_agreement.csv", to_csv(rows, AGREEMENT_COLUMNS))
        plots = plot_agreement(self.peak_rows, list(self.methods), self.out_dir / FIGURE_DIR, "agreement")
        figures = {q: [(m, png.relative_to(self.out_dir).as_posix()) for m, png in items] for q, items in plots.items()}
        return rows, figures, csv_path

    def _subject_pages(self) -> dict[str, Path]:
        pages = subject_page_paths(list(self.sections))
        written = {}
        for sid, section in self.sections.items():
            slices = [r for r in self.slice_rows if r["subject"] == sid]
            written[sid] = write_subject_page(
                self.out_dir, pages[sid], self.title, section, slices, self.subject_files[sid]
            )
        return written

    def finish(self, extra_files: list[tuple[str, str]] | None = None) -> ReportResult:
        """Write the CSV files, the agreement plots, a page per subject and the cohort page index.html."""
        summary = summarise(self.slice_rows, self.methods, self._fid_scores())
        files = write_metrics(self.out_dir, summary, self.slice_rows)
        files += write_curves(self.out_dir, self.curve_rows, self.peak_rows)
        subjects = subject_rows(self.slice_rows, list(self.methods))
        files.append(write_text(self.out_dir / "metrics_per_subject.csv", to_csv(subjects, subject_columns())))
        agreement, agreement_figures, agreement_csv = self._agreement()
        files.append(agreement_csv)
        links = [
            ("metrics.csv", "one row per method, the mean over slices"),
            ("metrics_per_subject.csv", "one row per subject and method, the mean over the subject's slices"),
            ("metrics_per_slice.csv", "the same metrics for every slice"),
            ("peak_agreement.csv", "Bland-Altman bias, SD and 95% limits of agreement of the global peaks"),
            ("velocity_curves.csv", "global radial / circumferential / longitudinal curves (cm/s) per frame"),
            ("velocity_peaks.csv", "systolic, E' and A' peaks and times to peak, global and per AHA segment"),
            *(extra_files or []),
        ]
        notes = [
            "Magnitude and mask metrics: non-key frames only (key frames are copied from the input). "
            "Velocity metrics: all frames. Curves of the synthesised data use its own velocity and "
            "myocardium. Means over slices with a reference; CSV files keep full precision.",
        ]
        if self.n_reference == 0:
            notes.append("No input slice had a full acquired cine with velocity: there is nothing to score against.")
        pages = self._subject_pages()
        index = write_cohort_page(
            self.out_dir,
            self.title,
            self.info,
            notes,
            (summary, summary_columns()),
            subjects,
            {sid: p.relative_to(self.out_dir).as_posix() for sid, p in pages.items()},
            (agreement, agreement_figures),
            links,
        )
        files += [*pages.values(), index]
        return ReportResult(self.out_dir, index, self.out_dir / "metrics.csv", summary, files, pages)
