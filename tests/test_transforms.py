"""Dataset transforms: the velocity vector turns with the image, crops stay on the heart."""

from __future__ import annotations

import numpy as np
import pytest

from data.transforms import crop_box, dihedral, dihedral_velocity
from util.errors import DataError
from util.intensity import magnitude_scale, to_unit_range


def rotating_field(n: int = 33, omega: float = 2.0, inflow: float = 1.5) -> np.ndarray:
    """A field about the image centre: rigid rotation (counter-clockwise as displayed) plus inflow."""
    rows, cols = np.mgrid[0:n, 0:n].astype(np.float64)
    dy, dx = rows - n // 2, cols - n // 2
    r = np.hypot(dx, dy) + 1e-9
    # Counter-clockwise tangent as displayed (rows point down): (dy, -dx) / r; inflow: -(dx, dy) / r.
    vx = omega * dy - inflow * dx / r
    vy = -omega * dx - inflow * dy / r
    return np.stack([vx, vy, np.full_like(vx, 3.0)])


def components(field: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = field.shape[-1]
    rows, cols = np.mgrid[0:n, 0:n].astype(np.float64)
    dy, dx = rows - n // 2, cols - n // 2
    r = np.hypot(dx, dy) + 1e-9
    radial_in = -(field[0] * dx + field[1] * dy) / r
    circ = (field[0] * dy - field[1] * dx) / r
    return radial_in, circ


@pytest.mark.parametrize("k_rot", [0, 1, 2, 3])
def test_rotation_keeps_radial_and_circumferential_components(k_rot: int) -> None:
    field = rotating_field()
    out = dihedral_velocity(field, k_rot, flip=False)
    radial0, circ0 = components(field)
    radial1, circ1 = components(out)
    # The field is symmetric about the centre, so its components are the same after a turn.
    np.testing.assert_allclose(radial1, radial0, atol=1e-9)
    np.testing.assert_allclose(circ1, circ0, atol=1e-9)
    np.testing.assert_array_equal(out[2], field[2])


def test_quarter_turn_maps_right_to_up() -> None:
    field = np.zeros((3, 5, 5))
    field[0, 1, 3] = 1.0  # one pixel moving right (vx = +1)
    out = dihedral_velocity(field, 1, flip=False)
    pos = np.argwhere(np.abs(out).sum(axis=0) > 0)
    assert pos.tolist() == [[1, 1]]  # np.rot90 moves (row 1, col 3) to (row 5-1-3, col 1)
    assert out[0, 1, 1] == 0.0 and out[1, 1, 1] == -1.0  # moving up: vy = -1


def test_mirror_reverses_rotation_sense_and_keeps_inflow() -> None:
    field = rotating_field()
    out = dihedral_velocity(field, 0, flip=True)
    radial0, circ0 = components(field)
    radial1, circ1 = components(out)
    np.testing.assert_allclose(radial1, radial0, atol=1e-9)
    np.testing.assert_allclose(circ1, -circ0, atol=1e-9)


def test_dihedral_of_images_matches_numpy() -> None:
    img = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(dihedral(img, 1, False), np.rot90(img))
    np.testing.assert_array_equal(dihedral(img, 2, True), np.rot90(img, 2)[:, ::-1])


def test_crop_box_centres_on_myocardium_and_stays_inside() -> None:
    mask = np.zeros((2, 64, 64), np.uint8)
    mask[:, 40:50, 44:54] = 1
    r0, c0 = crop_box(mask, 32, "x")
    assert (r0, c0) == (28, 32)  # centre (44, 48); the column start is capped at 64 - 32
    mask[:] = 0
    mask[:, 20:30, 20:30] = 1
    assert crop_box(mask, 16, "x") == (16, 16)
    with pytest.raises(DataError, match="--crop_size 80 is larger than the image"):
        crop_box(mask, 80, "file.h5")


def test_magnitude_scale_ignores_hot_pixels() -> None:
    mag = np.full((4, 50, 50), 100.0)
    mag[0, 0, 0] = 1e6
    assert magnitude_scale(mag) == pytest.approx(100.0)
    unit = to_unit_range(mag, magnitude_scale(mag))
    assert unit.max() == 1.0 and unit.dtype == np.float32
