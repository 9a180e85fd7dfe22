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

/* One run as the explorer shows it, loaded once when the explorer switches to the run
 * and kept until it switches away: a few small reads whatever the number of galaxies
 * (the per-galaxy work was done when the run was stored: store.h's summaries).
 * The feature list, the pages and the compare views read from it. */
typedef struct {
    store_run run;
    store_feature *features; /* (run.d) by feature number, dead ones included */
    int n_live;              /* features active on some galaxy */
    store_points points;     /* the validation galaxies' plot points */
    store_mark *marks;       /* (n_marks) the run's marks */
    int n_marks;
    query_equation eq; /* the equation, once query_run_view_equation asked for it */
    int eq_loaded;
} query_run_view;

int query_run_view_load(store *s, int64_t run_id, query_run_view *rv);
void query_run_view_clear(query_run_view *rv);
/* After a label changed: the features again (and the equation's labels). */
int query_run_view_reload_features(store *s, query_run_view *rv);
/* After a mark changed: the marks again (none, and SF_ERR, on a failure). */
int query_run_view_reload_marks(store *s, query_run_view *rv);
/* The run's equation (query.h), read once. */
int query_run_view_equation(store *s, query_run_view *rv);
/* The feature's statistics, or NULL outside 0..d-1. */
const store_feature *query_run_view_feature(const query_run_view *rv, int feature);
int query_feature_marked(const query_run_view *rv, int feature);
int query_galaxy_marked(const query_run_view *rv, int64_t galaxy_id);

/* What the feature page plots for one feature: the BPT diagram of the validation
 * galaxies when the catalogue has the four line fluxes, otherwise the feature's scaled
 * activation against the run's first target; and the histogram of the scaled
 * activations of its active validation galaxies. */
typedef struct {
    int n;         /* validation galaxies plotted */
    float *x, *y;  /* (n) */
    float *scaled; /* (n) scaled activation A = a / max_valid, 0..1 */
    int is_bpt;
    char x_label[64], y_label[64];
    double x_min, x_max, y_min, y_max;
    float *hist; /* (n_hist) A of the active validation galaxies (a / max when
                            the feature never fires on validation) clipped to 1 */
    int n_hist;
} query_scatter;

/* Fills sc for feature f of run from the run's points and the feature's stored
 * validation hits; sc owned: query_scatter_clear. */
int query_scatter_load(store *s, const store_run *run, const store_points *points,
                       const store_feature *f, query_scatter *sc);
void query_scatter_clear(query_scatter *sc);

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
