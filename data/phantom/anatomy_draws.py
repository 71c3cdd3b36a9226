"""Drawing what a slice looks like, apart from its motion: the surroundings (chest wall, lungs, liver,
aorta; grey levels and coil bias), the papillary muscles and trabeculae inside the wall, and the tissue
texture, over the ranges of the subject's ``appearance`` (``variety.APPEARANCE_RANGES``)."""

from __future__ import annotations

import numpy as np

from data.phantom.motion import SliceMotion
from data.phantom.params import Anatomy, Scene, SliceParams
from data.phantom.variety import (
    APPEARANCE_RANGES,
)
from data.phantom.variety import uniform as _u


def draw_scene(rng: np.random.Generator, position: str, angle_deg: float, appearance: str = "reference") -> Scene:
    """Surroundings: anterior chest wall and air above, lungs left and right, liver below, aorta; grey
    levels and coil bias over the ranges of ``appearance`` (``variety.APPEARANCE_RANGES``)."""
    look = APPEARANCE_RANGES[appearance]
    bias = look["bias"][0]
    liver_shift = {"basal": -10.0, "mid": 0.0, "apical": 10.0}[position]

    def blob(cx: float, cy: float, ax: float, ay: float) -> list[float]:
        return [
            cx + _u(rng, -8, 8),
            cy + _u(rng, -8, 8),
            ax * _u(rng, 0.9, 1.1),
            ay * _u(rng, 0.9, 1.1),
            _u(rng, -15, 15),
            _u(rng, 0.0, 0.06),
            _u(rng, 0, 2 * np.pi),
            _u(rng, 0.0, 0.04),
            _u(rng, 0, 2 * np.pi),
        ]

    return Scene(
        angle_deg=angle_deg,
        skin_distance_mm=_u(rng, 68.0, 85.0),
        skin_curvature_mm=_u(rng, 150.0, 260.0),
        chest_wall_mm=_u(rng, 14.0, 24.0),
        fat_mm=_u(rng, 4.0, 9.0),
        lung_left=blob(82.0, 5.0, 45.0, 75.0),
        lung_right=blob(-105.0, 12.0, 45.0, 70.0),
        liver=blob(-45.0, -88.0 + liver_shift, 85.0, 45.0),
        aorta=[_u(rng, 15.0, 30.0), _u(rng, -68.0, -58.0), _u(rng, 9.0, 12.0)],
        intensity_chest_wall=_u(rng, *look["chest_wall"]),
        intensity_fat=_u(rng, *look["fat"]),
        intensity_liver=_u(rng, *look["liver"]),
        intensity_soft=_u(rng, *look["soft"]),
        intensity_rv_wall=_u(rng, *look["rv_wall"]),
        bias=[
            _u(rng, -0.2 * bias, 0.2 * bias),
            _u(rng, -0.2 * bias, 0.2 * bias),
            _u(rng, -0.15 * bias, 0.05 * bias),
            _u(rng, -0.1 * bias, 0.1 * bias),
        ],
    )


#: Papillary muscle radius (mm) per slice position: largest at mid-ventricle where the muscles arise,
#: smaller at the base (towards the chordae), small or absent at the apex.
PAPILLARY_RADIUS_MM = {"basal": (3.5, 5.0), "mid": (4.5, 6.5), "apical": (1.5, 3.0)}
#: Mean depth (mm) of the trabecular layer inside the compact wall: deeper towards the apex.
TRABECULAR_DEPTH_MM = {"basal": (0.5, 1.0), "mid": (0.8, 1.4), "apical": (1.0, 1.8)}


def draw_anatomy(
    rng: np.random.Generator, params: SliceParams, texture: list[list[float]], appearance: str = "reference"
) -> Anatomy:
    """Papillary muscles, trabeculae and epicardial fat of one slice, in material coordinates.

    Papillary muscles (counter-clockwise angles from the septum S, seen from the apex): the
    anterolateral one ~145 degrees clockwise of the septum (upper right in the standard view, septum on
    the left), the posteromedial one ~100 degrees counter-clockwise (lower middle). Each is a disc
    whose centre lies inside the endocardium by less than its radius, so it joins the wall.
    """
    position, septum = params.slice_position, params.septum_deg
    look = APPEARANCE_RANGES[appearance]
    papillary = []
    lo, hi = PAPILLARY_RADIUS_MM[position]
    lo, hi = lo * look["papillary"][0], hi * look["papillary"][1]
    for offset in (-145.0, 100.0):  # anterolateral, posteromedial
        radius = _u(rng, lo, hi)
        present = position != "apical" or rng.random() < 0.6
        if present:
            papillary.append([septum + offset + _u(rng, -10.0, 10.0), radius, radius * _u(rng, 0.3, 0.5)])
    lo, hi = TRABECULAR_DEPTH_MM[position]
    trabeculae = [_u(rng, lo * look["trabecular"][0], hi * look["trabecular"][1])]
    for k in rng.choice(np.arange(5, 25), size=6, replace=False):
        trabeculae += [float(k), _u(rng, 0.4, 0.9), _u(rng, 0.0, 2 * np.pi)]
    insertion = SliceMotion(params).rv_insertion_deg()
    fat = [[angle, _u(rng, 15.0, 30.0), _u(rng, 2.5, 5.0)] for angle in insertion]
    fat.append([septum + 180.0 + _u(rng, -30.0, 30.0), _u(rng, 40.0, 70.0), _u(rng, 0.0, 2.0)])  # AV groove
    return Anatomy(
        papillary=papillary,
        trabeculae=trabeculae,
        texture=texture,
        fat=fat,
        insertion_deg=insertion,
        intensity_fat=_u(rng, *look["epicardial_fat"]),
    )


def draw_texture(rng: np.random.Generator, appearance: str = "reference") -> list[list[float]]:
    """Smooth random myocardial signal texture: 8 plane waves of wavelength 5-14 mm in random
    directions, total RMS 3-5 % of the signal (a per-subject draw, shared by the slices); ``wide``
    appearance: wavelength 3-25 mm, RMS 0-12 %."""
    look = APPEARANCE_RANGES[appearance]
    rms = _u(rng, *look["texture_rms"])
    waves = []
    for _ in range(8):
        k = 2 * np.pi / _u(rng, *look["wavelength"])
        direction = _u(rng, 0.0, 2 * np.pi)
        waves.append([k * np.cos(direction), k * np.sin(direction), _u(rng, 0.0, 2 * np.pi), rms * np.sqrt(2.0 / 8)])
    return [[float(v) for v in w] for w in waves]
