/* tui_compare.c: the compare screen: the current run's live features (rows) against
 * another run's (columns), Pearson r over the galaxies both hold as coloured cells
 * (blue -1, white 0, red +1), related features along the diagonal, and under each column
 * the ridge R^2 of that feature from all of the current run's activations (query.h's
 * compare view, loaded when the screen opens).
 * Layer: tui. Calls: query_cross, analysis_figures, tui_app, sf_util; ncursesw.
 * Called by: tui_app.
 */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_figures.h"
#include "sf_util.h"
#include "tui_app.h"

#define CELL_W 2
#define LABEL_W 10
#define HEAD_ROWS 5 /* title, blank, three rows of column numbers */
#define INFO_W 44

/* Loads the matrix and R^2 of v's runs into a->cmp unless they are there. */
int tui_compare_load(tui_app *a, const tui_view *v) {
    int64_t ra = a->runs[v->run].id, rb = a->runs[v->other].id;
    if (a->cmp_a == ra && a->cmp_b == rb) return SF_OK;
    if (a->cmp_a) query_compare_clear(&a->cmp);
    a->cmp_a = a->cmp_b = 0;
    /* the ridge regression reads both runs' codes: say so while it runs */
    move(a->H - 1, 0);
    clrtoeol();
    char buf[160];
    snprintf(buf, sizeof buf, "comparing %s with %s: correlations, then the ridge R^2 ...",
             a->runs[v->run].prefix, a->runs[v->other].prefix);
    tui_text(a, a->H - 1, 0, -1, buf);
    refresh();
    if (query_compare_compute(a->db, ra, rb, 1, &a->cmp) != SF_OK) return SF_ERR;
    if (query_compare_ridge(a->db, &a->cmp, 1.0) != SF_OK) {
        query_compare_clear(&a->cmp);
        return SF_ERR;
    }
    a->cmp_a = ra;
    a->cmp_b = rb;
    return SF_OK;
}

void tui_open_compare(tui_app *a, int other) {
    if (other < 0) {
        if (!a->n_others) {
            tui_msg(a, "no other run of %s shares galaxies with %s", a->path,
                    tui_cur_run(a)->prefix);
            return;
        }
        other = a->others[0];
    }
    tui_view v = {.type = SCREEN_COMPARE, .run = a->cur, .other = other};
    if (tui_compare_load(a, &v) != SF_OK) {
        tui_msg(a, "compare: %s", sf_last_error());
        return;
    }
    if (tui_top(a)->type == SCREEN_COMPARE) *tui_top(a) = v;
    else tui_push(a, v);
}

/* The index into a->others of run index r, or -1. */
static int other_index(const tui_app *a, int r) {
    for (int i = 0; i < a->n_others; i++)
        if (a->others[i] == r) return i;
    return -1;
}

static void cell_colour(tui_app *a, double r) {
    double rgb[3];
    figure_diverging_color(r, rgb);
    uint32_t c = (uint32_t)lround(rgb[0] * 255) << 16 | (uint32_t)lround(rgb[1] * 255) << 8 |
                 (uint32_t)lround(rgb[2] * 255);
    tui_color_rgb(a, 0x000000, c);
}

/* Two characters standing for r without colour. */
static const char *cell_glyph(double r) {
    if (isnan(r)) return "  ";
    return r >= 0.5 ? "##" : r >= 0.2 ? "++" : r > -0.2 ? "\xc2\xb7\xc2\xb7" : "--";
}

typedef struct {
    int rows, cols; /* cells that fit */
    int info_x;     /* the details panel, or -1 below */
    int y0, x0;     /* the first cell */
} grid_fit;

static void fit(const tui_app *a, tui_rect area, grid_fit *g) {
    int w = area.cols - LABEL_W - 1;
    g->info_x = w - INFO_W >= 10 * CELL_W ? area.x + area.cols - INFO_W : -1;
    if (g->info_x >= 0) w -= INFO_W + 1;
    g->cols = w / CELL_W;
    g->rows = area.rows - HEAD_ROWS - 2 - (g->info_x < 0 ? 6 : 0);
    if (g->cols > a->cmp.n_cols) g->cols = a->cmp.n_cols;
    if (g->rows > a->cmp.n_rows) g->rows = a->cmp.n_rows;
    if (g->cols < 1) g->cols = 1;
    if (g->rows < 1) g->rows = 1;
    g->y0 = area.y + HEAD_ROWS;
    g->x0 = area.x + LABEL_W;
}

static void keep_visible(tui_view *v, const grid_fit *g) {
    if (v->sel < v->top) v->top = v->sel;
    if (v->sel >= v->top + g->rows) v->top = v->sel - g->rows + 1;
    if (v->col < v->left) v->left = v->col;
    if (v->col >= v->left + g->cols) v->left = v->col - g->cols + 1;
}

void tui_compare_draw(tui_app *a, tui_view *v, tui_rect area) {
    const query_compare *c = &a->cmp;
    if (a->cmp_a != a->runs[v->run].id || a->cmp_b != a->runs[v->other].id) {
        tui_text(a, area.y + 1, 1, -1, "the comparison is not loaded (C opens it again)");
        return;
    }
    const store_run *ra = &a->runs[v->run], *rb = &a->runs[v->other];
    char buf[512];
    snprintf(buf, sizeof buf,
             "%s (rows, %d live) against %s (columns, %d live): Pearson r over the %d galaxies "
             "both hold",
             ra->prefix, c->n_rows, rb->prefix, c->n_cols, c->n_shared);
    attron(A_BOLD);
    tui_text(a, area.y, 1, area.cols - 1, buf);
    attroff(A_BOLD);
    snprintf(buf, sizeof buf,
             "bottom row: R^2 of each %s feature from all %d of %s (ridge, alpha %g, %d training "
             "and %d validation galaxies of %s)",
             rb->prefix, c->d_a, ra->prefix, c->alpha, c->n_train, c->n_valid, rb->prefix);
    tui_text(a, area.y + 1, 1, area.cols - 1, buf);
    if (!c->n_rows || !c->n_cols) {
        tui_text(a, area.y + 3, 2, -1,
                 "no feature of either run is active on the galaxies both hold");
        return;
    }
    if (v->sel >= c->n_rows) v->sel = c->n_rows - 1;
    if (v->col >= c->n_cols) v->col = c->n_cols - 1;
    grid_fit g;
    fit(a, area, &g);
    keep_visible(v, &g);
    /* column numbers, vertically */
    for (int j = 0; j < g.cols; j++) {
        int jj = v->left + j;
        char num[8];
        snprintf(num, sizeof num, "%3d", c->cols[jj]);
        if (jj == v->col) attron(A_REVERSE);
        for (int k = 0; k < 3; k++) {
            char ch[2] = {num[k], 0};
            tui_text(a, area.y + 2 + k, g.x0 + j * CELL_W, 1, ch);
        }
        attroff(A_REVERSE);
    }
    tui_text(a, area.y + 4, 1, LABEL_W - 1, rb->prefix);
    for (int i = 0; i < g.rows; i++) {
        int ii = v->top + i, y = g.y0 + i;
        char name[STORE_PREFIX_MAX + 16];
        query_feature_name(ra, c->rows[ii], name, sizeof name);
        if (ii == v->sel) attron(A_REVERSE);
        tui_text(a, y, 1, LABEL_W - 2, name);
        attroff(A_REVERSE);
        for (int j = 0; j < g.cols; j++) {
            int jj = v->left + j;
            double r = c->r[(size_t)ii * c->n_cols + jj];
            int here = ii == v->sel && jj == v->col;
            if (a->color != TUI_COLOR_NONE && !isnan(r)) cell_colour(a, r);
            if (here) attron(A_BOLD);
            tui_text(a, y, g.x0 + j * CELL_W, CELL_W,
                     here                                     ? "<>"
                     : a->color == TUI_COLOR_NONE || isnan(r) ? cell_glyph(r)
                                                              : "  ");
            attroff(A_BOLD);
            tui_color_reset(a);
        }
    }
    /* R^2 under each column, as a bar of eighths */
    static const char *const bars[9] = {" ",
                                        "\xe2\x96\x81",
                                        "\xe2\x96\x82",
                                        "\xe2\x96\x83",
                                        "\xe2\x96\x84",
                                        "\xe2\x96\x85",
                                        "\xe2\x96\x86",
                                        "\xe2\x96\x87",
                                        "\xe2\x96\x88"};
    int ry = g.y0 + g.rows + 1;
    tui_text(a, ry, 1, LABEL_W - 1, "R^2");
    for (int j = 0; j < g.cols; j++) {
        double r2 = c->r2[v->left + j];
        if (!isfinite(r2)) continue;
        int level = (int)lround((r2 < 0 ? 0 : r2 > 1 ? 1 : r2) * 8);
        tui_color_value(a, r2 < 0 ? 0 : r2 > 1 ? 1 : r2);
        char two[16];
        snprintf(two, sizeof two, "%s%s",
                 a->plot_mode == PLOT_MODE_GLYPH ? (level >= 4 ? "#"
                                                    : level    ? "."
                                                               : "_")
                                                 : bars[level],
                 a->plot_mode == PLOT_MODE_GLYPH ? (level >= 4 ? "#"
                                                    : level    ? "."
                                                               : "_")
                                                 : bars[level]);
        tui_text(a, ry, g.x0 + j * CELL_W, CELL_W, two);
        tui_color_reset(a);
    }
    /* the cell under the cursor */
    int ix = g.info_x >= 0 ? g.info_x : 1, iy = g.info_x >= 0 ? g.y0 : ry + 2,
        iw = g.info_x >= 0 ? INFO_W : area.cols - 2;
    int ii = v->sel, jj = v->col;
    char na[STORE_PREFIX_MAX + 16], nb[STORE_PREFIX_MAX + 16];
    query_feature_name(ra, c->rows[ii], na, sizeof na);
    query_feature_name(rb, c->cols[jj], nb, sizeof nb);
    double r = c->r[(size_t)ii * c->n_cols + jj];
    int both = c->n_both[(size_t)ii * c->n_cols + jj];
    attron(A_BOLD);
    snprintf(buf, sizeof buf, "%s x %s", na, nb);
    tui_text(a, iy++, ix, iw, buf);
    attroff(A_BOLD);
    snprintf(buf, sizeof buf, "r = %+.3f", r);
    tui_text(a, iy++, ix, iw, isnan(r) ? "r undefined" : buf);
    snprintf(buf, sizeof buf, "both active on %d galaxies", both);
    tui_text(a, iy++, ix, iw, buf);
    snprintf(buf, sizeof buf, "%s active on %d (%.1f%% with %s)", na, c->n_active_a[ii],
             c->n_active_a[ii] ? 100.0 * both / c->n_active_a[ii] : 0.0, nb);
    tui_text(a, iy++, ix, iw, buf);
    snprintf(buf, sizeof buf, "%s active on %d (%.1f%% with %s)", nb, c->n_active_b[jj],
             c->n_active_b[jj] ? 100.0 * both / c->n_active_b[jj] : 0.0, na);
    tui_text(a, iy++, ix, iw, buf);
    if (isfinite(c->r2[jj]))
        snprintf(buf, sizeof buf, "R^2 of %s from %s: %.3f", nb, ra->prefix, c->r2[jj]);
    else snprintf(buf, sizeof buf, "R^2 of %s: undefined (constant)", nb);
    tui_text(a, iy++, ix, iw, buf);
    int best = c->best_row[jj];
    if (best >= 0 && g.info_x >= 0) {
        query_feature_name(ra, c->rows[best], na, sizeof na);
        snprintf(buf, sizeof buf, "best match of %s: %s (r %+.3f)", nb, na,
                 c->r[(size_t)best * c->n_cols + jj]);
        tui_text(a, iy++, ix, iw, buf);
    }
    if (g.info_x >= 0) {
        iy++;
        tui_text(a, iy++, ix, iw, "Enter: the row's feature");
        snprintf(buf, sizeof buf, "x: %s in run %s", nb, rb->prefix);
        tui_text(a, iy++, ix, iw, buf);
        tui_text(a, iy++, ix, iw,
                 a->n_others > 1 ? "o: another run   w: swap" : "w: swap the runs");
    }
}

static void export_png(tui_app *a, const tui_view *v) {
    const query_compare *c = &a->cmp;
    const store_run *ra = &a->runs[v->run], *rb = &a->runs[v->other];
    if (!c->n_rows || !c->n_cols) {
        tui_msg(a, "nothing to export");
        return;
    }
    char path[64], title[256], r2_label[160];
    snprintf(path, sizeof path, "compare_%s_%s.png", ra->prefix, rb->prefix);
    char(*names)[STORE_PREFIX_MAX + 16] = xmalloc((size_t)(c->n_rows + c->n_cols) * sizeof *names);
    const char **labels = xmalloc((size_t)(c->n_rows + c->n_cols) * sizeof *labels);
    for (int i = 0; i < c->n_rows; i++)
        query_feature_name(ra, c->rows[i], names[i], sizeof names[i]);
    for (int j = 0; j < c->n_cols; j++)
        query_feature_name(rb, c->cols[j], names[c->n_rows + j], sizeof names[0]);
    for (int i = 0; i < c->n_rows + c->n_cols; i++) labels[i] = names[i];
    snprintf(title, sizeof title, "%s (rows) against %s (columns): Pearson r over %d galaxies",
             ra->prefix, rb->prefix, c->n_shared);
    snprintf(r2_label, sizeof r2_label,
             "R^2 of each %s feature from all %d of %s (ridge, alpha %g)", rb->prefix, c->d_a,
             ra->prefix, c->alpha);
    if (figure_compare(path, c->r, c->n_rows, c->n_cols, labels, labels + c->n_rows, c->r2,
                       r2_label, title) == SF_OK)
        tui_msg(a, "wrote %s", path);
    else tui_msg(a, "export failed: %s", sf_last_error());
    free(names);
    free(labels);
}

int tui_compare_key(tui_app *a, tui_view *v, int ch, tui_rect area) {
    const query_compare *c = &a->cmp;
    if (a->cmp_a != a->runs[v->run].id || a->cmp_b != a->runs[v->other].id) return 0;
    grid_fit g;
    fit(a, area, &g);
    switch (ch) {
    case 'j':
    case KEY_DOWN:
        if (v->sel + 1 < c->n_rows) v->sel++;
        return 1;
    case 'k':
    case KEY_UP:
        if (v->sel > 0) v->sel--;
        return 1;
    case 'l':
    case KEY_RIGHT:
        if (v->col + 1 < c->n_cols) v->col++;
        return 1;
    case 'h':
    case KEY_LEFT:
        if (v->col > 0) v->col--;
        return 1;
    case KEY_NPAGE:
    case 4: v->sel = v->sel + g.rows < c->n_rows ? v->sel + g.rows : c->n_rows - 1; return 1;
    case KEY_PPAGE:
    case 21: v->sel = v->sel > g.rows ? v->sel - g.rows : 0; return 1;
    case 'g':
    case KEY_HOME: v->sel = v->col = 0; return 1;
    case 'G':
    case KEY_END:
        v->sel = c->n_rows - 1;
        v->col = c->n_cols - 1;
        return 1;
    case '\n':
    case KEY_ENTER:
        if (c->n_rows) tui_open_feature(a, c->rows[v->sel]);
        return 1;
    case 'x':
        if (c->n_cols) tui_open_in_run(a, v->other, c->cols[v->col]);
        return 1;
    case 'o': {
        if (a->n_others < 2) {
            tui_msg(a, "%s shares galaxies with %s only", tui_cur_run(a)->prefix,
                    a->runs[v->other].prefix);
            return 1;
        }
        int i = other_index(a, v->other);
        tui_open_compare(a, a->others[(i + 1) % a->n_others]);
        return 1;
    }
    case 'w': {
        /* the other run becomes the current one; q still comes back to the page below */
        int back = v->run;
        if (tui_load_run(a, v->other) != SF_OK) {
            tui_msg(a, "%s", sf_last_error());
            return 1;
        }
        tui_open_compare(a, back);
        return 1;
    }
    case 'e': export_png(a, v); return 1;
    }
    return 0;
}
