"""Metrics of one synthesised slice against the acquired one (docs/CONVENTIONS.md).

Which frames count:

- magnitude PSNR/SSIM and myocardium Dice: the **non-key frames** only (suffix ``_nonkey``). Key frames
  are copied from the input, so including them would only dilute the difference between methods;
- velocity: **all frames**, since every velocity map is synthesised.

Scales: magnitude on [0, 1] (data range 1), both images divided by the key frames' scale, the scale the
synthesis used; velocity in units of VENC (data range 2); errors in cm/s where the name says so. The
tissue foreground is ``util.tissue.tissue_mask_from_magnitude`` of the acquired frame (the definition the
training losses use, which also exists for data without a ``tissue`` field). The myocardium of the
acquired slice is the region of the velocity error.

Curves: the acquired curves come from the acquired velocity and myocardium; the synthesised ones from
the twin's own velocity and myocardium, with the same septum, so the comparison is end to end (what a
clinician would read from either data set).

Acquired masks on some frames only (``real.labelled_frames``, e.g. key frames only): an unlabelled frame's
all-zero mask means "not segmented", not "no myocardium", so every metric that needs the acquired
myocardium uses the labelled frames only: Dice over the labelled non-key frames (NaN when there are
none, as when only the key frames are labelled), the myocardial velocity errors over the labelled frames,
curve correlation and RMSE over the labelled frames. Peak values and times to peak are NaN: a curve
sampled on a few frames does not show the acquired peak or when it happened. Magnitude and whole-image
velocity metrics do not use the masks and are unchanged.
"""

from __future__ import annotations

import math

import numpy as np

from assessment.analysis import SliceAnalysis
from assessment.metrics import curve_agreement, dice, mean_skipping_nan, psnr_stack_whole_and_masked
from assessment.ssim_stack import (
    SsimReference,
    StackSsim,
    ssim_reference,
    ssim_stack_whole_and_masked,
    stack_ssim,
    zero_ssim,
)
from assessment.velocity import COMPONENTS, DEFAULT_PEAK_WINDOWS
from data.mvm_io import SliceData
from util.conventions import DIRECTIONS, VELOCITY_DATA_RANGE, venc_scale
from util.intensity import to_unit_range
from util.tissue import tissue_mask_from_magnitude

PEAKS = tuple(DEFAULT_PEAK_WINDOWS)


def metric_columns() -> list[str]:
    """Every metric a slice can have, in table order."""
    cols = ["mag_psnr_nonkey", "mag_ssim_nonkey", "mag_psnr_tissue_nonkey", "myo_dice_nonkey"]
    for stat in ("psnr", "psnr_tissue", "ssim", "ssim_tissue"):
        cols += [f"vel_{stat}_{d.removeprefix('v')}" for d in DIRECTIONS]
    cols += ["vel_mae_myo_true_cm_s", "vel_mae_myo_cm_s"]  # the truth first, where there is one
    for c in COMPONENTS:
        cols += [f"curve_{c}_r", f"curve_{c}_rmse_cm_s"]
    cols += [f"peak_err_{c}_{p}_cm_s" for c in COMPONENTS for p in PEAKS]
    cols += [f"ttp_err_{c}_{p}_ms" for c in COMPONENTS for p in PEAKS]
    cols += ["peak_err_mean_cm_s", "ttp_err_mean_frames"]  # over the three components and three peaks
    # stage 2's correction of its prior (a twin that refines one): needs no reference (``ReportBuilder``)
    cols += ["correction_myo_cm_s"]
    return cols


def _tissue(unit: np.ndarray) -> np.ndarray:
    return np.asarray(tissue_mask_from_magnitude(unit), dtype=bool)


def labelled(real: SliceData) -> np.ndarray:
    """Boolean [T]: frames of ``real`` whose acquired masks are real (``SliceData.mask_frames``)."""
    flags = np.zeros(real.num_frames, dtype=bool)
    flags[real.mask_frames()] = True
    return flags


class MyocardialPixels:
    """The velocity error's pixels (the acquired myocardium on its labelled frames, every component) as flat
    indices, and the acquired and true velocities there: a row's error then reads only its own velocity at
    those pixels, in the order of ``assessment.metrics.mae``'s masked pixels, so its value is the same."""

    def __init__(self, real: SliceData) -> None:
        myo = ((real.myocardium != 0) & labelled(real)[:, None, None])[:, None]
        self.pixels = np.flatnonzero(np.broadcast_to(myo, real.velocity.shape))
        self.acquired = self.at(real.velocity)
        self.truth = None if real.velocity_true is None else self.at(real.velocity_true)

    def at(self, velocity: np.ndarray) -> np.ndarray:
        """``velocity`` [T, 3, H, W] at the pixels, as float64."""
        return np.asarray(velocity).reshape(-1)[self.pixels].astype(np.float64)

    def error(self, velocity: np.ndarray, reference: np.ndarray | None) -> float:
        """Mean absolute difference of ``velocity`` from ``reference`` (``at`` values) at the pixels."""
        if reference is None or not reference.size:
            return math.nan
        return float(np.abs(self.at(velocity) - reference).mean())


class VelocityReference:
    """The acquired velocity's side of the scores, which no magnitude scale changes (so the rows of every
    scale share it): the velocity in units of VENC, the reference side of each direction's SSIM, and the
    labelled myocardium's pixels (each made on first use)."""

    def __init__(self, real: SliceData) -> None:
        self.real = real
        self.venc = venc_scale(real.venc_cm_s, dtype=np.float64) if real.velocity is not None else None
        self.velocity = None if self.venc is None else real.velocity / self.venc
        self._ssim: dict[int, SsimReference] = {}
        self._myocardium: MyocardialPixels | None = None

    def ssim_reference(self, direction: int) -> SsimReference:
        """The SSIM reference of the acquired velocity's ``direction`` (0, 1, 2: x, y, z)."""
        if direction not in self._ssim:
            self._ssim[direction] = ssim_reference(self.velocity[:, direction])
        return self._ssim[direction]

    @property
    def myocardium(self) -> MyocardialPixels:
        if self._myocardium is None:
            self._myocardium = MyocardialPixels(self.real)
        return self._myocardium


class SharedReference:
    """What scoring every row of one acquired slice at one magnitude scale shares, computed once rather than
    once per row: the unit-range magnitude and tissue mask of every frame, the magnitude's SSIM reference, the
    :class:`VelocityReference` (given when another scale's rows already made it), and the magnitude metrics of
    each distinct twin cine (the yardstick rows carry the HDL twin's cine and masks: the very same arrays, so
    the same numbers)."""

    def __init__(
        self, real: SliceData, is_key: np.ndarray, scale: float, velocity: VelocityReference | None = None
    ) -> None:
        self.real, self.scale = real, scale
        self.frames = np.flatnonzero(~np.asarray(is_key, dtype=bool))
        self.unit = to_unit_range(real.magnitude, scale)
        self.tissue = _tissue(self.unit)  # frames are independent: a subset's mask is the subset of this one
        self.has_mask = labelled(real)
        self.velocity = velocity if velocity is not None else VelocityReference(real)
        self._magnitude_ssim: SsimReference | None = None
        self._magnitude: dict[tuple[int, int], dict[str, float]] = {}
        #: (a sample of the velocity, the velocity, its metrics) of each row scored at this scale
        self._velocity_rows: list[tuple[np.ndarray, np.ndarray, dict[str, float]]] = []
        #: each direction's SSIM of the row scored last and of a row of zeros: a row that differs from
        #: either only in a box (the yardstick rows are zero outside the twin's myocardium) is mapped there only
        self.last_ssim: list[StackSsim] = []
        self._zero_ssim: dict[int, StackSsim] = {}

    def near_ssim(self, direction: int) -> tuple[StackSsim, ...]:
        """The velocity SSIMs a row's ``direction`` may be scored as a change of (``stack_ssim``'s ``near``)."""
        if direction not in self._zero_ssim:
            target = self.velocity.velocity[:, direction]
            reference = self.velocity.ssim_reference(direction)
            self._zero_ssim[direction] = zero_ssim(target, VELOCITY_DATA_RANGE, self.tissue, reference)
        last = self.last_ssim[direction : direction + 1]
        return (*last, self._zero_ssim[direction])

    def magnitude_ssim_reference(self) -> SsimReference:
        """The SSIM reference of the unit-range magnitude's non-key frames."""
        if self._magnitude_ssim is None:
            self._magnitude_ssim = ssim_reference(self.unit[self.frames])
        return self._magnitude_ssim

    def magnitude_metrics(self, synth: SliceData) -> dict[str, float]:
        key = (id(synth.magnitude), id(synth.myocardium))  # both stay alive while this slice is scored
        if key not in self._magnitude:
            self._magnitude[key] = _magnitude_metrics(self, synth)
        return dict(self._magnitude[key])

    def velocity_metrics(self, synth: SliceData) -> dict[str, float]:
        """:func:`velocity_metrics` of ``synth``, or those of an earlier row with the same velocity (a
        kinematic prior that falls back on the population's is the ``population_bulk`` row): a sample of
        every 8th pixel tells most rows apart before any full comparison."""
        sample = np.asarray(synth.velocity)[..., ::8, ::8]
        for seen, velocity, metrics in self._velocity_rows:
            if np.array_equal(seen, sample) and np.array_equal(velocity, synth.velocity):
                return dict(metrics)
        metrics = _velocity_metrics(self, synth)
        self._velocity_rows.append((sample.copy(), synth.velocity, metrics))
        return dict(metrics)


def _magnitude_metrics(shared: SharedReference, synth: SliceData) -> dict[str, float]:
    frames = shared.frames
    if frames.size == 0:
        return {}
    ref, tissue = shared.unit[frames], shared.tissue[frames]
    out = to_unit_range(synth.magnitude[frames], shared.scale)
    # one pass over the stack (not a call per frame): equal to the per-frame definitions up to float rounding
    psnr, psnr_tissue = psnr_stack_whole_and_masked(out, ref, 1.0, tissue)
    return {
        "mag_psnr_nonkey": mean_skipping_nan(psnr),
        "mag_ssim_nonkey": mean_skipping_nan(
            ssim_stack_whole_and_masked(out, ref, 1.0, reference=shared.magnitude_ssim_reference())[0]
        ),
        "mag_psnr_tissue_nonkey": mean_skipping_nan(psnr_tissue),
        "myo_dice_nonkey": mean_skipping_nan(
            [dice(synth.myocardium[t], shared.real.myocardium[t]) for t in frames if shared.has_mask[t]],
        ),
    }


def magnitude_metrics(
    real: SliceData, synth: SliceData, is_key: np.ndarray, scale: float, shared: SharedReference | None = None
) -> dict[str, float]:
    """PSNR/SSIM (whole image and tissue) of the magnitude and Dice of the myocardium, non-key frames.
    ``shared``: the slice's :class:`SharedReference` when several rows are scored against it."""
    return (shared or SharedReference(real, is_key, scale)).magnitude_metrics(synth)


def velocity_metrics(
    real: SliceData, synth: SliceData, scale: float, shared: SharedReference | None = None
) -> dict[str, float]:
    """Per-direction PSNR/SSIM in units of VENC (whole image and tissue) and myocardial MAE in cm/s."""
    if real.velocity is None:
        return {}
    return (shared or SharedReference(real, np.zeros(real.num_frames, dtype=bool), scale)).velocity_metrics(synth)


def _velocity_metrics(shared: SharedReference, synth: SliceData) -> dict[str, float]:
    acquired, tissue = shared.velocity, shared.tissue
    ref, out = acquired.velocity, synth.velocity / acquired.venc
    result: dict[str, float] = {}
    scored = []
    for d, direction in enumerate(DIRECTIONS):
        name = direction.removeprefix("v")  # columns vel_psnr_x, ...
        r, o = ref[:, d], out[:, d]
        whole, on_tissue = psnr_stack_whole_and_masked(o, r, VELOCITY_DATA_RANGE, tissue)
        result[f"vel_psnr_{name}"] = mean_skipping_nan(whole)
        result[f"vel_psnr_tissue_{name}"] = mean_skipping_nan(on_tissue)
        scored.append(stack_ssim(o, r, VELOCITY_DATA_RANGE, tissue, acquired.ssim_reference(d), shared.near_ssim(d)))
        result[f"vel_ssim_{name}"] = mean_skipping_nan(scored[-1].whole)
        result[f"vel_ssim_tissue_{name}"] = mean_skipping_nan(scored[-1].masked)
    shared.last_ssim = scored
    myocardium = acquired.myocardium
    result["vel_mae_myo_cm_s"] = myocardium.error(synth.velocity, myocardium.acquired)
    result["vel_mae_myo_true_cm_s"] = myocardium.error(synth.velocity, myocardium.truth)
    return result


def curve_metrics(real: SliceAnalysis, synth: SliceAnalysis, has_mask: np.ndarray | None = None) -> dict[str, float]:
    """Correlation and RMSE of the global curves; absolute errors of peaks (cm/s) and times to peak (ms).

    ``has_mask`` [T] (default: every frame) marks the frames whose acquired masks are real: the curves
    are compared on those frames only, and peaks are NaN unless every frame is labelled.
    """
    result: dict[str, float] = {}
    every = has_mask is None or bool(np.all(has_mask))
    for c in COMPONENTS:
        ref = np.asarray(real.curves.global_curves[c], dtype=np.float64)
        if not every:
            ref = np.where(has_mask, ref, np.nan)
        agreement = curve_agreement(synth.curves.global_curves[c], ref)
        result[f"curve_{c}_r"] = agreement["correlation"]
        result[f"curve_{c}_rmse_cm_s"] = agreement["rmse"]
    for c in COMPONENTS:
        for p in PEAKS:
            a = real.peaks[c]["global"][p]
            b = synth.peaks[c]["global"][p]
            result[f"peak_err_{c}_{p}_cm_s"] = abs(float(b["value"]) - float(a["value"])) if every else math.nan
            result[f"ttp_err_{c}_{p}_ms"] = abs(float(b["time_ms"]) - float(a["time_ms"])) if every else math.nan
    frame_ms = float(real.times_ms[1] - real.times_ms[0]) if len(real.times_ms) > 1 else math.nan
    result["peak_err_mean_cm_s"] = mean_skipping_nan([v for k, v in result.items() if k.startswith("peak_err_")])
    ttp = mean_skipping_nan([v for k, v in result.items() if k.startswith("ttp_err_")])
    result["ttp_err_mean_frames"] = ttp / frame_ms
    return result


def slice_metrics(
    real: SliceData,
    synth: SliceData,
    is_key: np.ndarray,
    scale: float,
    real_analysis: SliceAnalysis | None,
    synth_analysis: SliceAnalysis | None,
    shared: SharedReference | None = None,
) -> dict[str, float]:
    """All metrics of one slice; a metric that cannot be computed (no reference velocity) is NaN.

    ``real`` must be the full acquired cine; ``is_key`` [T] marks the key frames; ``scale`` is the
    magnitude scale the synthesis used; ``shared`` the slice's :class:`SharedReference` for that scale, when
    several rows are scored against the same slice.
    """
    shared = shared or SharedReference(real, is_key, scale)
    row = dict.fromkeys(metric_columns(), math.nan)
    row.update(shared.magnitude_metrics(synth))
    row.update(velocity_metrics(real, synth, scale, shared))
    if real_analysis is not None and synth_analysis is not None:
        row.update(curve_metrics(real_analysis, synth_analysis, labelled(real)))
    return row
