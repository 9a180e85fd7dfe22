/* Tests of data_catalog: RFC 4180 reading, missing values, malformed lines,
 * the target presets with their removed counts, and the real 400-galaxy sample. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_catalog.h"
#include "data_fixture.h"
#include "sf_util.h"

static char tmpdir[256];
static char csv_path[300];

static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sfnet-catalog-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    snprintf(csv_path, sizeof csv_path, "%s/galaxies.csv", tmpdir);
}

static void remove_tmpdir(void) {
    unlink(csv_path);
    rmdir(tmpdir);
}

TestSuite(catalog, .init = make_tmpdir, .fini = remove_tmpdir);

/* Writes text (exact bytes, length n or strlen) as the test's catalogue. */
static void write_csv_n(const char *text, size_t n) {
    FILE *f = fopen(csv_path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(text, 1, n, f), n);
    fclose(f);
}
static void write_csv(const char *text) { write_csv_n(text, strlen(text)); }

/* Loads the test's catalogue expecting failure; returns the message. */
static const char *load_error(void) {
    catalog cat;
    cr_assert_eq(catalog_load(&cat, csv_path), SF_ERR);
    cr_assert_null(cat.obj_ids);
    return sf_last_error();
}

static void assert_contains(const char *hay, const char *needle) {
    cr_assert(strstr(hay, needle) != NULL, "expected '%s' in message: %s", needle, hay);
}

Test(catalog, reads_header_ids_as_text_and_numbers) {
    write_csv("objID,oh_p50,z\n1237648704043942146,8.882136,0.05\n"
              "1237667292122513532,8.951163,1e-1\n");
    catalog cat;
    cr_assert_eq(catalog_load(&cat, csv_path), SF_OK, "%s", sf_last_error());
    cr_assert_eq(cat.n_rows, 2);
    cr_assert_eq(cat.n_cols, 2);
    cr_assert_str_eq(cat.col_names[0], "oh_p50");
    cr_assert_str_eq(cat.col_names[1], "z");
    cr_assert_str_eq(cat.obj_ids[0], "1237648704043942146");
    cr_assert_str_eq(cat.obj_ids[1], "1237667292122513532");
    cr_assert_float_eq(catalog_value(&cat, 0, 0), 8.882136, 1e-12);
    cr_assert_float_eq(catalog_value(&cat, 1, 1), 0.1, 1e-12);
    cr_assert_eq(cat.line_of_row[0], 2);
    cr_assert_eq(cat.line_of_row[1], 3);
    cr_assert_eq(catalog_column(&cat, "z"), 1);
    cr_assert_eq(catalog_column(&cat, "objID"), -1);
    cr_assert_eq(catalog_column(&cat, "nope"), -1);
    catalog_free(&cat);
    cr_assert_null(cat.values);
}

Test(catalog, objid_column_may_be_anywhere) {
    write_csv("ra,objID,dec\n1.5,42,-2\n");
    catalog cat;
    cr_assert_eq(catalog_load(&cat, csv_path), SF_OK, "%s", sf_last_error());
    cr_assert_str_eq(cat.obj_ids[0], "42");
    cr_assert_str_eq(cat.col_names[0], "ra");
    cr_assert_str_eq(cat.col_names[1], "dec");
    cr_assert_float_eq(catalog_value(&cat, 0, 1), -2.0, 0);
    catalog_free(&cat);
}

Test(catalog, quoted_fields_escapes_commas_and_newlines) {
    write_csv("objID,\"note\",x\n"
              "\"1\",\"a, b\",1.5\n"
              "2,\"say \"\"hi\"\"\",2.5\n"
              "3,\"two\nlines\",3.5\n"
              "4,,\"4.5\"\n");
    catalog cat;
    cr_assert_eq(catalog_load(&cat, csv_path), SF_OK, "%s", sf_last_error());
    cr_assert_eq(cat.n_rows, 4);
    cr_assert_str_eq(cat.col_names[0], "note");
    cr_assert_str_eq(cat.obj_ids[0], "1");
    for (int i = 0; i < 4; i++) {
        cr_assert(isnan(catalog_value(&cat, i, 0)), "text field is missing as a number");
        cr_assert_float_eq(catalog_value(&cat, i, 1), 1.5 + i, 1e-12);
    }
    /* The record with an embedded newline starts on line 4; the next on line 6. */
    cr_assert_eq(cat.line_of_row[2], 4);
    cr_assert_eq(cat.line_of_row[3], 6);
    catalog_free(&cat);
}

Test(catalog, crlf_bom_and_blank_lines) {
    write_csv("\xEF\xBB\xBFobjID,v\r\n10,1\r\n\r\n11,\"x\r\ny\"\r\n12,3\r\n");
    catalog cat;
    cr_assert_eq(catalog_load(&cat, csv_path), SF_OK, "%s", sf_last_error());
    cr_assert_eq(cat.n_rows, 3);
    cr_assert_str_eq(cat.obj_ids[0], "10", "the BOM is not part of the first column name");
    cr_assert_str_eq(cat.obj_ids[2], "12");
    cr_assert_float_eq(catalog_value(&cat, 0, 0), 1.0, 0);
    cr_assert(isnan(catalog_value(&cat, 1, 0)));
    cr_assert_float_eq(catalog_value(&cat, 2, 0), 3.0, 0);
    cr_assert_eq(cat.line_of_row[1], 4);
    cr_assert_eq(cat.line_of_row[2], 6);
    catalog_free(&cat);
}

Test(catalog, no_final_newline) {
    write_csv("objID,v\n1,2");
    catalog cat;
    cr_assert_eq(catalog_load(&cat, csv_path), SF_OK, "%s", sf_last_error());
    cr_assert_eq(cat.n_rows, 1);
    cr_assert_float_eq(catalog_value(&cat, 0, 0), 2.0, 0);
    catalog_free(&cat);
}

Test(catalog, missing_values) {
    write_csv("objID,v\n1,\n2,NaN\n3,-9999\n4,-9999.0\n5,abc\n6,nan\n7, 4.25 \n8,-9998\n"
              "9,inf\n10,12x\n");
    catalog cat;
    cr_assert_eq(catalog_load(&cat, csv_path), SF_OK, "%s", sf_last_error());
    cr_assert_eq(cat.n_rows, 10);
    for (int i = 0; i < 6; i++) cr_assert(isnan(catalog_value(&cat, i, 0)), "row %d", i);
    cr_assert_float_eq(catalog_value(&cat, 6, 0), 4.25, 0);
    cr_assert_float_eq(catalog_value(&cat, 7, 0), -9998.0, 0);
    cr_assert(isnan(catalog_value(&cat, 8, 0)));
    cr_assert(isnan(catalog_value(&cat, 9, 0)));
    catalog_free(&cat);
}

Test(catalog, unterminated_quote_names_file_and_line) {
    write_csv("objID,v\n1,2\n2,\"3\n3,4\n");
    const char *e = load_error();
    char want[400];
    snprintf(want, sizeof want, "%s:3:", csv_path);
    assert_contains(e, want);
    assert_contains(e, "unterminated quoted field 2");
}

Test(catalog, wrong_field_count_names_file_and_line) {
    write_csv("objID,a,b\n1,2,3\n2,3\n");
    const char *e = load_error();
    char want[400];
    snprintf(want, sizeof want, "%s:3: expected 3 fields", csv_path);
    assert_contains(e, want);
    assert_contains(e, "found 2");
}

Test(catalog, too_many_fields_after_multiline_field) {
    write_csv("objID,a\n1,\"x\ny\"\n2,3,4\n");
    const char *e = load_error();
    char want[400];
    snprintf(want, sizeof want, "%s:4: expected 2 fields", csv_path);
    assert_contains(e, want);
}

Test(catalog, stray_quotes_are_errors) {
    write_csv("objID,a\n1,\"2\"x\n");
    const char *e = load_error();
    assert_contains(e, ":2: unexpected 'x' after the closing quote");
    write_csv("objID,a\n1,2\"x\n");
    e = load_error();
    assert_contains(e, ":2: quote inside unquoted field 2");
}

Test(catalog, header_problems) {
    write_csv("id,a\n1,2\n");
    assert_contains(load_error(), ":1: no objID column");
    write_csv("objID,a,a\n1,2,3\n");
    assert_contains(load_error(), ":1: column 'a' appears twice");
    write_csv("objID,,a\n1,2,3\n");
    assert_contains(load_error(), ":1: header field 2 is empty");
}

Test(catalog, empty_and_header_only_files) {
    write_csv("");
    assert_contains(load_error(), "empty file");
    write_csv("\n\n");
    assert_contains(load_error(), "empty file");
    write_csv("objID,oh_p50\n");
    assert_contains(load_error(), "no galaxies");
}

Test(catalog, empty_and_duplicate_objids) {
    write_csv("objID,a\n1,2\n,3\n");
    assert_contains(load_error(), ":3: empty objID");
    write_csv("objID,a\n7,2\n8,3\n7,4\n");
    const char *e = load_error();
    assert_contains(e, ":4: objID 7 appears again (first on line 2)");
}

Test(catalog, nul_bytes_and_missing_file) {
    write_csv_n("objID,a\n1,\0\n", 12);
    assert_contains(load_error(), "NUL");
    catalog cat;
    cr_assert_eq(catalog_load(&cat, "/nonexistent/galaxies.csv"), SF_ERR);
    assert_contains(sf_last_error(), "/nonexistent/galaxies.csv");
}

/* Not a regular file: a clear message at once, never a read until memory runs out or
 * a wait for a writer that never comes. */
Test(catalog, directories_fifos_and_devices_are_refused_at_once, .timeout = 20) {
    catalog cat;
    cr_assert_eq(catalog_load(&cat, tmpdir), SF_ERR);
    assert_contains(sf_last_error(), "is a directory");
    char fifo[400];
    snprintf(fifo, sizeof fifo, "%s/fifo.csv", tmpdir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    cr_assert_eq(catalog_load(&cat, fifo), SF_ERR);
    unlink(fifo);
    assert_contains(sf_last_error(), "fifo.csv is a FIFO, not a regular file");
    /* the same under a FITS name (cfitsio would wait for a writer), with a selection */
    snprintf(fifo, sizeof fifo, "%s/fifo.fits", tmpdir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    cr_assert_eq(catalog_load(&cat, fifo), SF_ERR);
    assert_contains(sf_last_error(), "fifo.fits is a FIFO, not a regular file");
    char selected[420];
    snprintf(selected, sizeof selected, "%s[1]", fifo);
    cr_assert_eq(catalog_load(&cat, selected), SF_ERR);
    assert_contains(sf_last_error(), "fifo.fits is a FIFO, not a regular file");
    unlink(fifo);
    /* a folder named like a FITS file */
    snprintf(fifo, sizeof fifo, "%s/folder.fits", tmpdir);
    cr_assert_eq(mkdir(fifo, 0700), 0);
    cr_assert_eq(catalog_load(&cat, fifo), SF_ERR);
    assert_contains(sf_last_error(), "folder.fits is a directory");
    rmdir(fifo);
#ifndef __SANITIZE_ADDRESS__
    /* before this was refused, /dev/zero was read until memory ran out */
    struct rlimit lim = {(rlim_t)2 << 30, (rlim_t)2 << 30};
    setrlimit(RLIMIT_AS, &lim);
#endif
    cr_assert_eq(catalog_load(&cat, "/dev/zero"), SF_ERR);
    assert_contains(sf_last_error(), "/dev/zero is a character device, not a regular file");
    /* a link to a regular file is fine */
    write_csv("objID,a\n1,2\n");
    char link[400];
    snprintf(link, sizeof link, "%s/link.csv", tmpdir);
    cr_assert_eq(symlink(csv_path, link), 0);
    cr_assert_eq(catalog_load(&cat, link), SF_OK, "%s", sf_last_error());
    unlink(link);
    catalog_free(&cat);
}

Test(catalog, a_binary_file_is_refused_from_its_first_bytes) {
    /* a large file with a NUL early on (an image, a FITS file given by mistake) */
    size_t n = 8u << 20;
    char *junk = malloc(n);
    memset(junk, 'x', n);
    junk[100] = 0;
    write_csv_n(junk, n);
    free(junk);
    assert_contains(load_error(), "NUL");
}

/* ---- targets ---- */

static void load_ok(catalog *cat, const char *text) {
    write_csv(text);
    cr_assert_eq(catalog_load(cat, csv_path), SF_OK, "%s", sf_last_error());
}

static int cut_removed(const target_set *ts, const char *name) {
    for (int i = 0; i < ts->n_cuts; i++)
        if (!strcmp(ts->cuts[i].name, name)) return ts->cuts[i].removed;
    cr_assert_fail("no cut named '%s'", name);
    return -1;
}

Test(catalog, metallicity_preset_cuts_and_counts) {
    catalog cat;
    load_ok(&cat, "objID,oh_p50,lgm_tot_p50,sfr_tot_p50\n"
                  "1,8.9,10.1,0.5\n" /* kept */
                  "2,-9999,10,0\n"   /* oh missing */
                  "3,0,10,0\n"       /* oh > 0 fails */
                  "4,8.7,,0\n"       /* lgm missing */
                  "5,8.6,-1,0\n"     /* lgm > 0 fails */
                  "6,8.5,10,-10\n"   /* sfr > -10 fails (not strictly greater) */
                  "7,8.4,10,NaN\n"   /* sfr missing */
                  "8,9.1,9.5,-2\n"); /* kept */
    target_set ts;
    cr_assert_eq(targets_select(&ts, &cat, "metallicity"), SF_OK, "%s", sf_last_error());
    cr_assert_str_eq(ts.preset, "metallicity");
    cr_assert_eq(ts.n_targets, 1);
    cr_assert_str_eq(ts.names[0], "oh_p50");
    cr_assert_eq(ts.n_rows, 2);
    cr_assert_eq(ts.rows[0], 0);
    cr_assert_eq(ts.rows[1], 7);
    cr_assert_float_eq(ts.y[0], 8.9f, 1e-6);
    cr_assert_float_eq(ts.y[1], 9.1f, 1e-6);
    cr_assert_eq(ts.n_cuts, 7);
    cr_assert_eq(cut_removed(&ts, "oh_p50 missing"), 1);
    cr_assert_eq(cut_removed(&ts, "oh_p50 > 0"), 1);
    cr_assert_eq(cut_removed(&ts, "lgm_tot_p50 missing"), 1);
    cr_assert_eq(cut_removed(&ts, "lgm_tot_p50 > 0"), 1);
    cr_assert_eq(cut_removed(&ts, "sfr_tot_p50 missing"), 1);
    cr_assert_eq(cut_removed(&ts, "sfr_tot_p50 > -10"), 1);
    int total = 0;
    for (int i = 0; i < ts.n_cuts; i++) total += ts.cuts[i].removed;
    cr_assert_eq(total + ts.n_rows, cat.n_rows);
    targets_free(&ts);
    catalog_free(&cat);
}

Test(catalog, metallicity_cuts_only_where_columns_exist) {
    catalog cat;
    load_ok(&cat, "objID,oh_p50\n1,8.9\n2,\n3,-1\n4,9.0\n");
    target_set ts;
    cr_assert_eq(targets_select(&ts, &cat, "metallicity"), SF_OK, "%s", sf_last_error());
    cr_assert_eq(ts.n_cuts, 3);
    cr_assert_eq(ts.n_rows, 2);
    cr_assert_eq(cut_removed(&ts, "oh_p50 missing"), 1);
    cr_assert_eq(cut_removed(&ts, "oh_p50 > 0"), 1);
    targets_free(&ts);
    catalog_free(&cat);
}

static const char *bpt_header =
    "objID,nii_6584_flux,nii_6584_flux_err,h_alpha_flux,h_alpha_flux_err,"
    "oiii_5007_flux,oiii_5007_flux_err,h_beta_flux,h_beta_flux_err\n";

Test(catalog, bpt_lines_preset_logs_and_counts) {
    char text[2048];
    snprintf(text, sizeof text,
             "%s"
             "1,100,10,1000,10,50,5,300,10\n"     /* kept: S/N 10,100,10,30 */
             "2,100,40,1000,10,50,5,300,10\n"     /* nii S/N 2.5 */
             "3,100,10,1000,10,50,-9999,300,10\n" /* oiii err missing */
             "4,100,10,2e5,10,50,5,300,10\n"      /* h_alpha >= 1e5 */
             "5,100,10,1000,10,15,5,300,10\n"     /* oiii S/N exactly 3: removed */
             "6,100,10,1000,0,50,5,300,10\n"      /* zero error: no S/N, removed */
             "7,0,0,1000,10,50,5,300,10\n"        /* 0/0 NaN: removed */
             "8,10,1,1000,10,50,5,300,10\n",      /* kept */
             bpt_header);
    catalog cat;
    load_ok(&cat, text);
    target_set ts;
    cr_assert_eq(targets_select(&ts, &cat, "bpt_lines"), SF_OK, "%s", sf_last_error());
    cr_assert_eq(ts.n_targets, 4);
    cr_assert_str_eq(ts.names[0], "log_nii_6584_flux");
    cr_assert_str_eq(ts.names[1], "log_h_alpha_flux");
    cr_assert_str_eq(ts.names[2], "log_oiii_5007_flux");
    cr_assert_str_eq(ts.names[3], "log_h_beta_flux");
    cr_assert_eq(ts.n_rows, 2);
    cr_assert_eq(ts.rows[0], 0);
    cr_assert_eq(ts.rows[1], 7);
    cr_assert_float_eq(ts.y[0], 2.0f, 1e-6);
    cr_assert_float_eq(ts.y[1], 3.0f, 1e-6);
    cr_assert_float_eq(ts.y[2], (float)log10(50.0), 1e-6);
    cr_assert_float_eq(ts.y[3], (float)log10(300.0), 1e-6);
    cr_assert_float_eq(ts.y[4], 1.0f, 1e-6);
    cr_assert_eq(ts.n_cuts, 16);
    cr_assert_eq(cut_removed(&ts, "nii_6584_flux > 0 and its error > 0"), 1);
    cr_assert_eq(cut_removed(&ts, "h_alpha_flux > 0 and its error > 0"), 1);
    cr_assert_eq(cut_removed(&ts, "nii_6584_flux S/N > 3"), 1);
    cr_assert_eq(cut_removed(&ts, "oiii_5007_flux or its error missing"), 1);
    cr_assert_eq(cut_removed(&ts, "h_alpha_flux < 1e5"), 1);
    cr_assert_eq(cut_removed(&ts, "oiii_5007_flux S/N > 3"), 1);
    cr_assert_eq(cut_removed(&ts, "h_beta_flux S/N > 3"), 0);
    targets_free(&ts);
    catalog_free(&cat);
}

/* Every kept row gives finite float targets. */
static void assert_targets_finite(const target_set *ts) {
    for (int i = 0; i < ts->n_rows * ts->n_targets; i++)
        cr_assert(isfinite(ts->y[i]), "target %d of kept row %d is %g", i % ts->n_targets,
                  ts->rows[i / ts->n_targets], ts->y[i]);
}

Test(catalog, negative_fluxes_with_negative_errors_do_not_pass_the_s_n_cut) {
    char text[2048];
    snprintf(text, sizeof text,
             "%s"
             "1,100,10,1000,10,50,5,300,10\n"   /* kept */
             "2,-50,-2,1000,10,50,5,300,10\n"   /* -50 / -2 = 25, but log10(-50) */
             "3,100,10,1000,10,50,5,-300,-10\n" /* the same in h_beta */
             "4,100,10,1000,10,50,-5,300,10\n"  /* a negative error alone */
             "5,100,10,1000,10,0,5,300,10\n",   /* a zero flux */
             bpt_header);
    catalog cat;
    load_ok(&cat, text);
    target_set ts;
    cr_assert_eq(targets_select(&ts, &cat, "bpt_lines"), SF_OK, "%s", sf_last_error());
    assert_targets_finite(&ts);
    cr_assert_eq(ts.n_rows, 1);
    cr_assert_eq(cut_removed(&ts, "nii_6584_flux > 0 and its error > 0"), 1);
    cr_assert_eq(cut_removed(&ts, "oiii_5007_flux > 0 and its error > 0"), 2);
    cr_assert_eq(cut_removed(&ts, "h_beta_flux > 0 and its error > 0"), 1);
    targets_free(&ts);
    catalog_free(&cat);
}

Test(catalog, values_beyond_float_range_are_cut_and_counted) {
    catalog cat;
    /* 1e300 is a finite double but not a float; 1e-50 rounds to 0 in float, harmlessly */
    load_ok(&cat, "objID,oh_p50,lgm_tot_p50,a,b\n"
                  "1,8.9,10,1,2\n"
                  "2,1e300,10,1,2\n"
                  "3,8.7,1e300,-4e38,2\n"
                  "4,8.8,10,1,1e-50\n");
    target_set ts;
    cr_assert_eq(targets_select(&ts, &cat, "metallicity"), SF_OK, "%s", sf_last_error());
    assert_targets_finite(&ts);
    cr_assert_eq(ts.n_rows, 3, "lgm_tot_p50 = 1e300 is only a cut, not a target");
    cr_assert_eq(cut_removed(&ts, "oh_p50 finite as float32"), 1);
    targets_free(&ts);
    cr_assert_eq(targets_select(&ts, &cat, "a,b"), SF_OK, "%s", sf_last_error());
    assert_targets_finite(&ts);
    cr_assert_eq(ts.n_rows, 3);
    cr_assert_eq(cut_removed(&ts, "a finite as float32"), 1);
    cr_assert_eq(cut_removed(&ts, "b finite as float32"), 0);
    int total = 0;
    for (int i = 0; i < ts.n_cuts; i++) total += ts.cuts[i].removed;
    cr_assert_eq(total + ts.n_rows, cat.n_rows);
    targets_free(&ts);
    /* sixteen columns: each has its two cuts */
    catalog_free(&cat);
    load_ok(&cat, "objID,c0,c1,c2,c3,c4,c5,c6,c7,c8,c9,c10,c11,c12,c13,c14,c15\n"
                  "1,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n");
    cr_assert_eq(targets_select(&ts, &cat, "c0,c1,c2,c3,c4,c5,c6,c7,c8,c9,c10,c11,c12,c13,c14,c15"),
                 SF_OK, "%s", sf_last_error());
    cr_assert_eq(ts.n_cuts, 32);
    targets_free(&ts);
    catalog_free(&cat);
}

Test(catalog, bpt_lines_needs_its_columns) {
    catalog cat;
    load_ok(&cat, "objID,nii_6584_flux,h_alpha_flux\n1,2,3\n");
    target_set ts;
    cr_assert_eq(targets_select(&ts, &cat, "bpt_lines"), SF_ERR);
    assert_contains(sf_last_error(), "needs the column 'nii_6584_flux_err'");
    catalog_free(&cat);
}

Test(catalog, column_list_targets) {
    catalog cat;
    load_ok(&cat, "objID,a,b,c\n1,1,2,3\n2,,5,6\n3,7,8,-9999\n4,10,11,12\n");
    target_set ts;
    cr_assert_eq(targets_select(&ts, &cat, "c, a"), SF_OK, "%s", sf_last_error());
    cr_assert_str_eq(ts.preset, "columns");
    cr_assert_eq(ts.n_targets, 2);
    cr_assert_str_eq(ts.names[0], "c");
    cr_assert_str_eq(ts.names[1], "a");
    cr_assert_eq(ts.n_rows, 2);
    cr_assert_float_eq(ts.y[0], 3.0f, 0);
    cr_assert_float_eq(ts.y[1], 1.0f, 0);
    cr_assert_float_eq(ts.y[2], 12.0f, 0);
    cr_assert_eq(cut_removed(&ts, "c missing"), 1);
    cr_assert_eq(cut_removed(&ts, "a missing"), 1);
    targets_free(&ts);

    cr_assert_eq(targets_select(&ts, &cat, "a,zz"), SF_ERR);
    assert_contains(sf_last_error(), "target column 'zz' is not in the header");
    cr_assert_eq(targets_select(&ts, &cat, " , "), SF_ERR);
    assert_contains(sf_last_error(), "empty target list");
    catalog_free(&cat);
}

Test(catalog, no_usable_rows_is_a_clear_error) {
    catalog cat;
    load_ok(&cat, "objID,oh_p50,lgm_tot_p50\n1,-9999,1\n2,8.9,-1\n3,NaN,2\n");
    target_set ts;
    cr_assert_eq(targets_select(&ts, &cat, "metallicity"), SF_ERR);
    const char *e = sf_last_error();
    assert_contains(e, "no usable rows for target 'metallicity' among 3");
    assert_contains(e, "oh_p50 missing: 2");
    assert_contains(e, "lgm_tot_p50 > 0: 1");
    cr_assert_null(ts.rows);
    catalog_free(&cat);
}

/* ---- the real sample ---- */

static int shared_csv(char *path, size_t n) {
    char dir[512];
    int ok = fx_shared_dir(dir, sizeof dir);
    snprintf(path, n, "%s/galaxies.csv", dir);
    return ok;
}

Test(catalog_real, sdss_metallicity_400) {
    char path[1024];
    if (!shared_csv(path, sizeof path)) {
        cr_skip_test("SKIPPED: %s is absent (run from the repository root beside ../shared, "
                     "or set SFNET_SHARED_DATA)",
                     path);
    }
    catalog cat;
    cr_assert_eq(catalog_load(&cat, path), SF_OK, "%s", sf_last_error());
    cr_assert_eq(cat.n_rows, 400);

    /* Every objID against an independent read of the file: 19 digits, as text. */
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char line[256];
    cr_assert_not_null(fgets(line, sizeof line, f));
    int row = 0;
    while (fgets(line, sizeof line, f)) {
        char id[64];
        double v;
        cr_assert_eq(sscanf(line, "%63[^,],%lf", id, &v), 2);
        cr_assert_lt(row, 400);
        cr_assert_str_eq(cat.obj_ids[row], id, "row %d", row);
        cr_assert_eq(strlen(cat.obj_ids[row]), 19);
        cr_assert_float_eq(catalog_value(&cat, row, 0), v, 1e-12);
        row++;
    }
    fclose(f);
    cr_assert_eq(row, 400);
    cr_assert_str_eq(cat.obj_ids[0], "1237648704043942146");
    cr_assert_str_eq(cat.obj_ids[1], "1237667292122513532");
    cr_assert_str_eq(cat.obj_ids[399], "1237662199888150750");

    target_set ts;
    cr_assert_eq(targets_select(&ts, &cat, "metallicity"), SF_OK, "%s", sf_last_error());
    cr_assert_eq(ts.n_rows, 400);
    double s = 0, s2 = 0;
    for (int i = 0; i < ts.n_rows; i++) s += ts.y[i];
    double mean = s / ts.n_rows;
    for (int i = 0; i < ts.n_rows; i++) s2 += (ts.y[i] - mean) * (ts.y[i] - mean);
    double std0 = sqrt(s2 / ts.n_rows), std1 = sqrt(s2 / (ts.n_rows - 1));
    /* Both the population (ddof 0: 0.19955) and sample (ddof 1: 0.19980) scatter round
     * to 0.200. */
    cr_assert_eq(lround(mean * 1000), 8901, "mean %.5f", mean);
    cr_assert_eq(lround(std0 * 1000), 200, "std ddof=0 %.5f", std0);
    cr_assert_eq(lround(std1 * 1000), 200, "std ddof=1 %.5f", std1);
    targets_free(&ts);
    catalog_free(&cat);
}
