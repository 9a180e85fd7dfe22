/* test_store.c: the run database: schema, versions, refusals, atomic writes, reads. */
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "query_view.h"
#include "sf_util.h"
#include "store.h"
#include "store_fixture.h"
#include "store_internal.h"

static char dir[64];
static char db_path[128];

static void setup(void) {
    fixture_tmpdir(dir, sizeof dir);
    cr_assert(dir[0], "mkdtemp failed");
    snprintf(db_path, sizeof db_path, "%s/run.db", dir);
}

static void teardown(void) { fixture_rmdir(dir); }

TestSuite(store, .init = setup, .fini = teardown);

static long long raw_int(const char *path, const char *sql) { return fixture_sql_int(path, sql); }

static void raw_exec(const char *path, const char *sql) {
    cr_assert_eq(fixture_sql_exec(path, sql), SF_OK, "%s", sf_last_error());
}

static int64_t add_fixture(store *s, fixture_run *fx, const char *prefix) {
    snprintf(fx->in.run.prefix, sizeof fx->in.run.prefix, "%s", prefix);
    int64_t id = 0;
    cr_assert_eq(store_add_run(s, &fx->in, &id), SF_OK, "%s", sf_last_error());
    return id;
}

Test(store, create_marks_file_version_wal_and_foreign_keys) {
    store *s = NULL;
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_schema_version(s), STORE_SCHEMA_VERSION);
    store_close(s);
    cr_assert_eq(raw_int(db_path, "PRAGMA application_id"), STORE_APPLICATION_ID);
    cr_assert_eq(raw_int(db_path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    cr_assert_eq(
        raw_int(db_path,
                "SELECT count(*) FROM sqlite_schema WHERE name = 'activations_by_feature'"),
        1);
    sqlite3 *db = NULL;
    sqlite3_open(db_path, &db);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* reopening for writing keeps it as it is */
    cr_assert_eq(store_open(&s, db_path, STORE_WRITE), SF_OK, "%s", sf_last_error());
    store_close(s);
    /* the connection enforces foreign keys: a run_galaxies row with no run is refused */
    cr_assert_eq(store_open(&s, db_path, STORE_READ), SF_OK);
    store_close(s);
}

Test(store, missing_file_is_not_created_by_read_or_write) {
    store *s = NULL;
    cr_assert_eq(store_open(&s, db_path, STORE_READ), SF_ERR);
    cr_assert(strstr(sf_last_error(), "no such run database"), "%s", sf_last_error());
    cr_assert_eq(store_open(&s, db_path, STORE_WRITE), SF_ERR);
    struct stat sb;
    cr_assert_neq(stat(db_path, &sb), 0, "the file must not be created");
}

Test(store, text_file_is_refused_and_left_alone) {
    FILE *f = fopen(db_path, "w");
    fputs("objID,oh_p50\n1,8.9\n", f);
    fclose(f);
    store *s = NULL;
    for (int mode = STORE_READ; mode <= STORE_CREATE; mode++) {
        cr_assert_eq(store_open(&s, db_path, mode), SF_ERR);
        cr_assert(strstr(sf_last_error(), "not a sfnet-explore run database"), "%s",
                  sf_last_error());
    }
    char *data = NULL;
    size_t len = 0;
    cr_assert_eq(sf_read_file(db_path, &data, &len), SF_OK);
    cr_assert_str_eq(data, "objID,oh_p50\n1,8.9\n");
    free(data);
}

Test(store, other_sqlite_database_is_refused) {
    raw_exec(db_path, "CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('mine');");
    store *s = NULL;
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_ERR);
    cr_assert(strstr(sf_last_error(), "SQLite database but not a sfnet-explore"), "%s",
              sf_last_error());
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM sqlite_schema"), 1, "nothing added");
    /* another application's id, even with no tables */
    char other[160];
    snprintf(other, sizeof other, "%s/other.db", dir);
    raw_exec(other, "PRAGMA application_id = 1234");
    cr_assert_eq(store_open(&s, other, STORE_CREATE), SF_ERR);
    cr_assert(strstr(sf_last_error(), "application_id"), "%s", sf_last_error());
}

Test(store, newer_version_is_refused) {
    store *s = NULL;
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_OK);
    store_close(s);
    raw_exec(db_path, "PRAGMA user_version = 99");
    for (int mode = STORE_READ; mode <= STORE_CREATE; mode++) {
        cr_assert_eq(store_open(&s, db_path, mode), SF_ERR);
        cr_assert(strstr(sf_last_error(), "newer sfnet-explore"), "%s", sf_last_error());
        cr_assert(strstr(sf_last_error(), "upgrade"), "%s", sf_last_error());
    }
    cr_assert_eq(raw_int(db_path, "PRAGMA user_version"), 99);
}

Test(store, migration_applies_in_one_transaction) {
    store *s = NULL;
    fixture_run fx;
    fixture_make(&fx, 20, 16, 2, 1, 8, 1000, 1);
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_OK);
    add_fixture(s, &fx, "Z");
    /* a failing step: the file keeps its version and contents */
    store_migration bad[] = {
        {STORE_SCHEMA_VERSION + 1, "ALTER TABLE runs ADD COLUMN comment TEXT;"},
        {STORE_SCHEMA_VERSION + 2, "ALTER TABLE no_such_table ADD COLUMN x;"},
    };
    cr_assert_eq(store_migrate(s, bad, 2), SF_ERR);
    cr_assert(strstr(sf_last_error(), "unchanged"), "%s", sf_last_error());
    cr_assert_eq(store_schema_version(s), STORE_SCHEMA_VERSION);
    store_close(s);
    cr_assert_eq(raw_int(db_path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    cr_assert_eq(
        raw_int(db_path, "SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'comment'"),
        0);
    /* a good step */
    cr_assert_eq(store_open(&s, db_path, STORE_WRITE), SF_OK);
    store_migration good[] = {
        {STORE_SCHEMA_VERSION + 1, "ALTER TABLE runs ADD COLUMN comment TEXT;"},
    };
    cr_assert_eq(store_migrate(s, good, 1), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_schema_version(s), STORE_SCHEMA_VERSION + 1);
    /* applying it again does nothing */
    cr_assert_eq(store_migrate(s, good, 1), SF_OK);
    store_close(s);
    cr_assert_eq(raw_int(db_path, "PRAGMA user_version"), STORE_SCHEMA_VERSION + 1);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM runs"), 1, "data kept");
    /* and this binary now calls the file newer than itself */
    cr_assert_eq(store_open(&s, db_path, STORE_READ), SF_ERR);
    fixture_free(&fx);
}

Test(store, read_only_file) {
    store *s = NULL;
    fixture_run fx;
    fixture_make(&fx, 30, 16, 2, 1, 8, 1000, 2);
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_OK);
    add_fixture(s, &fx, "Z");
    store_close(s);
    cr_assert_eq(chmod(db_path, 0444), 0);
    cr_assert_eq(store_open(&s, db_path, STORE_WRITE), SF_ERR);
    cr_assert(strstr(sf_last_error(), "read-only"), "%s", sf_last_error());
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_ERR);
    /* reading still works */
    cr_assert_eq(store_open(&s, db_path, STORE_READ), SF_OK, "%s", sf_last_error());
    store_run *runs = NULL;
    int n = 0;
    cr_assert_eq(store_runs(s, &runs, &n), SF_OK, "%s", sf_last_error());
    cr_assert_eq(n, 1);
    cr_assert_str_eq(runs[0].prefix, "Z");
    store_runs_free(runs, n);
    /* and a store opened for reading refuses writes with a message */
    cr_assert_eq(store_feature_label(s, 1, 0, "x", NULL), SF_ERR);
    cr_assert(strstr(sf_last_error(), "read-only"), "%s", sf_last_error());
    store_close(s);
    chmod(db_path, 0644);
    fixture_free(&fx);
}

Test(store, locked_database_waits_then_says_so) {
    store *s = NULL;
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_OK);
    store_close(s);
    sqlite3 *other = NULL;
    cr_assert_eq(sqlite3_open(db_path, &other), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    setenv("SFNET_BUSY_TIMEOUT_MS", "150", 1);
    fixture_run fx;
    fixture_make(&fx, 10, 16, 2, 1, 8, 1000, 3);
    double t0 = sf_now();
    int rc = store_open(&s, db_path, STORE_WRITE);
    if (rc == SF_OK) {
        rc = store_add_run(s, &fx.in, NULL);
        store_close(s);
    }
    double waited = sf_now() - t0;
    unsetenv("SFNET_BUSY_TIMEOUT_MS");
    cr_assert_eq(rc, SF_ERR);
    cr_assert(strstr(sf_last_error(), "locked by another process"), "%s", sf_last_error());
    cr_assert(waited >= 0.1, "gave up after %.3f s without waiting", waited);
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    /* once released the same write goes through */
    cr_assert_eq(store_open(&s, db_path, STORE_WRITE), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_add_run(s, &fx.in, NULL), SF_OK, "%s", sf_last_error());
    store_close(s);
    fixture_free(&fx);
}

static const char *const count_sql[] = {
    "SELECT count(*) FROM runs",
    "SELECT count(*) FROM run_targets",
    "SELECT count(*) FROM galaxies",
    "SELECT count(*) FROM catalog_values",
    "SELECT count(*) FROM thumbnails",
    "SELECT count(*) FROM run_galaxies",
    "SELECT count(*) FROM predictions",
    "SELECT count(*) FROM activations",
    "SELECT count(*) FROM run_features",
    "SELECT count(*) FROM feature_targets",
    "SELECT count(*) FROM catalog_columns",
    "SELECT count(*) FROM run_weights",
};
#define N_COUNTS (int)(sizeof count_sql / sizeof count_sql[0])

Test(store, failure_mid_write_leaves_the_file_as_it_was) {
    store *s = NULL;
    fixture_run a, b;
    fixture_make(&a, 40, 16, 3, 2, 10, 1000, 4);
    fixture_make(&b, 50, 16, 3, 2, 10, 1030, 5); /* shares 10 galaxies with a */
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_OK);
    add_fixture(s, &a, "SL");
    long long before[N_COUNTS];
    for (int i = 0; i < N_COUNTS; i++) before[i] = raw_int(db_path, count_sql[i]);
    /* the last galaxy repeats an objID: the run, galaxies, values and activations
     * written before it is reached must all vanish */
    b.galaxies[49].objid = b.galaxies[3].objid;
    b.in.weights = (const uint8_t *)"not really safetensors";
    b.in.weights_len = 22;
    b.in.run.prefix[0] = 0;
    cr_assert_eq(store_add_run(s, &b.in, NULL), SF_ERR);
    cr_assert(strstr(sf_last_error(), "appears twice"), "%s", sf_last_error());
    for (int i = 0; i < N_COUNTS; i++)
        cr_assert_eq(raw_int(db_path, count_sql[i]), before[i], "%s changed", count_sql[i]);
    cr_assert_eq(
        raw_int(db_path,
                "SELECT count(*) FROM sqlite_schema WHERE name = 'activations_by_feature'"),
        1, "the index dropped for the load is back");
    /* the connection is still usable */
    b.galaxies[49].objid = b.objid[49];
    int64_t id = 0;
    cr_assert_eq(store_add_run(s, &b.in, &id), SF_OK, "%s", sf_last_error());
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM galaxies"), 80, "10 galaxies shared");
    store_run r;
    cr_assert_eq(store_run_get(s, id, &r), SF_OK);
    cr_assert_str_eq(r.prefix, "R", "an automatic prefix for column targets");
    store_run_clear(&r);
    store_close(s);
    fixture_free(&a);
    fixture_free(&b);
}

Test(store, invalid_input_is_refused_before_writing) {
    store *s = NULL;
    fixture_run fx;
    fixture_make(&fx, 10, 16, 2, 1, 8, 1000, 6);
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_OK);
    fx.topk_idx[5] = 16;
    cr_assert_eq(store_add_run(s, &fx.in, NULL), SF_ERR);
    cr_assert(strstr(sf_last_error(), "outside"), "%s", sf_last_error());
    fx.topk_idx[5] = fx.topk_idx[4];
    cr_assert_eq(store_add_run(s, &fx.in, NULL), SF_ERR);
    cr_assert(strstr(sf_last_error(), "twice"), "%s", sf_last_error());
    fx.topk_idx[5] = (fx.topk_idx[4] + 1) % 8;
    snprintf(fx.in.run.prefix, sizeof fx.in.run.prefix, "9lives");
    cr_assert_eq(store_add_run(s, &fx.in, NULL), SF_ERR);
    cr_assert(strstr(sf_last_error(), "not valid"), "%s", sf_last_error());
    snprintf(fx.in.run.prefix, sizeof fx.in.run.prefix, "Z");
    cr_assert_eq(store_add_run(s, &fx.in, NULL), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_add_run(s, &fx.in, NULL), SF_ERR);
    cr_assert(strstr(sf_last_error(), "already has a run named 'Z'"), "%s", sf_last_error());
    /* without a name, metallicity runs become Z2, Z3 */
    fx.in.run.prefix[0] = 0;
    int64_t id = 0;
    cr_assert_eq(store_add_run(s, &fx.in, &id), SF_OK);
    store_run r;
    cr_assert_eq(store_run_find(s, "Z2", &r), SF_OK, "%s", sf_last_error());
    cr_assert_eq(r.id, id);
    store_run_clear(&r);
    cr_assert_eq(store_run_find(s, NULL, &r), SF_ERR, "two runs: must name one");
    cr_assert(strstr(sf_last_error(), "Z2"), "%s", sf_last_error());
    cr_assert_eq(store_run_find(s, "nope", &r), SF_ERR);
    store_close(s);
    fixture_free(&fx);
}

Test(store, run_round_trip) {
    store *s = NULL;
    fixture_run fx;
    fixture_make(&fx, 60, 32, 4, 2, 12, 5000, 7);
    store_curve_point curve[2] = {{1, 0.9, 0.5, 0.01}, {2, 0.4, 0.3, 0.001}};
    fx.in.run.curve = curve;
    fx.in.run.n_curve = 2;
    fx.in.run.hyper_json = "{\"epochs\":2,\"lr\":0.1}";
    snprintf(fx.in.run.engine, sizeof fx.in.run.engine, "reference");
    fx.in.weights = (const uint8_t *)"WEIGHTS";
    fx.in.weights_len = 7;
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_OK);
    int64_t id = add_fixture(s, &fx, "SL");
    store_close(s);
    cr_assert_eq(store_open(&s, db_path, STORE_READ), SF_OK);
    store_run r;
    cr_assert_eq(store_run_find(s, "SL", &r), SF_OK, "%s", sf_last_error());
    cr_assert_eq(r.id, id);
    char idtext[16];
    snprintf(idtext, sizeof idtext, "%lld", (long long)id);
    store_run r2;
    cr_assert_eq(store_run_find(s, idtext, &r2), SF_OK);
    cr_assert_eq(r2.id, id);
    store_run_clear(&r2);
    cr_assert_eq(r.n_out, 2);
    cr_assert_eq(r.d, 32);
    cr_assert_eq(r.k, 4);
    cr_assert_eq(r.n_galaxies, 60);
    int nv = 0;
    for (int i = 0; i < 60; i++) nv += fx.split[i];
    cr_assert_eq(r.n_valid, nv);
    cr_assert_eq(r.n_train, 60 - nv);
    cr_assert_str_eq(r.target_names[1], "target1");
    cr_assert_float_eq(r.bias[1], 0.2, 1e-12);
    cr_assert_float_eq(r.target_mean[1], 9.5, 1e-12);
    cr_assert_float_eq(r.target_std[0], 0.2, 1e-12);
    cr_assert_float_eq(r.valid_rmse, fx.in.run.valid_rmse, 1e-12);
    cr_assert_float_eq(r.image_mean[2], 0.3f, 1e-6);
    cr_assert_eq(r.n_curve, 2);
    cr_assert_float_eq(r.curve[1].valid_rmse, 0.3, 1e-12);
    cr_assert_eq(r.curve[1].epoch, 2);
    cr_assert(strstr(r.hyper_json, "\"lr\":0.1"), "%s", r.hyper_json);
    cr_assert_str_eq(r.engine, "reference");
    cr_assert_str_eq(r.tool_version, SF_VERSION);
    cr_assert_eq(strlen(r.created), 20, "%s", r.created);
    uint8_t *w = NULL;
    size_t wl = 0;
    cr_assert_eq(store_run_weights(s, id, &w, &wl), SF_OK);
    cr_assert_eq(wl, 7);
    cr_assert(!memcmp(w, "WEIGHTS", 7));
    free(w);
    store_run_clear(&r);

    /* galaxy lookup: catalogue values, coordinates, prediction, truth, activations */
    store_galaxy g;
    cr_assert_eq(store_galaxy_find(s, "5007", &g), SF_OK, "%s", sf_last_error());
    cr_assert_float_eq(g.ra, 150.007, 1e-9);
    cr_assert_float_eq(g.dec, 2.0 - 0.007, 1e-9);
    cr_assert_eq(g.n_columns, 2, "z is missing for galaxy 7");
    cr_assert_str_eq(g.column_names[0], "oh_p50");
    cr_assert_float_eq(g.values[0], fx.values[7 * 3], 1e-12);
    cr_assert_str_eq(g.column_names[1], "bptclass");
    store_galaxy_run gr;
    cr_assert_eq(store_galaxy_in_run(s, id, g.id, &gr), SF_OK);
    cr_assert_eq(gr.split, fx.split[7]);
    cr_assert_eq(gr.n_out, 2);
    cr_assert_float_eq(gr.pred[1], fx.pred[7 * 2 + 1], 1e-6);
    cr_assert_float_eq(gr.truth[0], fx.truth[7 * 2], 1e-6);
    int expect_active = 0;
    for (int j = 0; j < 4; j++) expect_active += fx.topk_val[7 * 4 + j] > 0;
    cr_assert_eq(gr.n_active, expect_active);
    for (int j = 0; j < gr.n_active; j++) {
        cr_assert_float_eq(gr.value[j], fixture_act(&fx, 7, gr.feature[j]), 1e-6);
        if (j) cr_assert(gr.value[j] <= gr.value[j - 1], "by value descending");
    }
    store_galaxy_run_clear(&gr);
    int64_t *runs = NULL;
    int nr = 0;
    cr_assert_eq(store_galaxy_runs(s, g.id, &runs, &nr), SF_OK);
    cr_assert_eq(nr, 1);
    cr_assert_eq(runs[0], id);
    free(runs);
    uint8_t *rgb = NULL;
    int tw = 0, th = 0;
    cr_assert_eq(query_thumbnail(s, g.id, &rgb, &tw, &th), SF_OK, "%s", sf_last_error());
    cr_assert_eq(tw, 8);
    cr_assert_eq(th, 8);
    cr_assert_not_null(rgb);
    free(rgb);
    store_galaxy_clear(&g);
    cr_assert_eq(store_galaxy_find(s, "nope", &g), SF_ERR);
    cr_assert(strstr(sf_last_error(), "no galaxy with objID nope"), "%s", sf_last_error());

    /* run-aligned arrays */
    store_rows rows;
    cr_assert_eq(store_run_rows(s, id, &rows), SF_OK);
    cr_assert_eq(rows.n, 60);
    float *dense = malloc(60 * 32 * sizeof *dense);
    float *pred = malloc(60 * 2 * sizeof *pred);
    double *z = malloc(60 * sizeof *z), *ra = malloc(60 * sizeof *ra);
    cr_assert_eq(store_run_dense(s, id, &rows, 32, dense), SF_OK);
    cr_assert_eq(store_run_predictions(s, id, &rows, 2, pred, NULL), SF_OK);
    cr_assert_eq(store_catalog_values(s, &rows, "z", z), SF_OK);
    cr_assert_eq(store_catalog_values(s, &rows, "ra", ra), SF_OK);
    for (int r_ = 0; r_ < rows.n; r_++) {
        int i = atoi(rows.objid[r_]) - 5000;
        cr_assert_eq(rows.split[r_], fx.split[i]);
        for (int f = 0; f < 32; f++)
            cr_assert_float_eq(dense[r_ * 32 + f], fixture_act(&fx, i, f), 1e-6);
        cr_assert_float_eq(pred[r_ * 2 + 1], fx.pred[i * 2 + 1], 1e-6);
        if (isnan(fx.values[i * 3 + 1])) cr_assert(isnan(z[r_]));
        else cr_assert_float_eq(z[r_], fx.values[i * 3 + 1], 1e-12);
        cr_assert_float_eq(ra[r_], 150.0 + 0.001 * i, 1e-9);
    }
    cr_assert_eq(store_catalog_values(s, &rows, "no_such", z), SF_ERR);
    cr_assert(strstr(sf_last_error(), "oh_p50"), "lists the columns: %s", sf_last_error());
    char(*names)[STORE_NAME_MAX] = NULL;
    int nn = 0;
    cr_assert_eq(store_catalog_columns(s, &names, &nn), SF_OK);
    cr_assert_eq(nn, 5);
    cr_assert_str_eq(names[0], "ra");
    cr_assert_str_eq(names[2], "oh_p50");
    free(names);
    free(dense);
    free(pred);
    free(z);
    free(ra);
    store_rows_clear(&rows);
    store_close(s);
    fixture_free(&fx);
}

Test(store, parse_feature) {
    char run[16];
    int f = -1;
    cr_assert_eq(store_parse_feature("17", run, sizeof run, &f), SF_OK);
    cr_assert_eq(f, 17);
    cr_assert_str_eq(run, "");
    cr_assert_eq(store_parse_feature("SL 17", run, sizeof run, &f), SF_OK);
    cr_assert_str_eq(run, "SL");
    cr_assert_eq(f, 17);
    cr_assert_eq(store_parse_feature("Z256", run, sizeof run, &f), SF_OK);
    cr_assert_str_eq(run, "Z");
    cr_assert_eq(f, 256);
    cr_assert_eq(store_parse_feature("Z2:5", run, sizeof run, &f), SF_OK);
    cr_assert_str_eq(run, "Z2");
    cr_assert_eq(f, 5);
    cr_assert_eq(store_parse_feature("SL", run, sizeof run, &f), SF_ERR);
    cr_assert_eq(store_parse_feature("SL 1'7", run, sizeof run, &f), SF_ERR);
    cr_assert_eq(store_parse_feature("S;L 17", run, sizeof run, &f), SF_ERR);
    cr_assert_eq(store_parse_feature("", run, sizeof run, &f), SF_ERR);
}

/* A database in a folder the reader cannot write (a shared, read-only copy): SQLite
 * cannot create the WAL index beside it, and must still read it. Root ignores folder
 * permissions, so as root the reading happens in a child that became nobody. */
Test(store, read_only_folder) {
    store *s = NULL;
    fixture_run fx;
    fixture_make(&fx, 25, 16, 2, 1, 8, 1000, 9);
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_OK);
    add_fixture(s, &fx, "Z");
    store_close(s);
    fixture_free(&fx);
    cr_assert_eq(chmod(db_path, 0444), 0);
    cr_assert_eq(chmod(dir, 0555), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        /* where root cannot become nobody (a container without CAP_SETUID) the read is
         * still checked, only without the folder's permission in the way */
        if (geteuid() == 0 && setgid(65534) == 0 && setuid(65534) != 0) _exit(3);
        store *r = NULL;
        if (store_open(&r, db_path, STORE_READ) != SF_OK) {
            fprintf(stderr, "%s\n", sf_last_error());
            _exit(1);
        }
        store_hit *hits = NULL;
        int nh = 0;
        int ok = store_top(r, 1, 0, 5, -1, &hits, &nh) == SF_OK && nh > 0;
        free(hits);
        /* writing stays refused with the read-only message */
        store *w = NULL;
        ok = ok && store_open(&w, db_path, STORE_WRITE) == SF_ERR &&
             strstr(sf_last_error(), "read-only");
        store_close(r);
        _exit(ok ? 0 : 2);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    chmod(dir, 0755);
    chmod(db_path, 0644);
    cr_assert(WIFEXITED(status), "reader crashed");
    cr_assert_eq(WEXITSTATUS(status), 0, "reading a database in a read-only folder failed (%d)",
                 WEXITSTATUS(status));
}

Test(store, delete_run_removes_everything_of_it) {
    store *s = NULL;
    fixture_run a, b;
    fixture_make(&a, 30, 16, 3, 1, 10, 1000, 12);
    fixture_make(&b, 30, 16, 3, 2, 10, 1010, 13);
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_OK);
    int64_t ia = add_fixture(s, &a, "Z");
    add_fixture(s, &b, "SL");
    long long acts_b = raw_int(db_path, "SELECT count(*) FROM activations WHERE run_id = 2");
    cr_assert_eq(store_delete_run(s, ia), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_delete_run(s, ia), SF_ERR, "already gone");
    store_close(s);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM runs"), 1);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM activations"), acts_b);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM run_galaxies"), 30);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM predictions"), 60);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM run_features"), 16);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM feature_targets"), 32);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM run_targets"), 2);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM galaxies"), 40, "galaxies stay");
    cr_assert_eq(raw_int(db_path, "PRAGMA foreign_key_check"), -1, "no dangling rows");
    fixture_free(&a);
    fixture_free(&b);
}

static int thumb_calls;
static int thumb_cb(void *ctx, int i, uint8_t **data, size_t *len, int *w, int *h) {
    thumb_calls++;
    if (ctx && i == 17) return sf_fail("thumbnail %d failed", i);
    uint8_t rgb[4 * 6 * 3];
    memset(rgb, i, sizeof rgb);
    *w = 4;
    *h = 6;
    return image_encode_jpeg(rgb, 4, 6, 90, data, len);
}

Test(store, thumbnails_made_while_writing) {
    store *s = NULL;
    fixture_run fx;
    fixture_make(&fx, 30, 16, 2, 1, 8, 3000, 14);
    for (int i = 0; i < 30; i++) fx.galaxies[i].thumb = NULL;
    fx.in.thumbnail = thumb_cb;
    fx.in.thumbnail_ctx = &fx; /* non-NULL: fail at galaxy 17 */
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_OK);
    cr_assert_eq(store_add_run(s, &fx.in, NULL), SF_ERR);
    cr_assert(strstr(sf_last_error(), "thumbnail 17 failed"), "%s", sf_last_error());
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM galaxies"), 0, "nothing written");
    thumb_calls = 0;
    fx.in.thumbnail_ctx = NULL;
    cr_assert_eq(store_add_run(s, &fx.in, NULL), SF_OK, "%s", sf_last_error());
    cr_assert_eq(thumb_calls, 30);
    store_galaxy g;
    cr_assert_eq(store_galaxy_find(s, "3005", &g), SF_OK);
    uint8_t *rgb = NULL;
    int w = 0, h = 0;
    cr_assert_eq(query_thumbnail(s, g.id, &rgb, &w, &h), SF_OK);
    cr_assert_eq(w, 4);
    cr_assert_eq(h, 6);
    cr_assert(abs((int)rgb[0] - 5) <= 2, "galaxy 5's own thumbnail (%d)", rgb[0]);
    free(rgb);
    store_galaxy_clear(&g);
    store_close(s);
    fixture_free(&fx);
}

/* A run's bulk load: the index on (feature, value), dropped while a run larger than the
 * file's others goes in, is built again as the schema defines it, and serves the same
 * answers; the connection's cache size and temp store are given back; a galaxy that
 * already has a thumbnail gets no new one made. */
Test(store, bulk_load_keeps_the_index_settings_and_thumbnails) {
    store *s = NULL;
    fixture_run a, b;
    fixture_make(&a, 60, 16, 3, 1, 10, 4000, 41);
    fixture_make(&b, 60, 16, 3, 1, 10, 4000, 42); /* the same galaxies */
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_OK);
    long long schema_before = raw_int(db_path, "SELECT count(*) FROM sqlite_schema");
    add_fixture(s, &a, "A");
    for (int i = 0; i < b.n; i++) b.galaxies[i].thumb = NULL;
    b.in.thumbnail = thumb_cb;
    thumb_calls = 0;
    add_fixture(s, &b, "B");
    cr_assert_eq(thumb_calls, 0, "every galaxy had its thumbnail");
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM sqlite_schema"), schema_before);
    cr_assert_eq(raw_int(db_path,
                         "SELECT count(*) FROM sqlite_schema WHERE name = 'activations_by_feature' "
                         "AND sql = 'CREATE INDEX activations_by_feature ON activations (run_id, "
                         "feature, value DESC)'"),
                 1);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM pragma_index_list('activations')"), 2,
                 "its index and the key");
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* the top galaxies through the index, against the activations themselves */
    for (int64_t run = 1; run <= 2; run++)
        for (int f = 0; f < 10; f++) {
            store_hit *h = NULL;
            int nh = 0;
            cr_assert_eq(store_top(s, run, f, 3, -1, &h, &nh), SF_OK);
            char sql[200];
            snprintf(sql, sizeof sql,
                     "SELECT count(*) FROM activations WHERE run_id = %lld AND feature = %d",
                     (long long)run, f);
            long long n_act = raw_int(db_path, sql);
            cr_assert_eq(nh, n_act < 3 ? n_act : 3);
            if (nh) {
                snprintf(sql, sizeof sql,
                         "SELECT CAST(round(max(value) * 1e6) AS INTEGER) FROM activations WHERE "
                         "run_id = %lld AND feature = %d",
                         (long long)run, f);
                cr_assert_eq((long long)llround(h[0].value * 1e6), raw_int(db_path, sql));
            }
            free(h);
        }
    /* the settings as they were before each write */
    sqlite3_stmt *q = NULL;
    long long cache = 0, temp = -1;
    store_exec(s, "PRAGMA cache_size = -3000", "test");
    add_fixture(s, &a, "A2");
    q = store_prepare(s, "PRAGMA cache_size");
    if (sqlite3_step(q) == SQLITE_ROW) cache = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    q = store_prepare(s, "PRAGMA temp_store");
    if (sqlite3_step(q) == SQLITE_ROW) temp = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    cr_assert_eq(cache, -3000);
    cr_assert_eq(temp, 0);
    store_close(s);
    fixture_free(&a);
    fixture_free(&b);
}

/* Two processes writing runs into one file at once: both land, named Z and Z2. */
Test(store, concurrent_writers_both_land) {
    store *s = NULL;
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_OK);
    store_close(s);
    fixture_run fx;
    fixture_make(&fx, 400, 32, 4, 1, 16, 7000, 15);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    store *mine = NULL;
    int rc = store_open(&mine, db_path, STORE_WRITE);
    if (rc == SF_OK) rc = store_add_run(mine, &fx.in, NULL);
    store_close(mine);
    if (pid == 0) _exit(rc == SF_OK ? 0 : 1);
    int status = 0;
    waitpid(pid, &status, 0);
    cr_assert_eq(rc, SF_OK, "%s", sf_last_error());
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the other writer failed");
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM runs"), 2);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM runs WHERE prefix IN ('Z', 'Z2')"), 2);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM galaxies"), 400, "galaxies shared");
    fixture_free(&fx);
}

/* The schema comes from share/: a missing or stale one is named, and nothing is made. */
Test(store, schema_file_missing_or_of_another_version) {
    char share[128], schema[160];
    snprintf(share, sizeof share, "%s/share", dir);
    snprintf(schema, sizeof schema, "%s/schema.sql", share);
    cr_assert_eq(mkdir(share, 0755), 0);
    setenv("SFNET_SHARE", share, 1);
    store *s = NULL;
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_ERR);
    cr_assert(strstr(sf_last_error(), "schema.sql"), "%s", sf_last_error());
    FILE *f = fopen(schema, "w");
    fputs("-- schema.sql: the sfnet-explore run database, schema version 0.\nCREATE TABLE runs (id "
          "INTEGER PRIMARY KEY);\n",
          f);
    fclose(f);
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_ERR);
    cr_assert(strstr(sf_last_error(), "version 0"), "%s", sf_last_error());
    unsetenv("SFNET_SHARE");
    struct stat sb;
    cr_assert_neq(stat(db_path, &sb), 0, "no file left behind");
    /* with the real one the same (empty) file becomes a run database */
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_OK, "%s", sf_last_error());
    store_close(s);
}

/* ---- schema version 2: marks, and files of version 1 ------------------------------ */

/* A run database as version 1 left it (store_fixture.h), with two runs and a label,
 * beside the file the store wrote (src). */
static void make_v1_file(const char *src, const char *v1, fixture_run *a, fixture_run *b) {
    store *s = NULL;
    fixture_make(a, 50, 24, 4, 1, 14, 7000, 21);
    fixture_make(b, 40, 16, 3, 2, 10, 7020, 22);
    a->in.weights = (const uint8_t *)"WEIGHTS-Z";
    a->in.weights_len = 9;
    cr_assert_eq(store_open(&s, src, STORE_CREATE), SF_OK, "%s", sf_last_error());
    add_fixture(s, a, "Z");
    add_fixture(s, b, "SL");
    cr_assert_eq(store_feature_label(s, 1, 3, "disc", "spiral arms"), SF_OK);
    store_close(s);
    cr_assert_eq(fixture_make_v1(v1, src), SF_OK, "%s", sf_last_error());
    cr_assert_eq(raw_int(v1, "PRAGMA user_version"), 1);
    cr_assert_eq(raw_int(v1, "SELECT count(*) FROM sqlite_schema WHERE name = 'marks'"), 0);
}

/* Every table of version 1 holds the same rows in both files. */
static void assert_same_v1_data(const char *a, const char *b) {
    static const char *tables[] = {"runs",        "run_targets",     "run_weights",
                                   "galaxies",    "catalog_columns", "catalog_values",
                                   "thumbnails",  "run_galaxies",    "predictions",
                                   "activations", "run_features",    "feature_targets"};
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(a, &db), SQLITE_OK);
    char sql[512];
    snprintf(sql, sizeof sql, "ATTACH '%s' AS other", b);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        snprintf(sql, sizeof sql,
                 "SELECT (SELECT count(*) FROM main.%s), (SELECT count(*) FROM other.%s), "
                 "(SELECT count(*) FROM (SELECT * FROM main.%s EXCEPT SELECT * FROM other.%s))",
                 tables[i], tables[i], tables[i], tables[i]);
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

Test(store, new_files_have_the_marks_table) {
    store *s = NULL;
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_OK, "%s", sf_last_error());
    store_close(s);
    cr_assert_eq(STORE_SCHEMA_VERSION, 4);
    cr_assert_eq(raw_int(db_path, "PRAGMA user_version"), 4);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM pragma_table_info('marks')"), 6);
    cr_assert_eq(
        raw_int(
            db_path,
            "SELECT count(*) FROM sqlite_schema WHERE name IN ('marks_feature', 'marks_galaxy')"),
        2);
}

Test(store, version_1_file_reads_as_it_is_and_migrates_on_write) {
    char src[160], v1[160];
    snprintf(src, sizeof src, "%s/src.db", dir);
    snprintf(v1, sizeof v1, "%s/v1.db", dir);
    fixture_run a, b;
    make_v1_file(src, v1, &a, &b);

    /* read: browsable, no marks, nothing changed */
    store *r = NULL;
    cr_assert_eq(store_open(&r, v1, STORE_READ), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_schema_version(r), 1);
    store_run *runs = NULL;
    int n_runs = 0;
    cr_assert_eq(store_runs(r, &runs, &n_runs), SF_OK, "%s", sf_last_error());
    cr_assert_eq(n_runs, 2);
    cr_assert_str_eq(runs[1].prefix, "SL");
    store_runs_free(runs, n_runs);
    store_feature f;
    cr_assert_eq(store_feature_get(r, 1, 3, &f), SF_OK, "%s", sf_last_error());
    cr_assert_str_eq(f.label, "disc");
    store_hit *hits = NULL;
    int nh = 0;
    cr_assert_eq(store_top(r, 1, 3, 5, -1, &hits, &nh), SF_OK);
    cr_assert_gt(nh, 0);
    cr_assert_float_eq(hits[0].value, f.max, 1e-6);
    free(hits);
    store_mark *marks = NULL;
    int n_marks = -1;
    cr_assert_eq(store_marks(r, 1, &marks, &n_marks), SF_OK, "%s", sf_last_error());
    cr_assert_eq(n_marks, 0);
    cr_assert_eq(store_mark_add(r, 1, 3, 0, NULL, NULL), SF_ERR);
    cr_assert(strstr(sf_last_error(), "read-only"), "%s", sf_last_error());
    cr_assert_eq(raw_int(v1, "PRAGMA user_version"), 1, "reading leaves the version");

    /* write: migrated in place, every row kept, marks work */
    store *w = NULL;
    cr_assert_eq(store_open(&w, v1, STORE_WRITE), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_schema_version(w), 4);
    cr_assert_eq(raw_int(v1, "PRAGMA user_version"), 4);
    cr_assert_eq(raw_int(v1, "PRAGMA application_id"), STORE_APPLICATION_ID);
    assert_same_v1_data(v1, src);
    int added = 0;
    cr_assert_eq(store_mark_add(w, 1, 3, 0, "check the arms", &added), SF_OK, "%s",
                 sf_last_error());
    cr_assert_eq(added, 1);
    /* the reader opened before the migration sees the marks (as the explorer does) */
    cr_assert_eq(store_marks(r, 1, &marks, &n_marks), SF_OK, "%s", sf_last_error());
    cr_assert_eq(n_marks, 1);
    cr_assert_eq(marks[0].feature, 3);
    cr_assert_str_eq(marks[0].label, "disc");
    cr_assert_str_eq(marks[0].note, "check the arms");
    free(marks);
    store_close(r);
    store_close(w);
    /* opening again does not migrate twice */
    cr_assert_eq(store_open(&w, v1, STORE_WRITE), SF_OK, "%s", sf_last_error());
    store_close(w);
    cr_assert_eq(raw_int(v1, "SELECT count(*) FROM marks"), 1);
    cr_assert_eq(raw_int(v1, "PRAGMA foreign_key_check"), -1, "no dangling rows");
    fixture_free(&a);
    fixture_free(&b);
}

Test(store, version_1_file_in_a_read_only_folder_still_browses) {
    char src[160], v1[160];
    snprintf(src, sizeof src, "%s/src.db", dir);
    snprintf(v1, sizeof v1, "%s/v1.db", dir);
    fixture_run a, b;
    make_v1_file(src, v1, &a, &b);
    fixture_free(&a);
    fixture_free(&b);
    cr_assert_eq(chmod(v1, 0444), 0);
    cr_assert_eq(chmod(dir, 0555), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (geteuid() == 0 && setgid(65534) == 0 && setuid(65534) != 0) _exit(3);
        store *r = NULL;
        if (store_open(&r, v1, STORE_READ) != SF_OK) _exit(1);
        store_mark *marks = NULL;
        int n_marks = -1, nh = 0;
        store_hit *hits = NULL;
        int ok = store_schema_version(r) == 1 && store_marks(r, 2, &marks, &n_marks) == SF_OK &&
                 n_marks == 0 && store_top(r, 2, 1, 5, -1, &hits, &nh) == SF_OK && nh > 0;
        free(hits);
        store *w = NULL;
        ok =
            ok && store_open(&w, v1, STORE_WRITE) == SF_ERR && strstr(sf_last_error(), "read-only");
        store_close(r);
        _exit(ok ? 0 : 2);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    chmod(dir, 0755);
    chmod(v1, 0644);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "reading the version-1 file failed (%d)",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    cr_assert_eq(raw_int(v1, "PRAGMA user_version"), 1, "still version 1");
}

Test(store, a_failed_migration_leaves_version_1) {
    char src[160], v1[160];
    snprintf(src, sizeof src, "%s/src.db", dir);
    snprintf(v1, sizeof v1, "%s/v1.db", dir);
    fixture_run a, b;
    make_v1_file(src, v1, &a, &b);
    /* something in the way of version 2 (a table of that name) */
    raw_exec(v1, "CREATE TABLE marks (x)");
    store *w = NULL;
    cr_assert_eq(store_open(&w, v1, STORE_WRITE), SF_ERR);
    cr_assert(strstr(sf_last_error(), "from version 1 to 2") &&
                  strstr(sf_last_error(), "unchanged"),
              "%s", sf_last_error());
    cr_assert_eq(raw_int(v1, "PRAGMA user_version"), 1);
    raw_exec(v1, "DROP TABLE marks");
    assert_same_v1_data(v1, src);
    fixture_free(&a);
    fixture_free(&b);
}

Test(store, marks_add_remove_list) {
    store *s = NULL;
    fixture_run a, b;
    fixture_make(&a, 30, 16, 3, 1, 10, 1000, 31);
    fixture_make(&b, 30, 16, 3, 2, 10, 1010, 32);
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_OK);
    int64_t z = add_fixture(s, &a, "Z");
    int64_t sl = add_fixture(s, &b, "SL");
    cr_assert_eq(store_feature_label(s, z, 5, "bar", NULL), SF_OK);
    store_galaxy g1, g2;
    cr_assert_eq(store_galaxy_find(s, "1025", &g1), SF_OK); /* only in SL */
    cr_assert_eq(store_galaxy_find(s, "1003", &g2), SF_OK); /* only in Z */
    int added = -1, removed = -1;
    cr_assert_eq(store_mark_add(s, z, 9, 0, NULL, &added), SF_OK, "%s", sf_last_error());
    cr_assert_eq(added, 1);
    cr_assert_eq(store_mark_add(s, z, 5, 0, "", &added), SF_OK);
    cr_assert_eq(store_mark_add(s, z, -1, g1.id, "odd colour", &added), SF_OK, "%s",
                 sf_last_error());
    cr_assert_eq(store_mark_add(s, z, -1, g2.id, NULL, &added), SF_OK);
    cr_assert_eq(store_mark_add(s, sl, 9, 0, NULL, &added), SF_OK);
    /* again: kept once; a note replaces, NULL keeps it */
    cr_assert_eq(store_mark_add(s, z, 9, 0, NULL, &added), SF_OK);
    cr_assert_eq(added, 0);
    cr_assert_eq(store_mark_add(s, z, 9, 0, "merger?", &added), SF_OK);
    cr_assert_eq(store_mark_add(s, z, 9, 0, NULL, &added), SF_OK);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM marks"), 5);

    store_mark *m = NULL;
    int n = 0;
    cr_assert_eq(store_marks(s, z, &m, &n), SF_OK, "%s", sf_last_error());
    cr_assert_eq(n, 4);
    /* features by number, then galaxies by objID */
    cr_assert_eq(m[0].feature, 5);
    cr_assert_str_eq(m[0].label, "bar");
    cr_assert_str_eq(m[0].note, "");
    cr_assert_eq(m[1].feature, 9);
    cr_assert_str_eq(m[1].note, "merger?");
    cr_assert_eq(m[1].galaxy_id, 0);
    cr_assert_eq(m[2].feature, -1);
    cr_assert_str_eq(m[2].objid, "1003");
    cr_assert_eq(m[2].galaxy_id, g2.id);
    cr_assert_str_eq(m[3].objid, "1025");
    cr_assert_str_eq(m[3].note, "odd colour");
    for (int i = 0; i < n; i++) {
        cr_assert_eq(m[i].run_id, z);
        cr_assert_eq(strlen(m[i].created), 20, "%s", m[i].created);
    }
    free(m);
    cr_assert_eq(store_marks(s, sl, &m, &n), SF_OK);
    cr_assert_eq(n, 1, "marks are per run");
    free(m);

    /* refusals */
    cr_assert_eq(store_mark_add(s, z, 16, 0, NULL, NULL), SF_ERR);
    cr_assert(strstr(sf_last_error(), "no feature 16"), "%s", sf_last_error());
    cr_assert_eq(store_mark_add(s, z, -1, 99999, NULL, NULL), SF_ERR);
    cr_assert(strstr(sf_last_error(), "no galaxy"), "%s", sf_last_error());
    cr_assert_eq(store_mark_add(s, 77, -1, g1.id, NULL, NULL), SF_ERR);
    cr_assert(strstr(sf_last_error(), "no run"), "%s", sf_last_error());
    cr_assert_eq(store_mark_add(s, z, 3, g1.id, NULL, NULL), SF_ERR,
                 "a feature and a galaxy at once");
    cr_assert_eq(store_mark_add(s, z, -1, 0, NULL, NULL), SF_ERR, "neither");
    char *long_note = xcalloc(STORE_NOTE_MAX + 1, 1);
    memset(long_note, 'x', STORE_NOTE_MAX);
    cr_assert_eq(store_mark_add(s, z, 3, 0, long_note, NULL), SF_ERR);
    free(long_note);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM marks"), 5, "nothing written by a refusal");

    /* removal */
    cr_assert_eq(store_mark_remove(s, z, 9, 0, &removed), SF_OK);
    cr_assert_eq(removed, 1);
    cr_assert_eq(store_mark_remove(s, z, 9, 0, &removed), SF_OK);
    cr_assert_eq(removed, 0, "already gone");
    cr_assert_eq(store_mark_remove(s, z, -1, g1.id, &removed), SF_OK);
    cr_assert_eq(removed, 1);
    cr_assert_eq(store_marks(s, z, &m, &n), SF_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(m[0].feature, 5);
    cr_assert_str_eq(m[1].objid, "1003");
    free(m);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM marks WHERE run_id = 2 AND feature = 9"), 1,
                 "SL's mark of feature 9 stays");

    /* a store opened for reading lists but does not change */
    store *r = NULL;
    cr_assert_eq(store_open(&r, db_path, STORE_READ), SF_OK);
    cr_assert_eq(store_marks(r, z, &m, &n), SF_OK);
    cr_assert_eq(n, 2);
    free(m);
    cr_assert_eq(store_mark_remove(r, z, 5, 0, NULL), SF_ERR);
    cr_assert(strstr(sf_last_error(), "read-only"), "%s", sf_last_error());
    store_close(r);

    /* deleting a run takes its marks with it */
    cr_assert_eq(store_delete_run(s, z), SF_OK, "%s", sf_last_error());
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM marks"), 1);
    store_galaxy_clear(&g1);
    store_galaxy_clear(&g2);
    store_close(s);
    fixture_free(&a);
    fixture_free(&b);
}

/* ---- the schema checked at open -------------------------------------------------- */

/* A database with one run, then changed by sql behind the store's back. */
static void make_damaged(const char *sql) {
    store *s = NULL;
    fixture_run fx;
    fixture_make(&fx, 30, 16, 2, 1, 8, 1000, 1);
    cr_assert_eq(store_open(&s, db_path, STORE_CREATE), SF_OK, "%s", sf_last_error());
    add_fixture(s, &fx, "Z");
    store_close(s);
    fixture_free(&fx);
    raw_exec(db_path, sql);
}

Test(store, a_missing_table_column_or_index_is_found_at_open) {
    static const struct {
        const char *sql, *expect;
    } cases[] = {
        {"PRAGMA foreign_keys = OFF; DROP TABLE thumbnails", "table thumbnails is missing"},
        {"ALTER TABLE runs DROP COLUMN engine", "column runs.engine is missing"},
        {"DROP INDEX activations_by_feature", "index activations_by_feature is missing"},
        {"PRAGMA foreign_keys = OFF; DROP TABLE marks", "table marks is missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        unlink(db_path);
        make_damaged(cases[i].sql);
        int modes[] = {STORE_WRITE, STORE_CREATE, STORE_READ};
        for (int m = 0; m < 3; m++) {
            store *s = NULL;
            cr_assert_eq(store_open(&s, db_path, modes[m]), SF_ERR, "%s (mode %d) opened",
                         cases[i].sql, modes[m]);
            const char *e = sf_last_error();
            cr_assert(strstr(e, cases[i].expect) && strstr(e, "run.db"), "%s: %s", cases[i].sql, e);
        }
    }
}

/* Version 1 has no marks table: that file is not damaged, it is migrated. */
Test(store, an_older_version_is_checked_against_its_own_schema) {
    char src[160], v1[160];
    snprintf(src, sizeof src, "%s/src.db", dir);
    snprintf(v1, sizeof v1, "%s/v1.db", dir);
    make_damaged("SELECT 1");
    snprintf(src, sizeof src, "%s", db_path);
    cr_assert_eq(fixture_make_v1(v1, src), SF_OK, "%s", sf_last_error());
    store *s = NULL;
    cr_assert_eq(store_open(&s, v1, STORE_READ), SF_OK, "%s", sf_last_error());
    store_close(s);
    cr_assert_eq(store_open(&s, v1, STORE_WRITE), SF_OK, "%s", sf_last_error());
    cr_assert_eq(store_schema_version(s), STORE_SCHEMA_VERSION);
    store_close(s);
    /* but a version-1 file without a version-1 table is damaged */
    snprintf(v1, sizeof v1, "%s/v1b.db", dir);
    cr_assert_eq(fixture_make_v1(v1, src), SF_OK, "%s", sf_last_error());
    raw_exec(v1, "PRAGMA foreign_keys = OFF; DROP TABLE feature_targets");
    cr_assert_eq(store_open(&s, v1, STORE_WRITE), SF_ERR);
    cr_assert(strstr(sf_last_error(), "table feature_targets is missing") &&
                  strstr(sf_last_error(), "version 1"),
              "%s", sf_last_error());
    cr_assert_eq(raw_int(v1, "PRAGMA user_version"), 1, "not migrated");
}

Test(store, a_damaged_page_is_found_when_opening_for_writing) {
    make_damaged("SELECT 1");
    long long page = raw_int(db_path, "PRAGMA page_size");
    long long root =
        raw_int(db_path, "SELECT rootpage FROM sqlite_schema WHERE name = 'activations'");
    cr_assert_gt(root, 1);
    /* scribble over the middle of the activations table's root page */
    FILE *f = fopen(db_path, "r+b");
    cr_assert_not_null(f);
    fseek(f, (long)((root - 1) * page + 16), SEEK_SET);
    for (int i = 0; i < 64; i++) fputc(0xA5, f);
    fclose(f);
    store *s = NULL;
    cr_assert_eq(store_open(&s, db_path, STORE_WRITE), SF_ERR);
    cr_assert(strstr(sf_last_error(), "damaged"), "%s", sf_last_error());
}

Test(store, a_database_opens_from_bytes) {
    make_damaged("SELECT 1");
    char *bytes = NULL;
    size_t len = 0;
    /* through the WAL: checkpointed by closing, so the main file has everything */
    cr_assert_eq(sf_read_file(db_path, &bytes, &len), SF_OK);
    store *s = NULL;
    cr_assert_eq(store_open_bytes(&s, bytes, len, "copy.db"), SF_OK, "%s", sf_last_error());
    store_run *runs = NULL;
    int n = 0;
    cr_assert_eq(store_runs(s, &runs, &n), SF_OK, "%s", sf_last_error());
    cr_assert_eq(n, 1);
    cr_assert_str_eq(runs[0].prefix, "Z");
    store_runs_free(runs, n);
    /* read only */
    cr_assert_eq(store_feature_label(s, 1, 0, "x", NULL), SF_ERR);
    store_close(s);
    /* not a database, empty, cut short */
    cr_assert_eq(store_open_bytes(&s, "hello", 5, "hello.db"), SF_ERR);
    cr_assert(strstr(sf_last_error(), "hello.db"), "%s", sf_last_error());
    cr_assert_eq(store_open_bytes(&s, "", 0, "empty.db"), SF_ERR);
    cr_assert_eq(store_open_bytes(&s, bytes, len / 3, "cut.db"), SF_ERR);
    free(bytes);
}
