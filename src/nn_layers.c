/* nn_layers.c: batch norm (+ residual + ReLU), ReLU, max pool, average pool, top-k,
 * linear and RMSE: the layers of the SFNet other than the convolution.
 * Layer: nn. Calls: sf_util; OpenMP.
 * Called by: nn_model, nn_reference.
 */
#include "nn.h"

#include <math.h>
#include <string.h>

#include "sf_util.h"

/* ---- batch norm ---- */

void nn_batchnorm_forward(float *out, float *mean, float *invstd, const float *in,
                          const float *gamma, const float *beta, float *running_mean,
                          float *running_var, const float *residual, int relu, int C, int N,
                          int train) {
    SF_ASSERT(N > 0);
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float *x = in + (size_t)c * N;
        float mu, istd;
        if (train) {
            double s = 0;
#pragma omp simd reduction(+ : s)
            for (int i = 0; i < N; i++) s += x[i];
            double m = s / N, ss = 0;
#pragma omp simd reduction(+ : ss)
            for (int i = 0; i < N; i++) ss += (x[i] - m) * (x[i] - m);
            double var = ss / N;
            double unbiased = N > 1 ? ss / (N - 1) : var;
            mu = (float)m;
            istd = (float)(1.0 / sqrt(var + NN_BN_EPS));
            running_mean[c] = (1 - NN_BN_MOMENTUM) * running_mean[c] + NN_BN_MOMENTUM * (float)m;
            running_var[c] =
                (1 - NN_BN_MOMENTUM) * running_var[c] + NN_BN_MOMENTUM * (float)unbiased;
        } else {
            mu = running_mean[c];
            istd = 1.0f / sqrtf(running_var[c] + NN_BN_EPS);
        }
        mean[c] = mu;
        invstd[c] = istd;
        /* y = a*x + b */
        float a = gamma[c] * istd, b = beta[c] - mu * a;
        float *y = out + (size_t)c * N;
        const float *r = residual ? residual + (size_t)c * N : NULL;
        if (r && relu) {
#pragma omp simd
            for (int i = 0; i < N; i++) {
                float v = a * x[i] + b + r[i];
                y[i] = v > 0 ? v : 0.0f;
            }
        } else if (r) {
#pragma omp simd
            for (int i = 0; i < N; i++) y[i] = a * x[i] + b + r[i];
        } else if (relu) {
#pragma omp simd
            for (int i = 0; i < N; i++) {
                float v = a * x[i] + b;
                y[i] = v > 0 ? v : 0.0f;
            }
        } else {
#pragma omp simd
            for (int i = 0; i < N; i++) y[i] = a * x[i] + b;
        }
    }
}

void nn_batchnorm_backward(float *din, float *dresidual, float *dgamma, float *dbeta,
                           const float *dout, const float *out, int relu, const float *in,
                           const float *mean, const float *invstd, const float *gamma, int C, int N,
                           int train) {
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float *x = in + (size_t)c * N, *dy = dout + (size_t)c * N;
        const float *y = out + (size_t)c * N;
        float mu = mean[c], istd = invstd[c];
        /* g = dy masked by the ReLU; sums of g and g * xhat */
        double sg = 0, sgx = 0;
        if (relu) {
#pragma omp simd reduction(+ : sg, sgx)
            for (int i = 0; i < N; i++) {
                float g = y[i] > 0 ? dy[i] : 0.0f;
                sg += g;
                sgx += g * (x[i] - mu);
            }
        } else {
#pragma omp simd reduction(+ : sg, sgx)
            for (int i = 0; i < N; i++) {
                sg += dy[i];
                sgx += dy[i] * (x[i] - mu);
            }
        }
        sgx *= istd;
        dgamma[c] += (float)sgx;
        dbeta[c] += (float)sg;
        if (dresidual) {
            float *dr = dresidual + (size_t)c * N;
#pragma omp simd
            for (int i = 0; i < N; i++) dr[i] += (!relu || y[i] > 0) ? dy[i] : 0.0f;
        }
        float *dx = din + (size_t)c * N;
        if (train) {
            /* dx = gamma*istd/N * (N*g - sum g - xhat * sum g*xhat) */
            float a = gamma[c] * istd;
            float mg = (float)(sg / N), mgx = (float)(sgx / N) * istd;
#pragma omp simd
            for (int i = 0; i < N; i++) {
                float g = (!relu || y[i] > 0) ? dy[i] : 0.0f;
                dx[i] += a * (g - mg - (x[i] - mu) * mgx);
            }
        } else {
            float a = gamma[c] * istd;
#pragma omp simd
            for (int i = 0; i < N; i++) dx[i] += (!relu || y[i] > 0) ? a * dy[i] : 0.0f;
        }
    }
}

/* ---- ReLU ---- */

void nn_relu_forward(float *out, const float *in, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : 0.0f;
}

void nn_relu_backward(float *din, const float *dout, const float *out, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) din[i] += out[i] > 0 ? dout[i] : 0.0f;
}

/* ---- max pool 3x3 / 2, padding 1 ---- */

int nn_maxpool_out(int size) { return (size + 2 - 3) / 2 + 1; }

/* PyTorch's rule: a value replaces the maximum when greater, or when NaN; so the first
 * maximum in row-major order wins ties. */
#define MAXPOOL_TAKE(v, i)                                                                         \
    do {                                                                                           \
        float v_ = (v);                                                                            \
        if (v_ > bv || v_ != v_) {                                                                 \
            bv = v_;                                                                               \
            best = (i);                                                                            \
        }                                                                                          \
    } while (0)

void nn_maxpool_forward(float *out, int *argmax, const float *in, int planes, int H, int W) {
    const int OH = nn_maxpool_out(H), OW = nn_maxpool_out(W);
#pragma omp parallel for schedule(static)
    for (int p = 0; p < planes; p++) {
        const float *x = in + (size_t)p * H * W;
        float *y = out + (size_t)p * OH * OW;
        int *am = argmax ? argmax + (size_t)p * OH * OW : NULL;
        for (int oy = 0; oy < OH; oy++) {
            int y0 = oy * 2 - 1, y1 = y0 + 3;
            if (y0 < 0) y0 = 0;
            if (y1 > H) y1 = H;
            for (int ox = 0; ox < OW; ox++) {
                int x0 = ox * 2 - 1, x1 = x0 + 3;
                int best;
                float bv = -INFINITY;
                if (y1 - y0 == 3 && x0 >= 0 && x1 <= W) {
                    /* a full window inside the plane */
                    int i0 = y0 * W + x0;
                    best = i0;
                    for (int dy = 0; dy < 3; dy++) {
                        int i = i0 + dy * W;
                        MAXPOOL_TAKE(x[i], i);
                        MAXPOOL_TAKE(x[i + 1], i + 1);
                        MAXPOOL_TAKE(x[i + 2], i + 2);
                    }
                } else {
                    if (x0 < 0) x0 = 0;
                    if (x1 > W) x1 = W;
                    best = y0 * W + x0;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) MAXPOOL_TAKE(x[iy * W + ix], iy * W + ix);
                }
                y[oy * OW + ox] = bv;
                if (am) am[oy * OW + ox] = best;
            }
        }
    }
}

void nn_maxpool_backward(float *din, const float *dout, const int *argmax, int planes, int H,
                         int W) {
    const int OHW = nn_maxpool_out(H) * nn_maxpool_out(W);
#pragma omp parallel for schedule(static)
    for (int p = 0; p < planes; p++) {
        float *dx = din + (size_t)p * H * W;
        const float *dy = dout + (size_t)p * OHW;
        const int *am = argmax + (size_t)p * OHW;
        for (int i = 0; i < OHW; i++) dx[am[i]] += dy[i];
    }
}

/* ---- global average pool ---- */

void nn_avgpool_forward(float *out, const float *in, int C, int B, int HW) {
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++) {
            const float *x = in + ((size_t)c * B + b) * HW;
            double s = 0;
            for (int i = 0; i < HW; i++) s += x[i];
            out[(size_t)b * C + c] = (float)(s / HW);
        }
}

void nn_avgpool_backward(float *din, const float *dout, int C, int B, int HW) {
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++) {
            float *dx = din + ((size_t)c * B + b) * HW;
            float g = dout[(size_t)b * C + c] / HW;
            for (int i = 0; i < HW; i++) dx[i] += g;
        }
}

/* ---- top-k ---- */

void nn_topk_forward(float *out, int *idx, const float *in, int B, int d, int k) {
    SF_ASSERT(k >= 0 && k <= d);
    for (int b = 0; b < B; b++) {
        const float *x = in + (size_t)b * d;
        float *y = out + (size_t)b * d;
        if (k == 0) {
            for (int i = 0; i < d; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
            continue;
        }
        int *ti = idx + (size_t)b * k;
        float tv[k];
        int n = 0;
        /* Insertion into a descending list; an equal value goes after the ones already
         * there, so ties keep the lower index. */
        for (int i = 0; i < d; i++) {
            float v = x[i] > 0 ? x[i] : 0.0f;
            if (n == k && !(v > tv[k - 1])) continue;
            int j = n < k ? n++ : k - 1;
            while (j > 0 && v > tv[j - 1]) {
                tv[j] = tv[j - 1];
                ti[j] = ti[j - 1];
                j--;
            }
            tv[j] = v;
            ti[j] = i;
        }
        memset(y, 0, sizeof(float) * d);
        for (int j = 0; j < k; j++) y[ti[j]] = tv[j];
    }
}

void nn_topk_backward(float *din, const float *dout, const int *idx, const float *in, int B, int d,
                      int k) {
    for (int b = 0; b < B; b++) {
        const float *x = in + (size_t)b * d, *dy = dout + (size_t)b * d;
        float *dx = din + (size_t)b * d;
        if (k == 0) {
            for (int i = 0; i < d; i++)
                if (x[i] > 0) dx[i] += dy[i];
            continue;
        }
        for (int j = 0; j < k; j++) {
            int i = idx[(size_t)b * k + j];
            if (x[i] > 0) dx[i] += dy[i];
        }
    }
}

/* ---- linear ---- */

void nn_linear_forward(float *out, const float *in, const float *w, const float *b, int B, int d,
                       int n_out) {
    for (int r = 0; r < B; r++)
        for (int o = 0; o < n_out; o++) {
            const float *x = in + (size_t)r * d, *wo = w + (size_t)o * d;
            double s = b[o];
            for (int i = 0; i < d; i++) s += (double)x[i] * wo[i];
            out[(size_t)r * n_out + o] = (float)s;
        }
}

void nn_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                        const float *w, int B, int d, int n_out) {
    for (int r = 0; r < B; r++)
        for (int o = 0; o < n_out; o++) {
            float g = dout[(size_t)r * n_out + o];
            const float *x = in + (size_t)r * d, *wo = w + (size_t)o * d;
            float *dwo = dw + (size_t)o * d;
            db[o] += g;
            for (int i = 0; i < d; i++) dwo[i] += g * x[i];
            if (din) {
                float *dx = din + (size_t)r * d;
                for (int i = 0; i < d; i++) dx[i] += g * wo[i];
            }
        }
}

/* ---- RMSE ---- */

float nn_rmse_forward(const float *out, const float *y, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += ((double)out[i] - y[i]) * ((double)out[i] - y[i]);
    return (float)sqrt(s / n);
}

void nn_rmse_backward(float *dout, const float *out, const float *y, int n, float loss) {
    if (loss <= 0) return;
    double scale = 1.0 / ((double)n * loss);
    for (int i = 0; i < n; i++) dout[i] += (float)((out[i] - y[i]) * scale);
}
