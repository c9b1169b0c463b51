"""A global recurrent forecaster: one network shared by every series of a set.

Input windows are normalised per series before they get here (log or standardised,
deseasonalised, then each window shifted by its last observed value), so the network sees
``x [B, L, 2]`` = (normalised value, observed flag: 0 for left padding of short histories) and
predicts the ``H`` normalised steps after the window directly::

    h_L      = RNN(x)[:, -1]                          (rnnkit GRU / LSTM / …)
    ŷ [B, H] = W_o · relu(W_h · [h_L, e_s]) + W_skip · x[:, :, 0]      (e_s: series embedding)

The linear skip is the autoregressive path (a window's own trend); ``e_s`` is an optional
static embedding of the series id.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rnnkit.models.backbone import MODEL_KINDS, backbone_output_size, build_recurrent
from rnnkit.models.config_dict import DictConfig

__all__ = ["GlobalForecaster", "GlobalForecasterConfig"]


@dataclass(frozen=True)
class GlobalForecasterConfig(DictConfig):
    """Architecture of a :class:`GlobalForecaster`.

    Args:
        lookback: L, input steps. horizon: H, output steps.
        kind: recurrent layer (``gru``, ``lstm``, …). hidden_size, num_layers, dropout: as
            torch.nn.
        n_series: number of series for the static embedding (0: none). embed_dim: its size.
    """

    lookback: int
    horizon: int
    kind: str = "gru"
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    n_series: int = 0
    embed_dim: int = 0

    def __post_init__(self) -> None:
        self._require(self.lookback >= 1, f"expected lookback >= 1, got {self.lookback}.")
        self._require(self.horizon >= 1, f"expected horizon >= 1, got {self.horizon}.")
        self._require(self.kind in MODEL_KINDS, f"expected kind in {MODEL_KINDS}, got "
                      f"{self.kind!r}.")
        self._require(self.hidden_size >= 1, "expected hidden_size >= 1.")
        self._require(self.embed_dim == 0 or self.n_series >= 1,
                      "expected n_series >= 1 with embed_dim > 0.")


class GlobalForecaster(nn.Module):
    """Direct multi-step forecaster over normalised windows (see the module docstring).

    Shapes: ``x [B, L, 2]``, ``series [B]`` (int64, with an embedding) → ``[B, H]``.

    Example:
        >>> m = GlobalForecaster(GlobalForecasterConfig(lookback=24, horizon=6))
        >>> m(torch.zeros(4, 24, 2)).shape
        torch.Size([4, 6])
    """

    def __init__(self, config: GlobalForecasterConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        self.rnn = build_recurrent(c.kind, 2, c.hidden_size, c.num_layers, dropout=c.dropout)
        width = backbone_output_size(self.rnn)
        self.embed = nn.Embedding(c.n_series, c.embed_dim) if c.embed_dim else None
        self.hidden = nn.Linear(width + c.embed_dim, c.hidden_size)
        self.out = nn.Linear(c.hidden_size, c.horizon)
        self.skip = nn.Linear(c.lookback, c.horizon)
        nn.init.zeros_(self.skip.weight)
        nn.init.zeros_(self.skip.bias)

    def forward(self, x: torch.Tensor, series: torch.Tensor | None = None) -> torch.Tensor:
        c = self.config
        if x.dim() != 3 or x.shape[1:] != (c.lookback, 2):
            raise ValueError(f"GlobalForecaster: expected x of shape (B, {c.lookback}, 2), got "
                             f"{tuple(x.shape)}. Check lookback.")
        y, _ = self.rnn(x)
        feats = y[:, -1]
        if self.embed is not None:
            if series is None:
                raise ValueError("GlobalForecaster: expected series ids with embed_dim > 0, "
                                 "got None.")
            feats = torch.cat([feats, self.embed(series)], dim=1)
        return self.out(torch.relu(self.hidden(feats))) + self.skip(x[:, :, 0])
