"""Forecasting baselines reproduce the airline reference numbers of DATASETS.md."""

import numpy as np
import pytest

from rnnkit.baselines import auto_arima, holt_winters, naive, run_forecast_baselines, seasonal_naive
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


def test_holt_winters_airline(airline):
    f = holt_winters(airline[:-24], 24, season=12)
    assert f.info["seasonal"] == "mul"  # chosen by AIC
    assert mape(airline[-24:], f.values) == pytest.approx(6.39, abs=0.1)


def test_auto_arima_airline(airline):
    f = auto_arima(airline[:-24], 24, season=12)
    assert f.info["log"] and f.values.shape == (24,)
    assert mape(airline[-24:], f.values) == pytest.approx(8.52, abs=1.0)


@pytest.mark.slow
def test_run_forecast_baselines_airline_12(airline):
    rows = {r["baseline"]: r for r in run_forecast_baselines(airline, 12, season=12)}
    assert rows["auto_arima"]["mape"] == pytest.approx(2.90, abs=0.3)
    assert rows["holt_winters"]["mape"] == pytest.approx(2.21, abs=0.1)
    assert rows["seasonal_naive"]["mase"] > rows["holt_winters"]["mase"]
