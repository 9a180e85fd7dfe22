/* Tests of the correlations, feature counts, variance shares and suggested labels,
 * each against a computation written out long-hand here. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "analysis.h"
#include "sf_util.h"

/* Two-pass Pearson, written independently of the module's. */
static double naive_pearson(const double *x, const double *y, int n) {
    double sx = 0, sy = 0;
    for (int i = 0; i < n; i++) sx += x[i], sy += y[i];
    double mx = sx / n, my = sy / n, num = 0, dx = 0, dy = 0;
    for (int i = 0; i < n; i++) {
        num += (x[i] - mx) * (y[i] - my);
        dx += (x[i] - mx) * (x[i] - mx);
        dy += (y[i] - my) * (y[i] - my);
    }
    return num / sqrt(dx * dy);
}

/* Average rank by counting: 1 + #smaller + (#equal - 1) / 2. O(n^2). */
static void naive_rank(double *r, const double *x, int n) {
    for (int i = 0; i < n; i++) {
        int less = 0, equal = 0;
        for (int j = 0; j < n; j++) less += x[j] < x[i], equal += x[j] == x[i];
        r[i] = 1 + less + 0.5 * (equal - 1);
    }
}

Test(stats, pearson_hand_example) {
    /* x = 1..5, y = 2,4,5,4,5: sxy = 6, sxx = 10, syy = 6, r = 6 / sqrt(60). */
    const double x[] = {1, 2, 3, 4, 5}, y[] = {2, 4, 5, 4, 5};
    cr_assert_float_eq(analysis_pearson(x, y, 5), 6 / sqrt(60.0), 1e-12);
    const double z[] = {3, 3, 3, 3, 3};
    cr_assert(isnan(analysis_pearson(x, z, 5)), "constant side gives NAN");
    cr_assert(isnan(analysis_pearson(x, y, 2)), "too few pairs give NAN");
}

Test(stats, pearson_skips_missing_pairs) {
    const double x[] = {1, 2, NAN, 3, 4, 5}, y[] = {2, 4, 100, 5, 4, 5};
    const double x5[] = {1, 2, 3, 4, 5}, y5[] = {2, 4, 5, 4, 5};
    cr_assert_float_eq(analysis_pearson(x, y, 6), naive_pearson(x5, y5, 5), 1e-12);
}

Test(stats, ranks_average_ties) {
    const double x[] = {10, 20, 20, 5, 20, 7};
    double r[6];
    analysis_rank(r, x, 6);
    const double want[] = {3, 5, 5, 1, 5, 2};
    for (int i = 0; i < 6; i++) cr_assert_float_eq(r[i], want[i], 1e-12);
}

Test(stats, spearman_against_naive_ranks_with_ties) {
    sf_rng g;
    sf_rng_seed(&g, 3);
    enum { N = 300 };
    double x[N], y[N], rx[N], ry[N];
    for (int i = 0; i < N; i++) {
        /* Many zeros, as in sparse activations, and a rounded target: lots of ties. */
        x[i] = sf_rng_uniform(&g) < 0.4 ? 0 : sf_rng_uniform(&g);
        y[i] = round(10 * (x[i] + 0.5 * sf_rng_normal(&g))) / 10;
    }
    naive_rank(rx, x, N);
    naive_rank(ry, y, N);
    double want = naive_pearson(rx, ry, N);
    cr_assert_float_eq(analysis_spearman(x, y, N), want, 1e-12);
    cr_assert_gt(want, 0.3);
    /* Monotone but not linear: Spearman 1, Pearson below 1. */
    double a[20], b[20];
    for (int i = 0; i < 20; i++) a[i] = i, b[i] = exp(i);
    cr_assert_float_eq(analysis_spearman(a, b, 20), 1.0, 1e-12);
    cr_assert_lt(analysis_pearson(a, b, 20), 0.9);
}

Test(stats, correlation_matrix) {
    enum { N = 50, D = 3 };
    double x[N * D], c0[N], c1[N], c2[N];
    sf_rng g;
    sf_rng_seed(&g, 9);
    for (int i = 0; i < N; i++) {
        c0[i] = sf_rng_normal(&g);
        c1[i] = c0[i] + sf_rng_normal(&g);
        c2[i] = -c0[i] * c0[i] * c0[i];
        x[i * D] = c0[i], x[i * D + 1] = c1[i], x[i * D + 2] = c2[i];
    }
    double m[D * D];
    analysis_corr_matrix(m, x, N, D, 0);
    cr_assert_float_eq(m[0], 1.0, 1e-12);
    cr_assert_float_eq(m[1], naive_pearson(c0, c1, N), 1e-12);
    cr_assert_float_eq(m[3], m[1], 1e-15);
    cr_assert_float_eq(m[5], naive_pearson(c1, c2, N), 1e-12);
    analysis_corr_matrix(m, x, N, D, 1);
    cr_assert_float_eq(m[2], -1.0, 1e-12, "Spearman of a monotone decreasing map");
}

Test(stats, rmse_and_counts) {
    const double p[] = {1, 2, 3, 4}, y[] = {1, 0, 3, 8}; /* errors 0, 2, 0, -4 */
    cr_assert_float_eq(analysis_rmse(p, y, 2, 2), sqrt(20.0 / 4), 1e-12);
    const double act[] = {0, 1, 0, 2, 0, 3, 0, 0, 5, 1, 0, 1}; /* (3, 4) */
    int count[4], order[4];
    analysis_feature_counts(count, order, act, 3, 4);
    const int want_count[] = {1, 3, 0, 2}, want_order[] = {1, 3, 0, 2};
    for (int j = 0; j < 4; j++) {
        cr_assert_eq(count[j], want_count[j]);
        cr_assert_eq(order[j], want_order[j]);
    }
    double sel[6];
    const int cols[] = {3, 0};
    analysis_select_columns(sel, act, 3, 4, cols, 2);
    const double want_sel[] = {2, 0, 0, 0, 1, 5};
    for (int i = 0; i < 6; i++) cr_assert_eq(sel[i], want_sel[i]);
}

Test(stats, variance_share) {
    /* Two independent features; with weights 3 and 1 and equal variances the
     * first carries 9/10 of the variance of the predictions. */
    enum { N = 4, D = 2 };
    const double act[N * D] = {1, 1, 1, -1, -1, 1, -1, -1};
    const double w[D] = {3, 1};
    const int first[] = {0}, both[] = {0, 1}, none[] = {0};
    cr_assert_float_eq(analysis_variance_share(act, N, D, w, first, 1), 0.9, 1e-12);
    cr_assert_float_eq(analysis_variance_share(act, N, D, w, both, 2), 1.0, 1e-12);
    cr_assert_float_eq(analysis_variance_share(act, N, D, w, none, 0), 0.0, 1e-12);
    const double zero_w[D] = {0, 0};
    cr_assert(isnan(analysis_variance_share(act, N, D, zero_w, first, 1)));
}

Test(labels, suggest_orders_by_strength_and_formats) {
    enum { N = 40, C = 3 };
    double a[N], cols[N * C];
    sf_rng g;
    sf_rng_seed(&g, 5);
    for (int i = 0; i < N; i++) {
        a[i] = i < 10 ? 0 : i;                        /* a sparse activation with ties at zero */
        cols[i * C + 0] = sf_rng_normal(&g);          /* unrelated */
        cols[i * C + 1] = -i + 8 * sf_rng_normal(&g); /* falls with a, noisily */
        cols[i * C + 2] = i % 7 == 0 ? NAN : 2.0 * i; /* rises with a, some missing */
    }
    label_match m[3];
    int k = label_suggest(m, 3, a, N, cols, C);
    cr_assert_eq(k, 3);
    cr_assert_eq(m[0].column, 2);
    /* Independent: Spearman over the pairs left after dropping the NANs. */
    double xs[N], ys[N], rx[N], ry[N];
    int n2 = 0;
    for (int i = 0; i < N; i++)
        if (!isnan(cols[i * C + 2])) xs[n2] = a[i], ys[n2] = cols[i * C + 2], n2++;
    naive_rank(rx, xs, n2);
    naive_rank(ry, ys, n2);
    cr_assert_float_eq(m[0].rho, naive_pearson(rx, ry, n2), 1e-12);
    cr_assert_eq(m[0].n, n2);
    cr_assert_eq(m[1].column, 1);
    cr_assert_lt(m[1].rho, -0.5);
    cr_assert_lt(fabs(m[2].rho), fabs(m[1].rho));
    cr_assert_eq(label_suggest(m, 1, a, N, cols, C), 1);

    char buf[96];
    label_format(buf, sizeof buf, "log_nii_ha", 0.714);
    cr_assert_str_eq(buf, "high [NII]/Halpha (rho 0.71)");
    label_format(buf, sizeof buf, "true_inclination", -0.6371);
    cr_assert_str_eq(buf, "low true_inclination (rho -0.64)");
    cr_assert_str_eq(label_friendly_name("oh_p50"), "metallicity");
}

Test(labels, too_few_pairs_are_skipped) {
    double a[12], cols[12];
    for (int i = 0; i < 12; i++) a[i] = i, cols[i] = i < 5 ? i : NAN;
    label_match m[1];
    cr_assert_eq(label_suggest(m, 1, a, 12, cols, 1), 0);
}
