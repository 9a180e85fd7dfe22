/* train.h: training an SFNet - the Ranger optimizer, the learning-rate schedules, the
 * training loop with checkpoints and resume, and weights files (running a model over
 * galaxies is infer.h's).
 *
 * Optimizer (src/train_optim.c): fastai 2.7's `ranger` = Lookahead(RAdam), step for
 * step as fastai computes it, over flat float arrays (m->params, m->grads):
 *   p *= 1 - lr*wd                       decoupled weight decay (fastai's true_wd), only
 *                                        where decay[i] (fastai's Learner exempts BN
 *                                        and bias parameters: wd_bn_bias=False)
 *   g_avg = mom*g_avg + (1-mom)*g        sqr_avg = sqr_mom*sqr_avg + (1-sqr_mom)*g^2
 *   step += 1;  debias1 = 1 - mom^step,  debias2 = 1 - sqr_mom^step
 *   r_inf = 2/(1-sqr_mom) - 1,  r = r_inf - 2*step*sqr_mom^step/(1-sqr_mom^step)
 *   r > 5:  v = sqrt((r-4)(r-2)r_inf / ((r_inf-4)(r_inf-2)r))
 *           p -= lr*v/debias1 * g_avg / (sqrt(sqr_avg/debias2) + eps)
 *   else:   p -= lr/debias1 * g_avg      (the un-rectified first steps)
 *   every k-th step: slow += alpha*(p - slow); p = slow  (slow = p before the 1st step)
 * fastai's `ranger` defaults: mom 0.95, sqr_mom 0.99, eps 1e-6 (RAdam's own default is
 * 1e-5), wd 0.01, k 6, alpha 0.5.
 *
 * Schedules (fastai's fit_one_cycle and fit_flat_cos) give lr and mom at the fraction
 * pct = step / total_steps of training, evaluated before each step:
 *   one-cycle: lr cosine lr_max/25 -> lr_max over the first 25%, then cosine ->
 *              lr_max/1e5; mom cosine 0.95 -> 0.85 -> 0.95.
 *   flat-cos:  lr flat at lr_max for 75%, then cosine -> lr_max/1e5; mom 0.95.
 *
 * Weights files (src/train_weights.c) are safetensors with PyTorch state-dict names
 * (conv1.weight ... fc.bias, every BN's num_batches_tracked as I64), so that
 * torchvision's resnet18 with a new fc loads them with load_state_dict(strict=True),
 * and metadata carrying what inference needs (see weights_meta).
 *
 * Training loop (src/train_loop.c): train_run() trains a model the caller created and
 * initialised (sfnet_init, or weights_load for --init) on a dataset's training split,
 * with the loss the model computes (RMSE), shuffling each epoch and, optionally, one of
 * the 8 dihedral transforms per image; it drops the last incomplete batch (as fastai's
 * training loader does). After each epoch it measures the validation RMSE in eval mode
 * and writes a checkpoint (weights + optimizer state + position, one safetensors file
 * written atomically). The shuffles and flips are drawn from generators seeded by
 * (seed, epoch, step), so the checkpoint's position is the whole random state, and a
 * resumed run reproduces an uninterrupted one exactly. Ctrl-C (SIGINT) stops after the
 * current step and saves a checkpoint at that step; a second Ctrl-C kills at once (the
 * previous checkpoint stays intact). Big buffers are allocated once per run.
 */
#ifndef SF_TRAIN_H
#define SF_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "data_catalog.h"
#include "data_image.h"
#include "nn_model.h"
#include "safetensors.h"

typedef struct {
    double mom; /* used when no schedule sets it */
    double sqr_mom;
    double eps;
    double wd; /* decoupled weight decay */
    int lookahead_k;
    double lookahead_alpha;
} ranger_config;

typedef struct {
    ranger_config cfg;
    size_t n;
    float *grad_avg; /* (n) first moment, fastai's grad_avg */
    float *sqr_avg;  /* (n) second moment */
    float *slow;     /* (n) lookahead's slow weights */
    uint8_t *decay;  /* (n) 1 where weight decay applies */
    long step;       /* RAdam steps taken */
    long count;      /* lookahead steps taken */
    int slow_ready;  /* slow holds the weights (copied at the first step) */
} ranger;

/* fastai 2.7's ranger() defaults. */
ranger_config ranger_defaults(void);
/* Allocates the state for n parameters, zeroed. decay may be NULL (decay all). */
void ranger_init(ranger *o, size_t n, const ranger_config *cfg, const uint8_t *decay);
void ranger_free(ranger *o);
/* One step on params (n) with grads (n) at learning rate lr and momentum mom. */
void ranger_step(ranger *o, float *params, const float *grads, double lr, double mom);

typedef enum { SCHED_ONE_CYCLE = 0, SCHED_FLAT_COS = 1 } sched_kind;

/* lr and mom at pct in [0, 1] of training, for a peak learning rate lr_max. */
void sched_at(sched_kind kind, double lr_max, double pct, double *lr, double *mom);
/* "one-cycle" / "flat-cos" <-> kind; sched_parse gives SF_ERR with a message. */
const char *sched_name(sched_kind kind);
int sched_parse(const char *s, sched_kind *kind);

/* ---------------------------------------------------------------- weights files */

#define WEIGHTS_FORMAT "sfnet-explore-weights-1"

/* Metadata of a weights file. -1 (or n_targets 0, has_norm 0) where a file converted
 * from PyTorch did not say; weights_load_model fills width and n_out from the tensor
 * shapes and asks for the rest. */
typedef struct {
    int width, k, n_out;
    int in_size;      /* model input, = crop */
    int resize, crop; /* the input pipeline: resize, then centre crop */
    int has_norm;
    float mean[3], std[3]; /* per-channel normalisation on the 0..1 scale */
    int n_targets;
    char targets[TARGET_MAX][64]; /* output names */
} weights_meta;

/* All fields "unknown". */
void weights_meta_clear(weights_meta *wm);
/* From a model and the dataset it was trained on (targets, normalisation, crop);
 * resize is the dataset option used. ds may be NULL (then those fields stay unknown). */
void weights_meta_from(weights_meta *wm, const sfnet *m, const dataset *ds, int resize);
/* Fields of override that are known replace those of wm. */
void weights_meta_apply(weights_meta *wm, const weights_meta *override);

/* Writes m's tensors and wm to path (atomically). */
int weights_save(sfnet *m, const weights_meta *wm, const char *path);
/* The same file in memory (what a run database stores), *data owned (free). */
void weights_save_mem(sfnet *m, const weights_meta *wm, uint8_t **data, size_t *len);
/* Adds m's tensors and wm's metadata to a writer (for checkpoints); the writer
 * borrows nbt, which must hold m->num_batches_tracked until the save. */
void weights_add(st_writer *w, sfnet *m, const weights_meta *wm, const int64_t *nbt);
/* Reads a weights file's metadata (no tensors). */
int weights_read_meta(const char *path, weights_meta *wm);
int weights_meta_parse(const st_file *f, weights_meta *wm);
/* Copies the file's tensors into m: names may carry the reference model's `resnet.`
 * prefix, `trunk.*` duplicates and `optimizer.*` / `train.*` entries are skipped.
 * backbone_only: fc.* is left as it is (for --init with torchvision's ImageNet
 * weights, whose fc has 1000 outputs). Every other tensor of m must be present with
 * its exact shape, and every tensor of the file must belong to m; else SF_ERR naming
 * the file and the tensor. Calls sfnet_params_changed. */
int weights_load(sfnet *m, const char *path, int backbone_only);
int weights_load_from(sfnet *m, const st_file *f, int backbone_only);
/* Opens path, takes its metadata with override applied (width and n_out default to
 * the tensor shapes, in_size to crop), creates a model for max_batch images on engine
 * (inference_only: eval forwards only, see nn_model.h) and loads it. NULL with a
 * message saying which option to pass when k or the input settings are unknown.
 * wm_out (may be NULL) gets the metadata used. */
sfnet *weights_load_model(const char *path, const weights_meta *override, int max_batch,
                          nn_engine_kind engine, int inference_only, weights_meta *wm_out);
/* The same from a file already parsed (st_open, or st_parse of bytes in memory such
 * as a run's stored weights); messages name f->path. f stays the caller's. */
sfnet *weights_load_model_from(const st_file *f, const weights_meta *override, int max_batch,
                               nn_engine_kind engine, int inference_only, weights_meta *wm_out);

/* ---------------------------------------------------------------- training */

/* Flip augmentation of the training batches. */
typedef enum {
    TRAIN_FLIPS_NONE = 0,
    TRAIN_FLIPS_DIHEDRAL = 1, /* each image one of the 8 dihedral transforms, uniformly */
    TRAIN_FLIPS_HV = 2,       /* each image mirrored left-right and top-bottom at random
                                 (4 of the 8: no transposes) */
    TRAIN_FLIPS_BATCH = 3,    /* one of the 8 for the whole batch */
} train_flips;

/* The units the network learns its targets in. */
typedef enum {
    /* z = (y - mean) / scale, mean per output and one scale for all outputs (the sd
     * pooled over outputs) from the training split: the loss is the RMSE in target
     * units divided by a constant, so the objective is the paper's, while the head
     * works at the unit scale that nn.Linear's initialisation and the optimizer's
     * step sizes are meant for. */
    TRAIN_TARGETS_STANDARDISED = 0,
    TRAIN_TARGETS_RAW = 1, /* the catalogue's units, as the paper's code */
} train_targets;

typedef struct {
    int epochs;             /* 20 */
    int batch;              /* 64 */
    double lr;              /* 0.1, the peak of the schedule */
    uint64_t seed;          /* shuffles and flips */
    sched_kind schedule;    /* SCHED_ONE_CYCLE */
    train_flips flips;      /* TRAIN_FLIPS_DIHEDRAL */
    train_targets targets;  /* TRAIN_TARGETS_STANDARDISED */
    int head_bias_mean;     /* 1: a fresh run's head bias starts at the mean of what it
                               learns (0 when standardised, the training mean when raw);
                               0: as initialised */
    ranger_config opt;      /* ranger_defaults() */
    const char *checkpoint; /* written after every epoch and on Ctrl-C; NULL: none */
    int resume;             /* continue from checkpoint (which must exist) */
    int quiet;              /* no progress bar or per-epoch lines */
    long then_images;       /* images the caller runs through the model after training
                               (storing the run): the progress line's run ETA counts
                               them at the validation's rate; 0: none */
    /* Called after every step (may be NULL); returning non-zero stops the run as
     * Ctrl-C does. For tests and front ends. */
    int (*on_step)(void *ctx, int epoch, int step, float loss);
    void *ctx;
} train_options;

void train_options_default(train_options *o);
/* "dihedral", "hv", "batch", "none" <-> train_flips; "standardised" (or
 * "standardized"), "raw" <-> train_targets. The parsers give SF_ERR with a message. */
const char *train_flips_name(train_flips f);
int train_flips_parse(const char *s, train_flips *f);
const char *train_targets_name(train_targets t);
int train_targets_parse(const char *s, train_targets *t);

typedef struct {
    int epochs;                     /* planned */
    int epochs_done;                /* complete epochs */
    double *train_loss;             /* (epochs) RMSE over each epoch's training batches
                                (train mode, with flips, while the weights move) */
    double *valid_rmse;             /* (epochs) eval-mode RMSE on the validation split */
    double final_train_rmse;        /* train_loss of the last complete epoch (NAN if none) */
    double final_valid_rmse;        /* valid_rmse of the last complete epoch (NAN if none) */
    double train_mean_rmse;         /* RMSE of predicting the training mean, on validation */
    double target_mean[TARGET_MAX]; /* what the network learned: z = (y - mean) / scale */
    double target_scale;            /* (0 and 1 with TRAIN_TARGETS_RAW) */
    double seconds;                 /* wall time of this call */
    double images_per_s;            /* training images per second of this call (all ranks) */
    int ranks;                      /* MPI ranks that trained (1: one process) */
    double grad_sum_ms;             /* mean time a step spent averaging gradients over the
                                ranks (0 for one process) */
    int interrupted;                /* stopped early (Ctrl-C, on_step); checkpoint saved */
} train_result;

void train_result_free(train_result *r);

/* Trains m on ds (SPLIT_TRAIN galaxies; validation on SPLIT_VALID). m->max_batch must
 * be >= opt->batch.
 * Targets: with TRAIN_TARGETS_STANDARDISED the network learns z = (y - mean) / scale
 * (res->target_mean, res->target_scale). On a fresh start (not a resume) the head m
 * comes with is taken as initialised for z, as nn.Linear's initialisation is meant for
 * unit-scale outputs, and opt->head_bias_mean sets its bias to 0; checkpoints hold the
 * head in z units beside mean and scale. Whenever train_run returns, the head is folded
 * back into target units (fc.weight *= scale, fc.bias = scale * fc.bias + mean), so the
 * model predicts y itself, and weights files and runs are in target units. Every loss
 * and RMSE reported is in target units.
 * SF_OK also when interrupted (res->interrupted = 1); SF_ERR on an inference_only
 * model, a bad option, a checkpoint that cannot be written or does not match, or a
 * loss that became NaN/inf. res is filled in both cases (free it with
 * train_result_free). */
int train_run(sfnet *m, const dataset *ds, const train_options *opt, train_result *res);

/* Sets fc.bias to the training split's mean of each target, in target units (fastai
 * does not: with raw targets its bias starts near 0 and walks to the mean, ~8.9 dex for
 * metallicity, which takes a few hundred steps at lr 0.1). train_run does this itself
 * (opt->head_bias_mean); calls sfnet_params_changed. */
void train_head_bias_to_mean(sfnet *m, const dataset *ds);

/* decay (m->n_params): 1 for conv and fc weights, 0 for BN parameters and biases
 * (fastai's wd_bn_bias=False). */
void train_decay_mask(const sfnet *m, uint8_t *decay);

#endif
