/* bench_build.c: adding a run to a database for a whole catalogue, end to end, beside
 * the network's own inference rate.
 *
 * The paper's model (width 64, k = 4, 160 -> 144 pixels, batch 64, oneDNN fp32, random
 * weights: speed does not depend on them) runs over the real SDSS cutouts of
 * ../shared/data/sdss-metallicity-400 (or $SFNET_SHARED_DATA) taken PASSES times under
 * new objIDs (so 2,000 galaxies by default, every file read and decoded each time):
 * JPEG decoding, resizing, thumbnails, the network and the SQLite writes of
 * infer_build_run into a fresh database. It prints galaxies/s end to end, the
 * network's images/s on the same batches already in memory, their ratio, and the
 * process's peak resident memory. The model is made inference-only, as predict's is.
 *
 * Usage: bench_build [PASSES] [DIR]   (DIR for the database: $TMPDIR or /tmp)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_catalog.h"
#include "data_image.h"
#include "infer.h"
#include "nn_model.h"
#include "sf_util.h"
#include "store.h"
#include "train.h"

enum { WIDTH = 64, K = 4, RESIZE = 160, CROP = 144, BATCH = 64 };

/* The catalogue repeated `passes` times, objIDs suffixed with the pass. */
static void repeat_catalog(const catalog *in, int passes, catalog *out) {
    memset(out, 0, sizeof *out);
    out->path = xstrdup(in->path);
    out->n_rows = in->n_rows * passes;
    out->n_cols = in->n_cols;
    out->col_names = xcalloc((size_t)in->n_cols, sizeof *out->col_names);
    for (int c = 0; c < in->n_cols; c++) out->col_names[c] = xstrdup(in->col_names[c]);
    out->obj_ids = xcalloc((size_t)out->n_rows, sizeof *out->obj_ids);
    out->values = xmalloc((size_t)out->n_rows * (size_t)in->n_cols * sizeof *out->values);
    out->line_of_row = xmalloc((size_t)out->n_rows * sizeof *out->line_of_row);
    for (int p = 0; p < passes; p++)
        for (int r = 0; r < in->n_rows; r++) {
            int o = p * in->n_rows + r;
            char id[96];
            snprintf(id, sizeof id, "%s_%d", in->obj_ids[r], p);
            out->obj_ids[o] = xstrdup(id);
            memcpy(&out->values[(size_t)o * in->n_cols], &in->values[(size_t)r * in->n_cols],
                   (size_t)in->n_cols * sizeof *out->values);
            out->line_of_row[o] = in->line_of_row[r];
        }
}

int main(int argc, char **argv) {
    int passes = argc > 1 ? atoi(argv[1]) : 5;
    const char *tmp = argc > 2 ? argv[2] : getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    if (passes < 1) passes = 1;
    const char *shared = getenv("SFNET_SHARED_DATA");
    char dir[1024], csv[1100], img[1100];
    snprintf(dir, sizeof dir, "%s",
             shared && *shared ? shared : "../shared/data/sdss-metallicity-400");
    snprintf(csv, sizeof csv, "%s/galaxies.csv", dir);
    snprintf(img, sizeof img, "%s/images", dir);
    if (access(csv, R_OK) != 0) {
        printf("bench_build: skipped: %s not found (set SFNET_SHARED_DATA)\n", csv);
        return 0;
    }
    sf_progress_quiet = 1;
    catalog cat0, cat;
    target_set ts;
    if (catalog_load(&cat0, csv) != SF_OK || targets_select(&ts, &cat0, "metallicity") != SF_OK) {
        fprintf(stderr, "bench_build: %s\n", sf_last_error());
        return 1;
    }
    repeat_catalog(&cat0, passes, &cat);

    /* the galaxies: every pass of every row that passes the cuts and has an image */
    int n_max = ts.n_rows * passes, n = 0;
    int *rows = xmalloc((size_t)n_max * sizeof *rows);
    char **paths = xcalloc((size_t)n_max, sizeof *paths);
    float *truth = xmalloc((size_t)n_max * sizeof *truth);
    for (int p = 0; p < passes; p++)
        for (int i = 0; i < ts.n_rows; i++) {
            char path[2048];
            if (image_find(path, sizeof path, img, cat0.obj_ids[ts.rows[i]]) != SF_OK) continue;
            rows[n] = p * cat0.n_rows + ts.rows[i];
            paths[n] = xstrdup(path);
            truth[n++] = ts.y[i];
        }
    uint8_t *split = xmalloc((size_t)n);
    dataset_split(n, 256, 0.2, split);

    sfnet_config cfg = {.width = WIDTH, .k = K, .n_out = 1, .in_size = CROP, .inference_only = 1};
    sfnet *m = sfnet_create(&cfg, BATCH, NN_ENGINE_ONEDNN);
    if (!m) {
        fprintf(stderr, "bench_build: %s\n", sf_last_error());
        return 3;
    }
    sfnet_init(m, 1);

    /* the network alone: batches already in memory */
    size_t img_len = (size_t)3 * CROP * CROP;
    float *x = xmalloc_aligned((size_t)BATCH * img_len * sizeof(float));
    sf_rng rng;
    sf_rng_seed(&rng, 7);
    for (size_t i = 0; i < (size_t)BATCH * img_len; i++) x[i] = (float)sf_rng_normal(&rng);
    float pred[BATCH], val[BATCH * K];
    int idx[BATCH * K];
    infer_forward_batch(m, x, BATCH, pred, idx, val, NULL); /* warm-up */
    int steps = 8;
    double t0 = sf_now();
    for (int s = 0; s < steps; s++) infer_forward_batch(m, x, BATCH, pred, idx, val, NULL);
    double net_rate = steps * BATCH / (sf_now() - t0);
    free(x);

    char db[1200];
    snprintf(db, sizeof db, "%s/bench-build-%ld.db", tmp, (long)getpid());
    store *s;
    if (store_open(&s, db, STORE_CREATE) != SF_OK) {
        fprintf(stderr, "bench_build: %s\n", sf_last_error());
        return 1;
    }
    store_run_input in;
    memset(&in, 0, sizeof in);
    in.run.n_out = 1;
    snprintf(in.run.target_names[0], sizeof in.run.target_names[0], "oh_p50");
    snprintf(in.run.target_spec, sizeof in.run.target_spec, "metallicity");
    in.run.k = K;
    in.run.width = WIDTH;
    in.run.d = m->d;
    in.run.train_rmse = in.run.valid_rmse = NAN;
    in.run.train_rmse_t[0] = in.run.valid_rmse_t[0] = NAN;
    for (int c = 0; c < 3; c++) in.run.image_mean[c] = 0.1f, in.run.image_std[c] = 0.2f;
    snprintf(in.run.engine, sizeof in.run.engine, "onednn");
    in.head_w = sfnet_tensor_data(m, sfnet_find_tensor(m, "fc.weight"));
    infer_source src;
    memset(&src, 0, sizeof src);
    src.n = n;
    src.paths = (const char *const *)paths;
    src.resize = RESIZE;
    for (int c = 0; c < 3; c++) src.mean[c] = 0.1f, src.std[c] = 0.2f;
    src.want_thumbs = 1;
    src.quiet = 1;
    infer_galaxies g = {.cat = &cat, .n = n, .rows = rows, .truth = truth, .split = split};
    infer_stats st;
    int rc = infer_build_run(s, m, &src, &g, &in, NULL, &st);
    store_close(s);
    struct stat sb;
    double mb = stat(db, &sb) == 0 ? sb.st_size / 1e6 : NAN;
    unlink(db);
    char side[1300];
    snprintf(side, sizeof side, "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", db);
    unlink(side);
    if (rc != SF_OK) {
        fprintf(stderr, "bench_build: %s\n", sf_last_error());
        return 1;
    }
    double e2e = st.n_done / st.seconds;
    printf("\nDatabase building: %d SDSS galaxies (%d files x %d passes; JPEG %s, width %d, "
           "k %d, %d->%d px, batch %d, onednn fp32)\n",
           st.n_done, ts.n_rows, passes, "decode + resize + thumbnail", WIDTH, K, RESIZE, CROP,
           BATCH);
    printf("  %-44s %8.1f galaxies/s  (%.1f s, %.1f MB)\n",
           "end to end (read, decode, network, SQLite)", e2e, st.seconds, mb);
    printf("  %-44s %8.1f images/s\n", "the network alone, batches in memory", net_rate);
    printf("  %-44s %8.2f\n", "ratio", e2e / net_rate);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("  %-44s %8.1f MB\n", "peak resident memory (the whole process)", ru.ru_maxrss / 1024.0);

    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
    free(rows);
    free(truth);
    free(split);
    sfnet_free(m);
    targets_free(&ts);
    catalog_free(&cat0);
    catalog_free(&cat);
    return 0;
}
