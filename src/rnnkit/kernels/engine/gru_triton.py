"""The GRU loops of ``gru.py`` with the pointwise step in Triton (``triton_steps/gru_step.py``).

Reset-after: per step, forward is one GEMM plus one Triton launch, backward one launch plus
one GEMM; same results as the native C loop (``gru_native.forward`` / ``backward``) returns to
``FusedGRU``. Reset-before: two dependent GEMMs per step (q = r ⊙ h_in feeds the second), so
two launches each way (``rb_forward`` / ``rb_backward``); its input-projection layer norm is
applied in the step, and its backward is left to ``gru._grads`` (``ctx.lnx``), which needs
the gradient of the normalised projection for d b_hh first. Used for CUDA tensors when triton
imports (``triton_steps.step_usable``).

Mixed precision (``lowp``: fp16 / bf16 GEMMs with fp32 tensors): the recurrent GEMMs and the
reset-after weight-gradient GEMMs run in ``lowp``; the steps write the next GEMM input in
``lowp`` themselves, and state, gates and every sum stay fp32.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.kernels.engine._common import final_rows, graph_kept
from rnnkit.kernels.engine._common import step_buffer as _buf
from rnnkit.kernels.triton_steps import launch_flags as _flags
from rnnkit.kernels.triton_steps import pointer_args as _ptrs
from rnnkit.kernels.triton_steps import zoneout_arg as _zmode

__all__ = ["backward", "forward", "rb_backward", "rb_forward"]

_EPS = 1e-5


def _k():
    from rnnkit.kernels.triton_steps import gru_step

    return gru_step


def _c(t: Tensor | None) -> Tensor | None:
    return None if t is None else t.contiguous()


def _stat_dtype(dtype):
    """The dtype of the kept LN means / rstds: fp32 for half tensors (``gru._grads`` hands
    the input LN's to ``native_layer_norm_backward``, which wants them so)."""
    return dtype if dtype == torch.float64 else torch.float32


def _sums(rows: dict, dtype):
    return {k: None if v is None else v.sum(0).to(dtype) for k, v in rows.items()}


def _setup(xp, h0, m, w_hh, lowp):
    """Time-major X, contiguous inputs, the GEMM weight (lowp) and its first input h0 ⊙ m."""
    X = xp.transpose(0, 1).contiguous()  # time-major already: no copy
    h0, m = h0.contiguous(), _c(m)
    wg = (w_hh if lowp is None else w_hh.to(lowp)).t()  # (H, 3H) view: cuBLAS takes it as is
    # the next GEMM's input (a copy: the step writes it, and h0 is saved for backward)
    AH = (h0 if m is None else h0 * m).to(wg.dtype, memory_format=torch.contiguous_format,
                                          copy=True)
    return X, h0, m, wg, AH


def forward(ctx, xp, hb, h0, w_hh, ln_w, m, zh, sizes, lengths, keep, lnx_w=None, lnx_b=None,
            lowp=None):
    """Reset-after loop; arguments and results as ``gru_native.forward`` (with ``lnx_w`` the
    step applies the input LN, and backward's DX is the gradient of the raw projection)."""
    K = _k()
    X, h0, m, wg, AH = _setup(xp, h0, m, w_hh, lowp)
    T, B, G3 = X.shape
    H, full = G3 // 3, sizes[-1] == B
    ln, lnx = ln_w is not None, lnx_w is not None
    # r, z, n side by side: a one-shot backward writes DX = [d r, d z, d n] over it (zeros
    # where a ragged batch's rows do not run); inference keeps nothing of them
    RZN = _buf(full, X, T, B, G3) if keep else None
    AN = X.new_empty(T, B, H) if keep else None
    Y = _buf(full, X, T, B, H)
    R = _buf(full, X, T, B, G3) if ln and keep else None  # DS is written over it
    sd = _stat_dtype(X.dtype)
    RS3 = X.new_zeros(T, B, dtype=sd) if ln and keep else None
    MX = X.new_zeros(T, B, dtype=sd) if lnx and keep else None
    SX = X.new_zeros(T, B, dtype=sd) if lnx and keep else None
    zhm, zht = _zmode(zh, X)
    hb, ln_w, lnx_w, lnx_b = _c(hb), _c(ln_w), _c(lnx_w), _c(lnx_b)
    args = _ptrs([X, hb, h0, Y, AH, RZN, AN, m, ln_w, lnx_w, lnx_b, zht, R, RS3, MX, SX], X)
    flags = _flags(H, X.dtype, KEEP=keep, HAS_HB=hb is not None,
                   LN=ln, LNX=lnx, HAS_LNXB=lnx_b is not None, ZH_MODE=zhm, MASK=m is not None)
    for t in range(T):
        n = sizes[t]
        if n == 0:
            break
        hw = torch.mm(AH if n == B else AH[:n], wg)  # (n, 3H), raw: the step adds hb
        K.gru_fwd[(n,)](hw, *args, t, B, _EPS, **flags)
    if keep:
        ctx.save_for_backward(h0, w_hh, hb, ln_w, m, Y, RZN[..., : 2 * H], RZN[..., 2 * H :])
        ctx.gt = (RZN, AN, R, RS3, (X if lnx else None, lnx_w, lnx_b, MX, SX), zhm, zht)
    return Y, final_rows(Y, lengths)


def _grad_start(ctx, dY, dhn):
    h0, w_hh, hb, ln_w, m, Y, _, _ = ctx.saved_tensors
    B, H = Y.shape[1:]
    acc = dhn.to(Y.dtype).contiguous().clone() if dhn is not None else Y.new_zeros(B, H)
    dY = dY.contiguous() if dY is not None else Y.new_zeros(Y.shape)
    lowp = getattr(ctx, "lowp", None)
    w = w_hh if lowp is None else w_hh.to(lowp)  # d h_in = src W_hh
    return h0, w, hb, ln_w, m, Y, acc, dY, lowp, ctx.sizes[-1] == B


def _gemm(src: Tensor, w: Tensor, lowp, dtype) -> Tensor:
    return torch.mm(src if lowp is None else src.to(lowp), w).to(dtype)


def backward(ctx, dY, dhn):
    """Reset-after backward: ``(DX, DA or d b_hh, DS, ∂L/∂h0, d ln_w, d lnx)`` as
    ``gru_native.backward``: without LN, DA (T, B, 3H) is the gradient of the recurrent GEMM
    output; with LN, DS is, and the second result is the sum d b_hh (None without hb)."""
    K = _k()
    h0, w, hb, ln_w, m, Y, acc, dY, lowp, full = _grad_start(ctx, dY, dhn)
    RZN, AN, R, RS3, (X, lnx_w, lnx_b, MX, SX), zhm, zht = ctx.gt
    T, B, H = Y.shape
    G3, ln, lnx = 3 * H, ln_w is not None, lnx_w is not None
    alias = not graph_kept()  # gradients over the forward buffers only this step reads
    DX = RZN if alias else _buf(full, Y, T, B, G3)
    DA = None if ln else _buf(full, Y, T, B, G3)
    DS = (R if alias else _buf(full, Y, T, B, G3)) if ln else None
    f = torch.float64 if Y.dtype == torch.float64 else torch.float32  # the sums' dtype
    rows = {name: Y.new_zeros(B, G3, dtype=f) if on else None for name, on in (
        ("lnw", ln), ("hb", ln and hb is not None), ("lnxw", lnx),
        ("lnxb", lnx and lnx_b is not None))}
    args = _ptrs([RZN, AN, h0, Y, None, acc, dY, m, zht, DX, DA, ln_w, R, RS3, DS, rows["lnw"],
                rows["hb"], X, lnx_w, MX, SX, rows["lnxw"], rows["lnxb"]], Y)
    dummy = args[4]  # A's slot: the step after's GEMM output, none at the last step
    flags = _flags(H, Y.dtype, LN=ln, HB_SUM=rows["hb"] is not None,
                   LNX=lnx, LNXB_SUM=rows["lnxb"] is not None, ZH_MODE=zhm, MASK=m is not None)
    src_all = DS if ln else DA
    A = Y.new_zeros(0, H)
    for t in range(T - 1, -1, -1):
        n = ctx.sizes[t]
        if n == 0:
            continue
        a_rows = min(A.shape[0], n)
        args[4] = A if a_rows else dummy
        K.gru_bwd[(n,)](*args, t, B, a_rows, **flags)
        A = _gemm(src_all[t, :n], w, lowp, Y.dtype)
    gh = acc
    gh[: A.shape[0]] += A if m is None else A * m[: A.shape[0]]
    s = _sums(rows, Y.dtype)
    d_lnx = (s["lnxw"], s["lnxb"]) if lnx else None
    return DX, (s["hb"] if ln else DA), DS, gh, s["lnw"], d_lnx


def rb_forward(ctx, xp, hb, h0, w_hh, ln_w, m, zh, sizes, lengths, keep, lnx_w=None,
               lnx_b=None, lowp=None):
    """Reset-before loop: ``(Y (T, B, H), h_n)``. Keeps [r | z | n] per step (a one-shot
    backward writes DX over it), q = r ⊙ h_in per step (Q, for d W_n) and, with layer norm,
    both LN x-hats in R and their rstd in RS2; with ``lnx_w`` it sets ``ctx.lnx`` for
    ``gru._grads`` (xp the raw projection)."""
    K = _k()
    X, h0, m, wg, AH = _setup(xp, h0, m, w_hh, lowp)
    T, B, G3 = X.shape
    H, full, k = G3 // 3, sizes[-1] == B, (T if keep else 1)
    ln, lnx = ln_w is not None, lnx_w is not None
    RZN = _buf(full or not keep, X, k, B, G3)  # fwd2 reads z (and LN'd x_n) from fwd1 here
    Y = _buf(full, X, T, B, H)
    Q = _buf(full, X, T, B, H) if keep else None
    QA = AH.new_empty(B, H)  # the second GEMM's input
    R = _buf(full, X, T, B, G3) if ln and keep else None
    sd = _stat_dtype(X.dtype)
    RS2 = X.new_zeros(T, B, 2, dtype=sd) if ln and keep else None
    MX = X.new_zeros(T, B, dtype=sd) if lnx and keep else None
    SX = X.new_zeros(T, B, dtype=sd) if lnx and keep else None
    zhm, zht = _zmode(zh, X)
    hb, ln_w, lnx_w, lnx_b = _c(hb), _c(ln_w), _c(lnx_w), _c(lnx_b)
    args1 = _ptrs([X, hb, h0, Y, m, RZN, Q, QA, ln_w, lnx_w, lnx_b, R, RS2, MX, SX], X)
    args2 = _ptrs([X, hb, h0, Y, AH, m, RZN, ln_w, zht, R, RS2], X)
    common = _flags(H, X.dtype, KEEP=keep, HAS_HB=hb is not None,
                    LN=ln, LNX=lnx, MASK=m is not None)
    w_rz, w_n = wg[:, : 2 * H], wg[:, 2 * H :]
    for t in range(T):
        n = sizes[t]
        if n == 0:
            break
        a = torch.mm(AH if n == B else AH[:n], w_rz)  # (n, 2H), raw
        K.grurb_fwd1[(n,)](a, *args1, t, B, _EPS, HAS_LNXB=lnx_b is not None, **common)
        b = torch.mm(QA if n == B else QA[:n], w_n)  # (n, H), raw
        K.grurb_fwd2[(n,)](b, *args2, t, B, _EPS, ZH_MODE=zhm, **common)
    if keep:
        ctx.save_for_backward(h0, w_hh, hb, ln_w, m, Y, RZN[..., : 2 * H], RZN[..., 2 * H :])
        ctx.gt = (RZN, Q, R, RS2, zhm, zht)
        if lnx:
            ctx.lnx = (xp, lnx_w, lnx_b, MX.unsqueeze(-1), SX.unsqueeze(-1))
    return Y, final_rows(Y, lengths)


def rb_backward(ctx, dY, dhn):
    """Reset-before backward: ``(DX, DS, Q, ∂L/∂h0, d ln_w)`` for ``gru._grads``: DX (T, B, 3H)
    the gradient of the (normalised) input projection, DS that of the two recurrent GEMM
    outputs with layer norm (None without: DX is), Q the forward's r ⊙ h_in."""
    K = _k()
    h0, w, _, ln_w, m, Y, acc, dY, lowp, full = _grad_start(ctx, dY, dhn)
    RZN, Q, R, RS2, zhm, zht = ctx.gt
    T, B, H = Y.shape
    G3, ln = 3 * H, ln_w is not None
    alias = not graph_kept()
    DX = RZN if alias else _buf(full, Y, T, B, G3)
    DS = (R if alias else _buf(full, Y, T, B, G3)) if ln else None
    f = torch.float64 if Y.dtype == torch.float64 else torch.float32
    DLNW = Y.new_zeros(B, G3, dtype=f) if ln else None
    args1 = _ptrs([RZN, h0, Y, None, acc, dY, m, zht, DX, ln_w, R, RS2, DS, DLNW], Y)
    args2 = _ptrs([RZN, h0, Y, m, acc, DX, ln_w, R, RS2, DS, DLNW], Y)
    dummy = args1[3]  # A's slot
    common = _flags(H, Y.dtype, LN=ln, MASK=m is not None)
    S = DS if ln else DX
    w_rz, w_n = w[: 2 * H], w[2 * H :]
    A = Y.new_zeros(0, H)
    for t in range(T - 1, -1, -1):
        n = ctx.sizes[t]
        if n == 0:
            continue
        a_rows = min(A.shape[0], n)
        args1[3] = A if a_rows else dummy
        K.grurb_bwd1[(n,)](*args1, t, B, a_rows, ZH_MODE=zhm, **common)
        dq = _gemm(S[t, :n, 2 * H :], w_n, lowp, Y.dtype)  # (n, H)
        K.grurb_bwd2[(n,)](dq, *args2, t, B, **common)
        A = _gemm(S[t, :n, : 2 * H], w_rz, lowp, Y.dtype)
    gh = acc
    gh[: A.shape[0]] += A if m is None else A * m[: A.shape[0]]
    d_lnw = None if DLNW is None else DLNW.sum(0).to(Y.dtype)
    return DX, DS, Q, gh, d_lnw
