"""scripts.keyframe_motion_precision on a tiny phantom cohort: it scores the key-frame measures against
the motion model and reports them; bad options are one line."""

from __future__ import annotations

import re

from scripts.keyframe_motion_precision import main


def test_precision_report_on_the_phantom(tiny_cohort, capsys):
    assert main(["--dataroot", str(tiny_cohort), "--factor", "4", "--subjects", "1", "--jitter", "1"]) == 0
    out = capsys.readouterr().out
    assert "subjects: 1; key frames every 4 frames" in out
    assert "-- exact masks" in out and "-- masks jittered 1 px" in out
    rotation = re.search(r"rotation_deg +r +([-\d.]+) +slope +([-\d.]+) +RMS +([-\d.]+)", out)
    radius = re.search(r"radius_mm +r +([-\d.]+) +slope +([-\d.]+) +RMS +([-\d.]+)", out)
    assert rotation and radius
    # 64 x 64 images (about 3 mm pixels): the radius is still read closely, the rotation to a degree.
    assert float(radius.group(1)) > 0.95 and float(radius.group(3)) < 0.5
    assert float(rotation.group(3)) < 1.5
    assert "time per subject" in out


def test_bad_options_are_one_line(tmp_path, capsys):
    assert main(["--dataroot", str(tmp_path), "--factor", "x"]) == 2
    assert capsys.readouterr().err.startswith("error: python -m scripts.keyframe_motion_precision: argument --factor")


def test_landmark_report_on_the_phantom(tiny_cohort, capsys):
    assert main(["--dataroot", str(tiny_cohort), "--factor", "4", "--landmarks", "--split", "val"]) == 0
    out = capsys.readouterr().out
    assert "landmarks of 1 val subjects, 6 key frames of 24 (errors in frames)" in out
    for name in ("onset", "systolic_peak", "end_systole", "e_peak", "a_peak"):
        row = re.search(rf"{name} +([-\d.]+) +([-\d.]+) +([-\d.]+) +([-\d.]+) +([-\d.]+)", out)
        assert row is not None
        assert float(row.group(1)) < 6.0  # within a quarter of the cycle: the fit is bounded near the population
    every = re.search(r"all +([\d.]+) +([\d.]+) +([\d.]+) +([\d.]+)", out)  # the fit and the population
    assert every is not None
    fitted, population = [float(v) for v in every.groups()[:2]], [float(v) for v in every.groups()[2:]]
    assert fitted != population  # the landmark times are fitted to the key frames, not the population's
