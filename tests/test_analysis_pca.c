/* Tests of PCA against power iteration on the covariance computed here, of the
 * regression against the normal equations solved by Gaussian elimination here,
 * and of the Table 2 baseline against both. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "analysis.h"
#include "sf_util.h"

enum { N = 300, D = 4 };

/* Correlated data with clearly separated variances. */
static void make_data(double *x, int n, uint64_t seed) {
    sf_rng g;
    sf_rng_seed(&g, seed);
    for (int i = 0; i < n; i++) {
        double a = 3 * sf_rng_normal(&g), b = 1.5 * sf_rng_normal(&g), c = 0.5 * sf_rng_normal(&g);
        x[i * D + 0] = a + 0.2 * b + 1.0;
        x[i * D + 1] = 0.5 * a - b + c - 2.0;
        x[i * D + 2] = b + 0.1 * sf_rng_normal(&g);
        x[i * D + 3] = c + 0.05 * sf_rng_normal(&g) + 10;
    }
}

static void covariance(double *cov, const double *x, int n) {
    double mean[D] = {0};
    for (int i = 0; i < n; i++)
        for (int j = 0; j < D; j++) mean[j] += x[i * D + j] / n;
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) {
            double s = 0;
            for (int i = 0; i < n; i++) s += (x[i * D + a] - mean[a]) * (x[i * D + b] - mean[b]);
            cov[a * D + b] = s / (n - 1);
        }
}

/* Top eigenpair by power iteration, then deflation. */
static double power_iteration(double *v, double *cov) {
    for (int j = 0; j < D; j++) v[j] = 1.0 / (j + 1);
    double lambda = 0;
    for (int it = 0; it < 5000; it++) {
        double w[D] = {0}, norm = 0;
        for (int a = 0; a < D; a++)
            for (int b = 0; b < D; b++) w[a] += cov[a * D + b] * v[b];
        for (int a = 0; a < D; a++) norm += w[a] * w[a];
        norm = sqrt(norm);
        for (int a = 0; a < D; a++) v[a] = w[a] / norm;
        lambda = norm;
    }
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) cov[a * D + b] -= lambda * v[a] * v[b];
    return lambda;
}

Test(pca, matches_power_iteration) {
    double x[N * D], cov[D * D];
    make_data(x, N, 11);
    covariance(cov, x, N);
    double trace = cov[0] + cov[5] + cov[10] + cov[15];
    pca_model p;
    cr_assert_eq(pca_fit(&p, x, N, D, 3), SF_OK);
    cr_assert_float_eq(p.total_variance, trace, 1e-9 * trace);
    for (int c = 0; c < 3; c++) {
        double v[D];
        double lambda = power_iteration(v, cov);
        cr_assert_float_eq(p.variance[c], lambda, 1e-8 * lambda, "component %d", c);
        double dot = 0;
        for (int j = 0; j < D; j++) dot += v[j] * p.components[c * D + j];
        cr_assert_float_eq(fabs(dot), 1.0, 1e-8, "component %d", c);
    }
    cr_assert_gt(p.variance[0], p.variance[1]);
    /* Projections: mean zero, variance the eigenvalue, uncorrelated. */
    double z[N * 2];
    pca_project(&p, x, N, 2, z);
    double m0 = 0, v0 = 0, c01 = 0;
    for (int i = 0; i < N; i++) m0 += z[2 * i] / N;
    for (int i = 0; i < N; i++) v0 += z[2 * i] * z[2 * i] / (N - 1), c01 += z[2 * i] * z[2 * i + 1];
    cr_assert_float_eq(m0, 0.0, 1e-9);
    cr_assert_float_eq(v0, p.variance[0], 1e-8 * v0);
    cr_assert_float_eq(c01, 0.0, 1e-6);
    pca_free(&p);
}

Test(pca, too_few_rows) {
    double x[D] = {1, 2, 3, 4};
    pca_model p;
    cr_assert_eq(pca_fit(&p, x, 1, D, 2), SF_ERR);
    cr_assert(strstr(sf_last_error(), "at least 2 rows"));
}

/* Solves the (m, m) system a z = b in place by Gaussian elimination with pivoting. */
static void gauss_solve(double *a, double *b, int m) {
    for (int c = 0; c < m; c++) {
        int piv = c;
        for (int r = c + 1; r < m; r++)
            if (fabs(a[r * m + c]) > fabs(a[piv * m + c])) piv = r;
        for (int k = 0; k < m; k++) {
            double t = a[c * m + k];
            a[c * m + k] = a[piv * m + k];
            a[piv * m + k] = t;
        }
        double t = b[c];
        b[c] = b[piv];
        b[piv] = t;
        for (int r = c + 1; r < m; r++) {
            double f = a[r * m + c] / a[c * m + c];
            for (int k = c; k < m; k++) a[r * m + k] -= f * a[c * m + k];
            b[r] -= f * b[c];
        }
    }
    for (int c = m - 1; c >= 0; c--) {
        for (int k = c + 1; k < m; k++) b[c] -= a[c * m + k] * b[k];
        b[c] /= a[c * m + c];
    }
}

/* Normal equations with a column of ones in front: (X'X) beta = X'y, one output. */
static void normal_equations(double *beta, const double *x, int n, int d, const double *y,
                             int n_out, int out) {
    int m = d + 1;
    double a[(D + 1) * (D + 1)] = {0}, b[D + 1] = {0};
    for (int i = 0; i < n; i++) {
        double row[D + 1];
        row[0] = 1;
        for (int j = 0; j < d; j++) row[1 + j] = x[i * d + j];
        for (int p = 0; p < m; p++) {
            b[p] += row[p] * y[i * n_out + out];
            for (int q = 0; q < m; q++) a[p * m + q] += row[p] * row[q];
        }
    }
    gauss_solve(a, b, m);
    memcpy(beta, b, sizeof(double) * (size_t)m);
}

Test(regression, matches_normal_equations) {
    double x[N * D], y[N * 2];
    make_data(x, N, 21);
    sf_rng g;
    sf_rng_seed(&g, 4);
    for (int i = 0; i < N; i++) {
        y[2 * i] = 8.7 + 0.3 * x[i * D] - 0.1 * x[i * D + 2] + 0.05 * sf_rng_normal(&g);
        y[2 * i + 1] = -1 + x[i * D + 3] + 0.2 * sf_rng_normal(&g);
    }
    linreg m;
    cr_assert_eq(linreg_fit(&m, x, N, D, y, 2), SF_OK);
    for (int out = 0; out < 2; out++) {
        double beta[D + 1];
        normal_equations(beta, x, N, D, y, 2, out);
        for (int j = 0; j <= D; j++)
            cr_assert_float_eq(m.coef[j * 2 + out], beta[j], 1e-8, "output %d coef %d", out, j);
    }
    double pred[N * 2];
    linreg_predict(&m, x, N, pred);
    double by_hand = 0;
    for (int i = 0; i < N; i++) {
        double s = m.coef[0];
        for (int j = 0; j < D; j++) s += m.coef[(1 + j) * 2] * x[i * D + j];
        cr_assert_float_eq(pred[2 * i], s, 1e-12);
        by_hand += (s - y[2 * i]) * (s - y[2 * i]);
    }
    cr_assert_lt(sqrt(by_hand / N), 0.06);
    linreg_free(&m);
}

Test(regression, always_zero_feature_gets_zero_weight) {
    /* Like a top-k feature that never fires on the training rows. */
    enum { M = 20 };
    double x[M * 2], y[M];
    for (int i = 0; i < M; i++) x[2 * i] = i, x[2 * i + 1] = 0, y[i] = 2 + 0.5 * i;
    linreg m;
    cr_assert_eq(linreg_fit(&m, x, M, 2, y, 1), SF_OK);
    cr_assert_float_eq(m.coef[0], 2.0, 1e-9);
    cr_assert_float_eq(m.coef[1], 0.5, 1e-9);
    cr_assert_float_eq(m.coef[2], 0.0, 1e-9);
    linreg_free(&m);
}

Test(pca, regression_baseline_rmse) {
    enum { NT = 240, NV = 60 };
    double x[(NT + NV) * D], y[NT + NV];
    make_data(x, NT + NV, 31);
    sf_rng g;
    sf_rng_seed(&g, 8);
    for (int i = 0; i < NT + NV; i++)
        y[i] = 0.1 * x[i * D] + x[i * D + 3] + 0.01 * sf_rng_normal(&g);
    const int ks[] = {1, 2, 4};
    double rmse[3], explained[3];
    cr_assert_eq(
        pca_regression_rmse(rmse, explained, ks, 3, x, y, NT, x + NT * D, y + NT, NV, D, 1), SF_OK);

    /* Independent: components by power iteration, projections, normal equations. */
    double cov[D * D], comps[D * D], lambda[D], mean[D] = {0};
    covariance(cov, x, NT);
    double trace = cov[0] + cov[5] + cov[10] + cov[15];
    for (int c = 0; c < D; c++) lambda[c] = power_iteration(comps + c * D, cov);
    cr_assert_float_eq(explained[0], lambda[0] / trace, 1e-8);
    cr_assert_float_eq(explained[1], (lambda[0] + lambda[1]) / trace, 1e-8);
    cr_assert_float_eq(explained[2], 1.0, 1e-8);
    for (int i = 0; i < NT; i++)
        for (int j = 0; j < D; j++) mean[j] += x[i * D + j] / NT;
    for (int t = 0; t < 3; t++) {
        int k = ks[t];
        double zt[NT * D], zv[NV * D], beta[D + 1];
        for (int i = 0; i < NT + NV; i++)
            for (int c = 0; c < k; c++) {
                double s = 0;
                for (int j = 0; j < D; j++) s += (x[i * D + j] - mean[j]) * comps[c * D + j];
                if (i < NT) zt[i * k + c] = s;
                else zv[(i - NT) * k + c] = s;
            }
        normal_equations(beta, zt, NT, k, y, 1, 0);
        double se = 0;
        for (int i = 0; i < NV; i++) {
            double p = beta[0];
            for (int c = 0; c < k; c++) p += beta[1 + c] * zv[i * k + c];
            se += (p - y[NT + i]) * (p - y[NT + i]);
        }
        cr_assert_float_eq(rmse[t], sqrt(se / NV), 1e-7, "k = %d", k);
    }
    cr_assert_lt(rmse[2], 0.02, "all components recover the linear target");
    cr_assert_gt(rmse[0], rmse[2]);
    const int bad[] = {5};
    cr_assert_eq(pca_regression_rmse(rmse, NULL, bad, 1, x, y, NT, x, y, NV, D, 1), SF_ERR);
}

Test(regression, r2_is_pearson_squared_in_one_dimension) {
    enum { M = 50 };
    double x[M], y[M], exact[M];
    sf_rng g;
    sf_rng_seed(&g, 12);
    double mx = 0, my = 0;
    for (int i = 0; i < M; i++) {
        x[i] = sf_rng_normal(&g);
        y[i] = 0.5 * x[i] + sf_rng_normal(&g);
        exact[i] = 3 - 2 * x[i];
        mx += x[i] / M, my += y[i] / M;
    }
    double sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < M; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    cr_assert_float_eq(analysis_r2(x, M, 1, y), sxy * sxy / (sxx * syy), 1e-10);
    cr_assert_float_eq(analysis_r2(x, M, 1, exact), 1.0, 1e-10);
    double flat[M];
    for (int i = 0; i < M; i++) flat[i] = 2;
    cr_assert(isnan(analysis_r2(x, M, 1, flat)));
}
