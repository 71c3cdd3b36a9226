"""data.scanner.dicom_vendor: the Siemens raw12 map by hand, and rounding to the nearest stored level."""

from __future__ import annotations

import numpy as np
import pytest

from data.scanner.dicom_vendor import raw_to_velocity, velocity_to_raw


def test_raw12_levels_by_hand() -> None:
    # velocity = -VENC + 2 VENC stored / 4096: 0 -> -VENC, 2048 -> 0, 4095 -> VENC - one step.
    venc = 150.0
    out = raw_to_velocity(np.array([0, 1024, 2048, 4095]), venc)
    np.testing.assert_allclose(out, [-150.0, -75.0, 0.0, 150.0 - 300.0 / 4096], rtol=0, atol=1e-4)


def test_export_rounds_to_the_nearest_level() -> None:
    venc = 100.0
    step = 2 * venc / 4096
    v = np.linspace(-venc, venc - step, 10001)
    back = raw_to_velocity(velocity_to_raw(v, venc), venc)
    assert np.abs(back - v).max() <= step / 2 + 1e-4  # nearest level: half a step at most
    assert velocity_to_raw(np.array([0.6 * step]), venc)[0] == 2049  # 0.6 of a step above 0 rounds up
    assert velocity_to_raw(np.array([venc - 0.1 * step]), venc)[0] == 4095  # not wrapped to -VENC
    assert raw_to_velocity(velocity_to_raw(np.array([venc + 10.0]), venc), venc)[0] == pytest.approx(
        -venc + 10.0, abs=step
    )  # aliased, as the scanner measures it
