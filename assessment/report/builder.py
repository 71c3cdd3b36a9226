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

This module adds the subjects (analysis, scores, their figures: ``assessment.report.subject_figures``);
``assessment.report.report_files`` writes the files from what they left.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from assessment.analysis import SliceAnalysis, analyse_slice, analyse_truth, regional_peaks
from assessment.regional import RegionalNormals
from assessment.regional_table import RegionalRecord
from assessment.report import fid as fid_mod
from assessment.report.html import Figure, Section, safe_name
from assessment.report.report_files import ReportResult, ReportSettings, SubjectParts, write_report
from assessment.report.slice_metrics import SharedReference, metric_columns, slice_metrics
from assessment.report.style import REFERENCE
from assessment.report.subject_figures import (
    FIGURE_DIR,
    INPUT_LABEL,
    TRUTH_LABEL,
    SubjectReading,
    anatomical_order,
    cine_figure,
    curve_and_bullseye_figures,
    held_cine,
    ordered_panels,
    regional_figure,
    regional_panel,
)
from assessment.report.table import curve_rows, peak_rows
from assessment.truth import clinical_label, subject_truth
from data.keyframes import KeyFrames, key_frames_of
from data.mvm_io import SliceData, Subject
from util.conventions import CORRECTION_ATTR

__all__ = ["INPUT_LABEL", "ReportBuilder", "ReportResult", "SubjectParts", "held_cine", "safe_name"]


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
        reading = SubjectReading()
        for name, src in anatomical_order(source):
            self._add_slice(sid, name, src, synthesised, reading)
        section = Section(title=f"Subject {sid}")
        regional = self._add_regional(source, reading.per_label)
        section.figures = [*([regional] if regional is not None else []),
                           *curve_and_bullseye_figures(self.out_dir, sid, reading)]  # fmt: skip
        if self.gif:
            drawn = {m: t for m, t in synthesised.items() if m in self.drawn}
            section.figures.insert(0, cine_figure(self.out_dir, source, drawn, self.factor, self.keyframes_only))
        if not any(r["has_reference"] for r in self.slice_rows if r["subject"] == sid):
            section.note = "No acquired velocity for this subject: synthesised data only, no metrics."
        self.sections[sid] = section
        self.subject_files[sid] = list(files)
        kinematic = synthesised.get("kinematic")
        if kinematic is not None and "kinematic_model" in kinematic.attrs:
            self.prior_models[sid] = (str(kinematic.attrs["kinematic_model"]), float(kinematic.attrs["kinematic_loo"]))

    def _add_slice(
        self, sid: str, name: str, src: SliceData, synthesised: Mapping[str, Subject], reading: SubjectReading
    ) -> None:
        """Analyse and score one slice of every data set; keep its rows and add it to the subject's reading."""
        keys = key_frames_of(src, self.factor, self.keyframes_only)
        full = src.frame_index is None and not self.keyframes_only
        analyses = self._analyse(src if full else None, {m: s.slices[name] for m, s in synthesised.items()})
        self._score(sid, name, src if full else None, keys, synthesised, analyses)
        if REFERENCE in analyses:
            reading.add_truth(analyse_truth(src, analyses[REFERENCE].septum_deg))
        for label, a in analyses.items():
            self.curve_rows += curve_rows(sid, name, label, a)
            self.peak_rows += peak_rows(sid, name, label, a)
            reading.add(label, a, shown=label == REFERENCE or label in self.drawn)
        if analyses:
            shown = {label: a for label, a in analyses.items() if label == REFERENCE or label in self.drawn}
            reading.add_curves(name, src, keys, shown)

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

    def _add_regional(self, source: Subject, per_label: Mapping[str, list[SliceAnalysis]]) -> Figure | None:
        """Keep the subject's regional reading (truth, acquired, methods) and draw its regional bull's-eye
        (None without any data set)."""
        peaks = {label: regional_peaks(analyses) for label, analyses in per_label.items() if analyses}
        truth = subject_truth(source)
        complete_truth = len(per_label.get(TRUTH_LABEL, [])) == len(source.slices)
        reference = peaks[TRUTH_LABEL] if complete_truth else peaks.get(REFERENCE)
        self.regional.append(RegionalRecord(source.subject_id, truth, reference, peaks))
        self.clinical[source.subject_id] = clinical_label(source.attrs)
        every = {label: regional_panel(p, truth, label == TRUTH_LABEL, self.normals) for label, p in peaks.items()}
        self.calls[source.subject_id] = {
            TRUTH_LABEL: frozenset(s for s, bad in truth.abnormal.items() if bad) if truth.known else None,
            **{label: panel.abnormal for label, panel in every.items() if label != TRUTH_LABEL},
        }
        if not peaks:
            return None
        return regional_figure(self.out_dir, source.subject_id, ordered_panels(every, self.drawn))

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

    # -------------------------------------------------------------------------------------- finish

    def _fid_scores(self) -> dict[str, float | str]:
        if self.fid is None:
            return dict.fromkeys(self.methods, self.fid_reason)
        return {m: self.fid.score(REFERENCE, m) for m in self.methods}

    def finish(self, extra_files: list[tuple[str, str]] | None = None) -> ReportResult:
        """Write the CSV files, the agreement plots, a page per subject and the cohort page index.html
        (``assessment.report.report_files``)."""
        settings = ReportSettings(self.out_dir, self.methods, self.drawn, self.title, self.info, self.normals,
                                  self.seed)  # fmt: skip
        return write_report(settings, self.parts(), self._fid_scores(), extra_files or [])
