/* bench_store.c: the run database at the paper's scale.
 *
 * Fills a fresh database with N synthetic galaxies (default 250,000, the spectral-line
 * sample) x k = 4 activations of d = 512 features, 4 targets, 6 catalogue columns and
 * small JPEG thumbnails, in one store_add_run transaction; then reports the seconds to
 * write, the file size (and bytes per galaxy without thumbnails), and the median time
 * of `top` (store_top, 10 galaxies of a random live feature) and `galaxy` (find by
 * objID + its features and predictions in the run) queries, the similar features of a
 * feature (query_similar_load: from the co-activation sums stored with the run), and
 * the time store_run_summarize takes again on the stored run (its share of the write:
 * the summaries every page reads, computed in the writer's finish step).
 *
 * Usage: bench_store [N] [DIR]   (DIR defaults to $TMPDIR or /tmp; the file is removed)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "data_image.h"
#include "query.h"
#include "sf_util.h"
#include "store.h"

enum { D = 512, K = 4, N_OUT = 4, N_COLS = 6, N_THUMBS = 32, THUMB = 64, N_LIVE = 40 };

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 250000;
    const char *tmp = argc > 2 ? argv[2] : getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    if (n < 100) {
        fprintf(stderr, "bench_store: N must be at least 100\n");
        return 2;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/bench-store-%ld.db", tmp, (long)getpid());
    sf_rng rng;
    sf_rng_seed(&rng, 1);

    /* a few distinct thumbnails: a soft elliptical blob, as galaxy cutouts are */
    uint8_t *thumbs[N_THUMBS];
    size_t thumb_len[N_THUMBS], thumb_total = 0;
    uint8_t rgb[THUMB * THUMB * 3];
    for (int t = 0; t < N_THUMBS; t++) {
        double ax = 4 + 10 * sf_rng_uniform(&rng), ay = 4 + 10 * sf_rng_uniform(&rng);
        for (int y = 0; y < THUMB; y++)
            for (int x = 0; x < THUMB; x++) {
                double r2 = (x - 32) * (x - 32) / (ax * ax) + (y - 32) * (y - 32) / (ay * ay);
                double v = 230 * exp(-r2) + 8 * sf_rng_uniform(&rng);
                for (int c = 0; c < 3; c++)
                    rgb[(y * THUMB + x) * 3 + c] = (uint8_t)fmin(255, v * (0.8 + 0.1 * c));
            }
        if (image_encode_jpeg(rgb, THUMB, THUMB, 80, &thumbs[t], &thumb_len[t]) != SF_OK) {
            fprintf(stderr, "bench_store: %s\n", sf_last_error());
            return 1;
        }
    }

    static const char *const columns[N_COLS] = {
        "z", "oh_p50", "nii_6584_flux", "h_alpha_flux", "oiii_5007_flux", "h_beta_flux"};
    char(*objid)[24] = xmalloc((size_t)n * sizeof *objid);
    store_galaxy_input *gal = xcalloc((size_t)n, sizeof *gal);
    double *values = xmalloc((size_t)n * N_COLS * sizeof *values);
    uint8_t *split = xmalloc((size_t)n);
    float *pred = xmalloc((size_t)n * N_OUT * sizeof *pred);
    float *truth = xmalloc((size_t)n * N_OUT * sizeof *truth);
    int *idx = xmalloc((size_t)n * K * sizeof *idx);
    float *val = xmalloc((size_t)n * K * sizeof *val);
    float *head = xmalloc((size_t)N_OUT * D * sizeof *head);
    for (int i = 0; i < N_OUT * D; i++) head[i] = (float)sf_rng_normal(&rng) * 0.1f;
    for (int i = 0; i < n; i++) {
        snprintf(objid[i], sizeof objid[i], "%llu",
                 1237648704043942146ULL + (unsigned long long)i * 7919);
        split[i] = sf_rng_uniform(&rng) < 0.2;
        for (int j = 0; j < K; j++) {
            int f, dup;
            do {
                f = (int)sf_rng_below(&rng, N_LIVE);
                dup = 0;
                for (int q = 0; q < j; q++) dup |= idx[i * K + q] == f;
            } while (dup);
            idx[i * K + j] = f;
            val[i * K + j] = (float)(sf_rng_uniform(&rng) * 3);
        }
        for (int t = 0; t < N_OUT; t++) {
            truth[i * N_OUT + t] = (float)sf_rng_normal(&rng);
            pred[i * N_OUT + t] = truth[i * N_OUT + t] + 0.2f * (float)sf_rng_normal(&rng);
        }
        for (int c = 0; c < N_COLS; c++) values[i * N_COLS + c] = 100 * sf_rng_uniform(&rng);
        int th = (int)sf_rng_below(&rng, N_THUMBS);
        gal[i] = (store_galaxy_input){objid[i],
                                      360 * sf_rng_uniform(&rng),
                                      90 * sf_rng_uniform(&rng),
                                      &values[i * N_COLS],
                                      thumbs[th],
                                      thumb_len[th],
                                      THUMB,
                                      THUMB,
                                      "jpeg"};
        thumb_total += thumb_len[th];
    }
    store_run_input in;
    memset(&in, 0, sizeof in);
    store_run *r = &in.run;
    snprintf(r->prefix, sizeof r->prefix, "SL");
    snprintf(r->target_spec, sizeof r->target_spec, "bpt_lines");
    r->n_out = N_OUT;
    static const char *const tnames[N_OUT] = {"log_nii_6584_flux", "log_h_alpha_flux",
                                              "log_oiii_5007_flux", "log_h_beta_flux"};
    for (int t = 0; t < N_OUT; t++) {
        snprintf(r->target_names[t], sizeof r->target_names[t], "%s", tnames[t]);
        r->target_std[t] = 1;
    }
    r->k = K;
    r->width = 64;
    r->d = D;
    r->split_seed = 256;
    r->train_rmse = r->valid_rmse = NAN;
    for (int t = 0; t < N_OUT; t++) r->train_rmse_t[t] = r->valid_rmse_t[t] = NAN;
    in.head_w = head;
    in.n_columns = N_COLS;
    in.column_names = columns;
    in.n = n;
    in.galaxies = gal;
    in.split = split;
    in.pred = pred;
    in.truth = truth;
    in.k_stored = K;
    in.topk_idx = idx;
    in.topk_val = val;

    store *s = NULL;
    if (store_open(&s, path, STORE_CREATE) != SF_OK) {
        fprintf(stderr, "bench_store: %s\n", sf_last_error());
        return 1;
    }
    /* store_add_run's three steps, timed apart: the run's row, the galaxies, the finish
     * (counts, feature statistics, summaries, commit) */
    double t0 = sf_now(), c0 = cpu_seconds();
    int64_t run_id = 0;
    store_run_writer *w = NULL;
    if (store_run_begin(s, &in, &w) != SF_OK || store_run_add(w, &in) != SF_OK) {
        fprintf(stderr, "bench_store: %s\n", sf_last_error());
        return 1;
    }
    double t_galaxies = sf_now() - t0, c_galaxies = cpu_seconds() - c0;
    if (store_run_finish(w, &run_id) != SF_OK) {
        fprintf(stderr, "bench_store: %s\n", sf_last_error());
        return 1;
    }
    double t_write = sf_now() - t0, c_write = cpu_seconds() - c0;
    store_close(s);
    struct stat sb;
    stat(path, &sb);

    if (store_open(&s, path, STORE_READ) != SF_OK) {
        fprintf(stderr, "bench_store: %s\n", sf_last_error());
        return 1;
    }
    enum { Q = 201 };
    double t_top[Q], t_gal[Q];
    for (int q = 0; q < Q; q++) {
        int feature = (int)sf_rng_below(&rng, N_LIVE);
        double a = sf_now();
        store_hit *hits = NULL;
        int nh = 0;
        if (store_top(s, run_id, feature, 10, -1, &hits, &nh) != SF_OK || nh != 10) {
            fprintf(stderr, "bench_store: top: %s\n", sf_last_error());
            return 1;
        }
        t_top[q] = (sf_now() - a) * 1e3;
        free(hits);

        int i = (int)sf_rng_below(&rng, (uint32_t)n);
        a = sf_now();
        store_galaxy g;
        store_galaxy_run gr;
        if (store_galaxy_find(s, objid[i], &g) != SF_OK ||
            store_galaxy_in_run(s, run_id, g.id, &gr) != SF_OK || gr.n_out != N_OUT) {
            fprintf(stderr, "bench_store: galaxy: %s\n", sf_last_error());
            return 1;
        }
        t_gal[q] = (sf_now() - a) * 1e3;
        store_galaxy_clear(&g);
        store_galaxy_run_clear(&gr);
    }
    /* a whole catalogue column and a whole feature, as the plots read them */
    store_rows rows;
    double a = sf_now();
    store_run_rows(s, run_id, &rows);
    double t_rows = sf_now() - a;
    double *col = xmalloc((size_t)rows.n * sizeof *col);
    a = sf_now();
    store_catalog_values(s, &rows, "oh_p50", col);
    double t_col = sf_now() - a;
    float *fcol = xmalloc((size_t)rows.n * sizeof *fcol);
    a = sf_now();
    store_run_feature_column(s, run_id, &rows, 3, fcol);
    double t_fcol = sf_now() - a;
    store_rows_clear(&rows);
    free(col);
    free(fcol);
    /* similar features from the stored sums */
    double t_similar[Q];
    for (int q = 0; q < Q; q++) {
        query_similar sim[5];
        int ns = 0;
        a = sf_now();
        if (query_similar_load(s, run_id, (int)sf_rng_below(&rng, N_LIVE), 5, sim, &ns) != SF_OK ||
            ns != 5) {
            fprintf(stderr, "bench_store: similar features: %s (%d of 5)\n", sf_last_error(), ns);
            return 1;
        }
        t_similar[q] = (sf_now() - a) * 1e3;
    }
    store_close(s);
    /* the summaries alone, computed again on the stored run */
    double t_summary = 0;
    if (store_open(&s, path, STORE_WRITE) == SF_OK) {
        a = sf_now();
        if (store_run_summarize(s, run_id) != SF_OK) {
            fprintf(stderr, "bench_store: summaries: %s\n", sf_last_error());
            return 1;
        }
        t_summary = sf_now() - a;
    }
    store_close(s);

    double mb = (double)sb.st_size / 1e6;
    printf("store: %d galaxies x k=%d of d=%d, %d targets, %d catalogue columns, %dx%d JPEG "
           "thumbnails\n",
           n, K, D, N_OUT, N_COLS, THUMB, THUMB);
    printf("store: write (one transaction)      %8.2f s  (goal < 6 s; %.0f galaxies/s; %.2f s of "
           "CPU)\n",
           t_write, n / t_write, c_write);
    printf("store:   galaxies' rows %.2f s (%.2f s of CPU), then statistics, summaries and commit "
           "%.2f s (%.2f s of CPU)\n",
           t_galaxies, c_galaxies, t_write - t_galaxies, c_write - c_galaxies);
    printf("store: file size                    %8.1f MB  (%.0f bytes/galaxy, %.0f without "
           "thumbnails of %.0f bytes)\n",
           mb, (double)sb.st_size / n, ((double)sb.st_size - (double)thumb_total) / n,
           (double)thumb_total / n);
    printf("store: top 10 of a feature, median  %8.3f ms\n", median(t_top, Q));
    printf("store: galaxy by objID, median      %8.3f ms\n", median(t_gal, Q));
    printf("store: run rows / a catalogue column / a feature column over all galaxies: %.0f / %.0f "
           "/ %.0f ms\n",
           t_rows * 1e3, t_col * 1e3, t_fcol * 1e3);
    printf("store: similar features of a feature, median %8.3f ms (from the stored sums)\n",
           median(t_similar, Q));
    printf("store: summaries of the run (part of the write) %.2f s\n", t_summary);
    printf("store: (timings shared the machine with other work; treat them as upper bounds)\n");

    if (getenv("BENCH_KEEP")) printf("store: kept %s\n", path);
    else unlink(path);
    char side[600];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    for (int t = 0; t < N_THUMBS; t++) free(thumbs[t]);
    free(objid);
    free(gal);
    free(values);
    free(split);
    free(pred);
    free(truth);
    free(idx);
    free(val);
    free(head);
    return 0;
}
