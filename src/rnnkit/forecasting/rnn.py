"""``RNNForecast``: a global recurrent forecaster with statsforecast's shape.

    fc = RNNForecast(horizon=18, season=12).fit(df)        # long table unique_id, ds, y
    fc.predict()                  # unique_id, ds, yhat, lo-80, hi-80
    fc.cross_validation(df, h=18, n_windows=3)             # rolling origin, batched

How ``fit`` works (every choice is made on the training part; nothing else is read):

1. **Validation stage.** Each series' last ``H`` steps are held out. Per-series scalers are
   fitted on the rest, one network is trained on windows drawn lazily across all series
   (:class:`~rnnkit.forecasting.scaling.WindowSampler`) and early-stopped on the held-out
   steps. The statistical members (AutoETS and AutoTheta by default) forecast the same steps.
   The weight ``w`` of the RNN in ``w·RNN + (1 − w)·mean(statistical)`` is chosen on them
   (OWA against Naive2), and the scaled absolute residuals of that combination give the
   conformal interval width per step.
2. **Final stage.** Scalers are refitted on each whole training part, the network is trained
   again for the chosen number of steps, the statistical members refitted, and the forecast is
   the chosen combination ± the conformal width × each series' MASE scale.

``info_`` names what produced the forecast (``"rnn"``, ``"stat"`` or ``"rnn+stat w=…"``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rnnkit.baselines.stat_models import AUTO_MODELS, stat_forecasts
from rnnkit.data.long_format import Panel, future_stamps, panel_from_frame
from rnnkit.forecasting.metrics import aggregate, mase_scale, series_metrics
from rnnkit.forecasting.scaling import PanelScaler, WindowSampler, gather_windows, pad_matrix
from rnnkit.models.global_forecaster import GlobalForecaster, GlobalForecasterConfig

__all__ = ["COMBINE", "RNNForecast", "RNNForecastSettings"]

COMBINE = ("auto", "rnn", "stat")
_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class RNNForecastSettings:
    """Settings of :class:`RNNForecast` (frozen; validated here).

    Args:
        horizon: H, steps forecast (default: the set's horizon).
        season: seasonal period (default: the set's, from its frequency).
        lookback: input steps (default ``max(2·H, 2·season, 12)``).
        kind, hidden_size, num_layers, embed_dim: the network
            (:class:`~rnnkit.models.global_forecaster.GlobalForecasterConfig`).
        batch_size, lr, max_steps, eval_every, patience: training; early stopping checks the
            held-out last horizon every ``eval_every`` steps and stops after ``patience``
            checks without improvement.
        ensemble: networks (seeds) averaged.
        combine: ``auto`` (weight chosen on the held-out horizon), ``rnn`` or ``stat``.
        stat_models: statistical members of the combination (statsforecast names).
        level: interval coverage in percent.
        n_jobs: statsforecast processes. seed: random seed.
    """

    horizon: int | None = None
    season: int | None = None
    lookback: int | None = None
    kind: str = "gru"
    hidden_size: int = 64
    num_layers: int = 1
    embed_dim: int = 0
    batch_size: int = 256
    lr: float = 3e-3
    max_steps: int = 1500
    eval_every: int = 100
    patience: int = 3
    ensemble: int = 1
    combine: str = "auto"
    stat_models: tuple[str, ...] = ("AutoETS", "AutoTheta")
    level: int = 80
    n_jobs: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("horizon", "season", "lookback"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise ValueError(f"RNNForecast: expected {name} >= 1, got {v!r}.")
        for name in ("hidden_size", "num_layers", "batch_size", "max_steps", "eval_every",
                     "patience", "ensemble"):
            if getattr(self, name) < 1:
                raise ValueError(f"RNNForecast: expected {name} >= 1, got "
                                 f"{getattr(self, name)!r}.")
        if self.combine not in COMBINE:
            raise ValueError(f"RNNForecast: expected combine in {COMBINE}, got "
                             f"{self.combine!r}.")
        if not 0 < self.level < 100:
            raise ValueError(f"RNNForecast: expected level in (0, 100), got {self.level!r}.")
        bad = [m for m in self.stat_models if m not in AUTO_MODELS]
        if bad or (self.combine != "rnn" and not self.stat_models):
            raise ValueError(f"RNNForecast: expected stat_models among {AUTO_MODELS}, got "
                             f"{list(self.stat_models)}.")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class RNNForecast:
    """Global recurrent forecaster over many series (see the module docstring).

    Example:
        >>> fc = RNNForecast(horizon=6, max_steps=200).fit(df)
        >>> fc.predict().columns.tolist()
        ['unique_id', 'ds', 'yhat', 'lo-80', 'hi-80']
    """

    def __init__(self, settings: RNNForecastSettings | None = None, **kwargs: Any) -> None:
        if settings is not None and kwargs:
            raise TypeError("RNNForecast: pass settings or keyword arguments, not both.")
        self.settings = settings or RNNForecastSettings(**kwargs)
        self.panel_: Panel | None = None
        self.info_: dict[str, Any] = {}

    # ---- public API --------------------------------------------------------------------------

    def fit(self, df: Any, id_col: str = "unique_id", time_col: str = "ds",
            target: str = "y") -> RNNForecast:
        """Fit on a long table (DataFrame) or a :class:`~rnnkit.data.Panel` (its ``y``)."""
        panel = df if isinstance(df, Panel) else panel_from_frame(
            df, id_col, time_col, target, where="RNNForecast.fit", season=self.settings.season)
        t0 = time.perf_counter()
        self.panel_ = panel
        s = self.settings
        self.h = s.horizon or panel.horizon
        if self.h is None:
            raise ValueError("RNNForecast.fit: expected a horizon, got none. Pass horizon=H.")
        self.m = s.season or panel.season
        self.L = s.lookback or max(2 * self.h, 2 * self.m, 12)
        ys = [np.asarray(v, dtype=np.float64) for v in panel.y]
        # 1. validation stage: the last h of each training part decides steps, weight, width
        # (series shorter than h + 3 sit it out; they are trained on and forecast in stage 2)
        ok = [i for i, v in enumerate(ys) if len(v) >= self.h + 3]
        if not ok:
            raise ValueError(f"RNNForecast.fit: expected at least one series of horizon + 3 = "
                             f"{self.h + 3} steps or more, got none. Use a shorter horizon.")
        fit_part = [ys[i][: -self.h] for i in ok]
        held = np.stack([ys[i][-self.h:] for i in ok])
        nets, steps, curve = self._train(fit_part, held)
        val_rnn = self._rnn_forecast(nets, fit_part)
        val_stat = self._stat(fit_part)
        weight, scores = self._choose_weight(fit_part, held, val_rnn, val_stat)
        val_fc = self._mix(weight, val_rnn, val_stat)
        scale = np.array([mase_scale(v, self.m) for v in fit_part])
        self.width_ = _conformal_width(np.abs(held - val_fc) / _safe(scale)[:, None],
                                       s.level / 100)
        # 2. final stage: refit on the whole training parts for the chosen steps
        self.nets_ = self._train(ys, None, fixed_steps=steps)[0] if weight > 0 else nets
        self.weight_ = weight
        self.info_ = {"method": _method_name(weight, s), "weight_rnn": weight,
                      "stat_models": list(s.stat_models) if weight < 1 else [],
                      "steps": steps, "validation_curve": curve, "validation_owa": scores,
                      "lookback": self.L, "horizon": self.h, "season": self.m,
                      "validation_series": len(ok), "fit_seconds": None}
        self.info_["fit_seconds"] = round(time.perf_counter() - t0, 2)
        return self

    def predict(self, h: int | None = None, level: int | None = None) -> Any:
        """Forecasts after the end of each fitted series: ``unique_id, ds, yhat, lo-80,
        hi-80`` (``h <= horizon``)."""
        p = self._fitted()
        h = self._check_h(h)
        point, lo, hi = self.forecast_from(list(p.y), np.arange(p.n_series))
        return _long(p.ids, [future_stamps(d, h, p.freq) for d in p.ds], point[:, :h],
                     lo[:, :h], hi[:, :h], self.settings.level)

    def forecast_from(self, histories: list[np.ndarray], series: np.ndarray | None = None
                      ) -> tuple[np.ndarray, ...]:
        """``(point, lo, hi)``, each ``[N, H]``, from the end of each history (the fitted
        networks and weight; stat members and scalers refitted on each history). ``series``:
        each history's row in the fitted set (for the static embedding; default: in order)."""
        p = self._fitted()
        hist = [np.asarray(v, dtype=np.float64) for v in histories]
        sid = np.arange(len(hist)) if series is None else np.asarray(series, dtype=np.int64)
        if self.settings.embed_dim and (len(sid) != len(hist) or sid.min() < 0
                                        or sid.max() >= p.n_series):
            raise ValueError(f"RNNForecast: expected one fitted series row (0..{p.n_series - 1})"
                             f" per history with embed_dim > 0, got {len(sid)} rows for "
                             f"{len(hist)} histories.")
        rnn = self._rnn_forecast(self.nets_, hist, sid=sid) if self.weight_ > 0 else None
        stat = self._stat(hist) if self.weight_ < 1 else None
        point = self._mix(self.weight_, rnn, stat)
        scale = _safe(np.array([mase_scale(v, self.m) for v in hist]))[:, None]
        return point, point - self.width_ * scale, point + self.width_ * scale

    def cross_validation(self, df: Any, h: int | None = None, n_windows: int = 1,
                         step_size: int | None = None, id_col: str = "unique_id",
                         time_col: str = "ds", target: str = "y") -> Any:
        """Rolling-origin evaluation: fit once on each series up to its first cutoff, then
        forecast every cutoff in one batched pass. Columns: ``unique_id, ds, cutoff, y, yhat,
        lo-80, hi-80``. Equals the loop of :meth:`forecast_from` over the cutoffs (a test)."""
        panel = df if isinstance(df, Panel) else panel_from_frame(
            df, id_col, time_col, target, where="RNNForecast.cross_validation",
            season=self.settings.season)
        h = h or self.settings.horizon or panel.horizon
        step = step_size or h
        if n_windows < 1 or step < 1 or not h:
            raise ValueError(f"cross_validation: expected n_windows >= 1, step_size >= 1 and "
                             f"h, got {n_windows}, {step}, {h}.")
        back = h + (n_windows - 1) * step
        first = Panel(panel.ids, tuple(v[:-back] for v in panel.y),
                      tuple(d[:-back] for d in panel.ds), panel.season, h, panel.freq, None,
                      panel.name)
        fitted = RNNForecast(dataclasses.replace(self.settings, horizon=h)).fit(first)
        cuts = [[len(v) - back + j * step for j in range(n_windows)] for v in panel.y]
        hist = [panel.y[i][:c] for i in range(panel.n_series) for c in cuts[i]]
        point, lo, hi = fitted.forecast_from(
            hist, np.repeat(np.arange(panel.n_series), [len(c) for c in cuts]))
        rows = {"unique_id": [], "ds": [], "cutoff": [], "y": []}
        for i in range(panel.n_series):
            for c in cuts[i]:
                rows["unique_id"] += [panel.ids[i]] * h
                rows["ds"] += list(panel.ds[i][c: c + h])
                rows["cutoff"] += [panel.ds[i][c - 1]] * h
                rows["y"] += list(panel.y[i][c: c + h])
        import pandas as pd

        out = pd.DataFrame(rows)
        lv = self.settings.level
        out["yhat"], out[f"lo-{lv}"], out[f"hi-{lv}"] = (point.ravel(), lo.ravel(), hi.ravel())
        self.cv_model_ = fitted
        return out

    # ---- training ----------------------------------------------------------------------------

    def _config(self, n_series: int) -> GlobalForecasterConfig:
        s = self.settings
        return GlobalForecasterConfig(self.L, self.h, s.kind, s.hidden_size, s.num_layers,
                                      n_series=n_series if s.embed_dim else 0,
                                      embed_dim=s.embed_dim)

    def _train(self, ys: list[np.ndarray], held: np.ndarray | None,
               fixed_steps: int | None = None) -> tuple[list, int, list]:
        """Train ``ensemble`` networks on ``ys``; early-stop on ``held`` (the steps after each
        ``ys[i]``) unless ``fixed_steps``. Returns (networks, steps, validation curve)."""
        s = self.settings
        if self.settings.combine == "stat":
            return [], 0, []
        scaler = PanelScaler.fit(ys, self.m)
        zs = [scaler.transform(i, v) for i, v in enumerate(ys)]
        nets, all_steps, curve = [], [], []
        for k in range(s.ensemble):
            torch.manual_seed(s.seed + k)
            net = GlobalForecaster(self._config(len(ys)))
            opt = torch.optim.Adam(net.parameters(), lr=s.lr)
            sampler = WindowSampler(zs, self.L, self.h, seed=s.seed + k)
            total = fixed_steps or s.max_steps
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, s.lr, total_steps=max(total, 2),
                                                        pct_start=0.1)
            best, best_state, best_step, bad = math.inf, None, total, 0
            for step in range(1, total + 1):
                x, y, sid = sampler.batch(s.batch_size)
                net.train()
                pred = net(torch.from_numpy(x), torch.from_numpy(sid))
                loss = (pred - torch.from_numpy(y)).abs().mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                sched.step()
                if held is not None and (step % s.eval_every == 0 or step == total):
                    fc = self._rnn_forecast([net], ys, scaler)
                    score = _mean_smape(held, fc)
                    if k == 0:
                        curve.append((step, round(score, 4)))
                    if score < best - 1e-4:
                        best, best_state, best_step, bad = score, copy.deepcopy(
                            net.state_dict()), step, 0
                    else:
                        bad += 1
                        if bad >= s.patience:
                            break
            if best_state is not None:
                net.load_state_dict(best_state)
            net.eval()
            nets.append((net, scaler))
            all_steps.append(best_step)
        return nets, int(np.median(all_steps)), curve

    @torch.no_grad()
    def _rnn_forecast(self, nets: list, ys: list[np.ndarray], scaler: PanelScaler | None = None,
                      sid: np.ndarray | None = None) -> np.ndarray:
        """``[N, H]`` mean forecast of the networks from the end of each ``ys[i]``. Scalers
        are fitted on each ``ys[i]`` itself (never on what follows)."""
        if not nets:
            return np.zeros((len(ys), self.h))
        scaler = scaler or PanelScaler.fit(ys, self.m)
        zs = [scaler.transform(i, v) for i, v in enumerate(ys)]
        P = pad_matrix(zs)
        n = len(ys)
        s_idx = np.arange(n)
        c = np.array([len(z) for z in zs])
        x, _, level = gather_windows(P, s_idx, c, self.L, self.h, targets=False)
        xt = torch.from_numpy(x)
        rows = torch.from_numpy(s_idx if sid is None else np.asarray(sid, dtype=np.int64))
        preds = []
        for item in nets:
            net = item[0] if isinstance(item, tuple) else item
            net.eval()
            preds.append(net(xt, rows).numpy())
        z = np.mean(preds, axis=0) + level[:, None]
        return np.stack([scaler.inverse(i, z[i].astype(np.float64), len(ys[i]))
                         for i in range(n)])

    def _stat(self, ys: list[np.ndarray]) -> np.ndarray | None:
        s = self.settings
        if s.combine == "rnn":
            return None
        fc = stat_forecasts(ys, self.h, self.m, models=tuple(s.stat_models), level=s.level,
                            n_jobs=s.n_jobs, ensemble=False)
        return np.mean([fc[m]["point"] for m in s.stat_models], axis=0)

    def _choose_weight(self, xs: list[np.ndarray], held: np.ndarray, rnn: np.ndarray,
                       stat: np.ndarray | None) -> tuple[float, dict[str, float]]:
        combine = self.settings.combine
        weights = {"rnn": (1.0,), "stat": (0.0,), "auto": _WEIGHTS}[combine]
        ref = np.stack([_naive2(x, self.h, self.m) for x in xs])
        base = aggregate([series_metrics(held[i], ref[i], xs[i], self.m) for i in range(len(xs))])
        scores = {}
        for w in weights:
            fc = self._mix(w, rnn, stat)
            agg = aggregate([series_metrics(held[i], fc[i], xs[i], self.m)
                             for i in range(len(xs))], base)
            scores[f"{w:g}"] = round(agg.get("owa", agg["smape"]), 4)
        best = min(weights, key=lambda w: scores[f"{w:g}"])
        return float(best), scores

    @staticmethod
    def _mix(w: float, rnn: np.ndarray | None, stat: np.ndarray | None) -> np.ndarray:
        if w >= 1:
            return rnn
        if w <= 0:
            return stat
        return w * rnn + (1 - w) * stat

    def _fitted(self) -> Panel:
        if self.panel_ is None or not hasattr(self, "width_"):
            raise RuntimeError("RNNForecast: expected a fitted model, got an unfitted one. "
                               "Call fit(df) first.")
        return self.panel_

    def _check_h(self, h: int | None) -> int:
        h = h or self.h
        if not 1 <= h <= self.h:
            raise ValueError(f"RNNForecast.predict: expected 1 <= h <= {self.h} (the fitted "
                             f"horizon), got {h}. Refit with horizon={h}.")
        return h


def _naive2(x: np.ndarray, h: int, m: int) -> np.ndarray:
    from rnnkit.baselines.stat_models import naive2

    return naive2(x, h, m)


def _safe(scale: np.ndarray) -> np.ndarray:
    """MASE scales with NaN (constant or too short series) replaced by the median, else 1."""
    ok = np.isfinite(scale) & (scale > 0)
    fill = float(np.median(scale[ok])) if ok.any() else 1.0
    return np.where(ok, scale, fill)


def _mean_smape(y: np.ndarray, f: np.ndarray) -> float:
    den = np.abs(y) + np.abs(f)
    return float(np.mean(np.where(den > 0, 200 * np.abs(y - f) / np.where(den > 0, den, 1), 0)))


def _conformal_width(r: np.ndarray, level: float) -> np.ndarray:
    """``[H]`` split-conformal quantiles of scaled absolute residuals ``r [N, H]``.

    With many series, per step; with few (< 20), pooled over steps after dividing step
    ``k``'s residuals by ``sqrt(k + 1)`` (random-walk growth), then scaled back."""
    n, h = r.shape
    q = min(1.0, math.ceil((n + 1) * level) / n)
    if n >= 20:
        return np.quantile(r, q, axis=0, method="higher")
    grow = np.sqrt(np.arange(1, h + 1))
    pooled = (r / grow).ravel()
    qp = min(1.0, math.ceil((len(pooled) + 1) * level) / len(pooled))
    return np.quantile(pooled, qp, method="higher") * grow


def _method_name(w: float, s: RNNForecastSettings) -> str:
    rnn = f"{s.kind} x{s.ensemble}"
    stat = "+".join(s.stat_models)
    if w >= 1:
        return f"rnn ({rnn})"
    if w <= 0:
        return f"stat (mean of {stat})"
    return f"rnn+stat w={w:g} ({rnn}; {stat})"


def _long(ids, stamps, point, lo, hi, level):
    import pandas as pd

    h = point.shape[1]
    return pd.DataFrame({"unique_id": np.repeat(np.array(ids, dtype=object), h),
                         "ds": np.concatenate(stamps), "yhat": point.ravel(),
                         f"lo-{level}": lo.ravel(), f"hi-{level}": hi.ravel()})
