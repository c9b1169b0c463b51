"""Helpers shared by the engine's cell families."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["final_rows", "linear", "mask_at", "mm_tn_fast", "needs_grad", "sig_bwd",
           "split_zoneout", "tanh_bwd"]

_aten = torch.ops.aten


def mm_tn_fast(a: Tensor, b: Tensor) -> Tensor:
    """``a.T @ b`` for a (M, N), b (M, K) with M large (a weight gradient), as one oneDNN GEMM.

    oneDNN takes its weight operand transposed for free, so only the narrower of a, b is copied
    into (·, M) layout (``mm_tn`` copies both): ``(bᵀ a)ᵀ`` when N >= K, else ``aᵀ b``."""
    lin = _linear()
    if (lin is None or a.device.type != "cpu" or a.dtype not in (torch.float32, torch.bfloat16)
            or b.dtype != a.dtype or a.shape[0] * a.shape[1] * b.shape[1] < 1 << 20):
        return a.t() @ b
    if a.shape[1] >= b.shape[1]:
        return lin(b.t().contiguous(), a.t(), None, "none", [], "").t().contiguous()
    return lin(a.t().contiguous(), b.t(), None, "none", [], "")


def _linear():
    from rnnkit.kernels import torch_fused

    return torch_fused._LINEAR


def sig_bwd(grad: Tensor, out: Tensor, dest: Tensor) -> Tensor:
    """``dest = grad * out * (1 - out)`` (derivative through a sigmoid), one kernel."""
    return _aten.sigmoid_backward.grad_input(grad, out, grad_input=dest)


def tanh_bwd(grad: Tensor, out: Tensor, dest: Tensor) -> Tensor:
    """``dest = grad * (1 - out²)`` (derivative through a tanh), one kernel."""
    return _aten.tanh_backward.grad_input(grad, out, grad_input=dest)


def mask_at(z, t: int, n: int):
    """Zoneout keep-weights of step t for the running prefix: a (n, S) tensor or a float."""
    return z[t, :n] if isinstance(z, Tensor) else z


def split_zoneout(zoneout, k: int):
    """The zoneout weights of state tensor k, or None."""
    return None if zoneout is None else zoneout[k]


def final_rows(seq: Tensor, lengths: Tensor | None) -> Tensor:
    """(T, B, S) time-major sequence -> (B, S) value at each sequence's last valid step."""
    if lengths is None:
        return seq[-1].clone()
    B = seq.shape[1]
    return seq[lengths.to(seq.device) - 1, torch.arange(B, device=seq.device)]


def needs_grad(*tensors) -> bool:
    return torch.is_grad_enabled() and any(
        isinstance(t, Tensor) and t.requires_grad for t in tensors)


class _Linear(torch.autograd.Function):
    """``x Wᵀ (+ b)`` over (M, K) rows; backward's weight gradient through ``mm_tn_fast``
    (no transposed copy of the (M, N) output gradient, which costs as much as the GEMM)."""

    @staticmethod
    def forward(ctx, x, w, b):
        from rnnkit.kernels.torch_fused import mm_nt

        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None
        y = mm_nt(x, w)
        return y if b is None else y.add_(b)

    @staticmethod
    def backward(ctx, dy):
        from rnnkit.kernels.torch_fused import mm_nt

        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        dx = mm_nt(dy.contiguous(), w.t().contiguous()) if need[0] else None
        dw = mm_tn_fast(dy, x) if need[1] else None
        db = dy.sum(0) if ctx.has_bias and need[2] else None
        return dx, dw, db


def linear(x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
    """``F.linear`` for (..., K) inputs with oneDNN GEMMs forward and backward where present."""
    if (_linear() is None or x.device.type != "cpu" or x.dtype != torch.float32
            or w.dtype != x.dtype):
        return torch.nn.functional.linear(x, w, b)
    lead = x.shape[:-1]
    y = _Linear.apply(x.reshape(-1, x.shape[-1]).contiguous(), w, b)
    return y.view(*lead, w.shape[0])
