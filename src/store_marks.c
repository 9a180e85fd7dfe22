/* store_marks.c: marks (bookmarks) on a run's features and galaxies (schema version 2).
 * Layer: store. Calls: store, sf_util; SQLite.
 * Called by: cli_marks, tui_marks.
 */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

/* Whether the file has the marks table. A connection opened READ on a version-1 file
 * looks again: another process (the explorer's own writes) may have migrated it since. */
static int has_marks(store *s, int *yes) {
    *yes = 0;
    if (s->version >= 2) {
        *yes = 1;
        return SF_OK;
    }
    sqlite3_stmt *st = store_prepare(s, "PRAGMA user_version");
    if (!st) return SF_ERR;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int v = sqlite3_column_int(st, 0);
        if (v >= 2 && v <= STORE_SCHEMA_VERSION) s->version = v;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return store_db_fail(s, "reading the schema version");
    *yes = s->version >= 2;
    return SF_OK;
}

static void copy_column(char *dst, size_t n, sqlite3_stmt *st, int col) {
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, n, "%s", t ? (const char *)t : "");
}

int store_marks(store *s, int64_t run_id, store_mark **marks, int *n) {
    *marks = NULL;
    *n = 0;
    int yes;
    if (has_marks(s, &yes) != SF_OK) return SF_ERR;
    if (!yes) return SF_OK;
    sqlite3_stmt *st = store_prepare(
        s, "SELECT m.id, m.run_id, m.feature, m.galaxy_id, g.objid, f.label, m.note, m.created "
           "FROM marks m LEFT JOIN galaxies g ON g.id = m.galaxy_id "
           "LEFT JOIN run_features f ON f.run_id = m.run_id AND f.feature = m.feature "
           "WHERE m.run_id = ?1 ORDER BY m.feature IS NULL, m.feature, g.objid, m.id");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    int cap = 0, count = 0, rc;
    store_mark *list = NULL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? 2 * cap : 16;
            list = xrealloc(list, (size_t)cap * sizeof *list);
        }
        store_mark *m = &list[count++];
        memset(m, 0, sizeof *m);
        m->id = sqlite3_column_int64(st, 0);
        m->run_id = sqlite3_column_int64(st, 1);
        m->feature = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 2);
        m->galaxy_id = sqlite3_column_int64(st, 3);
        copy_column(m->objid, sizeof m->objid, st, 4);
        copy_column(m->label, sizeof m->label, st, 5);
        copy_column(m->note, sizeof m->note, st, 6);
        copy_column(m->created, sizeof m->created, st, 7);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(list);
        return store_db_fail(s, "reading the marks");
    }
    *marks = list;
    *n = count;
    return SF_OK;
}

/* Checks what a mark names: exactly one of a feature of the run or a known galaxy. */
static int check_target(store *s, int64_t run_id, int feature, int64_t galaxy_id) {
    if ((feature >= 0) == (galaxy_id > 0))
        return sf_fail("a mark names either a feature or a galaxy (feature %d, galaxy id %lld)",
                       feature, (long long)galaxy_id);
    sqlite3_stmt *st =
        feature >= 0
            ? store_prepare(s, "SELECT 1 FROM run_features WHERE run_id = ?1 AND feature = ?2")
            : store_prepare(s, "SELECT (SELECT 1 FROM runs WHERE id = ?1), "
                               "(SELECT 1 FROM galaxies WHERE id = ?2)");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    if (feature >= 0) sqlite3_bind_int(st, 2, feature);
    else sqlite3_bind_int64(st, 2, galaxy_id);
    int rc = sqlite3_step(st);
    int run_ok = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
    int galaxy_ok = rc == SQLITE_ROW && feature < 0 && sqlite3_column_type(st, 1) != SQLITE_NULL;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return store_db_fail(s, "checking a mark");
    if (feature >= 0 && !run_ok)
        return sf_fail("%s: run %lld has no feature %d", s->path, (long long)run_id, feature);
    if (feature < 0 && !run_ok)
        return sf_fail("%s: no run with id %lld", s->path, (long long)run_id);
    if (feature < 0 && !galaxy_ok)
        return sf_fail("%s: no galaxy with id %lld", s->path, (long long)galaxy_id);
    return SF_OK;
}

static void bind_target(sqlite3_stmt *st, int64_t run_id, int feature, int64_t galaxy_id) {
    sqlite3_bind_int64(st, 1, run_id);
    if (feature >= 0) sqlite3_bind_int(st, 2, feature);
    else sqlite3_bind_null(st, 2);
    if (galaxy_id > 0) sqlite3_bind_int64(st, 3, galaxy_id);
    else sqlite3_bind_null(st, 3);
}

#define MARK_WHERE "run_id = ?1 AND feature IS ?2 AND galaxy_id IS ?3"

int store_mark_add(store *s, int64_t run_id, int feature, int64_t galaxy_id, const char *note,
                   int *added) {
    if (added) *added = 0;
    if (s->mode == STORE_READ) return sf_fail("%s was opened read-only; cannot mark", s->path);
    if (note && strlen(note) >= STORE_NOTE_MAX)
        return sf_fail("note too long (%zu bytes; at most %d)", strlen(note), STORE_NOTE_MAX - 1);
    if (store_begin(s) != SF_OK) return SF_ERR;
    if (check_target(s, run_id, feature, galaxy_id) != SF_OK) goto fail;
    sqlite3_stmt *st = store_prepare(s, "SELECT id FROM marks WHERE " MARK_WHERE);
    if (!st) goto fail;
    bind_target(st, run_id, feature, galaxy_id);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        store_db_fail(s, "finding a mark");
        goto fail;
    }
    if (id && !note) { /* marked already; the note stays */
        if (store_commit(s) != SF_OK) goto fail;
        return SF_OK;
    }
    st = id ? store_prepare(s, "UPDATE marks SET note = nullif(?4, '') WHERE id = ?5")
            : store_prepare(s, "INSERT INTO marks (run_id, feature, galaxy_id, note, created) "
                               "VALUES (?1, ?2, ?3, nullif(?4, ''), "
                               "strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))");
    if (!st) goto fail;
    bind_target(st, run_id, feature, galaxy_id);
    sqlite3_bind_text(st, 4, note ? note : "", -1, SQLITE_TRANSIENT);
    if (id) sqlite3_bind_int64(st, 5, id);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        store_db_fail(s, "saving a mark");
        goto fail;
    }
    if (store_commit(s) != SF_OK) goto fail;
    if (added) *added = id == 0;
    return SF_OK;
fail:
    store_rollback(s);
    return SF_ERR;
}

int store_mark_remove(store *s, int64_t run_id, int feature, int64_t galaxy_id, int *removed) {
    if (removed) *removed = 0;
    if (s->mode == STORE_READ) return sf_fail("%s was opened read-only; cannot unmark", s->path);
    if ((feature >= 0) == (galaxy_id > 0))
        return sf_fail("a mark names either a feature or a galaxy (feature %d, galaxy id %lld)",
                       feature, (long long)galaxy_id);
    sqlite3_stmt *st = store_prepare(s, "DELETE FROM marks WHERE " MARK_WHERE);
    if (!st) return SF_ERR;
    bind_target(st, run_id, feature, galaxy_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return store_db_fail(s, "removing a mark");
    if (removed) *removed = sqlite3_changes(s->db) > 0;
    return SF_OK;
}
