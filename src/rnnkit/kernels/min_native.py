"""The ``scan`` kernel's native CPU path for min-cells: ``kernels/csrc/min_rnn.c``.

C does the gates and the recurrence ``h_t = a_t ⊙ h_{t-1} + b_t`` (forward), and the reverse
recurrence and the gate gradients (backward), as a sequential-in-time loop per batch row
vectorised over H: memory-optimal on a CPU, where the chunked parallel scan of
``functional.scan`` only adds passes over memory. The input projection ``x W_ihᵀ + b_ih`` (a
torch GEMM) runs per time chunk of about 1 MB into a reused buffer, just before C consumes it;
the backward recomputes it the same way and accumulates the weight gradients per chunk, so the
(B, T, G·H) projection and its gradient are never stored (on CPU, fresh large buffers cost more
in page faults than the GEMM that fills them). Built on first use like the engine's native step
(``rnnkit.kernels.engine.native``: system C compiler, ``$RNNKIT_CACHE_DIR``, loaded with
ctypes); ``RNNKIT_NATIVE=0``, no compiler or a failed build mean the pure-PyTorch scan runs
instead (same results), and ``explain`` says which.

Eligible runs: CPU, float32/float64, linear ``scan_space``, no zoneout, MinGRUCell or
MinLSTMCell. A double backward (``create_graph=True``) recomputes through the pure-PyTorch
path, so higher-order gradients still work.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import torch
from torch import Tensor

from rnnkit.kernels.native_build import CSRC, compiler, disabled, load_library
from rnnkit.kernels.torch_fused import StepGemm, mm_tn

__all__ = ["KINDS", "available", "min_rnn_native", "status"]

KINDS = {"mingru": 0, "minlstm": 1}
_SFX = {torch.float32: "f32", torch.float64: "f64"}
_state: dict = {}
CHUNK_BYTES = 1 << 20  # projected input per time chunk (about L2-sized)


def _load():
    lib, why = load_library("min_rnn", (CSRC / "min_rnn.c",),
                            "the scan kernel's native loop", openmp=True)
    if lib is None:
        return None, why
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    for sfx in _SFX.values():
        fwd, bwd = getattr(lib, f"minrnn_fwd_{sfx}"), getattr(lib, f"minrnn_bwd_{sfx}")
        fwd.argtypes = [i64] * 6 + [ptr, ptr, i64, ptr, ptr, i64]  # last: threads
        bwd.argtypes = [i64] * 6 + [ptr, ptr, ptr, i64, ptr, ptr, ptr, ptr, i64]
        fwd.restype = bwd.restype = None
    return lib, None


def _lib():
    if "lib" not in _state:
        _state["lib"], _state["why"] = _load()
    return _state["lib"]


def available(xp: Tensor) -> bool:
    """Whether the native loop can run on this projected input (builds it on first use)."""
    return xp.device.type == "cpu" and xp.dtype in _SFX and _lib() is not None


def status() -> str:
    """One line for ``explain``: where the min-cell scan runs."""
    native = ("native C loop on CPU (gates + sequential-in-time recurrence per batch row, "
              "vectorised over H; float32/float64, linear scan_space, no zoneout)")
    if "lib" not in _state:
        if disabled():
            return "pure-PyTorch chunked scan (native loop disabled by RNNKIT_NATIVE=0)"
        if compiler() is None:
            return "pure-PyTorch chunked scan (no C compiler found; set CC to enable native)"
        return native + " (built on first use), else the pure-PyTorch chunked scan"
    if _state["lib"] is None:
        return f"pure-PyTorch chunked scan ({_state['why']})"
    return native + ", else the pure-PyTorch chunked scan"


def _p(t: Tensor | None):
    return None if t is None else t.data_ptr()


def _chunks(T: int, B: int, GH: int, itemsize: int, backward_order: bool, reverse: bool):
    """Time chunks [t0, t1) of about 1 MB of projected input, in the order they are walked."""
    c = max(1, min(T, CHUNK_BYTES // max(1, B * GH * itemsize)))
    spans = [(t0, min(T, t0 + c)) for t0 in range(0, T, c)]
    return spans[::-1] if backward_order != reverse else spans


class _Work:
    """Chunk buffers reused across the chunks of one call (they stay in cache)."""

    def __init__(self, x: Tensor, W: Tensor, B: int, c: int, chunks: int):
        self.xb = x.new_empty(B * c * x.shape[2])
        # the projection weight packed once for all chunks (oneDNN; see StepGemm)
        self.gemm = StepGemm(W, B * c, chunks)

    def project(self, x: Tensor, b: Tensor | None, t0: int, t1: int):
        B, n, I = x.shape[0], t1 - t0, x.shape[2]
        xc = self.xb[: B * n * I].view(B, n, I)
        xc.copy_(x[:, t0:t1])
        return xc.view(B * n, I), self.gemm(xc.view(B * n, I), b).contiguous()


class _MinRNN(torch.autograd.Function):
    """(x (B, T, I), W (G·H, I), b (G·H,) or None, h0 (B, H)) -> (y (B, T, H), h_last (B, H)):
    the projection ``x Wᵀ + b`` per time chunk in torch, gates and recurrence in C."""

    # fp32 under CPU autocast: the C loop reads the projection buffers as float32 / float64
    @staticmethod
    @torch.amp.custom_fwd(device_type="cpu", cast_inputs=torch.float32)
    def forward(ctx, x, W, b, h0, lengths, reverse, kind, fallback):
        B, T = x.shape[:2]
        GH, H = W.shape[0], h0.shape[1]
        W, h0c = W.contiguous(), h0.contiguous()
        lens = None if lengths is None else lengths.to("cpu", torch.int64).contiguous()
        y, hs = x.new_empty(B, T, H), h0c.clone()
        spans = _chunks(T, B, GH, x.element_size(), False, reverse)
        work = _Work(x, W, B, max(t1 - t0 for t0, t1 in spans), len(spans))
        fwd = getattr(_lib(), f"minrnn_fwd_{_SFX[x.dtype]}")
        for t0, t1 in spans:
            _, pc = work.project(x, b, t0, t1)
            fwd(KINDS[kind], B, T, H, t0, t1, _p(pc), _p(lens), int(reverse), _p(y), _p(hs),
                torch.get_num_threads())
        ctx.save_for_backward(x, W, b, h0, y)
        ctx.lens, ctx.lengths, ctx.reverse = lens, lengths, reverse
        ctx.kind, ctx.fallback = kind, fallback
        return y, hs

    @staticmethod
    @torch.amp.custom_bwd(device_type="cpu")
    def backward(ctx, gy, ghl):
        x, W, b, h0, y = ctx.saved_tensors
        need = ctx.needs_input_grad[:4]
        if torch.is_grad_enabled():  # create_graph=True: differentiate the PyTorch twin
            ins = [t for t, n in zip((x, W, b, h0), need) if n]
            with torch.enable_grad():
                y2, hl2 = ctx.fallback(x, W, b, h0, ctx.lengths, ctx.reverse)
                got = iter(torch.autograd.grad((y2, hl2), ins, (gy, ghl), create_graph=True,
                                               allow_unused=True))
            return (*(next(got) if n else None for n in need), None, None, None, None)
        B, T, I = x.shape
        GH, H = W.shape[0], h0.shape[1]
        W, h0, gy = W.contiguous(), h0.contiguous(), gy.contiguous()
        g = ghl.contiguous().clone() if ghl is not None else torch.zeros_like(h0)
        gx = x.new_empty(B, T, I) if need[0] else None
        gW = torch.zeros_like(W) if need[1] else None
        gb = torch.zeros_like(b) if b is not None and need[2] else None
        spans = _chunks(T, B, GH, x.element_size(), True, ctx.reverse)
        c = max(t1 - t0 for t0, t1 in spans)
        work = _Work(x, W, B, c, len(spans))
        gemm_x = StepGemm(W.t().contiguous(), B * c, len(spans)) if gx is not None else None
        dbuf = x.new_empty(B * c * GH)
        bwd = getattr(_lib(), f"minrnn_bwd_{_SFX[x.dtype]}")
        for t0, t1 in spans:
            xc, pc = work.project(x, b, t0, t1)
            dp = dbuf[: B * (t1 - t0) * GH].view(-1, GH)
            bwd(KINDS[ctx.kind], B, T, H, t0, t1, _p(pc), _p(h0), _p(ctx.lens),
                int(ctx.reverse), _p(y), _p(gy), _p(g), _p(dp), torch.get_num_threads())
            if gW is not None:
                gW.add_(mm_tn(dp, xc))
            if gb is not None:
                gb.add_(dp.sum(0))
            if gx is not None:
                gx[:, t0:t1] = gemm_x(dp).view(B, t1 - t0, I)
        return gx, gW, gb, g if need[3] else None, None, None, None, None


def min_rnn_native(kind: str, x: Tensor, weight: Tensor, bias: Tensor | None, h0: Tensor,
                   lengths: Tensor | None, reverse: bool,
                   fallback: Callable) -> tuple[Tensor, Tensor]:
    """Run a min-cell over time: ``x Wᵀ + b`` per time chunk, gates and recurrence in C.

    ``fallback(x, weight, bias, h0, lengths, reverse)`` is the pure-PyTorch twin, used for
    double backward. Returns (y (B, T, H), h_last (B, H)).
    """
    return _MinRNN.apply(x, weight, bias, h0, lengths, reverse, kind, fallback)
