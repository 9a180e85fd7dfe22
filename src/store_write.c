/* store_write.c: writing a whole run in one transaction, with its feature statistics. */
#include "store_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

static int prefix_valid(const char *p) {
    size_t n = strlen(p);
    if (n == 0 || n >= STORE_PREFIX_MAX) return 0;
    if (p[0] >= '0' && p[0] <= '9') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
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
        if (!prefix_valid(r->prefix))
            return sf_fail("run name '%s' is not valid: use up to %d letters, digits, '_' "
                           "or '-', not starting with a digit",
                           r->prefix, STORE_PREFIX_MAX - 1);
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
        if (i == 1)
            snprintf(out, STORE_PREFIX_MAX, "%s", base);
        else
            snprintf(out, STORE_PREFIX_MAX, "%s%d", base, i);
        if (prefix_taken(s, out, &taken) != SF_OK) return SF_ERR;
        if (!taken) return SF_OK;
    }
    return sf_fail("%s: no free run name", s->path);
}

static int validate(const store_run_input *in) {
    const store_run *r = &in->run;
    if (r->n_out < 1 || r->n_out > STORE_MAX_TARGETS)
        return sf_fail("a run needs 1 to %d outputs, not %d", STORE_MAX_TARGETS, r->n_out);
    if (r->d < 1 || r->k < 0 || r->k > r->d)
        return sf_fail("bad run shape: d %d, k %d", r->d, r->k);
    if (in->k_stored < 0 || in->k_stored > r->d)
        return sf_fail("bad number of stored activations per galaxy: %d", in->k_stored);
    if (in->n < 1) return sf_fail("a run needs at least one galaxy");
    if (!in->head_w || !in->split || !in->pred || !in->truth)
        return sf_fail("incomplete run: head weights, split, predictions and truth are needed");
    if (in->k_stored > 0 && (!in->topk_idx || !in->topk_val))
        return sf_fail("incomplete run: activations are missing");
    if (in->n_columns > 0 && !in->column_names)
        return sf_fail("incomplete run: catalogue column names are missing");
    for (int t = 0; t < r->n_out; t++)
        if (!r->target_names[t][0]) return sf_fail("output %d of the run has no name", t);
    int *seen = xcalloc((size_t)r->d, sizeof *seen); /* galaxy stamp per feature */
    for (int i = 0; i < in->n; i++) {
        const char *id = in->galaxies[i].objid;
        if (!id || !*id || strlen(id) >= STORE_OBJID_MAX) {
            free(seen);
            return sf_fail("galaxy %d: objID '%s' is empty or longer than %d characters", i,
                           id ? id : "", STORE_OBJID_MAX - 1);
        }
        int bad = 0;
        if (in->split[i] > 1)
            bad = sf_fail("galaxy %s: split %d is neither 0 nor 1", id, in->split[i]);
        for (int j = 0; !bad && j < in->k_stored; j++) {
            int f = in->topk_idx[(size_t)i * (size_t)in->k_stored + (size_t)j];
            if (f < 0 || f >= r->d)
                bad = sf_fail("galaxy %s: feature %d outside 0..%d", id, f, r->d - 1);
            else if (seen[f] == i + 1)
                bad = sf_fail("galaxy %s: feature %d appears twice among its activations", id, f);
            else
                seen[f] = i + 1;
        }
        if (bad) {
            free(seen);
            return SF_ERR;
        }
    }
    free(seen);
    for (int c = 0; c < in->n_columns; c++) {
        const char *name = in->column_names[c];
        if (!name || !*name || strlen(name) >= STORE_NAME_MAX)
            return sf_fail("catalogue column %d has an empty or too long name", c);
    }
    return SF_OK;
}

/* ---- per-feature statistics -------------------------------------------------- */

typedef struct {
    int n_active, n_active_valid;
    double max_valid, max, sum;
    double sum_a, sum_aa;                  /* validation, raw values */
    double sum_ay[STORE_MAX_TARGETS];      /* validation, y centred */
} feature_acc;

static int active_pair(const store_run_input *in, int i, int j, int *f, double *v) {
    size_t at = (size_t)i * (size_t)in->k_stored + (size_t)j;
    *f = in->topk_idx[at];
    *v = in->topk_val[at];
    return *v > 0 && isfinite(*v);
}

/* Accumulates what run_features and feature_targets hold. The Pearson correlation of
 * the scaled activation a / max_valid equals that of the raw one (scaling by a
 * positive constant), so raw values are used; inactive galaxies count as 0. */
static feature_acc *feature_stats(const store_run_input *in, double *y_mean, double *y_var,
                                  int *n_valid) {
    int d = in->run.d, n_out = in->run.n_out;
    feature_acc *acc = xcalloc((size_t)d, sizeof *acc);
    int nv = 0;
    for (int t = 0; t < n_out; t++) y_mean[t] = y_var[t] = 0;
    for (int i = 0; i < in->n; i++) {
        if (in->split[i] != 1) continue;
        nv++;
        for (int t = 0; t < n_out; t++) y_mean[t] += in->truth[(size_t)i * n_out + t];
    }
    for (int t = 0; t < n_out; t++) y_mean[t] = nv ? y_mean[t] / nv : 0;
    for (int i = 0; i < in->n; i++) {
        int valid = in->split[i] == 1;
        double yc[STORE_MAX_TARGETS];
        if (valid)
            for (int t = 0; t < n_out; t++) {
                yc[t] = in->truth[(size_t)i * n_out + t] - y_mean[t];
                y_var[t] += yc[t] * yc[t];
            }
        for (int j = 0; j < in->k_stored; j++) {
            int f;
            double v;
            if (!active_pair(in, i, j, &f, &v)) continue;
            feature_acc *a = &acc[f];
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
    *n_valid = nv;
    return acc;
}

/* corr(a, y) over nv galaxies, y already centred (sum yc = 0, sum yc^2 = y_var). */
static double pearson(const feature_acc *a, int t, double y_var, int nv) {
    if (nv < 2) return NAN;
    double mean_a = a->sum_a / nv;
    double var_a = a->sum_aa - nv * mean_a * mean_a;
    if (!(var_a > 1e-300 * nv) || !(y_var > 0)) return NAN;
    double r = a->sum_ay[t] / sqrt(var_a * y_var);
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
    if (isfinite(v))
        cJSON_AddNumberToObject(obj, key, v);
    else
        cJSON_AddNullToObject(obj, key);
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
    if (isfinite(v))
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i);
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
    ST_RUN, ST_TARGET, ST_WEIGHTS, ST_COLUMN, ST_COLUMN_ID, ST_GALAXY, ST_VALUE, ST_THUMB,
    ST_RUN_GALAXY, ST_PRED, ST_ACT, ST_FEATURE, ST_FEATURE_TARGET, ST_COUNT
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
    [ST_GALAXY] = "INSERT INTO galaxies (objid, ra, dec) VALUES (?1, ?2, ?3) "
                  "ON CONFLICT (objid) DO UPDATE SET ra = coalesce(excluded.ra, ra), "
                  "dec = coalesce(excluded.dec, dec) RETURNING id",
    [ST_VALUE] = "INSERT OR REPLACE INTO catalog_values (column_id, galaxy_id, value) "
                 "VALUES (?1, ?2, ?3)",
    [ST_THUMB] = "INSERT OR IGNORE INTO thumbnails (galaxy_id, format, width, height, image) "
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

static int write_run(store *s, const store_run_input *in, sqlite3_stmt **st, int64_t *run_id) {
    const store_run *r = &in->run;
    int n_out = r->n_out, d = r->d;
    char prefix[STORE_PREFIX_MAX];
    if (choose_prefix(s, r, prefix) != SF_OK) return SF_ERR;

    int n_train = 0, n_valid = 0;
    for (int i = 0; i < in->n; i++) {
        if (in->split[i])
            n_valid++;
        else
            n_train++;
    }
    char created[32];
    utc_now(created, sizeof created);
    char *norm = run_norm_json(r);
    char *curve = run_curve_json(r);
    const char *hyper = r->hyper_json && *r->hyper_json ? r->hyper_json : "{}";

    sqlite3_stmt *q = st[ST_RUN];
    sqlite3_bind_text(q, 1, prefix, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, r->target_spec, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(q, 3, n_out);
    sqlite3_bind_int(q, 4, r->k);
    sqlite3_bind_int(q, 5, r->width);
    sqlite3_bind_int(q, 6, d);
    sqlite3_bind_int64(q, 7, (sqlite3_int64)r->seed);
    sqlite3_bind_int64(q, 8, (sqlite3_int64)r->split_seed);
    sqlite3_bind_int(q, 9, in->n);
    sqlite3_bind_int(q, 10, n_train);
    sqlite3_bind_int(q, 11, n_valid);
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
    *run_id = rid;

    for (int t = 0; t < n_out; t++) {
        q = st[ST_TARGET];
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
        q = st[ST_WEIGHTS];
        sqlite3_bind_int64(q, 1, rid);
        sqlite3_bind_blob64(q, 2, in->weights, in->weights_len, SQLITE_STATIC);
        if (step_reset(s, q, "storing the weights") != SF_OK) return SF_ERR;
    }

    int64_t *column_id = xcalloc((size_t)(in->n_columns > 0 ? in->n_columns : 1), sizeof *column_id);
    for (int c = 0; c < in->n_columns; c++) {
        sqlite3_bind_text(st[ST_COLUMN], 1, in->column_names[c], -1, SQLITE_TRANSIENT);
        if (step_reset(s, st[ST_COLUMN], "adding catalogue columns") != SF_OK) goto fail;
        q = st[ST_COLUMN_ID];
        sqlite3_bind_text(q, 1, in->column_names[c], -1, SQLITE_TRANSIENT);
        if (sqlite3_step(q) != SQLITE_ROW) {
            store_db_fail(s, "adding catalogue columns");
            sqlite3_reset(q);
            goto fail;
        }
        column_id[c] = sqlite3_column_int64(q, 0);
        sqlite3_reset(q);
    }

    for (int i = 0; i < in->n; i++) {
        const store_galaxy_input *g = &in->galaxies[i];
        q = st[ST_GALAXY];
        sqlite3_bind_text(q, 1, g->objid, -1, SQLITE_TRANSIENT);
        bind_double_or_null(q, 2, g->ra);
        bind_double_or_null(q, 3, g->dec);
        if (sqlite3_step(q) != SQLITE_ROW) {
            store_db_fail(s, "adding galaxies");
            sqlite3_reset(q);
            goto fail;
        }
        int64_t gid = sqlite3_column_int64(q, 0);
        sqlite3_reset(q);

        for (int c = 0; g->values && c < in->n_columns; c++) {
            double v = g->values[c];
            if (!isfinite(v)) continue;
            q = st[ST_VALUE];
            sqlite3_bind_int64(q, 1, column_id[c]);
            sqlite3_bind_int64(q, 2, gid);
            sqlite3_bind_double(q, 3, v);
            if (step_reset(s, q, "adding catalogue values") != SF_OK) goto fail;
        }
        const uint8_t *thumb = g->thumb;
        size_t thumb_len = g->thumb_len;
        int tw = g->thumb_w, th = g->thumb_h;
        uint8_t *made = NULL;
        if (!(thumb && thumb_len) && in->thumbnail) {
            if (in->thumbnail(in->thumbnail_ctx, i, &made, &thumb_len, &tw, &th) != SF_OK) goto fail;
            thumb = made;
        }
        if (thumb && thumb_len) {
            q = st[ST_THUMB];
            sqlite3_bind_int64(q, 1, gid);
            sqlite3_bind_text(q, 2, made ? "jpeg" : g->thumb_format ? g->thumb_format : "jpeg", -1,
                              SQLITE_TRANSIENT);
            sqlite3_bind_int(q, 3, tw);
            sqlite3_bind_int(q, 4, th);
            sqlite3_bind_blob64(q, 5, thumb, thumb_len, SQLITE_STATIC);
            int rc = step_reset(s, q, "adding thumbnails");
            free(made);
            if (rc != SF_OK) goto fail;
        }
        q = st[ST_RUN_GALAXY];
        sqlite3_bind_int64(q, 1, rid);
        sqlite3_bind_int64(q, 2, gid);
        sqlite3_bind_int(q, 3, in->split[i]);
        if (step_reset(s, q, "adding the run's galaxies") != SF_OK) {
            if ((sqlite3_extended_errcode(s->db) & 0xff) == SQLITE_CONSTRAINT)
                sf_fail("galaxy %s appears twice in the run", g->objid);
            goto fail;
        }
        for (int t = 0; t < n_out; t++) {
            q = st[ST_PRED];
            sqlite3_bind_int64(q, 1, rid);
            sqlite3_bind_int64(q, 2, gid);
            sqlite3_bind_int(q, 3, t);
            sqlite3_bind_double(q, 4, in->pred[(size_t)i * n_out + t]);
            sqlite3_bind_double(q, 5, in->truth[(size_t)i * n_out + t]);
            if (step_reset(s, q, "adding predictions") != SF_OK) goto fail;
        }
        for (int j = 0; j < in->k_stored; j++) {
            int f;
            double v;
            if (!active_pair(in, i, j, &f, &v)) continue;
            q = st[ST_ACT];
            sqlite3_bind_int64(q, 1, rid);
            sqlite3_bind_int64(q, 2, gid);
            sqlite3_bind_int(q, 3, f);
            sqlite3_bind_double(q, 4, v);
            if (step_reset(s, q, "adding activations") != SF_OK) goto fail;
        }
    }

    double y_mean[STORE_MAX_TARGETS], y_var[STORE_MAX_TARGETS];
    int nv = 0;
    feature_acc *acc = feature_stats(in, y_mean, y_var, &nv);
    for (int f = 0; f < d; f++) {
        const feature_acc *a = &acc[f];
        q = st[ST_FEATURE];
        sqlite3_bind_int64(q, 1, rid);
        sqlite3_bind_int(q, 2, f);
        sqlite3_bind_int(q, 3, a->n_active);
        sqlite3_bind_int(q, 4, a->n_active_valid);
        sqlite3_bind_double(q, 5, nv ? (double)a->n_active_valid / nv : 0);
        sqlite3_bind_double(q, 6, a->max_valid);
        sqlite3_bind_double(q, 7, a->max);
        sqlite3_bind_double(q, 8, a->n_active ? a->sum / a->n_active : 0);
        if (step_reset(s, q, "adding feature statistics") != SF_OK) {
            free(acc);
            goto fail;
        }
        for (int t = 0; t < n_out; t++) {
            q = st[ST_FEATURE_TARGET];
            sqlite3_bind_int64(q, 1, rid);
            sqlite3_bind_int(q, 2, f);
            sqlite3_bind_int(q, 3, t);
            sqlite3_bind_double(q, 4, in->head_w[(size_t)t * d + f]);
            bind_double_or_null(q, 5, pearson(a, t, y_var[t], nv));
            if (step_reset(s, q, "adding feature weights") != SF_OK) {
                free(acc);
                goto fail;
            }
        }
    }
    free(acc);
    free(column_id);
    return SF_OK;
fail:
    free(column_id);
    return SF_ERR;
}

int store_add_run(store *s, const store_run_input *in, int64_t *run_id) {
    if (s->mode == STORE_READ)
        return sf_fail("%s was opened read-only; cannot add a run", s->path);
    if (validate(in) != SF_OK) return sf_fail_prefix(s->path);
    sqlite3_stmt *st[ST_COUNT] = {0};
    for (int i = 0; i < ST_COUNT; i++)
        if (!(st[i] = store_prepare(s, write_sql[i]))) goto fail;
    /* the index on (feature, value) takes rows in random order: with SQLite's default
     * 2 MB page cache its pages would be spilled and re-read for every run of size;
     * 256 MB keeps the indexes of the paper's 250k galaxies in memory (grown only
     * as used, and dropped after the run is written) */
    store_exec(s, "PRAGMA cache_size = -262144", "sizing the cache");
    if (store_begin(s) != SF_OK) goto fail;
    int64_t rid = 0;
    if (write_run(s, in, st, &rid) != SF_OK) goto fail;
    if (store_commit(s) != SF_OK) goto fail;
    for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(st[i]);
    store_exec(s, "PRAGMA cache_size = -2000", "sizing the cache");
    if (run_id) *run_id = rid;
    return SF_OK;
fail:
    store_rollback(s);
    for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(st[i]);
    store_exec(s, "PRAGMA cache_size = -2000", "sizing the cache");
    return SF_ERR;
}
