/* export.h: a feature's figures as PNG or PDF, drawn with cairo.
 *
 * Two layouts, both deterministic (the same input gives the same bytes):
 *  - a gallery: the top galaxies in a grid (--grid 3x3) or a strip (--top 10),
 *    each with its objID and activation underneath;
 *  - Figure 2 of Wu 2025 (with bpt set): the BPT diagram of the validation
 *    galaxies coloured by the feature's scaled activation (black -> magenta ->
 *    yellow, strongest drawn last), the Kauffmann 2003 and Kewley 2001 lines,
 *    axes x in [-1.55, 0.55], y in [-1.05, 1.3], a colour bar, beside a grid of
 *    the top galaxies.
 * The caller (cli_export, the explorer's `e`) gathers the data from the run
 * database; this module only draws. Text uses DejaVu Sans via cairo's toy API.
 */
#ifndef SF_EXPORT_H
#define SF_EXPORT_H

#include <stdint.h>

typedef struct {
    const char *obj_id;
    float activation;   /* raw */
    float scaled;       /* activation / the feature's maximum over validation, 0..1 */
    const uint8_t *rgb; /* (h, w, 3) cutout, or NULL: drawn as "no image" */
    int w, h;
} export_galaxy;

typedef struct {
    const char *title;    /* "SL 17", the feature's name */
    const char *subtitle; /* label or statistics line, may be NULL */
    int n_galaxies;       /* top galaxies, strongest first */
    const export_galaxy *galaxies;
    int grid_cols, grid_rows;          /* gallery shape; cols * rows galaxies at most */
    int bpt;                           /* Figure 2 layout */
    int n_points;                      /* validation galaxies for the BPT panel */
    const float *bpt_x;                /* log([NII]/Ha) */
    const float *bpt_y;                /* log([OIII]/Hb) */
    const float *bpt_scaled;           /* scaled activation, 0..1 */
    const char *x_label, *y_label;     /* NULL: the BPT axis names */
    double x_min, x_max, y_min, y_max; /* all 0: the BPT limits of the paper */
    int demarcations;                  /* draw Kauffmann and Kewley (BPT) */
} export_figure;

/* Writes the figure to path: PDF when the name ends in ".pdf", PNG otherwise.
 * Returns SF_OK or SF_ERR with a message naming the file. */
int export_figure_write(const export_figure *f, const char *path);

/* The figure's size in pixels (PNG) or points (PDF). */
void export_figure_size(const export_figure *f, int *width, int *height);

/* Frees cairo's and fontconfig's process-wide caches (font patterns that leak
 * checkers report at exit). Call once before the process ends, after the last
 * export; exporting afterwards still works (the caches are rebuilt). */
void export_shutdown(void);

/* Parses "3x3" into cols, rows (1..20 each). */
int export_parse_grid(const char *s, int *cols, int *rows);

#endif
