"""Streaming ``step()`` of small LSTMs with a cached native context: one C call per layer.

``layer.step(x_t, state)`` at B=1 is a latency path: the general engine call builds its
buffers, a ctypes context (~25 fields) and the per-step bias on every call, which cost more
than the arithmetic (B=1 I=32 H=128: ~100 µs a step against torch.nn's ~80). ``LSTMStream``
builds the context, the scratch buffers and the bias pointer once per (layer, batch size,
dtype) and per step only points it at the incoming state and fresh outputs: per layer one
``addmm`` (the input projection plus b_ih) and one C call (``lstm_seq_fwd`` with one step: the
recurrent product, b_hh and the pointwise cell in C), the same C code and math as
``lstm_native.forward``'s whole-sequence loop, so the results equal ``forward`` on the one-step
input to rounding (b_ih is added in the projection here, folded into b_hh there; a test).

Eligible: CPU float32/float64 plain or peephole LSTM cells (no layer norm, projection or
zoneout), nothing needing a gradient, no autocast, no recurrent dropout in training, small
enough for the whole-sequence C loop (``lstm_native._seq``). Anything else returns None from
``stream_step`` and the layer takes its general path.
"""

from __future__ import annotations

import ctypes

import torch
from torch import Tensor

from rnnkit.cells import LSTMCell
from rnnkit.kernels.engine import lstm_native, native

__all__ = ["LSTMStream", "stream_step"]


def _eligible(cells, x: Tensor, states, training: bool, rec_drop: float, zoneout: float,
              dropout: float) -> bool:
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64):
        return False
    if torch.is_autocast_enabled("cpu"):  # the engine's bf16 GEMMs: the general path
        return False
    if zoneout or (training and (rec_drop or dropout)) or native.lstm_lib() is None:
        return False
    if any(type(c) is not LSTMCell or c.layer_norm or c.weight_hr is not None for c in cells):
        return False
    if torch.is_grad_enabled() and any(
            t.requires_grad for t in (x, *states, *(p for c in cells for p in c.parameters()))):
        return False
    B, H = x.shape[0], cells[0].hidden_size
    return all(lstm_native._seq(False, B, c.hidden_size) for c in cells) and H > 0


class _LayerCtx:
    """One layer's cached context, scratch buffers and the pointers it was made for."""

    def __init__(self, cell, B: int, dtype: torch.dtype):
        H = cell.hidden_size
        self.cell, self.H = cell, H
        self.w_ih, self.b_ih = cell.weight_ih, cell.bias_ih
        self.w_hh = cell.weight_hh.contiguous()
        self.xp = torch.empty(B, 4 * H, dtype=dtype)  # x_t W_ihᵀ + b_ih
        self.hw = torch.empty(B, 4 * H, dtype=dtype)  # the C loop's recurrent product
        self.g = torch.empty(1, B, 4 * H, dtype=dtype)
        self.tc = torch.empty(1, B, H, dtype=dtype)
        self.sizes = torch.tensor([B], dtype=torch.int64)
        kc = native.LSTMCtx()
        kc.H, kc.eps = H, lstm_native._EPS
        kc.flags = lstm_native.PEEP if cell.weight_ph is not None else 0
        kc.xb = None if cell.bias_hh is None else cell.bias_hh.data_ptr()
        kc.peep = None if cell.weight_ph is None else cell.weight_ph.data_ptr()
        kc.x = native.Arr(self.xp.data_ptr(), 0, 4 * H)
        kc.g, kc.tc = native.Arr(self.g.data_ptr(), 0, 4 * H), native.Arr(self.tc.data_ptr(), 0, H)
        self.kc, self.pk = kc, ctypes.byref(kc)
        self.call = lstm_native._fn(native.lstm_lib(), "seq_fwd", dtype)
        self.ptrs = self._ptrs()

    def _ptrs(self) -> tuple:
        c = self.cell
        return tuple(None if p is None else (p.data_ptr(), p._version) for p in
                     (c.weight_ih, c.weight_hh, c.bias_ih, c.bias_hh, c.weight_ph))

    def valid(self) -> bool:
        """Still pointing at the cell's current parameters (not replaced or changed in place:
        ``w_hh`` may be a contiguous copy, and every pointer must be live)."""
        return self._ptrs() == self.ptrs

    def __call__(self, x: Tensor, h0: Tensor, c0: Tensor, h_out: Tensor, c_out: Tensor):
        if self.b_ih is None:
            torch.mm(x, self.w_ih.t(), out=self.xp)
        else:
            torch.addmm(self.b_ih, x, self.w_ih.t(), out=self.xp)
        kc, H = self.kc, self.H
        kc.h0, kc.c0 = native.Arr(h0.data_ptr(), 0, H), native.Arr(c0.data_ptr(), 0, H)
        kc.y = kc.out = native.Arr(h_out.data_ptr(), 0, H)
        kc.c = kc.cn = native.Arr(c_out.data_ptr(), 0, H)
        self.call(self.pk, 1, self.sizes.data_ptr(), self.w_hh.data_ptr(), self.hw.data_ptr())


class LSTMStream:
    """The cached per-layer contexts of one (layer stack, batch size, dtype)."""

    def __init__(self, cells, B: int, dtype: torch.dtype):
        self.layers = [_LayerCtx(c, B, dtype) for c in cells]
        self.nthreads = torch.get_num_threads()

    def valid(self) -> bool:
        return self.nthreads == torch.get_num_threads() and all(c.valid() for c in self.layers)

    def __call__(self, x: Tensor, h0: Tensor, c0: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """x (B, I), h0 / c0 (L, B, H) -> (y (B, H), h_n (L, B, H), c_n (L, B, H)), fresh."""
        L, B, H = h0.shape
        out = torch.empty(2, L, B, H, dtype=x.dtype)
        hn, cn = out[0], out[1]
        h0, c0, inp = h0.contiguous(), c0.contiguous(), x.contiguous()
        for k, layer in enumerate(self.layers):
            layer(inp, h0[k], c0[k], hn[k], cn[k])
            inp = hn[k]
        return hn[L - 1].clone(), hn, cn


def stream_step(owner, cells, x: Tensor, states: tuple[Tensor, ...], *, training: bool,
                rec_drop: float, zoneout: float, dropout: float):
    """``(y (B, H), (h_n, c_n))`` of one step through a cached ``LSTMStream``, or None when
    this call is not eligible (then the caller runs its general path). The cache lives in
    ``owner.__dict__`` and is rebuilt when a parameter was replaced or changed in place."""
    if len(states) != 2 or not _eligible(cells, x, states, training, rec_drop, zoneout,
                                         dropout):
        return None
    cache = owner.__dict__.setdefault("_lstm_streams", {})
    key = (x.shape[0], x.dtype)
    stream = cache.get(key)
    if stream is None or not stream.valid():
        stream = cache[key] = LSTMStream(cells, x.shape[0], x.dtype)
    y, hn, cn = stream(x, *states)
    return y, (hn, cn)
