"""GRU cell, reset-after (torch / cuDNN) or reset-before (Cho et al. 2014), optional layer norm."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.cells.base import RecurrentCell, State, check_positive, uniform_init_
from rnnkit.functional.cells import gru_step, layer_norm

__all__ = ["GRUCell"]


class GRUCell(RecurrentCell):
    """GRU cell, gate order (r, z, n) as torch.nn.GRU::

        r = σ(W_ir x + b_ir + W_hr h + b_hr)
        z = σ(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))       reset_after=True (default)
        n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)       reset_after=False (Cho; Keras)
        h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

    ``layer_norm=True`` normalises ``W_ih x`` (over 3H) and the recurrent product(s), with
    learnable gain and bias.

    Args:
        input_size: I. hidden_size: H. bias: add b_ih, b_hh. reset_after: see above.
        layer_norm: normalise the two products.

    Example:
        >>> cell = GRUCell(8, 16, reset_after=False)
        >>> h, (h,) = cell(torch.randn(4, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 reset_after: bool = True, layer_norm: bool = False, device=None, dtype=None):
        super().__init__()
        check_positive("GRUCell", "input_size", input_size)
        check_positive("GRUCell", "hidden_size", hidden_size)
        f = {"device": device, "dtype": dtype}
        H = hidden_size
        self.input_size, self.hidden_size = input_size, hidden_size
        self.reset_after, self.layer_norm = reset_after, layer_norm
        self.output_size, self.state_sizes, self.gate_size = H, (H,), 3 * H
        self.weight_ih = nn.Parameter(torch.empty(3 * H, input_size, **f))
        self.weight_hh = nn.Parameter(torch.empty(3 * H, H, **f))
        self.bias_ih = nn.Parameter(torch.empty(3 * H, **f)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(3 * H, **f)) if bias else None
        if layer_norm:
            self.ln_ih_weight = nn.Parameter(torch.empty(3 * H, **f))
            self.ln_ih_bias = nn.Parameter(torch.empty(3 * H, **f))
            self.ln_hh_weight = nn.Parameter(torch.empty(3 * H, **f))
            self.ln_hh_bias = nn.Parameter(torch.empty(3 * H, **f))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        uniform_init_(self, self.hidden_size)
        if self.layer_norm:
            with torch.no_grad():
                for name in ("ih", "hh"):
                    getattr(self, f"ln_{name}_weight").fill_(1.0)
                    getattr(self, f"ln_{name}_bias").zero_()

    def project_input(self, x: Tensor) -> Tensor:
        xp = x @ self.weight_ih.t()
        if self.layer_norm:
            xp = layer_norm(xp, self.ln_ih_weight, self.ln_ih_bias)
        return xp if self.bias_ih is None else xp + self.bias_ih

    def step(self, xp_t: Tensor, state: State, rec_mask: Tensor | None = None):
        h = state[0]
        h_in = h if rec_mask is None else h * rec_mask
        ln = (self.ln_hh_weight, self.ln_hh_bias) if self.layer_norm else None
        h_new = gru_step(xp_t, h, h_in, self.weight_hh, self.bias_hh, self.reset_after, ln)
        return h_new, (h_new,)

    def kernel_signature(self) -> str | None:
        return "gru"

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.reset_after:
            s += ", reset_after=False"
        if self.layer_norm:
            s += ", layer_norm=True"
        return s
