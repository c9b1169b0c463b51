/* Layer norm over one row of n values, for the kernels' pointwise steps.
 *
 * rk_ln_stats: mu = mean(x), rs = 1 / sqrt(var(x) + eps)            (two passes, biased var)
 * rk_ln_rs:    rs alone for a row known to have mean 0                 (one pass)
 * rk_ln_bwd:   the gradient through y = x-hat ⊙ lw (+ b) of one row, given d = ∂L/∂y:
 *              x-hat_j = (x_j − mu) · sc   (sc = rs, or x is the saved x-hat: mu = 0, sc = 1)
 *              dlw += d ⊙ x-hat; dlb += d (when dlb is not NULL)
 *              out = rs · (d ⊙ lw − mean(d ⊙ lw) − x-hat · mean(d ⊙ lw ⊙ x-hat))
 *              out may be d itself, or x (a saved x-hat overwritten by its own gradient):
 *              each element is read before it is written. */
#ifndef RNNKIT_NORM_H
#define RNNKIT_NORM_H

#include <math.h>
#include <stdint.h>

#define RK_NORM(T, SFX) \
static inline void rk_ln_stats_##SFX(const T *x, int64_t n, double eps, T *mu, T *rs) { \
    T s = 0, s2 = 0; \
    for (int64_t j = 0; j < n; ++j) s += x[j]; \
    const T m = s / (T)n; \
    for (int64_t j = 0; j < n; ++j) { T d = x[j] - m; s2 += d * d; } \
    *mu = m; \
    *rs = (T)1 / (T)sqrt((double)(s2 / (T)n) + eps); \
} \
/* rs only, for rows whose mean is zero by construction (a GEMM with row-centred weights: \
 * W x - mean(W x) = (W - mean_rows(W)) x): one pass of squares, mu = 0 */ \
static inline void rk_ln_rs_##SFX(const T *x, int64_t n, double eps, T *rs) { \
    T s2 = 0; \
    for (int64_t j = 0; j < n; ++j) s2 += x[j] * x[j]; \
    *rs = (T)1 / (T)sqrt((double)(s2 / (T)n) + eps); \
} \
static inline void rk_ln_rs2_##SFX(const T *x, const T *y, int64_t n, double eps, T *rsx, \
                                   T *rsy) { \
    T vx = 0, vy = 0; \
    for (int64_t j = 0; j < n; ++j) { vx += x[j] * x[j]; vy += y[j] * y[j]; } \
    *rsx = (T)1 / (T)sqrt((double)(vx / (T)n) + eps); \
    *rsy = (T)1 / (T)sqrt((double)(vy / (T)n) + eps); \
} \
static inline void rk_ln_bwd_##SFX(const T *d, const T *x, T mu, T sc, T rs, const T *lw, \
                                   T *dlw, T *dlb, T *out, int64_t n) { \
    T s1 = 0, s2 = 0; \
    for (int64_t j = 0; j < n; ++j) { \
        const T xh = (x[j] - mu) * sc, dv = d[j] * lw[j]; \
        dlw[j] += d[j] * xh; s1 += dv; s2 += dv * xh; \
    } \
    if (dlb) for (int64_t j = 0; j < n; ++j) dlb[j] += d[j]; \
    s1 /= (T)n; s2 /= (T)n; \
    for (int64_t j = 0; j < n; ++j) out[j] = rs * (d[j] * lw[j] - s1 - (x[j] - mu) * sc * s2); \
}

RK_NORM(float, f32)
RK_NORM(double, f64)

#endif
