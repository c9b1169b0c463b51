"""LSTM cell with optional diagonal peepholes, layer normalisation and projection."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.cells.base import RecurrentCell, State, check_positive, uniform_init_
from rnnkit.functional.cells import layer_norm, lstm_step

__all__ = ["LSTMCell"]


class LSTMCell(RecurrentCell):
    """LSTM cell, gate order (i, f, g, o) as torch.nn.LSTM::

        [i, f, g, o] = LN_ih(W_ih x_t) + b_ih + LN_hh(W_hh h_{t-1}) + b_hh
        i = σ(i + p_i ⊙ c_{t-1}),  f = σ(f + p_f ⊙ c_{t-1}),  g = tanh(g)
        c_t = f ⊙ c_{t-1} + i ⊙ g
        o = σ(o + p_o ⊙ c_t)
        h_t = W_hr (o ⊙ tanh(LN_c(c_t)))

    Optional parts: ``peephole`` (the p terms; diagonal, ``weight_ph`` (3, H), rows i, f, o —
    Gers & Schmidhuber 2000, TensorFlow's ``use_peepholes``; some tutorials write full matrices
    W_c· instead, which is not the standard form), ``layer_norm`` (the LN terms over the whole
    4H gate vector and over c_t — Ba et al. 2016's LayerNorm LSTM, learnable gain and bias),
    ``proj_size`` > 0 (W_hr, as torch.nn.LSTM). Without them this is torch.nn.LSTMCell.

    Args:
        input_size: I. hidden_size: H. bias: add b_ih, b_hh. proj_size: P (0 = none).
        peephole: diagonal peepholes. layer_norm: LayerNorm LSTM. forget_bias: if given,
        b_ih's forget slice is set to it and b_hh's to 0 (Jozefowicz et al. 2015 use 1.0).

    State: (h (B, P or H), c (B, H)).

    Example:
        >>> cell = LSTMCell(8, 16, peephole=True, layer_norm=True)
        >>> h, (h, c) = cell(torch.randn(4, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, proj_size: int = 0,
                 peephole: bool = False, layer_norm: bool = False,
                 forget_bias: float | None = None, device=None, dtype=None) -> None:
        super().__init__()
        check_positive("LSTMCell", "input_size", input_size)
        check_positive("LSTMCell", "hidden_size", hidden_size)
        bad = not isinstance(proj_size, int) or proj_size < 0
        if bad or (proj_size and proj_size >= hidden_size):
            raise ValueError(f"LSTMCell: expected 0 <= proj_size < hidden_size ({hidden_size}), "
                             f"got "
                             f"{proj_size!r}. Use proj_size=0 for no projection.")
        f = {"device": device, "dtype": dtype}
        H, P = hidden_size, proj_size or hidden_size
        self.input_size, self.hidden_size, self.proj_size = input_size, hidden_size, proj_size
        self.peephole, self.layer_norm, self.forget_bias = peephole, layer_norm, forget_bias
        self.output_size, self.state_sizes, self.gate_size = P, (P, H), 4 * H
        self.weight_ih = nn.Parameter(torch.empty(4 * H, input_size, **f))
        self.weight_hh = nn.Parameter(torch.empty(4 * H, P, **f))
        self.bias_ih = nn.Parameter(torch.empty(4 * H, **f)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(4 * H, **f)) if bias else None
        self.weight_hr = nn.Parameter(torch.empty(P, H, **f)) if proj_size else None
        self.weight_ph = nn.Parameter(torch.empty(3, H, **f)) if peephole else None
        if layer_norm:
            self.ln_ih_weight = nn.Parameter(torch.empty(4 * H, **f))
            self.ln_ih_bias = nn.Parameter(torch.empty(4 * H, **f))
            self.ln_hh_weight = nn.Parameter(torch.empty(4 * H, **f))
            self.ln_hh_bias = nn.Parameter(torch.empty(4 * H, **f))
            self.ln_c_weight = nn.Parameter(torch.empty(H, **f))
            self.ln_c_bias = nn.Parameter(torch.empty(H, **f))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        uniform_init_(self, self.hidden_size)
        with torch.no_grad():
            if self.layer_norm:
                for name in ("ih", "hh", "c"):
                    getattr(self, f"ln_{name}_weight").fill_(1.0)
                    getattr(self, f"ln_{name}_bias").zero_()
            if self.forget_bias is not None and self.bias_ih is not None:
                H = self.hidden_size
                self.bias_ih[H : 2 * H].fill_(self.forget_bias)
                self.bias_hh[H : 2 * H].zero_()

    def ln_params(self, name: str) -> tuple[Tensor, Tensor] | None:
        if not self.layer_norm:
            return None
        return getattr(self, f"ln_{name}_weight"), getattr(self, f"ln_{name}_bias")

    def project_input(self, x: Tensor) -> Tensor:
        xp = x @ self.weight_ih.t()
        if self.layer_norm:
            xp = layer_norm(xp, self.ln_ih_weight, self.ln_ih_bias)
        return xp if self.bias_ih is None else xp + self.bias_ih

    def step(self, xp_t: Tensor, state: State, rec_mask: Tensor | None = None):
        h, c = state
        h_in = h if rec_mask is None else h * rec_mask
        h_new, c_new = lstm_step(xp_t, h_in, c, self.weight_hh, self.bias_hh, self.weight_ph,
                                 self.weight_hr, self.ln_params("hh"), self.ln_params("c"))
        return h_new, (h_new, c_new)

    def kernel_signature(self) -> str | None:
        return "lstm"

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.peephole:
            s += ", peephole=True"
        if self.layer_norm:
            s += ", layer_norm=True"
        return s
