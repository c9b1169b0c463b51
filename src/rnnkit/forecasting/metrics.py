"""Forecast accuracy with the M4 competition's definitions, per series and over a set.

Per series (``y [H]`` test, ``f [H]`` forecast, ``x [T]`` training part, season ``m``)::

    sMAPE = 200/H · Σ |y - f| / (|y| + |f|)
    MASE  = mean|y - f| / s,   s = mean_t |x_t - x_{t-m}|   (m = 1 when T <= m)
    coverage = mean 1{lo <= y <= hi}
    MSIS  = mean(hi - lo + 2/α (lo - y)·1{y < lo} + 2/α (y - hi)·1{y > hi}) / s,  α = 1 - level
    SQL   = mean over q ∈ {α/2, 0.5, 1-α/2} of 2·pinball_q / s  (scaled quantile loss: a
            three-quantile approximation of the scaled CRPS)

Over a set: the mean of each; OWA = ½ (sMAPE / sMAPE_Naive2 + MASE / MASE_Naive2) from the set
means (M4). Naive2 (seasonally adjusted naive) is :func:`rnnkit.baselines.stat_models.naive2`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["aggregate", "mase_scale", "series_metrics"]


def mase_scale(x: np.ndarray, season: int) -> float:
    """The MASE denominator of one training part (seasonal naive's in-sample MAE)."""
    x = np.asarray(x, dtype=np.float64)
    m = season if len(x) > season else 1
    if len(x) <= m:
        return float("nan")
    s = float(np.mean(np.abs(x[m:] - x[:-m])))
    return s if s > 0 else float("nan")


def series_metrics(y: np.ndarray, f: np.ndarray, x: np.ndarray, season: int,
                   lo: np.ndarray | None = None, hi: np.ndarray | None = None,
                   level: float = 0.8) -> dict[str, float]:
    """sMAPE, MASE and (given an interval) coverage, MSIS and SQL of one series."""
    y, f = np.asarray(y, dtype=np.float64), np.asarray(f, dtype=np.float64)
    if y.shape != f.shape:
        raise ValueError(f"series_metrics: expected forecast shape {y.shape}, got {f.shape}.")
    s = mase_scale(x, season)
    den = np.abs(y) + np.abs(f)
    out = {"smape": float(np.mean(np.where(den > 0, 200 * np.abs(y - f) / np.where(den > 0, den,
                                                                                    1), 0))),
           "mase": float(np.mean(np.abs(y - f)) / s)}
    if lo is not None and hi is not None:
        lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        a = 1 - level
        out["coverage"] = float(np.mean((y >= lo) & (y <= hi)))
        out["msis"] = float(np.mean(hi - lo + 2 / a * (lo - y) * (y < lo)
                                    + 2 / a * (y - hi) * (y > hi)) / s)
        loss = 0.0
        for q, v in ((a / 2, lo), (0.5, f), (1 - a / 2, hi)):
            d = y - v
            loss += np.mean(2 * np.maximum(q * d, (q - 1) * d))
        out["sql"] = float(loss / 3 / s)
    return out


def aggregate(rows: list[dict[str, float]], naive2: dict[str, float] | None = None
              ) -> dict[str, float]:
    """Set means of per-series metrics (non-finite MASE rows skipped) and OWA vs Naive2."""
    if not rows:
        return {}
    keys = rows[0].keys()
    out = {}
    for k in keys:
        v = np.array([r[k] for r in rows], dtype=np.float64)
        v = v[np.isfinite(v)]
        out[k] = float(v.mean()) if len(v) else float("nan")
    if naive2 and naive2.get("smape") and naive2.get("mase"):
        out["owa"] = 0.5 * (out["smape"] / naive2["smape"] + out["mase"] / naive2["mase"])
    return out
