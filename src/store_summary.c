/* store_summary.c: a run's summaries (schema version 3): what the explorer's pages and
 * the headless commands need from every galaxy of a run, computed once from the stored
 * run by store_run_summarize() and read back a few rows at a time (see store.h).
 * For a file opened read-only, the readers below compute them into temporary tables of
 * the connection.
 * Layer: store. Calls: store, sf_util; SQLite, OpenBLAS (dsyrk for galaxies with many
 * active features).
 * Called by: store_write (the run writer's finish step), store (the migration to
 * version 3), query, query_similar, query_view, analysis_run, tui_feature.
 */
#include "store_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The summary tables. One text for the migration (main schema) and for a read-only
 * connection to an older file (temp schema, where the references to the main schema's
 * tables cannot be kept: such a connection never deletes a run). */
#define SUMMARY_TABLES(TEMP, REF_RUNS, REF_FEATURES)                                               \
    "CREATE " TEMP "TABLE run_summaries (\n"                                                       \
    "    run_id          INTEGER PRIMARY KEY" REF_RUNS ",\n"                                       \
    "    summary_version INTEGER NOT NULL,\n"                                                      \
    "    n_valid         INTEGER NOT NULL,\n"                                                      \
    "    points_kind     INTEGER NOT NULL,\n"                                                      \
    "    points          BLOB NOT NULL,\n"                                                         \
    "    created         TEXT NOT NULL\n"                                                          \
    ");\n"                                                                                         \
    "CREATE " TEMP "TABLE feature_summaries (\n"                                                   \
    "    run_id       INTEGER NOT NULL,\n"                                                         \
    "    feature      INTEGER NOT NULL,\n"                                                         \
    "    sum          REAL NOT NULL,\n"                                                            \
    "    sum_sq       REAL NOT NULL,\n"                                                            \
    "    sum_valid    REAL NOT NULL,\n"                                                            \
    "    sum_sq_valid REAL NOT NULL,\n"                                                            \
    "    valid_hits   BLOB,\n"                                                                     \
    "    PRIMARY KEY (run_id, feature)" REF_FEATURES "\n"                                          \
    ") WITHOUT ROWID;\n"                                                                           \
    "CREATE " TEMP "TABLE feature_pairs (\n"                                                       \
    "    run_id       INTEGER NOT NULL,\n"                                                         \
    "    feature      INTEGER NOT NULL,\n"                                                         \
    "    other        INTEGER NOT NULL,\n"                                                         \
    "    n_both       INTEGER NOT NULL,\n"                                                         \
    "    cross        REAL NOT NULL,\n"                                                            \
    "    n_both_valid INTEGER NOT NULL,\n"                                                         \
    "    cross_valid  REAL NOT NULL,\n"                                                            \
    "    PRIMARY KEY (run_id, feature, other)" REF_FEATURES "\n"                                   \
    ") WITHOUT ROWID;\n"                                                                           \
    "CREATE " TEMP "TABLE feature_samples (\n"                                                     \
    "    run_id    INTEGER NOT NULL,\n"                                                            \
    "    feature   INTEGER NOT NULL,\n"                                                            \
    "    rank      INTEGER NOT NULL,\n"                                                            \
    "    galaxy_id INTEGER NOT NULL,\n"                                                            \
    "    value     REAL NOT NULL,\n"                                                               \
    "    PRIMARY KEY (run_id, feature, rank)" REF_FEATURES "\n"                                    \
    ") WITHOUT ROWID;\n"                                                                           \
    "CREATE " TEMP "TABLE feature_columns (\n"                                                     \
    "    run_id   INTEGER NOT NULL,\n"                                                             \
    "    feature  INTEGER NOT NULL,\n"                                                             \
    "    position INTEGER NOT NULL,\n"                                                             \
    "    name     TEXT NOT NULL,\n"                                                                \
    "    rho      REAL NOT NULL,\n"                                                                \
    "    n_pairs  INTEGER NOT NULL,\n"                                                             \
    "    PRIMARY KEY (run_id, feature, position)" REF_FEATURES "\n"                                \
    ") WITHOUT ROWID;\n"                                                                           \
    "CREATE " TEMP "TABLE run_levels (\n"                                                          \
    "    run_id  INTEGER NOT NULL" REF_RUNS ",\n"                                                  \
    "    n_terms INTEGER NOT NULL,\n"                                                              \
    "    target  INTEGER NOT NULL,\n"                                                              \
    "    rmse    REAL,\n"                                                                          \
    "    PRIMARY KEY (run_id, n_terms, target)\n"                                                  \
    ") WITHOUT ROWID;\n"

const char store_summary_schema_sql[] =
    SUMMARY_TABLES("", " REFERENCES runs(id) ON DELETE CASCADE",
                   ",\n    FOREIGN KEY (run_id, feature) REFERENCES run_features(run_id, feature) "
                   "ON DELETE CASCADE");

static const char summary_temp_sql[] = SUMMARY_TABLES("TEMP ", "", "");

#define SUMMARY_VERSION 1 /* of the computation; run_summaries.summary_version */

/* ---- little-endian blobs ----------------------------------------------------------- */

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_f32(uint8_t *p, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    put_u32(p, u);
}

static float get_f32(const uint8_t *p) {
    uint32_t u = get_u32(p);
    float v;
    memcpy(&v, &u, 4);
    return v;
}

/* ---- the run as the computation needs it ------------------------------------------ */

typedef struct {
    store_run run;
    int d, n_out;
    int n;          /* galaxies of the run */
    int64_t *gid;   /* (n) ascending */
    uint8_t *split; /* (n) */
    int *vindex;    /* (n) index among the validation galaxies, -1 for training */
    int nv;
    int64_t *valid_gid; /* (nv) */
    float *truth;       /* (n, n_out) */
    double *w;          /* (n_out, d) the head */
    int *rank;          /* (d) place by frequency among the live features, -1 dead */
    int *by_rank;       /* (n_live) feature of each place */
    int n_live;
    double *scale;   /* (d) max_valid, or max when that is 0 */
    int64_t gid_lo;  /* rows by galaxy id when the run's ids are dense enough: */
    int *row_by_gid; /* (span) row of gid_lo + i, -1 none; NULL: binary search */
    int64_t span;
} run_view;

static void view_free(run_view *v) {
    store_run_clear(&v->run);
    free(v->gid);
    free(v->split);
    free(v->vindex);
    free(v->valid_gid);
    free(v->truth);
    free(v->w);
    free(v->rank);
    free(v->by_rank);
    free(v->scale);
    free(v->row_by_gid);
    memset(v, 0, sizeof *v);
}

/* Row of galaxy g in v (ascending ids), or -1. */
static int view_row(const run_view *v, int64_t g) {
    if (v->row_by_gid)
        return g >= v->gid_lo && g - v->gid_lo < v->span ? v->row_by_gid[g - v->gid_lo] : -1;
    int lo = 0, hi = v->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (v->gid[mid] == g) return mid;
        if (v->gid[mid] < g) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

typedef struct {
    int feature, n_active, n_active_valid;
} freq_key;

/* The order of store_features(STORE_SORT_FREQUENCY). */
static int freq_cmp(const void *pa, const void *pb) {
    const freq_key *a = pa, *b = pb;
    if (a->n_active_valid != b->n_active_valid)
        return a->n_active_valid > b->n_active_valid ? -1 : 1;
    if (a->n_active != b->n_active) return a->n_active > b->n_active ? -1 : 1;
    return (a->feature > b->feature) - (a->feature < b->feature);
}

static int view_load(store *s, int64_t run_id, run_view *v) {
    memset(v, 0, sizeof *v);
    if (store_run_get(s, run_id, &v->run) != SF_OK) return SF_ERR;
    v->d = v->run.d;
    v->n_out = v->run.n_out;
    int d = v->d, n_out = v->n_out;

    store_rows rows;
    if (store_run_rows_ids(s, run_id, &rows) != SF_OK) return SF_ERR;
    v->n = rows.n;
    v->gid = rows.galaxy_id;
    v->split = rows.split;
    size_t cap = (size_t)(v->n > 0 ? v->n : 1);
    v->vindex = xmalloc(cap * sizeof *v->vindex);
    v->valid_gid = xmalloc(cap * sizeof *v->valid_gid);
    for (int i = 0; i < v->n; i++) {
        v->vindex[i] = v->split[i] ? v->nv : -1;
        if (v->split[i]) v->valid_gid[v->nv++] = v->gid[i];
    }
    /* a run's galaxies are mostly one block of ids: look them up by offset */
    if (v->n > 0 && v->gid[v->n - 1] - v->gid[0] < 4 * (int64_t)v->n + 1024) {
        v->gid_lo = v->gid[0];
        v->span = v->gid[v->n - 1] - v->gid[0] + 1;
        v->row_by_gid = xmalloc((size_t)v->span * sizeof *v->row_by_gid);
        for (int64_t i = 0; i < v->span; i++) v->row_by_gid[i] = -1;
        for (int i = 0; i < v->n; i++) v->row_by_gid[v->gid[i] - v->gid_lo] = i;
    }
    v->truth = xmalloc(((size_t)v->n * n_out + 1) * sizeof *v->truth);
    if (store_run_predictions(s, run_id, &rows, n_out, NULL, v->truth) != SF_OK) return SF_ERR;

    int rc;
    sqlite3_stmt *st;
    v->w = xcalloc((size_t)n_out * d, sizeof *v->w);
    v->scale = xcalloc((size_t)d, sizeof *v->scale);
    v->rank = xmalloc((size_t)d * sizeof *v->rank);
    v->by_rank = xmalloc((size_t)d * sizeof *v->by_rank);
    freq_key *keys = xcalloc((size_t)d, sizeof *keys);
    int n_keys = 0;
    st = store_prepare(s,
                       "SELECT feature, n_active, n_active_valid, max_valid, max FROM run_features "
                       "WHERE run_id = ?1");
    if (!st) {
        free(keys);
        return SF_ERR;
    }
    sqlite3_bind_int64(st, 1, run_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int f = sqlite3_column_int(st, 0);
        if (f < 0 || f >= d) continue;
        double mv = sqlite3_column_double(st, 3), mx = sqlite3_column_double(st, 4);
        v->scale[f] = mv > 0 ? mv : mx;
        int na = sqlite3_column_int(st, 1);
        if (na > 0) keys[n_keys++] = (freq_key){f, na, sqlite3_column_int(st, 2)};
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(keys);
        return store_db_fail(s, "reading feature statistics");
    }
    qsort(keys, (size_t)n_keys, sizeof *keys, freq_cmp);
    for (int f = 0; f < d; f++) v->rank[f] = -1;
    for (int i = 0; i < n_keys; i++) {
        v->rank[keys[i].feature] = i;
        v->by_rank[i] = keys[i].feature;
    }
    v->n_live = n_keys;
    free(keys);

    st = store_prepare(s, "SELECT feature, target, weight FROM feature_targets WHERE run_id = ?1");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int f = sqlite3_column_int(st, 0), t = sqlite3_column_int(st, 1);
        if (f >= 0 && f < d && t >= 0 && t < n_out)
            v->w[(size_t)t * d + f] = sqlite3_column_double(st, 2);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SF_OK : store_db_fail(s, "reading feature weights");
}

/* ---- co-activation sums ---------------------------------------------------------------- */

/* A galaxy with more active features than this goes to the dense block (BLAS dsyrk),
 * where a row costs about d^2 flops instead of m^2 scattered updates. */
#define COACT_DENSE_FROM 128
#define COACT_BLOCK 256 /* rows per dsyrk */

/* Sums over a set of galaxies, a_i the raw activation of feature i (0 where inactive):
 * sum_i, cross_ij = sum a_i a_j and the galaxies where both are non-zero. */
typedef struct {
    int d;
    double *sum;    /* (d) */
    double *cross;  /* (d, d) */
    int *n_both;    /* (d, d) */
    double *values; /* (COACT_BLOCK, d) dense rows waiting for dsyrk */
    double *fires;  /* (COACT_BLOCK, d) 1 where non-zero */
    int rows;
    double *cross_up; /* (d, d) upper triangle of the blocks' sum of x x^T */
    double *both_up;
} coact_acc;

static void coact_init(coact_acc *c, int d) {
    memset(c, 0, sizeof *c);
    c->d = d;
    c->sum = xcalloc((size_t)d, sizeof *c->sum);
    c->cross = xcalloc((size_t)d * d, sizeof *c->cross);
    c->n_both = xcalloc((size_t)d * d, sizeof *c->n_both);
}

static void coact_free(coact_acc *c) {
    free(c->sum);
    free(c->cross);
    free(c->n_both);
    free(c->values);
    free(c->fires);
    free(c->cross_up);
    free(c->both_up);
    memset(c, 0, sizeof *c);
}

static void coact_flush(coact_acc *c) {
    if (!c->rows) return;
    int d = c->d;
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, c->rows, 1.0, c->values, d, 1.0,
                c->cross_up, d);
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, c->rows, 1.0, c->fires, d, 1.0,
                c->both_up, d);
    memset(c->values, 0, (size_t)c->rows * d * sizeof *c->values);
    memset(c->fires, 0, (size_t)c->rows * d * sizeof *c->fires);
    c->rows = 0;
}

/* Adds one galaxy's m active features (distinct, in 0..d-1, ascending). */
static void coact_add(coact_acc *c, const int *f, const double *v, int m) {
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
    if (!c->values) {
        c->values = xcalloc((size_t)COACT_BLOCK * d, sizeof *c->values);
        c->fires = xcalloc((size_t)COACT_BLOCK * d, sizeof *c->fires);
        c->cross_up = xcalloc((size_t)d * d, sizeof *c->cross_up);
        c->both_up = xcalloc((size_t)d * d, sizeof *c->both_up);
    }
    for (int i = 0; i < m; i++) {
        c->values[(size_t)c->rows * d + f[i]] = v[i];
        c->fires[(size_t)c->rows * d + f[i]] = 1;
    }
    if (++c->rows == COACT_BLOCK) coact_flush(c);
}

/* Folds the dense blocks into the sums (both triangles). */
static void coact_finish(coact_acc *c) {
    coact_flush(c);
    if (!c->cross_up) return;
    int d = c->d;
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) {
            double x = c->cross_up[(size_t)i * d + j];
            int both = (int)lround(c->both_up[(size_t)i * d + j]);
            c->cross[(size_t)i * d + j] += x;
            c->n_both[(size_t)i * d + j] += both;
            if (j != i) {
                c->cross[(size_t)j * d + i] += x;
                c->n_both[(size_t)j * d + i] += both;
            }
        }
}

/* ---- one scan in galaxy order: co-activations and the equation's RMSEs --------------- */

#define MAX_LEVELS 5 /* the top 1, 2, 4, 8 features by frequency, and all */

typedef struct {
    int n_levels;
    int terms[MAX_LEVELS];
    double se[MAX_LEVELS], se_t[MAX_LEVELS][STORE_MAX_TARGETS];
    double rmse[MAX_LEVELS], rmse_t[MAX_LEVELS][STORE_MAX_TARGETS];
} levels_acc;

/* The RMSE of one validation galaxy's prediction from the head with the terms of each
 * level (z = b + sum over the level's features of w a, in target units z std + mean). */
static void levels_add_row(levels_acc *L, const run_view *v, int row, const int *f, const double *a,
                           int m) {
    int n_out = v->n_out, d = v->d;
    for (int l = 0; l < L->n_levels; l++) {
        double z[STORE_MAX_TARGETS];
        for (int t = 0; t < n_out; t++) z[t] = v->run.bias[t];
        for (int i = 0; i < m; i++) {
            int r = v->rank[f[i]];
            if (r < 0 || r >= L->terms[l]) continue;
            for (int t = 0; t < n_out; t++) z[t] += v->w[(size_t)t * d + f[i]] * a[i];
        }
        for (int t = 0; t < n_out; t++) {
            double pred = z[t] * v->run.target_std[t] + v->run.target_mean[t];
            double e = pred - v->truth[(size_t)row * n_out + t];
            L->se[l] += e * e;
            L->se_t[l][t] += e * e;
        }
    }
}

static int scan_galaxies(store *s, const run_view *v, coact_acc *all, coact_acc *valid,
                         levels_acc *L) {
    int d = v->d;
    int *f = xmalloc((size_t)d * sizeof *f);
    double *a = xmalloc((size_t)d * sizeof *a);
    sqlite3_stmt *st = store_prepare(
        s,
        "SELECT galaxy_id, feature, value FROM activations WHERE run_id = ?1 ORDER BY galaxy_id");
    if (!st) {
        free(f);
        free(a);
        return SF_ERR;
    }
    sqlite3_bind_int64(st, 1, v->run.id);
    int row = 0, m = 0, rc;
    int64_t current = -1;
    /* the galaxy just read is complete: add it, and every galaxy before it without activations */
    for (;;) {
        rc = sqlite3_step(st);
        int64_t g = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : INT64_MAX;
        if (g != current) {
            if (current >= 0) {
                int r = view_row(v, current);
                if (r >= 0) {
                    for (; row < r; row++)
                        if (v->split[row]) levels_add_row(L, v, row, f, a, 0);
                    coact_add(all, f, a, m);
                    if (v->split[r]) {
                        coact_add(valid, f, a, m);
                        levels_add_row(L, v, r, f, a, m);
                    }
                    row = r + 1;
                }
            }
            current = g;
            m = 0;
        }
        if (rc != SQLITE_ROW) break;
        int feature = sqlite3_column_int(st, 1);
        double value = sqlite3_column_double(st, 2);
        if (feature < 0 || feature >= d || m >= d || value == 0) continue;
        f[m] = feature;
        a[m++] = value;
    }
    sqlite3_finalize(st);
    free(f);
    free(a);
    if (rc != SQLITE_DONE) return store_db_fail(s, "reading activations");
    for (; row < v->n; row++)
        if (v->split[row]) levels_add_row(L, v, row, NULL, NULL, 0);
    coact_finish(all);
    coact_finish(valid);
    for (int l = 0; l < L->n_levels; l++) {
        L->rmse[l] = v->nv ? sqrt(L->se[l] / ((double)v->nv * v->n_out)) : NAN;
        for (int t = 0; t < v->n_out; t++)
            L->rmse_t[l][t] = v->nv ? sqrt(L->se_t[l][t] / v->nv) : NAN;
    }
    return SF_OK;
}

/* ---- catalogue columns and Spearman correlations -------------------------------------- */

static const char *const bpt_flux[4] = {"nii_6584_flux", "h_alpha_flux", "oiii_5007_flux",
                                        "h_beta_flux"};

typedef struct {
    char name[STORE_NAME_MAX];
    double *value; /* (nv) over the validation galaxies, NAN missing */
    uint8_t *mask; /* (nv) finite */
    double *rank;  /* (nv) rank among the finite values (ties: average), NAN outside */
    int m;         /* finite values */
    double ss;     /* sum over them of (rank - mean rank)^2 */
} column_view;

typedef struct {
    double key;
    int index;
} keyed;

static int keyed_cmp(const void *pa, const void *pb) {
    const keyed *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* Ranks 1..m of the finite values (average ranks for ties), and their spread. */
static void column_rank(column_view *c, int nv) {
    keyed *k = xmalloc(((size_t)nv + 1) * sizeof *k);
    int m = 0;
    c->mask = xcalloc((size_t)nv + 1, 1);
    c->rank = xmalloc(((size_t)nv + 1) * sizeof *c->rank);
    for (int i = 0; i < nv; i++) {
        c->rank[i] = NAN;
        if (isfinite(c->value[i])) {
            c->mask[i] = 1;
            k[m++] = (keyed){c->value[i], i};
        }
    }
    qsort(k, (size_t)m, sizeof *k, keyed_cmp);
    for (int i = 0; i < m;) {
        int j = i;
        while (j + 1 < m && k[j + 1].key == k[i].key) j++;
        double avg = 0.5 * (double)(i + j) + 1.0;
        for (int t = i; t <= j; t++) c->rank[k[t].index] = avg;
        i = j + 1;
    }
    double mean = 0.5 * ((double)m + 1);
    c->ss = 0;
    for (int i = 0; i < nv; i++)
        if (c->mask[i]) c->ss += (c->rank[i] - mean) * (c->rank[i] - mean);
    c->m = m;
    free(k);
}

static void column_free(column_view *c) {
    free(c->value);
    free(c->mask);
    free(c->rank);
}

/* Reads every numeric catalogue column over the validation galaxies (ra and dec first
 * when present, then by id), plus log_nii_ha and log_oiii_hb when the four BPT line
 * fluxes are stored. Also fills the BPT diagram's coordinates of the validation
 * galaxies when the fluxes give one for some galaxy of the run (*has_bpt). */
static int read_columns(store *s, const run_view *v, column_view **out, int *n_out, int *has_bpt,
                        float *bpt_x, float *bpt_y) {
    *out = NULL;
    *n_out = 0;
    *has_bpt = 0;
    char(*names)[STORE_NAME_MAX] = NULL;
    int n_names = 0;
    if (store_catalog_columns(s, &names, &n_names) != SF_OK) return SF_ERR;
    column_view *cols = xcalloc((size_t)n_names + 2, sizeof *cols);
    int nv = v->nv, rc = SF_OK, n_cols = 0;
    store_rows valid_rows = {.n = nv, .galaxy_id = v->valid_gid};
    store_rows all_rows = {.n = v->n, .galaxy_id = v->gid};
    double *flux[4] = {NULL}, *flux_valid[4] = {NULL};
    for (int c = 0; c < n_names && rc == SF_OK; c++) {
        column_view *cv = &cols[n_cols];
        snprintf(cv->name, sizeof cv->name, "%s", names[c]);
        cv->value = xmalloc(((size_t)nv + 1) * sizeof *cv->value);
        int line = -1;
        for (int l = 0; l < 4; l++)
            if (!strcmp(names[c], bpt_flux[l])) line = l;
        if (line >= 0) {
            flux[line] = xmalloc(((size_t)v->n + 1) * sizeof *flux[line]);
            rc = store_catalog_values(s, &all_rows, names[c], flux[line]);
            for (int i = 0; i < v->n && rc == SF_OK; i++)
                if (v->vindex[i] >= 0) cv->value[v->vindex[i]] = flux[line][i];
            flux_valid[line] = cv->value;
        } else {
            rc = store_catalog_values(s, &valid_rows, names[c], cv->value);
        }
        n_cols++;
    }
    if (rc == SF_OK && flux[0] && flux[1] && flux[2] && flux[3]) {
        for (int i = 0; i < v->n && !*has_bpt; i++)
            *has_bpt = flux[0][i] > 0 && flux[1][i] > 0 && flux[2][i] > 0 && flux[3][i] > 0;
        static const char *ratio[2] = {"log_nii_ha", "log_oiii_hb"};
        for (int r = 0; r < 2; r++) {
            column_view *cv = &cols[n_cols++];
            snprintf(cv->name, sizeof cv->name, "%s", ratio[r]);
            cv->value = xmalloc(((size_t)nv + 1) * sizeof *cv->value);
            const double *num = flux_valid[2 * r], *den = flux_valid[2 * r + 1];
            for (int i = 0; i < nv; i++)
                cv->value[i] = num[i] > 0 && den[i] > 0 ? log10(num[i] / den[i]) : NAN;
        }
        for (int i = 0; i < nv && *has_bpt; i++) {
            double nii = flux_valid[0][i], ha = flux_valid[1][i], oiii = flux_valid[2][i],
                   hb = flux_valid[3][i];
            int good = nii > 0 && ha > 0 && oiii > 0 && hb > 0;
            bpt_x[i] = good ? (float)log10(nii / ha) : NAN;
            bpt_y[i] = good ? (float)log10(oiii / hb) : NAN;
        }
    }
    for (int l = 0; l < 4; l++) free(flux[l]);
    free(names);
    if (rc != SF_OK) {
        for (int c = 0; c < n_cols; c++) column_free(&cols[c]);
        free(cols);
        return SF_ERR;
    }
    for (int c = 0; c < n_cols; c++) column_rank(&cols[c], nv);
    *out = cols;
    *n_out = n_cols;
    return SF_OK;
}

/* One feature's active validation galaxies, ascending value (ties by index). */
typedef struct {
    int index;
    float value;
} valid_hit;

static int hit_value_cmp(const void *pa, const void *pb) {
    const valid_hit *a = pa, *b = pb;
    if (a->value != b->value) return a->value < b->value ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* Spearman's rho of the feature's activation over the validation galaxies (0 where
 * inactive) with column c, over the galaxies where c is finite: as analysis_spearman
 * computes it (average ranks, Pearson of the ranks), in O(active) per column. Every
 * inactive galaxy shares the lowest rank (z + 1) / 2 (activations are positive), and
 * the ranks' deviations from the mean (m + 1) / 2 sum to zero over the column's
 * galaxies, so the inactive ones add -(their rank's deviation) * (the active ones'
 * column deviations) to the covariance. NAN as analysis_spearman gives it: fewer than
 * 3 pairs, or either side constant. */
static double sparse_spearman(const valid_hit *sorted, int n_hits, const column_view *c) {
    int m = c->m;
    if (m < 3) return NAN;
    int nnz = 0;
    for (int i = 0; i < n_hits; i++) nnz += c->mask[sorted[i].index];
    int z = m - nnz;
    double mean = 0.5 * ((double)m + 1), rz = 0.5 * ((double)z + 1) - mean;
    double cov = 0, var_a = (double)z * rz * rz, dev_c = 0;
    int pos = 0;
    for (int i = 0; i < n_hits;) {
        /* the masked hits of equal value from i on share the average of their ranks */
        int j = i, tied = 0;
        while (j < n_hits && sorted[j].value == sorted[i].value) tied += c->mask[sorted[j++].index];
        double ra = (double)z + (double)pos + 0.5 * (double)(tied - 1) + 1.0 - mean;
        for (int t = i; t < j; t++) {
            int idx = sorted[t].index;
            if (!c->mask[idx]) continue;
            double rc = c->rank[idx] - mean;
            cov += ra * rc;
            var_a += ra * ra;
            dev_c += rc;
        }
        pos += tied;
        i = j;
    }
    cov -= rz * dev_c;
    if (!(var_a > 0) || !(c->ss > 0)) return NAN;
    double r = cov / sqrt(var_a * c->ss);
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

/* ---- writing -------------------------------------------------------------------------- */

static int step_done(store *s, sqlite3_stmt *st, const char *what) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SF_OK : store_db_fail(s, what);
}

static int delete_summaries(store *s, int64_t run_id) {
    static const char *const tables[] = {"run_summaries",   "feature_summaries", "feature_pairs",
                                         "feature_samples", "feature_columns",   "run_levels"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE run_id = ?1", tables[i]);
        sqlite3_stmt *st = store_prepare(s, sql);
        if (!st) return SF_ERR;
        sqlite3_bind_int64(st, 1, run_id);
        int rc = step_done(s, st, "replacing a run's summaries");
        sqlite3_finalize(st);
        if (rc != SF_OK) return SF_ERR;
    }
    return SF_OK;
}

enum { W_FEATURE, W_PAIR, W_SAMPLE, W_COLUMN, W_LEVEL, W_RUN, W_COUNT };

static const char *const summary_sql[W_COUNT] = {
    [W_FEATURE] =
        "INSERT INTO feature_summaries (run_id, feature, sum, sum_sq, sum_valid, sum_sq_valid, "
        "valid_hits) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [W_PAIR] = "INSERT INTO feature_pairs (run_id, feature, other, n_both, cross, n_both_valid, "
               "cross_valid) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [W_SAMPLE] = "INSERT INTO feature_samples (run_id, feature, rank, galaxy_id, value) VALUES "
                 "(?1, ?2, ?3, ?4, ?5)",
    [W_COLUMN] = "INSERT INTO feature_columns (run_id, feature, position, name, rho, n_pairs) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [W_LEVEL] = "INSERT INTO run_levels (run_id, n_terms, target, rmse) VALUES (?1, ?2, ?3, ?4)",
    [W_RUN] = "INSERT INTO run_summaries (run_id, summary_version, n_valid, points_kind, points, "
              "created) "
              "VALUES (?1, ?2, ?3, ?4, ?5, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
};

typedef struct {
    store *s;
    const run_view *v;
    sqlite3_stmt *st[W_COUNT];
    /* one feature at a time */
    int64_t *hit_gid; /* (cap) */
    double *hit_value;
    int *order;       /* (cap) hits by value */
    valid_hit *valid; /* (nv) */
    uint8_t *blob;    /* (8 nv) */
    int cap;
} summary_writer;

static int hit_index_cmp(const void *pa, const void *pb) {
    const valid_hit *a = pa, *b = pb;
    return (a->index > b->index) - (a->index < b->index);
}

/* A feature's hits through activations_by_feature: its quantile samples (of every
 * galaxy where it is active, by value then galaxy id, the i-th of n at (i + 0.5) / n)
 * and its validation hits (into sw->blob by index, and left in sw->valid by value). */
static int feature_hits(summary_writer *sw, int feature, int *n_valid_hits) {
    store *s = sw->s;
    const run_view *v = sw->v;
    /* the index's own order: value descending, galaxy id ascending */
    sqlite3_stmt *st = store_prepare(
        s, "SELECT galaxy_id, value FROM activations INDEXED BY activations_by_feature "
           "WHERE run_id = ?1 AND feature = ?2 ORDER BY value DESC, galaxy_id");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, v->run.id);
    sqlite3_bind_int(st, 2, feature);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == sw->cap) {
            sw->cap = sw->cap ? 2 * sw->cap : 1024;
            sw->hit_gid = xrealloc(sw->hit_gid, (size_t)sw->cap * sizeof *sw->hit_gid);
            sw->hit_value = xrealloc(sw->hit_value, (size_t)sw->cap * sizeof *sw->hit_value);
            sw->order = xrealloc(sw->order, (size_t)sw->cap * sizeof *sw->order);
        }
        sw->hit_gid[n] = sqlite3_column_int64(st, 0);
        sw->hit_value[n++] = sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return store_db_fail(s, "reading a feature's activations");

    /* by value then galaxy id: the index's order backwards, each run of equal values
     * turned round again */
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && sw->hit_value[j + 1] == sw->hit_value[i]) j++;
        for (int t = i; t <= j; t++) sw->order[n - 1 - j + (t - i)] = t;
        i = j + 1;
    }
    int m = n < STORE_QUANTILE_SAMPLES ? n : STORE_QUANTILE_SAMPLES;
    for (int i = 0; i < m; i++) {
        int j = (int)floor((i + 0.5) / m * n);
        if (j >= n) j = n - 1;
        int h = sw->order[j];
        sqlite3_stmt *q = sw->st[W_SAMPLE];
        sqlite3_bind_int64(q, 1, v->run.id);
        sqlite3_bind_int(q, 2, feature);
        sqlite3_bind_int(q, 3, i);
        sqlite3_bind_int64(q, 4, sw->hit_gid[h]);
        sqlite3_bind_double(q, 5, sw->hit_value[h]);
        if (step_done(s, q, "storing quantile samples") != SF_OK) return SF_ERR;
    }

    int nvh = 0;
    for (int i = 0; i < n; i++) {
        int r = view_row(v, sw->hit_gid[i]);
        if (r >= 0 && v->vindex[r] >= 0)
            sw->valid[nvh++] = (valid_hit){v->vindex[r], (float)sw->hit_value[i]};
    }
    qsort(sw->valid, (size_t)nvh, sizeof *sw->valid, hit_index_cmp);
    for (int t = 0; t < nvh; t++) {
        put_u32(sw->blob + 8 * (size_t)t, (uint32_t)sw->valid[t].index);
        put_f32(sw->blob + 8 * (size_t)t + 4, sw->valid[t].value);
    }
    qsort(sw->valid, (size_t)nvh, sizeof *sw->valid, hit_value_cmp);
    *n_valid_hits = nvh;
    return SF_OK;
}

static void progress_step(sf_progress *p, double t0, long done) {
    /* drawn only for runs whose summaries take long enough to wonder about */
    if (sf_now() - t0 > 1.0) sf_progress_update(p, done, NULL);
}

static int summarize(store *s, int64_t run_id);

int store_run_summarize(store *s, int64_t run_id) {
    if (!sqlite3_get_autocommit(s->db)) return summarize(s, run_id);
    if (store_begin(s) != SF_OK) return SF_ERR;
    if (summarize(s, run_id) != SF_OK) {
        store_rollback(s);
        return SF_ERR;
    }
    return store_commit(s);
}

static int summarize(store *s, int64_t run_id) {
    run_view v;
    int status = SF_ERR;
    column_view *cols = NULL;
    int n_cols = 0, has_bpt = 0;
    coact_acc all, valid;
    memset(&all, 0, sizeof all);
    memset(&valid, 0, sizeof valid);
    summary_writer sw;
    memset(&sw, 0, sizeof sw);
    float *bpt_x = NULL, *bpt_y = NULL;
    if (view_load(s, run_id, &v) != SF_OK) goto done;
    int d = v.d, nv = v.nv, n_out = v.n_out;
    char label[STORE_PREFIX_MAX + 32];
    snprintf(label, sizeof label, "summaries of run %s", v.run.prefix);
    sf_progress progress;
    sf_progress_start(&progress, label, 3 + v.n_live, "steps");
    double t0 = sf_now();

    bpt_x = xmalloc(((size_t)nv + 1) * sizeof *bpt_x);
    bpt_y = xmalloc(((size_t)nv + 1) * sizeof *bpt_y);
    if (read_columns(s, &v, &cols, &n_cols, &has_bpt, bpt_x, bpt_y) != SF_OK) goto done;
    progress_step(&progress, t0, 1);

    coact_init(&all, d);
    coact_init(&valid, d);
    levels_acc L;
    memset(&L, 0, sizeof L);
    static const int wanted[4] = {1, 2, 4, 8};
    for (int i = 0; i < 4; i++)
        if (wanted[i] < v.n_live) L.terms[L.n_levels++] = wanted[i];
    L.terms[L.n_levels++] = v.n_live;
    if (scan_galaxies(s, &v, &all, &valid, &L) != SF_OK) goto done;
    progress_step(&progress, t0, 2);

    if (delete_summaries(s, run_id) != SF_OK) goto done;
    sw.s = s;
    sw.v = &v;
    for (int i = 0; i < W_COUNT; i++)
        if (!(sw.st[i] = store_prepare(s, summary_sql[i]))) goto done;
    sw.valid = xmalloc(((size_t)nv + 1) * sizeof *sw.valid);
    sw.blob = xmalloc(8 * ((size_t)nv + 1));

    /* the run: validation points of the scatter */
    uint8_t *points = xmalloc(8 * ((size_t)nv + 1));
    for (int i = 0, r = 0; r < v.n; r++) {
        if (v.vindex[r] < 0) continue;
        float x = has_bpt ? bpt_x[i] : n_out > 0 ? v.truth[(size_t)r * n_out] : NAN;
        float y = has_bpt ? bpt_y[i] : NAN;
        put_f32(points + 8 * (size_t)i, x);
        put_f32(points + 8 * (size_t)i + 4, y);
        i++;
    }
    sqlite3_stmt *q = sw.st[W_RUN];
    sqlite3_bind_int64(q, 1, run_id);
    sqlite3_bind_int(q, 2, SUMMARY_VERSION);
    sqlite3_bind_int(q, 3, nv);
    sqlite3_bind_int(q, 4, has_bpt ? STORE_POINTS_BPT : STORE_POINTS_TARGET);
    sqlite3_bind_blob64(q, 5, points, 8 * (sqlite3_uint64)nv, SQLITE_TRANSIENT);
    int rc = step_done(s, q, "storing a run's summary");
    free(points);
    if (rc != SF_OK) goto done;

    for (int l = 0; l < L.n_levels; l++) {
        if (l > 0 && L.terms[l] == L.terms[l - 1]) continue;
        for (int t = -1; t < n_out; t++) {
            q = sw.st[W_LEVEL];
            sqlite3_bind_int64(q, 1, run_id);
            sqlite3_bind_int(q, 2, L.terms[l]);
            sqlite3_bind_int(q, 3, t);
            double r = t < 0 ? L.rmse[l] : L.rmse_t[l][t];
            if (isfinite(r)) sqlite3_bind_double(q, 4, r);
            else sqlite3_bind_null(q, 4);
            if (step_done(s, q, "storing the equation's RMSEs") != SF_OK) goto done;
        }
    }

    int n_done = 0;
    for (int f = 0; f < d; f++) {
        int n_hits = 0;
        if (v.rank[f] >= 0 && feature_hits(&sw, f, &n_hits) != SF_OK) goto done;
        q = sw.st[W_FEATURE];
        sqlite3_bind_int64(q, 1, run_id);
        sqlite3_bind_int(q, 2, f);
        sqlite3_bind_double(q, 3, all.sum[f]);
        sqlite3_bind_double(q, 4, all.cross[(size_t)f * d + f]);
        sqlite3_bind_double(q, 5, valid.sum[f]);
        sqlite3_bind_double(q, 6, valid.cross[(size_t)f * d + f]);
        if (v.rank[f] >= 0)
            sqlite3_bind_blob64(q, 7, sw.blob, 8 * (sqlite3_uint64)n_hits, SQLITE_STATIC);
        else sqlite3_bind_null(q, 7);
        if (step_done(s, q, "storing feature summaries") != SF_OK) goto done;
        if (v.rank[f] < 0) continue;
        for (int o = 0; o < d; o++) {
            int both = all.n_both[(size_t)f * d + o];
            if (o == f || both == 0) continue;
            q = sw.st[W_PAIR];
            sqlite3_bind_int64(q, 1, run_id);
            sqlite3_bind_int(q, 2, f);
            sqlite3_bind_int(q, 3, o);
            sqlite3_bind_int(q, 4, both);
            sqlite3_bind_double(q, 5, all.cross[(size_t)f * d + o]);
            sqlite3_bind_int(q, 6, valid.n_both[(size_t)f * d + o]);
            sqlite3_bind_double(q, 7, valid.cross[(size_t)f * d + o]);
            if (step_done(s, q, "storing co-activations") != SF_OK) goto done;
        }
        for (int c = 0; c < n_cols; c++) {
            double rho = sparse_spearman(sw.valid, n_hits, &cols[c]);
            if (!isfinite(rho)) continue;
            q = sw.st[W_COLUMN];
            sqlite3_bind_int64(q, 1, run_id);
            sqlite3_bind_int(q, 2, f);
            sqlite3_bind_int(q, 3, c);
            sqlite3_bind_text(q, 4, cols[c].name, -1, SQLITE_STATIC);
            sqlite3_bind_double(q, 5, rho);
            sqlite3_bind_int(q, 6, cols[c].m);
            if (step_done(s, q, "storing catalogue correlations") != SF_OK) goto done;
        }
        progress_step(&progress, t0, 3 + ++n_done);
    }
    if (progress.t_last_draw > 0) sf_progress_finish(&progress, NULL);
    status = SF_OK;
done:
    for (int i = 0; i < W_COUNT; i++) sqlite3_finalize(sw.st[i]);
    free(sw.hit_gid);
    free(sw.hit_value);
    free(sw.order);
    free(sw.valid);
    free(sw.blob);
    for (int c = 0; c < n_cols; c++) column_free(&cols[c]);
    free(cols);
    free(bpt_x);
    free(bpt_y);
    coact_free(&all);
    coact_free(&valid);
    view_free(&v);
    return status;
}

/* ---- reading ---------------------------------------------------------------------------- */

/* Whether the summary tables are in the file (version 3 on), after looking again at the
 * file's version: another process may have upgraded it since this connection opened. */
static int file_has_summaries(store *s) {
    if (s->version >= 3) return 1;
    sqlite3_stmt *st = store_prepare(s, "PRAGMA user_version");
    if (!st) return 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        int v = sqlite3_column_int(st, 0);
        if (v > s->version && v <= STORE_SCHEMA_VERSION) s->version = v;
    }
    sqlite3_finalize(st);
    return s->version >= 3;
}

int store_summary_ensure(store *s, int64_t run_id) {
    if (!s->temp_summaries && file_has_summaries(s)) return SF_OK;
    /* A file of an older version opened read-only: the summaries go to temporary tables
     * of this connection (in memory), which hide the file's own from now on. Nothing is
     * written to the file; the foreign keys cannot reach from there into the file. */
    if (!s->temp_summaries) {
        if (store_exec(s, "PRAGMA temp_store = MEMORY", "keeping summaries in memory") != SF_OK ||
            store_exec(s, "PRAGMA foreign_keys = OFF", "keeping summaries in memory") != SF_OK ||
            store_exec(s, summary_temp_sql, "keeping summaries in memory") != SF_OK)
            return SF_ERR;
        s->temp_summaries = 1;
    }
    sqlite3_stmt *st = store_prepare(s, "SELECT 1 FROM temp.run_summaries WHERE run_id = ?1");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return SF_OK;
    if (rc != SQLITE_DONE) return store_db_fail(s, "reading summaries");
    return store_run_summarize(s, run_id);
}

/* A prepared statement over one run's summary, after making sure it exists. */
static sqlite3_stmt *summary_query(store *s, int64_t run_id, const char *sql) {
    if (store_summary_ensure(s, run_id) != SF_OK) return NULL;
    sqlite3_stmt *st = store_prepare(s, sql);
    if (st) sqlite3_bind_int64(st, 1, run_id);
    return st;
}

static int missing_summary(store *s, int64_t run_id) {
    return sf_fail("%s: run %lld has no stored summaries: open the file for writing once (for "
                   "example by labelling a feature) to compute them",
                   s->path, (long long)run_id);
}

void store_points_clear(store_points *p) {
    free(p->x);
    free(p->y);
    memset(p, 0, sizeof *p);
}

int store_run_points(store *s, int64_t run_id, store_points *out) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = summary_query(
        s, run_id, "SELECT n_valid, points_kind, points FROM run_summaries WHERE run_id = ?1");
    if (!st) return SF_ERR;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? missing_summary(s, run_id)
                                 : store_db_fail(s, "reading a run's summary");
    }
    int n = sqlite3_column_int(st, 0);
    out->kind = sqlite3_column_int(st, 1);
    const uint8_t *blob = sqlite3_column_blob(st, 2);
    int len = sqlite3_column_bytes(st, 2);
    if (n < 0 || (size_t)len != 8 * (size_t)n) {
        sqlite3_finalize(st);
        return sf_fail(
            "%s: run %lld: the stored plot points are damaged (%d bytes for %d galaxies)", s->path,
            (long long)run_id, len, n);
    }
    out->n_valid = n;
    out->x = xmalloc(((size_t)n + 1) * sizeof *out->x);
    out->y = xmalloc(((size_t)n + 1) * sizeof *out->y);
    for (int i = 0; i < n; i++) {
        out->x[i] = get_f32(blob + 8 * (size_t)i);
        out->y[i] = get_f32(blob + 8 * (size_t)i + 4);
    }
    sqlite3_finalize(st);
    return SF_OK;
}

int store_run_feature_sums(store *s, int64_t run_id, int d, store_feature_sums *out) {
    memset(out, 0, (size_t)d * sizeof *out);
    sqlite3_stmt *st = summary_query(s, run_id,
                                     "SELECT feature, sum, sum_sq, sum_valid, sum_sq_valid FROM "
                                     "feature_summaries WHERE run_id = ?1");
    if (!st) return SF_ERR;
    int rc, rows = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int f = sqlite3_column_int(st, 0);
        if (f < 0 || f >= d) continue;
        out[f] = (store_feature_sums){sqlite3_column_double(st, 1), sqlite3_column_double(st, 2),
                                      sqlite3_column_double(st, 3), sqlite3_column_double(st, 4)};
        rows++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return store_db_fail(s, "reading feature summaries");
    return rows ? SF_OK : missing_summary(s, run_id);
}

int store_feature_valid_hits(store *s, int64_t run_id, int feature, store_valid_hit **out, int *n) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = summary_query(
        s, run_id, "SELECT valid_hits FROM feature_summaries WHERE run_id = ?1 AND feature = ?2");
    if (!st) return SF_ERR;
    sqlite3_bind_int(st, 2, feature);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? missing_summary(s, run_id)
                                 : store_db_fail(s, "reading a feature's summary");
    }
    const uint8_t *blob = sqlite3_column_blob(st, 0);
    int len = sqlite3_column_bytes(st, 0);
    int m = len / 8;
    store_valid_hit *h = xmalloc(((size_t)m + 1) * sizeof *h);
    for (int i = 0; i < m; i++) {
        h[i].index = (int)get_u32(blob + 8 * (size_t)i);
        h[i].value = get_f32(blob + 8 * (size_t)i + 4);
    }
    sqlite3_finalize(st);
    *out = h;
    *n = m;
    return SF_OK;
}

int store_feature_pairs(store *s, int64_t run_id, int feature, store_pair **out, int *n) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st =
        summary_query(s, run_id,
                      "SELECT other, n_both, cross, n_both_valid, cross_valid FROM feature_pairs "
                      "WHERE run_id = ?1 AND feature = ?2 ORDER BY other");
    if (!st) return SF_ERR;
    sqlite3_bind_int(st, 2, feature);
    int cap = 16, m = 0, rc;
    store_pair *p = xmalloc((size_t)cap * sizeof *p);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (m == cap) p = xrealloc(p, (size_t)(cap *= 2) * sizeof *p);
        p[m++] = (store_pair){sqlite3_column_int(st, 0), sqlite3_column_int(st, 1),
                              sqlite3_column_double(st, 2), sqlite3_column_int(st, 3),
                              sqlite3_column_double(st, 4)};
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(p);
        return store_db_fail(s, "reading co-activations");
    }
    *out = p;
    *n = m;
    return SF_OK;
}

int store_feature_samples(store *s, int64_t run_id, int feature, store_hit **hits, int *n) {
    *hits = NULL;
    *n = 0;
    sqlite3_stmt *st = summary_query(
        s, run_id,
        "SELECT q.galaxy_id, g.objid, q.value, rg.split, f.max_valid, f.max "
        "FROM feature_samples AS q JOIN galaxies AS g ON g.id = q.galaxy_id "
        "JOIN run_galaxies AS rg ON rg.run_id = q.run_id AND rg.galaxy_id = q.galaxy_id "
        "JOIN run_features AS f ON f.run_id = q.run_id AND f.feature = q.feature "
        "WHERE q.run_id = ?1 AND q.feature = ?2 ORDER BY q.rank");
    if (!st) return SF_ERR;
    sqlite3_bind_int(st, 2, feature);
    store_hit *h = xcalloc(STORE_QUANTILE_SAMPLES, sizeof *h);
    int m = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && m < STORE_QUANTILE_SAMPLES) {
        store_hit *x = &h[m++];
        x->galaxy_id = sqlite3_column_int64(st, 0);
        const unsigned char *objid = sqlite3_column_text(st, 1);
        snprintf(x->objid, sizeof x->objid, "%s", objid ? (const char *)objid : "");
        x->value = sqlite3_column_double(st, 2);
        x->split = sqlite3_column_int(st, 3);
        double scale = sqlite3_column_double(st, 4);
        if (!(scale > 0)) scale = sqlite3_column_double(st, 5);
        x->scaled = scale > 0 ? x->value / scale : 0;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        free(h);
        return store_db_fail(s, "reading quantile samples");
    }
    *hits = h;
    *n = m;
    return SF_OK;
}

int store_feature_columns(store *s, int64_t run_id, int feature, store_column_rho **out, int *n) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = summary_query(s, run_id,
                                     "SELECT position, name, rho, n_pairs FROM feature_columns "
                                     "WHERE run_id = ?1 AND feature = ?2 ORDER BY position");
    if (!st) return SF_ERR;
    sqlite3_bind_int(st, 2, feature);
    int cap = 16, m = 0, rc;
    store_column_rho *c = xmalloc((size_t)cap * sizeof *c);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (m == cap) c = xrealloc(c, (size_t)(cap *= 2) * sizeof *c);
        store_column_rho *x = &c[m++];
        x->position = sqlite3_column_int(st, 0);
        const unsigned char *name = sqlite3_column_text(st, 1);
        snprintf(x->name, sizeof x->name, "%s", name ? (const char *)name : "");
        x->rho = sqlite3_column_double(st, 2);
        x->n_pairs = sqlite3_column_int(st, 3);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(c);
        return store_db_fail(s, "reading catalogue correlations");
    }
    *out = c;
    *n = m;
    return SF_OK;
}

int store_run_levels(store *s, int64_t run_id, store_level **out, int *n) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = summary_query(
        s, run_id,
        "SELECT n_terms, target, rmse FROM run_levels WHERE run_id = ?1 ORDER BY n_terms, target");
    if (!st) return SF_ERR;
    store_level *lv = xcalloc(MAX_LEVELS, sizeof *lv);
    int m = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int terms = sqlite3_column_int(st, 0), t = sqlite3_column_int(st, 1);
        double r = store_column_double(st, 2);
        if (m == 0 || lv[m - 1].n_terms != terms) {
            if (m == MAX_LEVELS) continue;
            lv[m].n_terms = terms;
            lv[m].rmse = NAN;
            for (int k = 0; k < STORE_MAX_TARGETS; k++) lv[m].rmse_t[k] = NAN;
            m++;
        }
        if (t < 0) lv[m - 1].rmse = r;
        else if (t < STORE_MAX_TARGETS) lv[m - 1].rmse_t[t] = r;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(lv);
        return store_db_fail(s, "reading the equation's RMSEs");
    }
    if (m == 0) {
        free(lv);
        return missing_summary(s, run_id);
    }
    *out = lv;
    *n = m;
    return SF_OK;
}
