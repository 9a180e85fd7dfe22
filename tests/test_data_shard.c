/* test_data_shard.c: catalogue streams, shards of a catalogue and the galaxies a
 * predict goes over (data_shard.h, the stream half of data_catalog.h). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_catalog.h"
#include "data_fixture.h"
#include "data_image.h"
#include "data_shard.h"
#include "sf_util.h"

TestSuite(shard, .init = fx_make_dir, .fini = fx_remove_dir, .timeout = 300);

/* ---- --shard ------------------------------------------------------------------- */

Test(shard, slices_are_given_as_i_of_n) {
    shard_spec s;
    cr_assert_eq(shard_parse("3/4", &s), SF_OK);
    cr_assert_eq(s.index, 3);
    cr_assert_eq(s.count, 4);
    cr_assert_eq(shard_parse("0/1", &s), SF_OK);
    const char *bad[] = {"4/4", "-1/4", "1/0", "x", "1/4x", "/4", "1/", "", "1/2000000"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(shard_parse(bad[i], &s), SF_ERR, "'%s' was taken", bad[i]);
        cr_assert(strstr(sf_last_error(), "--shard"), "%s", sf_last_error());
    }
}

static void slurm_env(const char *id, const char *count, const char *min, const char *max) {
    const char *names[] = {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN",
                           "SLURM_ARRAY_TASK_MAX"};
    const char *values[] = {id, count, min, max};
    for (int i = 0; i < 4; i++) {
        if (values[i]) setenv(names[i], values[i], 1);
        else unsetenv(names[i]);
    }
}

Test(shard, slurm_gives_the_slice_of_the_array_task) {
    shard_spec s;
    slurm_env("2", "4", "0", "3");
    cr_assert_eq(shard_parse("slurm", &s), SF_OK, "%s", sf_last_error());
    cr_assert(s.index == 2 && s.count == 4);
    /* an array numbered from 1, or any first task */
    slurm_env("5", "4", "4", "7");
    cr_assert_eq(shard_parse("slurm", &s), SF_OK, "%s", sf_last_error());
    cr_assert(s.index == 1 && s.count == 4);
    /* the count alone */
    slurm_env("1", "3", NULL, NULL);
    cr_assert_eq(shard_parse("slurm", &s), SF_OK, "%s", sf_last_error());
    cr_assert(s.index == 1 && s.count == 3);
    /* min and max alone */
    slurm_env("9", NULL, "8", "11");
    cr_assert_eq(shard_parse("slurm", &s), SF_OK, "%s", sf_last_error());
    cr_assert(s.index == 1 && s.count == 4);
    /* a rerun of two tasks of a larger array, or a step: not the array's slices */
    slurm_env("5", "2", "2", "5");
    cr_assert_eq(shard_parse("slurm", &s), SF_ERR);
    cr_assert(strstr(sf_last_error(), "--shard ID/N"), "%s", sf_last_error());
    slurm_env("3", "3", NULL, NULL);
    cr_assert_eq(shard_parse("slurm", &s), SF_ERR);
    slurm_env(NULL, NULL, NULL, NULL);
    cr_assert_eq(shard_parse("slurm", &s), SF_ERR);
    cr_assert(strstr(sf_last_error(), "SLURM_ARRAY_TASK_ID"), "%s", sf_last_error());
    slurm_env("2", NULL, NULL, NULL);
    cr_assert_eq(shard_parse("slurm", &s), SF_ERR);
    slurm_env("two", "4", "0", "3");
    cr_assert_eq(shard_parse("slurm", &s), SF_ERR);
}

Test(shard, an_objid_falls_in_the_same_slice_everywhere) {
    /* fixed values: changing the hash would move galaxies between the shards of
     * databases already made */
    cr_assert_eq(sf_hash64("", 0), 0xf52a15e9a9b5e89bull, "%016llx",
                 (unsigned long long)sf_hash64("", 0));
    cr_assert_eq(shard_of("1237648702973411443", 4), shard_of("1237648702973411443", 4));
    uint64_t h = sf_hash64("1237648702973411443", 19);
    cr_assert_eq(h, 0x94eed85738a7207dull, "%016llx", (unsigned long long)h);
    /* SDSS-like objIDs spread evenly over the slices */
    int count[7] = {0};
    for (long i = 0; i < 70000; i++) {
        char id[32];
        snprintf(id, sizeof id, "%lld", 1237648702973411443LL + i * 4099);
        count[shard_of(id, 7)]++;
    }
    for (int s = 0; s < 7; s++)
        cr_assert(count[s] > 9500 && count[s] < 10500, "slice %d: %d", s, count[s]);
}

/* ---- catalogue streams ---------------------------------------------------------- */

static int same_value(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

/* Every row of the stream equals catalog_load's, and each can be read again from its
 * position. */
static void check_stream_against_load(const char *path) {
    catalog cat;
    cr_assert_eq(catalog_load(&cat, path), SF_OK, "%s", sf_last_error());
    catalog_stream *st;
    cr_assert_eq(catalog_stream_open(&st, path), SF_OK, "%s", sf_last_error());
    const catalog *cols = catalog_stream_columns(st);
    cr_assert_eq(cols->n_cols, cat.n_cols);
    for (int c = 0; c < cat.n_cols; c++) cr_assert_str_eq(cols->col_names[c], cat.col_names[c]);
    catalog_pos *pos = malloc((size_t)cat.n_rows * sizeof *pos);
    catalog_row row;
    int n = 0, rc;
    while ((rc = catalog_stream_next(st, &row)) == 1) {
        cr_assert_lt(n, cat.n_rows);
        cr_assert_str_eq(row.obj_id, cat.obj_ids[n]);
        cr_assert_eq(row.pos.line, cat.line_of_row[n], "row %d: line %d, not %d", n, row.pos.line,
                     cat.line_of_row[n]);
        for (int c = 0; c < cat.n_cols; c++)
            cr_assert(same_value(row.values[c], catalog_value(&cat, n, c)), "row %d col %d", n, c);
        pos[n++] = row.pos;
    }
    cr_assert_eq(rc, 0, "%s", sf_last_error());
    cr_assert_eq(n, cat.n_rows);
    /* back to rows, far and near, in any order */
    int order[] = {n - 1, 0, n / 2, n / 2 + 1, 1, n - 2};
    for (size_t k = 0; k < sizeof order / sizeof *order; k++) {
        int i = order[k];
        if (i < 0 || i >= n) continue;
        cr_assert_eq(catalog_stream_seek(st, pos[i]), SF_OK);
        cr_assert_eq(catalog_stream_next(st, &row), 1, "%s", sf_last_error());
        cr_assert_str_eq(row.obj_id, cat.obj_ids[i]);
        cr_assert_eq(row.pos.offset, pos[i].offset);
        cr_assert(same_value(row.values[0], catalog_value(&cat, i, 0)));
    }
    free(pos);
    catalog_stream_close(st);
    catalog_free(&cat);
}

Test(shard, a_stream_reads_what_catalog_load_reads) {
    fx_write_text(fx_path("small.csv"), "\xEF\xBB\xBF"
                                        "objID,ra,dec,\"note, quoted\",oh_p50\r\n"
                                        "1, 10.5,-1,\"a \"\"quoted\"\", text\",8.9\r\n"
                                        "\r\n"
                                        "2,11,-9999,\"two\nlines\",NaN\r\n"
                                        "3,12,1e3,,8.7");
    check_stream_against_load(fx_path("small.csv"));

    /* records longer than the stream's window and quoted line ends across its edges */
    FILE *f = fopen(fx_path("big.csv"), "w");
    fputs("objID,a,text,b\n", f);
    for (int i = 0; i < 4000; i++) {
        fprintf(f, " %d ,%d.25,\"", 1000000 + i, i);
        int len = (i % 97 == 0) ? 70000 : (i * 37) % 200;
        for (int j = 0; j < len; j++) fputc(j % 61 == 60 ? '\n' : (j % 13 == 0 ? ',' : 'x'), f);
        fprintf(f, "\",%s\n", i % 5 ? "-3.5" : "");
        if (i % 250 == 0) fputs("\n\n", f);
    }
    fclose(f);
    check_stream_against_load(fx_path("big.csv"));
}

Test(shard, a_stream_names_the_line_of_what_is_wrong) {
    catalog_stream *st;
    catalog_row row;
    fx_write_text(fx_path("a.csv"), "objID,x\n1,2\n3,4,5\n");
    cr_assert_eq(catalog_stream_open(&st, fx_path("a.csv")), SF_OK);
    cr_assert_eq(catalog_stream_next(st, &row), 1);
    cr_assert_eq(catalog_stream_next(st, &row), SF_ERR);
    cr_assert(strstr(sf_last_error(), "a.csv:3: expected 2 fields"), "%s", sf_last_error());
    catalog_stream_close(st);

    fx_write_text(fx_path("b.csv"), "x,y\n1,2\n");
    cr_assert_eq(catalog_stream_open(&st, fx_path("b.csv")), SF_ERR);
    cr_assert(strstr(sf_last_error(), "no objID column"), "%s", sf_last_error());

    fx_write_bytes(fx_path("c.csv"), "objID,x\n1,\0\n", 12);
    cr_assert_eq(catalog_stream_open(&st, fx_path("c.csv")), SF_ERR);
    cr_assert(strstr(sf_last_error(), "NUL"), "%s", sf_last_error());

    fx_write_text(fx_path("d.csv"), "objID,x\n\"1,2\n");
    cr_assert_eq(catalog_stream_open(&st, fx_path("d.csv")), SF_OK);
    cr_assert_eq(catalog_stream_next(st, &row), SF_ERR);
    cr_assert(strstr(sf_last_error(), "d.csv:2: unterminated"), "%s", sf_last_error());
    catalog_stream_close(st);

    cr_assert_eq(catalog_stream_open(&st, fx_path("none.csv")), SF_ERR);
    cr_assert(strstr(sf_last_error(), "none.csv: cannot open"), "%s", sf_last_error());
}

Test(shard, cuts_one_row_at_a_time_are_targets_select) {
    fx_write_text(fx_path("t.csv"),
                  "objID,oh_p50,lgm_tot_p50,sfr_tot_p50\n"
                  "1,8.9,10,0\n2,-9999,10,0\n3,8.5,-1,0\n4,8.7,10,-20\n5,9.1,9,-1\n");
    catalog cat;
    cr_assert_eq(catalog_load(&cat, fx_path("t.csv")), SF_OK);
    target_set all, one;
    cr_assert_eq(targets_select(&all, &cat, "metallicity"), SF_OK);
    cr_assert_eq(targets_prepare(&one, &cat, "metallicity"), SF_OK);
    int kept = 0;
    for (int r = 0; r < cat.n_rows; r++) {
        float y;
        if (!targets_apply(&one, cat.values + (size_t)r * cat.n_cols, &y)) continue;
        cr_assert_eq(all.rows[kept], r);
        cr_assert_eq(y, all.y[kept]);
        kept++;
    }
    cr_assert_eq(kept, all.n_rows);
    cr_assert_eq(kept, 2);
    for (int c = 0; c < all.n_cuts; c++) cr_assert_eq(one.cuts[c].removed, all.cuts[c].removed);
    targets_free(&all);
    targets_free(&one);
    catalog_free(&cat);
}

/* ---- the galaxies of a predict --------------------------------------------------- */

/* A catalogue of n rows (every 7th cut by oh_p50, every 11th without an image), its
 * rows in order or reversed, and 8x8 images. */
static void write_survey(const char *csv, int n, int reversed, int with_images) {
    FILE *f = fopen(csv, "w");
    fputs("objID,ra,oh_p50\n", f);
    for (int k = 0; k < n; k++) {
        int i = reversed ? n - 1 - k : k;
        fprintf(f, "%lld,%d.5,%s\n", 587722981742084000LL + i, i, i % 7 ? "8.8" : "-9999");
    }
    fclose(f);
    if (!with_images) return;
    mkdir(fx_path("img"), 0755);
    uint8_t *px = fx_solid(8, 8, 90, 60, 30);
    for (int i = 0; i < n; i++) {
        if (i % 11 == 3) continue;
        char name[64];
        snprintf(name, sizeof name, "img/%lld.png", 587722981742084000LL + i);
        fx_write_png(fx_path(name), px, 8, 8);
    }
    free(px);
}

/* shard_plan_build over one catalogue file, as predict opens it. */
static int plan_of(shard_plan *p, const char *path, const char *spec, const char *images,
                   const shard_spec *shard, uint64_t seed, double valid_fraction) {
    catalog_sources src = {.n_files = 1, .files = {path}};
    catalog_stream *st;
    if (catalog_stream_open_sources(&st, &src) != SF_OK) return SF_ERR;
    int rc = shard_plan_build(p, st, spec, images, shard, seed, valid_fraction);
    catalog_stream_close(st);
    return rc;
}

Test(shard, shards_hold_every_galaxy_once_with_the_whole_catalogues_split) {
    enum { N = 500, S = 3 };
    char csv[512], rev[512], img[512];
    snprintf(csv, sizeof csv, "%s", fx_path("g.csv"));
    snprintf(rev, sizeof rev, "%s", fx_path("r.csv"));
    snprintf(img, sizeof img, "%s", fx_path("img"));
    write_survey(csv, N, 0, 1);
    write_survey(rev, N, 1, 0);

    shard_plan whole;
    cr_assert_eq(plan_of(&whole, csv, "metallicity", img, NULL, 256, 0.2), SF_OK, "%s",
                 sf_last_error());
    cr_assert_eq(whole.n_rows, N);
    int expect = 0;
    for (int i = 0; i < N; i++) expect += i % 7 != 0 && i % 11 != 3;
    cr_assert_eq(whole.n, expect);
    cr_assert_eq(whole.n_all, expect);
    cr_assert_eq(whole.n_missing, N - N / 7 - 1 - expect);
    /* the split of the whole catalogue, as dataset_split draws it */
    uint8_t *split = malloc((size_t)expect);
    dataset_split(expect, 256, 0.2, split);
    cr_assert_eq(memcmp(split, whole.split, (size_t)expect), 0);
    free(split);
    char path[1024];
    cr_assert_eq(shard_plan_path(&whole, 0, path, sizeof path), SF_OK);
    cr_assert(strstr(path, "/img/") && strstr(path, ".png"), "%s", path);
    cr_assert_float_eq(whole.truth[0], 8.8f, 1e-6);

    int *seen = calloc((size_t)whole.n, sizeof *seen);
    for (int s = 0; s < S; s++) {
        shard_spec spec = {s, S};
        shard_plan p, pr;
        cr_assert_eq(plan_of(&p, csv, "metallicity", img, &spec, 256, 0.2), SF_OK);
        cr_assert_eq(p.n_all, whole.n_all);
        cr_assert_gt(p.n, whole.n / S / 2);
        /* the same galaxies in the re-sorted catalogue */
        cr_assert_eq(plan_of(&pr, rev, "metallicity", img, &spec, 256, 0.2), SF_OK);
        cr_assert_eq(pr.n, p.n);
        for (int i = 0; i < p.n; i++) {
            const char *id = shard_plan_objid(&p, i);
            int found = 0;
            for (int j = 0; j < pr.n && !found; j++) found = !strcmp(id, shard_plan_objid(&pr, j));
            cr_assert(found, "%s left shard %d when the catalogue was re-sorted", id, s);
            /* and in the whole plan, with the same split and truth */
            int w = -1;
            for (int j = 0; j < whole.n && w < 0; j++)
                if (!strcmp(id, shard_plan_objid(&whole, j))) w = j;
            cr_assert_geq(w, 0);
            cr_assert_eq(seen[w]++, 0, "%s in two shards", id);
            cr_assert_eq(p.split[i], whole.split[w], "%s: split %d, the whole catalogue's %d", id,
                         p.split[i], whole.split[w]);
            cr_assert_eq(p.truth[i], whole.truth[w]);
            cr_assert_eq(p.pos[i].offset, whole.pos[w].offset);
        }
        shard_plan_free(&p);
        shard_plan_free(&pr);
    }
    for (int w = 0; w < whole.n; w++) cr_assert_eq(seen[w], 1, "galaxy %d in no shard", w);
    free(seen);
    shard_plan_free(&whole);
}

Test(shard, a_plan_refuses_what_predict_refused) {
    char img[512];
    snprintf(img, sizeof img, "%s", fx_path("img"));
    write_survey(fx_path("g.csv"), 30, 0, 1);
    shard_plan p;
    /* twice the same objID (both with images) */
    fx_write_text(fx_path("dup.csv"), "objID,oh_p50\n587722981742084001,8\n587722981742084002,8\n"
                                      "587722981742084001,9\n");
    cr_assert_eq(plan_of(&p, fx_path("dup.csv"), NULL, img, NULL, 256, 0.2), SF_ERR);
    cr_assert(strstr(sf_last_error(), "dup.csv:4: objID 587722981742084001 appears again "
                                      "(first on line 2)"),
              "%s", sf_last_error());
    fx_write_text(fx_path("bad.csv"), "objID,oh_p50\n../etc,8\n");
    cr_assert_eq(plan_of(&p, fx_path("bad.csv"), NULL, img, NULL, 256, 0.2), SF_ERR);
    cr_assert(strstr(sf_last_error(), "bad.csv:2: objID '../etc' is not a plain file name"), "%s",
              sf_last_error());
    fx_write_text(fx_path("cut.csv"), "objID,oh_p50\n1,-9999\n2,-9999\n");
    cr_assert_eq(plan_of(&p, fx_path("cut.csv"), "metallicity", img, NULL, 256, 0.2), SF_ERR);
    cr_assert(strstr(sf_last_error(), "no usable rows for target 'metallicity' among 2"), "%s",
              sf_last_error());
    cr_assert_eq(plan_of(&p, fx_path("g.csv"), "oh_p51", img, NULL, 256, 0.2), SF_ERR);
    cr_assert(strstr(sf_last_error(), "oh_p51"), "%s", sf_last_error());
    /* a slice with nothing in it is not an error */
    fx_write_text(fx_path("one.csv"), "objID,oh_p50\n587722981742084001,8\n");
    shard_spec other = {(shard_of("587722981742084001", 2) + 1) % 2, 2};
    cr_assert_eq(plan_of(&p, fx_path("one.csv"), NULL, img, &other, 256, 0.2), SF_OK);
    cr_assert_eq(p.n, 0);
    cr_assert_eq(p.n_all, 1);
    shard_plan_free(&p);
}

Test(shard, a_joined_catalogue_is_streamed_from_memory_with_the_plan_of_one_file) {
    enum { N = 300 };
    char img[512];
    snprintf(img, sizeof img, "%s", fx_path("img"));
    write_survey(fx_path("g.csv"), N, 0, 1);
    /* the same rows as two files joined row by row: IDs and ra, then IDs and oh_p50 */
    FILE *a = fopen(fx_path("a.csv"), "w"), *b = fopen(fx_path("b.csv"), "w");
    fputs("objID,ra\n", a);
    fputs("objID,oh_p50\n", b);
    for (int i = 0; i < N; i++) {
        fprintf(a, "%lld,%d.5\n", 587722981742084000LL + i, i);
        fprintf(b, "%lld,%s\n", 587722981742084000LL + i, i % 7 ? "8.8" : "-9999");
    }
    fclose(a);
    fclose(b);
    catalog_sources src = {.n_files = 2, .files = {fx_path("a.csv"), fx_path("b.csv")}};
    char fa[512], fb[512];
    snprintf(fa, sizeof fa, "%s", src.files[0]);
    snprintf(fb, sizeof fb, "%s", src.files[1]);
    src.files[0] = fa;
    src.files[1] = fb;
    shard_spec spec = {1, 3};
    shard_plan one, joined;
    cr_assert_eq(plan_of(&one, fx_path("g.csv"), "metallicity", img, &spec, 256, 0.2), SF_OK);
    catalog_stream *st;
    cr_assert_eq(catalog_stream_open_sources(&st, &src), SF_OK, "%s", sf_last_error());
    cr_assert_eq(catalog_stream_columns(st)->n_cols, 2);
    cr_assert_eq(shard_plan_build(&joined, st, "metallicity", img, &spec, 256, 0.2), SF_OK, "%s",
                 sf_last_error());
    cr_assert_eq(joined.n, one.n);
    cr_assert_eq(joined.n_all, one.n_all);
    cr_assert_eq(joined.n_cut, one.n_cut);
    cr_assert_gt(joined.n, 50);
    for (int i = 0; i < one.n; i++) {
        cr_assert_str_eq(shard_plan_objid(&joined, i), shard_plan_objid(&one, i));
        cr_assert_eq(joined.split[i], one.split[i]);
        cr_assert_eq(joined.truth[i], one.truth[i]);
    }
    /* the rows are found again where the plan saw them, backwards too */
    for (int i = joined.n - 1; i >= 0; i--) {
        catalog_row row;
        cr_assert_eq(catalog_stream_seek(st, joined.pos[i]), SF_OK);
        cr_assert_eq(catalog_stream_next(st, &row), 1);
        cr_assert_str_eq(row.obj_id, shard_plan_objid(&joined, i));
        cr_assert_eq(row.pos.line, joined.pos[i].line);
        int ra = catalog_column(catalog_stream_columns(st), "ra");
        cr_assert_eq(row.values[ra], (double)(atoll(row.obj_id) - 587722981742084000LL) + 0.5);
    }
    catalog_stream_close(st);
    shard_plan_free(&joined);
    shard_plan_free(&one);
}
