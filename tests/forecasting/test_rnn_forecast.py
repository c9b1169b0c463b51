"""The global forecaster: no test point reaches fitting, cross_validation equals the loop of
single-origin forecasts, lazy windows equal a slow reference, the long-table API."""

import numpy as np
import pandas as pd
import pytest
import torch

from rnnkit.data.long_format import Panel
from rnnkit.forecasting import RNNForecast, RNNForecastSettings
from rnnkit.forecasting.scaling import PanelScaler, WindowSampler, gather_windows, pad_matrix

TINY = dict(hidden_size=8, max_steps=20, eval_every=10, batch_size=16, combine="rnn")


def _panel(n=6, h=4, test=None, seed=0):
    rng = np.random.default_rng(seed)
    ys, tests = [], []
    for i in range(n):
        t = np.arange(30 + 3 * i + h)
        y = 50 + i + 0.5 * t + 5 * np.sin(2 * np.pi * t / 4) + rng.normal(0, 1, len(t))
        ys.append(y[:-h])
        tests.append(y[-h:] if test is None else np.full(h, test))
    return Panel(tuple(f"s{i}" for i in range(n)), tuple(ys),
                 tuple(np.arange(1, len(v) + 1) for v in ys), 4, h, None, tuple(tests), "toy")


def _state(fc):
    return [{k: v.clone() for k, v in net.state_dict().items()} for net, _ in fc.nets_]


def test_no_test_point_reaches_scaling_selection_or_early_stopping():
    clean = RNNForecast(**{**TINY, "combine": "auto"}).fit(_panel())
    poisoned = RNNForecast(**{**TINY, "combine": "auto"}).fit(_panel(test=1e12))
    for a, b in zip(_state(clean), _state(poisoned), strict=True):
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    np.testing.assert_array_equal(clean.width_, poisoned.width_)
    assert clean.info_["validation_curve"] == poisoned.info_["validation_curve"]
    assert clean.info_["validation_owa"] == poisoned.info_["validation_owa"]
    assert clean.weight_ == poisoned.weight_


def test_the_held_out_horizon_decides_early_stopping():
    # the validation stage sees each training part's last h: changing it changes the curve
    p = _panel()
    q = Panel(p.ids, tuple(np.r_[v[:-4], v[-4:] * 3] for v in p.y), p.ds, 4, 4, None, p.test)
    a = RNNForecast(**TINY).fit(p).info_["validation_curve"]
    b = RNNForecast(**TINY).fit(q).info_["validation_curve"]
    assert a != b


def test_cross_validation_equals_the_loop_of_single_origin_forecasts():
    p = _panel()
    fc = RNNForecast(**TINY)
    cv = fc.cross_validation(p, h=4, n_windows=3)
    fitted = fc.cv_model_
    assert len(cv) == p.n_series * 3 * 4
    for i, sid in enumerate(p.ids):
        for j, (cut, g) in enumerate(cv[cv.unique_id == sid].groupby("cutoff", sort=True)):
            c = len(p.y[i]) - 4 * (3 - j)
            assert cut == p.ds[i][c - 1]
            point, lo, hi = fitted.forecast_from([p.y[i][:c]], np.array([i]))
            np.testing.assert_allclose(g["yhat"].to_numpy(), point[0], rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(g["lo-80"].to_numpy(), lo[0], rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(g["hi-80"].to_numpy(), hi[0], rtol=1e-5, atol=1e-5)
            np.testing.assert_array_equal(g["y"].to_numpy(), p.y[i][c: c + 4])
    # fitted only on what precedes each series' first cutoff
    assert all(len(fitted.panel_.y[i]) == len(p.y[i]) - 12 for i in range(p.n_series))


def test_lazy_windows_equal_a_slow_reference():
    rng = np.random.default_rng(1)
    zs = [rng.normal(size=n) for n in (7, 12, 20)]
    P = pad_matrix(zs)
    s, c = np.array([0, 1, 2, 2]), np.array([1, 5, 8, 16])
    x, y, _level = gather_windows(P, s, c, lookback=6, horizon=4)
    for b in range(4):
        z = zs[s[b]].astype(np.float32)
        lv = z[c[b] - 1]
        for k, pos in enumerate(range(c[b] - 6, c[b])):
            assert x[b, k, 1] == (pos >= 0)
            assert x[b, k, 0] == pytest.approx((z[pos] if pos >= 0 else z[0]) - lv)
        np.testing.assert_allclose(y[b], z[c[b]: c[b] + 4] - lv, rtol=1e-6)
    sampler = WindowSampler(zs, 6, 4, seed=0)
    xb, yb, sb = sampler.batch(64)
    assert xb.shape == (64, 6, 2) and yb.shape == (64, 4) and np.isfinite(yb).all()
    assert set(sb.tolist()) <= {0, 1, 2}


def test_scaler_round_trip_and_fitted_on_the_given_part_only():
    ys = [np.exp(np.sin(np.arange(40) * np.pi / 2) + np.arange(40) / 20), np.arange(30.) - 10]
    sc = PanelScaler.fit(ys, 4)
    assert sc.log.tolist() == [True, False]
    for i, y in enumerate(ys):
        np.testing.assert_allclose(sc.inverse(i, sc.transform(i, y), 0), y, rtol=1e-9,
                                   atol=1e-9)
    longer = PanelScaler.fit([np.r_[ys[0], [1e9] * 4], ys[1]], 4)
    assert not np.allclose(longer.idx[0], sc.idx[0])  # uses what it is given, nothing else


def test_long_table_fit_predict_shape_and_errors():
    p = _panel(n=3)
    df = pd.DataFrame({"unique_id": np.repeat(p.ids, [len(v) for v in p.y]),
                       "ds": np.concatenate(p.ds), "y": np.concatenate(p.y)})
    fc = RNNForecast(horizon=4, season=4, **TINY).fit(df)
    out = fc.predict()
    assert out.columns.tolist() == ["unique_id", "ds", "yhat", "lo-80", "hi-80"]
    assert len(out) == 12 and (out["lo-80"] <= out["yhat"]).all()
    assert out[out.unique_id == "s0"].ds.tolist() == [len(p.y[0]) + k for k in range(1, 5)]
    assert len(fc.predict(2)) == 6
    with pytest.raises(ValueError, match="expected 1 <= h <= 4"):
        fc.predict(5)
    with pytest.raises(ValueError, match="expected combine in"):
        RNNForecastSettings(combine="best")
    with pytest.raises(RuntimeError, match="Call fit"):
        RNNForecast().predict()


def test_series_too_short_for_validation_are_still_trained_on_and_forecast():
    p = _panel(n=4)
    short = Panel((*p.ids, "tiny"), (*p.y, np.array([5.0, 6, 7, 8, 9, 10])),
                  (*p.ds, np.arange(1, 7)), 4, 4, None, None)
    fc = RNNForecast(**TINY).fit(short)
    assert fc.info_["validation_series"] == 4
    point, lo, hi = fc.forecast_from(list(short.y))
    assert point.shape == (5, 4) and np.isfinite(point).all() and (lo <= hi).all()
