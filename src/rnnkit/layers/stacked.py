"""``Stacked``: layers on top of each other with inter-layer dropout."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from rnnkit.layers.regularization import check_probability

__all__ = ["Stacked"]


class Stacked(nn.Module):
    """Feed each layer's output to the next; dropout between layers (not after the last).

    Args:
        layers: ``Recurrent`` or ``Bidirectional`` layers (consistent batch_first).
        dropout: inter-layer dropout probability (training only), as torch.nn's ``dropout``.

    Shapes: input (T, B, I) or (B, T, I); states: list with one state per layer.

    Example:
        >>> net = Stacked([Recurrent(LSTMCell(8, 16)), Recurrent(LSTMCell(16, 16))], dropout=0.2)
        >>> y, states = net(torch.randn(10, 4, 8))
    """

    def __init__(self, layers: Sequence[nn.Module], dropout: float = 0.0) -> None:
        super().__init__()
        if len(layers) == 0:
            raise ValueError("Stacked: expected at least one layer, got none.")
        self.layers = nn.ModuleList(layers)
        self.dropout = check_probability("Stacked", "dropout", dropout)

    def forward(self, input: Tensor, states: Sequence | None = None,
                lengths: Tensor | None = None) -> tuple[Tensor, list]:
        if states is not None and len(states) != len(self.layers):
            raise ValueError(f"Stacked: expected {len(self.layers)} layer states, got "
                             f"{len(states)}. Pass one state per layer (or None).")
        out, new_states = input, []
        for k, layer in enumerate(self.layers):
            if k > 0 and self.dropout > 0 and self.training:
                out = nn.functional.dropout(out, self.dropout, True)
            out, s = layer(out, None if states is None else states[k], lengths)
            new_states.append(s)
        return out, new_states
