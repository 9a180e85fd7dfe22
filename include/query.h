/* query.h: what the headless run-database commands compute, and how they print.
 *
 * The commands `runs`, `features`, `top`, `galaxy`, `equation`, `label` and
 * `export-activations` are thin: they parse options, call these functions (which
 * the explorer and the tests call too) and print a query_table as an aligned text
 * table, JSON (an array of objects, via libcjson) or CSV (RFC 4180).
 *
 * The equation (the paper's Figure 3): with A_i = a_i / max_i the scaled activation,
 *   prediction_t = c_t + sum_i w'_ti A_i,  c_t = mean_t + std_t * b_t,
 *                                           w'_ti = std_t * w_ti * max_i
 * (targets standardised for training are turned back into their units). Terms come
 * in order of frequency (f_activated over the validation set). The RMSE with the top
 * m terms zeroes every other feature's activation and applies the stored head to
 * the validation galaxies; with all features it reproduces the model's validation
 * RMSE.
 *
 * Similar features (query_similar.c): with a_i the raw activation of feature i over
 * all N galaxies of a run (0 where inactive), feature j is similar to i when their
 * Pearson correlation r_ij is high. Every pair's sums are computed when the run is
 * stored (store.h's summaries), so a feature's similar ones cost two small reads.
 */
#ifndef SF_QUERY_H
#define SF_QUERY_H

#include <stdio.h>

#include "store.h"

/* ---- result tables ------------------------------------------------------------ */

typedef enum { QUERY_TEXT = 0, QUERY_JSON, QUERY_CSV } query_format;

typedef struct query_table query_table;

/* A table with the given column names (copied). */
query_table *query_table_new(int n_cols, const char *const *names);
void query_table_free(query_table *t);
/* Cells are appended row by row, left to right; a row ends after n_cols cells. */
void query_table_text(query_table *t, const char *text); /* NULL -> null */
void query_table_int(query_table *t, long long v);
/* NAN -> null. digits: decimals in text/CSV (JSON keeps full precision). */
void query_table_num(query_table *t, double v, int digits);
int query_table_rows(const query_table *t);
/* Prints the table; SF_ERR on a write error. */
int query_table_print(const query_table *t, FILE *out, query_format fmt);

/* ---- the equation ------------------------------------------------------------- */

#define QUERY_EQ_LEVELS 5 /* top 1, 2, 4, 8, all */

typedef struct {
    int feature;
    int n_active_valid;
    double f_activated;
    double max_valid;                       /* the scale of A */
    double weight[STORE_MAX_TARGETS];       /* the head's raw weight */
    double coef[STORE_MAX_TARGETS];         /* w'_ti: per unit of scaled A, target units */
    double mean_contrib[STORE_MAX_TARGETS]; /* mean over validation of w'_ti A_i */
    char label[STORE_LABEL_MAX];
} query_term;

typedef struct {
    int64_t run_id;
    char prefix[STORE_PREFIX_MAX];
    int n_out;
    char target_names[STORE_MAX_TARGETS][STORE_NAME_MAX];
    double intercept[STORE_MAX_TARGETS]; /* c_t */
    int n_terms;                         /* live features (active on some galaxy) */
    query_term *terms;                   /* owned (n_terms), by frequency */
    int n_valid;
    int n_levels;
    int level_terms[QUERY_EQ_LEVELS]; /* terms used: 1, 2, 4, 8 (those < n_terms), all */
    double rmse[QUERY_EQ_LEVELS];     /* over all outputs */
    double rmse_t[QUERY_EQ_LEVELS][STORE_MAX_TARGETS];
    double model_valid_rmse; /* as stored with the run (NAN unknown) */
} query_equation;

/* From the run's features and its stored summaries (a few rows). */
int query_equation_compute(store *s, int64_t run_id, query_equation *eq);
void query_equation_clear(query_equation *eq);
/* RMSE over the validation galaxies using only the listed features (n = -1: all):
 * one scan of the run's activations. */
int query_rmse_with_features(store *s, int64_t run_id, const int *features, int n, double *rmse,
                             double *rmse_t);
/* The same with the top m features by frequency (m above the live ones: all), from the
 * stored RMSEs when m is 1, 2, 4, 8 or all, else by query_rmse_with_features. */
int query_rmse_top(store *s, int64_t run_id, int m, double *rmse, double *rmse_t);

/* ---- co-activation and similar features ----------------------------------------- */

/* Sums over all N galaxies of a run, a_i the raw activation of feature i (0 where
 * inactive): S_i = sum a_i, and for every pair C_ij = sum a_i a_j and the number of
 * galaxies where both are non-zero (C_ii = sum a_i^2, n_both_ii = n_active_i). Then
 *   r_ij = (N C_ij - S_i S_j) / sqrt((N C_ii - S_i^2) (N C_jj - S_j^2)). */
typedef struct {
    int64_t run_id;
    int d;
    int n;         /* galaxies of the run */
    double *sum;   /* (d) S_i */
    double *cross; /* (d, d) C_ij */
    int *n_both;   /* (d, d) */
} query_coact;

/* Every pair's sums of the run, from its stored summaries (d small reads). */
int query_coact_load(store *s, int64_t run_id, query_coact *c);
void query_coact_clear(query_coact *c);
/* r_ij; NAN when either feature never fires (or fires with the same value on every galaxy). */
double query_coact_pearson(const query_coact *c, int i, int j);

typedef struct {
    int feature;
    double r;   /* Pearson correlation with the feature asked about */
    int n_both; /* galaxies where both are active */
} query_similar;

/* The (at most) n features most correlated with feature, largest r first (ties by
 * feature number), leaving out the feature itself and those with r undefined. Returns
 * how many were written to out. */
int query_similar_features(const query_coact *c, int feature, int n, query_similar *out);
/* The same for one feature straight from the stored sums (its pairs and every
 * feature's sums: two small reads); *n_out how many were written to out. */
int query_similar_load(store *s, int64_t run_id, int feature, int n, query_similar *out,
                       int *n_out);

/* ---- between runs: counterparts, the compare view, similar galaxies (query_cross.c) ----
 *
 * Over the N galaxies two runs share (store.h's pair statistics), with a_i the raw
 * activation of feature i of one run and b_j of feature j of the other (0 where
 * inactive), S and Q their sums and sums of squares and C_ij = sum a_i b_j:
 *   r_ij = (N C_ij - S_i S_j) / sqrt((N Q_i - S_i^2) (N Q_j - S_j^2))
 * and the conditional f_activated of j given i is n_both_ij / n_i: of the shared
 * galaxies where i is active, the fraction where j is active too. */

/* r_ij of a pair (rows: p->run_id's features, columns: p->other_id's); NAN when either
 * feature has one value on every shared galaxy (never active, say). */
double query_cross_pearson(const store_cross *p, int i, int j);

typedef struct {
    int feature;       /* of the other run */
    double r;          /* Pearson r over the shared galaxies */
    int n_both;        /* shared galaxies where both are active */
    int n_active;      /* shared galaxies where the counterpart is active */
    double f_cond;     /* n_both / (shared galaxies where the feature asked about is active) */
    double f_cond_rev; /* n_both / n_active */
} query_counterpart;

typedef struct {
    int64_t run_id, other_id;
    int feature;  /* of run_id */
    int n_shared; /* galaxies both runs hold */
    int n_active; /* of them, where the feature is active */
    int n;
    query_counterpart *list; /* owned (n): largest r first, ties by feature */
} query_counterparts;

/* The (at most) n features of other_id most correlated with feature of run_id over the
 * galaxies both hold, leaving out those whose r is undefined. */
int query_counterparts_compute(store *s, int64_t run_id, int feature, int64_t other_id, int n,
                               query_counterparts *out);
void query_counterparts_clear(query_counterparts *c);

/* Run A's features against run B's over the galaxies both hold: the correlation
 * matrix of the features active on at least min_active shared galaxies, rows and
 * columns ordered so that related features sit together (each column beside the row
 * it correlates most with, each row beside its best column, repeated a few times
 * from rows by frequency), and, from query_compare_ridge, the paper's Section 4.4
 * analysis: for each column feature, the R^2 on the validation galaxies of a ridge
 * regression (with intercept, penalty alpha, as scikit-learn's Ridge) predicting it
 * from all d activations of run A, fitted on the training galaxies. Train and
 * validation are run B's split (the run being predicted). */
typedef struct {
    int64_t run_a, run_b;
    int d_a, d_b;
    int n_shared;
    int n_rows, n_cols;
    int *rows, *cols; /* (n_rows), (n_cols) feature numbers in display order */
    int *n_active_a;  /* (n_rows) shared galaxies where the row feature is active */
    int *n_active_b;  /* (n_cols) */
    double *r;        /* (n_rows, n_cols) */
    int *n_both;      /* (n_rows, n_cols) */
    int *best_row;    /* (n_cols) index into rows of the largest r, -1 none */
    int has_r2;       /* query_compare_ridge done */
    double alpha;
    int n_train, n_valid; /* shared galaxies in run B's training and validation split */
    double *r2;           /* (n_cols) NAN when undefined (constant on the validation set) */
} query_compare;

int query_compare_compute(store *s, int64_t run_a, int64_t run_b, int min_active, query_compare *c);
/* Adds r2 (alpha > 0). Reads both runs' codes: a dense run A of many galaxies takes a while. */
int query_compare_ridge(store *s, query_compare *c, double alpha);
void query_compare_clear(query_compare *c);

/* Similar galaxies: the galaxies of a run whose codes (active features and values) are
 * nearest one galaxy's by cosine, cos = a.b / (|a| |b|). Only galaxies sharing an
 * active feature can have cos > 0, so the feature's lists of galaxies (an inverted
 * index of the run's codes, built once when loaded) are all that is read. */
typedef struct {
    store_codes codes;
    size_t *list_start; /* (d + 1) feature f's galaxies are [list_start[f], list_start[f + 1]) */
    int *list_row;      /* (nnz) rows of codes, ascending in each list */
    float *list_value;  /* (nnz) */
    double *norm;       /* (n) |code| */
    double *dot;        /* (n) scratch, zero between queries */
    int *touched;       /* (n) scratch */
} query_neighbors;

int query_neighbors_load(store *s, int64_t run_id, query_neighbors *nb);
void query_neighbors_clear(query_neighbors *nb);

typedef struct {
    int64_t galaxy_id;
    char objid[STORE_OBJID_MAX];
    int split;
    double cosine;
    int n_common; /* active features the two share */
} query_neighbor;

/* The (at most) n galaxies of nb's run most similar to galaxy_id, largest cosine first
 * (ties by galaxy id), leaving the galaxy out; objIDs read from s. *n_out 0 when the
 * galaxy has no active feature; SF_ERR when it is not in the run. */
int query_similar_galaxies(store *s, query_neighbors *nb, int64_t galaxy_id, int n,
                           query_neighbor *out, int *n_out);

/* ---- exports ------------------------------------------------------------------- */

/* Writes the run's activations as a dense (N, d) little-endian float32 .npy (rows in
 * store_run_rows order) and the objIDs, one a line, to query_objids_path(path).
 * Both are written as sf_output writes -o files (regular files replaced when
 * complete, links followed, FIFOs written through); "-" is refused. */
int query_export_npy(store *s, int64_t run_id, const char *path);
/* "out.npy" -> "out.objids.txt" (any other name: name + ".objids.txt"). */
void query_objids_path(const char *npy_path, char *out, size_t n);
/* Writes the run as a FITS binary table (HDU 2, EXTNAME ACTIVATIONS) for astropy and
 * TOPCAT, rows in store_run_rows order: OBJID (K when every ID is a 64-bit integer,
 * else text), SPLIT ("train"/"valid"), PRED_<target> and TRUE_<target> (E) for each
 * output, then either the dense activations as one vector column ACTIVATIONS (dE;
 * pairs 0) or the k strongest (feature, value) pairs FEATURE_1, VALUE_1 ... (J, E;
 * feature -1 and value 0 where a galaxy has fewer). Header cards name the run,
 * its k, d and targets. Written to a temporary name and renamed. */
int query_export_fits(store *s, int64_t run_id, const char *path, int pairs);

/* ---- helpers the commands share -------------------------------------------------- */

/* Resolves "RUN FEATURE" given as one or two words ("SL 17", "SL17", "SL" "17", "17").
 * words: 1 or 2 strings. Fills run (caller clears) and feature. */
int query_resolve_feature(store *s, int n_words, char *const *words, store_run *run, int *feature);
/* "Z 17" into buf. */
void query_feature_name(const store_run *run, int feature, char *buf, size_t n);

#endif
