/* analysis_pca.c: principal components (LAPACK dsyevd on the covariance) and
 * least-squares regression with intercept (LAPACK dgelsd), the Table 2 baseline.
 * Layer: analysis. Calls: analysis_stats, sf_util; OpenBLAS, LAPACK.
 * Called by: analysis_run.
 */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "sf_util.h"

int pca_fit(pca_model *p, const double *x, int n, int d, int n_components) {
    SF_ASSERT(d > 0 && n_components > 0 && n_components <= d);
    memset(p, 0, sizeof *p);
    if (n < 2) return sf_fail("PCA needs at least 2 rows, got %d", n);
    double *mean = xcalloc((size_t)d, sizeof(double));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) mean[j] += x[(size_t)i * (size_t)d + (size_t)j];
    for (int j = 0; j < d; j++) mean[j] /= n;
    double *xc = xmalloc(sizeof(double) * (size_t)n * (size_t)d); /* (n, d) centred */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            xc[(size_t)i * (size_t)d + (size_t)j] = x[(size_t)i * (size_t)d + (size_t)j] - mean[j];
    double *cov = xcalloc((size_t)d * (size_t)d, sizeof(double)); /* (d, d), upper triangle */
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, n, 1.0 / (n - 1), xc, d, 0.0, cov, d);
    free(xc);
    double total = 0;
    for (int j = 0; j < d; j++) total += cov[(size_t)j * (size_t)d + (size_t)j];
    double *eig = xmalloc(sizeof(double) * (size_t)d); /* ascending */
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', d, cov, d, eig);
    if (info != 0) {
        free(mean);
        free(cov);
        free(eig);
        return sf_fail("PCA: LAPACK dsyevd failed (info %d) on a %dx%d covariance", (int)info, d,
                       d);
    }
    p->d = d;
    p->n_components = n_components;
    p->mean = mean;
    p->total_variance = total;
    p->variance = xmalloc(sizeof(double) * (size_t)n_components);
    p->components = xmalloc(sizeof(double) * (size_t)n_components * (size_t)d);
    for (int c = 0; c < n_components; c++) {
        int col = d - 1 - c; /* eigenvectors are the columns, eigenvalues ascending */
        double *v = p->components + (size_t)c * (size_t)d;
        int big = 0;
        for (int j = 0; j < d; j++) {
            v[j] = cov[(size_t)j * (size_t)d + (size_t)col];
            if (fabs(v[j]) > fabs(v[big])) big = j;
        }
        if (v[big] < 0)
            for (int j = 0; j < d; j++) v[j] = -v[j];
        p->variance[c] = eig[col] > 0 ? eig[col] : 0;
    }
    free(cov);
    free(eig);
    return SF_OK;
}

void pca_project(const pca_model *p, const double *x, int n, int k, double *out) {
    SF_ASSERT(k >= 0 && k <= p->n_components);
    int d = p->d;
    double *row = xmalloc(sizeof(double) * (size_t)d);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < d; j++) row[j] = x[(size_t)i * (size_t)d + (size_t)j] - p->mean[j];
        for (int c = 0; c < k; c++)
            out[(size_t)i * (size_t)k + (size_t)c] =
                cblas_ddot(d, row, 1, p->components + (size_t)c * (size_t)d, 1);
    }
    free(row);
}

void pca_free(pca_model *p) {
    free(p->mean);
    free(p->components);
    free(p->variance);
    memset(p, 0, sizeof *p);
}

int linreg_fit(linreg *m, const double *x, int n, int d, const double *y, int n_out) {
    SF_ASSERT(d >= 0 && n_out > 0);
    memset(m, 0, sizeof *m);
    if (n < 1) return sf_fail("regression needs at least 1 row");
    int cols = d + 1;
    int rows_b = n > cols ? n : cols;
    double *a = xmalloc(sizeof(double) * (size_t)n * (size_t)cols);      /* (n, d + 1) */
    double *b = xcalloc((size_t)rows_b * (size_t)n_out, sizeof(double)); /* (max(n, d+1), n_out) */
    for (int i = 0; i < n; i++) {
        a[(size_t)i * (size_t)cols] = 1.0;
        for (int j = 0; j < d; j++)
            a[(size_t)i * (size_t)cols + 1 + (size_t)j] = x[(size_t)i * (size_t)d + (size_t)j];
        for (int o = 0; o < n_out; o++)
            b[(size_t)i * (size_t)n_out + (size_t)o] = y[(size_t)i * (size_t)n_out + (size_t)o];
    }
    int ns = n < cols ? n : cols;
    double *sv = xmalloc(sizeof(double) * (size_t)ns);
    lapack_int rank = 0;
    /* Singular values below 1e-10 of the largest count as zero: a feature that is
     * always zero, or two identical columns, get the minimum-norm solution. */
    lapack_int info =
        LAPACKE_dgelsd(LAPACK_ROW_MAJOR, n, cols, n_out, a, cols, b, n_out, sv, 1e-10, &rank);
    free(a);
    free(sv);
    if (info != 0) {
        free(b);
        return sf_fail("regression: LAPACK dgelsd did not converge (info %d)", (int)info);
    }
    m->d = d;
    m->n_out = n_out;
    m->coef = xmalloc(sizeof(double) * (size_t)cols * (size_t)n_out);
    memcpy(m->coef, b, sizeof(double) * (size_t)cols * (size_t)n_out);
    free(b);
    return SF_OK;
}

void linreg_predict(const linreg *m, const double *x, int n, double *yhat) {
    int d = m->d, no = m->n_out;
    for (int i = 0; i < n; i++)
        for (int o = 0; o < no; o++) {
            double s = m->coef[o];
            for (int j = 0; j < d; j++)
                s += x[(size_t)i * (size_t)d + (size_t)j] *
                     m->coef[(size_t)(1 + j) * (size_t)no + (size_t)o];
            yhat[(size_t)i * (size_t)no + (size_t)o] = s;
        }
}

double analysis_r2(const double *x, int n, int d, const double *y) {
    double mean = 0, sst = 0, sse = 0, ss = 0;
    for (int i = 0; i < n; i++) mean += y[i], ss += y[i] * y[i];
    mean /= n;
    for (int i = 0; i < n; i++) sst += (y[i] - mean) * (y[i] - mean);
    if (!(sst > 1e-20 * ss)) return NAN; /* constant up to rounding */
    linreg m;
    if (linreg_fit(&m, x, n, d, y, 1) != SF_OK) return NAN;
    double *p = xmalloc(sizeof(double) * (size_t)n);
    linreg_predict(&m, x, n, p);
    for (int i = 0; i < n; i++) sse += (p[i] - y[i]) * (p[i] - y[i]);
    free(p);
    linreg_free(&m);
    double r2 = 1 - sse / sst;
    return r2 < 0 ? 0 : r2 > 1 ? 1 : r2;
}

void linreg_free(linreg *m) {
    free(m->coef);
    memset(m, 0, sizeof *m);
}

int pca_regression_rmse(double *rmse_out, double *explained, const int *k, int n_k,
                        const double *x_train, const double *y_train, int n_train,
                        const double *x_valid, const double *y_valid, int n_valid, int d,
                        int n_out) {
    int k_max = 0;
    for (int i = 0; i < n_k; i++) {
        if (k[i] < 1 || k[i] > d) return sf_fail("PCA: k = %d is outside 1..%d", k[i], d);
        if (k[i] > k_max) k_max = k[i];
    }
    if (n_valid < 1) return sf_fail("PCA: the validation split is empty");
    pca_model p;
    if (pca_fit(&p, x_train, n_train, d, k_max) != SF_OK) return SF_ERR;
    double *zt = xmalloc(sizeof(double) * (size_t)n_train * (size_t)k_max);
    double *zv = xmalloc(sizeof(double) * (size_t)n_valid * (size_t)k_max);
    double *pred = xmalloc(sizeof(double) * (size_t)n_valid * (size_t)n_out);
    int rc = SF_OK;
    for (int i = 0; i < n_k && rc == SF_OK; i++) {
        pca_project(&p, x_train, n_train, k[i], zt);
        pca_project(&p, x_valid, n_valid, k[i], zv);
        linreg lr;
        rc = linreg_fit(&lr, zt, n_train, k[i], y_train, n_out);
        if (rc != SF_OK) break;
        linreg_predict(&lr, zv, n_valid, pred);
        rmse_out[i] = analysis_rmse(pred, y_valid, n_valid, n_out);
        if (explained) {
            double v = 0;
            for (int c = 0; c < k[i]; c++) v += p.variance[c];
            explained[i] = p.total_variance > 0 ? v / p.total_variance : NAN;
        }
        linreg_free(&lr);
    }
    free(zt);
    free(zv);
    free(pred);
    pca_free(&p);
    return rc;
}
