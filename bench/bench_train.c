/* bench_train: training streamed from the image cache file, against the network's own
 * training rate.
 *
 *   bench_train [--n 3000] [--epochs 1] [--width 64] [--batch 64] [--dir DIR]
 *
 * Makes (or reuses, in DIR: $SFNET_BENCH_DIR, else $TMPDIR or /tmp) a synthetic survey
 * of N galaxies with 160x160 cutouts, opens it through an image cache FILE (as a
 * catalogue too large for memory is, 160 -> 144 pixels), and reports the cache's build
 * time, size on disk and the peak RSS of the build. Then it trains the paper's model
 * (width 64, k 4, batch 64, oneDNN fp32) with train_run for EPOCHS epochs and compares
 * its training images/s (steps only: batches from the cache, forward, backward, the
 * optimizer) with the images/s of the bare network step that bench_nn measures
 * (zero_grad, forward, loss, backward on one batch in memory), measured before and
 * after the epochs. Goal: at least 95%. Both are given as wall-clock rates and as CPU
 * seconds per image, the steadier figure on a machine where other programs run.
 *
 * The paper-scale figures come from the same code: `sfnet-explore --train --synth-n
 * 117000 --epochs 2 RUN.db` prints the cache's build time, size and memory, each epoch's
 * images/s and the run's ETA. */
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_image.h"
#include "nn_model.h"
#include "sf_util.h"
#include "synth.h"
#include "train.h"

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

/* Images/s and CPU s per image of the bare network step, over `steps` steps after one
 * warm-up. */
static void network_rate(sfnet *m, int batch, int steps, double *img_s, double *cpu_img) {
    size_t nx = (size_t)batch * 3 * m->cfg.in_size * m->cfg.in_size;
    float *x = xmalloc_aligned(nx * sizeof(float)), *y = xmalloc((size_t)batch * sizeof(float));
    sf_rng r;
    sf_rng_seed(&r, 9);
    for (size_t i = 0; i < nx; i++) x[i] = (float)sf_rng_normal(&r);
    for (int i = 0; i < batch; i++) y[i] = (float)(8.9 + 0.1 * sf_rng_normal(&r));
    double wall = 0, cpu = 0;
    for (int s = 0; s <= steps; s++) {
        double t0 = sf_now(), c0 = cpu_seconds();
        sfnet_zero_grad(m);
        sfnet_forward(m, x, batch, 1);
        sfnet_loss(m, y, batch, 1);
        if (s > 0) {
            wall += sf_now() - t0;
            cpu += cpu_seconds() - c0;
        }
    }
    *img_s = (double)steps * batch / wall;
    *cpu_img = cpu / ((double)steps * batch);
    free(x);
    free(y);
}

int main(int argc, char **argv) {
    int n = 3000, epochs = 1, width = 64, batch = 64;
    const char *dir = getenv("SFNET_BENCH_DIR");
    if (!dir || !*dir) dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    static const struct option opts[] = {{"n", required_argument, 0, 'n'},
                                         {"epochs", required_argument, 0, 'e'},
                                         {"width", required_argument, 0, 'w'},
                                         {"batch", required_argument, 0, 'b'},
                                         {"dir", required_argument, 0, 'd'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n': n = atoi(optarg); break;
        case 'e': epochs = atoi(optarg); break;
        case 'w': width = atoi(optarg); break;
        case 'b': batch = atoi(optarg); break;
        case 'd': dir = optarg; break;
        default:
            fprintf(stderr, "usage: bench_train [--n 3000] [--epochs 1] [--width 64] "
                            "[--batch 64] [--dir DIR]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (n < 100 || epochs < 1 || batch < 1) {
        fprintf(stderr, "bench_train: bad options\n");
        return 2;
    }

    /* the survey, made once */
    char survey[2048], csv[2100], images[2100], cache[2100];
    snprintf(survey, sizeof survey, "%s/sfnet-bench-train-%d", dir, n);
    snprintf(csv, sizeof csv, "%s/galaxies.csv", survey);
    snprintf(images, sizeof images, "%s/images", survey);
    snprintf(cache, sizeof cache, "%s/cache.r160c144.sfcache", survey);
    if (access(csv, R_OK) != 0) {
        fprintf(stderr, "bench_train: making a survey of %d galaxies in %s\n", n, survey);
        synth_options so = {.n = n, .seed = 256, .size = 160};
        if (synth_survey(survey, &so) != SF_OK) {
            fprintf(stderr, "bench_train: %s\n", sf_last_error());
            return 1;
        }
    }
    unlink(cache); /* time a fresh build */

    dataset_options dopt;
    dataset_options_default(&dopt);
    dopt.catalog_path = csv;
    dopt.images_dir = images;
    dopt.cache_path = cache;
    dataset ds;
    double rss0 = peak_rss_mb();
    if (dataset_open(&ds, &dopt) != SF_OK) {
        fprintf(stderr, "bench_train: %s\n", sf_last_error());
        return 1;
    }
    double rss_build = peak_rss_mb();
    struct stat st;
    double cache_gb = stat(cache, &st) == 0 ? st.st_blocks * 512.0 / 1e9 : 0;

    sfnet_config cfg = {.width = width, .k = 4, .n_out = 1, .in_size = 144};
    sfnet *m = sfnet_create(&cfg, batch, NN_ENGINE_ONEDNN);
    if (!m) {
        fprintf(stderr, "bench_train: %s\n", sf_last_error());
        return 3;
    }
    sfnet_init(m, 1);
    train_head_bias_to_mean(m, &ds);
    double net_before, cpu_before, net_after, cpu_after;
    network_rate(m, batch, 3, &net_before, &cpu_before);

    train_options to;
    train_options_default(&to);
    to.epochs = epochs;
    to.batch = batch;
    to.lr = 0.01;
    train_result res;
    double c0 = cpu_seconds(), t0 = sf_now();
    if (train_run(m, &ds, &to, &res) != SF_OK) {
        fprintf(stderr, "bench_train: %s\n", sf_last_error());
        return 1;
    }
    double run_cpu = cpu_seconds() - c0, run_wall = sf_now() - t0;
    network_rate(m, batch, 3, &net_after, &cpu_after);
    double net = (net_before + net_after) / 2, net_cpu = (cpu_before + cpu_after) / 2;
    /* the run's CPU time includes its validations: count what the steps took */
    long n_images = (long)(ds.n_train / batch) * batch * epochs;

    printf("\nTraining from the image cache file: %d galaxies, 160 -> 144 px, width %d, "
           "batch %d, oneDNN fp32, %d thread(s)\n",
           ds.n, width, batch, omp_get_max_threads());
    printf("image cache: %.2f GB on disk, built in %.1f s (%.0f images/s), peak RSS %.0f MB "
           "before, %.0f MB after the build\n",
           cache_gb, ds.cache_build_seconds, ds.n_decoded / ds.cache_build_seconds, rss0,
           rss_build);
    printf("%-44s %12s %14s\n", "", "img/s", "CPU ms/img");
    printf("%-44s %12.1f %14.2f\n", "network step alone (bench_nn's training row)", net,
           1e3 * net_cpu);
    printf("%-44s %12.1f %14s\n", "train_run steps (cache, forward, backward, Ranger)",
           res.images_per_s, "");
    printf("%-44s %12.1f %14.2f\n", "train_run whole epochs (with validation)", n_images / run_wall,
           1e3 * run_cpu / n_images);
    printf("streaming from the cache reaches %.1f%% of the network's images/s (goal >= 95%%)\n",
           100 * res.images_per_s / net);
    char up[256] = "";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fgets(up, sizeof up, f)) printf("load average while measuring: %s", up);
    if (f) fclose(f);
    train_result_free(&res);
    sfnet_free(m);
    dataset_close(&ds);
    return 0;
}
