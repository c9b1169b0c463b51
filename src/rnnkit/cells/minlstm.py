"""minLSTM (Feng et al. 2024): an LSTM whose gates see only x_t, with normalised forget and
input gates, so the recurrence is linear in h and runs as a parallel scan over T."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.cells.mingru import MinRNNCell, g, log_g

__all__ = ["MinLSTMCell"]


class MinLSTMCell(MinRNNCell):
    """minLSTM cell (Feng et al. 2024, log-space variant with the positive ``g``)::

        [p, q, u] = W_ih x_t + b_ih           (gate order f, i, h̃)
        f_t = σ(p),  i_t = σ(q),  h̃_t = g(u)
        f'_t = f_t / (f_t + i_t),  i'_t = i_t / (f_t + i_t)
        h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ h̃_t

    computed stably through ``d = log(i/f) = softplus(−p) − softplus(−q)``: ``f' = σ(−d)``,
    ``i' = σ(d)`` (log space: ``log f' = −softplus(d)``, ``log i' = −softplus(−d)``).
    The state is h alone (no separate cell state), as in the paper.

    Args:
        input_size: I. hidden_size: H. bias: add b_ih. scan_space: 'linear' or 'log'.

    Parameters: ``weight_ih`` (3H, I), ``bias_ih`` (3H,).

    Example:
        >>> cell = MinLSTMCell(8, 16)
        >>> h, (h,) = cell(torch.randn(4, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 scan_space: str = "linear", device=None, dtype=None) -> None:
        super().__init__()
        self._init_params("MinLSTMCell", input_size, hidden_size, 3, bias, scan_space,
                          device, dtype)

    @staticmethod
    def _log_ratio(xp: Tensor) -> tuple[Tensor, Tensor]:
        p, q, u = xp.chunk(3, dim=-1)
        return F.softplus(-p) - F.softplus(-q), u

    def coefficients(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        d, u = self._log_ratio(xp)
        return torch.sigmoid(-d), torch.sigmoid(d) * g(u)

    def log_coefficients(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        d, u = self._log_ratio(xp)
        return -F.softplus(d), -F.softplus(-d) + log_g(u)

    def kernel_signature(self) -> str | None:
        return "minlstm"
