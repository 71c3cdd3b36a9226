"""Drawing a phantom slice: static surroundings once, the moving heart at every frame.

Each structure is described by an approximate signed distance to its border (mm, positive inside).
Pixel coverage is ``clip(0.5 + d / pixel, 0, 1)`` (a one-pixel linear ramp: cheap partial-volume
anti-aliasing) and the masks are the sign of ``d`` at the pixel centre, so a mask is exactly the set of
pixel centres that the material region covers at that frame. Intensities (relative to the myocardium)
are painted back to front and blended by coverage. The heart is drawn for all frames at once with numpy
broadcasting over ``[T, H, W]``.

Black-blood contrast: myocardium bright (1.0), RV wall slightly less, chest wall and liver grey, other
mediastinal soft tissue darker grey, subcutaneous and epicardial fat light grey; blood, lung and air
carry no signal at all (their pixels are pure noise in magnitude and phase; ``appearance="wide"`` may give
the blood pools a faint residual signal, ``Scene.intensity_blood``). A smooth multiplicative
coil-sensitivity bias is applied on top.

The heart's structures are drawn in *material* coordinates (``params.Anatomy``): every pixel is mapped
back to the material point that sits there at that frame, and the structure is tested there. So the
papillary muscles, the trabeculated endocardial border, the myocardial signal texture and the
epicardial fat move and deform with the tissue (rotation shows in the magnitude), and the velocity of
each pixel is the velocity of the material drawn in it. Painting order, back to front: surroundings,
epicardial fat, RV wall, RV blood, LV wall, LV blood, LV cavity tissue (trabeculae, papillary muscles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.phantom.motion import SliceMotion, WallState
from data.phantom.params import Anatomy, Scene, SliceParams


@dataclass
class SliceRender:
    """Noise-free rendering of one slice (arrays [T, H, W] unless stated)."""

    signal: np.ndarray  # float32, magnitude without noise, bias applied, myocardium ~ 1
    velocity: np.ndarray  # float32 [T, 3, H, W] cm/s, image axes: velocity of the signal in each pixel
    myocardium: np.ndarray  # bool
    lv_blood: np.ndarray
    rv_blood: np.ndarray
    tissue: np.ndarray  # bool: pixel centre in a signal-bearing tissue
    structures: dict[str, np.ndarray] | None = None  # every mask of ``_masks`` (for figures and tests)


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


def material_texture(waves: list[list[float]], x0: np.ndarray, y0: np.ndarray) -> np.ndarray:
    """Relative signal ``1 + sum a cos(kx x0 + ky y0 + phase)`` at material points (mm), float32."""
    out = np.ones(np.broadcast_shapes(x0.shape, y0.shape), dtype=np.float32)
    for kx, ky, phase, amplitude in waves:
        out += np.float32(amplitude) * np.cos(np.float32(kx) * x0 + np.float32(ky) * y0 + np.float32(phase))
    return out


def _angular_distance(angle: np.ndarray, centre_deg: float) -> np.ndarray:
    """|angle - centre| wrapped into [0, pi] (radians)."""
    return np.abs(np.mod(angle - np.float32(np.deg2rad(centre_deg)) + np.float32(np.pi), np.float32(2 * np.pi)) - np.pi)


def _cavity_tissue_distance(anatomy: Anatomy, st: WallState, endo_ed: float, alpha0: np.ndarray) -> np.ndarray:
    """Material-mm signed distance (positive inside) to the papillary muscles and trabecular layer."""
    x0, y0 = st.rho0 * st.cos_a0, st.rho0 * st.sin_a0
    t = anatomy.trabeculae
    depth = np.full(alpha0.shape, np.float32(t[0]))
    for k, amplitude, phase in zip(t[1::3], t[2::3], t[3::3], strict=True):
        depth += np.float32(amplitude) * np.cos(np.float32(k) * alpha0 + np.float32(phase))
    dist = st.rho0 - (np.float32(endo_ed) - np.maximum(depth, np.float32(0.0)))
    for angle, radius, inset in anatomy.papillary:
        a = np.deg2rad(angle)
        cx, cy = (endo_ed - inset) * np.cos(a), (endo_ed - inset) * np.sin(a)
        dist = np.maximum(dist, np.float32(radius) - np.hypot(x0 - np.float32(cx), y0 - np.float32(cy)))
    return dist


def _fat_distance(anatomy: Anatomy, st: WallState, epi_ed: float, alpha0: np.ndarray) -> np.ndarray:
    """Material-mm signed distance to the epicardial fat: pads of raised-cosine thickness outside the
    end-diastolic epicardium; thinner than 0.5 mm counts as no fat."""
    thickness = np.zeros(alpha0.shape, dtype=np.float32)
    for angle, half_width, peak in anatomy.fat:
        u = np.clip(_angular_distance(alpha0, angle) / np.float32(np.deg2rad(half_width)), 0.0, 1.0)
        thickness += np.float32(peak) * (np.float32(0.5) + np.float32(0.5) * np.cos(np.float32(np.pi) * u))
    return np.minimum(np.float32(epi_ed) + thickness - st.rho0, thickness - np.float32(0.5))


@dataclass
class _HeartFields:
    """Signed distances (image mm, positive inside; [T, H, W]) of the moving structures, the relative
    signal of LV and RV material, and the LV and RV velocity fields ([3, T, H, W], image cm/s)."""

    d: dict[str, np.ndarray]
    lv_texture: np.ndarray
    rv_texture: np.ndarray
    lv_v: np.ndarray
    rv_v: np.ndarray


def _image_velocity(vx: np.ndarray, vy: np.ndarray, vz: np.ndarray) -> tuple[np.ndarray, ...]:
    """Math-frame mm/s (x right, y up) and cm/s through-plane to image cm/s (column, row, z)."""
    return vx * 0.1, vy * -0.1, vz + 0 * vx


def _lv_fields(fields: _HeartFields, motion: SliceMotion, x, y, phi, size: int, spacing_mm: float) -> None:
    """Fill the LV wall, cavity tissue and fat distances, LV texture and velocity inside the LV box."""
    p = motion.params
    rows, cols = _box(motion.centre, motion.lv_extent_mm(), size, spacing_mm)
    st = motion.inverse(x[None, :, cols], y[None, rows, :], phi)
    fields.d["endo"][:, rows, cols] = (st.endo - st.r) * st.scale
    d_epi = (st.epi - st.r) * st.scale
    fields.d["epi"][:, rows, cols] = d_epi
    for comp, value in enumerate(_image_velocity(st.vx, st.vy, st.vz)):
        fields.lv_v[comp, :, rows, cols] = value
    a = p.anatomy
    if a is None:
        return
    alpha0 = np.arctan2(st.sin_a0, st.cos_a0)
    # Image mm per material mm along the radius: cavity map R / R_ED, wall map rho0 / r; times the stretch.
    local = np.where(st.r < st.endo, st.endo / np.float32(p.endo_radius_mm), st.rho0 / np.maximum(st.r, 1e-3))
    local = local * st.scale
    inner = _cavity_tissue_distance(a, st, p.endo_radius_mm, alpha0) * local
    fields.d["inner"][:, rows, cols] = np.minimum(inner, d_epi)
    fields.d["fat"][:, rows, cols] = _fat_distance(a, st, p.epi_radius_mm, alpha0) * local
    fields.lv_texture[:, rows, cols] = material_texture(a.texture, st.rho0 * st.cos_a0, st.rho0 * st.sin_a0)


def _rv_fields(fields: _HeartFields, motion: SliceMotion, x, y, phi, size: int, spacing_mm: float) -> None:
    """Fill the RV cavity and outer-wall distances, RV wall texture and velocity inside the RV box."""
    p = motion.params
    rows, cols = _box(motion.rv_centre, motion.rv_extent_mm(), size, spacing_mm)
    rv = motion.rv_inverse(x[None, :, cols], y[None, rows, :], phi)
    fields.d["rv_cavity"][:, rows, cols] = (rv["cavity"] - rv["u"]) * rv["scale"]
    fields.d["rv_outer"][:, rows, cols] = (rv["outer"] - rv["u"]) * rv["scale"]
    for comp, value in enumerate(_image_velocity(rv["vx"], rv["vy"], rv["vz"] + 0 * rv["u"])):
        fields.rv_v[comp, :, rows, cols] = value
    if p.anatomy is not None:
        mm = np.float32(0.5 * (p.rv_axis_along_mm + p.rv_axis_across_mm)) * rv["u0"] / rv["u"]
        # Shifted by 100 mm so the RV does not repeat the LV's pattern at the insertion points.
        fields.rv_texture[:, rows, cols] = material_texture(p.anatomy.texture, mm * rv["ux"] + 100.0, mm * rv["uy"])


def heart_fields(params: SliceParams, phi: np.ndarray, size: int, spacing_mm: float) -> _HeartFields:
    """Distances, textures and velocities of the moving heart over the cycle.

    The moving structures are evaluated only inside boxes that they never leave (computed from the
    geometry), which keeps the per-frame work to a fraction of the image; outside, the distances are
    far negative (outside everything)."""
    motion = SliceMotion(params)
    x, y = pixel_grid(size, spacing_mm)
    shape = (phi.shape[0], size, size)
    far = np.float32(-1e4)
    names = ("endo", "epi", "inner", "fat", "rv_cavity", "rv_outer")
    fields = _HeartFields(
        d={name: np.full(shape, far, dtype=np.float32) for name in names},
        lv_texture=np.ones(shape, dtype=np.float32),
        rv_texture=np.ones(shape, dtype=np.float32),
        lv_v=np.zeros((3, *shape), dtype=np.float32),
        rv_v=np.zeros((3, *shape), dtype=np.float32),
    )
    _lv_fields(fields, motion, x, y, phi, size, spacing_mm)
    _rv_fields(fields, motion, x, y, phi, size, spacing_mm)
    return fields


def _paint(static: np.ndarray, params: SliceParams, f: _HeartFields, spacing_mm: float) -> np.ndarray:
    """Noise-free signal without bias, painted back to front (see the module docstring)."""

    def blend(base: np.ndarray, value: float | np.ndarray, dist: np.ndarray) -> np.ndarray:
        w = coverage(dist, spacing_mm)
        return base * (1.0 - w) + np.float32(value) * w if np.isscalar(value) else base * (1.0 - w) + value * w

    d = f.d
    signal = static[None].astype(np.float32)
    if params.anatomy is not None:
        signal = blend(signal, params.anatomy.intensity_fat, d["fat"])
    signal = blend(signal, np.float32(params.scene.intensity_rv_wall) * f.rv_texture, d["rv_outer"])
    blood = params.scene.intensity_blood  # 0 (black blood) unless the appearance draws a residue
    signal = blend(signal, blood, d["rv_cavity"])
    signal = blend(signal, f.lv_texture, d["epi"])
    signal = blend(signal, blood, d["endo"])
    return blend(signal, f.lv_texture, d["inner"])


def _masks(static_tissue: np.ndarray, d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Boolean masks [T, H, W] from the signs of the distances at the pixel centres.

    ``myocardium`` is the compact LV wall; the papillary muscles and trabeculae (``lv_cavity_tissue``)
    lie in the cavity, outside it, and ``lv_blood`` is the dark blood pool only; all tissues (wall,
    cavity tissue, RV wall, visible epicardial fat, surroundings) are in ``tissue``."""
    in_epi, in_endo = d["epi"] > 0, d["endo"] > 0
    in_rv_outer, in_rv_cavity = d["rv_outer"] > 0, d["rv_cavity"] > 0
    cavity_tissue = in_endo & (d["inner"] > 0)
    fat = (d["fat"] > 0) & ~in_epi & ~in_rv_outer
    masks = {
        "myocardium": in_epi & ~in_endo,
        "lv_cavity_tissue": cavity_tissue,
        "lv_blood": in_endo & ~cavity_tissue,
        "rv_wall": in_rv_outer & ~in_rv_cavity & ~in_epi,
        "rv_blood": in_rv_cavity & ~in_epi,
        "epicardial_fat": fat,
    }
    static = static_tissue[None] & ~in_epi & ~in_rv_outer & ~(d["fat"] > 0)
    masks["static"] = static
    masks["tissue"] = masks["myocardium"] | cavity_tissue | masks["rv_wall"] | fat | static
    return masks


def _velocity(f: _HeartFields, masks: dict[str, np.ndarray], spacing_mm: float) -> np.ndarray:
    """Velocity of whatever gives the signal in each pixel [T, 3, H, W]: painted back to front like the
    signal, each structure claiming the pixels within one pixel of it (its partial-volume border);
    static tissue stays at zero."""
    d = f.d
    frames = d["epi"].shape[0]
    velocity = np.zeros((frames, 3, *d["epi"].shape[1:]), dtype=np.float32)
    claims = (
        (d["fat"] > -spacing_mm, f.lv_v),
        ((d["rv_outer"] > -spacing_mm) & (d["rv_cavity"] < spacing_mm), f.rv_v),
        (d["epi"] > -spacing_mm, f.lv_v),
    )
    moving = ~masks["static"]
    for near, field in claims:
        sel = near & moving
        for comp in range(3):
            velocity[:, comp][sel] = field[comp][sel]
    return velocity


def render_slice(params: SliceParams, frames: int, size: int, spacing_mm: float) -> SliceRender:
    """Draw one slice over the cycle: noise-free signal, velocities and masks."""
    x, y = pixel_grid(size, spacing_mm)
    static, static_tissue, bias = render_scene(params.scene, params.centre_mm, x, y, spacing_mm)
    phi = (np.arange(frames) / frames)[:, None, None]
    fields = heart_fields(params, phi, size, spacing_mm)
    signal = _paint(static, params, fields, spacing_mm)
    masks = _masks(static_tissue, fields.d)
    velocity = _velocity(fields, masks, spacing_mm)
    # Coil sensitivity normalised to 1 on average over the end-diastolic myocardium, so that the SNR
    # parameter is the myocardial SNR.
    bias = (bias / bias[masks["myocardium"][0]].mean()).astype(np.float32)
    return SliceRender(
        signal=signal * bias[None],
        velocity=velocity,
        myocardium=masks["myocardium"],
        lv_blood=masks["lv_blood"],
        rv_blood=masks["rv_blood"],
        tissue=masks["tissue"],
        structures=masks,
    )
