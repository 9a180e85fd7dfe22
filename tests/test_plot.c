/* test_plot.c: the braille/glyph canvas, colormap, ticks, histogram, BPT lines. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"

static const plot_cell *at(const plot_grid *g, int x, int y) { return &g->cells[y * g->w + x]; }

/* Decodes a braille cell's bits; -1 when the glyph is not braille. */
static int braille_bits(const char *s) {
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] != 0xE2 || (u[1] & 0xFC) != 0xA0) return -1;
    return ((u[1] & 0x03) << 6) | (u[2] & 0x3F);
}

/* The plot area's left column and bottom axis row, from the frame corner. */
static void find_origin(const plot_grid *g, int *px, int *base) {
    *px = *base = -1;
    for (int y = 0; y < g->h; y++)
        for (int x = 0; x < g->w; x++)
            if (!strcmp(at(g, x, y)->glyph, "\xe2\x94\x94")) {
                *px = x + 1;
                *base = y;
                return;
            }
}

/* A 0..1 x 0..1 scatter whose plot area is known: margin 1 ("0"/"1" ticks) + axis. */
static plot_axes unit_axes(void) {
    plot_axes ax = {0};
    ax.x_min = 0;
    ax.x_max = 1;
    ax.y_min = 0;
    ax.y_max = 1;
    ax.x_label = "x";
    ax.y_label = "y";
    return ax;
}

Test(plot, braille_dot_and_strongest_colour) {
    plot_grid g;
    plot_grid_init(&g, 12, 8, PLOT_MODE_BRAILLE);
    plot_axes ax = unit_axes();
    float xs[3] = {0.01f, 0.04f, 0.99f}, ys[3] = {0.99f, 0.99f, 0.01f}, v[3] = {0.2f, 0.9f, 0.1f};
    int drawn = plot_scatter(&g, 0, 0, 12, 8, &ax, xs, ys, v, 3);
    cr_assert_eq(drawn, 3);
    int px, base;
    find_origin(&g, &px, &base);
    cr_assert_eq(px, 4, "margin of \"0.5\" + axis");
    cr_assert_eq(base, 5, "rows 1..4 plot, 5 axis");
    const plot_cell *c = at(&g, px, 1);
    cr_assert_eq(c->kind, PLOT_KIND_POINT);
    /* both points in the top-left dot: bit 0x01 */
    cr_assert_eq(braille_bits(c->glyph), 0x01, "glyph %s", c->glyph);
    cr_assert_float_eq(c->value, 0.9f, 1e-6);
    cr_assert_eq(c->color, plot_colormap_xterm256(0.15 + 0.85 * 0.9));
    const plot_cell *d = at(&g, 11, base - 1);
    cr_assert_eq(braille_bits(d->glyph), 0x80, "bottom-right dot, got %s", d->glyph);
    cr_assert_float_eq(d->value, 0.1f, 1e-6);
    /* frame */
    cr_assert_str_eq(at(&g, px - 1, 1)->glyph, "\xe2\x94\xa4"); /* ┤ at the top tick "1" */
    cr_assert_str_eq(at(&g, px - 2, 1)->glyph, "1");
    cr_assert_str_eq(at(&g, 0, 0)->glyph, "y");
    plot_grid_free(&g);
}

Test(plot, glyph_mode_bins) {
    plot_grid g;
    plot_grid_init(&g, 12, 8, PLOT_MODE_GLYPH);
    plot_axes ax = unit_axes();
    float xs[2] = {0.01f, 0.99f}, ys[2] = {0.99f, 0.01f}, v[2] = {0.1f, 0.95f};
    plot_scatter(&g, 0, 0, 12, 8, &ax, xs, ys, v, 2);
    int px, base;
    find_origin(&g, &px, &base);
    cr_assert_str_eq(at(&g, px, 1)->glyph, "\xc2\xb7");
    cr_assert_str_eq(at(&g, 11, base - 1)->glyph, "#");
    cr_assert_str_eq(plot_value_glyph(0.3), ":");
    cr_assert_str_eq(plot_value_glyph(0.6), "*");
    plot_grid_free(&g);
}

Test(plot, points_outside_limits_are_skipped) {
    plot_grid g;
    plot_grid_init(&g, 12, 8, PLOT_MODE_BRAILLE);
    plot_axes ax = unit_axes();
    float xs[3] = {-0.5f, 0.5f, NAN}, ys[3] = {0.5f, 1.5f, 0.5f};
    cr_assert_eq(plot_scatter(&g, 0, 0, 12, 8, &ax, xs, ys, NULL, 3), 0);
    plot_grid_free(&g);
}

Test(plot, colormap_black_magenta_yellow) {
    uint8_t r, g, b;
    plot_colormap(0, &r, &g, &b);
    cr_assert(r == 0 && g == 0 && b == 0);
    plot_colormap(0.55, &r, &g, &b);
    cr_assert(r > 180 && b > 150 && g < 60, "magenta in the middle: %d %d %d", r, g, b);
    plot_colormap(1, &r, &g, &b);
    cr_assert(r > 240 && g > 220 && b < 100, "yellow at the top: %d %d %d", r, g, b);
    cr_assert_eq(plot_colormap_rgb(1), 0xFFF03Cu);
    /* monotone brightness */
    int prev = -1;
    for (int i = 0; i <= 20; i++) {
        plot_colormap(i / 20.0, &r, &g, &b);
        int lum = 2 * r + 5 * g + b;
        cr_assert_geq(lum, prev, "brightness rises at %d", i);
        prev = lum;
    }
}

Test(plot, xterm256_quantisation) {
    cr_assert_eq(plot_xterm256(0, 0, 0), 16);
    cr_assert_eq(plot_xterm256(255, 255, 255), 231);
    cr_assert_eq(plot_xterm256(255, 0, 255), 201);
    cr_assert_eq(plot_xterm256(255, 255, 0), 226);
    cr_assert_eq(plot_xterm256(128, 128, 128), 244);
    cr_assert_eq(plot_colormap_ansi8(0.9), 3);
    cr_assert_eq(plot_colormap_ansi8(0.4), 5);
}

Test(plot, ticks_and_numbers) {
    double t[8];
    int n = plot_ticks(-1.55, 0.55, 5, t);
    cr_assert_eq(n, 5);
    double want[5] = {-1.5, -1, -0.5, 0, 0.5};
    for (int i = 0; i < 5; i++) cr_assert_float_eq(t[i], want[i], 1e-12);
    n = plot_ticks(0, 1000, 3, t);
    cr_assert_eq(n, 3);
    cr_assert_float_eq(t[2], 1000, 1e-9);
    char buf[32];
    plot_format_number(buf, sizeof buf, -1.5);
    cr_assert_str_eq(buf, "-1.5");
    plot_format_number(buf, sizeof buf, 0.25);
    cr_assert_str_eq(buf, "0.25");
    plot_format_number(buf, sizeof buf, 1200);
    cr_assert_str_eq(buf, "1200");
    plot_format_number(buf, sizeof buf, 2.5e6);
    cr_assert_str_eq(buf, "2.5e+06");
    plot_format_number(buf, sizeof buf, 8.7);
    cr_assert_str_eq(buf, "8.7");
}

Test(plot, histogram_counts_and_axes) {
    float v[10] = {0.05f, 0.05f, 0.05f, 0.5f, 0.55f, 0.95f, 1.0f, -3.0f, 0.3f, 0.31f};
    int counts[4];
    plot_grid g;
    plot_grid_init(&g, 30, 12, PLOT_MODE_BRAILLE);
    int maxc = plot_histogram(&g, 0, 0, 30, 12, v, 10, 4, 0, 1, "scaled activation", counts);
    cr_assert_eq(counts[0], 4); /* -3 clamps into the first bin */
    cr_assert_eq(counts[1], 2);
    cr_assert_eq(counts[2], 2);
    cr_assert_eq(counts[3], 2);
    cr_assert_eq(maxc, 4);
    char *s = plot_grid_string(&g);
    cr_assert(strstr(s, "galaxies"), "%s", s);
    cr_assert(strstr(s, "scaled activation"), "%s", s);
    cr_assert(strstr(s, "4\xe2\x94\xa4"), "max count on the axis:\n%s", s);
    cr_assert(strstr(s, "0.5"), "%s", s);
    cr_assert(strstr(s, "\xe2\x96\x88"), "full bars:\n%s", s);
    free(s);
    plot_grid_free(&g);
}

Test(plot, bpt_axes_and_demarcations) {
    plot_grid g;
    plot_grid_init(&g, 70, 24, PLOT_MODE_BRAILLE);
    plot_axes ax = plot_bpt_axes();
    cr_assert_float_eq(ax.x_min, -1.55, 1e-12);
    cr_assert_float_eq(ax.y_max, 1.3, 1e-12);
    plot_scatter(&g, 0, 0, 70, 24, &ax, NULL, NULL, NULL, 0);
    char *s = plot_grid_string(&g);
    cr_assert(strstr(s, "log([NII]/H\xce\xb1)"), "%s", s);
    cr_assert(strstr(s, "log([OIII]/H\xce\xb2)"), "%s", s);
    cr_assert(strstr(s, "-1.5"), "%s", s);
    cr_assert(strstr(s, "0.5"), "%s", s);
    free(s);
    int px, base;
    find_origin(&g, &px, &base);
    cr_assert_geq(px, 0);
    int pw = 70 - px, ph = base - 1;
    /* Kauffmann at x = -1: y = 0.61/(-1.05) + 1.3 = 0.719; Kewley at x = 0.3:
     * y = 0.61/(-0.17)+1.19 = -2.4 (below), at x = 0: 0.61/-0.47+1.19 = -0.108 */
    double pts[2][2] = {{-1.0, 0.61 / (-1.0 - 0.05) + 1.3}, {0.0, 0.61 / (0.0 - 0.47) + 1.19}};
    for (int k = 0; k < 2; k++) {
        int cx = px + (int)((pts[k][0] - ax.x_min) / (ax.x_max - ax.x_min) * pw);
        int cy = 1 + (int)((ax.y_max - pts[k][1]) / (ax.y_max - ax.y_min) * ph);
        int found = 0;
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++)
                if (at(&g, cx + dx, cy + dy)->kind == PLOT_KIND_LINE) found = 1;
        cr_assert(found, "demarcation %d near cell (%d, %d)", k, cx, cy);
    }
    /* nothing to the right of x = 0.47 above the axis except the frame */
    int right = px + (int)((0.5 - ax.x_min) / (ax.x_max - ax.x_min) * pw);
    for (int y = 1; y < base; y++)
        for (int x = right; x < 70; x++) cr_assert_neq(at(&g, x, y)->kind, PLOT_KIND_LINE);
    plot_grid_free(&g);
}

Test(plot, colorbar_ticks) {
    plot_grid g;
    plot_grid_init(&g, 10, 12, PLOT_MODE_BRAILLE);
    plot_colorbar(&g, 0, 1, 11, 0, 1, "act");
    cr_assert_str_eq(at(&g, 0, 0)->glyph, "a");
    cr_assert_float_eq(at(&g, 0, 1)->value, 1.0f, 1e-6);
    cr_assert_float_eq(at(&g, 0, 11)->value, 0.0f, 1e-6);
    cr_assert_str_eq(at(&g, 3, 1)->glyph, "1");
    cr_assert_str_eq(at(&g, 3, 11)->glyph, "0");
    cr_assert_eq(at(&g, 0, 1)->color, plot_colormap_xterm256(1.0));
    plot_grid_free(&g);
}

Test(plot, hbar_and_text) {
    char buf[64];
    plot_hbar(buf, 4, 0.5, PLOT_MODE_BRAILLE);
    cr_assert_str_eq(buf, "\xe2\x96\x88\xe2\x96\x88  ");
    plot_hbar(buf, 4, 0.5, PLOT_MODE_GLYPH);
    cr_assert_str_eq(buf, "##  ");
    plot_hbar(buf, 3, 0, PLOT_MODE_BRAILLE);
    cr_assert_str_eq(buf, "   ");
    plot_grid g;
    plot_grid_init(&g, 3, 1, PLOT_MODE_BRAILLE);
    cr_assert_eq(plot_grid_text(&g, 1, 0, "H\xce\xb1x", PLOT_KIND_TEXT), 2);
    cr_assert_str_eq(at(&g, 2, 0)->glyph, "\xce\xb1");
    cr_assert_eq(plot_grid_text(&g, 0, 5, "z", PLOT_KIND_TEXT), 0);
    plot_grid_free(&g);
}
