"""Single-series forecasting baselines: naive, seasonal naive, and statsforecast's models.

:func:`run_forecast_baselines` fits statsforecast's SeasonalNaive, Naive, AutoETS, AutoARIMA
and AutoTheta (and their mean, ``StatEnsemble``) on ``y[:-H]`` and scores each on the last
``H`` points, with its seconds. The hand-written Holt-Winters and auto-ARIMA it replaces are
retired: statsforecast's AutoETS / AutoARIMA are the tools forecasters use. :func:`naive` and
:func:`seasonal_naive` stay as one-line references for tests and demos.

Example:
    >>> y = load_dataset("airline").y
    >>> rows = run_forecast_baselines(y, 12, season=12)   # [{"baseline": "AutoETS", ...}, ...]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnnkit.baselines.stat_models import STAT_MODELS, stat_forecasts
from rnnkit.metrics import mae, mape, mase, rmse, smape

__all__ = [
    "Forecast",
    "forecast_metrics",
    "naive",
    "run_forecast_baselines",
    "seasonal_naive",
]


@dataclass(frozen=True, eq=False)
class Forecast:
    """A baseline's forecast: ``values [H]`` and ``info`` (settings)."""

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
                           models: tuple[str, ...] = STAT_MODELS, level: int = 80,
                           validation: int = 0) -> list[dict]:
    """Fit statsforecast's models on ``y[:-H]`` and score them on the last ``H`` points.

    Args:
        y: ``[T]`` whole series.
        horizon: H, the test size.
        season: seasonal period or ``None`` (SeasonalNaive is skipped without one).
        max_history: the models fit on the last ``max_history`` training points only.
        models: statsforecast model names (a subset of ``STAT_MODELS``).
        level: interval coverage in percent.
        validation: > 0 also returns each model's forecast of the ``validation`` steps before
            the test (fitted on what precedes them) as ``"val_forecast"``, for selection.

    Returns:
        One dict per model (and ``StatEnsemble``): ``{"baseline", "forecast" [H], "lower",
        "upper", "seconds", "info", "mae", "rmse", "mape", "smape", "mase"}``.
    """
    y = _series(y, horizon, "run_forecast_baselines", horizon + 8)
    m = season or 1
    models = tuple(n for n in models if n != "SeasonalNaive" or m > 1)
    train, test = y[:-horizon], y[-horizon:]
    fit_part = train[-max_history:] if max_history else train
    fc = stat_forecasts([fit_part], horizon, m, models=models, level=level)
    fc.pop("Naive2")
    val = {}
    if validation:
        v = stat_forecasts([fit_part[:-validation]], validation, m, models=models, level=level)
        val = {k: f["point"][0] for k, f in v.items()}
    return [{"baseline": name, "forecast": f["point"][0], "lower": f["lo"][0],
             "upper": f["hi"][0], "seconds": f["seconds"], "info": {"season": m},
             **({"val_forecast": val[name]} if name in val else {}),
             **forecast_metrics(test, f["point"][0], train, season)} for name, f in fc.items()]
