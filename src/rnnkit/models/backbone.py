"""Build the recurrent backbone of a task model by name.

``build_recurrent("lstm" | "gru" | "rnn" | "mingru" | "minlstm", ...)`` returns a batch-first
rnnkit layer whose forward is ``(x (B, T, I), h0=None, lengths=None) -> (y (B, T, D·P), state)``.
"""

from __future__ import annotations

from typing import Any

from torch import nn

import rnnkit.layers as L

__all__ = ["MODEL_KINDS", "backbone_output_size", "build_recurrent"]

MODEL_KINDS = ("lstm", "gru", "rnn", "mingru", "minlstm")


def build_recurrent(kind: str, input_size: int, hidden_size: int, num_layers: int = 1,
                    dropout: float = 0.0, bidirectional: bool = False,
                    **options: Any) -> nn.Module:
    """A batch-first rnnkit recurrent layer.

    Args:
        kind: one of ``MODEL_KINDS``.
        input_size, hidden_size, num_layers, dropout, bidirectional: as torch.nn.
        options: layer options (``layer_norm``, ``peephole``, ``recurrent_dropout``,
            ``zoneout``, ``impl``, …) passed on when the layer takes them.
    """
    kind = kind.lower()
    if kind not in MODEL_KINDS:
        raise ValueError(f"model: expected one of {list(MODEL_KINDS)}, got {kind!r}. "
                         f"Pass --model lstm (or gru, rnn, mingru, minlstm).")
    cls = {"lstm": L.LSTM, "gru": L.GRU, "rnn": L.RNN}.get(kind)
    if cls is None:
        cls = getattr(L, "MinGRU" if kind == "mingru" else "MinLSTM")
    # between-layer dropout only acts with num_layers > 1 (torch.nn warns otherwise)
    return cls(input_size, hidden_size, num_layers=num_layers,
               dropout=dropout if num_layers > 1 else 0.0,
               bidirectional=bidirectional, batch_first=True, **options)


def backbone_output_size(layer: nn.Module) -> int:
    """Feature size of the backbone's output (D · P)."""
    out = getattr(layer, "proj_size", 0) or layer.hidden_size
    return out * (2 if getattr(layer, "bidirectional", False) else 1)
