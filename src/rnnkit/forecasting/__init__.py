"""Forecasting many series: the global recurrent forecaster, statistical baselines, M4 metrics.

    >>> from rnnkit.forecasting import RNNForecast
    >>> fc = RNNForecast(horizon=18, season=12).fit(df)   # long table: unique_id, ds, y
    >>> fc.predict()                                       # unique_id, ds, yhat, lo-80, hi-80

Modules: :mod:`~rnnkit.forecasting.rnn` (``RNNForecast``), :mod:`~rnnkit.forecasting.scaling`
(per-series scalers, lazy windows), :mod:`~rnnkit.baselines.stat_models` (statsforecast models,
Naive2), :mod:`~rnnkit.forecasting.metrics` (sMAPE, MASE, OWA, coverage, MSIS, SQL).
"""

from rnnkit.baselines.stat_models import STAT_MODELS, naive2, stat_forecasts
from rnnkit.forecasting.metrics import aggregate, mase_scale, series_metrics
from rnnkit.forecasting.rnn import RNNForecast, RNNForecastSettings

__all__ = ["STAT_MODELS", "RNNForecast", "RNNForecastSettings", "aggregate", "mase_scale",
           "naive2", "series_metrics", "stat_forecasts"]
