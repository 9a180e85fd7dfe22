/* train_dist.h: data-parallel training over the ranks of an MPI job (sf_mpi.h), the
 * contract of PyTorch's DistributedDataParallel and Horovod.
 *
 * Every rank holds the whole model and the whole data set. --batch B is the global
 * batch: rank r of N computes images [r*B/N, (r+1)*B/N) of each batch, with the very
 * flips one process draws for them, on its own engine. After the backward pass the
 * ranks average their gradients (one MPI_Allreduce over the flat gradient array),
 * then every rank takes the same optimizer step on the same numbers, so the weights
 * stay identical without being sent again. The training loss of a step is the RMSE
 * over the global batch. Each rank's gradient is that of the RMSE of its own slice,
 * so the averaged gradient is the mean of the slices' gradients (as DDP's), not the
 * gradient of the global batch's RMSE.
 *
 * BatchNorm normalises with each rank's own batch statistics (DDP's default, not
 * SyncBatchNorm); the running statistics are averaged over the ranks before every
 * validation and so before the model is stored, so the stored model does not rest on
 * rank 0's images alone. Validation is split over the ranks and its squared errors
 * summed. Rank 0's weights, optimizer state and position start every rank (after
 * --init or --resume), so a checkpoint resumes on any number of ranks.
 *
 * In a world of one every function here is the identity or a no-op and costs nothing,
 * so one process trains exactly as it did before MPI existed.
 */
#ifndef SF_TRAIN_DIST_H
#define SF_TRAIN_DIST_H

#include <stdint.h>

#include "data_image.h"
#include "nn_model.h"
#include "sf_util.h"
#include "train.h"

typedef struct {
    int rank, size;    /* 0, 1 in a world of one */
    int batch;         /* the global batch */
    int local;         /* batch / size: this rank's images per step */
    int first;         /* rank * local: its first image of every batch */
    double grad_sum_s; /* seconds spent averaging gradients */
    long grad_sums;    /* how many times */
} train_dist;

/* This rank's share of a global batch. SF_ERR with a message when the batch does not
 * divide among the ranks. */
int train_dist_begin(train_dist *d, int batch);
/* [*lo, *hi): this rank's share of n items (validation galaxies). */
void train_dist_range(const train_dist *d, int n, int *lo, int *hi);
/* This rank's slice of a global batch (the d->batch galaxy indices of batch) into x
 * and y (d->local images and targets), each image transformed as tr says for its place
 * in the global batch (tr holds d->batch dihedral transforms, those one process draws;
 * NULL: none). */
void train_dist_slice(const train_dist *d, const dataset *ds, const int *batch, const uint8_t *tr,
                      float *x, float *y);
/* One training step's gradient from this rank's slice in x and y: forward and backward
 * on it, then the ranks average their gradients into m->grads. *loss gets the RMSE over
 * the global batch (in the units of y). SF_ERR when the model cannot run the slice on
 * this rank (which says so) or on another; every rank returns it. In a world of one
 * with first 0 and local = batch this is exactly one process's step. */
int train_dist_backward(train_dist *d, sfnet *m, const float *x, const float *y, float *loss);
/* Both for a batch with dihedral flips drawn from the generator flips (NULL: none) in
 * the order one process draws them, targets as the data set holds them. */
int train_dist_gradient(train_dist *d, sfnet *m, const dataset *ds, const int *batch,
                        const sf_rng *flips, float *x, float *y, float *loss);
/* m->grads becomes the mean of the ranks' gradients. */
void train_dist_average_grads(train_dist *d, sfnet *m);
/* 1 on every rank when flag is set on any rank (a stop request). */
int train_dist_any(int flag);
/* The BN running statistics (m->buffers) become their mean over the ranks. */
void train_dist_average_running_stats(sfnet *m);
/* Rank 0's weights, running statistics and optimizer state (o may be NULL) copied to
 * every rank; calls sfnet_params_changed. */
void train_dist_share_model(sfnet *m, ranger *o);

/* A 64-bit hash of the weights, running statistics and optimizer state (o may be
 * NULL): equal on two ranks when, and practically only when, they hold the same bits. */
uint64_t train_dist_checksum(const sfnet *m, const ranger *o);
/* 1 when every rank holds the same model and optimizer state. When they differ (an
 * MPI library whose sums are not the same bits on every rank), says so once and
 * gives every rank rank 0's state, then returns 0. */
int train_dist_keep_identical(sfnet *m, ranger *o, int epoch);

/* SF_OK when every rank opened the same galaxies with the same normalisation. When a
 * rank lacks an image rank 0 read (or read one rank 0 could not), that rank prints
 * which file (the image path, or its objID when none exists), and every rank gets
 * SF_ERR. images_dir is what the data set was opened with. */
int train_dist_same_galaxies(const dataset *ds, const char *images_dir);

/* Prints "sfnet-explore: rank R of N on HOST: <message>" to stderr even on a muted
 * rank: what only this rank knows. */
void train_dist_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
