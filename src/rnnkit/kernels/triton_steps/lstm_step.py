"""Triton LSTM step, forward and backward: one program per running row of one time step.

Forward, row r of step t (gate blocks q = i, f, g, o of width H, lanes j < H)::

    a_q = LN_hh(hw)_q [· lnhw_q]  or hw_q          hw = h_in W_hhᵀ of this step (its GEMM)
        + LN_ih(x)_q · lnxw_q     or x_q           x: the step's input projection row
        + xb_q                                     every bias folded into one row
    i, f = σ(a_i + p_i c_{t-1}), σ(a_f + p_f c_{t-1});  g = tanh(a_g)
    c = f c_{t-1} + i g;  o = σ(a_o + p_o c);  h = o tanh(LN_c(c))
    zoneout: c_t = c + z_c (c_{t-1} - c), h_t = h + z_h (h_{t-1} - h)

and the next step's GEMM input ``h_t ⊙ m`` is written too (no projection). Backward mirrors
it from dh (the h-zoneout share goes to the carried ``acc``, the c-zoneout share to the carried
dc) down to the four gate gradients, through LN_hh into d(hw) for the recurrent GEMM and
through LN_ih into d(x). Gradient sums over rows (peepholes, bias, LN gains) accumulate per
row into (B, ·) buffers (each program owns its row: no atomics, deterministic); the caller
sums them over B once after the loop.

Buffer layout (all contiguous, time-major): per-step buffers (slots, B, width) with slot t
(``KEEP``: training keeps every step) or 0 (inference keeps one); per-row scalars (slots, B).
Same buffers and meaning as the native C step (``csrc/lstm_pointwise.c``).
"""

from __future__ import annotations

import triton
import triton.language as tl

from rnnkit.kernels.triton_steps.common import add as _add
from rnnkit.kernels.triton_steps.common import ld as _ld
from rnnkit.kernels.triton_steps.common import ln_bwd, sigmoid, tanh

__all__ = ["lstm_bwd", "lstm_fwd"]


@triton.jit
def _sum4(a, b, c, d):
    return tl.sum(a, axis=0) + tl.sum(b, axis=0) + tl.sum(c, axis=0) + tl.sum(d, axis=0)


@triton.jit
def _norm4(a, b, c, d, mk, n, eps):
    """The x-hats of the row [a | b | c | d] (n valid lanes; padded lanes 0 in and out), its
    mean and its rstd."""
    mu = _sum4(a, b, c, d) / n
    a = tl.where(mk, a - mu, 0.0)
    b = tl.where(mk, b - mu, 0.0)
    c = tl.where(mk, c - mu, 0.0)
    d = tl.where(mk, d - mu, 0.0)
    rs = 1.0 / tl.sqrt(_sum4(a * a, b * b, c * c, d * d) / n + eps)
    return a * rs, b * rs, c * rs, d * rs, mu, rs


@triton.jit
def _ln_bwd4(d0, d1, d2, d3, x0, x1, x2, x3, rs, W, DW, base, j, mk, H: tl.constexpr,
             ACC: tl.constexpr):
    """Backward of a gained layer norm over the four gate blocks of one row: given d of its
    output (d_q) and its x-hat (x_q, 0 on padded lanes), adds d_q ⊙ x_q to the row's gain
    sums DW[base + ·] and returns d of its input, rs (e - mean(e) - x mean(e x)), e = d ⊙ W."""
    _add(DW, base + j, d0 * x0, mk, ACC)
    _add(DW, base + H + j, d1 * x1, mk, ACC)
    _add(DW, base + 2 * H + j, d2 * x2, mk, ACC)
    _add(DW, base + 3 * H + j, d3 * x3, mk, ACC)
    e0 = d0 * _ld(W, j, mk, ACC)
    e1 = d1 * _ld(W, H + j, mk, ACC)
    e2 = d2 * _ld(W, 2 * H + j, mk, ACC)
    e3 = d3 * _ld(W, 3 * H + j, mk, ACC)
    m1 = _sum4(e0, e1, e2, e3) / (4 * H)
    m2 = _sum4(e0 * x0, e1 * x1, e2 * x2, e3 * x3) / (4 * H)
    return (rs * (e0 - m1 - x0 * m2), rs * (e1 - m1 - x1 * m2), rs * (e2 - m1 - x2 * m2),
            rs * (e3 - m1 - x3 * m2))


@triton.jit(do_not_specialize=["t", "B"])
def lstm_fwd(HW, X, XB, C0, H0, C, CN, G, TC, OUT, Y, AH, M, PEEP, LNHW, LNXW, LNCW, LNCB,
             ZC, ZH, R, RS4, MX, SX, MU, RS,
             t, B, eps,
             H: tl.constexpr, BLOCK: tl.constexpr, ACC: tl.constexpr, KEEP: tl.constexpr,
             HAS_PEEP: tl.constexpr, LNH: tl.constexpr, LNX: tl.constexpr,
             LNC: tl.constexpr, HAS_BIAS: tl.constexpr, ZC_MODE: tl.constexpr,
             ZH_MODE: tl.constexpr, PROJ: tl.constexpr, MASK: tl.constexpr):
    """ZC_MODE / ZH_MODE: 0 none, 1 a (T, B, H) uint8 mask, 2 a constant (a 1-element tensor).
    PROJ: h goes to OUT (the caller projects it, applies zoneout on h, and writes AH);
    otherwise h goes to Y (after zoneout) and ``h ⊙ m`` to AH. C has T slots; CN (the
    pre-zoneout c, read by backward) is C itself without zoneout on c."""
    r = tl.program_id(0).to(tl.int64)
    t64 = t.to(tl.int64)
    j = tl.arange(0, BLOCK)
    mk = j < H
    slot = t64 if KEEP else 0
    row = t64 * B + r          # (T, B, ·) buffers
    srow = slot * B + r        # (slots, B, ·) buffers
    G4 = 4 * H
    w0 = _ld(HW, r * G4 + j, mk, ACC)
    w1 = _ld(HW, r * G4 + H + j, mk, ACC)
    w2 = _ld(HW, r * G4 + 2 * H + j, mk, ACC)
    w3 = _ld(HW, r * G4 + 3 * H + j, mk, ACC)
    if LNH:
        w0, w1, w2, w3, _, rsw = _norm4(w0, w1, w2, w3, mk, G4, eps)
        if KEEP:  # the x-hat and rstd for backward
            tl.store(R + row * G4 + j, w0, mask=mk)
            tl.store(R + row * G4 + H + j, w1, mask=mk)
            tl.store(R + row * G4 + 2 * H + j, w2, mask=mk)
            tl.store(R + row * G4 + 3 * H + j, w3, mask=mk)
            tl.store(RS4 + row, rsw)
        w0 = w0 * _ld(LNHW, j, mk, ACC)
        w1 = w1 * _ld(LNHW, H + j, mk, ACC)
        w2 = w2 * _ld(LNHW, 2 * H + j, mk, ACC)
        w3 = w3 * _ld(LNHW, 3 * H + j, mk, ACC)
    x0 = _ld(X, row * G4 + j, mk, ACC)
    x1 = _ld(X, row * G4 + H + j, mk, ACC)
    x2 = _ld(X, row * G4 + 2 * H + j, mk, ACC)
    x3 = _ld(X, row * G4 + 3 * H + j, mk, ACC)
    if LNX:
        x0, x1, x2, x3, mux, rsx = _norm4(x0, x1, x2, x3, mk, G4, eps)
        if KEEP:
            tl.store(MX + row, mux)
            tl.store(SX + row, rsx)
        x0 = x0 * _ld(LNXW, j, mk, ACC)
        x1 = x1 * _ld(LNXW, H + j, mk, ACC)
        x2 = x2 * _ld(LNXW, 2 * H + j, mk, ACC)
        x3 = x3 * _ld(LNXW, 3 * H + j, mk, ACC)
    a0, a1, a2, a3 = w0 + x0, w1 + x1, w2 + x2, w3 + x3
    if HAS_BIAS:
        a0 += _ld(XB, j, mk, ACC)
        a1 += _ld(XB, H + j, mk, ACC)
        a2 += _ld(XB, 2 * H + j, mk, ACC)
        a3 += _ld(XB, 3 * H + j, mk, ACC)
    if t == 0:
        cp = _ld(C0, r * H + j, mk, ACC)
    else:
        cp = _ld(C, (row - B) * H + j, mk, ACC)
    if HAS_PEEP:
        a0 += _ld(PEEP, j, mk, ACC) * cp
        a1 += _ld(PEEP, H + j, mk, ACC) * cp
    gi = sigmoid(a0)
    gf = sigmoid(a1)
    gg = tanh(a2)
    c = gf * cp + gi * gg
    if HAS_PEEP:
        a3 += _ld(PEEP, 2 * H + j, mk, ACC) * c
    go = sigmoid(a3)
    tin = c
    if LNC:
        cm = tl.sum(tl.where(mk, c, 0.0), axis=0) / H
        cd = tl.where(mk, c - cm, 0.0)
        crs = 1.0 / tl.sqrt(tl.sum(cd * cd, axis=0) / H + eps)
        tl.store(MU + srow, cm)
        tl.store(RS + srow, crs)
        tin = cd * crs * _ld(LNCW, j, mk, ACC) + _ld(LNCB, j, mk, ACC)
    tc = tanh(tin)
    h = go * tc
    if KEEP:
        tl.store(G + srow * G4 + j, gi, mask=mk)
        tl.store(G + srow * G4 + H + j, gf, mask=mk)
        tl.store(G + srow * G4 + 2 * H + j, gg, mask=mk)
        tl.store(G + srow * G4 + 3 * H + j, go, mask=mk)
        tl.store(TC + srow * H + j, tc, mask=mk)
    if ZC_MODE == 0:
        tl.store(C + row * H + j, c, mask=mk)
    else:
        if ZC_MODE == 1:
            zc = _ld(ZC, row * H + j, mk, ACC)
        else:
            zc = tl.load(ZC).to(ACC)
        tl.store(CN + srow * H + j, c, mask=mk)
        tl.store(C + row * H + j, c + zc * (cp - c), mask=mk)
    if PROJ:
        tl.store(OUT + srow * H + j, h, mask=mk)
    else:
        if ZH_MODE != 0:
            if t == 0:
                hp = _ld(H0, r * H + j, mk, ACC)
            else:
                hp = _ld(Y, (row - B) * H + j, mk, ACC)
            if ZH_MODE == 1:
                zh = _ld(ZH, row * H + j, mk, ACC)
            else:
                zh = tl.load(ZH).to(ACC)
            h = h + zh * (hp - h)
        tl.store(Y + row * H + j, h, mask=mk)
        if MASK:
            h = h * _ld(M, r * H + j, mk, ACC)
        tl.store(AH + r * H + j, h, mask=mk)


@triton.jit(do_not_specialize=["t", "B", "a_rows"])
def lstm_bwd(G, DG, TC, C0, C, CN, A, ACCH, DY, GC, DHH, M, PEEP, LNHW, LNXW, LNCW,
             ZC, ZH, X, R, DR, RS4, MX, SX, MU, RS,
             DPEEP, DBIAS, DLNHW, DLNXW, DLNCW, DLNCB,
             t, B, a_rows,
             H: tl.constexpr, BLOCK: tl.constexpr, ACC: tl.constexpr,
             HAS_PEEP: tl.constexpr, PEEP_SUM: tl.constexpr, BIAS_SUM: tl.constexpr,
             LNH: tl.constexpr, LNX: tl.constexpr, LNC: tl.constexpr,
             ZC_MODE: tl.constexpr, ZH_MODE: tl.constexpr, PROJ: tl.constexpr,
             MASK: tl.constexpr):
    """Backward of step t for row r. Without PROJ, dh = A[r] (⊙ m) + ACCH[r] + DY[t, r]
    (A: d h_in from the step after, rows < a_rows; the h-zoneout share goes to ACCH);
    with PROJ the caller has made dh (after zoneout) in DHH. GC carries dc. DG may be G and
    DR may be R (each row's values are read before its gradients are written)."""
    r = tl.program_id(0).to(tl.int64)
    t64 = t.to(tl.int64)
    j = tl.arange(0, BLOCK)
    mk = j < H
    row = t64 * B + r
    G4 = 4 * H
    if PROJ:
        dh = _ld(DHH, r * H + j, mk, ACC)
    else:
        dh = _ld(ACCH, r * H + j, mk, ACC) + _ld(DY, row * H + j, mk, ACC)
        if r < a_rows:
            da = _ld(A, r * H + j, mk, ACC)
            if MASK:
                da = da * _ld(M, r * H + j, mk, ACC)
            dh += da
        if ZH_MODE != 0:
            if ZH_MODE == 1:
                zh = _ld(ZH, row * H + j, mk, ACC)
            else:
                zh = tl.load(ZH).to(ACC)
            keep_h = dh * zh
            tl.store(ACCH + r * H + j, keep_h, mask=mk)
            dh -= keep_h
        else:
            tl.store(ACCH + r * H + j, tl.zeros([BLOCK], dtype=ACC), mask=mk)
    gi = _ld(G, row * G4 + j, mk, ACC)
    gf = _ld(G, row * G4 + H + j, mk, ACC)
    gg = _ld(G, row * G4 + 2 * H + j, mk, ACC)
    go = _ld(G, row * G4 + 3 * H + j, mk, ACC)
    tc = _ld(TC, row * H + j, mk, ACC)
    if t == 0:
        cp = _ld(C0, r * H + j, mk, ACC)
    else:
        cp = _ld(C, (row - B) * H + j, mk, ACC)
    if ZC_MODE == 0:
        cn = _ld(C, row * H + j, mk, ACC)
    else:
        cn = _ld(CN, row * H + j, mk, ACC)
    do = dh * tc * go * (1.0 - go)
    dc = dh * go * (1.0 - tc * tc)
    if LNC:
        cm = tl.load(MU + row).to(ACC)
        crs = tl.load(RS + row).to(ACC)
        chat = tl.where(mk, (cn - cm) * crs, 0.0)
        _add(DLNCB, r * H + j, dc, mk, ACC)
        _add(DLNCW, r * H + j, dc * chat, mk, ACC)
        dc = ln_bwd(tl.where(mk, dc * _ld(LNCW, j, mk, ACC), 0.0), chat, crs, H)
    gcv = _ld(GC, r * H + j, mk, ACC)
    if ZC_MODE == 0:
        dc += gcv
        gn = tl.zeros([BLOCK], dtype=ACC)
    else:
        if ZC_MODE == 1:
            zc = _ld(ZC, row * H + j, mk, ACC)
        else:
            zc = tl.load(ZC).to(ACC)
        keep_c = gcv * zc
        dc += gcv - keep_c
        gn = keep_c
    if HAS_PEEP:
        dc += do * _ld(PEEP, 2 * H + j, mk, ACC)
    di = dc * gg * gi * (1.0 - gi)
    df = dc * cp * gf * (1.0 - gf)
    dg = dc * gi * (1.0 - gg * gg)
    gn += dc * gf
    if HAS_PEEP:
        gn += di * _ld(PEEP, j, mk, ACC) + df * _ld(PEEP, H + j, mk, ACC)
    tl.store(GC + r * H + j, gn, mask=mk)
    if PEEP_SUM:
        _add(DPEEP, r * 3 * H + j, di * cp, mk, ACC)
        _add(DPEEP, r * 3 * H + H + j, df * cp, mk, ACC)
        _add(DPEEP, r * 3 * H + 2 * H + j, do * cn, mk, ACC)
    if BIAS_SUM:
        _add(DBIAS, r * G4 + j, di, mk, ACC)
        _add(DBIAS, r * G4 + H + j, df, mk, ACC)
        _add(DBIAS, r * G4 + 2 * H + j, dg, mk, ACC)
        _add(DBIAS, r * G4 + 3 * H + j, do, mk, ACC)
    di = tl.where(mk, di, 0.0)
    df = tl.where(mk, df, 0.0)
    dg = tl.where(mk, dg, 0.0)
    do = tl.where(mk, do, 0.0)
    if LNH:  # d of the raw recurrent product, for the recurrent GEMM (and d lnhw)
        x0 = _ld(R, row * G4 + j, mk, ACC)
        x1 = _ld(R, row * G4 + H + j, mk, ACC)
        x2 = _ld(R, row * G4 + 2 * H + j, mk, ACC)
        x3 = _ld(R, row * G4 + 3 * H + j, mk, ACC)
        e0, e1, e2, e3 = _ln_bwd4(di, df, dg, do, x0, x1, x2, x3, tl.load(RS4 + row).to(ACC),
                                  LNHW, DLNHW, r * G4, j, mk, H, ACC)
        tl.store(DR + row * G4 + j, e0, mask=mk)
        tl.store(DR + row * G4 + H + j, e1, mask=mk)
        tl.store(DR + row * G4 + 2 * H + j, e2, mask=mk)
        tl.store(DR + row * G4 + 3 * H + j, e3, mask=mk)
    if LNX:  # DG becomes d of the raw input projection (and d lnxw)
        mux = tl.load(MX + row).to(ACC)
        rsx = tl.load(SX + row).to(ACC)
        x0 = tl.where(mk, (_ld(X, row * G4 + j, mk, ACC) - mux) * rsx, 0.0)
        x1 = tl.where(mk, (_ld(X, row * G4 + H + j, mk, ACC) - mux) * rsx, 0.0)
        x2 = tl.where(mk, (_ld(X, row * G4 + 2 * H + j, mk, ACC) - mux) * rsx, 0.0)
        x3 = tl.where(mk, (_ld(X, row * G4 + 3 * H + j, mk, ACC) - mux) * rsx, 0.0)
        di, df, dg, do = _ln_bwd4(di, df, dg, do, x0, x1, x2, x3, rsx, LNXW, DLNXW, r * G4, j,
                                  mk, H, ACC)
    tl.store(DG + row * G4 + j, di, mask=mk)
    tl.store(DG + row * G4 + H + j, df, mask=mk)
    tl.store(DG + row * G4 + 2 * H + j, dg, mask=mk)
    tl.store(DG + row * G4 + 3 * H + j, do, mask=mk)
