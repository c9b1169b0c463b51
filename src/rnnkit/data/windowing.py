"""Time-ordered splits and sliding windows for direct multi-step forecasting.

Layout of a series of length T (test = the last ``horizon`` steps, validation carved from the
end of what remains, training = the rest)::

    |<------------- train ------------->|<--- val --->|<-- test (horizon) -->|
    0                               train_end      val_end                  T

A window at origin ``t`` reads inputs at steps ``[t - lookback, t)`` and predicts targets at
``[t, t + horizon)``. Known-future covariates are also given for ``[t, t + horizon)``. Windows
of a split have *all their targets inside that split*; inputs may reach back into earlier
splits (that is the past, not a leak). Training windows therefore touch nothing at or after
``train_end``, and :func:`prepare_forecast` fits its scaler on ``[0, train_end)`` only.

Letters: N windows, L lookback, H horizon, C_in input columns (targets, then past covariates,
then known-future covariates), K target columns, F known-future columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.data.containers import SeriesData
from rnnkit.data.scaling import LogTransform, Scaler, make_scaler

__all__ = ["ForecastData", "TimeSplit", "Windows", "make_windows", "prepare_forecast",
           "time_split"]


@dataclass(frozen=True)
class TimeSplit:
    """Boundaries of a time-ordered split: train ``[0, train_end)``, val
    ``[train_end, val_end)``, test ``[val_end, length)``."""

    train_end: int
    val_end: int
    length: int

    @property
    def train(self) -> slice:
        return slice(0, self.train_end)

    @property
    def val(self) -> slice:
        return slice(self.train_end, self.val_end)

    @property
    def test(self) -> slice:
        return slice(self.val_end, self.length)


def time_split(length: int, horizon: int, val_size: int = 0, lookback: int = 0) -> TimeSplit:
    """Split ``length`` steps: the last ``horizon`` are test, the ``val_size`` before are val.

    Args:
        length: series length T.
        horizon: test size H (>= 1).
        val_size: validation size (0 for none).
        lookback: when > 0, checks the training part can hold one window
            (``lookback + horizon`` steps).

    Raises:
        ValueError: the series is too short (names the lengths and the fix).
    """
    if horizon < 1 or val_size < 0 or lookback < 0:
        raise ValueError(f"time_split: expected horizon >= 1, val_size >= 0, lookback >= 0, got "
                         f"{horizon}, {val_size}, {lookback}.")
    train_end = length - horizon - val_size
    need = max(lookback + horizon, 1)
    if train_end < need:
        raise ValueError(f"time_split: expected a series of at least lookback + horizon + "
                         f"val_size + horizon = {need + horizon + val_size} steps, got {length}. "
                         "Reduce lookback/horizon/val_size or use a longer series.")
    return TimeSplit(train_end=train_end, val_end=length - horizon, length=length)


@dataclass(frozen=True, eq=False)
class Windows:
    """A batch of forecasting windows (numpy, float32).

    Args:
        x: ``[N, L, C_in]`` inputs: targets, past covariates, known-future covariates.
        y: ``[N, H, K]`` targets to predict.
        x_future: ``[N, H, F]`` known-future covariates over the horizon (F may be 0).
        origins: ``[N]`` index of each window's first target step in the series.
    """

    x: np.ndarray
    y: np.ndarray
    x_future: np.ndarray
    origins: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])


def make_windows(values: np.ndarray, lookback: int, horizon: int, n_targets: int,
                 n_future: int = 0, start: int | None = None, stop: int | None = None,
                 stride: int = 1) -> Windows:
    """Slide windows over ``values [T, C]`` whose targets lie in ``[start, stop)``.

    Column layout of ``values``: ``n_targets`` target columns first, then past covariates, then
    the last ``n_future`` known-future columns (the order of ``SeriesData`` columns built by
    :func:`prepare_forecast`).

    Args:
        values: ``[T, C]`` array.
        lookback: L, input steps per window.
        horizon: H, target steps per window.
        n_targets: K, the leading target columns.
        n_future: F, the trailing known-future columns.
        start: earliest target step (default ``lookback``; clipped to ``>= lookback``).
        stop: end of the target range (default T).
        stride: step between consecutive origins.

    Returns:
        :class:`Windows` with origins ``start, start + stride, …`` up to ``stop - horizon``.
    """
    values = np.asarray(values, dtype=np.float32)
    T = values.shape[0]
    start = lookback if start is None else max(start, lookback)
    stop = T if stop is None else min(stop, T)
    if lookback < 1 or horizon < 1 or stride < 1:
        raise ValueError(f"make_windows: expected lookback, horizon, stride >= 1, got "
                         f"{lookback}, {horizon}, {stride}.")
    if stop - start < horizon:
        raise ValueError(f"make_windows: expected at least lookback + horizon = "
                         f"{lookback + horizon} steps for one window, got targets range "
                         f"[{start}, {stop}) of a {T}-step series. Reduce lookback or horizon.")
    origins = np.arange(start, stop - horizon + 1, stride)
    in_idx = origins[:, None] + np.arange(-lookback, 0)[None, :]
    out_idx = origins[:, None] + np.arange(horizon)[None, :]
    return Windows(x=values[in_idx], y=values[out_idx][..., :n_targets],
                   x_future=values[out_idx][..., values.shape[1] - n_future:],
                   origins=origins)


@dataclass(frozen=True, eq=False)
class ForecastData:
    """Everything a forecasting model needs: scaled windows per split and the inverse.

    Args:
        train, val, test: :class:`Windows` (``val`` is ``None`` when ``val_size == 0``; ``test``
            holds the single window whose targets are the last ``horizon`` steps).
        split: the :class:`TimeSplit`.
        scaler: fitted on the training steps only (``None`` if disabled).
        log: the log transform applied to the target columns before scaling, or ``None``.
        series: the source :class:`SeriesData`.
    """

    train: Windows
    val: Windows | None
    test: Windows
    split: TimeSplit
    scaler: Scaler | None
    log: LogTransform | None
    series: SeriesData

    def inverse_target(self, y: np.ndarray) -> np.ndarray:
        """Map scaled target predictions ``[..., K]`` back to the original units."""
        k = len(self.series.target_cols)
        out = np.asarray(y, dtype=np.float64)
        if self.scaler is not None:
            out = self.scaler.select(list(range(k))).inverse(out)
        return self.log.inverse(out) if self.log is not None else out


def prepare_forecast(series: SeriesData, lookback: int, horizon: int, val_size: int = 0,
                     scaler: str | None = "standard", log: bool = False,
                     stride: int = 1) -> ForecastData:
    """Split, transform (fit on train only) and window a series for direct forecasting.

    Args:
        series: the data; columns are reordered targets → covariates → future covariates.
        lookback: L input steps.
        horizon: H steps to forecast; also the test size.
        val_size: steps carved from the end of the training part for validation windows.
        scaler: ``"standard"``, ``"minmax"`` or ``None``.
        log: log-transform the target columns first (they must be positive).
        stride: step between training window origins.
    """
    if 0 < val_size < horizon:
        raise ValueError(f"prepare_forecast: expected val_size 0 or >= horizon ({horizon}), got "
                         f"{val_size}. A validation window needs a whole horizon of targets.")
    split = time_split(len(series), horizon, val_size, lookback)
    cols = series.target_cols + series.covariate_cols + series.future_cols
    values = np.stack([series.values[:, series.columns.index(c)] for c in cols], axis=1)
    k, f = len(series.target_cols), len(series.future_cols)
    log_t = LogTransform() if log else None
    if log_t is not None:
        values[:, :k] = log_t.transform(values[:, :k])
    fitted = make_scaler(scaler)
    if fitted is not None:
        fitted.fit(values[split.train])  # training steps only: no look-ahead
        values = fitted.transform(values)
    train = make_windows(values, lookback, horizon, k, f, stop=split.train_end, stride=stride)
    val = (make_windows(values, lookback, horizon, k, f, start=split.train_end,
                        stop=split.val_end) if val_size else None)
    test = make_windows(values, lookback, horizon, k, f, start=split.val_end)
    return ForecastData(train=train, val=val, test=test, split=split, scaler=fitted,
                        log=log_t, series=series)
