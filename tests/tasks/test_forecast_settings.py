"""The forecast task's typed settings (issue 19): every bad value is a UsageError naming the
flag, raised by ``forecast.train`` before anything is read or written, on the one-series and
the many-series path alike."""

import dataclasses

import pytest

from rnnkit.tasks.common import COMMON_DEFAULTS
from rnnkit.tasks.errors import UsageError
from rnnkit.tasks.forecast import DEFAULTS, ForecastSettings, train

BAD = [({"horizon": 0}, "--horizon"), ({"lookback": -3}, "--lookback"),
       ({"level": 1.5}, "--level"), ({"level": 0}, "--level"), ({"mode": "sideways"}, "--mode"),
       ({"loss": "mae"}, "--loss"), ({"norm": "max"}, "--norm"), ({"diff": -1}, "--diff"),
       ({"fillna": "mean"}, "--fillna"), ({"combine": "best"}, "--combine"),
       ({"horizon": "12"}, "--horizon"), ({"ensemble": 0}, "--ensemble"),
       ({"patience": 0}, "--patience"), ({"backtest": -1}, "--backtest"),
       ({"max_steps": 0}, "--max-steps"), ({"n_jobs": 0}, "--n-jobs"),
       ({"target": [1]}, "--target"), ({"highway": "yes"}, "--highway"),
       ({"hidden_size": 0}, "--hidden-size"), ({"precision": "fp8"}, "--precision")]


def test_defaults_match_the_module_defaults():
    s = ForecastSettings.from_dict({**COMMON_DEFAULTS, **DEFAULTS, "data": "airline"})
    d = s.to_dict()
    for k, v in DEFAULTS.items():
        assert d[k] == v, k
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.horizon = 3
    assert ForecastSettings.from_dict({"target": "y"}).target == "y"  # one name from TOML


@pytest.mark.parametrize("data", ["airline", "m3-monthly"])
@pytest.mark.parametrize(("bad", "name"), BAD)
def test_a_bad_value_names_its_flag_before_anything_is_written(tmp_path, data, bad, name):
    out = tmp_path / "run"
    with pytest.raises(UsageError, match=f"^{name}: expected"):
        train({**COMMON_DEFAULTS, **DEFAULTS, "data": data, "out": str(out), **bad})
    assert not out.exists()


def test_unknown_setting_is_refused():
    with pytest.raises(UsageError, match="settings: expected keys"):
        ForecastSettings.from_dict({"horizn": 3})
