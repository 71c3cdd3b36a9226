"""How much of stage 2's correction of its prior helps: the twin scaled back towards the prior it refines,
``prior + a * (twin - prior)``, scored against the truth, healthy subjects and patients apart.

    python test.py --model hdl --name shipped --pretrained --dataroot datasets/patients --rows hdl kinematic
    python -m scripts.correction_scaling --results results/shipped/hdl --dataroot datasets/patients

Reads the twins a chain run saved (``subjects/hdl/`` and ``subjects/kinematic/`` of ``--results``: the
kinematic row is the prior the twin's stage 2 refines, fitted from the same key frames and painted on the
same masks) and the source subjects of ``--dataroot`` (their truth, ``velocity_true``, read here only, to
score; as the chain scores, over the acquired myocardium). ``a = 0`` is the prior, ``a = 1`` the twin. Per
group and scale: the mean myocardial MAE (cm/s) and its paired difference from the prior with a 95 %
bootstrap interval; then the mean size of the correction, |twin - prior| over the twin's myocardium.
"""

from __future__ import annotations

if not __package__:  # run as a file, python scripts/<tool>.py: put the repository root on the path
    import _repo_root  # noqa: F401

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assessment.bootstrap import paired_difference_ci
from assessment.metrics import mae
from assessment.truth import pathology_flag
from data.mvm_io import Subject, read_subject
from util.cli import RawDescriptionHelpFormatter, ToolParser, run_tool, say
from util.errors import DataError, OptionError

DEFAULT_SCALES = (0.0, 0.25, 0.5, 1.0)


def scaled_errors(source: Subject, twin: Subject, prior: Subject, scales: Sequence[float]) -> tuple[list[float], float]:
    """The subject's myocardial MAE against the truth at each scale (mean over slices), and the mean size of
    the correction over the twin's myocardium."""
    errors = np.zeros((len(scales), len(source.slices)))
    sizes = []
    for j, (name, s) in enumerate(source.slices.items()):
        if s.velocity_true is None:
            raise DataError(f"{source.subject_id}: slice {name!r} has no velocity_true to score against")
        t, p = twin.slices[name], prior.slices[name]
        correction = t.velocity - p.velocity
        myo = (s.myocardium != 0)[:, None]
        for i, a in enumerate(scales):
            errors[i, j] = mae(p.velocity + a * correction, s.velocity_true, myo)
        sizes.append(mae(t.velocity, p.velocity, (t.myocardium != 0)[:, None]))
    return list(errors.mean(axis=1)), float(np.mean(sizes))


def run(args: argparse.Namespace) -> dict[str, dict[str, list]]:
    results, dataroot = Path(args.results), Path(args.dataroot)
    twins = sorted((results / "subjects" / "hdl").glob("*.h5"))
    if not twins:
        raise OptionError(f"--results: no twins in {results / 'subjects' / 'hdl'} (a chain run's hdl folder)")
    groups: dict[str, dict[str, list]] = {g: {"errors": [], "sizes": []} for g in ("healthy", "patients")}
    for path in twins:
        prior_path = results / "subjects" / "kinematic" / path.name
        if not prior_path.is_file():
            raise OptionError(f"--results: {prior_path} missing: run the chain with the kinematic row")
        source = read_subject(dataroot / path.name)
        errors, size = scaled_errors(source, read_subject(path), read_subject(prior_path), args.scales)
        group = groups["patients" if pathology_flag(source.attrs) else "healthy"]
        group["errors"].append(errors)
        group["sizes"].append(size)
    say(f"{results}: {len(twins)} subjects; MAE against the truth (cm/s) of prior + a x (twin - prior)")
    say("| group | n | a | MAE | minus the prior [95 % CI] |\n| --- | --- | --- | --- | --- |")
    for name, g in groups.items():
        if not g["errors"]:
            continue
        table = np.asarray(g["errors"])
        for i, a in enumerate(args.scales):
            diff, low, high = paired_difference_ci(table[:, i], table[:, 0])
            say(f"| {name} | {len(table)} | {a:g} | {table[:, i].mean():.3f} | {diff:+.3f} [{low:+.3f}, {high:+.3f}] |")
    for name, g in groups.items():
        if g["sizes"]:
            say(f"{name}: the correction |twin - prior| over the twin's myocardium, mean {np.mean(g['sizes']):.3f} "
                f"cm/s (subjects {min(g['sizes']):.3f}-{max(g['sizes']):.3f})")  # fmt: skip
    return groups


def build_parser() -> ToolParser:
    p = ToolParser(prog="python -m scripts.correction_scaling", description=__doc__,
                   formatter_class=RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--results", required=True, help="a chain run's folder: results/<name>/hdl")
    p.add_argument("--dataroot", required=True, help="the cohort the chain ran on (its files hold the truth)")
    p.add_argument("--scales", type=float, nargs="+", default=list(DEFAULT_SCALES), metavar="A",
                   help="scales a of the correction (default: 0 0.25 0.5 1; 0 is the prior, 1 the twin)")  # fmt: skip
    return p


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(run, build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
