/* store.c: opening the run database, schema versions and migrations, runs.
 * Layer: store. Calls: sf_util; SQLite, cJSON.
 * Called by: analysis_run, cli_* (9), infer_store, query, query_similar, query_view, store_marks,
 *     store_merge, store_read, store_write, tui_app, tui_marks.
 */
#include "store_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

/* Schema changes after version 1 (share/schema.sql) go here, oldest first, never
 * edited once released: a new database runs schema.sql and then every step, an older
 * file opened for writing runs the steps above its version. */
static const store_migration builtin_migrations[] = {
    /* 2: marks (bookmarks) on a run's features and galaxies, each with an optional note.
     * A mark names either a feature (of run_features, so it goes with its run) or a
     * galaxy (of any run; the mark belongs to the run it was made in). */
    {2, "CREATE TABLE marks (\n"
        "    id        INTEGER PRIMARY KEY,\n"
        "    run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
        "    feature   INTEGER,                          -- NULL for a galaxy mark\n"
        "    galaxy_id INTEGER REFERENCES galaxies(id),  -- NULL for a feature mark\n"
        "    note      TEXT,\n"
        "    created   TEXT NOT NULL,                    -- ISO 8601 UTC\n"
        "    CHECK ((feature IS NULL) <> (galaxy_id IS NULL)),\n"
        "    FOREIGN KEY (run_id, feature) REFERENCES run_features(run_id, feature) ON DELETE "
        "CASCADE\n"
        ");\n"
        "CREATE UNIQUE INDEX marks_feature ON marks (run_id, feature) WHERE feature IS NOT NULL;\n"
        "CREATE UNIQUE INDEX marks_galaxy ON marks (run_id, galaxy_id) WHERE galaxy_id IS NOT "
        "NULL;\n"},
    /* 3: per-run summaries (store.h, store_summary.c): what the pages need from every
     * galaxy of a run. An older file upgraded to 3 gets every run's summaries computed in
     * the same transaction (upgrade below). */
    {3, store_summary_schema_sql},
    /* 4: each run's codes packed in galaxy order, and the statistics of every two runs
     * over the galaxies both hold (store.h, store_codes.c, store_cross.c). A pair is
     * stored both ways round; its rows go with either run. */
    {4,
     "CREATE TABLE run_codes (\n"
     "    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
     "    chunk  INTEGER NOT NULL,             -- 0, 1, ... in ascending galaxy id\n"
     "    n_rows INTEGER NOT NULL,             -- galaxies in the chunk\n"
     "    data   BLOB NOT NULL,                -- packed codes, see store_codes.c\n"
     "    UNIQUE (run_id, chunk)\n"
     ");\n"
     "CREATE TABLE run_pairs (\n"
     "    run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
     "    other_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
     "    n_shared INTEGER NOT NULL,           -- galaxies both runs hold\n"
     "    PRIMARY KEY (run_id, other_id)\n"
     ") WITHOUT ROWID;\n"
     "CREATE INDEX run_pairs_other ON run_pairs (other_id);\n"
     "-- per feature of run_id active on some shared galaxy: sums over the shared galaxies\n"
     "CREATE TABLE pair_features (\n"
     "    run_id   INTEGER NOT NULL,\n"
     "    other_id INTEGER NOT NULL,\n"
     "    feature  INTEGER NOT NULL,\n"
     "    n_active INTEGER NOT NULL,\n"
     "    sum      REAL NOT NULL,\n"
     "    sum_sq   REAL NOT NULL,\n"
     "    PRIMARY KEY (run_id, other_id, feature),\n"
     "    FOREIGN KEY (run_id, other_id) REFERENCES run_pairs(run_id, other_id) ON DELETE CASCADE\n"
     ") WITHOUT ROWID;\n"
     "-- per feature of run_id and feature of other_id active together on some shared galaxy\n"
     "CREATE TABLE pair_coact (\n"
     "    run_id        INTEGER NOT NULL,\n"
     "    other_id      INTEGER NOT NULL,\n"
     "    feature       INTEGER NOT NULL,\n"
     "    other_feature INTEGER NOT NULL,\n"
     "    n_both        INTEGER NOT NULL,\n"
     "    sum_product   REAL NOT NULL,\n"
     "    PRIMARY KEY (run_id, other_id, feature, other_feature),\n"
     "    FOREIGN KEY (run_id, other_id) REFERENCES run_pairs(run_id, other_id) ON DELETE CASCADE\n"
     ") WITHOUT ROWID;\n"},
};
static const int n_builtin_migrations =
    (int)(sizeof builtin_migrations / sizeof builtin_migrations[0]);

int store_db_fail(store *s, const char *what) {
    int code = sqlite3_extended_errcode(s->db);
    int primary = code & 0xff;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
        return sf_fail("%s is locked by another process (waited %d ms while %s): "
                       "try again when it has finished, or raise $SFNET_BUSY_TIMEOUT_MS",
                       s->path, s->busy_ms, what);
    if (primary == SQLITE_READONLY)
        return sf_fail("%s is read-only (%s): check the permissions of the file and "
                       "its directory, or copy it somewhere writable",
                       s->path, sqlite3_errmsg(s->db));
    if (primary == SQLITE_NOTADB)
        return sf_fail("%s is not a sfnet-explore run database (not an SQLite file)", s->path);
    if (primary == SQLITE_CORRUPT)
        return sf_fail("%s is damaged (%s): restore it from a copy", s->path,
                       sqlite3_errmsg(s->db));
    if (primary == SQLITE_FULL)
        return sf_fail("%s: the disk is full while %s; nothing was written", s->path, what);
    return sf_fail("%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

sqlite3_stmt *store_prepare(store *s, const char *sql) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        store_db_fail(s, "preparing a query");
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

int store_exec(store *s, const char *sql, const char *what) {
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sqlite3_free(msg);
        return store_db_fail(s, what);
    }
    return SF_OK;
}

int store_begin(store *s) { return store_exec(s, "BEGIN IMMEDIATE", "starting a write"); }

int store_commit(store *s) { return store_exec(s, "COMMIT", "committing"); }

void store_rollback(store *s) {
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* One integer from a pragma or query without parameters. */
static int query_int(store *s, const char *sql, long long *out) {
    sqlite3_stmt *st = store_prepare(s, sql);
    if (!st) return SF_ERR;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return SF_OK;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        *out = 0;
        return SF_OK;
    }
    return store_db_fail(s, "reading the file header");
}

void store_set_busy_timeout(store *s, int ms) {
    s->busy_ms = ms;
    sqlite3_busy_timeout(s->db, ms);
}

const char *store_path(const store *s) { return s->path; }
int store_schema_version(const store *s) { return s->version; }

static int set_version(store *s, int version) {
    /* PRAGMA takes no bound parameters; the value is an integer we print. */
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", version);
    return store_exec(s, sql, "setting the schema version");
}

/* Runs the steps above *version, in order, inside the caller's transaction; *version
 * becomes the last one applied. The caller rolls back on failure. */
static int apply_migrations(store *s, const store_migration *steps, int n_steps, int *version,
                            int up_to) {
    for (int i = 0; i < n_steps; i++) {
        if (steps[i].to_version <= *version || steps[i].to_version > up_to) continue;
        if (steps[i].to_version != *version + 1)
            return sf_fail("%s: no migration from schema version %d to %d", s->path, *version,
                           *version + 1);
        char *msg = NULL;
        if (sqlite3_exec(s->db, steps[i].sql, NULL, NULL, &msg) != SQLITE_OK) {
            sf_fail("%s: upgrading the schema from version %d to %d failed (%s); the file "
                    "is unchanged",
                    s->path, *version, steps[i].to_version, msg ? msg : sqlite3_errmsg(s->db));
            sqlite3_free(msg);
            return SF_ERR;
        }
        *version = steps[i].to_version;
    }
    return SF_OK;
}

/* A new database: share/schema.sql (version STORE_SCHEMA_BASE_VERSION) and then the
 * built-in migrations, in one transaction. */
/* share/schema.sql (version STORE_SCHEMA_BASE_VERSION) into *sql (owned), with its
 * path in path. */
static int read_schema_sql(char **sql, char *path, size_t path_size) {
    snprintf(path, path_size, "%s/schema.sql", sf_share_dir());
    size_t len = 0;
    if (sf_read_file(path, sql, &len) != SF_OK)
        return sf_fail("cannot read the database schema %s (%s): reinstall sfnet-explore "
                       "or set $SFNET_SHARE to its share directory",
                       path, sf_last_error());
    /* a stale installed share/ must not create tables of another version */
    const char *mark = strstr(*sql, "schema version ");
    int file_version = mark ? atoi(mark + strlen("schema version ")) : -1;
    if (file_version != STORE_SCHEMA_BASE_VERSION) {
        free(*sql);
        *sql = NULL;
        return sf_fail("%s describes schema version %d, but this sfnet-explore starts new "
                       "databases from version %d: reinstall it (or point $SFNET_SHARE at the "
                       "right share directory)",
                       path, file_version, STORE_SCHEMA_BASE_VERSION);
    }
    return SF_OK;
}

static int create_schema(store *s) {
    char path[4096];
    char *sql = NULL;
    if (read_schema_sql(&sql, path, sizeof path) != SF_OK) return SF_ERR;
    if (store_begin(s) != SF_OK) {
        free(sql);
        return SF_ERR;
    }
    long long n_objects = 0;
    if (query_int(s, "SELECT count(*) FROM sqlite_schema", &n_objects) != SF_OK) goto fail;
    if (n_objects > 0) {
        /* another process created it between our checks and the lock */
        free(sql);
        store_rollback(s);
        return SF_OK;
    }
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sf_fail("%s: the schema %s does not apply (%s): reinstall sfnet-explore", s->path, path,
                msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        goto fail;
    }
    int version = STORE_SCHEMA_BASE_VERSION;
    if (apply_migrations(s, builtin_migrations, n_builtin_migrations, &version, INT_MAX) != SF_OK)
        goto fail;
    SF_ASSERT(version == STORE_SCHEMA_VERSION);
    char app[64];
    snprintf(app, sizeof app, "PRAGMA application_id = %d", (int)STORE_APPLICATION_ID);
    if (store_exec(s, app, "marking the file") != SF_OK) goto fail;
    if (set_version(s, version) != SF_OK) goto fail;
    if (store_commit(s) != SF_OK) goto fail;
    free(sql);
    return SF_OK;
fail:
    free(sql);
    store_rollback(s);
    return SF_ERR;
}

/* ---- the schema a file of a version must have ---- */

/* The tables, columns and indexes of a database, one "kind name" text per row in a
 * sorted list: "table runs", "column runs.engine", "index activations_by_feature". */
typedef struct {
    int n, cap;
    char **item;
} name_list;

static void name_list_free(name_list *l) {
    for (int i = 0; i < l->n; i++) free(l->item[i]);
    free(l->item);
    memset(l, 0, sizeof *l);
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int schema_names(sqlite3 *db, name_list *out) {
    static const char *const sql = "SELECT 'table ' || name FROM sqlite_schema "
                                   "  WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                                   "UNION ALL SELECT 'column ' || m.name || '.' || p.name "
                                   "  FROM sqlite_schema AS m, pragma_table_info(m.name) AS p "
                                   "  WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' "
                                   "UNION ALL SELECT 'index ' || name FROM sqlite_schema "
                                   "  WHERE type = 'index' AND sql IS NOT NULL";
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (!t) continue;
        if (out->n == out->cap) {
            out->cap = out->cap ? 2 * out->cap : 64;
            out->item = xrealloc(out->item, (size_t)out->cap * sizeof *out->item);
        }
        out->item[out->n++] = xstrdup(t);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        name_list_free(out);
        return SF_ERR;
    }
    qsort(out->item, (size_t)out->n, sizeof *out->item, name_cmp);
    return SF_OK;
}

/* What share/schema.sql and the built-in migrations up to version make, read from a
 * fresh in-memory database built with them: the check follows every new migration
 * without being edited. */
static int build_expected(int version, name_list *out) {
    char path[4096];
    char *sql = NULL;
    if (read_schema_sql(&sql, path, sizeof path) != SF_OK) return SF_ERR;
    store mem = {.path = "(the expected schema)"};
    int rc = sqlite3_open_v2(":memory:", &mem.db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
                     sqlite3_exec(mem.db, sql, NULL, NULL, NULL) == SQLITE_OK
                 ? SF_OK
                 : sf_fail("%s does not apply (%s): reinstall sfnet-explore", path,
                           mem.db ? sqlite3_errmsg(mem.db) : "out of memory");
    int v = STORE_SCHEMA_BASE_VERSION;
    if (rc == SF_OK)
        rc = apply_migrations(&mem, builtin_migrations, n_builtin_migrations, &v, version);
    if (rc == SF_OK && schema_names(mem.db, out) != SF_OK)
        rc = sf_fail("reading the expected schema: %s", sqlite3_errmsg(mem.db));
    sqlite3_close(mem.db);
    free(sql);
    return rc;
}

/* The expected names are built once per process, version and share directory (a
 * program opens many databases; the fuzzer opens thousands a second). The list handed
 * out stays valid for the whole process. */
static const name_list *expected_names(int version) {
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static struct {
        char share[4096];
        int version;
        name_list names;
    } cache[8];
    static int n_cache;
    const char *share = sf_share_dir();
    const name_list *found = NULL;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < n_cache && !found; i++)
        if (cache[i].version == version && !strcmp(cache[i].share, share)) found = &cache[i].names;
    if (!found) {
        name_list built;
        if (build_expected(version, &built) == SF_OK) {
            int slot = 7; /* a full cache replaces its last entry */
            if (n_cache < 8) slot = n_cache++;
            else name_list_free(&cache[slot].names);
            snprintf(cache[slot].share, sizeof cache[slot].share, "%s", share);
            cache[slot].version = version;
            cache[slot].names = built;
            found = &cache[slot].names;
        }
    }
    pthread_mutex_unlock(&lock);
    return found;
}

/* SF_ERR naming the first table, column or index that a file of its version must have
 * and has not (more are allowed: a newer branch's additions, an analyst's own tables). */
static int check_schema(store *s) {
    const name_list *want_list = expected_names(s->version);
    if (!want_list) {
        /* a browse-only copy of the binary without its share/ still reads */
        if (s->mode == STORE_READ) return SF_OK;
        return SF_ERR;
    }
    name_list want = *want_list, have;
    if (schema_names(s->db, &have) != SF_OK) return store_db_fail(s, "reading the schema");
    int rc = SF_OK;
    /* a missing table first, rather than its first column */
    static const char *const kinds[] = {"table ", "column ", "index "};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < want.n && rc == SF_OK; i++)
            if (!strncmp(want.item[i], kinds[k], strlen(kinds[k])) &&
                !bsearch(&want.item[i], have.item, (size_t)have.n, sizeof *have.item, name_cmp))
                rc = sf_fail("%s is damaged: %s is missing (schema version %d has it); it was "
                             "changed by another program: restore it from a copy",
                             s->path, want.item[i], s->version);
    name_list_free(&have);
    return rc;
}

/* PRAGMA quick_check reads every page; worth it before a write into a file this small. */
#define QUICK_CHECK_MAX_BYTES (64LL << 20)

static int check_pages(store *s) {
    long long pages = 0, page_size = 0;
    if (query_int(s, "PRAGMA page_count", &pages) != SF_OK ||
        query_int(s, "PRAGMA page_size", &page_size) != SF_OK)
        return SF_ERR;
    if (pages * page_size > QUICK_CHECK_MAX_BYTES) return SF_OK;
    sqlite3_stmt *st = store_prepare(s, "PRAGMA quick_check(1)");
    if (!st) return SF_ERR;
    int rc = sqlite3_step(st);
    const char *res = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    int status = SF_OK;
    if (rc != SQLITE_ROW) status = store_db_fail(s, "checking the file");
    else if (!res || strcmp(res, "ok"))
        status = sf_fail("%s is damaged (%s): restore it from a copy", s->path,
                         res ? res : "quick_check failed");
    sqlite3_finalize(st);
    return status;
}

int store_migrate(store *s, const store_migration *steps, int n_steps) {
    long long v = 0;
    if (query_int(s, "PRAGMA user_version", &v) != SF_OK) return SF_ERR;
    int todo = 0;
    for (int i = 0; i < n_steps; i++)
        if (steps[i].to_version > v) todo++;
    if (!todo) {
        s->version = (int)v;
        return SF_OK;
    }
    if (store_begin(s) != SF_OK) return SF_ERR;
    /* another process may have migrated it between the check and the lock */
    if (query_int(s, "PRAGMA user_version", &v) != SF_OK) {
        store_rollback(s);
        return SF_ERR;
    }
    int version = (int)v;
    if (apply_migrations(s, steps, n_steps, &version, INT_MAX) != SF_OK) {
        store_rollback(s);
        return SF_ERR;
    }
    if ((version != v && set_version(s, version) != SF_OK) || store_commit(s) != SF_OK) {
        store_rollback(s);
        return SF_ERR;
    }
    s->version = version;
    return SF_OK;
}

/* The runs of the file without summaries (none once every writer computes them; all
 * of them in a file just upgraded from before version 3). *ids owned. */
static int runs_without_summaries(store *s, int64_t **ids, int *n) {
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *st = store_prepare(s, "SELECT id FROM runs WHERE NOT EXISTS (SELECT 1 FROM "
                                        "run_summaries WHERE run_id = runs.id) ORDER BY id");
    if (!st) return SF_ERR;
    int cap = 4, rc;
    int64_t *list = xmalloc((size_t)cap * sizeof *list);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) list = xrealloc(list, (size_t)(cap *= 2) * sizeof *list);
        list[(*n)++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(list);
        *n = 0;
        return store_db_fail(s, "listing runs without summaries");
    }
    *ids = list;
    return SF_OK;
}

/* A file opened for writing: the built-in migrations above its version (2 -> 3 -> 4),
 * then the summaries of every run that lacks them, then the codes and pair statistics
 * of every run and every two runs that lack them, in one transaction (on failure or Ctrl-C the
 * file keeps its version and contents). */
static int upgrade(store *s) {
    long long v = 0;
    if (query_int(s, "PRAGMA user_version", &v) != SF_OK) return SF_ERR;
    int64_t *ids = NULL;
    int n = 0;
    if (v >= STORE_SCHEMA_VERSION) {
        s->version = (int)v;
        if (runs_without_summaries(s, &ids, &n) != SF_OK) return SF_ERR;
        free(ids);
        /* nothing to summarize: the codes and pair statistics of a run stored another
         * way (merging) are written in their own transaction, one query when none lack */
        if (n == 0) return store_cross_refresh(s);
    }
    if (store_begin(s) != SF_OK) return SF_ERR;
    /* another process may have upgraded it between the check and the lock */
    if (query_int(s, "PRAGMA user_version", &v) != SF_OK) goto fail;
    int version = (int)v;
    if (apply_migrations(s, builtin_migrations, n_builtin_migrations, &version, INT_MAX) != SF_OK)
        goto fail;
    if (version != v && set_version(s, version) != SF_OK) goto fail;
    if (runs_without_summaries(s, &ids, &n) != SF_OK) goto fail;
    for (int i = 0; i < n; i++)
        if (store_run_summarize(s, ids[i]) != SF_OK) {
            if (v < 3)
                sf_fail_prefix("upgrading to schema version 3 failed, the file is unchanged");
            goto fail;
        }
    free(ids);
    ids = NULL;
    /* then every run's codes and the statistics of every two runs (version 4), in the
     * same transaction */
    int before = s->version;
    s->version = version;
    if (store_cross_refresh(s) != SF_OK) {
        s->version = before;
        if (v < 4) sf_fail_prefix("upgrading to schema version 4 failed, the file is unchanged");
        goto fail;
    }
    if (store_commit(s) != SF_OK) {
        s->version = before;
        goto fail;
    }
    return SF_OK;
fail:
    free(ids);
    store_rollback(s);
    return SF_ERR;
}

/* Before SQLite's first use: no memory statistics, whose global mutex every allocation
 * would take (a run of 250,000 galaxies makes millions of them). Where the process used
 * SQLite before (another library), the call is refused and nothing changes. */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;
static void sqlite_setup(void) { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

static int busy_timeout_default(void) {
    const char *env = getenv("SFNET_BUSY_TIMEOUT_MS");
    if (env && *env) {
        char *end = NULL;
        long v = strtol(env, &end, 10);
        if (end && !*end && v >= 0 && v <= INT_MAX) return (int)v;
    }
    return 5000;
}

static int dir_writable(const char *path) {
    char *copy = xstrdup(path);
    char *slash = strrchr(copy, '/');
    const char *dir = ".";
    if (slash == copy) dir = "/";
    else if (slash) {
        *slash = 0;
        dir = copy;
    }
    int ok = access(dir, W_OK) == 0;
    free(copy);
    return ok;
}

/* A WAL database needs nothing beside it but its -wal and -shm files: where both
 * are there and writable, a folder that is not writable is no obstacle. */
static int wal_files_writable(const char *path) {
    size_t n = strlen(path) + 8;
    char *side = xmalloc(n);
    snprintf(side, n, "%s-wal", path);
    int ok = access(side, W_OK) == 0;
    snprintf(side, n, "%s-shm", path);
    ok = ok && access(side, W_OK) == 0;
    free(side);
    return ok;
}

/* "file:<path>?immutable=1" with the characters URIs reserve escaped. */
static char *immutable_uri(const char *path) {
    size_t n = strlen(path);
    char *uri = xmalloc(3 * n + 32);
    char *o = uri + sprintf(uri, "file:");
    for (const char *p = path; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '%' || c == '?' || c == '#' || c < 0x20 || c >= 0x7f) o += sprintf(o, "%%%02X", c);
        else *o++ = (char)c;
    }
    strcpy(o, "?immutable=1");
    return uri;
}

/* A WAL database can only be read where SQLite may create its -shm file beside it.
 * A run database shared read-only (a read-only folder, a collaborator's copy) is
 * opened as immutable instead: nobody can be writing it. */
static int reopen_immutable_if_needed(store *s) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_schema", -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_finalize(st);
    int primary = rc & 0xff;
    if (rc == SQLITE_ROW || (primary != SQLITE_READONLY && primary != SQLITE_CANTOPEN))
        return SF_OK; /* readable, or an error the caller reports */
    char wal[4200];
    snprintf(wal, sizeof wal, "%s-wal", s->path);
    struct stat sb;
    if (stat(wal, &sb) == 0 && sb.st_size > 0)
        return sf_fail("%s cannot be read here: its journal %s holds changes that only a "
                       "writable folder lets SQLite apply; open it once where the folder is "
                       "writable (or copy both files there)",
                       s->path, wal);
    sqlite3_close_v2(s->db);
    s->db = NULL;
    char *uri = immutable_uri(s->path);
    rc = sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                         NULL);
    free(uri);
    if (rc != SQLITE_OK)
        return sf_fail("%s: cannot open read-only: %s", s->path,
                       s->db ? sqlite3_errmsg(s->db) : "out of memory");
    sqlite3_extended_result_codes(s->db, 1);
    store_set_busy_timeout(s, s->busy_ms);
    return SF_OK;
}

/* What every open does once SQLite has the file: ours (or empty, and then created
 * when mode allows), of a version this binary reads, with its version's schema (and,
 * opened for writing, its pages intact when the file is small enough to check);
 * migrated and in WAL mode when opened for writing. */
static int open_checks(store *s, int mode) {
    const char *path = s->path;
    long long app_id = 0, version = 0, n_objects = 0;
    if (query_int(s, "PRAGMA application_id", &app_id) != SF_OK ||
        query_int(s, "PRAGMA user_version", &version) != SF_OK ||
        query_int(s, "SELECT count(*) FROM sqlite_schema", &n_objects) != SF_OK)
        return SF_ERR;

    if (app_id == 0 && version == 0 && n_objects == 0) {
        if (mode == STORE_READ) {
            sf_fail("%s is empty, not a sfnet-explore run database (create one with "
                    "sfnet-explore --train ... %s)",
                    path, path);
            return SF_ERR;
        }
        if (create_schema(s) != SF_OK) return SF_ERR;
        if (query_int(s, "PRAGMA application_id", &app_id) != SF_OK ||
            query_int(s, "PRAGMA user_version", &version) != SF_OK)
            return SF_ERR;
    }
    if ((uint32_t)app_id != (uint32_t)STORE_APPLICATION_ID) {
        sf_fail("%s is an SQLite database but not a sfnet-explore run database "
                "(application_id 0x%08x, expected 0x%08x); refusing to touch it",
                path, (unsigned)app_id, (unsigned)STORE_APPLICATION_ID);
        return SF_ERR;
    }
    if (version > STORE_SCHEMA_VERSION) {
        sf_fail("%s was written by a newer sfnet-explore (schema version %lld; this is "
                "version %s, which reads up to %d): upgrade sfnet-explore",
                path, version, SF_VERSION, STORE_SCHEMA_VERSION);
        return SF_ERR;
    }
    if (version < 1) {
        sf_fail("%s has no schema version (user_version %lld): it is damaged", path, version);
        return SF_ERR;
    }
    s->version = (int)version;
    /* the tables, columns and indexes of its version, before any work is done with it
     * (an older version is checked as it is, then migrated) */
    if (check_schema(s) != SF_OK) return SF_ERR;
    if (mode != STORE_READ && check_pages(s) != SF_OK) return SF_ERR;

    if (store_exec(s, "PRAGMA foreign_keys = ON", "enabling foreign keys") != SF_OK) return SF_ERR;
    if (mode != STORE_READ) {
        if (upgrade(s) != SF_OK) return SF_ERR;
        sqlite3_stmt *st = store_prepare(s, "PRAGMA journal_mode = WAL");
        if (!st) return SF_ERR;
        int rc = sqlite3_step(st);
        const char *jm = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
        int wal = jm && !strcmp(jm, "wal");
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW) {
            store_db_fail(s, "switching to WAL mode");
            return SF_ERR;
        }
        if (!wal) {
            sf_fail("%s: SQLite refused WAL mode (journal mode %s)", path, jm ? jm : "?");
            return SF_ERR;
        }
        if (store_exec(s, "PRAGMA synchronous = NORMAL", "setting synchronous") != SF_OK)
            return SF_ERR;
    }
    return SF_OK;
}

int store_open(store **out, const char *path, int mode) {
    *out = NULL;
    struct stat stbuf;
    int exists = stat(path, &stbuf) == 0;
    if (!exists && mode != STORE_CREATE) {
        return sf_fail("%s: no such run database (create one with "
                       "sfnet-explore --train ... %s)",
                       path, path);
    }
    if (exists && S_ISDIR(stbuf.st_mode))
        return sf_fail("%s is a directory, not a run database", path);
    if (mode != STORE_READ) {
        /* root may write anywhere: honour the permission bits as the user's intent */
        int no_write_bits = (stbuf.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)) == 0;
        if (exists && (access(path, W_OK) != 0 || no_write_bits))
            return sf_fail("%s is read-only: sfnet-explore needs to write to it; change its "
                           "permissions or give another file",
                           path);
        if (!dir_writable(path) && !wal_files_writable(path))
            return sf_fail("%s: its directory is not writable (SQLite keeps a journal beside "
                           "the file): choose a writable directory",
                           path);
    }

    pthread_once(&sqlite_once, sqlite_setup);
    store *s = xcalloc(1, sizeof *s);
    s->path = xstrdup(path);
    s->mode = mode;
    s->created = !exists;
    /* a store is used by one thread at a time (store.h): no mutex around each call */
    int flags = SQLITE_OPEN_NOMUTEX |
                (mode == STORE_READ
                     ? SQLITE_OPEN_READONLY
                     : SQLITE_OPEN_READWRITE | (mode == STORE_CREATE ? SQLITE_OPEN_CREATE : 0));
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        if (s->db) sf_fail("%s: cannot open: %s", path, sqlite3_errmsg(s->db));
        else sf_fail("%s: cannot open (out of memory)", path);
        store_close(s);
        return SF_ERR;
    }
    sqlite3_extended_result_codes(s->db, 1);
    store_set_busy_timeout(s, busy_timeout_default());

    if (mode == STORE_READ && reopen_immutable_if_needed(s) != SF_OK) goto fail;
    if (open_checks(s, mode) != SF_OK) goto fail;
    *out = s;
    return SF_OK;
fail:
    store_close(s);
    if (!exists) {
        /* do not leave behind the empty file SQLite made for a database never created */
        struct stat now;
        if (stat(path, &now) == 0 && now.st_size == 0) unlink(path);
        char side[4200];
        snprintf(side, sizeof side, "%s-wal", path);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", path);
        unlink(side);
    }
    return SF_ERR;
}

int store_open_bytes(store **out, const void *data, size_t len, const char *name) {
    *out = NULL;
    if (len < 100 || memcmp(data, "SQLite format 3", 16))
        return sf_fail("%s is not a sfnet-explore run database (not an SQLite file)", name);
    store *s = xcalloc(1, sizeof *s);
    s->path = xstrdup(name);
    s->mode = STORE_READ;
    if (sqlite3_open_v2(":memory:", &s->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sf_fail("%s: cannot open (out of memory)", name);
        store_close(s);
        return SF_ERR;
    }
    sqlite3_extended_result_codes(s->db, 1);
    unsigned char *copy = sqlite3_malloc64(len);
    if (!copy) {
        sf_fail("%s: out of memory (%zu bytes)", name, len);
        store_close(s);
        return SF_ERR;
    }
    memcpy(copy, data, len);
    /* a WAL file's header says so (bytes 18, 19 = 2); a copy in memory has no WAL */
    if (copy[18] == 2) copy[18] = 1;
    if (copy[19] == 2) copy[19] = 1;
    if (sqlite3_deserialize(s->db, "main", copy, (sqlite3_int64)len, (sqlite3_int64)len,
                            SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY) !=
        SQLITE_OK) {
        store_db_fail(s, "reading it");
        store_close(s);
        return SF_ERR;
    }
    if (open_checks(s, STORE_READ) != SF_OK) {
        store_close(s);
        return SF_ERR;
    }
    *out = s;
    return SF_OK;
}

void store_close(store *s) {
    if (!s) return;
    if (s->db) sqlite3_close_v2(s->db);
    free(s->path);
    free(s);
}

void store_close_unless_used(store *s) {
    if (!s) return;
    long long n_runs = -1;
    if (s->created && query_int(s, "SELECT count(*) FROM runs", &n_runs) != SF_OK) n_runs = -1;
    char *path = xstrdup(s->path);
    store_close(s);
    if (n_runs == 0) {
        static const char *const sides[] = {"", "-wal", "-shm", "-journal"};
        for (size_t i = 0; i < sizeof sides / sizeof *sides; i++) {
            char p[4200];
            snprintf(p, sizeof p, "%s%s", path, sides[i]);
            if (unlink(p) != 0 && errno != ENOENT)
                sf_warn("%s: cannot remove: %s", p, strerror(errno));
        }
    }
    free(path);
}

/* ---- runs ------------------------------------------------------------------ */

void store_run_clear(store_run *r) {
    free(r->hyper_json);
    free(r->curve);
    memset(r, 0, sizeof *r);
}

void store_runs_free(store_run *runs, int n) {
    for (int i = 0; i < n; i++) store_run_clear(&runs[i]);
    free(runs);
}

static void copy_text(char *dst, size_t n, const unsigned char *src) {
    snprintf(dst, n, "%s", src ? (const char *)src : "");
}

long long store_count_run_rows(store *s, const char *table, int64_t run_id) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE run_id = ?1", table);
    sqlite3_stmt *st = store_prepare(s, sql);
    if (!st) return 0;
    sqlite3_bind_int64(st, 1, run_id);
    long long n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return n;
}

double store_column_double(sqlite3_stmt *st, int col) {
    return sqlite3_column_type(st, col) == SQLITE_NULL ? NAN : sqlite3_column_double(st, col);
}

static void parse_norm(store_run *r, const char *json) {
    for (int c = 0; c < 3; c++) {
        r->image_mean[c] = 0;
        r->image_std[c] = 1;
    }
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    if (!root) return;
    cJSON *mean = cJSON_GetObjectItemCaseSensitive(root, "mean");
    cJSON *std = cJSON_GetObjectItemCaseSensitive(root, "std");
    for (int c = 0; c < 3; c++) {
        cJSON *m = cJSON_GetArrayItem(mean, c), *sd = cJSON_GetArrayItem(std, c);
        if (cJSON_IsNumber(m)) r->image_mean[c] = (float)m->valuedouble;
        if (cJSON_IsNumber(sd)) r->image_std[c] = (float)sd->valuedouble;
    }
    cJSON_Delete(root);
}

static double json_num(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void parse_curve(store_run *r, const char *json) {
    r->n_curve = 0;
    r->curve = NULL;
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    if (!cJSON_IsArray(root)) {
        cJSON_Delete(root);
        return;
    }
    int n = cJSON_GetArraySize(root);
    r->curve = xcalloc((size_t)(n > 0 ? n : 1), sizeof *r->curve);
    const cJSON *it;
    cJSON_ArrayForEach(it, root) {
        store_curve_point *p = &r->curve[r->n_curve++];
        double e = json_num(it, "epoch");
        p->epoch = isfinite(e) ? (int)e : r->n_curve;
        p->train_loss = json_num(it, "train_loss");
        p->valid_rmse = json_num(it, "valid_rmse");
        p->lr = json_num(it, "lr");
    }
    cJSON_Delete(root);
}

#define RUN_COLUMNS                                                                                \
    "id, prefix, target_spec, n_out, k, width, d, seed, split_seed, n_galaxies, n_train, "         \
    "n_valid, train_rmse, valid_rmse, hyper, normalisation, curve, catalog, images, "              \
    "engine, train_seconds, created, tool_version"

static void read_run_row(sqlite3_stmt *st, store_run *r) {
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    copy_text(r->prefix, sizeof r->prefix, sqlite3_column_text(st, 1));
    copy_text(r->target_spec, sizeof r->target_spec, sqlite3_column_text(st, 2));
    r->n_out = sqlite3_column_int(st, 3);
    r->k = sqlite3_column_int(st, 4);
    r->width = sqlite3_column_int(st, 5);
    r->d = sqlite3_column_int(st, 6);
    r->seed = (uint64_t)sqlite3_column_int64(st, 7);
    r->split_seed = (uint64_t)sqlite3_column_int64(st, 8);
    r->n_galaxies = sqlite3_column_int(st, 9);
    r->n_train = sqlite3_column_int(st, 10);
    r->n_valid = sqlite3_column_int(st, 11);
    r->train_rmse = store_column_double(st, 12);
    r->valid_rmse = store_column_double(st, 13);
    const unsigned char *hyper = sqlite3_column_text(st, 14);
    r->hyper_json = xstrdup(hyper ? (const char *)hyper : "{}");
    parse_norm(r, (const char *)sqlite3_column_text(st, 15));
    parse_curve(r, (const char *)sqlite3_column_text(st, 16));
    copy_text(r->catalog, sizeof r->catalog, sqlite3_column_text(st, 17));
    copy_text(r->images, sizeof r->images, sqlite3_column_text(st, 18));
    copy_text(r->engine, sizeof r->engine, sqlite3_column_text(st, 19));
    r->train_seconds = store_column_double(st, 20);
    copy_text(r->created, sizeof r->created, sqlite3_column_text(st, 21));
    copy_text(r->tool_version, sizeof r->tool_version, sqlite3_column_text(st, 22));
    if (r->n_out > STORE_MAX_TARGETS) r->n_out = STORE_MAX_TARGETS;
    for (int t = 0; t < STORE_MAX_TARGETS; t++) {
        r->target_std[t] = 1;
        r->train_rmse_t[t] = r->valid_rmse_t[t] = NAN;
    }
}

/* A run's shape as stored, checked before anything is sized by it: a damaged or
 * hand-edited file is refused, naming the run. */
static int check_run_shape(store *s, const store_run *r) {
    if (r->d >= 1 && r->d <= STORE_MAX_D && r->k >= 0 && r->k <= r->d && r->n_out >= 0 &&
        r->n_galaxies >= 0 && r->n_train >= 0 && r->n_valid >= 0)
        return SF_OK;
    return sf_fail("%s: run %s (id %lld) has d = %d, k = %d, %d outputs, %d galaxies: the "
                   "runs table is damaged",
                   s->path, sf_shown(r->prefix), (long long)r->id, r->d, r->k, r->n_out,
                   r->n_galaxies);
}

static int read_run_targets(store *s, store_run *r) {
    sqlite3_stmt *st = store_prepare(
        s, "SELECT target, name, bias, mean, std, train_rmse, valid_rmse FROM run_targets "
           "WHERE run_id = ?1 ORDER BY target");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, r->id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int t = sqlite3_column_int(st, 0);
        if (t < 0 || t >= r->n_out) continue;
        copy_text(r->target_names[t], sizeof r->target_names[t], sqlite3_column_text(st, 1));
        r->bias[t] = sqlite3_column_double(st, 2);
        r->target_mean[t] = sqlite3_column_double(st, 3);
        r->target_std[t] = sqlite3_column_double(st, 4);
        r->train_rmse_t[t] = store_column_double(st, 5);
        r->valid_rmse_t[t] = store_column_double(st, 6);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SF_OK : store_db_fail(s, "reading a run's targets");
}

int store_runs(store *s, store_run **runs, int *n) {
    *runs = NULL;
    *n = 0;
    sqlite3_stmt *st = store_prepare(s, "SELECT " RUN_COLUMNS " FROM runs ORDER BY id");
    if (!st) return SF_ERR;
    int cap = 0, rc;
    store_run *list = NULL;
    int count = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? 2 * cap : 8;
            list = xrealloc(list, (size_t)cap * sizeof *list);
        }
        read_run_row(st, &list[count++]);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        store_runs_free(list, count);
        return store_db_fail(s, "listing the runs");
    }
    for (int i = 0; i < count; i++) {
        if (check_run_shape(s, &list[i]) != SF_OK || read_run_targets(s, &list[i]) != SF_OK) {
            store_runs_free(list, count);
            return SF_ERR;
        }
    }
    *runs = list;
    *n = count;
    return SF_OK;
}

int store_run_get(store *s, int64_t run_id, store_run *out) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = store_prepare(s, "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?1");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) read_run_row(st, out);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) return sf_fail("%s: no run with id %lld", s->path, (long long)run_id);
    if (rc != SQLITE_ROW) return store_db_fail(s, "reading a run");
    if (check_run_shape(s, out) != SF_OK || read_run_targets(s, out) != SF_OK) {
        store_run_clear(out);
        return SF_ERR;
    }
    return SF_OK;
}

/* "Z (id 1), SL (id 2)" for messages. */
static void run_list_text(store *s, char *buf, size_t n) {
    buf[0] = 0;
    sqlite3_stmt *st = store_prepare(s, "SELECT id, prefix FROM runs ORDER BY id");
    if (!st) return;
    size_t used = 0;
    while (sqlite3_step(st) == SQLITE_ROW && used + 1 < n) {
        int w = snprintf(buf + used, n - used, "%s%s (id %lld)", used ? ", " : "",
                         (const char *)sqlite3_column_text(st, 1),
                         (long long)sqlite3_column_int64(st, 0));
        if (w < 0) break;
        used += (size_t)w;
    }
    sqlite3_finalize(st);
    if (!buf[0]) snprintf(buf, n, "none");
}

int store_run_find(store *s, const char *spec, store_run *out) {
    memset(out, 0, sizeof *out);
    char runs[512];
    if (!spec || !*spec) {
        long long count = 0, id = 0;
        if (query_int(s, "SELECT count(*) FROM runs", &count) != SF_OK) return SF_ERR;
        if (count == 1 && query_int(s, "SELECT id FROM runs", &id) == SF_OK)
            return store_run_get(s, id, out);
        run_list_text(s, runs, sizeof runs);
        if (count == 0) return sf_fail("%s has no runs yet", s->path);
        return sf_fail("%s has several runs: name one of %s", s->path, runs);
    }
    sqlite3_stmt *st =
        store_prepare(s, "SELECT id FROM runs WHERE prefix = ?1 OR CAST(id AS TEXT) = ?1");
    if (!st) return SF_ERR;
    sqlite3_bind_text(st, 1, spec, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return store_run_get(s, id, out);
    if (rc != SQLITE_DONE) return store_db_fail(s, "finding a run");
    run_list_text(s, runs, sizeof runs);
    return sf_fail("%s: no run '%s' (runs: %s)", s->path, spec, runs);
}

int store_run_weights(store *s, int64_t run_id, uint8_t **data, size_t *len) {
    *data = NULL;
    *len = 0;
    sqlite3_stmt *st = store_prepare(s, "SELECT safetensors FROM run_weights WHERE run_id = ?1");
    if (!st) return SF_ERR;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int n = sqlite3_column_bytes(st, 0);
        const void *p = sqlite3_column_blob(st, 0);
        *data = xmalloc((size_t)n);
        if (n) memcpy(*data, p, (size_t)n);
        *len = (size_t)n;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return sf_fail("%s: run %lld has no stored weights", s->path, (long long)run_id);
    return rc == SQLITE_ROW ? SF_OK : store_db_fail(s, "reading the weights");
}

int store_parse_feature(const char *text, char *run_spec, size_t run_spec_size, int *feature) {
    if (run_spec_size) run_spec[0] = 0;
    const char *p = text;
    while (*p == ' ') p++;
    const char *start = p;
    /* the prefix: letters, digits, '_' and '-' up to the trailing number */
    const char *end = p + strlen(p);
    while (end > p && end[-1] == ' ') end--;
    const char *num = end;
    while (num > p && num[-1] >= '0' && num[-1] <= '9') num--;
    if (num == end)
        return sf_fail("'%s' is not a feature (expected e.g. 17, SL17 or 'SL 17')", text);
    const char *pre_end = num;
    while (pre_end > start && (pre_end[-1] == ' ' || pre_end[-1] == ':')) pre_end--;
    size_t pre_len = (size_t)(pre_end - start);
    if (pre_len >= run_spec_size && pre_len > 0) return sf_fail("'%s': run prefix too long", text);
    for (size_t i = 0; i < pre_len; i++) {
        char c = start[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return sf_fail("'%s' is not a feature (expected e.g. 17, SL17 or 'SL 17')", text);
    }
    if (num - end > 9 || end - num > 9) return sf_fail("'%s': feature number too large", text);
    if (pre_len) {
        memcpy(run_spec, start, pre_len);
        run_spec[pre_len] = 0;
    }
    *feature = (int)strtol(num, NULL, 10);
    return SF_OK;
}

int store_delete_run(store *s, int64_t run_id) {
    if (store_begin(s) != SF_OK) return SF_ERR;
    sqlite3_stmt *st = store_prepare(s, "DELETE FROM runs WHERE id = ?1");
    if (!st) goto fail;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        store_db_fail(s, "deleting a run");
        goto fail;
    }
    if (sqlite3_changes(s->db) == 0) {
        sf_fail("%s: no run with id %lld", s->path, (long long)run_id);
        goto fail;
    }
    if (store_commit(s) != SF_OK) goto fail;
    return SF_OK;
fail:
    store_rollback(s);
    return SF_ERR;
}
