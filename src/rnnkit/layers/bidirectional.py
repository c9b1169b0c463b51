"""``Bidirectional``: a forward and a backward ``Recurrent`` over the same input."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.layers.recurrent import Recurrent

__all__ = ["Bidirectional"]

_MERGES = ("concat", "sum", "mean")


class Bidirectional(nn.Module):
    """Run ``forward_layer`` left-to-right and ``backward_layer`` right-to-left and merge.

    The backward layer starts at each sequence's last valid step (ragged batches included).

    Args:
        forward_layer, backward_layer: ``Recurrent`` layers (the backward one is set to
            ``reverse=True``); same batch_first.
        merge: 'concat' (output 2P, as torch.nn), 'sum' or 'mean' (output P).

    Shapes: input (T, B, I) or (B, T, I); state (state_fwd, state_bwd); output (…, 2P or P).

    Example:
        >>> bi = Bidirectional(Recurrent(GRUCell(8, 16)), Recurrent(GRUCell(8, 16)))
        >>> y, (s_f, s_b) = bi(torch.randn(10, 4, 8))
    """

    def __init__(self, forward_layer: Recurrent, backward_layer: Recurrent,
                 merge: str = "concat") -> None:
        super().__init__()
        if merge not in _MERGES:
            raise ValueError(f"Bidirectional: expected merge in {_MERGES}, got {merge!r}.")
        if forward_layer.batch_first != backward_layer.batch_first:
            raise ValueError("Bidirectional: expected both layers to share batch_first, got "
                             f"{forward_layer.batch_first} and {backward_layer.batch_first}.")
        backward_layer.reverse = True
        forward_layer.reverse = False
        self.forward_layer, self.backward_layer, self.merge = forward_layer, backward_layer, merge
        self.batch_first = forward_layer.batch_first

    def forward(self, input: Tensor, state: tuple | None = None,
                lengths: Tensor | None = None) -> tuple[Tensor, tuple]:
        s_f, s_b = (None, None) if state is None else state
        y_f, s_f = self.forward_layer(input, s_f, lengths)
        y_b, s_b = self.backward_layer(input, s_b, lengths)
        if self.merge == "concat":
            y = torch.cat([y_f, y_b], dim=-1)
        else:
            y = y_f + y_b if self.merge == "sum" else (y_f + y_b) / 2
        return y, (s_f, s_b)
