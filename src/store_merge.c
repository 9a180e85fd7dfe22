/* store_merge.c: the runs of shard databases joined into one run (store.h, "merging").
 *
 * The merged run is written as any run is: its galaxies, one part at a time, through
 * the run writer (store_run_begin / store_run_add / store_run_finish), which computes
 * every per-run statistic from them. Nothing here computes a statistic, so the merged
 * run has whatever a run stored by `predict --into` has, however that grows.
 *
 * Extending a run already in OUT writes a new run holding its galaxies and the new
 * ones, moves the old run's labels, notes and marks onto it, deletes the old run and
 * gives the new one its name; all of it in the one transaction of the merge.
 * Layer: store. Calls: store, store_write, sf_util; SQLite, cJSON.
 * Called by: cli_merge.
 */
#include "store_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

enum { CHUNK = 256 };

/* ---- a set of objIDs ------------------------------------------------------------ */

typedef struct {
    uint64_t *hash; /* (cap) 0 = empty slot */
    size_t *at;     /* (cap) where the objID is in text */
    size_t cap, n;
    char *text;
    size_t text_len, text_cap;
} id_set;

static void id_set_free(id_set *set) {
    free(set->hash);
    free(set->at);
    free(set->text);
    memset(set, 0, sizeof *set);
}

static uint64_t id_hash(const char *id) {
    uint64_t h = sf_hash64(id, strlen(id));
    return h ? h : 1;
}

static void id_set_grow(id_set *set) {
    size_t cap = set->cap ? 2 * set->cap : 4096;
    uint64_t *hash = xcalloc(cap, sizeof *hash);
    size_t *at = xmalloc(cap * sizeof *at);
    for (size_t i = 0; i < set->cap; i++) {
        if (!set->hash[i]) continue;
        size_t j = set->hash[i] & (cap - 1);
        while (hash[j]) j = (j + 1) & (cap - 1);
        hash[j] = set->hash[i];
        at[j] = set->at[i];
    }
    free(set->hash);
    free(set->at);
    set->hash = hash;
    set->at = at;
    set->cap = cap;
}

/* Adds id; 1 when it was new, 0 when the set held it already. */
static int id_set_add(id_set *set, const char *id) {
    if (2 * (set->n + 1) > set->cap) id_set_grow(set);
    uint64_t h = id_hash(id);
    size_t j = h & (set->cap - 1);
    while (set->hash[j]) {
        if (set->hash[j] == h && !strcmp(set->text + set->at[j], id)) return 0;
        j = (j + 1) & (set->cap - 1);
    }
    size_t len = strlen(id) + 1;
    if (set->text_len + len > set->text_cap) {
        set->text_cap = 2 * (set->text_len + len) + 65536;
        set->text = xrealloc(set->text, set->text_cap);
    }
    memcpy(set->text + set->text_len, id, len);
    set->hash[j] = h;
    set->at[j] = set->text_len;
    set->text_len += len;
    set->n++;
    return 1;
}

/* ---- a run's settings ------------------------------------------------------------- */

/* A run to merge (or to merge into), with what must agree for runs to merge. */
typedef struct {
    store *s;
    store_run run;
    int present; /* the file holds a run */
    uint8_t *weights;
    size_t weights_len;
    int resize, crop;
    double split_over; /* NAN unknown */
    char shard[32];    /* "I/N", "" for a run that is not a shard */
} merge_source;

static void source_clear(merge_source *m) {
    store_run_clear(&m->run);
    free(m->weights);
    memset(m, 0, sizeof *m);
}

static int json_int(const cJSON *root, const char *key, int fallback) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : fallback;
}

/* The run and its settings. */
static int source_load(merge_source *m, store *s, int64_t run_id) {
    memset(m, 0, sizeof *m);
    m->s = s;
    if (store_run_get(s, run_id, &m->run) != SF_OK) return SF_ERR;
    m->present = 1;
    if (store_run_weights(s, run_id, &m->weights, &m->weights_len) != SF_OK)
        return sf_fail("%s (run %s) has no stored weights: a merge checks that every run "
                       "comes from the same weights",
                       s->path, m->run.prefix);
    cJSON *h = cJSON_Parse(m->run.hyper_json ? m->run.hyper_json : "{}");
    m->resize = json_int(h, "resize", -1);
    m->crop = json_int(h, "crop", -1);
    const cJSON *over = cJSON_GetObjectItemCaseSensitive(h, "split_over");
    m->split_over = cJSON_IsNumber(over) ? over->valuedouble : NAN;
    const cJSON *shard = cJSON_GetObjectItemCaseSensitive(h, "shard");
    if (cJSON_IsString(shard)) snprintf(m->shard, sizeof m->shard, "%s", shard->valuestring);
    cJSON_Delete(h);
    return SF_OK;
}

enum {
    SET_WEIGHTS,
    SET_TARGET,
    SET_SHAPE,
    SET_INPUT,
    SET_NORM,
    SET_SPLIT_SEED,
    SET_SPLIT_OVER,
    SET_COUNT
};
static const char *const setting_names[SET_COUNT] = {
    "weights",
    "target",
    "k and width",
    "input (resize, crop)",
    "normalisation",
    "split seed",
    "split (the galaxies it was drawn over)",
};

/* Setting `which` of m as text, for comparing and for the message. */
static void setting_text(const merge_source *m, int which, char *buf, size_t n) {
    const store_run *r = &m->run;
    size_t used = 0;
    switch (which) {
    case SET_WEIGHTS:
        snprintf(buf, n, "hash %016llx, %zu bytes",
                 (unsigned long long)sf_hash64(m->weights, m->weights_len), m->weights_len);
        break;
    case SET_TARGET:
        used = (size_t)snprintf(buf, n, "%s (", r->target_spec);
        for (int t = 0; t < r->n_out && used < n; t++)
            used +=
                (size_t)snprintf(buf + used, n - used, "%s%s", t ? ", " : "", r->target_names[t]);
        if (used < n) snprintf(buf + used, n - used, ")");
        break;
    case SET_SHAPE: snprintf(buf, n, "k %d, width %d (d %d)", r->k, r->width, r->d); break;
    case SET_INPUT: snprintf(buf, n, "resize %d, crop %d", m->resize, m->crop); break;
    case SET_NORM:
        snprintf(buf, n, "mean %.9g,%.9g,%.9g std %.9g,%.9g,%.9g", r->image_mean[0],
                 r->image_mean[1], r->image_mean[2], r->image_std[0], r->image_std[1],
                 r->image_std[2]);
        break;
    case SET_SPLIT_SEED: snprintf(buf, n, "%llu", (unsigned long long)r->split_seed); break;
    case SET_SPLIT_OVER:
        if (isnan(m->split_over)) snprintf(buf, n, "not recorded (not a predict run)");
        else snprintf(buf, n, "%.0f galaxies with an image", m->split_over);
        break;
    }
}

/* The first setting in which a and b differ, or -1. */
static int first_difference(const merge_source *a, const merge_source *b) {
    char ta[512], tb[512];
    for (int i = 0; i < SET_COUNT; i++) {
        setting_text(a, i, ta, sizeof ta);
        setting_text(b, i, tb, sizeof tb);
        if (strcmp(ta, tb) != 0) return i;
        if (i == SET_WEIGHTS && memcmp(a->weights, b->weights, a->weights_len) != 0) return i;
    }
    return -1;
}

/* "<b> (run X) differs from <a> (run Y) in its <setting>: <b's> against <a's>: advice" */
static int fail_difference(const merge_source *a, const merge_source *b, int which,
                           const char *advice) {
    char ta[512], tb[512];
    setting_text(a, which, ta, sizeof ta);
    setting_text(b, which, tb, sizeof tb);
    return sf_fail("%s (run %s) differs from %s (run %s) in its %s: %s against %s: %s", b->s->path,
                   b->run.prefix, a->s->path, a->run.prefix, setting_names[which], tb, ta, advice);
}

/* The one run of a shard file; present = 0 for a file with no run (an empty shard). */
static int shard_source(merge_source *m, store *s) {
    memset(m, 0, sizeof *m);
    m->s = s;
    store_run *runs;
    int n;
    if (store_runs(s, &runs, &n) != SF_OK) return SF_ERR;
    int64_t id = n == 1 ? runs[0].id : 0;
    char names[256] = "";
    for (int i = 0; i < n; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                 runs[i].prefix);
    store_runs_free(runs, n);
    if (n == 0) return SF_OK;
    if (n > 1)
        return sf_fail("%s holds %d runs (%s): a shard database holds the one run that "
                       "predict --shard wrote",
                       s->path, n, names);
    return source_load(m, s, id);
}

/* ---- reading a run's galaxies, a chunk at a time ------------------------------------ */

typedef struct {
    int n;
    int64_t gid[CHUNK];
    char objid[CHUNK][STORE_OBJID_MAX];
    store_galaxy_input gal[CHUNK];
    uint8_t split[CHUNK];
    float *pred, *truth; /* (CHUNK, n_out) */
    int *idx;            /* (CHUNK, k_stored) */
    float *val;
    int *n_act;     /* (CHUNK) pairs filled */
    double *values; /* (CHUNK, n_columns) */
    uint8_t *thumb[CHUNK];
} chunk;

typedef struct {
    store *out;
    int n_out, d, k_stored;
    int n_columns;
    char (*columns)[STORE_NAME_MAX]; /* (n_columns) the merged run's catalogue columns */
    store_run_writer *w;
    id_set seen;
    chunk c;
    sf_progress bar;
    const volatile sig_atomic_t *stop;
    int n_written, n_dup;
} merge_state;

static int find_gid(const chunk *c, int64_t gid) {
    int lo = 0, hi = c->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c->gid[mid] == gid) return mid;
        if (c->gid[mid] < gid) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

static void chunk_clear(chunk *c) {
    for (int i = 0; i < c->n; i++) {
        free(c->thumb[i]);
        c->thumb[i] = NULL;
    }
    c->n = 0;
}

/* The run's galaxies after galaxy id `after`: ids, objIDs, coordinates, splits. */
static int chunk_rows(merge_state *ms, store *s, int64_t run_id, int64_t after) {
    chunk *c = &ms->c;
    sqlite3_stmt *st = store_prepare(
        s, "SELECT rg.galaxy_id, g.objid, g.ra, g.dec, rg.split FROM run_galaxies rg "
           "JOIN galaxies g ON g.id = rg.galaxy_id WHERE rg.run_id = ?1 AND rg.galaxy_id > ?2 "
           "ORDER BY rg.galaxy_id LIMIT ?3");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int(st, 3, CHUNK);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int i = c->n++;
        c->gid[i] = sqlite3_column_int64(st, 0);
        const unsigned char *id = sqlite3_column_text(st, 1);
        snprintf(c->objid[i], STORE_OBJID_MAX, "%s", id ? (const char *)id : "");
        store_galaxy_input *g = &c->gal[i];
        memset(g, 0, sizeof *g);
        g->objid = c->objid[i];
        g->ra = store_column_double(st, 2);
        g->dec = store_column_double(st, 3);
        c->split[i] = (uint8_t)sqlite3_column_int(st, 4);
        c->n_act[i] = 0;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SF_OK : store_db_fail(s, "reading a run's galaxies");
}

/* Predictions and activations of the chunk's galaxies. */
static int chunk_outputs(merge_state *ms, store *s, int64_t run_id) {
    chunk *c = &ms->c;
    int64_t lo = c->gid[0], hi = c->gid[c->n - 1];
    for (int i = 0; i < c->n * ms->n_out; i++) c->pred[i] = c->truth[i] = NAN;
    sqlite3_stmt *st = store_prepare(s, "SELECT galaxy_id, target, pred, truth FROM predictions "
                                        "WHERE run_id = ?1 AND galaxy_id BETWEEN ?2 AND ?3");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, lo);
    sqlite3_bind_int64(st, 3, hi);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int i = find_gid(c, sqlite3_column_int64(st, 0)), t = sqlite3_column_int(st, 1);
        if (i < 0 || t < 0 || t >= ms->n_out) continue;
        c->pred[(size_t)i * ms->n_out + t] = (float)sqlite3_column_double(st, 2);
        c->truth[(size_t)i * ms->n_out + t] = (float)sqlite3_column_double(st, 3);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return store_db_fail(s, "reading a run's predictions");
    for (int i = 0; i < c->n * ms->n_out; i++)
        if (isnan(c->pred[i]) || isnan(c->truth[i]))
            return sf_fail("%s: galaxy %s lacks a prediction: the run is incomplete", s->path,
                           c->objid[i / ms->n_out]);

    st = store_prepare(s, "SELECT galaxy_id, feature, value FROM activations "
                          "WHERE run_id = ?1 AND galaxy_id BETWEEN ?2 AND ?3");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, lo);
    sqlite3_bind_int64(st, 3, hi);
    int K = ms->k_stored;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int i = find_gid(c, sqlite3_column_int64(st, 0)), f = sqlite3_column_int(st, 1);
        if (i < 0) continue;
        if (f < 0 || f >= ms->d || c->n_act[i] >= K) {
            sqlite3_finalize(st);
            return sf_fail("%s: galaxy %s has more than %d activations or a feature outside "
                           "0..%d: the run is damaged",
                           s->path, c->objid[i], K, ms->d - 1);
        }
        size_t at = (size_t)i * K + (size_t)c->n_act[i]++;
        c->idx[at] = f;
        c->val[at] = (float)sqlite3_column_double(st, 2);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return store_db_fail(s, "reading a run's activations");
    /* the pairs that were not stored (inactive): other features, value 0 */
    for (int i = 0; i < c->n; i++) {
        int *idx = &c->idx[(size_t)i * K];
        float *val = &c->val[(size_t)i * K];
        int f = 0;
        for (int j = c->n_act[i]; j < K; j++) {
            for (;;) {
                int used = 0;
                for (int u = 0; u < c->n_act[i] && !used; u++) used = idx[u] == f;
                if (!used) break;
                f++;
            }
            idx[j] = f++;
            val[j] = 0;
        }
    }
    return SF_OK;
}

/* Catalogue values and thumbnails of the chunk's galaxies, from a shard file;
 * col_of maps the file's column ids to the merged run's columns. */
static int chunk_catalogue(merge_state *ms, store *s, const int64_t *col_ids, int n_cols) {
    chunk *c = &ms->c;
    int64_t lo = c->gid[0], hi = c->gid[c->n - 1];
    for (size_t i = 0; i < (size_t)c->n * ms->n_columns; i++) c->values[i] = NAN;
    sqlite3_stmt *st = store_prepare(s, "SELECT galaxy_id, value FROM catalog_values "
                                        "WHERE column_id = ?1 AND galaxy_id BETWEEN ?2 AND ?3");
    if (!st) return SF_ERR;
    int rc = SQLITE_DONE;
    for (int k = 0; k < n_cols; k++) {
        if (col_ids[k] < 0) continue;
        sqlite3_bind_int64(st, 1, col_ids[k]);
        sqlite3_bind_int64(st, 2, lo);
        sqlite3_bind_int64(st, 3, hi);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int i = find_gid(c, sqlite3_column_int64(st, 0));
            if (i >= 0) c->values[(size_t)i * ms->n_columns + k] = sqlite3_column_double(st, 1);
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) break;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return store_db_fail(s, "reading catalogue values");
    for (int i = 0; i < c->n; i++) c->gal[i].values = &c->values[(size_t)i * ms->n_columns];

    st = store_prepare(s, "SELECT galaxy_id, format, width, height, image FROM thumbnails "
                          "WHERE galaxy_id BETWEEN ?1 AND ?2");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int i = find_gid(c, sqlite3_column_int64(st, 0));
        int len = sqlite3_column_bytes(st, 4);
        if (i < 0 || len <= 0) continue;
        store_galaxy_input *g = &c->gal[i];
        const unsigned char *format = sqlite3_column_text(st, 1);
        g->thumb_format = format && !strcmp((const char *)format, "png") ? "png" : "jpeg";
        g->thumb_w = sqlite3_column_int(st, 2);
        g->thumb_h = sqlite3_column_int(st, 3);
        c->thumb[i] = xmalloc((size_t)len);
        memcpy(c->thumb[i], sqlite3_column_blob(st, 4), (size_t)len);
        g->thumb = c->thumb[i];
        g->thumb_len = (size_t)len;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SF_OK : store_db_fail(s, "reading thumbnails");
}

/* For each merged column, its id in the file s (-1 when the file lacks it). */
static int column_ids(merge_state *ms, store *s, int64_t *ids) {
    sqlite3_stmt *st = store_prepare(s, "SELECT id FROM catalog_columns WHERE name = ?1");
    if (!st) return SF_ERR;
    for (int k = 0; k < ms->n_columns; k++) {
        sqlite3_bind_text(st, 1, ms->columns[k], -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        ids[k] = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            sqlite3_finalize(st);
            return store_db_fail(s, "reading catalogue columns");
        }
    }
    sqlite3_finalize(st);
    return SF_OK;
}

/* Writes the galaxies of run_id of src that no earlier source gave. with_catalogue:
 * their catalogue values and thumbnails too (a shard file; a run of OUT has them). */
static int merge_source_into(merge_state *ms, store *src, int64_t run_id, int with_catalogue) {
    int64_t *col_ids = xcalloc((size_t)ms->n_columns + 1, sizeof *col_ids);
    if (with_catalogue && column_ids(ms, src, col_ids) != SF_OK) {
        free(col_ids);
        return SF_ERR;
    }
    int64_t after = 0;
    int rc = SF_OK;
    chunk *c = &ms->c;
    for (;;) {
        if (ms->stop && *ms->stop) {
            rc = sf_fail("interrupted");
            break;
        }
        chunk_clear(c);
        if (chunk_rows(ms, src, run_id, after) != SF_OK) {
            rc = SF_ERR;
            break;
        }
        if (c->n == 0) break;
        after = c->gid[c->n - 1];
        if (chunk_outputs(ms, src, run_id) != SF_OK ||
            (with_catalogue && chunk_catalogue(ms, src, col_ids, ms->n_columns) != SF_OK)) {
            rc = SF_ERR;
            break;
        }
        /* keep the galaxies not seen yet, in place */
        int kept = 0, K = ms->k_stored, no = ms->n_out;
        for (int i = 0; i < c->n; i++) {
            if (!id_set_add(&ms->seen, c->objid[i])) {
                ms->n_dup++;
                continue;
            }
            if (kept != i) {
                memcpy(c->objid[kept], c->objid[i], STORE_OBJID_MAX);
                c->gal[kept] = c->gal[i];
                c->gal[kept].objid = c->objid[kept];
                c->split[kept] = c->split[i];
                memcpy(&c->pred[(size_t)kept * no], &c->pred[(size_t)i * no], no * sizeof(float));
                memcpy(&c->truth[(size_t)kept * no], &c->truth[(size_t)i * no], no * sizeof(float));
                memcpy(&c->idx[(size_t)kept * K], &c->idx[(size_t)i * K], K * sizeof(int));
                memcpy(&c->val[(size_t)kept * K], &c->val[(size_t)i * K], K * sizeof(float));
            }
            kept++;
        }
        store_run_input part;
        memset(&part, 0, sizeof part);
        part.n = kept;
        part.galaxies = c->gal;
        part.split = c->split;
        part.pred = c->pred;
        part.truth = c->truth;
        part.topk_idx = c->idx;
        part.topk_val = c->val;
        if (kept > 0 && store_run_add(ms->w, &part) != SF_OK) {
            rc = SF_ERR;
            break;
        }
        ms->n_written += kept;
        sf_progress_update(&ms->bar, ms->n_written, NULL);
    }
    chunk_clear(c);
    free(col_ids);
    return rc;
}

/* ---- the merge ------------------------------------------------------------------- */

/* The galaxies of run_id of s that the set does not hold yet (added to it). */
static int count_new(id_set *set, store *s, int64_t run_id, int *n_new, int *n_dup) {
    sqlite3_stmt *st = store_prepare(s, "SELECT g.objid FROM run_galaxies rg JOIN galaxies g "
                                        "ON g.id = rg.galaxy_id WHERE rg.run_id = ?1");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *id = sqlite3_column_text(st, 0);
        if (id_set_add(set, id ? (const char *)id : "")) (*n_new)++;
        else (*n_dup)++;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SF_OK : store_db_fail(s, "listing a run's galaxies");
}

/* The head's weights (n_out, d) as the run stored them. */
static int read_head(store *s, const store_run *r, float *head_w) {
    sqlite3_stmt *st =
        store_prepare(s, "SELECT feature, target, weight FROM feature_targets WHERE run_id = ?1");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, r->id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int f = sqlite3_column_int(st, 0), t = sqlite3_column_int(st, 1);
        if (f >= 0 && f < r->d && t >= 0 && t < r->n_out)
            head_w[(size_t)t * r->d + f] = (float)sqlite3_column_double(st, 2);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SF_OK : store_db_fail(s, "reading the head's weights");
}

/* Every catalogue column the shard files store, in the order first met. */
static int merged_columns(merge_state *ms, const merge_source *shards, int n) {
    int cap = 0;
    for (int i = 0; i < n; i++) {
        if (!shards[i].present) continue;
        sqlite3_stmt *st =
            store_prepare(shards[i].s, "SELECT name FROM catalog_columns ORDER BY id");
        if (!st) return SF_ERR;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 0);
            if (!name || !*name || strlen(name) >= STORE_NAME_MAX) continue;
            int have = 0;
            for (int k = 0; k < ms->n_columns && !have; k++) have = !strcmp(ms->columns[k], name);
            if (have) continue;
            if (ms->n_columns == cap) {
                cap = cap ? 2 * cap : 32;
                ms->columns = xrealloc(ms->columns, (size_t)cap * sizeof *ms->columns);
            }
            snprintf(ms->columns[ms->n_columns++], STORE_NAME_MAX, "%s", name);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return store_db_fail(shards[i].s, "reading catalogue columns");
    }
    return SF_OK;
}

/* The merged run's settings: the base run's, with the list of the shards it holds
 * (those it held already, when it is a run of OUT, and the new ones). */
static char *merged_hyper(const merge_source *base, const merge_source *shards, int n) {
    cJSON *h = cJSON_Parse(base->run.hyper_json ? base->run.hyper_json : "{}");
    if (!cJSON_IsObject(h)) {
        cJSON_Delete(h);
        h = cJSON_CreateObject();
    }
    cJSON *list = cJSON_CreateArray();
    const cJSON *it;
    cJSON_ArrayForEach(it,
                       cJSON_GetObjectItemCaseSensitive(h, "merged_shards")) if (cJSON_IsString(it))
        cJSON_AddItemToArray(list, cJSON_CreateString(it->valuestring));
    for (int i = 0; i < n; i++) {
        if (!shards[i].present || !shards[i].shard[0]) continue;
        int have = 0;
        cJSON_ArrayForEach(it, list) have |= !strcmp(it->valuestring, shards[i].shard);
        if (!have) cJSON_AddItemToArray(list, cJSON_CreateString(shards[i].shard));
    }
    cJSON_DeleteItemFromObjectCaseSensitive(h, "shard");
    cJSON_DeleteItemFromObjectCaseSensitive(h, "merged_shards");
    cJSON_AddItemToObject(h, "merged_shards", list);
    char *s = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    return s;
}

/* The run of OUT to merge into: by name, or the one made from the same weights and
 * settings; target->present = 0 when a new run is to be made. */
static int find_target(store *out, const merge_source *first, const char *name,
                       merge_source *target) {
    memset(target, 0, sizeof *target);
    store_run *runs;
    int n;
    if (store_runs(out, &runs, &n) != SF_OK) return SF_ERR;
    int rc = SF_OK, found = 0;
    char names[256] = "";
    for (int i = 0; i < n && rc == SF_OK; i++) {
        if (name && strcmp(runs[i].prefix, name) != 0) continue;
        merge_source cand;
        if (source_load(&cand, out, runs[i].id) != SF_OK) {
            source_clear(&cand);
            if (name) rc = SF_ERR;
            continue;
        }
        int diff = first_difference(first, &cand);
        if (name && diff >= 0) {
            rc = fail_difference(first, &cand, diff,
                                 "a run merges only shards of its own weights and settings; "
                                 "choose another --name for a new run");
            source_clear(&cand);
            break;
        }
        if (diff >= 0) {
            source_clear(&cand);
            continue;
        }
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", found ? ", " : "",
                 cand.run.prefix);
        if (found++ == 0) *target = cand;
        else source_clear(&cand);
    }
    store_runs_free(runs, n);
    if (rc != SF_OK) {
        source_clear(target);
        return SF_ERR;
    }
    if (found > 1) {
        source_clear(target);
        return sf_fail("%s has %d runs made from these weights and settings (%s): say which "
                       "to merge into with --name",
                       out->path, found, names);
    }
    return SF_OK;
}

/* A prefix free in OUT for the merged run while the run it replaces still exists. */
static int temporary_prefix(store *out, char *prefix) {
    for (int i = 0; i < 1000; i++) {
        snprintf(prefix, STORE_PREFIX_MAX, "merging-%d", i);
        store_run r;
        if (store_run_find(out, prefix, &r) != SF_OK) return SF_OK;
        store_run_clear(&r);
    }
    return sf_fail("%s: no free temporary run name", out->path);
}

/* The old run's labels, notes and marks onto the new run, the old run deleted, its
 * name given to the new one. */
static int replace_run(store *out, int64_t old_id, int64_t new_id, const char *prefix) {
    static const char *const steps[] = {
        "UPDATE run_features SET label = o.label, note = o.note FROM run_features o "
        "WHERE run_features.run_id = ?2 AND o.run_id = ?1 AND o.feature = run_features.feature "
        "AND (o.label IS NOT NULL OR o.note IS NOT NULL)",
        "UPDATE marks SET run_id = ?2 WHERE run_id = ?1",
        "DELETE FROM runs WHERE id = ?1",
        "UPDATE runs SET prefix = ?3 WHERE id = ?2",
    };
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        if (i == 1 && store_schema_version(out) < 2) continue;
        sqlite3_stmt *st = store_prepare(out, steps[i]);
        if (!st) return SF_ERR;
        if (sqlite3_bind_parameter_count(st) >= 1) sqlite3_bind_int64(st, 1, old_id);
        if (sqlite3_bind_parameter_count(st) >= 2) sqlite3_bind_int64(st, 2, new_id);
        if (sqlite3_bind_parameter_count(st) >= 3)
            sqlite3_bind_text(st, 3, prefix, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return store_db_fail(out, "replacing the run by the merged one");
    }
    return SF_OK;
}

/* The write: a new run of every galaxy (the target's, then the shards' new ones),
 * the target replaced by it; inside the transaction the caller opened. */
static int merge_write(merge_state *ms, const merge_source *base, merge_source *target,
                       merge_source *shards, int n, const store_merge_options *opt,
                       store_merge_result *res) {
    store *out = ms->out;
    const store_run *br = &base->run;
    store_run_input in;
    memset(&in, 0, sizeof in);
    in.run = *br;
    in.run.hyper_json = merged_hyper(base, shards, n);
    in.run.curve = br->curve;
    in.run.n_curve = br->n_curve;
    in.run.train_rmse = in.run.valid_rmse = NAN;
    for (int t = 0; t < STORE_MAX_TARGETS; t++)
        in.run.train_rmse_t[t] = in.run.valid_rmse_t[t] = NAN;
    in.run.tool_version[0] = 0;
    if (target->present) {
        if (temporary_prefix(out, in.run.prefix) != SF_OK) {
            free(in.run.hyper_json);
            return SF_ERR;
        }
    } else if (opt->name) {
        snprintf(in.run.prefix, sizeof in.run.prefix, "%s", opt->name);
    } else {
        store_run taken;
        if (store_run_find(out, br->prefix, &taken) == SF_OK) {
            store_run_clear(&taken);
            in.run.prefix[0] = 0;
        }
    }
    float *head_w = xcalloc((size_t)br->n_out * (size_t)br->d, sizeof *head_w);
    char **names = xcalloc((size_t)ms->n_columns + 1, sizeof *names);
    for (int k = 0; k < ms->n_columns; k++) names[k] = ms->columns[k];
    in.head_w = head_w;
    in.weights = base->weights;
    in.weights_len = base->weights_len;
    in.n_columns = ms->n_columns;
    in.column_names = (const char *const *)names;
    in.k_stored = ms->k_stored;
    int rc = read_head(base->s, br, head_w);
    if (rc == SF_OK) rc = store_run_begin(out, &in, &ms->w);
    if (rc == SF_OK && target->present) rc = merge_source_into(ms, out, target->run.id, 0);
    for (int i = 0; i < n && rc == SF_OK; i++)
        if (shards[i].present) rc = merge_source_into(ms, shards[i].s, shards[i].run.id, 1);
    int64_t run_id = 0;
    if (rc == SF_OK) {
        rc = store_run_finish(ms->w, &run_id);
        ms->w = NULL;
    } else if (ms->w) {
        store_run_abort(ms->w);
        ms->w = NULL;
    }
    if (rc == SF_OK && target->present)
        rc = replace_run(out, target->run.id, run_id, target->run.prefix);
    if (rc == SF_OK) {
        res->run_id = run_id;
        store_run r;
        if (store_run_get(out, run_id, &r) == SF_OK) {
            snprintf(res->prefix, sizeof res->prefix, "%s", r.prefix);
            store_run_clear(&r);
        }
    }
    free(head_w);
    free(names);
    free(in.run.hyper_json);
    return rc;
}

int store_merge(store *out, store *const *shard_files, int n, const store_merge_options *opt,
                store_merge_result *res) {
    memset(res, 0, sizeof *res);
    double t0 = sf_now();
    if (out->mode == STORE_READ)
        return sf_fail("%s was opened read-only; cannot merge into it", out->path);
    merge_source *shards = xcalloc((size_t)n + 1, sizeof *shards);
    merge_source target;
    memset(&target, 0, sizeof target);
    merge_state ms;
    memset(&ms, 0, sizeof ms);
    ms.out = out;
    ms.stop = opt->stop;
    int rc = SF_OK, first = -1;

    /* every shard's run, and the same weights and settings in all */
    for (int i = 0; i < n && rc == SF_OK; i++) {
        rc = shard_source(&shards[i], shard_files[i]);
        if (rc != SF_OK || !shards[i].present) {
            if (rc == SF_OK) res->n_empty++;
            continue;
        }
        if (first < 0) {
            first = i;
            continue;
        }
        int diff = first_difference(&shards[first], &shards[i]);
        if (diff >= 0)
            rc = fail_difference(&shards[first], &shards[i], diff,
                                 "only runs made from the same weights and settings merge");
    }
    if (rc == SF_OK && first < 0)
        rc = sf_fail("no galaxies to merge: %s", n == 1 ? "the shard file holds no run"
                                                        : "none of the shard files holds a run");
    /* from here on OUT is locked for writing: what is new is what will be written */
    int in_transaction = 0;
    if (rc == SF_OK) {
        rc = store_begin(out);
        in_transaction = rc == SF_OK;
    }
    if (rc == SF_OK) rc = find_target(out, &shards[first], opt->name, &target);

    /* what is new: nothing, and OUT is left alone */
    int n_new = 0, n_dup = 0, n_before = 0;
    if (rc == SF_OK && target.present)
        rc = count_new(&ms.seen, out, target.run.id, &n_before, &n_dup);
    for (int i = 0; i < n && rc == SF_OK; i++)
        if (shards[i].present)
            rc = count_new(&ms.seen, shards[i].s, shards[i].run.id, &n_new, &n_dup);
    id_set_free(&ms.seen);
    res->n_added = n_new;
    res->n_duplicates = n_dup;
    res->n_galaxies = n_before + n_new;
    if (rc == SF_OK && n_new == 0) {
        res->unchanged = 1;
        res->run_id = target.run.id;
        snprintf(res->prefix, sizeof res->prefix, "%s", target.run.prefix);
    }

    if (rc == SF_OK && !res->unchanged) {
        const merge_source *base = target.present ? &target : &shards[first];
        ms.n_out = base->run.n_out;
        ms.d = base->run.d;
        ms.k_stored = base->run.k ? base->run.k : base->run.d;
        ms.c.pred = xmalloc((size_t)CHUNK * ms.n_out * sizeof(float));
        ms.c.truth = xmalloc((size_t)CHUNK * ms.n_out * sizeof(float));
        ms.c.idx = xmalloc((size_t)CHUNK * ms.k_stored * sizeof(int));
        ms.c.val = xmalloc((size_t)CHUNK * ms.k_stored * sizeof(float));
        ms.c.n_act = xmalloc((size_t)CHUNK * sizeof(int));
        rc = merged_columns(&ms, shards, n);
        ms.c.values = xmalloc(((size_t)CHUNK * ms.n_columns + 1) * sizeof(double));
        sf_progress_start(&ms.bar, "merge", res->n_galaxies, "gal");
        ms.bar.quiet |= opt->quiet;
        if (rc == SF_OK) rc = merge_write(&ms, base, &target, shards, n, opt, res);
        if (rc == SF_OK) {
            rc = store_commit(out);
            in_transaction = 0;
        }
        if (rc == SF_OK) sf_progress_finish(&ms.bar, NULL);
        else if (!ms.bar.quiet) fputc('\n', stderr);
        res->replaced = target.present;
        res->old_run_id = target.run.id;
        free(ms.c.pred);
        free(ms.c.truth);
        free(ms.c.idx);
        free(ms.c.val);
        free(ms.c.n_act);
        free(ms.c.values);
        free(ms.columns);
        id_set_free(&ms.seen);
    }
    /* an error, or nothing new: OUT as it was */
    if (in_transaction) store_rollback(out);
    res->seconds = sf_now() - t0;
    for (int i = 0; i < n; i++) source_clear(&shards[i]);
    free(shards);
    source_clear(&target);
    return rc;
}
