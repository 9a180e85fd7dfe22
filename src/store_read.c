/* store_read.c: reading features, top galaxies, galaxies and run-aligned arrays.
 * Layer: store. Calls: store, sf_util; SQLite.
 * Called by: analysis_run, cli_* (5), query, query_view, tui_app, tui_galaxy, tui_marks.
 */
#include "store_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- features --------------------------------------------------------------- */

static void copy_text(char *dst, size_t n, const unsigned char *src) {
    snprintf(dst, n, "%s", src ? (const char *)src : "");
}

static int run_shape(store *s, int64_t run_id, int *n_out, int *d) {
    sqlite3_stmt *st = store_prepare(s, "SELECT n_out, d FROM runs WHERE id = ?1");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *n_out = sqlite3_column_int(st, 0);
        *d = sqlite3_column_int(st, 1);
        if (*n_out > STORE_MAX_TARGETS) *n_out = STORE_MAX_TARGETS;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW && (*d < 1 || *d > STORE_MAX_D || *n_out < 0))
        return sf_fail("%s: run id %lld has d = %d and %d outputs: the runs table is damaged",
                       s->path, (long long)run_id, *d, *n_out);
    if (rc == SQLITE_DONE) return sf_fail("%s: no run with id %lld", s->path, (long long)run_id);
    return rc == SQLITE_ROW ? SF_OK : store_db_fail(s, "reading a run");
}

static void read_feature_row(sqlite3_stmt *st, store_feature *f, int n_out) {
    memset(f, 0, sizeof *f);
    f->feature = sqlite3_column_int(st, 0);
    f->n_active = sqlite3_column_int(st, 1);
    f->n_active_valid = sqlite3_column_int(st, 2);
    f->f_activated = sqlite3_column_double(st, 3);
    f->max_valid = sqlite3_column_double(st, 4);
    f->max = sqlite3_column_double(st, 5);
    f->mean = sqlite3_column_double(st, 6);
    copy_text(f->label, sizeof f->label, sqlite3_column_text(st, 7));
    copy_text(f->note, sizeof f->note, sqlite3_column_text(st, 8));
    f->n_out = n_out;
    for (int t = 0; t < STORE_MAX_TARGETS; t++) f->pearson[t] = NAN;
}

/* Fills weight/pearson of features[0..n) (sorted by feature number) for the run. */
static int read_feature_targets(store *s, int64_t run_id, int lo, int hi, store_feature *by_num,
                                int d) {
    sqlite3_stmt *st =
        store_prepare(s, "SELECT feature, target, weight, pearson FROM feature_targets "
                         "WHERE run_id = ?1 AND feature BETWEEN ?2 AND ?3");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, lo);
    sqlite3_bind_int(st, 3, hi);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int f = sqlite3_column_int(st, 0), t = sqlite3_column_int(st, 1);
        if (f < 0 || f >= d || t < 0 || t >= STORE_MAX_TARGETS) continue;
        by_num[f].weight[t] = sqlite3_column_double(st, 2);
        by_num[f].pearson[t] = store_column_double(st, 3);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SF_OK : store_db_fail(s, "reading feature weights");
}

#define FEATURE_COLUMNS                                                                            \
    "feature, n_active, n_active_valid, f_activated, max_valid, max, mean, label, note"

static int cmp_int_desc(int a, int b) { return (a < b) - (a > b); }
static int cmp_double_desc(double a, double b) {
    if (isnan(a) || isnan(b)) return isnan(a) - isnan(b);
    return (a < b) - (a > b);
}

static int feature_cmp(const void *pa, const void *pb, void *key) {
    const store_feature *a = pa, *b = pb;
    int c = 0;
    switch (*(const store_sort *)key) {
    case STORE_SORT_FREQUENCY:
        c = cmp_int_desc(a->n_active_valid, b->n_active_valid);
        if (!c) c = cmp_int_desc(a->n_active, b->n_active);
        break;
    case STORE_SORT_FEATURE: break;
    case STORE_SORT_WEIGHT: c = cmp_double_desc(fabs(a->weight[0]), fabs(b->weight[0])); break;
    case STORE_SORT_CORRELATION:
        c = cmp_double_desc(fabs(a->pearson[0]), fabs(b->pearson[0]));
        break;
    case STORE_SORT_MAX: c = cmp_double_desc(a->max, b->max); break;
    case STORE_SORT_LABEL:
        c = (!a->label[0]) - (!b->label[0]);
        if (!c) c = strcmp(a->label, b->label);
        break;
    }
    if (!c) c = (a->feature > b->feature) - (a->feature < b->feature);
    return c;
}

void store_features_sort(store_feature *f, int n, store_sort sort) {
    qsort_r(f, (size_t)n, sizeof *f, feature_cmp, &sort);
}

int store_features(store *s, int64_t run_id, store_sort sort, int include_dead, store_feature **out,
                   int *n) {
    *out = NULL;
    *n = 0;
    int n_out = 0, d = 0;
    if (run_shape(s, run_id, &n_out, &d) != SF_OK) return SF_ERR;
    store_feature *all = xcalloc((size_t)d, sizeof *all);
    for (int f = 0; f < d; f++) all[f].feature = -1;
    sqlite3_stmt *st =
        store_prepare(s, "SELECT " FEATURE_COLUMNS " FROM run_features WHERE run_id = ?1");
    if (!st) {
        free(all);
        return SF_ERR;
    }
    sqlite3_bind_int64(st, 1, run_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int f = sqlite3_column_int(st, 0);
        if (f >= 0 && f < d) read_feature_row(st, &all[f], n_out);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(all);
        return store_db_fail(s, "reading features");
    }
    if (read_feature_targets(s, run_id, 0, d - 1, all, d) != SF_OK) {
        free(all);
        return SF_ERR;
    }
    int kept = 0;
    for (int f = 0; f < d; f++) {
        if (all[f].feature < 0) continue;
        if (!include_dead && all[f].n_active == 0) continue;
        all[kept++] = all[f];
    }
    store_features_sort(all, kept, sort);
    *out = all;
    *n = kept;
    return SF_OK;
}

int store_feature_get(store *s, int64_t run_id, int feature, store_feature *out) {
    memset(out, 0, sizeof *out);
    int n_out = 0, d = 0;
    if (run_shape(s, run_id, &n_out, &d) != SF_OK) return SF_ERR;
    if (feature < 0 || feature >= d)
        return sf_fail("%s: feature %d outside 0..%d of run %lld", s->path, feature, d - 1,
                       (long long)run_id);
    sqlite3_stmt *st = store_prepare(s, "SELECT " FEATURE_COLUMNS
                                        " FROM run_features WHERE run_id = ?1 AND feature = ?2");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, feature);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) read_feature_row(st, out, n_out);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return sf_fail("%s: run %lld has no statistics for feature %d", s->path, (long long)run_id,
                       feature);
    if (rc != SQLITE_ROW) return store_db_fail(s, "reading a feature");
    sqlite3_stmt *ft = store_prepare(
        s,
        "SELECT target, weight, pearson FROM feature_targets WHERE run_id = ?1 AND feature = ?2");
    if (!ft) return SF_ERR;
    sqlite3_bind_int64(ft, 1, run_id);
    sqlite3_bind_int(ft, 2, feature);
    while ((rc = sqlite3_step(ft)) == SQLITE_ROW) {
        int t = sqlite3_column_int(ft, 0);
        if (t < 0 || t >= STORE_MAX_TARGETS) continue;
        out->weight[t] = sqlite3_column_double(ft, 1);
        out->pearson[t] = store_column_double(ft, 2);
    }
    sqlite3_finalize(ft);
    return rc == SQLITE_DONE ? SF_OK : store_db_fail(s, "reading a feature's weights");
}

int store_feature_label(store *s, int64_t run_id, int feature, const char *label,
                        const char *note) {
    if (s->mode == STORE_READ) return sf_fail("%s was opened read-only; cannot label", s->path);
    if (label && strlen(label) >= STORE_LABEL_MAX)
        return sf_fail("label too long (%zu bytes; at most %d)", strlen(label),
                       STORE_LABEL_MAX - 1);
    if (note && strlen(note) >= STORE_NOTE_MAX)
        return sf_fail("note too long (%zu bytes; at most %d)", strlen(note), STORE_NOTE_MAX - 1);
    sqlite3_stmt *st = store_prepare(
        s, "UPDATE run_features SET label = CASE WHEN ?3 THEN nullif(?4, '') ELSE label END, "
           "note = CASE WHEN ?5 THEN nullif(?6, '') ELSE note END "
           "WHERE run_id = ?1 AND feature = ?2");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, feature);
    sqlite3_bind_int(st, 3, label != NULL);
    sqlite3_bind_text(st, 4, label ? label : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 5, note != NULL);
    sqlite3_bind_text(st, 6, note ? note : "", -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return store_db_fail(s, "saving the label");
    if (sqlite3_changes(s->db) == 0)
        return sf_fail("%s: run %lld has no feature %d", s->path, (long long)run_id, feature);
    return SF_OK;
}

/* ---- galaxies of a feature ---------------------------------------------------- */

static double feature_scale(store *s, int64_t run_id, int feature) {
    sqlite3_stmt *st = store_prepare(
        s, "SELECT max_valid, max FROM run_features WHERE run_id = ?1 AND feature = ?2");
    if (!st) return 0;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, feature);
    double scale = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        scale = sqlite3_column_double(st, 0);
        /* a feature silent on the validation set: scale by its overall maximum */
        if (!(scale > 0)) scale = sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
    return scale;
}

static int read_hits(store *s, sqlite3_stmt *st, double scale, int cap_hint, store_hit **hits,
                     int *n_hits) {
    int cap = cap_hint > 0 ? cap_hint : 64, n = 0, rc;
    store_hit *h = xmalloc((size_t)cap * sizeof *h);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap *= 2;
            h = xrealloc(h, (size_t)cap * sizeof *h);
        }
        store_hit *x = &h[n++];
        x->galaxy_id = sqlite3_column_int64(st, 0);
        copy_text(x->objid, sizeof x->objid, sqlite3_column_text(st, 1));
        x->value = sqlite3_column_double(st, 2);
        x->split = sqlite3_column_int(st, 3);
        x->scaled = scale > 0 ? x->value / scale : 0;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(h);
        return store_db_fail(s, "reading activations");
    }
    *hits = h;
    *n_hits = n;
    return SF_OK;
}

/* The galaxies where feature is active in the run, strongest first (ties by galaxy id),
 * of one split (split < 0: both), limit at most (limit < 0: all). It walks
 * activations_by_feature in order (the WITHOUT ROWID table puts galaxy_id after value
 * in the index, so no sort is needed); the split test reads run_galaxies by key. */
static int feature_hits(store *s, int64_t run_id, int feature, int split, int limit,
                        store_hit **hits, int *n_hits) {
    *hits = NULL;
    *n_hits = 0;
    double scale = feature_scale(s, run_id, feature);
    sqlite3_stmt *st = store_prepare(
        s, "SELECT a.galaxy_id, g.objid, a.value, rg.split "
           "FROM activations AS a INDEXED BY activations_by_feature "
           "JOIN run_galaxies AS rg ON rg.run_id = a.run_id AND rg.galaxy_id = a.galaxy_id "
           "JOIN galaxies AS g ON g.id = a.galaxy_id "
           "WHERE a.run_id = ?1 AND a.feature = ?2 AND (?3 < 0 OR rg.split = ?3) "
           "ORDER BY a.value DESC, a.galaxy_id LIMIT ?4");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, feature);
    sqlite3_bind_int(st, 3, split);
    sqlite3_bind_int(st, 4, limit);
    return read_hits(s, st, scale, limit < 0 ? 256 : limit > 0 ? limit : 1, hits, n_hits);
}

int store_top(store *s, int64_t run_id, int feature, int n, int split, store_hit **hits,
              int *n_hits) {
    *hits = NULL;
    *n_hits = 0;
    if (n < 0) return sf_fail("top: the number of galaxies must be positive, not %d", n);
    int n_out = 0, d = 0;
    if (run_shape(s, run_id, &n_out, &d) != SF_OK) return SF_ERR;
    if (feature < 0 || feature >= d)
        return sf_fail("%s: feature %d outside 0..%d of run %lld", s->path, feature, d - 1,
                       (long long)run_id);
    return feature_hits(s, run_id, feature, split, n, hits, n_hits);
}

int store_feature_hits(store *s, int64_t run_id, int feature, store_hit **hits, int *n_hits) {
    return feature_hits(s, run_id, feature, -1, -1, hits, n_hits);
}

/* ---- one galaxy --------------------------------------------------------------- */

void store_galaxy_clear(store_galaxy *g) {
    free(g->column_names);
    free(g->values);
    memset(g, 0, sizeof *g);
}

static int galaxy_columns(store *s, store_galaxy *g) {
    sqlite3_stmt *st = store_prepare(
        s, "SELECT c.name, v.value FROM catalog_columns AS c "
           "JOIN catalog_values AS v ON v.column_id = c.id AND v.galaxy_id = ?1 ORDER BY c.id");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, g->id);
    int cap = 16, rc;
    g->column_names = xmalloc((size_t)cap * sizeof *g->column_names);
    g->values = xmalloc((size_t)cap * sizeof *g->values);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (g->n_columns == cap) {
            cap *= 2;
            g->column_names = xrealloc(g->column_names, (size_t)cap * sizeof *g->column_names);
            g->values = xrealloc(g->values, (size_t)cap * sizeof *g->values);
        }
        copy_text(g->column_names[g->n_columns], STORE_NAME_MAX, sqlite3_column_text(st, 0));
        g->values[g->n_columns++] = sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SF_OK : store_db_fail(s, "reading catalogue values");
}

static int galaxy_query(store *s, sqlite3_stmt *st, store_galaxy *out, const char *what) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        copy_text(out->objid, sizeof out->objid, sqlite3_column_text(st, 1));
        out->ra = store_column_double(st, 2);
        out->dec = store_column_double(st, 3);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return sf_fail("%s: no galaxy %s", s->path, what);
    if (rc != SQLITE_ROW) return store_db_fail(s, "reading a galaxy");
    if (galaxy_columns(s, out) != SF_OK) {
        store_galaxy_clear(out);
        return SF_ERR;
    }
    return SF_OK;
}

int store_galaxy_find(store *s, const char *objid, store_galaxy *out) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = store_prepare(s, "SELECT id, objid, ra, dec FROM galaxies WHERE objid = ?1");
    if (!st) return SF_ERR;
    sqlite3_bind_text(st, 1, objid, -1, SQLITE_TRANSIENT);
    char what[STORE_OBJID_MAX + 16];
    snprintf(what, sizeof what, "with objID %.*s", STORE_OBJID_MAX, objid);
    return galaxy_query(s, st, out, what);
}

int store_galaxy_get(store *s, int64_t galaxy_id, store_galaxy *out) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = store_prepare(s, "SELECT id, objid, ra, dec FROM galaxies WHERE id = ?1");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, galaxy_id);
    char what[48];
    snprintf(what, sizeof what, "with id %lld", (long long)galaxy_id);
    return galaxy_query(s, st, out, what);
}

void store_galaxy_run_clear(store_galaxy_run *g) {
    free(g->feature);
    free(g->value);
    free(g->scaled);
    memset(g, 0, sizeof *g);
}

int store_galaxy_in_run(store *s, int64_t run_id, int64_t galaxy_id, store_galaxy_run *out) {
    memset(out, 0, sizeof *out);
    out->run_id = run_id;
    out->galaxy_id = galaxy_id;
    sqlite3_stmt *st =
        store_prepare(s, "SELECT split FROM run_galaxies WHERE run_id = ?1 AND galaxy_id = ?2");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, galaxy_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) out->split = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return SF_OK;
    if (rc != SQLITE_ROW) return store_db_fail(s, "reading a galaxy's run");

    st = store_prepare(s, "SELECT target, pred, truth FROM predictions "
                          "WHERE run_id = ?1 AND galaxy_id = ?2 ORDER BY target");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, galaxy_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int t = sqlite3_column_int(st, 0);
        if (t < 0 || t >= STORE_MAX_TARGETS) continue;
        out->pred[t] = sqlite3_column_double(st, 1);
        out->truth[t] = sqlite3_column_double(st, 2);
        if (t + 1 > out->n_out) out->n_out = t + 1;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return store_db_fail(s, "reading predictions");

    st = store_prepare(s,
                       "SELECT a.feature, a.value, f.max_valid, f.max FROM activations AS a "
                       "JOIN run_features AS f ON f.run_id = a.run_id AND f.feature = a.feature "
                       "WHERE a.run_id = ?1 AND a.galaxy_id = ?2 ORDER BY a.value DESC, a.feature");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, galaxy_id);
    int cap = 8;
    out->feature = xmalloc((size_t)cap * sizeof *out->feature);
    out->value = xmalloc((size_t)cap * sizeof *out->value);
    out->scaled = xmalloc((size_t)cap * sizeof *out->scaled);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n_active == cap) {
            cap *= 2;
            out->feature = xrealloc(out->feature, (size_t)cap * sizeof *out->feature);
            out->value = xrealloc(out->value, (size_t)cap * sizeof *out->value);
            out->scaled = xrealloc(out->scaled, (size_t)cap * sizeof *out->scaled);
        }
        int i = out->n_active++;
        out->feature[i] = sqlite3_column_int(st, 0);
        out->value[i] = sqlite3_column_double(st, 1);
        double scale = sqlite3_column_double(st, 2);
        if (!(scale > 0)) scale = sqlite3_column_double(st, 3);
        out->scaled[i] = scale > 0 ? out->value[i] / scale : 0;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        store_galaxy_run_clear(out);
        return store_db_fail(s, "reading a galaxy's activations");
    }
    return SF_OK;
}

int store_galaxy_runs(store *s, int64_t galaxy_id, int64_t **runs, int *n) {
    *runs = NULL;
    *n = 0;
    /* run_galaxies is keyed by (run_id, galaxy_id): one probe per run */
    sqlite3_stmt *st = store_prepare(
        s, "SELECT r.id FROM runs AS r WHERE EXISTS (SELECT 1 FROM run_galaxies AS rg "
           "WHERE rg.run_id = r.id AND rg.galaxy_id = ?1) ORDER BY r.id");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, galaxy_id);
    int cap = 4, rc;
    int64_t *list = xmalloc((size_t)cap * sizeof *list);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap *= 2;
            list = xrealloc(list, (size_t)cap * sizeof *list);
        }
        list[(*n)++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(list);
        *n = 0;
        return store_db_fail(s, "reading a galaxy's runs");
    }
    *runs = list;
    return SF_OK;
}

int store_thumbnail(store *s, int64_t galaxy_id, uint8_t **data, size_t *len) {
    *data = NULL;
    *len = 0;
    sqlite3_stmt *st = store_prepare(s, "SELECT image FROM thumbnails WHERE galaxy_id = ?1");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, galaxy_id);
    int rc = sqlite3_step(st);
    int status = SF_OK;
    if (rc == SQLITE_ROW) {
        const void *blob = sqlite3_column_blob(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        *data = xmalloc(n);
        if (n) memcpy(*data, blob, n);
        *len = n;
    } else if (rc != SQLITE_DONE) {
        status = store_db_fail(s, "reading a thumbnail");
    }
    sqlite3_finalize(st);
    return status;
}

/* ---- run-aligned arrays ----------------------------------------------------------- */

void store_rows_clear(store_rows *rows) {
    free(rows->galaxy_id);
    free(rows->objid);
    free(rows->split);
    memset(rows, 0, sizeof *rows);
}

/* The run's rows, with their objIDs when with_objid. */
static int run_rows(store *s, int64_t run_id, store_rows *rows, int with_objid) {
    memset(rows, 0, sizeof *rows);
    long long n = store_count_run_rows(s, "run_galaxies", run_id);
    size_t cap = (size_t)(n > 0 ? n : 1);
    rows->galaxy_id = xmalloc(cap * sizeof *rows->galaxy_id);
    rows->objid = with_objid ? xmalloc(cap * sizeof *rows->objid) : NULL;
    rows->split = xmalloc(cap);
    sqlite3_stmt *st = store_prepare(
        s,
        with_objid
            ? "SELECT rg.galaxy_id, rg.split, g.objid FROM run_galaxies AS rg "
              "JOIN galaxies AS g ON g.id = rg.galaxy_id WHERE rg.run_id = ?1 ORDER BY rg.galaxy_id"
            : "SELECT galaxy_id, split FROM run_galaxies WHERE run_id = ?1 ORDER BY galaxy_id");
    if (!st) {
        store_rows_clear(rows);
        return SF_ERR;
    }
    sqlite3_bind_int64(st, 1, run_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && (size_t)rows->n < cap) {
        int i = rows->n++;
        rows->galaxy_id[i] = sqlite3_column_int64(st, 0);
        rows->split[i] = (uint8_t)sqlite3_column_int(st, 1);
        if (with_objid) copy_text(rows->objid[i], STORE_OBJID_MAX, sqlite3_column_text(st, 2));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        store_rows_clear(rows);
        return store_db_fail(s, "reading a run's galaxies");
    }
    return SF_OK;
}

int store_run_rows(store *s, int64_t run_id, store_rows *rows) {
    return run_rows(s, run_id, rows, 1);
}

int store_run_rows_ids(store *s, int64_t run_id, store_rows *rows) {
    return run_rows(s, run_id, rows, 0);
}

/* Row of galaxy_id in rows (ascending ids), or -1. */
static int row_of(const store_rows *rows, int64_t galaxy_id) {
    int lo = 0, hi = rows->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (rows->galaxy_id[mid] == galaxy_id) return mid;
        if (rows->galaxy_id[mid] < galaxy_id) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* The same for ids that come mostly in ascending order (a scan in key order): gallops
 * forward from the last place found, *at, so a scan costs O(1) a row. */
static int row_seek(const store_rows *rows, int *at, int64_t galaxy_id) {
    int n = rows->n, lo = *at;
    if (lo >= n || lo < 0 || rows->galaxy_id[lo] > galaxy_id) lo = 0;
    int hi = lo, step = 1;
    while (hi < n && rows->galaxy_id[hi] < galaxy_id) {
        lo = hi;
        hi += step;
        step *= 2;
    }
    if (hi > n - 1) hi = n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (rows->galaxy_id[mid] == galaxy_id) return *at = mid;
        if (rows->galaxy_id[mid] < galaxy_id) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

int store_run_dense(store *s, int64_t run_id, const store_rows *rows, int d, float *out) {
    memset(out, 0, (size_t)rows->n * (size_t)d * sizeof *out);
    sqlite3_stmt *st =
        store_prepare(s, "SELECT galaxy_id, feature, value FROM activations WHERE run_id = ?1");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    int rc, at = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int r = row_seek(rows, &at, sqlite3_column_int64(st, 0));
        int f = sqlite3_column_int(st, 1);
        if (r >= 0 && f >= 0 && f < d) out[(size_t)r * d + f] = (float)sqlite3_column_double(st, 2);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SF_OK : store_db_fail(s, "reading activations");
}

int store_run_sparse(store *s, int64_t run_id, const store_rows *rows, int64_t *start,
                     int **feature, float **value) {
    *feature = NULL;
    *value = NULL;
    for (int i = 0; i <= rows->n; i++) start[i] = 0;
    long long total = store_count_run_rows(s, "activations", run_id);
    int *f = xmalloc(((size_t)total + 1) * sizeof *f);
    float *v = xmalloc(((size_t)total + 1) * sizeof *v);
    /* the primary key gives the galaxies in order, as rows has them */
    sqlite3_stmt *st = store_prepare(
        s,
        "SELECT galaxy_id, feature, value FROM activations WHERE run_id = ?1 ORDER BY galaxy_id");
    if (!st) {
        free(f);
        free(v);
        return SF_ERR;
    }
    sqlite3_bind_int64(st, 1, run_id);
    int r = 0, rc;
    int64_t e = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && e < total) {
        int64_t g = sqlite3_column_int64(st, 0);
        while (r < rows->n && rows->galaxy_id[r] < g) start[++r] = e;
        if (r >= rows->n || rows->galaxy_id[r] != g) continue;
        f[e] = sqlite3_column_int(st, 1);
        v[e++] = (float)sqlite3_column_double(st, 2);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        free(f);
        free(v);
        return store_db_fail(s, "reading activations");
    }
    while (r < rows->n) start[++r] = e;
    *feature = f;
    *value = v;
    return SF_OK;
}

int store_run_feature_column(store *s, int64_t run_id, const store_rows *rows, int feature,
                             float *out) {
    memset(out, 0, (size_t)rows->n * sizeof *out);
    sqlite3_stmt *st = store_prepare(
        s, "SELECT galaxy_id, value FROM activations INDEXED BY activations_by_feature "
           "WHERE run_id = ?1 AND feature = ?2");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, feature);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int r = row_of(rows, sqlite3_column_int64(st, 0));
        if (r >= 0) out[r] = (float)sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SF_OK : store_db_fail(s, "reading a feature's activations");
}

int store_run_predictions(store *s, int64_t run_id, const store_rows *rows, int n_out, float *pred,
                          float *truth) {
    size_t total = (size_t)rows->n * (size_t)n_out;
    for (size_t i = 0; i < total; i++) {
        if (pred) pred[i] = NAN;
        if (truth) truth[i] = NAN;
    }
    sqlite3_stmt *st = store_prepare(
        s, "SELECT galaxy_id, target, pred, truth FROM predictions WHERE run_id = ?1");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    int rc, at = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int r = row_seek(rows, &at, sqlite3_column_int64(st, 0));
        int t = sqlite3_column_int(st, 1);
        if (r < 0 || t < 0 || t >= n_out) continue;
        if (pred) pred[(size_t)r * n_out + t] = (float)sqlite3_column_double(st, 2);
        if (truth) truth[(size_t)r * n_out + t] = (float)sqlite3_column_double(st, 3);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SF_OK : store_db_fail(s, "reading predictions");
}

int store_catalog_columns(store *s, char (**names)[STORE_NAME_MAX], int *n) {
    *names = NULL;
    *n = 0;
    long long has_ra = 0, has_dec = 0;
    sqlite3_stmt *st =
        store_prepare(s, "SELECT EXISTS (SELECT 1 FROM galaxies WHERE ra IS NOT NULL), "
                         "EXISTS (SELECT 1 FROM galaxies WHERE dec IS NOT NULL)");
    if (!st) return SF_ERR;
    if (sqlite3_step(st) == SQLITE_ROW) {
        has_ra = sqlite3_column_int(st, 0);
        has_dec = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    st = store_prepare(s, "SELECT name FROM catalog_columns ORDER BY id");
    if (!st) return SF_ERR;
    int cap = 16, count = 0, rc;
    char(*list)[STORE_NAME_MAX] = xmalloc((size_t)cap * sizeof *list);
    if (has_ra) snprintf(list[count++], STORE_NAME_MAX, "ra");
    if (has_dec) snprintf(list[count++], STORE_NAME_MAX, "dec");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap *= 2;
            list = xrealloc(list, (size_t)cap * sizeof *list);
        }
        copy_text(list[count++], STORE_NAME_MAX, sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(list);
        return store_db_fail(s, "reading catalogue columns");
    }
    *names = list;
    *n = count;
    return SF_OK;
}

int store_catalog_values(store *s, const store_rows *rows, const char *column, double *out) {
    for (int i = 0; i < rows->n; i++) out[i] = NAN;
    int is_ra = !strcmp(column, "ra"), is_dec = !strcmp(column, "dec");
    if ((is_ra || is_dec) && rows->n > 0) {
        /* the rows' id range in one scan when they fill much of it, else one look-up each */
        int64_t lo = rows->galaxy_id[0], hi = rows->galaxy_id[rows->n - 1];
        int scan = (double)(hi - lo + 1) < 20.0 * rows->n;
        sqlite3_stmt *st = store_prepare(
            s, scan ? (is_ra ? "SELECT id, ra FROM galaxies WHERE id BETWEEN ?1 AND ?2"
                             : "SELECT id, dec FROM galaxies WHERE id BETWEEN ?1 AND ?2")
                    : (is_ra ? "SELECT id, ra FROM galaxies WHERE id = ?1"
                             : "SELECT id, dec FROM galaxies WHERE id = ?1"));
        if (!st) return SF_ERR;
        int rc = SQLITE_DONE;
        if (scan) {
            sqlite3_bind_int64(st, 1, lo);
            sqlite3_bind_int64(st, 2, hi);
            int at = 0;
            while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                int r = row_seek(rows, &at, sqlite3_column_int64(st, 0));
                if (r >= 0) out[r] = store_column_double(st, 1);
            }
        } else {
            for (int i = 0; i < rows->n && (rc == SQLITE_DONE || rc == SQLITE_ROW); i++) {
                sqlite3_bind_int64(st, 1, rows->galaxy_id[i]);
                rc = sqlite3_step(st);
                if (rc == SQLITE_ROW) out[i] = store_column_double(st, 1);
                sqlite3_reset(st);
            }
            if (rc == SQLITE_ROW) rc = SQLITE_DONE;
        }
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? SF_OK : store_db_fail(s, "reading coordinates");
    }
    if (is_ra || is_dec) return SF_OK;
    sqlite3_stmt *st = store_prepare(s, "SELECT id FROM catalog_columns WHERE name = ?1");
    if (!st) return SF_ERR;
    sqlite3_bind_text(st, 1, column, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    int64_t cid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return store_db_fail(s, "finding a column");
    if (cid < 0) {
        char(*names)[STORE_NAME_MAX] = NULL;
        int n = 0;
        char list[1024] = "";
        if (store_catalog_columns(s, &names, &n) == SF_OK) {
            size_t used = 0;
            for (int i = 0; i < n && used + 1 < sizeof list; i++) {
                int w = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", names[i]);
                if (w < 0) break;
                used += (size_t)w;
            }
            free(names);
        }
        return sf_fail("%s: no catalogue column '%s' (there are: %s)", s->path, column,
                       list[0] ? list : "none");
    }
    st = store_prepare(s, "SELECT galaxy_id, value FROM catalog_values WHERE column_id = ?1");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, cid);
    int at = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int r = row_seek(rows, &at, sqlite3_column_int64(st, 0));
        if (r >= 0) out[r] = sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SF_OK : store_db_fail(s, "reading a catalogue column");
}
