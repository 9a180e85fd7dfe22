/* cross_fixture.h: three runs over overlapping galaxies, for the tests of what lies
 * between runs (pair statistics, counterparts, the compare view, similar galaxies).
 *
 * Galaxy g (objID 5000 + g) has a latent u(g) in [0, 1) that every run sees:
 *   A (k = 4, d = 32) holds galaxies 0..299: its first feature is floor(8u) with value
 *     1 + 2u, then three others of 8..31 at random;
 *   B (k = 3, d = 24) holds galaxies 100..399: floor(6u) with value 0.5 + 3u, then two
 *     others of 6..23;
 *   C (dense, d = 96) holds galaxies 0..399: every feature, max(0, 0.6 + 0.8 cos(3u (f + 1))
 *     + noise), most of them active (enough to take the BLAS paths).
 * About one pair in ten of A and B is zero (not stored). Splits are drawn per run, so a
 * galaxy may be in A's training split and in B's validation split. */
#ifndef SF_CROSS_FIXTURE_H
#define SF_CROSS_FIXTURE_H

#include "store_fixture.h"

enum { CFX_RUNS = 3, CFX_GALAXIES = 400, CFX_OBJID0 = 5000 };

typedef struct {
    fixture_run run[CFX_RUNS];
    int first[CFX_RUNS]; /* galaxy number of each run's row 0 */
    int64_t id[CFX_RUNS];
} cross_fixture;

static inline double cfx_latent(int g) {
    sf_rng r;
    sf_rng_seed(&r, 7919u * (uint64_t)(g + 1));
    return sf_rng_uniform(&r);
}

/* Replaces the random codes fixture_make drew with run r's codes above. */
static inline void cfx_codes(fixture_run *fx, int r, int first) {
    int k = fx->k;
    for (int i = 0; i < fx->n; i++) {
        int g = first + i;
        double u = cfx_latent(g);
        sf_rng rng;
        sf_rng_seed(&rng, 1000003u * (uint64_t)(g + 1) + (uint64_t)r);
        int *idx = &fx->topk_idx[(size_t)i * k];
        float *val = &fx->topk_val[(size_t)i * k];
        if (r == 2) {
            for (int f = 0; f < k; f++) {
                idx[f] = f;
                double v = 0.6 + 0.8 * cos(3 * u * (f + 1)) + 0.3 * sf_rng_normal(&rng);
                val[f] = v > 0 ? (float)v : 0.0f;
            }
            continue;
        }
        int n_first = r == 0 ? 8 : 6;
        idx[0] = (int)(u * n_first);
        val[0] = (float)(r == 0 ? 1 + 2 * u : 0.5 + 3 * u);
        for (int j = 1; j < k; j++) {
            int f, dup;
            do {
                f = n_first + (int)sf_rng_below(&rng, (uint32_t)(fx->d - n_first));
                dup = 0;
                for (int q = 1; q < j; q++) dup |= idx[q] == f;
            } while (dup);
            idx[j] = f;
            double x = sf_rng_uniform(&rng);
            val[j] = x < 0.1 ? 0.0f : (float)(0.2 + 1.8 * sf_rng_uniform(&rng));
        }
    }
}

/* Writes the three runs (prefixes A, B, C) to path. */
static inline int cfx_make(cross_fixture *cf, const char *path) {
    static const int first[CFX_RUNS] = {0, 100, 0}, n[CFX_RUNS] = {300, 300, 400};
    static const int d[CFX_RUNS] = {32, 24, 96}, k[CFX_RUNS] = {4, 3, 96};
    static const char *const prefix[CFX_RUNS] = {"A", "B", "C"};
    store *s = NULL;
    if (store_open(&s, path, STORE_CREATE) != SF_OK) return SF_ERR;
    int rc = SF_OK;
    for (int r = 0; r < CFX_RUNS && rc == SF_OK; r++) {
        fixture_run *fx = &cf->run[r];
        cf->first[r] = first[r];
        fixture_make(fx, n[r], d[r], k[r], 1, d[r], CFX_OBJID0 + first[r], 11 + (uint64_t)r);
        cfx_codes(fx, r, first[r]);
        snprintf(fx->in.run.prefix, sizeof fx->in.run.prefix, "%s", prefix[r]);
        fx->in.run.k = r == 2 ? 0 : k[r];
        rc = store_add_run(s, &fx->in, &cf->id[r]);
    }
    store_close(s);
    return rc;
}

static inline void cfx_free(cross_fixture *cf) {
    for (int r = 0; r < CFX_RUNS; r++) fixture_free(&cf->run[r]);
}

/* Row of galaxy number g in run r, or -1. */
static inline int cfx_row(const cross_fixture *cf, int r, int g) {
    int i = g - cf->first[r];
    return i >= 0 && i < cf->run[r].n ? i : -1;
}

/* Activation of feature f of run r on galaxy number g (0 when inactive or absent). */
static inline double cfx_act(const cross_fixture *cf, int r, int g, int f) {
    int i = cfx_row(cf, r, g);
    if (i < 0) return 0;
    double v = fixture_act(&cf->run[r], i, f);
    return v > 0 ? v : 0;
}

#endif
