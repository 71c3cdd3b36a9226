"""``scripts.twin_realism``: the twin's texture beside the acquisition's on the same pixels, by value on
subjects whose noise is known; a results folder without twins is one line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from data.mvm_io import Subject, write_subject
from data.phantom import PhantomConfig
from data.phantom.generate import generate_subject, subject_seed
from scripts import twin_realism
from util.errors import OptionError


def _noisy(subject: Subject, std: float, seed: int) -> Subject:
    """``subject`` with white noise of ``std`` cm/s on a zero velocity (clipped far inside +-VENC)."""
    rng = np.random.default_rng(seed)
    slices = {n: replace(s, velocity=rng.normal(0.0, std, s.velocity.shape).astype(np.float32))
              for n, s in subject.slices.items()}  # fmt: skip
    return replace(subject, slices=slices)


def test_the_twins_texture_is_compared_with_the_acquisitions(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = generate_subject("subject_000", subject_seed(2, 0), PhantomConfig(frames=8, size=64), patient=False)
    acquired, twin = _noisy(source, 1.0, 0), _noisy(source, 2.0, 1)
    rows = twin_realism.slice_realism(acquired, twin)
    hp = "vel_hp_std_tissue_cm_s"
    assert len(rows) == len(source.slices)
    # white noise: the high-pass keeps most of it, the same share for both; twice the std, twice the figure
    assert [r[f"twin_{hp}"] / r[f"acquired_{hp}"] for r in rows] == pytest.approx([2.0] * len(rows), rel=0.05)
    assert rows[0]["acquired_vel_bg_std_cm_s"] == pytest.approx(1.0, rel=0.05)
    write_subject(tmp_path / "data" / "subject_000.h5", acquired)
    write_subject(tmp_path / "run" / "subjects" / "hdl" / "subject_000.h5", twin)
    assert twin_realism.main(["--results", str(tmp_path / "run"), "--dataroot", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert "1 subjects, 3 slices" in out and "| background std | 1.99 | 1.00 | 2.00 |" in out
    with pytest.raises(OptionError, match="--results: no twins in"):
        twin_realism.run(twin_realism.build_parser().parse_args(["--results", str(tmp_path), "--dataroot", "x"]))
