"""Forecasting baselines: naive references and statsforecast's models on airline."""

import numpy as np
import pytest

from rnnkit.baselines import naive, run_forecast_baselines, seasonal_naive
from rnnkit.data import load_dataset
from rnnkit.metrics import mape


@pytest.fixture(scope="module")
def airline():
    return load_dataset("airline").y


def test_naive_and_seasonal_naive(airline):
    train, test = airline[:-24], airline[-24:]
    assert naive(train, 3).values.tolist() == [train[-1]] * 3
    sn = seasonal_naive(train, 24, 12).values
    np.testing.assert_array_equal(sn, np.r_[train[-12:], train[-12:]])
    assert mape(test, sn) == pytest.approx(15.5, abs=0.05)
    with pytest.raises(ValueError, match="season >= 1"):
        seasonal_naive(train, 3, 0)
    with pytest.raises(ValueError, match="horizon >= 1"):
        naive(train, 0)


def test_statsforecast_baselines_airline_12(airline):
    rows = {r["baseline"]: r for r in run_forecast_baselines(
        airline, 12, season=12, models=("SeasonalNaive", "Naive", "AutoETS", "AutoTheta"))}
    assert set(rows) == {"SeasonalNaive", "Naive", "AutoETS", "AutoTheta", "StatEnsemble"}
    sn = seasonal_naive(airline[:-12], 12, 12).values
    np.testing.assert_allclose(rows["SeasonalNaive"]["forecast"], sn)
    assert rows["AutoTheta"]["mape"] == pytest.approx(3.92, abs=0.3)
    assert rows["AutoETS"]["mase"] < rows["SeasonalNaive"]["mase"]
    for r in rows.values():
        assert r["seconds"] >= 0 and (r["lower"] <= r["forecast"]).all()


@pytest.mark.slow
def test_statsforecast_ensemble_airline_12(airline):
    rows = {r["baseline"]: r for r in run_forecast_baselines(airline, 12, season=12)}
    assert rows["AutoARIMA"]["mape"] == pytest.approx(4.18, abs=0.3)
    assert rows["StatEnsemble"]["mape"] == pytest.approx(3.42, abs=0.3)
