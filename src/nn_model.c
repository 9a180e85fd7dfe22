/* nn_model.c: the SFNet model: the state-dict tensor table, initialisation, and the
 * head (ReLU + top-k + linear + RMSE) around the backbone engine.
 * Layer: nn. Calls: nn_layers, sf_util; nn_onednn and nn_reference as the engine factory
 *     (the engines call back into the model's tensor table).
 * Called by: cli_predict, cli_train, infer_forward, infer_store, nn_reference, train_loop,
 *     train_weights.
 */
#include "nn_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "sf_util.h"

const char *nn_engine_name(nn_engine_kind kind) {
    switch (kind) {
    case NN_ENGINE_REFERENCE: return "reference";
    case NN_ENGINE_ONEDNN: return "onednn";
    }
    return "unknown";
}

/* ---- tensor table, in torchvision's state-dict order ---- */

typedef struct {
    sfnet_tensor *t;
    int n, cap;
    size_t n_params, n_buffers;
} table;

static void table_add(table *tb, const char *name, int is_buffer, int ndim, int s0, int s1, int s2,
                      int s3) {
    if (tb->n == tb->cap) {
        tb->cap = tb->cap ? 2 * tb->cap : 64;
        tb->t = xrealloc(tb->t, sizeof(sfnet_tensor) * tb->cap);
    }
    sfnet_tensor *t = &tb->t[tb->n++];
    memset(t, 0, sizeof *t);
    SF_ASSERT(strlen(name) < sizeof t->name);
    strcpy(t->name, name);
    t->ndim = ndim;
    int s[4] = {s0, s1, s2, s3};
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = s[i];
        t->numel *= (size_t)s[i];
    }
    t->is_buffer = is_buffer;
    size_t *count = is_buffer ? &tb->n_buffers : &tb->n_params;
    t->offset = *count;
    *count += t->numel;
}

static void add_conv(table *tb, const char *prefix, int oc, int ic, int k) {
    char name[128];
    snprintf(name, sizeof name, "%s.weight", prefix);
    table_add(tb, name, 0, 4, oc, ic, k, k);
}

static void add_bn(table *tb, const char *prefix, int c) {
    static const char *const suffix[4] = {"weight", "bias", "running_mean", "running_var"};
    char name[128];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.%s", prefix, suffix[i]);
        table_add(tb, name, i >= 2, 1, c, 0, 0, 0);
    }
}

static void build_table(table *tb, int width, int d, int n_out) {
    char p[64];
    add_conv(tb, "conv1", width, 3, 7);
    add_bn(tb, "bn1", width);
    int in_c = width;
    for (int l = 1; l <= 4; l++) {
        int c = width << (l - 1);
        for (int blk = 0; blk < 2; blk++) {
            int down = l > 1 && blk == 0;
            snprintf(p, sizeof p, "layer%d.%d.conv1", l, blk);
            add_conv(tb, p, c, in_c, 3);
            snprintf(p, sizeof p, "layer%d.%d.bn1", l, blk);
            add_bn(tb, p, c);
            snprintf(p, sizeof p, "layer%d.%d.conv2", l, blk);
            add_conv(tb, p, c, c, 3);
            snprintf(p, sizeof p, "layer%d.%d.bn2", l, blk);
            add_bn(tb, p, c);
            if (down) {
                snprintf(p, sizeof p, "layer%d.%d.downsample.0", l, blk);
                add_conv(tb, p, c, in_c, 1);
                snprintf(p, sizeof p, "layer%d.%d.downsample.1", l, blk);
                add_bn(tb, p, c);
            }
            in_c = c;
        }
    }
    table_add(tb, "fc.weight", 0, 2, n_out, d, 0, 0);
    table_add(tb, "fc.bias", 0, 1, n_out, 0, 0, 0);
}

/* ---- create / free ---- */

sfnet *sfnet_create(const sfnet_config *cfg, int max_batch, nn_engine_kind engine) {
    if (cfg->width < 1 || cfg->width > 1024)
        return sf_fail("model width %d out of range (1..1024; the paper uses 64)", cfg->width),
               NULL;
    if (cfg->n_out < 1) return sf_fail("model n_out %d must be at least 1", cfg->n_out), NULL;
    if (cfg->k < 0 || cfg->k > 8 * cfg->width)
        return sf_fail("top-k k = %d out of range (0..%d for width %d)", cfg->k, 8 * cfg->width,
                       cfg->width),
               NULL;
    if (cfg->in_size < 8 || cfg->in_size > 4096)
        return sf_fail("input size %d out of range (8..4096)", cfg->in_size), NULL;
    if (max_batch < 1) return sf_fail("batch size %d must be at least 1", max_batch), NULL;
    if (cfg->precision != NN_PRECISION_FP32 && engine != NN_ENGINE_ONEDNN)
        return sf_fail("bf16 precision needs the onednn engine"), NULL;
    if (engine != NN_ENGINE_REFERENCE && engine != NN_ENGINE_ONEDNN)
        return sf_fail("unknown engine %d", (int)engine), NULL;

    sfnet *m = xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    m->d = 8 * cfg->width;
    m->max_batch = max_batch;
    table tb = {0};
    build_table(&tb, cfg->width, m->d, cfg->n_out);
    m->tensors = tb.t;
    m->n_tensors = tb.n;
    m->n_params = tb.n_params;
    m->n_buffers = tb.n_buffers;
    m->params = xmalloc_aligned(sizeof(float) * m->n_params);
    m->buffers = xmalloc_aligned(sizeof(float) * m->n_buffers);
    size_t bd = (size_t)max_batch * m->d;
    m->feats = xcalloc(bd, sizeof(float));
    m->sparse = xcalloc(bd, sizeof(float));
    m->topk_idx = xcalloc((size_t)max_batch * (cfg->k ? cfg->k : 1), sizeof(int));
    m->out = xcalloc((size_t)max_batch * cfg->n_out, sizeof(float));
    if (!cfg->inference_only) {
        m->grads = xmalloc_aligned(sizeof(float) * m->n_params);
        m->dfeats = xcalloc(bd, sizeof(float));
        m->dsparse = xcalloc(bd, sizeof(float));
        m->dout = xcalloc((size_t)max_batch * cfg->n_out, sizeof(float));
    }
    sfnet_init(m, 0);
    m->engine = engine == NN_ENGINE_ONEDNN ? nn_onednn_create(m) : nn_reference_create(m);
    if (!m->engine) {
        sfnet_free(m);
        return NULL;
    }
    return m;
}

void sfnet_free(sfnet *m) {
    if (!m) return;
    if (m->engine) m->engine->ops->free(m->engine);
    free(m->tensors);
    free(m->params);
    free(m->grads);
    free(m->buffers);
    free(m->feats);
    free(m->sparse);
    free(m->dfeats);
    free(m->dsparse);
    free(m->topk_idx);
    free(m->out);
    free(m->dout);
    free(m);
}

/* ---- initialisation (torchvision's) ---- */

void sfnet_init(sfnet *m, uint64_t seed) {
    sf_rng rng;
    sf_rng_seed(&rng, seed);
    for (int i = 0; i < m->n_tensors; i++) {
        const sfnet_tensor *t = &m->tensors[i];
        float *x = (t->is_buffer ? m->buffers : m->params) + t->offset;
        const char *leaf = strrchr(t->name, '.') + 1;
        if (!strcmp(t->name, "fc.weight") || !strcmp(t->name, "fc.bias")) {
            /* nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias */
            double bound = 1.0 / sqrt((double)m->d);
            for (size_t j = 0; j < t->numel; j++)
                x[j] = (float)((2 * sf_rng_uniform(&rng) - 1) * bound);
        } else if (t->ndim == 4) {
            /* kaiming_normal_(mode="fan_out", nonlinearity="relu") */
            double sd = sqrt(2.0 / ((double)t->shape[0] * t->shape[2] * t->shape[3]));
            for (size_t j = 0; j < t->numel; j++) x[j] = (float)(sf_rng_normal(&rng) * sd);
        } else {
            float v = (!strcmp(leaf, "weight") || !strcmp(leaf, "running_var")) ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->numel; j++) x[j] = v;
        }
    }
    m->num_batches_tracked = 0;
    if (m->grads) memset(m->grads, 0, sizeof(float) * m->n_params);
    if (m->engine) sfnet_params_changed(m);
}

/* ---- tensors by name ---- */

const sfnet_tensor *sfnet_find_tensor(const sfnet *m, const char *name) {
    if (!strncmp(name, "resnet.", 7)) name += 7;
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return &m->tensors[i];
    return NULL;
}

float *sfnet_tensor_data(sfnet *m, const sfnet_tensor *t) {
    return (t->is_buffer ? m->buffers : m->params) + t->offset;
}

float *sfnet_tensor_grad(sfnet *m, const sfnet_tensor *t) {
    return t->is_buffer || !m->grads ? NULL : m->grads + t->offset;
}

static float *param(sfnet *m, const char *name) {
    const sfnet_tensor *t = sfnet_find_tensor(m, name);
    SF_ASSERT(t);
    return sfnet_tensor_data(m, t);
}

static float *grad(sfnet *m, const char *name) {
    const sfnet_tensor *t = sfnet_find_tensor(m, name);
    SF_ASSERT(t && !t->is_buffer);
    return sfnet_tensor_grad(m, t);
}

/* ---- forward, loss and backward ---- */

int sfnet_forward(sfnet *m, const float *x, int B, int train) {
    SF_ASSERT(B >= 1 && B <= m->max_batch);
    SF_ASSERT(!train || !m->cfg.inference_only);
    if (m->engine->ops->forward(m->engine, m, x, B, train, m->feats) != SF_OK) return SF_ERR;
    if (train) m->num_batches_tracked++;
    nn_topk_forward(m->sparse, m->topk_idx, m->feats, B, m->d, m->cfg.k);
    nn_linear_forward(m->out, m->sparse, param(m, "fc.weight"), param(m, "fc.bias"), B, m->d,
                      m->cfg.n_out);
    m->last_batch = B;
    m->last_train = train;
    return SF_OK;
}

float sfnet_loss(sfnet *m, const float *y, int B, int backward) {
    SF_ASSERT(B == m->last_batch);
    int n = B * m->cfg.n_out;
    float loss = nn_rmse_forward(m->out, y, n);
    if (!backward) return loss;
    SF_ASSERT(!m->cfg.inference_only);
    size_t bd = (size_t)B * m->d;
    memset(m->dout, 0, sizeof(float) * n);
    nn_rmse_backward(m->dout, m->out, y, n, loss);
    memset(m->dsparse, 0, sizeof(float) * bd);
    nn_linear_backward(m->dsparse, grad(m, "fc.weight"), grad(m, "fc.bias"), m->dout, m->sparse,
                       param(m, "fc.weight"), B, m->d, m->cfg.n_out);
    memset(m->dfeats, 0, sizeof(float) * bd);
    nn_topk_backward(m->dfeats, m->dsparse, m->topk_idx, m->feats, B, m->d, m->cfg.k);
    m->engine->ops->backward(m->engine, m, m->dfeats, B);
    return loss;
}

void sfnet_zero_grad(sfnet *m) {
    SF_ASSERT(!m->cfg.inference_only);
    memset(m->grads, 0, sizeof(float) * m->n_params);
}

void sfnet_params_changed(sfnet *m) {
    if (m->engine && m->engine->ops->params_changed) m->engine->ops->params_changed(m->engine, m);
}
