/* nn_conv.c: 2-D convolution without bias over (C, B, H, W) activations: im2col +
 * OpenBLAS sgemm, and a direct version beside it that the tests compare against.
 * Layer: nn. Calls: sf_util; OpenBLAS, OpenMP.
 * Called by: nn_reference.
 */
#include "nn.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "sf_util.h"

nn_conv_geom nn_conv_geom_make(int B, int C, int H, int W, int OC, int ksize, int stride, int pad) {
    nn_conv_geom g = {.B = B,
                      .C = C,
                      .H = H,
                      .W = W,
                      .OC = OC,
                      .KH = ksize,
                      .KW = ksize,
                      .stride = stride,
                      .pad = pad};
    g.OH = (H + 2 * pad - ksize) / stride + 1;
    g.OW = (W + 2 * pad - ksize) / stride + 1;
    SF_ASSERT(g.OH > 0 && g.OW > 0);
    return g;
}

size_t nn_conv_col_floats(const nn_conv_geom *g, int chunk) {
    return (size_t)g->C * g->KH * g->KW * chunk * g->OH * g->OW;
}

/* The output columns [lo, hi) whose input column ow*stride - pad + kx lies inside
 * the image; the others read padding. */
static void valid_cols(const nn_conv_geom *g, int kx, int *lo, int *hi) {
    int off = kx - g->pad;
    int a = off >= 0 ? 0 : (-off + g->stride - 1) / g->stride;
    int b = (g->W - 1 - off) / g->stride + 1; /* first ow with iw >= W */
    if (g->W - 1 - off < 0) b = 0;
    if (b > g->OW) b = g->OW;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

void nn_im2col(float *col, size_t ldcol, const float *in, const nn_conv_geom *g, int b0, int nb) {
    const int K = g->C * g->KH * g->KW, OHW = g->OH * g->OW;
    for (int r = 0; r < K; r++) {
        int c = r / (g->KH * g->KW), ky = r / g->KW % g->KH, kx = r % g->KW;
        int lo, hi;
        valid_cols(g, kx, &lo, &hi);
        for (int b = 0; b < nb; b++) {
            const float *plane = in + ((size_t)c * g->B + b0 + b) * g->H * g->W;
            float *dst = col + r * ldcol + (size_t)b * OHW;
            for (int oy = 0; oy < g->OH; oy++, dst += g->OW) {
                int iy = oy * g->stride - g->pad + ky;
                if (iy < 0 || iy >= g->H) {
                    memset(dst, 0, sizeof(float) * g->OW);
                    continue;
                }
                const float *row = plane + (size_t)iy * g->W;
                int off = kx - g->pad;
                for (int ox = 0; ox < lo; ox++) dst[ox] = 0;
                if (g->stride == 1) {
                    const float *src = row + off;
#pragma omp simd
                    for (int ox = lo; ox < hi; ox++) dst[ox] = src[ox];
                } else {
                    for (int ox = lo; ox < hi; ox++) dst[ox] = row[ox * g->stride + off];
                }
                for (int ox = hi; ox < g->OW; ox++) dst[ox] = 0;
            }
        }
    }
}

void nn_col2im(float *din, const float *col, size_t ldcol, const nn_conv_geom *g, int b0, int nb) {
    const int KK = g->KH * g->KW, OHW = g->OH * g->OW;
    for (int c = 0; c < g->C; c++) {
        for (int kk = 0; kk < KK; kk++) {
            int ky = kk / g->KW, kx = kk % g->KW, lo, hi;
            valid_cols(g, kx, &lo, &hi);
            for (int b = 0; b < nb; b++) {
                float *plane = din + ((size_t)c * g->B + b0 + b) * g->H * g->W;
                const float *src = col + ((size_t)c * KK + kk) * ldcol + (size_t)b * OHW;
                for (int oy = 0; oy < g->OH; oy++, src += g->OW) {
                    int iy = oy * g->stride - g->pad + ky;
                    if (iy < 0 || iy >= g->H) continue;
                    float *row = plane + (size_t)iy * g->W;
                    int off = kx - g->pad;
                    if (g->stride == 1) {
                        for (int ox = lo; ox < hi; ox++) row[ox + off] += src[ox];
                    } else {
                        for (int ox = lo; ox < hi; ox++) row[ox * g->stride + off] += src[ox];
                    }
                }
            }
        }
    }
}

/* [lo, hi) of n items for thread t of T */
static void share(int n, int T, int t, int *lo, int *hi) {
    *lo = (int)((long)n * t / T);
    *hi = (int)((long)n * (t + 1) / T);
}

/* The GEMMs run on the OpenMP threads, one single-threaded sgemm per thread on its own
 * images (or its own rows of dw): one pool of threads for the whole network. OpenBLAS's
 * own threads, spinning after each GEMM, would compete with OpenMP's for the cores. */
static int blas_serial_begin(void) {
    int n = openblas_get_num_threads();
    if (n != 1) openblas_set_num_threads(1);
    return n;
}

static void blas_serial_end(int n) {
    if (n != 1) openblas_set_num_threads(n);
}

void nn_conv2d_forward(float *out, const float *in, const float *w, float *col, int chunk,
                       const nn_conv_geom *g) {
    const int K = g->C * g->KH * g->KW, OHW = g->OH * g->OW;
    const int ldo = g->B * OHW;
    SF_ASSERT(chunk > 0);
    int blas_threads = blas_serial_begin();
#pragma omp parallel
    {
        int T = omp_get_num_threads(), t = omp_get_thread_num();
        for (int b0 = 0; b0 < g->B; b0 += chunk) {
            int nb = g->B - b0 < chunk ? g->B - b0 : chunk, lo, hi;
            size_t n = (size_t)nb * OHW;
            share(nb, T, t, &lo, &hi);
            if (hi > lo) {
                /* my images' columns: im2col, then out (OC, cols) = w (OC, K) @ col */
                float *mine = col + (size_t)lo * OHW;
                nn_im2col(mine, n, in, g, b0 + lo, hi - lo);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->OC, (hi - lo) * OHW, K,
                            1.0f, w, K, mine, n, 0.0f, out + (size_t)(b0 + lo) * OHW, ldo);
            }
#pragma omp barrier
        }
    }
    blas_serial_end(blas_threads);
}

void nn_conv2d_backward(float *din, float *dw, const float *dout, const float *in, const float *w,
                        float *col, int chunk, const nn_conv_geom *g) {
    const int K = g->C * g->KH * g->KW, OHW = g->OH * g->OW;
    const int ldo = g->B * OHW;
    SF_ASSERT(chunk > 0);
    int blas_threads = blas_serial_begin();
#pragma omp parallel
    {
        int T = omp_get_num_threads(), t = omp_get_thread_num();
        for (int b0 = 0; b0 < g->B; b0 += chunk) {
            int nb = g->B - b0 < chunk ? g->B - b0 : chunk, lo, hi, k0, k1;
            size_t n = (size_t)nb * OHW;
            const float *dout_c = dout + (size_t)b0 * OHW;
            share(nb, T, t, &lo, &hi);
            if (hi > lo) nn_im2col(col + (size_t)lo * OHW, n, in, g, b0 + lo, hi - lo);
#pragma omp barrier
            /* dw[:, my rows of col] (OC, k1-k0) += dout_c (OC, n) @ col[k0..k1]^T */
            share(K, T, t, &k0, &k1);
            if (k1 > k0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->OC, k1 - k0, (int)n, 1.0f,
                            dout_c, ldo, col + (size_t)k0 * n, n, 1.0f, dw + k0, K);
            if (din) {
#pragma omp barrier
                /* my columns: col (K, cols) = w^T (K, OC) @ dout_c, scattered into din */
                if (hi > lo) {
                    float *mine = col + (size_t)lo * OHW;
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, (hi - lo) * OHW, g->OC,
                                1.0f, w, K, dout_c + (size_t)lo * OHW, ldo, 0.0f, mine, n);
                    nn_col2im(din, mine, n, g, b0 + lo, hi - lo);
                }
            }
#pragma omp barrier
        }
    }
    blas_serial_end(blas_threads);
}

/* Index of input pixel (c, b, y, x) and output pixel (o, b, y, x) in (C, B, H, W). */
#define IN_AT(g, c, b, y, x) ((((size_t)(c) * (g)->B + (b)) * (g)->H + (y)) * (g)->W + (x))
#define OUT_AT(g, o, b, y, x) ((((size_t)(o) * (g)->B + (b)) * (g)->OH + (y)) * (g)->OW + (x))
#define W_AT(g, o, c, ky, kx) ((((size_t)(o) * (g)->C + (c)) * (g)->KH + (ky)) * (g)->KW + (kx))

void nn_conv2d_forward_naive(float *out, const float *in, const float *w, const nn_conv_geom *g) {
    for (int o = 0; o < g->OC; o++)
        for (int b = 0; b < g->B; b++)
            for (int oy = 0; oy < g->OH; oy++)
                for (int ox = 0; ox < g->OW; ox++) {
                    double s = 0;
                    for (int c = 0; c < g->C; c++)
                        for (int ky = 0; ky < g->KH; ky++)
                            for (int kx = 0; kx < g->KW; kx++) {
                                int iy = oy * g->stride - g->pad + ky;
                                int ix = ox * g->stride - g->pad + kx;
                                if (iy < 0 || iy >= g->H || ix < 0 || ix >= g->W) continue;
                                s += (double)in[IN_AT(g, c, b, iy, ix)] * w[W_AT(g, o, c, ky, kx)];
                            }
                    out[OUT_AT(g, o, b, oy, ox)] = (float)s;
                }
}

void nn_conv2d_backward_naive(float *din, float *dw, const float *dout, const float *in,
                              const float *w, const nn_conv_geom *g) {
    for (int o = 0; o < g->OC; o++)
        for (int b = 0; b < g->B; b++)
            for (int oy = 0; oy < g->OH; oy++)
                for (int ox = 0; ox < g->OW; ox++) {
                    float d = dout[OUT_AT(g, o, b, oy, ox)];
                    for (int c = 0; c < g->C; c++)
                        for (int ky = 0; ky < g->KH; ky++)
                            for (int kx = 0; kx < g->KW; kx++) {
                                int iy = oy * g->stride - g->pad + ky;
                                int ix = ox * g->stride - g->pad + kx;
                                if (iy < 0 || iy >= g->H || ix < 0 || ix >= g->W) continue;
                                dw[W_AT(g, o, c, ky, kx)] += d * in[IN_AT(g, c, b, iy, ix)];
                                if (din)
                                    din[IN_AT(g, c, b, iy, ix)] += d * w[W_AT(g, o, c, ky, kx)];
                            }
                }
}
