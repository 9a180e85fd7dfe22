/* merge_fixture.h: comparing run databases, for the tests of merge and of sharded
 * predict: a digest of a whole file, and the check that two runs are the same run of
 * one model over the same galaxies. Static functions, included by test files only. */
#ifndef SF_TEST_MERGE_FIXTURE_H
#define SF_TEST_MERGE_FIXTURE_H

#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "sf_util.h"

static inline double sql1(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    double v = sqlite3_column_type(st, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Every row of every table, hashed: equal digests, equal contents. */
static inline uint64_t digest(const char *path) {
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *tables;
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT name FROM sqlite_schema WHERE type = 'table' "
                                    "ORDER BY name",
                                    -1, &tables, NULL),
                 SQLITE_OK);
    uint64_t h = 0;
    while (sqlite3_step(tables) == SQLITE_ROW) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"",
                 (const char *)sqlite3_column_text(tables, 0));
        sqlite3_stmt *st;
        cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW)
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const void *p = sqlite3_column_blob(st, c);
                int n = sqlite3_column_bytes(st, c);
                h = h * 0x100000001b3ull ^ (p ? sf_hash64(p, (size_t)n) : 0x9e37ull);
            }
        sqlite3_finalize(st);
        h = h * 31 + sf_hash64(sql, strlen(sql));
    }
    sqlite3_finalize(tables);
    sqlite3_close(db);
    return h;
}

/* Asserts that run ra of a equals run rb of b as runs of one model over the same
 * galaxies: the galaxies and their splits, thumbnails and catalogue values exactly;
 * predictions, activations, the counts, RMSEs and every feature statistic to float
 * rounding (a network's sums may depend on which galaxies share its batch). */
#define MERGE_TOL "1e-5 * (1 + abs(%s))"
static inline void assert_same_run(const char *a, int64_t ra, const char *b, int64_t rb) {
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(a, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    char sql[2048];
    snprintf(sql, sizeof sql, "ATTACH '%s' AS b", b);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
#define Q(...) (snprintf(sql, sizeof sql, __VA_ARGS__), sql1(db, sql))
    double n = Q("SELECT n_galaxies FROM runs WHERE id = %lld", (long long)ra);
    cr_assert_gt(n, 0);
    cr_assert_eq(n, Q("SELECT n_galaxies FROM b.runs WHERE id = %lld", (long long)rb));
    cr_assert_eq(Q("SELECT n_valid FROM runs WHERE id = %lld", (long long)ra),
                 Q("SELECT n_valid FROM b.runs WHERE id = %lld", (long long)rb));
    cr_assert_eq(Q("SELECT n_train FROM runs WHERE id = %lld", (long long)ra),
                 Q("SELECT n_train FROM b.runs WHERE id = %lld", (long long)rb));
    /* the same objIDs with the same split */
    cr_assert_eq(Q("SELECT count(*) FROM run_galaxies r JOIN galaxies g ON g.id = r.galaxy_id "
                   "JOIN b.galaxies h ON h.objid = g.objid JOIN b.run_galaxies s "
                   "ON s.galaxy_id = h.id AND s.run_id = %lld WHERE r.run_id = %lld AND "
                   "r.split = s.split AND g.ra IS h.ra AND g.dec IS h.dec",
                   (long long)rb, (long long)ra),
                 n);
    /* predictions and activations, value for value */
    cr_assert_eq(Q("SELECT count(*) FROM predictions p JOIN galaxies g ON g.id = p.galaxy_id "
                   "JOIN b.galaxies h ON h.objid = g.objid JOIN b.predictions q ON "
                   "q.galaxy_id = h.id AND q.target = p.target AND q.run_id = %lld WHERE "
                   "p.run_id = %lld AND abs(p.pred - q.pred) <= " MERGE_TOL
                   " AND p.truth = q.truth",
                   (long long)rb, (long long)ra, "q.pred"),
                 Q("SELECT count(*) FROM b.predictions WHERE run_id = %lld", (long long)rb));
    double n_act = Q("SELECT count(*) FROM b.activations WHERE run_id = %lld", (long long)rb);
    cr_assert_eq(Q("SELECT count(*) FROM activations WHERE run_id = %lld", (long long)ra), n_act);
    cr_assert_eq(Q("SELECT count(*) FROM activations p JOIN galaxies g ON g.id = p.galaxy_id "
                   "JOIN b.galaxies h ON h.objid = g.objid JOIN b.activations q ON "
                   "q.galaxy_id = h.id AND q.feature = p.feature AND q.run_id = %lld WHERE "
                   "p.run_id = %lld AND abs(p.value - q.value) <= " MERGE_TOL,
                   (long long)rb, (long long)ra, "q.value"),
                 n_act, "the same features of the same galaxies, with the same values");
    /* thumbnails and catalogue values of the run's galaxies */
    cr_assert_eq(Q("SELECT count(*) FROM run_galaxies r JOIN galaxies g ON g.id = r.galaxy_id "
                   "JOIN thumbnails t ON t.galaxy_id = g.id JOIN b.galaxies h ON h.objid = "
                   "g.objid JOIN b.thumbnails u ON u.galaxy_id = h.id WHERE r.run_id = %lld "
                   "AND t.image = u.image AND t.format = u.format",
                   (long long)ra),
                 n);
    cr_assert_eq(Q("SELECT count(*) FROM run_galaxies r JOIN catalog_values v ON "
                   "v.galaxy_id = r.galaxy_id JOIN catalog_columns c ON c.id = v.column_id "
                   "JOIN galaxies g ON g.id = r.galaxy_id JOIN b.galaxies h ON h.objid = "
                   "g.objid JOIN b.catalog_columns d ON d.name = c.name JOIN b.catalog_values w "
                   "ON w.column_id = d.id AND w.galaxy_id = h.id WHERE r.run_id = %lld AND "
                   "v.value = w.value",
                   (long long)ra),
                 Q("SELECT count(*) FROM b.run_galaxies r JOIN b.catalog_values v ON "
                   "v.galaxy_id = r.galaxy_id WHERE r.run_id = %lld",
                   (long long)rb));
    /* the statistics */
    const char *stats[] = {"train_rmse", "valid_rmse"};
    for (int i = 0; i < 2; i++) {
        double x = Q("SELECT %s FROM runs WHERE id = %lld", stats[i], (long long)ra);
        double y = Q("SELECT %s FROM b.runs WHERE id = %lld", stats[i], (long long)rb);
        cr_assert_float_eq(x, y, 1e-5 * (1 + fabs(y)), "%s: %.17g vs %.17g", stats[i], x, y);
    }
    cr_assert_lt(Q("SELECT max(abs(t.train_rmse - u.train_rmse) + abs(t.valid_rmse - "
                   "u.valid_rmse)) FROM run_targets t JOIN b.run_targets u USING (target) "
                   "WHERE t.run_id = %lld AND u.run_id = %lld",
                   (long long)ra, (long long)rb),
                 1e-5);
    double d = Q("SELECT d FROM runs WHERE id = %lld", (long long)ra);
    cr_assert_eq(Q("SELECT count(*) FROM run_features f JOIN b.run_features e USING (feature) "
                   "WHERE f.run_id = %lld AND e.run_id = %lld AND f.n_active = e.n_active AND "
                   "f.n_active_valid = e.n_active_valid AND f.f_activated = e.f_activated AND "
                   "abs(f.max_valid - e.max_valid) <= " MERGE_TOL
                   " AND abs(f.max - e.max) <= " MERGE_TOL
                   " AND abs(f.mean - e.mean) <= " MERGE_TOL,
                   (long long)ra, (long long)rb, "e.max_valid", "e.max", "e.mean"),
                 d);
    cr_assert_eq(Q("SELECT count(*) FROM feature_targets f JOIN b.feature_targets e USING "
                   "(feature, target) WHERE f.run_id = %lld AND e.run_id = %lld AND "
                   "f.weight = e.weight AND ((f.pearson IS NULL AND e.pearson IS NULL) OR "
                   "abs(f.pearson - e.pearson) <= 1e-5)",
                   (long long)ra, (long long)rb),
                 Q("SELECT count(*) FROM b.feature_targets WHERE run_id = %lld", (long long)rb));
    /* the per-run summaries the pages read, computed from the merged galaxies (the hits
     * are numbered by the run's validation order, which follows galaxy ids: their
     * counts only) */
    cr_assert_eq(
        Q("SELECT count(*) FROM feature_summaries f JOIN b.feature_summaries e USING "
          "(feature) WHERE f.run_id = %lld AND e.run_id = %lld AND abs(f.sum - e.sum) "
          "<= " MERGE_TOL " AND abs(f.sum_sq - e.sum_sq) <= " MERGE_TOL " AND "
          "abs(f.sum_valid - e.sum_valid) <= " MERGE_TOL " AND abs(f.sum_sq_valid - "
          "e.sum_sq_valid) <= " MERGE_TOL " AND length(f.valid_hits) IS length(e.valid_hits)",
          (long long)ra, (long long)rb, "e.sum", "e.sum_sq", "e.sum_valid", "e.sum_sq_valid"),
        d);
    const char *counted[][2] = {
        {"feature_pairs",
         "(feature, other) WHERE f.n_both = e.n_both AND f.n_both_valid = "
         "e.n_both_valid AND abs(f.cross - e.cross) <= 1e-4 * (1 + abs(e.cross)) "
         "AND abs(f.cross_valid - e.cross_valid) <= 1e-4 * (1 + abs(e.cross_valid))"},
        {"feature_samples",
         "(feature, rank) WHERE abs(f.value - e.value) <= 1e-5 * (1 + abs(e.value))"},
        {"feature_columns", "(feature, position) WHERE f.name = e.name AND f.n_pairs = e.n_pairs "
                            "AND abs(f.rho - e.rho) <= 1e-5"},
        {"run_levels", "(n_terms, target) WHERE (f.rmse IS NULL AND e.rmse IS NULL) OR "
                       "abs(f.rmse - e.rmse) <= 1e-5 * (1 + abs(e.rmse))"},
    };
    for (int i = 0; i < 4; i++) {
        double all =
            Q("SELECT count(*) FROM b.%s WHERE run_id = %lld", counted[i][0], (long long)rb);
        cr_assert_eq(Q("SELECT count(*) FROM %s WHERE run_id = %lld", counted[i][0], (long long)ra),
                     all, "%s: not as many rows", counted[i][0]);
        cr_assert_eq(
            Q("SELECT count(*) FROM (SELECT * FROM %s WHERE run_id = %lld) f JOIN (SELECT * "
              "FROM b.%s WHERE run_id = %lld) e USING %s",
              counted[i][0], (long long)ra, counted[i][0], (long long)rb, counted[i][1]),
            all, "%s differ", counted[i][0]);
    }
    cr_assert_eq(Q("SELECT count(*) FROM run_weights w JOIN b.run_weights v ON v.run_id = %lld "
                   "WHERE w.run_id = %lld AND w.safetensors = v.safetensors",
                   (long long)rb, (long long)ra),
                 1);
#undef Q
#undef MERGE_TOL
    sqlite3_close(db);
}

#endif
