/* nn_conv.c: 2-D convolution without bias over (C, B, H, W) activations: im2col +
 * OpenBLAS sgemm, and a direct version beside it that the tests compare against. */
#include "nn.h"

#include <cblas.h>
#include <string.h>

#include "sf_util.h"

nn_conv_geom nn_conv_geom_make(int B, int C, int H, int W, int OC, int ksize, int stride,
                               int pad) {
    nn_conv_geom g = {.B = B, .C = C, .H = H, .W = W, .OC = OC, .KH = ksize, .KW = ksize,
                      .stride = stride, .pad = pad};
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

void nn_im2col(float *col, const float *in, const nn_conv_geom *g, int b0, int nb) {
    const int K = g->C * g->KH * g->KW, OHW = g->OH * g->OW;
    const size_t n = (size_t)nb * OHW;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < K; r++) {
        int c = r / (g->KH * g->KW), ky = r / g->KW % g->KH, kx = r % g->KW;
        int lo, hi;
        valid_cols(g, kx, &lo, &hi);
        for (int b = 0; b < nb; b++) {
            const float *plane = in + ((size_t)c * g->B + b0 + b) * g->H * g->W;
            float *dst = col + r * n + (size_t)b * OHW;
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
                    if (hi > lo) memcpy(dst + lo, row + lo + off, sizeof(float) * (hi - lo));
                } else {
                    for (int ox = lo; ox < hi; ox++) dst[ox] = row[ox * g->stride + off];
                }
                for (int ox = hi; ox < g->OW; ox++) dst[ox] = 0;
            }
        }
    }
}

void nn_col2im(float *din, const float *col, const nn_conv_geom *g, int b0, int nb) {
    const int KK = g->KH * g->KW, OHW = g->OH * g->OW;
    const size_t n = (size_t)nb * OHW;
    /* One thread per input channel: rows of one channel add into the same planes. */
#pragma omp parallel for schedule(static)
    for (int c = 0; c < g->C; c++) {
        for (int kk = 0; kk < KK; kk++) {
            int ky = kk / g->KW, kx = kk % g->KW, lo, hi;
            valid_cols(g, kx, &lo, &hi);
            for (int b = 0; b < nb; b++) {
                float *plane = din + ((size_t)c * g->B + b0 + b) * g->H * g->W;
                const float *src = col + ((size_t)c * KK + kk) * n + (size_t)b * OHW;
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

void nn_conv2d_forward(float *out, const float *in, const float *w, float *col, int chunk,
                       const nn_conv_geom *g) {
    const int K = g->C * g->KH * g->KW, OHW = g->OH * g->OW;
    const int ldo = g->B * OHW;
    SF_ASSERT(chunk > 0);
    for (int b0 = 0; b0 < g->B; b0 += chunk) {
        int nb = g->B - b0 < chunk ? g->B - b0 : chunk;
        int n = nb * OHW;
        nn_im2col(col, in, g, b0, nb);
        /* out[:, b0..] (OC, n) = w (OC, K) @ col (K, n) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->OC, n, K, 1.0f, w, K, col, n,
                    0.0f, out + (size_t)b0 * OHW, ldo);
    }
}

void nn_conv2d_backward(float *din, float *dw, const float *dout, const float *in,
                        const float *w, float *col, int chunk, const nn_conv_geom *g) {
    const int K = g->C * g->KH * g->KW, OHW = g->OH * g->OW;
    const int ldo = g->B * OHW;
    SF_ASSERT(chunk > 0);
    for (int b0 = 0; b0 < g->B; b0 += chunk) {
        int nb = g->B - b0 < chunk ? g->B - b0 : chunk;
        int n = nb * OHW;
        const float *dout_c = dout + (size_t)b0 * OHW;
        nn_im2col(col, in, g, b0, nb);
        /* dw (OC, K) += dout_c (OC, n) @ col^T (n, K) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->OC, K, n, 1.0f, dout_c, ldo,
                    col, n, 1.0f, dw, K);
        if (din) {
            /* col (K, n) = w^T (K, OC) @ dout_c (OC, n), then scattered into din */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, n, g->OC, 1.0f, w, K,
                        dout_c, ldo, 0.0f, col, n);
            nn_col2im(din, col, g, b0, nb);
        }
    }
}

/* Index of input pixel (c, b, y, x) and output pixel (o, b, y, x) in (C, B, H, W). */
#define IN_AT(g, c, b, y, x) ((((size_t)(c) * (g)->B + (b)) * (g)->H + (y)) * (g)->W + (x))
#define OUT_AT(g, o, b, y, x) ((((size_t)(o) * (g)->B + (b)) * (g)->OH + (y)) * (g)->OW + (x))
#define W_AT(g, o, c, ky, kx) ((((size_t)(o) * (g)->C + (c)) * (g)->KH + (ky)) * (g)->KW + (kx))

void nn_conv2d_forward_naive(float *out, const float *in, const float *w,
                             const nn_conv_geom *g) {
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
                                s += (double)in[IN_AT(g, c, b, iy, ix)] *
                                     w[W_AT(g, o, c, ky, kx)];
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
                                if (din) din[IN_AT(g, c, b, iy, ix)] += d * w[W_AT(g, o, c, ky, kx)];
                            }
                }
}
