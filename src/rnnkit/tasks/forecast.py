"""Forecasting pipeline: ``rnnkit train forecast`` and ``evaluate`` / ``predict`` / ``forecast``.

Data flow (every statistic is fitted on the training steps only)::

    series [T, C] ─ log(targets) ─ difference(targets, lag d) ─ standard scaling ─ windows
    test = the last H steps · validation = the H steps before (early stopping; the interval
    width from its windows plus the latest training windows, calibration_windows)

The model is a :class:`~rnnkit.models.forecaster.Forecaster` (an ensemble of small recurrent
networks, instance-normalised windows, direct multi-output head). It is scored beside naive,
seasonal naive, Holt-Winters and auto-ARIMA on the same split (MAE, RMSE, MAPE, sMAPE, MASE).
Run directory: ``config.json`` (settings, model config, data transform), ``model.safetensors``,
``metrics.json``, ``forecast.png``, ``history.{csv,json,png}``, ``checkpoints/``.

The data side (loading, :class:`Plan`, :class:`Transform`, windows, CSV files) lives in
:mod:`rnnkit.tasks.forecast_data`; this module trains, scores and writes.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.data import FILL_METHODS, SeriesData
from rnnkit.models.forecaster import LOSSES, MODES, NORMS, Forecaster, ForecasterConfig
from rnnkit.tasks.common import (
    CLIError,
    format_table,
    load_weights,
    make_out_dir,
    read_run,
    save_weights,
    trainer_config,
    write_json,
    write_metrics,
)
from rnnkit.tasks.forecast_data import (
    Plan,
    Transform,
    WindowDataset,
    emit_csv,
    future_time,
    is_path,
    load_history,
    load_series,
    make_plan,
    ordered,
    split_windows,
    time_axis,
    write_csv,
)
from rnnkit.tasks.forecast_settings import ForecastSettings
from rnnkit.training import Callback, Trainer, seed_everything

__all__ = ["DEFAULTS", "ForecastSettings", "add_arguments", "evaluate", "explain", "forecast",
           "predict", "train"]

DEFAULTS: dict[str, Any] = {
    "horizon": None, "lookback": None, "season": None, "target": None, "covariates": None,
    "future_covariates": None, "mode": "direct", "loss": "mse", "log": None, "diff": 0,
    "fillna": None, "norm": "mean", "highway": True, "ensemble": None, "val_size": None,
    "patience": 10, "level": 0.8, "stride": None, "baselines": True,
    # many series (a competition set or a long table): see rnnkit.tasks.forecast_panel
    "id_col": None, "time_col": None, "backtest": None, "combine": None, "max_steps": None,
    "n_jobs": None,
}

# Per-task values of the common flags when they are left unset.
_TRAIN_DEFAULTS = {"epochs": 60, "batch_size": 32, "lr": 3e-3, "hidden_size": 32,
                   "num_layers": 1, "dropout": 0.0, "bidirectional": False, "layer_norm": False,
                   "ensemble": 5}
# Long series (more than this many training windows) already give many steps per epoch.
_LARGE = 1000
_LARGE_DEFAULTS = {"epochs": 15, "ensemble": 2}


def add_arguments(group: argparse._ArgumentGroup) -> None:
    """The forecasting flags (every default is None so TOML values are not overridden)."""
    a = group.add_argument
    a("--horizon", type=int, help="steps to forecast = test size (default: one season, else "
      "10 %% of the series)")
    a("--lookback", type=int, help="input window (default: 2 seasons, else 2 horizons)")
    a("--season", type=int, help="seasonal period in steps (default: known or detected)")
    a("--target", nargs="+", metavar="COL", help="column(s) to forecast (default: the dataset's "
      "targets; a CSV's only numeric column, y for a long table)")
    a("--covariates", nargs="*", metavar="COL", help="past covariate columns (default: the "
      "dataset's; a CSV's other numeric columns)")
    a("--future-covariates", nargs="*", metavar="COL",
      help="covariates known for the horizon too (calendar, weather forecast; default: "
      "the dataset's, none for a CSV)")
    a("--mode", choices=MODES, help="direct multi-output head (default) or recursive")
    a("--loss", choices=LOSSES, help="mse (default; intervals from validation residuals), "
      "gaussian or quantile")
    a("--log", action=argparse.BooleanOptionalAction, default=None,
      help="log-transform the targets (default: when they are all positive)")
    a("--diff", type=int, metavar="LAG", help="difference the targets at "
      "this lag (default 0: off)")
    a("--fillna", choices=FILL_METHODS, help="fill missing values "
      "instead of failing (default: none, missing values are an error)")
    a("--norm", choices=NORMS, help="per-window normalisation of the targets (default mean)")
    a("--highway", action=argparse.BooleanOptionalAction, default=None,
      help="add a linear autoregressive path (default on)")
    a("--ensemble", type=int, help="networks trained and averaged (default 5; 2 for long "
      "series)")
    a("--val-size", type=int, help="validation steps before the test (default: horizon)")
    a("--patience", type=int, help="early-stopping patience in epochs (default 10)")
    a("--level", type=float, help="prediction-interval coverage (default 0.8)")
    a("--baselines", action=argparse.BooleanOptionalAction, default=None,
      help="also fit the classical baselines on the same split (default on)")
    a("--stride", type=int, help="step between training windows (default: 1, more for long "
      "series)")
    a("--id-col", metavar="COL", help="many series: the series-id column of a long CSV / "
      "Parquet table (default unique_id; with --time-col default ds, --target default y)")
    a("--time-col", metavar="COL", help="many series: the time column (default ds)")
    a("--backtest", type=int, metavar="N", help="many series: also evaluate N rolling origins "
      "inside the training parts (backtest.csv; default 0)")
    a("--combine", choices=("auto", "rnn", "stat"), help="auto (default) weighs the RNN "
      "against the mean of AutoETS and AutoTheta by backtest on the training part (each "
      "series' last training horizon; one series: its validation block); rnn or stat alone")
    a("--max-steps", type=int, help="many series: most training steps of the global RNN "
      "(default 1500; early stopping on each series' last training horizon)")
    a("--n-jobs", type=int, help="many series: statsforecast processes (default 1)")


# ---- train ------------------------------------------------------------------------------------

def train(cfg: dict[str, Any] | ForecastSettings) -> int:
    """Train, score beside the baselines, write the run directory; returns the exit status."""
    from rnnkit.tasks.forecast_panel import is_panel_data, train_panel

    # every flag's type, range and choice is checked here, before anything is read or written
    s = cfg if isinstance(cfg, ForecastSettings) else ForecastSettings.check(dict(cfg))
    cfg = s.to_dict()
    if is_panel_data(cfg):
        return train_panel(cfg)
    for key in ("backtest", "id_col", "time_col", "max_steps", "n_jobs"):
        if cfg.get(key):
            flag = "--" + key.replace("_", "-")
            raise CLIError(f"{flag}: expected many series (an m1-/m3- set or a long table with "
                           f"an id column), got the single series '{cfg.get('data')}'. Drop "
                           f"{flag}, or pass a long table.")
    series = load_series(cfg)
    plan = make_plan(series, cfg)
    values = ordered(series, plan)
    prep = Transform.fit(values, plan)
    sets = split_windows(prep.apply(values), plan)
    defaults = {**_TRAIN_DEFAULTS, **(_LARGE_DEFAULTS if len(sets["train"]) > _LARGE else {})}
    cfg = {**cfg, **{k: v for k, v in defaults.items() if cfg.get(k) is None}}
    model_cfg = ForecasterConfig(
        n_targets=plan.k, n_covariates=plan.n_cov, n_future=plan.n_fut, lookback=plan.lookback,
        horizon=plan.horizon, kind=str(cfg["model"]).lower(), hidden_size=cfg["hidden_size"],
        num_layers=cfg["num_layers"], dropout=cfg["dropout"],
        bidirectional=bool(cfg["bidirectional"]), layer_norm=bool(cfg["layer_norm"]),
        mode=cfg["mode"], loss=cfg["loss"], level=cfg["level"], norm=cfg["norm"],
        highway=bool(cfg["highway"]), ensemble=cfg["ensemble"])
    out = make_out_dir(cfg, "forecast", series.name)  # all validation done: now write files
    seed_everything(cfg["seed"])
    model = Forecaster(model_cfg)
    keep = _KeepBest()
    tcfg = trainer_config(cfg, out, early_stopping_patience=cfg["patience"],
                          clip_grad_norm=1.0, weight_decay=1e-4, monitor="val_loss")
    t0 = time.time()
    val = WindowDataset(sets["val"]) if sets["val"] is not None else None
    with _one_torch_thread(cfg.get("device")):
        Trainer(tcfg, callbacks=[keep]).fit(model, WindowDataset(sets["train"], min_items=256),
                                            val, resume=cfg["resume"])
    keep.restore(model)
    model.eval()
    calibrate(model, calibration_windows(sets, plan.horizon))
    combine = _choose_combination(model, prep, plan, series, cfg)
    seconds = time.time() - t0
    data = str(cfg["data"])
    data = str(Path(data).resolve()) if is_path(data) else data
    run = {"task": "forecast", "dataset": series.name, "data": data,
           "settings": {k: cfg.get(k) for k in (*DEFAULTS, "model", "seed", "epochs",
                                                  "batch_size", "lr", "hidden_size")},
           "plan": plan.to_dict(), "transform": prep.to_dict(), "model": model_cfg.to_dict(),
           "combine": combine}
    run["settings"]["resume"] = None
    save_weights(model, out)
    write_json(out / "config.json", run)
    return _report(model, prep, plan, series, out, {**cfg, "combine_choice": combine}, seconds,
                   train_run=True)


def _max_history(p: Plan, n: int) -> int | None:
    return max(10 * (p.season or p.horizon), 400) if n > 2000 else None


def _choose_combination(model: Forecaster, prep: Transform, p: Plan, series: SeriesData,
                        cfg: dict[str, Any]) -> dict[str, Any]:
    """RNN alone, or combined with AutoETS + AutoTheta by backtest on the validation block
    (single target, baselines on, ``--combine`` not ``rnn``); see tasks/forecast_combine."""
    if (p.k != 1 or p.val_size < p.horizon or not cfg.get("baselines", True)
            or cfg.get("combine") == "rnn"):
        return {"weight_rnn": 1.0}
    from rnnkit.tasks.forecast_combine import choose_weight

    values = ordered(series, p)
    n, h = len(values), p.horizon
    o = n - 2 * h
    if cfg.get("combine") == "stat":
        return {"weight_rnn": 0.0, "stat_models": ["AutoETS", "AutoTheta"]}
    fz = prep.apply(values)[o: o + h, values.shape[1] - p.n_fut:]
    rnn = _model_forecast(model, prep, p, values, o, fz, h)["point"][:, 0]
    return choose_weight(values[o: o + h, 0], rnn, values[:o, 0], p.season,
                         _max_history(p, n))


def _apply_combination(res: dict[str, np.ndarray], combine: dict[str, Any] | None,
                       history: np.ndarray, p: Plan) -> dict[str, np.ndarray]:
    """Mix the RNN's point forecast with the statistical members' (fitted on ``history``);
    the interval keeps the RNN's width around the new point."""
    w = (combine or {}).get("weight_rnn", 1.0)
    if w >= 1:
        return res
    from rnnkit.tasks.forecast_combine import mix, stat_member_forecast

    steps = len(res["point"])
    stat = stat_member_forecast(history[:, 0], steps, p.season, _max_history(p, len(history)))
    point = res["point"].copy()
    point[:, 0] = mix(w, res["point"][:, 0], stat)
    shift = point - res["point"]
    return {**res, "point": point, "lower": res["lower"] + shift, "upper": res["upper"] + shift}


def _combo_name(model: Forecaster, combine: dict[str, Any] | None) -> str:
    name = f"{model.config.kind} x{model.config.ensemble}"
    w = (combine or {}).get("weight_rnn", 1.0)
    if w >= 1:
        return name
    if w <= 0:
        return "AutoETS+AutoTheta (chosen by backtest)"
    return f"{name} + AutoETS+AutoTheta, w={w:g} (chosen by backtest)"


@contextlib.contextmanager
def _one_torch_thread(device: str | None):
    """These models are tiny (hidden 32, batch 32): on CPU, intra-op threads only add
    synchronisation, and on a busy machine they made the airline demo 30x slower (305 s vs
    10 s). Train with one thread, then restore the setting."""
    if device not in (None, "auto", "cpu") or (device == "auto" and torch.cuda.is_available()):
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


class _KeepBest(Callback):
    """Keeps the weights of the epoch with the lowest validation loss (restored after fit)."""

    def __init__(self) -> None:
        self.best, self.state, self.best_epoch = float("inf"), None, 0

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        value = logs.get("val_loss", logs.get("loss"))
        if value is not None and value < self.best:
            self.best, self.best_epoch = float(value), len(trainer.history)
            self.state = copy.deepcopy(trainer.model.state_dict())

    def restore(self, model: torch.nn.Module) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)


def _report(model: Forecaster, prep: Transform, plan: Plan, series: SeriesData,
            out: Path, cfg: dict[str, Any], seconds: float, train_run: bool) -> int:
    """Score the test window beside the baselines; print the table; write metrics and plot."""
    combine = cfg.get("combine_choice")
    res = test_forecast(model, prep, plan, series, combine)
    test = res["metrics"]
    base, base_fc = baselines(series, plan) if cfg.get("baselines", True) else ({}, {})
    quiet = cfg.get("quiet")
    name = _combo_name(model, combine)
    if train_run:
        metrics = write_metrics(out, "forecast", series.name, test, base, seconds,
                                horizon=plan.horizon, lookback=plan.lookback, season=plan.season,
                                model=name, coverage=res["coverage"])
        from rnnkit.plots.forecast import plot_forecast

        h = plan.horizon
        t = time_axis(series)
        png = plot_forecast(out / "forecast.png", t[:-h], series.target[:-h], t[-h:],
                            res["point"], res["lower"], res["upper"],
                            actual=series.target[-h:], baselines=base_fc,
                            title=f"{series.name}: {name}, last {h} steps held out",
                            level=model.config.level,
                            xlabel="date" if np.asarray(t).dtype.kind == "M" else "time step",
                            ylabels=list(plan.targets))
    # the cost column: rnnkit's fit (training, selection, its own statistical members) beside
    # each baseline's fit + forecast seconds
    shown = {**test, "seconds": seconds} if train_run else test
    print(format_table(shown, base, model_name=name))
    if train_run and not quiet:
        print(f"test coverage of the {round(model.config.level * 100)} % interval: "
              f"{res['coverage']:.0%}   train time {metrics['train_seconds']:.1f} s")
        print(f"metrics: {out / 'metrics.json'}\nplots:   {png}, {out / 'history.png'}")
    return 0


# ---- evaluate / predict / forecast --------------------------------------------------------------

def _load_run(run_dir: str | Path, runtime: str | None = None,
              ) -> tuple[Forecaster, Transform, Plan, dict[str, Any]]:
    """The run's model, transform, plan and config; ``runtime="onnxruntime"``: the model is its
    ONNX export (``rnnkit export DIR``) run by onnxruntime."""
    run = read_run(run_dir)
    if runtime == "onnxruntime":
        from rnnkit.tasks.export import OnnxForecaster

        model: Any = OnnxForecaster(run_dir)
    else:
        model = Forecaster(ForecasterConfig.from_dict(run["model"]))
        load_weights(model, run_dir)
        model.eval()
    return model, Transform.from_dict(run["transform"]), Plan.from_dict(run["plan"]), run


def _run_series(run: dict[str, Any], args: dict[str, Any], plan: Plan) -> SeriesData:
    cfg = {**run["settings"], "data": args.get("data") or run["data"],
           "target": list(plan.targets), "covariates": list(plan.covariates),
           "future_covariates": list(plan.future)}
    return load_series(cfg)


def _is_panel_run(run_dir: str | Path) -> bool:
    return read_run(run_dir).get("kind") == "panel"


def evaluate(run_dir: str | Path, args: dict[str, Any]) -> int:
    """Score a trained run on the last ``horizon`` steps of ``--data`` (default: its data)."""
    if _is_panel_run(run_dir):
        from rnnkit.tasks.forecast_panel import evaluate_panel

        return evaluate_panel(run_dir, args)
    model, prep, plan, run = _load_run(run_dir)
    series = _run_series(run, args, plan)
    opts = {"quiet": True, "baselines": run["settings"].get("baselines", True),
            "combine_choice": run.get("combine")}
    return _report(model, prep, plan, series, Path(run_dir), opts, 0.0, False)


def predict(run_dir: str | Path, args: dict[str, Any]) -> int:
    """Write the test-window forecasts (actual, forecast, lower, upper) as CSV."""
    if _is_panel_run(run_dir):
        from rnnkit.tasks.forecast_panel import predict_panel

        return predict_panel(run_dir, args)
    model, prep, plan, run = _load_run(run_dir, args.get("runtime"))
    series = _run_series(run, args, plan)
    res = test_forecast(model, prep, plan, series, run.get("combine"))
    h = plan.horizon
    cols = {"time": time_axis(series)[-h:]}
    for j, name in enumerate(plan.targets):
        cols.update({name: series.target[-h:, j], f"{name}_forecast": res["point"][:, j],
                     f"{name}_lower": res["lower"][:, j], f"{name}_upper": res["upper"][:, j]})
    path = write_csv(cols, args.get("output") or Path(run_dir) / "predictions.csv")
    print(f"predictions: {path}")
    return 0


def forecast(run_dir: str | Path, args: dict[str, Any]) -> int:
    """Forecast the steps after the end of ``--data``; CSV with interval columns."""
    if _is_panel_run(run_dir):
        from rnnkit.tasks.forecast_panel import forecast_panel

        return forecast_panel(run_dir, args)
    model, prep, plan, run = _load_run(run_dir, args.get("runtime"))
    steps = args.get("horizon") or plan.horizon
    if steps < 1:
        raise CLIError(f"--horizon: expected a positive number of steps, got {steps}.")
    series, future = load_history(run, args["data"], plan, steps)
    res = future_forecast(model, prep, plan, series, future, steps)
    res = _apply_combination(res, run.get("combine"), ordered(series, plan), plan)
    cols = {"time": future_time(series, steps)}
    for j, name in enumerate(plan.targets):
        cols.update({f"{name}": res["point"][:, j], f"{name}_lower": res["lower"][:, j],
                     f"{name}_upper": res["upper"][:, j]})
    emit_csv(cols, args.get("output"))
    return 0


# ---- forecasts, intervals, baselines ------------------------------------------------------------

def calibration_windows(sets: dict[str, Any], horizon: int) -> Any:
    """The windows whose residuals set the MSE model's interval width: the validation windows,
    topped up with the latest training windows to at least ``max(2·horizon, 24)`` origins.

    With a validation block of one horizon (short series) there is a single validation window,
    so each step's RMS would rest on one residual: on airline the 80 % interval then covered
    25–42 % of the test months (3 seeds); with the 12 latest training windows added, 75–83 %.
    The latest windows are the ones closest to the test block in level and noise."""
    from rnnkit.data import Windows

    val, train = sets["val"], sets["train"]
    if val is None:
        return train
    need = max(2 * horizon, 24) - len(val)
    if need <= 0 or len(train) == 0:
        return val
    fields = ("x", "y", "x_future", "origins")
    return Windows(*(np.concatenate([getattr(train, f)[-need:], getattr(val, f)])
                     for f in fields))


def calibrate(model: Forecaster, w: Any) -> None:
    """Set the MSE model's interval scale: running RMS of multi-step residuals on ``w``
    (validation windows), non-decreasing in the step."""
    x, xf, y = (torch.from_numpy(np.ascontiguousarray(a)) for a in (w.x, w.x_future, w.y))
    point = model.forecast(x, xf, steps=y.shape[1])["point"]
    sq = ((point - y) ** 2).mean(0)  # [H, K]
    running = (sq.cumsum(0) / torch.arange(1, sq.shape[0] + 1)[:, None]).sqrt()
    model.residual_scale.copy_(torch.cummax(running, 0).values.clamp_min(1e-4))


def _model_forecast(model: Forecaster, prep: Transform, p: Plan, values: np.ndarray,
                    origin: int, future_z: np.ndarray, steps: int) -> dict[str, np.ndarray]:
    z = prep.apply(values[:origin])
    x = torch.from_numpy(z[origin - p.lookback: origin][None])
    xf = torch.from_numpy(np.ascontiguousarray(future_z, dtype=np.float32)[None])
    out = model.forecast(x, xf, steps=steps)
    return {n: prep.inverse(v[0].numpy(), values[:origin]) for n, v in out.items()}


def test_forecast(model: Forecaster, prep: Transform, p: Plan, series: SeriesData,
                  combine: dict[str, Any] | None = None) -> dict[str, Any]:
    """Forecast the last ``horizon`` steps from what precedes them (the RNN, combined with the
    statistical members when ``combine`` says so); metrics and coverage."""
    from rnnkit.baselines import forecast_metrics

    values = ordered(series, p)
    n, h = len(values), p.horizon
    if n < p.lookback + p.diff + h:
        raise CLIError(f"--data: expected at least lookback + horizon = "
                       f"{p.lookback + p.diff + h} steps, got {n} in '{series.name}'.")
    future_z = prep.apply(values)[n - h:, values.shape[1] - p.n_fut:]
    res = _model_forecast(model, prep, p, values, n - h, future_z, h)
    res = _apply_combination(res, combine, values[: n - h], p)
    actual = values[n - h:, : p.k]
    per = [forecast_metrics(actual[:, j], res["point"][:, j], values[: n - h, j], p.season)
           for j in range(p.k)]
    res["metrics"] = {m: float(np.mean([d[m] for d in per])) for m in per[0]}
    res["coverage"] = float(((actual >= res["lower"]) & (actual <= res["upper"])).mean())
    return res


def baselines(series: SeriesData, p: Plan) -> tuple[dict[str, dict[str, float]],
                                                     dict[str, np.ndarray]]:
    """statsforecast's SeasonalNaive, Naive, AutoETS, AutoARIMA, AutoTheta and their mean on
    the first target, same split, each with its seconds (the cost column)."""
    from rnnkit.baselines import run_forecast_baselines

    y = series.target[:, 0]
    rows = run_forecast_baselines(y, p.horizon, p.season, max_history=_max_history(p, len(y)))
    metrics = {r["baseline"]: {**{m: r[m] for m in ("mae", "rmse", "mape", "smape", "mase")},
                               "seconds": r["seconds"]} for r in rows}
    plot = {r["baseline"]: r["forecast"] for r in rows
            if r["baseline"] in ("SeasonalNaive", "StatEnsemble")}
    return metrics, plot


def future_forecast(model: Forecaster, prep: Transform, p: Plan, series: SeriesData,
                    future: np.ndarray, steps: int) -> dict[str, np.ndarray]:
    """Forecast ``steps`` after the end of ``series`` (future covariates ``[steps, F]``)."""
    values = ordered(series, p)
    if len(values) < p.lookback + p.diff:
        raise CLIError(f"--data: expected at least lookback = {p.lookback + p.diff} steps of "
                       f"history, got {len(values)}.")
    c = values.shape[1]
    fz = (future - np.array(prep.shift[c - p.n_fut:])) / np.array(prep.scale[c - p.n_fut:])
    return _model_forecast(model, prep, p, values, len(values), fz, steps)



def explain(run_dir: str | Path, args: dict[str, Any]) -> int:
    """``rnnkit explain DIR [--data …] [--index N] [--method M] [-o DIR]``: saliency of each
    lookback step (summed over channels) for the whole forecast of window N, where window 0
    is the one that forecasts the test period and N counts origins back from it — PNG + JSON."""
    from rnnkit.interpret import explain_sequence

    model, prep, plan, run = _load_run(run_dir)
    series = _run_series(run, args, plan)
    values = ordered(series, plan)
    i = int(args.get("index") or 0)
    origin = len(values) - plan.horizon - i
    last = len(values) - plan.horizon - plan.lookback - plan.diff
    if not 0 <= i <= last:
        raise CLIError(f"--index: expected 0 <= index <= {last} (windows before the test "
                       f"period), got {i}.")
    z = prep.apply(values[: origin + plan.horizon])
    x = torch.from_numpy(np.ascontiguousarray(z[origin - plan.lookback: origin]))
    xf = torch.from_numpy(np.ascontiguousarray(
        z[origin: origin + plan.horizon, values.shape[1] - plan.n_fut:], dtype=np.float32))

    def fn(xb: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # the point forecast of every step and target, summed: one value per sequence
        return model(xb, xf[None].expand(len(xb), -1, -1))[..., 0].reshape(len(xb), -1).sum(1)

    out = Path(args.get("output") or Path(run_dir) / "explain")
    files = explain_sequence(fn, x, out, i, args.get("method") or "integrated_gradients")
    for f in files:
        print(f"{'plot' if f.suffix == '.png' else 'scores'}: {f}")
    return 0
