"""Time-ordered split and windows: shapes, and proof that no future leaks into training."""

import numpy as np
import pytest

from rnnkit.data import SeriesData, load_dataset, make_windows, prepare_forecast, time_split


def _series(T=60, seed=0):
    rng = np.random.default_rng(seed)
    v = np.c_[np.arange(T, dtype=float) + 100, rng.normal(size=T), rng.integers(0, 2, T)]
    return SeriesData(v, ("y", "cov", "fut"), ("y",), ("cov",), ("fut",))


def test_time_split_and_too_short():
    sp = time_split(144, horizon=24, val_size=12, lookback=36)
    assert (sp.train_end, sp.val_end, sp.length) == (108, 120, 144)
    assert sp.test == slice(120, 144)
    with pytest.raises(ValueError, match=r"expected a series of at least lookback \+ horizon.*"
                                         r"got 40"):
        time_split(40, horizon=12, lookback=24)


def test_make_windows_shapes_and_values():
    v = np.arange(20, dtype=float)[:, None] * [1, 10]
    w = make_windows(v, lookback=4, horizon=3, n_targets=1, n_future=1)
    assert w.x.shape == (14, 4, 2) and w.y.shape == (14, 3, 1) and w.x_future.shape == (14, 3, 1)
    assert w.x[0, :, 0].tolist() == [0, 1, 2, 3] and w.y[0, :, 0].tolist() == [4, 5, 6]
    assert w.x_future[0, :, 0].tolist() == [40, 50, 60] and w.origins[-1] == 17
    with pytest.raises(ValueError, match="lookback \\+ horizon"):
        make_windows(v[:5], lookback=4, horizon=3, n_targets=1)


def test_no_future_leak_into_training_windows_or_scaler():
    s = _series()
    fd = prepare_forecast(s, lookback=8, horizon=6, val_size=6)
    end = fd.split.train_end
    assert (fd.train.origins + 6 <= end).all()  # every training target is before train_end
    assert fd.val.origins.min() >= end and (fd.val.origins + 6 <= fd.split.val_end).all()
    assert fd.test.origins.tolist() == [len(s) - 6]
    # perturb everything from train_end on: training windows and scaler must not change
    v = s.values.copy()
    v[end:] = 1e6
    s2 = SeriesData(v, s.columns, s.target_cols, s.covariate_cols, s.future_cols)
    fd2 = prepare_forecast(s2, lookback=8, horizon=6, val_size=6)
    np.testing.assert_array_equal(fd.train.x, fd2.train.x)
    np.testing.assert_array_equal(fd.train.y, fd2.train.y)
    np.testing.assert_array_equal(fd.scaler.shift, fd2.scaler.shift)
    np.testing.assert_array_equal(fd.scaler.scale, fd2.scaler.scale)
    assert not np.array_equal(fd.test.y, fd2.test.y)  # the perturbation is visible in test


def test_prepare_forecast_inverse_and_layout():
    air = load_dataset("airline")
    fd = prepare_forecast(air, lookback=36, horizon=24, val_size=24, log=True)
    assert fd.train.x.shape[1:] == (36, 1) and fd.train.y.shape[1:] == (24, 1)
    np.testing.assert_allclose(fd.inverse_target(fd.test.y)[0, :, 0], air.y[-24:], rtol=1e-5)
    np.testing.assert_allclose(fd.scaler.shift, np.log(air.y[:96]).mean())
    with pytest.raises(ValueError, match="val_size 0 or >= horizon"):
        prepare_forecast(air, lookback=12, horizon=24, val_size=5)
    fd = prepare_forecast(_series(), lookback=8, horizon=4, scaler=None)
    assert fd.test.x.shape == (1, 8, 3) and fd.test.x_future.shape == (1, 4, 1)
