"""Statistical forecasting baselines from statsforecast, plus M4's Naive2, over many series.

:func:`stat_forecasts` fits SeasonalNaive, Naive, AutoETS, AutoARIMA and AutoTheta (any subset)
on each series of a set through ``statsforecast.StatsForecast(n_jobs=…)``, one model at a time
so each has its own seconds (the cost column); ``StatEnsemble`` is the mean of the automatic
models that ran (AutoETS, AutoARIMA, AutoTheta), intervals averaged too.

:func:`naive2` is M4's seasonally adjusted naive (the OWA reference): a 90 % autocorrelation
test for seasonality, classical multiplicative decomposition, the last deseasonalised value
carried forward and reseasonalised. :func:`seasonal_indices` is shared with the RNN's
per-series deseasonalisation.
"""

from __future__ import annotations

import time

import numpy as np

from rnnkit.data.deps import require

__all__ = ["AUTO_MODELS", "STAT_MODELS", "StatForecast", "naive2", "seasonal_indices",
           "seasonality_test", "stat_forecasts"]

STAT_MODELS = ("SeasonalNaive", "Naive", "AutoETS", "AutoARIMA", "AutoTheta")
AUTO_MODELS = ("AutoETS", "AutoARIMA", "AutoTheta")
_SF = "pip install statsforecast"


class StatForecast(dict):
    """``{"point": [N, H], "lo": [N, H], "hi": [N, H], "seconds": float}`` of one model."""


def seasonality_test(x: np.ndarray, m: int) -> bool:
    """M4's test: |ACF(m)| > 1.645 · sqrt((1 + 2 Σ_{k<m} ACF(k)²) / T) (90 %)."""
    x = np.asarray(x, dtype=np.float64)
    if m <= 1 or len(x) < 3 * m:
        return False
    d = x - x.mean()
    den = float(d @ d)
    if den == 0:
        return False
    acf = np.array([float(d[k:] @ d[:len(d) - k]) / den for k in range(m + 1)])
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(acf[1:m] ** 2)) / len(x))
    return bool(abs(acf[m]) > limit)


def seasonal_indices(x: np.ndarray, m: int, multiplicative: bool = True) -> np.ndarray:
    """``[m]`` classical-decomposition indices of ``x`` (position ``k`` = step ``k mod m``
    counted from the series' first value): ratios (or differences) to a centred moving
    average, averaged per position, normalised to mean 1 (or 0)."""
    x = np.asarray(x, dtype=np.float64)
    if m % 2 == 0:
        w = np.r_[0.5, np.ones(m - 1), 0.5] / m
    else:
        w = np.ones(m) / m
    trend = np.convolve(x, w, mode="valid")
    off = (len(w) - 1) // 2
    core = x[off: off + len(trend)]
    ratio = core / trend if multiplicative else core - trend
    pos = (np.arange(len(trend)) + off) % m
    idx = np.array([ratio[pos == k].mean() if (pos == k).any() else (1.0 if multiplicative
                                                                      else 0.0)
                    for k in range(m)])
    return idx / idx.mean() if multiplicative else idx - idx.mean()


def naive2(x: np.ndarray, h: int, m: int) -> np.ndarray:
    """M4's Naive2 forecast ``[h]`` of the training part ``x``."""
    x = np.asarray(x, dtype=np.float64)
    if m > 1 and seasonality_test(x, m) and (x > 0).all():
        idx = seasonal_indices(x, m)
        s = idx[np.arange(len(x)) % m]
        fut = idx[(len(x) + np.arange(h)) % m]
        return x[-1] / s[-1] * fut
    return np.full(h, x[-1])


def _frame(ys: list[np.ndarray]):
    pd = require("pandas", "pip install pandas", "stat_forecasts")
    return pd.DataFrame({"unique_id": np.repeat(np.arange(len(ys)), [len(v) for v in ys]),
                         "ds": np.concatenate([np.arange(1, len(v) + 1) for v in ys]),
                         "y": np.concatenate(ys)})


def _model(name: str, m: int):
    models = require("statsforecast.models", _SF, "stat_forecasts")
    if name == "SeasonalNaive":
        return models.SeasonalNaive(season_length=m)
    if name == "Naive":
        return models.Naive()
    if name in AUTO_MODELS:
        return getattr(models, name)(season_length=m)
    raise ValueError(f"stat_forecasts: expected models among {STAT_MODELS}, got '{name}'.")


def stat_forecasts(ys: list[np.ndarray], h: int, season: int,
                   models: tuple[str, ...] = STAT_MODELS, level: int = 80, n_jobs: int = 1,
                   ensemble: bool = True) -> dict[str, StatForecast]:
    """Fit each model on every series ``ys[i]`` and forecast ``h`` steps with a ``level`` %
    interval. Returns ``{model: StatForecast}`` plus ``"StatEnsemble"`` when ≥ 2 automatic
    models ran and ``"Naive2"`` (M4's reference).

    A series too short for a model gets statsforecast's fallback, Naive.
    """
    sf_mod = require("statsforecast", _SF, "stat_forecasts")
    import warnings

    ys = [np.asarray(v, dtype=np.float64) for v in ys]
    df = _frame(ys)
    out: dict[str, StatForecast] = {}
    for name in models:
        t0 = time.perf_counter()
        # a series too short for a model (AutoETS refuses "tiny datasets") gets Naive instead
        sf = sf_mod.StatsForecast(models=[_model(name, season)], freq=1, n_jobs=n_jobs,
                                  fallback_model=_model("Naive", season))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fc = sf.forecast(df=df, h=h, level=[level])
        fc = fc.sort_values(["unique_id", "ds"])
        col = next(c for c in fc.columns if c not in ("unique_id", "ds") and "-lo-" not in c
                   and "-hi-" not in c)
        shape = (len(ys), h)
        out[name] = StatForecast(point=fc[col].to_numpy().reshape(shape),
                                 lo=fc[f"{col}-lo-{level}"].to_numpy().reshape(shape),
                                 hi=fc[f"{col}-hi-{level}"].to_numpy().reshape(shape),
                                 seconds=time.perf_counter() - t0)
    auto = [n for n in AUTO_MODELS if n in out]
    if ensemble and len(auto) >= 2:
        out["StatEnsemble"] = StatForecast(
            **{k: np.mean([out[n][k] for n in auto], axis=0) for k in ("point", "lo", "hi")},
            seconds=sum(out[n]["seconds"] for n in auto))
    t0 = time.perf_counter()
    point = np.stack([naive2(v, h, season) for v in ys])
    out["Naive2"] = StatForecast(point=point, lo=None, hi=None,
                                 seconds=time.perf_counter() - t0)
    return out
