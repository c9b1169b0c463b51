"""``rnnkit train forecast`` on many series (a long table): the run directory, --backtest,
forecast from a run, the test part never reaching training, time-axis errors as one line."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

FAST = ["--quiet", "--max-steps", "20", "--hidden-size", "8", "--batch-size", "16",
        "--combine", "rnn", "--season", "4", "--horizon", "4"]


def _rnnkit(*args):
    return subprocess.run([sys.executable, "-m", "rnnkit", *map(str, args)], capture_output=True,
                          text=True, timeout=600)


def _long(path, n=5, poison=None):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        t = np.arange(32 + 2 * i)
        y = 40 + i + 0.3 * t + 4 * np.sin(2 * np.pi * t / 4) + rng.normal(0, 0.5, len(t))
        if poison is not None:
            y[-4:] = poison  # the test part (last horizon)
        rows.append(pd.DataFrame({"unique_id": f"s{i}", "ds": t + 1, "y": y}))
    pd.concat(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("panel")
    data = _long(tmp / "sales.csv")
    r = _rnnkit("train", "forecast", "--data", data, "--backtest", "2", "--no-baselines",
                "--out", tmp / "run", *FAST)
    assert r.returncode == 0, r.stderr
    return tmp, data, tmp / "run"


def test_train_writes_the_run_directory(run):
    _, _, out = run
    for name in ("config.json", "model.safetensors", "metrics.json", "forecasts.csv",
                 "series_metrics.csv", "forecast.png", "backtest.csv"):
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    assert {"smape", "mase", "coverage", "msis", "sql"} <= set(m["test"])
    assert m["n_series"] == 5 and m["horizon"] == 4 and m["model"].startswith("rnn")
    assert m["backtest"]["origins"] == 2
    fc = pd.read_csv(out / "forecasts.csv")
    assert fc.columns.tolist() == ["unique_id", "ds", "yhat", "lo-80", "hi-80", "y"]
    assert len(pd.read_csv(out / "backtest.csv")) == 5 * 2 * 4


def test_forecast_from_the_run(run):
    tmp, data, out = run
    r = _rnnkit("forecast", out, "--data", data, "-o", tmp / "f.csv")
    assert r.returncode == 0, r.stderr
    f = pd.read_csv(tmp / "f.csv")
    assert len(f) == 20 and f[f.unique_id == "s0"].ds.tolist() == [33, 34, 35, 36]


def test_test_part_never_reaches_the_fitted_model(tmp_path):
    from safetensors.numpy import load_file

    from rnnkit.tasks.forecast_panel import train_panel

    cfg = {"quiet": True, "max_steps": 20, "hidden_size": 8, "batch_size": 16,
           "combine": "auto", "season": 4, "horizon": 4, "baselines": False}
    for name, poison in (("clean", None), ("poisoned", 1e9)):
        train_panel({**cfg, "data": str(_long(tmp_path / f"{name}.csv", poison=poison)),
                     "out": str(tmp_path / name)})
    a, b = (load_file(str(tmp_path / n / "model.safetensors")) for n in ("clean", "poisoned"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    ca, cb = (json.loads((tmp_path / n / "config.json").read_text())["fitted"]
              for n in ("clean", "poisoned"))
    assert ca == cb  # combination weight and conformal widths too
    ma = json.loads((tmp_path / "clean" / "metrics.json").read_text())
    mb = json.loads((tmp_path / "poisoned" / "metrics.json").read_text())
    assert ma["fit"]["validation_curve"] == mb["fit"]["validation_curve"]
    assert ma["test"]["smape"] != mb["test"]["smape"]  # the test part is scored, only scored


def _broken_series_csv(path, case):
    dates = pd.date_range("2000-01-01", periods=60, freq="D").strftime("%Y-%m-%d").tolist()
    if case == "shuffled":
        dates[10], dates[11] = dates[11], dates[10]
    elif case == "duplicated":
        dates[11] = dates[10]
    elif case == "gap":
        dates = dates[:30] + pd.date_range("2000-03-05", periods=30, freq="D").strftime(
            "%Y-%m-%d").tolist()
    else:
        dates[20] = "not a date"
    pd.DataFrame({"date": dates, "y": np.arange(60.0) + 1}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("case, row", [("shuffled", 12), ("duplicated", 12), ("gap", 31),
                                       ("unparseable", 21)])
def test_single_series_csv_with_a_broken_time_axis_is_refused(tmp_path, case, row):
    from rnnkit.tasks.common import CLIError
    from rnnkit.tasks.forecast_data import load_series

    path = _broken_series_csv(tmp_path / "s.csv", case)
    with pytest.raises(CLIError, match=rf"--data: series 's': expected .* at row {row}\b"):
        load_series({"data": str(path)})


def test_broken_time_axis_is_one_line_from_the_cli(tmp_path):
    path = _broken_series_csv(tmp_path / "s.csv", "shuffled")
    r = _rnnkit("train", "forecast", "--data", path, "--out", tmp_path / "run", "--epochs", "1")
    assert r.returncode == 2, r.stderr
    msg = r.stderr.strip()
    assert "\n" not in msg and "series 's'" in msg and "row 12" in msg, msg
    assert not (tmp_path / "run").exists()


def test_long_table_with_a_broken_time_axis_names_series_and_row(tmp_path):
    path = _long(tmp_path / "t.csv")
    df = pd.read_csv(path)
    df.loc[40, "ds"] = df.loc[39, "ds"]  # inside series s1 (rows 33..66)
    df.to_csv(path, index=False)
    r = _rnnkit("train", "forecast", "--data", path, "--out", tmp_path / "run", *FAST)
    assert r.returncode == 2
    assert "series 's1'" in r.stderr and "row 41" in r.stderr and "Sort" in r.stderr


def test_many_series_flags_on_a_single_series_are_refused(tmp_path):
    from rnnkit.tasks.common import CLIError
    from rnnkit.tasks.forecast import train

    with pytest.raises(CLIError, match=r"--backtest: expected many series .*'airline'"):
        train({"data": "airline", "backtest": 3, "out": str(tmp_path / "run")})
    assert not (tmp_path / "run").exists()
