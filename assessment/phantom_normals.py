"""Cohort statistics of the phantom beside published tissue phase mapping (TPM) normal values.

``python -m assessment.phantom_normals DIR`` reads every subject file of a phantom cohort, runs the project's
velocity analysis (``assessment.velocity.velocity_curves`` and ``peak_summary``) on the noise-free
``velocity_true`` inside the myocardium mask, and prints a markdown table: per slice position and
velocity direction, the cohort's global systolic, E' and A' peaks (mean +- SD, cm/s) and times to peak
(ms from the R wave), with the approximate normal ranges of young adults in the TPM literature
(docs/PHANTOM.md gives the sources and where the phantom departs from them). A second table gives the
RV free-wall longitudinal systolic peak (from the stored motion parameters) and the anatomy drawn.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assessment.velocity import COMPONENTS, peak_summary, velocity_curves
from data.mvm_io import SLICE_POSITIONS, SUBJECT_SUFFIX, read_subject
from data.phantom.analytic import frame_phases, slice_params
from data.phantom.motion import SliceMotion
from data.phantom.pathology_summary import pathology_table
from util.cli import ToolParser
from util.errors import DataError, OptionError

PEAKS = ("systolic", "e_prime", "a_prime")

#: Approximate global peak velocities (cm/s) of healthy young adults in TPM studies (Jung et al. 2006
#: JMRI; Foell et al. 2010 Circ Cardiovasc Imaging; Codreanu et al.; Simpson et al. 2013 JCMR), as
#: ranges (see docs/PHANTOM.md); circumferential values are magnitudes (the sign depends on
#: the slice: base clockwise, apex counter-clockwise in systole). "" where no range is quoted.
LITERATURE: dict[tuple[str, str], dict[str, str]] = {
    ("basal", "longitudinal"): {"systolic": "7 to 9", "e_prime": "-10 to -15", "a_prime": ""},
    ("mid", "longitudinal"): {"systolic": "5 to 7", "e_prime": "", "a_prime": ""},
    ("apical", "longitudinal"): {"systolic": "2 to 4", "e_prime": "", "a_prime": ""},
    ("any", "radial"): {"systolic": "3 to 5", "e_prime": "-4 to -7", "a_prime": ""},
    ("any", "circumferential"): {"systolic": "1 to 3 (abs.)", "e_prime": "1 to 3 (abs.)", "a_prime": ""},
}


def _literature(position: str, component: str, peak: str) -> str:
    row = LITERATURE.get((position, component)) or LITERATURE.get(("any", component), {})
    return row.get(peak, "") or "-"


def cohort_peaks(folder: str | Path) -> tuple[dict, dict]:
    """Per (slice, component, peak): lists of peak values (cm/s) and times (ms); per slice: RV
    longitudinal systolic peaks (cm/s) and papillary muscle counts."""
    files = sorted(Path(folder).glob(f"*{SUBJECT_SUFFIX}"))
    if not files:
        raise OptionError(f"{folder}: no phantom subject files (*{SUBJECT_SUFFIX})")
    values: dict = {}
    extra: dict = {position: {"rv_long": [], "papillary": []} for position in SLICE_POSITIONS}
    for path in files:
        for position, s in read_subject(path).slices.items():
            if s.velocity_true is None or "phantom" not in s.attrs:
                raise DataError(f"{path.name}: slice {position} is not a phantom slice (no velocity_true)")
            curves = velocity_curves(
                s.velocity_true, s.myocardium, s.slice_position, s.z_towards_apex, septum_deg=s.rv_insertion_deg
            )
            summary = peak_summary(curves, s.rr_interval_ms)
            for component in COMPONENTS:
                for peak in PEAKS:
                    entry = values.setdefault((position, component, peak), {"value": [], "time_ms": []})
                    entry["value"].append(summary[component]["global"][peak]["value"])
                    entry["time_ms"].append(summary[component]["global"][peak]["time_ms"])
            p = slice_params(s)
            motion = SliceMotion(p)
            rv_long = p.rv_long_gain * motion.longitudinal.velocity(frame_phases(s.cycle_frames))
            extra[position]["rv_long"].append(float(rv_long.max()))
            extra[position]["papillary"].append(len(p.anatomy.papillary) if p.anatomy is not None else 0)
    return values, extra


def _fmt(numbers: list[float]) -> str:
    a = np.asarray(numbers, dtype=np.float64)
    return f"{np.nanmean(a):.1f} +- {np.nanstd(a):.1f}"


def markdown_tables(values: dict, extra: dict, n_subjects: int) -> str:
    """The two markdown tables of the cohort (see the module docstring)."""
    lines = [
        f"Phantom cohort, {n_subjects} subjects: global peaks of velocity_true (mean +- SD) beside TPM normals",
        "",
        "| slice | direction | peak | phantom cm/s | literature cm/s | phantom time to peak ms |",
        "|---|---|---|---|---|---|",
    ]
    for position in SLICE_POSITIONS:
        for component in COMPONENTS:
            for peak in PEAKS:
                entry = values.get((position, component, peak))
                if entry is None:
                    continue
                literature = _literature(position, component, peak)
                lines.append(
                    f"| {position} | {component} | {peak} | {_fmt(entry['value'])} | {literature} "
                    f"| {_fmt(entry['time_ms'])} |"
                )
    lines += ["", "| slice | RV free wall longitudinal S' cm/s | papillary muscles drawn |", "|---|---|---|"]
    for position in SLICE_POSITIONS:
        e = extra[position]
        lines.append(f"| {position} | {_fmt(e['rv_long'])} | {_fmt(e['papillary'])} |")
    return "\n".join(lines)


def build_parser() -> ToolParser:
    p = ToolParser(
        prog="python -m assessment.phantom_normals",
        description="Peak velocities of a phantom cohort beside published tissue phase mapping values (markdown).",
    )
    p.add_argument("folder", metavar="DIR", help="a folder written by python -m data.phantom")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        folder = build_parser().parse_args(argv).folder
    except OptionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        values, extra = cohort_peaks(folder)
    except OptionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    n_subjects = len(next(iter(values.values()))["value"])
    print(markdown_tables(values, extra, n_subjects))
    print("\nPathology of the cohort (velocity_true of the patients is included in the table above)\n")
    print(pathology_table(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
