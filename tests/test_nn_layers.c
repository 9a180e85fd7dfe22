/* Tests of the layers of nn.h: each backward pass against central finite differences of
 * its forward pass (float layers, the probe loss L = sum(out * r) summed in double),
 * the im2col convolution against the direct one, the tie rules of max pool and top-k,
 * the BN running statistics, and the model's tensor table, errors and batch handling. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "nn.h"
#include "nn_model.h"
#include "sf_util.h"

static float *rand_floats(sf_rng *r, size_t n, double scale) {
    float *x = xmalloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) x[i] = (float)(sf_rng_normal(r) * scale);
    return x;
}

static double *rand_doubles(sf_rng *r, size_t n) {
    double *x = xmalloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) x[i] = sf_rng_normal(r);
    return x;
}

static double rel_err(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* A layer under test: fwd() recomputes out (n_out floats) from the current inputs. */
typedef struct {
    void (*fwd)(void *ctx);
    void *ctx;
    const float *out;
    size_t n_out;
    const double *r; /* (n_out) probe weights: L = sum(out * r), so dL/dout = r */
} probe;

static double probe_loss(const probe *p) {
    p->fwd(p->ctx);
    double s = 0;
    for (size_t i = 0; i < p->n_out; i++) s += p->out[i] * p->r[i];
    return s;
}

/* Entries of each tensor that check_fd perturbs, spread over it. */
static size_t fd_samples = 48;

/* Compares the analytic gradient of L with respect to x (nx floats) with central
 * differences at up to fd_samples entries spread over x. */
static void check_fd(const char *what, const probe *p, float *x, size_t nx, const float *analytic,
                     float eps, double tol) {
    size_t step = nx > fd_samples ? nx / fd_samples : 1;
    double num2 = 0, den2 = 0;
    for (size_t i = 0; i < nx; i += step) {
        float keep = x[i];
        x[i] = keep + eps;
        double lp = probe_loss(p);
        x[i] = keep - eps;
        double lm = probe_loss(p);
        x[i] = keep;
        double fd = (lp - lm) / ((double)(keep + eps) - (double)(keep - eps));
        num2 += (fd - analytic[i]) * (fd - analytic[i]);
        den2 += (double)analytic[i] * analytic[i];
    }
    p->fwd(p->ctx);
    cr_assert_gt(den2, 0, "%s: analytic gradient is zero", what);
    double e = sqrt(num2 / den2);
    cr_expect_lt(e, tol, "%s: finite differences differ by %.3g (relative)", what, e);
}

static float *dout_of(const double *r, size_t n) {
    float *d = xmalloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) d[i] = (float)r[i];
    return d;
}

/* ---- convolution ---- */

typedef struct {
    nn_conv_geom g;
    float *out, *in, *w, *col;
    int chunk;
} conv_ctx;

static void conv_fwd(void *c) {
    conv_ctx *x = c;
    nn_conv2d_forward(x->out, x->in, x->w, x->col, x->chunk, &x->g);
}

static void conv_case(int B, int C, int H, int OC, int k, int stride, int pad, int chunk) {
    sf_rng rng;
    sf_rng_seed(&rng, 100 + B * 7 + k);
    conv_ctx c = {.g = nn_conv_geom_make(B, C, H, H, OC, k, stride, pad), .chunk = chunk};
    size_t n_in = (size_t)C * B * H * H, n_w = (size_t)OC * C * k * k;
    size_t n_out = (size_t)OC * B * c.g.OH * c.g.OW;
    c.in = rand_floats(&rng, n_in, 1);
    c.w = rand_floats(&rng, n_w, 0.3);
    c.out = xmalloc(sizeof(float) * n_out);
    c.col = xmalloc(sizeof(float) * nn_conv_col_floats(&c.g, chunk));
    float *ref = xmalloc(sizeof(float) * n_out);
    conv_fwd(&c);
    nn_conv2d_forward_naive(ref, c.in, c.w, &c.g);
    cr_expect_lt(rel_err(c.out, ref, n_out), 1e-5, "im2col forward vs naive (k %d s %d p %d)", k,
                 stride, pad);

    double *r = rand_doubles(&rng, n_out);
    float *dout = dout_of(r, n_out);
    float *din = xcalloc(n_in, sizeof(float)), *dw = xcalloc(n_w, sizeof(float));
    float *din_ref = xcalloc(n_in, sizeof(float)), *dw_ref = xcalloc(n_w, sizeof(float));
    /* accumulation: start from ones in both */
    for (size_t i = 0; i < n_in; i++) din[i] = din_ref[i] = 1;
    for (size_t i = 0; i < n_w; i++) dw[i] = dw_ref[i] = 1;
    nn_conv2d_backward(din, dw, dout, c.in, c.w, c.col, chunk, &c.g);
    nn_conv2d_backward_naive(din_ref, dw_ref, dout, c.in, c.w, &c.g);
    cr_expect_lt(rel_err(din, din_ref, n_in), 1e-5, "im2col backward-data vs naive");
    cr_expect_lt(rel_err(dw, dw_ref, n_w), 1e-5, "im2col backward-weights vs naive");
    for (size_t i = 0; i < n_in; i++) din[i] -= 1;
    for (size_t i = 0; i < n_w; i++) dw[i] -= 1;
    probe p = {conv_fwd, &c, c.out, n_out, r};
    check_fd("conv din", &p, c.in, n_in, din, 1e-2f, 1e-3);
    check_fd("conv dw", &p, c.w, n_w, dw, 1e-2f, 1e-3);
    free(c.in), free(c.w), free(c.out), free(c.col), free(ref), free(r), free(dout);
    free(din), free(dw), free(din_ref), free(dw_ref);
}

Test(nn_layers, conv3x3_stride1_pad1) { conv_case(3, 4, 7, 5, 3, 1, 1, 2); }
Test(nn_layers, conv3x3_stride2_pad1) { conv_case(2, 3, 8, 4, 3, 2, 1, 2); }
Test(nn_layers, conv7x7_stride2_pad3) { conv_case(2, 3, 11, 4, 7, 2, 3, 1); }
Test(nn_layers, conv1x1_stride2_pad0) { conv_case(3, 5, 6, 4, 1, 2, 0, 3); }
Test(nn_layers, conv_kernel_larger_than_image) { conv_case(2, 2, 3, 3, 7, 2, 3, 2); }

/* ---- batch norm ---- */

typedef struct {
    float *out, *mean, *invstd, *in, *gamma, *beta, *rm, *rv, *res;
    int relu, C, N, train;
} bn_ctx;

static void bn_fwd(void *c) {
    bn_ctx *x = c;
    /* the running statistics move on every call in train mode; keep them fixed here */
    float rm[16], rv[16];
    memcpy(rm, x->rm, sizeof(float) * x->C);
    memcpy(rv, x->rv, sizeof(float) * x->C);
    nn_batchnorm_forward(x->out, x->mean, x->invstd, x->in, x->gamma, x->beta, x->rm, x->rv, x->res,
                         x->relu, x->C, x->N, x->train);
    memcpy(x->rm, rm, sizeof(float) * x->C);
    memcpy(x->rv, rv, sizeof(float) * x->C);
}

static void bn_case(int train, int with_res, int relu) {
    sf_rng rng;
    sf_rng_seed(&rng, 7 + train * 4 + with_res * 2 + relu);
    const int C = 3, N = 10;
    const size_t n = (size_t)C * N;
    bn_ctx c = {.C = C, .N = N, .train = train, .relu = relu};
    c.in = rand_floats(&rng, n, 1.5);
    for (size_t i = 0; i < n; i++) c.in[i] += 0.5f;
    c.gamma = rand_floats(&rng, C, 1);
    c.beta = rand_floats(&rng, C, 1);
    c.rm = rand_floats(&rng, C, 0.2);
    c.rv = rand_floats(&rng, C, 0.2);
    for (int i = 0; i < C; i++) c.rv[i] = 1 + fabsf(c.rv[i]);
    c.res = with_res ? rand_floats(&rng, n, 1) : NULL;
    c.out = xmalloc(sizeof(float) * n);
    c.mean = xmalloc(sizeof(float) * C);
    c.invstd = xmalloc(sizeof(float) * C);
    double *r = rand_doubles(&rng, n);
    float *dout = dout_of(r, n);
    float *din = xcalloc(n, sizeof(float)), *dres = xcalloc(n, sizeof(float));
    float *dg = xcalloc(C, sizeof(float)), *db = xcalloc(C, sizeof(float));
    bn_fwd(&c);
    nn_batchnorm_backward(din, with_res ? dres : NULL, dg, db, dout, c.out, relu, c.in, c.mean,
                          c.invstd, c.gamma, C, N, train);
    probe p = {bn_fwd, &c, c.out, n, r};
    check_fd("bn din", &p, c.in, n, din, 1e-3f, 5e-3);
    check_fd("bn dgamma", &p, c.gamma, C, dg, 1e-3f, 5e-3);
    check_fd("bn dbeta", &p, c.beta, C, db, 1e-3f, 5e-3);
    if (with_res) check_fd("bn dresidual", &p, c.res, n, dres, 1e-3f, 5e-3);
    free(c.in), free(c.gamma), free(c.beta), free(c.rm), free(c.rv), free(c.res);
    free(c.out), free(c.mean), free(c.invstd), free(r), free(dout), free(din), free(dres);
    free(dg), free(db);
}

Test(nn_layers, batchnorm_train) { bn_case(1, 0, 0); }
Test(nn_layers, batchnorm_train_relu) { bn_case(1, 0, 1); }
Test(nn_layers, batchnorm_train_residual_relu) { bn_case(1, 1, 1); }
Test(nn_layers, batchnorm_eval) { bn_case(0, 0, 0); }
Test(nn_layers, batchnorm_eval_residual_relu) { bn_case(0, 1, 1); }

Test(nn_layers, batchnorm_statistics_as_pytorch) {
    /* one channel of 4 values: mean 2.5, biased var 1.25, unbiased 5/3 */
    float in[4] = {1, 2, 3, 4}, out[4], mean, invstd;
    float gamma = 2, beta = 1, rm = 1, rv = 2;
    nn_batchnorm_forward(out, &mean, &invstd, in, &gamma, &beta, &rm, &rv, NULL, 0, 1, 4, 1);
    cr_expect_float_eq(mean, 2.5f, 1e-6);
    cr_expect_float_eq(invstd, 1 / sqrtf(1.25f + 1e-5f), 1e-6);
    cr_expect_float_eq(out[0], 2 * (1 - 2.5f) / sqrtf(1.25f + 1e-5f) + 1, 1e-5);
    cr_expect_float_eq(rm, 0.9f * 1 + 0.1f * 2.5f, 1e-6);
    cr_expect_float_eq(rv, 0.9f * 2 + 0.1f * (5.0f / 3), 1e-6);
    /* eval: the running statistics normalise and stay */
    nn_batchnorm_forward(out, &mean, &invstd, in, &gamma, &beta, &rm, &rv, NULL, 0, 1, 4, 0);
    cr_expect_float_eq(out[3], 2 * (4 - rm) / sqrtf(rv + 1e-5f) + 1, 1e-5);
    cr_expect_float_eq(rm, 1.15f, 1e-6);
}

/* ---- ReLU ---- */

typedef struct {
    float *out, *in;
    size_t n;
} relu_ctx;

static void relu_fwd(void *c) {
    relu_ctx *x = c;
    nn_relu_forward(x->out, x->in, x->n);
}

Test(nn_layers, relu) {
    sf_rng rng;
    sf_rng_seed(&rng, 3);
    relu_ctx c = {.n = 40};
    c.in = rand_floats(&rng, c.n, 1);
    c.out = xmalloc(sizeof(float) * c.n);
    double *r = rand_doubles(&rng, c.n);
    float *dout = dout_of(r, c.n), *din = xcalloc(c.n, sizeof(float));
    relu_fwd(&c);
    nn_relu_backward(din, dout, c.out, c.n);
    probe p = {relu_fwd, &c, c.out, c.n, r};
    check_fd("relu din", &p, c.in, c.n, din, 1e-3f, 1e-3);
    float z = 0, zo, dz = 0, one = 1;
    nn_relu_forward(&zo, &z, 1);
    nn_relu_backward(&dz, &one, &zo, 1);
    cr_expect_eq(dz, 0.0f, "no gradient at 0, as PyTorch");
    free(c.in), free(c.out), free(r), free(dout), free(din);
}

/* ---- max pool ---- */

typedef struct {
    float *out, *in;
    int *argmax;
    int planes, H, W;
} pool_ctx;

static void maxpool_fwd(void *c) {
    pool_ctx *x = c;
    nn_maxpool_forward(x->out, x->argmax, x->in, x->planes, x->H, x->W);
}

Test(nn_layers, maxpool) {
    sf_rng rng;
    sf_rng_seed(&rng, 5);
    pool_ctx c = {.planes = 3, .H = 7, .W = 7};
    int OH = nn_maxpool_out(7);
    cr_assert_eq(OH, 4);
    size_t n_in = 3 * 49, n_out = (size_t)3 * OH * OH;
    c.in = rand_floats(&rng, n_in, 1);
    c.out = xmalloc(sizeof(float) * n_out);
    c.argmax = xmalloc(sizeof(int) * n_out);
    double *r = rand_doubles(&rng, n_out);
    float *dout = dout_of(r, n_out), *din = xcalloc(n_in, sizeof(float));
    maxpool_fwd(&c);
    nn_maxpool_backward(din, dout, c.argmax, c.planes, c.H, c.W);
    probe p = {maxpool_fwd, &c, c.out, n_out, r};
    check_fd("maxpool din", &p, c.in, n_in, din, 1e-4f, 1e-3);
    free(c.in), free(c.out), free(c.argmax), free(r), free(dout), free(din);
}

Test(nn_layers, maxpool_ties_go_to_first_maximum) {
    /* 4x4 plane of equal values: each window's first element in row-major order */
    float in[16], out[4];
    int am[4];
    for (int i = 0; i < 16; i++) in[i] = 1;
    nn_maxpool_forward(out, am, in, 1, 4, 4);
    /* windows start at rows/cols -1, 1 clamped to 0, 1 */
    cr_expect_eq(am[0], 0);
    cr_expect_eq(am[1], 1);
    cr_expect_eq(am[2], 4);
    cr_expect_eq(am[3], 5);
    float din[16] = {0}, dout[4] = {1, 2, 3, 4};
    nn_maxpool_backward(din, dout, am, 1, 4, 4);
    cr_expect_eq(din[5], 4.0f);
    cr_expect_eq(din[0] + din[1] + din[4] + din[5], 10.0f);
    /* 5x5: the window of output (1, 1) lies inside, rows 1-3, columns 1-3 */
    float in5[25], out5[9];
    int am5[9];
    for (int i = 0; i < 25; i++) in5[i] = 2;
    in5[13] = 3;
    in5[17] = 3;
    nn_maxpool_forward(out5, am5, in5, 1, 5, 5);
    cr_expect_eq(am5[4], 13, "first of two equal maxima (13, 17)");
    cr_expect_eq(am5[0], 0);
    /* NaN propagates, as in PyTorch */
    in5[7] = NAN;
    nn_maxpool_forward(out5, am5, in5, 1, 5, 5);
    cr_expect(isnan(out5[4]));
    cr_expect_eq(am5[4], 7);
}

/* ---- average pool ---- */

typedef struct {
    float *out, *in;
    int C, B, HW;
} avg_ctx;

static void avg_fwd(void *c) {
    avg_ctx *x = c;
    nn_avgpool_forward(x->out, x->in, x->C, x->B, x->HW);
}

Test(nn_layers, avgpool) {
    sf_rng rng;
    sf_rng_seed(&rng, 6);
    avg_ctx c = {.C = 3, .B = 2, .HW = 5};
    size_t n_in = 30, n_out = 6;
    c.in = rand_floats(&rng, n_in, 1);
    c.out = xmalloc(sizeof(float) * n_out);
    double *r = rand_doubles(&rng, n_out);
    float *dout = dout_of(r, n_out), *din = xcalloc(n_in, sizeof(float));
    avg_fwd(&c);
    /* out is (B, C): image 1, channel 2 averages plane (2, 1) */
    double s = 0;
    for (int i = 0; i < 5; i++) s += c.in[(2 * 2 + 1) * 5 + i];
    cr_expect_float_eq(c.out[1 * 3 + 2], s / 5, 1e-6);
    nn_avgpool_backward(din, dout, c.C, c.B, c.HW);
    probe p = {avg_fwd, &c, c.out, n_out, r};
    check_fd("avgpool din", &p, c.in, n_in, din, 1e-3f, 1e-3);
    free(c.in), free(c.out), free(r), free(dout), free(din);
}

/* ---- top-k ---- */

typedef struct {
    float *out, *in;
    int *idx;
    int B, d, k;
} topk_ctx;

static void topk_fwd(void *c) {
    topk_ctx *x = c;
    nn_topk_forward(x->out, x->idx, x->in, x->B, x->d, x->k);
}

static void topk_case(int k) {
    sf_rng rng;
    sf_rng_seed(&rng, 8 + k);
    topk_ctx c = {.B = 3, .d = 12, .k = k};
    size_t n = 36;
    c.in = rand_floats(&rng, n, 1);
    c.out = xmalloc(sizeof(float) * n);
    c.idx = xmalloc(sizeof(int) * (c.B * k + 1));
    double *r = rand_doubles(&rng, n);
    float *dout = dout_of(r, n), *din = xcalloc(n, sizeof(float));
    topk_fwd(&c);
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) nonzero += c.out[i] != 0;
    cr_expect_leq(nonzero, k ? c.B * k : (int)n);
    for (int b = 0; b < c.B && k; b++)
        for (int j = 1; j < k; j++)
            cr_expect_geq(c.in[b * 12 + c.idx[b * k + j - 1]], c.in[b * 12 + c.idx[b * k + j]],
                          "kept features in descending order");
    nn_topk_backward(din, dout, c.idx, c.in, c.B, c.d, k);
    probe p = {topk_fwd, &c, c.out, n, r};
    check_fd("topk din", &p, c.in, n, din, 1e-4f, 1e-3);
    free(c.in), free(c.out), free(c.idx), free(r), free(dout), free(din);
}

Test(nn_layers, topk_k3) { topk_case(3); }
Test(nn_layers, topk_dense_relu) { topk_case(0); }

Test(nn_layers, topk_ties_keep_lower_index) {
    float in[6] = {0.5f, 2, -1, 2, 0.5f, 2}, out[6];
    int idx[3];
    nn_topk_forward(out, idx, in, 1, 6, 3);
    cr_expect_eq(idx[0], 1);
    cr_expect_eq(idx[1], 3);
    cr_expect_eq(idx[2], 5);
    nn_topk_forward(out, idx, in, 1, 6, 2);
    cr_expect_eq(idx[0], 1);
    cr_expect_eq(idx[1], 3);
    cr_expect_eq(out[5], 0.0f);
    /* fewer positive values than k: zeros are kept, lowest index first, no gradient */
    float neg[4] = {-1, 3, -2, -3}, dn[4] = {0}, one[4] = {1, 1, 1, 1};
    int id2[2];
    nn_topk_forward(out, id2, neg, 1, 4, 2);
    cr_expect_eq(id2[0], 1);
    cr_expect_eq(id2[1], 0);
    nn_topk_backward(dn, one, id2, neg, 1, 4, 2);
    cr_expect_eq(dn[0], 0.0f);
    cr_expect_eq(dn[1], 1.0f);
}

/* ---- linear and RMSE ---- */

typedef struct {
    float *out, *in, *w, *b;
    int B, d, n_out;
} lin_ctx;

static void lin_fwd(void *c) {
    lin_ctx *x = c;
    nn_linear_forward(x->out, x->in, x->w, x->b, x->B, x->d, x->n_out);
}

Test(nn_layers, linear) {
    sf_rng rng;
    sf_rng_seed(&rng, 9);
    lin_ctx c = {.B = 3, .d = 7, .n_out = 2};
    c.in = rand_floats(&rng, 21, 1);
    c.w = rand_floats(&rng, 14, 1);
    c.b = rand_floats(&rng, 2, 1);
    c.out = xmalloc(sizeof(float) * 6);
    double *r = rand_doubles(&rng, 6);
    float *dout = dout_of(r, 6);
    float *din = xcalloc(21, sizeof(float)), *dw = xcalloc(14, sizeof(float));
    float *db = xcalloc(2, sizeof(float));
    lin_fwd(&c);
    nn_linear_backward(din, dw, db, dout, c.in, c.w, c.B, c.d, c.n_out);
    probe p = {lin_fwd, &c, c.out, 6, r};
    check_fd("linear din", &p, c.in, 21, din, 1e-2f, 1e-3);
    check_fd("linear dw", &p, c.w, 14, dw, 1e-2f, 1e-3);
    check_fd("linear db", &p, c.b, 2, db, 1e-2f, 1e-3);
    free(c.in), free(c.w), free(c.b), free(c.out), free(r), free(dout), free(din), free(dw);
    free(db);
}

Test(nn_layers, rmse) {
    float out[4] = {1, 2, 3, 4}, y[4] = {1, 1, 1, 1}, d[4] = {0};
    float loss = nn_rmse_forward(out, y, 4);
    cr_expect_float_eq(loss, sqrtf((0 + 1 + 4 + 9) / 4.0f), 1e-6);
    nn_rmse_backward(d, out, y, 4, loss);
    for (int i = 0; i < 4; i++) {
        float keep = out[i];
        out[i] = keep + 1e-2f;
        double lp = nn_rmse_forward(out, y, 4);
        out[i] = keep - 1e-2f;
        double lm = nn_rmse_forward(out, y, 4);
        out[i] = keep;
        cr_expect_float_eq(d[i], (lp - lm) / 2e-2, 1e-3, "rmse d[%d]", i);
    }
    float zero[4] = {0};
    nn_rmse_backward(zero, y, y, 4, 0);
    cr_expect_eq(zero[0], 0.0f, "a perfect fit has no gradient (not NaN)");
}

/* ---- the model ---- */

Test(nn_model, tensor_table_as_torchvision) {
    sfnet_config cfg = {.width = 64, .k = 4, .n_out = 4, .in_size = 32};
    sfnet *m = sfnet_create(&cfg, 1, NN_ENGINE_REFERENCE);
    cr_assert_not_null(m, "%s", sf_last_error());
    cr_expect_eq(m->d, 512);
    /* torchvision resnet18: 11,689,512 parameters with the 1000-way fc (513,000) */
    cr_expect_eq(m->n_params, (size_t)11689512 - 513000 + 512 * 4 + 4);
    cr_expect_eq(m->n_tensors, 20 + 20 * 4 + 2);
    cr_expect_str_eq(m->tensors[0].name, "conv1.weight");
    cr_expect_str_eq(m->tensors[4].name, "bn1.running_var");
    cr_expect_str_eq(m->tensors[5].name, "layer1.0.conv1.weight");
    cr_expect_str_eq(m->tensors[m->n_tensors - 2].name, "fc.weight");
    const sfnet_tensor *t = sfnet_find_tensor(m, "resnet.layer2.0.downsample.0.weight");
    cr_assert_not_null(t);
    cr_expect_eq(t, sfnet_find_tensor(m, "layer2.0.downsample.0.weight"));
    cr_expect_eq(t->ndim, 4);
    cr_expect_eq(t->shape[0], 128);
    cr_expect_eq(t->shape[1], 64);
    cr_expect_eq(t->shape[2], 1);
    t = sfnet_find_tensor(m, "fc.weight");
    cr_expect_eq(t->shape[0], 4);
    cr_expect_eq(t->shape[1], 512);
    t = sfnet_find_tensor(m, "layer4.1.bn2.running_var");
    cr_assert_not_null(t);
    cr_expect(t->is_buffer);
    cr_expect_null(sfnet_tensor_grad(m, t));
    cr_expect_eq(sfnet_tensor_data(m, t)[0], 1.0f);
    cr_expect_null(sfnet_find_tensor(m, "layer5.0.conv1.weight"));
    cr_expect_null(sfnet_find_tensor(m, "bn1.num_batches_tracked"));
    /* kaiming normal, fan_out: conv1 sd sqrt(2 / (64 * 49)) */
    t = sfnet_find_tensor(m, "conv1.weight");
    sfnet_init(m, 42);
    const float *w = sfnet_tensor_data(m, t);
    double s2 = 0;
    for (size_t i = 0; i < t->numel; i++) s2 += (double)w[i] * w[i];
    cr_expect_float_eq(sqrt(s2 / t->numel), sqrt(2.0 / (64 * 49)), 0.002);
    /* the fc bound 1/sqrt(512) */
    t = sfnet_find_tensor(m, "fc.weight");
    w = sfnet_tensor_data(m, t);
    for (size_t i = 0; i < t->numel; i++) cr_assert_leq(fabsf(w[i]), 1 / sqrtf(512.0f));
    sfnet_free(m);
}

Test(nn_model, bad_configs_fail_with_a_message) {
    sfnet_config cfg = {.width = 16, .k = 200, .n_out = 1, .in_size = 64};
    cr_expect_null(sfnet_create(&cfg, 2, NN_ENGINE_REFERENCE));
    cr_expect(strstr(sf_last_error(), "top-k") != NULL, "%s", sf_last_error());
    cfg.k = 4;
    cfg.width = 0;
    cr_expect_null(sfnet_create(&cfg, 2, NN_ENGINE_REFERENCE));
    cfg.width = 16;
    cfg.n_out = 0;
    cr_expect_null(sfnet_create(&cfg, 2, NN_ENGINE_REFERENCE));
    cfg.n_out = 1;
    cr_expect_null(sfnet_create(&cfg, 0, NN_ENGINE_REFERENCE));
    cfg.precision = NN_PRECISION_BF16;
    cr_expect_null(sfnet_create(&cfg, 2, NN_ENGINE_REFERENCE));
    cr_expect(strstr(sf_last_error(), "bf16") != NULL, "%s", sf_last_error());
}

/* The model's gradient of the loss against finite differences, end to end (small,
 * dense head so that no top-k selection flips under the perturbation). */
typedef struct {
    sfnet *m;
    const float *x, *y;
    int B;
    double loss;
    float out_dummy;
} model_ctx;

static void model_fwd(void *c) {
    model_ctx *x = c;
    /* train-mode forward also moves the running statistics, which do not feed back */
    sfnet_forward(x->m, x->x, x->B, 1);
    x->loss = sfnet_loss(x->m, x->y, x->B, 0);
    x->out_dummy = (float)x->loss;
}

Test(nn_model, gradient_matches_finite_differences) {
    sfnet_config cfg = {.width = 4, .k = 0, .n_out = 2, .in_size = 48};
    const int B = 3;
    sfnet *m = sfnet_create(&cfg, B, NN_ENGINE_REFERENCE);
    cr_assert_not_null(m, "%s", sf_last_error());
    sfnet_init(m, 11);
    sf_rng rng;
    sf_rng_seed(&rng, 12);
    float *x = rand_floats(&rng, (size_t)B * 3 * 48 * 48, 1);
    float *y = rand_floats(&rng, (size_t)B * 2, 1);
    sfnet_zero_grad(m);
    sfnet_forward(m, x, B, 1);
    sfnet_loss(m, y, B, 1);
    float *g = xmalloc(sizeof(float) * m->n_params);
    memcpy(g, m->grads, sizeof(float) * m->n_params);
    model_ctx c = {.m = m, .x = x, .y = y, .B = B};
    /* Per tensor, the directional derivative along the tensor's own gradient, which is
     * |g|: a large signal, so a small step crosses few ReLU / max-pool kinks. */
    double one = 1;
    probe p = {model_fwd, &c, &c.out_dummy, 1, &one};
    static const char *const names[] = {"conv1.weight",
                                        "bn1.weight",
                                        "layer1.0.conv2.weight",
                                        "layer2.0.downsample.0.weight",
                                        "layer3.1.bn2.bias",
                                        "layer4.1.conv2.weight",
                                        "fc.weight",
                                        "fc.bias"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const sfnet_tensor *t = sfnet_find_tensor(m, names[i]);
        float *w = sfnet_tensor_data(m, t), *gt = g + t->offset;
        float *keep = xmalloc(sizeof(float) * t->numel);
        memcpy(keep, w, sizeof(float) * t->numel);
        double gn = 0;
        for (size_t j = 0; j < t->numel; j++) gn += (double)gt[j] * gt[j];
        gn = sqrt(gn);
        cr_assert_gt(gn, 0, "%s: zero gradient", names[i]);
        const double h = 3e-4;
        for (size_t j = 0; j < t->numel; j++) w[j] = keep[j] + (float)(h * gt[j] / gn);
        double lp = probe_loss(&p);
        for (size_t j = 0; j < t->numel; j++) w[j] = keep[j] - (float)(h * gt[j] / gn);
        double lm = probe_loss(&p);
        memcpy(w, keep, sizeof(float) * t->numel);
        free(keep);
        double fd = (lp - lm) / (2 * h);
        cr_expect_lt(fabs(fd - gn) / gn, 1e-2, "%s: directional derivative %.6g, |grad| %.6g",
                     names[i], fd, gn);
    }
    free(g), free(x), free(y);
    sfnet_free(m);
}

/* A batch smaller than max_batch gives what a model made for that batch gives. */
Test(nn_model, partial_batch_equals_full_batch) {
    sfnet_config cfg = {.width = 8, .k = 4, .n_out = 3, .in_size = 40};
    sfnet *a = sfnet_create(&cfg, 5, NN_ENGINE_REFERENCE);
    sfnet *b = sfnet_create(&cfg, 2, NN_ENGINE_REFERENCE);
    cr_assert(a && b, "%s", sf_last_error());
    sfnet_init(a, 3);
    sfnet_init(b, 3);
    sf_rng rng;
    sf_rng_seed(&rng, 4);
    float *x = rand_floats(&rng, (size_t)2 * 3 * 40 * 40, 1);
    float *y = rand_floats(&rng, 6, 1);
    for (int train = 1; train >= 0; train--) {
        sfnet_zero_grad(a);
        sfnet_zero_grad(b);
        sfnet_forward(a, x, 2, train);
        sfnet_forward(b, x, 2, train);
        float la = sfnet_loss(a, y, 2, 1), lb = sfnet_loss(b, y, 2, 1);
        cr_expect_float_eq(la, lb, 1e-6 * fabsf(lb));
        cr_expect_eq(memcmp(a->topk_idx, b->topk_idx, sizeof(int) * 8), 0);
        cr_expect_lt(rel_err(a->grads, b->grads, a->n_params), 1e-6);
        cr_expect_lt(rel_err(a->buffers, b->buffers, a->n_buffers), 1e-6);
    }
    free(x), free(y);
    sfnet_free(a);
    sfnet_free(b);
}
