/* Tests of the report's figures: files written, their size, colours at known
 * places, determinism, and the error paths. */
#include <cairo.h>
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_figures.h"
#include "sf_util.h"

static char dir[64];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/sfnet-fig-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
    /* cairo and fontconfig keep their font caches until told; without this
     * LeakSanitizer reports fontconfig's patterns at exit. FcFini is looked up
     * because the build links cairo only (fontconfig comes in through it). */
    cairo_debug_reset_static_data();
    void (*fc_fini)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "FcFini");
    if (fc_fini) fc_fini();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* The RGB of pixel (x, y) of a PNG file. */
static void pixel(const char *path, int x, int y, int rgb[3], int *w, int *h) {
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    cr_assert_eq(cairo_surface_status(s), CAIRO_STATUS_SUCCESS, "%s", path);
    *w = cairo_image_surface_get_width(s);
    *h = cairo_image_surface_get_height(s);
    const unsigned char *data = cairo_image_surface_get_data(s);
    uint32_t p = *(const uint32_t *)(data + (size_t)y * (size_t)cairo_image_surface_get_stride(s) +
                                     4 * (size_t)x);
    rgb[0] = (p >> 16) & 255, rgb[1] = (p >> 8) & 255, rgb[2] = p & 255;
    cairo_surface_destroy(s);
}

Test(figures, heatmap_cells_have_the_diverging_colours, .init = setup, .fini = teardown) {
    const double m[9] = {1, -1, 0, -1, 1, NAN, 0, NAN, 1};
    const char *labels[3] = {"Z 61", "Z 256", "Z 7"};
    char path[128];
    snprintf(path, sizeof path, "%s/corr.png", dir);
    cr_assert_eq(figure_heatmap(path, m, 3, labels, "correlations"), SF_OK, "%s", sf_last_error());
    int rgb[3], w, h;
    /* Cells are 48 px from (90, 90); sample near a corner, away from the number. */
    pixel(path, 90 + 4, 90 + 4, rgb, &w, &h); /* m[0][0] = +1: red */
    cr_assert_gt(rgb[0], 150);
    cr_assert_lt(rgb[2], 80);
    pixel(path, 90 + 48 + 4, 90 + 4, rgb, &w, &h); /* m[0][1] = -1: blue */
    cr_assert_gt(rgb[2], 150);
    cr_assert_lt(rgb[0], 80);
    pixel(path, 90 + 96 + 4, 90 + 4, rgb, &w, &h); /* 0: white */
    cr_assert(rgb[0] > 250 && rgb[1] > 250 && rgb[2] > 250);
    pixel(path, 90 + 96 + 4, 90 + 48 + 4, rgb, &w, &h); /* NAN: grey */
    cr_assert(abs(rgb[0] - 191) < 3 && rgb[0] == rgb[2]);
    cr_assert_geq(w, 90 + 3 * 48);
    cr_assert_geq(h, 90 + 3 * 48);
}

Test(figures, scatter_and_lines_are_deterministic, .init = setup, .fini = teardown) {
    enum { N = 200 };
    double x[N], y[N], c[N];
    for (int i = 0; i < N; i++) x[i] = i / 20.0, y[i] = sin(x[i]), c[i] = i / (N - 1.0);
    x[5] = NAN;
    char a[128], b[128];
    snprintf(a, sizeof a, "%s/a.png", dir);
    snprintf(b, sizeof b, "%s/b.png", dir);
    cr_assert_eq(figure_scatter(a, x, y, c, N, "A", "oh_p50", "Z 61", 0), SF_OK);
    cr_assert_eq(figure_scatter(b, x, y, c, N, "A", "oh_p50", "Z 61", 0), SF_OK);
    char *da, *db;
    size_t la, lb;
    cr_assert_eq(sf_read_file(a, &da, &la), SF_OK);
    cr_assert_eq(sf_read_file(b, &db, &lb), SF_OK);
    cr_assert_eq(la, lb);
    cr_assert_eq(memcmp(da, db, la), 0);
    cr_assert_eq(memcmp(da, "\x89PNG", 4), 0);
    free(da);
    free(db);
    cr_assert_eq(figure_scatter(a, x, y, NULL, N, "true", "predicted", NULL, 1), SF_OK);

    const double k[5] = {2, 3, 4, 6, 8}, s[5] = {0.086, 0.086, 0.086, 0.087, 0.085},
                 e[5] = {0.001, 0.002, 0.001, 0.003, 0.001}, p[5] = {0.17, 0.20, 0.10, 0.10, 0.09};
    figure_series ser[2] = {{"SFNet", 5, k, s, e}, {"PCA", 5, k, p, NULL}};
    cr_assert_eq(figure_lines(a, ser, 2, "k", "validation RMSE", "Figure 4"), SF_OK);
    int rgb[3], w, h;
    pixel(a, 0, 0, rgb, &w, &h);
    cr_assert(rgb[0] == 255 && rgb[1] == 255 && rgb[2] == 255, "white background");
    cr_assert_eq(w, 560);
}

Test(figures, curves_are_coloured_by_group, .init = setup, .fini = teardown) {
    /* two groups of two curves, one solid and one dashed each; the first group's
     * horizontal solid line at y = 1 crosses the middle of the plot */
    char path[128];
    snprintf(path, sizeof path, "%s/curves.png", dir);
    const double x[3] = {1, 2, 3}, flat[3] = {1, 1, 1}, up[3] = {0, 1, 2}, down[3] = {2, 1.5, 0.5};
    figure_curve c[4] = {
        {3, x, flat, 0, 0}, {3, x, up, 0, 1}, {3, x, down, 1, 0}, {3, x, up, 1, 1}};
    const char *names[2] = {"ours", "theirs"};
    cr_assert_eq(figure_curves(path, c, 4, names, 2, "epoch", "RMSE", "curves", "a note"), SF_OK,
                 "%s", sf_last_error());
    int rgb[3], w, h;
    pixel(path, 0, 0, rgb, &w, &h);
    cr_assert(rgb[0] == 255 && rgb[1] == 255 && rgb[2] == 255, "white background");
    cr_assert_eq(w, 720);
    /* down the column x = 200, inside the frame: the first group's blue and the
     * second group's orange both appear */
    cairo_surface_t *surf = cairo_image_surface_create_from_png(path);
    const unsigned char *data = cairo_image_surface_get_data(surf);
    int stride = cairo_image_surface_get_stride(surf), blue = 0, orange = 0;
    for (int y = 40; y < 420; y++) {
        uint32_t p = *(const uint32_t *)(data + (size_t)y * (size_t)stride + 4 * 200);
        int r = (int)(p >> 16 & 255), b = (int)(p & 255);
        blue += b > r + 40;
        orange += r > b + 40;
    }
    cairo_surface_destroy(surf);
    cr_assert_gt(blue, 0, "the first group's colour is on the plot");
    cr_assert_gt(orange, 0, "the second group's colour is on the plot");
    const double nan3[3] = {NAN, NAN, NAN};
    figure_curve none = {3, x, nan3, 0, 0};
    cr_assert_eq(figure_curves(path, &none, 1, names, 1, "e", "r", NULL, NULL), SF_ERR);
}

Test(figures, errors_name_the_file, .init = setup, .fini = teardown) {
    const double x[2] = {NAN, 1}, y[2] = {1, NAN};
    cr_assert_eq(figure_scatter("/tmp/x.png", x, y, NULL, 2, "a", "b", NULL, 0), SF_ERR);
    cr_assert(strstr(sf_last_error(), "no finite points"));
    const double m[1] = {1};
    cr_assert_eq(figure_heatmap("/nonexistent-dir/c.png", m, 1, NULL, NULL), SF_ERR);
    cr_assert(strstr(sf_last_error(), "/nonexistent-dir/c.png"), "%s", sf_last_error());
}

Test(figures, colormaps) {
    double rgb[3];
    figure_activation_color(0, rgb);
    cr_assert(rgb[0] == 0 && rgb[1] == 0 && rgb[2] == 0);
    figure_activation_color(1, rgb);
    cr_assert(rgb[0] > 0.9 && rgb[1] > 0.9 && rgb[2] < 0.3, "yellow");
    figure_activation_color(0.5, rgb);
    cr_assert(rgb[0] > 0.4 && rgb[1] < 0.1 && rgb[2] > 0.4, "magenta");
    figure_diverging_color(0, rgb);
    cr_assert(rgb[0] == 1 && rgb[1] == 1 && rgb[2] == 1);
}
