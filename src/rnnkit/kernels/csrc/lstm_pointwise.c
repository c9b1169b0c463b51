/* rnnkit engine: fused pointwise LSTM step (forward and backward), float and double.
 *
 * Plain C, no torch headers: compiled on first use by the system C compiler into a cached
 * shared library and called through ctypes (rnnkit/kernels/engine/native.py). The GEMMs stay
 * in torch; this file does, per step and per running row, everything between two GEMMs:
 * gate activations, peepholes, the cell update, LN over c, tanh, zoneout, and in backward the
 * matching derivatives. Each row is processed as a few simple passes over 4 KB that stay in
 * L1 (branch-free inner loops vectorise; per-element flag tests did not). A context struct
 * holds base pointers and strides, so each step is one call with (ctx, t, n).
 */
#include <math.h>
#include <stdint.h>

typedef struct { void *p; int64_t ts, rs; } arr;   /* base, time stride, row stride */

typedef struct {
    int64_t H, flags;
    double zcv, zhv, eps;
    arr g, c, cn, tc, out, y, h0, c0, zc, zh, m, mu, rs, x;
    void *peep, *lnw, *lnb, *xb;
    /* backward */
    arr acc, dy, dg, gc, dhh;
    void *dlnw, *dlnb;
    /* LN over the recurrent product (LNH): gain, saved x-hat / rstd, d of the raw product;
     * optional in-step gradient sums (NULL: not wanted) */
    arr r, rs4, dr;
    void *lnhw, *dlnhw, *dpeep, *dbias;
    /* LNX: LN without affine bias over the input projection row x, gain lnxw (its bias is
     * folded into xb) -- no normalised (T, B, 4H) copy of the projection is ever made.
     * With LNX, x and (with LNH) hw come from row-centred weights (engine/_common.centred_rows):
     * their rows have mean 0 by construction, so the statistics are one pass of squares.
     * Training saves its mean / rstd in mx / sx, and backward turns dg into d(raw x) in place
     * at the end of the row, summing d lnxw into dlnxw. */
    void *lnxw;
    int64_t xt0;   /* x holds steps [xt0, ...): inference projects the input chunk by chunk */
    arr mx, sx;
    void *dlnxw;
    /* inference with the input joined to the step GEMM (no PROJ): each row also writes the
     * next step's GEMM input [x_{t+1} | h_t ⊙ m] into anext (row stride I + H), x read from
     * xa (steps < nsteps) -- two torch copies per step fewer */
    arr xa;
    void *anext;
    int64_t I, nsteps;
    int64_t nthreads;   /* torch.get_num_threads() of the caller (rnnkit_par.h) */
} lstm_ctx;

enum { ZC = 1, ZC_MASK = 2, ZH = 4, ZH_MASK = 8, PEEP = 16, LNC = 32, PROJ = 64, MASK = 128,
       LNH = 256, LNX = 512, KEEP = 1024 };

/* zoneout masks are bool (one byte per element): strides in bytes */
static inline const uint8_t *at_u8(const arr *a, int64_t t, int64_t r) {
    return (const uint8_t *)a->p + t * a->ts + r * a->rs;
}

#include "rnnkit_exp.h"
#include "rnnkit_matvec.h"
#include "rnnkit_norm.h"
#include "rnnkit_par.h"

#define DEFINE(T, SFX) \
static inline T *at_##SFX(const arr *a, int64_t t, int64_t r) { \
    return (T *)a->p + t * a->ts + r * a->rs; \
} \
static void lerp_##SFX(const T *a, const T *b, const uint8_t *z, T zv, T *dst, int64_t n) { \
    if (z) { _Pragma("GCC ivdep") for (int64_t j = 0; j < n; ++j) \
                 dst[j] = a[j] + z[j] * (b[j] - a[j]); } \
    else { _Pragma("GCC ivdep") for (int64_t j = 0; j < n; ++j) \
               dst[j] = a[j] + zv * (b[j] - a[j]); } \
} \
 \
/* One unit j of the cell update from the four pre-activations in g: the activated gates \
 * (o before tanh c) and the new c, from c_{t-1} = c0 (+ peepholes). */ \
static inline __attribute__((always_inline)) T lstm_unit4_##SFX( \
        T i, T f, T gp, T o, const T *restrict pp, int64_t H, int64_t j, T c0, const int peep, \
        T *gi, T *gf, T *gg, T *go) { \
    if (peep) { i += pp[j] * c0; f += pp[H + j] * c0; } \
    *gi = rk_sig_##SFX(i); *gf = rk_sig_##SFX(f); *gg = rk_tanh_##SFX(gp); \
    const T c = *gf * c0 + *gi * *gg; \
    if (peep) o += pp[2 * H + j] * c; \
    *go = rk_sig_##SFX(o); \
    return c; \
} \
static inline __attribute__((always_inline)) T lstm_unit_##SFX( \
        const T *g, const T *restrict pp, int64_t H, int64_t j, T c0, const int peep, \
        T *gi, T *gf, T *gg, T *go) { \
    return lstm_unit4_##SFX(g[j], g[H + j], g[2 * H + j], g[3 * H + j], pp, H, j, c0, peep, \
                            gi, gf, gg, go); \
} \
 \
/* The cell update of row r after the gates pass, in one pass over the H units (no LNC): \
 * per unit the four pre-activations in g, the peepholes, both activations, c, tanh c and h \
 * stay in registers. peep / keep are constants at each call site, so each combination \
 * compiles to its own branch-free vector loop (a runtime test inside it stops gcc from \
 * vectorising it). keep (training) stores the activated gates over g and tanh c in tc for \
 * backward. cp may be the same memory as cn (inference updates c in one row): each unit's cp \
 * is read before its cn is written. */ \
static inline __attribute__((always_inline)) void lstm_cell_##SFX( \
        const lstm_ctx *k, int64_t t, int64_t r, T *restrict g, const T *cp, \
        const int peep, const int keep) { \
    const int64_t H = k->H; \
    const T *restrict pp = (const T *)k->peep; \
    T *cn = at_##SFX(&k->cn, t, r), *restrict tc = at_##SFX(&k->tc, t, r); \
    T *restrict out = at_##SFX(&k->out, t, r); \
    _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) { \
        T gi, gf, gg, go; \
        const T c = lstm_unit_##SFX(g, pp, H, j, cp[j], peep, &gi, &gf, &gg, &go); \
        const T th = rk_tanh_##SFX(c); \
        if (keep) { g[j] = gi; g[H + j] = gf; g[2 * H + j] = gg; g[3 * H + j] = go; tc[j] = th; } \
        cn[j] = c; \
        out[j] = go * th; \
    } \
} \
 \
/* The same with LN over c (LNC): a first register pass up to c and o (the activated gates \
 * stored over g, as backward and the second pass read them), the row statistics of c, and a \
 * second pass for tanh(LN(c)) and h. */ \
static inline __attribute__((always_inline)) void lstm_cell_lnc_##SFX( \
        const lstm_ctx *k, int64_t t, int64_t r, T *restrict g, const T *cp, const int peep) { \
    const int64_t H = k->H; \
    const T *restrict pp = (const T *)k->peep; \
    const T *restrict lw = (const T *)k->lnw, *restrict lb = (const T *)k->lnb; \
    T *cn = at_##SFX(&k->cn, t, r), *restrict tc = at_##SFX(&k->tc, t, r); \
    T *restrict out = at_##SFX(&k->out, t, r); \
    _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) { \
        T gi, gf, gg, go; \
        const T c = lstm_unit_##SFX(g, pp, H, j, cp[j], peep, &gi, &gf, &gg, &go); \
        g[j] = gi; g[H + j] = gf; g[2 * H + j] = gg; g[3 * H + j] = go; \
        cn[j] = c; \
    } \
    T mu, rs; \
    rk_ln_stats_##SFX(cn, H, k->eps, &mu, &rs); \
    *at_##SFX(&k->mu, t, r) = mu; *at_##SFX(&k->rs, t, r) = rs; \
    _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) { \
        const T th = rk_tanh_##SFX((cn[j] - mu) * rs * lw[j] + lb[j]); \
        tc[j] = th; out[j] = g[3 * H + j] * th; \
    } \
} \
 \
/* The whole row of a layer-norm LSTM (LNH + LNX + LNC, row-centred products, bias xb) \
 * after the two rstds: per unit, the four pre-activations \
 *     pre_q = w_q rsw lnhw_q + x_q rsx lnxw_q + xb_q        (q = j, H + j, 2H + j, 3H + j) \
 * go straight into the cell update -- no gates pass and no pre-activation row in memory -- \
 * and the sum of c for LN over c rides along; then one pass for var(c) and one for \
 * h = o tanh(LN(c)). keep (training) also stores the x-hat of w (for backward) and the \
 * activated gates; inference stores o only (the last pass reads it). */ \
static inline __attribute__((always_inline)) void lstm_ln_row_##SFX( \
        const lstm_ctx *k, int64_t t, int64_t r, T *restrict g, const T *restrict w, \
        const T *restrict x, const T *cp, T rsx, T rsw, const int peep, const int keep) { \
    const int64_t H = k->H; \
    const T *restrict pp = (const T *)k->peep, *restrict xb = (const T *)k->xb; \
    const T *restrict lw4 = (const T *)k->lnhw, *restrict lx = (const T *)k->lnxw; \
    const T *restrict lw = (const T *)k->lnw, *restrict lb = (const T *)k->lnb; \
    T *restrict xh = keep ? at_##SFX(&k->r, t, r) : 0; \
    T *cn = at_##SFX(&k->cn, t, r), *restrict tc = at_##SFX(&k->tc, t, r); \
    T *restrict out = at_##SFX(&k->out, t, r); \
    T s = 0; \
    _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) { \
        T pre[4]; \
        for (int q = 0; q < 4; ++q) { \
            const int64_t e = q * H + j; \
            const T v = w[e] * rsw; \
            if (keep) xh[e] = v; \
            pre[q] = v * lw4[e] + x[e] * rsx * lx[e] + xb[e]; \
        } \
        T gi, gf, gg, go; \
        const T c = lstm_unit4_##SFX(pre[0], pre[1], pre[2], pre[3], pp, H, j, cp[j], peep, \
                                     &gi, &gf, &gg, &go); \
        if (keep) { g[j] = gi; g[H + j] = gf; g[2 * H + j] = gg; } \
        g[3 * H + j] = go; \
        cn[j] = c; \
        s += c; \
    } \
    if (keep) *at_##SFX(&k->rs4, t, r) = rsw; \
    const T mu = s / (T)H; \
    T v = 0; \
    for (int64_t j = 0; j < H; ++j) { const T d = cn[j] - mu; v += d * d; } \
    const T rs = (T)1 / (T)sqrt((double)(v / (T)H) + k->eps); \
    *at_##SFX(&k->mu, t, r) = mu; *at_##SFX(&k->rs, t, r) = rs; \
    _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) { \
        const T th = rk_tanh_##SFX((cn[j] - mu) * rs * lw[j] + lb[j]); \
        tc[j] = th; out[j] = g[3 * H + j] * th; \
    } \
} \
  \
/* g = [LN](w) + [LN](x) (+ xb): the gate pre-activations of row r, in one pass over the row \
 * after the statistics. lx: the input LN's gain (LNX; its mean / rstd mux, rsx), or NULL. */ \
static inline void lstm_gates_##SFX(const lstm_ctx *k, int64_t t, int64_t r, T *restrict g, \
                                    const T *restrict w, const T *restrict x, \
                                    const T *restrict lx, T mux, T rsx, \
                                    const int have_w, T muw, T rsw) { \
    const int64_t G = 4 * k->H, fl = k->flags; \
    const T *restrict xb = (const T *)k->xb; \
    if (fl & LNH) { \
        const T *restrict lw4 = (const T *)k->lnhw; \
        T mu = muw, rs = rsw; \
        if (!have_w) rk_ln_stats_##SFX(w, G, k->eps, &mu, &rs); \
        if (k->r.p) { /* training: the x-hat saved for backward, in the same pass */ \
            T *restrict xh = at_##SFX(&k->r, t, r); \
            *at_##SFX(&k->rs4, t, r) = rs; \
            if (lx) { for (int64_t j = 0; j < G; ++j) { \
                          const T v = (w[j] - mu) * rs; xh[j] = v; \
                          g[j] = v * lw4[j] + (x[j] - mux) * rsx * lx[j] + (xb ? xb[j] : (T)0); } } \
            else { for (int64_t j = 0; j < G; ++j) { \
                       const T v = (w[j] - mu) * rs; xh[j] = v; \
                       g[j] = v * lw4[j] + x[j] + (xb ? xb[j] : (T)0); } } \
        } else if (lx) { for (int64_t j = 0; j < G; ++j) \
                      g[j] = (w[j] - mu) * rs * lw4[j] + (x[j] - mux) * rsx * lx[j] \
                             + (xb ? xb[j] : (T)0); } \
        else if (xb) { for (int64_t j = 0; j < G; ++j) \
                           g[j] = (w[j] - mu) * rs * lw4[j] + x[j] + xb[j]; } \
        else { for (int64_t j = 0; j < G; ++j) g[j] = (w[j] - mu) * rs * lw4[j] + x[j]; } \
    } else if (lx) { for (int64_t j = 0; j < G; ++j) \
                         g[j] = w[j] + (x[j] - mux) * rsx * lx[j] + (xb ? xb[j] : (T)0); } \
    else if (xb) for (int64_t j = 0; j < G; ++j) g[j] = w[j] + x[j] + xb[j]; \
    else for (int64_t j = 0; j < G; ++j) g[j] = w[j] + x[j]; \
} \
 \
/* hw: (n, 4H) contiguous h_in W_hh^T (or its layer norm) of this step. */ \
static void lstm_fwd_rows_##SFX(const lstm_ctx *k, int64_t t, int64_t r0, int64_t r1, \
                                const T *hw) { \
    const int64_t H = k->H, fl = k->flags; \
    for (int64_t r = r0; r < r1; ++r) { \
        T *restrict g = at_##SFX(&k->g, t, r); \
        T *cn = at_##SFX(&k->cn, t, r), *out = at_##SFX(&k->out, t, r); \
        const T *cp = t ? at_##SFX(&k->c, t - 1, r) : at_##SFX(&k->c0, 0, r); \
        int fused = 0; /* the LN LSTM row: gates and cell in one function */ \
        { \
            const T *restrict x = at_##SFX(&k->x, t - k->xt0, r), *restrict w = hw + r * 4 * H; \
            if ((fl & (LNX | LNH | LNC)) == (LNX | LNH | LNC) && k->xb) { \
                T rs, rsw; \
                rk_ln_rs2_##SFX(x, w, 4 * H, k->eps, &rs, &rsw); \
                if (k->mx.p) { *at_##SFX(&k->mx, t, r) = 0; *at_##SFX(&k->sx, t, r) = rs; } \
                switch ((fl & PEEP ? 2 : 0) + (fl & KEEP ? 1 : 0)) { \
                case 0: lstm_ln_row_##SFX(k, t, r, g, w, x, cp, rs, rsw, 0, 0); break; \
                case 1: lstm_ln_row_##SFX(k, t, r, g, w, x, cp, rs, rsw, 0, 1); break; \
                case 2: lstm_ln_row_##SFX(k, t, r, g, w, x, cp, rs, rsw, 1, 0); break; \
                case 3: lstm_ln_row_##SFX(k, t, r, g, w, x, cp, rs, rsw, 1, 1); break; \
                } \
                fused = 1; \
            } else if (fl & LNX) { /* the input projection's LN, folded into the gates' pass */ \
                T rs, rsw = 1; /* row-centred: both rows have mean 0 */ \
                if (fl & LNH) rk_ln_rs2_##SFX(x, w, 4 * H, k->eps, &rs, &rsw); \
                else rk_ln_rs_##SFX(x, 4 * H, k->eps, &rs); \
                if (k->mx.p) { *at_##SFX(&k->mx, t, r) = 0; *at_##SFX(&k->sx, t, r) = rs; } \
                lstm_gates_##SFX(k, t, r, g, w, x, (const T *)k->lnxw, (T)0, rs, \
                                 (fl & LNH) != 0, (T)0, rsw); \
            } else lstm_gates_##SFX(k, t, r, g, w, x, 0, (T)0, (T)1, 0, (T)0, (T)1); \
        } \
        if (fused) {} \
        else if (!(fl & LNC)) { \
            switch ((fl & PEEP ? 2 : 0) + (fl & KEEP ? 1 : 0)) { \
            case 0: lstm_cell_##SFX(k, t, r, g, cp, 0, 0); break; \
            case 1: lstm_cell_##SFX(k, t, r, g, cp, 0, 1); break; \
            case 2: lstm_cell_##SFX(k, t, r, g, cp, 1, 0); break; \
            case 3: lstm_cell_##SFX(k, t, r, g, cp, 1, 1); break; \
            } \
        } else if (fl & PEEP) lstm_cell_lnc_##SFX(k, t, r, g, cp, 1); \
        else lstm_cell_lnc_##SFX(k, t, r, g, cp, 0); \
        if ((fl & ZH) && !(fl & PROJ)) { \
            const T *hp = t ? at_##SFX(&k->y, t - 1, r) : at_##SFX(&k->h0, 0, r); \
            lerp_##SFX(out, hp, (fl & ZH_MASK) ? at_u8(&k->zh, t, r) : 0, (T)k->zhv, out, H); \
        } \
        if (fl & ZC) \
            lerp_##SFX(cn, cp, (fl & ZC_MASK) ? at_u8(&k->zc, t, r) : 0, (T)k->zcv, \
                       at_##SFX(&k->c, t, r), H); \
        if (k->anext && t + 1 < k->nsteps) { \
            T *restrict an = (T *)k->anext + r * (k->I + H); \
            const T *restrict xn = at_##SFX(&k->xa, t + 1, r); \
            const T *m = (fl & MASK) ? at_##SFX(&k->m, 0, r) : 0; \
            for (int64_t j = 0; j < k->I; ++j) an[j] = xn[j]; \
            if (t + 2 < k->nsteps) { /* x rows are far apart (batch-first x): fetch early */ \
                const char *pf = (const char *)at_##SFX(&k->xa, t + 2, r); \
                for (int64_t q = 0; q < k->I * (int64_t)sizeof(T); q += 64) \
                    __builtin_prefetch(pf + q); \
            } \
            if (m) { _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) an[k->I + j] = out[j] * m[j]; } \
            else { for (int64_t j = 0; j < H; ++j) an[k->I + j] = out[j]; } \
        } \
    } \
} \
 \
/* Backward through the cell update of row r (no LNC) in one register pass per unit, from \
 * dh = dL/dh_t (after the h zoneout split): d of the four pre-activations into dg (which may \
 * be g itself: each unit's four gates are read before its four gradients are written), the \
 * carried dc into gc, and the peephole gradient sums. peep: 0 none, 1 peepholes, 2 also their \
 * gradient sums; zc: 0 none, 1 bool mask, 2 constant. */ \
static inline __attribute__((always_inline)) void lstm_cell_bwd_##SFX( \
        const lstm_ctx *k, int64_t t, int64_t r, const T *restrict dh, const T *g, T *dg, \
        const T *restrict cp, const T *restrict cn, const T *restrict tc, T *restrict gc, \
        const int peep, const int zc) { \
    const int64_t H = k->H; \
    const T *restrict pp = (const T *)k->peep; \
    T *restrict dpp = (T *)k->dpeep; \
    const uint8_t *restrict zm = zc == 1 ? at_u8(&k->zc, t, r) : 0; \
    const T zcv = (T)k->zcv; \
    _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) { \
        const T d = dh[j], ij = g[j], fj = g[H + j], gj = g[2 * H + j], oj = g[3 * H + j]; \
        const T tj = tc[j], c0 = cp[j]; \
        const T dout = d * tj * oj * ((T)1 - oj); \
        T dc = d * oj * ((T)1 - tj * tj), gn = 0; \
        if (zc) { const T gv = gc[j], a = gv * (zc == 1 ? (T)zm[j] : zcv); dc += gv - a; gn = a; } \
        else dc += gc[j]; \
        if (peep) dc += dout * pp[2 * H + j]; \
        const T di = dc * gj * ij * ((T)1 - ij), df = dc * c0 * fj * ((T)1 - fj); \
        const T dgg = dc * ij * ((T)1 - gj * gj); \
        gn += dc * fj; \
        if (peep) gn += di * pp[j] + df * pp[H + j]; \
        gc[j] = gn; \
        dg[j] = di; dg[H + j] = df; dg[2 * H + j] = dgg; dg[3 * H + j] = dout; \
        if (peep == 2) { dpp[j] += di * c0; dpp[H + j] += df * c0; dpp[2 * H + j] += dout * cn[j]; } \
    } \
} \
 \
/* A: (a_rows, H) contiguous d(h_in) from the step after (rows >= a_rows: zero).
 * dg may be the same memory as g, and dr as r (training without retain_graph: the gradient
 * overwrites what only this step reads): every element is read before it is written. */ \
static void lstm_bwd_rows_##SFX(const lstm_ctx *k, int64_t t, int64_t r0, int64_t r1, \
                                const T *A, int64_t a_rows) { \
    const int64_t H = k->H, fl = k->flags; \
    const T *pp = (const T *)k->peep, *lw = (const T *)k->lnw; \
    T *dlw = (T *)k->dlnw, *dlb = (T *)k->dlnb, *dpp = (T *)k->dpeep, *dxb = (T *)k->dbias; \
    for (int64_t r = r0; r < r1; ++r) { \
        const T *g = at_##SFX(&k->g, t, r), *cn = at_##SFX(&k->cn, t, r); \
        const T *i = g, *f = g + H, *gg = g + 2 * H, *o = g + 3 * H; \
        const T *tc = at_##SFX(&k->tc, t, r); \
        const T *cp = t ? at_##SFX(&k->c, t - 1, r) : at_##SFX(&k->c0, 0, r); \
        T *dg = at_##SFX(&k->dg, t, r), *gc = at_##SFX(&k->gc, 0, r); \
        T *di = dg, *df = dg + H, *dgg = dg + 2 * H, *dout = dg + 3 * H; \
        T *dh = at_##SFX(&k->dhh, 0, r); \
        if (!(fl & PROJ)) { \
            T *acc = at_##SFX(&k->acc, 0, r); \
            const T *dy = at_##SFX(&k->dy, t, r); \
            if (r >= a_rows) { \
                _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) dh[j] = acc[j] + dy[j]; \
            } else if (fl & MASK) { \
                const T *Ar = A + r * H; \
                const T *m = at_##SFX(&k->m, 0, r); \
                _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) dh[j] = Ar[j] * m[j] + acc[j] + dy[j]; \
            } else { \
                const T *Ar = A + r * H; \
                _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) dh[j] = Ar[j] + acc[j] + dy[j]; \
            } \
            if (fl & ZH) { \
                const uint8_t *z = (fl & ZH_MASK) ? at_u8(&k->zh, t, r) : 0; \
                const T zv = (T)k->zhv; \
                _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) { \
                    T a = dh[j] * (z ? z[j] : zv); acc[j] = a; dh[j] -= a; } \
            } else { \
                for (int64_t j = 0; j < H; ++j) acc[j] = 0; \
            } \
        } \
        if (!(fl & LNC)) { \
            const int pe = (fl & PEEP) ? (dpp ? 2 : 1) : 0; \
            const int zc = (fl & ZC) ? ((fl & ZC_MASK) ? 1 : 2) : 0; \
            T *dgr = at_##SFX(&k->dg, t, r); \
            switch (3 * pe + zc) { /* each case its own constant-folded loop */ \
            case 0: lstm_cell_bwd_##SFX(k, t, r, dh, g, dgr, cp, cn, tc, gc, 0, 0); break; \
            case 1: lstm_cell_bwd_##SFX(k, t, r, dh, g, dgr, cp, cn, tc, gc, 0, 1); break; \
            case 2: lstm_cell_bwd_##SFX(k, t, r, dh, g, dgr, cp, cn, tc, gc, 0, 2); break; \
            case 3: lstm_cell_bwd_##SFX(k, t, r, dh, g, dgr, cp, cn, tc, gc, 1, 0); break; \
            case 4: lstm_cell_bwd_##SFX(k, t, r, dh, g, dgr, cp, cn, tc, gc, 1, 1); break; \
            case 5: lstm_cell_bwd_##SFX(k, t, r, dh, g, dgr, cp, cn, tc, gc, 1, 2); break; \
            case 6: lstm_cell_bwd_##SFX(k, t, r, dh, g, dgr, cp, cn, tc, gc, 2, 0); break; \
            case 7: lstm_cell_bwd_##SFX(k, t, r, dh, g, dgr, cp, cn, tc, gc, 2, 1); break; \
            case 8: lstm_cell_bwd_##SFX(k, t, r, dh, g, dgr, cp, cn, tc, gc, 2, 2); break; \
            } \
        } else { \
        /* LNC: the LN's backward needs the whole row of d(tanh input) first */ \
        /* dout = d o_pre (over o); dh becomes d(c_new) through tanh (and LN). */ \
        _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) { \
            const T d = dh[j], oj = o[j], tj = tc[j]; \
            dout[j] = d * tj * oj * ((T)1 - oj); \
            dh[j] = d * oj * ((T)1 - tj * tj); \
        } \
        if (fl & LNC) { \
            const T mu = *at_##SFX(&k->mu, t, r), rs = *at_##SFX(&k->rs, t, r); \
            rk_ln_bwd_##SFX(dh, cn, mu, rs, rs, lw, dlw, dlb, dh, H); \
        } \
        /* dh += carried dc (after zoneout); gc <- the zoneout share for c_{t-1} */ \
        if (fl & ZC) { \
            const uint8_t *z = (fl & ZC_MASK) ? at_u8(&k->zc, t, r) : 0; \
            const T zv = (T)k->zcv; \
            _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) { \
                T a = gc[j] * (z ? z[j] : zv); dh[j] += gc[j] - a; gc[j] = a; } \
        } else { \
            _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) { dh[j] += gc[j]; gc[j] = 0; } \
        } \
        if (fl & PEEP) _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) dh[j] += dout[j] * pp[2 * H + j]; \
        _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) { \
            const T dc = dh[j], ij = i[j], fj = f[j], gj = gg[j]; \
            di[j] = dc * gj * ij * ((T)1 - ij); \
            df[j] = dc * cp[j] * fj * ((T)1 - fj); \
            dgg[j] = dc * ij * ((T)1 - gj * gj); \
            gc[j] += dc * fj; \
        } \
        if (fl & PEEP) _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) gc[j] += di[j] * pp[j] + df[j] * pp[H + j]; \
        if (dpp) _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) { \
            dpp[j] += di[j] * cp[j]; dpp[H + j] += df[j] * cp[j]; dpp[2 * H + j] += dout[j] * cn[j]; } \
        } \
        if (dxb) _Pragma("GCC ivdep") for (int64_t j = 0; j < 4 * H; ++j) dxb[j] += dg[j]; \
        if (fl & LNH) { \
            const T *xh = at_##SFX(&k->r, t, r), *lw4 = (const T *)k->lnhw; \
            const T rs = *at_##SFX(&k->rs4, t, r); \
            T *dr = at_##SFX(&k->dr, t, r), *dl4 = (T *)k->dlnhw; \
            rk_ln_bwd_##SFX(dg, xh, (T)0, (T)1, rs, lw4, dl4, 0, dr, 4 * H); \
        } \
        if (fl & LNX) { /* last: dg becomes d(raw x) (the recurrent GEMM reads dr, see LNH) */ \
            const T *x = at_##SFX(&k->x, t, r), *lx = (const T *)k->lnxw; \
            const T mu = *at_##SFX(&k->mx, t, r), rs = *at_##SFX(&k->sx, t, r); \
            rk_ln_bwd_##SFX(dg, x, mu, rs, rs, lx, (T *)k->dlnxw, 0, dg, 4 * H); \
        } \
    } \
} \
 \
/* hw: (n, 4H) contiguous h_in W_hh^T (or its layer norm) of this step; rows split across \
 * threads (rnnkit_par.h). */ \
void lstm_fwd_##SFX(const lstm_ctx *k, int64_t t, int64_t n, const T *hw) { \
    const int rk_nt = rk_nthreads(k->nthreads, n, 4 * k->H); \
    if (rk_nt <= 1) { lstm_fwd_rows_##SFX(k, t, 0, n, hw); return; } \
    RK_PARALLEL { \
        int64_t r0, r1; \
        rk_block(n, rk_tid(), rk_team(), &r0, &r1); \
        lstm_fwd_rows_##SFX(k, t, r0, r1, hw); \
    } \
} \
 \
/* The in-step gradient sums (LN gains / biases, peepholes, bias) by chunks of rows: each chunk \
 * sums into its own zeroed partial through a copy of the context pointing there, then the \
 * partials are added in chunk order (the same bits for any thread count). */ \
void lstm_bwd_##SFX(const lstm_ctx *k, int64_t t, int64_t n, const T *A, int64_t a_rows) { \
    const int64_t H = k->H; \
    const int rk_nt = rk_nthreads(k->nthreads, n, 4 * H); \
    void *const sums[6] = {k->dlnw, k->dlnb, k->dpeep, k->dbias, \
                           (k->flags & LNH) ? k->dlnhw : 0, (k->flags & LNX) ? k->dlnxw : 0}; \
    const int64_t len[6] = {H, H, 3 * H, 4 * H, 4 * H, 4 * H}; \
    int64_t S = 0; \
    for (int q = 0; q < 6; ++q) S += sums[q] ? len[q] : 0; \
    const int64_t nc = S ? rk_nchunks(n) : 1; \
    T *buf = nc > 1 ? (T *)rk_scratch((size_t)(nc * S) * sizeof(T)) : 0; \
    if (!buf) { /* no sums to split (or no memory for the partials: one thread, in order) */ \
        if (S || rk_nt <= 1) { lstm_bwd_rows_##SFX(k, t, 0, n, A, a_rows); return; } \
        RK_PARALLEL { \
            int64_t r0, r1; \
            rk_block(n, rk_tid(), rk_team(), &r0, &r1); \
            lstm_bwd_rows_##SFX(k, t, r0, r1, A, a_rows); \
        } \
        return; \
    } \
    memset(buf, 0, (size_t)(nc * S) * sizeof(T)); \
    RK_PARALLEL { \
        int64_t c0, c1; \
        rk_block(nc, rk_tid(), rk_team(), &c0, &c1); \
        for (int64_t c = c0; c < c1; ++c) { \
            lstm_ctx kc = *k; \
            void **dst[6] = {&kc.dlnw, &kc.dlnb, &kc.dpeep, &kc.dbias, &kc.dlnhw, &kc.dlnxw}; \
            T *b = buf + c * S; \
            for (int q = 0; q < 6; ++q) if (sums[q]) { *dst[q] = b; b += len[q]; } \
            int64_t r0, r1; \
            rk_block(n, c, nc, &r0, &r1); \
            lstm_bwd_rows_##SFX(&kc, t, r0, r1, A, a_rows); \
        } \
    } \
    int64_t off = 0; \
    for (int q = 0; q < 6; ++q) { \
        if (!sums[q]) continue; \
        T *d = (T *)sums[q]; \
        for (int64_t j = 0; j < len[q]; ++j) { \
            T v = 0; \
            for (int64_t c = 0; c < nc; ++c) v += buf[c * S + off + j]; \
            d[j] += v; \
        } \
        off += len[q]; \
    } \
}

DEFINE(float, f32)
DEFINE(double, f64)

/* Whole-sequence loops for small problems (B=1 streaming sizes): the recurrent product is
 * done here too, so one call runs all steps and no per-step Python call is left. No PROJ.
 *
 * seq_fwd: w = W_hh (4H, H) row-major; hw: (B, 4H) scratch; sizes: running rows per step.
 * seq_bwd: w = W_hh (4H, H) row-major; A: (B, H) scratch for d h_in of the step after; the
 *          rows of A still valid after step 0 are returned (the caller adds them to dh0). */
#define DEFINE_SEQ(T, SFX) \
void lstm_seq_fwd_##SFX(const lstm_ctx *k, int64_t steps, const int64_t *sizes, const T *w, \
                        T *hw) { \
    const int64_t H = k->H, G = 4 * H; \
    for (int64_t t = 0; t < steps; ++t) { \
        const int64_t n = sizes[t]; \
        if (n == 0) break; \
        for (int64_t r = 0; r < n; ++r) { \
            const T *hp = t ? at_##SFX(&k->y, t - 1, r) : at_##SFX(&k->h0, 0, r); \
            const T *m = (k->flags & MASK) ? at_##SFX(&k->m, 0, r) : 0; \
            T *restrict out = hw + r * G; \
            for (int64_t j = 0; j < G; ++j) { /* a dot product per gate row of W_hh */ \
                const T *restrict wr = w + j * H; \
                T acc = 0; \
                if (m) { for (int64_t q = 0; q < H; ++q) acc += wr[q] * hp[q] * m[q]; } \
                else { for (int64_t q = 0; q < H; ++q) acc += wr[q] * hp[q]; } \
                out[j] = acc; \
            } \
        } \
        lstm_fwd_##SFX(k, t, n, hw); \
    } \
} \
 \
int64_t lstm_seq_bwd_##SFX(const lstm_ctx *k, int64_t steps, const int64_t *sizes, const T *w, \
                           T *A) { \
    const int64_t H = k->H, G = 4 * H; \
    const arr *src = (k->flags & LNH) ? &k->dr : &k->dg; \
    int64_t a_rows = 0; \
    for (int64_t t = steps - 1; t >= 0; --t) { \
        const int64_t n = sizes[t]; \
        if (n == 0) continue; \
        lstm_bwd_##SFX(k, t, n, A, a_rows < n ? a_rows : n); \
        for (int64_t r = 0; r < n; ++r) \
            rk_gemv_t_##SFX(w, at_##SFX(src, t, r), A + r * H, G, H); \
        a_rows = n; \
    } \
    return a_rows; \
}

DEFINE_SEQ(float, f32)
DEFINE_SEQ(double, f64)
