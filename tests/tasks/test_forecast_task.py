"""Forecasting pipeline: no look-ahead, the model learns, plan defaults, transform inverse,
config round-trip, one-line data errors (before any file is written)."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from rnnkit.data import SeriesData
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.tasks import forecast as F
from rnnkit.tasks import forecast_data as FD
from rnnkit.tasks.common import CLIError, resolve_config


def _seasonal(n=96, season=12, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 50 + 0.3 * t + 8 * np.sin(2 * np.pi * t / season) + rng.normal(0, 0.5, n)


def _csv(tmp_path, y, name="s.csv", **extra):
    import pandas as pd

    path = tmp_path / name
    pd.DataFrame({"time": np.arange(len(y)), "y": y, **extra}).to_csv(path, index=False)
    return path


def _cfg(data, out, **kw):
    base = {"data": str(data), "out": str(out), "quiet": True, "epochs": 3, "ensemble": 1,
            "hidden_size": 8, "season": 12, "baselines": False}
    return resolve_config(F.DEFAULTS, {**base, **kw})


def test_changing_the_test_period_changes_neither_model_nor_scaler(tmp_path):
    y = _seasonal()
    y2 = y.copy()
    y2[-12:] = 1000.0  # the held-out horizon (default = one season)
    runs = []
    for i, series in enumerate((y, y2)):
        out = tmp_path / f"run{i}"
        assert F.train(_cfg(_csv(tmp_path, series, f"s{i}.csv"), out)) == 0
        runs.append(out)
    w0, w1 = (load_file(str(r / "model.safetensors")) for r in runs)
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    c0, c1 = (json.loads((r / "config.json").read_text()) for r in runs)
    assert c0["transform"] == c1["transform"]
    m1 = json.loads((runs[1] / "metrics.json").read_text())
    assert m1["test"]["mae"] > 100  # the test really was the changed part


def test_forecaster_learns_and_beats_naive(tmp_path):
    out = tmp_path / "run"
    y = _seasonal(120)
    assert F.train(_cfg(_csv(tmp_path, y), out, epochs=30, ensemble=2, hidden_size=16)) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert set(m) >= {"task", "dataset", "test", "baselines", "train_seconds"}
    assert set(m["test"]) == {"mae", "rmse", "mape", "smape", "mase"}
    naive_mae = np.abs(y[-12:] - y[-13]).mean()
    assert m["test"]["mae"] < 0.5 * naive_mae
    assert (out / "forecast.png").is_file() and (out / "history.png").is_file()


def test_config_json_rebuilds_the_model(tmp_path):
    out = tmp_path / "run"
    F.train(_cfg(_csv(tmp_path, _seasonal()), out, loss="quantile"))
    model, _, plan, run = F._load_run(out)
    assert isinstance(model, Forecaster) and model.config.loss == "quantile"
    assert ForecasterConfig.from_dict(run["model"]) == model.config
    assert plan.horizon == 12 and plan.lookback == 24


def test_plan_defaults_detect_the_season_on_training_data_only():
    s = SeriesData(values=_seasonal(200, season=7), columns=("y",), target_cols=("y",))
    p = FD.make_plan(s, resolve_config(F.DEFAULTS, {}))
    assert p.season == 7 and p.horizon == 7 and p.lookback == 14 and p.val_size == 7
    walk = np.cumsum(np.random.default_rng(0).normal(size=100)) + 50
    flat = SeriesData(values=walk, columns=("y",), target_cols=("y",))
    p = FD.make_plan(flat, resolve_config(F.DEFAULTS, {"season": None}))
    assert p.season is None and p.horizon == 10 and p.lookback == 20


@pytest.mark.parametrize("log,diff", [(False, 0), (True, 0), (True, 12), (False, 1)])
def test_transform_inverse_is_exact(log, diff):
    y = _seasonal(80)[:, None]
    p = FD.Plan(("y",), (), (), 12, 12, 24, 12, 1, diff, log)
    tr = FD.Transform.fit(y, p)
    z = tr.apply(y)
    back = tr.inverse(z[60:72, :1], y[:60])
    np.testing.assert_allclose(back, y[60:72], rtol=1e-5)


def test_too_short_series_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(CLIError, match=r"expected a series of at least .* got 30"):
        F.train(_cfg(_csv(tmp_path, _seasonal(30)), out))
    assert not out.exists()


def test_unknown_builtin_column_is_a_clear_error(tmp_path):
    with pytest.raises(CLIError, match="expected a column of 'airline'"):
        FD.load_series({"data": "airline", "target": ["nope"]})


def test_interval_calibration_tops_up_a_short_validation_block_with_recent_windows():
    """One validation window would leave each step's RMS resting on one residual: the latest
    training windows are added up to max(2H, 24) origins; a long validation block is used
    alone, and without one all training windows are."""
    from rnnkit.data import Windows
    from rnnkit.tasks.forecast import calibration_windows

    def windows(origins):
        n = len(origins)
        return Windows(x=np.zeros((n, 4, 1), np.float32), y=np.zeros((n, 3, 1), np.float32),
                       x_future=np.zeros((n, 3, 0), np.float32), origins=np.array(origins))

    train, val = windows(list(range(40))), windows([43])
    w = calibration_windows({"train": train, "val": val}, horizon=3)
    assert w.origins.tolist() == [*range(17, 40), 43]  # 23 latest training windows + 1
    w = calibration_windows({"train": train, "val": windows(list(range(40, 70)))}, horizon=3)
    assert w.origins.tolist() == list(range(40, 70))
    assert calibration_windows({"train": train, "val": None}, horizon=3) is train
    w = calibration_windows({"train": train, "val": val}, horizon=20)  # max(2H, 24) = 40
    assert len(w) == 40 and w.origins[-1] == 43 and w.x.shape == (40, 4, 1)
