/* store_write.c: writing a whole run in one transaction, with its feature statistics and
 * summaries (store_summary.c).
 *
 * A bulk load: every statement is prepared once; a part's rows go in each table's key
 * order (galaxies, then their catalogue values column by column, a galaxy's activations
 * by feature); a new galaxy is inserted plainly (no upsert, no statement journal) and a
 * thumbnail is only made for a galaxy without one; the index on (feature, value) is
 * dropped while the rows of a run that outweighs the file's other activations go in,
 * and built again in one sort before the summaries; the cache size and temp store are
 * set for the load and given back after.
 * Layer: store. Calls: store, sf_util; SQLite, cJSON.
 * Called by: infer_store, store_merge.
 */
#include "store_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

int store_prefix_check(const char *p) {
    size_t n = strlen(p);
    const char *rule = "use 1 to 15 letters, digits, '_' or '-', not starting with a digit";
    if (n >= STORE_PREFIX_MAX)
        return sf_fail("run name '%s' is too long (%zu characters): at most %d", p, n,
                       STORE_PREFIX_MAX - 1);
    if (n == 0 || (p[0] >= '0' && p[0] <= '9'))
        return sf_fail("run name '%s' is not valid: %s", p, rule);
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return sf_fail("run name '%s' is not valid: %s", p, rule);
    }
    return SF_OK;
}

static int prefix_taken(store *s, const char *prefix, int *taken) {
    sqlite3_stmt *st = store_prepare(s, "SELECT 1 FROM runs WHERE prefix = ?1");
    if (!st) return SF_ERR;
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return store_db_fail(s, "checking run names");
    *taken = rc == SQLITE_ROW;
    return SF_OK;
}

/* The prefix for a new run: the one asked for (must be free), or Z / SL / R plus
 * 2, 3 ... when taken. Called inside the write transaction. */
static int choose_prefix(store *s, const store_run *r, char *out) {
    int taken = 0;
    if (r->prefix[0]) {
        if (store_prefix_check(r->prefix) != SF_OK) return SF_ERR;
        if (prefix_taken(s, r->prefix, &taken) != SF_OK) return SF_ERR;
        if (taken)
            return sf_fail("%s already has a run named '%s': choose another --name", s->path,
                           r->prefix);
        snprintf(out, STORE_PREFIX_MAX, "%s", r->prefix);
        return SF_OK;
    }
    const char *base = !strcmp(r->target_spec, "metallicity") ? "Z"
                       : !strcmp(r->target_spec, "bpt_lines") ? "SL"
                                                              : "R";
    for (int i = 1; i < 100000; i++) {
        if (i == 1) snprintf(out, STORE_PREFIX_MAX, "%s", base);
        else snprintf(out, STORE_PREFIX_MAX, "%s%d", base, i);
        if (prefix_taken(s, out, &taken) != SF_OK) return SF_ERR;
        if (!taken) return SF_OK;
    }
    return sf_fail("%s: no free run name", s->path);
}

static int validate_run(const store_run_input *in) {
    const store_run *r = &in->run;
    if (r->n_out < 1 || r->n_out > STORE_MAX_TARGETS)
        return sf_fail("a run needs 1 to %d outputs, not %d", STORE_MAX_TARGETS, r->n_out);
    if (r->d < 1 || r->k < 0 || r->k > r->d)
        return sf_fail("bad run shape: d %d, k %d", r->d, r->k);
    if (in->k_stored < 0 || in->k_stored > r->d)
        return sf_fail("bad number of stored activations per galaxy: %d", in->k_stored);
    if (!in->head_w) return sf_fail("incomplete run: the head's weights are needed");
    if (in->n_columns > 0 && !in->column_names)
        return sf_fail("incomplete run: catalogue column names are missing");
    for (int t = 0; t < r->n_out; t++)
        if (!r->target_names[t][0]) return sf_fail("output %d of the run has no name", t);
    for (int c = 0; c < in->n_columns; c++) {
        const char *name = in->column_names[c];
        if (!name || !*name || strlen(name) >= STORE_NAME_MAX)
            return sf_fail("catalogue column %d has an empty or too long name", c);
    }
    return SF_OK;
}

/* The galaxies of one part; seen (d) holds a stamp per feature, stamp0 the first
 * stamp free for this part. */
static int validate_galaxies(const store_run_input *in, int k_stored, int d, int *seen,
                             int stamp0) {
    if (in->n < 0) return sf_fail("a negative number of galaxies");
    if (in->n == 0) return SF_OK;
    if (!in->galaxies || !in->split || !in->pred || !in->truth)
        return sf_fail("incomplete run: galaxies, split, predictions and truth are needed");
    if (k_stored > 0 && (!in->topk_idx || !in->topk_val))
        return sf_fail("incomplete run: activations are missing");
    for (int i = 0; i < in->n; i++) {
        const char *id = in->galaxies[i].objid;
        if (!id || !*id || strlen(id) >= STORE_OBJID_MAX)
            return sf_fail("galaxy %d: objID '%s' is empty or longer than %d characters", i,
                           id ? id : "", STORE_OBJID_MAX - 1);
        if (in->split[i] > 1)
            return sf_fail("galaxy %s: split %d is neither 0 nor 1", id, in->split[i]);
        for (int j = 0; j < k_stored; j++) {
            int f = in->topk_idx[(size_t)i * (size_t)k_stored + (size_t)j];
            if (f < 0 || f >= d)
                return sf_fail("galaxy %s: feature %d outside 0..%d", id, f, d - 1);
            if (seen[f] == stamp0 + i)
                return sf_fail("galaxy %s: feature %d appears twice among its activations", id, f);
            seen[f] = stamp0 + i;
        }
    }
    return SF_OK;
}

/* ---- per-feature statistics -------------------------------------------------- */

typedef struct {
    int n_active, n_active_valid;
    double max_valid, max, sum;
    double sum_a, sum_aa;             /* validation, raw values */
    double sum_ay[STORE_MAX_TARGETS]; /* validation, a * (y - y0) */
} feature_acc;

/* The Pearson correlation over the nv validation galaxies of the activation
 * (inactive = 0) and the target, from sums shifted by y0 (the first validation
 * galaxy's truth, so that the sums stay small): with dy = sum (y - y0) and
 * dyy = sum (y - y0)^2, cov = sum_ay - sum_a dy / nv and var_y = dyy - dy^2 / nv.
 * Scaling a by a positive constant (a / max_valid) leaves it unchanged, so raw
 * values are used. */
static double pearson(const feature_acc *a, int t, double dy, double dyy, int nv) {
    if (nv < 2) return NAN;
    double mean_a = a->sum_a / nv;
    double var_a = a->sum_aa - nv * mean_a * mean_a;
    double var_y = dyy - dy * dy / nv;
    if (!(var_a > 1e-300 * nv) || !(var_y > 0)) return NAN;
    double r = (a->sum_ay[t] - a->sum_a * dy / nv) / sqrt(var_a * var_y);
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

/* ---- the transaction ----------------------------------------------------------- */

static char *run_norm_json(const store_run *r) {
    cJSON *root = cJSON_CreateObject();
    double mean[3], std[3];
    for (int c = 0; c < 3; c++) {
        mean[c] = r->image_mean[c];
        std[c] = r->image_std[c];
    }
    cJSON_AddItemToObject(root, "mean", cJSON_CreateDoubleArray(mean, 3));
    cJSON_AddItemToObject(root, "std", cJSON_CreateDoubleArray(std, 3));
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

static void add_num(cJSON *obj, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(obj, key, v);
    else cJSON_AddNullToObject(obj, key);
}

static char *run_curve_json(const store_run *r) {
    cJSON *root = cJSON_CreateArray();
    for (int i = 0; i < r->n_curve; i++) {
        const store_curve_point *p = &r->curve[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "epoch", p->epoch);
        add_num(o, "train_loss", p->train_loss);
        add_num(o, "valid_rmse", p->valid_rmse);
        add_num(o, "lr", p->lr);
        cJSON_AddItemToArray(root, o);
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

static void bind_double_or_null(sqlite3_stmt *st, int i, double v) {
    if (isfinite(v)) sqlite3_bind_double(st, i, v);
    else sqlite3_bind_null(st, i);
}

/* Steps a prepared insert and resets it; SF_ERR with a message on failure. */
static int step_reset(store *s, sqlite3_stmt *st, const char *what) {
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        store_db_fail(s, what);
        sqlite3_reset(st);
        return SF_ERR;
    }
    sqlite3_reset(st);
    return SF_OK;
}

static void utc_now(char *buf, size_t n) {
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tmv);
}

enum {
    ST_RUN,
    ST_TARGET,
    ST_WEIGHTS,
    ST_COLUMN,
    ST_COLUMN_ID,
    ST_GALAXY_FIND,
    ST_GALAXY,
    ST_GALAXY_UPDATE,
    ST_VALUE,
    ST_VALUE_NEW,
    ST_THUMB_FIND,
    ST_THUMB,
    ST_RUN_GALAXY,
    ST_PRED,
    ST_ACT,
    ST_FEATURE,
    ST_FEATURE_TARGET,
    ST_COUNT
};

static const char *const write_sql[ST_COUNT] = {
    [ST_RUN] = "INSERT INTO runs (prefix, target_spec, n_out, k, width, d, seed, split_seed, "
               "n_galaxies, n_train, n_valid, train_rmse, valid_rmse, hyper, normalisation, "
               "curve, catalog, images, engine, train_seconds, created, tool_version) VALUES "
               "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
               "?18, ?19, ?20, ?21, ?22)",
    [ST_TARGET] = "INSERT INTO run_targets (run_id, target, name, bias, mean, std, train_rmse, "
                  "valid_rmse) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_WEIGHTS] = "INSERT INTO run_weights (run_id, safetensors) VALUES (?1, ?2)",
    [ST_COLUMN] = "INSERT OR IGNORE INTO catalog_columns (name) VALUES (?1)",
    [ST_COLUMN_ID] = "SELECT id FROM catalog_columns WHERE name = ?1",
    [ST_GALAXY_FIND] = "SELECT id FROM galaxies WHERE objid = ?1",
    [ST_GALAXY] = "INSERT INTO galaxies (objid, ra, dec) VALUES (?1, ?2, ?3)",
    [ST_GALAXY_UPDATE] =
        "UPDATE galaxies SET ra = coalesce(?2, ra), dec = coalesce(?3, dec) WHERE id = ?1",
    [ST_VALUE] = "INSERT OR REPLACE INTO catalog_values (column_id, galaxy_id, value) "
                 "VALUES (?1, ?2, ?3)",
    [ST_VALUE_NEW] = "INSERT INTO catalog_values (column_id, galaxy_id, value) VALUES (?1, ?2, ?3)",
    [ST_THUMB_FIND] = "SELECT 1 FROM thumbnails WHERE galaxy_id = ?1",
    [ST_THUMB] = "INSERT INTO thumbnails (galaxy_id, format, width, height, image) "
                 "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_RUN_GALAXY] = "INSERT INTO run_galaxies (run_id, galaxy_id, split) VALUES (?1, ?2, ?3)",
    [ST_PRED] = "INSERT INTO predictions (run_id, galaxy_id, target, pred, truth) "
                "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_ACT] = "INSERT INTO activations (run_id, galaxy_id, feature, value) "
               "VALUES (?1, ?2, ?3, ?4)",
    [ST_FEATURE] = "INSERT INTO run_features (run_id, feature, n_active, n_active_valid, "
                   "f_activated, max_valid, max, mean) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_FEATURE_TARGET] = "INSERT INTO feature_targets (run_id, feature, target, weight, "
                          "pearson) VALUES (?1, ?2, ?3, ?4, ?5)",
};

struct store_run_writer {
    store *s;
    sqlite3_stmt *st[ST_COUNT];
    int64_t run_id;
    int n_out, d, k_stored, n_columns;
    int64_t *column_id; /* (n_columns) */
    float *head_w;      /* (n_out, d) copy */
    int nested;         /* inside the caller's transaction: a savepoint of it */
    int rmse_given;     /* the caller's RMSEs are kept; else computed here */
    int rmse_t_given[STORE_MAX_TARGETS];
    feature_acc *acc; /* (d) */
    int *seen;        /* (d) duplicate-feature stamps */
    int *pair_f;      /* (k_stored) a galaxy's active pairs, by feature */
    double *pair_v;
    int stamp;
    int n, n_train, n_valid;
    /* the part being written: its galaxies' ids and whether each is new to the file */
    int64_t *part_gid;
    uint8_t *part_new;
    int part_cap;
    /* activations_by_feature: dropped while a large run goes in (rebuilt by finish) */
    long long file_activations, run_activations;
    char *index_sql; /* its definition while it is dropped */
    /* the pragmas given back when the run is written */
    long long old_cache_size, old_temp_store;
    int have_y0;
    double y0[STORE_MAX_TARGETS], dy[STORE_MAX_TARGETS], dyy[STORE_MAX_TARGETS];
    double se_train[STORE_MAX_TARGETS], se_valid[STORE_MAX_TARGETS];
};

static void writer_free(store_run_writer *w) {
    for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(w->st[i]);
    free(w->part_gid);
    free(w->part_new);
    free(w->column_id);
    free(w->head_w);
    free(w->acc);
    free(w->seen);
    free(w->pair_f);
    free(w->pair_v);
    free(w->index_sql);
    free(w);
}

static int insert_run(store_run_writer *w, const store_run_input *in) {
    store *s = w->s;
    const store_run *r = &in->run;
    char prefix[STORE_PREFIX_MAX];
    if (choose_prefix(s, r, prefix) != SF_OK) return SF_ERR;
    char created[32];
    utc_now(created, sizeof created);
    char *norm = run_norm_json(r);
    char *curve = run_curve_json(r);
    const char *hyper = r->hyper_json && *r->hyper_json ? r->hyper_json : "{}";

    /* the counts are set by store_run_finish */
    sqlite3_stmt *q = w->st[ST_RUN];
    sqlite3_bind_text(q, 1, prefix, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, r->target_spec, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(q, 3, w->n_out);
    sqlite3_bind_int(q, 4, r->k);
    sqlite3_bind_int(q, 5, r->width);
    sqlite3_bind_int(q, 6, w->d);
    sqlite3_bind_int64(q, 7, (sqlite3_int64)r->seed);
    sqlite3_bind_int64(q, 8, (sqlite3_int64)r->split_seed);
    sqlite3_bind_int(q, 9, 0);
    sqlite3_bind_int(q, 10, 0);
    sqlite3_bind_int(q, 11, 0);
    bind_double_or_null(q, 12, r->train_rmse);
    bind_double_or_null(q, 13, r->valid_rmse);
    sqlite3_bind_text(q, 14, hyper, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 15, norm, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 16, curve, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 17, r->catalog, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 18, r->images, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 19, r->engine, -1, SQLITE_TRANSIENT);
    bind_double_or_null(q, 20, r->train_seconds);
    sqlite3_bind_text(q, 21, created, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 22, r->tool_version[0] ? r->tool_version : SF_VERSION, -1,
                      SQLITE_TRANSIENT);
    free(norm);
    free(curve);
    if (step_reset(s, q, "adding the run") != SF_OK) return SF_ERR;
    int64_t rid = sqlite3_last_insert_rowid(s->db);
    w->run_id = rid;

    for (int t = 0; t < w->n_out; t++) {
        q = w->st[ST_TARGET];
        sqlite3_bind_int64(q, 1, rid);
        sqlite3_bind_int(q, 2, t);
        sqlite3_bind_text(q, 3, r->target_names[t], -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(q, 4, r->bias[t]);
        sqlite3_bind_double(q, 5, r->target_mean[t]);
        sqlite3_bind_double(q, 6, r->target_std[t] != 0 ? r->target_std[t] : 1);
        bind_double_or_null(q, 7, r->train_rmse_t[t]);
        bind_double_or_null(q, 8, r->valid_rmse_t[t]);
        if (step_reset(s, q, "adding the run's targets") != SF_OK) return SF_ERR;
    }
    if (in->weights && in->weights_len) {
        q = w->st[ST_WEIGHTS];
        sqlite3_bind_int64(q, 1, rid);
        sqlite3_bind_blob64(q, 2, in->weights, in->weights_len, SQLITE_STATIC);
        if (step_reset(s, q, "storing the weights") != SF_OK) return SF_ERR;
    }
    for (int c = 0; c < w->n_columns; c++) {
        sqlite3_bind_text(w->st[ST_COLUMN], 1, in->column_names[c], -1, SQLITE_TRANSIENT);
        if (step_reset(s, w->st[ST_COLUMN], "adding catalogue columns") != SF_OK) return SF_ERR;
        q = w->st[ST_COLUMN_ID];
        sqlite3_bind_text(q, 1, in->column_names[c], -1, SQLITE_TRANSIENT);
        if (sqlite3_step(q) != SQLITE_ROW) {
            store_db_fail(s, "adding catalogue columns");
            sqlite3_reset(q);
            return SF_ERR;
        }
        w->column_id[c] = sqlite3_column_int64(q, 0);
        sqlite3_reset(q);
    }
    return SF_OK;
}

static int pragma_get(store *s, const char *name, long long *out) {
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA %s", name);
    sqlite3_stmt *st = store_prepare(s, sql);
    if (!st) return SF_ERR;
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SF_OK : store_db_fail(s, "reading a setting");
}

static void pragmas_restore(store_run_writer *w) {
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA cache_size = %lld", w->old_cache_size);
    store_exec(w->s, sql, "sizing the cache");
    if (w->nested) return; /* the temp store was left alone */
    snprintf(sql, sizeof sql, "PRAGMA temp_store = %lld", w->old_temp_store);
    store_exec(w->s, sql, "setting the temp store");
}

/* The activations the file's runs hold (from their shapes: an upper bound). */
static int file_activations(store *s, long long *out) {
    sqlite3_stmt *st = store_prepare(s, "SELECT coalesce(sum(CAST(n_galaxies AS INTEGER) * CASE "
                                        "WHEN k > 0 THEN k ELSE d END), 0) FROM runs");
    if (!st) return SF_ERR;
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? SF_OK : store_db_fail(s, "counting activations");
}

/* Rows of activations_by_feature cost a random insert each while the run goes in, or
 * one sort of every row of the file when the index is built again: once this run's rows
 * outweigh half the file's, building it again is cheaper, so it is dropped now (within
 * the transaction: a failure brings it back). */
static int maybe_drop_index(store_run_writer *w) {
    if (w->index_sql || 2 * w->run_activations < w->file_activations) return SF_OK;
    /* built again from the file's own definition */
    sqlite3_stmt *st = store_prepare(
        w->s,
        "SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = 'activations_by_feature'");
    if (!st) return SF_ERR;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_text(st, 0))
        w->index_sql = xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return store_db_fail(w->s, "reading the schema");
    if (!w->index_sql) return SF_OK; /* not there: nothing to keep up */
    return store_exec(w->s, "DROP INDEX activations_by_feature", "dropping an index for the load");
}

static int rebuild_index(store_run_writer *w) {
    if (!w->index_sql) return SF_OK;
    if (store_exec(w->s, w->index_sql, "building the index of activations") != SF_OK) return SF_ERR;
    free(w->index_sql);
    w->index_sql = NULL;
    return SF_OK;
}

int store_run_begin(store *s, const store_run_input *in, store_run_writer **out) {
    *out = NULL;
    if (s->mode == STORE_READ) return sf_fail("%s was opened read-only; cannot add a run", s->path);
    if (validate_run(in) != SF_OK) return sf_fail_prefix(s->path);
    store_run_writer *w = xcalloc(1, sizeof *w);
    const store_run *r = &in->run;
    w->s = s;
    w->n_out = r->n_out;
    w->d = r->d;
    w->k_stored = in->k_stored;
    w->n_columns = in->n_columns;
    w->column_id = xcalloc((size_t)(in->n_columns > 0 ? in->n_columns : 1), sizeof *w->column_id);
    w->head_w = xmalloc((size_t)r->n_out * (size_t)r->d * sizeof *w->head_w);
    memcpy(w->head_w, in->head_w, (size_t)r->n_out * (size_t)r->d * sizeof *w->head_w);
    w->rmse_given = isfinite(r->train_rmse) || isfinite(r->valid_rmse);
    for (int t = 0; t < r->n_out; t++)
        w->rmse_t_given[t] = isfinite(r->train_rmse_t[t]) || isfinite(r->valid_rmse_t[t]);
    w->acc = xcalloc((size_t)r->d, sizeof *w->acc);
    w->seen = xcalloc((size_t)r->d, sizeof *w->seen);
    w->pair_f = xmalloc(((size_t)in->k_stored + 1) * sizeof *w->pair_f);
    w->pair_v = xmalloc(((size_t)in->k_stored + 1) * sizeof *w->pair_v);
    w->stamp = 1;
    for (int i = 0; i < ST_COUNT; i++)
        if (!(w->st[i] = store_prepare(s, write_sql[i]))) {
            writer_free(w);
            return SF_ERR;
        }
    /* bulk-load settings, given back by finish and abort: a cache of 32 MiB (grown only
     * as used), which holds the pages the rows go into (each table takes its rows in key
     * order; the index on (feature, value), which would not, is dropped for a large run)
     * and keeps the memory of predict --into flat, since pages past it are written out
     * to the journal; and the sort of the index rebuild in memory */
    if (pragma_get(s, "cache_size", &w->old_cache_size) != SF_OK ||
        pragma_get(s, "temp_store", &w->old_temp_store) != SF_OK) {
        writer_free(w);
        return SF_ERR;
    }
    store_exec(s, "PRAGMA cache_size = -32768", "sizing the cache");
    w->nested = !sqlite3_get_autocommit(s->db);
    /* SQLite refuses to change the temp store within a transaction (a merge's): there it
     * stays as the caller set it */
    if (!w->nested) store_exec(s, "PRAGMA temp_store = MEMORY", "setting the temp store");
    int begun =
        w->nested ? store_exec(s, "SAVEPOINT run_writer", "starting a write") : store_begin(s);
    if (begun != SF_OK || file_activations(s, &w->file_activations) != SF_OK ||
        insert_run(w, in) != SF_OK) {
        store_run_abort(w);
        return SF_ERR;
    }
    *out = w;
    return SF_OK;
}

/* Pair j of galaxy i: 1 when it is stored (a positive, finite value). */
static int active_pair(const store_run_input *in, int k_stored, int i, int j, int *f, double *v) {
    size_t at = (size_t)i * (size_t)k_stored + (size_t)j;
    *f = in->topk_idx[at];
    *v = in->topk_val[at];
    return *v > 0 && isfinite(*v);
}

/* Statistics of one stored galaxy. */
static void account(store_run_writer *w, const store_run_input *in, int i) {
    int n_out = w->n_out, valid = in->split[i] == 1;
    const float *y = &in->truth[(size_t)i * n_out];
    const float *p = &in->pred[(size_t)i * n_out];
    double yc[STORE_MAX_TARGETS];
    w->n++;
    if (valid) {
        w->n_valid++;
        if (!w->have_y0) {
            for (int t = 0; t < n_out; t++) w->y0[t] = y[t];
            w->have_y0 = 1;
        }
        for (int t = 0; t < n_out; t++) {
            yc[t] = (double)y[t] - w->y0[t];
            w->dy[t] += yc[t];
            w->dyy[t] += yc[t] * yc[t];
        }
    } else {
        w->n_train++;
    }
    for (int t = 0; t < n_out; t++) {
        double e = (double)p[t] - y[t];
        if (valid) w->se_valid[t] += e * e;
        else w->se_train[t] += e * e;
    }
    for (int j = 0; j < w->k_stored; j++) {
        int f;
        double v;
        if (!active_pair(in, w->k_stored, i, j, &f, &v)) continue;
        feature_acc *a = &w->acc[f];
        a->n_active++;
        a->sum += v;
        if (v > a->max) a->max = v;
        if (!valid) continue;
        a->n_active_valid++;
        if (v > a->max_valid) a->max_valid = v;
        a->sum_a += v;
        a->sum_aa += v * v;
        for (int t = 0; t < n_out; t++) a->sum_ay[t] += v * yc[t];
    }
}

/* Galaxy g's id: found, or inserted (*is_new). An existing galaxy keeps its position
 * where the new one has none. */
static int galaxy_id(store_run_writer *w, const store_galaxy_input *g, int64_t *gid,
                     uint8_t *is_new) {
    store *s = w->s;
    sqlite3_stmt *q = w->st[ST_GALAXY_FIND];
    sqlite3_bind_text(q, 1, g->objid, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(q);
    *gid = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return store_db_fail(s, "finding galaxies");
    *is_new = rc == SQLITE_DONE;
    q = w->st[*is_new ? ST_GALAXY : ST_GALAXY_UPDATE];
    int at = 1;
    if (*is_new) sqlite3_bind_text(q, at++, g->objid, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_int64(q, at++, *gid);
    bind_double_or_null(q, at++, g->ra);
    bind_double_or_null(q, at, g->dec);
    if (step_reset(s, q, "adding galaxies") != SF_OK) return SF_ERR;
    if (*is_new) *gid = sqlite3_last_insert_rowid(s->db);
    return SF_OK;
}

/* The thumbnail of a galaxy without one: given, or made now (in->thumbnail). */
static int write_thumbnail(store_run_writer *w, const store_run_input *in, int i, int64_t gid,
                           int is_new) {
    store *s = w->s;
    const store_galaxy_input *g = &in->galaxies[i];
    sqlite3_stmt *q;
    if (!is_new) {
        q = w->st[ST_THUMB_FIND];
        sqlite3_bind_int64(q, 1, gid);
        int rc = sqlite3_step(q);
        sqlite3_reset(q);
        if (rc == SQLITE_ROW) return SF_OK;
        if (rc != SQLITE_DONE) return store_db_fail(s, "finding thumbnails");
    }
    const uint8_t *thumb = g->thumb;
    size_t thumb_len = g->thumb_len;
    int tw = g->thumb_w, th = g->thumb_h;
    uint8_t *made = NULL;
    if (!(thumb && thumb_len) && in->thumbnail) {
        if (in->thumbnail(in->thumbnail_ctx, i, &made, &thumb_len, &tw, &th) != SF_OK)
            return SF_ERR;
        thumb = made;
    }
    if (!thumb || !thumb_len) return SF_OK;
    q = w->st[ST_THUMB];
    sqlite3_bind_int64(q, 1, gid);
    sqlite3_bind_text(q, 2,
                      made              ? "jpeg"
                      : g->thumb_format ? g->thumb_format
                                        : "jpeg",
                      -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(q, 3, tw);
    sqlite3_bind_int(q, 4, th);
    sqlite3_bind_blob64(q, 5, thumb, thumb_len, SQLITE_STATIC);
    int rc = step_reset(s, q, "adding thumbnails");
    free(made);
    return rc;
}

/* Galaxy i of the part: its row (found or new), thumbnail, split, predictions and
 * activations (by feature: the table's key order), and its statistics. */
static int write_galaxy(store_run_writer *w, const store_run_input *in, int i) {
    store *s = w->s;
    sqlite3_stmt **st = w->st;
    int64_t gid = 0;
    uint8_t is_new = 0;
    if (galaxy_id(w, &in->galaxies[i], &gid, &is_new) != SF_OK) return SF_ERR;
    w->part_gid[i] = gid;
    w->part_new[i] = is_new;
    if (write_thumbnail(w, in, i, gid, is_new) != SF_OK) return SF_ERR;
    sqlite3_stmt *q = st[ST_RUN_GALAXY];
    sqlite3_bind_int64(q, 1, w->run_id);
    sqlite3_bind_int64(q, 2, gid);
    sqlite3_bind_int(q, 3, in->split[i]);
    if (step_reset(s, q, "adding the run's galaxies") != SF_OK) {
        if ((sqlite3_extended_errcode(s->db) & 0xff) == SQLITE_CONSTRAINT)
            sf_fail("%s: galaxy %s appears twice in the run", s->path, in->galaxies[i].objid);
        return SF_ERR;
    }
    for (int t = 0; t < w->n_out; t++) {
        q = st[ST_PRED];
        sqlite3_bind_int64(q, 1, w->run_id);
        sqlite3_bind_int64(q, 2, gid);
        sqlite3_bind_int(q, 3, t);
        sqlite3_bind_double(q, 4, in->pred[(size_t)i * w->n_out + t]);
        sqlite3_bind_double(q, 5, in->truth[(size_t)i * w->n_out + t]);
        if (step_reset(s, q, "adding predictions") != SF_OK) return SF_ERR;
    }
    /* the active pairs by feature (already so for a dense run) */
    int m = 0;
    for (int j = 0; j < w->k_stored; j++) {
        int f;
        double v;
        if (!active_pair(in, w->k_stored, i, j, &f, &v)) continue;
        int at = m++;
        while (at > 0 && w->pair_f[at - 1] > f) {
            w->pair_f[at] = w->pair_f[at - 1];
            w->pair_v[at] = w->pair_v[at - 1];
            at--;
        }
        w->pair_f[at] = f;
        w->pair_v[at] = v;
    }
    for (int j = 0; j < m; j++) {
        q = st[ST_ACT];
        sqlite3_bind_int64(q, 1, w->run_id);
        sqlite3_bind_int64(q, 2, gid);
        sqlite3_bind_int(q, 3, w->pair_f[j]);
        sqlite3_bind_double(q, 4, w->pair_v[j]);
        if (step_reset(s, q, "adding activations") != SF_OK) return SF_ERR;
    }
    account(w, in, i);
    return SF_OK;
}

/* The part's catalogue values, column by column (the table's key order). A galaxy new to
 * the file has none yet; an existing one's are replaced. */
static int write_values(store_run_writer *w, const store_run_input *in) {
    for (int c = 0; c < w->n_columns; c++)
        for (int i = 0; i < in->n; i++) {
            const double *values = in->galaxies[i].values;
            if (!values || !isfinite(values[c])) continue;
            sqlite3_stmt *q = w->st[w->part_new[i] ? ST_VALUE_NEW : ST_VALUE];
            sqlite3_bind_int64(q, 1, w->column_id[c]);
            sqlite3_bind_int64(q, 2, w->part_gid[i]);
            sqlite3_bind_double(q, 3, values[c]);
            if (step_reset(w->s, q, "adding catalogue values") != SF_OK) return SF_ERR;
        }
    return SF_OK;
}

int store_run_add(store_run_writer *w, const store_run_input *part) {
    if (validate_galaxies(part, w->k_stored, w->d, w->seen, w->stamp) != SF_OK)
        return sf_fail_prefix(w->s->path);
    w->stamp += part->n;
    if (part->n > w->part_cap) {
        w->part_cap = part->n;
        w->part_gid = xrealloc(w->part_gid, (size_t)part->n * sizeof *w->part_gid);
        w->part_new = xrealloc(w->part_new, (size_t)part->n);
    }
    for (size_t p = 0; p < (size_t)part->n * (size_t)w->k_stored; p++)
        w->run_activations += part->topk_val[p] > 0;
    if (maybe_drop_index(w) != SF_OK) return SF_ERR;
    for (int i = 0; i < part->n; i++)
        if (write_galaxy(w, part, i) != SF_OK) return SF_ERR;
    return write_values(w, part);
}

static double rmse_or_nan(double se, long n) { return n > 0 ? sqrt(se / (double)n) : NAN; }

/* The counts, the RMSEs when computed here, and the per-feature statistics. */
static int write_summary(store_run_writer *w) {
    store *s = w->s;
    int n_out = w->n_out, d = w->d, nv = w->n_valid;
    sqlite3_stmt *q = store_prepare(s, "UPDATE runs SET n_galaxies = ?2, n_train = ?3, "
                                       "n_valid = ?4 WHERE id = ?1");
    if (!q) return SF_ERR;
    sqlite3_bind_int64(q, 1, w->run_id);
    sqlite3_bind_int(q, 2, w->n);
    sqlite3_bind_int(q, 3, w->n_train);
    sqlite3_bind_int(q, 4, w->n_valid);
    int rc = step_reset(s, q, "counting the run's galaxies");
    sqlite3_finalize(q);
    if (rc != SF_OK) return SF_ERR;
    if (!w->rmse_given) {
        double se_t = 0, se_v = 0;
        for (int t = 0; t < n_out; t++) se_t += w->se_train[t], se_v += w->se_valid[t];
        q = store_prepare(s, "UPDATE runs SET train_rmse = ?2, valid_rmse = ?3 WHERE id = ?1");
        if (!q) return SF_ERR;
        sqlite3_bind_int64(q, 1, w->run_id);
        bind_double_or_null(q, 2, rmse_or_nan(se_t, (long)w->n_train * n_out));
        bind_double_or_null(q, 3, rmse_or_nan(se_v, (long)w->n_valid * n_out));
        rc = step_reset(s, q, "storing the run's RMSE");
        sqlite3_finalize(q);
        if (rc != SF_OK) return SF_ERR;
    }
    for (int t = 0; t < n_out; t++) {
        if (w->rmse_t_given[t]) continue;
        q = store_prepare(s, "UPDATE run_targets SET train_rmse = ?3, valid_rmse = ?4 "
                             "WHERE run_id = ?1 AND target = ?2");
        if (!q) return SF_ERR;
        sqlite3_bind_int64(q, 1, w->run_id);
        sqlite3_bind_int(q, 2, t);
        bind_double_or_null(q, 3, rmse_or_nan(w->se_train[t], w->n_train));
        bind_double_or_null(q, 4, rmse_or_nan(w->se_valid[t], w->n_valid));
        rc = step_reset(s, q, "storing the run's RMSE");
        sqlite3_finalize(q);
        if (rc != SF_OK) return SF_ERR;
    }
    for (int f = 0; f < d; f++) {
        const feature_acc *a = &w->acc[f];
        q = w->st[ST_FEATURE];
        sqlite3_bind_int64(q, 1, w->run_id);
        sqlite3_bind_int(q, 2, f);
        sqlite3_bind_int(q, 3, a->n_active);
        sqlite3_bind_int(q, 4, a->n_active_valid);
        sqlite3_bind_double(q, 5, nv ? (double)a->n_active_valid / nv : 0);
        sqlite3_bind_double(q, 6, a->max_valid);
        sqlite3_bind_double(q, 7, a->max);
        sqlite3_bind_double(q, 8, a->n_active ? a->sum / a->n_active : 0);
        if (step_reset(s, q, "adding feature statistics") != SF_OK) return SF_ERR;
        for (int t = 0; t < n_out; t++) {
            q = w->st[ST_FEATURE_TARGET];
            sqlite3_bind_int64(q, 1, w->run_id);
            sqlite3_bind_int(q, 2, f);
            sqlite3_bind_int(q, 3, t);
            sqlite3_bind_double(q, 4, w->head_w[(size_t)t * d + f]);
            bind_double_or_null(q, 5, pearson(a, t, w->dy[t], w->dyy[t], nv));
            if (step_reset(s, q, "adding feature weights") != SF_OK) return SF_ERR;
        }
    }
    return SF_OK;
}

/* Commits, or inside the caller's transaction releases the savepoint (the caller
 * commits). */
static int writer_commit(store_run_writer *w) {
    if (w->nested) return store_exec(w->s, "RELEASE run_writer", "committing");
    return store_commit(w->s);
}

int store_run_finish(store_run_writer *w, int64_t *run_id) {
    if (w->n < 1) {
        sf_fail("%s: a run needs at least one galaxy", w->s->path);
        store_run_abort(w);
        return SF_ERR;
    }
    if (write_summary(w) != SF_OK || rebuild_index(w) != SF_OK ||
        store_run_summarize(w->s, w->run_id) != SF_OK || store_cross_refresh(w->s) != SF_OK ||
        writer_commit(w) != SF_OK) {
        store_run_abort(w);
        return SF_ERR;
    }
    if (run_id) *run_id = w->run_id;
    pragmas_restore(w);
    writer_free(w);
    return SF_OK;
}

void store_run_abort(store_run_writer *w) {
    if (!w) return;
    if (w->nested) {
        /* undo the run's writes; the caller's transaction stays open */
        sqlite3_exec(w->s->db, "ROLLBACK TO run_writer; RELEASE run_writer", NULL, NULL, NULL);
    } else {
        store_rollback(w->s);
    }
    pragmas_restore(w);
    writer_free(w);
}

int store_add_run(store *s, const store_run_input *in, int64_t *run_id) {
    if (in->n < 1) return sf_fail("%s: a run needs at least one galaxy", s->path);
    store_run_writer *w;
    if (store_run_begin(s, in, &w) != SF_OK) return SF_ERR;
    if (store_run_add(w, in) != SF_OK) {
        store_run_abort(w);
        return SF_ERR;
    }
    return store_run_finish(w, run_id);
}
