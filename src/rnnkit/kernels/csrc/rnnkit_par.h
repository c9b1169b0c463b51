/* rnnkit: splitting a step's rows across threads (OpenMP when built with it, else one thread).
 *
 * The library is built with -fopenmp and linked against the OpenMP runtime torch itself loaded
 * (kernels/native_build.py), so a parallel region here reuses torch's intra-op threads: no
 * second pool competes for the cores. The thread count comes from Python per call
 * (torch.get_num_threads(), in the context's nthreads); a step below RK_PAR_MIN elements of row
 * work stays on the calling thread, and each thread gets at least RK_PAR_PER elements.
 *
 * Determinism: rows are independent, so the split never changes a row's arithmetic. The only
 * cross-row sums (in-step gradient sums of biases, peepholes, LN gains) go through rk_nchunks:
 * the rows fall into chunks that depend on the row count only, each chunk sums into its own
 * zeroed partial, and the partials are added in chunk order -- the same bits for any thread
 * count, OpenMP or not.
 */
#ifndef RNNKIT_PAR_H
#define RNNKIT_PAR_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
/* the variable rk_nt must be in scope: the team size */
#define RK_PARALLEL _Pragma("omp parallel num_threads(rk_nt)")
static inline int rk_tid(void) { return omp_get_thread_num(); }
static inline int rk_team(void) { return omp_get_num_threads(); }
#else
#define RK_PARALLEL
static inline int rk_tid(void) { return 0; }
static inline int rk_team(void) { return 1; }
#endif

#define RK_PAR_MIN 16384
#define RK_PAR_PER 8192

static inline int rk_nthreads(int64_t want, int64_t rows, int64_t per_row) {
#ifdef _OPENMP
    const int64_t work = rows * per_row;
    if (want <= 1 || rows < 2 || work < RK_PAR_MIN) return 1;
    int64_t nt = work / RK_PAR_PER;
    if (nt > want) nt = want;
    if (nt > rows) nt = rows;
    return nt < 1 ? 1 : (int)nt;
#else
    (void)want; (void)rows; (void)per_row;
    return 1;
#endif
}

/* [*lo, *hi): block i of n items split into parts contiguous blocks */
static inline void rk_block(int64_t n, int64_t i, int64_t parts, int64_t *lo, int64_t *hi) {
    const int64_t q = n / parts, rem = n % parts;
    *lo = i * q + (i < rem ? i : rem);
    *hi = *lo + q + (i < rem ? 1 : 0);
}

/* chunks of rows for the in-step gradient sums: a function of the row count only */
static inline int64_t rk_nchunks(int64_t n) {
    const int64_t c = (n + 3) / 4;
    return c > 16 ? 16 : (c < 1 ? 1 : c);
}

/* a per-thread scratch buffer, grown as needed (NULL when out of memory) */
static inline void *rk_scratch(size_t bytes) {
    static __thread void *p;
    static __thread size_t cap;
    if (bytes > cap) {
        free(p);
        p = malloc(bytes);
        cap = p ? bytes : 0;
    }
    return p;
}

#endif
