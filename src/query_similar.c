/* query_similar.c: the features most correlated with one (see query.h), from the
 * co-activation sums stored with the run (store.h's summaries).
 * Layer: query. Calls: store, sf_util.
 * Called by: cli_features, tui_app, tui_feature.
 */
#include "query.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sf_util.h"

void query_coact_clear(query_coact *c) {
    free(c->sum);
    free(c->cross);
    free(c->n_both);
    memset(c, 0, sizeof *c);
}

int query_coact_load(store *s, int64_t run_id, query_coact *c) {
    memset(c, 0, sizeof *c);
    store_run run;
    if (store_run_get(s, run_id, &run) != SF_OK) return SF_ERR;
    int d = run.d;
    c->run_id = run_id;
    c->d = d;
    c->n = run.n_galaxies;
    store_run_clear(&run);
    c->sum = xcalloc((size_t)d, sizeof *c->sum);
    c->cross = xcalloc((size_t)d * d, sizeof *c->cross);
    c->n_both = xcalloc((size_t)d * d, sizeof *c->n_both);
    store_feature_sums *sums = xcalloc((size_t)d, sizeof *sums);
    store_feature *f = NULL;
    int nf = 0, status = SF_ERR;
    if (store_run_feature_sums(s, run_id, d, sums) != SF_OK ||
        store_features(s, run_id, STORE_SORT_FEATURE, 0, &f, &nf) != SF_OK)
        goto done;
    for (int i = 0; i < d; i++) {
        c->sum[i] = sums[i].sum;
        c->cross[(size_t)i * d + i] = sums[i].sum_sq;
    }
    for (int k = 0; k < nf; k++) {
        int i = f[k].feature;
        c->n_both[(size_t)i * d + i] = f[k].n_active;
        store_pair *p = NULL;
        int np = 0;
        if (store_feature_pairs(s, run_id, i, &p, &np) != SF_OK) goto done;
        for (int q = 0; q < np; q++) {
            if (p[q].other < 0 || p[q].other >= d) continue;
            c->cross[(size_t)i * d + p[q].other] = p[q].cross;
            c->n_both[(size_t)i * d + p[q].other] = p[q].n_both;
        }
        free(p);
    }
    status = SF_OK;
done:
    free(f);
    free(sums);
    if (status != SF_OK) query_coact_clear(c);
    return status;
}

/* r from the sums of a run of n galaxies: S_i, Q_i = C_ii, S_j, Q_j, C_ij. */
static double pearson_from_sums(double n, double si, double qi, double sj, double qj, double cij) {
    if (n < 2) return NAN;
    double vi = n * qi - si * si, vj = n * qj - sj * sj;
    /* a variance lost to rounding is a feature with one value everywhere */
    if (!(vi > 1e-12 * n * qi) || !(vj > 1e-12 * n * qj)) return NAN;
    double r = (n * cij - si * sj) / sqrt(vi * vj);
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

/* The (at most) n largest r[j], j != feature and defined, largest first (ties by
 * feature number); returns how many. */
static int top_similar(const double *r, const int *both, int d, int feature, int n,
                       query_similar *out) {
    int count = 0;
    if (feature < 0 || feature >= d || n <= 0) return 0;
    for (int j = 0; j < d; j++) {
        if (j == feature || isnan(r[j])) continue;
        /* insertion into the sorted head; j ascends, so an equal r stays behind */
        int at = count;
        while (at > 0 && out[at - 1].r < r[j]) at--;
        if (at >= n) continue;
        int last = count < n ? count : n - 1;
        memmove(&out[at + 1], &out[at], (size_t)(last - at) * sizeof *out);
        out[at] = (query_similar){j, r[j], both[j]};
        if (count < n) count++;
    }
    return count;
}

int query_similar_load(store *s, int64_t run_id, int feature, int n, query_similar *out,
                       int *n_out) {
    *n_out = 0;
    store_run run;
    if (store_run_get(s, run_id, &run) != SF_OK) return SF_ERR;
    int d = run.d, n_gal = run.n_galaxies;
    store_run_clear(&run);
    if (feature < 0 || feature >= d) return sf_fail("feature %d outside 0..%d", feature, d - 1);
    store_feature_sums *sums = xcalloc((size_t)d, sizeof *sums);
    double *cross = xcalloc((size_t)d, sizeof *cross), *r = xmalloc((size_t)d * sizeof *r);
    int *both = xcalloc((size_t)d, sizeof *both);
    store_pair *p = NULL;
    int np = 0, status = SF_ERR;
    if (store_run_feature_sums(s, run_id, d, sums) != SF_OK ||
        store_feature_pairs(s, run_id, feature, &p, &np) != SF_OK)
        goto done;
    for (int q = 0; q < np; q++)
        if (p[q].other >= 0 && p[q].other < d) {
            cross[p[q].other] = p[q].cross;
            both[p[q].other] = p[q].n_both;
        }
    const store_feature_sums *a = &sums[feature];
    for (int j = 0; j < d; j++)
        r[j] = pearson_from_sums(n_gal, a->sum, a->sum_sq, sums[j].sum, sums[j].sum_sq, cross[j]);
    *n_out = top_similar(r, both, d, feature, n, out);
    status = SF_OK;
done:
    free(p);
    free(sums);
    free(cross);
    free(r);
    free(both);
    return status;
}

double query_coact_pearson(const query_coact *c, int i, int j) {
    if (i < 0 || j < 0 || i >= c->d || j >= c->d) return NAN;
    size_t d = (size_t)c->d;
    return pearson_from_sums(c->n, c->sum[i], c->cross[i * d + i], c->sum[j], c->cross[j * d + j],
                             c->cross[i * d + j]);
}

int query_similar_features(const query_coact *c, int feature, int n, query_similar *out) {
    if (feature < 0 || feature >= c->d || n <= 0) return 0;
    double *r = xmalloc((size_t)c->d * sizeof *r);
    for (int j = 0; j < c->d; j++) r[j] = query_coact_pearson(c, feature, j);
    int count = top_similar(r, &c->n_both[(size_t)feature * c->d], c->d, feature, n, out);
    free(r);
    return count;
}
