/* query_cross.c: between runs: a feature's counterparts in another run, the compare view
 * (correlation matrix and ridge R^2), and similar galaxies by sparse code (see query.h).
 * Layer: query. Calls: store_codes, store_cross, store_read, sf_util; SQLite, OpenBLAS,
 * LAPACKE.
 * Called by: cli_compare, cli_export, cli_features, cli_galaxy, tui_compare, tui_cross.
 */
#include "query.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* ---- Pearson r from a pair's sums ---------------------------------------------------------- */

static double pearson_from_sums(double n, double c, double si, double qi, double sj, double qj) {
    if (n < 2) return NAN;
    double vi = n * qi - si * si, vj = n * qj - sj * sj;
    /* a variance lost to rounding is a feature with one value everywhere */
    if (!(vi > 1e-12 * n * qi) || !(vj > 1e-12 * n * qj)) return NAN;
    double r = (n * c - si * sj) / sqrt(vi * vj);
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

double query_cross_pearson(const store_cross *p, int i, int j) {
    if (i < 0 || j < 0 || i >= p->d || j >= p->d_other) return NAN;
    if (p->row >= 0 && i != p->row) return NAN;
    return pearson_from_sums(p->n_shared, p->cross[(size_t)i * p->d_other + j], p->sum[i],
                             p->sum_sq[i], p->sum_other[j], p->sum_sq_other[j]);
}

/* ---- counterparts ----------------------------------------------------------------------------- */

void query_counterparts_clear(query_counterparts *c) {
    free(c->list);
    memset(c, 0, sizeof *c);
}

/* Whether a goes before b: larger r, then smaller feature number. */
static int counterpart_before(const query_counterpart *a, const query_counterpart *b) {
    return a->r > b->r || (a->r == b->r && a->feature < b->feature);
}

int query_counterparts_compute(store *s, int64_t run_id, int feature, int64_t other_id, int n,
                               query_counterparts *out) {
    memset(out, 0, sizeof *out);
    store_cross p;
    if (store_cross_load(s, run_id, other_id, feature, &p) != SF_OK) return SF_ERR;
    if (feature < 0 || feature >= p.d) {
        int d = p.d;
        store_cross_clear(&p);
        return sf_fail("%s: feature %d outside 0..%d of run %lld", store_path(s), feature, d - 1,
                       (long long)run_id);
    }
    out->run_id = run_id;
    out->other_id = other_id;
    out->feature = feature;
    out->n_shared = p.n_shared;
    out->n_active = p.n_active[feature];
    out->list = xcalloc((size_t)(n > 0 ? n : 1), sizeof *out->list);
    for (int j = 0; j < p.d_other && n > 0; j++) {
        double r = query_cross_pearson(&p, feature, j);
        if (isnan(r)) continue;
        size_t at = (size_t)feature * p.d_other + j;
        query_counterpart c = {j,
                               r,
                               p.n_both[at],
                               p.n_active_other[j],
                               out->n_active ? (double)p.n_both[at] / out->n_active : NAN,
                               p.n_active_other[j] ? (double)p.n_both[at] / p.n_active_other[j]
                                                   : NAN};
        /* insertion into the sorted head */
        int k = out->n < n ? out->n : n - 1;
        if (out->n == n && !counterpart_before(&c, &out->list[k])) continue;
        while (k > 0 && counterpart_before(&c, &out->list[k - 1])) {
            out->list[k] = out->list[k - 1];
            k--;
        }
        out->list[k] = c;
        if (out->n < n) out->n++;
    }
    store_cross_clear(&p);
    return SF_OK;
}

/* ---- the compare view ---------------------------------------------------------------------- */

void query_compare_clear(query_compare *c) {
    free(c->rows);
    free(c->cols);
    free(c->n_active_a);
    free(c->n_active_b);
    free(c->r);
    free(c->n_both);
    free(c->best_row);
    free(c->r2);
    memset(c, 0, sizeof *c);
}

typedef struct {
    int index;  /* into the current order */
    double key; /* position of the best match */
    double r;   /* its r */
    int feature;
} order_key;

static int order_cmp(const void *pa, const void *pb) {
    const order_key *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    if (a->r != b->r) return a->r > b->r ? -1 : 1;
    return (a->feature > b->feature) - (a->feature < b->feature);
}

/* Reorders the n_rows x n_cols matrix m (and the row/column arrays with it) so that each
 * column sits under the row it correlates most with, then each row beside its best column,
 * a few times over: related features end up along the diagonal. */
static void order_by_best_match(query_compare *c, const double *full_r, const int *full_both) {
    int nr = c->n_rows, nc = c->n_cols;
    int *rpos = xmalloc((size_t)(nr + 1) * sizeof *rpos); /* display order -> index into c->rows */
    int *cpos = xmalloc((size_t)(nc + 1) * sizeof *cpos);
    for (int i = 0; i < nr; i++) rpos[i] = i;
    for (int j = 0; j < nc; j++) cpos[j] = j;
    order_key *keys = xmalloc((size_t)(nr > nc ? nr : nc) * sizeof *keys + 1);
#define R_AT(i, j) full_r[(size_t)(i)*nc + (j)]
    for (int pass = 0; pass < 4; pass++) {
        /* columns by the display position of their best row */
        for (int jj = 0; jj < nc; jj++) {
            int j = cpos[jj];
            order_key k = {j, INFINITY, -INFINITY, c->cols[j]};
            for (int ii = 0; ii < nr; ii++) {
                double r = R_AT(rpos[ii], j);
                if (!isnan(r) && r > k.r) {
                    k.r = r;
                    k.key = ii;
                }
            }
            keys[jj] = k;
        }
        qsort(keys, (size_t)nc, sizeof *keys, order_cmp);
        for (int jj = 0; jj < nc; jj++) cpos[jj] = keys[jj].index;
        /* rows by the display position of their best column */
        for (int ii = 0; ii < nr; ii++) {
            int i = rpos[ii];
            order_key k = {i, INFINITY, -INFINITY, c->rows[i]};
            for (int jj = 0; jj < nc; jj++) {
                double r = R_AT(i, cpos[jj]);
                if (!isnan(r) && r > k.r) {
                    k.r = r;
                    k.key = jj;
                }
            }
            /* rows without any r keep their frequency order, after the others */
            if (isinf(k.key)) k.key = nc + ii;
            keys[ii] = k;
        }
        qsort(keys, (size_t)nr, sizeof *keys, order_cmp);
        for (int ii = 0; ii < nr; ii++) rpos[ii] = keys[ii].index;
    }
    int *rows = xmalloc((size_t)(nr + 1) * sizeof *rows),
        *cols = xmalloc((size_t)(nc + 1) * sizeof *cols);
    int *na = xmalloc((size_t)(nr + 1) * sizeof *na), *nb = xmalloc((size_t)(nc + 1) * sizeof *nb);
    for (int ii = 0; ii < nr; ii++) {
        rows[ii] = c->rows[rpos[ii]];
        na[ii] = c->n_active_a[rpos[ii]];
    }
    for (int jj = 0; jj < nc; jj++) {
        cols[jj] = c->cols[cpos[jj]];
        nb[jj] = c->n_active_b[cpos[jj]];
    }
    for (int ii = 0; ii < nr; ii++)
        for (int jj = 0; jj < nc; jj++) {
            c->r[(size_t)ii * nc + jj] = R_AT(rpos[ii], cpos[jj]);
            c->n_both[(size_t)ii * nc + jj] = full_both[(size_t)rpos[ii] * nc + cpos[jj]];
        }
#undef R_AT
    free(c->rows);
    free(c->cols);
    free(c->n_active_a);
    free(c->n_active_b);
    c->rows = rows;
    c->cols = cols;
    c->n_active_a = na;
    c->n_active_b = nb;
    free(rpos);
    free(cpos);
    free(keys);
}

typedef struct {
    int feature, n_active;
} live_feature;

static int live_cmp(const void *pa, const void *pb) {
    const live_feature *a = pa, *b = pb;
    if (a->n_active != b->n_active) return a->n_active > b->n_active ? -1 : 1;
    return (a->feature > b->feature) - (a->feature < b->feature);
}

/* Features with at least min_active of n_active, most active first. */
static int live_features(const int *n_active, int d, int min_active, int **features, int **counts) {
    live_feature *l = xmalloc((size_t)(d + 1) * sizeof *l);
    int n = 0;
    for (int f = 0; f < d; f++)
        if (n_active[f] > 0 && n_active[f] >= min_active) l[n++] = (live_feature){f, n_active[f]};
    qsort(l, (size_t)n, sizeof *l, live_cmp);
    *features = xmalloc((size_t)(n + 1) * sizeof **features);
    *counts = xmalloc((size_t)(n + 1) * sizeof **counts);
    for (int i = 0; i < n; i++) {
        (*features)[i] = l[i].feature;
        (*counts)[i] = l[i].n_active;
    }
    free(l);
    return n;
}

int query_compare_compute(store *s, int64_t run_a, int64_t run_b, int min_active,
                          query_compare *c) {
    memset(c, 0, sizeof *c);
    store_cross p;
    if (store_cross_load(s, run_a, run_b, -1, &p) != SF_OK) return SF_ERR;
    c->run_a = run_a;
    c->run_b = run_b;
    c->d_a = p.d;
    c->d_b = p.d_other;
    c->n_shared = p.n_shared;
    c->alpha = NAN;
    c->n_rows = live_features(p.n_active, p.d, min_active, &c->rows, &c->n_active_a);
    c->n_cols = live_features(p.n_active_other, p.d_other, min_active, &c->cols, &c->n_active_b);
    size_t cells = (size_t)c->n_rows * c->n_cols;
    double *r = xmalloc((cells + 1) * sizeof *r);
    int *both = xmalloc((cells + 1) * sizeof *both);
    for (int i = 0; i < c->n_rows; i++)
        for (int j = 0; j < c->n_cols; j++) {
            r[(size_t)i * c->n_cols + j] = query_cross_pearson(&p, c->rows[i], c->cols[j]);
            both[(size_t)i * c->n_cols + j] = p.n_both[(size_t)c->rows[i] * p.d_other + c->cols[j]];
        }
    store_cross_clear(&p);
    c->r = xmalloc((cells + 1) * sizeof *c->r);
    c->n_both = xmalloc((cells + 1) * sizeof *c->n_both);
    order_by_best_match(c, r, both);
    free(r);
    free(both);
    c->best_row = xmalloc((size_t)(c->n_cols + 1) * sizeof *c->best_row);
    for (int j = 0; j < c->n_cols; j++) {
        c->best_row[j] = -1;
        for (int i = 0; i < c->n_rows; i++) {
            double v = c->r[(size_t)i * c->n_cols + j];
            if (!isnan(v) &&
                (c->best_row[j] < 0 || v > c->r[(size_t)c->best_row[j] * c->n_cols + j]))
                c->best_row[j] = i;
        }
    }
    c->r2 = xmalloc((size_t)(c->n_cols + 1) * sizeof *c->r2);
    for (int j = 0; j < c->n_cols; j++) c->r2[j] = NAN;
    return SF_OK;
}

/* Sums of one split of the shared galaxies for the ridge regression of run B's features
 * on run A's: x the d_a activations of A, y the d_b of B. */
typedef struct {
    int n;
    double *sx;  /* (d_a) */
    double *gxx; /* (d_a, d_a) sum x x^T */
    double *sy;  /* (d_b) */
    double *syy; /* (d_b) sum y^2 */
    double *gxy; /* (d_a, d_b) sum x y^T */
    store_cross_sums *acc_xx, *acc_xy;
} ridge_sums;

static void ridge_sums_init(ridge_sums *r, int da, int db) {
    memset(r, 0, sizeof *r);
    r->sx = xcalloc((size_t)da, sizeof *r->sx);
    r->gxx = xcalloc((size_t)da * da, sizeof *r->gxx);
    r->sy = xcalloc((size_t)db, sizeof *r->sy);
    r->syy = xcalloc((size_t)db, sizeof *r->syy);
    r->gxy = xcalloc((size_t)da * db, sizeof *r->gxy);
    r->acc_xx = store_cross_sums_new(da, da, r->gxx, NULL);
    r->acc_xy = store_cross_sums_new(da, db, r->gxy, NULL);
}

static void ridge_sums_free(ridge_sums *r) {
    store_cross_sums_finish(r->acc_xx);
    store_cross_sums_finish(r->acc_xy);
    free(r->sx);
    free(r->gxx);
    free(r->sy);
    free(r->syy);
    free(r->gxy);
}

static void ridge_sums_add(ridge_sums *r, const store_code_row *x, const store_code_row *y) {
    r->n++;
    for (int i = 0; i < x->m; i++) r->sx[x->feature[i]] += x->value[i];
    for (int j = 0; j < y->m; j++) {
        double v = y->value[j];
        r->sy[y->feature[j]] += v;
        r->syy[y->feature[j]] += v * v;
    }
    store_cross_sums_add(r->acc_xx, x, x);
    store_cross_sums_add(r->acc_xy, x, y);
}

/* Fits on t, scores on v, for the columns cols[0..nc) of run B: r2 (nc). */
static int ridge_fit_score(const ridge_sums *t, const ridge_sums *v, int da, int db,
                           const int *cols, int nc, double alpha, double *r2) {
    for (int j = 0; j < nc; j++) r2[j] = NAN;
    if (t->n < 2 || v->n < 2 || nc == 0) return SF_OK;
    double nt = t->n, nv = v->n;
    double *mx = xmalloc((size_t)da * sizeof *mx);
    for (int a = 0; a < da; a++) mx[a] = t->sx[a] / nt;
    /* (X_c^T X_c + alpha I) W = X_c^T y_c, centred on the training means */
    double *m = xmalloc((size_t)da * da * sizeof *m);
    for (int a = 0; a < da; a++)
        for (int b = 0; b < da; b++)
            m[(size_t)a * da + b] =
                t->gxx[(size_t)a * da + b] - nt * mx[a] * mx[b] + (a == b ? alpha : 0);
    double *w = xmalloc((size_t)da * nc * sizeof *w);
    double *my = xmalloc((size_t)nc * sizeof *my);
    for (int j = 0; j < nc; j++) {
        my[j] = t->sy[cols[j]] / nt;
        for (int a = 0; a < da; a++)
            w[(size_t)a * nc + j] = t->gxy[(size_t)a * db + cols[j]] - nt * mx[a] * my[j];
    }
    lapack_int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', da, nc, m, da, w, nc);
    free(m);
    if (info != 0) {
        free(mx);
        free(w);
        free(my);
        return sf_fail("ridge regression: LAPACK dposv failed (info %d)", (int)info);
    }
    /* g = G_v W (da, nc) for the quadratic terms w^T G_v w */
    double *g = xmalloc((size_t)da * nc * sizeof *g);
    cblas_dsymm(CblasRowMajor, CblasLeft, CblasUpper, da, nc, 1.0, v->gxx, da, w, nc, 0.0, g, nc);
    for (int j = 0; j < nc; j++) {
        int f = cols[j];
        double b0 = my[j], wsx = 0, wgxy = 0, quad = 0;
        for (int a = 0; a < da; a++) {
            double wa = w[(size_t)a * nc + j];
            b0 -= mx[a] * wa;
            wsx += wa * v->sx[a];
            wgxy += wa * v->gxy[(size_t)a * db + f];
            quad += wa * g[(size_t)a * nc + j];
        }
        /* sum over validation of (y - b0 - x.w)^2, expanded */
        double sse = v->syy[f] - 2 * b0 * v->sy[f] - 2 * wgxy + nv * b0 * b0 + 2 * b0 * wsx + quad;
        double sst = v->syy[f] - v->sy[f] * v->sy[f] / nv;
        if (sse < 0) sse = 0;
        if (sst > 1e-12 * v->syy[f]) r2[j] = 1 - sse / sst;
    }
    free(g);
    free(mx);
    free(w);
    free(my);
    return SF_OK;
}

int query_compare_ridge(store *s, query_compare *c, double alpha) {
    if (!(alpha > 0)) return sf_fail("the ridge penalty alpha must be positive, not %g", alpha);
    store_codes_cursor *a = NULL, *b = NULL;
    if (store_codes_open(s, c->run_a, &a) != SF_OK || store_codes_open(s, c->run_b, &b) != SF_OK) {
        store_codes_close(a);
        return SF_ERR;
    }
    ridge_sums sums[2]; /* run B's split: 0 train, 1 valid */
    ridge_sums_init(&sums[0], c->d_a, c->d_b);
    ridge_sums_init(&sums[1], c->d_a, c->d_b);
    store_code_row ra, rb;
    int got;
    while ((got = store_codes_next_shared(a, b, &ra, &rb)) == 1)
        ridge_sums_add(&sums[rb.split ? 1 : 0], &ra, &rb);
    store_codes_close(a);
    store_codes_close(b);
    int status = got == 0 ? SF_OK : SF_ERR;
    for (int k = 0; k < 2; k++) {
        store_cross_sums_finish(sums[k].acc_xx);
        store_cross_sums_finish(sums[k].acc_xy);
        sums[k].acc_xx = sums[k].acc_xy = NULL;
    }
    if (status == SF_OK)
        status =
            ridge_fit_score(&sums[0], &sums[1], c->d_a, c->d_b, c->cols, c->n_cols, alpha, c->r2);
    if (status == SF_OK) {
        c->has_r2 = 1;
        c->alpha = alpha;
        c->n_train = sums[0].n;
        c->n_valid = sums[1].n;
    }
    ridge_sums_free(&sums[0]);
    ridge_sums_free(&sums[1]);
    return status;
}

/* ---- similar galaxies -------------------------------------------------------------------------- */

void query_neighbors_clear(query_neighbors *nb) {
    store_codes_clear(&nb->codes);
    free(nb->list_start);
    free(nb->list_row);
    free(nb->list_value);
    free(nb->norm);
    free(nb->dot);
    free(nb->touched);
    memset(nb, 0, sizeof *nb);
}

int query_neighbors_load(store *s, int64_t run_id, query_neighbors *nb) {
    memset(nb, 0, sizeof *nb);
    if (store_codes_load(s, run_id, &nb->codes) != SF_OK) return SF_ERR;
    const store_codes *c = &nb->codes;
    int n = c->n, d = c->d;
    size_t nnz = c->start[n];
    nb->list_start = xcalloc((size_t)d + 1, sizeof *nb->list_start);
    nb->list_row = xmalloc((nnz + 1) * sizeof *nb->list_row);
    nb->list_value = xmalloc((nnz + 1) * sizeof *nb->list_value);
    nb->norm = xmalloc(((size_t)n + 1) * sizeof *nb->norm);
    nb->dot = xcalloc((size_t)n + 1, sizeof *nb->dot);
    nb->touched = xmalloc(((size_t)n + 1) * sizeof *nb->touched);
    /* counting sort of the (row, feature) pairs by feature: rows stay ascending */
    for (size_t k = 0; k < nnz; k++) nb->list_start[c->feature[k] + 1]++;
    for (int f = 0; f < d; f++) nb->list_start[f + 1] += nb->list_start[f];
    size_t *next = xmalloc(((size_t)d + 1) * sizeof *next);
    memcpy(next, nb->list_start, ((size_t)d + 1) * sizeof *next);
    for (int i = 0; i < n; i++) {
        double sq = 0;
        for (size_t k = c->start[i]; k < c->start[i + 1]; k++) {
            size_t at = next[c->feature[k]]++;
            nb->list_row[at] = i;
            nb->list_value[at] = c->value[k];
            sq += (double)c->value[k] * c->value[k];
        }
        nb->norm[i] = sqrt(sq);
    }
    free(next);
    return SF_OK;
}

static int neighbor_before(const query_neighbor *a, const query_neighbor *b) {
    return a->cosine > b->cosine || (a->cosine == b->cosine && a->galaxy_id < b->galaxy_id);
}

int query_similar_galaxies(store *s, query_neighbors *nb, int64_t galaxy_id, int n,
                           query_neighbor *out, int *n_out) {
    *n_out = 0;
    const store_codes *c = &nb->codes;
    int g = store_codes_find(c, galaxy_id);
    if (g < 0)
        return sf_fail("%s: galaxy %lld is not in run %lld", store_path(s), (long long)galaxy_id,
                       (long long)c->run_id);
    if (n <= 0 || nb->norm[g] <= 0) return SF_OK;
    /* every product is positive, so a galaxy is new to the sums while its sum is 0 */
    int n_touched = 0;
    double *dot = nb->dot;
    for (size_t k = c->start[g]; k < c->start[g + 1]; k++) {
        int f = c->feature[k];
        double q = c->value[k];
        const int *row = nb->list_row;
        const float *val = nb->list_value;
        for (size_t p = nb->list_start[f], end = nb->list_start[f + 1]; p < end; p++) {
            int h = row[p];
            if (dot[h] == 0) nb->touched[n_touched++] = h;
            dot[h] += q * val[p];
        }
    }
    int count = 0;
    double scale = 1 / nb->norm[g];
    for (int t = 0; t < n_touched; t++) {
        int h = nb->touched[t];
        double cosine = dot[h] * scale / nb->norm[h];
        dot[h] = 0;
        if (h == g) continue;
        if (count == n && !(cosine > out[n - 1].cosine || (cosine == out[n - 1].cosine &&
                                                           c->galaxy_id[h] < out[n - 1].galaxy_id)))
            continue;
        query_neighbor cand = {c->galaxy_id[h], "", c->split[h], cosine, 0};
        if (cand.cosine > 1) cand.cosine = 1;
        int k = count < n ? count : n - 1;
        if (count == n && !neighbor_before(&cand, &out[k])) continue;
        while (k > 0 && neighbor_before(&cand, &out[k - 1])) {
            out[k] = out[k - 1];
            k--;
        }
        out[k] = cand;
        if (count < n) count++;
    }
    for (int i = 0; i < count; i++) {
        /* the active features both have: the two codes are sorted by feature */
        store_code_row a = store_codes_get(c, g),
                       b = store_codes_get(c, store_codes_find(c, out[i].galaxy_id));
        for (int x = 0, y = 0; x < a.m && y < b.m;) {
            if (a.feature[x] == b.feature[y]) out[i].n_common++, x++, y++;
            else if (a.feature[x] < b.feature[y]) x++;
            else y++;
        }
        store_galaxy gal;
        if (store_galaxy_get(s, out[i].galaxy_id, &gal) != SF_OK) return SF_ERR;
        snprintf(out[i].objid, sizeof out[i].objid, "%s", gal.objid);
        store_galaxy_clear(&gal);
    }
    *n_out = count;
    return SF_OK;
}
