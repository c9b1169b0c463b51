"""``rnnkit.MinGRU`` and ``rnnkit.MinLSTM``: minimal gated RNNs (Feng et al. 2024) as ordinary
multi-layer, bidirectional layers, trained with a parallel scan over T."""

from __future__ import annotations

from rnnkit.cells.mingru import MinGRUCell
from rnnkit.cells.minlstm import MinLSTMCell
from rnnkit.layers.rnnbase import RNNBase

__all__ = ["MinGRU", "MinLSTM"]

_DOC_COMMON = """
    Same surface as ``rnnkit.GRU`` (a drop-in where one is used): ``input_size``,
    ``hidden_size``, ``num_layers``, ``bias``, ``batch_first``, ``dropout`` (between layers),
    ``bidirectional``, ``forward(input, hx=None, lengths=None) -> (output, h_n)`` with
    ``h_n`` (L·D, B, H), PackedSequence input, and ``step(x_t, hx)`` (O(1) per token).

    impl: 'auto' (the scan), 'scan' (parallel scan over T: one GEMM + one linear scan per
        layer and direction, forward and backward), 'sequential' (``cell.step`` in a time
        loop; what ``step()`` runs). They give the same output (≤ 1e-5 in fp32).
    scan_space: 'linear' (default: chunked scan in linear space, exact in fp32) or 'log'
        (Heinsen's log-space scan, as in the paper).
    zoneout, strict: see RNNBase. There is no recurrent product, so no recurrent dropout.
"""


class _MinRNN(RNNBase):
    _cell_type: type = MinGRUCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 *, scan_space: str = "linear", zoneout: float = 0.0, impl: str = "auto",
                 strict: bool = False, device=None, dtype=None) -> None:
        self.scan_space = scan_space
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, 0.0, zoneout, impl, strict, device, dtype)

    def _make_cell(self, input_size, device, dtype):
        return self._cell_type(input_size, self.hidden_size, self.bias, self.scan_space,
                               device=device, dtype=dtype)


class MinGRU(_MinRNN):
    __doc__ = """Multi-layer minGRU (math in ``rnnkit.cells.MinGRUCell``)::

        z_t = σ(W_z x_t + b_z),  h̃_t = g(W_h x_t + b_h)
        h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t

    Parameters ``weight_ih_l{k}{_reverse}`` (2H, I or D·H), ``bias_ih_l{k}{_reverse}`` (2H,),
    rows (z, h̃).
""" + _DOC_COMMON + """
    Example:
        >>> gru = MinGRU(8, 16, num_layers=2, batch_first=True)
        >>> y, h_n = gru(torch.randn(4, 100, 8))
"""

    mode = "MinGRU"
    _cell_type = MinGRUCell


class MinLSTM(_MinRNN):
    __doc__ = """Multi-layer minLSTM (math in ``rnnkit.cells.MinLSTMCell``)::

        f_t = σ(W_f x_t + b_f),  i_t = σ(W_i x_t + b_i),  h̃_t = g(W_h x_t + b_h)
        h_t = f_t / (f_t + i_t) ⊙ h_{t-1} + i_t / (f_t + i_t) ⊙ h̃_t

    Parameters ``weight_ih_l{k}{_reverse}`` (3H, ·), ``bias_ih_l{k}{_reverse}`` (3H,), rows
    (f, i, h̃). The state is h alone: ``forward`` returns ``(output, h_n)``.
""" + _DOC_COMMON + """
    Example:
        >>> lstm = MinLSTM(8, 16, bidirectional=True)
        >>> y, h_n = lstm(torch.randn(100, 4, 8))
"""

    mode = "MinLSTM"
    _cell_type = MinLSTMCell
