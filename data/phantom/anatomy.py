"""Drawing a phantom slice: static surroundings once, the moving heart at every frame.

Each structure is described by an approximate signed distance to its border (mm, positive inside).
Pixel coverage is ``clip(0.5 + d / pixel, 0, 1)`` (a one-pixel linear ramp: cheap partial-volume
anti-aliasing) and the masks are the sign of ``d`` at the pixel centre, so a mask is exactly the set of
pixel centres that the material region covers at that frame. Intensities (relative to the myocardium)
are painted back to front and blended by coverage. The heart is drawn for all frames at once with numpy
broadcasting over ``[T, H, W]``.

Black-blood contrast: myocardium bright (1.0), RV wall slightly less, chest wall and liver grey, other
mediastinal soft tissue darker grey,
subcutaneous fat light grey; blood, lung and air carry no signal at all (their pixels are pure
noise in magnitude and phase). A smooth multiplicative coil-sensitivity bias is applied on top.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.phantom.motion import SliceMotion
from data.phantom.params import Scene, SliceParams


@dataclass
class SliceRender:
    """Noise-free rendering of one slice (arrays [T, H, W] unless stated)."""

    signal: np.ndarray  # float32, magnitude without noise, bias applied, myocardium ~ 1
    velocity: np.ndarray  # float32 [T, 3, H, W] cm/s, image axes: velocity of the signal in each pixel
    myocardium: np.ndarray  # bool
    lv_blood: np.ndarray
    rv_blood: np.ndarray
    tissue: np.ndarray  # bool: pixel centre in a signal-bearing tissue


def pixel_grid(size: int, spacing_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (mm) in the math frame: x along columns, y up (against rows), origin
    at the image centre. Returns ``x`` [1, W] and ``y`` [H, 1] for broadcasting."""
    c = (np.arange(size) - (size - 1) / 2.0) * spacing_mm
    return c[None, :], -c[:, None]


def coverage(distance_mm: np.ndarray, spacing_mm: float) -> np.ndarray:
    """Partial-volume fraction of a pixel from the signed distance of its centre to a border."""
    return np.clip(0.5 + distance_mm / spacing_mm, 0.0, 1.0)


def _blob_distance(sx: np.ndarray, sy: np.ndarray, blob: list[float]) -> np.ndarray:
    """Signed distance (approx., mm) to a smooth blob: an ellipse with two radial harmonics."""
    cx, cy, ax, ay, tilt, a2, p2, a3, p3 = blob
    t = np.deg2rad(tilt)
    u = (sx - cx) * np.cos(t) + (sy - cy) * np.sin(t)
    v = -(sx - cx) * np.sin(t) + (sy - cy) * np.cos(t)
    rho = np.hypot(u / ax, v / ay)
    ang = np.arctan2(v / ay, u / ax)
    border = 1.0 + a2 * np.cos(2 * ang + p2) + a3 * np.cos(3 * ang + p3)
    return (border - rho) * 0.5 * (ax + ay)


def render_scene(
    scene: Scene, centre_mm: list[float], x: np.ndarray, y: np.ndarray, spacing_mm: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Static surroundings: intensity [H, W], tissue mask [H, W] and the bias field [H, W]."""
    a = np.deg2rad(scene.angle_deg)
    dx, dy = x - centre_mm[0], y - centre_mm[1]
    sx = dx * np.cos(a) + dy * np.sin(a)
    sy = -dx * np.sin(a) + dy * np.cos(a)
    skin = scene.skin_distance_mm - sx**2 / (2.0 * scene.skin_curvature_mm)
    d_body = skin - sy
    d_chest = np.minimum(d_body, sy - (skin - scene.chest_wall_mm))
    d_lungs = np.maximum(_blob_distance(sx, sy, scene.lung_left), _blob_distance(sx, sy, scene.lung_right))
    d_liver = _blob_distance(sx, sy, scene.liver)
    ax, ay, ar = scene.aorta
    d_aorta = ar - np.hypot(sx - ax, sy - ay)

    def blend(base: np.ndarray, value: float, dist: np.ndarray) -> np.ndarray:
        w = coverage(dist, spacing_mm)
        return base * (1.0 - w) + value * w

    intensity = blend(np.zeros(np.broadcast_shapes(x.shape, y.shape)), scene.intensity_soft, d_body)
    intensity = blend(intensity, scene.intensity_liver, np.minimum(d_liver, d_body))
    intensity = blend(intensity, 0.0, d_lungs)
    intensity = blend(intensity, 0.0, d_aorta)
    intensity = blend(intensity, scene.intensity_chest_wall, d_chest)
    intensity = blend(intensity, scene.intensity_fat, np.minimum(d_body, sy - (skin - scene.fat_mm)))
    tissue = (d_body > 0) & (((d_lungs <= 0) & (d_aorta <= 0)) | (d_chest > 0))
    half_fov = np.max(np.abs(x))
    xn, yn = x / half_fov, y / half_fov
    b = scene.bias
    bias = np.exp(b[0] * xn + b[1] * yn + b[2] * (xn**2 + yn**2) + b[3] * xn * yn)
    return intensity, tissue, bias


def _box(centre_mm: np.ndarray, half_mm: float, size: int, spacing_mm: float) -> tuple[slice, slice]:
    """Rows and columns of the pixels within ``half_mm`` (plus a 2-pixel margin) of a point."""
    col = centre_mm[0] / spacing_mm + (size - 1) / 2.0
    row = -centre_mm[1] / spacing_mm + (size - 1) / 2.0
    half = half_mm / spacing_mm + 2.0

    def span(c: float) -> slice:
        lo = int(np.clip(np.floor(c - half), 0, size))
        hi = int(np.clip(np.ceil(c + half) + 1, 0, size))
        return slice(lo, hi)

    return span(row), span(col)


def render_slice(params: SliceParams, frames: int, size: int, spacing_mm: float) -> SliceRender:
    """Draw one slice over the cycle: noise-free signal, velocities and masks.

    The moving structures are evaluated only inside boxes that they never leave (computed from the
    geometry), which keeps the per-frame work to a fraction of the image.
    """
    motion = SliceMotion(params)
    x, y = pixel_grid(size, spacing_mm)
    static, static_tissue, bias = render_scene(params.scene, params.centre_mm, x, y, spacing_mm)
    phi = (np.arange(frames) / frames)[:, None, None]
    shape = (frames, size, size)
    far = np.float32(-1e4)  # signed distance outside the evaluated boxes: far outside

    # LV wall: signed distances to endo- and epicardium and the wall velocity.
    d_endo, d_epi = np.full(shape, far), np.full(shape, far)
    lv_v = np.zeros((3, *shape), dtype=np.float32)
    rows, cols = _box(motion.centre, motion.lv_extent_mm(), size, spacing_mm)
    lv = motion.inverse(x[None, :, cols], y[None, rows, :], phi)
    d_endo[:, rows, cols] = (lv.endo - lv.r) * lv.scale
    d_epi[:, rows, cols] = (lv.epi - lv.r) * lv.scale
    for comp, value in enumerate((lv.vx * 0.1, lv.vy * -0.1, lv.vz)):  # math frame mm/s -> image cm/s
        lv_v[comp, :, rows, cols] = value

    # RV: cavity ellipse and free wall.
    d_rv_cavity, d_rv_outer = np.full(shape, far), np.full(shape, far)
    rv_v = np.zeros((3, *shape), dtype=np.float32)
    rows, cols = _box(motion.rv_centre, motion.rv_extent_mm(), size, spacing_mm)
    rv = motion.rv_inverse(x[None, :, cols], y[None, rows, :], phi)
    d_rv_cavity[:, rows, cols] = (rv["cavity"][:, :, :] - rv["u"]) * rv["scale"]
    d_rv_outer[:, rows, cols] = (rv["outer"] - rv["u"]) * rv["scale"]
    for comp, value in enumerate((rv["vx"] * 0.1, rv["vy"] * -0.1, rv["vz"] + 0 * rv["u"])):
        rv_v[comp, :, rows, cols] = value

    def blend(base: np.ndarray, value: float, dist: np.ndarray) -> np.ndarray:
        w = coverage(dist, spacing_mm)
        return base * (1.0 - w) + np.float32(value) * w

    signal = blend(static[None].astype(np.float32), params.scene.intensity_rv_wall, d_rv_outer)
    signal = blend(signal, 0.0, d_rv_cavity)
    signal = blend(signal, 1.0, d_epi)
    signal = blend(signal, 0.0, d_endo)

    in_epi, in_endo = d_epi > 0, d_endo > 0
    in_rv_outer, in_rv_cavity = d_rv_outer > 0, d_rv_cavity > 0
    myocardium = in_epi & ~in_endo
    rv_wall = in_rv_outer & ~in_rv_cavity & ~in_epi
    rv_blood = in_rv_cavity & ~in_epi
    tissue = myocardium | rv_wall | (static_tissue[None] & ~in_epi & ~in_rv_outer)

    # Velocity of whatever gives the signal: LV wall near the LV (including partial-volume pixels on
    # either side of its borders), RV wall near the RV, static tissue elsewhere (zero).
    near_lv = (d_epi > -spacing_mm) & (d_endo < spacing_mm)
    near_rv = (d_rv_outer > -spacing_mm) & (d_rv_cavity < spacing_mm) & ~near_lv
    moving = ~(tissue & ~myocardium & ~rv_wall)
    velocity = np.zeros((frames, 3, size, size), dtype=np.float32)
    for comp in range(3):
        v = velocity[:, comp]
        sel = near_lv & moving
        v[sel] = lv_v[comp][sel]
        sel = near_rv & moving
        v[sel] = rv_v[comp][sel]

    # Coil sensitivity normalised to 1 on average over the end-diastolic myocardium, so that the SNR
    # parameter is the myocardial SNR.
    bias = (bias / bias[myocardium[0]].mean()).astype(np.float32)
    return SliceRender(
        signal=signal * bias[None],
        velocity=velocity,
        myocardium=myocardium,
        lv_blood=in_endo,
        rv_blood=rv_blood,
        tissue=tissue,
    )
