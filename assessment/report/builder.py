"""Builds the chained-synthesis report one subject at a time.

``add_subject`` analyses and plots a subject as soon as it is synthesised and keeps only numbers (metric
rows, curves) and figure paths, so memory does not grow with the cohort; ``finish`` writes the tables,
FID, the Bland-Altman agreement, one page per subject (``subjects/<subject>.html``) and the cohort page
(``index.html``), which links to them.

Per subject and slice, the data sets compared are the acquired slice (when the input is a full cine:
the reference) and every synthesised one (``hdl``, ``baseline`` and any other method: nothing here
assumes how many). Input without velocity, or with key
frames only, still gets the synthesised curves and bull's-eyes, with no metrics against a reference.

Regional function (``assessment.report.cohort``): each subject's segment peaks and times to peak are read
from the truth (``velocity_true``, when the phantom has it), the acquired slice and every method; the
subject page shows their bull's-eyes of systolic radial peaks with the segments each calls abnormal
and the dyssynchrony index; ``metrics.csv`` and ``metrics_per_subject.csv`` get the regional columns,
the bootstrap intervals and, when the cohort holds both, the healthy and patient rows.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assessment.analysis import (
    SliceAnalysis,
    analyse_slice,
    analyse_truth,
    regional_peaks,
    segment_peak_values,
)
from assessment.regional import RegionalNormals, RegionalPeaks, dyssynchrony_index, hypokinesia_scores
from assessment.regional_table import RegionalRecord
from assessment.report import fid as fid_mod
from assessment.report.bullseye import plot_bullseye
from assessment.report.cine_gif import write_cine_gif
from assessment.report.cohort import (
    abnormal_call_rows,
    add_regional_summary,
    add_subject_regional,
    group_summaries,
    regional_rows,
    regional_summary_columns,
    subject_columns,
    subject_rows,
)
from assessment.report.curves_plot import CurveRow, plot_velocity_curves
from assessment.report.html import Figure, Section, safe_name
from assessment.report.pages import subject_page_paths, write_cohort_page, write_subject_page
from assessment.report.peak_agreement import AGREEMENT_COLUMNS, agreement_rows, plot_agreement
from assessment.report.regional_bullseye import RegionalPanel, plot_regional_bullseye
from assessment.report.slice_metrics import SharedReference, metric_columns, slice_metrics
from assessment.report.style import REFERENCE
from assessment.report.table import curve_rows, peak_rows, slice_columns, summarise, summary_columns, write_curves
from assessment.tables import to_csv
from assessment.truth import SubjectTruth, clinical_label, subject_truth
from assessment.velocity import COMPONENTS
from data.keyframes import KeyFrames, key_frames_of
from data.mvm_io import SLICE_POSITIONS, SliceData, Subject
from util.atomic import write_text
from util.conventions import CORRECTION_ATTR

INPUT_LABEL = "input (key frames held)"
TRUTH_LABEL = "truth"
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


@dataclass
class SubjectParts:
    """Everything a builder keeps of the subjects it added (rows, curves, pages, regional readings)."""

    slice_rows: list[dict[str, object]]
    curve_rows: list[dict[str, object]]
    peak_rows: list[dict[str, object]]
    sections: dict[str, Section]
    subject_files: dict[str, list[tuple[str, str]]]
    n_reference: int
    regional: list[RegionalRecord]
    clinical: dict[str, tuple[str, str]]
    calls: dict[str, dict[str, frozenset[int] | None]]
    prior_models: dict[str, tuple[str, float]]


class ReportBuilder:
    """Accumulates subjects, then writes the report into ``out_dir``.

    Args:
        out_dir: the report folder (index.html, ``subjects/<subject>.html``, CSVs, ``figures/``).
        methods: method label -> one-line description, in table order (``hdl`` first).
        factor: the down-sampling factor (for full-cine input, and key-frame-only files without index).
        keyframes_only: the input files hold key frames only.
        fid: try FID (see ``assessment.report.fid``); otherwise the table says it was not requested.
        device: where the Inception network runs when FID is computed.
        title, info: the page title and the key-value block under it.
        normals: regional normals and detection threshold (``training_normals`` of the training split);
            without them every segment's normal ratio is 1 and the threshold the fixed rule's.
        seed: seed of the bootstrap intervals.
        drawn: the methods the figures show (curves, bull's-eyes, cine, Bland-Altman plots; default every
            one): the tables always have every method, but rows whose curves repeat another's (the
            population prior with and without bulk motion) or that only bound the others (zero, the
            ceilings) would crowd the figures and cost most of the report's time.
        gif: also write a cine GIF of each subject's mid slice (a second or more a subject).
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
        normals: RegionalNormals | None = None,
        seed: int = 0,
        drawn: Sequence[str] | None = None,
        gif: bool = False,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.methods = dict(methods)
        self.drawn = [m for m in self.methods if drawn is None or m in drawn]
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
        self.normals = normals if normals is not None else RegionalNormals({})
        self.seed = seed
        self.gif = gif
        self.regional: list[RegionalRecord] = []
        #: subject -> (patient / healthy / "", the pathology's description) as its file says
        self.clinical: dict[str, tuple[str, str]] = {}
        #: subject -> (the model its key frames chose for the kinematic row, its leave-one-out score)
        self.prior_models: dict[str, tuple[str, float]] = {}
        #: subject -> data set -> the AHA segments it calls abnormal (the truth: its abnormal ones, None unknown)
        self.calls: dict[str, dict[str, frozenset[int] | None]] = {}
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
        per_label: dict[str, list[SliceAnalysis]] = {}
        curves: list[CurveRow] = []
        for name, src in anatomical_order(source):
            keys = key_frames_of(src, self.factor, self.keyframes_only)
            full = src.frame_index is None and not self.keyframes_only
            analyses = self._analyse(src if full else None, {m: s.slices[name] for m, s in synthesised.items()})
            self._score(sid, name, src if full else None, keys, synthesised, analyses)
            if REFERENCE in analyses:
                truth = analyse_truth(src, analyses[REFERENCE].septum_deg)
                per_label.setdefault(TRUTH_LABEL, []).extend([truth] if truth is not None else [])
            for label, a in analyses.items():
                per_label.setdefault(label, []).append(a)
                self.curve_rows += curve_rows(sid, name, label, a)
                self.peak_rows += peak_rows(sid, name, label, a)
                if label != REFERENCE and label not in self.drawn:
                    continue
                for comp in COMPONENTS:
                    merged = bullseye.setdefault(label, {}).setdefault(comp, {})
                    for seg, value in segment_peak_values(a, comp).items():
                        merged.setdefault(seg, value)
            if analyses:
                key_times = [k * src.rr_interval_ms / keys.n_frames for k in keys.frames]
                shown = {label: a for label, a in analyses.items() if label == REFERENCE or label in self.drawn}
                label = name if name == src.slice_position else f"{name} ({src.slice_position})"
                curves.append(CurveRow(label, shown, key_times))
        if curves:
            png = Path(FIGURE_DIR) / f"{safe_name(sid)}_curves.png"
            plot_velocity_curves(curves, self.out_dir / png, sid)
            caption = "global radial, circumferential and longitudinal velocity, a row per slice"
            section.figures.append(Figure(png.as_posix(), caption))
        if bullseye:
            png = Path(FIGURE_DIR) / f"{safe_name(sid)}_bullseye.png"
            plot_bullseye(bullseye, self.out_dir / png, sid)
            section.figures.insert(0, Figure(png.as_posix(), "AHA segments: peak systolic velocity (cm/s)"))
        regional_png = self._add_regional(source, per_label)
        if regional_png is not None:
            caption = (
                "AHA segments: systolic radial peaks (cm/s); outlined with *: called abnormal "
                "(the truth: motion scale <= 0.7); the dyssynchrony index under each title"
            )
            section.figures.insert(0, Figure(regional_png, caption))
        if self.gif:
            section.figures.insert(0, self._gif(source, {m: t for m, t in synthesised.items() if m in self.drawn}))
        if not any(r["has_reference"] for r in self.slice_rows if r["subject"] == sid):
            section.note = "No acquired velocity for this subject: synthesised data only, no metrics."
        self.sections[sid] = section
        self.subject_files[sid] = list(files)
        kinematic = synthesised.get("kinematic")
        if kinematic is not None and "kinematic_model" in kinematic.attrs:
            self.prior_models[sid] = (str(kinematic.attrs["kinematic_model"]), float(kinematic.attrs["kinematic_loo"]))

    def fresh(self) -> ReportBuilder:
        """A builder with the same settings and no subject yet: another process adds subjects to it and
        hands them back with :meth:`parts` (FID is computed over the whole cohort, so it has none)."""
        other = copy.copy(self)
        other.slice_rows, other.curve_rows, other.peak_rows, other.regional = [], [], [], []
        other.sections, other.subject_files, other.n_reference, other.fid = {}, {}, 0, None
        other.clinical, other.calls, other.prior_models = {}, {}, {}
        return other

    def parts(self) -> SubjectParts:
        """What this builder keeps of its subjects, for :meth:`merge` into the builder that writes the report."""
        return SubjectParts(
            self.slice_rows, self.curve_rows, self.peak_rows, self.sections, self.subject_files, self.n_reference,
            self.regional, self.clinical, self.calls, self.prior_models,
        )  # fmt: skip

    def merge(self, parts: SubjectParts) -> None:
        """Add subjects that :meth:`fresh` builders analysed elsewhere, as if ``add_subject`` had added them here."""
        twice = set(parts.sections) & set(self.sections)
        if twice:
            raise ValueError(f"subject(s) {sorted(twice)} were added twice: their pages and rows would be mixed up")
        self.slice_rows += parts.slice_rows
        self.curve_rows += parts.curve_rows
        self.peak_rows += parts.peak_rows
        self.sections.update(parts.sections)
        self.subject_files.update(parts.subject_files)
        self.n_reference += parts.n_reference
        self.regional += parts.regional
        self.clinical.update(parts.clinical)
        self.calls.update(parts.calls)
        self.prior_models.update(parts.prior_models)

    def _add_regional(self, source: Subject, per_label: Mapping[str, list[SliceAnalysis]]) -> str | None:
        """Keep the subject's regional reading (truth, acquired, methods) and draw its regional bull's-eye
        (returns the figure's path, None without any data set)."""
        peaks = {label: regional_peaks(analyses) for label, analyses in per_label.items() if analyses}
        truth = subject_truth(source)
        complete_truth = len(per_label.get(TRUTH_LABEL, [])) == len(source.slices)
        reference = peaks[TRUTH_LABEL] if complete_truth else peaks.get(REFERENCE)
        self.regional.append(RegionalRecord(source.subject_id, truth, reference, peaks))
        self.clinical[source.subject_id] = clinical_label(source.attrs)
        every = {label: self._panel(p, truth, label == TRUTH_LABEL) for label, p in peaks.items()}
        self.calls[source.subject_id] = {
            TRUTH_LABEL: frozenset(s for s, bad in truth.abnormal.items() if bad) if truth.known else None,
            **{label: panel.abnormal for label, panel in every.items() if label != TRUTH_LABEL},
        }
        if not peaks:
            return None
        order = [TRUTH_LABEL, REFERENCE, *self.drawn]
        panels = {label: every[label] for label in order if label in every}
        png = Path(FIGURE_DIR) / f"{safe_name(source.subject_id)}_regional.png"
        plot_regional_bullseye(panels, self.out_dir / png, source.subject_id)
        return png.as_posix()

    def _panel(self, peaks: RegionalPeaks, truth: SubjectTruth, is_truth: bool) -> RegionalPanel:
        """A data set's bull's-eye panel: the truth marks its truly abnormal segments, every other data
        set those it scores at or below the detection threshold."""
        values = peaks.values["radial_systolic"]
        if is_truth:
            abnormal = {s for s, bad in truth.abnormal.items() if bad}
        else:
            scores = hypokinesia_scores(values, self.normals.normals)
            abnormal = {s for s, v in scores.items() if v <= self.normals.threshold}
        return RegionalPanel(values, frozenset(abnormal), dyssynchrony_index(peaks.ttp_ms))

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
        shared: dict[float, SharedReference] = {}  # the reference side of the scores, once per magnitude scale
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
                if scale not in shared:  # the velocity's side is the same at every scale: made once
                    velocity = next(iter(shared.values())).velocity if shared else None
                    shared[scale] = SharedReference(reference, keys.is_key(), scale, velocity)
                row.update(slice_metrics(reference, s, keys.is_key(), scale, analyses.get(REFERENCE), analyses[method],
                                         shared[scale]))  # fmt: skip
                if self.fid is not None and reference.velocity is not None:
                    self.fid.add(method, s.velocity, s.venc_cm_s)
            else:
                row.update(dict.fromkeys(metric_columns(), math.nan))
            row["correction_myo_cm_s"] = float(s.attrs.get(CORRECTION_ATTR, math.nan))
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
        plots = plot_agreement(self.peak_rows, self.drawn, self.out_dir / FIGURE_DIR, "agreement")
        figures = {q: [(m, png.relative_to(self.out_dir).as_posix()) for m, png in items] for q, items in plots.items()}
        return rows, figures, csv_path

    def _call_rows(self) -> list[dict[str, object]]:
        """Per subject and data set (acquired, then the methods): the segments it calls abnormal."""
        return abnormal_call_rows(self.calls, self.clinical, [REFERENCE, *self.methods], TRUTH_LABEL)

    def _subject_pages(
        self, subjects: Sequence[Mapping[str, object]], calls: Sequence[Mapping[str, object]]
    ) -> dict[str, Path]:
        pages = subject_page_paths(list(self.sections))
        written = {}
        for sid, section in self.sections.items():
            slices = [r for r in self.slice_rows if r["subject"] == sid]
            regional = [r for r in subjects if r["subject"] == sid]
            mine = [r for r in calls if r["subject"] == sid]
            written[sid] = write_subject_page(
                self.out_dir, pages[sid], self.title, section, slices, self.subject_files[sid], regional, mine
            )
        return written

    def _tables(self) -> tuple[list[dict[str, object]], list[dict[str, object]], list[Path]]:
        """The method summary (whole cohort, then healthy and patients apart) and the per-subject table,
        both with the regional columns, written as metrics.csv, metrics_per_slice.csv and
        metrics_per_subject.csv."""
        fid = self._fid_scores()
        summary = summarise(self.slice_rows, self.methods, fid)
        subjects = subject_rows(self.slice_rows, list(self.methods))
        for row in subjects:
            if row["method"] == "kinematic" and row["subject"] in self.prior_models:
                row["prior_model"], row["prior_loo_score"] = self.prior_models[str(row["subject"])]
        regional = regional_rows(self.regional, list(self.methods), self.normals, subjects)
        add_subject_regional(subjects, regional)
        add_regional_summary(summary, regional, self.normals, "all", self.seed)
        summary += group_summaries(
            self.slice_rows, regional, lambda rows, methods: summarise(rows, methods, {}), self.methods,
            self.normals, self.seed,
        )  # fmt: skip
        columns = [*summary_columns(), *regional_summary_columns()]
        files = [
            write_text(self.out_dir / "metrics.csv", to_csv(summary, columns)),
            write_text(self.out_dir / "metrics_per_slice.csv", to_csv(self.slice_rows, slice_columns())),
            write_text(self.out_dir / "metrics_per_subject.csv", to_csv(subjects, subject_columns())),
        ]
        return summary, subjects, files

    def _regional_note(self) -> str:
        n = self.normals
        source = f"{n.n_healthy} healthy training subject(s)" if n.normals else "none fitted (every ratio 1)"
        rule = "maximising Youden's J on the training data" if n.threshold_rule == "youden" else "fixed rule"
        return (
            f"Segment score: systolic radial peak / the subject's median segment peak / the segment's healthy "
            f"ratio (regional normals: {source}). Called abnormal at score <= {n.threshold:.3g} ({rule}). "
            "Detection needs the regional truth (phantom aha_* attributes); agreement is against the truth "
            "where it exists, else the acquired maps. Brackets: 95% bootstrap intervals over subjects."
        )

    def finish(self, extra_files: list[tuple[str, str]] | None = None) -> ReportResult:
        """Write the CSV files, the agreement plots, a page per subject and the cohort page index.html."""
        summary, subjects, files = self._tables()
        files += write_curves(self.out_dir, self.curve_rows, self.peak_rows)
        agreement, agreement_figures, agreement_csv = self._agreement()
        files.append(agreement_csv)
        links = [
            (
                "metrics.csv",
                "one row per method (the mean over slices; regional measures over subjects, with bootstrap "
                "intervals), then healthy and patients apart when the cohort holds both",
            ),
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
        calls = self._call_rows()
        pages = self._subject_pages(subjects, calls)
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
            regional=(summary, self._regional_note()),
            calls=calls,
        )
        files += [*pages.values(), index]
        return ReportResult(self.out_dir, index, self.out_dir / "metrics.csv", summary, files, pages)
