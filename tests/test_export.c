/* test_export.c: cairo galleries and the Figure-2 layout: size, pixels, determinism. */
#include <cairo.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "export.h"
#include "plot.h"
#include "sf_util.h"

static char tmpdir[64];

static void setup(void) {
    strcpy(tmpdir, "/tmp/sfnet-export-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void) {
    export_shutdown();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

/* n galaxies, each a flat colour (so tile pixels are predictable). */
typedef struct {
    export_galaxy g[12];
    uint8_t *rgb[12];
    char ids[12][24];
} galaxies;

static void make_galaxies(galaxies *G, int n) {
    for (int i = 0; i < n; i++) {
        G->rgb[i] = xmalloc(64 * 64 * 3);
        for (int p = 0; p < 64 * 64; p++) {
            G->rgb[i][3 * p] = (uint8_t)(20 * i);
            G->rgb[i][3 * p + 1] = 200;
            G->rgb[i][3 * p + 2] = (uint8_t)(255 - 20 * i);
        }
        snprintf(G->ids[i], sizeof G->ids[i], "12376489546%08d", i);
        G->g[i] = (export_galaxy){G->ids[i], 3.0f - 0.2f * i, 1.0f - 0.07f * i, G->rgb[i], 64, 64};
    }
}

static void free_galaxies(galaxies *G, int n) {
    for (int i = 0; i < n; i++) free(G->rgb[i]);
}

static uint32_t pixel(cairo_surface_t *s, int x, int y) {
    unsigned char *d = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    return ((uint32_t *)(d + (size_t)y * stride))[x] & 0xFFFFFF;
}

static int same_file(const char *a, const char *b) {
    char *da, *db;
    size_t na, nb;
    cr_assert_eq(sf_read_file(a, &da, &na), SF_OK);
    cr_assert_eq(sf_read_file(b, &db, &nb), SF_OK);
    int same = na == nb && !memcmp(da, db, na);
    free(da);
    free(db);
    return same;
}

TestSuite(export, .init = setup, .fini = teardown);

Test(export, gallery_png_size_pixels_and_determinism) {
    galaxies G;
    make_galaxies(&G, 9);
    export_figure f = {.title = "SL 17",
                       .subtitle = "top 9",
                       .n_galaxies = 9,
                       .galaxies = G.g,
                       .grid_cols = 3,
                       .grid_rows = 3};
    char a[128], b[128];
    snprintf(a, sizeof a, "%s/a.png", tmpdir);
    snprintf(b, sizeof b, "%s/b.png", tmpdir);
    cr_assert_eq(export_figure_write(&f, a), SF_OK, "%s", sf_last_error());
    cr_assert_eq(export_figure_write(&f, b), SF_OK, "%s", sf_last_error());
    cr_assert(same_file(a, b), "two exports are byte-identical");

    cairo_surface_t *s = cairo_image_surface_create_from_png(a);
    cr_assert_eq(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    int w, h;
    export_figure_size(&f, &w, &h);
    cr_assert_eq(cairo_image_surface_get_width(s), w);
    cr_assert_eq(cairo_image_surface_get_height(s), h);
    cr_assert_eq(w, 24 + 3 * 256 + 2 * 12 + 24);
    cairo_surface_flush(s);
    /* centre of tile i: its flat colour */
    for (int i = 0; i < 9; i++) {
        int x = 24 + (i % 3) * (256 + 12) + 128, y = 44 + (i / 3) * (256 + 40 + 12) + 128;
        uint32_t want = (uint32_t)(20 * i) << 16 | 200u << 8 | (uint32_t)(255 - 20 * i);
        cr_assert_eq(pixel(s, x, y), want, "tile %d: %06x", i, pixel(s, x, y));
    }
    cr_assert_eq(pixel(s, 2, 2), 0xFFFFFFu, "white background");
    /* the caption under tile 0 has dark text pixels */
    int dark = 0;
    for (int y = 44 + 256 + 2; y < 44 + 256 + 40; y++)
        for (int x = 24; x < 24 + 256; x++)
            if ((pixel(s, x, y) & 0xFF) < 80) dark++;
    cr_assert_gt(dark, 100, "caption text drawn (%d dark pixels)", dark);
    cairo_surface_destroy(s);
    free_galaxies(&G, 9);
}

Test(export, figure2_bpt_points_lines_and_pdf) {
    galaxies G;
    make_galaxies(&G, 9);
    /* a weak point and a strong point at the same place: the strong one is drawn last */
    float x[3] = {-0.5f, -0.5f, 0.3f}, y[3] = {0.8f, 0.8f, -0.8f}, v[3] = {0.0f, 1.0f, 0.0f};
    export_figure f = {.title = "SL 17",
                       .n_galaxies = 9,
                       .galaxies = G.g,
                       .grid_cols = 3,
                       .grid_rows = 3,
                       .bpt = 1,
                       .n_points = 3,
                       .bpt_x = x,
                       .bpt_y = y,
                       .bpt_scaled = v,
                       .demarcations = 1};
    char a[128], b[128];
    snprintf(a, sizeof a, "%s/fig2.png", tmpdir);
    cr_assert_eq(export_figure_write(&f, a), SF_OK, "%s", sf_last_error());
    cairo_surface_t *s = cairo_image_surface_create_from_png(a);
    cairo_surface_flush(s);
    int w, h;
    export_figure_size(&f, &w, &h);
    cr_assert_eq(cairo_image_surface_get_width(s), w);
    /* plot area: x0 = 24 + 70, y0 = 44 + 10, 400 x 400 */
    double px = 94, py = 54;
    int sx = (int)(px + (-0.5 + 1.55) / 2.1 * 400), sy = (int)(py + (1.3 - 0.8) / 2.35 * 400);
    cr_assert_eq(pixel(s, sx, sy), plot_colormap_rgb(1.0), "strongest on top: %06x",
                 pixel(s, sx, sy));
    int wx = (int)(px + (0.3 + 1.55) / 2.1 * 400), wy = (int)(py + (1.3 + 0.8) / 2.35 * 400);
    cr_assert_eq(pixel(s, wx, wy), 0x000000u, "weak point black");
    /* Kewley at x = 0: y = -0.108 -> a dark line pixel near there */
    int lx = (int)(px + 1.55 / 2.1 * 400), ly = (int)(py + (1.3 + 0.108) / 2.35 * 400);
    int dark = 0;
    for (int dy = -3; dy <= 3; dy++)
        if ((pixel(s, lx, ly + dy) & 0xFF) < 90) dark = 1;
    cr_assert(dark, "Kewley line near (%d, %d)", lx, ly);
    cairo_surface_destroy(s);

    snprintf(a, sizeof a, "%s/fig2.pdf", tmpdir);
    snprintf(b, sizeof b, "%s/fig2b.pdf", tmpdir);
    cr_assert_eq(export_figure_write(&f, a), SF_OK, "%s", sf_last_error());
    cr_assert_eq(export_figure_write(&f, b), SF_OK, "%s", sf_last_error());
    char *pdf;
    size_t n;
    cr_assert_eq(sf_read_file(a, &pdf, &n), SF_OK);
    cr_assert(n > 1000 && !memcmp(pdf, "%PDF", 4));
    free(pdf);
    cr_assert(same_file(a, b), "PDF output is deterministic");
    free_galaxies(&G, 9);
}

Test(export, strip_missing_image_and_errors) {
    galaxies G;
    make_galaxies(&G, 10);
    G.g[3].rgb = NULL;
    export_figure f = {
        .title = "Z 61", .n_galaxies = 10, .galaxies = G.g, .grid_cols = 10, .grid_rows = 1};
    char a[128];
    snprintf(a, sizeof a, "%s/strip.png", tmpdir);
    cr_assert_eq(export_figure_write(&f, a), SF_OK, "%s", sf_last_error());
    cairo_surface_t *s = cairo_image_surface_create_from_png(a);
    cr_assert_eq(cairo_image_surface_get_width(s), 24 + 10 * 256 + 9 * 12 + 24);
    cairo_surface_flush(s);
    cr_assert_eq(pixel(s, 24 + 3 * 268 + 20, 44 + 20), 0xD9D9D9u, "grey 'no image' tile");
    cairo_surface_destroy(s);
    cr_assert_eq(export_figure_write(&f, "/nonexistent-dir/x.png"), SF_ERR);
    cr_assert(strstr(sf_last_error(), "/nonexistent-dir/x.png"), "%s", sf_last_error());

    int c, r;
    cr_assert_eq(export_parse_grid("3x3", &c, &r), SF_OK);
    cr_assert(c == 3 && r == 3);
    cr_assert_eq(export_parse_grid("4x2", &c, &r), SF_OK);
    cr_assert(c == 4 && r == 2);
    cr_assert_eq(export_parse_grid("3", &c, &r), SF_ERR);
    cr_assert_eq(export_parse_grid("0x3", &c, &r), SF_ERR);
    cr_assert_eq(export_parse_grid("3x3x", &c, &r), SF_ERR);
    free_galaxies(&G, 10);
}

/* ---- the export command on a run database (tui_fixture.h) ---- */

#include "query_view.h"
#include "tui_fixture.h"

static const char *binary(void) {
    static char bin[1024];
    const char *b = getenv("SFNET_BIN");
    if (b) return b;
    if (realpath("build/sfnet-explore", bin)) return bin;
    return NULL;
}

Test(export, from_the_run_database_and_the_command) {
    char db[128], a[160], b[160];
    snprintf(db, sizeof db, "%s/run.db", tmpdir);
    cr_assert_eq(tfx_make(db), SF_OK, "%s", sf_last_error());
    store *st;
    cr_assert_eq(store_open(&st, db, STORE_READ), SF_OK);
    store_run run;
    cr_assert_eq(store_run_find(st, "SL", &run), SF_OK);
    snprintf(a, sizeof a, "%s/sl3.png", tmpdir);
    cr_assert_eq(query_export_feature(st, &run, 3, a, 3, 3, 1), SF_OK, "%s", sf_last_error());
    cairo_surface_t *s = cairo_image_surface_create_from_png(a);
    cr_assert_eq(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    export_figure f = {.grid_cols = 3, .grid_rows = 3, .bpt = 1};
    int w, h;
    export_figure_size(&f, &w, &h);
    cr_assert_eq(cairo_image_surface_get_width(s), w);
    cr_assert_eq(cairo_image_surface_get_height(s), h);
    cairo_surface_destroy(s);
    /* a dead feature is refused with a message */
    cr_assert_eq(query_export_feature(st, &run, 40, a, 3, 3, 0), SF_ERR);
    cr_assert(strstr(sf_last_error(), "SL 40 is dead"), "%s", sf_last_error());
    store_run_clear(&run);
    store_close(st);

    const char *bin = binary();
    if (!bin || access(bin, X_OK) != 0) {
        cr_skip_test("no sfnet-explore binary (set SFNET_BIN): the command part is skipped");
        return;
    }
    char cmd[1400];
    snprintf(a, sizeof a, "%s/a.png", tmpdir);
    snprintf(b, sizeof b, "%s/b.png", tmpdir);
    snprintf(cmd, sizeof cmd, "'%s' export '%s' 'SL 3' -o '%s' --bpt >/dev/null", bin, db, a);
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' export '%s' SL:3 -o '%s' --bpt >/dev/null", bin, db, b);
    cr_assert_eq(system(cmd), 0);
    cr_assert(same_file(a, b), "two exports are byte-identical");
    snprintf(cmd, sizeof cmd, "'%s' export '%s' 3 --run Z -o '%s' --top 10 >/dev/null", bin, db, a);
    cr_assert_eq(system(cmd), 0);
    s = cairo_image_surface_create_from_png(a);
    cr_assert_eq(cairo_image_surface_get_width(s), 24 + 10 * 256 + 9 * 12 + 24);
    cairo_surface_destroy(s);
    snprintf(a, sizeof a, "%s/a.pdf", tmpdir);
    snprintf(cmd, sizeof cmd, "'%s' export '%s' 'Z 3' -o '%s' --grid 2x2 --bpt >/dev/null", bin, db,
             a);
    cr_assert_eq(system(cmd), 0);
    char *pdf;
    size_t n;
    cr_assert_eq(sf_read_file(a, &pdf, &n), SF_OK);
    cr_assert(!memcmp(pdf, "%PDF", 4));
    free(pdf);
    /* usage errors: 2; a run or feature that does not exist: 1 */
    snprintf(cmd, sizeof cmd, "'%s' export '%s' 'SL 3' >/dev/null 2>&1", bin, db);
    cr_assert_eq(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd, "'%s' export '%s' 'SL 3' -o x.png --grid 3x3 --top 4 >/dev/null 2>&1",
             bin, db);
    cr_assert_eq(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd, "'%s' export '%s' 'SL 99' -o '%s/x.png' >/dev/null 2>&1", bin, db,
             tmpdir);
    cr_assert_eq(WEXITSTATUS(system(cmd)), 1);
    snprintf(cmd, sizeof cmd, "'%s' export '%s' 'Q 3' -o '%s/x.png' >/dev/null 2>&1", bin, db,
             tmpdir);
    cr_assert_eq(WEXITSTATUS(system(cmd)), 1);
}
