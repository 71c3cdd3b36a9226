"""Image and curve metrics used to compare synthesised data with the acquired (or phantom) reference.

Definitions follow scikit-image's reference implementations so that numbers are comparable with the
literature (and with the HDL paper, which used them):

- PSNR = 10 * log10(data_range**2 / MSE), with the data range always stated by the caller (1 for
  magnitude on the [0, 1] scale, 2 for velocity in units of VENC, see docs/CONVENTIONS.md). Guessing the
  range from the dtype, as scikit-image does when it is omitted, silently changes the numbers.
- SSIM is scikit-image's ``structural_similarity`` with its defaults (7x7 uniform window, sample
  covariance, K1 = 0.01, K2 = 0.03).

Choices that are not in the reference definitions:

- A perfect match has MSE 0 and PSNR ``inf``. It is returned as ``inf`` rather than capped at some
  large number: a cap would be an arbitrary value that averages like a real one, whereas ``inf`` is
  visibly special in a table.
- A mask restricts a metric to its pixels (the tissue foreground, the myocardium). An empty mask gives
  ``nan`` (there is nothing to measure), never an error, so that one empty frame does not abort an
  evaluation; the frame-stack helpers skip such frames.
- Masks are binary: any non-zero value is foreground.

The torch variants compute the same PSNR and Dice per sample on the device during training-time
validation, without a round trip to numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from skimage.metrics import structural_similarity

# scikit-image's default SSIM window; its map is unreliable within (win_size - 1) // 2 pixels of the
# border (the filters see reflected padding there), which is why the reference mean leaves that band out.
SSIM_WIN_SIZE = 7
SSIM_PAD = (SSIM_WIN_SIZE - 1) // 2


# ----------------------------------------------------------------------------------------------- helpers
def check_pair(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as float64 (integer data would overflow when subtracted) with equal shapes."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {pred.shape} vs {target.shape}")
    return pred, target


def check_range(data_range: float) -> float:
    data_range = float(data_range)
    if not math.isfinite(data_range) or data_range <= 0:
        raise ValueError(f"data_range must be a positive finite number, got {data_range}")
    return data_range


def mask_like(mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """A boolean mask broadcast to ``shape`` (so one [H, W] mask can serve a [T, H, W] stack)."""
    if mask is None:
        return None
    mask = np.asarray(mask) != 0
    try:
        return np.broadcast_to(mask, shape)
    except ValueError as err:
        raise ValueError(f"mask of shape {mask.shape} does not broadcast to {shape}") from err


def _psnr_from_mse(mse: float, data_range: float) -> float:
    if math.isnan(mse):
        return math.nan
    if mse == 0.0:
        return math.inf
    return float(10.0 * np.log10(data_range**2 / mse))


def _frame_masks(mask: np.ndarray | None, shape: tuple[int, ...]) -> list[np.ndarray | None]:
    """One mask per frame of a [T, H, W] stack: a [T, H, W] mask, one shared [H, W] mask, or none."""
    if len(shape) != 3:
        raise ValueError(f"expected a [T, H, W] stack, got shape {shape}")
    full = mask_like(mask, shape)
    return [None if full is None else full[t] for t in range(shape[0])]


def add_skill_scores(rows: Sequence[dict], error: str, true_error: str, column: str, zero_method: str = "zero") -> None:
    """Set ``row[column] = 1 - E / E(zero)`` on every row of a metrics table, ``E`` being the ``true_error``
    column (against a noise-free truth) where the ``zero_method`` row has it, else the ``error`` column.

    The skill of a still heart is 0 and of a perfect model 1; NaN without a zero row or an error.
    """
    zero = next((r for r in rows if r.get("method") == zero_method), None)
    name = true_error if zero is not None and math.isfinite(float(zero.get(true_error, math.nan))) else error
    reference = math.nan if zero is None else float(zero.get(name, math.nan))
    for row in rows:
        row[column] = 1.0 - float(row.get(name, math.nan)) / reference if reference > 0 else math.nan


def mean_skipping_nan(values: Sequence[float] | np.ndarray) -> float:
    """Mean of per-frame (or per-slice) values, skipping those without a value (NaN: an empty mask); NaN
    when none has one.

    ``inf`` frames (perfect matches) are kept, so a stack of perfect frames averages to ``inf``.
    """
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if arr.size else math.nan


# -------------------------------------------------------------------------------------------- image metrics
def psnr(pred: np.ndarray, target: np.ndarray, data_range: float, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB.

    Without a mask it equals ``skimage.metrics.peak_signal_noise_ratio(target, pred, data_range=...)``;
    with one, the MSE is taken over the masked pixels only (``mask`` broadcasts to the image shape).
    Returns ``inf`` for a perfect match and ``nan`` for an empty mask.
    """
    pred, target = check_pair(pred, target)
    data_range = check_range(data_range)
    sq = (pred - target) ** 2
    m = mask_like(mask, sq.shape)
    if m is None:
        mse = float(sq.mean()) if sq.size else math.nan
    else:
        n = int(m.sum())
        mse = float(sq[m].sum() / n) if n else math.nan
    return _psnr_from_mse(mse, data_range)


def ssim(pred: np.ndarray, target: np.ndarray, data_range: float, mask: np.ndarray | None = None) -> float:
    """Structural similarity of two 2-D images (scikit-image's definition and defaults).

    Without a mask it equals ``skimage.metrics.structural_similarity(target, pred, data_range=...)``.
    With a mask it is the mean of the full SSIM map over the masked pixels, leaving out the same
    border band that the reference mean leaves out, so that an all-true mask gives exactly the unmasked
    value. Returns ``nan`` when no masked pixel is left.
    """
    whole, masked = ssim_whole_and_masked(pred, target, data_range, mask)
    return whole if mask is None else masked


def ssim_whole_and_masked(
    pred: np.ndarray, target: np.ndarray, data_range: float, mask: np.ndarray | None
) -> tuple[float, float]:
    """``(ssim(pred, target, data_range), ssim(pred, target, data_range, mask))`` from one SSIM map: the
    tables report both, and the map is the cost. The masked value is NaN when ``mask`` is None."""
    pred, target = check_pair(pred, target)
    data_range = check_range(data_range)
    if pred.ndim != 2:
        raise ValueError(f"ssim expects 2-D images, got shape {pred.shape}")
    if min(pred.shape) < SSIM_WIN_SIZE:
        raise ValueError(f"ssim needs images of at least {SSIM_WIN_SIZE}x{SSIM_WIN_SIZE}, got {pred.shape}")
    mean, smap = structural_similarity(target, pred, data_range=data_range, full=True)
    m = mask_like(mask, pred.shape)
    if m is None:
        return float(mean), math.nan
    p = SSIM_PAD
    inner = m[p : pred.shape[0] - p, p : pred.shape[1] - p]
    values = smap[p : pred.shape[0] - p, p : pred.shape[1] - p][inner]
    return float(mean), float(values.mean(dtype=np.float64)) if values.size else math.nan


def _frame_mse(sq: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Per-frame mean of a [T, H, W] squared error, over the masked pixels when ``mask`` (boolean, the
    error's shape) is given: NaN for a frame whose mask is empty."""
    if mask is None:
        return sq.mean(axis=(1, 2))
    n = mask.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(mask, sq, 0.0).sum(axis=(1, 2)) / np.maximum(n, 1), np.nan)


def psnr_stack(pred: np.ndarray, target: np.ndarray, data_range: float, mask: np.ndarray | None = None) -> np.ndarray:
    """Per-frame :func:`psnr` of a [T, H, W] stack in one pass, as an array [T] (``mask`` [T, H, W] or
    [H, W]; NaN for a frame whose mask is empty). Equal to the per-frame calls up to float rounding (the
    sums run in another order)."""
    return psnr_stack_whole_and_masked(pred, target, data_range, mask)[1 if mask is not None else 0]


def psnr_stack_whole_and_masked(
    pred: np.ndarray, target: np.ndarray, data_range: float, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """``(psnr_stack(pred, target, data_range), psnr_stack(pred, target, data_range, mask))`` from one squared
    error: the tables report both. The masked one is all NaN when ``mask`` is None."""
    pred, target = check_pair(pred, target)
    data_range = check_range(data_range)
    if pred.ndim != 3:
        raise ValueError(f"expected a [T, H, W] stack, got shape {pred.shape}")
    sq = (pred - target) ** 2
    whole = np.array([_psnr_from_mse(float(v), data_range) for v in _frame_mse(sq, None)])
    if mask is None:
        return whole, np.full(whole.shape, math.nan)
    masked = _frame_mse(sq, mask_like(mask, sq.shape))
    return whole, np.array([_psnr_from_mse(float(v), data_range) for v in masked])


def psnr_frames(pred: np.ndarray, target: np.ndarray, data_range: float, mask: np.ndarray | None = None) -> float:
    """Mean over frames of the per-frame PSNR of a [T, H, W] stack.

    Per-frame (not pooled) PSNR, as in frame-interpolation papers: every frame counts equally whatever
    its error. ``mask`` is [T, H, W] (one mask per frame) or [H, W] (shared). Frames with an empty mask
    are skipped; ``inf`` frames make the mean ``inf``.
    """
    pred, target = check_pair(pred, target)
    masks = _frame_masks(mask, pred.shape)
    return mean_skipping_nan([psnr(pred[t], target[t], data_range, masks[t]) for t in range(pred.shape[0])])


def ssim_frames(pred: np.ndarray, target: np.ndarray, data_range: float, mask: np.ndarray | None = None) -> float:
    """Mean over frames of the per-frame SSIM of a [T, H, W] stack (masks as in :func:`psnr_frames`)."""
    pred, target = check_pair(pred, target)
    masks = _frame_masks(mask, pred.shape)
    return mean_skipping_nan([ssim(pred[t], target[t], data_range, masks[t]) for t in range(pred.shape[0])])


def dice(pred_mask: np.ndarray, true_mask: np.ndarray) -> float:
    """Dice overlap 2|A & B| / (|A| + |B|) of two binary masks (non-zero = foreground).

    Two empty masks agree perfectly and give 1.0 (a frame where the structure is correctly absent must
    not count as a failure).
    """
    a = np.asarray(pred_mask) != 0
    b = np.asarray(true_mask) != 0
    if a.shape != b.shape:
        raise ValueError(f"mask shapes differ: {a.shape} vs {b.shape}")
    total = int(a.sum()) + int(b.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(a, b).sum()) / total


def mae(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute error over the masked pixels (whole array without a mask), in the data's units.

    Used for the velocity error in cm/s inside the myocardium. ``mask`` broadcasts to the data's shape:
    [H, W] for a [3, H, W] velocity frame, [T, 1, H, W] for a [T, 3, H, W] stack. ``nan`` for an empty
    mask.
    """
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {pred.shape} vs {target.shape}")
    m = mask_like(mask, pred.shape)
    if m is not None:  # the masked pixels first (a myocardium is a few % of the image), in the same order
        pred, target = pred[m], target[m]
    values = np.abs(pred.astype(np.float64) - target.astype(np.float64))
    return float(values.mean()) if values.size else math.nan


# -------------------------------------------------------------------------------------------- curve metrics
def curve_agreement(pred_curve: np.ndarray, true_curve: np.ndarray) -> dict[str, float]:
    """Pearson correlation and RMSE between two velocity-time curves of equal length.

    Samples where either curve is NaN (a frame without myocardium) are left out. The correlation of a
    constant curve is undefined and reported as ``nan`` (without a runtime warning); the RMSE is still
    given. Fewer than two valid samples give ``nan`` correlation.
    """
    p = np.asarray(pred_curve, dtype=np.float64).ravel()
    t = np.asarray(true_curve, dtype=np.float64).ravel()
    if p.shape != t.shape:
        raise ValueError(f"curve lengths differ: {p.size} vs {t.size}")
    valid = np.isfinite(p) & np.isfinite(t)
    p, t = p[valid], t[valid]
    if p.size == 0:
        return {"correlation": math.nan, "rmse": math.nan}
    rmse = float(np.sqrt(np.mean((p - t) ** 2)))
    dp, dt = p - p.mean(), t - t.mean()
    denom = float(np.sqrt(np.sum(dp**2) * np.sum(dt**2)))
    correlation = float(np.sum(dp * dt) / denom) if p.size > 1 and denom > 0 else math.nan
    return {"correlation": correlation, "rmse": rmse}


# ---------------------------------------------------------------------------------------------- torch
@torch.no_grad()
def psnr_torch(
    pred: torch.Tensor, target: torch.Tensor, data_range: float, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-sample PSNR (dB) of a batch [B, ...], same definition as :func:`psnr`.

    ``mask`` broadcasts to ``pred`` (e.g. [B, 1, H, W] for [B, C, H, W]). Returns a float tensor [B]
    on the input's device: ``inf`` for a perfect sample, ``nan`` for an empty mask. Computed in at
    least float32 so that half-precision outputs do not lose the small errors PSNR is sensitive to.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
    data_range = check_range(data_range)
    dtype = torch.promote_types(pred.dtype, torch.float32)
    sq = (pred.to(dtype) - target.to(dtype)) ** 2
    weights = torch.ones_like(sq) if mask is None else (mask != 0).to(dtype).expand_as(sq)
    dims = tuple(range(1, sq.ndim))
    mse = (sq * weights).sum(dim=dims) / weights.sum(dim=dims)
    # mse == 0 gives log10(inf) = inf, an empty mask gives 0/0 = nan: the numpy conventions.
    return 10.0 * torch.log10(data_range**2 / mse)


@torch.no_grad()
def dice_torch(pred_bin: torch.Tensor, target_bin: torch.Tensor) -> torch.Tensor:
    """Per-sample Dice of binary masks [B, ...] (non-zero = foreground); 1.0 where both are empty."""
    if pred_bin.shape != target_bin.shape:
        raise ValueError(f"mask shapes differ: {tuple(pred_bin.shape)} vs {tuple(target_bin.shape)}")
    # float32 counts are exact up to 2**24 foreground pixels per sample, far above any image here.
    a = (pred_bin != 0).flatten(1).to(torch.float32)
    b = (target_bin != 0).flatten(1).to(torch.float32)
    total = a.sum(dim=1) + b.sum(dim=1)
    overlap = (a * b).sum(dim=1)
    return torch.where(total > 0, 2.0 * overlap / total.clamp(min=1.0), torch.ones_like(total))
