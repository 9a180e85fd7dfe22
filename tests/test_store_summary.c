/* test_store_summary.c: the per-run summaries of schema version 3 against what the
 * explorer's pages and the commands computed from every galaxy before they were stored
 * (done again here by brute force over the store's raw readers): the scatter and its
 * colours, the histogram, the quantile samples, the catalogue correlations behind the
 * suggested labels, the co-activation sums behind the similar features, the
 * few-feature RMSEs of the equation. Then the same for a file of version 2, read as it
 * is (summaries in memory) and upgraded when opened for writing. */
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analysis.h"
#include "sf_util.h"
#include "store.h"
#include "store_fixture.h"
#include "tui_fixture.h"

static char dir[64];
static char db_path[128];

static void setup(void) {
    fixture_tmpdir(dir, sizeof dir);
    cr_assert(dir[0], "mkdtemp failed");
    snprintf(db_path, sizeof db_path, "%s/run.db", dir);
}

static void teardown(void) { fixture_rmdir(dir); }

TestSuite(summary, .init = setup, .fini = teardown);

static long long raw_int(const char *path, const char *sql) { return fixture_sql_int(path, sql); }

static void raw_exec(const char *path, const char *sql) {
    cr_assert_eq(fixture_sql_exec(path, sql), SF_OK, "%s", sf_last_error());
}

static int close_rel(double a, double b, double tol) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return fabs(a - b) <= tol * (1 + fabs(a) + fabs(b));
}

/* ---- the brute-force references ----------------------------------------------------------- */

typedef struct {
    store_run run;
    store_rows rows;
    int n, nv, d, n_out;
    int *valid;          /* (nv) rows of the validation galaxies */
    float *act;          /* (n, d) raw activations, 0 inactive */
    float *truth;        /* (n, n_out) */
    store_feature *feat; /* (d) by number */
} ref_run;

static void ref_load(store *s, int64_t run_id, ref_run *r) {
    memset(r, 0, sizeof *r);
    cr_assert_eq(store_run_get(s, run_id, &r->run), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_run_rows(s, run_id, &r->rows), SF_OK, "%s", sf_last_error());
    r->n = r->rows.n;
    r->d = r->run.d;
    r->n_out = r->run.n_out;
    r->valid = calloc((size_t)r->n + 1, sizeof(int));
    for (int i = 0; i < r->n; i++)
        if (r->rows.split[i]) r->valid[r->nv++] = i;
    r->act = calloc((size_t)r->n * r->d + 1, sizeof(float));
    cr_assert_eq(store_run_dense(s, run_id, &r->rows, r->d, r->act), SF_OK);
    r->truth = calloc((size_t)r->n * r->n_out + 1, sizeof(float));
    cr_assert_eq(store_run_predictions(s, run_id, &r->rows, r->n_out, NULL, r->truth), SF_OK);
    int nf = 0;
    cr_assert_eq(store_features(s, run_id, STORE_SORT_FEATURE, 1, &r->feat, &nf), SF_OK);
    cr_assert_eq(nf, r->d);
}

static void ref_free(ref_run *r) {
    store_run_clear(&r->run);
    store_rows_clear(&r->rows);
    free(r->valid);
    free(r->act);
    free(r->truth);
    free(r->feat);
}

/* The feature page's scatter as tui_run_data_load + tui_scatter_load made it. */
typedef struct {
    int n, is_bpt;
    float *x, *y, *a;
} ref_scatter;

static void scatter_brute(store *s, const ref_run *r, int feature, ref_scatter *sc) {
    static const char *cols[4] = {"nii_6584_flux", "h_alpha_flux", "oiii_5007_flux", "h_beta_flux"};
    char(*names)[STORE_NAME_MAX] = NULL;
    int nc = 0;
    cr_assert_eq(store_catalog_columns(s, &names, &nc), SF_OK);
    int all = 1;
    for (int c = 0; c < 4; c++) {
        int found = 0;
        for (int i = 0; i < nc; i++) found |= !strcmp(names[i], cols[c]);
        all &= found;
    }
    free(names);
    int n = r->n;
    float *bx = calloc((size_t)n + 1, sizeof(float)), *by = calloc((size_t)n + 1, sizeof(float));
    int usable = 0;
    if (all) {
        double *v[4];
        for (int c = 0; c < 4; c++) {
            v[c] = calloc((size_t)n + 1, sizeof(double));
            cr_assert_eq(store_catalog_values(s, &r->rows, cols[c], v[c]), SF_OK);
        }
        for (int i = 0; i < n; i++) {
            int good = v[0][i] > 0 && v[1][i] > 0 && v[2][i] > 0 && v[3][i] > 0;
            bx[i] = good ? (float)log10(v[0][i] / v[1][i]) : NAN;
            by[i] = good ? (float)log10(v[2][i] / v[3][i]) : NAN;
            usable += good;
        }
        for (int c = 0; c < 4; c++) free(v[c]);
    }
    sc->is_bpt = usable > 0;
    float *column = calloc((size_t)n + 1, sizeof(float));
    cr_assert_eq(store_run_feature_column(s, r->run.id, &r->rows, feature, column), SF_OK);
    double max_valid = r->feat[feature].max_valid;
    sc->x = calloc((size_t)n + 1, sizeof(float));
    sc->y = calloc((size_t)n + 1, sizeof(float));
    sc->a = calloc((size_t)n + 1, sizeof(float));
    sc->n = 0;
    for (int i = 0; i < n; i++) {
        if (r->rows.split[i] != 1) continue;
        float a = max_valid > 0 ? (float)(column[i] / max_valid) : 0;
        if (a > 1) a = 1;
        float x = sc->is_bpt ? bx[i] : r->truth[(size_t)i * r->n_out];
        float y = sc->is_bpt ? by[i] : a;
        if (!isfinite(x) || !isfinite(y)) continue;
        sc->x[sc->n] = x;
        sc->y[sc->n] = y;
        sc->a[sc->n++] = a;
    }
    free(column);
    free(bx);
    free(by);
}

/* The same from the stored summary, as the feature page now builds it. */
static void scatter_stored(store *s, const ref_run *r, int feature, ref_scatter *sc) {
    store_points p;
    cr_assert_eq(store_run_points(s, r->run.id, &p), SF_OK, "%s", sf_last_error());
    cr_assert_eq(p.n_valid, r->nv);
    store_valid_hit *h = NULL;
    int nh = 0;
    cr_assert_eq(store_feature_valid_hits(s, r->run.id, feature, &h, &nh), SF_OK, "%s",
                 sf_last_error());
    double max_valid = r->feat[feature].max_valid;
    sc->is_bpt = p.kind == STORE_POINTS_BPT;
    sc->x = calloc((size_t)p.n_valid + 1, sizeof(float));
    sc->y = calloc((size_t)p.n_valid + 1, sizeof(float));
    sc->a = calloc((size_t)p.n_valid + 1, sizeof(float));
    sc->n = 0;
    int j = 0;
    for (int i = 0; i < p.n_valid; i++) {
        float v = 0;
        if (j < nh && h[j].index == i) v = h[j++].value;
        float a = max_valid > 0 ? (float)(v / max_valid) : 0;
        if (a > 1) a = 1;
        float x = p.x[i], y = sc->is_bpt ? p.y[i] : a;
        if (!isfinite(x) || !isfinite(y)) continue;
        sc->x[sc->n] = x;
        sc->y[sc->n] = y;
        sc->a[sc->n++] = a;
    }
    cr_assert_eq(j, nh, "hits in index order, each of a validation galaxy");
    free(h);
    store_points_clear(&p);
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void check_scatter_and_histogram(store *s, const ref_run *r, int feature) {
    ref_scatter want, got;
    scatter_brute(s, r, feature, &want);
    scatter_stored(s, r, feature, &got);
    cr_assert_eq(got.is_bpt, want.is_bpt);
    cr_assert_eq(got.n, want.n, "feature %d: points", feature);
    for (int i = 0; i < want.n; i++) {
        cr_assert(got.x[i] == want.x[i] && got.y[i] == want.y[i] && got.a[i] == want.a[i],
                  "feature %d point %d: (%g %g %g) vs (%g %g %g)", feature, i, got.x[i], got.y[i],
                  got.a[i], want.x[i], want.y[i], want.a[i]);
    }
    /* the histogram: scaled activations of the active validation galaxies */
    store_hit *hits = NULL;
    int nh = 0;
    cr_assert_eq(store_feature_hits(s, r->run.id, feature, &hits, &nh), SF_OK);
    float *hw = calloc((size_t)nh + 1, sizeof(float));
    int nw = 0;
    for (int i = 0; i < nh; i++)
        if (hits[i].split == 1) hw[nw++] = (float)(hits[i].scaled > 1 ? 1 : hits[i].scaled);
    store_valid_hit *vh = NULL;
    int nv = 0;
    cr_assert_eq(store_feature_valid_hits(s, r->run.id, feature, &vh, &nv), SF_OK);
    const store_feature *f = &r->feat[feature];
    double scale = f->max_valid > 0 ? f->max_valid : f->max;
    float *hg = calloc((size_t)nv + 1, sizeof(float));
    for (int i = 0; i < nv; i++) {
        double scaled = scale > 0 ? vh[i].value / scale : 0;
        hg[i] = (float)(scaled > 1 ? 1 : scaled);
    }
    cr_assert_eq(nv, nw, "feature %d: histogram counts", feature);
    qsort(hw, (size_t)nw, sizeof *hw, cmp_float);
    qsort(hg, (size_t)nv, sizeof *hg, cmp_float);
    for (int i = 0; i < nw; i++)
        cr_assert(hw[i] == hg[i], "feature %d: histogram value %d", feature, i);
    free(hw);
    free(hg);
    free(vh);
    free(hits);
    free(want.x), free(want.y), free(want.a), free(got.x), free(got.y), free(got.a);
}

static int hit_by_value(const void *a, const void *b) {
    const store_hit *x = a, *y = b;
    if (x->value != y->value) return x->value < y->value ? -1 : 1;
    return (x->galaxy_id > y->galaxy_id) - (x->galaxy_id < y->galaxy_id);
}

/* tui_quantile_samples of the feature page. */
static void check_quantiles(store *s, const ref_run *r, int feature) {
    store_hit *hits = NULL;
    int nh = 0;
    cr_assert_eq(store_feature_hits(s, r->run.id, feature, &hits, &nh), SF_OK);
    qsort(hits, (size_t)nh, sizeof *hits, hit_by_value);
    int m = nh < STORE_QUANTILE_SAMPLES ? nh : STORE_QUANTILE_SAMPLES;
    store_hit *got = NULL;
    int ng = 0;
    cr_assert_eq(store_feature_samples(s, r->run.id, feature, &got, &ng), SF_OK, "%s",
                 sf_last_error());
    cr_assert_eq(ng, m, "feature %d", feature);
    for (int i = 0; i < m; i++) {
        int j = (int)floor((i + 0.5) / m * nh);
        if (j >= nh) j = nh - 1;
        cr_assert_eq(got[i].galaxy_id, hits[j].galaxy_id, "feature %d sample %d", feature, i);
        cr_assert_str_eq(got[i].objid, hits[j].objid);
        cr_assert(got[i].value == hits[j].value && got[i].scaled == hits[j].scaled);
        cr_assert_eq(got[i].split, hits[j].split);
    }
    free(got);
    free(hits);
}

/* report_suggest_labels' correlations: Spearman of the validation activation with every
 * catalogue column (and the BPT ratios), analysis_spearman on the arrays. */
static void check_columns(store *s, const ref_run *r, int feature) {
    char(*names)[STORE_NAME_MAX] = NULL;
    int nc = 0;
    cr_assert_eq(store_catalog_columns(s, &names, &nc), SF_OK);
    int nv = r->nv;
    store_rows sub = {.n = nv, .galaxy_id = calloc((size_t)nv + 1, sizeof(int64_t))};
    for (int i = 0; i < nv; i++) sub.galaxy_id[i] = r->rows.galaxy_id[r->valid[i]];
    double *a = calloc((size_t)nv + 1, sizeof(double));
    for (int i = 0; i < nv; i++) a[i] = r->act[(size_t)r->valid[i] * r->d + feature];
    double *vals = calloc((size_t)(nc + 2) * (nv + 1), sizeof(double));
    char(*cols)[STORE_NAME_MAX] = calloc((size_t)nc + 2, sizeof *cols);
    int n_cols = 0, flux[4] = {-1, -1, -1, -1};
    static const char *fl[4] = {"nii_6584_flux", "h_alpha_flux", "oiii_5007_flux", "h_beta_flux"};
    for (int c = 0; c < nc; c++) {
        snprintf(cols[n_cols], STORE_NAME_MAX, "%s", names[c]);
        cr_assert_eq(store_catalog_values(s, &sub, names[c], vals + (size_t)n_cols * (nv + 1)),
                     SF_OK);
        for (int l = 0; l < 4; l++)
            if (!strcmp(names[c], fl[l])) flux[l] = n_cols;
        n_cols++;
    }
    if (flux[0] >= 0 && flux[1] >= 0 && flux[2] >= 0 && flux[3] >= 0)
        for (int q = 0; q < 2; q++) {
            snprintf(cols[n_cols], STORE_NAME_MAX, "%s", q ? "log_oiii_hb" : "log_nii_ha");
            const double *num = vals + (size_t)flux[2 * q] * (nv + 1),
                         *den = vals + (size_t)flux[2 * q + 1] * (nv + 1);
            for (int i = 0; i < nv; i++)
                vals[(size_t)n_cols * (nv + 1) + i] =
                    num[i] > 0 && den[i] > 0 ? log10(num[i] / den[i]) : NAN;
            n_cols++;
        }
    store_column_rho *got = NULL;
    int ng = 0;
    cr_assert_eq(store_feature_columns(s, r->run.id, feature, &got, &ng), SF_OK, "%s",
                 sf_last_error());
    int g = 0, defined = 0;
    for (int c = 0; c < n_cols; c++) {
        const double *col = vals + (size_t)c * (nv + 1);
        int pairs = 0;
        for (int i = 0; i < nv; i++) pairs += isfinite(col[i]);
        double rho = analysis_spearman(a, col, nv);
        if (!isfinite(rho)) {
            cr_assert(g >= ng || got[g].position != c, "feature %d column %s: stored but undefined",
                      feature, cols[c]);
            continue;
        }
        defined++;
        cr_assert(g < ng && got[g].position == c, "feature %d column %s (rho %g) stored", feature,
                  cols[c], rho);
        cr_assert_str_eq(got[g].name, cols[c]);
        cr_assert_eq(got[g].n_pairs, pairs);
        cr_assert(close_rel(got[g].rho, rho, 1e-10), "feature %d %s: rho %.15f vs %.15f", feature,
                  cols[c], got[g].rho, rho);
        g++;
    }
    cr_assert_eq(g, ng, "feature %d: every stored correlation is expected", feature);
    cr_assert(r->feat[feature].n_active_valid == 0 || defined > 0,
              "feature %d correlates with something", feature);
    free(got);
    free(cols);
    free(vals);
    free(a);
    free(sub.galaxy_id);
    free(names);
}

/* query_coact_compute's sums (all galaxies) and the validation ones, from the dense array. */
static void check_sums_and_pairs(store *s, const ref_run *r) {
    int d = r->d;
    store_feature_sums *sums = calloc((size_t)d, sizeof *sums);
    cr_assert_eq(store_run_feature_sums(s, r->run.id, d, sums), SF_OK, "%s", sf_last_error());
    double *cross = calloc((size_t)d * d, sizeof(double)),
           *cross_v = calloc((size_t)d * d, sizeof(double));
    int *both = calloc((size_t)d * d, sizeof(int)), *both_v = calloc((size_t)d * d, sizeof(int));
    double *sum = calloc((size_t)d, sizeof(double)), *sum_v = calloc((size_t)d, sizeof(double));
    for (int g = 0; g < r->n; g++) {
        const float *x = r->act + (size_t)g * d;
        int valid = r->rows.split[g];
        for (int i = 0; i < d; i++) {
            if (x[i] == 0) continue;
            sum[i] += x[i];
            if (valid) sum_v[i] += x[i];
            for (int j = 0; j < d; j++) {
                if (x[j] == 0) continue;
                cross[(size_t)i * d + j] += (double)x[i] * x[j];
                both[(size_t)i * d + j]++;
                if (valid) {
                    cross_v[(size_t)i * d + j] += (double)x[i] * x[j];
                    both_v[(size_t)i * d + j]++;
                }
            }
        }
    }
    for (int i = 0; i < d; i++) {
        cr_assert(close_rel(sums[i].sum, sum[i], 1e-12), "sum %d", i);
        cr_assert(close_rel(sums[i].sum_valid, sum_v[i], 1e-12), "sum_valid %d", i);
        cr_assert(close_rel(sums[i].sum_sq, cross[(size_t)i * d + i], 1e-12), "sum_sq %d", i);
        cr_assert(close_rel(sums[i].sum_sq_valid, cross_v[(size_t)i * d + i], 1e-12),
                  "sum_sq_valid %d", i);
        store_pair *p = NULL;
        int np = 0;
        cr_assert_eq(store_feature_pairs(s, r->run.id, i, &p, &np), SF_OK);
        int k = 0;
        for (int j = 0; j < d; j++) {
            if (j == i || both[(size_t)i * d + j] == 0) continue;
            cr_assert(k < np && p[k].other == j, "pair (%d, %d) stored", i, j);
            cr_assert_eq(p[k].n_both, both[(size_t)i * d + j]);
            cr_assert_eq(p[k].n_both_valid, both_v[(size_t)i * d + j]);
            cr_assert(close_rel(p[k].cross, cross[(size_t)i * d + j], 1e-12), "cross (%d, %d)", i,
                      j);
            cr_assert(close_rel(p[k].cross_valid, cross_v[(size_t)i * d + j], 1e-12),
                      "cross_valid (%d, %d)", i, j);
            k++;
        }
        cr_assert_eq(k, np, "feature %d: no other pairs", i);
        free(p);
    }
    free(sums), free(cross), free(cross_v), free(both), free(both_v), free(sum), free(sum_v);
}

/* The equation's RMSEs with the top 1, 2, 4, 8 and all live features (by frequency),
 * the stored head applied to the validation galaxies' activations. */
static void check_levels(store *s, const ref_run *r) {
    store_feature *live = NULL;
    int nl = 0;
    cr_assert_eq(store_features(s, r->run.id, STORE_SORT_FREQUENCY, 0, &live, &nl), SF_OK);
    int terms[5], n_terms = 0;
    static const int wanted[4] = {1, 2, 4, 8};
    for (int i = 0; i < 4; i++)
        if (wanted[i] < nl) terms[n_terms++] = wanted[i];
    terms[n_terms++] = nl;
    store_level *lv = NULL;
    int n_lv = 0;
    cr_assert_eq(store_run_levels(s, r->run.id, &lv, &n_lv), SF_OK, "%s", sf_last_error());
    cr_assert_eq(n_lv, n_terms);
    for (int l = 0; l < n_terms; l++) {
        cr_assert_eq(lv[l].n_terms, terms[l]);
        double se = 0, se_t[STORE_MAX_TARGETS] = {0};
        for (int q = 0; q < r->nv; q++) {
            int g = r->valid[q];
            for (int t = 0; t < r->n_out; t++) {
                double z = r->run.bias[t];
                for (int j = 0; j < terms[l]; j++) {
                    int f = live[j].feature;
                    z += live[j].weight[t] * r->act[(size_t)g * r->d + f];
                }
                double e = z * r->run.target_std[t] + r->run.target_mean[t] -
                           r->truth[(size_t)g * r->n_out + t];
                se += e * e;
                se_t[t] += e * e;
            }
        }
        cr_assert(close_rel(lv[l].rmse, sqrt(se / ((double)r->nv * r->n_out)), 1e-10), "level %d",
                  terms[l]);
        for (int t = 0; t < r->n_out; t++)
            cr_assert(close_rel(lv[l].rmse_t[t], sqrt(se_t[t] / r->nv), 1e-10),
                      "level %d target %d", terms[l], t);
    }
    free(lv);
    free(live);
}

/* Every summary of every run of the file against the brute force. */
static void check_file(const char *path, int mode) {
    store *s = NULL;
    cr_assert_eq(store_open(&s, path, mode), SF_OK, "%s", sf_last_error());
    store_run *runs = NULL;
    int nr = 0;
    cr_assert_eq(store_runs(s, &runs, &nr), SF_OK);
    cr_assert_gt(nr, 0);
    for (int k = 0; k < nr; k++) {
        ref_run r;
        ref_load(s, runs[k].id, &r);
        check_sums_and_pairs(s, &r);
        check_levels(s, &r);
        for (int f = 0; f < r.d; f++) {
            if (r.feat[f].n_active == 0) {
                store_valid_hit *h = NULL;
                int nh = -1;
                cr_assert_eq(store_feature_valid_hits(s, r.run.id, f, &h, &nh), SF_OK);
                cr_assert_eq(nh, 0, "dead feature %d has no hits", f);
                free(h);
                continue;
            }
            check_scatter_and_histogram(s, &r, f);
            check_quantiles(s, &r, f);
            check_columns(s, &r, f);
        }
        ref_free(&r);
    }
    store_runs_free(runs, nr);
    store_close(s);
}

/* A file with a run of store_fixture.h (ties, a column with gaps, no line fluxes), a
 * dense run (galaxies with 128 or more active features take the BLAS path) and the
 * explorer's fixture (BPT fluxes) in a second file. */
static void make_files(const char *path, const char *bpt_path) {
    fixture_run a, dense;
    fixture_make(&a, 200, 40, 4, 2, 18, 1237648704043942000LL, 5);
    snprintf(a.in.run.prefix, sizeof a.in.run.prefix, "SL");
    fixture_make(&dense, 60, 160, 150, 1, 155, 5000000, 12);
    snprintf(dense.in.run.prefix, sizeof dense.in.run.prefix, "D");
    store *s = NULL;
    cr_assert_eq(store_open(&s, path, STORE_CREATE), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_add_run(s, &a.in, NULL), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_add_run(s, &dense.in, NULL), SF_OK, "%s", sf_last_error());
    store_close(s);
    fixture_free(&a);
    fixture_free(&dense);
    if (bpt_path) cr_assert_eq(tfx_make(bpt_path), SF_OK, "%s", sf_last_error());
}

Test(summary, stored_summaries_equal_the_pages_brute_force) {
    char bpt[160];
    snprintf(bpt, sizeof bpt, "%s/bpt.db", dir);
    make_files(db_path, bpt);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM run_summaries"), 2);
    check_file(db_path, STORE_READ);
    check_file(bpt, STORE_READ);
    cr_assert_eq(raw_int(bpt, "SELECT points_kind FROM run_summaries WHERE run_id = 1"),
                 STORE_POINTS_BPT);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM run_summaries WHERE points_kind = 0"), 2);
}

/* Every summary row of two files, the creation time aside. */
static void assert_same_summaries(const char *a, const char *b) {
    static const char *tables[] = {"run_summaries",   "feature_summaries", "feature_pairs",
                                   "feature_samples", "feature_columns",   "run_levels"};
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(a, &db), SQLITE_OK);
    char sql[1024];
    snprintf(sql, sizeof sql, "ATTACH '%s' AS other", b);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        const char *cols = i == 0 ? "run_id, summary_version, n_valid, points_kind, points" : "*";
        snprintf(sql, sizeof sql,
                 "SELECT (SELECT count(*) FROM main.%s), (SELECT count(*) FROM other.%s), "
                 "(SELECT count(*) FROM (SELECT %s FROM main.%s EXCEPT SELECT %s FROM other.%s))",
                 tables[i], tables[i], cols, tables[i], cols, tables[i]);
        sqlite3_stmt *st = NULL;
        cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s",
                     sqlite3_errmsg(db));
        cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
        cr_assert_gt(sqlite3_column_int64(st, 0), 0, "%s has rows", tables[i]);
        cr_assert_eq(sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), "%s: row counts",
                     tables[i]);
        cr_assert_eq(sqlite3_column_int64(st, 2), 0, "%s: rows differ", tables[i]);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
}

Test(summary, version_2_file_reads_in_memory_and_upgrades_on_write) {
    char bpt[160], v2[160], src_copy[160];
    snprintf(bpt, sizeof bpt, "%s/bpt.db", dir);
    snprintf(v2, sizeof v2, "%s/v2.db", dir);
    snprintf(src_copy, sizeof src_copy, "%s/src.db", dir);
    make_files(src_copy, NULL);
    make_files(db_path, bpt);
    cr_assert_eq(fixture_make_v2(v2, bpt), SF_OK, "%s", sf_last_error());
    cr_assert_eq(raw_int(v2, "PRAGMA user_version"), 2);
    cr_assert_eq(raw_int(v2, "SELECT count(*) FROM sqlite_schema WHERE name = 'run_summaries'"), 0);

    /* read as it is: the same numbers, computed in memory; the file is left alone */
    store *r = NULL;
    cr_assert_eq(store_open(&r, v2, STORE_READ), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_schema_version(r), 2);
    store_close(r);
    check_file(v2, STORE_READ);
    cr_assert_eq(raw_int(v2, "PRAGMA user_version"), 2, "reading leaves the version");
    cr_assert_eq(raw_int(v2, "SELECT count(*) FROM sqlite_schema WHERE name = 'run_summaries'"), 0);

    /* opened for writing: upgraded in place, every run summarised as a new file's are */
    store *w = NULL;
    cr_assert_eq(store_open(&w, v2, STORE_WRITE), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_schema_version(w), STORE_SCHEMA_VERSION);
    store_close(w);
    cr_assert_eq(raw_int(v2, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    cr_assert_eq(raw_int(v2, "SELECT count(*) FROM run_summaries"), 2);
    assert_same_summaries(v2, bpt);
    check_file(v2, STORE_READ);
    cr_assert_eq(raw_int(v2, "PRAGMA foreign_key_check"), -1, "no dangling rows");

    /* the other file's runs, through version 1 (two migrations and the summaries at once) */
    char v1[160];
    snprintf(v1, sizeof v1, "%s/v1.db", dir);
    cr_assert_eq(fixture_make_v1(v1, db_path), SF_OK, "%s", sf_last_error());
    check_file(v1, STORE_READ);
    cr_assert_eq(store_open(&w, v1, STORE_WRITE), SF_OK, "%s", sf_last_error());
    store_close(w);
    cr_assert_eq(raw_int(v1, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_same_summaries(v1, src_copy);
}

/* Another process upgrades the file while a reader computed summaries in memory: both
 * keep reading the same numbers. */
Test(summary, reader_of_a_version_2_file_survives_its_upgrade) {
    char v2[160];
    snprintf(v2, sizeof v2, "%s/v2.db", dir);
    make_files(db_path, NULL);
    cr_assert_eq(fixture_make_v2(v2, db_path), SF_OK, "%s", sf_last_error());
    store *r = NULL, *w = NULL;
    cr_assert_eq(store_open(&r, v2, STORE_READ), SF_OK, "%s", sf_last_error());
    store_level *before = NULL, *after = NULL;
    int nb = 0, na = 0;
    cr_assert_eq(store_run_levels(r, 1, &before, &nb), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_open(&w, v2, STORE_WRITE), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_run_levels(w, 1, &after, &na), SF_OK, "%s", sf_last_error());
    cr_assert_eq(nb, na);
    for (int i = 0; i < nb; i++)
        cr_assert(before[i].rmse == after[i].rmse && before[i].n_terms == after[i].n_terms);
    free(after);
    cr_assert_eq(store_run_levels(r, 2, &after, &na), SF_OK, "%s", sf_last_error());
    free(after);
    free(before);
    store_close(w);
    store_close(r);
}

Test(summary, version_2_file_in_a_read_only_folder_still_browses) {
    char v2[160];
    snprintf(v2, sizeof v2, "%s/v2.db", dir);
    make_files(db_path, NULL);
    cr_assert_eq(fixture_make_v2(v2, db_path), SF_OK, "%s", sf_last_error());
    cr_assert_eq(chmod(v2, 0444), 0);
    cr_assert_eq(chmod(dir, 0555), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (geteuid() == 0 && setgid(65534) == 0 && setuid(65534) != 0) _exit(3);
        store *s = NULL;
        if (store_open(&s, v2, STORE_READ) != SF_OK) _exit(1);
        store_level *lv = NULL;
        int n = 0;
        store_points p;
        int ok = store_run_levels(s, 1, &lv, &n) == SF_OK && n > 0 &&
                 store_run_points(s, 2, &p) == SF_OK;
        if (ok) store_points_clear(&p);
        free(lv);
        store_close(s);
        _exit(ok ? 0 : 2);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    chmod(dir, 0755);
    chmod(v2, 0644);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "reading the version-2 file failed (%d)",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    cr_assert_eq(raw_int(v2, "PRAGMA user_version"), 2, "still version 2");
}

Test(summary, a_failed_upgrade_leaves_version_2) {
    char v2[160];
    snprintf(v2, sizeof v2, "%s/v2.db", dir);
    make_files(db_path, NULL);
    cr_assert_eq(fixture_make_v2(v2, db_path), SF_OK, "%s", sf_last_error());
    raw_exec(v2, "CREATE TABLE run_levels (x)");
    store *w = NULL;
    cr_assert_eq(store_open(&w, v2, STORE_WRITE), SF_ERR);
    cr_assert(strstr(sf_last_error(), "from version 2 to 3") &&
                  strstr(sf_last_error(), "unchanged"),
              "%s", sf_last_error());
    cr_assert_eq(raw_int(v2, "PRAGMA user_version"), 2);
    cr_assert_eq(raw_int(v2, "SELECT count(*) FROM sqlite_schema WHERE name = 'run_summaries'"), 0);
}

/* Summarising a stored run again (as merging does) replaces its rows; deleting the run
 * removes them. */
Test(summary, summarize_again_replaces_and_delete_removes) {
    make_files(db_path, NULL);
    long long pairs = raw_int(db_path, "SELECT count(*) FROM feature_pairs WHERE run_id = 1");
    long long cols = raw_int(db_path, "SELECT count(*) FROM feature_columns WHERE run_id = 1");
    cr_assert_gt(pairs, 0);
    cr_assert_gt(cols, 0);
    store *w = NULL;
    cr_assert_eq(store_open(&w, db_path, STORE_WRITE), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_run_summarize(w, 1), SF_OK, "%s", sf_last_error());
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM feature_pairs WHERE run_id = 1"), pairs);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM feature_columns WHERE run_id = 1"), cols);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM run_summaries"), 2);
    cr_assert_eq(store_delete_run(w, 1), SF_OK, "%s", sf_last_error());
    store_close(w);
    static const char *tables[] = {"run_summaries",   "feature_summaries", "feature_pairs",
                                   "feature_samples", "feature_columns",   "run_levels"};
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE run_id = 1", tables[i]);
        cr_assert_eq(raw_int(db_path, sql), 0, "%s emptied", tables[i]);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE run_id = 2", tables[i]);
        cr_assert_gt(raw_int(db_path, sql), 0, "%s kept", tables[i]);
    }
    check_file(db_path, STORE_READ);
}

/* A run of one galaxy, and a run whose features never fire on a validation galaxy. */
Test(summary, degenerate_runs) {
    fixture_run one, no_valid;
    fixture_make(&one, 1, 8, 2, 1, 4, 100, 3);
    fixture_make(&no_valid, 20, 8, 2, 1, 4, 200, 4);
    memset(no_valid.split, 0, (size_t)no_valid.n);
    snprintf(one.in.run.prefix, sizeof one.in.run.prefix, "ONE");
    snprintf(no_valid.in.run.prefix, sizeof no_valid.in.run.prefix, "TRAIN");
    store *s = NULL;
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_add_run(s, &one.in, NULL), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_add_run(s, &no_valid.in, NULL), SF_OK, "%s", sf_last_error());
    store_level *lv = NULL;
    int n = 0;
    cr_assert_eq(store_run_levels(s, 2, &lv, &n), SF_OK, "%s", sf_last_error());
    cr_assert(isnan(lv[n - 1].rmse), "no validation galaxy: no RMSE");
    free(lv);
    store_points p;
    cr_assert_eq(store_run_points(s, 2, &p), SF_OK);
    cr_assert_eq(p.n_valid, 0);
    store_points_clear(&p);
    store_close(s);
    check_file(db_path, STORE_READ);
    fixture_free(&one);
    fixture_free(&no_valid);
}
