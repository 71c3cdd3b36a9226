"""95 % percentile bootstrap intervals over subjects, for one method and for a method against a reference.

Subjects, not slices or segments, are resampled: they are the independent units of a cohort. The
generator is seeded, so an interval is reproducible. A statistic that cannot be computed on a resample
(NaN, e.g. an AUC whose resample holds no abnormal segment) is left out of the percentiles; fewer than two
usable subjects give NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

DEFAULT_RESAMPLES = 2000
DEFAULT_LEVEL = 0.95


def bootstrap_draws(n_subjects: int, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> np.ndarray | None:
    """The resamples every interval of this module uses: int array [n_resamples, n_subjects] of subject
    positions drawn with replacement by a generator seeded with ``seed``; None where no interval can be
    made (fewer than two subjects, no resample). Drawn once, they serve several statistics and their
    paired differences (the same resampled subjects for both)."""
    if n_subjects < 2 or n_resamples < 1:
        return None
    return np.random.default_rng(seed).integers(0, n_subjects, size=(n_resamples, n_subjects))


def resampled_means(values: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """The mean of ``values`` [n_subjects] over each resample of ``draws`` [n_resamples, n] skipping NaN
    (``assessment.metrics.mean_skipping_nan`` row by row; NaN where a resample holds no value), all
    resamples at once. Each row's kept values are packed to the front in draw order and the rows that keep
    equally many are averaged together, so every value is the row-by-row mean's to the last bit."""
    drawn = np.asarray(values, dtype=np.float64)[draws]
    missing = np.isnan(drawn)
    if not missing.any():
        return drawn.mean(axis=1)
    packed = np.take_along_axis(drawn, np.argsort(missing, axis=1, kind="stable"), axis=1)
    kept = (~missing).sum(axis=1)
    means = np.full(len(drawn), math.nan)
    for k in np.unique(kept[kept > 0]):
        rows = kept == k
        means[rows] = np.ascontiguousarray(packed[rows, :k]).mean(axis=1)
    return means


def percentile_interval(values: np.ndarray, level: float = DEFAULT_LEVEL) -> tuple[float, float]:
    """The percentile interval of a statistic's resampled ``values``, the non-finite ones left out (NaN
    when none is left)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be within (0, 1), got {level}")
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan, math.nan
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def bootstrap_batched(
    statistic: Callable[[np.ndarray], np.ndarray],
    n_subjects: int,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of ``statistic(draws)``, which maps every resample at once (``draws``:
    :func:`bootstrap_draws`) to one value per resample.

    Handing over all resamples together lets a statistic share work across them (the detection AUC
    counts segment pairs once, not 2000 times); the draws are those of :func:`bootstrap_statistic`, so
    both give the same interval for the same statistic."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be within (0, 1), got {level}")
    draws = bootstrap_draws(n_subjects, n_resamples, seed)
    if draws is None:
        return math.nan, math.nan
    return percentile_interval(statistic(draws), level)


def bootstrap_statistic(
    statistic: Callable[[np.ndarray], float],
    n_subjects: int,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of ``statistic(indices)`` over resamples of ``n_subjects`` drawn with
    replacement (``indices`` is an int array of subject positions)."""

    def each(draws: np.ndarray) -> np.ndarray:
        return np.array([statistic(idx) for idx in draws], dtype=np.float64)

    return bootstrap_batched(each, n_subjects, n_resamples, level, seed)


def bootstrap_mean_ci(
    values: Sequence[float], n_resamples: int = DEFAULT_RESAMPLES, level: float = DEFAULT_LEVEL, seed: int = 0
) -> tuple[float, float]:
    """Interval of the mean of per-subject values (NaN subjects left out)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return bootstrap_statistic(lambda idx: float(v[idx].mean()), v.size, n_resamples, level, seed)


def paired_difference_ci(
    values: Sequence[float],
    reference: Sequence[float],
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean of ``values - reference`` over subjects (paired: the same subjects) and its interval; subjects
    where either is NaN are left out."""
    a = np.asarray(values, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values differ in length: {a.size} vs {b.size}")
    d = (a - b)[np.isfinite(a) & np.isfinite(b)]
    mean = float(d.mean()) if d.size else math.nan
    low, high = bootstrap_statistic(lambda idx: float(d[idx].mean()), d.size, n_resamples, level, seed)
    return mean, low, high
