/* nn.h: the layers of the SFNet, each a *_forward / *_backward pair.
 *
 * Layout. Backbone activations are channel-major, (C, B, H, W): channel c of the
 * whole batch is one contiguous run of B*H*W floats. A convolution over the batch
 * is then one GEMM, out (OC, B*OH*OW) = w (OC, C*KH*KW) @ col (C*KH*KW, B*OH*OW),
 * and batch norm reads each channel contiguously. Weights keep PyTorch's layout
 * (conv (OC, C, KH, KW), linear (n_out, d)) so state dicts map one to one. The head
 * (top-k, linear, loss) works on (B, d) rows like PyTorch.
 *
 * Conventions (llm.c): outputs first, inputs after, shapes in trailing comments.
 * Every backward ACCUMULATES (+=) into its gradients, parameter and input alike;
 * the caller zeroes them. A NULL input gradient means "not needed" (first conv).
 * Nothing here allocates: scratch (im2col columns, pooling indices, BN statistics)
 * is passed in. Everything runs on OpenMP threads, the GEMMs included (each thread a
 * single-threaded sgemm on its share): one thread pool, no two pools fighting for the
 * cores.
 */
#ifndef SF_NN_H
#define SF_NN_H

#include <stddef.h>

/* ---- the CPU ---- */

/* OpenBLAS's kernel family in use ("Cooperlake", "Haswell", ...). */
const char *nn_cpu_blas_core(void);

/* ---- convolution (no bias) ---- */

typedef struct {
    int B, C, H, W; /* input (C, B, H, W) */
    int OC, KH, KW; /* weight (OC, C, KH, KW) */
    int stride, pad;
    int OH, OW; /* output (OC, B, OH, OW) */
} nn_conv_geom;

nn_conv_geom nn_conv_geom_make(int B, int C, int H, int W, int OC, int ksize, int stride, int pad);
/* Floats of im2col scratch for `chunk` images at a time. */
size_t nn_conv_col_floats(const nn_conv_geom *g, int chunk);

/* col (C*KH*KW, nb*OH*OW, row stride ldcol) = the patches of images b0 .. b0+nb-1 of
 * in (C, B, H, W). Single-threaded: the convolutions call it from each thread. */
void nn_im2col(float *col, size_t ldcol, const float *in, const nn_conv_geom *g, int b0, int nb);
/* din (C, B, H, W) += the patches in col scattered back (images b0 .. b0+nb-1). */
void nn_col2im(float *din, const float *col, size_t ldcol, const nn_conv_geom *g, int b0, int nb);

/* out (OC, B, OH, OW) = conv(in (C, B, H, W), w (OC, C*KH*KW)), by im2col + sgemm,
 * `chunk` images per round; col holds nn_conv_col_floats(g, chunk) floats. Each OpenMP
 * thread takes its share of a round's images (im2col and a single-threaded sgemm);
 * OpenBLAS's own threads stay idle meanwhile. */
void nn_conv2d_forward(float *out, const float *in, const float *w, float *col, int chunk,
                       const nn_conv_geom *g);
/* dw (OC, C*KH*KW) += dout @ col^T (threads split the rows of col); din (C, B, H, W)
 * += col2im(w^T @ dout) unless din is NULL (threads split the images). in and w as in
 * the forward pass. */
void nn_conv2d_backward(float *din, float *dw, const float *dout, const float *in, const float *w,
                        float *col, int chunk, const nn_conv_geom *g);
/* The same, by direct loops: slow, obviously right, for the tests. */
void nn_conv2d_forward_naive(float *out, const float *in, const float *w, const nn_conv_geom *g);
void nn_conv2d_backward_naive(float *din, float *dw, const float *dout, const float *in,
                              const float *w, const nn_conv_geom *g);

/* ---- batch norm (+ optional residual add and ReLU, fused) ---- */

#define NN_BN_EPS 1e-5f
#define NN_BN_MOMENTUM 0.1f

/* out (C, N) = [relu]( gamma * (in - mean) * invstd + beta [+ residual] ), N = B*H*W.
 * train = 1: mean and the biased variance of the batch normalise; running_mean and
 * running_var (C) move by NN_BN_MOMENTUM towards the batch mean and the UNBIASED
 * variance (PyTorch). train = 0: the running statistics normalise and stay.
 * mean, invstd (C) receive the statistics used, for the backward pass.
 * residual (C, N) may be NULL; relu is 0 or 1. */
void nn_batchnorm_forward(float *out, float *mean, float *invstd, const float *in,
                          const float *gamma, const float *beta, float *running_mean,
                          float *running_var, const float *residual, int relu, int C, int N,
                          int train);
/* Given dout (C, N): g = dout masked by out > 0 when relu (out is the forward
 * output, else ignored); dresidual (C, N) += g when not NULL; dgamma, dbeta (C) +=;
 * din (C, N) +=. train as in the forward pass (0: statistics are constants). */
void nn_batchnorm_backward(float *din, float *dresidual, float *dgamma, float *dbeta,
                           const float *dout, const float *out, int relu, const float *in,
                           const float *mean, const float *invstd, const float *gamma, int C, int N,
                           int train);

/* ---- ReLU ---- */

/* out (n) = max(in, 0); out may be in. */
void nn_relu_forward(float *out, const float *in, size_t n);
/* din (n) += dout where out > 0 (PyTorch: no gradient at 0). */
void nn_relu_backward(float *din, const float *dout, const float *out, size_t n);

/* ---- max pool 3x3, stride 2, padding 1 ---- */

/* out (C, B, OH, OW), OH = (H + 2 - 3) / 2 + 1; argmax (C*B*OH*OW) receives each
 * window's first maximum as an index into its (H, W) plane (PyTorch's tie rule), or
 * is NULL when no backward pass follows. planes = C*B. */
void nn_maxpool_forward(float *out, int *argmax, const float *in, int planes, int H, int W);
/* din (planes, H, W) += dout routed to the argmax of each window. */
void nn_maxpool_backward(float *din, const float *dout, const int *argmax, int planes, int H,
                         int W);
int nn_maxpool_out(int size); /* (size + 2 - 3) / 2 + 1 */

/* ---- global average pool, (C, B, H, W) -> (B, C) ---- */

void nn_avgpool_forward(float *out, const float *in, int C, int B, int HW);    /* out (B, C) */
void nn_avgpool_backward(float *din, const float *dout, int C, int B, int HW); /* din (C,B,HW) += */

/* ---- top-k (with ReLU) over rows of d features ---- */

/* out (B, d) = relu(in) with all but the k largest of each row zeroed; idx (B, k)
 * receives the kept features by value descending, ties to the lower index.
 * k = 0: plain ReLU, idx untouched. */
void nn_topk_forward(float *out, int *idx, const float *in, int B, int d, int k);
/* din (B, d) += dout at the kept features where in > 0 (k = 0: wherever in > 0). */
void nn_topk_backward(float *din, const float *dout, const int *idx, const float *in, int B, int d,
                      int k);

/* ---- linear ---- */

/* out (B, n_out) = in (B, d) @ w^T (n_out, d) + b (n_out). */
void nn_linear_forward(float *out, const float *in, const float *w, const float *b, int B, int d,
                       int n_out);
/* dw (n_out, d) += dout^T @ in; db += column sums of dout; din (B, d) += dout @ w
 * (din may be NULL). */
void nn_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                        const float *w, int B, int d, int n_out);

/* ---- RMSE loss ---- */

/* sqrt(mean((out - y)^2)) over the n = B*n_out values. */
float nn_rmse_forward(const float *out, const float *y, int n);
/* dout (n) += (out - y) / (n * loss); zero when loss is 0. */
void nn_rmse_backward(float *dout, const float *out, const float *y, int n, float loss);

#endif
