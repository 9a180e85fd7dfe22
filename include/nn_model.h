/* nn_model.h: the SFNet, a ResNet18 backbone + ReLU + top-k + linear head.
 *
 *   x (B,3,S,S) -> resnet18 backbone -> feats (B,d) pooled, d = 8*width
 *     -> ReLU -> keep the k largest per image (k = 0: dense, no top-k) -> sparse (B,d)
 *     -> fc: out = sparse @ fc.weight^T + fc.bias                           -> out (B,n_out)
 *
 * The backbone is torchvision's resnet18 exactly (width 64 = the paper; 16 or 32 for
 * quick models). All trainable parameters live in one flat array `params`, with `grads`
 * of the same layout, so an optimizer step is one loop; BN running statistics live in
 * `buffers`. Each tensor is named as in a PyTorch state dict (conv1.weight,
 * bn1.running_mean, layer2.0.downsample.0.weight, fc.weight ...), so safetensors files
 * map one to one.
 *
 * The backbone runs on an engine (the layers' arithmetic) behind nn_engine_ops:
 * NN_ENGINE_REFERENCE is im2col + OpenBLAS sgemm, readable and the parity reference;
 * NN_ENGINE_ONEDNN keeps oneDNN's blocked formats from layer to layer. Engines read the
 * weights from `params`/`buffers` and accumulate gradients into `grads`; after the
 * weights change (optimizer step, load) call sfnet_params_changed().
 *
 * Ownership: sfnet_create() allocates everything once for max_batch images;
 * sfnet_free() releases it. Forward/backward never allocate.
 *
 * A model made with cfg.inference_only = 1 (predict, benchmarks) allocates and touches
 * only what the eval forward needs: no `grads` (NULL), no backward scratch, and the
 * engines keep no activations for a backward pass (each layer's output overwrites one
 * that is no longer needed). Its eval outputs are bit-identical to a full model's with
 * the same weights. A train-mode forward or a backward on it is a programming error
 * (an assertion names it); train_run refuses it with a message.
 */
#ifndef SF_NN_MODEL_H
#define SF_NN_MODEL_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int width;          /* base channels: 64 in the paper, d = 8 * width features */
    int k;              /* active features per galaxy; 0 = dense (no top-k layer) */
    int n_out;          /* outputs of the linear head */
    int in_size;        /* input height = width (144 in the paper) */
    int precision;      /* nn_precision: NN_PRECISION_BF16 only on the oneDNN engine */
    int inference_only; /* 1: eval forwards only (see below); 0: trainable */
} sfnet_config;

typedef enum { NN_ENGINE_REFERENCE = 0, NN_ENGINE_ONEDNN = 1 } nn_engine_kind;
typedef enum { NN_PRECISION_FP32 = 0, NN_PRECISION_BF16 = 1 } nn_precision;

/* One named tensor of the state dict. */
typedef struct {
    char name[64]; /* "layer2.0.downsample.1.running_var" */
    int ndim;
    int shape[4];
    size_t numel;
    int is_buffer; /* 1: in `buffers` (BN running stats), 0: in `params` */
    size_t offset; /* into params or buffers, in floats */
} sfnet_tensor;

typedef struct sfnet sfnet;
typedef struct nn_engine nn_engine;

typedef struct {
    /* feats (B,d) = backbone(x (B,3,S,S)); train = 1 uses batch statistics and
     * updates the running averages, 0 uses the running averages. SF_ERR with a
     * message when the engine cannot run this batch size (oneDNN builds the
     * primitives of a batch size on its first use, and that may fail). */
    int (*forward)(nn_engine *e, sfnet *m, const float *x, int B, int train, float *feats);
    /* Accumulates the backbone's parameter gradients into m->grads from dfeats (B,d).
     * Only valid after a forward with train = 1 on the same batch. */
    void (*backward)(nn_engine *e, sfnet *m, const float *dfeats, int B);
    /* The weights in m->params / m->buffers changed: refresh any copies. */
    void (*params_changed)(nn_engine *e, sfnet *m);
    void (*free)(nn_engine *e);
} nn_engine_ops;

struct nn_engine {
    const nn_engine_ops *ops;
    nn_engine_kind kind;
};

struct sfnet {
    sfnet_config cfg;
    int d; /* 8 * width */
    int max_batch;

    int n_tensors;
    sfnet_tensor *tensors; /* (n_tensors) state-dict order of torchvision + fc */
    size_t n_params, n_buffers;
    float *params;  /* (n_params) trainable weights, flat */
    float *grads;   /* (n_params) same layout; NULL when inference_only */
    float *buffers; /* (n_buffers) BN running_mean / running_var */
    long num_batches_tracked;

    /* Activations of the last forward, for the head, the store and tests. */
    float *feats;   /* (max_batch, d) pooled backbone features */
    float *sparse;  /* (max_batch, d) after ReLU + top-k (ReLU only when k = 0) */
    int *topk_idx;  /* (max_batch, k) kept features, by value descending, ties -> lower index */
    float *out;     /* (max_batch, n_out) */
    float *dfeats;  /* (max_batch, d) scratch for backward; NULL when inference_only */
    float *dsparse; /* (max_batch, d) scratch for backward; NULL when inference_only */
    float *dout;    /* (max_batch, n_out) scratch for backward; NULL when inference_only */
    int last_batch; /* B and train of the last sfnet_forward */
    int last_train;

    nn_engine *engine;
};

/* NULL with sf_fail() on a bad config or an engine that cannot be built here. The
 * weights start as sfnet_init(m, 0). */
sfnet *sfnet_create(const sfnet_config *cfg, int max_batch, nn_engine_kind engine);
void sfnet_free(sfnet *m);

/* torchvision's initialisation (kaiming normal fan_out for convs, BN 1/0, the
 * default nn.Linear uniform for fc), from a seed. */
void sfnet_init(sfnet *m, uint64_t seed);

/* Look up a tensor by state-dict name ("resnet." prefix accepted); NULL if none.
 * sfnet_tensor_data gives its floats in params or buffers. */
const sfnet_tensor *sfnet_find_tensor(const sfnet *m, const char *name);
float *sfnet_tensor_data(sfnet *m, const sfnet_tensor *t);
float *sfnet_tensor_grad(sfnet *m, const sfnet_tensor *t); /* NULL for buffers and
                                                              inference_only models */

/* out = head(topk(relu(backbone(x)))) for B <= max_batch images, x (B, 3, S, S).
 * train = 1 uses batch statistics, updates the running ones and counts
 * num_batches_tracked; feats, sparse, topk_idx and out hold the results.
 * SF_ERR (with a message; nothing computed) when the engine cannot run batches of
 * B, which can happen only for a B other than max_batch (built at creation).
 * train = 1 on an inference_only model fails an assertion. */
int sfnet_forward(sfnet *m, const float *x, int B, int train);
/* RMSE loss sqrt(mean((out - y)^2)) over the batch and outputs of the last forward;
 * with backward = 1 it also accumulates every parameter's gradient into grads
 * (an assertion fails on an inference_only model). */
float sfnet_loss(sfnet *m, const float *y, int B, int backward);
void sfnet_zero_grad(sfnet *m); /* not for an inference_only model */
void sfnet_params_changed(sfnet *m);

/* The engines, called by sfnet_create once the tensor table and params exist; NULL
 * with sf_fail() when the engine cannot be built. The reference engine (nn_reference.c)
 * also supports backward after an eval-mode forward (BN statistics held constant),
 * unless the model is inference_only. */
nn_engine *nn_reference_create(sfnet *m);
nn_engine *nn_onednn_create(sfnet *m);
const char *nn_engine_name(nn_engine_kind kind); /* "reference", "onednn" */

#endif
