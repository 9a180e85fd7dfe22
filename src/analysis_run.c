/* analysis_run.c: a run of the run database as arrays, and the report's analyses
 * (Table 1, accuracy with few features, correlation matrix, AGN SVM, suggested
 * labels, the PCA baseline, what features and components track). Every read goes
 * through the store API.
 * Layer: analysis. Calls: analysis_* (6), query, store, store_read, sf_util.
 * Called by: cli_latents, cli_pca, cli_report, cli_sweep, tui_app.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis_figures.h"
#include "analysis_run.h"
#include "query.h"
#include "sf_util.h"

static const int report_m[REPORT_MAX_M] = {1, 2, 4, 8};

/* ---- loading -------------------------------------------------------------- */

/* The activations of every row in one pass (store_run_sparse). */
static int load_sparse(run_data *rd, store *s) {
    rd->act_start = xmalloc(((size_t)rd->n + 1) * sizeof *rd->act_start);
    return store_run_sparse(s, rd->run.id, &rd->rows, rd->act_start, &rd->act_feature,
                            &rd->act_value);
}

int run_data_load(run_data *rd, store *s, const char *run_spec) {
    memset(rd, 0, sizeof *rd);
    if (store_run_find(s, run_spec, &rd->run) != SF_OK) return SF_ERR;
    if (store_run_rows_ids(s, rd->run.id, &rd->rows) != SF_OK) goto fail;
    rd->n = rd->rows.n;
    rd->d = rd->run.d;
    rd->n_out = rd->run.n_out;
    if (rd->n == 0) {
        sf_fail("run %s has no galaxies", rd->run.prefix);
        goto fail;
    }
    rd->train = xmalloc(sizeof(int) * (size_t)rd->n);
    rd->valid = xmalloc(sizeof(int) * (size_t)rd->n);
    for (int i = 0; i < rd->n; i++) {
        if (rd->rows.split[i]) rd->valid[rd->n_valid++] = i;
        else rd->train[rd->n_train++] = i;
    }
    size_t no = (size_t)rd->n * (size_t)rd->n_out;
    float *pf = xmalloc(sizeof(float) * no), *tf = xmalloc(sizeof(float) * no);
    int rc = store_run_predictions(s, rd->run.id, &rd->rows, rd->n_out, pf, tf);
    rd->pred = xmalloc(sizeof(double) * no);
    rd->truth = xmalloc(sizeof(double) * no);
    for (size_t i = 0; i < no; i++) rd->pred[i] = pf[i], rd->truth[i] = tf[i];
    free(pf);
    free(tf);
    if (rc != SF_OK) goto fail;
    if (store_features(s, rd->run.id, STORE_SORT_FREQUENCY, 0, &rd->features, &rd->n_live) != SF_OK)
        goto fail;
    if (rd->run.k > 0 && load_sparse(rd, s) != SF_OK) goto fail;
    return SF_OK;
fail:
    run_data_free(rd);
    return SF_ERR;
}

void run_data_free(run_data *rd) {
    store_run_clear(&rd->run);
    store_rows_clear(&rd->rows);
    free(rd->train);
    free(rd->valid);
    free(rd->pred);
    free(rd->truth);
    free(rd->features);
    free(rd->act_start);
    free(rd->act_feature);
    free(rd->act_value);
    memset(rd, 0, sizeof *rd);
}

/* The rows idx[0..n) of rd->rows as a store_rows of their own (ascending ids kept). */
static void subset_rows(store_rows *sub, const store_rows *rows, const int *idx, int n) {
    size_t cap = (size_t)(n > 0 ? n : 1);
    sub->n = n;
    sub->galaxy_id = xmalloc(cap * sizeof *sub->galaxy_id);
    sub->objid = rows->objid ? xmalloc(cap * sizeof *sub->objid) : NULL;
    sub->split = xmalloc(cap);
    for (int i = 0; i < n; i++) {
        sub->galaxy_id[i] = rows->galaxy_id[idx[i]];
        if (rows->objid) memcpy(sub->objid[i], rows->objid[idx[i]], STORE_OBJID_MAX);
        sub->split[i] = rows->split[idx[i]];
    }
}

static const store_feature *live_feature(const run_data *rd, int feature) {
    for (int j = 0; j < rd->n_live; j++)
        if (rd->features[j].feature == feature) return &rd->features[j];
    return NULL;
}

/* For a sparse run's CSR rows: col (d) the column among features[0..m) of each feature
 * (-1: not wanted, or dead), scale (m) 1 / max_valid of each when scaled, else 1. */
static void wanted_columns(const run_data *rd, const int *features, int m, int scaled, int **col,
                           double **scale) {
    *col = xmalloc(sizeof(int) * (size_t)(rd->d > 0 ? rd->d : 1));
    *scale = xmalloc(sizeof(double) * (size_t)(m > 0 ? m : 1));
    for (int f = 0; f < rd->d; f++) (*col)[f] = -1;
    for (int j = 0; j < m; j++) {
        const store_feature *f = live_feature(rd, features[j]);
        if (f && features[j] >= 0 && features[j] < rd->d) (*col)[features[j]] = j;
        (*scale)[j] = f && scaled && f->max_valid > 0 ? 1.0 / f->max_valid : 1.0;
    }
}

int run_data_activations(const run_data *rd, store *s, const int *features, int m, const int *idx,
                         int n_idx, int scaled, double *out) {
    if (rd->act_start) {
        int *col;
        double *scale;
        wanted_columns(rd, features, m, scaled, &col, &scale);
        memset(out, 0, sizeof(double) * (size_t)n_idx * (size_t)m);
        for (int i = 0; i < n_idx; i++) {
            int r = idx[i];
            for (int64_t e = rd->act_start[r]; e < rd->act_start[r + 1]; e++) {
                int j = col[rd->act_feature[e]];
                if (j >= 0) out[(size_t)i * (size_t)m + (size_t)j] = rd->act_value[e] * scale[j];
            }
        }
        free(col);
        free(scale);
        return SF_OK;
    }
    store_rows sub;
    subset_rows(&sub, &rd->rows, idx, n_idx);
    float *col = xmalloc(sizeof(float) * (size_t)(n_idx > 0 ? n_idx : 1));
    int rc = SF_OK;
    for (int j = 0; j < m && rc == SF_OK; j++) {
        const store_feature *f = live_feature(rd, features[j]);
        if (!f) { /* dead: zero everywhere */
            for (int i = 0; i < n_idx; i++) out[(size_t)i * (size_t)m + (size_t)j] = 0;
            continue;
        }
        rc = store_run_feature_column(s, rd->run.id, &sub, features[j], col);
        double scale = scaled && f->max_valid > 0 ? 1.0 / f->max_valid : 1.0;
        for (int i = 0; i < n_idx; i++) out[(size_t)i * (size_t)m + (size_t)j] = col[i] * scale;
    }
    free(col);
    store_rows_clear(&sub);
    return rc;
}

void run_data_gather(double *out, const double *x, int cols, const int *idx, int n_idx) {
    for (int i = 0; i < n_idx; i++)
        memcpy(out + (size_t)i * (size_t)cols, x + (size_t)idx[i] * (size_t)cols,
               sizeof(double) * (size_t)cols);
}

/* ---- suggested labels ----------------------------------------------------- */

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Catalogue columns worth naming a feature after: physical quantities, not
 * errors, positions or class codes. */
static int label_column_wanted(const char *name) {
    return !ends_with(name, "_err") && strcmp(name, "bptclass") && strcmp(name, "ra") &&
           strcmp(name, "dec") && strcmp(name, "objID");
}

/* The suggested label of one feature from the run's stored Spearman correlations
 * with the catalogue columns (store.h's summaries): the strongest wanted column, and on
 * the synthetic survey the true latent factor it tracks best. "" when none qualifies. */
static int suggest_label(store *s, int64_t run_id, int feature, char *label, size_t size) {
    label[0] = '\0';
    store_column_rho *rho = NULL;
    int n = 0;
    if (store_feature_columns(s, run_id, feature, &rho, &n) != SF_OK) return SF_ERR;
    label_match *match = xmalloc(sizeof(label_match) * (size_t)(n > 0 ? n : 1));
    int m = 0;
    for (int c = 0; c < n; c++)
        if (label_column_wanted(rho[c].name))
            match[m++] = (label_match){c, rho[c].rho, rho[c].n_pairs};
    m = label_rank(match, m);
    if (m > 0) label_format(label, size, rho[match[0].column].name, match[0].rho);
    for (int q = 0; q < m; q++) {
        if (strncmp(rho[match[q].column].name, "true_", 5)) continue;
        if (q > 0) {
            char latent[STORE_LABEL_MAX / 2];
            size_t used = strlen(label);
            label_format(latent, sizeof latent, rho[match[q].column].name, match[q].rho);
            snprintf(label + used, size - used, "; latent: %s", latent);
        }
        break;
    }
    free(match);
    free(rho);
    return SF_OK;
}

int report_suggest_labels(char (*labels)[STORE_LABEL_MAX], const run_data *rd, store *s,
                          const int *feats, int m) {
    for (int j = 0; j < m; j++) labels[j][0] = '\0';
    for (int j = 0; j < m; j++)
        if (suggest_label(s, rd->run.id, feats[j], labels[j], STORE_LABEL_MAX) != SF_OK)
            return SF_ERR;
    return SF_OK;
}

/* ---- the AGN SVM ------------------------------------------------------------- */

/* BPT classes of every row of the run from the stored catalogue columns, through a
 * catalogue made in memory with just the columns bpt_classify_catalog reads. */
static int run_bpt_classes(bpt_class *cls, int *source, const run_data *rd, store *s) {
    static const char *wanted[] = {"nii_6584_flux",    "nii_6584_flux_err", "h_alpha_flux",
                                   "h_alpha_flux_err", "oiii_5007_flux",    "oiii_5007_flux_err",
                                   "h_beta_flux",      "h_beta_flux_err",   "bptclass"};
    enum { N_WANTED = sizeof wanted / sizeof wanted[0] };
    char(*names)[STORE_NAME_MAX] = NULL;
    int n_names = 0;
    if (store_catalog_columns(s, &names, &n_names) != SF_OK) return SF_ERR;
    catalog cat = {0};
    cat.path = "the run database's catalogue";
    cat.n_rows = rd->n;
    cat.col_names = xmalloc(sizeof(char *) * N_WANTED);
    cat.values = xmalloc(sizeof(double) * (size_t)rd->n * N_WANTED);
    double *col = xmalloc(sizeof(double) * (size_t)rd->n);
    int rc = SF_OK;
    for (int w = 0; w < (int)N_WANTED && rc == SF_OK; w++) {
        int found = 0;
        for (int c = 0; c < n_names; c++) found |= !strcmp(names[c], wanted[w]);
        if (!found) continue;
        rc = store_catalog_values(s, &rd->rows, wanted[w], col);
        cat.col_names[cat.n_cols] = (char *)wanted[w];
        for (int i = 0; i < rd->n; i++)
            cat.values[(size_t)i * N_WANTED + (size_t)cat.n_cols] = col[i];
        cat.n_cols++;
    }
    /* catalog_value() indexes with n_cols as the stride: repack. */
    for (int i = 0; i < rd->n; i++)
        memmove(cat.values + (size_t)i * (size_t)cat.n_cols, cat.values + (size_t)i * N_WANTED,
                sizeof(double) * (size_t)cat.n_cols);
    bpt_result *res = xmalloc(sizeof(bpt_result) * (size_t)rd->n);
    if (rc == SF_OK) rc = bpt_classify_catalog(res, source, &cat, 1);
    if (rc == SF_OK)
        for (int i = 0; i < rd->n; i++) cls[i] = res[i].cls;
    free(res);
    free(col);
    free(cat.values);
    free(cat.col_names);
    free(names);
    return rc;
}

/* The activations of features[0..m) on the rows idx[0..n_idx) of a sparse run, scaled by
 * each feature's max_valid, as sparse rows (CSR) over columns 0..m-1: what
 * run_data_activations gives as a dense matrix, without its zeros. */
typedef struct {
    int64_t *start; /* (n + 1) */
    int *col;
    double *val;
} sparse_rows;

static void run_data_sparse(sparse_rows *out, const run_data *rd, const int *features, int m,
                            const int *idx, int n_idx) {
    int *col_of;
    double *scale;
    wanted_columns(rd, features, m, 1, &col_of, &scale);
    int64_t nnz = 0;
    for (int i = 0; i < n_idx; i++) nnz += rd->act_start[idx[i] + 1] - rd->act_start[idx[i]];
    out->start = xmalloc(sizeof(int64_t) * ((size_t)n_idx + 1));
    out->col = xmalloc(sizeof(int) * (size_t)(nnz > 0 ? nnz : 1));
    out->val = xmalloc(sizeof(double) * (size_t)(nnz > 0 ? nnz : 1));
    int64_t e = 0;
    for (int i = 0; i < n_idx; i++) {
        out->start[i] = e;
        int r = idx[i];
        for (int64_t a = rd->act_start[r]; a < rd->act_start[r + 1]; a++) {
            int j = col_of[rd->act_feature[a]];
            if (j < 0 || rd->act_value[a] == 0) continue;
            /* in column order (a galaxy has a few) */
            int64_t at = e++;
            while (at > out->start[i] && out->col[at - 1] > j) {
                out->col[at] = out->col[at - 1];
                out->val[at] = out->val[at - 1];
                at--;
            }
            out->col[at] = j;
            out->val[at] = rd->act_value[a] * scale[j];
        }
    }
    out->start[n_idx] = e;
    free(col_of);
    free(scale);
}

static void sparse_rows_free(sparse_rows *r) {
    free(r->start);
    free(r->col);
    free(r->val);
}

/* Trains on the training rows with a class, scores on the validation rows with one:
 * sc[0] with equal class weights, sc[1] with balanced ones. A sparse run's rows go to
 * the SVM as they are stored (a few features each), a dense run's as a matrix. */
static int svm_on_features(binary_scores sc[2], int *n_train, int *n_agn, const run_data *rd,
                           store *s, const bpt_class *cls, const int *feats, int m) {
    int *tr = xmalloc(sizeof(int) * (size_t)rd->n), *va = xmalloc(sizeof(int) * (size_t)rd->n);
    int nt = 0, nv = 0;
    for (int i = 0; i < rd->n_train; i++)
        if (cls[rd->train[i]] != BPT_NONE) tr[nt++] = rd->train[i];
    for (int i = 0; i < rd->n_valid; i++)
        if (cls[rd->valid[i]] != BPT_NONE) va[nv++] = rd->valid[i];
    int *yt = xmalloc(sizeof(int) * (size_t)(nt > 0 ? nt : 1));
    int *yv = xmalloc(sizeof(int) * (size_t)(nv > 0 ? nv : 1));
    int *pv = xmalloc(sizeof(int) * (size_t)(nv > 0 ? nv : 1));
    *n_agn = 0;
    for (int i = 0; i < nt; i++) *n_agn += yt[i] = cls[tr[i]] == BPT_AGN;
    for (int i = 0; i < nv; i++) yv[i] = cls[va[i]] == BPT_AGN;
    *n_train = nt;
    sparse_rows st = {0}, sv = {0};
    double *xt = NULL, *xv = NULL;
    int rc = SF_OK;
    if (rd->act_start) {
        run_data_sparse(&st, rd, feats, m, tr, nt);
        run_data_sparse(&sv, rd, feats, m, va, nv);
    } else {
        xt = xmalloc(sizeof(double) * (size_t)(nt > 0 ? nt : 1) * (size_t)m);
        xv = xmalloc(sizeof(double) * (size_t)(nv > 0 ? nv : 1) * (size_t)m);
        rc = run_data_activations(rd, s, feats, m, tr, nt, 1, xt);
        if (rc == SF_OK) rc = run_data_activations(rd, s, feats, m, va, nv, 1, xv);
    }
    if (rc == SF_OK && nv == 0) rc = sf_fail("no validation galaxy has a BPT class");
    double balanced[2];
    svm_balanced_weights(yt, nt, balanced);
    for (int w = 0; w < 2 && rc == SF_OK; w++) {
        svm_linear model;
        const double *cw = w ? balanced : NULL;
        rc = xt ? svm_linear_train_weighted(&model, xt, yt, nt, m, 1.0, cw)
                : svm_linear_train_csr(&model, st.start, st.col, st.val, yt, nt, m, 1.0, cw);
        if (rc != SF_OK) break;
        for (int i = 0; i < nv; i++)
            pv[i] =
                xv ? svm_linear_predict(&model, xv + (size_t)i * (size_t)m)
                   : svm_linear_predict_sparse(&model, sv.col + sv.start[i], sv.val + sv.start[i],
                                               sv.start[i + 1] - sv.start[i]);
        binary_scores_count(&sc[w], yv, pv, nv);
        svm_linear_free(&model);
    }
    sparse_rows_free(&st);
    sparse_rows_free(&sv);
    free(tr), free(va), free(xt), free(xv), free(yt), free(yv), free(pv);
    return rc;
}

/* ---- the report -------------------------------------------------------------- */

/* Pearson r of the activations over the n validation galaxies from sums S, Q = sum a^2
 * and C = sum a_i a_j: NAN for fewer than 3 galaxies or a feature constant there, as
 * analysis_pearson gives it (a variance lost to rounding counts as constant). */
static double valid_pearson(double n, const store_feature_sums *a, const store_feature_sums *b,
                            double cross) {
    if (n < 3) return NAN;
    double va = n * a->sum_sq_valid - a->sum_valid * a->sum_valid;
    double vb = n * b->sum_sq_valid - b->sum_valid * b->sum_valid;
    if (!(va > 1e-12 * n * a->sum_sq_valid) || !(vb > 1e-12 * n * b->sum_sq_valid)) return NAN;
    double r = (n * cross - a->sum_valid * b->sum_valid) / sqrt(va * vb);
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

/* out (m, m): the correlation matrix of feats over the validation galaxies, diagonal 1
 * (NAN for a constant feature), as analysis_corr_matrix computes it from the arrays. */
static int valid_correlations(double *out, store *s, const run_data *rd, const int *feats, int m) {
    int d = rd->d;
    store_feature_sums *sums = xcalloc((size_t)d, sizeof *sums);
    double *cross = xcalloc((size_t)d, sizeof *cross);
    int rc = store_run_feature_sums(s, rd->run.id, d, sums);
    for (int a = 0; a < m && rc == SF_OK; a++) {
        store_pair *p = NULL;
        int np = 0;
        rc = store_feature_pairs(s, rd->run.id, feats[a], &p, &np);
        if (rc != SF_OK) break;
        memset(cross, 0, (size_t)d * sizeof *cross);
        for (int q = 0; q < np; q++)
            if (p[q].other >= 0 && p[q].other < d) cross[p[q].other] = p[q].cross_valid;
        free(p);
        const store_feature_sums *fa = &sums[feats[a]];
        for (int b = 0; b < m; b++) {
            double r = b == a ? valid_pearson(rd->n_valid, fa, fa, fa->sum_sq_valid)
                              : valid_pearson(rd->n_valid, fa, &sums[feats[b]], cross[feats[b]]);
            out[(size_t)a * m + b] = b == a && isfinite(r) ? 1 : r;
        }
    }
    free(cross);
    free(sums);
    return rc;
}

int report_compute(report_result *rr, const run_data *rd, store *s, const report_options *opt) {
    memset(rr, 0, sizeof *rr);
    rr->class_weight = opt->class_weight;
    int nl = rd->n_live, nv = rd->n_valid, nt = rd->n_train, no = rd->n_out;
    rr->n_top = opt->top < nl ? opt->top : nl;
    int *live = xmalloc(sizeof(int) * (size_t)(nl > 0 ? nl : 1));
    for (int j = 0; j < nl; j++) live[j] = rd->features[j].feature;
    double *yv = xmalloc(sizeof(double) * (size_t)(nv > 0 ? nv : 1) * (size_t)no);
    double *pv = xmalloc(sizeof(double) * (size_t)(nv > 0 ? nv : 1) * (size_t)no);
    double *yt = xmalloc(sizeof(double) * (size_t)(nt > 0 ? nt : 1) * (size_t)no);
    run_data_gather(yv, rd->truth, no, rd->valid, nv);
    run_data_gather(pv, rd->pred, no, rd->valid, nv);
    run_data_gather(yt, rd->truth, no, rd->train, nt);
    rr->rmse_model = analysis_rmse(pv, yv, nv, no);
    /* the top 8 features' activations (the refits and shares); the rest comes from the
     * run's stored summaries */
    int na = nl < 8 ? nl : 8;
    double *act_v = xmalloc(sizeof(double) * (size_t)(nv > 0 ? nv : 1) * (size_t)(na > 0 ? na : 1));
    double *act_t = xmalloc(sizeof(double) * (size_t)(nt > 0 ? nt : 1) * (size_t)(na > 0 ? na : 1));
    int rc = run_data_activations(rd, s, live, na, rd->valid, nv, 0, act_v);
    if (rc == SF_OK) rc = run_data_activations(rd, s, live, na, rd->train, nt, 0, act_t);

    /* Variance share and refits on the top m (features are sorted by frequency, so
     * the top m are the columns 0..m-1). The share is the R^2 of the predictions on
     * the top m activations: dropping terms instead (1 - var(rest) / var(all)) goes
     * far below zero when frequent features cancel each other, as they often do. */
    int first[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    double *pred_t = xmalloc(sizeof(double) * (size_t)(nv > 0 ? nv : 1));
    for (int mi = 0; mi < REPORT_MAX_M && rc == SF_OK; mi++) {
        int m = report_m[mi];
        if (m > nl) break;
        rr->n_m = mi + 1;
        double *xt = xmalloc(sizeof(double) * (size_t)(nt > 0 ? nt : 1) * (size_t)m);
        double *xv = xmalloc(sizeof(double) * (size_t)(nv > 0 ? nv : 1) * (size_t)m);
        analysis_select_columns(xt, act_t, nt, na, first, m);
        analysis_select_columns(xv, act_v, nv, na, first, m);
        for (int t = 0; t < no; t++) {
            for (int i = 0; i < nv; i++) pred_t[i] = pv[(size_t)i * (size_t)no + (size_t)t];
            rr->share[mi][t] = analysis_r2(xv, nv, m, pred_t);
        }
        linreg lr;
        rc = linreg_fit(&lr, xt, nt, m, yt, no);
        if (rc == SF_OK) {
            double *p = xmalloc(sizeof(double) * (size_t)(nv > 0 ? nv : 1) * (size_t)no);
            linreg_predict(&lr, xv, nv, p);
            rr->rmse_top[mi] = analysis_rmse(p, yv, nv, no);
            free(p);
            linreg_free(&lr);
        }
        free(xt);
        free(xv);
        if (rc == SF_OK) rc = query_rmse_top(s, rd->run.id, m, &rr->rmse_head[mi], NULL);
    }
    free(pred_t);

    /* Correlation matrix of the features active on more than min_galaxies: Pearson over
     * the validation galaxies of the activations (scaling by max_valid leaves it as it
     * is), from the sums stored with the run. */
    if (rc == SF_OK) {
        rr->corr_features = xmalloc(sizeof(int) * (size_t)(nl > 0 ? nl : 1));
        for (int j = 0; j < nl; j++)
            if (rd->features[j].n_active_valid > opt->min_galaxies)
                rr->corr_features[rr->n_corr++] = rd->features[j].feature;
        if (rr->n_corr > 0) {
            rr->corr = xmalloc(sizeof(double) * (size_t)rr->n_corr * (size_t)rr->n_corr);
            rc = valid_correlations(rr->corr, s, rd, rr->corr_features, rr->n_corr);
        }
    }
    free(act_v);
    free(act_t);

    rr->labels = xcalloc((size_t)(rr->n_top > 0 ? rr->n_top : 1), sizeof *rr->labels);
    if (rc == SF_OK) rc = report_suggest_labels(rr->labels, rd, s, live, rr->n_top);

    if (rc == SF_OK && nl > 0) {
        bpt_class *cls = xmalloc(sizeof(bpt_class) * (size_t)rd->n);
        if (run_bpt_classes(cls, &rr->svm_source, rd, s) != SF_OK) {
            snprintf(rr->svm_why, sizeof rr->svm_why, "%s", sf_last_error());
        } else {
            rr->svm_n_features[0] = nl < 4 ? nl : 4;
            rr->svm_n_features[1] = nl;
            int ok = 1;
            for (int v = 0; v < 2 && ok; v++) {
                binary_scores both[2];
                memset(both, 0, sizeof both);
                if (svm_on_features(both, &rr->svm_n_train, &rr->svm_n_agn_train, rd, s, cls, live,
                                    rr->svm_n_features[v]) != SF_OK) {
                    snprintf(rr->svm_why, sizeof rr->svm_why, "%s", sf_last_error());
                    ok = 0;
                }
                rr->svm[v] = both[0];
                rr->svm_balanced[v] = both[1];
            }
            rr->svm_done = ok;
        }
        free(cls);
    }
    free(live);
    free(yv);
    free(pv);
    free(yt);
    if (rc != SF_OK) report_result_free(rr);
    return rc;
}

void report_result_free(report_result *rr) {
    free(rr->labels);
    free(rr->corr_features);
    free(rr->corr);
    memset(rr, 0, sizeof *rr);
}

void report_print(FILE *out, const run_data *rd, const report_result *rr) {
    const store_run *r = &rd->run;
    fprintf(
        out,
        "Run %s (id %lld): %s, %d output%s, k = %d%s, d = %d, %d galaxies (%d train, %d valid)\n",
        r->prefix, (long long)r->id, sf_shown(r->target_spec), r->n_out, r->n_out == 1 ? "" : "s",
        r->k, r->k == 0 ? " (dense)" : "", r->d, rd->n, rd->n_train, rd->n_valid);
    fprintf(out, "Validation RMSE of the model: %.4f\n", rr->rmse_model);
    fprintf(out, "Features active on some galaxy: %d of %d\n\n", rd->n_live, rd->d);

    fprintf(out, "Table 1: the %d most frequent features (validation split)\n", rr->n_top);
    fprintf(out, "%-10s %7s %6s", "feature", "f_act", "count");
    for (int t = 0; t < rd->n_out; t++)
        fprintf(out, "  %14.14s %8s", sf_shown(r->target_names[t]), "weight");
    fprintf(out, "  label\n");
    for (int j = 0; j < rr->n_top; j++) {
        const store_feature *f = &rd->features[j];
        char name[40];
        snprintf(name, sizeof name, "%s %d", r->prefix, f->feature);
        fprintf(out, "%-10s %6.1f%% %6d", name, 100 * f->f_activated, f->n_active_valid);
        for (int t = 0; t < rd->n_out; t++) {
            double std = r->target_std[t] > 0 ? r->target_std[t] : 1;
            fprintf(out, "  %+14.3f %+8.4f", f->pearson[t], f->weight[t] * f->max_valid * std);
        }
        if (f->label[0]) fprintf(out, "  %s", sf_shown(f->label));
        if (rr->labels[j][0])
            fprintf(out, "%s%s%s",
                    f->label[0] ? " (suggested: " : "  suggested: ", sf_shown(rr->labels[j]),
                    f->label[0] ? ")" : "");
        fputc('\n', out);
    }
    fprintf(out,
            "(per target: Pearson r of the scaled activation A with the target, and the head's\n"
            " weight per unit of A in target units)\n\n");

    fprintf(out, "Share of the variance of the predictions explained by the top m features\n"
                 "(R^2 of a linear fit of the predictions on their activations, validation)\n");
    fprintf(out, "%4s", "m");
    for (int t = 0; t < rd->n_out; t++) fprintf(out, " %14.14s", sf_shown(r->target_names[t]));
    fputc('\n', out);
    for (int mi = 0; mi < rr->n_m; mi++) {
        fprintf(out, "%4d", report_m[mi]);
        for (int t = 0; t < rd->n_out; t++) fprintf(out, " %14.3f", rr->share[mi][t]);
        fputc('\n', out);
    }
    fprintf(out,
            "\nValidation RMSE using only the top m features: a linear fit on them (fitted on\n"
            "the training split), and the stored head with every other feature zeroed\n");
    fprintf(out, "%4s %10s %10s\n", "m", "refit", "head");
    for (int mi = 0; mi < rr->n_m; mi++)
        fprintf(out, "%4d %10.4f %10.4f\n", report_m[mi], rr->rmse_top[mi], rr->rmse_head[mi]);
    fprintf(out, "%4s %10.4f %10.4f  (the model, all features)\n\n", "all", rr->rmse_model,
            rr->rmse_model);

    if (rr->n_corr == 0) {
        fprintf(out, "Correlation matrix: no feature is active on enough validation galaxies\n\n");
    } else {
        fprintf(out,
                "Correlation matrix (Pearson of scaled activations, validation) of the %d "
                "features active on enough galaxies\n%-10s",
                rr->n_corr, "");
        for (int b = 0; b < rr->n_corr; b++) {
            char name[40];
            snprintf(name, sizeof name, "%s %d", r->prefix, rr->corr_features[b]);
            fprintf(out, " %8.8s", name);
        }
        fputc('\n', out);
        for (int a = 0; a < rr->n_corr; a++) {
            char name[40];
            snprintf(name, sizeof name, "%s %d", r->prefix, rr->corr_features[a]);
            fprintf(out, "%-10s", name);
            for (int b = 0; b < rr->n_corr; b++)
                fprintf(out, " %8.2f", rr->corr[(size_t)a * (size_t)rr->n_corr + (size_t)b]);
            fputc('\n', out);
        }
        fputc('\n', out);
    }

    if (!rr->svm_done) {
        fprintf(out, "AGN classification: not done: %s\n", rr->svm_why);
        return;
    }
    fprintf(out,
            "AGN classification (linear SVM, liblinear, C = 1; AGN against star-forming and\n"
            "composite; BPT classes from %s; %d training galaxies with a class, %d AGN;\n"
            "class weights: none, as the paper, or balanced, n / (2 n_class) per class)\n",
            rr->svm_source == BPT_SOURCE_BPTCLASS ? "the catalogue's bptclass" : "the line ratios",
            rr->svm_n_train, rr->svm_n_agn_train);
    fprintf(out, "%-18s %8s %-9s %9s %6s %9s %6s %6s %6s %6s %6s\n", "features", "n", "weights",
            "accuracy", "F1", "precision", "recall", "tp", "fp", "tn", "fn");
    static const char *what[2] = {"4 most frequent", "all non-zero"};
    for (int v = 0; v < 2; v++)
        for (int w = 0; w < 2; w++) {
            if ((w == 0 && rr->class_weight == SVM_WEIGHTS_BALANCED) ||
                (w == 1 && rr->class_weight == SVM_WEIGHTS_NONE))
                continue;
            const binary_scores *b = w ? &rr->svm_balanced[v] : &rr->svm[v];
            char prec[16]; /* "-" when no galaxy was called an AGN */
            if (isnan(b->precision)) snprintf(prec, sizeof prec, "-");
            else snprintf(prec, sizeof prec, "%.3f", b->precision);
            fprintf(out, "%-18s %8d %-9s %9.3f %6.3f %9s %6.3f %6d %6d %6d %6d\n", what[v],
                    rr->svm_n_features[v], w ? "balanced" : "none", b->accuracy, b->f1, prec,
                    b->recall, b->tp, b->fp, b->tn, b->fn);
        }
}

/* "log_h_alpha_flux" stays; anything but letters, digits, '-' and '_' becomes '_'. */
static void file_safe(char *dst, size_t n, const char *src) {
    size_t i = 0;
    for (; src[i] && i + 1 < n; i++) {
        char c = src[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_';
        dst[i] = ok ? c : '_';
    }
    dst[i] = '\0';
}

int report_figures(const char *dir, const run_data *rd, store *s, const report_result *rr) {
    if (mkdir(dir, 0777) != 0) {
        struct stat st;
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
            return sf_fail("cannot create the figure directory %s", dir);
    }
    const store_run *r = &rd->run;
    char prefix[STORE_PREFIX_MAX], path[4096], title[160], xl[96];
    file_safe(prefix, sizeof prefix, r->prefix);
    int rc = SF_OK;
    if (rr->n_corr > 0) {
        char(*names)[32] = xmalloc(sizeof *names * (size_t)rr->n_corr);
        const char **labels = xmalloc(sizeof(char *) * (size_t)rr->n_corr);
        for (int a = 0; a < rr->n_corr; a++) {
            snprintf(names[a], sizeof names[a], "%s %d", r->prefix, rr->corr_features[a]);
            labels[a] = names[a];
        }
        snprintf(path, sizeof path, "%s/%s_correlations.png", dir, prefix);
        snprintf(title, sizeof title, "%s: correlations of frequent features", r->prefix);
        rc = figure_heatmap(path, rr->corr, rr->n_corr, labels, title);
        free(names);
        free(labels);
    }
    int nv = rd->n_valid, no = rd->n_out;
    double *a = xmalloc(sizeof(double) * (size_t)(nv > 0 ? nv : 1));
    double *y = xmalloc(sizeof(double) * (size_t)(nv > 0 ? nv : 1));
    double *p = xmalloc(sizeof(double) * (size_t)(nv > 0 ? nv : 1));
    int n_feat = rr->n_top < 4 ? rr->n_top : 4;
    for (int j = 0; j < n_feat && rc == SF_OK; j++) {
        int feat = rd->features[j].feature;
        rc = run_data_activations(rd, s, &feat, 1, rd->valid, nv, 1, a);
        for (int t = 0; t < no && rc == SF_OK; t++) {
            char tname[STORE_NAME_MAX];
            file_safe(tname, sizeof tname, r->target_names[t]);
            for (int i = 0; i < nv; i++)
                y[i] = rd->truth[(size_t)rd->valid[i] * (size_t)no + (size_t)t];
            snprintf(path, sizeof path, "%s/%s_%d_%s.png", dir, prefix, feat, tname);
            snprintf(title, sizeof title, "%s %d against %s (validation)", r->prefix, feat,
                     r->target_names[t]);
            snprintf(xl, sizeof xl, "scaled activation A (%s %d)", r->prefix, feat);
            rc = figure_scatter(path, a, y, a, nv, xl, r->target_names[t], title, 0);
        }
    }
    for (int t = 0; t < no && rc == SF_OK; t++) {
        char tname[STORE_NAME_MAX];
        file_safe(tname, sizeof tname, r->target_names[t]);
        for (int i = 0; i < nv; i++) {
            y[i] = rd->truth[(size_t)rd->valid[i] * (size_t)no + (size_t)t];
            p[i] = rd->pred[(size_t)rd->valid[i] * (size_t)no + (size_t)t];
        }
        snprintf(path, sizeof path, "%s/%s_predicted_%s.png", dir, prefix, tname);
        snprintf(title, sizeof title, "%s: predicted against true %s (validation)", r->prefix,
                 r->target_names[t]);
        snprintf(xl, sizeof xl, "true %s", r->target_names[t]);
        rc = figure_scatter(path, y, p, NULL, nv, xl, "predicted", title, 1);
    }
    free(a);
    free(y);
    free(p);
    return rc;
}

/* ---- the PCA baseline ----------------------------------------------------------- */

int run_pca_rmse(double *rmse, double *explained, const int *k, int n_k, const run_data *rd,
                 store *s) {
    if (rd->run.k != 0)
        return sf_fail(
            "run %s has k = %d: the PCA baseline needs a dense run (trained with --k 0), "
            "whose %d pooled features are all stored",
            rd->run.prefix, rd->run.k, rd->d);
    int nt = rd->n_train, nv = rd->n_valid, d = rd->d, no = rd->n_out;
    if (nt < 2 || nv < 1)
        return sf_fail("run %s: the PCA baseline needs training and validation galaxies",
                       rd->run.prefix);
    double *x[2];
    const int *idx[2] = {rd->train, rd->valid};
    int n[2] = {nt, nv}, rc = SF_OK;
    for (int p = 0; p < 2; p++) {
        store_rows sub;
        subset_rows(&sub, &rd->rows, idx[p], n[p]);
        float *f = xmalloc(sizeof(float) * (size_t)n[p] * (size_t)d);
        if (rc == SF_OK) rc = store_run_dense(s, rd->run.id, &sub, d, f);
        x[p] = xmalloc(sizeof(double) * (size_t)n[p] * (size_t)d);
        for (size_t i = 0; i < (size_t)n[p] * (size_t)d; i++) x[p][i] = f[i];
        free(f);
        store_rows_clear(&sub);
    }
    double *yt = xmalloc(sizeof(double) * (size_t)nt * (size_t)no);
    double *yv = xmalloc(sizeof(double) * (size_t)nv * (size_t)no);
    run_data_gather(yt, rd->truth, no, rd->train, nt);
    run_data_gather(yv, rd->truth, no, rd->valid, nv);
    if (rc == SF_OK)
        rc = pca_regression_rmse(rmse, explained, k, n_k, x[0], yt, nt, x[1], yv, nv, d, no);
    free(x[0]);
    free(x[1]);
    free(yt);
    free(yv);
    return rc;
}

int analysis_parse_int_list(const char *text, int *out, int max_n, int lo, int hi, int *n) {
    *n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ','))
            return sf_fail("'%s' is not a comma-separated list of integers", text);
        if (v < lo || v > hi) return sf_fail("%ld in '%s' is outside %d..%d", v, text, lo, hi);
        if (*n == max_n) return sf_fail("'%s' has more than %d values", text, max_n);
        out[(*n)++] = (int)v;
        p = *end ? end + 1 : end;
    }
    if (*n == 0) return sf_fail("empty list");
    return SF_OK;
}

/* ---- Table 2 ------------------------------------------------------------------- */

void sweep_run_name(char *buf, size_t n, int k, int seed) {
    if (k == 0) snprintf(buf, n, "dense");
    else snprintf(buf, n, "k%ds%d", k, seed);
}

/* The run named exactly name, or 0 (not there) / SF_ERR. */
static int find_named_run(store *s, const char *name, store_run *out) {
    store_run *runs;
    int n;
    if (store_runs(s, &runs, &n) != SF_OK) return SF_ERR;
    int found = 0;
    for (int i = 0; i < n && !found; i++)
        if (!strcmp(runs[i].prefix, name))
            found = store_run_get(s, runs[i].id, out) == SF_OK ? 1 : SF_ERR;
    store_runs_free(runs, n);
    return found;
}

int run_refit_rmse(const run_data *rd, store *s, double *rmse) {
    int nl = rd->n_live, nt = rd->n_train, nv = rd->n_valid, no = rd->n_out;
    if (nt < 1 || nv < 1) return sf_fail("run %s has an empty split", rd->run.prefix);
    int *live = xmalloc(sizeof(int) * (size_t)(nl > 0 ? nl : 1));
    for (int j = 0; j < nl; j++) live[j] = rd->features[j].feature;
    double *xt = xmalloc(sizeof(double) * (size_t)nt * (size_t)(nl > 0 ? nl : 1));
    double *xv = xmalloc(sizeof(double) * (size_t)nv * (size_t)(nl > 0 ? nl : 1));
    double *yt = xmalloc(sizeof(double) * (size_t)nt * (size_t)no);
    double *yv = xmalloc(sizeof(double) * (size_t)nv * (size_t)no);
    double *p = xmalloc(sizeof(double) * (size_t)nv * (size_t)no);
    run_data_gather(yt, rd->truth, no, rd->train, nt);
    run_data_gather(yv, rd->truth, no, rd->valid, nv);
    int rc = run_data_activations(rd, s, live, nl, rd->train, nt, 0, xt);
    if (rc == SF_OK) rc = run_data_activations(rd, s, live, nl, rd->valid, nv, 0, xv);
    linreg lr;
    if (rc == SF_OK) rc = linreg_fit(&lr, xt, nt, nl, yt, no);
    if (rc == SF_OK) {
        linreg_predict(&lr, xv, nv, p);
        *rmse = analysis_rmse(p, yv, nv, no);
        linreg_free(&lr);
    }
    free(live), free(xt), free(xv), free(yt), free(yv), free(p);
    return rc;
}

int sweep_collect(sweep_table *t, store *s, const int *k, int n_k, int n_seeds) {
    memset(t, 0, sizeof *t);
    if (n_k > SWEEP_MAX_K) return sf_fail("at most %d values of k", SWEEP_MAX_K);
    t->n_k = n_k;
    t->dense_rmse = NAN;
    for (int i = 0; i < n_k; i++) {
        t->k[i] = k[i];
        t->pca[i] = t->explained[i] = NAN;
        double sum = 0, sum2 = 0, rsum = 0, rsum2 = 0;
        int n_refit = 0;
        for (int seed = 1; seed <= n_seeds; seed++) {
            char name[STORE_PREFIX_MAX];
            store_run run;
            sweep_run_name(name, sizeof name, k[i], seed);
            int found = find_named_run(s, name, &run);
            if (found == SF_ERR) return SF_ERR;
            if (!found) continue;
            if (run.k != k[i]) {
                sf_fail("run %s has k = %d, not %d: rename it or use another database", name, run.k,
                        k[i]);
                store_run_clear(&run);
                return SF_ERR;
            }
            if (isfinite(run.valid_rmse)) {
                sum += run.valid_rmse;
                sum2 += run.valid_rmse * run.valid_rmse;
                t->n_runs[i]++;
            }
            if (!t->target[0]) snprintf(t->target, sizeof t->target, "%s", run.target_spec);
            char spec[32];
            snprintf(spec, sizeof spec, "%lld", (long long)run.id);
            store_run_clear(&run);
            run_data rd;
            double refit;
            if (run_data_load(&rd, s, spec) != SF_OK) return SF_ERR;
            int rc = run_refit_rmse(&rd, s, &refit);
            run_data_free(&rd);
            if (rc != SF_OK) return SF_ERR;
            rsum += refit;
            rsum2 += refit * refit;
            n_refit++;
        }
        t->refit_mean[i] = n_refit > 0 ? rsum / n_refit : NAN;
        double rvar = n_refit > 1 ? (rsum2 - rsum * rsum / n_refit) / (n_refit - 1) : NAN;
        t->refit_se[i] = n_refit > 1 ? sqrt(rvar > 0 ? rvar : 0) / sqrt((double)n_refit) : NAN;
        int m = t->n_runs[i];
        t->rmse_mean[i] = m > 0 ? sum / m : NAN;
        double var = m > 1 ? (sum2 - sum * sum / m) / (m - 1) : NAN;
        t->rmse_se[i] = m > 1 ? sqrt(var > 0 ? var : 0) / sqrt((double)m) : NAN;
    }
    store_run dense;
    int found = find_named_run(s, "dense", &dense);
    if (found == SF_ERR) return SF_ERR;
    if (!found) return SF_OK;
    t->have_dense = 1;
    t->dense_rmse = dense.valid_rmse;
    if (!t->target[0]) snprintf(t->target, sizeof t->target, "%s", dense.target_spec);
    char spec[32];
    snprintf(spec, sizeof spec, "%lld", (long long)dense.id);
    store_run_clear(&dense);
    run_data rd;
    if (run_data_load(&rd, s, spec) != SF_OK) return SF_ERR;
    int rc = run_pca_rmse(t->pca, t->explained, t->k, t->n_k, &rd, s);
    run_data_free(&rd);
    return rc;
}

void sweep_print(FILE *out, const sweep_table *t) {
    fprintf(out, "Table 2: validation RMSE, %s\n",
            t->target[0] ? sf_shown(t->target) : "(no runs yet)");
    fprintf(out, "SFNet: mean +- standard error over retrainings; PCA: top-k principal components\n"
                 "of the dense run's features + linear regression\n");
    fprintf(out, "%4s %10s %10s %5s %10s %10s %10s %10s\n", "k", "SFNet", "s.e.", "runs", "PCA",
            "explained", "refit", "s.e.");
    for (int i = 0; i < t->n_k; i++)
        fprintf(out, "%4d %10.4f %10.4f %5d %10.4f %10.3f %10.4f %10.4f\n", t->k[i],
                t->rmse_mean[i], t->rmse_se[i], t->n_runs[i], t->pca[i], t->explained[i],
                t->refit_mean[i], t->refit_se[i]);
    fprintf(out,
            "(refit: a linear regression of the targets on each SFNet's sparse features, fitted\n"
            " on the training split, as the PCA column does with the dense features)\n");
    if (t->have_dense)
        fprintf(out, "dense network (all %s features): %.4f\n", "pooled", t->dense_rmse);
    else fprintf(out, "no dense run yet: the PCA column needs the run 'dense' (k = 0)\n");
}

int sweep_figure(const char *path, const sweep_table *t) {
    double x[SWEEP_MAX_K];
    for (int i = 0; i < t->n_k; i++) x[i] = t->k[i];
    figure_series s[3] = {{"SFNet (mean, s.e.)", t->n_k, x, t->rmse_mean, t->rmse_se},
                          {"SFNet features, refit", t->n_k, x, t->refit_mean, t->refit_se},
                          {"dense CNN + PCA", t->n_k, x, t->pca, NULL}};
    char title[320];
    snprintf(title, sizeof title, "Validation RMSE against k (%s)", t->target[0] ? t->target : "");
    return figure_lines(path, s, t->have_dense ? 3 : 2, "k (features / components)",
                        "validation RMSE", title);
}

int analysis_feature_suggestion(store *s, int64_t run_id, int feature, char *out, size_t n) {
    return suggest_label(s, run_id, feature, out, n);
}

/* ---- latents: what the frequent features or leading components track ----------- */

/* out (n_idx, d) the dense run's pooled features on rows idx. */
static int dense_features(double *out, const run_data *rd, store *s, const int *idx, int n_idx) {
    store_rows sub;
    subset_rows(&sub, &rd->rows, idx, n_idx);
    float *f = xmalloc(sizeof(float) * (size_t)(n_idx > 0 ? n_idx : 1) * (size_t)rd->d);
    int rc = store_run_dense(s, rd->run.id, &sub, rd->d, f);
    for (size_t i = 0; rc == SF_OK && i < (size_t)n_idx * (size_t)rd->d; i++) out[i] = f[i];
    free(f);
    store_rows_clear(&sub);
    return rc;
}

int run_latents(latent_table *t, const run_data *rd, store *s, int n_rows, const char *prefix) {
    memset(t, 0, sizeof *t);
    int nv = rd->n_valid, nt = rd->n_train;
    if (nv < 3) return sf_fail("run %s has %d validation galaxies: too few", rd->run.prefix, nv);
    t->is_pca = rd->run.k == 0;
    t->n_valid = nv;
    /* the columns */
    char(*names)[STORE_NAME_MAX] = NULL;
    int n_names = 0;
    if (store_catalog_columns(s, &names, &n_names) != SF_OK) return SF_ERR;
    t->cols = xmalloc(sizeof *t->cols * (size_t)(n_names > 0 ? n_names : 1));
    for (int c = 0; c < n_names; c++)
        if (prefix && *prefix ? !strncmp(names[c], prefix, strlen(prefix))
                              : label_column_wanted(names[c]))
            snprintf(t->cols[t->n_cols++], STORE_NAME_MAX, "%s", names[c]);
    free(names);
    if (t->n_cols == 0) {
        latent_table_free(t);
        return sf_fail("the catalogue of run %s has no column%s%s%s (the synthetic survey's "
                       "true_* latents are there only in its catalogues)",
                       rd->run.prefix, prefix && *prefix ? " starting with '" : "",
                       prefix && *prefix ? prefix : "", prefix && *prefix ? "'" : "");
    }
    /* the rows: the most frequent features, or the leading principal components */
    int cap = n_rows;
    if (!t->is_pca && cap > rd->n_live) cap = rd->n_live;
    if (t->is_pca && cap > rd->d) cap = rd->d;
    if (t->is_pca && nt < 2) {
        latent_table_free(t);
        return sf_fail("run %s: the principal components need training galaxies", rd->run.prefix);
    }
    t->n_rows = cap;
    t->row_id = xmalloc(sizeof(int) * (size_t)(cap > 0 ? cap : 1));
    t->row_share = xmalloc(sizeof(double) * (size_t)(cap > 0 ? cap : 1));
    double *rows = xmalloc(sizeof(double) * (size_t)nv * (size_t)(cap > 0 ? cap : 1));
    int rc = SF_OK;
    if (t->is_pca) {
        double *xt = xmalloc(sizeof(double) * (size_t)nt * (size_t)rd->d);
        double *xv = xmalloc(sizeof(double) * (size_t)nv * (size_t)rd->d);
        rc = dense_features(xt, rd, s, rd->train, nt);
        if (rc == SF_OK) rc = dense_features(xv, rd, s, rd->valid, nv);
        pca_model p;
        if (rc == SF_OK) rc = pca_fit(&p, xt, nt, rd->d, cap);
        if (rc == SF_OK) {
            pca_project(&p, xv, nv, cap, rows);
            for (int j = 0; j < cap; j++) {
                t->row_id[j] = j + 1;
                t->row_share[j] = p.total_variance > 0 ? p.variance[j] / p.total_variance : NAN;
            }
            pca_free(&p);
        }
        free(xt);
        free(xv);
    } else {
        for (int j = 0; j < cap; j++) {
            t->row_id[j] = rd->features[j].feature;
            t->row_share[j] = rd->features[j].f_activated;
        }
        rc = run_data_activations(rd, s, t->row_id, cap, rd->valid, nv, 0, rows);
    }
    /* Spearman of each row with each column over the validation galaxies */
    t->rho = xmalloc(sizeof(double) * (size_t)(cap > 0 ? cap : 1) * (size_t)t->n_cols);
    double *a = xmalloc(sizeof(double) * (size_t)nv), *col = xmalloc(sizeof(double) * (size_t)nv);
    store_rows sub;
    subset_rows(&sub, &rd->rows, rd->valid, nv);
    for (int c = 0; c < t->n_cols && rc == SF_OK; c++) {
        rc = store_catalog_values(s, &sub, t->cols[c], col);
        for (int j = 0; j < cap && rc == SF_OK; j++) {
            for (int i = 0; i < nv; i++) a[i] = rows[(size_t)i * (size_t)cap + (size_t)j];
            t->rho[(size_t)j * (size_t)t->n_cols + (size_t)c] = analysis_spearman(a, col, nv);
        }
    }
    store_rows_clear(&sub);
    free(a);
    free(col);
    free(rows);
    if (rc != SF_OK) latent_table_free(t);
    return rc;
}

void latent_table_free(latent_table *t) {
    free(t->row_id);
    free(t->row_share);
    free(t->cols);
    free(t->rho);
    memset(t, 0, sizeof *t);
}

/* The columns of row j by |rho|, strongest first (NAN last): order (n_cols). */
static void latent_order(const latent_table *t, int j, int *order) {
    for (int c = 0; c < t->n_cols; c++) order[c] = c;
    const double *r = t->rho + (size_t)j * (size_t)t->n_cols;
    for (int a = 1; a < t->n_cols; a++) /* insertion sort: a few dozen columns */
        for (int b = a; b > 0; b--) {
            double x = fabs(r[order[b]]), y = fabs(r[order[b - 1]]);
            if (!(x > y) && !(isnan(y) && !isnan(x))) break;
            int tmp = order[b];
            order[b] = order[b - 1];
            order[b - 1] = tmp;
        }
}

void latent_table_print(FILE *out, const run_data *rd, const latent_table *t, int n_best,
                        int matrix) {
    const store_run *r = &rd->run;
    fprintf(out,
            "What the %s of run %s track: Spearman rho with the catalogue columns over "
            "the %d validation galaxies\n",
            t->is_pca ? "leading principal components of the pooled features"
                      : "most frequent features",
            r->prefix, t->n_valid);
    fprintf(out, "%-10s %7s", t->is_pca ? "component" : "feature", t->is_pca ? "var" : "f_act");
    for (int b = 0; b < n_best && b < t->n_cols; b++) fprintf(out, "  %-28s", b ? "" : "strongest");
    fputc('\n', out);
    int *order = xmalloc(sizeof(int) * (size_t)t->n_cols);
    for (int j = 0; j < t->n_rows; j++) {
        char name[40];
        if (t->is_pca) snprintf(name, sizeof name, "PC %d", t->row_id[j]);
        else snprintf(name, sizeof name, "%s %d", r->prefix, t->row_id[j]);
        fprintf(out, "%-10s %6.1f%%", name, 100 * t->row_share[j]);
        latent_order(t, j, order);
        for (int b = 0; b < n_best && b < t->n_cols; b++) {
            char cell[64];
            snprintf(cell, sizeof cell, "%s %+.2f", sf_shown(t->cols[order[b]]),
                     t->rho[(size_t)j * (size_t)t->n_cols + (size_t)order[b]]);
            fprintf(out, "  %-28s", cell);
        }
        fputc('\n', out);
    }
    free(order);
    if (!matrix) return;
    fprintf(out, "\n%-24s", "column");
    for (int j = 0; j < t->n_rows; j++) {
        char name[40];
        if (t->is_pca) snprintf(name, sizeof name, "PC %d", t->row_id[j]);
        else snprintf(name, sizeof name, "%s %d", r->prefix, t->row_id[j]);
        fprintf(out, " %8.8s", name);
    }
    fputc('\n', out);
    for (int c = 0; c < t->n_cols; c++) {
        fprintf(out, "%-24.24s", sf_shown(t->cols[c])); /* a catalogue's column names */
        for (int j = 0; j < t->n_rows; j++)
            fprintf(out, " %+8.2f", t->rho[(size_t)j * (size_t)t->n_cols + (size_t)c]);
        fputc('\n', out);
    }
}
