/* Small matrix-vector products for the whole-sequence loops (B=1 streaming sizes), where a
 * GEMM call per step costs more than the arithmetic. W is (rows, K) row-major.
 *
 * rk_gemv:   out[i] = W[i] · x (+ b[i] when b is not NULL)          a dot product per row
 * rk_gemv_t: out[j] = Σ_i d[i] W[i, j]  (out is overwritten)        an axpy per row of W */
#ifndef RNNKIT_MATVEC_H
#define RNNKIT_MATVEC_H

#include <stdint.h>

#define RK_MATVEC(T, SFX) \
static inline void rk_gemv_##SFX(const T *restrict w, const T *restrict x, const T *b, \
                                 T *restrict out, int64_t rows, int64_t K) { \
    for (int64_t i = 0; i < rows; ++i) { \
        const T *restrict wr = w + i * K; \
        T s = 0; \
        for (int64_t j = 0; j < K; ++j) s += wr[j] * x[j]; \
        out[i] = b ? s + b[i] : s; \
    } \
} \
static inline void rk_gemv_t_##SFX(const T *restrict w, const T *restrict d, T *restrict out, \
                                   int64_t rows, int64_t K) { \
    for (int64_t j = 0; j < K; ++j) out[j] = 0; \
    for (int64_t i = 0; i < rows; ++i) { \
        const T s = d[i]; \
        const T *restrict wr = w + i * K; \
        for (int64_t j = 0; j < K; ++j) out[j] += s * wr[j]; \
    } \
}

RK_MATVEC(float, f32)
RK_MATVEC(double, f64)

#endif
