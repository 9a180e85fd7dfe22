/* query_similar.c: co-activation sums of a run's features and the features most
 * correlated with one (see query.h).
 * Layer: query. Calls: store, sf_util; SQLite, OpenBLAS.
 * Called by: cli_features, tui_app, tui_feature.
 */
#include "query.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* A galaxy with more active features than this goes to the dense block (BLAS dsyrk),
 * where a row costs about d^2 flops instead of m^2 scattered updates. */
#define COACT_DENSE_FROM 128
#define COACT_BLOCK 256 /* rows per dsyrk */

void query_coact_clear(query_coact *c) {
    free(c->sum);
    free(c->cross);
    free(c->n_both);
    memset(c, 0, sizeof *c);
}

typedef struct {
    int d;
    double *values;    /* (COACT_BLOCK, d) dense rows */
    double *fires;     /* (COACT_BLOCK, d) 1 where non-zero */
    int rows;
    double *cross_up;  /* (d, d) upper triangle of the blocks' sum of x x^T */
    double *both_up;   /* (d, d) the same of the indicators */
} dense_block;

static void dense_flush(dense_block *b) {
    if (!b->rows) return;
    int d = b->d;
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, b->rows, 1.0, b->values, d, 1.0,
                b->cross_up, d);
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, b->rows, 1.0, b->fires, d, 1.0,
                b->both_up, d);
    memset(b->values, 0, (size_t)b->rows * d * sizeof *b->values);
    memset(b->fires, 0, (size_t)b->rows * d * sizeof *b->fires);
    b->rows = 0;
}

/* Adds one galaxy's m active features (distinct, in 0..d-1). */
static void add_galaxy(query_coact *c, dense_block *b, const int *f, const double *v, int m) {
    int d = c->d;
    for (int i = 0; i < m; i++) c->sum[f[i]] += v[i];
    if (m < COACT_DENSE_FROM) {
        for (int i = 0; i < m; i++) {
            double *row = &c->cross[(size_t)f[i] * d];
            int *both = &c->n_both[(size_t)f[i] * d];
            for (int j = 0; j < m; j++) {
                row[f[j]] += v[i] * v[j];
                both[f[j]]++;
            }
        }
        return;
    }
    if (!b->values) {
        b->values = xcalloc((size_t)COACT_BLOCK * d, sizeof *b->values);
        b->fires = xcalloc((size_t)COACT_BLOCK * d, sizeof *b->fires);
        b->cross_up = xcalloc((size_t)d * d, sizeof *b->cross_up);
        b->both_up = xcalloc((size_t)d * d, sizeof *b->both_up);
    }
    for (int i = 0; i < m; i++) {
        b->values[(size_t)b->rows * d + f[i]] = v[i];
        b->fires[(size_t)b->rows * d + f[i]] = 1;
    }
    if (++b->rows == COACT_BLOCK) dense_flush(b);
}

int query_coact_compute(store *s, int64_t run_id, query_coact *c) {
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
    dense_block b = {.d = d};
    int *f = xmalloc((size_t)d * sizeof *f);
    double *v = xmalloc((size_t)d * sizeof *v);
    int status = SF_OK;
    /* the primary key (run_id, galaxy_id, feature) gives the galaxies one after another */
    sqlite3_stmt *st = store_prepare(
        s, "SELECT galaxy_id, feature, value FROM activations WHERE run_id = ?1 ORDER BY galaxy_id");
    if (!st) {
        status = SF_ERR;
        goto done;
    }
    sqlite3_bind_int64(st, 1, run_id);
    int64_t galaxy = -1;
    int m = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t g = sqlite3_column_int64(st, 0);
        if (g != galaxy) {
            add_galaxy(c, &b, f, v, m);
            galaxy = g;
            m = 0;
        }
        int feature = sqlite3_column_int(st, 1);
        double value = sqlite3_column_double(st, 2);
        if (feature < 0 || feature >= d || m >= d || value == 0) continue;
        f[m] = feature;
        v[m++] = value;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        status = store_db_fail(s, "reading activations");
        goto done;
    }
    add_galaxy(c, &b, f, v, m);
    dense_flush(&b);
    if (b.cross_up)
        for (int i = 0; i < d; i++)
            for (int j = i; j < d; j++) {
                double x = b.cross_up[(size_t)i * d + j];
                int both = (int)lround(b.both_up[(size_t)i * d + j]);
                c->cross[(size_t)i * d + j] += x;
                c->n_both[(size_t)i * d + j] += both;
                if (j != i) {
                    c->cross[(size_t)j * d + i] += x;
                    c->n_both[(size_t)j * d + i] += both;
                }
            }
done:
    free(b.values);
    free(b.fires);
    free(b.cross_up);
    free(b.both_up);
    free(f);
    free(v);
    if (status != SF_OK) query_coact_clear(c);
    return status;
}

double query_coact_pearson(const query_coact *c, int i, int j) {
    if (i < 0 || j < 0 || i >= c->d || j >= c->d || c->n < 2) return NAN;
    size_t d = (size_t)c->d;
    double n = c->n;
    double qi = c->cross[i * d + i], qj = c->cross[j * d + j];
    double vi = n * qi - c->sum[i] * c->sum[i], vj = n * qj - c->sum[j] * c->sum[j];
    /* a variance lost to rounding is a feature with one value everywhere */
    if (!(vi > 1e-12 * n * qi) || !(vj > 1e-12 * n * qj)) return NAN;
    double r = (n * c->cross[i * d + j] - c->sum[i] * c->sum[j]) / sqrt(vi * vj);
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

int query_similar_features(const query_coact *c, int feature, int n, query_similar *out) {
    int count = 0;
    if (feature < 0 || feature >= c->d || n <= 0) return 0;
    for (int j = 0; j < c->d; j++) {
        if (j == feature) continue;
        double r = query_coact_pearson(c, feature, j);
        if (isnan(r)) continue;
        /* insertion into the sorted head; j ascends, so an equal r stays behind */
        int at = count;
        while (at > 0 && out[at - 1].r < r) at--;
        if (at >= n) continue;
        int last = count < n ? count : n - 1;
        memmove(&out[at + 1], &out[at], (size_t)(last - at) * sizeof *out);
        out[at] = (query_similar){j, r, c->n_both[(size_t)feature * c->d + j]};
        if (count < n) count++;
    }
    return count;
}
