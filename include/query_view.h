/* query_view.h: what the explorer's screens, the export command and the plain-text
 * output show, computed from the run database (query_view.c).
 *
 * Everything here is gathered through the run-database API (store.h) and the
 * query functions (query.h): no SQL, no curses. The explorer (tui_*.c) draws
 * what these functions return; `sfnet-explore export` and the explorer's `e`
 * write a feature's figure with query_export_feature; a stdout that is not a
 * terminal gets query_print_plain. Every struct filled here is owned by the
 * caller and released by its *_clear.
 */
#ifndef SF_QUERY_VIEW_H
#define SF_QUERY_VIEW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "query.h"
#include "store.h"

/* What the feature page plots for one feature: the BPT diagram of the
 * validation galaxies when the catalogue has the four line fluxes, otherwise
 * the feature's scaled activation against the run's first target. */
typedef struct {
    int n;               /* validation galaxies plotted */
    float *x, *y;        /* (n) */
    float *scaled;       /* (n) scaled activation, 0..1 */
    int is_bpt;
    char x_label[64], y_label[64];
    double x_min, x_max, y_min, y_max;
} query_scatter;

/* Per-run arrays loaded once (rows, BPT ratios or target truth). */
typedef struct {
    int64_t run_id;
    store_rows rows;
    int has_bpt;
    float *bpt_x, *bpt_y;   /* (rows.n) NAN where unusable */
    float *truth0;          /* (rows.n) first target's truth */
    float *column;          /* (rows.n) scratch: one feature's activations */
} query_run_data;

int query_run_data_load(store *s, const store_run *run, query_run_data *rd);
void query_run_data_clear(query_run_data *rd);
/* Fills sc for feature f (scaled by max_valid); sc owned: query_scatter_clear. */
int query_scatter_load(store *s, const store_run *run, query_run_data *rd, int feature,
                       double max_valid, query_scatter *sc);
void query_scatter_clear(query_scatter *sc);

/* Galaxies picked at activation quantiles q = (i + 0.5) / n of the active
 * galaxies (sorted by value), n at most; *out owned (free). */
int query_quantile_samples(store *s, int64_t run_id, int feature, int n, store_hit **out, int *n_out);

/* Indices of eq's terms sorted by |mean contribution| to target t, largest
 * first (the equation itself comes from query.h); *order owned (free). */
void query_terms_by_contribution(const query_equation *eq, int t, int **order);

/* One line of the feature table (no colour), width-limited: used by the list
 * screen and the plain-text output. header != 0 gives the column titles. */
void query_format_feature_row(char *buf, size_t n, const store_run *run, const store_feature *f,
                              int header, int bar_mode);

/* Plain text for a non-terminal stdout: every run's feature list and equations. */
int query_print_plain(FILE *out, store *s);

/* The galaxy's stored thumbnail decoded to interleaved RGB (h, w, 3), owned (free).
 * SF_OK with *rgb = NULL when it has none. */
int query_thumbnail(store *s, int64_t galaxy_id, uint8_t **rgb, int *w, int *h);

/* Writes a feature's figure (export.h) gathered from the run database:
 * top grid_cols x grid_rows galaxies, with the BPT panel when bpt is set (the
 * activation-vs-target panel when the catalogue has no line fluxes). */
int query_export_feature(store *s, const store_run *run, int feature, const char *path,
                         int grid_cols, int grid_rows, int bpt);

#endif
