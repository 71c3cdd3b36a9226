"""``scripts.correction_scaling``: the twin scaled back towards its prior, scored against the truth, by value
on a subject whose truth, prior and twin are known; a results folder without twins is one line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from data.mvm_io import Subject, write_subject
from data.phantom import PhantomConfig
from data.phantom.generate import generate_subject, subject_seed
from scripts import correction_scaling
from util.errors import OptionError


def _with(subject: Subject, value: float) -> Subject:
    """``subject`` whose velocity is ``value`` cm/s everywhere."""
    slices = {n: replace(s, velocity=np.full_like(s.velocity, value)) for n, s in subject.slices.items()}
    return replace(subject, slices=slices)


def test_the_scaled_twin_is_scored_against_the_truth(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = generate_subject("subject_000", subject_seed(1, 0), PhantomConfig(frames=12, size=32), patient=False)
    truth = {n: replace(s, velocity_true=np.zeros_like(s.velocity)) for n, s in source.slices.items()}
    source = replace(source, slices=truth)
    prior, twin = _with(source, 1.0), _with(source, 3.0)  # the correction is +2 cm/s everywhere
    errors, size = correction_scaling.scaled_errors(source, twin, prior, (0.0, 0.5, 1.0))
    assert errors == pytest.approx([1.0, 2.0, 3.0]) and size == pytest.approx(2.0)
    write_subject(tmp_path / "data" / "subject_000.h5", source)
    write_subject(tmp_path / "run" / "subjects" / "hdl" / "subject_000.h5", twin)
    write_subject(tmp_path / "run" / "subjects" / "kinematic" / "subject_000.h5", prior)
    args = ["--results", str(tmp_path / "run"), "--dataroot", str(tmp_path / "data"), "--scales", "0", "1"]
    assert correction_scaling.main(args) == 0
    out = capsys.readouterr().out
    assert "| healthy | 1 | 1 | 3.000 | +2.000 [" in out  # one subject: no interval
    assert "healthy: the correction |twin - prior| over the twin's myocardium, mean 2.000 cm/s" in out
    with pytest.raises(OptionError, match="--results: no twins in"):
        correction_scaling.run(correction_scaling.build_parser().parse_args(
            ["--results", str(tmp_path), "--dataroot", str(tmp_path)]))  # fmt: skip
