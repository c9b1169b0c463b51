/* exp for the kernels' pointwise loops.
 *
 * float: an inline polynomial (Cephes expf, relative error ~1e-7) so that loops vectorise
 * without libm calls; the argument is clamped to [-87, 88] so the result stays a normal float.
 * double: libm (accuracy for gradcheck; speed is irrelevant there). */
#ifndef RNNKIT_EXP_H
#define RNNKIT_EXP_H

#include <math.h>
#include <stdint.h>

static inline float rk_exp_f32(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float k = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - k * 0.693359375f + k * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { int32_t i; float f; } u;
    u.i = ((int32_t)k + 127) << 23;
    return p * u.f;
}

static inline double rk_exp_f64(double x) { return exp(x); }

#endif
