/* rnnkit engine: fused pointwise reset-after GRU step (forward and backward), float and double.
 * Same scheme as lstm_pointwise.c: the GEMM stays in torch, one call per step.
 * Forward: r, z = σ(x_rz + a_rz); n = tanh(x_n + r ⊙ a_n); h = n + z ⊙ (h_{t-1} - n);
 * zoneout h = lerp(h, h_{t-1}, d). hw comes in as h_in W_hhᵀ + b_hh, or (G_LN) as the raw
 * h_in W_hhᵀ, and the step makes a = LN(hw) ⊙ lnw + lnb itself (in place in hw), keeping the
 * x-hat in r and 1/σ in rs3 for backward, which writes ds = d(raw) (ds may be r itself).
 */
#include <math.h>
#include <stdint.h>

typedef struct { void *p; int64_t ts, rs; } garr;

typedef struct {
    int64_t H, flags;
    double zhv;
    garr x, rz, nn, an, y, h0, zh, m;
    garr acc, dy, dx, da;
    garr r, rs3, ds;                  /* G_LN: saved x-hat, rstd, and d of the raw product */
    void *lnw, *lnb, *dlnw, *dlnb;    /* G_LN: gain, bias (NULL: none), their gradient sums */
    double eps;
    /* G_LNX: LN over the input projection row x (gain lnxw, bias lnxb or NULL) inside the
     * step, written where r, z, n go; training keeps mean / rstd in mx / sx, and backward
     * turns dx into d(raw x) at the end of the row, summing dlnxw / dlnxb */
    garr mx, sx;
    void *lnxw, *lnxb, *dlnxw, *dlnxb;
    int64_t nthreads;   /* torch.get_num_threads() of the caller (rnnkit_par.h) */
} gru_ctx;

enum { G_ZH = 4, G_ZH_MASK = 8, G_MASK = 128, G_LN = 256, G_LNX = 512 };

/* zoneout masks are bool (one byte per element): strides in bytes */
static inline const uint8_t *gat_u8(const garr *a, int64_t t, int64_t r) {
    return (const uint8_t *)a->p + t * a->ts + r * a->rs;
}

#include "rnnkit_exp.h"
#include "rnnkit_matvec.h"
#include "rnnkit_norm.h"
#include "rnnkit_par.h"

#define GDEFINE(T, SFX) \
static inline T *gat_##SFX(const garr *a, int64_t t, int64_t r) { \
    return (T *)a->p + t * a->ts + r * a->rs; \
} \
/* a = LN(w) ⊙ lnw + lnb over one row of 3H, in place; x-hat and rstd saved when r is set */ \
static void gru_ln_##SFX(const gru_ctx *k, int64_t t, int64_t r, T *w) { \
    const int64_t G = 3 * k->H; \
    const T *lw = (const T *)k->lnw, *lb = (const T *)k->lnb; \
    T mu, rs; \
    rk_ln_stats_##SFX(w, G, k->eps, &mu, &rs); \
    if (k->r.p) { \
        T *xh = gat_##SFX(&k->r, t, r); \
        _Pragma("GCC ivdep") for (int64_t j = 0; j < G; ++j) xh[j] = (w[j] - mu) * rs; \
        *gat_##SFX(&k->rs3, t, r) = rs; \
    } \
    if (lb) { _Pragma("GCC ivdep") for (int64_t j = 0; j < G; ++j) \
                  w[j] = (w[j] - mu) * rs * lw[j] + lb[j]; } \
    else { _Pragma("GCC ivdep") for (int64_t j = 0; j < G; ++j) w[j] = (w[j] - mu) * rs * lw[j]; } \
} \
static void gru_fwd_rows_##SFX(const gru_ctx *k, int64_t t, int64_t r0, int64_t r1, T *hw) { \
    const int64_t H = k->H, fl = k->flags; \
    for (int64_t r = r0; r < r1; ++r) { \
        const T *x = gat_##SFX(&k->x, t, r), *w = hw + r * 3 * H; \
        if (fl & G_LN) gru_ln_##SFX(k, t, r, hw + r * 3 * H); \
        T *rz = gat_##SFX(&k->rz, t, r), *nn = gat_##SFX(&k->nn, t, r); \
        T *an = gat_##SFX(&k->an, t, r), *y = gat_##SFX(&k->y, t, r); \
        const T *hp = t ? gat_##SFX(&k->y, t - 1, r) : gat_##SFX(&k->h0, 0, r); \
        const T *xrz = x, *xn = x + 2 * H; \
        if (fl & G_LNX) { /* the normalised x where r, z, n go; read there before written */ \
            const T *lw = (const T *)k->lnxw, *lb = (const T *)k->lnxb; \
            T mu, rs; \
            rk_ln_stats_##SFX(x, 3 * H, k->eps, &mu, &rs); \
            if (k->mx.p) { *gat_##SFX(&k->mx, t, r) = mu; *gat_##SFX(&k->sx, t, r) = rs; } \
            for (int64_t j = 0; j < 2 * H; ++j) rz[j] = (x[j] - mu) * rs * lw[j] + (lb ? lb[j] : 0); \
            for (int64_t j = 0; j < H; ++j) \
                nn[j] = (x[2 * H + j] - mu) * rs * lw[2 * H + j] + (lb ? lb[2 * H + j] : 0); \
            xrz = rz; xn = nn; \
        } \
        _Pragma("GCC ivdep") for (int64_t j = 0; j < 2 * H; ++j) \
            rz[j] = rk_sig_##SFX(xrz[j] + w[j]); \
        _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) { \
            an[j] = w[2 * H + j]; \
            T v = xn[j] + rz[j] * an[j]; \
            T nv = rk_tanh_##SFX(v); \
            nn[j] = nv; \
            y[j] = nv + rz[H + j] * (hp[j] - nv); \
        } \
        if (fl & G_ZH) { \
            const uint8_t *z = (fl & G_ZH_MASK) ? gat_u8(&k->zh, t, r) : 0; \
            const T zv = (T)k->zhv; \
            _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) \
                y[j] += (z ? z[j] : zv) * (hp[j] - y[j]); \
        } \
    } \
} \
/* dx may be the same memory as [rz | nn] (a one-shot backward): each element is read before \
 * it is written. G_LN: da (a row scratch then) goes through the LN backward into ds. */ \
static void gru_bwd_rows_##SFX(const gru_ctx *k, int64_t t, int64_t r0, int64_t r1, \
                               const T *A, int64_t a_rows) { \
    const int64_t H = k->H, fl = k->flags; \
    for (int64_t r = r0; r < r1; ++r) { \
        const T *rz = gat_##SFX(&k->rz, t, r), *nn = gat_##SFX(&k->nn, t, r); \
        const T *an = gat_##SFX(&k->an, t, r), *dy = gat_##SFX(&k->dy, t, r); \
        const T *hp = t ? gat_##SFX(&k->y, t - 1, r) : gat_##SFX(&k->h0, 0, r); \
        const T *m = (fl & G_MASK) ? gat_##SFX(&k->m, 0, r) : 0; \
        const uint8_t *z = (fl & G_ZH_MASK) ? gat_u8(&k->zh, t, r) : 0; \
        const T zv = (fl & G_ZH) ? (T)k->zhv : (T)0; \
        const T *Ar = r < a_rows ? A + r * H : 0; \
        T *acc = gat_##SFX(&k->acc, 0, r), *dx = gat_##SFX(&k->dx, t, r); \
        T *da = gat_##SFX(&k->da, t, r); \
        _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) { \
            T d = acc[j] + dy[j]; \
            if (Ar) d += m ? Ar[j] * m[j] : Ar[j]; \
            T a = d * (z ? z[j] : zv); \
            d -= a; \
            T rr = rz[j], zz = rz[H + j], nv = nn[j]; \
            T dz = d * (hp[j] - nv) * zz * ((T)1 - zz); \
            T dn = (d - d * zz) * ((T)1 - nv * nv); \
            T dr = dn * an[j] * rr * ((T)1 - rr); \
            dx[j] = dr; dx[H + j] = dz; dx[2 * H + j] = dn; \
            da[j] = dr; da[H + j] = dz; da[2 * H + j] = dn * rr; \
            acc[j] = a + d * zz; \
        } \
        if (fl & G_LN) /* ds may be the saved x-hat itself */ \
            rk_ln_bwd_##SFX(da, gat_##SFX(&k->r, t, r), (T)0, (T)1, *gat_##SFX(&k->rs3, t, r), \
                            (const T *)k->lnw, (T *)k->dlnw, (T *)k->dlnb, \
                            gat_##SFX(&k->ds, t, r), 3 * H); \
        if (fl & G_LNX) { /* last: dx becomes d(raw x) */ \
            const T mu = *gat_##SFX(&k->mx, t, r), rs = *gat_##SFX(&k->sx, t, r); \
            rk_ln_bwd_##SFX(dx, gat_##SFX(&k->x, t, r), mu, rs, rs, (const T *)k->lnxw, \
                            (T *)k->dlnxw, (T *)k->dlnxb, dx, 3 * H); \
        } \
    } \
} \
 \
/* rows split across threads (rnnkit_par.h) */ \
void gru_fwd_##SFX(const gru_ctx *k, int64_t t, int64_t n, T *hw) { \
    const int rk_nt = rk_nthreads(k->nthreads, n, 3 * k->H); \
    if (rk_nt <= 1) { gru_fwd_rows_##SFX(k, t, 0, n, hw); return; } \
    RK_PARALLEL { \
        int64_t r0, r1; \
        rk_block(n, rk_tid(), rk_team(), &r0, &r1); \
        gru_fwd_rows_##SFX(k, t, r0, r1, hw); \
    } \
} \
/* the LN gain / bias gradient sums by fixed chunks of rows, as lstm_bwd */ \
void gru_bwd_##SFX(const gru_ctx *k, int64_t t, int64_t n, const T *A, int64_t a_rows) { \
    const int64_t H3 = 3 * k->H; \
    const int rk_nt = rk_nthreads(k->nthreads, n, H3); \
    void *const sums[4] = {(k->flags & G_LN) ? k->dlnw : 0, (k->flags & G_LN) ? k->dlnb : 0, \
                           (k->flags & G_LNX) ? k->dlnxw : 0, (k->flags & G_LNX) ? k->dlnxb : 0}; \
    int64_t S = 0; \
    for (int q = 0; q < 4; ++q) S += sums[q] ? H3 : 0; \
    const int64_t nc = S ? rk_nchunks(n) : 1; \
    T *buf = nc > 1 ? (T *)rk_scratch((size_t)(nc * S) * sizeof(T)) : 0; \
    if (!buf) { \
        if (S || rk_nt <= 1) { gru_bwd_rows_##SFX(k, t, 0, n, A, a_rows); return; } \
        RK_PARALLEL { \
            int64_t r0, r1; \
            rk_block(n, rk_tid(), rk_team(), &r0, &r1); \
            gru_bwd_rows_##SFX(k, t, r0, r1, A, a_rows); \
        } \
        return; \
    } \
    memset(buf, 0, (size_t)(nc * S) * sizeof(T)); \
    RK_PARALLEL { \
        int64_t c0, c1; \
        rk_block(nc, rk_tid(), rk_team(), &c0, &c1); \
        for (int64_t c = c0; c < c1; ++c) { \
            gru_ctx kc = *k; \
            void **dst[4] = {&kc.dlnw, &kc.dlnb, &kc.dlnxw, &kc.dlnxb}; \
            T *b = buf + c * S; \
            for (int q = 0; q < 4; ++q) if (sums[q]) { *dst[q] = b; b += H3; } \
            int64_t r0, r1; \
            rk_block(n, c, nc, &r0, &r1); \
            gru_bwd_rows_##SFX(&kc, t, r0, r1, A, a_rows); \
        } \
    } \
    int64_t off = 0; \
    for (int q = 0; q < 4; ++q) { \
        if (!sums[q]) continue; \
        T *d = (T *)sums[q]; \
        for (int64_t j = 0; j < H3; ++j) { \
            T v = 0; \
            for (int64_t c = 0; c < nc; ++c) v += buf[c * S + off + j]; \
            d[j] += v; \
        } \
        off += H3; \
    } \
}

GDEFINE(float, f32)
GDEFINE(double, f64)

/* Whole-sequence loops for small problems, as in lstm_pointwise.c (no layer norm):
 * seq_fwd: w = W_hh (3H, H) row-major, hb = b_hh (3H) or NULL, hw: (B, 3H) scratch.
 * seq_bwd: w = W_hh (3H, H) row-major; A: (B, H) scratch; returns the valid rows of A. */
#define GDEFINE_SEQ(T, SFX) \
void gru_seq_fwd_##SFX(const gru_ctx *k, int64_t steps, const int64_t *sizes, const T *w, \
                       const T *hb, T *hw) { \
    const int64_t H = k->H, G = 3 * H; \
    for (int64_t t = 0; t < steps; ++t) { \
        const int64_t n = sizes[t]; \
        if (n == 0) break; \
        for (int64_t r = 0; r < n; ++r) { \
            const T *hp = t ? gat_##SFX(&k->y, t - 1, r) : gat_##SFX(&k->h0, 0, r); \
            const T *m = (k->flags & G_MASK) ? gat_##SFX(&k->m, 0, r) : 0; \
            T *restrict out = hw + r * G; \
            for (int64_t j = 0; j < G; ++j) { /* a dot product per gate row of W_hh */ \
                const T *restrict wr = w + j * H; \
                T acc = 0; \
                if (m) { for (int64_t q = 0; q < H; ++q) acc += wr[q] * hp[q] * m[q]; } \
                else { for (int64_t q = 0; q < H; ++q) acc += wr[q] * hp[q]; } \
                out[j] = hb ? acc + hb[j] : acc; \
            } \
        } \
        gru_fwd_##SFX(k, t, n, hw); \
    } \
} \
 \
int64_t gru_seq_bwd_##SFX(const gru_ctx *k, int64_t steps, const int64_t *sizes, const T *w, \
                          T *A) { \
    const int64_t H = k->H, G = 3 * H; \
    int64_t a_rows = 0; \
    for (int64_t t = steps - 1; t >= 0; --t) { \
        const int64_t n = sizes[t]; \
        if (n == 0) continue; \
        gru_bwd_##SFX(k, t, n, A, a_rows < n ? a_rows : n); \
        for (int64_t r = 0; r < n; ++r) \
            rk_gemv_t_##SFX(w, gat_##SFX(&k->da, t, r), A + r * H, G, H); \
        a_rows = n; \
    } \
    return a_rows; \
}

GDEFINE_SEQ(float, f32)
GDEFINE_SEQ(double, f64)

/* Reset-before (Cho et al. 2014) GRU, whole sequence in one call for small problems (no layer
 * norm). W_hh = [W_rz (2H, H); W_n (H, H)] row-major, hb = b_hh (3H) or NULL:
 *   h_in = h_{t-1} ⊙ m;  r, z = σ(x_rz + W_rz h_in + b_rz);  q = r ⊙ h_in
 *   n = tanh(x_n + W_n q + b_n);  h_t = n + z ⊙ (h_{t-1} − n);  zoneout: lerp towards h_{t-1}
 * rb_seq_fwd fills rz, nn (per step, or overwritten when their time stride is 0) and y;
 * scratch: 3H + H.  rb_seq_bwd walks the steps in reverse with acc = ∂L/∂h (B, H) carried,
 * writes dx = ∂L/∂[x_r, x_z, x_n] (equal to the gradient of the GEMM outputs) and an = q
 * (for dW_n = Σ dnᵀ q); scratch: 4H. */
#define GDEFINE_RB(T, SFX) \
void grurb_seq_fwd_##SFX(const gru_ctx *k, int64_t steps, const int64_t *sizes, const T *w, \
                         const T *hb, T *scratch) { \
    const int64_t H = k->H, fl = k->flags; \
    T *restrict hin = scratch, *restrict q = scratch + H, *restrict a = scratch + 2 * H; \
    for (int64_t t = 0; t < steps; ++t) { \
        const int64_t n = sizes[t]; \
        if (n == 0) break; \
        for (int64_t r = 0; r < n; ++r) { \
            const T *hp = t ? gat_##SFX(&k->y, t - 1, r) : gat_##SFX(&k->h0, 0, r); \
            const T *m = (fl & G_MASK) ? gat_##SFX(&k->m, 0, r) : 0; \
            const T *x = gat_##SFX(&k->x, t, r); \
            T *rz = gat_##SFX(&k->rz, t, r), *nn = gat_##SFX(&k->nn, t, r); \
            T *y = gat_##SFX(&k->y, t, r); \
            for (int64_t j = 0; j < H; ++j) hin[j] = m ? hp[j] * m[j] : hp[j]; \
            rk_gemv_##SFX(w, hin, hb, a, 2 * H, H); /* W_rz h_in + b_rz */ \
            _Pragma("GCC ivdep") for (int64_t g = 0; g < 2 * H; ++g) \
                rz[g] = rk_sig_##SFX(x[g] + a[g]); \
            for (int64_t j = 0; j < H; ++j) q[j] = rz[j] * hin[j]; \
            rk_gemv_##SFX(w + 2 * H * H, q, hb ? hb + 2 * H : 0, a, H, H); /* W_n q + b_n */ \
            _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) { \
                T v = x[2 * H + j] + a[j]; \
                T nv = rk_tanh_##SFX(v); \
                nn[j] = nv; \
                y[j] = nv + rz[H + j] * (hp[j] - nv); \
            } \
            if (fl & G_ZH) { \
                const uint8_t *zd = (fl & G_ZH_MASK) ? gat_u8(&k->zh, t, r) : 0; \
                const T zv = (T)k->zhv; \
                _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) \
                    y[j] += (zd ? zd[j] : zv) * (hp[j] - y[j]); \
            } \
        } \
    } \
} \
 \
void grurb_seq_bwd_##SFX(const gru_ctx *k, int64_t steps, const int64_t *sizes, const T *w, \
                         T *scratch) { \
    const int64_t H = k->H, fl = k->flags; \
    T *restrict hin = scratch, *restrict dq = scratch + H, *restrict direct = scratch + 2 * H; \
    T *restrict dhin = scratch + 3 * H; \
    for (int64_t t = steps - 1; t >= 0; --t) { \
        const int64_t n = sizes[t]; \
        if (n == 0) continue; \
        for (int64_t r = 0; r < n; ++r) { \
            const T *hp = t ? gat_##SFX(&k->y, t - 1, r) : gat_##SFX(&k->h0, 0, r); \
            const T *m = (fl & G_MASK) ? gat_##SFX(&k->m, 0, r) : 0; \
            const uint8_t *zd = (fl & G_ZH_MASK) ? gat_u8(&k->zh, t, r) : 0; \
            const T zv = (fl & G_ZH) ? (T)k->zhv : (T)0; \
            const T *rz = gat_##SFX(&k->rz, t, r), *nn = gat_##SFX(&k->nn, t, r); \
            const T *dy = gat_##SFX(&k->dy, t, r); \
            T *acc = gat_##SFX(&k->acc, 0, r), *dx = gat_##SFX(&k->dx, t, r); \
            T *qo = gat_##SFX(&k->an, t, r); \
            _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) { \
                hin[j] = m ? hp[j] * m[j] : hp[j]; \
                T d = acc[j] + dy[j]; \
                T az = d * (zd ? zd[j] : zv); \
                d -= az; \
                T zz = rz[H + j], nv = nn[j]; \
                dx[H + j] = d * (hp[j] - nv) * zz * ((T)1 - zz); \
                dx[2 * H + j] = (d - d * zz) * ((T)1 - nv * nv); \
                direct[j] = d * zz + az; \
                qo[j] = rz[j] * hin[j]; \
            } \
            rk_gemv_t_##SFX(w + 2 * H * H, dx + 2 * H, dq, H, H); /* dq = W_nᵀ dn */ \
            _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) { \
                T rr = rz[j]; \
                dx[j] = dq[j] * hin[j] * rr * ((T)1 - rr); \
            } \
            rk_gemv_t_##SFX(w, dx, dhin, 2 * H, H); /* W_rzᵀ [dr, dz] */ \
            _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) { \
                T d = dhin[j] + dq[j] * rz[j]; \
                acc[j] = (m ? d * m[j] : d) + direct[j]; \
            } \
        } \
    } \
}

GDEFINE_RB(float, f32)
GDEFINE_RB(double, f64)
