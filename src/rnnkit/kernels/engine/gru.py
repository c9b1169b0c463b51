"""The engine's GRU family: reset-after (torch) and reset-before (Cho), layer norm, masks.

Forward per step over the running prefix ``[:n]`` (gate order r, z, n as torch.nn)::

    reset_after:   a = h_in W_hhᵀ + b (LN first when layer_norm)      one addmm
                   r, z = σ(X_rz + a_rz);  n = tanh(X_n + r ⊙ a_n)
    reset_before:  a = h_in W_rzᵀ + b_rz;  r, z = σ(X_rz + a);  q = r ⊙ h_in
                   n = tanh(X_n + q W_nᵀ + b_n)                        two GEMMs (q needs r)
    h_t = n + z ⊙ (h_{t-1} - n);  zoneout: lerp towards h_{t-1}

Backward walks the steps in reverse (one or two mm per step); dW_hh is one GEMM per gate block
after the loop.
"""

from __future__ import annotations

import torch

from rnnkit.kernels import triton_steps
from rnnkit.kernels.engine import gru_native, gru_triton
from rnnkit.kernels.engine._common import (
    final_rows,
    graph_kept,
    mask_at,
    mm_tn_in,
    needs_grad,
    recurrent_weight_grad,
    sig_bwd,
    tanh_bwd,
    zone,
)
from rnnkit.kernels.torch_fused import mm_nt, mm_tn

__all__ = ["FusedGRU", "run_gru"]

_EPS = 1e-5
_aten = torch.ops.aten


def _lin(x, w, b, ln_w, eps=_EPS):
    """``x wᵀ`` then (LN with gain ln_w) plus b. Returns (out, raw, stats or None)."""
    if ln_w is None:
        out = mm_nt(x, w)
        return (out if b is None else out.add_(b)), None, None
    raw = mm_nt(x, w)
    out, mu, rs = torch.native_layer_norm(raw, (raw.shape[1],), ln_w, b, eps)
    return out, raw, (mu, rs)


def _lin_bwd(d, raw, stats, ln_w, b):
    """Gradient w.r.t. the GEMM output of ``_lin`` (and d ln_w), given d of its output."""
    if ln_w is None:
        return d, None
    dr, dw, _ = _aten.native_layer_norm_backward(d, raw, [raw.shape[1]], stats[0], stats[1],
                                                 ln_w, b, [True, True, False])
    return dr, dw


class FusedGRU(torch.autograd.Function):
    """``(xp, hb, h0, W_hh, ln_w, rec_mask, zh, ..., lnx_w, lnx_b)`` -> ``(Y (T, B, H)
    time-major, h_n)``. With ``lnx_w`` xp is the raw input projection and the loop applies its
    layer norm (gain lnx_w, bias lnx_b: the LN bias plus b_ih)."""

    @staticmethod
    def forward(ctx, xp, hb, h0, w_hh, ln_w, m, zh, reset_after, sizes, lengths, keep,
                lnx_w=None, lnx_b=None, lowp=None):
        ctx.native = reset_after and gru_native.usable(xp)
        ctx.native_rb = (not reset_after and lnx_w is None
                         and gru_native.rb_usable(xp, ln_w))
        # CUDA: the Triton step (both forms) where no native C loop runs
        ctx.triton = (not ctx.native and not ctx.native_rb
                      and triton_steps.step_usable(xp, xp.shape[-1] // 3))
        # low-precision GEMMs: the native reset-after loop (CPU bf16) and the Triton loops
        ctx.lowp = lowp if ctx.native or ctx.triton else None
        ctx.lnx = None
        if ctx.native_rb:  # small reset-before problem: the whole sequence in one C call
            ctx.zh, ctx.reset_after, ctx.sizes = zh, reset_after, sizes
            return gru_native.rb_forward(ctx, xp, hb, h0, w_hh, m, zh, sizes, lengths, keep)
        if ctx.native:
            ctx.zh, ctx.reset_after, ctx.sizes = zh, reset_after, sizes
            return gru_native.forward(ctx, xp, hb, h0, w_hh, ln_w, m, zh, sizes, lengths, keep,
                                      lnx_w, lnx_b, ctx.lowp)
        if ctx.triton:
            ctx.zh, ctx.reset_after, ctx.sizes = zh, reset_after, sizes
            loop = gru_triton.forward if reset_after else gru_triton.rb_forward
            return loop(ctx, xp, hb, h0, w_hh, ln_w, m, zh, sizes, lengths, keep, lnx_w, lnx_b,
                        ctx.lowp)
        X = xp.transpose(0, 1)
        if lnx_w is not None:  # the input projection's LN, over the whole sequence here
            X, mu, rs = torch.native_layer_norm(X, (X.shape[-1],), lnx_w, lnx_b, _EPS)
            ctx.lnx = (xp, lnx_w, lnx_b, mu, rs) if keep else None
        T, B, G3 = X.shape
        H = G3 // 3
        Y = X.new_zeros(T, B, H)
        RZ = X.new_empty(T if keep else 1, B, 2 * H)
        N = X.new_empty(T if keep else 1, B, H)
        A = X.new_zeros(T, B, H) if (zh is not None and keep) else None
        # reset-before: q = r ⊙ h_in of every step, kept in one buffer for dW_n
        QB = X.new_zeros(T, B, H) if (keep and not reset_after) else None
        sl = (slice(0, 2 * H), slice(2 * H, G3))
        split = [(None if v is None else v[s]) for v in (hb, ln_w) for s in sl]
        hb_rz, hb_n, ln_rz, ln_n = split
        saved = []  # per step: (a_n, raw, LN stats); reset-before (raw, stats, raw_n, stats_n)
        for t in range(T):
            n = sizes[t]
            if n == 0:
                break
            j = t if keep else 0
            hp = h0[:n] if t == 0 else Y[t - 1, :n]
            hin = hp if m is None else hp * m[:n]
            rz = RZ[j, :n]
            if reset_after:
                a, raw, st = _lin(hin, w_hh, hb, ln_w)
                torch.add(X[t, :n, : 2 * H], a[:, : 2 * H], out=rz).sigmoid_()
                nn_ = torch.addcmul(X[t, :n, 2 * H :], rz[:, :H], a[:, 2 * H :], out=N[j, :n])
                item = (a[:, 2 * H :], raw, st)
            else:
                a, raw, st = _lin(hin, w_hh[: 2 * H], hb_rz, ln_rz)
                torch.add(X[t, :n, : 2 * H], a, out=rz).sigmoid_()
                q = rz[:, :H] * hin if QB is None else torch.mul(rz[:, :H], hin, out=QB[t, :n])
                an, rawn, stn = _lin(q, w_hh[2 * H :], hb_n, ln_n)
                nn_ = torch.add(X[t, :n, 2 * H :], an, out=N[j, :n])
                item = (raw, st, rawn, stn)  # (q is in QB)
            nn_.tanh_()
            out = Y[t, :n] if A is None else A[t, :n]
            torch.addcmul(nn_, rz[:, H:], hp - nn_, out=out)
            if zh is not None:
                zone(out, hp, mask_at(zh, t, n), out=Y[t, :n])
            if keep:
                saved.append(item)
        if keep:
            ctx.save_for_backward(h0, w_hh, hb, ln_w, m, Y, RZ, N)
            ctx.qb = QB
            ctx.saved, ctx.zh, ctx.reset_after, ctx.sizes = saved, zh, reset_after, sizes
        return Y, final_rows(Y, lengths)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dY, dhn):
        if ctx.native_rb:
            DX, Q, gh = gru_native.rb_backward(ctx, dY, dhn)
            return _grads(ctx, DX, None, DX, Q, gh, None)
        if ctx.native:
            DX, DA, DS, gh, d_lnw, d_lnx = gru_native.backward(ctx, dY, dhn)
            grads = _grads(ctx, DX, DA, DS, None, gh, d_lnw, d_lnx)
            if not graph_kept():  # nothing reads them again: free them before the layers below
                ctx.gn = None
            return grads
        if ctx.triton:
            if ctx.reset_after:
                DX, DA, DS, gh, d_lnw, d_lnx = gru_triton.backward(ctx, dY, dhn)
                grads = _grads(ctx, DX, DA, DS, None, gh, d_lnw, d_lnx)
            else:
                DX, DS, Q, gh, d_lnw = gru_triton.rb_backward(ctx, dY, dhn)
                grads = _grads(ctx, DX, None, DS, Q, gh, d_lnw)
            if not graph_kept():
                ctx.gt = None
            return grads
        h0, w_hh, hb, ln_w, m, Y, RZ, N = ctx.saved_tensors
        zh, ra = ctx.zh, ctx.reset_after
        T, B, H = Y.shape
        G3 = 3 * H
        ln_rz = None if ln_w is None else ln_w[: 2 * H]
        ln_n = None if ln_w is None else ln_w[2 * H :]
        hb_rz = None if hb is None else hb[: 2 * H]
        hb_n = None if hb is None else hb[2 * H :]
        gh = dhn.clone() if dhn is not None else h0.new_zeros(B, H)
        dY = dY if dY is not None else Y.new_zeros(Y.shape)
        DX = Y.new_zeros(T, B, G3)        # d xp: [d r_pre, d z_pre, d n_pre]
        DA = Y.new_zeros(T, B, G3) if ra else None   # d of a (reset_after: [dr, dz, dn ⊙ r])
        # GEMM-side grads: without layer norm they equal DX (reset-before reads DX then)
        DS = Y.new_zeros(T, B, G3) if ln_w is not None else None
        Q = ctx.qb  # reset-before: the forward's q = r ⊙ h_in per step
        d_lnw = Y.new_zeros(G3) if ln_w is not None else None
        w_t = w_hh.t().contiguous()
        w_rzt, w_nt = w_hh[: 2 * H].t().contiguous(), w_hh[2 * H :].t().contiguous()
        for t in range(T - 1, -1, -1):
            n = ctx.sizes[t]
            if n == 0:
                continue
            hp = h0[:n] if t == 0 else Y[t - 1, :n]
            hin = hp if m is None else hp * m[:n]
            dh = gh[:n] + dY[t, :n]
            if zh is not None:
                acc = dh * mask_at(zh, t, n)
                dh = dh - acc
            r, z, nn_ = RZ[t, :n, :H], RZ[t, :n, H:], N[t, :n]
            dx = DX[t, :n]
            dhz = dh * z
            sig_bwd(dh * (hp - nn_), z, dx[:, H : 2 * H])
            dn = tanh_bwd(dh - dhz, nn_, dx[:, 2 * H :])
            item = ctx.saved[t]
            if ra:
                a_n, raw, st = item
                sig_bwd(dn * a_n, r, dx[:, :H])
                da = DA[t, :n]
                da[:, : 2 * H] = dx[:, : 2 * H]
                torch.mul(dn, r, out=da[:, 2 * H :])
                src, dw = _lin_bwd(da, raw, st, ln_w, hb)
                if DS is not None:
                    DS[t, :n] = src
                    d_lnw += dw
                ghn = gh[:n]
                ghn.copy_(mm_nt(src, w_t))
            else:
                raw, st, rawn, stn = item
                srcn, dwn = _lin_bwd(dn, rawn, stn, ln_n, hb_n)
                dq = mm_nt(srcn, w_nt)
                sig_bwd(dq * hin, r, dx[:, :H])
                srcrz, dwrz = _lin_bwd(dx[:, : 2 * H], raw, st, ln_rz, hb_rz)
                if DS is not None:
                    DS[t, :n, : 2 * H] = srcrz
                    DS[t, :n, 2 * H :] = srcn
                if ln_w is not None:
                    d_lnw[: 2 * H] += dwrz
                    d_lnw[2 * H :] += dwn
                ghn = gh[:n]
                ghn.copy_(mm_nt(srcrz, w_rzt)).addcmul_(dq, r)
            if m is not None:
                ghn.mul_(m[:n])
            ghn.add_(dhz)
            if zh is not None:
                ghn.add_(acc)
        return _grads(ctx, DX, DA, DS, Q, gh, d_lnw)


def _grads(ctx, DX, DA, DS, Q, gh, d_lnw, d_lnx=None):
    """dW_hh as one GEMM per gate block and the bias reduction, after the backward loop.

    ``d_lnx``: (d lnx_w, d lnx_b) when the native step already took DX through the input LN;
    otherwise, with the input LN on, that LN's backward runs here last (DX was needed as is)."""
    h0, _, hb, _, m, Y, _, _ = ctx.saved_tensors
    H = Y.shape[2]
    need = ctx.needs_input_grad
    d_w = None
    if need[3]:
        if ctx.reset_after:
            d_w = recurrent_weight_grad(DS if DS is not None else DA, h0, Y, m,
                                        mm_tn_in(ctx.lowp))
        else:  # reset-before: DS is DX itself without layer norm
            S = DS if DS is not None else DX
            d_w = torch.cat([recurrent_weight_grad(S[..., : 2 * H], h0, Y, m, mm_tn),
                             mm_tn(S[..., 2 * H :].reshape(-1, H), Q.reshape(-1, H))])
    d_hb = None
    if hb is not None and need[1]:
        if ctx.reset_after:  # DA: (T, B, 3H), or its sum when the native LN loop kept only that
            d_hb = DA if DA.dim() == 1 else DA.sum((0, 1))
        else:
            d_hb = DX.sum((0, 1))
    if ctx.lnx is not None:
        xp, lnx_w, lnx_b, mu, rs = ctx.lnx
        DX, dlw, dlb = _aten.native_layer_norm_backward(
            DX, xp.transpose(0, 1), [DX.shape[-1]], mu, rs, lnx_w, lnx_b,
            [True, True, lnx_b is not None])
        d_lnx = (dlw, dlb)
    d_lnx = d_lnx or (None, None)
    return (DX.transpose(0, 1), d_hb, gh, d_w, d_lnw, None, None, None, None, None, None,
            *d_lnx, None)


def run_gru(cell, xp, state, sizes, lengths, rec_mask, zoneout, ln_x=False, lowp=None):
    """Run a ``GRUCell`` over batch-first ``xp`` (B, T, 3H); returns (y (B, T, H), (h,)).

    ``ln_x``: xp is the raw projection ``x W_ihᵀ`` of a layer-norm cell (no bias), and the
    loop applies the input LN and ``b_ih``. ``lowp``: bf16 for the per-step and weight-gradient
    GEMMs of the native reset-after loop (CPU bf16 autocast)."""
    hb, ln_w, lnx_w, lnx_b = cell.bias_hh, None, None, None
    if cell.layer_norm:
        ln_w = cell.ln_hh_weight
        hb = cell.ln_hh_bias if hb is None else hb + cell.ln_hh_bias
    if ln_x:
        lnx_w, lnx_b = cell.ln_ih_weight, cell.ln_ih_bias
        lnx_b = lnx_b if cell.bias_ih is None else lnx_b + cell.bias_ih
    zh = None if zoneout is None else zoneout[0]
    args = (xp, hb, state[0], cell.weight_hh, ln_w, rec_mask, zh)
    keep = needs_grad(*args, lnx_w, lnx_b)
    y, hn = FusedGRU.apply(*args, cell.reset_after, sizes, lengths, keep, lnx_w, lnx_b, lowp)
    return y.transpose(0, 1), (hn,)
