"""Flips and quarter turns turn the in-plane velocity with the image, the right way round.

Expected values come from the geometry of docs/CONVENTIONS.md (rows point down, vx along increasing
column, vy along increasing row), not from data/transforms.py:

* a quarter turn counter-clockwise as displayed moves pixel (r, c) of an n x n image to (n-1-c, r): the
  top-right corner goes to the top-left, the top-left to the bottom-left. In (x, y) = (column, row)
  coordinates that is x' = y, y' = n-1-x, whose linear part maps a velocity (vx, vy) to (vy, -vx):
  right becomes up;
* a left-right mirror moves (r, c) to (r, n-1-c), so vx changes sign and vy does not.

Through the phase dataset the check is physical: a bright marker moves 2 columns right and 1 row down
per frame, with the matching velocity. Whatever augmentation the dataset draws, the velocity it returns
at frame t must point along the marker's displacement from frame t-1 to t+1 in the magnitude it returns.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from data.mvm_io import SliceData, Subject, write_subject
from data.samples.phase_dataset import PhaseDataset
from data.transforms import dihedral_velocity

N = 6
# A 1 x 2 marker (rows 1, columns 3-4) moving right and slightly down: asymmetric in shape and vector.
MARKER = [(1, 3), (1, 4)]
VX, VY, VZ = 1.0, 0.25, -0.5


def marker_field() -> np.ndarray:
    field = np.zeros((3, N, N))
    for r, c in MARKER:
        field[:, r, c] = (VX, VY, VZ)
    return field


def quarter_ccw(r: int, c: int) -> tuple[int, int]:
    return N - 1 - c, r


def mirror(r: int, c: int) -> tuple[int, int]:
    return r, N - 1 - c


@pytest.mark.parametrize(
    ("k_rot", "flip", "where", "vector"),
    [
        (0, False, lambda r, c: (r, c), (VX, VY)),
        (1, False, quarter_ccw, (VY, -VX)),  # right -> up: vy = -VX
        (2, False, lambda r, c: quarter_ccw(*quarter_ccw(r, c)), (-VX, -VY)),
        (3, False, lambda r, c: quarter_ccw(*quarter_ccw(*quarter_ccw(r, c))), (-VY, VX)),  # right -> down
        (0, True, mirror, (-VX, VY)),
        (1, True, lambda r, c: mirror(*quarter_ccw(r, c)), (-VY, -VX)),  # turn first, then mirror
    ],
)
def test_dihedral_velocity_moves_the_marker_and_turns_its_vector(k_rot, flip, where, vector) -> None:
    out = dihedral_velocity(marker_field(), k_rot, flip)
    expected_pixels = sorted(where(r, c) for r, c in MARKER)
    assert sorted(map(tuple, np.argwhere(np.abs(out).sum(axis=0) > 0).tolist())) == expected_pixels
    for r, c in expected_pixels:
        np.testing.assert_allclose(out[:, r, c], [*vector, VZ], rtol=0, atol=0)


def test_quarter_turn_ccw_of_rightward_motion_points_up() -> None:
    out = dihedral_velocity(marker_field(), 1, False)
    r, c = quarter_ccw(*MARKER[0])
    assert out[1, r, c] < 0 and out[0, r, c] == VY  # up is decreasing row


# ------------------------------------------------------------------------------------ phase dataset

T, SIZE = 6, 16
STEP = np.array([2.0, 1.0])  # marker motion per frame, (columns, rows)
VENC = np.array([100.0, 80.0, 150.0])
SPEED_CM_S = np.array([30.0, 15.0, -20.0])  # any vector parallel to STEP in-plane


def moving_marker_cohort(root: Path) -> Path:
    magnitude = np.zeros((T, SIZE, SIZE), np.float32)
    velocity = np.zeros((T, 3, SIZE, SIZE), np.float32)
    myocardium = np.zeros((T, SIZE, SIZE), np.uint8)
    for t in range(T):
        r0, c0 = 2 + int(STEP[1]) * t, 1 + int(STEP[0]) * t
        block = (slice(r0, r0 + 2), slice(c0, c0 + 3))  # 2 x 3: not symmetric under any turn
        magnitude[t][block] = 1000.0
        myocardium[t][block] = 1
        velocity[t][(slice(None), *block)] = SPEED_CM_S[:, None, None]
    s = SliceData(
        name="mid",
        magnitude=magnitude + 5.0,
        myocardium=myocardium,
        venc_cm_s=VENC,
        pixel_spacing_mm=(1.5, 1.5),
        rr_interval_ms=900.0,
        slice_position="mid",
        velocity=velocity,
        velocity_true=velocity.copy(),
    )
    write_subject(root / "marker.h5", Subject("marker", {"mid": s}))
    return root


def centroid(image) -> np.ndarray:
    """(column, row) centroid of the bright pixels."""
    rows, cols = np.nonzero(np.asarray(image) > 0)
    return np.array([cols.mean(), rows.mean()])


def test_phase_dataset_augmentation_turns_velocity_with_the_motion(tmp_path: Path) -> None:
    root = moving_marker_cohort(tmp_path)
    opt = argparse.Namespace(dataroot=str(root), seed=0, crop_size=0, max_subjects=0, augment=True)
    data = PhaseDataset(opt, "train", window=3)
    assert len(data) == T
    seen = set()
    for epoch in range(6):
        data.set_epoch(epoch)
        for index in range(1, T - 1):  # frames whose neighbours t-1, t+1 do not wrap around the cycle
            sample = data[index]
            mag = sample["magnitude"].numpy()
            displacement = centroid(mag[2]) - centroid(mag[0])  # (columns, rows) over two frames
            # The marker's shape still has two rows and three columns, or three rows and two columns.
            myo = sample["myocardium"].numpy()[0] > 0
            np.testing.assert_array_equal(myo, mag[1] > 0)
            for key in ("velocity", "velocity_true"):
                v = sample[key].numpy() * VENC[:, None, None]  # back to cm/s
                assert not v[:, ~myo].any(), "velocity left behind where the marker was"
                inside = v[:, myo].mean(axis=1)
                # In-plane velocity along the displacement, in proportion: |v| / |STEP| cm/s per pixel.
                scale = np.linalg.norm(SPEED_CM_S[:2]) / np.linalg.norm(STEP)
                np.testing.assert_allclose(inside[:2], displacement / 2 * scale, atol=1e-4)
                assert inside[2] == pytest.approx(SPEED_CM_S[2], abs=1e-4)
            dx, dy = displacement
            seen.add((int(np.sign(dx)), int(np.sign(dy)), bool(abs(dx) > abs(dy))))
    # Every element of the group of the square was drawn: 4 directions x 2 axis orders.
    assert len(seen) == 8
