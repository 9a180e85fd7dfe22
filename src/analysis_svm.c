/* analysis_svm.c: a linear SVM through liblinear (the same solver as
 * scikit-learn's LinearSVC: L2-regularised squared hinge loss, dual coordinate
 * descent, intercept as a constant feature 1; on many rows the primal solver of the
 * same function) and binary classification scores.
 * Layer: analysis. Calls: sf_util; liblinear.
 * Called by: analysis_run.
 */
#include <linear.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "sf_util.h"

enum { SVM_DUAL_MAX = 20000 };

static void liblinear_quiet(const char *s) { (void)s; }

void svm_balanced_weights(const int *y, int n, double w[2]) {
    int n_pos = 0;
    for (int i = 0; i < n; i++) n_pos += y[i] == 1;
    w[0] = n - n_pos > 0 ? (double)n / (2.0 * (n - n_pos)) : 1;
    w[1] = n_pos > 0 ? (double)n / (2.0 * n_pos) : 1;
}

int svm_linear_train(svm_linear *m, const double *x, const int *y, int n, int d, double C) {
    return svm_linear_train_weighted(m, x, y, n, d, C, NULL);
}

int svm_linear_train_weighted(svm_linear *m, const double *x, const int *y, int n, int d, double C,
                              const double *class_weight) {
    SF_ASSERT(d > 0 && n >= 0);
    /* the non-zero entries as sparse rows (a sparse run's galaxies have few) */
    int64_t nnz = 0;
    for (size_t i = 0; i < (size_t)n * (size_t)d; i++) nnz += x[i] != 0;
    int64_t *start = xmalloc(sizeof(int64_t) * ((size_t)n + 1));
    int *col = xmalloc(sizeof(int) * (size_t)(nnz > 0 ? nnz : 1));
    double *val = xmalloc(sizeof(double) * (size_t)(nnz > 0 ? nnz : 1));
    int64_t e = 0;
    for (int i = 0; i < n; i++) {
        start[i] = e;
        for (int j = 0; j < d; j++) {
            double v = x[(size_t)i * (size_t)d + (size_t)j];
            if (v != 0) col[e] = j, val[e++] = v;
        }
    }
    start[n] = e;
    int rc = svm_linear_train_csr(m, start, col, val, y, n, d, C, class_weight);
    free(start);
    free(col);
    free(val);
    return rc;
}

int svm_linear_train_csr(svm_linear *m, const int64_t *start, const int *col, const double *val,
                         const int *y, int n, int d, double C, const double *class_weight) {
    SF_ASSERT(d > 0 && C > 0);
    memset(m, 0, sizeof *m);
    int n_pos = 0;
    for (int i = 0; i < n; i++) {
        SF_ASSERT(y[i] == 0 || y[i] == 1);
        n_pos += y[i];
    }
    if (n_pos == 0 || n_pos == n)
        return sf_fail("SVM: the training rows hold only one class (%d of %d positive)", n_pos, n);

    /* The rows as liblinear's nodes, packed: each row's entries (1-based columns), the
     * bias node, the -1 end. */
    size_t nnz = (size_t)(start[n] - start[0]);
    struct feature_node *nodes = xmalloc(sizeof(struct feature_node) * (nnz + 2 * (size_t)n));
    struct feature_node **rows = xmalloc(sizeof(struct feature_node *) * (size_t)n);
    double *labels = xmalloc(sizeof(double) * (size_t)n);
    struct feature_node *next = nodes;
    for (int i = 0; i < n; i++) {
        struct feature_node *r = next;
        int t = 0;
        for (int64_t e = start[i]; e < start[i + 1]; e++) {
            SF_ASSERT(col[e] >= 0 && col[e] < d && (t == 0 || col[e] + 1 > r[t - 1].index));
            if (val[e] != 0) r[t++] = (struct feature_node){col[e] + 1, val[e]};
        }
        r[t++] = (struct feature_node){d + 1, 1.0};
        r[t] = (struct feature_node){-1, 0};
        next = r + t + 1;
        rows[i] = r;
        labels[i] = y[i];
    }
    struct problem prob = {.l = n, .n = d + 1, .y = labels, .x = rows, .bias = 1.0};
    /* The dual coordinate descent (LinearSVC's default) for up to SVM_DUAL_MAX rows; past
     * that its passes over every row grow with the rows (a run of 250,000 galaxies spent
     * seconds in it), and the primal trust-region Newton solver, which minimises the same
     * function (LinearSVC(dual=False)), takes a few passes for the few features here. */
    struct parameter param =
        n <= SVM_DUAL_MAX
            ? (struct parameter){.solver_type = L2R_L2LOSS_SVC_DUAL, .eps = 0.1, .C = C}
            : (struct parameter){.solver_type = L2R_L2LOSS_SVC, .eps = 0.01, .C = C};
    int weight_label[2] = {0, 1};
    double weight[2];
    if (class_weight) {
        /* liblinear multiplies C by the weight of each example's label */
        weight[0] = class_weight[0];
        weight[1] = class_weight[1];
        SF_ASSERT(weight[0] > 0 && weight[1] > 0);
        param.nr_weight = 2;
        param.weight_label = weight_label;
        param.weight = weight;
    }
    const char *bad = check_parameter(&prob, &param);
    SF_ASSERT(bad == NULL);
    set_print_string_function(liblinear_quiet);
    /* The dual solver shuffles with rand(): seed it so that runs repeat. */
    srand(1);
    struct model *model = train(&prob, &param);
    free(nodes);
    free(rows);
    free(labels);
    if (!model) return sf_fail("SVM: liblinear could not train");

    /* For two classes liblinear keeps one weight vector whose positive side is
     * model->label[0]; turn it so that positive means label 1. */
    double sign = model->label[0] == 1 ? 1.0 : -1.0;
    m->d = d;
    m->w = xmalloc(sizeof(double) * (size_t)d);
    for (int j = 0; j < d; j++) m->w[j] = sign * get_decfun_coef(model, j + 1, 0);
    m->bias = sign * get_decfun_bias(model, 0);
    free_and_destroy_model(&model);
    return SF_OK;
}

int svm_linear_predict(const svm_linear *m, const double *x) {
    double s = m->bias;
    for (int j = 0; j < m->d; j++) s += m->w[j] * x[j];
    return s > 0;
}

int svm_linear_predict_sparse(const svm_linear *m, const int *col, const double *val, int64_t nnz) {
    double s = m->bias;
    for (int64_t e = 0; e < nnz; e++) s += m->w[col[e]] * val[e];
    return s > 0;
}

void svm_linear_free(svm_linear *m) {
    free(m->w);
    memset(m, 0, sizeof *m);
}

void binary_scores_count(binary_scores *s, const int *truth, const int *pred, int n) {
    memset(s, 0, sizeof *s);
    for (int i = 0; i < n; i++) {
        if (truth[i] && pred[i]) s->tp++;
        else if (!truth[i] && pred[i]) s->fp++;
        else if (!truth[i] && !pred[i]) s->tn++;
        else s->fn++;
    }
    s->accuracy = n > 0 ? (double)(s->tp + s->tn) / n : NAN;
    s->precision = s->tp + s->fp > 0 ? (double)s->tp / (s->tp + s->fp) : NAN;
    s->recall = s->tp + s->fn > 0 ? (double)s->tp / (s->tp + s->fn) : NAN;
    int den = 2 * s->tp + s->fp + s->fn;
    s->f1 = den > 0 ? 2.0 * s->tp / den : NAN;
}
