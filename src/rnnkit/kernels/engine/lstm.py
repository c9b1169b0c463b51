"""The engine's LSTM family: peephole, layer norm, projection, recurrent dropout, zoneout.

Forward, per step t over the running prefix ``[:n]`` (gate order i, f, g, o as torch.nn)::

    gates = X_t + h_in W_hhᵀ            one addmm (or mm + layer norm when layer_norm=True)
    i, f += p_{i,f} ⊙ c_{t-1}; σ / tanh in place; c_t = f ⊙ c_{t-1} + i ⊙ g
    o += p_o ⊙ c_t; h_t = o ⊙ tanh(LN_c(c_t)) [· W_hrᵀ]; zoneout: lerp towards the old state

where ``X = xp + b_hh (+ LN_hh's bias)`` is added once for all steps. Backward walks the steps
in reverse with one ``mm`` for dh per step and returns dW_hh, dW_hr, the peephole and layer
norm gradients as single reductions / GEMMs after the loop. Saved per step: the activated
gates, c_t, tanh(c_t) (and the LN inputs / statistics when layer norm is on).
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import Tensor

from rnnkit.kernels import triton_steps
from rnnkit.kernels.engine import lstm_native, lstm_triton
from rnnkit.kernels.engine._common import (
    centred_rows,
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

__all__ = ["FusedLSTM", "run_lstm"]

_EPS = 1e-5
_aten = torch.ops.aten


def _zeros_if(cond: bool, ref: Tensor, *shape) -> Tensor | None:
    return ref.new_zeros(shape) if cond else None


class FusedLSTM(torch.autograd.Function):
    """``(xp, bias, h0, c0, W_hh, w_ph, W_hr, ln_w, lnc_w, lnc_b, rec_mask, zh, zc)`` ->
    ``(Y (T, B, P) time-major, h_n, c_n)``. See the module docstring for the math."""

    @staticmethod
    def forward(ctx, xp, bias, h0, c0, w_hh, w_ph, w_hr, ln_w, lnc_w, lnc_b, m, zh, zc,
                sizes, lengths, keep, lnx_w=None, lowp=None):
        ctx.native = lstm_native.usable(xp)
        ctx.triton = not ctx.native and triton_steps.step_usable(xp, xp.shape[-1] // 4)
        ctx.sizes, ctx.has_bias = sizes, bias is not None
        ctx.lowp = lowp if ctx.native or ctx.triton else None
        if ctx.native or ctx.triton:
            loop = lstm_native if ctx.native else lstm_triton
            return loop.forward(ctx, xp, bias, h0, c0, w_hh, w_ph, w_hr, ln_w, lnc_w, lnc_b,
                                m, zh, zc, sizes, lengths, keep, lnx_w, lowp=ctx.lowp)
        X = xp.transpose(0, 1)
        ctx.lnx = None
        if lnx_w is not None:  # the input projection's LN (its bias is folded into ``bias``)
            X, mu, rs = torch.native_layer_norm(X, (X.shape[-1],), lnx_w, None, _EPS)
            ctx.lnx = (xp, lnx_w, mu, rs) if keep else None
        if bias is not None:
            X = X + bias
        T, B, G4 = X.shape
        H, P = G4 // 4, h0.shape[1]
        k = T if keep else 1
        peep, proj = w_ph is not None, w_hr is not None
        ln, lnc = ln_w is not None, lnc_w is not None
        G = X.new_empty(k, B, G4)
        C = X.new_zeros(T, B, H)
        Y = X.new_zeros(T, B, P)
        TC = X.new_empty(k, B, H)
        HH = _zeros_if(proj, X, k, B, H)
        CN = _zeros_if(zc is not None and (peep or lnc), X, k, B, H)
        R = _zeros_if(ln, X, k, B, G4)
        stats, cstats = [], []
        wt = w_hh.t()
        for t in range(T):
            n = sizes[t]
            if n == 0:
                break
            j = t if keep else 0
            hp = h0[:n] if t == 0 else Y[t - 1, :n]
            cp = c0[:n] if t == 0 else C[t - 1, :n]
            hin = hp if m is None else hp * m[:n]
            g = G[j, :n]
            if ln:
                r = torch.mm(hin, wt, out=R[j, :n])
                out, mu, rs = torch.native_layer_norm(r, (G4,), ln_w, None, _EPS)
                torch.add(X[t, :n], out, out=g)
                stats.append((mu, rs))
            else:
                torch.addmm(X[t, :n], hin, wt, out=g)
            if peep:
                g[:, : 2 * H].view(n, 2, H).addcmul_(cp.unsqueeze(1), w_ph[:2])
            g[:, : 2 * H].sigmoid_()
            g[:, 2 * H : 3 * H].tanh_()
            i, f, gg, o = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
            cn = CN[j, :n] if CN is not None else C[t, :n]
            torch.mul(f, cp, out=cn).addcmul_(i, gg)
            if peep:
                o.addcmul_(cn, w_ph[2])
            o.sigmoid_()
            tc_in = cn
            if lnc:
                tc_in, mu, rs = torch.native_layer_norm(cn, (H,), lnc_w, lnc_b, _EPS)
                cstats.append((mu, rs))
            tc = torch.tanh(tc_in, out=TC[j, :n])
            if proj:
                torch.mm(torch.mul(o, tc, out=HH[j, :n]), w_hr.t(), out=Y[t, :n])
            else:
                torch.mul(o, tc, out=Y[t, :n])
            if zh is not None:
                zone(Y[t, :n], hp, mask_at(zh, t, n), out=Y[t, :n])
            if zc is not None:
                zone(cn, cp, mask_at(zc, t, n), out=C[t, :n])
        hn, cn_ = final_rows(Y, lengths), final_rows(C, lengths)
        if keep:
            ctx.save_for_backward(h0, c0, w_hh, w_ph, w_hr, ln_w, lnc_w, lnc_b, m, Y)
            ctx.bufs = (G, C, TC, HH, CN, R, stats, cstats)
            ctx.zoneout = (zh, zc)
        return Y, hn, cn_

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dY, dhn, dcn):
        if ctx.native or ctx.triton:
            loop = lstm_native if ctx.native else lstm_triton
            DG, DR, DHP, gh, gc, d_lnw, d_lncw, d_lncb, sums, d_lnxw = loop.backward(
                ctx, dY, dhn, dcn)
            C, HH, CN = ctx.bufs[1], ctx.bufs[3], ctx.bufs[4]
            grads = _grads(ctx, DG, DR, DHP, ctx.saved_tensors[-1], C, CN, HH, gh, gc, d_lnw,
                           d_lncw, d_lncb, sums, d_lnxw)
            if not graph_kept():  # nothing reads them again: free them before the layers below
                ctx.bufs = ctx.kc = None
            return grads
        h0, c0, w_hh, w_ph, w_hr, ln_w, lnc_w, lnc_b, m, Y = ctx.saved_tensors
        G, C, TC, HH, CN, R, stats, cstats = ctx.bufs
        zh, zc = ctx.zoneout
        T, B, G4 = G.shape
        H, P = G4 // 4, h0.shape[1]
        peep, proj = w_ph is not None, w_hr is not None
        ln, lnc = ln_w is not None, lnc_w is not None
        gh = dhn.clone() if dhn is not None else h0.new_zeros(B, P)
        gc = dcn.clone() if dcn is not None else c0.new_zeros(B, H)
        dY = dY if dY is not None else Y.new_zeros(Y.shape)
        DG = G.new_zeros(T, B, G4)
        DR = G.new_zeros(T, B, G4) if ln else None
        DHP = G.new_zeros(T, B, P) if proj else None
        d_lnw = G.new_zeros(G4) if ln else None
        d_lncw = G.new_zeros(H) if lnc else None
        d_lncb = G.new_zeros(H) if lnc else None
        si, ci = len(stats), len(cstats)
        for t in range(T - 1, -1, -1):
            n = ctx.sizes[t]
            if n == 0:
                continue
            cp = c0[:n] if t == 0 else C[t - 1, :n]
            dh = gh[:n] + dY[t, :n]
            dcin = gc[:n]
            if zh is not None:
                acc_h = dh * mask_at(zh, t, n)
                dh = dh - acc_h
            if zc is not None:
                acc_c = dcin * mask_at(zc, t, n)
                dcin = dcin - acc_c
            dhh = dh
            if proj:
                DHP[t, :n] = dh
                dhh = torch.mm(dh, w_hr)
            g, tc, dg = G[t, :n], TC[t, :n], DG[t, :n]
            i, f, gg, o = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
            do = sig_bwd(dhh * tc, o, dg[:, 3 * H :])
            dcc = tanh_bwd(dhh * o, tc, torch.empty_like(tc))
            if lnc:
                ci -= 1
                mu, rs = cstats[ci]
                cn = CN[t, :n] if CN is not None else C[t, :n]
                dcc, dw, db = _aten.native_layer_norm_backward(
                    dcc, cn, [H], mu, rs, lnc_w, lnc_b, [True, True, True])
                d_lncw += dw
                d_lncb += db
            dc = dcc.add_(dcin)
            if peep:
                dc.addcmul_(do, w_ph[2])
            di = sig_bwd(dc * gg, i, dg[:, :H])
            df = sig_bwd(dc * cp, f, dg[:, H : 2 * H])
            tanh_bwd(dc * i, gg, dg[:, 2 * H : 3 * H])
            gcn = torch.mul(dc, f, out=gc[:n])
            if peep:
                gcn.addcmul_(di, w_ph[0]).addcmul_(df, w_ph[1])
            if zc is not None:
                gcn.add_(acc_c)
            src = dg
            if ln:
                si -= 1
                mu, rs = stats[si]
                src, dw, _ = _aten.native_layer_norm_backward(
                    dg, R[t, :n], [G4], mu, rs, ln_w, None, [True, True, False])
                DR[t, :n] = src
                d_lnw += dw
            ghn = torch.mm(src, w_hh, out=gh[:n])
            if m is not None:
                ghn.mul_(m[:n])
            if zh is not None:
                ghn.add_(acc_h)
        d_lnxw = None
        if ctx.lnx is not None:  # through the input LN: DG becomes d of the raw projection
            xp, lnx_w, mu, rs = ctx.lnx
            need = ctx.needs_input_grad
            sums = (_peep_grad(DG, c0, C, CN) if peep and need[5] else None,
                    DG.sum((0, 1)) if ctx.has_bias and need[1] else None)
            DG, d_lnxw, _ = _aten.native_layer_norm_backward(
                DG, xp.transpose(0, 1), [G4], mu, rs, lnx_w, None, [True, True, False])
            return _grads(ctx, DG, DR, DHP, Y, C, CN, HH, gh, gc, d_lnw, d_lncw, d_lncb, sums,
                          d_lnxw)
        return _grads(ctx, DG, DR, DHP, Y, C, CN, HH, gh, gc, d_lnw, d_lncw, d_lncb)


def _grads(ctx, DG, DR, DHP, Y, C, CN, HH, gh, gc, d_lnw, d_lncw, d_lncb, sums=(None, None),
           d_lnxw=None):
    """The big GEMMs and reductions after the backward loop, in forward's argument order.

    ``sums``: (d peephole, d bias) when the native step already accumulated them. With the
    input LN (``d_lnxw`` given) DG is already the gradient of the raw projection."""
    h0, c0, _, w_ph, w_hr, _, _, _, m, _ = ctx.saved_tensors
    P = h0.shape[1]
    need = ctx.needs_input_grad
    src = DR if DR is not None else DG
    d_w = None
    if need[4]:
        d_w = recurrent_weight_grad(src, h0, Y, m, mm_tn_in(getattr(ctx, "lowp", None)))
    d_ph, d_bias = sums
    if d_ph is None and w_ph is not None and need[5]:
        d_ph = _peep_grad(DG, c0, C, CN)
    d_hr = None
    if w_hr is not None and need[6]:
        d_hr = mm_tn_in(getattr(ctx, "lowp", None))(DHP.reshape(-1, P),
                                                    HH.reshape(-1, HH.shape[-1]))
    if d_bias is None and ctx.has_bias and need[1]:
        d_bias = DG.sum((0, 1))
    return (DG.transpose(0, 1), d_bias, gh, gc, d_w, d_ph, d_hr, d_lnw, d_lncw, d_lncb,
            None, None, None, None, None, None, d_lnxw, None)


def _peep_grad(DG: Tensor, c0: Tensor, C: Tensor, CN: Tensor | None) -> Tensor:
    """d [p_i; p_f; p_o] (3, H) from the gate gradients DG (T, B, 4H) and the cell states."""
    T, H = DG.shape[0], DG.shape[2] // 4
    cprev = torch.cat([c0.unsqueeze(0), C[:-1]]) if T > 1 else c0.unsqueeze(0)
    cnew = CN if CN is not None else C
    return torch.stack([(DG[..., :H] * cprev).sum((0, 1)),
                        (DG[..., H : 2 * H] * cprev).sum((0, 1)),
                        (DG[..., 3 * H :] * cnew).sum((0, 1))])


def run_lstm(cell, xp, state, sizes, lengths, rec_mask, zoneout, ln_x=False, project=None,
             lowp=None, xin=None):
    """Run an ``LSTMCell`` over batch-first ``xp`` (B, T, 4H); returns (y (B, T, P), (h, c)).

    ``ln_x``: the projection is the raw one of a layer-norm cell and its LN is applied in the
    loop (no normalised copy of the projection exists; backward returns d of the raw one).
    Inference only (nothing that needs a gradient may be involved): ``project(t0, t1)``
    instead of ``xp``: the native loop projects the input chunk by chunk (see lstm_native);
    ``xin = (x (T, B, I), W_ih)`` instead: the input joins each step's GEMM (lstm_native).
    ``lowp``: bf16 for the recurrent and weight-gradient GEMMs (CPU bf16 autocast)."""
    h0, c0 = state
    ln = cell.ln_params("hh")
    lnx = cell.ln_params("ih") if ln_x else None
    # every per-step bias (b_hh, LN_hh's bias, and b_ih, which _project leaves out) in one
    parts = [b for b in (cell.bias_hh, None if ln is None else ln[1], cell.bias_ih,
                         None if lnx is None else lnx[1]) if b is not None]
    bias = None if not parts else parts[0] if len(parts) == 1 else sum(parts[1:], parts[0])
    lnc = cell.ln_params("c")
    zh, zc = zoneout if zoneout is not None else (None, None)
    # the in-loop LN of a raw projection: W_ih was row-centred for it (driver._project), and
    # W_hh is too, so the native step computes no means (``centred_rows``)
    w_hh = cell.weight_hh if lnx is None or ln is None else centred_rows(cell.weight_hh)
    args = (xp, bias, h0, c0, w_hh, cell.weight_ph, cell.weight_hr,
            None if ln is None else ln[0], None if lnc is None else lnc[0],
            None if lnc is None else lnc[1], rec_mask, zh, zc)
    lnx_w = None if lnx is None else lnx[0]
    keep = needs_grad(*args, lnx_w)
    if (project is not None or xin is not None) and keep:
        raise RuntimeError("run_lstm: project / xin are inference paths; a gradient is needed.")
    if project is not None or xin is not None:
        y, hn, cn = lstm_native.forward(SimpleNamespace(), *args, sizes, lengths, False, lnx_w,
                                        project, lowp=lowp, xin=xin)
    else:
        y, hn, cn = FusedLSTM.apply(*args, sizes, lengths, keep, lnx_w, lowp)
    return y.transpose(0, 1), (hn, cn)
