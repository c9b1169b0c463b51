"""The LSTM loops of ``lstm.py`` with the pointwise step in native C (``csrc/lstm_pointwise.c``).

Same buffers and the same math as the pure-PyTorch loops; per step, forward is one addmm plus
one C call, backward one C call plus one mm. Used when the library loaded and the tensors are
float32/float64 on CPU; ``lstm.py`` falls back to its own loops otherwise.
"""

from __future__ import annotations

import ctypes

import torch
from torch import Tensor

from rnnkit.kernels.engine import native
from rnnkit.kernels.engine._common import final_rows, graph_kept, mask_at, projected_dh, zone
from rnnkit.kernels.engine._common import step_buffer as _buf
from rnnkit.kernels.torch_fused import StepGemm

__all__ = ["backward", "forward", "usable"]

_EPS = 1e-5
ZC, ZC_MASK, ZH, ZH_MASK, PEEP, LNC, PROJ, MASK, LNH, LNX, KEEP = (
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


def usable(xp: Tensor) -> bool:
    return (xp.device.type == "cpu" and xp.dtype in (torch.float32, torch.float64)
            and xp.stride(2) == 1 and native.lstm_lib() is not None)


def _arr(t: Tensor | None, per_step: bool = True) -> native.Arr:
    if t is None:
        return native.Arr(None, 0, 0)
    if t.dim() == 2:  # (B, S): the same rows at every step
        return native.Arr(t.data_ptr(), 0, t.stride(0))
    return native.Arr(t.data_ptr(), t.stride(0) if per_step and t.shape[0] > 1 else 0,
                      t.stride(1))


def _ptr(t: Tensor | None):
    return None if t is None else t.data_ptr()


def _fn(lib, kind: str, dtype):
    return getattr(lib, f"lstm_{kind}_{'f32' if dtype == torch.float32 else 'f64'}")


# Below this many multiply-adds per step (B · 4H · H) the whole sequence runs in one C call
# with the recurrent product done in C too: B=1 / small H, where a per-step GEMM call and the
# Python loop around it cost more than the arithmetic (B=1, H=128: ~12 -> ~3 µs per step).
SEQ_MACS = 1 << 18
# inference projects the input in time chunks of about this many bytes (they stay in cache)
CHUNK_BYTES = 1 << 21


def _seq(proj: bool, B: int, H: int) -> bool:
    return not proj and B * 4 * H * H <= SEQ_MACS


def _flags(w_ph, w_hr, lnc_w, m, zh, zc, ln_w=None) -> int:
    f = (PEEP if w_ph is not None else 0) | (LNC if lnc_w is not None else 0)
    f |= LNH if ln_w is not None else 0
    f |= (PROJ if w_hr is not None else 0) | (MASK if m is not None else 0)
    if zc is not None:
        f |= ZC | (ZC_MASK if isinstance(zc, Tensor) else 0)
    if zh is not None:
        f |= ZH | (ZH_MASK if isinstance(zh, Tensor) else 0)
    return f


def forward(ctx, xp, bias, h0, c0, w_hh, w_ph, w_hr, ln_w, lnc_w, lnc_b, m, zh, zc, sizes, lengths,
            keep, lnx_w=None, project=None, lowp=None, xin=None):
    """The native forward loop. ``project(t0, t1)`` instead of ``xp`` (inference only): the
    input projection of steps [t0, t1) as a contiguous (t1 - t0, B, 4H) tensor, made chunk by
    chunk so that no (T, B, 4H) tensor is allocated (and page-faulted) at all.

    ``xin = (x (T, B, I) time-major, W_ih)`` instead (inference, per-step GEMM path, no input
    LN): each step runs one GEMM ``[x_t | h_in] [W_ih | W_hh]ᵀ`` with K = I + P, which oneDNN
    runs faster than a K = P step GEMM plus the separate input projection (B=64 I=128 H=256:
    23.5 ms vs 16.2 + 9.9 ms for T=100).

    ``lnx_w`` (the input LN's gain) given: the projection was made with row-centred W_ih, and
    ``w_hh`` is row-centred where ``ln_w`` is given (``run_lstm`` does both, see
    ``_common.centred_rows``): the C step's row statistics skip the mean pass."""
    lib = native.lstm_lib()
    if xin is not None:
        X, (T, B, G4) = h0, (len(sizes), h0.shape[0], w_hh.shape[0])  # X: dtype/device only
    elif project is None:
        X = xp.transpose(0, 1)  # (T, B, 4H) view; the C step adds it (and bias) to h W_hhᵀ
        T, B, G4 = X.shape
    else:
        X, (T, B, G4) = h0, (len(sizes), h0.shape[0], w_hh.shape[0])  # X: dtype/device only
    H, P = G4 // 4, h0.shape[1]
    k = T if keep else 1
    proj, ln = w_hr is not None, ln_w is not None
    full = sizes[-1] == B
    G, TC = _buf(full or not keep, X, k, B, G4), X.new_empty(k, B, H)  # G: DG's buffer too
    # inference updates c in place: one (B, H) row instead of (T, B, H); with zoneout on c the
    # pre-zoneout c goes to a separate row (the lerp towards c_{t-1} reads the old row)
    c_inplace = not keep
    C, Y = _buf(full, X, 1 if c_inplace else T, B, H), _buf(full, X, T, B, P)
    HH = _buf(full, X, k, B, H) if proj else None
    sep_cn = zc is not None and (w_ph is not None or lnc_w is not None or c_inplace)
    CN = _buf(full, X, k, B, H) if sep_cn else None
    MU = X.new_zeros(k, B) if lnc_w is not None else None
    RS = X.new_zeros(k, B) if lnc_w is not None else None
    # LN over h W_hhᵀ runs in the C step; x-hat and rstd are kept for backward
    R = _buf(full, X, T, B, G4) if ln and keep else None  # backward may write DR over it
    RS4 = X.new_empty(T, B) if ln and keep else None
    h0, c0 = h0.contiguous(), c0.contiguous()
    zh_t = zh.contiguous() if isinstance(zh, Tensor) else None
    zc_t = zc.contiguous() if isinstance(zc, Tensor) else None
    m = None if m is None else m.contiguous()
    kc = native.LSTMCtx()
    kc.H, kc.eps = H, _EPS
    kc.flags = _flags(w_ph, w_hr, lnc_w, m, zh, zc, ln_w) | (KEEP if keep else 0)
    if project is None and xin is None:
        kc.x = native.Arr(xp.data_ptr(), xp.stride(1), xp.stride(0))
    bias = None if bias is None else bias.contiguous()
    kc.xb = _ptr(bias)
    kc.zcv = 0.0 if isinstance(zc, Tensor) or zc is None else float(zc)
    kc.zhv = 0.0 if isinstance(zh, Tensor) or zh is None else float(zh)
    kc.g, kc.c, kc.tc, kc.y = _arr(G), _arr(C), _arr(TC), _arr(Y)
    kc.cn = _arr(CN) if CN is not None else _arr(C)
    kc.out = _arr(HH) if proj else _arr(Y)
    kc.h0, kc.c0, kc.zc, kc.zh, kc.m = _arr(h0), _arr(c0), _arr(zc_t), _arr(zh_t), _arr(m)
    if MU is not None:
        kc.mu, kc.rs = (native.Arr(t.data_ptr(), t.stride(0) if keep else 0, 1) for t in (MU, RS))
    kc.peep, kc.lnw, kc.lnb = _ptr(w_ph), _ptr(lnc_w), _ptr(lnc_b)
    if ln:
        ln_w = ln_w.contiguous()
        kc.lnhw, kc.r = ln_w.data_ptr(), _arr(R)
        if RS4 is not None:
            kc.rs4 = native.Arr(RS4.data_ptr(), RS4.stride(0), 1)
    MX = SX = None
    if lnx_w is not None:  # LN over the input projection inside the step
        lnx_w = lnx_w.contiguous()
        kc.flags |= LNX  # run_lstm's contract: x and W_hh are row-centred (no mean pass)
        kc.lnxw = lnx_w.data_ptr()
        if keep:  # its mean and rstd per row, for backward
            MX, SX = X.new_empty(T, B), X.new_empty(T, B)
            kc.mx, kc.sx = (native.Arr(v.data_ptr(), v.stride(0), 1) for v in (MX, SX))
    step, pk = _fn(lib, "fwd", X.dtype), ctypes.byref(kc)
    steps = T  # the per-step loop's length: 0 when one C call ran the whole sequence
    chunk, c_end = max(1, CHUNK_BYTES // (B * G4 * X.element_size())), 0
    alive = []  # the projected chunk the C step reads
    if _seq(proj, B, H):
        if project is not None:
            alive[:] = [_set_x(kc, project, 0, T)]
        wc, hw = w_hh.contiguous(), X.new_empty(B, G4)  # no copy: W_hh is row-major already
        sz = torch.tensor(sizes, dtype=torch.int64)
        _fn(lib, "seq_fwd", X.dtype)(pk, T, sz.data_ptr(), wc.data_ptr(), hw.data_ptr())
        steps = 0
    # bf16 autocast: the recurrent GEMM in bf16 (oneDNN accumulates in fp32); state, gates and
    # every sum stay fp32
    AH = None  # the step GEMM's input h_in, written by the C step for the next step
    if xin is None:
        gemm = StepGemm(w_hh if lowp is None else w_hh.to(lowp), B, steps)
        if steps and not proj and lowp is None:
            # the C step writes h_t ⊙ m into AH (I = 0: no x part), so the loop makes no h view
            # and no masked copy per step
            AH = X.new_empty(B, P)
            kc.xa, kc.anext, kc.I, kc.nsteps = native.Arr(None, 0, 0), AH.data_ptr(), 0, T
    elif steps:  # one GEMM per step over [x_t | h_in]
        xt, I = xin[0], xin[0].shape[2]
        gemm = StepGemm(torch.cat([xin[1], w_hh], 1), B, steps)
        A = X.new_empty(B, I + P)  # [x_t | h_in], the step GEMM's input
        # the C step's x term: zero (the GEMM holds W_ih x_t); one row read by every row
        zx = X.new_zeros(G4)
        kc.x, kc.xt0 = native.Arr(zx.data_ptr(), 0, 0), 0
        xt = xt.to(X.dtype)
        if not proj:  # the C step writes [x_{t+1} | h_t ⊙ m] into A itself
            kc.xa, kc.anext = native.Arr(xt.data_ptr(), xt.stride(0), xt.stride(1)), A.data_ptr()
            kc.I, kc.nsteps = I, T
    for t in range(steps):
        n = sizes[t]
        if n == 0:
            break
        if project is not None and t >= c_end:
            c_end = min(T, t + chunk)
            alive[:] = [_set_x(kc, project, t, c_end)]
        j = t if keep else 0
        if AH is not None:  # h_{t-1} ⊙ m is in AH already after step 0
            if t == 0:
                torch.mul(h0[:n], m[:n], out=AH[:n]) if m is not None else AH[:n].copy_(h0[:n])
            hw = gemm(AH if n == B else AH[:n])
            step(pk, t, n, hw.data_ptr())
            continue
        # the previous h as a view only where Python reads it (views cost ~1 µs a step)
        hp = (h0[:n] if t == 0 else Y[t - 1, :n]) if xin is None or t == 0 or proj else None
        if xin is not None:
            if t == 0 or proj:
                A[:n, :I].copy_(xt[t, :n])
                torch.mul(hp, m[:n], out=A[:n, I:]) if m is not None else A[:n, I:].copy_(hp)
            # bound: a temporary's memory would be freed before the call
            hw = gemm(A if n == B else A[:n])
        else:
            hin = hp if m is None else hp * m[:n]
            hw = gemm(hin) if lowp is None else gemm(hin.to(lowp)).float()
        step(pk, t, n, hw.data_ptr())
        if proj:
            torch.mm(HH[j, :n], w_hr.t(), out=Y[t, :n])
            if zh is not None:
                zone(Y[t, :n], hp, mask_at(zh, t, n), out=Y[t, :n])
    if keep:
        ctx.save_for_backward(h0, c0, w_hh, w_ph, w_hr, ln_w, lnc_w, lnc_b, m, Y)
        ctx.bufs = (G, C, TC, HH, CN, R, RS4, (MU, RS),
                    (None if lnx_w is None else xp, lnx_w, MX, SX))  # LNX: the raw x again
        ctx.zoneout, ctx.kc = (zh, zc), kc
        ctx.keepalive = (zh_t, zc_t, bias, ln_w)
    return Y, final_rows(Y, lengths), C[0].clone() if c_inplace else final_rows(C, lengths)


def _set_x(kc, project, t0: int, t1: int) -> Tensor:
    """Project steps [t0, t1) and point the C step's x at them; returns the chunk."""
    xc = project(t0, t1)
    kc.x, kc.xt0 = native.Arr(xc.data_ptr(), xc.stride(0), xc.stride(1)), t0
    return xc


def backward(ctx, dY, dhn, dcn):
    lib = native.lstm_lib()
    h0, _, w_hh, w_ph, w_hr, ln_w, lnc_w, _, m, Y = ctx.saved_tensors
    G, R, lnx_w = ctx.bufs[0], ctx.bufs[5], ctx.bufs[8][1]  # gates, LN x-hat, input LN gain
    zh, _ = ctx.zoneout
    T, B, G4 = G.shape
    H, P = G4 // 4, h0.shape[1]
    proj, ln = w_hr is not None, ln_w is not None
    full, need = ctx.sizes[-1] == B, ctx.needs_input_grad
    acc = dhn.clone().contiguous() if dhn is not None else G.new_zeros(B, P)
    gc = dcn.clone().contiguous() if dcn is not None else G.new_zeros(B, H)
    dY = dY.contiguous() if dY is not None else Y.new_zeros(Y.shape)
    # without retain_graph the gradients overwrite the gates and the LN's x-hat: step t's
    # backward is the last reader of both (the C step reads each element before writing it)
    alias = not graph_kept()
    DHH = G.new_empty(B, H)
    DG = G if alias else _buf(full, G, T, B, G4)
    DR = (R if alias else _buf(full, G, T, B, G4)) if ln else None
    DHP = _buf(full, G, T, B, P) if proj else None
    d_lncw = G.new_zeros(H) if lnc_w is not None else None
    d_lncb = G.new_zeros(H) if lnc_w is not None else None
    d_lnw = G.new_zeros(G4) if ln else None
    d_ph = G.new_zeros(3, H) if w_ph is not None and need[5] else None
    d_b = G.new_zeros(G4) if ctx.has_bias and need[1] else None
    kc = ctx.kc
    kc.acc, kc.dy, kc.dg = _arr(acc), _arr(dY), _arr(DG)
    kc.gc, kc.dhh, kc.dlnw, kc.dlnb = _arr(gc), _arr(DHH), _ptr(d_lncw), _ptr(d_lncb)
    kc.dpeep, kc.dbias = _ptr(d_ph), _ptr(d_b)
    if ln:
        kc.dr, kc.dlnhw = _arr(DR), d_lnw.data_ptr()
    d_lnxw = None if lnx_w is None else G.new_zeros(G4)
    kc.dlnxw = _ptr(d_lnxw)
    step, pk = _fn(lib, "bwd", G.dtype), ctypes.byref(kc)
    src_all = DR if ln else DG
    A = G.new_zeros(0, P)  # d h_in of the step after (its running rows)
    steps = T
    if _seq(proj, B, H):
        w, buf = w_hh.contiguous(), G.new_zeros(B, H)
        sz = torch.tensor(ctx.sizes, dtype=torch.int64)
        rows = _fn(lib, "seq_bwd", G.dtype)(pk, T, sz.data_ptr(), w.data_ptr(), buf.data_ptr())
        A, steps = buf[:rows], 0
    lowp = getattr(ctx, "lowp", None)
    gemm = StepGemm((w_hh if lowp is None else w_hh.to(lowp)).t().contiguous(), B, steps)
    for t in range(steps - 1, -1, -1):
        n = ctx.sizes[t]
        if n == 0:
            continue
        a_rows = min(A.shape[0], n)
        if proj:
            projected_dh(t, n, a_rows, A, acc, dY, m, zh, w_hr, DHP, DHH)
        step(pk, t, n, A.data_ptr() if a_rows else None, a_rows)
        A = gemm(src_all[t, :n]) if lowp is None else gemm(src_all[t, :n].to(lowp)).float()
    gh = acc
    gh[: A.shape[0]] += A if m is None else A * m[: A.shape[0]]
    return DG, DR, DHP, gh, gc, d_lnw, d_lncw, d_lncb, (d_ph, d_b), d_lnxw
