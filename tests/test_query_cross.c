/* test_query_cross.c: what lies between runs: each run's packed codes, the statistics of
 * two runs over the galaxies both hold, counterparts, the compare view (correlation
 * matrix and ridge R^2), similar galaxies, and the commands that print them; checked
 * against brute force over the fixture's own arrays, against an independent least
 * squares, and against numpy/scipy on export-activations (tests/cross_check.py). */
#include <criterion/criterion.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cJSON.h>
#include <sqlite3.h>

#include "analysis.h"
#include "cross_fixture.h"
#include "query.h"
#include "sf_util.h"
#include "store.h"

static char dir[64], db_path[128];
static cross_fixture cf;

static void setup(void) {
    fixture_tmpdir(dir, sizeof dir);
    cr_assert(dir[0]);
    snprintf(db_path, sizeof db_path, "%s/cross.db", dir);
    cr_assert_eq(cfx_make(&cf, db_path), SF_OK, "%s", sf_last_error());
}

static void teardown(void) {
    cfx_free(&cf);
    fixture_rmdir(dir);
}

TestSuite(cross, .init = setup, .fini = teardown, .timeout = 300);

static store *open_read(const char *path) {
    store *s = NULL;
    cr_assert_eq(store_open(&s, path, STORE_READ), SF_OK, "%s", sf_last_error());
    return s;
}

static long long raw_int(const char *path, const char *sql) {
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    long long v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void raw_exec(const char *path, const char *sql) {
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    char *msg = NULL;
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK, "%s", msg ? msg : "");
    sqlite3_close(db);
}

static void check_codes(const store_codes *c, int r) {
    const fixture_run *fx = &cf.run[r];
    cr_assert_eq(c->n, fx->n);
    cr_assert_eq(c->d, fx->d);
    for (int i = 1; i < c->n; i++) cr_assert_gt(c->galaxy_id[i], c->galaxy_id[i - 1]);
    store *s = open_read(db_path);
    for (int i = 0; i < c->n; i++) {
        store_galaxy g;
        cr_assert_eq(store_galaxy_get(s, c->galaxy_id[i], &g), SF_OK);
        int num = atoi(g.objid) - CFX_OBJID0, row = cfx_row(&cf, r, num);
        store_galaxy_clear(&g);
        cr_assert_geq(row, 0);
        cr_assert_eq(c->split[i], fx->split[row]);
        int m = 0;
        for (int f = 0; f < fx->d; f++) m += cfx_act(&cf, r, num, f) > 0;
        store_code_row code = store_codes_get(c, i);
        cr_assert_eq(code.m, m, "galaxy %d of run %d: %d active, codes say %d", num, r, m, code.m);
        for (int j = 0; j < code.m; j++) {
            if (j) cr_assert_gt(code.feature[j], code.feature[j - 1]);
            cr_assert_eq(code.value[j], (float)cfx_act(&cf, r, num, code.feature[j]));
        }
    }
    store_close(s);
}

Test(cross, codes_are_the_activations_packed_in_galaxy_order) {
    for (int r = 0; r < CFX_RUNS; r++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT total(n_rows) FROM run_codes WHERE run_id = %lld",
                 (long long)cf.id[r]);
        cr_assert_eq(raw_int(db_path, sql), cf.run[r].n, "run %d's chunks hold its galaxies", r);
        store *s = open_read(db_path);
        store_codes c;
        cr_assert_eq(store_codes_load(s, cf.id[r], &c), SF_OK, "%s", sf_last_error());
        store_close(s);
        check_codes(&c, r);
        store_codes_clear(&c);
    }
    /* without the chunks (an older file), the same codes from the activations */
    raw_exec(db_path, "DELETE FROM run_codes");
    for (int r = 0; r < CFX_RUNS; r++) {
        store *s = open_read(db_path);
        store_codes c;
        cr_assert_eq(store_codes_load(s, cf.id[r], &c), SF_OK, "%s", sf_last_error());
        store_close(s);
        check_codes(&c, r);
        store_codes_clear(&c);
    }
    /* a damaged chunk is an error that says so, not garbage */
    store *w;
    cr_assert_eq(store_open(&w, db_path, STORE_WRITE), SF_OK);
    store_close(w);
    cfx_free(&cf);
    fixture_rmdir(dir);
    setup();
    raw_exec(db_path, "UPDATE run_codes SET data = substr(data, 1, 40) WHERE chunk = 0");
    store *s = open_read(db_path);
    store_codes c;
    cr_assert_eq(store_codes_load(s, cf.id[0], &c), SF_ERR);
    cr_assert(strstr(sf_last_error(), "damaged"), "%s", sf_last_error());
    store_close(s);
}

/* Brute-force statistics of runs x and y over the galaxies both hold. */
typedef struct {
    int n_shared;
    int *na, *nb, *both; /* (dx), (dy), (dx, dy) */
    double *sa, *qa, *sb, *qb, *cross;
} brute_pair;

static void brute_pair_make(int x, int y, brute_pair *b) {
    int dx = cf.run[x].d, dy = cf.run[y].d;
    memset(b, 0, sizeof *b);
    b->na = calloc(dx, sizeof(int));
    b->nb = calloc(dy, sizeof(int));
    b->both = calloc((size_t)dx * dy, sizeof(int));
    b->sa = calloc(dx, sizeof(double));
    b->qa = calloc(dx, sizeof(double));
    b->sb = calloc(dy, sizeof(double));
    b->qb = calloc(dy, sizeof(double));
    b->cross = calloc((size_t)dx * dy, sizeof(double));
    for (int g = 0; g < CFX_GALAXIES; g++) {
        if (cfx_row(&cf, x, g) < 0 || cfx_row(&cf, y, g) < 0) continue;
        b->n_shared++;
        for (int i = 0; i < dx; i++) {
            double a = cfx_act(&cf, x, g, i);
            b->na[i] += a > 0;
            b->sa[i] += a;
            b->qa[i] += a * a;
            for (int j = 0; j < dy; j++) {
                double v = cfx_act(&cf, y, g, j);
                b->cross[(size_t)i * dy + j] += a * v;
                b->both[(size_t)i * dy + j] += a > 0 && v > 0;
            }
        }
        for (int j = 0; j < dy; j++) {
            double v = cfx_act(&cf, y, g, j);
            b->nb[j] += v > 0;
            b->sb[j] += v;
            b->qb[j] += v * v;
        }
    }
}

static void brute_pair_free(brute_pair *b) {
    free(b->na);
    free(b->nb);
    free(b->both);
    free(b->sa);
    free(b->qa);
    free(b->sb);
    free(b->qb);
    free(b->cross);
}

static double brute_r(int x, int y, int i, int j) {
    double n = 0, sa = 0, sb = 0;
    for (int g = 0; g < CFX_GALAXIES; g++)
        if (cfx_row(&cf, x, g) >= 0 && cfx_row(&cf, y, g) >= 0) {
            n++;
            sa += cfx_act(&cf, x, g, i);
            sb += cfx_act(&cf, y, g, j);
        }
    double ma = sa / n, mb = sb / n, cab = 0, caa = 0, cbb = 0;
    for (int g = 0; g < CFX_GALAXIES; g++)
        if (cfx_row(&cf, x, g) >= 0 && cfx_row(&cf, y, g) >= 0) {
            double a = cfx_act(&cf, x, g, i) - ma, b = cfx_act(&cf, y, g, j) - mb;
            cab += a * b;
            caa += a * a;
            cbb += b * b;
        }
    return caa > 0 && cbb > 0 ? cab / sqrt(caa * cbb) : NAN;
}

static void check_pair(const store_cross *p, int x, int y) {
    brute_pair b;
    brute_pair_make(x, y, &b);
    int dx = cf.run[x].d, dy = cf.run[y].d;
    cr_assert_eq(p->d, dx);
    cr_assert_eq(p->d_other, dy);
    cr_assert_eq(p->n_shared, b.n_shared);
    for (int i = 0; i < dx; i++) {
        cr_assert_eq(p->n_active[i], b.na[i]);
        cr_assert_float_eq(p->sum[i], b.sa[i], 1e-9 * (1 + b.sa[i]));
        cr_assert_float_eq(p->sum_sq[i], b.qa[i], 1e-9 * (1 + b.qa[i]));
    }
    for (int j = 0; j < dy; j++) {
        cr_assert_eq(p->n_active_other[j], b.nb[j]);
        cr_assert_float_eq(p->sum_other[j], b.sb[j], 1e-9 * (1 + b.sb[j]));
        cr_assert_float_eq(p->sum_sq_other[j], b.qb[j], 1e-9 * (1 + b.qb[j]));
    }
    for (int i = 0; i < dx; i++)
        for (int j = 0; j < dy; j++) {
            size_t at = (size_t)i * dy + j;
            if (p->row >= 0 && i != p->row) {
                cr_assert_eq(p->n_both[at], 0);
                continue;
            }
            cr_assert_eq(p->n_both[at], b.both[at], "(%d, %d): %d vs %d", i, j, p->n_both[at],
                         b.both[at]);
            cr_assert_float_eq(p->cross[at], b.cross[at], 1e-9 * (1 + b.cross[at]));
        }
    brute_pair_free(&b);
}

/* The cross sums: pairs of many active features go through BLAS blocks, the others one
 * product at a time; both give the brute-force sums and counts. */
Test(cross, cross_sums_dense_blocks_and_sparse_updates_agree) {
    enum { DX = 90, DY = 70, ROWS = 300 };
    double *cross = calloc(DX * DY, sizeof(double)), *want = calloc(DX * DY, sizeof(double));
    int *both = calloc(DX * DY, sizeof(int)), *want_both = calloc(DX * DY, sizeof(int));
    store_cross_sums *acc = store_cross_sums_new(DX, DY, cross, both);
    sf_rng rng;
    sf_rng_seed(&rng, 9);
    uint16_t fx[DX], fy[DY];
    float vx[DX], vy[DY];
    for (int r = 0; r < ROWS; r++) {
        /* a third of the rows dense on both sides (m_x m_y >= 4096), the rest sparse */
        double px = r % 3 == 0 ? 0.9 : 0.05, py = r % 3 == 0 ? 0.9 : 0.1;
        store_code_row x = {r, 0, 0, fx, vx}, y = {r, 0, 0, fy, vy};
        for (int f = 0; f < DX; f++)
            if (sf_rng_uniform(&rng) < px)
                fx[x.m] = (uint16_t)f, vx[x.m++] = (float)(0.1 + sf_rng_uniform(&rng));
        for (int f = 0; f < DY; f++)
            if (sf_rng_uniform(&rng) < py)
                fy[y.m] = (uint16_t)f, vy[y.m++] = (float)(0.1 + sf_rng_uniform(&rng));
        store_cross_sums_add(acc, &x, &y);
        for (int i = 0; i < x.m; i++)
            for (int j = 0; j < y.m; j++) {
                want[fx[i] * DY + fy[j]] += (double)vx[i] * vy[j];
                want_both[fx[i] * DY + fy[j]]++;
            }
    }
    store_cross_sums_finish(acc);
    for (int k = 0; k < DX * DY; k++) {
        cr_assert_float_eq(cross[k], want[k], 1e-9 * (1 + want[k]));
        cr_assert_eq(both[k], want_both[k]);
    }
    free(cross);
    free(want);
    free(both);
    free(want_both);
}

Test(cross, pair_statistics_match_brute_force_both_ways_round) {
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM run_pairs"), 6,
                 "three pairs, both ways round");
    store *s = open_read(db_path);
    for (int x = 0; x < CFX_RUNS; x++)
        for (int y = 0; y < CFX_RUNS; y++) {
            if (x == y) continue;
            store_cross p, q;
            cr_assert_eq(store_cross_load(s, cf.id[x], cf.id[y], -1, &p), SF_OK, "%s",
                         sf_last_error());
            cr_assert(p.stored);
            check_pair(&p, x, y);
            /* computed now from the codes: the same numbers */
            cr_assert_eq(store_cross_compute(s, cf.id[x], cf.id[y], &q), SF_OK, "%s",
                         sf_last_error());
            check_pair(&q, x, y);
            store_cross_clear(&q);
            /* one feature's row */
            cr_assert_eq(store_cross_load(s, cf.id[x], cf.id[y], 3, &q), SF_OK);
            cr_assert_eq(q.row, 3);
            check_pair(&q, x, y);
            for (int j = 0; j < q.d_other; j++) {
                double r = query_cross_pearson(&q, 3, j), want = brute_r(x, y, 3, j);
                if (isnan(want)) cr_assert(isnan(r));
                else cr_assert_float_eq(r, want, 1e-9, "r(%d:3, %d:%d) %g vs %g", x, y, j, r, want);
            }
            store_cross_clear(&q);
            store_cross_clear(&p);
        }
    /* the runs sharing galaxies with A: B (200 galaxies) and C (300) */
    int64_t *others;
    int *shared, n;
    cr_assert_eq(store_cross_runs(s, cf.id[0], &others, &shared, &n), SF_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(others[0], cf.id[1]);
    cr_assert_eq(shared[0], 200);
    cr_assert_eq(others[1], cf.id[2]);
    cr_assert_eq(shared[1], 300);
    free(others);
    free(shared);
    store_close(s);
}

Test(cross, counterparts_match_brute_force) {
    store *s = open_read(db_path);
    for (int x = 0; x < CFX_RUNS; x++)
        for (int y = 0; y < CFX_RUNS; y++) {
            if (x == y) continue;
            for (int f = 0; f < 6; f++) {
                query_counterparts cp;
                cr_assert_eq(query_counterparts_compute(s, cf.id[x], f, cf.id[y], 5, &cp), SF_OK,
                             "%s", sf_last_error());
                /* every feature of y by brute force r, largest first */
                int dy = cf.run[y].d, n_this = 0, order[128], n_order = 0;
                double r[128];
                for (int g = 0; g < CFX_GALAXIES; g++)
                    if (cfx_row(&cf, x, g) >= 0 && cfx_row(&cf, y, g) >= 0)
                        n_this += cfx_act(&cf, x, g, f) > 0;
                cr_assert_eq(cp.n_active, n_this);
                for (int j = 0; j < dy; j++) {
                    r[j] = brute_r(x, y, f, j);
                    if (!isnan(r[j])) order[n_order++] = j;
                }
                for (int a = 1; a < n_order; a++)
                    for (int b = a; b > 0 && (r[order[b]] > r[order[b - 1]] + 1e-12); b--) {
                        int t = order[b];
                        order[b] = order[b - 1];
                        order[b - 1] = t;
                    }
                int want_n = n_order < 5 ? n_order : 5;
                cr_assert_eq(cp.n, want_n);
                for (int i = 0; i < cp.n; i++) {
                    const query_counterpart *c = &cp.list[i];
                    cr_assert_float_eq(c->r, r[order[i]], 1e-9, "%d:%d -> %d: rank %d", x, f, y, i);
                    if (i) cr_assert_geq(cp.list[i - 1].r, c->r);
                    int both = 0, n_other = 0;
                    for (int g = 0; g < CFX_GALAXIES; g++)
                        if (cfx_row(&cf, x, g) >= 0 && cfx_row(&cf, y, g) >= 0) {
                            int on = cfx_act(&cf, y, g, c->feature) > 0;
                            n_other += on;
                            both += on && cfx_act(&cf, x, g, f) > 0;
                        }
                    cr_assert_eq(c->n_both, both);
                    cr_assert_eq(c->n_active, n_other);
                    if (n_this) cr_assert_float_eq(c->f_cond, (double)both / n_this, 1e-12);
                    cr_assert_float_eq(c->f_cond_rev, (double)both / n_other, 1e-12);
                }
                query_counterparts_clear(&cp);
            }
        }
    /* the latent: A's first feature floor(8u) and B's floor(6u) overlap in u */
    query_counterparts cp;
    cr_assert_eq(query_counterparts_compute(s, cf.id[0], 0, cf.id[1], 1, &cp), SF_OK);
    cr_assert_eq(cp.list[0].feature, 0, "A 0 (u < 1/8) goes with B 0 (u < 1/6)");
    cr_assert_gt(cp.list[0].r, 0.5);
    query_counterparts_clear(&cp);
    cr_assert_eq(query_counterparts_compute(s, cf.id[0], 99, cf.id[1], 1, &cp), SF_ERR);
    store_close(s);
}

Test(cross, compare_matrix_orders_related_features_together) {
    store *s = open_read(db_path);
    query_compare c;
    cr_assert_eq(query_compare_compute(s, cf.id[0], cf.id[1], 1, &c), SF_OK, "%s", sf_last_error());
    cr_assert_eq(c.n_shared, 200);
    brute_pair b;
    brute_pair_make(0, 1, &b);
    int live_a = 0, live_b = 0;
    for (int i = 0; i < 32; i++) live_a += b.na[i] > 0;
    for (int j = 0; j < 24; j++) live_b += b.nb[j] > 0;
    cr_assert_eq(c.n_rows, live_a);
    cr_assert_eq(c.n_cols, live_b);
    /* every feature once; every cell the brute-force r and count */
    int seen_a[32] = {0}, seen_b[24] = {0};
    for (int i = 0; i < c.n_rows; i++) seen_a[c.rows[i]]++;
    for (int j = 0; j < c.n_cols; j++) seen_b[c.cols[j]]++;
    for (int i = 0; i < 32; i++) cr_assert_eq(seen_a[i], b.na[i] > 0);
    for (int j = 0; j < 24; j++) cr_assert_eq(seen_b[j], b.nb[j] > 0);
    for (int i = 0; i < c.n_rows; i++) {
        cr_assert_eq(c.n_active_a[i], b.na[c.rows[i]]);
        for (int j = 0; j < c.n_cols; j++) {
            double want = brute_r(0, 1, c.rows[i], c.cols[j]);
            cr_assert_float_eq(c.r[(size_t)i * c.n_cols + j], want, 1e-9);
            cr_assert_eq(c.n_both[(size_t)i * c.n_cols + j],
                         b.both[(size_t)c.rows[i] * 24 + c.cols[j]]);
        }
    }
    /* the latent features 0..7 of A and 0..5 of B form a band: each column of B's first six
     * sits beside its best row, which comes before the rows of unrelated features */
    for (int j = 0; j < c.n_cols; j++) {
        int best = c.best_row[j];
        cr_assert_geq(best, 0);
        for (int i = 0; i < c.n_rows; i++)
            cr_assert_geq(c.r[(size_t)best * c.n_cols + j], c.r[(size_t)i * c.n_cols + j] - 1e-15);
        if (j > 0 && c.best_row[j - 1] >= 0)
            cr_assert_geq(best, c.best_row[j - 1], "columns follow their rows");
    }
    brute_pair_free(&b);
    query_compare_clear(&c);
    /* min_active leaves out rare features */
    cr_assert_eq(query_compare_compute(s, cf.id[0], cf.id[1], 40, &c), SF_OK);
    for (int j = 0; j < c.n_cols; j++) cr_assert_geq(c.n_active_b[j], 40);
    query_compare_clear(&c);
    store_close(s);
}

/* Ridge R^2 of run y's feature f from all of run x's, fitted on y's training split of the
 * shared galaxies and scored on its validation split, by the normal equations on dense
 * matrices (LAPACK's dgesv). */
static double dense_ridge_r2(int x, int y, int f, double alpha) {
    int dx = cf.run[x].d;
    double *xtx = calloc((size_t)dx * dx, sizeof(double)), *xty = calloc(dx, sizeof(double));
    double *mx = calloc(dx, sizeof(double)), my = 0;
    int nt = 0;
    for (int g = 0; g < CFX_GALAXIES; g++) {
        int ry = cfx_row(&cf, y, g);
        if (cfx_row(&cf, x, g) < 0 || ry < 0 || cf.run[y].split[ry]) continue;
        nt++;
        for (int a = 0; a < dx; a++) mx[a] += cfx_act(&cf, x, g, a);
        my += cfx_act(&cf, y, g, f);
    }
    for (int a = 0; a < dx; a++) mx[a] /= nt;
    my /= nt;
    for (int g = 0; g < CFX_GALAXIES; g++) {
        int ry = cfx_row(&cf, y, g);
        if (cfx_row(&cf, x, g) < 0 || ry < 0 || cf.run[y].split[ry]) continue;
        double yc = cfx_act(&cf, y, g, f) - my;
        for (int a = 0; a < dx; a++) {
            double xa = cfx_act(&cf, x, g, a) - mx[a];
            xty[a] += xa * yc;
            for (int b = 0; b < dx; b++)
                xtx[(size_t)a * dx + b] += xa * (cfx_act(&cf, x, g, b) - mx[b]);
        }
    }
    for (int a = 0; a < dx; a++) xtx[(size_t)a * dx + a] += alpha;
    lapack_int *piv = calloc(dx, sizeof(lapack_int));
    cr_assert_eq(LAPACKE_dgesv(LAPACK_ROW_MAJOR, dx, 1, xtx, dx, piv, xty, 1), 0);
    double sse = 0, sy = 0, syy = 0;
    int nv = 0;
    for (int g = 0; g < CFX_GALAXIES; g++) {
        int ry = cfx_row(&cf, y, g);
        if (cfx_row(&cf, x, g) < 0 || ry < 0 || !cf.run[y].split[ry]) continue;
        double pred = my, v = cfx_act(&cf, y, g, f);
        for (int a = 0; a < dx; a++) pred += (cfx_act(&cf, x, g, a) - mx[a]) * xty[a];
        sse += (v - pred) * (v - pred);
        sy += v;
        syy += v * v;
        nv++;
    }
    free(xtx);
    free(xty);
    free(mx);
    free(piv);
    double sst = syy - sy * sy / nv;
    return sst > 0 ? 1 - sse / sst : NAN;
}

Test(cross, ridge_r2_matches_the_normal_equations_and_least_squares) {
    store *s = open_read(db_path);
    /* sparse A predicts B; dense C predicts A (the paper's dense CNN standing in for Zoobot) */
    static const int pairs[][2] = {{0, 1}, {2, 0}, {1, 2}};
    for (int p = 0; p < 3; p++) {
        int x = pairs[p][0], y = pairs[p][1];
        query_compare c;
        cr_assert_eq(query_compare_compute(s, cf.id[x], cf.id[y], 1, &c), SF_OK);
        cr_assert_eq(query_compare_ridge(s, &c, 1.0), SF_OK, "%s", sf_last_error());
        cr_assert(c.has_r2);
        int nt = 0, nv = 0;
        for (int g = 0; g < CFX_GALAXIES; g++) {
            int ry = cfx_row(&cf, y, g);
            if (cfx_row(&cf, x, g) < 0 || ry < 0) continue;
            if (cf.run[y].split[ry]) nv++;
            else nt++;
        }
        cr_assert_eq(c.n_train, nt);
        cr_assert_eq(c.n_valid, nv);
        for (int j = 0; j < c.n_cols; j++) {
            double want = dense_ridge_r2(x, y, c.cols[j], 1.0);
            if (isnan(want)) {
                cr_assert(isnan(c.r2[j]));
                continue;
            }
            cr_assert_float_eq(c.r2[j], want, 1e-8, "%d -> %d feature %d: %.10f vs %.10f", x, y,
                               c.cols[j], c.r2[j], want);
        }
        query_compare_clear(&c);
    }
    /* a vanishing penalty is ordinary least squares (analysis.h's linreg, LAPACK dgelsd) */
    query_compare c;
    cr_assert_eq(query_compare_compute(s, cf.id[0], cf.id[1], 1, &c), SF_OK);
    cr_assert_eq(query_compare_ridge(s, &c, 1e-9), SF_OK);
    int dx = 32, nt = 0, nv = 0;
    double *xt = calloc((size_t)CFX_GALAXIES * dx, sizeof(double)),
           *xv = calloc((size_t)CFX_GALAXIES * dx, sizeof(double));
    double *yt = calloc(CFX_GALAXIES, sizeof(double)), *yv = calloc(CFX_GALAXIES, sizeof(double));
    int col = c.cols[0];
    for (int g = 0; g < CFX_GALAXIES; g++) {
        int ry = cfx_row(&cf, 1, g);
        if (cfx_row(&cf, 0, g) < 0 || ry < 0) continue;
        int valid = cf.run[1].split[ry];
        double *row = valid ? &xv[(size_t)nv * dx] : &xt[(size_t)nt * dx];
        for (int a = 0; a < dx; a++) row[a] = cfx_act(&cf, 0, g, a);
        if (valid) yv[nv++] = cfx_act(&cf, 1, g, col);
        else yt[nt++] = cfx_act(&cf, 1, g, col);
    }
    linreg m;
    cr_assert_eq(linreg_fit(&m, xt, nt, dx, yt, 1), SF_OK);
    double *pred = calloc(nv, sizeof(double)), sse = 0, mean = 0, sst = 0;
    linreg_predict(&m, xv, nv, pred);
    for (int i = 0; i < nv; i++) mean += yv[i] / nv;
    for (int i = 0; i < nv; i++) {
        sse += (yv[i] - pred[i]) * (yv[i] - pred[i]);
        sst += (yv[i] - mean) * (yv[i] - mean);
    }
    /* dead features of A are zero columns: the minimum-norm solution and the ridge agree */
    cr_assert_float_eq(c.r2[0], 1 - sse / sst, 1e-6, "%.9f vs %.9f", c.r2[0], 1 - sse / sst);
    linreg_free(&m);
    free(xt);
    free(xv);
    free(yt);
    free(yv);
    free(pred);
    cr_assert_eq(query_compare_ridge(s, &c, 0), SF_ERR);
    query_compare_clear(&c);
    store_close(s);
}

Test(cross, pairs_follow_runs_added_and_deleted) {
    store *w;
    cr_assert_eq(store_open(&w, db_path, STORE_WRITE), SF_OK);
    cr_assert_eq(store_delete_run(w, cf.id[1]), SF_OK, "%s", sf_last_error());
    store_close(w);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM run_pairs"), 2, "A-C both ways round");
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pair_coact WHERE run_id = %lld OR other_id = %lld",
             (long long)cf.id[1], (long long)cf.id[1]);
    cr_assert_eq(raw_int(db_path, sql), 0);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM run_codes WHERE run_id = %lld",
             (long long)cf.id[1]);
    cr_assert_eq(raw_int(db_path, sql), 0);
    /* B again: pairs with A and C */
    cr_assert_eq(store_open(&w, db_path, STORE_WRITE), SF_OK);
    int64_t id;
    cr_assert_eq(store_add_run(w, &cf.run[1].in, &id), SF_OK, "%s", sf_last_error());
    store_close(w);
    cf.id[1] = id;
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM run_pairs"), 6);
    store *s = open_read(db_path);
    store_cross p;
    cr_assert_eq(store_cross_load(s, cf.id[1], cf.id[0], -1, &p), SF_OK);
    cr_assert(p.stored);
    check_pair(&p, 1, 0);
    store_cross_clear(&p);
    store_close(s);
    /* a run sharing nothing: a pair with n_shared 0, and no counterparts to list */
    fixture_run lone;
    fixture_make(&lone, 20, 8, 2, 1, 8, 900000, 5);
    snprintf(lone.in.run.prefix, sizeof lone.in.run.prefix, "L");
    cr_assert_eq(store_open(&w, db_path, STORE_WRITE), SF_OK);
    cr_assert_eq(store_add_run(w, &lone.in, &id), SF_OK);
    store_close(w);
    s = open_read(db_path);
    int64_t *others;
    int *shared, n;
    cr_assert_eq(store_cross_runs(s, id, &others, &shared, &n), SF_OK);
    cr_assert_eq(n, 0);
    free(others);
    free(shared);
    query_counterparts cp;
    cr_assert_eq(query_counterparts_compute(s, id, 0, cf.id[0], 5, &cp), SF_OK);
    cr_assert_eq(cp.n_shared, 0);
    cr_assert_eq(cp.n, 0);
    query_counterparts_clear(&cp);
    store_close(s);
    fixture_free(&lone);
}

Test(cross,
     files_of_older_versions_compute_pairs_on_the_fly_and_store_them_when_opened_for_writing) {
    char v1[160];
    snprintf(v1, sizeof v1, "%s/v1.db", dir);
    cr_assert_eq(fixture_make_v1(v1, db_path), SF_OK, "%s", sf_last_error());
    store *s = open_read(v1);
    cr_assert_eq(store_schema_version(s), 1);
    store_cross p;
    cr_assert_eq(store_cross_load(s, cf.id[0], cf.id[1], -1, &p), SF_OK, "%s", sf_last_error());
    cr_assert_not(p.stored);
    check_pair(&p, 0, 1);
    store_cross_clear(&p);
    query_counterparts cp;
    cr_assert_eq(query_counterparts_compute(s, cf.id[0], 2, cf.id[2], 3, &cp), SF_OK);
    cr_assert_eq(cp.n, 3);
    query_counterparts_clear(&cp);
    int64_t *others;
    int *shared, n;
    cr_assert_eq(store_cross_runs(s, cf.id[1], &others, &shared, &n), SF_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(shared[0], 200);
    free(others);
    free(shared);
    store_close(s);
    /* opened for writing, the file is upgraded with every run's codes and pairs */
    store *w;
    cr_assert_eq(store_open(&w, v1, STORE_WRITE), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_schema_version(w), STORE_SCHEMA_VERSION);
    cr_assert_eq(raw_int(v1, "SELECT count(*) FROM run_pairs"), 6);
    cr_assert_eq(raw_int(v1, "SELECT count(DISTINCT run_id) FROM run_codes"), 3);
    /* and the next run stored gets its own with every other run */
    fixture_run more;
    fixture_make(&more, 50, 8, 2, 1, 8, CFX_OBJID0 + 10, 6);
    snprintf(more.in.run.prefix, sizeof more.in.run.prefix, "M");
    cr_assert_eq(store_add_run(w, &more.in, NULL), SF_OK, "%s", sf_last_error());
    store_close(w);
    cr_assert_eq(raw_int(v1, "SELECT count(*) FROM run_pairs"), 12,
                 "four runs: six pairs both ways round");
    cr_assert_eq(raw_int(v1, "SELECT count(DISTINCT run_id) FROM run_codes"), 4);
    s = open_read(v1);
    cr_assert_eq(store_cross_load(s, cf.id[2], cf.id[0], -1, &p), SF_OK);
    cr_assert(p.stored);
    check_pair(&p, 2, 0);
    store_cross_clear(&p);
    store_close(s);
    fixture_free(&more);
}

/* The rows of table in path and in src (a file written as new) agree: every key in both,
 * counts equal, sums to 1e-9. */
static void assert_same_pairs(const char *path, const char *src) {
    static const struct {
        const char *table, *keys, *check;
    } t[] = {
        {"run_pairs", "run_id, other_id", "a.n_shared = b.n_shared"},
        {"pair_features", "run_id, other_id, feature",
         "a.n_active = b.n_active AND abs(a.sum - b.sum) <= 1e-9 * (1 + abs(b.sum)) AND "
         "abs(a.sum_sq - b.sum_sq) <= 1e-9 * (1 + abs(b.sum_sq))"},
        {"pair_coact", "run_id, other_id, feature, other_feature",
         "a.n_both = b.n_both AND abs(a.sum_product - b.sum_product) <= 1e-9 * (1 + "
         "abs(b.sum_product))"},
    };
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    char sql[1024];
    snprintf(sql, sizeof sql, "ATTACH '%s' AS src", src);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        snprintf(sql, sizeof sql,
                 "SELECT (SELECT count(*) FROM main.%s), (SELECT count(*) FROM src.%s), "
                 "(SELECT count(*) FROM main.%s a JOIN src.%s b USING (%s) WHERE %s)",
                 t[i].table, t[i].table, t[i].table, t[i].table, t[i].keys, t[i].check);
        sqlite3_stmt *st;
        cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s",
                     sqlite3_errmsg(db));
        cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
        long long n = sqlite3_column_int64(st, 0);
        cr_assert_gt(n, 0, "%s has rows", t[i].table);
        cr_assert_eq(n, sqlite3_column_int64(st, 1), "%s: row counts", t[i].table);
        cr_assert_eq(n, sqlite3_column_int64(st, 2), "%s: rows differ", t[i].table);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
}

/* Files of versions 2 and 3 (before the codes and pairs): read as they are, pairs
 * computed on the fly; opened for writing, they reach version 4 through 3 (the
 * summaries of every run, then the codes and pairs), with the tables a new file has. */
Test(cross, version_2_and_3_files_reach_version_4_in_order) {
    for (int v = 2; v <= 3; v++) {
        char old[160];
        snprintf(old, sizeof old, "%s/v%d.db", dir, v);
        cr_assert_eq(fixture_make_older(old, db_path, v), SF_OK, "%s", sf_last_error());
        cr_assert_eq(raw_int(old, "PRAGMA user_version"), v);
        cr_assert_eq(raw_int(old, "SELECT count(*) FROM sqlite_schema WHERE name = 'run_pairs'"),
                     0);
        store *s = open_read(old);
        cr_assert_eq(store_schema_version(s), v);
        store_cross p;
        cr_assert_eq(store_cross_load(s, cf.id[0], cf.id[1], -1, &p), SF_OK, "%s", sf_last_error());
        cr_assert_not(p.stored);
        check_pair(&p, 0, 1);
        store_cross_clear(&p);
        store_close(s);
        cr_assert_eq(raw_int(old, "PRAGMA user_version"), v, "reading leaves the version");

        store *w;
        cr_assert_eq(store_open(&w, old, STORE_WRITE), SF_OK, "%s", sf_last_error());
        cr_assert_eq(store_schema_version(w), 4);
        store_close(w);
        cr_assert_eq(raw_int(old, "PRAGMA user_version"), 4);
        cr_assert_eq(raw_int(old, "SELECT count(*) FROM run_summaries"), CFX_RUNS,
                     "version 3's summaries");
        cr_assert_eq(raw_int(old, "SELECT count(DISTINCT run_id) FROM run_codes"), CFX_RUNS);
        cr_assert_eq(raw_int(old, "PRAGMA foreign_key_check"), -1, "no dangling rows");
        assert_same_pairs(old, db_path);
        s = open_read(old);
        cr_assert_eq(store_cross_load(s, cf.id[2], cf.id[1], -1, &p), SF_OK);
        cr_assert(p.stored);
        check_pair(&p, 2, 1);
        store_cross_clear(&p);
        store_close(s);
    }
}

/* An upgrade to 4 that fails leaves the file as it was: its version, no summaries kept. */
Test(cross, a_failed_upgrade_to_version_4_leaves_version_2) {
    char v2[160];
    snprintf(v2, sizeof v2, "%s/v2.db", dir);
    cr_assert_eq(fixture_make_v2(v2, db_path), SF_OK, "%s", sf_last_error());
    raw_exec(v2, "CREATE TABLE pair_coact (x)");
    store *w = NULL;
    cr_assert_eq(store_open(&w, v2, STORE_WRITE), SF_ERR);
    cr_assert(strstr(sf_last_error(), "from version 3 to 4") &&
                  strstr(sf_last_error(), "unchanged"),
              "%s", sf_last_error());
    cr_assert_eq(raw_int(v2, "PRAGMA user_version"), 2);
    cr_assert_eq(
        raw_int(v2,
                "SELECT count(*) FROM sqlite_schema WHERE name IN ('run_summaries', 'run_codes')"),
        0);
}

static double brute_cosine(int r, int g, int h) {
    double dot = 0, ng = 0, nh = 0;
    for (int f = 0; f < cf.run[r].d; f++) {
        double a = cfx_act(&cf, r, g, f), b = cfx_act(&cf, r, h, f);
        dot += a * b;
        ng += a * a;
        nh += b * b;
    }
    return ng > 0 && nh > 0 ? dot / sqrt(ng * nh) : NAN;
}

Test(cross, similar_galaxies_match_brute_force_cosine) {
    store *s = open_read(db_path);
    for (int r = 0; r < CFX_RUNS; r++) {
        query_neighbors nb;
        cr_assert_eq(query_neighbors_load(s, cf.id[r], &nb), SF_OK, "%s", sf_last_error());
        for (int t = 0; t < 12; t++) {
            int row = (t * 37) % cf.run[r].n, g = cf.first[r] + row;
            char objid[32];
            snprintf(objid, sizeof objid, "%d", CFX_OBJID0 + g);
            store_galaxy gal;
            cr_assert_eq(store_galaxy_find(s, objid, &gal), SF_OK);
            query_neighbor near[8];
            int n = 0;
            cr_assert_eq(query_similar_galaxies(s, &nb, gal.id, 8, near, &n), SF_OK, "%s",
                         sf_last_error());
            /* brute force over every other galaxy of the run */
            double best[512];
            int n_best = 0;
            for (int h = cf.first[r]; h < cf.first[r] + cf.run[r].n; h++) {
                double c = h == g ? NAN : brute_cosine(r, g, h);
                if (!isnan(c) && c > 0) best[n_best++] = c;
            }
            for (int a = 1; a < n_best; a++)
                for (int b = a; b > 0 && best[b] > best[b - 1]; b--) {
                    double swap = best[b];
                    best[b] = best[b - 1];
                    best[b - 1] = swap;
                }
            if (n_best > 8) n_best = 8;
            cr_assert_eq(n, n_best);
            for (int i = 0; i < n; i++) {
                cr_assert_float_eq(near[i].cosine, best[i], 1e-9, "run %d galaxy %d rank %d", r, g,
                                   i);
                int h = atoi(near[i].objid) - CFX_OBJID0;
                cr_assert_neq(h, g);
                cr_assert_float_eq(brute_cosine(r, g, h), near[i].cosine, 1e-9);
                int common = 0;
                for (int f = 0; f < cf.run[r].d; f++)
                    common += cfx_act(&cf, r, g, f) > 0 && cfx_act(&cf, r, h, f) > 0;
                cr_assert_eq(near[i].n_common, common);
            }
            store_galaxy_clear(&gal);
        }
        /* a galaxy of another run only */
        store_galaxy other;
        cr_assert_eq(store_galaxy_find(s, r == 1 ? "5000" : "5399", &other), SF_OK);
        query_neighbor near[2];
        int n;
        if (r != 2) cr_assert_eq(query_similar_galaxies(s, &nb, other.id, 2, near, &n), SF_ERR);
        store_galaxy_clear(&other);
        query_neighbors_clear(&nb);
    }
    store_close(s);
}

/* ---- the commands -------------------------------------------------------------------------- */

static const char *binary(void) {
    static char path[1024];
    const char *b = getenv("SFNET_BIN");
    if (b) return b;
    if (realpath("build/sfnet-explore", path)) return path;
    return NULL;
}

static char *run_cli(const char *args, int *status) {
    const char *bin = binary();
    if (!bin) cr_skip_test("no sfnet-explore binary (set SFNET_BIN): skipped");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, n = 0, got;
    char *out = xmalloc(cap);
    while ((got = fread(out + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (n + 1 >= cap) out = xrealloc(out, cap *= 2);
    }
    out[n] = 0;
    int rc = pclose(p);
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return out;
}

Test(cross, counterparts_through_the_features_command) {
    char args[512];
    int status;
    snprintf(args, sizeof args, "features '%s' 'A 0' --similar --in B -n 3", db_path);
    char *out = run_cli(args, &status);
    cr_assert_eq(status, 0, "%s", out);
    cr_assert(strstr(out, "counterpart"), "%s", out);
    cr_assert(strstr(out, "B 0 "), "%s", out);
    free(out);
    store *s = open_read(db_path);
    query_counterparts cp;
    cr_assert_eq(query_counterparts_compute(s, cf.id[0], 0, cf.id[1], 3, &cp), SF_OK);
    store_close(s);
    /* JSON: the same numbers at full precision; the two-word and --similar F forms agree */
    snprintf(args, sizeof args, "features '%s' A 0 --similar --in B -n 3 --json", db_path);
    out = run_cli(args, &status);
    cr_assert_eq(status, 0, "%s", out);
    cJSON *j = cJSON_Parse(out);
    cr_assert(cJSON_IsArray(j), "%s", out);
    cr_assert_eq(cJSON_GetArraySize(j), cp.n);
    for (int i = 0; i < cp.n; i++) {
        cJSON *o = cJSON_GetArrayItem(j, i);
        char want[16];
        snprintf(want, sizeof want, "B %d", cp.list[i].feature);
        cr_assert_str_eq(cJSON_GetObjectItem(o, "counterpart")->valuestring, want);
        cr_assert_str_eq(cJSON_GetObjectItem(o, "feature")->valuestring, "A 0");
        cr_assert_float_eq(cJSON_GetObjectItem(o, "r")->valuedouble, cp.list[i].r, 1e-12);
        cr_assert_eq(cJSON_GetObjectItem(o, "n_both")->valueint, cp.list[i].n_both);
        cr_assert_eq(cJSON_GetObjectItem(o, "n_this")->valueint, cp.n_active);
        cr_assert_float_eq(cJSON_GetObjectItem(o, "f_cond")->valuedouble, cp.list[i].f_cond, 1e-12);
        cr_assert_eq(cJSON_GetObjectItem(o, "n_shared")->valueint, 200);
    }
    cJSON_Delete(j);
    free(out);
    snprintf(args, sizeof args, "features --similar 'A 0' --in B -n 3 --csv '%s'", db_path);
    out = run_cli(args, &status);
    cr_assert_eq(status, 0, "%s", out);
    cr_assert(
        !strncmp(
            out,
            "run,feature,counterpart,r,n_both,n_this,f_cond,n_active,f_cond_rev,n_shared,label\r\n",
            strlen("run,feature,counterpart,r,n_both,n_this,f_cond,n_active,f_cond_rev,n_shared,"
                   "label\r\n")),
        "%s", out);
    int lines = 0;
    for (char *p = out; *p; p++) lines += *p == '\n';
    cr_assert_eq(lines, 1 + cp.n);
    free(out);
    /* every other run: B and C */
    snprintf(args, sizeof args, "features '%s' A0 --similar --in all -n 2 --csv", db_path);
    out = run_cli(args, &status);
    cr_assert_eq(status, 0, "%s", out);
    cr_assert(strstr(out, "\nB,A 0,B "), "%s", out);
    cr_assert(strstr(out, "\nC,A 0,C "), "%s", out);
    free(out);
    /* the old form still lists the run's own similar features */
    snprintf(args, sizeof args, "features '%s' A --similar 0 --csv", db_path);
    out = run_cli(args, &status);
    cr_assert_eq(status, 0, "%s", out);
    cr_assert(!strncmp(out, "feature,r,n_both,n_active,label\r\n",
                       strlen("feature,r,n_both,n_active,label\r\n")),
              "%s", out);
    free(out);
    /* mistakes say what is wrong */
    snprintf(args, sizeof args, "features '%s' 'A 0' --similar --in Q", db_path);
    out = run_cli(args, &status);
    cr_assert_eq(status, 1);
    cr_assert(strstr(out, "no run 'Q'"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "features '%s' 'A 0' --similar --in A", db_path);
    out = run_cli(args, &status);
    cr_assert_eq(status, 1);
    cr_assert(strstr(out, "itself"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "features '%s' A --in B", db_path);
    out = run_cli(args, &status);
    cr_assert_eq(status, 2, "%s", out);
    free(out);
    query_counterparts_clear(&cp);
}

Test(cross, compare_command_text_json_csv_and_png) {
    char args[512];
    int status;
    snprintf(args, sizeof args, "compare '%s' C A", db_path);
    char *out = run_cli(args, &status);
    cr_assert_eq(status, 0, "%s", out);
    cr_assert(strstr(out, "C (rows, 96 live features) against A (columns"), "%s", out);
    cr_assert(
        strstr(out, "ridge regression (alpha 1) of each A feature on all 96 activations of C"),
        "%s", out);
    cr_assert(strstr(out, "best_match"), "%s", out);
    free(out);
    store *s = open_read(db_path);
    query_compare c;
    cr_assert_eq(query_compare_compute(s, cf.id[2], cf.id[0], 1, &c), SF_OK);
    cr_assert_eq(query_compare_ridge(s, &c, 1.0), SF_OK);
    store_close(s);
    snprintf(args, sizeof args, "compare --json '%s' C A", db_path);
    out = run_cli(args, &status);
    cr_assert_eq(status, 0, "%s", out);
    cJSON *j = cJSON_Parse(out);
    cr_assert(cJSON_IsObject(j), "%s", out);
    cr_assert_eq(cJSON_GetObjectItem(j, "n_shared")->valueint, 300);
    cr_assert_eq(cJSON_GetObjectItem(j, "n_train")->valueint, c.n_train);
    cJSON *cols = cJSON_GetObjectItem(j, "columns"), *r = cJSON_GetObjectItem(j, "r");
    cr_assert_eq(cJSON_GetArraySize(cols), c.n_cols);
    cr_assert_eq(cJSON_GetArraySize(r), c.n_rows);
    for (int jj = 0; jj < c.n_cols; jj++) {
        cJSON *o = cJSON_GetArrayItem(cols, jj);
        cr_assert_eq(cJSON_GetObjectItem(o, "index")->valueint, c.cols[jj]);
        cr_assert_float_eq(cJSON_GetObjectItem(o, "r2")->valuedouble, c.r2[jj], 1e-12);
    }
    for (int i = 0; i < c.n_rows; i++)
        for (int jj = 0; jj < c.n_cols; jj++) {
            cJSON *v = cJSON_GetArrayItem(cJSON_GetArrayItem(r, i), jj);
            double want = c.r[(size_t)i * c.n_cols + jj];
            if (isnan(want)) cr_assert(cJSON_IsNull(v));
            else cr_assert_float_eq(v->valuedouble, want, 1e-12);
        }
    cJSON_Delete(j);
    free(out);
    snprintf(args, sizeof args, "compare --csv --matrix --no-r2 '%s' A B", db_path);
    out = run_cli(args, &status);
    cr_assert_eq(status, 0, "%s", out);
    cr_assert(!strncmp(out, "feature,B ", strlen("feature,B ")), "%s", out);
    free(out);
    snprintf(args, sizeof args, "compare --matrix '%s' A B", db_path);
    out = run_cli(args, &status);
    cr_assert_eq(status, 0, "%s", out);
    free(out);
    snprintf(args, sizeof args, "compare --csv '%s' A B", db_path);
    out = run_cli(args, &status);
    cr_assert_eq(status, 0, "%s", out);
    cr_assert(!strncmp(out, "feature,n_active,r2,best_match,r,n_both,label\r\n",
                       strlen("feature,n_active,r2,best_match,r,n_both,label\r\n")),
              "%s", out);
    free(out);
    snprintf(args, sizeof args, "compare '%s' A A", db_path);
    out = run_cli(args, &status);
    cr_assert_eq(status, 1);
    cr_assert(strstr(out, "two different runs"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "compare --alpha -1 '%s' A B", db_path);
    out = run_cli(args, &status);
    cr_assert_eq(status, 2);
    free(out);
    /* the PNG */
    char png[160];
    snprintf(png, sizeof png, "%s/compare.png", dir);
    snprintf(args, sizeof args, "export '%s' --compare C A -o '%s'", db_path, png);
    out = run_cli(args, &status);
    cr_assert_eq(status, 0, "%s", out);
    free(out);
    struct stat sb;
    cr_assert_eq(stat(png, &sb), 0);
    FILE *f = fopen(png, "rb");
    unsigned char head[24];
    cr_assert_eq(fread(head, 1, 24, f), 24);
    fclose(f);
    cr_assert(!memcmp(head, "\x89PNG", 4));
    int w = head[16] << 24 | head[17] << 16 | head[18] << 8 | head[19];
    int h = head[20] << 24 | head[21] << 16 | head[22] << 8 | head[23];
    cr_assert_gt(w, 90 + c.n_cols * 8);
    cr_assert_gt(h, 90 + c.n_rows * 8);
    query_compare_clear(&c);
}

Test(cross, similar_galaxies_through_the_galaxy_command) {
    char args[512];
    int status;
    snprintf(args, sizeof args, "galaxy --similar -n 4 --run B --csv '%s' 5150", db_path);
    char *out = run_cli(args, &status);
    cr_assert_eq(status, 0, "%s", out);
    cr_assert(!strncmp(out, "run,rank,objid,cosine,n_common,split\r\n",
                       strlen("run,rank,objid,cosine,n_common,split\r\n")),
              "%s", out);
    int lines = 0;
    for (char *p = out; *p; p++) lines += *p == '\n';
    cr_assert_eq(lines, 5, "%s", out);
    free(out);
    /* every run that holds the galaxy: A, B and C */
    snprintf(args, sizeof args, "galaxy --similar -n 2 --json '%s' 5150", db_path);
    out = run_cli(args, &status);
    cr_assert_eq(status, 0, "%s", out);
    cJSON *j = cJSON_Parse(out);
    cr_assert_eq(cJSON_GetArraySize(j), 6, "%s", out);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "run")->valuestring, "A");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 5), "run")->valuestring, "C");
    cJSON_Delete(j);
    free(out);
    snprintf(args, sizeof args, "galaxy --similar '%s' 5150", db_path);
    out = run_cli(args, &status);
    cr_assert_eq(status, 0, "%s", out);
    cr_assert(strstr(out, "most similar to 5150"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "galaxy --similar --run B '%s' 5000", db_path);
    out = run_cli(args, &status);
    cr_assert_eq(status, 1, "%s", out);
    cr_assert(strstr(out, "not in run B"), "%s", out);
    free(out);
}

Test(cross, numbers_agree_with_numpy_and_scipy_from_export_activations) {
    const char *bin = binary();
    if (!bin) cr_skip_test("no sfnet-explore binary (set SFNET_BIN): skipped");
    const char *py = getenv("PYTHON");
    if (!py || !*py) py = "/usr/bin/python3";
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s -c 'import numpy, scipy' >/dev/null 2>&1", py);
    cr_assert_eq(system(cmd), 0,
                 "%s cannot import numpy and scipy (share/install-deps.sh installs them)", py);
    snprintf(cmd, sizeof cmd, "%s tests/cross_check.py '%s' '%s' '%s' 2>&1", py, bin, db_path, dir);
    FILE *p = popen(cmd, "r");
    char out[8192];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int rc = pclose(p);
    cr_assert_eq(rc, 0, "cross_check.py:\n%s", out);
    cr_assert(strstr(out, "cross_check: ok"), "%s", out);
}
