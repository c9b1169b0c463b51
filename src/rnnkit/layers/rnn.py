"""``rnnkit.RNN``: Elman RNN layer, a drop-in for torch.nn.RNN."""

from __future__ import annotations

from rnnkit.cells.elman import ElmanCell
from rnnkit.layers.rnnbase import RNNBase

__all__ = ["RNN"]


class RNN(RNNBase):
    """Multi-layer Elman RNN: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

    Arguments and shapes as torch.nn.RNN (``nonlinearity`` 'tanh' or 'relu'), plus
    ``recurrent_dropout``, ``zoneout``, ``impl``, ``strict`` and ``forward(..., lengths=)``.
    See ``RNNBase``.

    Example:
        >>> rnn = RNN(8, 16, num_layers=2, nonlinearity="relu", batch_first=True)
        >>> y, h_n = rnn(torch.randn(4, 10, 8), lengths=torch.tensor([10, 9, 5, 2]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, *,
                 recurrent_dropout: float = 0.0, zoneout: float = 0.0, impl: str = "auto",
                 strict: bool = False, device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: expected nonlinearity 'tanh' or 'relu', got {nonlinearity!r}.")
        self.nonlinearity = nonlinearity
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, recurrent_dropout, zoneout, impl, strict, device, dtype)

    def _make_cell(self, input_size, device, dtype):
        return ElmanCell(input_size, self.hidden_size, self.bias, self.nonlinearity,
                         device=device, dtype=dtype)
