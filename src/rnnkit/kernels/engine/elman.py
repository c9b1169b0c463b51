"""The engine's Elman family (tanh / relu), with recurrent dropout, zoneout and ragged lengths.

Forward per step: ``h_t = act(X_t + h_in W_hhᵀ)`` as one addmm plus one in-place activation,
``X = xp + b_hh`` added once. Backward: one mm per step; dW_hh as one GEMM after the loop.
"""

from __future__ import annotations

import torch

from rnnkit.kernels.engine._common import final_rows, mask_at, needs_grad, tanh_bwd
from rnnkit.kernels.torch_fused import StepGemm, mm_tn

__all__ = ["FusedElman", "run_elman"]


class FusedElman(torch.autograd.Function):
    """``(xp, bias, h0, W_hh, rec_mask, zh)`` -> ``(Y (T, B, H) time-major, h_n)``."""

    @staticmethod
    def forward(ctx, xp, bias, h0, w_hh, m, zh, relu, sizes, lengths, keep):
        X = xp.transpose(0, 1)
        if bias is not None:
            X = X + bias
        T, B, H = X.shape
        Y = X.new_zeros(T, B, H)
        A = X.new_zeros(T, B, H) if (zh is not None and keep) else None
        gemm = StepGemm(w_hh, B, T)
        for t in range(T):
            n = sizes[t]
            if n == 0:
                break
            hp = h0[:n] if t == 0 else Y[t - 1, :n]
            hin = hp if m is None else hp * m[:n]
            a = torch.add(gemm(hin), X[t, :n], out=Y[t, :n] if A is None else A[t, :n])
            a.relu_() if relu else a.tanh_()
            if zh is not None:
                torch.lerp(a, hp, mask_at(zh, t, n), out=Y[t, :n])
        if keep:
            ctx.save_for_backward(h0, w_hh, m, Y, A)
            ctx.zh, ctx.relu, ctx.sizes, ctx.has_bias = zh, relu, sizes, bias is not None
        return Y, final_rows(Y, lengths)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dY, dhn):
        h0, w_hh, m, Y, A = ctx.saved_tensors
        zh = ctx.zh
        T, B, H = Y.shape
        act = A if A is not None else Y
        gh = dhn.clone() if dhn is not None else h0.new_zeros(B, H)
        dY = dY if dY is not None else Y.new_zeros(Y.shape)
        DA = Y.new_zeros(T, B, H)
        gemm = StepGemm(w_hh.t().contiguous(), B, T)
        for t in range(T - 1, -1, -1):
            n = ctx.sizes[t]
            if n == 0:
                continue
            dh = gh[:n] + dY[t, :n]
            if zh is not None:
                acc = dh * mask_at(zh, t, n)
                dh = dh - acc
            a, da = act[t, :n], DA[t, :n]
            if ctx.relu:
                torch.mul(dh, a > 0, out=da)
            else:
                tanh_bwd(dh, a, da)
            ghn = gh[:n]
            ghn.copy_(gemm(da))
            if m is not None:
                ghn.mul_(m[:n])
            if zh is not None:
                ghn.add_(acc)
        need = ctx.needs_input_grad
        d_w = None
        if need[3]:
            hin = torch.cat([h0.unsqueeze(0), Y[:-1]]) if T > 1 else h0.unsqueeze(0)
            if m is not None:
                hin = hin * m
            d_w = mm_tn(DA.reshape(-1, H), hin.reshape(-1, H))
        d_b = DA.sum((0, 1)) if ctx.has_bias and need[1] else None
        return DA.transpose(0, 1), d_b, gh, d_w, None, None, None, None, None, None


def run_elman(cell, xp, state, sizes, lengths, rec_mask, zoneout):
    """Run an ``ElmanCell`` over batch-first ``xp`` (B, T, H); returns (y (B, T, H), (h,))."""
    zh = None if zoneout is None else zoneout[0]
    args = (xp, cell.bias_hh, state[0], cell.weight_hh, rec_mask, zh)
    y, hn = FusedElman.apply(*args, cell.nonlinearity == "relu", sizes, lengths,
                             needs_grad(*args))
    return y.transpose(0, 1), (hn,)
