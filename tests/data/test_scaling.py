"""Scalers, log and differencing: exact inverse round-trips; season detection."""

import json

import numpy as np
import pytest

from rnnkit.data import (
    Differencer,
    LogTransform,
    MinMaxScaler,
    Scaler,
    StandardScaler,
    detect_season,
    load_dataset,
    make_scaler,
)


@pytest.mark.parametrize("kind", ["standard", "minmax"])
def test_scaler_round_trip_and_serialise(kind):
    x = np.random.default_rng(0).normal(5, 3, size=(50, 3))
    x[:, 2] = 7.0  # constant column must not divide by zero
    sc = make_scaler(kind).fit(x[:30])
    z = sc.transform(x)
    np.testing.assert_allclose(sc.inverse(z), x)
    if kind == "standard":
        np.testing.assert_allclose(z[:30, :2].mean(0), 0, atol=1e-12)
    else:
        assert z[:30, :2].min() == 0 and z[:30, :2].max() == 1
    sc2 = Scaler.from_dict(json.loads(json.dumps(sc.to_dict())))
    np.testing.assert_allclose(sc2.transform(x), z)
    np.testing.assert_allclose(sc.select([1]).inverse(z[:, 1:2]), x[:, 1:2])


def test_scaler_errors():
    with pytest.raises(ValueError, match="Call fit"):
        StandardScaler().transform(np.ones((3, 1)))
    with pytest.raises(ValueError, match="expected 2 columns"):
        MinMaxScaler().fit(np.ones((3, 2))).transform(np.ones((3, 1)))
    with pytest.raises(ValueError, match="expected one of"):
        make_scaler("robust")


def test_log_and_difference_round_trip():
    y = load_dataset("airline").y
    lt = LogTransform()
    np.testing.assert_allclose(lt.inverse(lt.transform(y)), y)
    with pytest.raises(ValueError, match="x \\+ offset > 0"):
        lt.transform(np.array([1.0, 0.0]))
    for lag in (1, 12):
        d = Differencer(lag)
        dy = d.transform(y)
        assert len(dy) == len(y) - lag
        np.testing.assert_allclose(d.inverse(dy[100:], y[: 100 + lag]), y[100 + lag:])


def test_detect_season():
    assert detect_season(load_dataset("airline").y) == 12
    assert detect_season(load_dataset("sunspots").y) in (10, 11)
    assert detect_season(load_dataset("elecdemand").y) == 48
    assert detect_season(np.random.default_rng(0).normal(size=500)) is None
    with pytest.raises(ValueError, match="length >= 8"):
        detect_season(np.ones(3))
