"""The report's pages: ``index.html`` for the cohort and ``subjects/<subject>.html`` for each subject.

The cohort page answers "how good is each method, and on whom does it fail": the method summary, a
row per subject and method linking to the subject's page, and the Bland-Altman agreement of the peaks.
A subject page holds what only that subject needs: its slices' metrics, cine, bull's-eye and curves.
Paths handed in are relative to the report folder; each page rewrites them relative to itself.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from assessment.report.cohort import CALL_HEADERS, KEY_COLUMNS, REGIONAL_KEY_COLUMNS, shown_columns
from assessment.report.html import (
    Figure,
    Section,
    data_table,
    figures_html,
    files_list,
    info_block,
    metrics_table,
    notes_html,
    render_page,
    safe_name,
    write_page,
)
from assessment.report.peak_agreement import PEAK_TITLES, QUANTITIES
from assessment.report.slice_metrics import PEAKS
from assessment.velocity import COMPONENTS

SUBJECT_DIR = "subjects"
#: what a subject page shows of the subject's regional function, per method
SUBJECT_REGIONAL_COLUMNS = (
    "dyssync_index_ms",
    "dyssync_err_ms",
    "seg_peak_radial_systolic_r",
    "seg_peak_radial_systolic_mae_cm_s",
    "seg_peak_longitudinal_systolic_r",
    "hypo_ratio",
)
INDEX = "index.html"


def subject_page_paths(subjects: Sequence[str]) -> dict[str, str]:
    """subject -> its page relative to the report folder; ids that make the same file name get a suffix."""
    pages: dict[str, str] = {}
    taken: set[str] = set()
    for sid in subjects:
        stem, i = safe_name(sid), 1
        name = stem
        while name.lower() in taken:  # case-insensitive file systems
            i += 1
            name = f"{stem}_{i}"
        taken.add(name.lower())
        pages[sid] = f"{SUBJECT_DIR}/{name}.html"
    return pages


def relative_to_page(path: str, page: str) -> str:
    """``path`` (relative to the report folder) as a link from ``page`` (idem)."""
    return PurePosixPath(os.path.relpath(path, PurePosixPath(page).parent)).as_posix()


def write_subject_page(
    out_dir: Path,
    page: str,
    title: str,
    section: Section,
    slice_rows: Sequence[Mapping[str, object]],
    files: Sequence[tuple[str, str]] = (),
    regional: Sequence[Mapping[str, object]] = (),
    calls: Sequence[Mapping[str, object]] = (),
) -> Path:
    """One subject: back link, who the subject is (its file's ``patient`` / ``pathology``, when it says),
    its slices' metrics (a row per slice and method), its regional function (a row per method of the
    per-subject table: dyssynchrony index, segment-peak agreement), the segments each data set calls
    abnormal (``calls``: rows of ``cohort.abnormal_call_rows``), its twins, its figures."""
    columns = ["slice", "slice_position", "method", *shown_columns(slice_rows, KEY_COLUMNS)]
    index = relative_to_page(INDEX, page)  # written last, as it links to every subject page
    body = [
        f'<p class="nav"><a href="{index}">&larr; cohort</a></p>',
        f"<h1>{html.escape(title)}: {html.escape(section.title)}</h1>",
        *who_html(calls),
    ]
    if section.note:
        body.append(notes_html([section.note]))
    else:
        body += ["<h2>Metrics per slice</h2>", data_table(slice_rows, columns)]
    shown = shown_columns(regional, SUBJECT_REGIONAL_COLUMNS)
    if shown:
        body += ["<h2>Regional function</h2>", data_table(regional, ["method", *shown])]
    if calls:
        body += ["<h2>Abnormal segments</h2>", calls_table(calls, with_subject=False)]
    if files:
        body += ["<h2>Files</h2>", files_list([(relative_to_page(p, page), d) for p, d in files])]
    body.append("<h2>Figures</h2>")
    body.append(figures_html([Figure(relative_to_page(f.path, page), f.caption) for f in section.figures]))
    return write_page(out_dir / page, render_page(f"{title}: {section.title}", body), pending=(index,))


def who_html(calls: Sequence[Mapping[str, object]]) -> list[str]:
    """A line saying who the subject is (``patient: LAD territory, ...`` / ``healthy``), none when its
    file does not say."""
    if not calls or not calls[0].get("patient"):
        return []
    status, pathology = str(calls[0]["patient"]), str(calls[0].get("pathology") or "")
    said = f"{status}: {pathology}" if pathology and pathology != status else status
    return [f'<p class="who"><b>{html.escape(said)}</b> (as the subject file says)</p>']


def calls_table(
    rows: Sequence[Mapping[str, object]], with_subject: bool = True, pages: Mapping[str, str] | None = None
) -> str:
    """The segments each data set calls abnormal beside the truth's; columns without any value left out."""
    columns = [c for c in CALL_HEADERS if (with_subject or c not in ("subject", "patient", "pathology"))]
    columns = [c for c in columns if c in ("subject", "method") or any(r.get(c) for r in rows)]
    links = {"subject": dict(pages)} if pages else None
    return data_table(rows, columns, links=links, headers=CALL_HEADERS, missing="")


def agreement_html(rows: Sequence[Mapping[str, object]], figures: Mapping[str, Sequence[tuple[str, str]]]) -> str:
    """A table per quantity (statistics renamed with their unit, so they round as cm/s or ms) and the
    methods' Bland-Altman grids side by side."""
    parts = []
    for quantity, (_, unit) in QUANTITIES.items():
        suffix = unit.replace("/", "_")
        stats = ("bias", "sd", "loa_low", "loa_high")
        ordered = sorted(
            (r for r in rows if r["quantity"] == quantity),
            key=lambda r: (COMPONENTS.index(str(r["component"])), PEAKS.index(str(r["peak"]))),
        )  # stable: the methods of one peak stay together, in table order
        shown = [
            {
                "component": r["component"],
                "peak": PEAK_TITLES.get(str(r["peak"]), r["peak"]),
                "method": r["method"],
                "n": r["n"],
                **{f"{k}_{suffix}": r[k] for k in stats},
            }
            for r in ordered
        ]
        headers = {f"{k}_{suffix}": f"{k.replace('_', ' ')} ({unit})" for k in stats}
        parts.append(f"<h3>{html.escape(quantity.replace('_', ' ').removesuffix(' cm s').removesuffix(' ms'))}</h3>")
        if not figures.get(quantity):
            parts.append(notes_html(["No slice has an acquired velocity: nothing to compare with."]))
            continue
        parts.append(data_table(shown, ["component", "peak", "method", "n", *headers], headers=headers))
        parts.append(figures_html([Figure(p, f"{m}: {quantity}") for m, p in figures[quantity]]))
    return "\n".join(parts)


def regional_html(regional: tuple[Sequence[Mapping[str, object]], str] | None) -> list[str]:
    """The cohort page's regional-function section: detection and segment-peak agreement per method."""
    if regional is None:
        return []
    rows, note = regional
    columns = shown_columns(rows, REGIONAL_KEY_COLUMNS)
    if not columns:
        return []
    return ["<h2>Regional function</h2>", notes_html([note]), data_table(rows, ["method", *columns])]


def calls_html(calls: Sequence[Mapping[str, object]], pages: Mapping[str, str]) -> list[str]:
    """The cohort page's per-subject regional summary: who is a patient and with what, and which segments
    each data set calls abnormal beside the truth's."""
    if not calls:
        return []
    note = (
        "Per subject: patient and pathology as the subject file says (blank when it does not, as for scanner "
        "data); the AHA segments each data set calls abnormal (score at or below the threshold above) beside "
        "those the truth calls abnormal (motion scale <= 0.7), the missed ones and the false alarms."
    )
    return ["<h2>Abnormal segments per subject</h2>", notes_html([note]), calls_table(calls, pages=pages)]


def write_cohort_page(
    out_dir: Path,
    title: str,
    info: Mapping[str, object],
    notes: Sequence[str],
    summary: tuple[Sequence[Mapping[str, object]], Sequence[str]],
    subjects: Sequence[Mapping[str, object]],
    pages: Mapping[str, str],
    agreement: tuple[Sequence[Mapping[str, object]], Mapping[str, Sequence[tuple[str, str]]]],
    files: Sequence[tuple[str, str]],
    regional: tuple[Sequence[Mapping[str, object]], str] | None = None,
    calls: Sequence[Mapping[str, object]] = (),
) -> Path:
    """index.html: method summary, regional function, the segments each data set calls abnormal per
    subject (who the subject is beside it), a row per subject and method (linked), peak agreement, files.

    ``summary`` is (rows, columns) of metrics.csv; ``agreement`` is (rows of the agreement CSV,
    quantity -> [(method, PNG path)]); ``regional`` is (rows with the regional columns, a note saying
    how segments are scored).
    """
    subject_cols = ["subject", "method", "n_slices", *shown_columns(subjects, KEY_COLUMNS)]
    without = list(dict.fromkeys(str(r["subject"]) for r in subjects if not r["has_reference"]))
    unscored = [f"No acquired velocity for {', '.join(without)}: synthesised data only, no metrics."] if without else []
    body = [
        f"<h1>{html.escape(title)}</h1>",
        info_block(info),
        "<h2>Methods</h2>",
        notes_html(notes),
        metrics_table(*summary),
        *regional_html(regional),
        *calls_html(calls, pages),
        "<h2>Subjects</h2>",
        notes_html(["Mean over each subject's slices with a reference; the subject links to its page.", *unscored]),
        data_table(subjects, subject_cols, links={"subject": dict(pages)}),
        "<h2>Agreement of the velocity peaks with the acquired data (Bland-Altman)</h2>",
        notes_html(
            [
                "One point per slice: global peak of the synthesised curve minus that of the acquired one, "
                "against their mean. Solid line: bias (mean difference); dashed: 95% limits of agreement "
                "(bias \u00b1 1.96 SD of the differences), each method in its colour on the same panels."
            ]
        ),
        agreement_html(*agreement),
        "<h2>Files</h2>",
        files_list(files),
    ]
    return write_page(out_dir / INDEX, render_page(title, body))
