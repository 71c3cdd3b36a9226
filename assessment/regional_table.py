"""Regional function in a metrics table: per-subject rows per method, and the summary columns of a
method over a cohort (or a group of it), for any stage's table.

A table here is a list of dict rows with a ``method`` key. The per-subject measures, detection and
bootstrap intervals are ``assessment.regional``'s; this module only assembles them, so that the chain's and
stage 2's tables carry the same columns with the same meaning. Groups: a subject is one of the
``patients`` when its truth (or a file-level flag) says so, ``healthy`` when its truth is known and
normal, else ``unknown`` (:func:`subject_group`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from assessment.regional import (
    COHORT_COLUMNS,
    SUBJECT_COLUMNS,
    RegionalNormals,
    RegionalPeaks,
    SubjectRegional,
    ci_columns,
    hypokinesia_scores,
    subject_measures,
    summarise_regional,
)
from assessment.truth import SubjectTruth

REFERENCE_METHODS = ("population_bulk", "population")
GROUPS = ("healthy", "patients")


@dataclass(frozen=True)
class RegionalRecord:
    """What regional function needs of one subject: its truth, the reference's reading (the truth's peaks,
    else the acquired ones, else ``None``) and every data set's reading (label -> peaks)."""

    subject: str
    truth: SubjectTruth
    reference: RegionalPeaks | None
    data: dict[str, RegionalPeaks]


def subject_group(truth: SubjectTruth) -> str:
    """``patients``, ``healthy`` (known truth, no pathology) or ``unknown``."""
    if truth.patient:
        return "patients"
    return "healthy" if truth.known else "unknown"


def reference_method(methods: Sequence[str], references: Sequence[str] = REFERENCE_METHODS) -> str | None:
    """The method every other is compared with in the paired bootstrap: the first of ``references``
    among ``methods`` (None when there is none)."""
    return next((m for m in references if m in methods), None)


def summary_columns(ci_metrics: Sequence[str]) -> list[str]:
    """The columns :func:`add_regional_summary` fills, in table order."""
    extra = ["detect_threshold", "threshold_rule", "ci_reference"]
    return ["cohort", "n_subjects", *SUBJECT_COLUMNS, *COHORT_COLUMNS, *extra, *ci_columns(ci_metrics)]


def regional_rows(
    records: Sequence[RegionalRecord],
    methods: Sequence[str],
    normals: RegionalNormals,
    per_subject: Mapping[tuple[str, str], Mapping[str, float]],
) -> dict[str, list[SubjectRegional]]:
    """Per method, one ``SubjectRegional`` per subject (in record order): the regional measures, plus the
    other per-subject metrics ``per_subject[(subject, method)]`` (e.g. velocity errors, for their
    bootstrap intervals), and the hypokinesia scores."""
    out: dict[str, list[SubjectRegional]] = {}
    for method in methods:
        rows = []
        for rec in records:
            peaks = rec.data.get(method)
            measures = dict.fromkeys(SUBJECT_COLUMNS, math.nan)
            scores: dict[int, float] = {}
            if peaks is not None:
                measures = subject_measures(peaks, rec.reference, rec.truth)
                scores = hypokinesia_scores(peaks.values["radial_systolic"], normals.normals)
            measures.update({k: float(v) for k, v in per_subject.get((rec.subject, method), {}).items()})
            rows.append(SubjectRegional(rec.subject, measures, scores, rec.truth))
        out[method] = rows
    return out


def group_members(regional: Mapping[str, Sequence[SubjectRegional]]) -> dict[str, set[str]]:
    """Group -> its subjects, when the cohort holds both healthy subjects and patients (else empty)."""
    any_rows = next(iter(regional.values()), [])
    members = {g: {r.subject for r in any_rows if subject_group(r.truth) == g} for g in GROUPS}
    return members if all(members.values()) else {}


def add_regional_summary(
    summary: Sequence[dict[str, object]],
    regional: Mapping[str, Sequence[SubjectRegional]],
    normals: RegionalNormals,
    ci_metrics: Sequence[str],
    cohort: str = "all",
    seed: int = 0,
    references: Sequence[str] = REFERENCE_METHODS,
) -> None:
    """Fill the regional columns (:func:`summary_columns`) of the summary rows, one per method
    (``row["method"]`` possibly with a `` (<cohort>)`` suffix; ``regional`` holds only the cohort's
    subjects); methods without regional rows get NaN. The paired differences are against the first of
    ``references`` the table holds."""
    members = {str(r["method"]).removesuffix(f" ({cohort})"): r for r in summary}
    ref = reference_method(list(members), references)
    for method, row in members.items():
        rows = regional.get(method, [])
        reference = regional.get(ref) if ref is not None and ref != method else None
        row.update(summarise_regional(rows, reference, normals.threshold, ci_metrics, seed=seed))
        row.update(
            cohort=cohort,
            n_subjects=len(rows),
            detect_threshold=normals.threshold,
            threshold_rule=normals.threshold_rule,
            ci_reference=ref or "",
        )
