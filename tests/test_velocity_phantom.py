"""assessment.velocity on the digital-twin phantom: pixel analysis of ``velocity_true`` against the analytic curves.

The phantom's analytic curves are averages over the continuous wall, so the differences measured here
are the pixel discretisation only (96 x 96 images, ~2 mm pixels). Tolerances, from that: global curves
within 0.1 cm/s (peak velocities are 3-12 cm/s), segment curves within 0.3 cm/s (a segment holds ~1/6 of
the pixels and its borders are pixelated), peak times within one frame, septum direction from the RV
mask within 2 degrees of the stored ``rv_insertion_deg``.
"""

from __future__ import annotations

import numpy as np
import pytest

from assessment.velocity import COMPONENTS, curve_peaks, peak_summary, septum_angle, velocity_curves
from data.phantom.analytic import analytic_global_curves, analytic_segment_curves
from data.phantom.config import PhantomConfig
from data.phantom.generate import generate_subject

DELAYED_SEGMENT = 5  # basal inferolateral
DELAY_FRACTION = 0.1  # of the RR interval


@pytest.fixture(scope="module")
def subject():
    config = PhantomConfig(size=96, delay_segments=(DELAYED_SEGMENT,), delay_fraction=DELAY_FRACTION)
    return generate_subject("twin", 7, config)


def _curves(s):
    return velocity_curves(
        s.velocity_true, s.myocardium, s.slice_position, s.z_towards_apex, septum_deg=s.rv_insertion_deg
    )


@pytest.mark.parametrize("position", ["basal", "mid", "apical"])
def test_global_and_segment_curves_match_analytic(subject, position):
    s = subject.slices[position]
    curves = _curves(s)
    truth = analytic_global_curves(s)
    truth_segments = analytic_segment_curves(s)
    assert np.abs(truth["radial"]).max() > 3.0 and np.abs(truth["longitudinal"]).max() > 3.0
    for name in COMPONENTS:
        np.testing.assert_allclose(curves.global_curves[name], truth[name], atol=0.1, rtol=0)
        for row, seg in enumerate(curves.segment_ids):
            np.testing.assert_allclose(curves.segment_curves[name][row], truth_segments[int(seg)][name], atol=0.3)


@pytest.mark.parametrize("position", ["basal", "mid", "apical"])
def test_septum_from_rv_mask_matches_stored_angle(subject, position):
    s = subject.slices[position]
    found = septum_angle(s.myocardium, rv_mask=s.rv_blood)
    diff = (found - s.rv_insertion_deg + 180.0) % 360.0 - 180.0
    assert abs(diff) < 2.0


def test_peaks_and_regional_delay(subject):
    s = subject.slices["basal"]
    rr, frame_ms = s.rr_interval_ms, s.rr_interval_ms / s.cycle_frames
    summary = peak_summary(_curves(s), rr)
    truth = analytic_global_curves(s)
    for name in COMPONENTS:
        expected = curve_peaks(truth[name], rr, polarity=summary[name]["polarity"])
        for peak, value in summary[name]["global"].items():
            assert abs(value["time_ms"] - expected[peak]["time_ms"]) <= frame_ms + 1e-9
            assert value["value"] == pytest.approx(expected[peak]["value"], abs=0.1)
    # The base turns clockwise seen from the apex in systole (docs/CONVENTIONS.md).
    assert summary["circumferential"]["polarity"] == -1
    # The delayed segment peaks DELAY_FRACTION of the cycle after the others.
    lon = summary["longitudinal"]
    times = dict(zip(lon["segments"]["ids"].tolist(), lon["segments"]["systolic"]["time_ms"], strict=True))
    others = np.median([t for seg, t in times.items() if seg != DELAYED_SEGMENT])
    assert abs(times[DELAYED_SEGMENT] - others - DELAY_FRACTION * rr) <= frame_ms + 1e-9
    truth_times = [
        curve_peaks(c["longitudinal"], rr)["systolic"]["time_ms"] for c in analytic_segment_curves(s).values()
    ]
    assert lon["systolic_time_dispersion_ms"] == pytest.approx(np.std(truth_times), abs=frame_ms)
    assert lon["systolic_time_dispersion_ms"] > 25.0
