"""The chain's report written from what its subjects left: the tables, the Bland-Altman agreement, a page per
subject and the cohort page.

``ReportBuilder`` keeps, per subject, only numbers and figure paths (:class:`SubjectParts`, which is also
what a worker process hands back); :func:`write_report` turns them into the files, once for the cohort,
in ``ReportBuilder.finish``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assessment.regional import RegionalNormals
from assessment.regional_table import RegionalRecord
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
from assessment.report.html import Section
from assessment.report.pages import subject_page_paths, write_cohort_page, write_subject_page
from assessment.report.peak_agreement import AGREEMENT_COLUMNS, agreement_rows, plot_agreement
from assessment.report.style import REFERENCE
from assessment.report.subject_figures import FIGURE_DIR, TRUTH_LABEL
from assessment.report.table import slice_columns, summarise, summary_columns, write_curves
from assessment.tables import to_csv
from util.atomic import write_text

#: the files every report lists on its cohort page, with what each holds
LINKS = (
    ("metrics.csv", "one row per method (the mean over slices; regional measures over subjects, with bootstrap "
                    "intervals), then healthy and patients apart when the cohort holds both"),
    ("metrics_per_subject.csv", "one row per subject and method, the mean over the subject's slices"),
    ("metrics_per_slice.csv", "the same metrics for every slice"),
    ("peak_agreement.csv", "Bland-Altman bias, SD and 95% limits of agreement of the global peaks"),
    ("velocity_curves.csv", "global radial / circumferential / longitudinal curves (cm/s) per frame"),
    ("velocity_peaks.csv", "systolic, E' and A' peaks and times to peak, global and per AHA segment"),
)  # fmt: skip
NOTE = (
    "Magnitude and mask metrics: non-key frames only (key frames are copied from the input). "
    "Velocity metrics: all frames. Curves of the synthesised data use its own velocity and "
    "myocardium. Means over slices with a reference; CSV files keep full precision."
)
NO_REFERENCE_NOTE = "No input slice had a full acquired cine with velocity: there is nothing to score against."


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


@dataclass(frozen=True)
class ReportSettings:
    """The report's settings (``ReportBuilder``'s arguments) that writing it needs."""

    out_dir: Path
    methods: Mapping[str, str]
    drawn: Sequence[str]
    title: str
    info: Mapping[str, object]
    normals: RegionalNormals
    seed: int


def write_tables(
    settings: ReportSettings, parts: SubjectParts, fid: Mapping[str, float | str]
) -> tuple[list[dict[str, object]], list[dict[str, object]], list[Path]]:
    """The method summary (whole cohort, then healthy and patients apart) and the per-subject table, both
    with the regional columns, written as metrics.csv, metrics_per_slice.csv and metrics_per_subject.csv."""
    methods, normals, out = settings.methods, settings.normals, settings.out_dir
    summary = summarise(parts.slice_rows, methods, fid)
    subjects = subject_rows(parts.slice_rows, list(methods))
    for row in subjects:
        if row["method"] == "kinematic" and row["subject"] in parts.prior_models:
            row["prior_model"], row["prior_loo_score"] = parts.prior_models[str(row["subject"])]
    regional = regional_rows(parts.regional, list(methods), normals, subjects)
    add_subject_regional(subjects, regional)
    add_regional_summary(summary, regional, normals, "all", settings.seed)
    summary += group_summaries(parts.slice_rows, regional, lambda rows, m: summarise(rows, m, {}), methods, normals,
                               settings.seed)  # fmt: skip
    columns = [*summary_columns(), *regional_summary_columns()]
    files = [
        write_text(out / "metrics.csv", to_csv(summary, columns)),
        write_text(out / "metrics_per_slice.csv", to_csv(parts.slice_rows, slice_columns())),
        write_text(out / "metrics_per_subject.csv", to_csv(subjects, subject_columns())),
    ]
    return summary, subjects, files


def write_agreement(
    settings: ReportSettings, peak_rows: Sequence[Mapping[str, object]]
) -> tuple[list[dict[str, object]], dict[str, list[tuple[str, str]]], Path]:
    """Bland-Altman statistics (CSV, full precision, every method) and plots (the drawn methods) of the
    global peaks."""
    out = settings.out_dir
    rows = agreement_rows(peak_rows, list(settings.methods))
    csv_path = write_text(out / "peak_agreement.csv", to_csv(rows, AGREEMENT_COLUMNS))
    plots = plot_agreement(peak_rows, settings.drawn, out / FIGURE_DIR, "agreement")
    figures = {q: [(m, png.relative_to(out).as_posix()) for m, png in items] for q, items in plots.items()}
    return rows, figures, csv_path


def write_subject_pages(
    settings: ReportSettings,
    parts: SubjectParts,
    subjects: Sequence[Mapping[str, object]],
    calls: Sequence[Mapping[str, object]],
) -> dict[str, Path]:
    """A page per subject: its slices' metrics, its regional rows and calls, its figures and files."""
    pages = subject_page_paths(list(parts.sections))
    written = {}
    for sid, section in parts.sections.items():
        slices = [r for r in parts.slice_rows if r["subject"] == sid]
        regional = [r for r in subjects if r["subject"] == sid]
        mine = [r for r in calls if r["subject"] == sid]
        written[sid] = write_subject_page(
            settings.out_dir, pages[sid], settings.title, section, slices, parts.subject_files[sid], regional, mine
        )
    return written


def regional_note(normals: RegionalNormals) -> str:
    """How the cohort page's regional columns were scored: the normals, the threshold and its rule."""
    source = f"{normals.n_healthy} healthy training subject(s)" if normals.normals else "none fitted (every ratio 1)"
    rule = "maximising Youden's J on the training data" if normals.threshold_rule == "youden" else "fixed rule"
    return (
        f"Segment score: systolic radial peak / the subject's median segment peak / the segment's healthy "
        f"ratio (regional normals: {source}). Called abnormal at score <= {normals.threshold:.3g} ({rule}). "
        "Detection needs the regional truth (phantom aha_* attributes); agreement is against the truth "
        "where it exists, else the acquired maps. Brackets: 95% bootstrap intervals over subjects."
    )


def write_report(
    settings: ReportSettings,
    parts: SubjectParts,
    fid: Mapping[str, float | str],
    extra_files: Sequence[tuple[str, str]] = (),
) -> ReportResult:
    """Write the CSV files, the agreement plots, a page per subject and the cohort page index.html."""
    out = settings.out_dir
    summary, subjects, files = write_tables(settings, parts, fid)
    files += write_curves(out, parts.curve_rows, parts.peak_rows)
    agreement, agreement_figures, agreement_csv = write_agreement(settings, parts.peak_rows)
    files.append(agreement_csv)
    notes = [NOTE] + ([NO_REFERENCE_NOTE] if parts.n_reference == 0 else [])
    # per subject and data set (acquired, then the methods): the segments it calls abnormal
    calls = abnormal_call_rows(parts.calls, parts.clinical, [REFERENCE, *settings.methods], TRUTH_LABEL)
    pages = write_subject_pages(settings, parts, subjects, calls)
    index = write_cohort_page(
        out,
        settings.title,
        settings.info,
        notes,
        (summary, summary_columns()),
        subjects,
        {sid: p.relative_to(out).as_posix() for sid, p in pages.items()},
        (agreement, agreement_figures),
        [*LINKS, *extra_files],
        regional=(summary, regional_note(settings.normals)),
        calls=calls,
    )
    files += [*pages.values(), index]
    return ReportResult(out, index, out / "metrics.csv", summary, files, pages)
