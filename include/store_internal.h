/* store_internal.h: what the store_*.c and query*.c files share; not for other modules.
 *
 * A `store` is one SQLite connection plus the file's path for messages. Helpers
 * return SF_ERR after sf_fail() with a message naming the file.
 */
#ifndef SF_STORE_INTERNAL_H
#define SF_STORE_INTERNAL_H

#include <sqlite3.h>

#include "sf_util.h"
#include "store.h"

struct store {
    sqlite3 *db;
    char *path;
    int mode;
    int version;
    int busy_ms;
    int created;        /* this open created the file */
    int temp_summaries; /* summaries of an older file kept in this connection's temp tables */
};

/* Records "<path>: <what>: <sqlite message>" (or a clearer text for busy,
 * read-only, not-a-database, corrupt and full); returns SF_ERR. */
int store_db_fail(store *s, const char *what);
/* NULL after store_db_fail on failure. */
sqlite3_stmt *store_prepare(store *s, const char *sql);
/* Runs a fixed SQL text (no parameters). */
int store_exec(store *s, const char *sql, const char *what);
int store_begin(store *s); /* BEGIN IMMEDIATE */
int store_commit(store *s);
void store_rollback(store *s); /* no-op outside a transaction */
/* Writes run_id's codes (run_codes) from its activations, replacing any, inside the
 * caller's write transaction (store_codes.c). */
int store_codes_write(store *s, int64_t run_id);
/* NAN for NULL. */
double store_column_double(sqlite3_stmt *st, int col);
/* The rows of table (a fixed name) that belong to run_id; 0 on a failure. */
long long store_count_run_rows(store *s, const char *table, int64_t run_id);

/* The summary tables of schema version 3 (store_summary.c), as the migration creates them. */
extern const char store_summary_schema_sql[];
/* Makes sure run_id's summaries can be read: they are in the file from version 3 on;
 * for an older file opened READ they are computed into temp tables on first use. */
int store_summary_ensure(store *s, int64_t run_id);

#endif
