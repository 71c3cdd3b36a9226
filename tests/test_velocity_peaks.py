"""assessment.velocity.curve_peaks on a hand-made curve whose peaks sit on the last frame of each window.

Frame t lies at t / T of the cycle (docs/CONVENTIONS.md) and a window (start, end) holds the frames with
start <= t / T < end: with T = 10 the default windows are frames 0-3 (systolic, [0, 0.4)), 4-6 (E',
[0.4, 0.7)) and 7-9 (A', [0.7, 1)). Putting each peak on a window's last frame catches a window or a
frame time shifted by one frame.
"""

from __future__ import annotations

import pytest

from assessment.velocity import curve_peaks

CURVE = [1.0, 0.5, 2.0, 5.0, -1.0, 0.0, -3.0, 0.0, -0.5, -2.0]


def test_peaks_on_the_last_frame_of_each_window() -> None:
    peaks = curve_peaks(CURVE, rr_interval_ms=1000.0)
    assert peaks["systolic"] == {"value": 5.0, "time_ms": pytest.approx(300.0), "frame": 3}
    assert peaks["e_prime"] == {"value": -3.0, "time_ms": pytest.approx(600.0), "frame": 6}
    assert peaks["a_prime"] == {"value": -2.0, "time_ms": pytest.approx(900.0), "frame": 9}


def test_negative_polarity_swaps_maxima_and_minima() -> None:
    peaks = curve_peaks([-v for v in CURVE], rr_interval_ms=800.0, polarity=-1)
    assert peaks["systolic"]["value"] == -5.0 and peaks["systolic"]["time_ms"] == pytest.approx(240.0)
    assert peaks["a_prime"]["value"] == 2.0 and peaks["a_prime"]["frame"] == 9
