"""The LSTM loops of ``lstm.py`` with the pointwise step in Triton (``triton_steps/lstm_step.py``).

Per step, forward is one GEMM (cuBLAS) plus one Triton launch, backward one launch plus one
GEMM, where the pure-PyTorch loop launches a dozen small kernels. Same buffers and results as
the native C loop (``lstm_native.py``) returns to ``FusedLSTM``; used for CUDA tensors when
triton imports (``triton_steps.step_usable``).

Mixed precision (``lowp``: CUDA autocast to fp16 / bf16 with fp32 tensors): the recurrent
GEMMs and the weight-gradient GEMMs run in ``lowp``; the step writes the next GEMM input
``h ⊙ m`` in ``lowp`` itself, and state, gates and every sum stay fp32.
"""

from __future__ import annotations

import torch

from rnnkit.kernels.engine._common import final_rows, graph_kept, mask_at, projected_dh, zone
from rnnkit.kernels.engine._common import step_buffer as _buf
from rnnkit.kernels.triton_steps import launch_flags as _flags
from rnnkit.kernels.triton_steps import pointer_args as _ptrs
from rnnkit.kernels.triton_steps import zoneout_arg as _zmode

__all__ = ["backward", "forward"]

_EPS = 1e-5


def _k():
    from rnnkit.kernels.triton_steps import lstm_step

    return lstm_step


def forward(ctx, xp, bias, h0, c0, w_hh, w_ph, w_hr, ln_w, lnc_w, lnc_b, m, zh, zc, sizes,
            lengths, keep, lnx_w=None, lowp=None):
    """The Triton forward loop; arguments as ``lstm_native.forward``. Unlike the native loop,
    C keeps every step (T, B, H) in inference too (no in-place c row): simpler, and memory is
    not what a GPU inference call runs short of."""
    K = _k()
    X = xp.transpose(0, 1).contiguous()  # (T, B, 4H) time-major: the projection is already
    T, B, G4 = X.shape
    H, P = G4 // 4, h0.shape[1]
    k = T if keep else 1
    proj, ln, lnc = w_hr is not None, ln_w is not None, lnc_w is not None
    full = sizes[-1] == B
    G, TC = _buf(full or not keep, X, k, B, G4), X.new_empty(k, B, H)
    C, Y = _buf(full, X, T, B, H), _buf(full, X, T, B, P)
    HH = _buf(full, X, k, B, H) if proj else None
    zcm, zct = _zmode(zc, X)
    zhm, zht = _zmode(zh, X)
    CN = _buf(full, X, k, B, H) if zcm else C
    MU = X.new_zeros(k, B) if lnc else None
    RS = X.new_zeros(k, B) if lnc else None
    R = _buf(full, X, T, B, G4) if ln and keep else None
    RS4 = X.new_zeros(T, B) if ln and keep else None
    MX = X.new_zeros(T, B) if lnx_w is not None and keep else None
    SX = X.new_zeros(T, B) if lnx_w is not None and keep else None
    h0, c0 = h0.contiguous(), c0.contiguous()
    m = None if m is None else m.contiguous()
    bias = None if bias is None else bias.contiguous()
    wg = (w_hh if lowp is None else w_hh.to(lowp)).t()  # (P, 4H) view: cuBLAS takes it as is
    # the next GEMM's input (a copy: the step writes it, and h0 is saved for backward)
    AH = (h0 if m is None else h0 * m).to(wg.dtype, memory_format=torch.contiguous_format,
                                          copy=True)
    args = [bias, c0, h0, C, CN, G, TC, HH, Y, AH, m, w_ph, ln_w, lnx_w, lnc_w, lnc_b, zct,
            zht, R, RS4, MX, SX, MU, RS]
    args = _ptrs(args, X)
    flags = _flags(H, X.dtype, KEEP=keep,
                   HAS_PEEP=w_ph is not None, LNH=ln, LNX=lnx_w is not None, LNC=lnc,
                   HAS_BIAS=bias is not None, ZC_MODE=zcm, ZH_MODE=zhm, PROJ=proj,
                   MASK=m is not None)
    whr_t = None if w_hr is None else w_hr.t()
    for t in range(T):
        n = sizes[t]
        if n == 0:
            break
        hw = torch.mm(AH if n == B else AH[:n], wg)  # (n, 4H)
        K.lstm_fwd[(n,)](hw, X, *args, t, B, _EPS, **flags)
        if proj:
            j = t if keep else 0
            torch.mm(HH[j, :n], whr_t, out=Y[t, :n])
            if zh is not None:
                hp = h0[:n] if t == 0 else Y[t - 1, :n]
                zone(Y[t, :n], hp, mask_at(zh, t, n), out=Y[t, :n])
            h_in = Y[t, :n] if m is None else Y[t, :n] * m[:n]
            AH[:n].copy_(h_in)
    if keep:
        ctx.save_for_backward(h0, c0, w_hh, w_ph, w_hr, ln_w, lnc_w, lnc_b, m, Y)
        ctx.bufs = (G, C, TC, HH, CN if zcm else None, R, RS4, (MU, RS),
                    (X if lnx_w is not None else None, lnx_w, MX, SX))
        ctx.zoneout = (zh, zc)
        ctx.tri = (zcm, zct, zhm, zht, bias is not None)
    return Y, final_rows(Y, lengths), final_rows(C, lengths)


def backward(ctx, dY, dhn, dcn):
    """The Triton backward loop; returns what ``lstm_native.backward`` returns."""
    K = _k()
    h0, c0, w_hh, w_ph, w_hr, ln_w, lnc_w, _, m, Y = ctx.saved_tensors
    G, C, TC, _, CN, R, RS4, (MU, RS), (X, lnx_w, MX, SX) = ctx.bufs
    zcm, zct, zhm, zht, has_bias = ctx.tri
    zh, _ = ctx.zoneout
    T, B, G4 = G.shape
    H, P = G4 // 4, h0.shape[1]
    proj, ln, lnc = w_hr is not None, ln_w is not None, lnc_w is not None
    full, need = ctx.sizes[-1] == B, ctx.needs_input_grad
    f32 = G.dtype
    acc = dhn.to(f32).contiguous().clone() if dhn is not None else G.new_zeros(B, P)
    gc = dcn.to(f32).contiguous().clone() if dcn is not None else G.new_zeros(B, H)
    dY = dY.contiguous() if dY is not None else Y.new_zeros(Y.shape)
    alias = not graph_kept()  # gradients over the forward buffers only this step reads
    DG = G if alias else _buf(full, G, T, B, G4)
    DR = (R if alias else _buf(full, G, T, B, G4)) if ln else None
    DHP = _buf(full, G, T, B, P) if proj else None
    DHH = G.new_zeros(B, H) if proj else None
    rows = {name: G.new_zeros(B, width) if on else None for name, width, on in (
        ("peep", 3 * H, w_ph is not None and need[5]), ("bias", G4, has_bias and need[1]),
        ("lnh", G4, ln), ("lnx", G4, lnx_w is not None), ("lncw", H, lnc), ("lncb", H, lnc))}
    args = [G, DG, TC, c0, C, CN, None, acc, dY, gc, DHH, m, w_ph, ln_w, lnx_w, lnc_w,
            zct, zht, X, R, DR, RS4, MX, SX, MU, RS, *rows.values()]
    args = _ptrs(args, G)
    dummy = args[6]  # A's slot: the step after's GEMM output, none at the last step
    flags = _flags(H, G.dtype, HAS_PEEP=w_ph is not None,
                   PEEP_SUM=rows["peep"] is not None, BIAS_SUM=rows["bias"] is not None,
                   LNH=ln, LNX=lnx_w is not None, LNC=lnc, ZC_MODE=zcm, ZH_MODE=zhm, PROJ=proj,
                   MASK=m is not None)
    lowp = getattr(ctx, "lowp", None)
    w = w_hh if lowp is None else w_hh.to(lowp)  # d h_in = src W_hh
    src_all = DR if ln else DG
    A = G.new_zeros(0, P)
    for t in range(T - 1, -1, -1):
        n = ctx.sizes[t]
        if n == 0:
            continue
        a_rows = min(A.shape[0], n)
        if proj:  # dh through the projection and zoneout on h, in torch
            projected_dh(t, n, a_rows, A, acc, dY, m, zh, w_hr, DHP, DHH)
        args[6] = A if a_rows else dummy
        K.lstm_bwd[(n,)](*args, t, B, a_rows, **flags)
        src = src_all[t, :n]
        A = torch.mm(src if lowp is None else src.to(lowp), w).to(f32)
    gh = acc
    gh[: A.shape[0]] += A if m is None else A * m[: A.shape[0]]
    sums = tuple(None if v is None else v.sum(0) for v in rows.values())
    d_ph = None if sums[0] is None else sums[0].view(3, H)
    return DG, DR, DHP, gh, gc, sums[2], sums[4], sums[5], (d_ph, sums[1]), sums[3]
