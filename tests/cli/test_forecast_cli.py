"""``rnnkit train forecast`` / ``evaluate`` / ``predict`` / ``forecast`` as subprocesses, and the
one-line errors for bad input (exit status 2, no run directory left behind)."""

import json
import subprocess
import sys

import numpy as np
import pytest

TINY = ["--quiet", "--epochs", "1", "--ensemble", "1", "--hidden-size", "4"]


def _rnnkit(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rnnkit", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def _series(n=72, season=6):
    t = np.arange(n)
    return 20 + 0.2 * t + 3 * np.sin(2 * np.pi * t / season)


def _csv(path, n=72, **cols):
    import pandas as pd

    y = _series(n)
    pd.DataFrame({"date": pd.date_range("2000-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
                  "y": y, "temp": np.cos(np.arange(n)), **cols}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fc")
    data = _csv(tmp / "data.csv")
    out = tmp / "run"
    r = _rnnkit("train", "forecast", "--data", data, "--target", "y", "--future-covariates",
                "temp", "--season", "6", "--no-baselines", "--out", out, *TINY)
    assert r.returncode == 0, r.stderr
    return tmp, data, out, r


def test_train_writes_the_run_directory(trained):
    _, _, out, r = trained
    for name in ("config.json", "model.safetensors", "metrics.json", "forecast.png",
                 "history.csv", "history.png"):
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    assert m["task"] == "forecast" and m["dataset"] == "data"
    assert set(m["test"]) == {"mae", "rmse", "mape", "smape", "mase"}
    assert isinstance(m["baselines"], dict) and m["train_seconds"] >= 0
    assert "mape" in r.stdout  # the metrics table


def test_evaluate_and_predict(trained):
    tmp, data, out, _ = trained
    r = _rnnkit("evaluate", out, "--data", data)
    assert r.returncode == 0, r.stderr
    assert "mase" in r.stdout
    pred = tmp / "pred.csv"
    r = _rnnkit("predict", out, "--data", data, "--output", pred)
    assert r.returncode == 0, r.stderr
    import pandas as pd

    df = pd.read_csv(pred)
    assert list(df.columns) == ["time", "y", "y_forecast", "y_lower", "y_upper"]
    assert len(df) == 6 and (df.y_lower <= df.y_forecast).all() and (
        df.y_forecast <= df.y_upper).all()


def test_forecast_needs_and_uses_future_covariate_rows(trained):
    tmp, data, out, _ = trained
    r = _rnnkit("forecast", out, "--data", data, "--horizon", "4")
    assert r.returncode == 2 and "expected 4 trailing rows" in r.stderr
    import pandas as pd

    df = pd.read_csv(data)
    future = pd.DataFrame({"date": ["2000-03-13", "2000-03-14", "2000-03-15", "2000-03-16"],
                           "y": [np.nan] * 4, "temp": [0.1, 0.2, 0.3, 0.4]})
    path = tmp / "with_future.csv"
    pd.concat([df, future]).to_csv(path, index=False)
    r = _rnnkit("forecast", out, "--data", path, "--horizon", "4", "--output", tmp / "f.csv")
    assert r.returncode == 0, r.stderr
    f = pd.read_csv(tmp / "f.csv")
    assert list(f.columns) == ["time", "y", "y_lower", "y_upper"] and len(f) == 4
    assert f.time[0] == "2000-03-13"
    assert (f.y_lower <= f.y).all() and (f.y <= f.y_upper).all()


@pytest.mark.slow
def test_builtin_airline_demo_like_run_and_forecast(tmp_path):
    out = tmp_path / "air"
    r = _rnnkit("train", "forecast", "--data", "airline", "--out", out, *TINY)
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert {"naive", "seasonal_naive", "holt_winters", "auto_arima"} <= set(m["baselines"])
    assert m["horizon"] == 12 and m["season"] == 12
    r = _rnnkit("forecast", out, "--data", "airline")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "time,passengers,passengers_lower,passengers_upper" and len(lines) == 13
    assert lines[1].startswith("1961-01-01")


def _bad(tmp_path, *args):
    out = tmp_path / "never"
    r = _rnnkit("train", "forecast", *args, "--out", out, *TINY)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnkit: error: "), r.stderr
    assert not out.exists()
    return lines[0]


def test_error_missing_file(tmp_path):
    assert "missing path" in _bad(tmp_path, "--data", tmp_path / "nope.csv")


def test_error_unknown_dataset(tmp_path):
    msg = _bad(tmp_path, "--data", "airlines")
    assert "unknown dataset 'airlines'" in msg and "airline" in msg


def test_error_unknown_target_column(tmp_path):
    msg = _bad(tmp_path, "--data", _csv(tmp_path / "d.csv"), "--target", "sales")
    assert "got 'sales'" in msg


def test_error_non_numeric_target(tmp_path):
    y = _series().astype(object)
    y[10] = "n/a?"
    msg = _bad(tmp_path, "--data", _csv(tmp_path / "d.csv", y2=y), "--target", "y2")
    assert "expected numeric values in column 'y2'" in msg and "row 10" in msg


def test_error_nan_says_where_and_offers_fillna(tmp_path):
    y = _series()
    y[20] = np.nan
    data = _csv(tmp_path / "d.csv", y2=y)
    msg = _bad(tmp_path, "--data", data, "--target", "y2")
    assert "column 'y2' at row 20" in msg and "--fillna" in msg
    r = _rnnkit("train", "forecast", "--data", data, "--target", "y2", "--fillna", "interpolate",
                "--no-baselines", "--season", "6", "--out", tmp_path / "ok", *TINY)
    assert r.returncode == 0, r.stderr


def test_error_series_too_short(tmp_path):
    msg = _bad(tmp_path, "--data", _csv(tmp_path / "d.csv", n=20), "--target", "y",
               "--season", "6")
    assert "expected a series of at least" in msg and "got 20" in msg


def test_explain_window_saliency(trained):
    """``rnnkit explain`` on a forecast run: one score per lookback step, PNG + JSON; an
    index past the first window is a one-line error."""
    tmp, _, out, _ = trained
    r = _rnnkit("explain", out, "--index", "1", "--method", "gradient_x_input",
                "--output", tmp / "ex")
    assert r.returncode == 0, r.stderr
    rec = json.loads((tmp / "ex" / "saliency-1.json").read_text())
    cfg = json.loads((out / "config.json").read_text())
    assert len(rec["scores"]) == cfg["plan"]["lookback"]
    assert any(abs(s) > 0 for s in rec["scores"])
    assert (tmp / "ex" / "saliency-1.png").stat().st_size > 0
    r = _rnnkit("explain", out, "--index", "100000")
    assert r.returncode == 2 and "--index: expected 0 <= index <=" in r.stderr
