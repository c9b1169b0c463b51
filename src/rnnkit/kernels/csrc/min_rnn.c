/* rnnkit scan kernel, native CPU path: fused gates + first-order linear recurrence for the
 * min-cells (minGRU, minLSTM), forward and backward, float and double.
 *
 * On a CPU the recurrence h_t = a_t ⊙ h_{t-1} + b_t is memory-bound, so the memory-optimal
 * schedule is a sequential-in-time loop per batch row, vectorised over H: every input is read
 * once and every output written once (the tree/chunked "parallel scan" is for GPUs).
 * The gates are computed from the projected input xp = W_ih x + b_ih (B, T, G·H) in the loop:
 *
 *   minGRU  (G = 2, [k, u]):    z = σ(k),  a = σ(−k) = 1 − z,  b = z ⊙ g(u)
 *   minLSTM (G = 3, [p, q, u]): with P = 1 + e^{−p}, Q = 1 + e^{−q} (scaled by e^{−m} to
 *       avoid overflow): s = σ(softplus(−p) − softplus(−q)) = P / (P + Q),  a = 1 − s,
 *       b = s ⊙ g(u)
 *   g(u) = u + 1/2 (u ≥ 0), σ(u) (u < 0)
 *
 * Ragged lengths (right padding): row r runs over its first len[r] steps only; outputs at
 * padded steps are 0 and the last state is the state after the last processed step.
 * reverse: row r runs from step len[r] − 1 down to 0. Every exp() argument here is ≤ 0.
 * The caller feeds xp in time chunks that stay in cache (the GEMM runs per chunk, so the full
 * (B, T, G·H) projection is never stored). The backward recomputes the gates from xp and runs
 * the reverse recurrence
 *   gh ← gh + dy_t;  db_t = gh;  da_t = gh ⊙ h_{t-1};  gh ← a_t ⊙ gh.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rnnkit_exp.h"
#include "rnnkit_par.h"

#define MDEFINE(T, SFX) \
/* σ(x) and σ(−x) from e = exp(−|x|) */ \
static inline void sig2_##SFX(T x, T *sp, T *sn) { \
    T e = rk_exp_##SFX(x >= 0 ? -x : x), r = (T)1 / ((T)1 + e); \
    *sp = x >= 0 ? r : e * r; *sn = x >= 0 ? e * r : r; \
} \
static inline void gfun_##SFX(T u, T *gu, T *gp) { \
    T e = rk_exp_##SFX(u < 0 ? u : (T)0), s = e / ((T)1 + e); \
    *gu = u >= 0 ? u + (T)0.5 : s; *gp = u >= 0 ? (T)1 : s * ((T)1 - s); \
} \
/* gates of one step: a, b and what the backward needs (ca = ∂/∂pre-activation helpers) */ \
static inline void gates_##SFX(int64_t kind, const T *x, int64_t H, int64_t j, T *a, T *b, \
                               T *s_out, T *gu_out, T *gp_out) { \
    T gu, gp, s, av; \
    if (kind == 0) { \
        T k = x[j]; \
        sig2_##SFX(k, &s, &av); \
        gfun_##SFX(x[H + j], &gu, &gp); \
    } else { \
        T p = x[j], q = x[H + j]; \
        T m = -p > -q ? -p : -q; m = m > 0 ? m : (T)0; \
        T em = rk_exp_##SFX(-m), P = em + rk_exp_##SFX(-p - m), Q = em + rk_exp_##SFX(-q - m); \
        T inv = (T)1 / (P + Q); \
        s = P * inv; av = Q * inv; \
        gfun_##SFX(x[2 * H + j], &gu, &gp); \
    } \
    *a = av; *b = s * gu; *s_out = s; *gu_out = gu; *gp_out = gp; \
} \
/* Steps t0 <= t < t1 of every row (the caller walks the chunks in processing order: ascending \
 * for the forward direction, descending for reverse). xc (B, t1 − t0, G·H) holds the projected \
 * input of the chunk; hs (B, H) carries the state across chunks (h0 on the first); y is the \
 * full (B, T, H) output. */ \
static void minrnn_fwd_rows_##SFX(int64_t kind, int64_t r0, int64_t r1, int64_t T_, int64_t H, \
                                  int64_t t0, int64_t t1, const T *xc, const int64_t *len, \
                                  int64_t reverse, T *y, T *hs) { \
    const int64_t G = kind == 0 ? 2 : 3, Tc = t1 - t0; \
    for (int64_t r = r0; r < r1; ++r) { \
        const int64_t n = len ? len[r] : T_, hi = n < t1 ? n : t1; \
        T *hl = hs + r * H; \
        for (int64_t s = t0; s < hi; ++s) { \
            const int64_t t = reverse ? hi - 1 - (s - t0) : s; \
            const T *x = xc + (r * Tc + (t - t0)) * G * H; \
            T *yt = y + (r * T_ + t) * H; \
            _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) { \
                T a, b, s_, gu, gp; \
                gates_##SFX(kind, x, H, j, &a, &b, &s_, &gu, &gp); \
                T h = a * hl[j] + b; \
                hl[j] = h; yt[j] = h; \
            } \
        } \
        const int64_t p0 = n > t0 ? n : t0; \
        if (p0 < t1) memset(y + (r * T_ + p0) * H, 0, (size_t)((t1 - p0) * H) * sizeof(T)); \
    } \
} \
/* Backward over steps t0 <= t < t1 (chunks walked in reverse processing order): g (B, H) \
 * carries ∂L/∂h across chunks (∂L/∂h_last on the first, ∂L/∂h0 after the last); dxc gets \
 * ∂L/∂xc (zero at padded steps). */ \
static void minrnn_bwd_rows_##SFX(int64_t kind, int64_t r0, int64_t r1, int64_t T_, int64_t H, \
                                  int64_t t0, int64_t t1, const T *xc, const T *h0, \
                                  const int64_t *len, int64_t reverse, const T *y, const T *dy, \
                                  T *g_, T *dxc) { \
    const int64_t G = kind == 0 ? 2 : 3, Tc = t1 - t0; \
    for (int64_t r = r0; r < r1; ++r) { \
        const int64_t n = len ? len[r] : T_, hi = n < t1 ? n : t1; \
        T *g = g_ + r * H; \
        for (int64_t s = hi - 1; s >= t0; --s) { \
            const int64_t t = reverse ? t0 + (hi - 1 - s) : s; \
            const int64_t first = reverse ? t == n - 1 : t == 0; \
            const T *x = xc + (r * Tc + (t - t0)) * G * H; \
            const T *hp = first ? h0 + r * H : y + (r * T_ + (reverse ? t + 1 : t - 1)) * H; \
            const T *dyt = dy + (r * T_ + t) * H; \
            T *dx = dxc + (r * Tc + (t - t0)) * G * H; \
            _Pragma("GCC ivdep") for (int64_t j = 0; j < H; ++j) { \
                T a, b, s_, gu, gp; \
                gates_##SFX(kind, x, H, j, &a, &b, &s_, &gu, &gp); \
                T gh = g[j] + dyt[j]; \
                T gd = s_ * a * (gh * gu - gh * hp[j]); \
                if (kind == 0) { \
                    dx[j] = gd; dx[H + j] = gh * s_ * gp; \
                } else { \
                    T sp, snp, sq, snq; \
                    sig2_##SFX(x[j], &sp, &snp); sig2_##SFX(x[H + j], &sq, &snq); \
                    dx[j] = -gd * snp; dx[H + j] = gd * snq; dx[2 * H + j] = gh * s_ * gp; \
                } \
                g[j] = a * gh; \
            } \
        } \
        const int64_t p0 = n > t0 ? n : t0; \
        if (p0 < t1) memset(dxc + (r * Tc + (p0 - t0)) * G * H, 0, \
                            (size_t)((t1 - p0) * G * H) * sizeof(T)); \
    } \
} \
/* The batch rows are independent: split across nthreads threads (rnnkit_par.h). */ \
void minrnn_fwd_##SFX(int64_t kind, int64_t B, int64_t T_, int64_t H, int64_t t0, int64_t t1, \
                      const T *xc, const int64_t *len, int64_t reverse, T *y, T *hs, \
                      int64_t nthreads) { \
    const int rk_nt = rk_nthreads(nthreads, B, (t1 - t0) * H); \
    if (rk_nt <= 1) { minrnn_fwd_rows_##SFX(kind, 0, B, T_, H, t0, t1, xc, len, reverse, y, hs); \
                      return; } \
    RK_PARALLEL { \
        int64_t r0, r1; \
        rk_block(B, rk_tid(), rk_team(), &r0, &r1); \
        minrnn_fwd_rows_##SFX(kind, r0, r1, T_, H, t0, t1, xc, len, reverse, y, hs); \
    } \
} \
void minrnn_bwd_##SFX(int64_t kind, int64_t B, int64_t T_, int64_t H, int64_t t0, int64_t t1, \
                      const T *xc, const T *h0, const int64_t *len, int64_t reverse, \
                      const T *y, const T *dy, T *g_, T *dxc, int64_t nthreads) { \
    const int rk_nt = rk_nthreads(nthreads, B, (t1 - t0) * H); \
    if (rk_nt <= 1) { minrnn_bwd_rows_##SFX(kind, 0, B, T_, H, t0, t1, xc, h0, len, reverse, y, \
                                            dy, g_, dxc); return; } \
    RK_PARALLEL { \
        int64_t r0, r1; \
        rk_block(B, rk_tid(), rk_team(), &r0, &r1); \
        minrnn_bwd_rows_##SFX(kind, r0, r1, T_, H, t0, t1, xc, h0, len, reverse, y, dy, g_, dxc); \
    } \
}

MDEFINE(float, f32)
MDEFINE(double, f64)
