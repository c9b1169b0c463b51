"""Invertible per-column transforms for forecasting: scaling, log, differencing.

Fit on the training part only (``fit(x_train)``), then ``transform`` everything; every
transform has an exact ``inverse``. Arrays are ``[T, C]`` (or ``[..., C]`` for transform /
inverse: statistics broadcast over the last axis).

* :class:`StandardScaler` — ``(x - mean) / std``.
* :class:`MinMaxScaler` — ``(x - min) / (max - min)`` to [0, 1] on the training range.
* :class:`LogTransform` — ``log(x + offset)``, for positive series with growing variance.
* :class:`Differencer` — ``x[t] - x[t - lag]``; its inverse needs the ``lag`` values before.

Example:
    >>> sc = StandardScaler().fit(y[:100]); z = sc.transform(y); y2 = sc.inverse(z)
"""

from __future__ import annotations

import numpy as np

__all__ = ["Differencer", "LogTransform", "MinMaxScaler", "Scaler", "StandardScaler", "make_scaler"]


def _as_2d(x: np.ndarray, where: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{where}: expected a non-empty array of shape (T, C), got {x.shape}.")
    if not np.isfinite(x).all():
        raise ValueError(f"{where}: expected finite values, got NaN/inf. Fill them first.")
    return x


class Scaler:
    """Affine per-column scaler ``z = (x - shift) / scale``; subclasses set shift and scale."""

    kind = ""

    def __init__(self) -> None:
        self.shift: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def _stats(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def fit(self, x: np.ndarray) -> Scaler:
        """Learn the statistics from training data ``x [T, C]``; returns ``self``."""
        x = _as_2d(x, f"{type(self).__name__}.fit")
        shift, scale = self._stats(x)
        self.shift, self.scale = shift, np.where(scale > 1e-12, scale, 1.0)  # constant columns
        return self

    def _check(self, x: np.ndarray, where: str) -> np.ndarray:
        if self.shift is None:
            raise ValueError(f"{type(self).__name__}.{where}: expected a fitted scaler, got an "
                             "unfitted one. Call fit(x_train) first.")
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1] != self.shift.shape[0]:
            raise ValueError(f"{type(self).__name__}.{where}: expected {self.shift.shape[0]} "
                             f"columns (last axis), got shape {x.shape}.")
        return x

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Scale ``x [..., C]``."""
        return (self._check(x, "transform") - self.shift) / self.scale

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Undo :meth:`transform` on ``z [..., C]``; also works for a subset of columns via
        :meth:`select`."""
        return self._check(z, "inverse") * self.scale + self.shift

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        """``fit(x)`` then ``transform(x)``."""
        return self.fit(x).transform(x)

    def select(self, columns: list[int]) -> Scaler:
        """A scaler restricted to ``columns`` (e.g. the target columns, to invert forecasts)."""
        other = type(self)()
        other.shift, other.scale = self.shift[columns], self.scale[columns]
        return other

    def to_dict(self) -> dict:
        """JSON-serialisable state."""
        return {"kind": self.kind, "shift": self.shift.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        """Rebuild from :meth:`to_dict`."""
        scaler = _KINDS[d["kind"]]()
        scaler.shift = np.asarray(d["shift"], dtype=np.float64)
        scaler.scale = np.asarray(d["scale"], dtype=np.float64)
        return scaler


class StandardScaler(Scaler):
    """Zero mean, unit variance per column, statistics from the training data."""

    kind = "standard"

    def _stats(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x.mean(axis=0), x.std(axis=0)


class MinMaxScaler(Scaler):
    """Map the training range of each column to [0, 1] (test values may fall outside)."""

    kind = "minmax"

    def _stats(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo = x.min(axis=0)
        return lo, x.max(axis=0) - lo


_KINDS: dict[str, type[Scaler]] = {"standard": StandardScaler, "minmax": MinMaxScaler}


def make_scaler(kind: str | None) -> Scaler | None:
    """``"standard"`` → :class:`StandardScaler`, ``"minmax"`` → :class:`MinMaxScaler`,
    ``None``/``"none"`` → ``None``."""
    if kind is None or kind == "none":
        return None
    if kind not in _KINDS:
        raise ValueError(f"make_scaler: expected one of {[*_KINDS, 'none']}, got {kind!r}.")
    return _KINDS[kind]()


class LogTransform:
    """``z = log(x + offset)``, inverse ``exp(z) - offset``. Stateless apart from ``offset``.

    Args:
        offset: added before the log; the data (train and test) must satisfy ``x + offset > 0``.
    """

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = float(offset)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """``log(x + offset)``; raises ``ValueError`` on non-positive values."""
        x = np.asarray(x, dtype=np.float64) + self.offset
        if (x <= 0).any():
            raise ValueError(f"LogTransform: expected x + offset > 0, got min {x.min():.4g}. "
                             "Pass a larger offset or disable log.")
        return np.log(x)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """``exp(z) - offset``."""
        return np.exp(np.asarray(z, dtype=np.float64)) - self.offset


class Differencer:
    """Lag-``lag`` differencing ``d[t] = x[t] - x[t - lag]`` along axis 0, with exact inverse.

    Args:
        lag: 1 for ordinary differencing, the season (e.g. 12) for seasonal differencing.
    """

    def __init__(self, lag: int = 1) -> None:
        if lag < 1:
            raise ValueError(f"Differencer: expected lag >= 1, got {lag}.")
        self.lag = int(lag)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """``x [T, ...]`` → ``d [T - lag, ...]``."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape[0] <= self.lag:
            raise ValueError(f"Differencer: expected more than {self.lag} steps, got "
                             f"{x.shape[0]}.")
        return x[self.lag:] - x[: -self.lag]

    def inverse(self, d: np.ndarray, history: np.ndarray) -> np.ndarray:
        """Rebuild levels from differences.

        Args:
            d: ``[H, ...]`` differences following ``history``.
            history: at least the last ``lag`` levels ``[>= lag, ...]`` before ``d``'s first step.

        Returns:
            ``[H, ...]`` levels with ``x[t] = d[t] + x[t - lag]``.
        """
        d = np.asarray(d, dtype=np.float64)
        history = np.asarray(history, dtype=np.float64)
        if history.shape[0] < self.lag:
            raise ValueError(f"Differencer.inverse: expected at least {self.lag} history steps, "
                             f"got {history.shape[0]}.")
        out = np.concatenate([history[-self.lag:], np.zeros_like(d)], axis=0)
        for t in range(d.shape[0]):
            out[t + self.lag] = d[t] + out[t]
        return out[self.lag:]
