/* tui.h: the explorer, `sfnet-explore run.db`, and the data it shows.
 *
 * The explorer is a thin curses layer over the run database's API (store.h):
 * it never runs SQL itself. Each screen is a draw/key pair (tui_<screen>.c)
 * behind one dispatch in tui_app.c:
 *   feature list (home)  ->  feature page  ->  galaxy page
 *                        ->  equation view ->  feature page
 *   any screen           ->  marks (M)     ->  feature or galaxy page
 * plus a help overlay. The feature page also lists the most correlated features
 * (query.h's similar features), each of which opens. Plots come from plot.h (braille or glyph cells),
 * thumbnails from thumb.h (chafa), exports from export.h (cairo).
 *
 * The data functions below (tui_data.c) have no curses in them: the headless
 * export command and the plain-text output (stdout not a terminal) use them too.
 */
#ifndef SF_TUI_H
#define SF_TUI_H

#include <stdio.h>

#include "query.h"
#include "store.h"

/* Entry of `sfnet-explore [options] RUN.db [options]`: argv as main has it. */
int tui_main(int argc, char **argv);
/* Whether main's first argument opens the explorer: one of the explorer's
 * options (--feature ...), a name ending in .db, or an existing file (main
 * checks the subcommand names first). */
int cli_is_database(const char *arg);

/* ---- data behind the screens (tui_data.c) ---- */

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
} tui_scatter;

/* Per-run arrays loaded once (rows, BPT ratios or target truth). */
typedef struct {
    int64_t run_id;
    store_rows rows;
    int has_bpt;
    float *bpt_x, *bpt_y;   /* (rows.n) NAN where unusable */
    float *truth0;          /* (rows.n) first target's truth */
    float *column;          /* (rows.n) scratch: one feature's activations */
} tui_run_data;

int tui_run_data_load(store *s, const store_run *run, tui_run_data *rd);
void tui_run_data_clear(tui_run_data *rd);
/* Fills sc for feature f (scaled by max_valid); sc owned: tui_scatter_clear. */
int tui_scatter_load(store *s, const store_run *run, tui_run_data *rd, int feature,
                     double max_valid, tui_scatter *sc);
void tui_scatter_clear(tui_scatter *sc);

/* Galaxies picked at activation quantiles q = (i + 0.5) / n of the active
 * galaxies (sorted by value), n at most; *out owned (free). */
int tui_quantile_samples(store *s, int64_t run_id, int feature, int n, store_hit **out, int *n_out);

/* Indices of eq's terms sorted by |mean contribution| to target t, largest
 * first (the equation itself comes from query.h); *order owned (free). */
void tui_terms_by_contribution(const query_equation *eq, int t, int **order);

/* One line of the feature table (no colour), width-limited: used by the list
 * screen and the plain-text output. header != 0 gives the column titles. */
void tui_format_feature_row(char *buf, size_t n, const store_run *run, const store_feature *f,
                            int header, int bar_mode);

/* Plain text for a non-terminal stdout: every run's feature list and equations. */
int tui_print_plain(FILE *out, store *s);

/* Writes a feature's figure (export.h) gathered from the run database:
 * top grid_cols x grid_rows galaxies, with the BPT panel when bpt is set (the
 * activation-vs-target panel when the catalogue has no line fluxes). */
int tui_export_feature(store *s, const store_run *run, int feature, const char *path, int grid_cols,
                       int grid_rows, int bpt);

#endif
