/* test_fits_e2e.c: FITS as users meet it, against CSV + JPEG and astropy.
 *  - an MPA-JHU-shaped pair of FITS tables (info + lines, written by astropy) joined
 *    row by row gives the metallicity and bpt_lines cuts of the equivalent CSV;
 *  - a FITS cutout decodes to the RGB an independent numpy stretch computes;
 *  - 80 of the SDSS galaxies as CSV + JPEG and as a FITS table (written here by
 *    cfitsio, and by astropy) + JPEG give byte-identical activations and
 *    predictions, through --train and through predict --into, and the FITS table's
 *    two shards (predict --shard) merged give that run;
 *  - export-activations --fits (dense and --pairs) and predict -o OUT.fits are read
 *    back by astropy with the values of the .npy and CSV outputs, and fitsverify
 *    passes them;
 *  - a run trained on FITS cutouts stores its stretch and predict --from-run
 *    repeats it.
 * Needs python3 with astropy (PYTHON) and the binary (SFNET_BIN); the SDSS part
 * needs ../shared/data/sdss-metallicity-400 and says so when it is absent. */
#include <criterion/criterion.h>
#include <fitsio.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_catalog.h"
#include "data_fits.h"
#include "data_fixture.h"
#include "data_image.h"
#include "sf_util.h"

TestSuite(fits_e2e, .init = fx_make_dir, .fini = fx_remove_dir, .timeout = 1200);

static const char *python(void) {
    const char *p = getenv("PYTHON");
    return p && *p ? p : "/usr/bin/python3";
}

static const char *binary(void) {
    const char *env = getenv("SFNET_BIN");
    if (env && *env) return env;
#ifdef __SANITIZE_ADDRESS__
    return "build-san/sfnet-explore";
#else
    return "build/sfnet-explore";
#endif
}

/* Runs a shell command; its status must be 0. */
static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    cr_assert_eq(rc, 0, "failed (%d): %s", rc, cmd);
}

static void check(const char *what, const char *args) {
    run("%s tests/fits_check.py %s %s", python(), what, args);
}

Test(fits_e2e, mpajhu_tables_joined_row_by_row_cut_as_the_csv) {
    check("mpajhu", fx_dir);
    catalog_sources src = {.n_files = 2};
    src.files[0] = fx_path("gal_info.fits");
    src.files[1] = fx_path("gal_line.fits[GALLINE]");
    catalog fits_cat, csv_cat;
    cr_assert_eq(catalog_load_sources(&fits_cat, &src), SF_OK, "%s", sf_last_error());
    cr_assert_eq(catalog_load(&csv_cat, fx_path("galaxies.csv")), SF_OK, "%s", sf_last_error());
    cr_assert_eq(fits_cat.n_rows, csv_cat.n_rows);
    for (int r = 0; r < csv_cat.n_rows; r++)
        cr_assert_str_eq(fits_cat.obj_ids[r], csv_cat.obj_ids[r]);
    const char *presets[] = {"metallicity", "bpt_lines"};
    for (int p = 0; p < 2; p++) {
        target_set a, b;
        cr_assert_eq(targets_select(&a, &fits_cat, presets[p]), SF_OK, "%s", sf_last_error());
        cr_assert_eq(targets_select(&b, &csv_cat, presets[p]), SF_OK, "%s", sf_last_error());
        cr_assert_eq(a.n_rows, b.n_rows, "%s: %d rows from FITS, %d from CSV", presets[p], a.n_rows,
                     b.n_rows);
        cr_assert_eq(a.n_cuts, b.n_cuts);
        int removed = 0;
        for (int c = 0; c < a.n_cuts; c++) {
            cr_assert_str_eq(a.cuts[c].name, b.cuts[c].name);
            cr_assert_eq(a.cuts[c].removed, b.cuts[c].removed, "%s: %d vs %d", a.cuts[c].name,
                         a.cuts[c].removed, b.cuts[c].removed);
            removed += a.cuts[c].removed;
        }
        cr_assert_gt(removed, 0, "the fixture exercises the cuts");
        cr_assert_gt(a.n_rows, 20);
        cr_assert_eq(memcmp(a.rows, b.rows, (size_t)a.n_rows * sizeof *a.rows), 0);
        cr_assert_eq(memcmp(a.y, b.y, (size_t)a.n_rows * a.n_targets * sizeof *a.y), 0);
        targets_free(&a);
        targets_free(&b);
    }
    catalog_free(&fits_cat);
    catalog_free(&csv_cat);
    /* the bpt command says the same of both */
    run("%s bpt --catalog %s --catalog '%s' > %s 2>/dev/null", binary(), fx_path("gal_info.fits"),
        fx_path("gal_line.fits[GALLINE]"), fx_path("bpt_fits.csv"));
    run("%s bpt --catalog %s > %s 2>/dev/null", binary(), fx_path("galaxies.csv"),
        fx_path("bpt_csv.csv"));
    run("cmp %s %s", fx_path("bpt_fits.csv"), fx_path("bpt_csv.csv"));
}

Test(fits_e2e, cutout_stretch_matches_numpy_to_one_grey_level) {
    check("stretch", fx_dir);
    uint8_t *rgb, *expected;
    int w, h;
    cr_assert_eq(image_decode(fx_path("cube.fits"), &rgb, &w, &h), SF_OK, "%s", sf_last_error());
    size_t n = fx_read_bytes(fx_path("expected.rgb"), &expected);
    cr_assert_eq(n, (size_t)w * h * 3, "%zu bytes for %dx%d", n, w, h);
    int worst = 0, differing = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)rgb[i] - (int)expected[i]);
        if (d > worst) worst = d;
        differing += d != 0;
    }
    cr_assert_leq(worst, 1, "largest difference %d grey levels", worst);
    cr_log_info("stretch: %d of %zu samples differ from numpy by 1, none by more", differing, n);
    free(rgb);
    free(expected);
}

/* ---- the SDSS sample --------------------------------------------------------- */

static char shared[1024];

/* The sample's catalogue as a FITS table written with cfitsio's own calls. */
static void write_catalog_with_cfitsio(const char *csv, const char *out) {
    catalog c;
    cr_assert_eq(catalog_load(&c, csv), SF_OK, "%s", sf_last_error());
    fitsfile *f;
    int status = 0;
    char **ttype = xcalloc((size_t)c.n_cols + 1, sizeof *ttype);
    char **tform = xcalloc((size_t)c.n_cols + 1, sizeof *tform);
    ttype[0] = "OBJID";
    tform[0] = "K";
    for (int j = 0; j < c.n_cols; j++) ttype[1 + j] = c.col_names[j], tform[1 + j] = "D";
    fits_create_file(&f, out, &status);
    fits_create_tbl(f, BINARY_TBL, 0, c.n_cols + 1, ttype, tform, NULL, "GALAXIES", &status);
    long long *ids = xmalloc((size_t)c.n_rows * sizeof *ids);
    double *col = xmalloc((size_t)c.n_rows * sizeof *col);
    for (int r = 0; r < c.n_rows; r++) ids[r] = strtoll(c.obj_ids[r], NULL, 10);
    fits_write_col(f, TLONGLONG, 1, 1, 1, c.n_rows, ids, &status);
    for (int j = 0; j < c.n_cols; j++) {
        for (int r = 0; r < c.n_rows; r++) col[r] = catalog_value(&c, r, j);
        fits_write_colnull(f, TDOUBLE, 2 + j, 1, 1, c.n_rows, col, &(double){NAN}, &status);
    }
    fits_close_file(f, &status);
    cr_assert_eq(status, 0, "cfitsio status %d", status);
    free(ids);
    free(col);
    free(ttype);
    free(tform);
    catalog_free(&c);
}

/* A digest of what a run stored: every (objID, feature, value) and (objID, target,
 * pred, truth), values as their exact bits, in objID order. */
static char *run_digest(const char *db, int run_id, const char *what) {
    sqlite3 *s;
    cr_assert_eq(sqlite3_open_v2(db, &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    char sql[600];
    if (!strcmp(what, "activations"))
        snprintf(sql, sizeof sql,
                 "SELECT group_concat(x, ';') FROM (SELECT g.objid || ' ' || a.feature || ' ' || "
                 "hex(CAST(a.value AS BLOB)) || ' ' || printf('%%.17g', a.value) AS x FROM "
                 "activations a JOIN galaxies g ON g.id = a.galaxy_id WHERE a.run_id = %d "
                 "ORDER BY g.objid, a.feature)",
                 run_id);
    else
        snprintf(sql, sizeof sql,
                 "SELECT group_concat(x, ';') FROM (SELECT g.objid || ' ' || p.target || ' ' || "
                 "printf('%%.17g %%.17g', p.pred, p.truth) AS x FROM predictions p JOIN galaxies "
                 "g ON g.id = p.galaxy_id WHERE p.run_id = %d ORDER BY g.objid, p.target)",
                 run_id);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(s, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(s));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    const char *text = (const char *)sqlite3_column_text(st, 0);
    cr_assert_not_null(text, "run %d of %s stored no %s", run_id, db, what);
    char *out = xstrdup(text);
    sqlite3_finalize(st);
    sqlite3_close(s);
    return out;
}

static void same_runs(const char *db_a, int run_a, const char *db_b, int run_b) {
    const char *what[] = {"activations", "predictions"};
    for (int i = 0; i < 2; i++) {
        char *a = run_digest(db_a, run_a, what[i]), *b = run_digest(db_b, run_b, what[i]);
        cr_assert_gt(strlen(a), 1000);
        cr_assert(!strcmp(a, b), "%s of run %d of %s and run %d of %s differ", what[i], run_a, db_a,
                  run_b, db_b);
        free(a);
        free(b);
    }
}

/* The weights of run 1 of db, written to path. */
static void run_weights(const char *db, const char *path) {
    sqlite3 *s;
    cr_assert_eq(sqlite3_open_v2(db, &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(s, "SELECT safetensors FROM run_weights WHERE run_id = 1", -1,
                                    &st, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(s));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    fx_write_bytes(path, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(s);
}

#define TINY "--width 8 --epochs 1 --resize 40 --crop 32 --k 3 -q"

Test(fits_e2e, sdss_sample_as_csv_and_as_fits_gives_the_same_run) {
    FX_SKIP_WITHOUT_SHARED(shared);
    char images[1200], all[1200];
    snprintf(all, sizeof all, "%s/galaxies.csv", shared);
    snprintf(images, sizeof images, "%s/images", shared);
    /* the first 80 galaxies keep the test short */
    char csv[600];
    snprintf(csv, sizeof csv, "%s", fx_path("sample.csv")); /* fx_path's buffers rotate */
    run("head -n 81 %s > %s", all, csv);
    write_catalog_with_cfitsio(csv, fx_path("cfitsio.fits"));
    run("%s tests/fits_check.py table %s %s", python(), csv, fx_path("astropy.fits"));

    /* --train: CSV and the cfitsio table */
    run("%s --train %s --catalog %s --images %s %s > /dev/null", binary(), TINY, csv, images,
        fx_path("csv.db"));
    run("%s --train %s --catalog '%s[GALAXIES]' --images %s %s > /dev/null", binary(), TINY,
        fx_path("cfitsio.fits"), images, fx_path("fits.db"));
    same_runs(fx_path("csv.db"), 1, fx_path("fits.db"), 1);

    /* predict --into: CSV and the astropy table, the same weights */
    run("%s predict --from-run Z --into %s --catalog %s --images %s -q -n P > /dev/null", binary(),
        fx_path("csv.db"), csv, images);
    run("%s predict --from-run Z --into %s --catalog %s --images %s -q -n Q > /dev/null", binary(),
        fx_path("csv.db"), fx_path("astropy.fits"), images);
    same_runs(fx_path("csv.db"), 2, fx_path("csv.db"), 3);

    /* the FITS table in two shards, merged: the run of the whole */
    for (int i = 0; i < 2; i++)
        run("%s predict --from-run %s:Z --shard %d/2 --into %s --catalog %s --images %s -q "
            "> /dev/null 2>&1",
            binary(), fx_path("csv.db"), i, fx_path(i ? "s1.db" : "s0.db"), fx_path("astropy.fits"),
            images);
    run("%s merge -q %s %s %s > /dev/null", binary(), fx_path("merged.db"), fx_path("s0.db"),
        fx_path("s1.db"));
    same_runs(fx_path("csv.db"), 2, fx_path("merged.db"), 1);

    /* exports read back by astropy */
    run("%s export-activations %s Z %s 2>/dev/null", binary(), fx_path("csv.db"),
        fx_path("act.npy"));
    run("%s export-activations --fits %s %s Z 2>/dev/null", binary(), fx_path("act.fits"),
        fx_path("csv.db"));
    run("%s export-activations --pairs --fits %s %s Z 2>/dev/null", binary(), fx_path("pairs.fits"),
        fx_path("csv.db"));
    char args[2000];
    snprintf(args, sizeof args, "%s %s %s", fx_path("act.fits"), fx_path("act.npy"),
             fx_path("act.objids.txt"));
    check("export", args);
    snprintf(args, sizeof args, "%s %s %s 3", fx_path("pairs.fits"), fx_path("act.npy"),
             fx_path("act.objids.txt"));
    check("pairs", args);

    /* predict -o OUT.fits against predict -o OUT.csv */
    run_weights(fx_path("csv.db"), fx_path("w.safetensors"));
    run("%s predict -w %s --catalog %s --images %s -q -o %s", binary(), fx_path("w.safetensors"),
        fx_path("astropy.fits"), images, fx_path("pred.fits"));
    run("%s predict -w %s --catalog %s --images %s -q -o %s", binary(), fx_path("w.safetensors"),
        csv, images, fx_path("pred.csv"));
    snprintf(args, sizeof args, "%s %s", fx_path("pred.fits"), fx_path("pred.csv"));
    check("predict", args);
    /* HEASARC's verifier finds no warning in any of them (what TOPCAT reads, too) */
    run("fitsverify -q -e %s %s %s | grep -c 'verification OK' | grep -qx 3", fx_path("act.fits"),
        fx_path("pairs.fits"), fx_path("pred.fits"));
}

Test(fits_e2e, fits_cutouts_train_and_predict_from_run_repeats_the_stretch) {
    char args[600];
    snprintf(args, sizeof args, "%s 40", fx_dir);
    check("cutouts", args);
    char *cat = xstrdup(fx_path("galaxies.csv")), *images = xstrdup(fx_path("images"));
    char *db = xstrdup(fx_path("cut.db"));
    /* 40 galaxies written by astropy: a non-default Q, stored with the run */
    run("%s --train %s --fits-q 12 --split-seed 3 --catalog %s --images %s %s > /dev/null",
        binary(), TINY, cat, images, db);
    sqlite3 *s;
    cr_assert_eq(sqlite3_open_v2(db, &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(s, "SELECT hyper FROM runs WHERE id = 1", -1, &st, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(s));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    const char *hyper = (const char *)sqlite3_column_text(st, 0);
    cr_assert(strstr(hyper, "\"fits_rgb\":{\"bands\":[\"g\",\"r\",\"i\"]") &&
                  strstr(hyper, "\"Q\":12"),
              "%s", hyper);
    sqlite3_finalize(st);
    sqlite3_close(s);
    /* --from-run repeats Q 12: the same predictions; Q 20 given: others */
    run("%s predict --from-run Z --split-seed 3 --into %s --catalog %s --images %s -q -n A "
        "> /dev/null",
        binary(), db, cat, images);
    run("%s predict --from-run Z --split-seed 3 --fits-q 20 --into %s --catalog %s --images %s "
        "-q -n B > /dev/null",
        binary(), db, cat, images);
    char *trained = run_digest(db, 1, "predictions"), *same = run_digest(db, 2, "predictions");
    char *other = run_digest(db, 3, "predictions");
    cr_assert(!strcmp(trained, same), "predict --from-run did not repeat the stretch");
    cr_assert(strcmp(trained, other), "a different Q changed nothing");
    free(trained);
    free(same);
    free(other);
    free(cat);
    free(images);
    free(db);
}
