/* mpi_train_helper: the rank side of tests/test_train_dist.c, started by
 *   mpirun --allow-run-as-root --oversubscribe -np N mpi_train_helper MODE OUT DATA
 * on the shared SDSS galaxies in DATA (a folder with galaxies.csv and images/).
 *
 *   grad ENGINE  one step's gradient of one global batch (train_dist_gradient: the
 *                slice and backward train_run calls): rank 0 writes the global loss and the
 *                averaged gradient to OUT as raw floats (1 + n_params).
 *   train [EPOCHS [SEED]]
 *                train_run for EPOCHS epochs of 10 steps (default 2: 20 steps) from
 *                SEED (default 11; the model's weights from SEED + 100, the head at the
 *                training mean): every rank prints "checksum RANK HEX" of its weights
 *                and running statistics; rank 0 writes the validation RMSE of each
 *                epoch to OUT.
 *
 * The model and data settings are the ones test_train_dist.c uses for the same work in
 * one process (helper_setup). Exit status 0 when the work was done. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_image.h"
#include "mpi_helper_setup.h"
#include "sf_mpi.h"
#include "sf_util.h"
#include "train.h"
#include "train_dist.h"

static int run_grad(const char *out, const dataset *ds, nn_engine_kind engine) {
    train_dist d;
    if (train_dist_begin(&d, HELPER_BATCH) != SF_OK) {
        fprintf(stderr, "mpi_train_helper: %s\n", sf_last_error());
        return 1;
    }
    sfnet *m = helper_model(d.local, engine);
    if (!m) return 1;
    int batch[HELPER_BATCH];
    sf_rng flips;
    helper_batch(ds, batch, &flips);
    float *x = xmalloc_aligned((size_t)d.local * 3 * ds->size * ds->size * sizeof(float));
    float *y = xmalloc((size_t)d.local * sizeof(float));
    float loss;
    int rc = train_dist_gradient(&d, m, ds, batch, &flips, x, y, &loss) == SF_OK ? 0 : 1;
    if (rc == 0 && d.rank == 0) {
        FILE *f = fopen(out, "wb");
        if (!f || fwrite(&loss, sizeof loss, 1, f) != 1 ||
            fwrite(m->grads, sizeof(float), m->n_params, f) != m->n_params)
            rc = 1;
        if (f && fclose(f) != 0) rc = 1;
    }
    free(x);
    free(y);
    sfnet_free(m);
    return rc;
}

static int run_train(const char *out, const dataset *ds, int epochs, uint64_t seed) {
    sfnet *m = helper_model_seeded(HELPER_BATCH / sf_mpi_size(), NN_ENGINE_ONEDNN, seed + 100);
    if (!m) return 1;
    train_head_bias_to_mean(m, ds);
    train_options o;
    helper_train_options(&o, epochs, seed);
    train_result r;
    int rc = train_run(m, ds, &o, &r) == SF_OK ? 0 : 1;
    if (rc) fprintf(stderr, "mpi_train_helper: %s\n", sf_last_error());
    if (!rc) {
        printf("checksum %d %016llx\n", sf_mpi_rank(),
               (unsigned long long)train_dist_checksum(m, NULL));
        fflush(stdout);
    }
    if (!rc && sf_mpi_rank() == 0) {
        FILE *f = fopen(out, "w");
        if (!f) rc = 1;
        for (int e = 0; f && e < r.epochs_done; e++) fprintf(f, "%.9g\n", r.valid_rmse[e]);
        if (f && fclose(f) != 0) rc = 1;
    }
    train_result_free(&r);
    sfnet_free(m);
    return rc;
}

int main(int argc, char **argv) {
    if (sf_mpi_init(&argc, &argv) != SF_OK) {
        fprintf(stderr, "mpi_train_helper: %s\n", sf_last_error());
        return 1;
    }
    if (argc < 4) {
        fprintf(stderr, "usage: mpi_train_helper grad OUT DATA [ENGINE] | train OUT DATA "
                        "[EPOCHS [SEED]]\n");
        sf_mpi_finalize();
        return 2;
    }
    sf_progress_quiet = 1;
    dataset ds;
    int rc = 1;
    if (helper_open_data(&ds, argv[3]) != SF_OK) {
        fprintf(stderr, "mpi_train_helper: %s\n", sf_last_error());
    } else {
        if (!strcmp(argv[1], "grad"))
            rc = run_grad(argv[2], &ds,
                          argc > 4 && !strcmp(argv[4], "reference") ? NN_ENGINE_REFERENCE
                                                                    : NN_ENGINE_ONEDNN);
        else if (!strcmp(argv[1], "train"))
            rc = run_train(argv[2], &ds, argc > 4 ? atoi(argv[4]) : 2,
                           argc > 5 ? (uint64_t)atoll(argv[5]) : 11);
        dataset_close(&ds);
    }
    sf_mpi_finalize();
    return rc;
}
