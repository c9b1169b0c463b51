"""Elman RNN cell."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.cells.base import RecurrentCell, State, check_positive, uniform_init_
from rnnkit.functional.cells import elman_step

__all__ = ["ElmanCell"]


class ElmanCell(RecurrentCell):
    """Elman RNN cell: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, act in {tanh, relu}.

    Args:
        input_size: I. hidden_size: H. bias: add b_ih, b_hh. nonlinearity: 'tanh' or 'relu'.

    Parameters: ``weight_ih`` (H, I), ``weight_hh`` (H, H), ``bias_ih`` (H,), ``bias_hh`` (H,),
    initialised as torch.nn.RNN (U(-1/√H, 1/√H)).

    Example:
        >>> cell = ElmanCell(8, 16)
        >>> h, state = cell(torch.randn(4, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        super().__init__()
        check_positive("ElmanCell", "input_size", input_size)
        check_positive("ElmanCell", "hidden_size", hidden_size)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"ElmanCell: expected nonlinearity 'tanh' or 'relu', got "
                             f"{nonlinearity!r}. Pass nonlinearity='tanh' or 'relu'.")
        f = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size = input_size, hidden_size
        self.nonlinearity = nonlinearity
        self.output_size = self.gate_size = hidden_size
        self.state_sizes = (hidden_size,)
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size, **f))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size, **f))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(hidden_size, **f))
            self.bias_hh = nn.Parameter(torch.empty(hidden_size, **f))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        uniform_init_(self, self.hidden_size)

    def project_input(self, x: Tensor) -> Tensor:
        return nn.functional.linear(x, self.weight_ih, self.bias_ih)

    def step(self, xp_t: Tensor, state: State, rec_mask: Tensor | None = None):
        h = state[0]
        h_in = h if rec_mask is None else h * rec_mask
        h_new = elman_step(xp_t, h_in, self.weight_hh, self.bias_hh, self.nonlinearity)
        return h_new, (h_new,)

    def kernel_signature(self) -> str | None:
        return f"elman_{self.nonlinearity}"

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"
