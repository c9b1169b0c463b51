"""The GRU loops of ``gru.py`` in native C (``csrc/gru_pointwise.c``).

Reset-after: per step one GEMM (plus layer norm when on) and one C call, forward and backward;
small problems (B·3H·H <= SEQ_MACS, no layer norm) run the whole sequence in one C call.
Reset-before: only the small-problem whole-sequence loops (``rb_forward`` / ``rb_backward``;
its two dependent GEMMs per step leave nothing to fuse for large ones, where ``gru.py``'s
torch loop runs). ``gru.py`` falls back to its own loops where this does not apply."""

from __future__ import annotations

import ctypes

import torch
from torch import Tensor

from rnnkit.kernels.engine import native
from rnnkit.kernels.engine._common import final_rows, graph_kept
from rnnkit.kernels.engine.lstm_native import _arr, usable
from rnnkit.kernels.torch_fused import StepGemm

__all__ = ["backward", "forward", "rb_backward", "rb_forward", "rb_usable", "usable"]

_EPS = 1e-5
_aten = torch.ops.aten
ZH, ZH_MASK, MASK, G_LN, G_LNX = 4, 8, 128, 256, 512


def _ptr(t: Tensor | None):
    return None if t is None else t.data_ptr()


def _fn(kind: str, dtype):
    name = "grurb_" + kind[3:] if kind.startswith("rb_") else "gru_" + kind
    return getattr(native.lstm_lib(), f"{name}_{'f32' if dtype == torch.float32 else 'f64'}")


# Below this many multiply-adds per step (B · 3H · H) the whole sequence runs in one C call
# with the recurrent product in C too (see lstm_native.SEQ_MACS); not with layer norm.
SEQ_MACS = 1 << 18


def _seq(ln_w, B: int, H: int) -> bool:
    return ln_w is None and B * 3 * H * H <= SEQ_MACS


def rb_usable(xp: Tensor, ln_w) -> bool:
    """Whether the reset-before GRU runs natively: a small problem without layer norm."""
    B, _, G3 = xp.shape
    return usable(xp) and _seq(ln_w, B, G3 // 3)


def _ctx(xp, h0, m, zh):
    """The C context with the inputs every GRU loop reads; returns (ctx, zh tensor or None)."""
    kc = native.GRUCtx()
    kc.H = xp.shape[2] // 3
    zh_t = zh.contiguous() if isinstance(zh, Tensor) else None
    kc.flags = (MASK if m is not None else 0) | (0 if zh is None else ZH | (
        ZH_MASK if zh_t is not None else 0))
    kc.zhv = float(zh) if zh is not None and zh_t is None else 0.0
    kc.x = native.Arr(xp.data_ptr(), xp.stride(1), xp.stride(0))
    kc.h0, kc.zh, kc.m = _arr(h0), _arr(zh_t), _arr(m)
    return kc, zh_t


def rb_forward(ctx, xp, hb, h0, w_hh, m, zh, sizes, lengths, keep):
    """Reset-before GRU over the whole sequence in one C call: ``(Y (T, B, H), h_n)``."""
    T, B, G3 = xp.shape[1], xp.shape[0], xp.shape[2]
    H, k = G3 // 3, (T if keep else 1)
    h0 = h0.contiguous()
    m = None if m is None else m.contiguous()
    RZ, N, Y = xp.new_empty(k, B, 2 * H), xp.new_empty(k, B, H), xp.new_zeros(T, B, H)
    kc, zh_t = _ctx(xp, h0, m, zh)
    kc.rz, kc.nn, kc.y = _arr(RZ), _arr(N), _arr(Y)
    w, hbc = w_hh.contiguous(), None if hb is None else hb.contiguous()
    sz, scratch = torch.tensor(sizes, dtype=torch.int64), xp.new_empty(4 * H)
    _fn("rb_seq_fwd", xp.dtype)(ctypes.byref(kc), T, sz.data_ptr(), w.data_ptr(),
                                None if hbc is None else hbc.data_ptr(), scratch.data_ptr())
    if keep:
        ctx.save_for_backward(h0, w_hh, hb, None, m, Y, RZ, N)
        ctx.gn = (kc, zh_t, xp)
    return Y, final_rows(Y, lengths)


def rb_backward(ctx, dY, dhn):
    """``(DX (T, B, 3H), Q (T, B, H), ∂L/∂h0)`` of ``rb_forward``; DX is also the gradient of
    the recurrent GEMM outputs (no layer norm), Q = r ⊙ h_in for dW_n."""
    _, w_hh, _, _, _, Y, _, _ = ctx.saved_tensors
    kc, _, _ = ctx.gn  # the tensors in ctx.gn stay alive: the C loop reads them
    T, B, H = Y.shape
    acc = dhn.clone().contiguous() if dhn is not None else Y.new_zeros(B, H)
    dY = dY.contiguous() if dY is not None else Y.new_zeros(Y.shape)
    DX, Q = Y.new_zeros(T, B, 3 * H), Y.new_zeros(T, B, H)
    kc.acc, kc.dy, kc.dx, kc.an = _arr(acc), _arr(dY), _arr(DX), _arr(Q)
    # every buffer the C loop reads is bound to a name: a temporary's memory would be freed
    # before the call
    sz, w = torch.tensor(ctx.sizes, dtype=torch.int64), w_hh.contiguous()
    scratch = Y.new_empty(4 * H)
    _fn("rb_seq_bwd", Y.dtype)(ctypes.byref(kc), T, sz.data_ptr(), w.data_ptr(),
                               scratch.data_ptr())
    return DX, Q, acc


def forward(ctx, xp, hb, h0, w_hh, ln_w, m, zh, sizes, lengths, keep, lnx_w=None, lnx_b=None,
            lowp=None):
    """Reset-after loop; ``lnx_w``: xp is the raw input projection, normalised in the step
    (gain lnx_w, bias lnx_b), and backward's DX is the gradient of the raw projection.
    ``lowp`` (CPU bf16 autocast): the per-step GEMMs in bf16, state and pointwise math fp32."""
    X = xp.transpose(0, 1)
    T, B, G3 = X.shape
    H, k = G3 // 3, (T if keep else 1)
    # r, z and n of a step side by side in one (k, B, 3H) buffer: a one-shot backward writes
    # DX = [d r, d z, d n] over it (zeros where a ragged batch's rows do not run)
    RZN = X.new_empty(k, B, G3) if sizes[-1] == B or not keep else X.new_zeros(k, B, G3)
    RZ, N, AN = RZN[..., : 2 * H], RZN[..., 2 * H :], X.new_empty(k, B, H)
    Y = X.new_zeros(T, B, H)
    h0 = h0.contiguous()
    m = None if m is None else m.contiguous()
    kc, zh_t = _ctx(xp, h0, m, zh)
    kc.rz, kc.nn, kc.an, kc.y = _arr(RZ), _arr(N), _arr(AN), _arr(Y)
    ln = ln_w is not None
    R = RS3 = None
    if ln:  # the C step normalises h_in W_hhᵀ; training keeps its x-hat and rstd
        ln_w = ln_w.contiguous()
        hb = None if hb is None else hb.contiguous()
        kc.flags |= G_LN
        kc.lnw, kc.lnb, kc.eps = ln_w.data_ptr(), None if hb is None else hb.data_ptr(), _EPS
        if keep:  # DS is written over R in a one-shot backward: zeros in rows that never run
            R = X.new_empty(T, B, G3) if sizes[-1] == B else X.new_zeros(T, B, G3)
            RS3 = X.new_empty(T, B)
            kc.r, kc.rs3 = _arr(R), native.Arr(RS3.data_ptr(), RS3.stride(0), 1)
    MX = SX = None
    if lnx_w is not None:
        lnx_w = lnx_w.contiguous()
        lnx_b = None if lnx_b is None else lnx_b.contiguous()
        kc.flags |= G_LNX
        kc.lnxw, kc.lnxb, kc.eps = lnx_w.data_ptr(), _ptr(lnx_b), _EPS
        if keep:
            MX, SX = X.new_empty(T, B), X.new_empty(T, B)
            kc.mx, kc.sx = (native.Arr(v.data_ptr(), v.stride(0), 1) for v in (MX, SX))
    step, pk = _fn("fwd", X.dtype), ctypes.byref(kc)
    steps = T  # 0 when one C call ran the whole sequence
    if _seq(ln_w, B, H):
        wt, hw = w_hh.contiguous(), X.new_empty(B, G3)  # W_hh row-major: no copy
        hbc = None if hb is None else hb.contiguous()
        sz = torch.tensor(sizes, dtype=torch.int64)
        _fn("seq_fwd", X.dtype)(pk, T, sz.data_ptr(), wt.data_ptr(),
                                None if hbc is None else hbc.data_ptr(), hw.data_ptr())
        steps = 0
    gemm = StepGemm(w_hh if lowp is None else w_hh.to(lowp), B, steps)
    for t in range(steps):
        n = sizes[t]
        if n == 0:
            break
        hp = h0[:n] if t == 0 else Y[t - 1, :n]
        hin = hp if m is None else hp * m[:n]
        if lowp is not None:  # bf16 product; + the fp32 bias promotes it back in one pass
            raw = gemm(hin.to(lowp))
            hw = raw.float() if ln or hb is None else torch.add(raw, hb)
        else:
            hw = gemm(hin) if ln or hb is None else gemm(hin, hb)
        step(pk, t, n, hw.data_ptr())
    if keep:
        ctx.save_for_backward(h0, w_hh, hb, ln_w, m, Y, RZ, N)
        ctx.gn = (AN, kc, zh_t, RZN, R, RS3, (None if lnx_w is None else xp, lnx_w, lnx_b,
                                              MX, SX))
    return Y, final_rows(Y, lengths)


def backward(ctx, dY, dhn):
    _, w_hh, hb, ln_w, m, Y, _, _ = ctx.saved_tensors
    _, kc, _, RZN, R, _, lnx = ctx.gn  # the tensors in ctx.gn stay alive: the C step reads them
    T, B, H = Y.shape
    acc = dhn.clone().contiguous() if dhn is not None else Y.new_zeros(B, H)
    dY = dY.contiguous() if dY is not None else Y.new_zeros(Y.shape)
    # with layer norm, DA (the gradient of the LN output) is consumed by the same step's LN
    # backward in C, which also sums its bias part: one (B, 3H) block reused every step, and
    # only its sum (d b_hh) is returned instead of a (T, B, 3H) buffer
    ln = ln_w is not None
    # without retain_graph DX overwrites [r, z, n] and DS the x-hat: step t's backward is
    # their last reader (the C step reads each element before writing it)
    alias = not graph_kept()
    DX = RZN if alias else Y.new_zeros(T, B, 3 * H)
    DA = Y.new_zeros(1 if ln else T, B, 3 * H)
    DS = (R if alias else Y.new_zeros(T, B, 3 * H)) if ln else None
    d_lnw = Y.new_zeros(3 * H) if ln else None
    d_hb = Y.new_zeros(3 * H) if ln and hb is not None else None
    kc.acc, kc.dy, kc.dx, kc.da = _arr(acc), _arr(dY), _arr(DX), _arr(DA)
    if ln:
        kc.ds, kc.dlnw, kc.dlnb = _arr(DS), d_lnw.data_ptr(), _ptr(d_hb)
    d_lnx = None
    if lnx[1] is not None:  # d lnx_w, d lnx_b, summed in the step
        d_lnx = (Y.new_zeros(3 * H), None if lnx[2] is None else Y.new_zeros(3 * H))
        kc.dlnxw, kc.dlnxb = _ptr(d_lnx[0]), _ptr(d_lnx[1])
    step, pk = _fn("bwd", Y.dtype), ctypes.byref(kc)
    A = Y.new_zeros(0, H)
    steps = T
    if _seq(ln_w, B, H):
        w, buf = w_hh.contiguous(), Y.new_zeros(B, H)
        sz = torch.tensor(ctx.sizes, dtype=torch.int64)
        rows = _fn("seq_bwd", Y.dtype)(pk, T, sz.data_ptr(), w.data_ptr(), buf.data_ptr())
        A, steps = buf[:rows], 0
    lowp = ctx.lowp
    gemm = StepGemm((w_hh if lowp is None else w_hh.to(lowp)).t().contiguous(), B, steps)
    src_all = DS if ln else DA
    for t in range(steps - 1, -1, -1):
        n = ctx.sizes[t]
        if n == 0:
            continue
        a_rows = min(A.shape[0], n)
        step(pk, t, n, A.data_ptr() if a_rows else None, a_rows)
        A = gemm(src_all[t, :n]) if lowp is None else gemm(src_all[t, :n].to(lowp)).float()
    gh = acc
    gh[: A.shape[0]] += A if m is None else A * m[: A.shape[0]]
    return DX, (d_hb if ln else DA), DS, gh, d_lnw, d_lnx

