"""Forecasting data side: the series, the plan, the transform, the windows, the CSV files.

What :mod:`rnnkit.tasks.forecast` (the pipeline) feeds on::

    load_series(cfg)        built-in name or CSV path → SeriesData with the chosen columns
    make_plan(series, cfg)  season, horizon, lookback, validation, stride, diff, log → Plan
    Transform.fit(values)   log → difference → standard scaling, fitted on training steps only
    split_windows(z, plan)  training windows (before validation) and validation windows

plus the history and known-future covariates a ``forecast`` starts from (:func:`load_history`),
time stamps of the test and future steps, and atomic CSV output. Every user error is a one-line
:class:`~rnnkit.tasks.common.CLIError` raised before any file is written.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.data import SeriesData
from rnnkit.data.files import read_csv
from rnnkit.tasks.common import CLIError
from rnnkit.tasks.sources import is_path

__all__ = [
    "Plan",
    "Transform",
    "WindowDataset",
    "checked_time",
    "emit_csv",
    "future_time",
    "is_path",
    "load_history",
    "load_series",
    "make_plan",
    "ordered",
    "split_windows",
    "time_axis",
    "write_csv",
]


# ---- loading ---------------------------------------------------------------------------------

def _cli_message(e: Exception) -> str:
    msg = str(e).strip().strip("'\"")
    return msg.replace("Pass fillna='ffill', 'interpolate', 'zero' or 'drop'.",
                       "Pass --fillna ffill (or interpolate, zero, drop).").replace(
                           "Pass target='name'.", "Pass --target COLUMN.")


def load_series(cfg: dict[str, Any]) -> SeriesData:
    """The series named by ``cfg['data']`` (built-in name or CSV path) with the chosen columns.

    Raises:
        CLIError: missing file, unknown dataset or column, non-numeric values, NaNs.
    """
    from rnnkit.data import load_dataset, load_series_csv

    data = cfg.get("data")
    if not data:
        raise CLIError("--data: expected a dataset name or a CSV path, got nothing. Try "
                       "--data airline (see 'rnnkit datasets').")
    data = str(data)
    tgt, cov, fut = cfg.get("target"), cfg.get("covariates"), cfg.get("future_covariates")
    try:
        if is_path(data):
            if not Path(data).is_file():
                raise CLIError(f"--data: expected a CSV file or a built-in dataset name, got "
                               f"the missing path '{data}'. Check the path.")
            return checked_time(load_series_csv(
                data, target=tgt, covariates=list(cov or []), future_covariates=list(fut or []),
                fillna=cfg.get("fillna")))
        ds = load_dataset(data)
    except (ValueError, FileNotFoundError) as e:
        raise CLIError(_cli_message(e)) from e
    if not isinstance(ds, SeriesData):
        raise CLIError(f"--data: expected a forecasting dataset, got '{data}' (a "
                       f"{type(ds).__name__}). See 'rnnkit datasets --task forecasting'.")
    for name in [*(tgt or []), *(cov or []), *(fut or [])]:
        if name not in ds.columns:
            raise CLIError(f"--target/--covariates: expected a column of '{data}' among "
                           f"{list(ds.columns)}, got '{name}'. Pass one of those names.")
    tgt = tuple(tgt or ds.target_cols)
    fut = tuple(fut) if fut is not None else tuple(c for c in ds.future_cols if c not in tgt)
    cov = tuple(cov) if cov is not None else tuple(
        c for c in ds.covariate_cols if c not in tgt and c not in fut)
    cols = tgt + cov + fut
    values = ds.values[:, [ds.columns.index(c) for c in cols]]
    return SeriesData(values=values, columns=cols, target_cols=tgt, covariate_cols=cov,
                      future_cols=fut, time_index=ds.time_index, freq=ds.freq,
                      season=ds.season, name=ds.name)


def checked_time(series: SeriesData) -> SeriesData:
    """The series with its time axis validated (parseable, sorted, unique, regular).

    Raises:
        CLIError: ``--data: series '<name>': expected …, got … at row R. <fix>.`` (rows count
            the file's data rows from 1).
    """
    from rnnkit.data.long_format import check_time_axis

    if series.time_index is None:
        return series
    try:
        t, freq = check_time_axis(series.time_index, "--data", series.name)
    except ValueError as e:
        raise CLIError(str(e)) from e
    if t.dtype.kind != "M" or series.time_index.dtype.kind == "M":
        return series
    return dataclasses.replace(series, time_index=t, freq=series.freq or freq)


# ---- plan, transform, windows ----------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """Resolved data settings of a run: columns, season, horizon, lookback, splits, transform."""

    targets: tuple[str, ...]
    covariates: tuple[str, ...]
    future: tuple[str, ...]
    season: int | None
    horizon: int
    lookback: int
    val_size: int
    stride: int
    diff: int
    log: bool

    @property
    def k(self) -> int:
        return len(self.targets)

    @property
    def n_cov(self) -> int:
        return len(self.covariates)

    @property
    def n_fut(self) -> int:
        return len(self.future)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.targets + self.covariates + self.future

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})


def _positive(cfg: dict[str, Any], *names: str, minimum: int = 1) -> None:
    for name in names:
        v = cfg.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < minimum):
            raise CLIError(f"--{name.replace('_', '-')}: expected an integer >= {minimum}, got "
                           f"{v!r}.")


def make_plan(series: SeriesData, cfg: dict[str, Any]) -> Plan:
    """Season (given, known or detected on the first 80 %), horizon (one season, else 10 %),
    lookback (two seasons, else two horizons), validation (one horizon); checks the length."""
    from rnnkit.data import detect_season

    _positive(cfg, "horizon", "lookback", "season", "ensemble", "stride", "patience")
    _positive(cfg, "diff", "val_size", minimum=0)
    n = len(series)
    season = cfg.get("season") or series.season
    if season is None and n >= 16:
        season = detect_season(series.y[: n - max(n // 5, cfg.get("horizon") or 0)])
    horizon = cfg.get("horizon") or season or max(1, round(0.1 * n))
    lookback = cfg.get("lookback") or (2 * season if season else 2 * horizon)
    val = cfg.get("val_size")
    if val is None:  # long series: a validation block of 10 %, else one horizon
        val = max(horizon, n // 10) if n >= 500 else horizon
    diff = cfg.get("diff") or 0
    need = lookback + diff + 2 * horizon + val
    if n < need:
        raise CLIError(f"--data: expected a series of at least lookback + horizon (one training "
                       f"window) + validation + test = {lookback}+{diff}+{horizon}+{val}+"
                       f"{horizon} = {need} steps, got {n} in '{series.name}'. Use a smaller "
                       f"--lookback/--horizon/--val-size or a longer series.")
    train_y = series.target[: n - horizon - val]
    log = cfg.get("log")
    if log is None:
        log = bool((train_y > 0).all() and (series.target > 0).all())
    elif log and not (series.target > 0).all():
        raise CLIError(f"--log: expected positive targets, got values <= 0 in "
                       f"{list(series.target_cols)}. Use --no-log.")
    n_windows = n - horizon - val - lookback - diff - horizon + 1
    stride = cfg.get("stride") or max(1, n_windows // 4000)
    return Plan(tuple(series.target_cols), tuple(series.covariate_cols),
                tuple(series.future_cols), season, horizon, lookback, val, stride, diff,
                bool(log))


def ordered(series: SeriesData, p: Plan) -> np.ndarray:
    """``[T, C]`` values in the plan's column order (targets, covariates, future)."""
    return series.values[:, [series.columns.index(c) for c in p.columns]]


@dataclass(frozen=True)
class Transform:
    """log (targets) → lag-``diff`` difference (targets) → standard scaling (every column).

    Statistics come from the training steps only; ``apply`` keeps the length (the first
    ``diff`` rows are NaN and never used); ``inverse`` maps target forecasts back to units.
    """

    k: int
    log: bool
    diff: int
    shift: tuple[float, ...]
    scale: tuple[float, ...]

    @staticmethod
    def _pre(values: np.ndarray, k: int, log: bool, diff: int) -> np.ndarray:
        v = np.array(values, dtype=np.float64)
        if log:
            v[:, :k] = np.log(v[:, :k])
        if diff:
            v[diff:, :k] = v[diff:, :k] - v[:-diff, :k]
            v[:diff, :k] = np.nan
        return v

    @classmethod
    def fit(cls, values: np.ndarray, p: Plan) -> Transform:
        train_end = len(values) - p.horizon - p.val_size
        v = cls._pre(values[:train_end], p.k, p.log, p.diff)[p.diff:]
        std = v.std(0)
        return cls(p.k, p.log, p.diff, tuple(v.mean(0).tolist()),
                   tuple(np.where(std > 1e-8, std, 1.0).tolist()))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transform:
        return cls(d["k"], d["log"], d["diff"], tuple(d["shift"]), tuple(d["scale"]))

    def apply(self, values: np.ndarray) -> np.ndarray:
        """``[T, C]`` raw → ``[T, C]`` float32 model space."""
        z = (self._pre(values, self.k, self.log, self.diff) - np.array(self.shift)) / np.array(
            self.scale)
        return z.astype(np.float32)

    def inverse(self, zk: np.ndarray, history: np.ndarray) -> np.ndarray:
        """Target forecasts ``[S, K]`` (model space) following ``history [>= diff, C]`` (raw)
        → ``[S, K]`` in the original units."""
        u = np.asarray(zk, dtype=np.float64) * self.scale[: self.k] + self.shift[: self.k]
        if self.diff:
            from rnnkit.data import Differencer

            levels = history[-self.diff:, : self.k].astype(np.float64)
            u = Differencer(self.diff).inverse(u, np.log(levels) if self.log else levels)
        return np.exp(u) if self.log else u


class WindowDataset(torch.utils.data.Dataset):
    """``(x [L, C], x_future [H, F], y [H, K])`` items of :class:`~rnnkit.data.Windows`,
    repeated so that an epoch holds at least ``min_items`` items."""

    def __init__(self, w: Any, min_items: int = 0) -> None:
        self.x, self.xf, self.y = (torch.from_numpy(np.ascontiguousarray(a)) for a in
                                   (w.x, w.x_future, w.y))
        self.n = len(w)
        self.repeat = max(1, -(-min_items // self.n))

    def __len__(self) -> int:
        return self.n * self.repeat

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        i %= self.n
        return self.x[i], self.xf[i], self.y[i]


def split_windows(z: np.ndarray, p: Plan) -> dict[str, Any]:
    """Training windows (targets before the validation block) and validation windows."""
    from rnnkit.data import make_windows

    n = len(z)
    test_start = n - p.horizon
    val_start = test_start - p.val_size
    start = p.lookback + p.diff
    args = (p.lookback, p.horizon, p.k, p.n_fut)
    train = make_windows(z, *args, start=start, stop=val_start, stride=p.stride)
    val = (make_windows(z, *args, start=max(val_start, start), stop=test_start, stride=p.stride)
           if p.val_size else None)
    return {"train": train, "val": val}


# ---- time stamps, forecast history, CSV files ------------------------------------------------

def time_axis(series: SeriesData) -> np.ndarray:
    return series.time_index if series.time_index is not None else np.arange(len(series))


def future_time(series: SeriesData, steps: int) -> np.ndarray:
    """Time stamps of the ``steps`` after the end (frequency, else the last spacing)."""
    t = time_axis(series)
    if np.issubdtype(t.dtype, np.datetime64) and series.freq:
        import pandas as pd

        return pd.date_range(t[-1], periods=steps + 1, freq=series.freq)[1:].to_numpy()
    if np.issubdtype(t.dtype, np.datetime64) or np.issubdtype(t.dtype, np.number):
        step = t[-1] - t[-2] if len(t) > 1 else 1
        return t[-1] + step * np.arange(1, steps + 1)
    return np.arange(len(t), len(t) + steps)


def load_history(run: dict[str, Any], data: str, p: Plan,
                 steps: int) -> tuple[SeriesData, np.ndarray]:
    """The history to forecast from, and the known-future covariates ``[steps, F]`` taken from
    trailing rows of the CSV whose target cells are empty."""
    cfg = {**run["settings"], "data": data, "target": list(p.targets),
           "covariates": list(p.covariates), "future_covariates": list(p.future)}
    if not p.future:
        return load_series(cfg), np.zeros((steps, 0))
    if not is_path(str(data)) or not Path(data).is_file():
        raise CLIError(f"--data: expected a CSV file whose last {steps} rows hold the "
                       f"known-future covariates {list(p.future)} (targets empty), got "
                       f"'{data}'.")
    import tempfile

    df = read_csv(data, "--data")
    empty = df[[c for c in p.targets if c in df.columns]].isna().all(axis=1).to_numpy()
    trailing = len(empty) - (np.flatnonzero(~empty)[-1] + 1 if (~empty).any() else 0)
    if trailing < steps:
        raise CLIError(f"--data: expected {steps} trailing rows with empty target(s) holding "
                       f"the known-future covariates {list(p.future)}, got {trailing}. Append "
                       "one row per future step.")
    future = df[list(p.future)].iloc[len(df) - trailing:][:steps].to_numpy(dtype=np.float64)
    if not np.isfinite(future).all():
        raise CLIError(f"--data: expected numbers in the future rows of {list(p.future)}, got "
                       "missing values. Fill them in.")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(data).name
        df.iloc[: len(df) - trailing].to_csv(path, index=False)
        return load_series({**cfg, "data": str(path)}), future


def _frame(cols: dict[str, Any]):
    import pandas as pd

    return pd.DataFrame(cols)


def emit_csv(cols: dict[str, Any], output: str | Path | None, what: str = "forecast") -> None:
    """Write ``cols`` to ``output`` (atomically; prints the path) or, without one, print the CSV
    to stdout: what ``rnnkit forecast`` does with its rows."""
    if output:
        print(f"{what}: {write_csv(cols, output)}")
    else:
        print(_frame(cols).to_csv(index=False), end="")


def write_csv(cols: dict[str, Any], path: str | Path) -> Path:
    """Write a CSV atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    _frame(cols).to_csv(tmp, index=False)
    tmp.replace(path)
    return path
