/* analysis_figures.h: the report's figures as PNG files, drawn with cairo.
 *
 * Three plain plots, each deterministic (the same input gives the same bytes):
 *   figure_heatmap  a correlation matrix, blue (-1) - white (0) - red (+1), NAN grey
 *   figure_scatter  y against x, optionally coloured by a value in [0, 1]
 *                   (black -> magenta -> yellow as Figure 2 of Wu 2025, strongest
 *                   drawn last), optionally with the line y = x
 *   figure_lines    Figure 4: one line per series with error bars
 *   figure_compare  two runs' features against each other, with an R^2 bar per column
 *   figure_curves   training curves of several runs, coloured by group
 * The callers (report, sweep) gather the numbers; this module only draws. Text
 * uses the cairo toy API with "DejaVu Sans". Each returns SF_OK or SF_ERR with a
 * message naming the file.
 */
#ifndef SF_ANALYSIS_FIGURES_H
#define SF_ANALYSIS_FIGURES_H

/* m (d, d); labels (d) name the rows and columns. */
int figure_heatmap(const char *path, const double *m, int d, const char *const *labels,
                   const char *title);

/* Two runs compared: m (n_rows, n_cols) correlations of the row features (one run) with
 * the column features (another), blue - white - red, NAN grey, with the labels on the
 * left and on top; under each column a bar of its r2 (n_cols, in [0, 1], NAN none), the
 * R^2 of predicting it from the row run, when r2 is given. */
int figure_compare(const char *path, const double *m, int n_rows, int n_cols,
                   const char *const *row_labels, const char *const *col_labels, const double *r2,
                   const char *r2_label, const char *title);

/* x, y (n); color (n) in [0, 1] or NULL. Non-finite points are skipped. */
int figure_scatter(const char *path, const double *x, const double *y, const double *color, int n,
                   const char *x_label, const char *y_label, const char *title, int diagonal);

typedef struct {
    const char *name; /* legend text */
    int n;
    const double *x, *y;
    const double *err; /* (n) half-length of the error bar, or NULL */
} figure_series;

int figure_lines(const char *path, const figure_series *series, int n_series, const char *x_label,
                 const char *y_label, const char *title);

/* Training curves: many thin lines, coloured by group (one legend entry per group),
 * solid or dashed; note (may be NULL) is written under the plot. */
typedef struct {
    int n;
    const double *x, *y;
    int group; /* 0 .. n_groups-1: colour and legend entry */
    int dashed;
} figure_curve;

int figure_curves(const char *path, const figure_curve *curves, int n_curves,
                  const char *const *group_names, int n_groups, const char *x_label,
                  const char *y_label, const char *title, const char *note);

/* The colour of v in [0, 1] on the black -> magenta -> yellow map, rgb in [0, 1]. */
void figure_activation_color(double v, double rgb[3]);
/* The colour of r in [-1, 1] on the blue - white - red map. */
void figure_diverging_color(double r, double rgb[3]);

#endif
