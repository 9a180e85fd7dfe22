/* plot.c: braille and glyph plots into a grid of cells (see plot.h).
 * Layer: library. Calls: sf_util.
 * Called by: export, query_view, tui_* (4).
 */
#include "plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_util.h"

const plot_hyperbola plot_kauffmann2003 = {0.61, 0.05, 1.3, 0.05, "Kauffmann+03"};
const plot_hyperbola plot_kewley2001 = {0.61, 0.47, 1.19, 0.47, "Kewley+01"};

/* Terminal colours start a little above black so that a weak point still shows
 * on a dark background; the order of colours is the colormap's. */
#define PLOT_TERM_FLOOR 0.15

void plot_grid_init(plot_grid *g, int w, int h, int mode) {
    SF_ASSERT(w >= 0 && h >= 0);
    g->w = w;
    g->h = h;
    g->mode = mode;
    g->cells = xcalloc((size_t)(w > 0 ? w : 1) * (size_t)(h > 0 ? h : 1), sizeof(plot_cell));
    plot_grid_clear(g);
}

void plot_grid_free(plot_grid *g) {
    free(g->cells);
    g->cells = NULL;
    g->w = g->h = 0;
}

void plot_grid_clear(plot_grid *g) {
    for (int i = 0; i < g->w * g->h; i++) {
        plot_cell *c = &g->cells[i];
        strcpy(c->glyph, " ");
        c->value = -1;
        c->color = PLOT_COLOR_DEFAULT;
        c->kind = PLOT_KIND_EMPTY;
    }
}

static plot_cell *cell_at(plot_grid *g, int x, int y) {
    if (x < 0 || y < 0 || x >= g->w || y >= g->h) return NULL;
    return &g->cells[y * g->w + x];
}

static int term_color(double v) {
    if (v < 0) return PLOT_COLOR_DEFAULT;
    return plot_colormap_xterm256(PLOT_TERM_FLOOR + (1 - PLOT_TERM_FLOOR) * v);
}

static void set_cell(plot_grid *g, int x, int y, const char *glyph, double value, int kind) {
    plot_cell *c = cell_at(g, x, y);
    if (!c) return;
    snprintf(c->glyph, sizeof c->glyph, "%s", glyph);
    c->value = (float)value;
    c->color = (int16_t)term_color(value);
    c->kind = (uint8_t)kind;
}

static int utf8_len(unsigned char b) {
    if (b < 0x80) return 1;
    if ((b & 0xE0) == 0xC0) return 2;
    if ((b & 0xF0) == 0xE0) return 3;
    if ((b & 0xF8) == 0xF0) return 4;
    return 1;
}

int plot_grid_text(plot_grid *g, int x, int y, const char *utf8, int kind) {
    int written = 0;
    for (const char *p = utf8; *p; x++) {
        int len = utf8_len((unsigned char)*p);
        char ch[8] = {0};
        for (int i = 0; i < len && p[i]; i++) ch[i] = p[i];
        p += strlen(ch);
        plot_cell *c = cell_at(g, x, y);
        if (!c) continue;
        memcpy(c->glyph, ch, sizeof ch);
        c->value = -1;
        c->color = PLOT_COLOR_DEFAULT;
        c->kind = (uint8_t)kind;
        written++;
    }
    return written;
}

char *plot_grid_string(const plot_grid *g) {
    size_t cap = (size_t)g->w * g->h * 4 + g->h + 1, n = 0;
    char *s = xmalloc(cap);
    for (int y = 0; y < g->h; y++) {
        size_t row_start = n, row_end = n;
        for (int x = 0; x < g->w; x++) {
            const char *gl = g->cells[y * g->w + x].glyph;
            size_t len = strlen(gl);
            memcpy(s + n, gl, len);
            n += len;
            if (strcmp(gl, " ")) row_end = n;
        }
        (void)row_start;
        n = row_end;
        s[n++] = '\n';
    }
    s[n] = 0;
    return s;
}

/* ---- colours ---- */

void plot_colormap(double v, uint8_t *r, uint8_t *g, uint8_t *b) {
    /* black -> deep purple -> magenta -> orange -> yellow */
    static const double stop[5] = {0.0, 0.3, 0.55, 0.8, 1.0};
    static const uint8_t rgb[5][3] = {
        {0, 0, 0}, {110, 0, 140}, {220, 30, 190}, {255, 130, 80}, {255, 240, 60}};
    if (!(v > 0)) v = 0;
    if (v > 1) v = 1;
    int i = 0;
    while (i < 3 && v > stop[i + 1]) i++;
    double t = (v - stop[i]) / (stop[i + 1] - stop[i]);
    *r = (uint8_t)lround(rgb[i][0] + t * (rgb[i + 1][0] - rgb[i][0]));
    *g = (uint8_t)lround(rgb[i][1] + t * (rgb[i + 1][1] - rgb[i][1]));
    *b = (uint8_t)lround(rgb[i][2] + t * (rgb[i + 1][2] - rgb[i][2]));
}

uint32_t plot_colormap_rgb(double v) {
    uint8_t r, g, b;
    plot_colormap(v, &r, &g, &b);
    return (uint32_t)r << 16 | (uint32_t)g << 8 | b;
}

static const int cube_level[6] = {0, 95, 135, 175, 215, 255};

static int nearest_level(int c) {
    int best = 0;
    for (int i = 1; i < 6; i++)
        if (abs(cube_level[i] - c) < abs(cube_level[best] - c)) best = i;
    return best;
}

int plot_xterm256(uint8_t r, uint8_t g, uint8_t b) {
    int ri = nearest_level(r), gi = nearest_level(g), bi = nearest_level(b);
    int dr = cube_level[ri] - r, dg = cube_level[gi] - g, db = cube_level[bi] - b;
    long d_cube = (long)dr * dr + (long)dg * dg + (long)db * db;
    int avg = (r + g + b) / 3;
    int gi_grey = (avg - 8 + 5) / 10;
    if (gi_grey < 0) gi_grey = 0;
    if (gi_grey > 23) gi_grey = 23;
    int grey = 8 + 10 * gi_grey;
    long d_grey = (long)(grey - r) * (grey - r) + (long)(grey - g) * (grey - g) +
                  (long)(grey - b) * (grey - b);
    if (d_grey < d_cube) return 232 + gi_grey;
    return 16 + 36 * ri + 6 * gi + bi;
}

int plot_colormap_xterm256(double v) {
    uint8_t r, g, b;
    plot_colormap(v, &r, &g, &b);
    return plot_xterm256(r, g, b);
}

int plot_colormap_ansi8(double v) {
    if (v < 0.25) return 4; /* blue: dark end, still visible on black */
    if (v < 0.5) return 5;  /* magenta */
    if (v < 0.75) return 1; /* red */
    return 3;               /* yellow */
}

const char *plot_value_glyph(double v) {
    if (v < 0.25) return "\xc2\xb7"; /* · */
    if (v < 0.5) return ":";
    if (v < 0.75) return "*";
    return "#";
}

/* ---- numbers ---- */

int plot_ticks(double lo, double hi, int max_ticks, double *ticks) {
    if (!(hi > lo) || max_ticks < 1) {
        if (max_ticks >= 1) {
            ticks[0] = lo;
            return 1;
        }
        return 0;
    }
    double range = hi - lo;
    double mag = pow(10, floor(log10(range / max_ticks)));
    static const double nice[4] = {1, 2, 5, 10};
    for (int k = 0;; k++) {
        double step = nice[k % 4] * mag * pow(10, k / 4);
        double first = ceil(lo / step - 1e-9) * step;
        int count = (int)floor((hi - first) / step + 1e-9) + 1;
        if (count > max_ticks) continue;
        for (int i = 0; i < count; i++) {
            double t = first + i * step;
            ticks[i] = fabs(t) < step * 1e-9 ? 0 : t;
        }
        return count;
    }
}

void plot_format_number(char *buf, int n, double v) {
    if (v == 0) {
        snprintf(buf, n, "0");
        return;
    }
    double a = fabs(v);
    if (a >= 1e5 || a < 1e-3) {
        snprintf(buf, n, "%.1e", v);
        return;
    }
    if (fabs(v - round(v)) < 1e-9 * (a > 1 ? a : 1)) {
        snprintf(buf, n, "%.0f", v);
        return;
    }
    snprintf(buf, n, a >= 100 ? "%.1f" : "%.3f", v);
    char *dot = strchr(buf, '.');
    if (dot) {
        char *e = buf + strlen(buf) - 1;
        while (e > dot && *e == '0') *e-- = 0;
        if (e == dot) *e = 0;
    }
}

/* ---- braille canvas ---- */

typedef struct {
    int w, h;    /* cells */
    uint8_t *pt; /* (h, w) dot bits of data points */
    uint8_t *ln; /* (h, w) dot bits of lines */
    float *val;  /* (h, w) strongest value, -1 none */
} dots;

static void dots_init(dots *d, int w, int h) {
    d->w = w;
    d->h = h;
    d->pt = xcalloc((size_t)w * h + 1, 1);
    d->ln = xcalloc((size_t)w * h + 1, 1);
    d->val = xmalloc(((size_t)w * h + 1) * sizeof(float));
    for (int i = 0; i < w * h; i++) d->val[i] = -1;
}

static void dots_free(dots *d) {
    free(d->pt);
    free(d->ln);
    free(d->val);
}

/* Braille bit of the dot (dx in 0..1, dy in 0..3) inside a cell. */
static uint8_t braille_bit(int dx, int dy) {
    static const uint8_t bits[4][2] = {{0x01, 0x08}, {0x02, 0x10}, {0x04, 0x20}, {0x40, 0x80}};
    return bits[dy][dx];
}

static void dots_set(dots *d, int px, int py, int line, double value) {
    if (px < 0 || py < 0 || px >= d->w * 2 || py >= d->h * 4) return;
    int i = (py / 4) * d->w + px / 2;
    uint8_t bit = braille_bit(px % 2, py % 4);
    if (line) {
        d->ln[i] |= bit;
    } else {
        d->pt[i] |= bit;
        if (value > d->val[i]) d->val[i] = (float)value;
    }
}

static void braille_utf8(char *out, uint8_t bits) {
    unsigned cp = 0x2800u + bits;
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    out[3] = 0;
}

static void dots_render(plot_grid *g, const dots *d, int x0, int y0) {
    for (int y = 0; y < d->h; y++)
        for (int x = 0; x < d->w; x++) {
            int i = y * d->w + x;
            uint8_t bits = d->pt[i] | d->ln[i];
            if (!bits) continue;
            char glyph[8];
            int kind = d->pt[i] ? PLOT_KIND_POINT : PLOT_KIND_LINE;
            double v = d->pt[i] ? d->val[i] : -1;
            if (g->mode == PLOT_MODE_GLYPH) {
                if (d->pt[i])
                    snprintf(glyph, sizeof glyph, "%s", v >= 0 ? plot_value_glyph(v) : "o");
                else strcpy(glyph, "+");
            } else {
                braille_utf8(glyph, bits);
            }
            set_cell(g, x0 + x, y0 + y, glyph, v, kind);
        }
}

static void draw_curve(dots *d, const plot_axes *ax, const plot_hyperbola *c) {
    int dw = d->w * 2, dh = d->h * 4;
    double prev = NAN;
    for (int i = 0; i < dw; i++) {
        double x = ax->x_min + (i + 0.5) / dw * (ax->x_max - ax->x_min);
        if (x >= c->x_max) break;
        double y = c->a / (x - c->c) + c->d;
        double py = (ax->y_max - y) / (ax->y_max - ax->y_min) * dh;
        double a = isnan(prev) ? py : (prev < py ? prev : py);
        double b = isnan(prev) ? py : (prev < py ? py : prev);
        /* Fill the column between the previous dot and this one so that steep
         * parts stay connected; clip to the plot. */
        if (b >= 0 && a < dh) {
            int ia = a < 0 ? 0 : (int)floor(a), ib = b >= dh ? dh - 1 : (int)floor(b);
            for (int j = ia; j <= ib; j++) dots_set(d, i, j, 1, -1);
        }
        prev = py;
    }
}

static int text_width(const char *s) {
    int n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

/* Frame shared by scatter and histogram: returns the plot area (cells) and
 * draws the y label, left axis, bottom axis, x ticks and x label.
 * y_ticks/ny: values to mark on the left axis between y_min and y_max. */
typedef struct {
    int px, py, pw, ph; /* plot area in grid cells */
} frame;

static int frame_layout(frame *f, int x, int y, int w, int h, int margin) {
    f->px = x + margin + 1;
    f->py = y + 1;
    f->pw = w - margin - 1;
    f->ph = h - 4;
    return f->pw >= 4 && f->ph >= 2;
}

static void frame_draw(plot_grid *g, const frame *f, int x, int y, int h, double x_min,
                       double x_max, double y_min, double y_max, const char *x_label,
                       const char *y_label, const double *yt, int ny, int x_ticks_wanted) {
    if (y_label) plot_grid_text(g, x, y, y_label, PLOT_KIND_TEXT);
    for (int r = 0; r < f->ph; r++)
        set_cell(g, f->px - 1, f->py + r, "\xe2\x94\x82", -1, PLOT_KIND_AXIS); /* │ */
    int base = f->py + f->ph;
    set_cell(g, f->px - 1, base, "\xe2\x94\x94", -1, PLOT_KIND_AXIS); /* └ */
    for (int c = 0; c < f->pw; c++)
        set_cell(g, f->px + c, base, "\xe2\x94\x80", -1, PLOT_KIND_AXIS); /* ─ */
    char buf[32];
    for (int i = 0; i < ny; i++) {
        double t = (y_max - yt[i]) / (y_max - y_min);
        int r = (int)floor(t * f->ph);
        if (r >= f->ph) r = f->ph - 1;
        if (r < 0) r = 0;
        plot_format_number(buf, sizeof buf, yt[i]);
        int len = text_width(buf);
        plot_grid_text(g, f->px - 1 - len, f->py + r, buf, PLOT_KIND_TEXT);
        set_cell(g, f->px - 1, f->py + r, "\xe2\x94\xa4", -1, PLOT_KIND_AXIS); /* ┤ */
    }
    double xt[16];
    int max_x = f->pw / 7;
    if (max_x > x_ticks_wanted) max_x = x_ticks_wanted;
    if (max_x < 2) max_x = 2;
    int nx = plot_ticks(x_min, x_max, max_x, xt);
    int last_end = -1;
    for (int i = 0; i < nx; i++) {
        int c = (int)floor((xt[i] - x_min) / (x_max - x_min) * f->pw);
        if (c >= f->pw) c = f->pw - 1;
        plot_format_number(buf, sizeof buf, xt[i]);
        int len = text_width(buf);
        int start = f->px + c - len / 2;
        if (start <= last_end) continue;
        if (start + len > x + (f->px - x) + f->pw + 2) start = f->px + f->pw - len;
        set_cell(g, f->px + c, base, "\xe2\x94\xac", -1, PLOT_KIND_AXIS); /* ┬ */
        plot_grid_text(g, start, base + 1, buf, PLOT_KIND_TEXT);
        last_end = start + len;
    }
    if (x_label) {
        int len = text_width(x_label);
        int start = f->px + (f->pw - len) / 2;
        if (start < x) start = x;
        plot_grid_text(g, start, y + h - 1, x_label, PLOT_KIND_TEXT);
    }
}

static int y_margin(const double *yt, int ny) {
    int m = 1;
    char buf[32];
    for (int i = 0; i < ny; i++) {
        plot_format_number(buf, sizeof buf, yt[i]);
        if (text_width(buf) > m) m = text_width(buf);
    }
    return m;
}

plot_axes plot_bpt_axes(void) {
    plot_axes ax = {0};
    ax.x_min = -1.55;
    ax.x_max = 0.55;
    ax.y_min = -1.05;
    ax.y_max = 1.3;
    ax.x_label = "log([NII]/H\xce\xb1)";
    ax.y_label = "log([OIII]/H\xce\xb2)";
    ax.n_curves = 2;
    ax.curves[0] = plot_kauffmann2003;
    ax.curves[1] = plot_kewley2001;
    return ax;
}

int plot_scatter(plot_grid *g, int x, int y, int w, int h, const plot_axes *ax, const float *xs,
                 const float *ys, const float *vals, int n) {
    double yt[16];
    int ny = plot_ticks(ax->y_min, ax->y_max, h >= 12 ? 5 : 3, yt);
    frame f;
    if (!frame_layout(&f, x, y, w, h, y_margin(yt, ny))) return 0;
    frame_draw(g, &f, x, y, h, ax->x_min, ax->x_max, ax->y_min, ax->y_max, ax->x_label, ax->y_label,
               yt, ny, 6);
    dots d;
    dots_init(&d, f.pw, f.ph);
    for (int i = 0; i < ax->n_curves; i++) draw_curve(&d, ax, &ax->curves[i]);
    int dw = f.pw * 2, dh = f.ph * 4, drawn = 0;
    for (int i = 0; i < n; i++) {
        double px = (xs[i] - ax->x_min) / (ax->x_max - ax->x_min) * dw;
        double py = (ax->y_max - ys[i]) / (ax->y_max - ax->y_min) * dh;
        if (!(px >= 0 && px <= dw && py >= 0 && py <= dh)) continue;
        int ix = (int)px, iy = (int)py;
        if (ix == dw) ix--;
        if (iy == dh) iy--;
        double v = -1;
        if (vals) {
            v = vals[i];
            if (!(v > 0)) v = 0;
            if (v > 1) v = 1;
        }
        dots_set(&d, ix, iy, 0, v);
        drawn++;
    }
    dots_render(g, &d, f.px, f.py);
    dots_free(&d);
    return drawn;
}

int plot_histogram(plot_grid *g, int x, int y, int w, int h, const float *values, int n, int n_bins,
                   double lo, double hi, const char *x_label, int *counts) {
    SF_ASSERT(n_bins >= 1);
    int *cnt = xcalloc((size_t)n_bins, sizeof(int));
    int max_count = 0;
    for (int i = 0; i < n; i++) {
        int b = hi > lo ? (int)floor((values[i] - lo) / (hi - lo) * n_bins) : 0;
        if (b < 0) b = 0;
        if (b >= n_bins) b = n_bins - 1;
        cnt[b]++;
    }
    for (int b = 0; b < n_bins; b++)
        if (cnt[b] > max_count) max_count = cnt[b];
    if (counts) memcpy(counts, cnt, (size_t)n_bins * sizeof(int));

    double yt[3];
    int ny = 0;
    yt[ny++] = 0;
    if (max_count > 0) {
        if (h >= 10 && max_count >= 4) yt[ny++] = (double)(max_count / 2);
        yt[ny++] = max_count;
    }
    frame f;
    if (frame_layout(&f, x, y, w, h, y_margin(yt, ny))) {
        double top = max_count > 0 ? max_count : 1;
        frame_draw(g, &f, x, y, h, lo, hi, 0, top, x_label, "galaxies", yt, ny, 6);
        static const char *eighths[9] = {" ",
                                         "\xe2\x96\x81",
                                         "\xe2\x96\x82",
                                         "\xe2\x96\x83",
                                         "\xe2\x96\x84",
                                         "\xe2\x96\x85",
                                         "\xe2\x96\x86",
                                         "\xe2\x96\x87",
                                         "\xe2\x96\x88"};
        for (int c = 0; c < f.pw; c++) {
            int b = (int)((long)c * n_bins / f.pw);
            if (!cnt[b]) continue;
            double v = (b + 0.5) / n_bins;
            long e = lround((double)cnt[b] / top * f.ph * 8);
            if (e < 1) e = 1; /* a non-empty bin always shows */
            for (int r = 0; r < f.ph && e > 0; r++, e -= 8) {
                const char *gl =
                    g->mode == PLOT_MODE_GLYPH ? (e >= 4 ? "#" : ".") : eighths[e >= 8 ? 8 : e];
                set_cell(g, f.px + c, f.py + f.ph - 1 - r, gl, v, PLOT_KIND_BAR);
            }
        }
    }
    free(cnt);
    return max_count;
}

void plot_colorbar(plot_grid *g, int x, int y, int h, double v_min, double v_max,
                   const char *label) {
    if (h < 2) return;
    if (label) plot_grid_text(g, x, y - 1, label, PLOT_KIND_TEXT);
    for (int r = 0; r < h; r++) {
        double v = 1.0 - (double)r / (h - 1);
        const char *gl = g->mode == PLOT_MODE_GLYPH ? plot_value_glyph(v) : "\xe2\x96\x88";
        set_cell(g, x, y + r, gl, v, PLOT_KIND_BAR);
        set_cell(g, x + 1, y + r, gl, v, PLOT_KIND_BAR);
    }
    double t[8];
    int nt = plot_ticks(v_min, v_max, h >= 8 ? 5 : 2, t);
    char buf[32];
    for (int i = 0; i < nt; i++) {
        int r = (int)lround((v_max - t[i]) / (v_max - v_min) * (h - 1));
        set_cell(g, x + 2, y + r, "\xe2\x94\x80", -1, PLOT_KIND_AXIS); /* ─ */
        plot_format_number(buf, sizeof buf, t[i]);
        plot_grid_text(g, x + 3, y + r, buf, PLOT_KIND_TEXT);
    }
}

void plot_hbar(char *buf, int width, double f, int mode) {
    static const char *eighths[8] = {"",
                                     "\xe2\x96\x8f",
                                     "\xe2\x96\x8e",
                                     "\xe2\x96\x8d",
                                     "\xe2\x96\x8c",
                                     "\xe2\x96\x8b",
                                     "\xe2\x96\x8a",
                                     "\xe2\x96\x89"};
    if (!(f > 0)) f = 0;
    if (f > 1) f = 1;
    long e = lround(f * width * 8);
    char *p = buf;
    int cells = 0;
    if (mode == PLOT_MODE_GLYPH) {
        long full = (e + 4) / 8;
        for (; cells < full; cells++) *p++ = '#';
    } else {
        for (; e >= 8; e -= 8, cells++) p += sprintf(p, "\xe2\x96\x88");
        if (e > 0) {
            p += sprintf(p, "%s", eighths[e]);
            cells++;
        }
    }
    for (; cells < width; cells++) *p++ = ' ';
    *p = 0;
}
