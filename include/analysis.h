/* analysis.h: the paper's analyses as pure computations on arrays.
 *
 * Nothing here reads files, talks to SQLite or draws: the report, pca, sweep and
 * bpt subcommands (src/cli_*.c) load the data and call these functions, and the
 * tests call them on small arrays. Matrices are row-major, one row a galaxy:
 * x (n, d) means x[i * d + j] is feature j of galaxy i. Results the caller owns
 * are released with the matching *_free.
 *
 *   BPT classes        bpt_classify_fluxes(), bpt_classify_ratios()
 *   correlations       analysis_pearson(), analysis_spearman(), analysis_corr_matrix()
 *   PCA + regression   pca_fit(), pca_project(), linreg_fit(), linreg_predict(),
 *                      analysis_rmse(), pca_regression_rmse()
 *   linear SVM         svm_linear_train(), svm_linear_train_weighted(),
 *                      svm_linear_train_csr() (sparse rows; liblinear),
 *                      svm_balanced_weights(), binary_scores_count()
 *   suggested labels   label_suggest(), label_format(), label_friendly_name()
 *
 * Linear algebra goes through LAPACKE (dsyevd, dgelsd) on OpenBLAS. Recoverable
 * failures (a singular problem LAPACK refuses, too few rows) return SF_ERR after
 * sf_fail(); wrong shapes are programming errors (SF_ASSERT).
 */
#ifndef SF_ANALYSIS_H
#define SF_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "data_catalog.h"

/* ---- BPT classification ---------------------------------------------------
 * x = log10([NII]6584 / Halpha), y = log10([OIII]5007 / Hbeta).
 * Star-forming: below Kauffmann et al. 2003, y < 0.61 / (x - 0.05) + 1.3 with x < 0.05.
 * AGN: above Kewley et al. 2001, y > 0.61 / (x - 0.47) + 1.19 with x < 0.47, or x >= 0.47.
 * Composite: everything between (on a line counts as composite). */
typedef enum {
    BPT_NONE = 0, /* no class: a line is missing, non-positive or has S/N <= 3 */
    BPT_STAR_FORMING = 1,
    BPT_COMPOSITE = 2,
    BPT_AGN = 3,
} bpt_class;

enum { BPT_NII = 0, BPT_HALPHA = 1, BPT_OIII = 2, BPT_HBETA = 3, BPT_N_LINES = 4 };

#define BPT_MIN_SN 3.0

typedef struct {
    double log_nii_ha;  /* NAN when either line is unusable */
    double log_oiii_hb; /* NAN when either line is unusable */
    bpt_class cls;
    char why[96]; /* empty when classified, else e.g. "low S/N h_beta (2.4)" */
} bpt_result;

double bpt_kauffmann03(double x); /* demarcation y(x); NAN for x >= 0.05 */
double bpt_kewley01(double x);    /* demarcation y(x); NAN for x >= 0.47 */
bpt_class bpt_classify_ratios(double log_nii_ha, double log_oiii_hb);
/* flux[BPT_NII..BPT_HBETA] and their errors; err may be NULL (no S/N cut).
 * NAN marks a missing value. Ratios are filled whenever both lines of a ratio
 * are positive, even when the class is refused for low S/N. */
void bpt_classify_fluxes(bpt_result *r, const double flux[BPT_N_LINES], const double *err);
/* "star-forming", "composite", "AGN" or "none". */
const char *bpt_class_name(bpt_class c);
/* Short names of the lines for messages: "nii_6584", "h_alpha", "oiii_5007", "h_beta". */
const char *bpt_line_name(int line);
/* The MPA-JHU catalogue's bptclass: 1, 2 star-forming (2 = low S/N), 3 composite,
 * 4 AGN, 5 low-S/N LINER (counted as AGN), -1 or anything else: none. */
bpt_class bpt_from_mpa_code(double code);

/* BPT classes of every row of a catalogue (data_catalog.h). The fluxes are the
 * MPA-JHU columns nii_6584_flux, h_alpha_flux, oiii_5007_flux, h_beta_flux and
 * their *_err (S/N cut only when the error columns exist). With prefer_bptclass
 * and a `bptclass` column, a row's class comes from that column (ratios still from
 * the fluxes when present). out (cat->n_rows); *source is set to BPT_SOURCE_*.
 * SF_ERR when the catalogue has neither the four fluxes nor bptclass. */
enum { BPT_SOURCE_LINES = 0, BPT_SOURCE_BPTCLASS = 1 };
int bpt_classify_catalog(bpt_result *out, int *source, const catalog *cat, int prefer_bptclass);

/* ---- correlations ---------------------------------------------------------
 * Pearson and Spearman correlation of two vectors over the n pairs where both
 * are finite (NAN elsewhere is skipped). NAN when fewer than 3 pairs remain or
 * either side is constant. Spearman ranks ties by their average rank. */
double analysis_pearson(const double *x, const double *y, int n);
double analysis_spearman(const double *x, const double *y, int n);
/* Ranks 1..n of x (n), ties share their average rank. */
void analysis_rank(double *rank, const double *x, int n);
/* Correlation matrix of the d columns of x (n, d): out (d, d), diagonal 1 (NAN for a
 * constant column). spearman != 0 selects Spearman. */
void analysis_corr_matrix(double *out, const double *x, int n, int d, int spearman);

/* ---- PCA and linear regression -------------------------------------------- */
typedef struct {
    int d;                 /* features */
    int n_components;      /* kept, <= d */
    double *mean;          /* (d) training mean */
    double *components;    /* (n_components, d) unit eigenvectors, largest variance first;
                           each signed so that its largest-|.| entry is positive */
    double *variance;      /* (n_components) eigenvalues of the covariance (divided by n - 1) */
    double total_variance; /* trace of the covariance */
} pca_model;

/* Principal components of x (n, d) (mean removed). n >= 2. */
int pca_fit(pca_model *p, const double *x, int n, int d, int n_components);
/* out (n, k) = (x - mean) . components[0..k)^T, k <= n_components. */
void pca_project(const pca_model *p, const double *x, int n, int k, double *out);
void pca_free(pca_model *p);

typedef struct {
    int d;        /* inputs */
    int n_out;    /* outputs */
    double *coef; /* (d + 1, n_out): row 0 the intercept, row 1 + j the weight of input j */
} linreg;

/* Least squares with intercept, y (n, n_out) ~ x (n, d), through LAPACK dgelsd
 * (minimum-norm solution when x is rank deficient, e.g. a feature always zero). */
int linreg_fit(linreg *m, const double *x, int n, int d, const double *y, int n_out);
/* yhat (n, n_out). */
void linreg_predict(const linreg *m, const double *x, int n, double *yhat);
void linreg_free(linreg *m);
/* R^2 of the least-squares fit (with intercept) of y (n) on x (n, d): the share of
 * y's variance the columns of x explain, in [0, 1]. NAN when y is constant. */
double analysis_r2(const double *x, int n, int d, const double *y);
/* sqrt(mean over the n * n_out entries of (pred - y)^2), as the training loss. */
double analysis_rmse(const double *pred, const double *y, int n, int n_out);

/* The Table 2 baseline: PCA fitted on the training rows of a dense run's pooled
 * features, a linear regression of the targets on the top k[i] components of the
 * training rows, and its RMSE on the validation rows, for each of the n_k values.
 * x_* (n_*, d), y_* (n_*, n_out); rmse_out (n_k); explained (n_k) the share of the
 * training variance in the top k[i] components, may be NULL. */
int pca_regression_rmse(double *rmse_out, double *explained, const int *k, int n_k,
                        const double *x_train, const double *y_train, int n_train,
                        const double *x_valid, const double *y_valid, int n_valid, int d,
                        int n_out);

/* ---- feature statistics for Table 1 --------------------------------------- */
/* count (d) of rows where each feature is non-zero; order (d) the feature indices,
 * most frequent first (ties: lower index first). Either may be NULL. */
void analysis_feature_counts(int *count, int *order, const double *act, int n, int d);
/* Copies the columns cols[0..m) of x (n, d) into out (n, m). */
void analysis_select_columns(double *out, const double *x, int n, int d, const int *cols, int m);
/* Share of the variance of the predictions b + sum_j w_j A_j (one output) that the
 * features cols[0..m) carry: 1 - var(full - partial) / var(full), where partial keeps
 * only those terms. act (n, d), w (d). NAN when the predictions are constant. */
double analysis_variance_share(const double *act, int n, int d, const double *w, const int *cols,
                               int m);

/* ---- linear SVM (liblinear, L2-regularised L2-loss, dual; bias term 1) ------ */
typedef struct {
    int d;
    double *w;   /* (d) */
    double bias; /* decision = w . x + bias; > 0 predicts label 1 */
} svm_linear;

/* Trains on x (n, d) with labels y (n) in {0, 1}, C the cost (1 as scikit-learn's
 * LinearSVC). SF_ERR when only one label is present. */
int svm_linear_train(svm_linear *m, const double *x, const int *y, int n, int d, double C);
/* The same with a cost per label: errors on label j cost C * class_weight[j] (NULL: 1, 1). */
int svm_linear_train_weighted(svm_linear *m, const double *x, const int *y, int n, int d, double C,
                              const double *class_weight);
/* The same from sparse rows (CSR): row i holds x[i][col[e]] = val[e] for e in
 * start[i] .. start[i + 1), its columns in 0..d-1 ascending; the other entries are 0. */
int svm_linear_train_csr(svm_linear *m, const int64_t *start, const int *col, const double *val,
                         const int *y, int n, int d, double C, const double *class_weight);
/* scikit-learn's class_weight='balanced': w[j] = n / (2 * count of label j), so that each
 * label weighs as much in total (1 for a label that is absent). */
void svm_balanced_weights(const int *y, int n, double w[2]);
int svm_linear_predict(const svm_linear *m, const double *x); /* one row (d) -> 0 or 1 */
/* One sparse row (nnz entries) -> 0 or 1. */
int svm_linear_predict_sparse(const svm_linear *m, const int *col, const double *val, int64_t nnz);
void svm_linear_free(svm_linear *m);

typedef struct {
    int tp, fp, tn, fn;
    double accuracy;  /* (tp + tn) / n */
    double precision; /* tp / (tp + fp), NAN when nothing was predicted positive */
    double recall;    /* tp / (tp + fn), NAN when no positive exists */
    double f1;        /* 2 tp / (2 tp + fp + fn), NAN when tp + fp + fn = 0 */
} binary_scores;

/* truth, pred (n) in {0, 1}; 1 is the positive class (AGN). */
void binary_scores_count(binary_scores *s, const int *truth, const int *pred, int n);

/* ---- suggested labels ----------------------------------------------------- */
typedef struct {
    int column; /* index into the catalogue columns */
    double rho; /* Spearman correlation with the activation */
    int n;      /* pairs used */
} label_match;

/* Spearman correlation of the activation a (n) with every column of cols (n, n_cols)
 * (NAN = missing, skipped pairwise; columns with fewer than 10 pairs are skipped);
 * writes up to max_out matches, strongest |rho| first, and returns how many. */
int label_suggest(label_match *out, int max_out, const double *a, int n, const double *cols,
                  int n_cols);
/* Keeps the matches label_suggest keeps (LABEL_MIN_PAIRS pairs or more, finite rho)
 * and sorts them as it does (strongest |rho| first, then by column); returns how many
 * remain at the front of m. For correlations computed elsewhere (the run database's
 * stored ones). */
#define LABEL_MIN_PAIRS 10
int label_rank(label_match *m, int n);
/* "high [NII]/Halpha (rho 0.71)" or "low true_inclination (rho -0.64)". */
void label_format(char *buf, size_t size, const char *column_name, double rho);
/* A reader's name for a known catalogue column (log_nii_ha -> "[NII]/Halpha",
 * oh_p50 -> "metallicity", lgm_tot_p50 -> "stellar mass" ...), else the name itself. */
const char *label_friendly_name(const char *column_name);

#endif
