/* plot.h: small text plots drawn into a grid of cells, with no terminal code.
 *
 * A plot_grid is w x h cells; each cell holds one UTF-8 glyph, the value that
 * coloured it and the xterm-256 colour index of that value. The explorer copies
 * cells into curses windows; the tests read them directly.
 *
 * Scatter plots and lines use braille (2 x 4 dots per cell, U+2800 + bits); a
 * cell takes the colour of the strongest value among the points that fell in
 * it. PLOT_MODE_GLYPH replaces braille with the plain glyphs `· : * #` chosen by
 * that strongest value (for NO_COLOR, TERM=dumb or fonts without braille).
 *
 *   plot_grid g;
 *   plot_grid_init(&g, 60, 20, PLOT_MODE_BRAILLE);
 *   plot_axes ax = plot_bpt_axes();
 *   plot_scatter(&g, 0, 0, 52, 20, &ax, xs, ys, act, n);
 *   plot_colorbar(&g, 54, 1, 16, 0, 1, "act");
 *   ... g.cells[y * g.w + x].glyph / .color ...
 *   plot_grid_free(&g);
 *
 * The colormap runs black -> magenta -> yellow (as the BPT figures of Wu 2025)
 * and is quantised to the xterm 256-colour cube or given as 24-bit RGB.
 */
#ifndef SF_PLOT_H
#define SF_PLOT_H

#include <stdint.h>

enum { PLOT_MODE_BRAILLE = 0, PLOT_MODE_GLYPH = 1 };

/* What drew a cell, so that a renderer can style it. */
enum {
    PLOT_KIND_EMPTY = 0,
    PLOT_KIND_POINT, /* data, coloured by value */
    PLOT_KIND_LINE,  /* a reference line (demarcation) */
    PLOT_KIND_AXIS,  /* frame, ticks */
    PLOT_KIND_TEXT,  /* labels, numbers */
    PLOT_KIND_BAR    /* histogram bars and colour bar, coloured by value */
};

enum { PLOT_COLOR_DEFAULT = -1 };

typedef struct {
    char glyph[8]; /* one UTF-8 character, NUL-terminated ("" is never stored: " ") */
    float value;   /* colouring value in [0, 1]; < 0: none */
    int16_t color; /* xterm-256 index of value, or PLOT_COLOR_DEFAULT */
    uint8_t kind;  /* PLOT_KIND_* */
} plot_cell;

typedef struct {
    int w, h;
    int mode;         /* PLOT_MODE_* */
    plot_cell *cells; /* (h, w) */
} plot_grid;

void plot_grid_init(plot_grid *g, int w, int h, int mode);
void plot_grid_free(plot_grid *g);
void plot_grid_clear(plot_grid *g);
/* Writes UTF-8 text from (x, y), one character per cell, clipped to the grid.
 * Returns the number of cells written. */
int plot_grid_text(plot_grid *g, int x, int y, const char *utf8, int kind);
/* The grid as text rows joined by '\n' (malloc'd; for tests and plain output). */
char *plot_grid_string(const plot_grid *g);

/* A curve y = a / (x - c) + d drawn where x < x_max (Kauffmann, Kewley). */
typedef struct {
    double a, c, d, x_max;
    const char *name;
} plot_hyperbola;

extern const plot_hyperbola plot_kauffmann2003; /* y = 0.61/(x-0.05)+1.3,  x < 0.05 */
extern const plot_hyperbola plot_kewley2001;    /* y = 0.61/(x-0.47)+1.19, x < 0.47 */

typedef struct {
    double x_min, x_max, y_min, y_max;
    const char *x_label, *y_label;
    int n_curves;
    plot_hyperbola curves[4];
} plot_axes;

/* The BPT diagram of Wu 2025: x = log([NII]/Ha) in [-1.55, 0.55],
 * y = log([OIII]/Hb) in [-1.05, 1.3], with both demarcation lines. */
plot_axes plot_bpt_axes(void);

/* Scatter inside the rectangle (x, y, w, h) of the grid: y tick labels on the
 * left, the frame, x ticks and the x label below, the y label above. vals (may
 * be NULL: all points drawn uncoloured) are clamped to [0, 1]; points outside
 * the axis limits are skipped. Returns the number of points drawn. */
int plot_scatter(plot_grid *g, int x, int y, int w, int h, const plot_axes *ax, const float *xs,
                 const float *ys, const float *vals, int n);

/* Histogram of values in [lo, hi] with n_bins bins into the rectangle, with the
 * count axis (0 .. max count) on the left, value ticks below, x_label under them.
 * counts (n_bins) receives the bin counts when not NULL. Values outside
 * [lo, hi] are counted in the end bins. Returns the largest bin count. */
int plot_histogram(plot_grid *g, int x, int y, int w, int h, const float *values, int n, int n_bins,
                   double lo, double hi, const char *x_label, int *counts);

/* Vertical colour bar of h rows at (x, y) from v_min (bottom) to v_max (top),
 * tick values written to its right, label above. */
void plot_colorbar(plot_grid *g, int x, int y, int h, double v_min, double v_max,
                   const char *label);

/* Horizontal bar of `width` cells filled to fraction f in [0, 1] (eighth blocks,
 * or '#' in glyph mode) into buf (UTF-8, NUL-terminated; needs 3*width+1 bytes). */
void plot_hbar(char *buf, int width, double f, int mode);

/* The colormap at v in [0, 1]. */
void plot_colormap(double v, uint8_t *r, uint8_t *g, uint8_t *b);
uint32_t plot_colormap_rgb(double v); /* 0xRRGGBB */
/* Nearest xterm-256 colour (cube 16..231 or greys 232..255) to an RGB. */
int plot_xterm256(uint8_t r, uint8_t g, uint8_t b);
int plot_colormap_xterm256(double v);
/* One of the 8 ANSI colours (0 black .. 7 white) for v: dark -> magenta -> red -> yellow. */
int plot_colormap_ansi8(double v);
/* The glyph of PLOT_MODE_GLYPH for v: "·" ":" "*" "#". */
const char *plot_value_glyph(double v);

/* Up to max_ticks "nice" tick values (1, 2, 5 x 10^k steps) inside [lo, hi];
 * returns how many were written. */
int plot_ticks(double lo, double hi, int max_ticks, double *ticks);
/* Formats a tick value compactly ("-1.5", "0", "0.25", "1.2e+04"). */
void plot_format_number(char *buf, int n, double v);

#endif
