"""Per-series normalisation of many series and lazy window sampling across them.

:class:`PanelScaler` is fitted on each series' own history only (the training part): log for
positive series (else mean / standard deviation), then additive seasonal indices in that space
when M4's seasonality test passes. :class:`WindowSampler` draws ``(series, cutoff)`` pairs at
random and gathers each batch's windows on the fly from one padded ``[N, T_max]`` matrix, so
the set of all windows is never built. A window is shifted by its last observed value (the
level), so the network sees log ratios / standardised changes; left padding of short
histories repeats the first value and carries an observed flag of 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.baselines.stat_models import seasonal_indices, seasonality_test

__all__ = ["PanelScaler", "WindowSampler", "gather_windows"]


@dataclass(frozen=True, eq=False)
class PanelScaler:
    """Per-series transform ``z_t = g_i(y_t) - s_i[t mod m]``; ``g_i`` = log (positive series)
    or ``(y - μ_i) / σ_i``. Arrays: ``log [N]``, ``mu [N]``, ``sd [N]``, ``idx [N, m]``."""

    log: np.ndarray
    mu: np.ndarray
    sd: np.ndarray
    idx: np.ndarray

    @classmethod
    def fit(cls, ys: list[np.ndarray], season: int) -> PanelScaler:
        n, m = len(ys), max(1, season)
        log, mu, sd = np.zeros(n, bool), np.zeros(n), np.ones(n)
        idx = np.zeros((n, m))
        for i, y in enumerate(ys):
            y = np.asarray(y, dtype=np.float64)
            if not np.isfinite(y).all():
                raise ValueError(f"PanelScaler: expected finite values in series {i}, got "
                                 f"NaN/inf. Fill them first.")
            log[i] = bool((y > 0).all())
            if not log[i]:
                mu[i] = y.mean()
                s = y.std()
                sd[i] = s if s > 1e-12 else max(abs(mu[i]), 1.0)
            g = np.log(y) if log[i] else (y - mu[i]) / sd[i]
            if m > 1 and seasonality_test(y if log[i] else g, m):
                idx[i] = seasonal_indices(g, m, multiplicative=False)
        return cls(log, mu, sd, idx)

    def transform(self, i: int, y: np.ndarray) -> np.ndarray:
        """Series ``i``'s values ``y [T]`` (from its first step) → ``z [T]``."""
        y = np.asarray(y, dtype=np.float64)
        g = np.log(np.maximum(y, 1e-300)) if self.log[i] else (y - self.mu[i]) / self.sd[i]
        m = self.idx.shape[1]
        return g - self.idx[i, np.arange(len(y)) % m]

    def inverse(self, i: int, z: np.ndarray, start: int) -> np.ndarray:
        """``z [..., S]`` at steps ``start, start+1, …`` of series ``i`` → original units."""
        m = self.idx.shape[1]
        g = z + self.idx[i, (start + np.arange(z.shape[-1])) % m]
        return np.exp(np.clip(g, -700, 700)) if self.log[i] else g * self.sd[i] + self.mu[i]


def pad_matrix(zs: list[np.ndarray]) -> np.ndarray:
    """``[N, T_max]`` float32, each row left-aligned, NaN after its end."""
    out = np.full((len(zs), max(len(z) for z in zs)), np.nan, dtype=np.float32)
    for i, z in enumerate(zs):
        out[i, : len(z)] = z
    return out


def gather_windows(P: np.ndarray, s: np.ndarray, c: np.ndarray, lookback: int, horizon: int,
                   targets: bool = True) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Windows ending at cutoffs ``c`` (first forecast step) of rows ``s`` of ``P``.

    Returns ``x [B, L, 2]`` (value − level, observed flag), ``y [B, H]`` (− level; ``None``
    without targets) and the level ``[B]`` (the value at ``c − 1``)."""
    pos = c[:, None] + np.arange(-lookback, 0)[None]
    seen = pos >= 0
    vals = P[s[:, None], np.maximum(pos, 0)]
    level = P[s, c - 1]
    x = np.stack([np.where(seen, vals - level[:, None], P[s, 0:1] - level[:, None]),
                  seen.astype(np.float32)], axis=-1).astype(np.float32)
    y = None
    if targets:
        y = (P[s[:, None], c[:, None] + np.arange(horizon)[None]] - level[:, None]).astype(
            np.float32)
    return x, y, level


class WindowSampler:
    """Random training windows across series of different lengths, gathered per batch.

    Each draw picks a series uniformly, then a cutoff uniformly among those whose ``H``
    targets lie inside the series (at least one observed input step)."""

    def __init__(self, zs: list[np.ndarray], lookback: int, horizon: int, seed: int) -> None:
        self.P = pad_matrix(zs)
        self.lookback, self.horizon = lookback, horizon
        lens = np.array([len(z) for z in zs])
        self.rows = np.flatnonzero(lens >= horizon + 1)
        if len(self.rows) == 0:
            raise ValueError(f"WindowSampler: expected a series longer than the horizon "
                             f"{horizon}, got lengths up to {lens.max()}. Use a shorter "
                             f"horizon.")
        self.hi = lens[self.rows] - horizon  # last valid cutoff, inclusive
        self.rng = np.random.default_rng(seed)

    def batch(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k = self.rng.integers(0, len(self.rows), size)
        s = self.rows[k]
        c = 1 + (self.rng.random(size) * self.hi[k]).astype(np.int64)  # in [1, hi]
        x, y, _ = gather_windows(self.P, s, c, self.lookback, self.horizon)
        return x, y, s
