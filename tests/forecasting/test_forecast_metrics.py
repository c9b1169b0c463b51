"""M4 metric definitions and Naive2."""

import numpy as np
import pytest

from rnnkit.baselines.stat_models import naive2, seasonality_test
from rnnkit.forecasting import aggregate, series_metrics


def test_smape_mase_coverage_msis_by_hand():
    x = np.array([1.0, 2, 3, 4, 5])  # seasonal-naive (m=1) scale = 1
    y, f = np.array([6.0, 7]), np.array([5.0, 9])
    m = series_metrics(y, f, x, 1, lo=np.array([5.5, 6]), hi=np.array([6.5, 8]), level=0.8)
    assert m["smape"] == pytest.approx(200 / 2 * (1 / 11 + 2 / 16))
    assert m["mase"] == pytest.approx(1.5)
    assert m["coverage"] == 1.0
    assert m["msis"] == pytest.approx(np.mean([1.0, 2.0]))
    outside = series_metrics(y, f, x, 1, lo=np.array([6.5, 6]), hi=np.array([7.5, 8]))
    assert outside["coverage"] == 0.5
    assert outside["msis"] == pytest.approx(np.mean([1 + 10 * 0.5, 2.0]))


def test_owa_of_naive2_is_one_and_naive2_is_seasonally_adjusted():
    t = np.arange(48)
    x = 100 + 0.1 * t + 20 * np.sin(2 * np.pi * t / 12)
    assert seasonality_test(x, 12) and not seasonality_test(np.arange(48.0), 12)
    f = naive2(x, 12, 12)
    assert not np.allclose(f, x[-1])  # reseasonalised
    np.testing.assert_array_equal(naive2(np.arange(1.0, 49), 6, 12), np.full(6, 48.0))
    rows = [series_metrics(x[-12:] + 1, f, x, 12)]
    agg = aggregate(rows, aggregate(rows))
    assert agg["owa"] == pytest.approx(1.0)


def test_a_series_too_short_for_autoets_falls_back_to_naive():
    from rnnkit.baselines.stat_models import stat_forecasts

    f = stat_forecasts([np.array([1.0, 2, 3]), np.arange(1.0, 30)], 6, 1,
                       models=("AutoETS", "AutoTheta"))
    np.testing.assert_array_equal(f["AutoETS"]["point"][0], np.full(6, 3.0))
    assert np.isfinite(f["StatEnsemble"]["point"]).all()
