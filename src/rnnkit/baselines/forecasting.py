"""Classical forecasting baselines: naive, seasonal naive, Holt-Winters (ETS), automatic ARIMA.

Each takes a 1-D training series ``y [T]`` and a horizon ``H`` and returns a :class:`Forecast`
(``values [H]`` plus the chosen settings). :func:`run_forecast_baselines` evaluates all of them
on the last ``H`` points of a series. statsmodels is imported lazily
(``pip install statsmodels``).

Example:
    >>> y = load_dataset("airline").y
    >>> f = holt_winters(y[:-24], 24, season=12); mape(y[-24:], f.values)   # ≈ 6.39
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field

import numpy as np

from rnnkit.data.deps import require
from rnnkit.data.scaling import Differencer
from rnnkit.metrics import mae, mape, mase, rmse, smape

__all__ = [
    "Forecast",
    "auto_arima",
    "forecast_metrics",
    "holt_winters",
    "naive",
    "run_forecast_baselines",
    "seasonal_naive",
]

_SM = "pip install statsmodels"


@dataclass(frozen=True, eq=False)
class Forecast:
    """A baseline's forecast: ``values [H]`` and ``info`` (chosen orders, AIC, …)."""

    name: str
    values: np.ndarray
    info: dict = field(default_factory=dict)


def _series(y: object, horizon: int, where: str, min_len: int = 2) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{where}: expected a 1-D series [T], got shape {y.shape}.")
    if horizon < 1:
        raise ValueError(f"{where}: expected horizon >= 1, got {horizon}.")
    if len(y) < min_len:
        raise ValueError(f"{where}: expected at least {min_len} training points, got {len(y)}.")
    if not np.isfinite(y).all():
        raise ValueError(f"{where}: expected finite values, got NaN/inf. Fill them first.")
    return y


def naive(y: object, horizon: int) -> Forecast:
    """Repeat the last observed value: ``ŷ[T + h] = y[T - 1]``."""
    y = _series(y, horizon, "naive", 1)
    return Forecast("naive", np.full(horizon, y[-1]))


def seasonal_naive(y: object, horizon: int, season: int) -> Forecast:
    """Repeat the last full season: ``ŷ[T + h] = y[T - m + (h mod m)]``."""
    if season is None or season < 1:
        raise ValueError(f"seasonal_naive: expected season >= 1, got {season}.")
    y = _series(y, horizon, "seasonal_naive", season)
    return Forecast("seasonal_naive", np.resize(y[-season:], horizon), {"season": season})


def holt_winters(y: object, horizon: int, season: int | None = None, trend: str | None = "add",
                 max_history: int | None = None) -> Forecast:
    """Holt-Winters exponential smoothing; additive vs multiplicative season chosen by AIC.

    Multiplicative seasonality is tried only for positive series. Without a season this is
    Holt's linear-trend method.

    Args:
        y: ``[T]`` training series.
        horizon: H.
        season: seasonal period (``None`` for none; needs ``T >= 2 * season``).
        trend: ``"add"``, ``"mul"`` or ``None``.
        max_history: fit on the last ``max_history`` points only (for long series).
    """
    hw = require("statsmodels.tsa.holtwinters", _SM, "holt_winters")
    y = _series(y, horizon, "holt_winters", 4)[-(max_history or 0):]
    seasonal_opts: list[str | None] = [None]
    if season is not None and len(y) >= 2 * season:
        seasonal_opts = ["add", "mul"] if (y > 0).all() else ["add"]
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seasonal in seasonal_opts:
            fit = hw.ExponentialSmoothing(
                y, trend=trend, seasonal=seasonal,
                seasonal_periods=season if seasonal else None).fit()
            if best is None or fit.aic < best[0].aic:
                best = (fit, seasonal)
    fit, seasonal = best
    return Forecast("holt_winters", np.asarray(fit.forecast(horizon)),
                    {"trend": trend, "seasonal": seasonal, "season": season,
                     "aic": float(fit.aic)})


def _choose_d(w: np.ndarray) -> int:
    """0 or 1 regular differences, by the KPSS stationarity test at 5 %."""
    stattools = require("statsmodels.tsa.stattools", _SM, "auto_arima")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p_value = stattools.kpss(w, regression="c", nlags="auto")[1]
    return 1 if p_value < 0.05 else 0


def auto_arima(y: object, horizon: int, season: int | None = None, log: bool | None = None,
               max_p: int = 2, max_q: int = 2, max_order: int = 2,
               max_history: int | None = None) -> Forecast:
    """(Seasonal) ARIMA with orders chosen by AIC on a small grid.

    Steps: optional log (``log=None`` → log when the series is positive); ``d`` ∈ {0, 1}
    regular differences by the KPSS test on the levels; one seasonal difference when a season
    is given;
    then ``p ≤ max_p``, ``q ≤ max_q``, ``p + q ≤ max_order`` and, for seasons ≤ 24,
    ``P, Q ∈ {0, 1}``, fitted by statsmodels SARIMAX on the differenced series (fast) and
    compared by AIC. The forecast of the differences is integrated back exactly.

    Args:
        y: ``[T]`` training series.
        horizon: H.
        season: seasonal period or ``None``.
        log: model ``log(y)`` (``None``: when all values are positive).
        max_p, max_q, max_order: grid limits.
        max_history: fit on the last ``max_history`` points only.
    """
    sarimax = require("statsmodels.tsa.statespace.sarimax", _SM, "auto_arima")
    y = _series(y, horizon, "auto_arima", 8)[-(max_history or 0):]
    use_log = bool((y > 0).all()) if log is None else log
    if use_log and not (y > 0).all():
        raise ValueError("auto_arima: expected a positive series for log=True, got values <= 0.")
    x = np.log(y) if use_log else y
    # d by KPSS on the levels (before the seasonal difference, as in the airline model)
    d = _choose_d(x)
    lags = ([season] if season and len(x) > 3 * season else []) + ([1] if d else [])
    diffs = [Differencer(lag) for lag in lags]
    levels: list[np.ndarray] = []  # the input of each difference, to integrate back
    w = x
    for diff in diffs:
        levels.append(w)
        w = diff.transform(w)
    seasonal_grid = [(0, 0)]
    if diffs and diffs[0].lag > 1 and season <= 24:
        seasonal_grid = [(P, Q) for P in (0, 1) for Q in (0, 1)]
    s = diffs[0].lag if diffs and diffs[0].lag > 1 else 0
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p, q, (P, Q) in itertools.product(range(max_p + 1), range(max_q + 1), seasonal_grid):
            if p + q > max_order:
                continue
            model = sarimax.SARIMAX(w, order=(p, 0, q), trend="c" if not diffs else "n",
                                    seasonal_order=(P, 0, Q, s) if s else (0, 0, 0, 0))
            fit = model.fit(disp=False, maxiter=100)
            if np.isfinite(fit.aic) and (best is None or fit.aic < best[0]):
                best = (float(fit.aic), (p, q, P, Q), fit)
    aic, (p, q, P, Q), fit = best
    w_hat = np.asarray(fit.forecast(horizon))
    for k in range(len(diffs) - 1, -1, -1):  # integrate back: undo the last difference first
        w_hat = diffs[k].inverse(w_hat, levels[k])
    values = np.exp(w_hat) if use_log else w_hat
    D = 1 if s else 0
    return Forecast("auto_arima", values,
                    {"order": (p, d, q), "seasonal_order": (P, D, Q, s), "log": use_log,
                     "aic": aic})


def forecast_metrics(y_true: object, y_pred: object, y_train: object,
                     season: int | None = None) -> dict[str, float]:
    """MAE, RMSE, MAPE (%, NaN if ``y_true`` has zeros), sMAPE (%) and MASE (seasonal scale)."""
    m = season if season and len(np.asarray(y_train)) > season else 1
    y_arr = np.asarray(y_true, dtype=np.float64)
    return {"mae": mae(y_true, y_pred), "rmse": rmse(y_true, y_pred),
            "mape": mape(y_true, y_pred) if (y_arr != 0).all() else float("nan"),
            "smape": smape(y_true, y_pred), "mase": mase(y_true, y_pred, y_train, m)}


def run_forecast_baselines(y: object, horizon: int, season: int | None = None,
                           max_history: int | None = None,
                           trend: str | None = "add") -> list[dict]:
    """Fit every baseline on ``y[:-H]`` and score it on the last ``H`` points.

    Args:
        y: ``[T]`` whole series.
        horizon: H, the test size.
        season: seasonal period or ``None``.
        max_history: Holt-Winters and ARIMA fit on the last ``max_history`` training points.
        trend: Holt-Winters trend (``None`` suits series without a trend).

    Returns:
        One dict per baseline: ``{"baseline", "forecast" [H], "info", "mae", "rmse", "mape",
        "smape", "mase"}``; seasonal naive is skipped without a season.
    """
    y = _series(y, horizon, "run_forecast_baselines", horizon + 8)
    train, test = y[:-horizon], y[-horizon:]
    forecasts = [naive(train, horizon)]
    if season:
        forecasts.append(seasonal_naive(train, horizon, season))
    forecasts.append(holt_winters(train, horizon, season, trend, max_history=max_history))
    forecasts.append(auto_arima(train, horizon, season, max_history=max_history))
    return [{"baseline": f.name, "forecast": f.values, "info": f.info,
             **forecast_metrics(test, f.values, train, season)} for f in forecasts]
