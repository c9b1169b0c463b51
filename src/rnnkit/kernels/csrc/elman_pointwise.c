/* rnnkit engine: the Elman RNN (tanh / relu) over a whole sequence in one call, for small
 * problems where per-step torch calls cost more than the arithmetic, and one step per call
 * (the GEMM in torch between calls) for larger ones (float and double).
 *
 * Forward, per step t over the running prefix of rows (sizes[t], lengths sorted descending):
 *   h_in = h_{t-1} ⊙ m;   a_t = act(x_t + W_hh h_in)       (x = W_ih x + b_ih + b_hh, given)
 *   h_t = a_t + d_t ⊙ (h_{t-1} − a_t)                       (zoneout; d a mask or a scalar)
 * a_t is stored in `a` when zoneout is on (else h_t = a_t is y itself).
 * Backward, steps in reverse with acc = ∂L/∂h (B, H) carried:
 *   g = acc + dy_t;  g_z = g ⊙ d_t;  g_a = g − g_z;  da_t = g_a ⊙ act'(a_t)
 *   acc = (W_hhᵀ da_t) ⊙ m + g_z
 * da (T, B, H) is then the gradient of x_t (and of W_hh's GEMM output) for the caller.
 * W_hh is (H, H) row-major; the products are dot products / axpys over its rows. */
#include <math.h>
#include <stdint.h>

#include "rnnkit_exp.h"
#include "rnnkit_matvec.h"
#include "rnnkit_par.h"

typedef struct { void *p; int64_t ts, rs; } earr;

typedef struct {
    int64_t H, flags;
    double zhv;
    earr x, a, y, h0, zh, m, acc, dy, da;
    int64_t nthreads;   /* torch.get_num_threads() of the caller (rnnkit_par.h) */
} elman_ctx;

/* zoneout masks are bool (one byte per element): strides in bytes */
static inline const uint8_t *eat_u8(const earr *a, int64_t t, int64_t r) {
    return (const uint8_t *)a->p + t * a->ts + r * a->rs;
}

enum { E_RELU = 1, E_ZH = 4, E_ZH_MASK = 8, E_MASK = 128 };

#define EDEFINE(T, SFX) \
static inline T *eat_##SFX(const earr *a, int64_t t, int64_t r) { \
    return (T *)a->p + t * a->ts + r * a->rs; \
} \
void elman_seq_fwd_##SFX(const elman_ctx *k, int64_t steps, const int64_t *sizes, const T *w, \
                         T *hin) { \
    const int64_t H = k->H, fl = k->flags; \
    for (int64_t t = 0; t < steps; ++t) { \
        const int64_t n = sizes[t]; \
        if (n == 0) break; \
        for (int64_t r = 0; r < n; ++r) { \
            const T *hp = t ? eat_##SFX(&k->y, t - 1, r) : eat_##SFX(&k->h0, 0, r); \
            const T *m = (fl & E_MASK) ? eat_##SFX(&k->m, 0, r) : 0; \
            const T *x = eat_##SFX(&k->x, t, r); \
            T *y = eat_##SFX(&k->y, t, r); \
            T *a = (fl & E_ZH) ? eat_##SFX(&k->a, t, r) : y; \
            for (int64_t j = 0; j < H; ++j) hin[j] = m ? hp[j] * m[j] : hp[j]; \
            rk_gemv_##SFX(w, hin, x, a, H, H); /* x_t + W_hh h_in */ \
            if (fl & E_RELU) { \
                _Pragma("GCC ivdep") for (int64_t i = 0; i < H; ++i) \
                    a[i] = a[i] > 0 ? a[i] : (T)0; \
            } else { \
                _Pragma("GCC ivdep") for (int64_t i = 0; i < H; ++i) \
                    a[i] = rk_tanh_##SFX(a[i]); \
            } \
            if (fl & E_ZH) { \
                const uint8_t *zd = (fl & E_ZH_MASK) ? eat_u8(&k->zh, t, r) : 0; \
                const T zv = (T)k->zhv; \
                _Pragma("GCC ivdep") for (int64_t i = 0; i < H; ++i) \
                    y[i] = a[i] + (zd ? zd[i] : zv) * (hp[i] - a[i]); \
            } \
        } \
    } \
} \
void elman_seq_bwd_##SFX(const elman_ctx *k, int64_t steps, const int64_t *sizes, const T *w, \
                         T *scratch) { \
    const int64_t H = k->H, fl = k->flags; \
    T *restrict gz = scratch, *restrict gh = scratch + H; \
    for (int64_t t = steps - 1; t >= 0; --t) { \
        const int64_t n = sizes[t]; \
        if (n == 0) continue; \
        for (int64_t r = 0; r < n; ++r) { \
            const T *m = (fl & E_MASK) ? eat_##SFX(&k->m, 0, r) : 0; \
            const uint8_t *zd = (fl & E_ZH_MASK) ? eat_u8(&k->zh, t, r) : 0; \
            const T zv = (fl & E_ZH) ? (T)k->zhv : (T)0; \
            const T *a = (fl & E_ZH) ? eat_##SFX(&k->a, t, r) : eat_##SFX(&k->y, t, r); \
            const T *dy = eat_##SFX(&k->dy, t, r); \
            T *acc = eat_##SFX(&k->acc, 0, r), *da = eat_##SFX(&k->da, t, r); \
            _Pragma("GCC ivdep") for (int64_t i = 0; i < H; ++i) { \
                T g = acc[i] + dy[i]; \
                T z = g * (zd ? zd[i] : zv); \
                g -= z; \
                gz[i] = z; \
                da[i] = (fl & E_RELU) ? (a[i] > 0 ? g : (T)0) : g * ((T)1 - a[i] * a[i]); \
            } \
            rk_gemv_t_##SFX(w, da, gh, H, H); /* gh = W_hhᵀ da */ \
            _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) \
                acc[j] = (m ? gh[j] * m[j] : gh[j]) + gz[j]; \
        } \
    } \
} \
/* Per-step forms: the recurrent GEMM runs in torch between calls. \
 * step fwd: hw = h_in W_hhᵀ + b_hh (n, H) contiguous; per row a = act(x_t + hw), zoneout, \
 *   and (anext given) the next step's GEMM input anext[r] = h_t ⊙ m. \
 * step bwd: A = da_{t+1} W_hh from the step after (a_rows, H) contiguous, rows >= a_rows \
 *   read as zero): g = acc + dy_t + A ⊙ m; the zoneout share stays in acc; da_t is written \
 *   (da may alias a or dy: each element is read before it is written). */ \
static void elman_fwd_rows_##SFX(const elman_ctx *k, int64_t t, int64_t r0, int64_t r1, \
                                 const T *hw, T *anext) { \
    const int64_t H = k->H, fl = k->flags; \
    for (int64_t r = r0; r < r1; ++r) { \
        const T *hp = t ? eat_##SFX(&k->y, t - 1, r) : eat_##SFX(&k->h0, 0, r); \
        const T *x = eat_##SFX(&k->x, t, r), *w = hw + r * H; \
        T *y = eat_##SFX(&k->y, t, r); \
        T *a = (fl & E_ZH) ? eat_##SFX(&k->a, t, r) : y; \
        if (fl & E_RELU) { \
            _Pragma("GCC ivdep") for (int64_t i = 0; i < H; ++i) { \
                const T v = x[i] + w[i]; a[i] = v > 0 ? v : (T)0; } \
        } else { \
            _Pragma("GCC ivdep") for (int64_t i = 0; i < H; ++i) a[i] = rk_tanh_##SFX(x[i] + w[i]); \
        } \
        if (fl & E_ZH) { \
            const uint8_t *zd = (fl & E_ZH_MASK) ? eat_u8(&k->zh, t, r) : 0; \
            const T zv = (T)k->zhv; \
            if (zd) { _Pragma("GCC ivdep") for (int64_t i = 0; i < H; ++i) \
                          y[i] = a[i] + zd[i] * (hp[i] - a[i]); } \
            else { _Pragma("GCC ivdep") for (int64_t i = 0; i < H; ++i) \
                       y[i] = a[i] + zv * (hp[i] - a[i]); } \
        } \
        if (anext) { \
            T *an = anext + r * H; \
            const T *m = (fl & E_MASK) ? eat_##SFX(&k->m, 0, r) : 0; \
            if (m) { _Pragma("GCC ivdep") for (int64_t i = 0; i < H; ++i) an[i] = y[i] * m[i]; } \
            else { for (int64_t i = 0; i < H; ++i) an[i] = y[i]; } \
        } \
    } \
} \
static void elman_bwd_rows_##SFX(const elman_ctx *k, int64_t t, int64_t r0, int64_t r1, \
                                 const T *A, int64_t a_rows) { \
    const int64_t H = k->H, fl = k->flags; \
    for (int64_t r = r0; r < r1; ++r) { \
        const T *m = (fl & E_MASK) ? eat_##SFX(&k->m, 0, r) : 0; \
        const uint8_t *zd = (fl & E_ZH_MASK) ? eat_u8(&k->zh, t, r) : 0; \
        const T zv = (fl & E_ZH) ? (T)k->zhv : (T)0; \
        const T *a = (fl & E_ZH) ? eat_##SFX(&k->a, t, r) : eat_##SFX(&k->y, t, r); \
        const T *dy = eat_##SFX(&k->dy, t, r), *Ar = r < a_rows ? A + r * H : 0; \
        T *acc = eat_##SFX(&k->acc, 0, r), *da = eat_##SFX(&k->da, t, r); \
        _Pragma("GCC ivdep") for (int64_t i = 0; i < H; ++i) { \
            T g = acc[i] + dy[i]; \
            if (Ar) g += m ? Ar[i] * m[i] : Ar[i]; \
            const T z = (fl & E_ZH) ? g * (zd ? (T)zd[i] : zv) : (T)0; \
            g -= z; \
            acc[i] = z; \
            da[i] = (fl & E_RELU) ? (a[i] > 0 ? g : (T)0) : g * ((T)1 - a[i] * a[i]); \
        } \
    } \
} \
/* rows split across threads (rnnkit_par.h); no cross-row sums */ \
void elman_fwd_##SFX(const elman_ctx *k, int64_t t, int64_t n, const T *hw, T *anext) { \
    const int rk_nt = rk_nthreads(k->nthreads, n, 2 * k->H); \
    if (rk_nt <= 1) { elman_fwd_rows_##SFX(k, t, 0, n, hw, anext); return; } \
    RK_PARALLEL { \
        int64_t r0, r1; \
        rk_block(n, rk_tid(), rk_team(), &r0, &r1); \
        elman_fwd_rows_##SFX(k, t, r0, r1, hw, anext); \
    } \
} \
void elman_bwd_##SFX(const elman_ctx *k, int64_t t, int64_t n, const T *A, int64_t a_rows) { \
    const int rk_nt = rk_nthreads(k->nthreads, n, 2 * k->H); \
    if (rk_nt <= 1) { elman_bwd_rows_##SFX(k, t, 0, n, A, a_rows); return; } \
    RK_PARALLEL { \
        int64_t r0, r1; \
        rk_block(n, rk_tid(), rk_team(), &r0, &r1); \
        elman_bwd_rows_##SFX(k, t, r0, r1, A, a_rows); \
    } \
}

EDEFINE(float, f32)
EDEFINE(double, f64)
