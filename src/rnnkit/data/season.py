"""Seasonal period detection from the autocorrelation function (ACF).

The series is first differenced (removing trend, which would otherwise dominate the ACF), then
the ACF is computed by FFT. The season is the smallest-lag local ACF peak that is both
significant (above ``threshold`` and the ±2/√T noise band) and close to the strongest peak, so
that a daily cycle (48 half-hours) wins over its weekly multiple (336) when both are strong.

Example:
    >>> detect_season(load_dataset("airline").y)
    12
"""

from __future__ import annotations

import numpy as np

__all__ = ["acf", "detect_season"]


def acf(y: np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocorrelation of a 1-D series for lags ``0..max_lag`` (FFT, biased estimator).

    Args:
        y: ``[T]`` finite values.
        max_lag: largest lag, ``< T``.

    Returns:
        ``[max_lag + 1]`` with ``acf[0] == 1`` (all zeros after lag 0 for a constant series).
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    if not 0 < max_lag < len(y):
        raise ValueError(f"acf: expected 0 < max_lag < {len(y)}, got {max_lag}.")
    y = y - y.mean()
    n = len(y)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(y, size)
    r = np.fft.irfft(f * np.conj(f), size)[: max_lag + 1]
    if r[0] <= 0:
        out = np.zeros(max_lag + 1)
        out[0] = 1.0
        return out
    return r / r[0]


def detect_season(y: np.ndarray, max_lag: int | None = None, threshold: float = 0.2,
                  rel: float = 0.8, diff: bool = True) -> int | None:
    """Estimate the seasonal period of ``y`` in steps, or ``None`` when there is none.

    Args:
        y: ``[T]`` series (a ``[T, 1]`` array is accepted). Needs at least 8 points.
        max_lag: longest period considered (default ``min(T // 2, 800)``).
        threshold: minimum ACF value of an accepted peak.
        rel: a peak within ``rel`` × the highest peak counts as strong; the shortest strong
            peak is returned.
        diff: difference the series once first (recommended for trending series).

    Returns:
        The period (>= 2) or ``None``.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) < 8:
        raise ValueError(f"detect_season: expected a 1-D series of length >= 8, got {y.shape}.")
    if not np.isfinite(y).all():
        raise ValueError("detect_season: expected finite values, got NaN/inf. Fill them first.")
    x = np.diff(y) if diff else y
    max_lag = min(max_lag or len(x) // 2, len(x) // 2, 800) if max_lag is None else min(
        max_lag, len(x) - 1)
    if max_lag < 3:
        return None
    r = acf(x, max_lag)
    band = max(threshold, 2.0 / np.sqrt(len(x)))
    peaks = [k for k in range(2, max_lag) if r[k] > r[k - 1] and r[k] >= r[k + 1] and r[k] > band]
    if not peaks:
        return None
    best = max(r[k] for k in peaks)
    return next(k for k in peaks if r[k] >= rel * best)
