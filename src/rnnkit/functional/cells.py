"""One time step of each classic cell, with explicit weights.

Every function takes the input projection ``xp = W_ih x_t + b_ih`` already computed (for all
time steps at once, one GEMM, by the caller) and the previous state, and returns the new state.
Shapes: B batch, H hidden, P projection (LSTM ``proj_size``, else P = H), G gates.
``h_in`` is the hidden state as seen by the recurrent product: ``h_{t-1}``, or ``h_{t-1}``
times a variational dropout mask.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["elman_step", "gru_step", "layer_norm", "lstm_step"]


def layer_norm(x: Tensor, weight: Tensor | None, bias: Tensor | None, eps: float = 1e-5) -> Tensor:
    """Layer normalisation over the last dimension (Ba et al. 2016)."""
    return F.layer_norm(x, (x.shape[-1],), weight, bias, eps)


def _recurrent(h_in: Tensor, w_hh: Tensor, b_hh: Tensor | None, ln: tuple | None) -> Tensor:
    """``LN(W_hh h) + b_hh`` (LN optional)."""
    hh = h_in @ w_hh.t()
    if ln is not None:
        hh = layer_norm(hh, ln[0], ln[1])
    return hh if b_hh is None else hh + b_hh


def elman_step(
    xp: Tensor, h_in: Tensor, w_hh: Tensor, b_hh: Tensor | None, nonlinearity: str = "tanh"
) -> Tensor:
    """Elman RNN: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, act in {tanh, relu}.

    Args:
        xp: (B, H) input projection. h_in: (B, H). w_hh: (H, H). b_hh: (H,) or None.
    Returns:
        h_t: (B, H).
    """
    pre = xp + _recurrent(h_in, w_hh, b_hh, None)
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


def lstm_step(
    xp: Tensor,
    h_in: Tensor,
    c: Tensor,
    w_hh: Tensor,
    b_hh: Tensor | None,
    w_ph: Tensor | None = None,
    w_hr: Tensor | None = None,
    ln_hh: tuple | None = None,
    ln_c: tuple | None = None,
) -> tuple[Tensor, Tensor]:
    """LSTM step, gate order (i, f, g, o) as torch.nn::

        [i, f, g, o] = xp + LN_hh(W_hh h_{t-1}) + b_hh
        i = σ(i + p_i ⊙ c_{t-1})          (peephole terms only when w_ph is given)
        f = σ(f + p_f ⊙ c_{t-1})
        g = tanh(g)
        c_t = f ⊙ c_{t-1} + i ⊙ g
        o = σ(o + p_o ⊙ c_t)
        h_t = o ⊙ tanh(LN_c(c_t))
        h_t = W_hr h_t                     (only when w_hr is given: proj_size > 0)

    Peepholes are diagonal (Gers & Schmidhuber 2000; Graves 2013), the form TensorFlow's
    ``LSTMCell(use_peepholes=True)`` computes: ``w_ph`` is (3, H) with rows (i, f, o).

    Args:
        xp: (B, 4H). h_in: (B, P). c: (B, H). w_hh: (4H, P). b_hh: (4H,) or None.
        w_ph: (3, H) or None. w_hr: (P, H) or None. ln_hh: (weight, bias) over 4H or None.
        ln_c: (weight, bias) over H or None.
    Returns:
        (h_t (B, P), c_t (B, H)).
    """
    gates = xp + _recurrent(h_in, w_hh, b_hh, ln_hh)
    i, f, g, o = gates.chunk(4, dim=-1)
    if w_ph is not None:
        i = i + w_ph[0] * c
        f = f + w_ph[1] * c
    i, f, g = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g)
    c_new = f * c + i * g
    if w_ph is not None:
        o = o + w_ph[2] * c_new
    o = torch.sigmoid(o)
    c_out = c_new if ln_c is None else layer_norm(c_new, ln_c[0], ln_c[1])
    h = o * torch.tanh(c_out)
    if w_hr is not None:
        h = h @ w_hr.t()
    return h, c_new


def gru_step(
    xp: Tensor,
    h: Tensor,
    h_in: Tensor,
    w_hh: Tensor,
    b_hh: Tensor | None,
    reset_after: bool = True,
    ln_hh: tuple | None = None,
) -> Tensor:
    """GRU step, gate order (r, z, n) as torch.nn.

    reset_after=True (torch / cuDNN form)::

        r = σ(x_r + (W_hr h + b_hr)),  z = σ(x_z + (W_hz h + b_hz))
        n = tanh(x_n + r ⊙ (W_hn h + b_hn))
        h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

    reset_after=False (Cho et al. 2014, Keras ``reset_after=False``)::

        n = tanh(x_n + W_hn (r ⊙ h) + b_hn)

    With layer norm, ``LN_hh`` normalises the recurrent product (over 3H, or over the r, z
    part and the n part separately when reset_after=False, since they are separate products).

    Args:
        xp: (B, 3H) input projection. h: (B, H) previous state. h_in: (B, H) previous state as
        seen by the recurrent product (dropout-masked). w_hh: (3H, H). b_hh: (3H,) or None.
        ln_hh: (weight, bias) over 3H or None.
    Returns:
        h_t: (B, H).
    """
    H = h.shape[-1]
    x_r, x_z, x_n = xp.chunk(3, dim=-1)
    if reset_after:
        hh = _recurrent(h_in, w_hh, b_hh, ln_hh)
        h_r, h_z, h_n = hh.chunk(3, dim=-1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
    else:
        ln_rz = None if ln_hh is None else (ln_hh[0][: 2 * H], ln_hh[1][: 2 * H])
        ln_n = None if ln_hh is None else (ln_hh[0][2 * H :], ln_hh[1][2 * H :])
        b_rz = None if b_hh is None else b_hh[: 2 * H]
        b_n = None if b_hh is None else b_hh[2 * H :]
        h_r, h_z = _recurrent(h_in, w_hh[: 2 * H], b_rz, ln_rz).chunk(2, dim=-1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + _recurrent(r * h_in, w_hh[2 * H :], b_n, ln_n))
    return (1 - z) * n + z * h
