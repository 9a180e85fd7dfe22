/* mpi_helper_setup.h: the model, data and batch that tests/mpi_train_helper.c (on N
 * ranks) and tests/test_train_dist.c (in one process) both use, so that the two
 * compute the same thing. Static functions, included by those two files only. */
#ifndef SF_TEST_MPI_HELPER_SETUP_H
#define SF_TEST_MPI_HELPER_SETUP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_image.h"
#include "nn_model.h"
#include "sf_util.h"
#include "train.h"

#define HELPER_BATCH 32 /* the global batch */
#define HELPER_WIDTH 8
#define HELPER_CROP 48
#define HELPER_RESIZE 52
#define HELPER_SEED 5

static inline int helper_open_data(dataset *ds, const char *dir) {
    static char csv[1200], img[1200];
    snprintf(csv, sizeof csv, "%s/galaxies.csv", dir);
    snprintf(img, sizeof img, "%s/images", dir);
    dataset_options o;
    dataset_options_default(&o);
    o.catalog_path = csv;
    o.images_dir = img;
    o.resize = HELPER_RESIZE;
    o.crop = HELPER_CROP;
    o.quiet = 1;
    return dataset_open(ds, &o);
}

/* The model, initialised from seed. */
static inline sfnet *helper_model_seeded(int max_batch, nn_engine_kind engine, uint64_t seed) {
    sfnet_config cfg = {.width = HELPER_WIDTH, .k = 4, .n_out = 1, .in_size = HELPER_CROP};
    sfnet *m = sfnet_create(&cfg, max_batch, engine);
    if (!m) {
        fprintf(stderr, "helper_model: %s\n", sf_last_error());
        return NULL;
    }
    sfnet_init(m, seed);
    return m;
}

static inline sfnet *helper_model(int max_batch, nn_engine_kind engine) {
    return helper_model_seeded(max_batch, engine, HELPER_SEED);
}

/* The global batch: HELPER_BATCH training galaxies in a seeded order, and the flip
 * generator of its step. */
static inline void helper_batch(const dataset *ds, int *batch, sf_rng *flips) {
    int *perm = xmalloc((size_t)ds->n_train * sizeof *perm);
    memcpy(perm, ds->train_idx, (size_t)ds->n_train * sizeof *perm);
    sf_rng r;
    sf_rng_seed(&r, 77);
    sf_rng_shuffle(&r, perm, ds->n_train);
    memcpy(batch, perm, HELPER_BATCH * sizeof *batch);
    free(perm);
    sf_rng_seed(flips, 78);
}

/* `epochs` epochs of 10 steps (320 training galaxies, batch 32), batches and flips
 * from seed. */
static inline void helper_train_options(train_options *o, int epochs, uint64_t seed) {
    train_options_default(o);
    o->epochs = epochs;
    o->batch = HELPER_BATCH;
    o->lr = 0.01;
    o->seed = seed;
    o->quiet = 1;
}

#endif
