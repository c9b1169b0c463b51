"""``rnnkit.GRU``: a drop-in for torch.nn.GRU, plus reset-before and layer norm."""

from __future__ import annotations

from rnnkit.cells.gru import GRUCell
from rnnkit.layers.rnnbase import RNNBase

__all__ = ["GRU"]


class GRU(RNNBase):
    """Multi-layer GRU (gate order r, z, n; the math is in ``rnnkit.cells.GRUCell``).

    Arguments and shapes exactly as torch.nn.GRU, plus:
        reset_after: True (torch / cuDNN form, default) or False (Cho et al. 2014; Keras's
            ``reset_after=False``).
        layer_norm: normalise the input and recurrent products, parameters
            ``ln_{ih,hh}_{weight,bias}_l{k}``.
        recurrent_dropout, zoneout, impl, strict, and ``forward(..., lengths=)``: see RNNBase.

    Example:
        >>> gru = GRU(8, 16, batch_first=True, reset_after=False)
        >>> y, h_n = gru(torch.randn(4, 10, 8))
    """

    mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, *,
                 reset_after: bool = True, layer_norm: bool = False,
                 recurrent_dropout: float = 0.0, zoneout: float = 0.0, impl: str = "auto",
                 strict: bool = False, device=None, dtype=None) -> None:
        self.reset_after, self.layer_norm = reset_after, layer_norm
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, recurrent_dropout, zoneout, impl, strict, device, dtype)

    def _make_cell(self, input_size, device, dtype):
        return GRUCell(input_size, self.hidden_size, self.bias, self.reset_after, self.layer_norm,
                       device=device, dtype=dtype)
