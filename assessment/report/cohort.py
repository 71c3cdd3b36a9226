"""The cohort view: one summary row per subject and method, the key metrics the cohort page shows, and
the regional-function columns of the cohort tables.

``metrics.csv`` averages over every slice of the cohort, which hides a subject that fails; this table
keeps the subjects apart (the mean over each subject's slices with a reference), so an outlier is one
glance away from its own page.

Regional columns (``assessment.regional``; per subject in ``metrics_per_subject.csv``, their mean over the
subjects in ``metrics.csv``), against the noise-free truth where the phantom has it (``velocity_true``
and the ``aha_*`` attributes), else against the acquired maps:

* ``seg_peak_<component>_<peak>_r`` / ``_mae_cm_s``: Pearson r and mean absolute error of the 16 segment
  peaks (radial and longitudinal; systolic and E') against the reference's;
* ``hypo_ratio``: mean systolic radial peak of the truly abnormal segments over that of the normal ones
  (patients with known truth only; the truth's own is about the motion scale);
* ``dyssync_index_ms``: SD of the 16 radial systolic times to peak; ``dyssync_err_ms``: its absolute
  error against the reference's;
* ``circ_r_basal`` / ``_mid`` / ``_apical``: correlation of the global circumferential curve per level;
* ``detect_auc``, ``detect_sensitivity``, ``detect_specificity``, ``detect_healthy_fpr``: hypokinesia
  detection pooled over the cohort's subject-segments with known truth (n/a without it), at
  ``detect_threshold``; the regional normals and the threshold come from the training (+ val) split's
  acquired data (``RegionalNormals``: ``threshold_rule`` ``youden`` or ``fixed``);
* ``<metric>_ci_low`` / ``_ci_high``: 95 % percentile bootstrap interval over subjects (seeded), and
  ``<metric>_diff_ref`` with ``_diff_ci_low`` / ``_diff_ci_high``: the paired difference from the method
  named in ``ci_reference`` (``population_bulk`` when it is among the methods, else ``population``), for
  the metrics of :data:`CI_METRICS`.

Healthy and patients apart: ``metrics.csv`` has, after the rows of the whole cohort (``cohort`` = ``all``),
rows ``<method> (healthy)`` and ``<method> (patients)`` (``cohort`` = ``healthy`` / ``patients``) when
the cohort holds both. A patient has a regional truth with a motion scale below 1 or a delay, or a
file-level ``pathology`` flag; healthy is a known truth without either.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from assessment.metrics import add_skill_scores, mean_skipping_nan
from assessment.regional import SUBJECT_COLUMNS, RegionalNormals, SubjectRegional
from assessment.regional_table import RegionalRecord, group_members, subject_group, summary_columns
from assessment.regional_table import add_regional_summary as add_summary
from assessment.regional_table import regional_rows as table_rows
from assessment.report.slice_metrics import metric_columns
from assessment.velocity import COMPONENTS

SUBJECT_ID_COLUMNS = ("subject", "method", "n_slices", "has_reference")
#: what the cohort and subject pages show of each row (all columns go to the CSV)
KEY_COLUMNS = (
    "mag_psnr_nonkey",
    "mag_ssim_nonkey",
    "myo_dice_nonkey",
    "vel_mae_myo_true_cm_s",  # the truth first: the headline where there is one (dropped where there is none)
    "vel_mae_myo_cm_s",
    "correction_myo_cm_s",  # needs no reference: on a scan the one sign that the twin left its prior
    *(f"curve_{c}_r" for c in COMPONENTS),
)


#: per-subject metrics that get a bootstrap interval and a paired difference from the reference method
CI_METRICS = (
    "vel_mae_myo_cm_s",
    "vel_mae_myo_true_cm_s",
    "seg_peak_radial_systolic_r",
    "seg_peak_radial_systolic_mae_cm_s",
    "dyssync_err_ms",
    "detect_auc",
)
#: what the cohort page shows of regional function, per method
REGIONAL_KEY_COLUMNS = (
    "detect_auc",
    "detect_auc_ci_low",
    "detect_auc_ci_high",
    "detect_sensitivity",
    "detect_specificity",
    "detect_healthy_fpr",
    "seg_peak_radial_systolic_r",
    "seg_peak_radial_systolic_mae_cm_s",
    "seg_peak_longitudinal_systolic_r",
    "dyssync_err_ms",
    "hypo_ratio",
)


#: the columns of the per-subject table of abnormal segments (a row per subject and data set), with headings
CALL_HEADERS = {
    "subject": "subject",
    "patient": "patient",
    "pathology": "pathology (file)",
    "method": "data set",
    "truth_abnormal": "truth: abnormal segments",
    "called_abnormal": "called abnormal",
    "missed": "missed",
    "false_alarm": "false alarms",
}


def segments_text(segments: frozenset[int] | None) -> str:
    """AHA segments as a person reads them ("1 2 7", "none"); blank when unknown."""
    if segments is None:
        return ""
    return " ".join(str(s) for s in sorted(segments)) or "none"


def abnormal_call_rows(
    calls: Mapping[str, Mapping[str, frozenset[int] | None]],
    clinical: Mapping[str, tuple[str, str]],
    labels: Sequence[str],
    truth_label: str,
) -> list[dict[str, object]]:
    """A row per subject and data set of ``labels`` (in that order): who the subject is (its file's
    ``patient`` / ``pathology``, blank off the phantom), the segments the data set calls abnormal (the
    detection rule of the regional table) beside those the truth calls abnormal, the missed ones and the
    false alarms (blank without a truth)."""
    rows: list[dict[str, object]] = []
    for sid, by_label in calls.items():
        status, pathology = clinical.get(sid, ("", ""))
        truth = by_label.get(truth_label)
        for label in (lb for lb in labels if lb in by_label):
            called = by_label[label]
            row: dict[str, object] = {
                "subject": sid, "patient": status, "pathology": pathology, "method": label,
                "truth_abnormal": segments_text(truth), "called_abnormal": segments_text(called),
            }  # fmt: skip
            if truth is not None and called is not None:
                row["missed"] = segments_text(truth - called)
                row["false_alarm"] = segments_text(called - truth)
            rows.append(row)
    return rows


#: the per-subject table's record of the kinematic row's model (``models.kinematics.choice``)
PRIOR_CHOICE_COLUMNS = ("prior_model", "prior_loo_score")


def subject_columns() -> list[str]:
    return [*SUBJECT_ID_COLUMNS, "cohort", *metric_columns(), *SUBJECT_COLUMNS, *PRIOR_CHOICE_COLUMNS]


def regional_summary_columns() -> list[str]:
    """The columns the regional summary adds to ``metrics.csv`` (after the table's own)."""
    return summary_columns(CI_METRICS)


def regional_rows(
    records: Sequence[RegionalRecord],
    methods: Sequence[str],
    normals: RegionalNormals,
    subjects: Sequence[Mapping[str, object]],
) -> dict[str, list[SubjectRegional]]:
    """``assessment.regional_table.regional_rows`` with the per-subject velocity errors of ``subjects`` (the
    per-subject table), for their bootstrap intervals."""
    errors = ("vel_mae_myo_cm_s", "vel_mae_myo_true_cm_s")
    per_subject = {
        (str(r["subject"]), str(r["method"])): {c: float(r.get(c, math.nan)) for c in errors} for r in subjects
    }
    return table_rows(records, methods, normals, per_subject)


def add_subject_regional(
    subjects: Sequence[dict[str, object]], regional: Mapping[str, Sequence[SubjectRegional]]
) -> None:
    """Put each subject's regional measures and group into its rows of the per-subject table."""
    by_key = {(r.subject, method): r for method, rows in regional.items() for r in rows}
    for row in subjects:
        found = by_key.get((str(row["subject"]), str(row["method"])))
        row.update({c: found.measures.get(c, math.nan) if found else math.nan for c in SUBJECT_COLUMNS})
        row["cohort"] = subject_group(found.truth) if found else "unknown"


def add_regional_summary(
    summary: Sequence[dict[str, object]],
    regional: Mapping[str, Sequence[SubjectRegional]],
    normals: RegionalNormals,
    cohort: str = "all",
    seed: int = 0,
) -> None:
    """``assessment.regional_table.add_regional_summary`` with the chain's :data:`CI_METRICS`."""
    add_summary(summary, regional, normals, CI_METRICS, cohort, seed)


def group_summaries(
    slice_rows: Sequence[Mapping[str, object]],
    regional: Mapping[str, Sequence[SubjectRegional]],
    summarise_rows: Callable[[Sequence[Mapping[str, object]], dict[str, str]], list[dict[str, object]]],
    methods: Mapping[str, str],
    normals: RegionalNormals,
    seed: int = 0,
) -> list[dict[str, object]]:
    """The rows ``<method> (healthy)`` and ``<method> (patients)`` when the cohort holds both groups (none
    otherwise): ``summarise_rows`` (the table's per-method summary) over the group's slices, the skill
    against the group's own ``zero`` row, and the group's regional summary."""
    members = group_members(regional)
    out: list[dict[str, object]] = []
    for group in members:
        label = {m: f"{m} ({group})" for m in methods}
        mine = [{**r, "method": label[str(r["method"])]} for r in slice_rows if r["subject"] in members[group]]
        rows = summarise_rows(mine, {label[m]: d for m, d in methods.items()})
        add_skill_scores(rows, "vel_mae_myo_cm_s", "vel_mae_myo_true_cm_s", "vel_skill", f"zero ({group})")
        kept = {m: [r for r in rs if r.subject in members[group]] for m, rs in regional.items()}
        add_regional_summary(rows, kept, normals, group, seed)
        out += rows
    return out


def subject_rows(slice_rows: Sequence[Mapping[str, object]], methods: Sequence[str]) -> list[dict[str, object]]:
    """One row per subject (in the order subjects were added) and method: the nan-aware mean of every
    metric over that subject's slices; ``has_reference`` is 1 when any slice had an acquired cine."""
    subjects = list(dict.fromkeys(str(r["subject"]) for r in slice_rows))
    out = []
    for subject in subjects:
        for method in methods:
            rows = [r for r in slice_rows if r["subject"] == subject and r["method"] == method]
            if not rows:
                continue
            row: dict[str, object] = {
                "subject": subject,
                "method": method,
                "n_slices": len(rows),
                "has_reference": int(any(int(r["has_reference"]) for r in rows)),
            }
            for col in metric_columns():
                row[col] = mean_skipping_nan([float(r.get(col, math.nan)) for r in rows])
            out.append(row)
    return out


def shown_columns(rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> list[str]:
    """``columns`` less those with no finite number in any row (``vel_mae_myo_true_cm_s`` off the phantom,
    everything on a cohort without a reference): an all-n/a column only takes room."""

    def has_number(col: str) -> bool:
        return any(isinstance(v, (int, float)) and math.isfinite(v) for v in (r.get(col) for r in rows))

    return [c for c in columns if has_number(c)]
