/* analysis_run.h: the paper's analyses of a run in the run database.
 *
 * The bridge between the store (include/store.h, which owns every SQL statement)
 * and the pure computations of analysis.h: it reads a run into arrays (split,
 * activations, predictions, catalogue columns), computes Table 1, the accuracy
 * with few features, the correlation matrix, the AGN SVM and the suggested labels,
 * and prints them. `sfnet-explore report`, `pca` and `sweep` are thin callers.
 *
 * Activations: the paper's scaled A = value / max_valid (the feature's maximum over
 * the validation set). Frequencies are over the validation split, as Table 1's
 * f_activated. Functions returning int give SF_OK or SF_ERR with sf_last_error().
 */
#ifndef SF_ANALYSIS_RUN_H
#define SF_ANALYSIS_RUN_H

#include <stdio.h>

#include "analysis.h"
#include "store.h"

typedef struct {
    store_run run;
    store_rows rows; /* every galaxy of the run, ascending galaxy id (no objIDs) */
    int n, d, n_out;
    int n_train, n_valid;
    int *train;              /* (n_train) row indices into rows */
    int *valid;              /* (n_valid) */
    double *pred, *truth;    /* (n, n_out) target units */
    int n_live;              /* features active on at least one galaxy */
    store_feature *features; /* (n_live) most frequent on the validation split first */
    /* A sparse run's activations by row (CSR), read in one scan; NULL for a dense run,
     * whose columns are read one at a time when asked for. */
    int64_t *act_start; /* (n + 1) */
    int *act_feature;   /* (act_start[n]) */
    float *act_value;
} run_data;

int run_data_load(run_data *rd, store *s, const char *run_spec);
void run_data_free(run_data *rd);
/* out (n_idx, m): the activations of features[0..m) on the rows idx[0..n_idx),
 * scaled by each feature's max_valid when scaled != 0 (raw otherwise). */
int run_data_activations(const run_data *rd, store *s, const int *features, int m, const int *idx,
                         int n_idx, int scaled, double *out);
/* out (n_idx, cols) = x[idx[i]] rows of x (?, cols). */
void run_data_gather(double *out, const double *x, int cols, const int *idx, int n_idx);

/* ---- the report ----------------------------------------------------------- */
/* Which AGN SVMs the report prints: both, the paper's (no class weights) or the one
 * with balanced class weights (both are computed). */
typedef enum { SVM_WEIGHTS_BOTH = 0, SVM_WEIGHTS_NONE = 1, SVM_WEIGHTS_BALANCED = 2 } svm_weights;

typedef struct {
    int top;                  /* Table 1 rows (most frequent features), default 8 */
    int min_galaxies;         /* correlation matrix: features active on more validation
                                galaxies than this (the paper: 100) */
    const char *figures_dir;  /* PNGs here when set */
    svm_weights class_weight; /* SVM_WEIGHTS_BOTH */
} report_options;

#define REPORT_MAX_M 4 /* m = 1, 2, 4, 8 */

typedef struct {
    int n_top;                                     /* features in Table 1 */
    int n_m;                                       /* entries of m used (m <= live features) */
    double share[REPORT_MAX_M][STORE_MAX_TARGETS]; /* R^2 of the predictions on the top m */
    double rmse_top[REPORT_MAX_M];                 /* validation RMSE of a refit on the top m */
    double rmse_head[REPORT_MAX_M];                /* the same with the stored head, others zeroed
                                           (query_rmse_with_features) */
    double rmse_model;                             /* the stored predictions' validation RMSE */
    char (*labels)[STORE_LABEL_MAX];               /* (n_top) suggested label, "" when none */
    int n_corr;                                    /* features in the correlation matrix */
    int *corr_features;                            /* (n_corr) */
    double *corr;                  /* (n_corr, n_corr) Pearson of scaled A (validation) */
    int svm_done;                  /* the BPT classes were available */
    int svm_source;                /* BPT_SOURCE_* */
    char svm_why[160];             /* why not, when !svm_done */
    int svm_n_features[2];         /* 4 most frequent, all live */
    binary_scores svm[2];          /* without class weights (the paper's) */
    binary_scores svm_balanced[2]; /* with balanced class weights */
    svm_weights class_weight;      /* which of them report_print shows */
    int svm_n_train, svm_n_agn_train;
} report_result;

int report_compute(report_result *rr, const run_data *rd, store *s, const report_options *opt);
void report_result_free(report_result *rr);
void report_print(FILE *out, const run_data *rd, const report_result *rr);
/* Heat map, activation-vs-target and predicted-vs-true PNGs into dir. */
int report_figures(const char *dir, const run_data *rd, store *s, const report_result *rr);

/* Suggested labels of the features feats[0..m) of a run: Spearman of each one's
 * activation (validation split) with every numeric catalogue column stored, plus
 * log_nii_ha and log_oiii_hb when the four line fluxes are stored; *_err columns
 * and bptclass are left out. The strongest |rho| gives the label; when the catalogue
 * has the synthetic survey's true_* columns and another column won, the best true_*
 * one is added ("high oh_p50 (rho 0.71); latent: low true_inclination (rho -0.52)").
 * labels (m). */
int report_suggest_labels(char (*labels)[STORE_LABEL_MAX], const run_data *rd, store *s,
                          const int *feats, int m);

/* The suggested label of one feature of a run, for the explorer: loads the run and
 * calls report_suggest_labels. out gets "" when no catalogue column qualifies. Reads
 * every catalogue column over the validation galaxies: cache the answer. */
int analysis_feature_suggestion(store *s, int64_t run_id, int feature, char *out, size_t n);

/* ---- latents ------------------------------------------------------------------- */
/* What a run's units track: for a sparse run its n_rows most frequent features (raw
 * activations), for a dense run (k = 0) the n_rows leading principal components of
 * its pooled features (fitted on the training split); Spearman rho of each with every
 * catalogue column whose name starts with prefix ("true_": the synthetic survey's
 * latents; NULL or "": the physical columns the labels use), over the validation
 * split. SF_ERR when no column matches. */
typedef struct {
    int is_pca; /* rows are principal components */
    int n_rows;
    int *row_id;       /* (n_rows) feature index, or component number from 1 */
    double *row_share; /* (n_rows) f_activated, or the share of the variance */
    int n_cols;
    char (*cols)[STORE_NAME_MAX]; /* (n_cols) */
    double *rho;                  /* (n_rows, n_cols), NAN where undefined */
    int n_valid;
} latent_table;

int run_latents(latent_table *t, const run_data *rd, store *s, int n_rows, const char *prefix);
void latent_table_free(latent_table *t);
/* One line per row with its n_best strongest columns; with matrix, every rho too. */
void latent_table_print(FILE *out, const run_data *rd, const latent_table *t, int n_best,
                        int matrix);

/* ---- Table 2 baseline ------------------------------------------------------ */
/* PCA of the dense run's d pooled features on its training rows, regression of the
 * targets on the top k[i] components, validation RMSE. SF_ERR unless run.k == 0. */
int run_pca_rmse(double *rmse, double *explained, const int *k, int n_k, const run_data *rd,
                 store *s);

/* ---- Table 2: the sweep ------------------------------------------------------- */
#define SWEEP_MAX_K 16
#define SWEEP_MAX_SEEDS 16

/* The sweep's run names: "k4s2" (k = 4, seed 2) and "dense" for the k = 0 run. */
void sweep_run_name(char *buf, size_t n, int k, int seed);

typedef struct {
    int n_k;
    int k[SWEEP_MAX_K];
    int n_runs[SWEEP_MAX_K];        /* SFNet runs found for each k */
    double rmse_mean[SWEEP_MAX_K];  /* their validation RMSE: mean */
    double rmse_se[SWEEP_MAX_K];    /* standard error of the mean (NAN with one run) */
    double refit_mean[SWEEP_MAX_K]; /* validation RMSE of a linear refit on each run's
                                       features (training split), mean over runs */
    double refit_se[SWEEP_MAX_K];
    double pca[SWEEP_MAX_K]; /* the dense run's top-k PCA baseline (NAN: no dense run) */
    double explained[SWEEP_MAX_K];
    int have_dense;
    double dense_rmse; /* the dense network itself */
    char target[STORE_NAME_MAX * 4];
} sweep_table;

/* Validation RMSE of a least-squares refit of the targets on all of a run's live
 * features (fitted on its training split): the learned representation judged as the
 * PCA baseline judges the dense one, independent of how far the head converged. */
int run_refit_rmse(const run_data *rd, store *s, double *rmse);

/* Reads the runs k<k>s<seed> (seeds 1..n_seeds) and "dense" from the database and
 * computes the table; missing runs are left out of the means (n_runs says). */
int sweep_collect(sweep_table *t, store *s, const int *k, int n_k, int n_seeds);
void sweep_print(FILE *out, const sweep_table *t);
/* Figure 4: validation RMSE against k, SFNet with error bars and PCA. */
int sweep_figure(const char *path, const sweep_table *t);

/* Parses "2,3,4,6,8" into out[0..*n), at most max_n values, each in lo..hi. */
int analysis_parse_int_list(const char *text, int *out, int max_n, int lo, int hi, int *n);

#endif
