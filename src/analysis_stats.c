/* analysis_stats.c: correlations, ranks, feature frequencies and the small
 * statistics of Table 1.
 * Layer: analysis. Calls: sf_util.
 * Called by: analysis_labels, analysis_pca, analysis_run.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "sf_util.h"

/* Pearson over pairs already known to be finite. */
static double pearson_dense(const double *x, const double *y, int n) {
    if (n < 3) return NAN;
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= n;
    my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (!(sxx > 0) || !(syy > 0)) return NAN;
    double r = sxy / sqrt(sxx * syy);
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

/* Copies the pairs where both values are finite; returns how many. */
static int finite_pairs(double *xo, double *yo, const double *x, const double *y, int n) {
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) {
            xo[m] = x[i];
            yo[m] = y[i];
            m++;
        }
    return m;
}

double analysis_pearson(const double *x, const double *y, int n) {
    double *xs = xmalloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    double *ys = xmalloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    int m = finite_pairs(xs, ys, x, y, n);
    double r = pearson_dense(xs, ys, m);
    free(xs);
    free(ys);
    return r;
}

typedef struct {
    double key;
    int index;
} keyed;

/* Ascending key, then ascending index, so equal keys keep a stable order. */
static int cmp_keyed(const void *a, const void *b) {
    const keyed *ka = a, *kb = b;
    if (ka->key < kb->key) return -1;
    if (ka->key > kb->key) return 1;
    return (ka->index > kb->index) - (ka->index < kb->index);
}

void analysis_rank(double *rank, const double *x, int n) {
    if (n <= 0) return;
    keyed *k = xmalloc(sizeof(keyed) * (size_t)n);
    for (int i = 0; i < n; i++) k[i] = (keyed){x[i], i};
    qsort(k, (size_t)n, sizeof(keyed), cmp_keyed);
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && k[j + 1].key == k[i].key) j++;
        double avg = 0.5 * (double)(i + j) + 1.0; /* ranks i+1 .. j+1 */
        for (int t = i; t <= j; t++) rank[k[t].index] = avg;
        i = j + 1;
    }
    free(k);
}

double analysis_spearman(const double *x, const double *y, int n) {
    size_t sz = sizeof(double) * (size_t)(n > 0 ? n : 1);
    double *xs = xmalloc(sz), *ys = xmalloc(sz), *rx = xmalloc(sz), *ry = xmalloc(sz);
    int m = finite_pairs(xs, ys, x, y, n);
    analysis_rank(rx, xs, m);
    analysis_rank(ry, ys, m);
    double r = pearson_dense(rx, ry, m);
    free(xs);
    free(ys);
    free(rx);
    free(ry);
    return r;
}

void analysis_corr_matrix(double *out, const double *x, int n, int d, int spearman) {
    size_t sz = sizeof(double) * (size_t)(n > 0 ? n : 1);
    double *cols = xmalloc(sz * (size_t)(d > 0 ? d : 1));
    for (int j = 0; j < d; j++)
        for (int i = 0; i < n; i++)
            cols[(size_t)j * (size_t)n + (size_t)i] = x[(size_t)i * (size_t)d + (size_t)j];
    for (int a = 0; a < d; a++)
        for (int b = a; b < d; b++) {
            const double *ca = cols + (size_t)a * (size_t)n, *cb = cols + (size_t)b * (size_t)n;
            double r = spearman ? analysis_spearman(ca, cb, n) : analysis_pearson(ca, cb, n);
            if (a == b && isfinite(r)) r = 1;
            out[(size_t)a * (size_t)d + (size_t)b] = r;
            out[(size_t)b * (size_t)d + (size_t)a] = r;
        }
    free(cols);
}

double analysis_rmse(const double *pred, const double *y, int n, int n_out) {
    size_t m = (size_t)n * (size_t)n_out;
    if (m == 0) return NAN;
    double s = 0;
    for (size_t i = 0; i < m; i++) {
        double e = pred[i] - y[i];
        s += e * e;
    }
    return sqrt(s / (double)m);
}

void analysis_feature_counts(int *count, int *order, const double *act, int n, int d) {
    int *c = xcalloc((size_t)(d > 0 ? d : 1), sizeof(int));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            if (act[(size_t)i * (size_t)d + (size_t)j] != 0) c[j]++;
    if (order && d > 0) {
        keyed *k = xmalloc(sizeof(keyed) * (size_t)d);
        for (int j = 0; j < d; j++) k[j] = (keyed){-(double)c[j], j};
        qsort(k, (size_t)d, sizeof(keyed), cmp_keyed);
        for (int j = 0; j < d; j++) order[j] = k[j].index;
        free(k);
    }
    if (count) memcpy(count, c, sizeof(int) * (size_t)d);
    free(c);
}

void analysis_select_columns(double *out, const double *x, int n, int d, const int *cols, int m) {
    for (int j = 0; j < m; j++) SF_ASSERT(cols[j] >= 0 && cols[j] < d);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++)
            out[(size_t)i * (size_t)m + (size_t)j] = x[(size_t)i * (size_t)d + (size_t)cols[j]];
}

double analysis_variance_share(const double *act, int n, int d, const double *w, const int *cols,
                               int m) {
    if (n < 2) return NAN;
    char *kept = xcalloc((size_t)(d > 0 ? d : 1), 1);
    for (int j = 0; j < m; j++) {
        SF_ASSERT(cols[j] >= 0 && cols[j] < d);
        kept[cols[j]] = 1;
    }
    double mf = 0, mr = 0;
    double *full = xmalloc(sizeof(double) * (size_t)n), *rest = xmalloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < n; i++) {
        double f = 0, r = 0;
        for (int j = 0; j < d; j++) {
            double t = w[j] * act[(size_t)i * (size_t)d + (size_t)j];
            f += t;
            if (!kept[j]) r += t;
        }
        full[i] = f;
        rest[i] = r; /* full - partial: the terms left out */
        mf += f;
        mr += r;
    }
    mf /= n;
    mr /= n;
    double vf = 0, vr = 0;
    for (int i = 0; i < n; i++) {
        vf += (full[i] - mf) * (full[i] - mf);
        vr += (rest[i] - mr) * (rest[i] - mr);
    }
    free(full);
    free(rest);
    free(kept);
    if (!(vf > 0)) return NAN;
    return 1.0 - vr / vf;
}
