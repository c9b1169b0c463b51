"""``rnnkit.LSTM``: a drop-in for torch.nn.LSTM with peepholes, layer norm and more."""

from __future__ import annotations

from rnnkit.cells.lstm import LSTMCell
from rnnkit.layers.rnnbase import RNNBase

__all__ = ["LSTM"]


class LSTM(RNNBase):
    """Multi-layer LSTM (gate order i, f, g, o; the math is in ``rnnkit.cells.LSTMCell``).

    Arguments and shapes exactly as torch.nn.LSTM (``proj_size`` included), plus:
        peephole: diagonal peepholes, parameters ``weight_ph_l{k}{_reverse}`` (3, H), rows i,f,o.
        layer_norm: LayerNorm LSTM (Ba et al. 2016), parameters ``ln_{ih,hh,c}_{weight,bias}_l{k}``.
        forget_bias: initial forget-gate bias (None keeps torch's init).
        recurrent_dropout, zoneout, impl, strict, and ``forward(..., lengths=)``: see RNNBase.

    Returns ``(output, (h_n, c_n))``.

    Example:
        >>> lstm = LSTM(8, 16, num_layers=2, bidirectional=True, layer_norm=True)
        >>> y, (h_n, c_n) = lstm(torch.randn(10, 4, 8))
    """

    mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, *, peephole: bool = False, layer_norm: bool = False,
                 forget_bias: float | None = None, recurrent_dropout: float = 0.0,
                 zoneout: float = 0.0, impl: str = "auto", strict: bool = False, device=None,
                 dtype=None) -> None:
        self.peephole, self.layer_norm, self.forget_bias = peephole, layer_norm, forget_bias
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, recurrent_dropout, zoneout, impl, strict,
                         device, dtype)

    def _make_cell(self, input_size, device, dtype):
        return LSTMCell(input_size, self.hidden_size, self.bias, self.proj_size, self.peephole,
                        self.layer_norm, self.forget_bias, device=device, dtype=dtype)
