"""Triton GRU steps, both forms, forward and backward: one program per running row of a step.

Reset-after (torch's), row r of step t (gate blocks r, z, n of width H, lanes j < H)::

    a = LN_hh(hw) · lnw + hb   or  hw + hb         hw = h_in W_hhᵀ of this step (its GEMM)
    x = LN_ih(x) · lnxw + lnxb  (LNX)              x: the step's input projection row
    r, z = σ(x_rz + a_rz);  n = tanh(x_n + r a_n);  h = n + z (h_{t-1} - n)
    zoneout: h_t = h + z_h (h_{t-1} - h);  the next GEMM input h_t ⊙ m is written too

Reset-before (Cho's), two dependent GEMMs per step, so two kernels each way::

    fwd1 (after a = h_in W_rzᵀ):  a = LN(a) · lnw_rz + hb_rz;  r, z = σ(x_rz + a);  q = r ⊙ h_in
    fwd2 (after b = q W_nᵀ):      n = tanh(x_n + LN(b) · lnw_n + hb_n);  h as above
    bwd1: dh -> d z, d n (and d of b through LN_n: the GEMM dq = d b W_n runs next)
    bwd2: d r = dq ⊙ h_in ⊙ r (1 - r); d of a through LN_rz; d h_in gets dq ⊙ r ⊙ m

Backward carries ACCH (B, H): every part of d h_{t-1} but the recurrent GEMM's, which comes
in as A (rows < a_rows) and is masked by m here. Gradient sums over rows (LN gains, the LN
bias, the input LN's gain and bias) accumulate per row into (B, 3H) buffers (no atomics,
deterministic); the caller sums them over B once after the loop.

Buffer layout (contiguous, time-major): X (T, B, 3H); RZN (slots, B, 3H) = [r | z | n] with
slot t (``KEEP``: training) or 0; R (T, B, 3H) the LN x-hats and RS3 (T, B) / RS2 (T, B, 2)
their rstd (reset-before: the rz and n parts normalised apart); per-step GEMM outputs (n, ·).
DX may be RZN and DS may be R (each element is read before its gradient is written over it).
"""

from __future__ import annotations

import triton
import triton.language as tl

from rnnkit.kernels.triton_steps.common import add as _add
from rnnkit.kernels.triton_steps.common import ld as _ld
from rnnkit.kernels.triton_steps.common import ln_bwd, sigmoid, tanh

__all__ = ["gru_bwd", "gru_fwd", "grurb_bwd1", "grurb_bwd2", "grurb_fwd1", "grurb_fwd2"]


@triton.jit
def _prev(H0, Y, r, row, B, t, j, mk, H: tl.constexpr, ACC: tl.constexpr):
    """h_{t-1} of the row: h0 at t = 0, else the previous step's output."""
    if t == 0:
        hp = _ld(H0, r * H + j, mk, ACC)
    else:
        hp = _ld(Y, (row - B) * H + j, mk, ACC)
    return hp


@triton.jit
def _zone(ZH, off, mk, ZH_MODE: tl.constexpr, ACC: tl.constexpr):
    """Zoneout keep-weight: a (T, B, H) mask element, or the constant."""
    if ZH_MODE == 1:
        z = _ld(ZH, off, mk, ACC)
    else:
        z = tl.load(ZH).to(ACC)
    return z


@triton.jit
def _norm3(a, b, c, mk, n, eps):
    """x-hat and rstd of the row [a | b | c] (n valid values; padded lanes 0 in and out)."""
    mu = (tl.sum(a, axis=0) + tl.sum(b, axis=0) + tl.sum(c, axis=0)) / n
    a = tl.where(mk, a - mu, 0.0)
    b = tl.where(mk, b - mu, 0.0)
    c = tl.where(mk, c - mu, 0.0)
    rs = 1.0 / tl.sqrt((tl.sum(a * a, axis=0) + tl.sum(b * b, axis=0)
                        + tl.sum(c * c, axis=0)) / n + eps)
    return a * rs, b * rs, c * rs, mu, rs


@triton.jit
def _norm2(a, b, mk, n, eps):
    """x-hat and rstd of the row [a | b]."""
    mu = (tl.sum(a, axis=0) + tl.sum(b, axis=0)) / n
    a = tl.where(mk, a - mu, 0.0)
    b = tl.where(mk, b - mu, 0.0)
    rs = 1.0 / tl.sqrt((tl.sum(a * a, axis=0) + tl.sum(b * b, axis=0)) / n + eps)
    return a * rs, b * rs, rs


@triton.jit
def _lnb3(e0, e1, e2, x0, x1, x2, rs, n):
    """LN backward over [e | x] blocks: rs (e - mean(e) - x mean(e x)) (e: d x-hat · gain)."""
    m1 = (tl.sum(e0, axis=0) + tl.sum(e1, axis=0) + tl.sum(e2, axis=0)) / n
    m2 = (tl.sum(e0 * x0, axis=0) + tl.sum(e1 * x1, axis=0) + tl.sum(e2 * x2, axis=0)) / n
    return rs * (e0 - m1 - x0 * m2), rs * (e1 - m1 - x1 * m2), rs * (e2 - m1 - x2 * m2)


@triton.jit
def _gain_ln_bwd3(d0, d1, d2, x0, x1, x2, rs, W, DW, DB, base, j, mk, H: tl.constexpr,
                  ACC: tl.constexpr, BIAS_SUM: tl.constexpr):
    """Backward of a gained layer norm over the three gate blocks of one row: adds d ⊙ x-hat
    to the gain sums DW[base + ·] (and d to the bias sums DB when BIAS_SUM), returns d of its
    input."""
    _add(DW, base + j, d0 * x0, mk, ACC)
    _add(DW, base + H + j, d1 * x1, mk, ACC)
    _add(DW, base + 2 * H + j, d2 * x2, mk, ACC)
    if BIAS_SUM:
        _add(DB, base + j, d0, mk, ACC)
        _add(DB, base + H + j, d1, mk, ACC)
        _add(DB, base + 2 * H + j, d2, mk, ACC)
    return _lnb3(d0 * _ld(W, j, mk, ACC), d1 * _ld(W, H + j, mk, ACC),
                 d2 * _ld(W, 2 * H + j, mk, ACC), x0, x1, x2, rs, 3 * H)


@triton.jit
def _lnb2(e0, e1, x0, x1, rs, n):
    m1 = (tl.sum(e0, axis=0) + tl.sum(e1, axis=0)) / n
    m2 = (tl.sum(e0 * x0, axis=0) + tl.sum(e1 * x1, axis=0)) / n
    return rs * (e0 - m1 - x0 * m2), rs * (e1 - m1 - x1 * m2)


@triton.jit
def _xin(X, LNXW, LNXB, MX, SX, row, j, mk, eps, H: tl.constexpr, ACC: tl.constexpr,
         KEEP: tl.constexpr, LNX: tl.constexpr, HAS_LNXB: tl.constexpr):
    """The input projection row [x_r, x_z, x_n], through LN_ih when LNX (stats kept)."""
    G3 = 3 * H
    x0 = _ld(X, row * G3 + j, mk, ACC)
    x1 = _ld(X, row * G3 + H + j, mk, ACC)
    x2 = _ld(X, row * G3 + 2 * H + j, mk, ACC)
    if LNX:
        x0, x1, x2, mux, rsx = _norm3(x0, x1, x2, mk, G3, eps)
        if KEEP:
            tl.store(MX + row, mux)
            tl.store(SX + row, rsx)
        x0 = x0 * _ld(LNXW, j, mk, ACC)
        x1 = x1 * _ld(LNXW, H + j, mk, ACC)
        x2 = x2 * _ld(LNXW, 2 * H + j, mk, ACC)
        if HAS_LNXB:
            x0 += _ld(LNXB, j, mk, ACC)
            x1 += _ld(LNXB, H + j, mk, ACC)
            x2 += _ld(LNXB, 2 * H + j, mk, ACC)
    return x0, x1, x2


@triton.jit
def _out(h, hp, Y, AH, M, ZH, r, row, j, mk, H: tl.constexpr, ACC: tl.constexpr,
         ZH_MODE: tl.constexpr, MASK: tl.constexpr):
    """Zoneout on h, then Y[t, r] = h_t and the next GEMM input AH[r] = h_t ⊙ m."""
    if ZH_MODE != 0:
        h = h + _zone(ZH, row * H + j, mk, ZH_MODE, ACC) * (hp - h)
    tl.store(Y + row * H + j, h, mask=mk)
    if MASK:
        h = h * _ld(M, r * H + j, mk, ACC)
    tl.store(AH + r * H + j, h, mask=mk)


@triton.jit
def _dh(ACCH, DY, A, M, ZH, r, row, a_rows, j, mk, H: tl.constexpr, ACC: tl.constexpr,
        ZH_MODE: tl.constexpr, MASK: tl.constexpr):
    """d h_t = ACCH + dY + A ⊙ m, less the zoneout share (returned as ``keep``)."""
    dh = _ld(ACCH, r * H + j, mk, ACC) + _ld(DY, row * H + j, mk, ACC)
    if r < a_rows:
        da = _ld(A, r * H + j, mk, ACC)
        if MASK:
            da = da * _ld(M, r * H + j, mk, ACC)
        dh += da
    keep = tl.zeros_like(dh)
    if ZH_MODE != 0:
        keep = dh * _zone(ZH, row * H + j, mk, ZH_MODE, ACC)
        dh -= keep
    return dh, keep


@triton.jit(do_not_specialize=["t", "B"])
def gru_fwd(HW, X, HB, H0, Y, AH, RZN, AN, M, LNW, LNXW, LNXB, ZH, R, RS3, MX, SX,
            t, B, eps,
            H: tl.constexpr, BLOCK: tl.constexpr, ACC: tl.constexpr, KEEP: tl.constexpr,
            HAS_HB: tl.constexpr, LN: tl.constexpr, LNX: tl.constexpr,
            HAS_LNXB: tl.constexpr, ZH_MODE: tl.constexpr, MASK: tl.constexpr):
    """Reset-after step t, row r. HW (n, 3H): the raw h_in W_hhᵀ. ZH_MODE: 0 none, 1 a
    (T, B, H) uint8 mask, 2 a constant (a 1-element tensor). KEEP: RZN, AN (a_n for d r),
    the LN x-hat / rstd and the input LN stats are kept for backward."""
    r = tl.program_id(0).to(tl.int64)
    j = tl.arange(0, BLOCK)
    mk = j < H
    row = t.to(tl.int64) * B + r
    G3 = 3 * H
    w0 = _ld(HW, r * G3 + j, mk, ACC)
    w1 = _ld(HW, r * G3 + H + j, mk, ACC)
    w2 = _ld(HW, r * G3 + 2 * H + j, mk, ACC)
    if LN:
        w0, w1, w2, _, rs = _norm3(w0, w1, w2, mk, G3, eps)
        if KEEP:
            tl.store(R + row * G3 + j, w0, mask=mk)
            tl.store(R + row * G3 + H + j, w1, mask=mk)
            tl.store(R + row * G3 + 2 * H + j, w2, mask=mk)
            tl.store(RS3 + row, rs)
        w0 = w0 * _ld(LNW, j, mk, ACC)
        w1 = w1 * _ld(LNW, H + j, mk, ACC)
        w2 = w2 * _ld(LNW, 2 * H + j, mk, ACC)
    if HAS_HB:
        w0 += _ld(HB, j, mk, ACC)
        w1 += _ld(HB, H + j, mk, ACC)
        w2 += _ld(HB, 2 * H + j, mk, ACC)
    x0, x1, x2 = _xin(X, LNXW, LNXB, MX, SX, row, j, mk, eps, H, ACC, KEEP, LNX, HAS_LNXB)
    gr = sigmoid(x0 + w0)
    gz = sigmoid(x1 + w1)
    gn = tanh(x2 + gr * w2)
    hp = _prev(H0, Y, r, row, B, t, j, mk, H, ACC)
    if KEEP:
        tl.store(RZN + row * G3 + j, gr, mask=mk)
        tl.store(RZN + row * G3 + H + j, gz, mask=mk)
        tl.store(RZN + row * G3 + 2 * H + j, gn, mask=mk)
        tl.store(AN + row * H + j, w2, mask=mk)
    _out(gn + gz * (hp - gn), hp, Y, AH, M, ZH, r, row, j, mk, H, ACC, ZH_MODE, MASK)


@triton.jit(do_not_specialize=["t", "B", "a_rows"])
def gru_bwd(RZN, AN, H0, Y, A, ACCH, DY, M, ZH, DX, DA, LNW, R, RS3, DS, DLNW, DHB,
            X, LNXW, MX, SX, DLNXW, DLNXB,
            t, B, a_rows,
            H: tl.constexpr, BLOCK: tl.constexpr, ACC: tl.constexpr, LN: tl.constexpr,
            HB_SUM: tl.constexpr, LNX: tl.constexpr, LNXB_SUM: tl.constexpr,
            ZH_MODE: tl.constexpr, MASK: tl.constexpr):
    """Backward of reset-after step t, row r: DX[t, r] = d[x_r, x_z, x_n] (of the raw input
    projection with LNX); d of the recurrent product (n, 3H) da = [d r, d z, d n ⊙ r] goes to
    DA, or with LN through it into DS (sums: d lnw in DLNW, d hb in DHB)."""
    r = tl.program_id(0).to(tl.int64)
    j = tl.arange(0, BLOCK)
    mk = j < H
    row = t.to(tl.int64) * B + r
    G3 = 3 * H
    dh, keep = _dh(ACCH, DY, A, M, ZH, r, row, a_rows, j, mk, H, ACC, ZH_MODE, MASK)
    gr = _ld(RZN, row * G3 + j, mk, ACC)
    gz = _ld(RZN, row * G3 + H + j, mk, ACC)
    gn = _ld(RZN, row * G3 + 2 * H + j, mk, ACC)
    an = _ld(AN, row * H + j, mk, ACC)
    hp = _prev(H0, Y, r, row, B, t, j, mk, H, ACC)
    dz = dh * (hp - gn) * gz * (1.0 - gz)
    dn = (dh - dh * gz) * (1.0 - gn * gn)
    dr = dn * an * gr * (1.0 - gr)
    tl.store(ACCH + r * H + j, keep + dh * gz, mask=mk)
    dan = dn * gr
    if LN:
        x0 = _ld(R, row * G3 + j, mk, ACC)
        x1 = _ld(R, row * G3 + H + j, mk, ACC)
        x2 = _ld(R, row * G3 + 2 * H + j, mk, ACC)
        s0, s1, s2 = _gain_ln_bwd3(dr, dz, dan, x0, x1, x2, tl.load(RS3 + row).to(ACC), LNW,
                                   DLNW, DHB, r * G3, j, mk, H, ACC, HB_SUM)
        tl.store(DS + row * G3 + j, s0, mask=mk)
        tl.store(DS + row * G3 + H + j, s1, mask=mk)
        tl.store(DS + row * G3 + 2 * H + j, s2, mask=mk)
    else:
        tl.store(DA + row * G3 + j, dr, mask=mk)
        tl.store(DA + row * G3 + H + j, dz, mask=mk)
        tl.store(DA + row * G3 + 2 * H + j, dan, mask=mk)
    if LNX:  # DX becomes d of the raw input projection (and d lnxw, d lnxb)
        mux = tl.load(MX + row).to(ACC)
        rsx = tl.load(SX + row).to(ACC)
        x0 = tl.where(mk, (_ld(X, row * G3 + j, mk, ACC) - mux) * rsx, 0.0)
        x1 = tl.where(mk, (_ld(X, row * G3 + H + j, mk, ACC) - mux) * rsx, 0.0)
        x2 = tl.where(mk, (_ld(X, row * G3 + 2 * H + j, mk, ACC) - mux) * rsx, 0.0)
        dr, dz, dn = _gain_ln_bwd3(dr, dz, dn, x0, x1, x2, rsx, LNXW, DLNXW, DLNXB, r * G3, j,
                                   mk, H, ACC, LNXB_SUM)
    tl.store(DX + row * G3 + j, dr, mask=mk)
    tl.store(DX + row * G3 + H + j, dz, mask=mk)
    tl.store(DX + row * G3 + 2 * H + j, dn, mask=mk)


@triton.jit(do_not_specialize=["t", "B"])
def grurb_fwd1(HW, X, HB, H0, Y, M, RZN, Q, QA, LNW, LNXW, LNXB, R, RS2, MX, SX,
               t, B, eps,
               H: tl.constexpr, BLOCK: tl.constexpr, ACC: tl.constexpr, KEEP: tl.constexpr,
               HAS_HB: tl.constexpr, LN: tl.constexpr, LNX: tl.constexpr,
               HAS_LNXB: tl.constexpr, MASK: tl.constexpr):
    """Reset-before step t, first half. HW (n, 2H): the raw h_in W_rzᵀ. Writes r, z (and
    the input-LN'd x_n for fwd2 where n goes) to RZN, q = r ⊙ h_in to QA (B, H: the next
    GEMM's input) and, with KEEP, to Q (T, B, H) for d W_n."""
    r = tl.program_id(0).to(tl.int64)
    j = tl.arange(0, BLOCK)
    mk = j < H
    row = t.to(tl.int64) * B + r
    srow = (row if KEEP else r)
    G3 = 3 * H
    w0 = _ld(HW, r * 2 * H + j, mk, ACC)
    w1 = _ld(HW, r * 2 * H + H + j, mk, ACC)
    if LN:
        w0, w1, rs = _norm2(w0, w1, mk, 2 * H, eps)
        if KEEP:
            tl.store(R + row * G3 + j, w0, mask=mk)
            tl.store(R + row * G3 + H + j, w1, mask=mk)
            tl.store(RS2 + row * 2, rs)
        w0 = w0 * _ld(LNW, j, mk, ACC)
        w1 = w1 * _ld(LNW, H + j, mk, ACC)
    if HAS_HB:
        w0 += _ld(HB, j, mk, ACC)
        w1 += _ld(HB, H + j, mk, ACC)
    x0, x1, x2 = _xin(X, LNXW, LNXB, MX, SX, row, j, mk, eps, H, ACC, KEEP, LNX, HAS_LNXB)
    gr = sigmoid(x0 + w0)
    gz = sigmoid(x1 + w1)
    hin = _prev(H0, Y, r, row, B, t, j, mk, H, ACC)
    if MASK:
        hin = hin * _ld(M, r * H + j, mk, ACC)
    q = gr * hin
    tl.store(RZN + srow * G3 + j, gr, mask=mk)
    tl.store(RZN + srow * G3 + H + j, gz, mask=mk)
    if LNX:
        tl.store(RZN + srow * G3 + 2 * H + j, x2, mask=mk)
    if KEEP:
        tl.store(Q + row * H + j, q, mask=mk)
    tl.store(QA + r * H + j, q, mask=mk)


@triton.jit(do_not_specialize=["t", "B"])
def grurb_fwd2(HN, X, HB, H0, Y, AH, M, RZN, LNW, ZH, R, RS2,
               t, B, eps,
               H: tl.constexpr, BLOCK: tl.constexpr, ACC: tl.constexpr, KEEP: tl.constexpr,
               HAS_HB: tl.constexpr, LN: tl.constexpr, LNX: tl.constexpr,
               ZH_MODE: tl.constexpr, MASK: tl.constexpr):
    """Reset-before step t, second half. HN (n, H): the raw q W_nᵀ. n and h_t as reset-after
    (n to RZN, h_t to Y, h_t ⊙ m to AH)."""
    r = tl.program_id(0).to(tl.int64)
    j = tl.arange(0, BLOCK)
    mk = j < H
    row = t.to(tl.int64) * B + r
    srow = (row if KEEP else r)
    G3 = 3 * H
    w = _ld(HN, r * H + j, mk, ACC)
    if LN:
        mu = tl.sum(w, axis=0) / H
        w = tl.where(mk, w - mu, 0.0)
        rs = 1.0 / tl.sqrt(tl.sum(w * w, axis=0) / H + eps)
        w = w * rs
        if KEEP:
            tl.store(R + row * G3 + 2 * H + j, w, mask=mk)
            tl.store(RS2 + row * 2 + 1, rs)
        w = w * _ld(LNW, 2 * H + j, mk, ACC)
    if HAS_HB:
        w += _ld(HB, 2 * H + j, mk, ACC)
    if LNX:
        xn = _ld(RZN, srow * G3 + 2 * H + j, mk, ACC)
    else:
        xn = _ld(X, row * G3 + 2 * H + j, mk, ACC)
    gn = tanh(xn + w)
    gz = _ld(RZN, srow * G3 + H + j, mk, ACC)
    tl.store(RZN + srow * G3 + 2 * H + j, gn, mask=mk)
    hp = _prev(H0, Y, r, row, B, t, j, mk, H, ACC)
    _out(gn + gz * (hp - gn), hp, Y, AH, M, ZH, r, row, j, mk, H, ACC, ZH_MODE, MASK)


@triton.jit(do_not_specialize=["t", "B", "a_rows"])
def grurb_bwd1(RZN, H0, Y, A, ACCH, DY, M, ZH, DX, LNW, R, RS2, DS, DLNW,
               t, B, a_rows,
               H: tl.constexpr, BLOCK: tl.constexpr, ACC: tl.constexpr, LN: tl.constexpr,
               ZH_MODE: tl.constexpr, MASK: tl.constexpr):
    """Reset-before backward of step t, first half: DX[t, r, H:] = [d z, d n] (pre-activation);
    with LN, d of the raw q W_nᵀ into DS[t, r, 2H:] (and d lnw_n). ACCH = the direct share."""
    r = tl.program_id(0).to(tl.int64)
    j = tl.arange(0, BLOCK)
    mk = j < H
    row = t.to(tl.int64) * B + r
    G3 = 3 * H
    dh, keep = _dh(ACCH, DY, A, M, ZH, r, row, a_rows, j, mk, H, ACC, ZH_MODE, MASK)
    gz = _ld(RZN, row * G3 + H + j, mk, ACC)
    gn = _ld(RZN, row * G3 + 2 * H + j, mk, ACC)
    hp = _prev(H0, Y, r, row, B, t, j, mk, H, ACC)
    dz = dh * (hp - gn) * gz * (1.0 - gz)
    dn = tl.where(mk, (dh - dh * gz) * (1.0 - gn * gn), 0.0)
    tl.store(ACCH + r * H + j, keep + dh * gz, mask=mk)
    if LN:
        xh = _ld(R, row * G3 + 2 * H + j, mk, ACC)
        _add(DLNW, r * G3 + 2 * H + j, dn * xh, mk, ACC)
        ds = ln_bwd(dn * _ld(LNW, 2 * H + j, mk, ACC), xh, tl.load(RS2 + row * 2 + 1).to(ACC),
                    H)
        tl.store(DS + row * G3 + 2 * H + j, ds, mask=mk)
    tl.store(DX + row * G3 + H + j, dz, mask=mk)
    tl.store(DX + row * G3 + 2 * H + j, dn, mask=mk)


@triton.jit(do_not_specialize=["t", "B"])
def grurb_bwd2(DQ, RZN, H0, Y, M, ACCH, DX, LNW, R, RS2, DS, DLNW,
               t, B,
               H: tl.constexpr, BLOCK: tl.constexpr, ACC: tl.constexpr, LN: tl.constexpr,
               MASK: tl.constexpr):
    """Reset-before backward of step t, second half, after DQ (n, H) = d(q W_nᵀ) W_n:
    DX[t, r, :H] = d r (pre-activation); with LN, d of the raw h_in W_rzᵀ into DS[t, r, :2H]
    (and d lnw_rz); ACCH += dq ⊙ r ⊙ m (the q path of d h_{t-1})."""
    r = tl.program_id(0).to(tl.int64)
    j = tl.arange(0, BLOCK)
    mk = j < H
    row = t.to(tl.int64) * B + r
    G3 = 3 * H
    dq = _ld(DQ, r * H + j, mk, ACC)
    gr = _ld(RZN, row * G3 + j, mk, ACC)
    hin = _prev(H0, Y, r, row, B, t, j, mk, H, ACC)
    dqr = dq * gr
    if MASK:
        mv = _ld(M, r * H + j, mk, ACC)
        hin = hin * mv
        dqr = dqr * mv
    dr = tl.where(mk, dq * hin * gr * (1.0 - gr), 0.0)
    _add(ACCH, r * H + j, dqr, mk, ACC)
    if LN:
        dz = _ld(DX, row * G3 + H + j, mk, ACC)
        x0 = _ld(R, row * G3 + j, mk, ACC)
        x1 = _ld(R, row * G3 + H + j, mk, ACC)
        _add(DLNW, r * G3 + j, dr * x0, mk, ACC)
        _add(DLNW, r * G3 + H + j, dz * x1, mk, ACC)
        s0, s1 = _lnb2(dr * _ld(LNW, j, mk, ACC), dz * _ld(LNW, H + j, mk, ACC), x0, x1,
                       tl.load(RS2 + row * 2).to(ACC), 2 * H)
        tl.store(DS + row * G3 + j, s0, mask=mk)
        tl.store(DS + row * G3 + H + j, s1, mask=mk)
    tl.store(DX + row * G3 + j, dr, mask=mk)
