/* store_cross.c: statistics of two runs over the galaxies both hold (schema version 4),
 * computed from their codes when a run is stored, and read back. See store.h.
 * Layer: store. Calls: store, store_codes, sf_util; SQLite, OpenBLAS.
 * Called by: store, store_write, query_cross.
 */
#include "store_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- sums of x y^T ----------------------------------------------------------------------- */

/* A pair with at least this many products (m_x m_y) goes to the block added by BLAS
 * (a dense run has hundreds of active features per galaxy); below it the products are
 * added one by one. */
#define CROSS_DENSE_FROM 4096
#define CROSS_BLOCK 128 /* rows per dgemm */

struct store_cross_sums {
    int dx, dy;
    double *cross; /* (dx, dy) the caller's */
    int *n_both;   /* (dx, dy) the caller's, or NULL */
    int rows;
    double *bx, *by; /* (CROSS_BLOCK, dx), (CROSS_BLOCK, dy) dense rows */
    double *ix, *iy; /* the same, 1 where active (with n_both) */
    double *both;    /* (dx, dy) the blocks' counts, added to n_both at the end */
};

store_cross_sums *store_cross_sums_new(int dx, int dy, double *cross, int *n_both) {
    store_cross_sums *a = xcalloc(1, sizeof *a);
    a->dx = dx;
    a->dy = dy;
    a->cross = cross;
    a->n_both = n_both;
    return a;
}

static void cross_flush(store_cross_sums *a) {
    if (!a->rows) return;
    int dx = a->dx, dy = a->dy;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, dx, dy, a->rows, 1.0, a->bx, dx, a->by, dy,
                1.0, a->cross, dy);
    memset(a->bx, 0, (size_t)a->rows * dx * sizeof *a->bx);
    memset(a->by, 0, (size_t)a->rows * dy * sizeof *a->by);
    if (a->n_both) {
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, dx, dy, a->rows, 1.0, a->ix, dx, a->iy,
                    dy, 1.0, a->both, dy);
        memset(a->ix, 0, (size_t)a->rows * dx * sizeof *a->ix);
        memset(a->iy, 0, (size_t)a->rows * dy * sizeof *a->iy);
    }
    a->rows = 0;
}

void store_cross_sums_add(store_cross_sums *a, const store_code_row *x, const store_code_row *y) {
    int dy = a->dy;
    if ((long)x->m * y->m < CROSS_DENSE_FROM) {
        for (int i = 0; i < x->m; i++) {
            double *row = &a->cross[(size_t)x->feature[i] * dy];
            double vx = x->value[i];
            for (int j = 0; j < y->m; j++) row[y->feature[j]] += vx * y->value[j];
            if (!a->n_both) continue;
            int *both = &a->n_both[(size_t)x->feature[i] * dy];
            for (int j = 0; j < y->m; j++) both[y->feature[j]]++;
        }
        return;
    }
    if (!a->bx) {
        a->bx = xcalloc((size_t)CROSS_BLOCK * a->dx, sizeof *a->bx);
        a->by = xcalloc((size_t)CROSS_BLOCK * dy, sizeof *a->by);
        if (a->n_both) {
            a->ix = xcalloc((size_t)CROSS_BLOCK * a->dx, sizeof *a->ix);
            a->iy = xcalloc((size_t)CROSS_BLOCK * dy, sizeof *a->iy);
            a->both = xcalloc((size_t)a->dx * dy, sizeof *a->both);
        }
    }
    size_t ox = (size_t)a->rows * a->dx, oy = (size_t)a->rows * dy;
    for (int i = 0; i < x->m; i++) a->bx[ox + x->feature[i]] = x->value[i];
    for (int j = 0; j < y->m; j++) a->by[oy + y->feature[j]] = y->value[j];
    if (a->n_both) {
        for (int i = 0; i < x->m; i++) a->ix[ox + x->feature[i]] = 1;
        for (int j = 0; j < y->m; j++) a->iy[oy + y->feature[j]] = 1;
    }
    if (++a->rows == CROSS_BLOCK) cross_flush(a);
}

void store_cross_sums_finish(store_cross_sums *a) {
    if (!a) return;
    cross_flush(a);
    if (a->both)
        for (size_t k = 0; k < (size_t)a->dx * a->dy; k++) a->n_both[k] += (int)lround(a->both[k]);
    free(a->bx);
    free(a->by);
    free(a->ix);
    free(a->iy);
    free(a->both);
    free(a);
}

/* ---- a pair's statistics ---------------------------------------------------------------- */

void store_cross_clear(store_cross *p) {
    free(p->n_active);
    free(p->sum);
    free(p->sum_sq);
    free(p->n_active_other);
    free(p->sum_other);
    free(p->sum_sq_other);
    free(p->n_both);
    free(p->cross);
    memset(p, 0, sizeof *p);
}

static int run_shape(store *s, int64_t run_id, int *d) {
    sqlite3_stmt *st = store_prepare(s, "SELECT d FROM runs WHERE id = ?1");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *d = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return sf_fail("%s: no run with id %lld", s->path, (long long)run_id);
    return rc == SQLITE_ROW ? SF_OK : store_db_fail(s, "reading a run");
}

static int pair_alloc(store *s, int64_t run_id, int64_t other_id, store_cross *p) {
    memset(p, 0, sizeof *p);
    if (run_id == other_id) return sf_fail("%s: a run is not compared with itself", s->path);
    int d = 0, d_other = 0;
    if (run_shape(s, run_id, &d) != SF_OK || run_shape(s, other_id, &d_other) != SF_OK)
        return SF_ERR;
    p->run_id = run_id;
    p->other_id = other_id;
    p->d = d;
    p->d_other = d_other;
    p->row = -1;
    p->n_active = xcalloc((size_t)d, sizeof *p->n_active);
    p->sum = xcalloc((size_t)d, sizeof *p->sum);
    p->sum_sq = xcalloc((size_t)d, sizeof *p->sum_sq);
    p->n_active_other = xcalloc((size_t)d_other, sizeof *p->n_active_other);
    p->sum_other = xcalloc((size_t)d_other, sizeof *p->sum_other);
    p->sum_sq_other = xcalloc((size_t)d_other, sizeof *p->sum_sq_other);
    p->n_both = xcalloc((size_t)d * d_other, sizeof *p->n_both);
    p->cross = xcalloc((size_t)d * d_other, sizeof *p->cross);
    return SF_OK;
}

static void add_sums(const store_code_row *r, int *n_active, double *sum, double *sum_sq) {
    for (int i = 0; i < r->m; i++) {
        double v = r->value[i];
        n_active[r->feature[i]]++;
        sum[r->feature[i]] += v;
        sum_sq[r->feature[i]] += v * v;
    }
}

int store_cross_compute(store *s, int64_t run_id, int64_t other_id, store_cross *p) {
    if (pair_alloc(s, run_id, other_id, p) != SF_OK) return SF_ERR;
    store_codes_cursor *a = NULL, *b = NULL;
    if (store_codes_open(s, run_id, &a) != SF_OK || store_codes_open(s, other_id, &b) != SF_OK) {
        store_codes_close(a);
        store_cross_clear(p);
        return SF_ERR;
    }
    store_cross_sums *acc = store_cross_sums_new(p->d, p->d_other, p->cross, p->n_both);
    store_code_row ra, rb;
    int got;
    while ((got = store_codes_next_shared(a, b, &ra, &rb)) == 1) {
        p->n_shared++;
        add_sums(&ra, p->n_active, p->sum, p->sum_sq);
        add_sums(&rb, p->n_active_other, p->sum_other, p->sum_sq_other);
        store_cross_sums_add(acc, &ra, &rb);
    }
    store_cross_sums_finish(acc);
    store_codes_close(a);
    store_codes_close(b);
    if (got != 0) {
        store_cross_clear(p);
        return SF_ERR;
    }
    return SF_OK;
}

/* Writes p both ways round: (run, other) and (other, run). */
static int pair_write(store *s, const store_cross *p) {
    sqlite3_stmt *pair = store_prepare(s, "INSERT INTO run_pairs (run_id, other_id, n_shared) "
                                          "VALUES (?1, ?2, ?3)");
    sqlite3_stmt *feat = store_prepare(s, "INSERT INTO pair_features (run_id, other_id, feature, "
                                          "n_active, sum, sum_sq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    sqlite3_stmt *co =
        store_prepare(s, "INSERT INTO pair_coact (run_id, other_id, feature, "
                         "other_feature, n_both, sum_product) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    int status = SF_ERR;
    if (!pair || !feat || !co) goto done;
    for (int side = 0; side < 2; side++) {
        int64_t r = side ? p->other_id : p->run_id, o = side ? p->run_id : p->other_id;
        int d = side ? p->d_other : p->d;
        const int *na = side ? p->n_active_other : p->n_active;
        const double *sum = side ? p->sum_other : p->sum, *sq = side ? p->sum_sq_other : p->sum_sq;
        sqlite3_bind_int64(pair, 1, r);
        sqlite3_bind_int64(pair, 2, o);
        sqlite3_bind_int(pair, 3, p->n_shared);
        if (sqlite3_step(pair) != SQLITE_DONE) goto fail;
        sqlite3_reset(pair);
        for (int f = 0; f < d; f++) {
            if (!na[f]) continue;
            sqlite3_bind_int64(feat, 1, r);
            sqlite3_bind_int64(feat, 2, o);
            sqlite3_bind_int(feat, 3, f);
            sqlite3_bind_int(feat, 4, na[f]);
            sqlite3_bind_double(feat, 5, sum[f]);
            sqlite3_bind_double(feat, 6, sq[f]);
            if (sqlite3_step(feat) != SQLITE_DONE) goto fail;
            sqlite3_reset(feat);
        }
    }
    /* (run, other, i, j) in key order, then (other, run, j, i) in key order */
    for (int side = 0; side < 2; side++) {
        int n_rows = side ? p->d_other : p->d, n_cols = side ? p->d : p->d_other;
        for (int i = 0; i < n_rows; i++)
            for (int j = 0; j < n_cols; j++) {
                size_t at = side ? (size_t)j * p->d_other + i : (size_t)i * p->d_other + j;
                if (!p->n_both[at]) continue;
                sqlite3_bind_int64(co, 1, side ? p->other_id : p->run_id);
                sqlite3_bind_int64(co, 2, side ? p->run_id : p->other_id);
                sqlite3_bind_int(co, 3, i);
                sqlite3_bind_int(co, 4, j);
                sqlite3_bind_int(co, 5, p->n_both[at]);
                sqlite3_bind_double(co, 6, p->cross[at]);
                if (sqlite3_step(co) != SQLITE_DONE) goto fail;
                sqlite3_reset(co);
            }
    }
    status = SF_OK;
    goto done;
fail:
    store_db_fail(s, "writing the statistics of two runs");
done:
    sqlite3_finalize(pair);
    sqlite3_finalize(feat);
    sqlite3_finalize(co);
    return status;
}

/* Whether the file holds the pair's statistics (*n_shared set when it does). */
static int pair_stored(store *s, int64_t run_id, int64_t other_id, int *yes, int *n_shared) {
    *yes = 0;
    if (s->version < 4) return SF_OK;
    sqlite3_stmt *st =
        store_prepare(s, "SELECT n_shared FROM run_pairs WHERE run_id = ?1 AND other_id = ?2");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, other_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *yes = 1;
        *n_shared = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SF_OK
                                                 : store_db_fail(s, "reading two runs' statistics");
}

static int read_features(store *s, int64_t run_id, int64_t other_id, int d, int *n_active,
                         double *sum, double *sum_sq) {
    sqlite3_stmt *st = store_prepare(s, "SELECT feature, n_active, sum, sum_sq FROM pair_features "
                                        "WHERE run_id = ?1 AND other_id = ?2");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, other_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int f = sqlite3_column_int(st, 0);
        if (f < 0 || f >= d) continue;
        n_active[f] = sqlite3_column_int(st, 1);
        sum[f] = sqlite3_column_double(st, 2);
        sum_sq[f] = sqlite3_column_double(st, 3);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SF_OK : store_db_fail(s, "reading two runs' statistics");
}

int store_cross_load(store *s, int64_t run_id, int64_t other_id, int feature, store_cross *p) {
    int stored = 0, n_shared = 0;
    memset(p, 0, sizeof *p);
    if (pair_stored(s, run_id, other_id, &stored, &n_shared) != SF_OK) return SF_ERR;
    if (!stored) {
        if (store_cross_compute(s, run_id, other_id, p) != SF_OK) return SF_ERR;
        if (feature >= 0 && feature < p->d) {
            /* as a stored pair read for one feature: that row only */
            for (int i = 0; i < p->d; i++)
                if (i != feature) {
                    memset(&p->n_both[(size_t)i * p->d_other], 0,
                           (size_t)p->d_other * sizeof *p->n_both);
                    memset(&p->cross[(size_t)i * p->d_other], 0,
                           (size_t)p->d_other * sizeof *p->cross);
                }
            p->row = feature;
        }
        return SF_OK;
    }
    if (pair_alloc(s, run_id, other_id, p) != SF_OK) return SF_ERR;
    p->stored = 1;
    p->n_shared = n_shared;
    if (feature >= p->d) {
        int d = p->d;
        store_cross_clear(p);
        return sf_fail("%s: feature %d outside 0..%d of run %lld", s->path, feature, d - 1,
                       (long long)run_id);
    }
    p->row = feature < 0 ? -1 : feature;
    if (read_features(s, run_id, other_id, p->d, p->n_active, p->sum, p->sum_sq) != SF_OK ||
        read_features(s, other_id, run_id, p->d_other, p->n_active_other, p->sum_other,
                      p->sum_sq_other) != SF_OK) {
        store_cross_clear(p);
        return SF_ERR;
    }
    sqlite3_stmt *st = store_prepare(
        s, feature < 0 ? "SELECT feature, other_feature, n_both, sum_product FROM pair_coact "
                         "WHERE run_id = ?1 AND other_id = ?2"
                       : "SELECT feature, other_feature, n_both, sum_product FROM pair_coact "
                         "WHERE run_id = ?1 AND other_id = ?2 AND feature = ?3");
    if (!st) {
        store_cross_clear(p);
        return SF_ERR;
    }
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, other_id);
    if (feature >= 0) sqlite3_bind_int(st, 3, feature);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int i = sqlite3_column_int(st, 0), j = sqlite3_column_int(st, 1);
        if (i < 0 || i >= p->d || j < 0 || j >= p->d_other) continue;
        size_t at = (size_t)i * p->d_other + j;
        p->n_both[at] = sqlite3_column_int(st, 2);
        p->cross[at] = sqlite3_column_double(st, 3);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        store_cross_clear(p);
        return store_db_fail(s, "reading two runs' statistics");
    }
    return SF_OK;
}

/* Galaxies both runs hold, counted from run_galaxies (for pairs not stored). */
static int count_shared(store *s, int64_t run_id, int64_t other_id, int *n) {
    sqlite3_stmt *st =
        store_prepare(s, "SELECT count(*) FROM run_galaxies AS a JOIN run_galaxies AS b "
                         "ON b.run_id = ?2 AND b.galaxy_id = a.galaxy_id WHERE a.run_id = ?1");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, other_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? SF_OK : store_db_fail(s, "counting the galaxies of two runs");
}

int store_cross_runs(store *s, int64_t run_id, int64_t **others, int **n_shared, int *n) {
    *others = NULL;
    *n_shared = NULL;
    *n = 0;
    sqlite3_stmt *st = store_prepare(s, "SELECT id FROM runs WHERE id <> ?1 ORDER BY id");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    int cap = 4, count = 0, rc;
    int64_t *ids = xmalloc((size_t)cap * sizeof *ids);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) ids = xrealloc(ids, (size_t)(cap *= 2) * sizeof *ids);
        ids[count++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(ids);
        return store_db_fail(s, "listing the runs");
    }
    int *shared = xmalloc((size_t)(count + 1) * sizeof *shared), kept = 0;
    for (int i = 0; i < count; i++) {
        int stored = 0, k = 0;
        if (pair_stored(s, run_id, ids[i], &stored, &k) != SF_OK ||
            (!stored && count_shared(s, run_id, ids[i], &k) != SF_OK)) {
            free(ids);
            free(shared);
            return SF_ERR;
        }
        if (k <= 0) continue;
        ids[kept] = ids[i];
        shared[kept++] = k;
    }
    *others = ids;
    *n_shared = shared;
    *n = kept;
    return SF_OK;
}

/* ---- keeping them complete ------------------------------------------------------------------ */

/* The runs (ids ascending) and whether each has complete codes; *n_pairs the pairs
 * stored (both ways round). */
static int cross_state(store *s, int64_t **ids, int **complete, int *n, long long *n_pairs) {
    *ids = NULL;
    *complete = NULL;
    *n = 0;
    *n_pairs = 0;
    sqlite3_stmt *st =
        store_prepare(s, "SELECT r.id, r.n_galaxies, (SELECT total(c.n_rows) FROM run_codes AS c "
                         "WHERE c.run_id = r.id), "
                         "(SELECT count(*) FROM run_codes AS c WHERE c.run_id = r.id), "
                         "(SELECT count(*) FROM run_pairs) FROM runs AS r ORDER BY r.id");
    if (!st) return SF_ERR;
    int cap = 4, rc;
    int64_t *list = xmalloc((size_t)cap * sizeof *list);
    int *ok = xmalloc((size_t)cap * sizeof *ok);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap *= 2;
            list = xrealloc(list, (size_t)cap * sizeof *list);
            ok = xrealloc(ok, (size_t)cap * sizeof *ok);
        }
        list[*n] = sqlite3_column_int64(st, 0);
        ok[(*n)++] = sqlite3_column_int(st, 3) > 0 &&
                     sqlite3_column_double(st, 2) == (double)sqlite3_column_int64(st, 1);
        *n_pairs = sqlite3_column_int64(st, 4);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(list);
        free(ok);
        *n = 0;
        return store_db_fail(s, "listing the runs");
    }
    *ids = list;
    *complete = ok;
    return SF_OK;
}

int store_cross_refresh(store *s) {
    if (s->version < 4)
        return sf_fail("%s: schema version %d has no pair statistics", s->path, s->version);
    int64_t *ids = NULL;
    int *complete = NULL, n = 0;
    long long n_pairs = 0;
    if (cross_state(s, &ids, &complete, &n, &n_pairs) != SF_OK) return SF_ERR;
    int todo = n_pairs != (long long)n * (n - 1);
    for (int i = 0; i < n; i++) todo |= !complete[i];
    int own = todo && sqlite3_get_autocommit(s->db);
    int status = own ? store_begin(s) : SF_OK;
    for (int i = 0; todo && i < n && status == SF_OK; i++)
        if (!complete[i]) status = store_codes_write(s, ids[i]);
    for (int i = 0; todo && i < n && status == SF_OK; i++)
        for (int j = i + 1; j < n && status == SF_OK; j++) {
            int stored = 0, k = 0;
            status = pair_stored(s, ids[i], ids[j], &stored, &k);
            if (status != SF_OK || stored) continue;
            store_cross p;
            status = store_cross_compute(s, ids[i], ids[j], &p);
            if (status != SF_OK) break;
            status = pair_write(s, &p);
            store_cross_clear(&p);
        }
    if (own) {
        if (status == SF_OK) status = store_commit(s);
        if (status != SF_OK) store_rollback(s);
    }
    free(ids);
    free(complete);
    return status;
}
