/* bench_dist: one data-parallel training step as 1 rank x T threads and as N ranks x 1
 * thread on this machine, with the time each step spends averaging the gradients.
 *
 *   bench_dist [--ranks 2] [--steps 5] [--width 64] [--size 144] [--batch 64]
 *   bench_dist --row [same options]         one row (under mpirun for N ranks)
 *
 * A step is exactly train_run's: this rank's slice of the global batch assembled from
 * the pixels in memory (dataset_batch, with flips), zero_grad, forward, loss, backward,
 * the gradients averaged over the ranks (MPI_Allreduce), the Ranger step. The paper's
 * model (width 64, k 4, 144x144, global batch 64, oneDNN fp32) on random pixels: speed
 * does not depend on them. One warm-up step is not counted.
 *
 * The table runs `bench_dist --row` once with OMP_NUM_THREADS=N (one process) and once
 * under `mpirun --allow-run-as-root --oversubscribe -np N` with OMP_NUM_THREADS=1, and
 * prints images/s, ms per step, ms per step in the allreduce, peak RSS per rank, the CPU
 * time of all ranks per image, and the ratio of the two rows (goal: N x 1 reaches 90% of
 * 1 x N). On a machine where other programs run, both rows slow down unevenly: rerun it
 * on a quiet machine; the CPU time per image is the steadier figure there (it counts
 * spinning threads' waits too). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <omp.h>

#include "data_image.h"
#include "nn_model.h"
#include "sf_mpi.h"
#include "sf_util.h"
#include "train.h"
#include "train_dist.h"

typedef struct {
    int ranks, steps, width, size, batch;
} bench_opts;

/* CPU seconds of this process's threads so far. */
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

/* A data set of n random images held in memory, as dataset_open leaves a small one. */
static void random_dataset(dataset *ds, int n, int size) {
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->size = size;
    ds->targets.n_targets = 1;
    size_t bytes = (size_t)n * 3 * size * size;
    ds->pixels = xmalloc(bytes);
    ds->y = xmalloc((size_t)n * sizeof(float));
    sf_rng r;
    sf_rng_seed(&r, 3);
    for (size_t i = 0; i < bytes; i++) ds->pixels[i] = (uint8_t)sf_rng_below(&r, 256);
    for (int i = 0; i < n; i++) ds->y[i] = (float)(8.9 + 0.2 * sf_rng_normal(&r));
    for (int c = 0; c < 3; c++) {
        ds->mean[c] = 0.5f;
        ds->std[c] = 0.29f;
    }
}

/* One row: prints "ROW ranks threads img/s step_ms allreduce_ms peak_MB cpu_ms_per_img"
 * on rank 0 (the CPU time of every rank's counted steps, per image of the batch). */
static int run_row(const bench_opts *o) {
    train_dist d;
    if (train_dist_begin(&d, o->batch) != SF_OK) {
        fprintf(stderr, "bench_dist: %s\n", sf_last_error());
        return 2;
    }
    sfnet_config cfg = {.width = o->width, .k = 4, .n_out = 1, .in_size = o->size};
    sfnet *m = sfnet_create(&cfg, d.local, NN_ENGINE_ONEDNN);
    if (!m) {
        fprintf(stderr, "bench_dist: %s\n", sf_last_error());
        return 3;
    }
    sfnet_init(m, 1);
    dataset ds;
    random_dataset(&ds, o->batch, o->size);
    int *batch = xmalloc((size_t)o->batch * sizeof *batch);
    for (int i = 0; i < o->batch; i++) batch[i] = i;
    float *x = xmalloc_aligned((size_t)d.local * 3 * o->size * o->size * sizeof(float));
    float *y = xmalloc((size_t)d.local * sizeof(float));
    uint8_t *decay = xmalloc(m->n_params);
    train_decay_mask(m, decay);
    ranger opt;
    ranger_config rc = ranger_defaults();
    ranger_init(&opt, m->n_params, &rc, decay);
    free(decay);

    double t_steps = 0, t_sum0 = 0, cpu = 0;
    for (int s = 0; s <= o->steps; s++) {
        if (s == 1) t_sum0 = d.grad_sum_s;
        sf_mpi_all_ok(1); /* every rank starts the step together */
        double t0 = sf_now(), c0 = cpu_seconds();
        sf_rng flips;
        sf_rng_seed(&flips, (uint64_t)s);
        float loss;
        if (train_dist_gradient(&d, m, &ds, batch, &flips, x, y, &loss) != SF_OK) {
            fprintf(stderr, "bench_dist: %s\n", sf_last_error());
            return 3;
        }
        ranger_step(&opt, m->params, m->grads, 1e-3, 0.95);
        sfnet_params_changed(m);
        double t = sf_now() - t0;
        if (s > 0) {
            t_steps += t;
            cpu += cpu_seconds() - c0;
        }
        if (d.rank == 0)
            fprintf(stderr, "bench_dist: %d rank(s) x %d thread(s): step %d/%d %.3f s\n", d.size,
                    omp_get_max_threads(), s, o->steps, t);
    }
    double allreduce_ms = o->steps > 0 ? 1e3 * (d.grad_sum_s - t_sum0) / o->steps : 0;
    sf_mpi_sum_f64(&cpu, 1);
    if (d.rank == 0)
        printf("ROW %d %d %.2f %.1f %.1f %.0f %.2f\n", d.size, omp_get_max_threads(),
               o->steps * o->batch / t_steps, 1e3 * t_steps / o->steps, allreduce_ms, peak_rss_mb(),
               1e3 * cpu / ((double)o->steps * o->batch));
    fflush(stdout);
    ranger_free(&opt);
    free(batch);
    free(x);
    free(y);
    free(ds.pixels);
    free(ds.y);
    sfnet_free(m);
    return 0;
}

typedef struct {
    int ranks, threads;
    double img_s, step_ms, allreduce_ms, mb, cpu_ms;
} row;

static int table_row(const char *cmd, row *r) {
    fprintf(stderr, "bench_dist: %s\n", cmd);
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, p))
        if (sscanf(line, "ROW %d %d %lf %lf %lf %lf %lf", &r->ranks, &r->threads, &r->img_s,
                   &r->step_ms, &r->allreduce_ms, &r->mb, &r->cpu_ms) == 7)
            found = 1;
    pclose(p);
    return found;
}

static int run_table(const bench_opts *o) {
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        fprintf(stderr, "bench_dist: cannot find its own executable\n");
        return 1;
    }
    self[len] = 0;
    char args[256], cmd[2][8192];
    snprintf(args, sizeof args, "--row --steps %d --width %d --size %d --batch %d", o->steps,
             o->width, o->size, o->batch);
    snprintf(cmd[0], sizeof cmd[0], "OMP_NUM_THREADS=%d '%s' %s", o->ranks, self, args);
    snprintf(cmd[1], sizeof cmd[1],
             "OMP_NUM_THREADS=1 mpirun --allow-run-as-root --oversubscribe -np %d "
             "-x OMP_NUM_THREADS '%s' %s",
             o->ranks, self, args);
    row r[2];
    int ok[2];
    for (int i = 0; i < 2; i++) {
        ok[i] = table_row(cmd[i], &r[i]);
        if (!ok[i]) fprintf(stderr, "bench_dist: that row failed\n");
    }
    printf("\nData-parallel training step: width %d, %dx%d, global batch %d, oneDNN fp32 "
           "(%d steps)\n",
           o->width, o->size, o->size, o->batch, o->steps);
    printf("%-22s %10s %10s %18s %12s %12s\n", "row", "img/s", "ms/step", "allreduce ms/step",
           "MB per rank", "CPU ms/img");
    for (int i = 0; i < 2; i++) {
        if (!ok[i]) continue;
        char name[64];
        snprintf(name, sizeof name, "%d rank%s x %d thread%s", r[i].ranks,
                 r[i].ranks > 1 ? "s" : "", r[i].threads, r[i].threads > 1 ? "s" : "");
        printf("%-22s %10.1f %10.0f %18.1f %12.0f %12.2f\n", name, r[i].img_s, r[i].step_ms,
               r[i].allreduce_ms, r[i].mb, r[i].cpu_ms);
    }
    if (ok[0] && ok[1])
        printf("%d ranks x 1 thread reach %.0f%% of 1 rank x %d threads (goal >= 90%%); "
               "in CPU time per image %.0f%%\n",
               o->ranks, 100 * r[1].img_s / r[0].img_s, o->ranks, 100 * r[0].cpu_ms / r[1].cpu_ms);
    char up[256] = "";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fgets(up, sizeof up, f)) printf("load average while measuring: %s", up);
    if (f) fclose(f);
    return ok[0] && ok[1] ? 0 : 1;
}

int main(int argc, char **argv) {
    if (sf_mpi_init(&argc, &argv) != SF_OK) {
        fprintf(stderr, "bench_dist: %s\n", sf_last_error());
        return 1;
    }
    bench_opts o = {.ranks = 2, .steps = 5, .width = 64, .size = 144, .batch = 64};
    int row_mode = 0;
    static const struct option opts[] = {
        {"row", no_argument, 0, 'r'},         {"ranks", required_argument, 0, 'n'},
        {"steps", required_argument, 0, 't'}, {"width", required_argument, 0, 'w'},
        {"size", required_argument, 0, 's'},  {"batch", required_argument, 0, 'b'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r': row_mode = 1; break;
        case 'n': o.ranks = atoi(optarg); break;
        case 't': o.steps = atoi(optarg); break;
        case 'w': o.width = atoi(optarg); break;
        case 's': o.size = atoi(optarg); break;
        case 'b': o.batch = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: bench_dist [--row] [--ranks 2] [--steps 5] [--width 64] "
                            "[--size 144] [--batch 64]\n");
            sf_mpi_finalize();
            return c == 'h' ? 0 : 2;
        }
    }
    if (o.ranks < 1 || o.steps < 1 || o.batch < o.ranks) {
        fprintf(stderr, "bench_dist: bad options\n");
        sf_mpi_finalize();
        return 2;
    }
    int rc = row_mode ? run_row(&o) : run_table(&o);
    sf_mpi_finalize();
    return rc;
}
