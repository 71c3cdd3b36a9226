"""Does the twin look acquired? The texture of its velocity maps beside the acquisition's, on the same pixels.

    python test.py --model hdl --name realism --pretrained --acquisition_noise --dataroot DIR --rows hdl
    python -m scripts.twin_realism --results results/realism/hdl --dataroot DIR

Reads the twins a chain run saved (``subjects/hdl/`` of ``--results``; run with ``--acquisition_noise``,
else the twin carries the model's estimate, without the scanner's noise) and the acquired subjects of
``--dataroot``. For each slice, on the acquired magnitude's tissue interior and background exterior (one
set of pixels for both, as stage 2's evaluation scores realism; ``models.phase.evaluation.realism``): the
tissue high-pass std and the background std in cm/s, averaged over the three directions; then their means
over the slices, the twin's and the acquisition's, and the twin's as a ratio of the acquisition's.
"""

from __future__ import annotations

if not __package__:  # run as a file, python scripts/<tool>.py: put the repository root on the path
    import _repo_root  # noqa: F401

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from data.mvm_io import Subject, read_subject
from models.phase.evaluation import BG_STD, HP_STD, realism
from util.cli import RawDescriptionHelpFormatter, ToolParser, run_tool, say
from util.conventions import venc_scale
from util.errors import OptionError
from util.intensity import normalise_magnitude
from util.tissue import tissue_mask_from_magnitude


def slice_realism(acquired: Subject, twin: Subject) -> list[dict[str, float]]:
    """Per slice of ``acquired``: the realism statistics of the twin's and of the acquired velocity, named
    ``twin_<stat>`` and ``acquired_<stat>``, on the acquired magnitude's tissue."""
    rows = []
    for name, s in acquired.slices.items():
        if name not in twin.slices or s.velocity is None:
            raise OptionError(f"{twin.subject_id}: slice {name!r} missing from the twin or without acquired velocity")
        tissue = np.asarray(tissue_mask_from_magnitude(normalise_magnitude(s.magnitude)), dtype=bool)
        venc = venc_scale(s.venc_cm_s)
        row = {f"twin_{k}": v for k, v in realism(twin.slices[name].velocity / venc, tissue, s.venc_cm_s).items()}
        row.update({f"acquired_{k}": v for k, v in realism(s.velocity / venc, tissue, s.venc_cm_s).items()})
        rows.append(row)
    return rows


def run(args: argparse.Namespace) -> dict[str, float]:
    results, dataroot = Path(args.results), Path(args.dataroot)
    twins = sorted((results / "subjects" / "hdl").glob("*.h5"))
    if not twins:
        raise OptionError(f"--results: no twins in {results / 'subjects' / 'hdl'} (a chain run's hdl folder)")
    rows = [row for path in twins for row in slice_realism(read_subject(dataroot / path.name), read_subject(path))]
    means = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    say(f"{results}: {len(twins)} subjects, {len(rows)} slices; on the acquired magnitude's tissue and background")
    say("| statistic (cm/s) | twin | acquired | twin / acquired |\n| --- | --- | --- | --- |")
    for stat, label in ((HP_STD, "tissue high-pass std"), (BG_STD, "background std")):
        twin, acquired = means[f"twin_{stat}"], means[f"acquired_{stat}"]
        say(f"| {label} | {twin:.2f} | {acquired:.2f} | {twin / acquired:.2f} |")
    return means


def build_parser() -> ToolParser:
    p = ToolParser(prog="python -m scripts.twin_realism", description=__doc__,
                   formatter_class=RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--results", required=True, help="a chain run's folder: results/<name>/hdl")
    p.add_argument("--dataroot", required=True, help="the cohort the chain ran on (the acquired subjects)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(run, build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
