/* store_fixture.h: random runs written through the store API, for test_store and
 * test_query. A fixture run is self-consistent: pred = (b + W a) * std + mean, with
 * the same head as stored, so the equation over all features reproduces it. */
#ifndef SF_STORE_FIXTURE_H
#define SF_STORE_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "data_image.h"
#include "sf_util.h"
#include "store.h"

typedef struct {
    int n, d, k, n_out, n_columns;
    char (*objid)[32];            /* (n) */
    store_galaxy_input *galaxies; /* (n) */
    double *values;               /* (n, n_columns) */
    const char *column_names[4];
    uint8_t *split;      /* (n) */
    float *head_w;       /* (n_out, d) */
    int *topk_idx;       /* (n, k) */
    float *topk_val;     /* (n, k) */
    float *pred, *truth; /* (n, n_out) */
    uint8_t *thumb;
    size_t thumb_len;
    store_run_input in;
} fixture_run;

/* n galaxies numbered from first_objid; features drawn from the first n_live of d
 * (others stay dead); some galaxies get fewer than k non-zero values. */
static inline void fixture_make(fixture_run *fx, int n, int d, int k, int n_out, int n_live,
                                long long first_objid, uint64_t seed) {
    memset(fx, 0, sizeof *fx);
    sf_rng rng;
    sf_rng_seed(&rng, seed);
    fx->n = n;
    fx->d = d;
    fx->k = k;
    fx->n_out = n_out;
    fx->n_columns = 3;
    fx->column_names[0] = "oh_p50";
    fx->column_names[1] = "z";
    fx->column_names[2] = "bptclass";
    fx->objid = calloc((size_t)n, sizeof *fx->objid);
    fx->galaxies = calloc((size_t)n, sizeof *fx->galaxies);
    fx->values = calloc((size_t)n * 3, sizeof *fx->values);
    fx->split = calloc((size_t)n, 1);
    fx->head_w = calloc((size_t)n_out * d, sizeof(float));
    fx->topk_idx = calloc((size_t)n * k, sizeof(int));
    fx->topk_val = calloc((size_t)n * k, sizeof(float));
    fx->pred = calloc((size_t)n * n_out, sizeof(float));
    fx->truth = calloc((size_t)n * n_out, sizeof(float));

    uint8_t rgb[8 * 8 * 3];
    for (int i = 0; i < (int)sizeof rgb; i++) rgb[i] = (uint8_t)(i * 7);
    image_encode_jpeg(rgb, 8, 8, 80, &fx->thumb, &fx->thumb_len);

    store_run *r = &fx->in.run;
    r->n_out = n_out;
    r->d = d;
    r->k = k;
    r->width = d / 8 > 0 ? d / 8 : 1;
    r->seed = seed;
    r->split_seed = 256;
    snprintf(r->target_spec, sizeof r->target_spec, n_out == 1 ? "metallicity" : "columns");
    for (int t = 0; t < n_out; t++) {
        snprintf(r->target_names[t], sizeof r->target_names[t], "target%d", t);
        r->bias[t] = 0.1 * (t + 1);
        r->target_mean[t] = 8.5 + t;
        r->target_std[t] = 0.2 + 0.1 * t;
        for (int f = 0; f < d; f++)
            fx->head_w[(size_t)t * d + f] = (float)(sf_rng_uniform(&rng) * 2 - 1);
    }
    for (int c = 0; c < 3; c++) {
        r->image_mean[c] = 0.1f * (float)(c + 1);
        r->image_std[c] = 0.2f;
    }
    r->hyper_json = NULL;

    for (int i = 0; i < n; i++) {
        snprintf(fx->objid[i], sizeof fx->objid[i], "%lld", first_objid + i);
        fx->split[i] = sf_rng_uniform(&rng) < 0.25;
        int *idx = &fx->topk_idx[(size_t)i * k];
        float *val = &fx->topk_val[(size_t)i * k];
        /* k distinct features of the first n_live */
        for (int j = 0; j < k; j++) {
            int f, dup;
            do {
                f = (int)sf_rng_below(&rng, (uint32_t)n_live);
                dup = 0;
                for (int q = 0; q < j; q++) dup |= idx[q] == f;
            } while (dup);
            idx[j] = f;
            /* quantised values give ties; about one in ten pairs is zero (not stored) */
            double u = sf_rng_uniform(&rng);
            val[j] = u < 0.1 ? 0.0f : (float)(floor(u * 50) / 10.0);
        }
        for (int t = 0; t < n_out; t++) {
            double z = r->bias[t];
            for (int j = 0; j < k; j++) z += fx->head_w[(size_t)t * d + idx[j]] * val[j];
            float p = (float)(z * r->target_std[t] + r->target_mean[t]);
            fx->pred[(size_t)i * n_out + t] = p;
            fx->truth[(size_t)i * n_out + t] = p + (float)(0.05 * sf_rng_normal(&rng));
        }
        double *v = &fx->values[(size_t)i * 3];
        v[0] = 8 + sf_rng_uniform(&rng);
        v[1] = i % 7 == 0 ? NAN : 0.01 * (i % 13);
        v[2] = (double)(i % 4);
        store_galaxy_input *g = &fx->galaxies[i];
        g->objid = fx->objid[i];
        g->ra = 150.0 + 0.001 * i;
        g->dec = i % 5 == 0 ? NAN : 2.0 - 0.001 * i;
        g->values = v;
        g->thumb = fx->thumb;
        g->thumb_len = fx->thumb_len;
        g->thumb_w = g->thumb_h = 8;
        g->thumb_format = "jpeg";
    }
    /* the model's RMSE, as training would report it */
    double se = 0, se_t = 0;
    int nv = 0, nt = 0;
    for (int i = 0; i < n; i++)
        for (int t = 0; t < n_out; t++) {
            double e = fx->pred[(size_t)i * n_out + t] - fx->truth[(size_t)i * n_out + t];
            if (fx->split[i]) {
                se += e * e;
                nv++;
            } else {
                se_t += e * e;
                nt++;
            }
        }
    r->valid_rmse = nv ? sqrt(se / nv) : NAN;
    r->train_rmse = nt ? sqrt(se_t / nt) : NAN;
    for (int t = 0; t < n_out; t++) r->train_rmse_t[t] = r->valid_rmse_t[t] = NAN;

    fx->in.head_w = fx->head_w;
    fx->in.n_columns = 3;
    fx->in.column_names = fx->column_names;
    fx->in.n = n;
    fx->in.galaxies = fx->galaxies;
    fx->in.split = fx->split;
    fx->in.pred = fx->pred;
    fx->in.truth = fx->truth;
    fx->in.k_stored = k;
    fx->in.topk_idx = fx->topk_idx;
    fx->in.topk_val = fx->topk_val;
}

static inline void fixture_free(fixture_run *fx) {
    free(fx->objid);
    free(fx->galaxies);
    free(fx->values);
    free(fx->split);
    free(fx->head_w);
    free(fx->topk_idx);
    free(fx->topk_val);
    free(fx->pred);
    free(fx->truth);
    free(fx->thumb);
}

/* Raw activation of feature f for galaxy i (0 when not among its pairs). */
static inline double fixture_act(const fixture_run *fx, int i, int f) {
    for (int j = 0; j < fx->k; j++)
        if (fx->topk_idx[(size_t)i * fx->k + j] == f) return fx->topk_val[(size_t)i * fx->k + j];
    return 0;
}

/* A fresh temporary directory and a path inside it. */
static inline void fixture_tmpdir(char *dir, size_t n) {
    snprintf(dir, n, "/tmp/sfnet-store-XXXXXX");
    if (!mkdtemp(dir)) dir[0] = 0;
}

/* The first column of the first row of sql on a connection of its own (-1 when none or on
 * an error). */
static inline long long fixture_sql_int(const char *path, const char *sql) {
    sqlite3 *db = NULL;
    long long v = -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Runs sql on a connection of its own: SF_OK, or SF_ERR with SQLite's message. */
static inline int fixture_sql_exec(const char *path, const char *sql) {
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    int status = rc == SQLITE_OK ? SF_OK : sf_fail("%s: %s", path, sqlite3_errmsg(db));
    sqlite3_close(db);
    return status;
}

static inline void fixture_rmdir(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

/* Writes v1_path as a version-1 binary left it: share/schema.sql (the version-1
 * history, never edited) run on an empty file, marked with the application id and
 * user_version 1, in WAL mode, holding every row of the same tables of src_path (a
 * database the store wrote). SF_OK, or SF_ERR with the SQLite message. */
static inline int fixture_make_v1(const char *v1_path, const char *src_path) {
    char schema_path[4096];
    snprintf(schema_path, sizeof schema_path, "%s/schema.sql", sf_share_dir());
    char *schema = NULL;
    size_t len = 0;
    if (sf_read_file(schema_path, &schema, &len) != SF_OK) return SF_ERR;
    if (!strstr(schema, "schema version 1.")) {
        free(schema);
        return sf_fail("%s is not the version-1 schema", schema_path);
    }
    sqlite3 *db = NULL;
    int rc = sqlite3_open(v1_path, &db);
    char sql[8192];
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
    snprintf(sql, sizeof sql, "ATTACH '%s' AS src", src_path);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, schema, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "PRAGMA application_id = 1397116504; PRAGMA user_version = 1", NULL,
                          NULL, NULL);
    /* the version-1 tables, in the order the schema makes them (parents first) */
    sqlite3_stmt *st = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(
            db, "SELECT name FROM main.sqlite_schema WHERE type = 'table' ORDER BY rowid", -1, &st,
            NULL);
    char names[32][64];
    int n = 0;
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW && n < 32)
        snprintf(names[n++], sizeof names[0], "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    for (int i = 0; i < n && rc == SQLITE_OK; i++) {
        snprintf(sql, sizeof sql, "INSERT INTO main.%s SELECT * FROM src.%s", names[i], names[i]);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "DETACH src", NULL, NULL, NULL);
    int status = rc == SQLITE_OK ? SF_OK : sf_fail("%s: %s", v1_path, sqlite3_errmsg(db));
    sqlite3_close(db);
    free(schema);
    return status;
}

/* Writes path as a binary of an older version (2 or 3) left it, from src_path (a
 * database this store wrote): version 3 only added the summary tables and version 4 the
 * codes and pair tables, so a copy without the later tables and with the older
 * user_version is the same file. SF_OK, or SF_ERR with the SQLite message. */
static inline int fixture_make_older(const char *path, const char *src_path, int version) {
    sqlite3 *db = NULL;
    char sql[4200];
    int rc = sqlite3_open(src_path, &db);
    snprintf(sql, sizeof sql, "VACUUM INTO '%s'", path);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    int status = rc == SQLITE_OK ? SF_OK : sf_fail("%s: %s", path, sqlite3_errmsg(db));
    sqlite3_close(db);
    if (status != SF_OK) return status;
    rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db,
                          "BEGIN; DROP TABLE pair_coact; DROP TABLE pair_features; "
                          "DROP TABLE run_pairs; DROP TABLE run_codes",
                          NULL, NULL, NULL);
    if (rc == SQLITE_OK && version < 3)
        rc = sqlite3_exec(db,
                          "DROP TABLE run_summaries; DROP TABLE feature_summaries; "
                          "DROP TABLE feature_pairs; DROP TABLE feature_samples; "
                          "DROP TABLE feature_columns; DROP TABLE run_levels",
                          NULL, NULL, NULL);
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d; COMMIT; PRAGMA journal_mode = WAL",
             version);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    status = rc == SQLITE_OK ? SF_OK : sf_fail("%s: %s", path, sqlite3_errmsg(db));
    sqlite3_close(db);
    return status;
}

static inline int fixture_make_v2(const char *v2_path, const char *src_path) {
    return fixture_make_older(v2_path, src_path, 2);
}

static inline int fixture_make_v3(const char *v3_path, const char *src_path) {
    return fixture_make_older(v3_path, src_path, 3);
}

#endif
