"""The engine's Elman family (tanh / relu), with recurrent dropout, zoneout and ragged lengths.

Forward per step: ``h_t = act(X_t + h_in W_hhᵀ + b_hh)``: one GEMM (b_hh inside it) and one
native C call (activation, zoneout, and the next GEMM's input ``h_t ⊙ m``). Backward: one C
call (zoneout split, act') and one GEMM per step; dW_hh as one GEMM after the loop. Small
problems (B·H·H <= SEQ_MACS) run every step, forward and backward, in one C call
(``csrc/elman_pointwise.c``), where even the per-step GEMM call would cost more than the math.
Without the native library the same per-step loop runs in torch ops.
"""

from __future__ import annotations

import ctypes

import torch
from torch import Tensor

from rnnkit.kernels.engine import native
from rnnkit.kernels.engine._common import (
    final_rows,
    graph_kept,
    mask_at,
    needs_grad,
    recurrent_weight_grad,
    tanh_bwd,
    zone,
)
from rnnkit.kernels.engine.lstm_native import _arr, usable
from rnnkit.kernels.torch_fused import StepGemm, mm_tn

__all__ = ["FusedElman", "run_elman"]

SEQ_MACS = 1 << 18  # B·H·H at or below this: the whole sequence in one C call
RELU, ZH, ZH_MASK, MASK = 1, 4, 8, 128


def _native(xp: Tensor) -> bool:
    B, _, H = xp.shape
    return B * H * H <= SEQ_MACS and usable(xp)


def _fn(kind: str, dtype):
    """``elman_{kind}_{f32,f64}``: kind seq_fwd / seq_bwd (whole sequence), fwd / bwd (a step)."""
    sfx = "f32" if dtype == torch.float32 else "f64"
    return getattr(native.lstm_lib(), f"elman_{kind}_{sfx}")


def _native_forward(X, h0, w_hh, m, zh, relu, sizes, keep, bias=None, whole=True):
    """The native forward: ``(Y, A, ctx struct, tensors it points to)``. ``whole``: every step
    in one C call (X already holds b_hh); else one GEMM (with ``bias``) and one C call per
    step, the C call writing the next GEMM's input h_t ⊙ m."""
    T, B, H = X.shape
    Y = X.new_zeros(T, B, H)
    A = None if zh is None else X.new_zeros(T if keep else 1, B, H)
    h0 = h0.contiguous()
    m = None if m is None else m.contiguous()
    zh_t = zh.contiguous() if isinstance(zh, Tensor) else None
    kc = native.ElmanCtx()
    kc.H = H
    kc.flags = ((RELU if relu else 0) | (MASK if m is not None else 0)
                | (0 if zh is None else ZH | (ZH_MASK if zh_t is not None else 0)))
    kc.zhv = float(zh) if zh is not None and zh_t is None else 0.0
    kc.x, kc.a, kc.y = _arr(X), _arr(A), _arr(Y)
    kc.h0, kc.zh, kc.m = _arr(h0), _arr(zh_t), _arr(m)
    pk = ctypes.byref(kc)
    if whole:  # every buffer the C loop reads is bound to a name (a temporary is freed first)
        w, sz, hin = w_hh.contiguous(), torch.tensor(sizes, dtype=torch.int64), X.new_empty(H)
        _fn("seq_fwd", X.dtype)(pk, T, sz.data_ptr(), w.data_ptr(), hin.data_ptr())
        return Y, A, kc, (h0, m, zh_t)  # (x is not read by the backward)
    step, gemm = _fn("fwd", X.dtype), StepGemm(w_hh, B, T)
    hin = h0.clone() if m is None else h0 * m  # the step GEMM's input; then the C step's
    for t in range(T):
        n = sizes[t]
        if n == 0:
            break
        hw = gemm(hin if n == B else hin[:n], bias)
        step(pk, t, n, hw.data_ptr(), hin.data_ptr() if t + 1 < T else None)
    return Y, A, kc, (h0, m, zh_t)


class FusedElman(torch.autograd.Function):
    """``(xp, bias, h0, W_hh, rec_mask, zh)`` -> ``(Y (T, B, H) time-major, h_n)``.

    ``order = (perm, inv)``: the batch is length-sorted; Y is returned in the caller's order
    (``Y.index_select(1, inv)``), and backward sorts the output gradient into a buffer of its
    own, which DA then overwrites (one (T, B, H) buffer fewer than unsorting outside). The
    torch loop and the per-step C loop then keep only that unsorted output for backward, which
    gathers the sorted rows it reads (one (T, B, H) buffer fewer again)."""

    @staticmethod
    def forward(ctx, xp, bias, h0, w_hh, m, zh, relu, sizes, lengths, keep, order=None):
        ctx.order = order
        X = xp.transpose(0, 1)
        T, B, H = X.shape
        ctx.native = _native(xp)  # the whole sequence in one C call
        ctx.step = not ctx.native and usable(xp)  # one C call per step
        if ctx.native or ctx.step:
            if ctx.native and bias is not None:
                X = X + bias
            Y, A, kc, held = _native_forward(X, h0, w_hh, m, zh, relu, sizes, keep, bias,
                                             whole=ctx.native)
            if keep and ctx.step and order is not None:  # keep the unsorted y only
                y = _unsorted(Y, order)
                ctx.save_for_backward(h0, w_hh, m, y, A)
                ctx.zh, ctx.relu, ctx.sizes, ctx.has_bias = zh, relu, sizes, bias is not None
                ctx.kc = (kc, held)
                return y, final_rows(Y, lengths)
            if keep:
                ctx.save_for_backward(h0, w_hh, m, Y, A)
                ctx.zh, ctx.relu, ctx.sizes, ctx.has_bias = zh, relu, sizes, bias is not None
                ctx.kc = (kc, held)
            return _unsorted(Y, order), final_rows(Y, lengths)
        Y = X.new_zeros(T, B, H)
        A = X.new_zeros(T, B, H) if (zh is not None and keep) else None
        gemm = StepGemm(w_hh, B, T)
        for t in range(T):
            n = sizes[t]
            if n == 0:
                break
            hp = h0[:n] if t == 0 else Y[t - 1, :n]
            hin = hp if m is None else hp * m[:n]
            # b_hh inside the step GEMM: no biased (T, B, H) copy of the projection
            a = torch.add(gemm(hin, bias), X[t, :n], out=Y[t, :n] if A is None else A[t, :n])
            a.relu_() if relu else a.tanh_()
            if zh is not None:
                zone(a, hp, mask_at(zh, t, n), out=Y[t, :n])
        hn, y = final_rows(Y, lengths), _unsorted(Y, order)
        if keep:  # with an order, y (what the caller holds anyway) instead of the sorted Y
            ctx.save_for_backward(h0, w_hh, m, y, A)
            ctx.zh, ctx.relu, ctx.sizes, ctx.has_bias = zh, relu, sizes, bias is not None
        return y, hn

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dY, dhn):
        h0, w_hh, m, Y, A = ctx.saved_tensors
        zh = ctx.zh
        T, B, H = Y.shape
        # the torch loop with an order saved the unsorted output: rows gathered back by perm
        # the whole-sequence C loop saved the sorted output
        rows = ctx.order[0] if ctx.order is not None and not ctx.native else None
        gh = dhn.clone() if dhn is not None else h0.new_zeros(B, H)
        own = ctx.order is not None and dY is not None
        if own:  # back into the sorted order, in a buffer this backward owns
            dY = dY.index_select(1, ctx.order[0])
        dY = dY if dY is not None else Y.new_zeros(Y.shape)
        # DA overwrites what only step t's backward reads (element by element, read before
        # written): the pre-zoneout activations when the graph is not kept, else the owned dY
        if A is not None and not ctx.native and not graph_kept():
            DA = A
        elif own and not ctx.native:
            DA = dY
            for t, n in enumerate(ctx.sizes):  # rows past a sequence's end get no gradient
                if n < B:
                    DA[t, n:] = 0
        else:
            DA = Y.new_zeros(T, B, H)
        steps = T
        if ctx.native:  # every step in one C call; the ctx struct still points at its inputs
            kc, _ = ctx.kc
            gh, dY = gh.contiguous(), dY.contiguous()
            kc.acc, kc.dy, kc.da = _arr(gh), _arr(dY), _arr(DA)
            w, sz, scratch = (w_hh.contiguous(), torch.tensor(ctx.sizes, dtype=torch.int64),
                              Y.new_empty(2 * H))
            _fn("seq_bwd", Y.dtype)(ctypes.byref(kc), T, sz.data_ptr(), w.data_ptr(),
                                    scratch.data_ptr())
            steps = 0
        gemm = StepGemm(w_hh.t().contiguous(), B, T if ctx.step else steps)
        if ctx.step:
            gh = _step_backward(ctx, gh, dY, DA, m, gemm, None if A is not None else rows, Y)
            steps = 0
        for t in range(steps - 1, -1, -1):
            n = ctx.sizes[t]
            if n == 0:
                continue
            dh = gh[:n] + dY[t, :n]
            if zh is not None:
                acc = dh * mask_at(zh, t, n)
                dh = dh - acc
            if A is not None:
                a = A[t, :n]
            else:
                a = Y[t, :n] if rows is None else Y[t].index_select(0, rows[:n])
            da = DA[t, :n]
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
            d_w = recurrent_weight_grad(DA, h0, Y, m, mm_tn, rows)
        d_b = DA.sum((0, 1)) if ctx.has_bias and need[1] else None
        return DA.transpose(0, 1), d_b, gh, d_w, None, None, None, None, None, None, None


def _step_backward(ctx, gh: Tensor, dY: Tensor, DA: Tensor, m, gemm, rows, Y) -> Tensor:
    """The per-step native backward: per step one C call (d h_t from the carried gradient,
    dY_t and the step after's GEMM output; the zoneout split; act') writing DA[t], then the
    GEMM ``DA[t] W_hh``. Returns ∂L/∂h0. ``rows``: act' reads h_t (no zoneout) and forward
    kept the unsorted output ``Y``: each step's sorted rows are gathered into a scratch row
    block first (the sorted output was freed)."""
    kc, _ = ctx.kc
    gh, dY = gh.contiguous(), dY.contiguous()
    kc.acc, kc.dy, kc.da = _arr(gh), _arr(dY), _arr(DA)
    scratch = None
    if rows is not None:
        scratch = DA.new_empty(DA.shape[1], DA.shape[2])
        kc.y = native.Arr(scratch.data_ptr(), 0, scratch.stride(0))  # the same rows each step
    step, pk = _fn("bwd", DA.dtype), ctypes.byref(kc)
    A = DA.new_zeros(0, DA.shape[2])  # d h_in of the step after (its running rows)
    for t in range(DA.shape[0] - 1, -1, -1):
        n = ctx.sizes[t]
        if n == 0:
            continue
        a_rows = min(A.shape[0], n)
        if scratch is not None:
            torch.index_select(Y[t], 0, rows[:n], out=scratch[:n])
        step(pk, t, n, A.data_ptr() if a_rows else None, a_rows)
        A = gemm(DA[t, :n])
    gh[: A.shape[0]] += A if m is None else A * m[: A.shape[0]]
    return gh


def _unsorted(Y: Tensor, order) -> Tensor:
    return Y if order is None else Y.index_select(1, order[1])


def run_elman(cell, xp, state, sizes, lengths, rec_mask, zoneout, order=None):
    """Run an ``ElmanCell`` over batch-first ``xp`` (B, T, H); returns (y (B, T, H), (h,)).

    ``order = (perm, inv)``: the batch was sorted by ``perm``; y comes back unsorted (h not)."""
    zh = None if zoneout is None else zoneout[0]
    args = (xp, cell.bias_hh, state[0], cell.weight_hh, rec_mask, zh)
    y, hn = FusedElman.apply(*args, cell.nonlinearity == "relu", sizes, lengths,
                             needs_grad(*args), order)
    return y.transpose(0, 1), (hn,)
