/* Tests of data_fits and data_catalog_join: FITS tables of every numeric type
 * written by cfitsio here, missing values, exact 64-bit IDs, cfitsio's extended
 * names, joins row by row and on a key, one-line messages for bad files, FITS
 * cutouts against the stretch formula, and tables written back. The astropy side
 * (fixtures written by astropy, the stretch against numpy, exported tables read by
 * astropy) is in test_fits_astropy.c. */
#include <criterion/criterion.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_catalog.h"
#include "data_fits.h"
#include "data_fixture.h"
#include "data_image.h"
#include "sf_util.h"

TestSuite(fits, .init = fx_make_dir, .fini = fx_remove_dir);

#define FITS_OK(call)                                                                              \
    do {                                                                                           \
        int st_ = 0;                                                                               \
        (void)st_;                                                                                 \
        status = 0;                                                                                \
        call;                                                                                      \
        char t_[FLEN_STATUS];                                                                      \
        fits_get_errstatus(status, t_);                                                            \
        cr_assert_eq(status, 0, "%s: %s", #call, t_);                                              \
    } while (0)

/* A table of every numeric FITS type, with a text, a logical and a vector column:
 * 4 rows. Row 2 has TNULL in J, NaN in E and -9999 in D. */
static const long long ids[4] = {1237648720693755918LL, 9223372036854775807LL,
                                 -9223372036854775807LL - 1, 587722982829752382LL};

static void write_all_types(const char *path) {
    fitsfile *f;
    int status = 0;
    char *ttype[] = {"objID", "B_COL", "S_COL", "I_COL", "U_COL", "J_COL", "V_COL",
                     "K_COL", "W_COL", "E_COL", "D_COL", "NAME",  "FLAG",  "VEC"};
    char *tform[] = {"K", "B", "S", "I", "U", "J", "V", "K", "W", "E", "D", "8A", "L", "3E"};
    unlink(path);
    FITS_OK(fits_create_file(&f, path, &status));
    FITS_OK(fits_create_tbl(f, BINARY_TBL, 0, 14, ttype, tform, NULL, "GALINFO", &status));
    FITS_OK(fits_write_key(f, TLONG, "TNULL6", &(long){-77}, "null", &status));
    FITS_OK(fits_set_btblnull(f, 6, -77, &status));
    FITS_OK(fits_write_col(f, TLONGLONG, 1, 1, 1, 4, (void *)ids, &status));
    unsigned char b[4] = {0, 255, 7, 8};
    signed char sb[4] = {-128, 127, -1, 0};
    short i16[4] = {-32768, 32767, 3, 4};
    unsigned short u16[4] = {0, 65535, 5, 6};
    int i32[4] = {-2147483647, -77, 9, 10};
    unsigned int u32[4] = {0, 4294967295u, 11, 12};
    long long i64[4] = {123456789012LL, -5, 13, 14};
    unsigned long long u64[4] = {0, 18446744073709551615ULL, 15, 16};
    float e[4] = {1.5f, NAN, 0.25f, -0.5f};
    double d[4] = {8.7, -9999.0, 9.1, 1e300};
    char *names[4] = {"a", "bb", "ccc", "dddd"};
    char flags[4] = {1, 0, 1, 0};
    float vec[12] = {0};
    FITS_OK(fits_write_col(f, TBYTE, 2, 1, 1, 4, b, &status));
    FITS_OK(fits_write_col(f, TSBYTE, 3, 1, 1, 4, sb, &status));
    FITS_OK(fits_write_col(f, TSHORT, 4, 1, 1, 4, i16, &status));
    FITS_OK(fits_write_col(f, TUSHORT, 5, 1, 1, 4, u16, &status));
    FITS_OK(fits_write_col(f, TINT, 6, 1, 1, 4, i32, &status));
    FITS_OK(fits_write_col(f, TUINT, 7, 1, 1, 4, u32, &status));
    FITS_OK(fits_write_col(f, TLONGLONG, 8, 1, 1, 4, i64, &status));
    FITS_OK(fits_write_col(f, TULONGLONG, 9, 1, 1, 4, u64, &status));
    FITS_OK(fits_write_col(f, TFLOAT, 10, 1, 1, 4, e, &status));
    FITS_OK(fits_write_col(f, TDOUBLE, 11, 1, 1, 4, d, &status));
    FITS_OK(fits_write_col(f, TSTRING, 12, 1, 1, 4, names, &status));
    FITS_OK(fits_write_col(f, TLOGICAL, 13, 1, 1, 4, flags, &status));
    FITS_OK(fits_write_col(f, TFLOAT, 14, 1, 1, 12, vec, &status));
    FITS_OK(fits_close_file(f, &status));
}

static double col(const catalog *c, int row, const char *name) {
    int j = catalog_column(c, name);
    cr_assert_geq(j, 0, "no column %s", name);
    return catalog_value(c, row, j);
}

Test(fits, every_numeric_type_and_missing_values) {
    const char *p = fx_path("all.fits");
    write_all_types(p);
    catalog c;
    cr_assert_eq(catalog_load(&c, p), SF_OK, "%s", sf_last_error());
    cr_assert_eq(c.n_rows, 4);
    cr_assert_eq(c.n_cols, 10, "numeric scalars only, objID apart: %d", c.n_cols);
    cr_assert_str_eq(c.col_names[0], "b_col", "names in lower case");
    cr_assert_str_eq(c.obj_ids[0], "1237648720693755918");
    cr_assert_str_eq(c.obj_ids[1], "9223372036854775807");
    cr_assert_str_eq(c.obj_ids[2], "-9223372036854775808");
    cr_assert_eq(col(&c, 0, "b_col"), 0);
    cr_assert_eq(col(&c, 1, "b_col"), 255);
    cr_assert_eq(col(&c, 0, "s_col"), -128);
    cr_assert_eq(col(&c, 1, "s_col"), 127);
    cr_assert_eq(col(&c, 0, "i_col"), -32768);
    cr_assert_eq(col(&c, 1, "u_col"), 65535);
    cr_assert_eq(col(&c, 0, "j_col"), -2147483647);
    cr_assert(isnan(col(&c, 1, "j_col")), "TNULL is missing");
    cr_assert_eq(col(&c, 1, "v_col"), 4294967295.0);
    cr_assert_eq(col(&c, 0, "k_col"), 123456789012.0);
    cr_assert_eq(col(&c, 1, "w_col"), 18446744073709551615.0);
    cr_assert_eq(col(&c, 0, "e_col"), 1.5);
    cr_assert(isnan(col(&c, 1, "e_col")), "NaN is missing");
    cr_assert(isnan(col(&c, 1, "d_col")), "-9999 is missing");
    cr_assert_eq(col(&c, 3, "d_col"), 1e300);
    cr_assert_eq(col(&c, 2, "E_COL"), 0.25, "upper-case names find the columns");
    cr_assert_eq(c.n_skipped, 3);
    cr_assert(strstr(c.path, "HDU 2 (GALINFO)"), "%s", c.path);
    cr_assert_eq(c.line_of_row[3], 4);
    target_set ts;
    cr_assert_eq(targets_select(&ts, &c, "NAME"), SF_ERR);
    cr_assert(strstr(sf_last_error(), "not numeric: NAME (text (A))"), "%s", sf_last_error());
    cr_assert_eq(targets_select(&ts, &c, "vec"), SF_ERR);
    cr_assert(strstr(sf_last_error(), "vector of 3"), "%s", sf_last_error());
    cr_assert_eq(targets_select(&ts, &c, "e_col,d_col"), SF_OK);
    /* row 1 misses both; row 3's d_col = 1e300 is beyond float32 */
    cr_assert_eq(ts.n_rows, 2);
    int float_cut = 0;
    for (int i = 0; i < ts.n_cuts; i++)
        if (!strcmp(ts.cuts[i].name, "d_col finite as float32")) float_cut = ts.cuts[i].removed;
    cr_assert_eq(float_cut, 1);
    targets_free(&ts);
    catalog_free(&c);
}

/* objID, then numeric columns (double) named cols, n rows; values v[col][row]. */
static void write_table(const char *path, const char *extname, const char *const *id_text,
                        const long long *id_num, int n, int n_cols, const char *const *cols,
                        const double *v) {
    fitsfile *f;
    int status = 0;
    char *ttype[32], *tform[32];
    int nc = 0;
    if (id_text || id_num) {
        ttype[nc] = id_text ? "SPECOBJID" : "OBJID";
        tform[nc++] = id_text ? "19A" : "K";
    }
    for (int j = 0; j < n_cols; j++) {
        ttype[nc] = (char *)cols[j];
        tform[nc++] = "D";
    }
    unlink(path);
    FITS_OK(fits_create_file(&f, path, &status));
    FITS_OK(fits_create_tbl(f, BINARY_TBL, 0, nc, ttype, tform, NULL, extname, &status));
    int c0 = 1;
    if (id_text) FITS_OK(fits_write_col(f, TSTRING, c0++, 1, 1, n, (char **)id_text, &status));
    if (id_num) FITS_OK(fits_write_col(f, TLONGLONG, c0++, 1, 1, n, (void *)id_num, &status));
    for (int j = 0; j < n_cols; j++)
        FITS_OK(fits_write_col(f, TDOUBLE, c0 + j, 1, 1, n, (void *)(v + (size_t)j * n), &status));
    FITS_OK(fits_close_file(f, &status));
}

Test(fits, extended_names_select_hdu_columns_and_rows) {
    const char *p = fx_path("t.fits");
    const long long id[5] = {10, 11, 12, 13, 14};
    const char *cols[] = {"OH_P50", "Z"};
    const double v[10] = {8.1, 8.2, 8.3, 8.4, 8.5, 0.01, 0.02, 0.03, 0.04, 0.05};
    write_table(p, "GALLINE", NULL, id, 5, 2, cols, v);
    char name[600];
    catalog c;
    snprintf(name, sizeof name, "%s[GALLINE][col OBJID; OH_P50][OH_P50 > 8.15]", p);
    cr_assert_eq(catalog_load(&c, name), SF_OK, "%s", sf_last_error());
    cr_assert_eq(c.n_rows, 4);
    cr_assert_eq(c.n_cols, 1);
    cr_assert_str_eq(c.obj_ids[0], "11");
    cr_assert_eq(col(&c, 0, "oh_p50"), 8.2);
    catalog_free(&c);
    snprintf(name, sizeof name, "%s[1][#row <= 2]", p);
    cr_assert_eq(catalog_load(&c, name), SF_OK, "%s", sf_last_error());
    cr_assert_eq(c.n_rows, 2);
    catalog_free(&c);
    /* a column made by cfitsio's calculator, named as the preset wants (cfitsio 4.2.0
     * leaks a constant expression such as "= 10.5", hence one that reads a column) */
    snprintf(name, sizeof name, "%s[1][col *; lgm_tot_p50 = OH_P50 + 2]", p);
    cr_assert_eq(catalog_load(&c, name), SF_OK, "%s", sf_last_error());
    cr_assert_float_eq(col(&c, 4, "lgm_tot_p50"), 10.5, 1e-12);
    catalog_free(&c);
}

/* Loads expecting failure; returns the message. */
static const char *fail_of(const char *name) {
    catalog c;
    cr_assert_eq(catalog_load(&c, name), SF_ERR, "%s loaded", name);
    const char *m = sf_last_error();
    cr_assert_null(strchr(m, '\n'), "one line: %s", m);
    return m;
}

Test(fits, bad_files_give_one_line_naming_file_hdu_and_column) {
    /* an image only */
    const char *img = fx_path("image.fits");
    fitsfile *f;
    int status = 0;
    long ax[2] = {4, 4};
    FITS_OK(fits_create_file(&f, img, &status));
    FITS_OK(fits_create_img(f, FLOAT_IMG, 2, ax, &status));
    FITS_OK(fits_close_file(f, &status));
    const char *m = fail_of(img);
    cr_assert(strstr(m, "image.fits") && strstr(m, "no table"), "%s", m);
    char name[600];
    snprintf(name, sizeof name, "%s[0]", img);
    m = fail_of(name);
    cr_assert(strstr(m, "HDU 1 is an image, not a table"), "%s", m);

    /* no ID column */
    const char *noid = fx_path("noid.fits");
    const char *cols[] = {"Z"};
    const double v[2] = {0.1, 0.2};
    write_table(noid, "T", NULL, NULL, 2, 1, cols, v);
    m = fail_of(noid);
    cr_assert(strstr(m, "noid.fits HDU 2 (T)") && strstr(m, "--id-column"), "%s", m);
    catalog c;
    cr_assert_eq(catalog_load_file(&c, noid, "Z", 0), SF_ERR);
    cr_assert(strstr(sf_last_error(), "row 1: column 'Z' (the galaxy ID) is a float"), "%s",
              sf_last_error());

    /* a missing column named by a selection */
    const long long id[2] = {1, 2};
    const char *good = fx_path("good.fits");
    write_table(good, "T", NULL, id, 2, 1, cols, v);
    snprintf(name, sizeof name, "%s[1][col OBJID; NOPE]", good);
    m = fail_of(name);
    cr_assert(strstr(m, "good.fits") && strstr(m, "NOPE"), "%s", m);
    /* a missing HDU */
    snprintf(name, sizeof name, "%s[GALLINE]", good);
    m = fail_of(name);
    cr_assert(strstr(m, "good.fits[GALLINE]"), "%s", m);

    /* truncated in the data, then in the header; garbage */
    const char *big = fx_path("big.fits");
    double many[3000];
    long long many_id[3000];
    for (int i = 0; i < 3000; i++) many[i] = i, many_id[i] = i + 1;
    write_table(big, "T", NULL, many_id, 3000, 1, cols, many);
    fx_truncate_copy(big, fx_path("cut.fits"), 2880 * 4);
    m = fail_of(fx_path("cut.fits"));
    cr_assert(strstr(m, "cut.fits"), "%s", m);
    fx_truncate_copy(big, fx_path("cuthead.fits"), 2880 + 100);
    m = fail_of(fx_path("cuthead.fits"));
    cr_assert(strstr(m, "cuthead.fits"), "%s", m);
    fx_write_text(fx_path("junk.fits"), "SIMPLE  = nonsense\n");
    m = fail_of(fx_path("junk.fits"));
    cr_assert(strstr(m, "junk.fits") && strstr(m, "cannot open as FITS"), "%s", m);

    /* a non-numeric ID column */
    const char *tid = fx_path("textid.fits");
    const char *names[2] = {"1237648720693755918", "  42 "};
    write_table(tid, "T", names, NULL, 2, 1, cols, v);
    cr_assert_eq(catalog_load(&c, tid), SF_OK, "%s", sf_last_error());
    cr_assert_str_eq(c.obj_ids[1], "42", "text IDs trimmed");
    catalog_free(&c);
    /* a duplicate ID */
    const long long dup[2] = {5, 5};
    write_table(fx_path("dup.fits"), "T", NULL, dup, 2, 1, cols, v);
    m = fail_of(fx_path("dup.fits"));
    cr_assert(strstr(m, "objID 5 appears again"), "%s", m);
}

/* Column names and IDs come from the file: an escape sequence in them (one that
 * would set the terminal's title and clear it) is shown escaped in every message. */
Test(fits, control_characters_in_column_names_and_ids_are_shown_escaped) {
    const char *p = fx_path("hostile.fits");
    /* cfitsio writes no control characters: they are put into the header's bytes */
    const char *cols[] = {"z#]0;PWNED@", "Z#]0;PWNED@"};
    const double v[4] = {0.1, 0.2, 0.3, 0.4};
    const long long id[2] = {1, 2};
    write_table(p, "T", NULL, id, 2, 2, cols, v);
    FILE *f = fopen(p, "r+b");
    char head[2 * 2880];
    cr_assert_eq(fread(head, 1, sizeof head, f), sizeof head);
    for (char *q = head; (q = memmem(q, head + sizeof head - q, "#]0;PWNED@", 10)); q += 10)
        q[0] = '\033', q[9] = '\a';
    rewind(f);
    fwrite(head, 1, sizeof head, f);
    fclose(f);
    const char *m = fail_of(p);
    cr_assert(strstr(m, "appears twice"), "%s", m);
    cr_assert(strstr(m, "Z\\x1b]0;PWNED\\x07"), "shown escaped: %s", m);
    cr_assert_null(strpbrk(m, "\033\a"), "no raw ESC or BEL: %s", m);

    /* a text ID with a newline and an escape, given twice */
    const char *bad_ids[2] = {"7\033[2J\n8", "7\033[2J\n8"};
    const char *one[] = {"Z"};
    write_table(fx_path("hostile_ids.fits"), "T", bad_ids, NULL, 2, 1, one, v);
    m = fail_of(fx_path("hostile_ids.fits"));
    cr_assert(strstr(m, "7\\x1b[2J\\n8"), "shown escaped: %s", m);
    cr_assert_null(strpbrk(m, "\033\n"), "%s", m);
}

/* cfitsio allocates and clears a record per column that TFIELDS claims before
 * reading any: 45 million columns in a 6 KB file cost 7 GB and 30 s (found by
 * fuzz_fits_catalog; tests/fuzz/corpus/fits_catalog/oom-tfields.fits). */
Test(fits, a_header_claiming_millions_of_columns_is_refused_before_cfitsio) {
    const char *p = fx_path("columns.fits");
    const char *cols[] = {"Z"};
    const double v[2] = {0.1, 0.2};
    const long long id[2] = {1, 2};
    write_table(p, "T", NULL, id, 2, 1, cols, v);
    FILE *f = fopen(p, "r+b");
    char head[2 * 2880];
    cr_assert_eq(fread(head, 1, sizeof head, f), sizeof head);
    char *card = memmem(head + 2880, 2880, "TFIELDS =", 9);
    cr_assert_not_null(card);
    memcpy(card + 10, "            44933636", 20);
    rewind(f);
    fwrite(head, 1, sizeof head, f);
    fclose(f);
    double t0 = sf_now();
    const char *m = fail_of(p);
    cr_assert(strstr(m, "HDU 2 claims 44933636 columns (TFIELDS)"), "%s", m);
    cr_assert_lt(sf_now() - t0, 2.0, "refused at once");
    /* the same bytes as a cutout */
    char *data;
    size_t len;
    cr_assert_eq(sf_read_file(p, &data, &len), SF_OK);
    uint8_t *rgb;
    int w, h;
    cr_assert_eq(image_decode_mem((const uint8_t *)data, len, "columns.fits", &rgb, &w, &h),
                 SF_ERR);
    cr_assert(strstr(sf_last_error(), "TFIELDS"), "%s", sf_last_error());
    free(data);
}

/* MPA-JHU-shaped: info (IDs, z, shared PLATEID) and line (fluxes, same PLATEID). */
Test(fits, join_row_by_row_and_on_a_key) {
    const long long id[3] = {100, 200, 300};
    const char *info_cols[] = {"PLATEID", "Z"};
    const double info_v[6] = {266, 266, 267, 0.1, 0.2, 0.3};
    write_table(fx_path("info.fits"), "INFO", NULL, id, 3, 2, info_cols, info_v);
    const char *line_cols[] = {"PLATEID", "H_ALPHA_FLUX"};
    const double line_v[6] = {266, 266, 267, 50, 60, 70};
    write_table(fx_path("line.fits"), "LINE", NULL, NULL, 3, 2, line_cols, line_v);
    catalog_sources src = {.n_files = 2};
    src.files[0] = fx_path("info.fits");
    src.files[1] = fx_path("line.fits");
    catalog c;
    cr_assert_eq(catalog_load_sources(&c, &src), SF_OK, "%s", sf_last_error());
    cr_assert_eq(c.n_rows, 3);
    cr_assert_eq(c.n_cols, 3, "PLATEID once: %d", c.n_cols);
    cr_assert_eq(col(&c, 2, "h_alpha_flux"), 70);
    cr_assert_str_eq(c.obj_ids[2], "300");
    cr_assert(strstr(c.path, " + "), "%s", c.path);
    catalog_free(&c);

    /* a shared column whose values differ */
    const double other_v[6] = {266, 999, 267, 50, 60, 70};
    write_table(fx_path("other.fits"), "LINE", NULL, NULL, 3, 2, line_cols, other_v);
    src.files[1] = fx_path("other.fits");
    cr_assert_eq(catalog_load_sources(&c, &src), SF_ERR);
    cr_assert(strstr(sf_last_error(), "column 'plateid' differs"), "%s", sf_last_error());
    cr_assert(strstr(sf_last_error(), "col NEWNAME"), "%s", sf_last_error());

    /* lengths that differ */
    write_table(fx_path("short.fits"), "LINE", NULL, NULL, 2, 2, line_cols, line_v);
    src.files[1] = fx_path("short.fits");
    cr_assert_eq(catalog_load_sources(&c, &src), SF_ERR);
    cr_assert(strstr(sf_last_error(), "--join"), "%s", sf_last_error());

    /* on a key: the objID of a CSV against a FITS table in another order */
    fx_write_text(fx_path("cat.csv"), "objID,mass\n300,10.1\n100,9.5\n400,11\n");
    const long long fid[3] = {100, 200, 300};
    const char *f_cols[] = {"OH_P50"};
    const double f_v[3] = {8.6, 8.7, 8.8};
    write_table(fx_path("oh.fits"), "OH", NULL, fid, 3, 1, f_cols, f_v);
    catalog_sources key = {.n_files = 2, .join_column = "objID"};
    key.files[0] = fx_path("cat.csv");
    key.files[1] = fx_path("oh.fits");
    fx_capture_begin();
    int rc = catalog_load_sources(&c, &key);
    char *err = fx_capture_end();
    cr_assert_eq(rc, SF_OK, "%s", sf_last_error());
    cr_assert(strstr(err, "1 of 3 rows"), "%s", err);
    free(err);
    cr_assert_eq(c.n_rows, 3);
    cr_assert_eq(col(&c, 0, "oh_p50"), 8.8);
    cr_assert_eq(col(&c, 1, "oh_p50"), 8.6);
    cr_assert(isnan(col(&c, 2, "oh_p50")));
    catalog_free(&c);
    /* a numeric key past 2^53 is refused: doubles would join the wrong rows */
    const char *big_cols[] = {"BIG"};
    const double big_v[2] = {1237648720693755918.0, 1.0};
    const long long big_id[2] = {1, 2};
    write_table(fx_path("big1.fits"), "B", NULL, big_id, 2, 1, big_cols, big_v);
    write_table(fx_path("big2.fits"), "B", NULL, NULL, 2, 1, big_cols, big_v);
    catalog_sources big = {.n_files = 2, .join_column = "big"};
    big.files[0] = fx_path("big1.fits");
    big.files[1] = fx_path("big2.fits");
    cr_assert_eq(catalog_load_sources(&c, &big), SF_ERR);
    cr_assert(strstr(sf_last_error(), "past 2^53") && strstr(sf_last_error(), "--id-column"), "%s",
              sf_last_error());
    key.join_column = "nope";
    cr_assert_eq(catalog_load_sources(&c, &key), SF_ERR);
    cr_assert(strstr(sf_last_error(), "no column 'nope' to join on"), "%s", sf_last_error());
}

/* ---- cutouts ----------------------------------------------------------------- */

/* planes (3, h, w): the stretch in double, as the viewer's numpy does it. */
static uint8_t ref_stretch(const float *planes, int w, int h, int x, int y, int channel) {
    const double scale[3] = {2.5, 1.5, 1.0}, m = 0.02, Q = 20;
    size_t p = (size_t)w * h, at = (size_t)(h - 1 - y) * w + x;
    double v[3], I = 0;
    for (int b = 0; b < 3; b++) {
        v[b] = planes[b * p + at] * scale[b] + m;
        I += v[b] > 0 ? v[b] : 0;
    }
    I /= 3;
    double fI = asinh(Q * I) / sqrt(Q);
    if (I == 0) I = 1e-6;
    double c = v[2 - channel] * fI / I;
    c = c < 0 ? 0 : c > 1 ? 1 : c;
    return (uint8_t)(c * 255);
}

static void fill_planes(float *planes, int w, int h) {
    for (int b = 0; b < 3; b++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                planes[((size_t)b * h + y) * w + x] =
                    (float)(0.4 * sin(0.3 * x + b) * cos(0.2 * y) + 0.05 * (b + 1) + 0.01 * y);
}

static void write_cube(const char *path, const float *planes, int w, int h, int n_planes,
                       const char *bands) {
    fitsfile *f;
    int status = 0;
    long ax[3] = {w, h, n_planes};
    unlink(path);
    FITS_OK(fits_create_file(&f, path, &status));
    FITS_OK(fits_create_img(f, FLOAT_IMG, 3, ax, &status));
    for (int b = 0; bands && b < 3; b++) {
        char key[8], val[2] = {bands[b], 0};
        snprintf(key, sizeof key, "BAND%d", b);
        FITS_OK(fits_write_key(f, TSTRING, key, val, NULL, &status));
    }
    FITS_OK(fits_write_img(f, TFLOAT, 1, (long long)w * h * n_planes, (void *)planes, &status));
    FITS_OK(fits_close_file(f, &status));
}

static void decode_file(const char *path, uint8_t **rgb, int *w, int *h, int expect) {
    uint8_t *data;
    size_t n = fx_read_bytes(path, &data);
    int rc = fits_cutout_decode_mem(data, n, path, NULL, rgb, w, h);
    free(data);
    cr_assert_eq(rc, expect, "%s: %s", path, rc ? sf_last_error() : "decoded");
}

Test(fits, cutout_cube_and_three_hdus_follow_the_stretch) {
    enum { W = 24, H = 17 };
    float planes[3 * W * H];
    fill_planes(planes, W, H);
    planes[5] = NAN;
    write_cube(fx_path("c.fits"), planes, W, H, 3, "gri");
    uint8_t *rgb;
    int w, h;
    decode_file(fx_path("c.fits"), &rgb, &w, &h, SF_OK);
    cr_assert_eq(w, W);
    cr_assert_eq(h, H);
    planes[5] = 0;
    int worst = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) {
                int d =
                    abs((int)rgb[((size_t)y * W + x) * 3 + c] - ref_stretch(planes, W, H, x, y, c));
                if (d > worst) worst = d;
            }
    cr_assert_leq(worst, 1, "largest difference %d grey levels", worst);

    /* the same as three image HDUs after an empty primary */
    fitsfile *f;
    int status = 0;
    long ax[2] = {W, H};
    const char *p3 = fx_path("three.fits");
    FITS_OK(fits_create_file(&f, p3, &status));
    FITS_OK(fits_create_img(f, FLOAT_IMG, 0, NULL, &status));
    for (int b = 0; b < 3; b++) {
        FITS_OK(fits_create_img(f, FLOAT_IMG, 2, ax, &status));
        FITS_OK(fits_write_img(f, TFLOAT, 1, W * H, planes + (size_t)b * W * H, &status));
    }
    FITS_OK(fits_close_file(f, &status));
    uint8_t *rgb3;
    decode_file(p3, &rgb3, &w, &h, SF_OK);
    cr_assert_eq(memcmp(rgb, rgb3, (size_t)W * H * 3), 0);
    free(rgb3);

    /* image_decode finds and decodes FITS like any image */
    uint8_t *rgb_img;
    cr_assert_eq(image_decode(fx_path("c.fits"), &rgb_img, &w, &h), SF_OK, "%s", sf_last_error());
    cr_assert_eq(memcmp(rgb, rgb_img, (size_t)W * H * 3), 0);
    free(rgb_img);
    free(rgb);
}

Test(fits, bad_cutouts) {
    enum { W = 8, H = 8 };
    float planes[4 * W * H];
    fill_planes(planes, W, H);
    memcpy(planes + 3 * W * H, planes, W * H * sizeof(float));
    write_cube(fx_path("four.fits"), planes, W, H, 4, NULL);
    uint8_t *rgb;
    int w, h;
    decode_file(fx_path("four.fits"), &rgb, &w, &h, SF_ERR);
    cr_assert(strstr(sf_last_error(), "four.fits: HDU 1: a cube of 4 planes"), "%s",
              sf_last_error());
    write_cube(fx_path("grz.fits"), planes, W, H, 3, "grz");
    decode_file(fx_path("grz.fits"), &rgb, &w, &h, SF_ERR);
    cr_assert(strstr(sf_last_error(), "BAND2 = 'z'") && strstr(sf_last_error(), "--fits-bands"),
              "%s", sf_last_error());
    fits_rgb s;
    fits_rgb_default(&s);
    int given = 0;
    cr_assert_eq(fits_rgb_option(&s, "fits-bands", "g,r,z", &given), SF_OK);
    cr_assert_float_eq(s.scale[2], 0.4f, 1e-6);
    uint8_t *d;
    size_t n = fx_read_bytes(fx_path("grz.fits"), &d);
    cr_assert_eq(fits_cutout_decode_mem(d, n, "grz", &s, &rgb, &w, &h), SF_OK, "%s",
                 sf_last_error());
    free(rgb);
    /* truncated data */
    cr_assert_lt((size_t)2880 + 100, n);
    cr_assert_eq(fits_cutout_decode_mem(d, 2880 + 100, "cut", &s, &rgb, &w, &h), SF_ERR);
    cr_assert(strstr(sf_last_error(), "cut: HDU 1: truncated or corrupt"), "%s", sf_last_error());
    free(d);
    /* two image HDUs only */
    fitsfile *f;
    int status = 0;
    long ax[2] = {W, H};
    FITS_OK(fits_create_file(&f, fx_path("two.fits"), &status));
    for (int b = 0; b < 2; b++) {
        FITS_OK(fits_create_img(f, FLOAT_IMG, 2, ax, &status));
        FITS_OK(fits_write_img(f, TFLOAT, 1, W * H, planes, &status));
    }
    FITS_OK(fits_close_file(f, &status));
    decode_file(fx_path("two.fits"), &rgb, &w, &h, SF_ERR);
    cr_assert(strstr(sf_last_error(), "2 image HDUs"), "%s", sf_last_error());
    /* a table only */
    const char *cols[] = {"Z"};
    const double v[1] = {1};
    const long long id[1] = {1};
    write_table(fx_path("tab.fits"), "T", NULL, id, 1, 1, cols, v);
    decode_file(fx_path("tab.fits"), &rgb, &w, &h, SF_ERR);
    cr_assert(strstr(sf_last_error(), "no image in any of its 2 HDUs"), "%s", sf_last_error());
}

Test(fits, stretch_options_and_json) {
    fits_rgb s, t;
    fits_rgb_default(&s);
    cr_assert(fits_rgb_is_default(&s));
    int given = 0;
    cr_assert_eq(fits_rgb_option(&s, "fits-scales", "6,3.4,2.2", &given), SF_OK);
    cr_assert_eq(fits_rgb_option(&s, "fits-bands", "g,r,z", &given), SF_OK);
    cr_assert_float_eq(s.scale[0], 6.0f, 1e-6, "scales given stay");
    cr_assert_eq(fits_rgb_option(&s, "fits-offset", "0.03", &given), SF_OK);
    cr_assert_eq(fits_rgb_option(&s, "fits-q", "0", &given), SF_ERR);
    cr_assert_eq(fits_rgb_option(&s, "fits-bands", "g,r", &given), SF_ERR);
    given = 0;
    cr_assert_eq(fits_rgb_option(&t, "fits-bands", "g,r,Y", &given), SF_ERR);
    cr_assert(strstr(sf_last_error(), "no default scale for band 'Y'"), "%s", sf_last_error());
    cr_assert(!fits_rgb_is_default(&s));
    char *json = fits_rgb_to_json(&s);
    fits_rgb_default(&t);
    cr_assert_eq(fits_rgb_from_json(&t, json), SF_OK);
    free(json);
    cr_assert_eq(memcmp(&s, &t, sizeof s), 0);
    cr_assert_eq(fits_rgb_from_json(&t, "{\"bands\":1}"), SF_ERR);
}

Test(fits, table_writer_round_trip) {
    const char *p = fx_path("out.fits");
    fits_col cols[3] = {{.name = "objID", .kind = FITS_COL_INT64, .repeat = 1},
                        {.name = "pred", .kind = FITS_COL_FLOAT, .repeat = 1},
                        {.name = "act", .kind = FITS_COL_FLOAT, .repeat = 4}};
    const char *cards[] = {"RUN", "Z", NULL};
    fits_table_writer *w;
    cr_assert_eq(fits_table_create(&w, p, "ACTIVATIONS", cols, 3, cards), SF_OK, "%s",
                 sf_last_error());
    int64_t id[3] = {1237648720693755918LL, 2, 3};
    float pred[3] = {8.5f, 8.6f, 8.7f}, act[12];
    for (int i = 0; i < 12; i++) act[i] = (float)i;
    cr_assert_eq(fits_table_write(w, 0, 0, 2, id), SF_OK);
    cr_assert_eq(fits_table_write(w, 0, 2, 1, id + 2), SF_OK);
    cr_assert_eq(fits_table_write(w, 1, 0, 3, pred), SF_OK);
    cr_assert_eq(fits_table_write(w, 2, 0, 3, act), SF_OK);
    cr_assert_eq(access(p, F_OK), -1, "nothing at the path before the commit");
    cr_assert_eq(fits_table_close(w, 1), SF_OK, "%s", sf_last_error());
    catalog c;
    cr_assert_eq(catalog_load(&c, p), SF_OK, "%s", sf_last_error());
    cr_assert_str_eq(c.obj_ids[0], "1237648720693755918");
    cr_assert_eq(col(&c, 2, "pred"), 8.7f);
    catalog_free(&c);
    /* an aborted table leaves nothing */
    cr_assert_eq(fits_table_create(&w, fx_path("no.fits"), "X", cols, 1, NULL), SF_OK);
    fits_table_close(w, 0);
    cr_assert_eq(access(fx_path("no.fits"), F_OK), -1);
    int64_t v;
    cr_assert(fits_id_as_int64("-12", &v) && v == -12);
    cr_assert(!fits_id_as_int64("012", &v));
    cr_assert(!fits_id_as_int64("9223372036854775808", &v));
    cr_assert(!fits_id_as_int64("+1", &v));
    cr_assert(!fits_id_as_int64("J123", &v));
}
