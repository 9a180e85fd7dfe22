/* analysis_figures.c: heat map, scatter and line plots as PNG through cairo.
 * Layer: analysis. Calls: sf_util; cairo.
 * Called by: analysis_run.
 */
#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_figures.h"
#include "sf_output.h"
#include "sf_util.h"

#define FONT "DejaVu Sans"

void figure_activation_color(double v, double rgb[3]) {
    if (!(v >= 0)) v = 0;
    if (v > 1) v = 1;
    /* black (0) -> dark magenta (0.5) -> bright yellow (1) */
    static const double stops[3][3] = {{0.0, 0.0, 0.0}, {0.55, 0.05, 0.55}, {1.0, 0.95, 0.2}};
    int i = v < 0.5 ? 0 : 1;
    double t = v < 0.5 ? v / 0.5 : (v - 0.5) / 0.5;
    for (int c = 0; c < 3; c++) rgb[c] = stops[i][c] + t * (stops[i + 1][c] - stops[i][c]);
}

void figure_diverging_color(double r, double rgb[3]) {
    if (!isfinite(r)) {
        rgb[0] = rgb[1] = rgb[2] = 0.75;
        return;
    }
    if (r > 1) r = 1;
    if (r < -1) r = -1;
    static const double blue[3] = {0.13, 0.30, 0.75}, red[3] = {0.75, 0.10, 0.12};
    const double *end = r < 0 ? blue : red;
    double t = fabs(r);
    for (int c = 0; c < 3; c++) rgb[c] = 1.0 + t * (end[c] - 1.0);
}

static cairo_t *begin(cairo_surface_t **surf, int w, int h) {
    *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(*surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 13);
    cairo_set_source_rgb(cr, 0, 0, 0);
    return cr;
}

static int finish(cairo_t *cr, cairo_surface_t *surf, const char *path) {
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_flush(surf);
    int rc = st == CAIRO_STATUS_SUCCESS
                 ? sf_output_png(surf, path)
                 : sf_fail("%s: cannot draw the figure: %s", path, cairo_status_to_string(st));
    cairo_surface_destroy(surf);
    return rc;
}

/* Text anchored at (x, y): ax 0 left, 0.5 centre, 1 right; vertical centre on y. */
static void text_at(cairo_t *cr, double x, double y, double ax, const char *s) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - ax * e.x_advance, y + e.height / 2 - (e.height + e.y_bearing));
    cairo_show_text(cr, s);
}

static void title_at(cairo_t *cr, double w, const char *title) {
    if (!title) return;
    cairo_save(cr);
    cairo_set_font_size(cr, 16);
    text_at(cr, w / 2, 18, 0.5, title);
    cairo_restore(cr);
}

int figure_heatmap(const char *path, const double *m, int d, const char *const *labels,
                   const char *title) {
    SF_ASSERT(d >= 1);
    int cell = d <= 12 ? 48 : d <= 30 ? 24 : 12;
    int left = 90, top = 90, bar = 70;
    int w = left + d * cell + bar + 20, h = top + d * cell + 30;
    if (w < 360) w = 360;
    cairo_surface_t *surf;
    cairo_t *cr = begin(&surf, w, h);
    title_at(cr, w, title);
    cairo_set_font_size(cr, cell >= 24 ? 11 : 8);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double rgb[3], r = m[(size_t)i * (size_t)d + (size_t)j];
            figure_diverging_color(r, rgb);
            cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
            cairo_rectangle(cr, left + j * cell, top + i * cell, cell, cell);
            cairo_fill(cr);
            if (cell >= 48 && isfinite(r)) {
                char num[16];
                snprintf(num, sizeof num, "%.2f", r);
                cairo_set_source_rgb(cr, fabs(r) > 0.6 ? 1 : 0, fabs(r) > 0.6 ? 1 : 0,
                                     fabs(r) > 0.6 ? 1 : 0);
                text_at(cr, left + j * cell + cell / 2.0, top + i * cell + cell / 2.0, 0.5, num);
            }
        }
    cairo_set_source_rgb(cr, 0, 0, 0);
    for (int i = 0; i < d; i++) {
        const char *lab = labels ? labels[i] : "";
        text_at(cr, left - 6, top + i * cell + cell / 2.0, 1.0, lab);
        cairo_save(cr);
        cairo_translate(cr, left + i * cell + cell / 2.0, top - 6);
        cairo_rotate(cr, -M_PI / 2);
        text_at(cr, 0, 0, 0.0, lab);
        cairo_restore(cr);
    }
    /* Colour bar -1 .. 1 */
    int bx = left + d * cell + 20, bh = d * cell < 120 ? 120 : d * cell;
    for (int p = 0; p < bh; p++) {
        double rgb[3];
        figure_diverging_color(1.0 - 2.0 * p / (bh - 1), rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_rectangle(cr, bx, top + p, 14, 1);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_font_size(cr, 10);
    text_at(cr, bx + 18, top, 0, "+1");
    text_at(cr, bx + 18, top + bh / 2.0, 0, "0");
    text_at(cr, bx + 18, top + bh, 0, "-1");
    return finish(cr, surf, path);
}

int figure_compare(const char *path, const double *m, int n_rows, int n_cols,
                   const char *const *row_labels, const char *const *col_labels, const double *r2,
                   const char *r2_label, const char *title) {
    SF_ASSERT(n_rows >= 1 && n_cols >= 1);
    int most = n_rows > n_cols ? n_rows : n_cols;
    int cell = most <= 12 ? 44 : most <= 30 ? 24 : most <= 80 ? 12 : 8;
    int left = 90, top = 90, bar = 70, r2_h = r2 ? 90 : 0;
    int body = n_rows * cell + r2_h < 120 ? 120 : n_rows * cell + r2_h;
    int w = left + n_cols * cell + bar + 20, h = top + body + 40;
    if (w < 420) w = 420;
    /* wide enough for the title and the R^2 caption */
    {
        cairo_surface_t *probe = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
        cairo_t *pc = cairo_create(probe);
        cairo_select_font_face(pc, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
        cairo_text_extents_t e;
        cairo_set_font_size(pc, 16);
        cairo_text_extents(pc, title ? title : "", &e);
        if (w < e.x_advance + 40) w = (int)ceil(e.x_advance + 40);
        cairo_set_font_size(pc, 10);
        cairo_text_extents(pc, r2_label ? r2_label : "", &e);
        if (w < left + e.x_advance + 20) w = (int)ceil(left + e.x_advance + 20);
        cairo_destroy(pc);
        cairo_surface_destroy(probe);
    }
    cairo_surface_t *surf;
    cairo_t *cr = begin(&surf, w, h);
    title_at(cr, w, title);
    cairo_set_font_size(cr, cell >= 24 ? 11 : 8);
    for (int i = 0; i < n_rows; i++)
        for (int j = 0; j < n_cols; j++) {
            double rgb[3], r = m[(size_t)i * n_cols + j];
            figure_diverging_color(r, rgb);
            cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
            cairo_rectangle(cr, left + j * cell, top + i * cell, cell, cell);
            cairo_fill(cr);
            if (cell >= 44 && isfinite(r)) {
                char num[16];
                snprintf(num, sizeof num, "%.2f", r);
                double ink = fabs(r) > 0.6 ? 1 : 0;
                cairo_set_source_rgb(cr, ink, ink, ink);
                text_at(cr, left + j * cell + cell / 2.0, top + i * cell + cell / 2.0, 0.5, num);
            }
        }
    cairo_set_source_rgb(cr, 0, 0, 0);
    if (cell >= 8) {
        for (int i = 0; i < n_rows; i++)
            text_at(cr, left - 6, top + i * cell + cell / 2.0, 1.0,
                    row_labels ? row_labels[i] : "");
        for (int j = 0; j < n_cols; j++) {
            cairo_save(cr);
            cairo_translate(cr, left + j * cell + cell / 2.0, top - 6);
            cairo_rotate(cr, -M_PI / 2);
            text_at(cr, 0, 0, 0.0, col_labels ? col_labels[j] : "");
            cairo_restore(cr);
        }
    }
    if (r2) {
        /* one bar per column, 0 .. 1 upwards from the baseline */
        double base = top + n_rows * cell + 10 + (r2_h - 20);
        cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
        cairo_set_line_width(cr, 1);
        cairo_move_to(cr, left, base + 0.5);
        cairo_line_to(cr, left + n_cols * cell, base + 0.5);
        cairo_stroke(cr);
        for (int j = 0; j < n_cols; j++) {
            if (!isfinite(r2[j])) continue;
            double v = r2[j] < 0 ? 0 : r2[j] > 1 ? 1 : r2[j];
            cairo_set_source_rgb(cr, 0.25, 0.45, 0.70);
            cairo_rectangle(cr, left + j * cell + 1, base - v * (r2_h - 24),
                            cell - 2 > 1 ? cell - 2 : 1, v * (r2_h - 24));
            cairo_fill(cr);
        }
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_set_font_size(cr, 10);
        text_at(cr, left - 6, base - (r2_h - 24), 1.0, "1");
        text_at(cr, left - 6, base, 1.0, "0");
        if (r2_label) text_at(cr, left, base + 12, 0.0, r2_label);
    }
    /* Colour bar -1 .. 1 */
    int bx = left + n_cols * cell + 20, bh = n_rows * cell < 120 ? 120 : n_rows * cell;
    for (int p = 0; p < bh; p++) {
        double rgb[3];
        figure_diverging_color(1.0 - 2.0 * p / (bh - 1), rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_rectangle(cr, bx, top + p, 14, 1);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_font_size(cr, 10);
    text_at(cr, bx + 18, top, 0, "+1");
    text_at(cr, bx + 18, top + bh / 2.0, 0, "0");
    text_at(cr, bx + 18, top + bh, 0, "-1");
    return finish(cr, surf, path);
}

/* A nice tick step for the range. */
static double tick_step(double lo, double hi) {
    double span = hi - lo;
    if (!(span > 0)) return 1;
    double raw = span / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

typedef struct {
    double x0, y0, w, h;           /* plot area in pixels */
    double xmin, xmax, ymin, ymax; /* data limits */
} frame;

static double px(const frame *f, double x) {
    return f->x0 + (x - f->xmin) / (f->xmax - f->xmin) * f->w;
}
static double py(const frame *f, double y) {
    return f->y0 + f->h - (y - f->ymin) / (f->ymax - f->ymin) * f->h;
}

static void pad_limits(double *lo, double *hi) {
    if (!(*hi > *lo)) {
        *lo -= 0.5;
        *hi += 0.5;
        return;
    }
    double p = 0.05 * (*hi - *lo);
    *lo -= p;
    *hi += p;
}

static void draw_axes(cairo_t *cr, const frame *f, const char *x_label, const char *y_label) {
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, f->x0, f->y0, f->w, f->h);
    cairo_stroke(cr);
    cairo_set_font_size(cr, 11);
    double sx = tick_step(f->xmin, f->xmax), sy = tick_step(f->ymin, f->ymax);
    char num[32];
    for (double t = ceil(f->xmin / sx) * sx; t <= f->xmax + 1e-9 * sx; t += sx) {
        double x = px(f, t);
        cairo_move_to(cr, x, f->y0 + f->h);
        cairo_line_to(cr, x, f->y0 + f->h + 4);
        cairo_stroke(cr);
        snprintf(num, sizeof num, "%g", fabs(t) < 1e-12 * sx ? 0.0 : t);
        text_at(cr, x, f->y0 + f->h + 14, 0.5, num);
    }
    for (double t = ceil(f->ymin / sy) * sy; t <= f->ymax + 1e-9 * sy; t += sy) {
        double y = py(f, t);
        cairo_move_to(cr, f->x0 - 4, y);
        cairo_line_to(cr, f->x0, y);
        cairo_stroke(cr);
        snprintf(num, sizeof num, "%g", fabs(t) < 1e-12 * sy ? 0.0 : t);
        text_at(cr, f->x0 - 6, y, 1.0, num);
    }
    cairo_set_font_size(cr, 13);
    if (x_label) text_at(cr, f->x0 + f->w / 2, f->y0 + f->h + 34, 0.5, x_label);
    if (y_label) {
        cairo_save(cr);
        cairo_translate(cr, f->x0 - 52, f->y0 + f->h / 2);
        cairo_rotate(cr, -M_PI / 2);
        text_at(cr, 0, 0, 0.5, y_label);
        cairo_restore(cr);
    }
}

typedef struct {
    double c;
    int i;
} by_color;

static int cmp_color(const void *a, const void *b) {
    const by_color *x = a, *y = b;
    if (x->c != y->c) return x->c < y->c ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

int figure_scatter(const char *path, const double *x, const double *y, const double *color, int n,
                   const char *x_label, const char *y_label, const char *title, int diagonal) {
    int w = 560, h = 480;
    frame f = {80, 40, 440, 380, INFINITY, -INFINITY, INFINITY, -INFINITY};
    int n_ok = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) continue;
        n_ok++;
        f.xmin = fmin(f.xmin, x[i]), f.xmax = fmax(f.xmax, x[i]);
        f.ymin = fmin(f.ymin, y[i]), f.ymax = fmax(f.ymax, y[i]);
    }
    if (n_ok == 0) return sf_fail("%s: no finite points to plot", path);
    if (diagonal) {
        f.xmin = f.ymin = fmin(f.xmin, f.ymin);
        f.xmax = f.ymax = fmax(f.xmax, f.ymax);
    }
    pad_limits(&f.xmin, &f.xmax);
    pad_limits(&f.ymin, &f.ymax);
    if (color) f.w -= 50;
    cairo_surface_t *surf;
    cairo_t *cr = begin(&surf, w, h);
    title_at(cr, w, title);
    /* Strongest drawn last, so the rare high activations stay visible. */
    by_color *order = xmalloc(sizeof(by_color) * (size_t)(n > 0 ? n : 1));
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) order[m++] = (by_color){color ? color[i] : 0, i};
    if (color) qsort(order, (size_t)m, sizeof(by_color), cmp_color);
    double r = n_ok > 2000 ? 1.5 : 2.5;
    cairo_save(cr);
    cairo_rectangle(cr, f.x0, f.y0, f.w, f.h);
    cairo_clip(cr);
    for (int t = 0; t < m; t++) {
        int i = order[t].i;
        double rgb[3] = {0.12, 0.25, 0.55};
        if (color) figure_activation_color(color[i], rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_arc(cr, px(&f, x[i]), py(&f, y[i]), r, 0, 2 * M_PI);
        cairo_fill(cr);
    }
    if (diagonal) {
        cairo_set_source_rgb(cr, 0.8, 0.1, 0.1);
        cairo_set_line_width(cr, 1.2);
        cairo_move_to(cr, px(&f, f.xmin), py(&f, f.xmin));
        cairo_line_to(cr, px(&f, f.xmax), py(&f, f.xmax));
        cairo_stroke(cr);
    }
    cairo_restore(cr);
    free(order);
    draw_axes(cr, &f, x_label, y_label);
    if (color) {
        double bx = f.x0 + f.w + 20;
        for (int p = 0; p < (int)f.h; p++) {
            double rgb[3];
            figure_activation_color(1.0 - p / (f.h - 1), rgb);
            cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
            cairo_rectangle(cr, bx, f.y0 + p, 12, 1);
            cairo_fill(cr);
        }
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_set_font_size(cr, 10);
        text_at(cr, bx + 14, f.y0, 0, "1");
        text_at(cr, bx + 14, f.y0 + f.h, 0, "0");
    }
    return finish(cr, surf, path);
}

int figure_lines(const char *path, const figure_series *series, int n_series, const char *x_label,
                 const char *y_label, const char *title) {
    static const double palette[4][3] = {
        {0.80, 0.20, 0.45}, {0.15, 0.35, 0.65}, {0.95, 0.55, 0.10}, {0.20, 0.55, 0.30}};
    int w = 560, h = 440;
    frame f = {80, 40, 450, 330, INFINITY, -INFINITY, INFINITY, -INFINITY};
    for (int s = 0; s < n_series; s++)
        for (int i = 0; i < series[s].n; i++) {
            double x = series[s].x[i], y = series[s].y[i];
            double e = series[s].err && isfinite(series[s].err[i]) ? series[s].err[i] : 0;
            if (!isfinite(x) || !isfinite(y)) continue;
            f.xmin = fmin(f.xmin, x), f.xmax = fmax(f.xmax, x);
            f.ymin = fmin(f.ymin, y - e), f.ymax = fmax(f.ymax, y + e);
        }
    if (!isfinite(f.xmin)) return sf_fail("%s: no finite points to plot", path);
    pad_limits(&f.xmin, &f.xmax);
    pad_limits(&f.ymin, &f.ymax);
    cairo_surface_t *surf;
    cairo_t *cr = begin(&surf, w, h);
    title_at(cr, w, title);
    /* The legend sits in the top right corner, as wide as its longest name. */
    double legend_w = 0;
    cairo_set_font_size(cr, 12);
    for (int s = 0; s < n_series; s++) {
        cairo_text_extents_t e;
        cairo_text_extents(cr, series[s].name ? series[s].name : "", &e);
        if (e.x_advance > legend_w) legend_w = e.x_advance;
    }
    for (int s = 0; s < n_series; s++) {
        const figure_series *se = &series[s];
        const double *c = palette[s % 4];
        cairo_set_source_rgb(cr, c[0], c[1], c[2]);
        cairo_set_line_width(cr, 2);
        int started = 0;
        for (int i = 0; i < se->n; i++) {
            if (!isfinite(se->x[i]) || !isfinite(se->y[i])) continue;
            if (started) cairo_line_to(cr, px(&f, se->x[i]), py(&f, se->y[i]));
            else cairo_move_to(cr, px(&f, se->x[i]), py(&f, se->y[i]));
            started = 1;
        }
        cairo_stroke(cr);
        cairo_set_line_width(cr, 1.2);
        for (int i = 0; i < se->n; i++) {
            if (!isfinite(se->x[i]) || !isfinite(se->y[i])) continue;
            double X = px(&f, se->x[i]), Y = py(&f, se->y[i]);
            cairo_arc(cr, X, Y, 4, 0, 2 * M_PI);
            cairo_fill(cr);
            double e = se->err && isfinite(se->err[i]) ? se->err[i] : 0;
            if (e > 0) {
                double y0 = py(&f, se->y[i] - e), y1 = py(&f, se->y[i] + e);
                cairo_move_to(cr, X, y0), cairo_line_to(cr, X, y1);
                cairo_move_to(cr, X - 4, y0), cairo_line_to(cr, X + 4, y0);
                cairo_move_to(cr, X - 4, y1), cairo_line_to(cr, X + 4, y1);
                cairo_stroke(cr);
            }
        }
        /* legend, top right */
        double lx = f.x0 + f.w - legend_w - 42, ly = f.y0 + 16 + 18 * s;
        cairo_move_to(cr, lx, ly), cairo_line_to(cr, lx + 24, ly);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_set_font_size(cr, 12);
        text_at(cr, lx + 30, ly, 0, se->name ? se->name : "");
    }
    draw_axes(cr, &f, x_label, y_label);
    return finish(cr, surf, path);
}

int figure_curves(const char *path, const figure_curve *curves, int n_curves,
                  const char *const *group_names, int n_groups, const char *x_label,
                  const char *y_label, const char *title, const char *note) {
    static const double palette[4][3] = {
        {0.15, 0.35, 0.65}, {0.85, 0.40, 0.10}, {0.20, 0.55, 0.30}, {0.80, 0.20, 0.45}};
    int w = 720, h = 500;
    frame f = {80, 40, 610, 380, INFINITY, -INFINITY, INFINITY, -INFINITY};
    for (int c = 0; c < n_curves; c++)
        for (int i = 0; i < curves[c].n; i++) {
            double x = curves[c].x[i], y = curves[c].y[i];
            if (!isfinite(x) || !isfinite(y)) continue;
            f.xmin = fmin(f.xmin, x), f.xmax = fmax(f.xmax, x);
            f.ymin = fmin(f.ymin, y), f.ymax = fmax(f.ymax, y);
        }
    if (!isfinite(f.xmin)) return sf_fail("%s: no finite points to plot", path);
    pad_limits(&f.xmin, &f.xmax);
    pad_limits(&f.ymin, &f.ymax);
    cairo_surface_t *surf;
    cairo_t *cr = begin(&surf, w, h);
    title_at(cr, w, title);
    cairo_save(cr);
    cairo_rectangle(cr, f.x0, f.y0, f.w, f.h);
    cairo_clip(cr);
    for (int c = 0; c < n_curves; c++) {
        const figure_curve *cv = &curves[c];
        const double *col = palette[cv->group % 4];
        cairo_set_source_rgba(cr, col[0], col[1], col[2], 0.8);
        cairo_set_line_width(cr, 1.4);
        static const double dash[2] = {5, 4};
        cairo_set_dash(cr, dash, cv->dashed ? 2 : 0, 0);
        int started = 0;
        for (int i = 0; i < cv->n; i++) {
            if (!isfinite(cv->x[i]) || !isfinite(cv->y[i])) continue;
            if (started) cairo_line_to(cr, px(&f, cv->x[i]), py(&f, cv->y[i]));
            else cairo_move_to(cr, px(&f, cv->x[i]), py(&f, cv->y[i]));
            started = 1;
        }
        cairo_stroke(cr);
    }
    cairo_restore(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_set_font_size(cr, 12);
    for (int g = 0; g < n_groups; g++) {
        const double *col = palette[g % 4];
        double lx = f.x0 + f.w - 230, ly = f.y0 + 16 + 18 * g;
        cairo_set_source_rgb(cr, col[0], col[1], col[2]);
        cairo_set_line_width(cr, 2);
        cairo_move_to(cr, lx, ly), cairo_line_to(cr, lx + 24, ly);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, lx + 30, ly, 0, group_names[g] ? group_names[g] : "");
    }
    if (note) {
        cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
        cairo_set_font_size(cr, 11);
        text_at(cr, f.x0, h - 12, 0, note);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    draw_axes(cr, &f, x_label, y_label);
    return finish(cr, surf, path);
}
