/* bench_nn: training and inference speed of the SFNet, and peak memory, beside PyTorch.
 *
 *   bench_nn [--width 64] [--size 144] [--batch 64] [--k 4] [--n-out 1]
 *            [--train-steps 3] [--infer-steps 3]
 *
 * Runs every row of `rows` below in its own process (so that each peak RSS is its own)
 * and prints a table with the ratio of each row to PyTorch's. A row is a command that
 * prints "ROW <name> <train img/s> <infer img/s> <peak MB>"; to add one, add a line to
 * `rows`. Rows that cannot run here (no PyTorch, an engine not built) are skipped with
 * the reason. `bench_nn --row ENGINE` measures one engine of ours:
 *
 * A training step is zero_grad + forward (train) + loss + backward over a random batch
 * (no optimizer: the network alone, as bench/bench_torch.py measures PyTorch); an
 * inference step is an eval-mode forward. One warm-up step of each is not counted.
 * Exit status 3 (with the reason on stderr) when the engine cannot be built here.
 *
 * A second table runs the oneDNN engine (as it is, with OpenMP's threads spinning as
 * libgomp's default has them, OMP_WAIT_POLICY=active, and with one thread fewer) and
 * PyTorch again while a child process spins on one core, and gives each row as a share
 * of its engine's unloaded rate: how gracefully each degrades on a machine where
 * something else runs. Our rows run as sfnet-explore --train and predict do, with
 * OMP_WAIT_POLICY=passive unless it is set (sf_threads_wait_passively). */
#include <ctype.h>
#include <getopt.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nn.h"
#include "nn_model.h"
#include "sf_threads.h"
#include "sf_util.h"

/* CPU seconds of all threads so far: on a loaded machine, a steadier measure of the
 * work than the wall clock. */
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

/* The rows: %s is replaced by the common options (--size --batch ...). */
static const struct {
    const char *label;
    const char *command;
} rows[] = {
    {"sfnet reference engine", "%E --row reference %s"},
    {"sfnet reference engine, OpenBLAS SkylakeX kernels",
     "OPENBLAS_CORETYPE=SkylakeX %E --row reference %s"},
    {"sfnet onednn engine", "%E --row onednn %s"},
    {"PyTorch", "%P -c 'import torch, torchvision' 2>/dev/null && "
                "MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 "
                "%P bench/bench_torch.py %s"},
    {"sfnet onednn engine bf16", "%E --row onednn --precision bf16 %s"},
    /* only on a CPU with bf16 instructions: elsewhere PyTorch emulates them (minutes a
     * step) and our engine refuses bf16, so there is nothing to compare */
    {"PyTorch bf16", "grep -qw avx512_bf16 /proc/cpuinfo && "
                     "%P -c 'import torch, torchvision' 2>/dev/null && "
                     "MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 "
                     "%P bench/bench_torch.py --bf16 %s"},
};

typedef struct {
    char name[64];
    double train, infer, mem;
} row_result;

/* The loaded machine: the same engine and PyTorch while another process keeps one
 * core busy (a login node where other jobs run), with oneDNN's OpenMP threads waiting
 * passively, or one thread fewer. Each is compared with its own row of the table
 * above. */
static const struct {
    const char *label;
    const char *baseline; /* the ROW name of the unloaded row */
    const char *command;
} busy_rows[] = {
    {"sfnet onednn, 1 core busy", "sfnet-onednn", "%E --row onednn %s"},
    {"sfnet onednn, 1 core busy, OMP_WAIT_POLICY=active", "sfnet-onednn",
     "OMP_WAIT_POLICY=active %E --row onednn %s"},
    {"sfnet onednn, 1 core busy, one thread fewer", "sfnet-onednn",
     "OMP_NUM_THREADS=%T %E --row onednn %s"},
    {"PyTorch, 1 core busy", "pytorch",
     "%P -c 'import torch, torchvision' 2>/dev/null && "
     "MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 %P bench/bench_torch.py %s"},
};

/* Runs one row's command; 1 with its result when it printed a ROW line. */
static int run_row(const char *cmd, row_result *r) {
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, p))
        if (sscanf(line, "ROW %63s %lf %lf %lf", r->name, &r->train, &r->infer, &r->mem) == 4)
            found = 1;
    pclose(p);
    return found;
}

static void append(char *dst, size_t size, const char *src) {
    size_t n = strlen(dst);
    snprintf(dst + n, size - n, "%s", src);
}

/* Expands %E (this program), %P (python), %s (options) and %T (the thread count less
 * one, at least 1) in a row's command. */
static void expand(char *out, size_t size, const char *tmpl, const char *self, const char *python,
                   const char *args) {
    char fewer[16];
    int t1 = omp_get_max_threads() - 1;
    snprintf(fewer, sizeof fewer, "%d", t1 > 0 ? t1 : 1);
    out[0] = 0;
    for (const char *t = tmpl; *t; t++) {
        if (t[0] == '%' && t[1]) {
            const char *sub = t[1] == 'E'   ? self
                              : t[1] == 'P' ? python
                              : t[1] == 's' ? args
                              : t[1] == 'T' ? fewer
                                            : "";
            append(out, size, sub);
            t++;
        } else {
            char c[2] = {*t, 0};
            append(out, size, c);
        }
    }
}

/* A ROW name of the engine named base: base itself, or base-<layout> (PyTorch names its
 * row by its faster memory layout), not the engine's bf16 row. */
static int same_engine(const char *name, const char *base) {
    size_t n = strlen(base);
    if (strncmp(name, base, n)) return 0;
    return name[n] == 0 || (name[n] == '-' && strncmp(name + n + 1, "bf16", 4));
}

static int run_table(const char *self, const char *args) {
    const char *python = getenv("PYTHON");
    if (!python || !*python) python = "/usr/bin/python3";
    int n_rows = (int)(sizeof rows / sizeof *rows), n = 0;
    row_result res[sizeof rows / sizeof *rows];
    double pt_train[2] = {0, 0}, pt_infer[2] = {0, 0}; /* PyTorch fp32, bf16 */
    for (int i = 0; i < n_rows; i++) {
        char cmd[8192];
        expand(cmd, sizeof cmd, rows[i].command, self, python, args);
        fprintf(stderr, "bench_nn: %s ...\n", rows[i].label);
        if (!run_row(cmd, &res[n])) {
            fprintf(stderr, "bench_nn: %s: skipped (not available here)\n", rows[i].label);
            continue;
        }
        if (!strncmp(res[n].name, "pytorch", 7)) {
            int bf16 = strstr(res[n].name, "bf16") != NULL;
            pt_train[bf16] = res[n].train;
            pt_infer[bf16] = res[n].infer;
        }
        n++;
    }
    printf("\nSFNet ResNet18-TopK training and inference (%s)\n", args);
    printf("%-26s %12s %12s %9s %9s %9s\n", "row", "train img/s", "infer img/s", "peak MB",
           "train/pt", "infer/pt");
    for (int i = 0; i < n; i++) {
        printf("%-26s %12.1f %12.1f %9.0f", res[i].name, res[i].train, res[i].infer, res[i].mem);
        int bf16 = strstr(res[i].name, "bf16") != NULL; /* bf16 rows against PyTorch bf16 */
        if (pt_train[bf16] > 0)
            printf(" %9.2f %9.2f", res[i].train / pt_train[bf16], res[i].infer / pt_infer[bf16]);
        printf("\n");
    }
    if (pt_train[0] <= 0) printf("(no PyTorch row: %s cannot import torch)\n", python);

    /* the same with one core kept busy by another process */
    int n_busy = (int)(sizeof busy_rows / sizeof *busy_rows), nb = 0;
    row_result busy[sizeof busy_rows / sizeof *busy_rows];
    int busy_of[sizeof busy_rows / sizeof *busy_rows];
    for (int i = 0; i < n_busy; i++) {
        char cmd[8192];
        expand(cmd, sizeof cmd, busy_rows[i].command, self, python, args);
        fprintf(stderr, "bench_nn: %s ...\n", busy_rows[i].label);
        pid_t hog = fork();
        if (hog == 0) {
            volatile unsigned long spin = 0;
            for (;;) spin++;
        }
        int ok = run_row(cmd, &busy[nb]);
        if (hog > 0) {
            kill(hog, SIGKILL);
            waitpid(hog, NULL, 0);
        }
        if (!ok) {
            fprintf(stderr, "bench_nn: %s: skipped (not available here)\n", busy_rows[i].label);
            continue;
        }
        busy_of[nb++] = i;
    }
    printf("\nThe same with one core kept busy by another process (%d CPUs); share of each "
           "engine's own unloaded rate\n",
           omp_get_num_procs());
    printf("%-52s %12s %12s %9s %9s\n", "row", "train img/s", "infer img/s", "train", "infer");
    for (int j = 0; j < nb; j++) {
        const row_result *b = &busy[j];
        printf("%-52s %12.1f %12.1f", busy_rows[busy_of[j]].label, b->train, b->infer);
        for (int i = 0; i < n; i++)
            if (same_engine(res[i].name, busy_rows[busy_of[j]].baseline))
                printf(" %8.0f%% %8.0f%%", 100 * b->train / res[i].train,
                       100 * b->infer / res[i].infer);
        printf("\n");
    }
    return n > 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    sf_threads_wait_passively(argv); /* as --train and predict run */
    sfnet_config cfg = {.width = 64, .k = 4, .n_out = 1, .in_size = 144};
    int batch = 64, train_steps = 3, infer_steps = 3, table = 1;
    nn_engine_kind kind = NN_ENGINE_REFERENCE;
    static const struct option opts[] = {{"row", required_argument, 0, 'e'},
                                         {"width", required_argument, 0, 'w'},
                                         {"size", required_argument, 0, 's'},
                                         {"batch", required_argument, 0, 'b'},
                                         {"k", required_argument, 0, 'k'},
                                         {"n-out", required_argument, 0, 'n'},
                                         {"train-steps", required_argument, 0, 't'},
                                         {"infer-steps", required_argument, 0, 'i'},
                                         {"precision", required_argument, 0, 'p'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'e':
            table = 0;
            if (!strcmp(optarg, "reference")) kind = NN_ENGINE_REFERENCE;
            else if (!strcmp(optarg, "onednn")) kind = NN_ENGINE_ONEDNN;
            else {
                fprintf(stderr, "bench_nn: unknown engine '%s'\n", optarg);
                return 2;
            }
            break;
        case 'w': cfg.width = atoi(optarg); break;
        case 'p':
            if (strcmp(optarg, "fp32") && strcmp(optarg, "bf16")) {
                fprintf(stderr, "bench_nn: unknown precision '%s' (fp32 or bf16)\n", optarg);
                return 2;
            }
            cfg.precision = strcmp(optarg, "bf16") ? NN_PRECISION_FP32 : NN_PRECISION_BF16;
            break;
        case 's': cfg.in_size = atoi(optarg); break;
        case 'b': batch = atoi(optarg); break;
        case 'k': cfg.k = atoi(optarg); break;
        case 'n': cfg.n_out = atoi(optarg); break;
        case 't': train_steps = atoi(optarg); break;
        case 'i': infer_steps = atoi(optarg); break;
        default:
            fprintf(stderr,
                    "usage: bench_nn [--row reference|onednn] [--precision fp32|bf16] [--width 64] "
                    "[--size 144] "
                    "[--batch 64] [--k 4] [--n-out 1] [--train-steps 3] [--infer-steps 3]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (table) {
        char args[512];
        snprintf(args, sizeof args,
                 "--size %d --batch %d --k %d --n-out %d --train-steps %d --infer-steps %d",
                 cfg.in_size, batch, cfg.k, cfg.n_out, train_steps, infer_steps);
        char w[32], self[4096];
        snprintf(w, sizeof w, " --width %d", cfg.width);
        append(args, sizeof args, w);
        ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
        if (len <= 0) {
            fprintf(stderr, "bench_nn: cannot find its own executable\n");
            return 1;
        }
        self[len] = 0;
        return run_table(self, args);
    }
    sfnet *m = sfnet_create(&cfg, batch, kind);
    if (!m) {
        fprintf(stderr, "bench_nn: %s engine: %s\n", nn_engine_name(kind), sf_last_error());
        return 3;
    }
    sfnet_init(m, 1);
    fprintf(stderr, "bench_nn: %s engine, OpenBLAS %s kernels, width %d, %dx%d, batch %d, k %d\n",
            nn_engine_name(kind), nn_cpu_blas_core(), cfg.width, cfg.in_size, cfg.in_size, batch,
            cfg.k);
    sf_rng rng;
    sf_rng_seed(&rng, 2);
    size_t nx = (size_t)batch * 3 * cfg.in_size * cfg.in_size;
    float *x = xmalloc(sizeof(float) * nx), *y = xmalloc(sizeof(float) * batch * cfg.n_out);
    for (size_t i = 0; i < nx; i++) x[i] = (float)sf_rng_normal(&rng);
    for (int i = 0; i < batch * cfg.n_out; i++) y[i] = (float)sf_rng_normal(&rng);

    double t_train = 0, t_infer = 0;
    for (int s = 0; s <= train_steps; s++) {
        double t0 = sf_now(), c0 = cpu_seconds();
        sfnet_zero_grad(m);
        sfnet_forward(m, x, batch, 1);
        sfnet_loss(m, y, batch, 1);
        if (s > 0) t_train += sf_now() - t0; /* step 0 warms up */
        fprintf(stderr, "bench_nn: %s train step %d/%d %.2f s (CPU %.2f s)\n", nn_engine_name(kind),
                s, train_steps, sf_now() - t0, cpu_seconds() - c0);
    }
    for (int s = 0; s <= infer_steps; s++) {
        double t0 = sf_now(), c0 = cpu_seconds();
        sfnet_forward(m, x, batch, 0);
        if (s > 0) t_infer += sf_now() - t0;
        fprintf(stderr, "bench_nn: %s inference step %d/%d %.2f s (CPU %.2f s)\n",
                nn_engine_name(kind), s, infer_steps, sf_now() - t0, cpu_seconds() - c0);
    }
    char name[64];
    /* the kernels OpenBLAS was told to use, when someone told it */
    char core[24] = "";
    const char *forced = getenv("OPENBLAS_CORETYPE");
    if (kind == NN_ENGINE_REFERENCE && forced && *forced) {
        snprintf(core, sizeof core, "-%s", nn_cpu_blas_core());
        for (char *p = core; *p; p++) *p = (char)tolower((unsigned char)*p);
    }
    snprintf(name, sizeof name, "sfnet-%s%s%s", nn_engine_name(kind), core,
             cfg.precision == NN_PRECISION_BF16 ? "-bf16" : "");
    printf("ROW %s %.1f %.1f %.0f\n", name, train_steps ? batch * train_steps / t_train : 0,
           infer_steps ? batch * infer_steps / t_infer : 0, peak_rss_mb());
    free(x);
    free(y);
    sfnet_free(m);
    return 0;
}
