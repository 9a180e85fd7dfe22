/* Tests of the linear SVM (liblinear) and of the scores, against confusion
 * matrices counted by hand. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "sf_util.h"

Test(scores, hand_counted_confusion_matrix) {
    const int truth[] = {1, 1, 1, 0, 0, 0, 0, 1, 0, 0};
    const int pred[] = {1, 0, 1, 0, 1, 0, 0, 1, 0, 0};
    /* tp: rows 0, 2, 7 = 3; fn: row 1; fp: row 4; tn: 3, 5, 6, 8, 9 = 5. */
    binary_scores s;
    binary_scores_count(&s, truth, pred, 10);
    cr_assert_eq(s.tp, 3);
    cr_assert_eq(s.fn, 1);
    cr_assert_eq(s.fp, 1);
    cr_assert_eq(s.tn, 5);
    cr_assert_float_eq(s.accuracy, 0.8, 1e-12);
    cr_assert_float_eq(s.precision, 0.75, 1e-12);
    cr_assert_float_eq(s.recall, 0.75, 1e-12);
    cr_assert_float_eq(s.f1, 0.75, 1e-12);
    const int none[] = {0, 0, 0};
    binary_scores_count(&s, none, none, 3);
    cr_assert_float_eq(s.accuracy, 1.0, 1e-12);
    cr_assert(isnan(s.f1) && isnan(s.precision) && isnan(s.recall));
}

/* One feature: negatives left of 0, positives right. Validation points include one
 * positive on the negative side, so the confusion matrix is tp 2, fn 1, tn 1, fp 0. */
static void check_one_dimensional(const int *y_train) {
    const double x_train[] = {-3, -2, -1.5, -1, 1, 1.5, 2, 3};
    svm_linear m;
    cr_assert_eq(svm_linear_train(&m, x_train, y_train, 8, 1, 1.0), SF_OK);
    cr_assert_gt(m.w[0], 0);
    const double x_valid[] = {-0.7, 0.7, -2.0, 2.5};
    const int y_valid[] = {0, 1, 1, 1};
    int pred[4];
    for (int i = 0; i < 4; i++) pred[i] = svm_linear_predict(&m, x_valid + i);
    const int want[] = {0, 1, 0, 1};
    for (int i = 0; i < 4; i++) cr_assert_eq(pred[i], want[i], "row %d", i);
    binary_scores s;
    binary_scores_count(&s, y_valid, pred, 4);
    cr_assert_eq(s.tp, 2);
    cr_assert_eq(s.fn, 1);
    cr_assert_eq(s.tn, 1);
    cr_assert_eq(s.fp, 0);
    cr_assert_float_eq(s.accuracy, 0.75, 1e-12);
    cr_assert_float_eq(s.f1, 0.8, 1e-12);
    svm_linear_free(&m);
}

Test(svm, one_dimensional_either_label_first) {
    const int y[] = {0, 0, 0, 0, 1, 1, 1, 1};
    check_one_dimensional(y);
    /* liblinear orients its weights by the first label it meets: same answer when
     * the first training row is a positive. */
    const double x2[] = {3, -3, -2, -1.5, -1, 1, 1.5, 2};
    const int y2[] = {1, 0, 0, 0, 0, 1, 1, 1};
    svm_linear m;
    cr_assert_eq(svm_linear_train(&m, x2, y2, 8, 1, 1.0), SF_OK);
    cr_assert_gt(m.w[0], 0);
    const double probe[] = {0.8, -0.8};
    cr_assert_eq(svm_linear_predict(&m, probe), 1);
    cr_assert_eq(svm_linear_predict(&m, probe + 1), 0);
    svm_linear_free(&m);
}

Test(svm, separable_in_two_dimensions) {
    enum { N = 200 };
    double x[N * 2];
    int y[N], pred[N];
    sf_rng g;
    sf_rng_seed(&g, 2);
    for (int i = 0; i < N; i++) {
        double a = sf_rng_uniform(&g), b = sf_rng_uniform(&g);
        if (fabs(a + b - 1) < 0.1) b += a + b > 1 ? 0.1 : -0.1; /* a margin around a + b = 1 */
        x[2 * i] = a, x[2 * i + 1] = b, y[i] = a + b > 1;
    }
    svm_linear m;
    cr_assert_eq(svm_linear_train(&m, x, y, N / 2, 2, 10.0), SF_OK);
    for (int i = 0; i < N; i++) pred[i] = svm_linear_predict(&m, x + 2 * i);
    binary_scores s;
    binary_scores_count(&s, y + N / 2, pred + N / 2, N / 2);
    cr_assert_geq(s.accuracy, 0.97, "validation accuracy %g", s.accuracy);
    cr_assert_float_eq(m.w[0] / m.w[1], 1.0, 0.3, "boundary along a + b = const");
    svm_linear_free(&m);
}

/* Many rows (the primal solver past 20,000): the same boundary as the dual solver finds
 * on a subset, and the same predictions on noisy, overlapping classes. */
Test(svm, many_rows_same_boundary_as_the_dual_solver) {
    enum { N = 40000, SUB = 10000 };
    double *x = xmalloc(sizeof(double) * N * 2);
    int *y = xmalloc(sizeof(int) * N);
    sf_rng g;
    sf_rng_seed(&g, 3);
    for (int i = 0; i < N; i++) {
        double a = sf_rng_uniform(&g), b = sf_rng_uniform(&g);
        x[2 * i] = a, x[2 * i + 1] = b;
        y[i] = a + 0.5 * b + 0.3 * sf_rng_normal(&g) > 0.75;
    }
    svm_linear big, small;
    cr_assert_eq(svm_linear_train(&big, x, y, N, 2, 1.0), SF_OK);
    cr_assert_eq(svm_linear_train(&small, x, y, SUB, 2, 1.0), SF_OK);
    cr_assert_float_eq(big.w[1] / big.w[0], small.w[1] / small.w[0], 0.1, "slopes %g and %g",
                       big.w[1] / big.w[0], small.w[1] / small.w[0]);
    cr_assert_float_eq(big.w[1] / big.w[0], 0.5, 0.1, "boundary a + 0.5 b = const: %g",
                       big.w[1] / big.w[0]);
    int differ = 0;
    for (int i = 0; i < N; i++)
        differ += svm_linear_predict(&big, x + 2 * i) != svm_linear_predict(&small, x + 2 * i);
    cr_assert_lt(differ, N / 50, "%d of %d predictions differ", differ, N);
    svm_linear_free(&big);
    svm_linear_free(&small);
    free(x);
    free(y);
}

Test(svm, one_class_is_an_error) {
    const double x[] = {1, 2, 3};
    const int y[] = {1, 1, 1};
    svm_linear m;
    cr_assert_eq(svm_linear_train(&m, x, y, 3, 1, 1.0), SF_ERR);
    cr_assert(strstr(sf_last_error(), "only one class"), "%s", sf_last_error());
}

Test(svm, balanced_weights_find_the_rare_class) {
    /* 1 positive in 10, overlapping: without weights the SVM favours the majority;
     * scikit-learn's balanced weights (n / (2 n_class): 5/9 and 5) raise the recall */
    enum { N = 400 };
    double x[N];
    int y[N], pred[N];
    sf_rng g;
    sf_rng_seed(&g, 4);
    for (int i = 0; i < N; i++) {
        y[i] = i % 10 == 0;
        x[i] = (y[i] ? 1.0 : 0.0) + 0.8 * sf_rng_normal(&g);
    }
    double w[2];
    svm_balanced_weights(y, N, w);
    cr_assert_float_eq(w[0], 400.0 / (2 * 360), 1e-12);
    cr_assert_float_eq(w[1], 400.0 / (2 * 40), 1e-12);
    binary_scores plain, balanced;
    svm_linear m;
    cr_assert_eq(svm_linear_train(&m, x, y, N, 1, 1.0), SF_OK);
    for (int i = 0; i < N; i++) pred[i] = svm_linear_predict(&m, x + i);
    binary_scores_count(&plain, y, pred, N);
    svm_linear_free(&m);
    cr_assert_eq(svm_linear_train_weighted(&m, x, y, N, 1, 1.0, w), SF_OK);
    cr_assert_gt(m.w[0], 0);
    for (int i = 0; i < N; i++) pred[i] = svm_linear_predict(&m, x + i);
    binary_scores_count(&balanced, y, pred, N);
    svm_linear_free(&m);
    cr_assert_gt(balanced.recall, 0.5, "balanced recall %.2f", balanced.recall);
    cr_assert(isnan(plain.recall) || plain.recall < balanced.recall, "recall %.2f -> %.2f",
              plain.recall, balanced.recall);
    cr_assert(isnan(plain.f1) || plain.f1 < balanced.f1 || plain.tp == 0, "F1 %.2f -> %.2f",
              plain.f1, balanced.f1);
    /* equal weights give the unweighted model */
    const double ones[2] = {1, 1};
    svm_linear a, b;
    cr_assert_eq(svm_linear_train(&a, x, y, N, 1, 1.0), SF_OK);
    cr_assert_eq(svm_linear_train_weighted(&b, x, y, N, 1, 1.0, ones), SF_OK);
    cr_assert_float_eq(a.w[0], b.w[0], 1e-12);
    cr_assert_float_eq(a.bias, b.bias, 1e-12);
    svm_linear_free(&a);
    svm_linear_free(&b);
}

/* Sparse rows (a sparse run's galaxies: a few of m features each) give the model and the
 * predictions the dense matrix gives, on both solvers (the dual up to 20,000 rows, the
 * primal past it), with and without class weights. */
static void check_sparse_as_dense(int n) {
    enum { M = 12, K = 3 };
    double *x = xcalloc((size_t)n * M, sizeof *x);
    int *y = xmalloc(sizeof(int) * (size_t)n);
    int64_t *start = xmalloc(sizeof(int64_t) * ((size_t)n + 1));
    int *col = xmalloc(sizeof(int) * (size_t)n * K);
    double *val = xmalloc(sizeof(double) * (size_t)n * K);
    sf_rng g;
    sf_rng_seed(&g, 5);
    int64_t e = 0;
    for (int i = 0; i < n; i++) {
        start[i] = e;
        double score = 0;
        for (int c = 0; c < M; c++) {
            /* about K of M columns active, in column order */
            if (sf_rng_uniform(&g) >= (double)K / M || e - start[i] == K) continue;
            double v = sf_rng_uniform(&g);
            x[(size_t)i * M + c] = v;
            col[e] = c, val[e++] = v;
            score += (c % 3 == 0 ? 1 : -0.5) * v;
        }
        y[i] = score + 0.3 * sf_rng_normal(&g) > 0.1;
    }
    start[n] = e;
    double w[2];
    svm_balanced_weights(y, n, w);
    for (int weighted = 0; weighted < 2; weighted++) {
        svm_linear dense, sparse;
        const double *cw = weighted ? w : NULL;
        cr_assert_eq(svm_linear_train_weighted(&dense, x, y, n, M, 1.0, cw), SF_OK);
        cr_assert_eq(svm_linear_train_csr(&sparse, start, col, val, y, n, M, 1.0, cw), SF_OK);
        for (int c = 0; c < M; c++)
            cr_assert_eq(dense.w[c], sparse.w[c], "n %d, column %d: %.17g and %.17g", n, c,
                         dense.w[c], sparse.w[c]);
        cr_assert_eq(dense.bias, sparse.bias);
        for (int i = 0; i < n; i++)
            cr_assert_eq(svm_linear_predict(&dense, x + (size_t)i * M),
                         svm_linear_predict_sparse(&sparse, col + start[i], val + start[i],
                                                   start[i + 1] - start[i]),
                         "row %d", i);
        svm_linear_free(&dense);
        svm_linear_free(&sparse);
    }
    free(x), free(y), free(start), free(col), free(val);
}

Test(svm, sparse_rows_as_the_dense_matrix) {
    check_sparse_as_dense(2000);
    check_sparse_as_dense(30000);
}
