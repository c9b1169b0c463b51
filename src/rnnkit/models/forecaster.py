"""``Forecaster``: a recurrent encoder over a lookback window → the next ``horizon`` steps.

For one window (targets, past covariates and known-future covariates over the lookback, plus
the known-future covariates over the horizon)::

    μ      = mean_t x[t, :K]              (instance normalisation, norm="mean"; "last": x[L-1])
    x̃[t]   = x[t] − μ on the target columns
    h      = RNN(x̃)[L − 1]                                      [B, D·H]
    θ      = W_h h + W_f vec(x_future) + b                        [B, S, K, P]
    θ_loc += A · x̃[:, :K]   (highway: a linear autoregression over the window, LSTNet-style)
    θ_loc += μ

S is the number of steps one call predicts: ``horizon`` in ``direct`` mode (multi-output head),
1 in ``recursive`` mode (the forecast is fed back as input, step after step). P is the number of
output parameters per step: 1 for ``loss="mse"`` (the point), 2 for ``"gaussian"`` (mean and
scale σ = softplus(·)), ``len(quantiles)`` for ``"quantile"`` (pinball loss, point = median).
With ``ensemble > 1``, that many independently initialised networks are trained side by side
(each on its own loss) and their forecasts averaged; Gaussian members combine as a mixture.

Batches are ``(x [B, L, C], x_future [B, S, F], y [B, S, K])``; ``C = K + C_p + F``.

Example:
    >>> cfg = ForecasterConfig(n_targets=1, lookback=24, horizon=12)
    >>> model = Forecaster(cfg)
    >>> out = model.forecast(torch.randn(4, 24, 1), torch.zeros(4, 12, 0), steps=12)
    >>> out["point"].shape, out["lower"].shape
    (torch.Size([4, 12, 1]), torch.Size([4, 12, 1]))
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.models.backbone import MODEL_KINDS, backbone_output_size, build_recurrent

__all__ = ["LOSSES", "MODES", "NORMS", "Forecaster", "ForecasterConfig"]

MODES = ("direct", "recursive")
LOSSES = ("mse", "gaussian", "quantile")
NORMS = ("mean", "last", "none")


@dataclass(frozen=True)
class ForecasterConfig:
    """Architecture of a :class:`Forecaster` (data and training settings live elsewhere).

    Args:
        n_targets: K target columns. n_covariates: past covariates C_p. n_future: known-future F.
        lookback: L input steps. horizon: H steps the model is trained to forecast.
        kind: recurrent layer (``lstm``, ``gru``, ``rnn``, ``mingru``, ``minlstm``).
        hidden_size, num_layers, dropout, bidirectional, layer_norm: the backbone.
        mode: ``direct`` (one head for all H steps) or ``recursive`` (one step, fed back).
        loss: ``mse``, ``gaussian`` or ``quantile``.
        quantiles: levels of the quantile head (must include 0.5).
        level: central coverage of the prediction intervals (0.8 → 10 %–90 %).
        norm: instance normalisation of each window's targets: ``mean``, ``last`` or ``none``.
        highway: add a linear autoregression over the window to the forecast location.
        ensemble: number of networks averaged.
    """

    n_targets: int
    lookback: int
    horizon: int
    n_covariates: int = 0
    n_future: int = 0
    kind: str = "lstm"
    hidden_size: int = 32
    num_layers: int = 1
    dropout: float = 0.0
    bidirectional: bool = False
    layer_norm: bool = False
    mode: str = "direct"
    loss: str = "mse"
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    level: float = 0.8
    norm: str = "mean"
    highway: bool = True
    ensemble: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantiles", tuple(float(q) for q in self.quantiles))
        for name in ("n_targets", "lookback", "horizon", "hidden_size", "num_layers", "ensemble"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"ForecasterConfig: expected {name} >= 1, got {v!r}.")
        for name in ("n_covariates", "n_future"):
            if getattr(self, name) < 0:
                raise ValueError(f"ForecasterConfig: expected {name} >= 0, got "
                                 f"{getattr(self, name)}.")
        for name, allowed in (("mode", MODES), ("loss", LOSSES), ("norm", NORMS),
                              ("kind", MODEL_KINDS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"ForecasterConfig: expected {name} in {list(allowed)}, got "
                                 f"{getattr(self, name)!r}.")
        if not 0.0 <= self.dropout < 1.0 or not 0.0 < self.level < 1.0:
            raise ValueError(f"ForecasterConfig: expected 0 <= dropout < 1 and 0 < level < 1, "
                             f"got {self.dropout} and {self.level}.")
        if 0.5 not in self.quantiles or any(not 0 < q < 1 for q in self.quantiles) or list(
                self.quantiles) != sorted(set(self.quantiles)):
            raise ValueError(f"ForecasterConfig: expected increasing quantiles in (0, 1) that "
                             f"include 0.5, got {self.quantiles}.")

    @property
    def out_steps(self) -> int:
        """Steps S predicted by one call: H (direct) or 1 (recursive)."""
        return self.horizon if self.mode == "direct" else 1

    @property
    def n_params(self) -> int:
        """Output parameters P per step and target."""
        return {"mse": 1, "gaussian": 2}.get(self.loss, len(self.quantiles))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ForecasterConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: (tuple(v) if k == "quantiles" else v) for k, v in d.items()
                      if k in names})


class _Net(nn.Module):
    """One member: backbone + direct head (+ highway). Returns θ ``[B, S, K, P]``."""

    def __init__(self, cfg: ForecasterConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c_in = cfg.n_targets + cfg.n_covariates + cfg.n_future
        opts = {"layer_norm": True} if cfg.layer_norm else {}
        self.rnn = build_recurrent(cfg.kind, c_in, cfg.hidden_size, cfg.num_layers,
                                   cfg.dropout if cfg.num_layers > 1 else 0.0,
                                   cfg.bidirectional, **opts)
        s, k, p = cfg.out_steps, cfg.n_targets, cfg.n_params
        self.head = nn.Linear(backbone_output_size(self.rnn) + s * cfg.n_future, s * k * p)
        self.highway = nn.Linear(cfg.lookback, s) if cfg.highway else None
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, x_future: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        b, k = x.shape[0], cfg.n_targets
        h = self.drop(self.rnn(x)[0][:, -1])
        theta = self.head(torch.cat([h, x_future.reshape(b, -1)], dim=1))
        theta = theta.view(b, cfg.out_steps, k, cfg.n_params)
        if self.highway is not None:
            ar = self.highway(x[:, :, :k].transpose(1, 2)).transpose(1, 2)  # [B, S, K]
            if cfg.loss == "gaussian":
                theta = torch.cat([theta[..., :1] + ar[..., None], theta[..., 1:]], dim=-1)
            else:
                theta = theta + ar[..., None]
        return theta


class Forecaster(nn.Module):
    """Recurrent forecaster (see the module docstring for the math and shapes)."""

    def __init__(self, config: ForecasterConfig) -> None:
        super().__init__()
        self.config = config
        self.members = nn.ModuleList(_Net(config) for _ in range(config.ensemble))
        # per-step, per-target residual scale for mse intervals (set from validation residuals)
        self.register_buffer("residual_scale", torch.ones(config.horizon, config.n_targets))

    # ---- core ----------------------------------------------------------------------------

    def _normalise(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, norm = self.config.n_targets, self.config.norm
        if norm == "none":
            return x, x.new_zeros(x.shape[0], 1, k)
        mu = x[:, :, :k].mean(1, keepdim=True) if norm == "mean" else x[:, -1:, :k]
        return torch.cat([x[:, :, :k] - mu, x[:, :, k:]], dim=2), mu

    def _check(self, x: torch.Tensor, x_future: torch.Tensor) -> None:
        cfg = self.config
        c_in = cfg.n_targets + cfg.n_covariates + cfg.n_future
        if x.dim() != 3 or x.shape[1:] != (cfg.lookback, c_in):
            raise ValueError(f"Forecaster: expected x of shape (B, {cfg.lookback}, {c_in}), got "
                             f"{tuple(x.shape)}. Check lookback and the covariate columns.")
        if x_future.shape != (x.shape[0], cfg.out_steps, cfg.n_future):
            raise ValueError(f"Forecaster: expected x_future of shape ({x.shape[0]}, "
                             f"{cfg.out_steps}, {cfg.n_future}), got {tuple(x_future.shape)}.")

    def member_params(self, x: torch.Tensor, x_future: torch.Tensor) -> list[torch.Tensor]:
        """Each member's output parameters θ ``[B, S, K, P]`` (location de-normalised)."""
        self._check(x, x_future)
        xn, mu = self._normalise(x)
        outs = []
        for net in self.members:
            theta = net(xn, x_future)
            if self.config.loss == "gaussian":
                theta = torch.stack([theta[..., 0] + mu, F.softplus(theta[..., 1]) + 1e-4], -1)
            else:
                theta = theta + mu[..., None]
            outs.append(theta)
        return outs

    def forward(self, x: torch.Tensor, x_future: torch.Tensor) -> torch.Tensor:
        """Ensemble output θ ``[B, S, K, P]`` (Gaussian: mixture mean and σ)."""
        thetas = torch.stack(self.member_params(x, x_future))  # [E, B, S, K, P]
        if self.config.loss != "gaussian":
            return thetas.mean(0)
        mean = thetas[..., 0].mean(0)
        var = (thetas[..., 1] ** 2 + thetas[..., 0] ** 2).mean(0) - mean ** 2
        return torch.stack([mean, var.clamp_min(1e-8).sqrt()], -1)

    def loss_of(self, theta: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The training loss of θ ``[B, S, K, P]`` against ``y [B, S, K]``."""
        loss = self.config.loss
        if loss == "mse":
            return F.mse_loss(theta[..., 0], y)
        if loss == "gaussian":
            return F.gaussian_nll_loss(theta[..., 0], y, theta[..., 1] ** 2)
        q = theta.new_tensor(self.config.quantiles)
        err = y[..., None] - theta
        return torch.maximum(q * err, (q - 1) * err).mean() * 2  # ×2: equals MAE at q=0.5

    # ---- trainer protocol ----------------------------------------------------------------

    def training_step(self, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        x, x_future, y = batch[:3]
        thetas = self.member_params(x, x_future[:, : self.config.out_steps])
        y = y[:, : self.config.out_steps]
        loss = torch.stack([self.loss_of(t, y) for t in thetas]).mean()
        return loss, {}

    def validation_step(self, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        """Direct: the ensemble's loss over the horizon. Recursive: MSE of the fed-back
        multi-step forecast (what is used at test time)."""
        x, x_future, y = batch[:3]
        if self.config.mode == "direct":
            return self.loss_of(self(x, x_future), y), {}
        return F.mse_loss(self.forecast(x, x_future, steps=y.shape[1])["point"], y), {}

    # ---- forecasting ---------------------------------------------------------------------

    def _point_and_bounds(self, theta: torch.Tensor, steps: torch.Tensor) -> tuple[torch.Tensor,
                                                                                   ...]:
        cfg = self.config
        z = math.sqrt(2.0) * torch.erfinv(torch.tensor(cfg.level)).item()
        if cfg.loss == "quantile":
            qs = list(cfg.quantiles)
            lo_q, hi_q = (1 - cfg.level) / 2, (1 + cfg.level) / 2
            lo = min(range(len(qs)), key=lambda i: abs(qs[i] - lo_q))
            hi = min(range(len(qs)), key=lambda i: abs(qs[i] - hi_q))
            point = theta[..., qs.index(0.5)]
            return point, torch.minimum(theta[..., lo], point), torch.maximum(theta[..., hi],
                                                                              point)
        if cfg.loss == "gaussian":
            sigma = theta[..., 1]
        else:
            idx = steps.clamp_max(cfg.horizon - 1)
            sigma = self.residual_scale[idx][None].expand_as(theta[..., 0])
        return theta[..., 0], theta[..., 0] - z * sigma, theta[..., 0] + z * sigma

    @torch.no_grad()
    def forecast(self, x: torch.Tensor, x_future: torch.Tensor,
                 steps: int | None = None) -> dict[str, torch.Tensor]:
        """Forecast ``steps`` ahead (default H), feeding point forecasts back when needed.

        Args:
            x: ``[B, L, C]`` the last L steps (scaled). x_future: ``[B, >= steps, F]``.
            steps: how far ahead; beyond ``out_steps`` the model runs again on its own output
                (past covariates are held at their last value).

        Returns:
            ``{"point", "lower", "upper"}``, each ``[B, steps, K]`` (lower <= point <= upper).
        """
        cfg = self.config
        steps = steps or cfg.horizon
        s, k = cfg.out_steps, cfg.n_targets
        parts: dict[str, list[torch.Tensor]] = {"point": [], "lower": [], "upper": []}
        done = 0
        while done < steps:
            xf = x_future[:, done: done + s]
            if xf.shape[1] < s:  # past the provided covariates: repeat the last ones
                pad = xf[:, -1:] if xf.shape[1] else x[:, -1:, x.shape[2] - cfg.n_future:]
                xf = torch.cat([xf, pad.expand(-1, s - xf.shape[1], -1)], 1)
            theta = self(x, xf)
            idx = torch.arange(done, done + s, device=x.device)
            for name, v in zip(parts, self._point_and_bounds(theta, idx), strict=True):
                parts[name].append(v)
            point = parts["point"][-1]
            rows = torch.cat([point, x[:, -1:, k: x.shape[2] - cfg.n_future].expand(-1, s, -1),
                              xf], dim=2)
            x = torch.cat([x, rows], dim=1)[:, -cfg.lookback:]
            done += s
        return {n: torch.cat(v, 1)[:, :steps] for n, v in parts.items()}

    def predict_step(self, batch: Any) -> torch.Tensor:
        """Point forecasts ``[B, H, K]`` for the trainer's ``predict``."""
        x, x_future = batch[:2]
        return self.forecast(x, x_future, steps=x_future.shape[1])["point"]
