/* nn_reference.c: the reference backbone engine: torchvision's resnet18 on the layers of
 * nn.h (im2col + OpenBLAS sgemm convolutions), activations in (C, B, H, W).
 *
 * Every buffer is allocated in nn_reference_create() for max_batch images and reused.
 * The forward pass keeps, per convolution, its raw output (the BN input) and the BN
 * output (after the residual and ReLU where the block has them); the backward pass
 * walks the blocks in reverse with two block-sized gradient buffers in ping-pong and
 * four scratch buffers inside a block.
 *
 * An inference_only model keeps none of that: each batch norm works in place on its
 * convolution's output, and the activations rotate through three block-sized buffers
 * (the max pool's output and two carved out of the stem's, which is dead by then), so
 * the eval forward computes the same values in the same order in a third of the
 * memory.
 * Layer: nn. Calls: nn_conv, nn_layers, nn_model, sf_util.
 * Called by: nn_model.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "nn_model.h"
#include "sf_util.h"

/* Floats of im2col scratch one GEMM may use: large GEMMs run faster, but the columns
 * of a whole batch of 144x144 images would take hundreds of MB. */
#define REF_COL_LIMIT ((size_t)16 << 20)

typedef struct {
    nn_conv_geom g;      /* for max_batch; B is set per call */
    float *w, *dw;       /* (OC, C*KH*KW) in params / grads */
    float *gamma, *beta; /* (OC) BN weight and bias */
    float *dgamma, *dbeta;
    float *running_mean, *running_var;
    float *mean, *invstd; /* (OC) statistics of the last forward */
    float *conv_out;      /* (OC, B, OH, OW) BN input */
    float *bn_out;        /* (OC, B, OH, OW) BN output [+ residual] [ReLU]; inference
                                  only: = conv_out, both in the engine's shared buffers */
} ref_conv;

typedef struct {
    ref_conv conv1, conv2, down;
    int has_down;
    const float *in; /* (C, B, H, W) block input: previous block's bn_out */
} ref_block;

typedef struct {
    nn_engine base;
    int max_batch, S;
    int inference_only; /* eval forward only: no backward buffers, shared activations */
    float *x;           /* (3, B, S, S) input, channel-major */
    ref_conv stem;      /* conv1 7x7/2 + bn1 + ReLU */
    float *pool;        /* (width, B, P, P) after max pool; inference only: tbuf_floats */
    int *pool_argmax;   /* (width * B * P * P); NULL when inference only */
    int pool_H;         /* stem output size (max pool input) */
    ref_block blocks[8];
    float *col; /* im2col scratch */
    size_t col_floats;
    float *gbuf[2];                  /* (width, B, S/2, S/2) gradients between blocks / stem */
    float *tbuf[4];                  /* (width, B, S/4, S/4) gradients inside a block */
    size_t gbuf_floats, tbuf_floats; /* tbuf_floats: the largest block activation */
    float *act;                      /* inference only: the stem's output, then two block buffers */
    int last_batch, last_train;
} ref_engine;

static size_t act_floats(const nn_conv_geom *g) { return (size_t)g->OC * g->B * g->OH * g->OW; }

/* Points c at its tensors in m; with own_outputs, gives it conv_out and bn_out of its
 * own (an inference-only engine points them into its shared buffers later). */
static void conv_setup(ref_conv *c, sfnet *m, const char *conv_name, const char *bn_name,
                       nn_conv_geom g, int own_outputs) {
    char name[128];
    const sfnet_tensor *t;
    c->g = g;
    snprintf(name, sizeof name, "%s.weight", conv_name);
    t = sfnet_find_tensor(m, name);
    SF_ASSERT(t && t->shape[0] == g.OC && t->shape[1] == g.C);
    c->w = sfnet_tensor_data(m, t);
    c->dw = sfnet_tensor_grad(m, t);
    static const char *const suffix[4] = {"weight", "bias", "running_mean", "running_var"};
    float **dst[4] = {&c->gamma, &c->beta, &c->running_mean, &c->running_var};
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.%s", bn_name, suffix[i]);
        t = sfnet_find_tensor(m, name);
        SF_ASSERT(t && t->shape[0] == g.OC);
        *dst[i] = sfnet_tensor_data(m, t);
        if (i == 0) c->dgamma = sfnet_tensor_grad(m, t);
        if (i == 1) c->dbeta = sfnet_tensor_grad(m, t);
    }
    c->mean = xcalloc(g.OC, sizeof(float));
    c->invstd = xcalloc(g.OC, sizeof(float));
    if (own_outputs) {
        c->conv_out = xmalloc_aligned(sizeof(float) * act_floats(&g));
        c->bn_out = xmalloc_aligned(sizeof(float) * act_floats(&g));
    }
}

static void conv_release(ref_conv *c, int own_outputs) {
    free(c->mean);
    free(c->invstd);
    if (own_outputs) {
        free(c->conv_out);
        free(c->bn_out);
    }
}

/* Inference only: c's output (BN in place on the conv's) goes to buf. */
static void conv_output_to(ref_conv *c, float *buf) {
    c->conv_out = buf;
    c->bn_out = buf;
}

/* Images per GEMM for a batch of B: as many as REF_COL_LIMIT allows, split evenly,
 * never more than the scratch holds. */
static int conv_chunk(const ref_engine *e, const nn_conv_geom *g, int B) {
    size_t per = nn_conv_col_floats(g, 1);
    size_t n_chunks = ((size_t)B * per + REF_COL_LIMIT - 1) / REF_COL_LIMIT;
    if (n_chunks < 1) n_chunks = 1;
    size_t chunk = (B + n_chunks - 1) / n_chunks;
    size_t cap = e->col_floats / per;
    if (chunk > cap) chunk = cap;
    SF_ASSERT(chunk >= 1);
    return (int)chunk;
}

/* conv -> BN [+ residual] [ReLU] on a batch of B */
static void conv_bn_forward(ref_engine *e, ref_conv *c, const float *in, int B,
                            const float *residual, int relu, int train) {
    nn_conv_geom g = c->g;
    g.B = B;
    nn_conv2d_forward(c->conv_out, in, c->w, e->col, conv_chunk(e, &g, B), &g);
    nn_batchnorm_forward(c->bn_out, c->mean, c->invstd, c->conv_out, c->gamma, c->beta,
                         c->running_mean, c->running_var, residual, relu, g.OC, B * g.OH * g.OW,
                         train);
}

/* From dout (gradient of bn_out): dresidual +=, din += (unless NULL), parameter
 * gradients +=. dconv is scratch of the conv output's size. */
static void conv_bn_backward(ref_engine *e, ref_conv *c, float *din, float *dresidual,
                             const float *dout, float *dconv, const float *in, int B, int relu,
                             int train) {
    nn_conv_geom g = c->g;
    g.B = B;
    size_t n = act_floats(&g);
    memset(dconv, 0, sizeof(float) * n);
    nn_batchnorm_backward(dconv, dresidual, c->dgamma, c->dbeta, dout, c->bn_out, relu, c->conv_out,
                          c->mean, c->invstd, c->gamma, g.OC, B * g.OH * g.OW, train);
    nn_conv2d_backward(din, c->dw, dconv, in, c->w, e->col, conv_chunk(e, &g, B), &g);
}

static int ref_forward(nn_engine *base, sfnet *m, const float *x, int B, int train, float *feats) {
    ref_engine *e = (ref_engine *)base;
    SF_ASSERT(B >= 1 && B <= e->max_batch);
    SF_ASSERT(!train || !e->inference_only);
    const size_t SS = (size_t)e->S * e->S;
    /* (B, 3, S, S) -> (3, B, S, S) */
    for (int b = 0; b < B; b++)
        for (int c = 0; c < 3; c++)
            memcpy(e->x + ((size_t)c * B + b) * SS, x + ((size_t)b * 3 + c) * SS,
                   sizeof(float) * SS);
    conv_bn_forward(e, &e->stem, e->x, B, NULL, 1, train);
    nn_maxpool_forward(e->pool, e->pool_argmax, e->stem.bn_out, e->stem.g.OC * B, e->pool_H,
                       e->pool_H);
    const float *h = e->pool;
    for (int i = 0; i < 8; i++) {
        ref_block *bk = &e->blocks[i];
        bk->in = h;
        conv_bn_forward(e, &bk->conv1, h, B, NULL, 1, train);
        const float *identity = h;
        if (bk->has_down) {
            conv_bn_forward(e, &bk->down, h, B, NULL, 0, train);
            identity = bk->down.bn_out;
        }
        conv_bn_forward(e, &bk->conv2, bk->conv1.bn_out, B, identity, 1, train);
        h = bk->conv2.bn_out;
    }
    const nn_conv_geom *gl = &e->blocks[7].conv2.g;
    nn_avgpool_forward(feats, h, gl->OC, B, gl->OH * gl->OW);
    e->last_batch = B;
    e->last_train = train;
    return SF_OK;
}

static void ref_backward(nn_engine *base, sfnet *m, const float *dfeats, int B) {
    ref_engine *e = (ref_engine *)base;
    SF_ASSERT(!e->inference_only);
    SF_ASSERT(B == e->last_batch);
    const int train = e->last_train;
    /* dh: gradient of the current block's output */
    const nn_conv_geom *gl = &e->blocks[7].conv2.g;
    float *dh = e->gbuf[0], *dx = e->gbuf[1];
    size_t n = (size_t)gl->OC * B * gl->OH * gl->OW;
    memset(dh, 0, sizeof(float) * n);
    nn_avgpool_backward(dh, dfeats, gl->OC, B, gl->OH * gl->OW);
    for (int i = 7; i >= 0; i--) {
        ref_block *bk = &e->blocks[i];
        nn_conv_geom gi = bk->conv1.g;
        gi.B = B;
        memset(dx, 0, sizeof(float) * gi.C * B * gi.H * gi.W);
        /* out = relu(bn2(conv2(a1)) + identity) */
        float *dres = dx;
        if (bk->has_down) {
            dres = e->tbuf[2];
            memset(dres, 0, sizeof(float) * n);
        }
        float *da1 = e->tbuf[1];
        memset(da1, 0, sizeof(float) * n);
        conv_bn_backward(e, &bk->conv2, da1, dres, dh, e->tbuf[0], bk->conv1.bn_out, B, 1, train);
        if (bk->has_down)
            conv_bn_backward(e, &bk->down, dx, NULL, dres, e->tbuf[3], bk->in, B, 0, train);
        /* a1 = relu(bn1(conv1(x))) */
        conv_bn_backward(e, &bk->conv1, dx, NULL, da1, e->tbuf[0], bk->in, B, 1, train);
        float *t = dh;
        dh = dx;
        dx = t;
        n = (size_t)gi.C * B * gi.H * gi.W;
    }
    /* max pool, then the stem: relu(bn1(conv1(x))); no gradient for the image */
    size_t ns = act_floats(&e->stem.g) / e->max_batch * B;
    memset(dx, 0, sizeof(float) * ns);
    nn_maxpool_backward(dx, dh, e->pool_argmax, e->stem.g.OC * B, e->pool_H, e->pool_H);
    conv_bn_backward(e, &e->stem, NULL, NULL, dx, dh, e->x, B, 1, train);
}

static void ref_params_changed(nn_engine *base, sfnet *m) {
    /* The layers read params and buffers in place: nothing is copied. */
}

static void ref_free(nn_engine *base) {
    ref_engine *e = (ref_engine *)base;
    if (!e) return;
    const int own = !e->inference_only;
    conv_release(&e->stem, own);
    for (int i = 0; i < 8; i++) {
        conv_release(&e->blocks[i].conv1, own);
        conv_release(&e->blocks[i].conv2, own);
        if (e->blocks[i].has_down) conv_release(&e->blocks[i].down, own);
    }
    free(e->act);
    free(e->x);
    free(e->pool);
    free(e->pool_argmax);
    free(e->col);
    for (int i = 0; i < 2; i++) free(e->gbuf[i]);
    for (int i = 0; i < 4; i++) free(e->tbuf[i]);
    free(e);
}

static const nn_engine_ops ref_ops = {
    .forward = ref_forward,
    .backward = ref_backward,
    .params_changed = ref_params_changed,
    .free = ref_free,
};

/* Inference only: the output buffers of every convolution, in forward order. The max
 * pool writes rot[0]; a block reads its input h and writes conv1's output to a buffer
 * other than h; with a downsample, that goes to the third buffer and conv2 (whose BN
 * adds it) overwrites h, which both have read; without one, conv2 writes the third
 * buffer and adds h. */
static void infer_buffers(ref_engine *e) {
    size_t unit = e->tbuf_floats, stem = act_floats(&e->stem.g);
    e->act = xmalloc_aligned(sizeof(float) * (stem > 2 * unit ? stem : 2 * unit));
    conv_output_to(&e->stem, e->act);
    float *rot[3] = {e->pool, e->act, e->act + unit};
    int h = 0;
    for (int i = 0; i < 8; i++) {
        ref_block *bk = &e->blocks[i];
        int a = (h + 1) % 3, third = (h + 2) % 3;
        conv_output_to(&bk->conv1, rot[a]);
        if (bk->has_down) {
            conv_output_to(&bk->down, rot[third]);
            conv_output_to(&bk->conv2, rot[h]);
        } else {
            conv_output_to(&bk->conv2, rot[third]);
            h = third;
        }
    }
}

nn_engine *nn_reference_create(sfnet *m) {
    ref_engine *e = xcalloc(1, sizeof *e);
    e->base.ops = &ref_ops;
    e->base.kind = NN_ENGINE_REFERENCE;
    const int B = m->max_batch, S = m->cfg.in_size, w = m->cfg.width;
    const int own = !m->cfg.inference_only;
    e->max_batch = B;
    e->S = S;
    e->inference_only = !own;
    e->x = xmalloc_aligned(sizeof(float) * 3 * B * S * S);
    conv_setup(&e->stem, m, "conv1", "bn1", nn_conv_geom_make(B, 3, S, S, w, 7, 2, 3), own);
    e->pool_H = e->stem.g.OH;
    int P = nn_maxpool_out(e->pool_H);
    e->gbuf_floats = act_floats(&e->stem.g);
    e->tbuf_floats = (size_t)w * B * P * P;
    int H = P, C = w;
    char conv[64], bn[64];
    for (int i = 0; i < 8; i++) {
        int l = i / 2 + 1, blk = i % 2, oc = w << (l - 1);
        int stride = (l > 1 && blk == 0) ? 2 : 1;
        ref_block *bk = &e->blocks[i];
        snprintf(conv, sizeof conv, "layer%d.%d.conv1", l, blk);
        snprintf(bn, sizeof bn, "layer%d.%d.bn1", l, blk);
        conv_setup(&bk->conv1, m, conv, bn, nn_conv_geom_make(B, C, H, H, oc, 3, stride, 1), own);
        int OH = bk->conv1.g.OH;
        snprintf(conv, sizeof conv, "layer%d.%d.conv2", l, blk);
        snprintf(bn, sizeof bn, "layer%d.%d.bn2", l, blk);
        conv_setup(&bk->conv2, m, conv, bn, nn_conv_geom_make(B, oc, OH, OH, oc, 3, 1, 1), own);
        bk->has_down = stride != 1 || C != oc;
        if (bk->has_down) {
            snprintf(conv, sizeof conv, "layer%d.%d.downsample.0", l, blk);
            snprintf(bn, sizeof bn, "layer%d.%d.downsample.1", l, blk);
            conv_setup(&bk->down, m, conv, bn, nn_conv_geom_make(B, C, H, H, oc, 1, stride, 0),
                       own);
        }
        size_t a = act_floats(&bk->conv1.g);
        if (a > e->tbuf_floats) e->tbuf_floats = a;
        C = oc;
        H = OH;
    }
    /* im2col scratch: the largest chunk any convolution takes at max_batch */
    ref_conv *convs[1 + 8 * 3];
    int nc = 0;
    convs[nc++] = &e->stem;
    for (int i = 0; i < 8; i++) {
        convs[nc++] = &e->blocks[i].conv1;
        convs[nc++] = &e->blocks[i].conv2;
        if (e->blocks[i].has_down) convs[nc++] = &e->blocks[i].down;
    }
    for (int i = 0; i < nc; i++) {
        size_t per = nn_conv_col_floats(&convs[i]->g, 1);
        size_t n_chunks = ((size_t)B * per + REF_COL_LIMIT - 1) / REF_COL_LIMIT;
        size_t chunk = (B + n_chunks - 1) / n_chunks;
        if (chunk * per > e->col_floats) e->col_floats = chunk * per;
    }
    e->col = xmalloc_aligned(sizeof(float) * e->col_floats);
    if (!own) {
        e->pool = xmalloc_aligned(sizeof(float) * e->tbuf_floats);
        infer_buffers(e);
        return &e->base;
    }
    e->pool = xmalloc_aligned(sizeof(float) * w * B * P * P);
    e->pool_argmax = xmalloc_aligned(sizeof(int) * w * B * P * P);
    for (int i = 0; i < 2; i++) e->gbuf[i] = xmalloc_aligned(sizeof(float) * e->gbuf_floats);
    for (int i = 0; i < 4; i++) e->tbuf[i] = xmalloc_aligned(sizeof(float) * e->tbuf_floats);
    return &e->base;
}
