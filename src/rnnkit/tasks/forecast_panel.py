"""Forecasting many series: ``rnnkit train forecast --data m3-monthly`` or a long table.

Taken when ``--data`` names a competition set (``m3-*``, ``m1-*``) or a CSV / Parquet file
holding the id column (``--id-col``, default ``unique_id``). The split: the set's official test
parts, else the last ``--horizon`` steps of every series. The model is
:class:`~rnnkit.forecasting.RNNForecast` (global RNN, combined with the statistical members by
backtest on the training parts); statsforecast's models run on the same split with their
seconds. Run directory: ``config.json``, ``model.safetensors`` (the networks),
``metrics.json`` (``{"test": …, "baselines": {name: …}}``), ``series_metrics.csv`` (one row per
series and model), ``forecasts.csv`` (long: ``unique_id, ds, yhat, lo-80, hi-80, y``),
``forecast.png`` and, with ``--backtest N``, ``backtest.csv``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.baselines.stat_models import STAT_MODELS, stat_forecasts
from rnnkit.data.long_format import COMPETITION_SETS, Panel, future_stamps
from rnnkit.forecasting import RNNForecast, RNNForecastSettings, aggregate, series_metrics
from rnnkit.tasks.common import (
    CLIError,
    load_weights,
    make_out_dir,
    read_run,
    save_weights,
    write_json,
    write_metrics,
)
from rnnkit.tasks.forecast_data import emit_csv, write_csv

__all__ = ["PanelSettings", "evaluate_panel", "forecast_panel", "is_panel_data", "load_panel",
           "predict_panel", "train_panel"]


@dataclasses.dataclass(frozen=True)
class PanelSettings:
    """The panel run's resolved settings (typed; written to config.json)."""

    data: str
    id_col: str = "unique_id"
    time_col: str = "ds"
    target: str = "y"
    horizon: int | None = None
    season: int | None = None
    backtest: int = 0
    baselines: bool = True
    stat_baselines: tuple[str, ...] = STAT_MODELS
    n_jobs: int = 1
    model: RNNForecastSettings = dataclasses.field(default_factory=RNNForecastSettings)

    @classmethod
    def from_cfg(cls, cfg: dict[str, Any]) -> PanelSettings:
        tgt = cfg.get("target")
        if isinstance(tgt, list | tuple):
            if len(tgt) != 1:
                raise CLIError(f"--target: expected one column for a long table, got {tgt}.")
            tgt = tgt[0]
        combine = cfg.get("combine") or "auto"
        try:
            model = RNNForecastSettings(
                horizon=cfg.get("horizon"), season=cfg.get("season"),
                lookback=cfg.get("lookback"), kind=str(cfg.get("model") or "gru").lower(),
                hidden_size=cfg.get("hidden_size") or 64, num_layers=cfg.get("num_layers") or 1,
                batch_size=cfg.get("batch_size") or 256,
                lr=cfg.get("lr") or 3e-3, max_steps=cfg.get("max_steps") or 1500,
                ensemble=cfg.get("ensemble") or 1, combine=combine,
                n_jobs=cfg.get("n_jobs") or 1, seed=cfg.get("seed") or 0,
                level=round(100 * (cfg.get("level") or 0.8)))
        except ValueError as e:
            raise CLIError(str(e).replace("RNNForecast: ", "--data (many series): ")) from e
        bt = cfg.get("backtest") or 0
        if bt < 0:
            raise CLIError(f"--backtest: expected a number of origins >= 0, got {bt}.")
        return cls(str(cfg["data"]), cfg.get("id_col") or "unique_id",
                   cfg.get("time_col") or "ds", tgt or "y", cfg.get("horizon"),
                   cfg.get("season"), bt, cfg.get("baselines") is not False, STAT_MODELS,
                   cfg.get("n_jobs") or 1, model)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def is_panel_data(cfg: dict[str, Any]) -> bool:
    """``--data`` names a competition set, or a file with the id column (or ``--id-col``)."""
    data = str(cfg.get("data") or "")
    if data.lower() in COMPETITION_SETS:
        return True
    p = Path(data)
    if not p.is_file():
        return False
    if cfg.get("id_col"):
        return True
    if p.suffix.lower() in (".parquet", ".pq"):
        return True
    try:
        with open(p, encoding="utf-8", errors="replace") as f:
            header = f.readline().strip().split(",")
    except OSError:
        return False
    return "unique_id" in [h.strip().strip('"') for h in header]


def load_panel(s: PanelSettings) -> Panel:
    from rnnkit.data.long_format import load_competition, read_long

    try:
        if s.data.lower() in COMPETITION_SETS:
            return load_competition(s.data)
        return read_long(s.data, s.id_col, s.time_col, s.target, season=s.season)
    except (ValueError, ImportError) as e:
        raise CLIError(str(e)) from e


def _split(panel: Panel, h: int) -> tuple[Panel, list[np.ndarray]]:
    """Training parts and test parts: the set's official ones, else the last ``h`` steps."""
    if panel.test is not None:
        return panel, list(panel.test)
    short = [panel.ids[i] for i, v in enumerate(panel.y) if len(v) < 2 * h + 3]
    if short:
        raise CLIError(f"--data: expected every series to hold at least 2·horizon + 3 = "
                       f"{2 * h + 3} steps (test, validation, history), got {len(short)} "
                       f"shorter, first '{short[0]}'. Use a smaller --horizon or drop them.")
    train = Panel(panel.ids, tuple(v[:-h] for v in panel.y), tuple(d[:-h] for d in panel.ds),
                  panel.season, h, panel.freq, None, panel.name)
    return train, [v[-h:] for v in panel.y]


def train_panel(cfg: dict[str, Any]) -> int:
    """Train the global forecaster on a set, score it beside statsforecast, write the run."""
    s = PanelSettings.from_cfg(cfg)
    panel = load_panel(s)
    if s.season:
        panel = dataclasses.replace(panel, season=s.season)
    h = s.horizon or panel.horizon or max(panel.season, 1) * (2 if panel.season == 1 else 1)
    if panel.test is not None and s.horizon and s.horizon != panel.horizon:
        raise CLIError(f"--horizon: expected {panel.horizon} for '{panel.name}' (its official "
                       f"test horizon), got {s.horizon}. Leave --horizon out.")
    train, test = _split(panel, h)
    out = make_out_dir(cfg, "forecast", panel.name, no_checkpoints="the many-series forecaster")
    settings = dataclasses.replace(s.model, horizon=h, season=panel.season)
    t0 = time.perf_counter()
    fc = RNNForecast(settings).fit(train)
    point, lo, hi = fc.forecast_from(list(train.y))
    seconds = time.perf_counter() - t0
    m = panel.season
    rows = [series_metrics(test[i], point[i], train.y[i], m, lo[i], hi[i], settings.level / 100)
            for i in range(train.n_series)]
    per_series = {"rnnkit": rows}
    base, cost = {}, {"rnnkit": seconds}
    naive2_agg = None
    if s.baselines:
        stats = stat_forecasts(list(train.y), h, m, models=s.stat_baselines,
                               level=settings.level, n_jobs=s.n_jobs)
        n2 = stats.pop("Naive2")
        naive2_agg = aggregate([series_metrics(test[i], n2["point"][i], train.y[i], m)
                                for i in range(train.n_series)])
        base["Naive2"] = {**naive2_agg, "owa": 1.0, "seconds": n2["seconds"]}
        for name, f in stats.items():
            r = [series_metrics(test[i], f["point"][i], train.y[i], m, f["lo"][i], f["hi"][i],
                                settings.level / 100) for i in range(train.n_series)]
            per_series[name] = r
            base[name] = {**aggregate(r, naive2_agg), "seconds": f["seconds"]}
            cost[name] = f["seconds"]
    test_agg = aggregate(rows, naive2_agg)
    _write_run(out, s, settings, fc, train, test, point, lo, hi, per_series)
    extra: dict[str, Any] = {}
    if s.backtest:
        extra["backtest"] = _backtest(out, fc, train, h, s.backtest)
    metrics = write_metrics(out, "forecast", panel.name, test_agg, base, seconds,
                            model=fc.info_["method"], n_series=train.n_series, horizon=h,
                            season=m, level=settings.level, seconds=cost,
                            fit=fc.info_, **extra)
    _print(panel.name, train.n_series, h, test_agg, base, fc.info_["method"], seconds,
           cfg.get("quiet"), out, metrics)
    return 0


def _write_run(out: Path, s: PanelSettings, settings: RNNForecastSettings, fc: RNNForecast,
               train: Panel, test: list[np.ndarray], point, lo, hi, per_series) -> None:
    nets = torch.nn.ModuleList([n for n, _ in fc.nets_])
    save_weights(nets, out)
    write_json(out / "config.json", {
        "task": "forecast", "kind": "panel", "dataset": train.name, "data": s.data,
        "settings": {**s.to_dict(), "model": settings.to_dict()},
        "fitted": {"weight_rnn": fc.weight_, "width": fc.width_.tolist(), "lookback": fc.L,
                   "horizon": fc.h, "season": fc.m, "n_nets": len(fc.nets_),
                   "n_series": train.n_series}})
    lv = settings.level
    h = point.shape[1]
    stamps = [future_stamps(d, h, train.freq) for d in train.ds]
    cols = {"unique_id": np.repeat(np.array(train.ids, dtype=object), h),
            "ds": np.concatenate(stamps), "yhat": point.ravel(), f"lo-{lv}": lo.ravel(),
            f"hi-{lv}": hi.ravel(), "y": np.concatenate(test)}
    write_csv(cols, out / "forecasts.csv")
    table: dict[str, list] = {"unique_id": [], "model": []}
    for model, rows in per_series.items():
        table["unique_id"] += list(train.ids)
        table["model"] += [model] * len(rows)
        for k in rows[0]:
            table.setdefault(k, []).extend(r.get(k, float("nan")) for r in rows)
    write_csv(table, out / "series_metrics.csv")
    from rnnkit.plots.forecast import plot_panel

    plot_panel(out / "forecast.png", train, test, point, lo, hi, level=lv / 100,
               title=f"{train.name}: {fc.info_['method']}")


def _backtest(out: Path, fc: RNNForecast, train: Panel, h: int, n: int) -> dict[str, float]:
    """Rolling-origin evaluation over ``n`` origins inside the training parts."""
    need = h * (n + 1) + 3
    short = [train.ids[i] for i, v in enumerate(train.y) if len(v) < need]
    if short:
        raise CLIError(f"--backtest: expected every series to hold (N+1)·horizon + 3 = {need} "
                       f"training steps for {n} origins, got {len(short)} shorter, first "
                       f"'{short[0]}'. Use fewer origins.")
    cv = fc.cross_validation(train, h=h, n_windows=n)
    write_csv({c: cv[c].to_numpy() for c in cv.columns}, out / "backtest.csv")
    lv = fc.settings.level
    rows = []
    for (sid, _), g in cv.groupby(["unique_id", "cutoff"], sort=False):
        i = train.ids.index(sid)
        cut = int(np.searchsorted(train.ds[i], g["ds"].iloc[0]))
        rows.append(series_metrics(g["y"].to_numpy(), g["yhat"].to_numpy(), train.y[i][:cut],
                                   train.season, g[f"lo-{lv}"].to_numpy(),
                                   g[f"hi-{lv}"].to_numpy(), lv / 100))
    return {**aggregate(rows), "origins": n}


def _print(name, n, h, test, base, method, seconds, quiet, out, metrics) -> None:
    keys = ("smape", "mase", "owa", "coverage", "msis", "seconds")
    print(f"{name}: {n} series, horizon {h}; rnnkit = {method}")
    print(f"{'model':<14}" + "".join(f"{k:>10}" for k in keys))
    for model, m in [("rnnkit", {**test, "seconds": seconds}), *base.items()]:
        print(f"{model:<14}" + "".join(f"{m[k]:>10.3f}" if k in m else f"{'-':>10}"
                                       for k in keys))
    if not quiet:
        print(f"metrics: {out / 'metrics.json'}\nforecasts: {out / 'forecasts.csv'}\n"
              f"plot: {out / 'forecast.png'}")
    del metrics


def _load(run_dir: str | Path) -> tuple[RNNForecast, dict[str, Any]]:
    from rnnkit.models.global_forecaster import GlobalForecaster

    run = read_run(run_dir)
    f = run["fitted"]
    ms = dict(run["settings"]["model"])
    ms["stat_models"] = tuple(ms["stat_models"])
    fc = RNNForecast(RNNForecastSettings(**ms))
    fc.h, fc.m, fc.L = f["horizon"], f["season"], f["lookback"]
    fc.weight_, fc.width_ = f["weight_rnn"], np.asarray(f["width"])
    cfg = fc._config(f["n_series"])
    nets = torch.nn.ModuleList([GlobalForecaster(cfg) for _ in range(f["n_nets"])])
    try:
        load_weights(nets, run_dir)
    except RuntimeError as e:
        raise CLIError(f"{run_dir}: expected weights matching config.json, got a mismatch "
                       f"({str(e).splitlines()[0]}). The run is damaged; train again.") from e
    fc.nets_ = [(n.eval(), None) for n in nets]
    return fc, run


def forecast_panel(run_dir: str | Path, args: dict[str, Any]) -> int:
    """``rnnkit forecast DIR --data TABLE``: forecasts after the end of every series."""
    fc, run = _load(run_dir)
    st = run["settings"]
    data = args.get("data") or st["data"]
    panel = load_panel(PanelSettings(str(data), st["id_col"], st["time_col"], st["target"],
                                     season=st.get("season")))
    steps = args.get("horizon") or fc.h
    if not 1 <= steps <= fc.h:
        raise CLIError(f"--horizon: expected 1..{fc.h} (the trained horizon), got {steps}.")
    fc.panel_ = panel
    point, lo, hi = fc.forecast_from(list(panel.y))
    lv = fc.settings.level
    cols = {"unique_id": np.repeat(np.array(panel.ids, dtype=object), steps),
            "ds": np.concatenate([future_stamps(d, steps, panel.freq) for d in panel.ds]),
            "yhat": point[:, :steps].ravel(), f"lo-{lv}": lo[:, :steps].ravel(),
            f"hi-{lv}": hi[:, :steps].ravel()}
    emit_csv(cols, args.get("output"))
    return 0


def _test_forecast(run_dir: str | Path, args: dict[str, Any]):
    fc, run = _load(run_dir)
    st = run["settings"]
    data = args.get("data") or st["data"]
    panel = load_panel(PanelSettings(str(data), st["id_col"], st["time_col"], st["target"],
                                     season=st.get("season")))
    train, test = _split(panel, fc.h)
    fc.panel_ = train
    point, lo, hi = fc.forecast_from(list(train.y))
    return fc, train, test, point, lo, hi


def evaluate_panel(run_dir: str | Path, args: dict[str, Any]) -> int:
    """``rnnkit evaluate DIR [--data …]``: score the run's forecast of every series' test part."""
    fc, train, test, point, lo, hi = _test_forecast(run_dir, args)
    lv = fc.settings.level / 100
    agg = aggregate([series_metrics(test[i], point[i], train.y[i], train.season, lo[i], hi[i],
                                    lv) for i in range(train.n_series)])
    print(f"{train.name}: {train.n_series} series, horizon {fc.h}")
    print("  ".join(f"{k} {v:.4f}" for k, v in agg.items()))
    return 0


def predict_panel(run_dir: str | Path, args: dict[str, Any]) -> int:
    """``rnnkit predict DIR``: the test-part forecasts as a long CSV with the actual ``y``."""
    fc, train, test, point, lo, hi = _test_forecast(run_dir, args)
    lv = fc.settings.level
    h = fc.h
    cols = {"unique_id": np.repeat(np.array(train.ids, dtype=object), h),
            "ds": np.concatenate([future_stamps(d, h, train.freq) for d in train.ds]),
            "y": np.concatenate(test), "yhat": point.ravel(), f"lo-{lv}": lo.ravel(),
            f"hi-{lv}": hi.ravel()}
    path = write_csv(cols, args.get("output") or Path(run_dir) / "predictions.csv")
    print(f"predictions: {path}")
    return 0
