/* cli_sweep.c: `sfnet-explore sweep`: the whole Table 2 experiment, resumable.
 * Layer: cli. Calls: analysis_run, store, sf_util.
 * Called by: main.
 */
#include <errno.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analysis_run.h"
#include "cli.h"
#include "sf_output.h"
#include "sf_util.h"
#include "store.h"

extern char **environ;

static void usage(FILE *out) {
    fprintf(
        out,
        "Usage: sfnet-explore sweep [--ks 2,3,4,6,8] [--seeds 3] [--figure FILE.png] [--no-train]\n"
        "                           RUN.db [-- TRAINING OPTIONS]\n"
        "\n"
        "Table 2 of Wu (2025): SFNets for each k, each trained from scratch with seeds\n"
        "1..N (runs named k<k>s<seed>), against the PCA baseline of one dense run (k = 0,\n"
        "named dense) on the same split. Runs already in RUN.db are not trained again,\n"
        "so an interrupted sweep continues where it stopped. Each missing run is\n"
        "trained by `sfnet-explore --train TRAINING OPTIONS --k K --seed S --name NAME\n"
        "RUN.db` (e.g. -- --catalog galaxies.csv --images DIR --target metallicity\n"
        "--width 16 --crop 64 --epochs 10; no --catalog: the synthetic survey).\n"
        "Prints the table (mean and standard error of the validation RMSE) and draws\n"
        "Figure 4 (RMSE against k, two lines with error bars).\n"
        "\n"
        "Options:\n"
        "  -k, --ks LIST       values of k (default 2,3,4,6,8)\n"
        "  -s, --seeds N       retrainings per k (default 3)\n"
        "  -f, --figure FILE   Figure 4 as PNG (default RUN.db's name + -figure4.png)\n"
        "  -n, --no-train      only print the table of the runs already there\n"
        "  -h, --help          show this help\n");
}

/* Runs this binary with args (NULL-terminated); returns its exit status or -1. */
static int run_self(char **args) {
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) {
        sf_fail("cannot find this program's path: %s", strerror(errno));
        return -1;
    }
    exe[len] = '\0';
    args[0] = exe;
    pid_t pid;
    int err = posix_spawn(&pid, exe, NULL, NULL, args, environ);
    if (err != 0) {
        sf_fail("cannot start %s: %s", exe, strerror(err));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            sf_fail("waiting for the training process: %s", strerror(errno));
            return -1;
        }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    sf_fail("the training process was killed by signal %d",
            WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return -1;
}

/* 1 when the database has a run with that exact name. */
static int has_run(const char *db, const char *name) {
    if (access(db, F_OK) != 0) return 0;
    store *s;
    if (store_open(&s, db, STORE_READ) != SF_OK) return SF_ERR;
    store_run *runs;
    int n, found = 0;
    if (store_runs(s, &runs, &n) != SF_OK) {
        store_close(s);
        return SF_ERR;
    }
    for (int i = 0; i < n; i++) found |= !strcmp(runs[i].prefix, name);
    store_runs_free(runs, n);
    store_close(s);
    return found;
}

static int train_one(const char *db, int k, int seed, int n_extra, char **extra, int index,
                     int total) {
    char name[STORE_PREFIX_MAX], ks[16], ss[16];
    sweep_run_name(name, sizeof name, k, seed);
    int have = has_run(db, name);
    if (have == SF_ERR) return SF_ERR;
    if (have) {
        fprintf(stderr, "sweep: %s is in %s already (%d of %d)\n", name, sf_shown(db), index,
                total);
        return SF_OK;
    }
    snprintf(ks, sizeof ks, "%d", k);
    snprintf(ss, sizeof ss, "%d", seed);
    char **args = xcalloc((size_t)n_extra + 12, sizeof(char *));
    int a = 1;
    args[a++] = "--train";
    for (int i = 0; i < n_extra; i++) args[a++] = extra[i];
    args[a++] = "--k";
    args[a++] = ks;
    args[a++] = "--seed";
    args[a++] = ss;
    args[a++] = "--name";
    args[a++] = name;
    args[a++] = (char *)db;
    args[a] = NULL;
    fprintf(stderr, "sweep: training %s (%d of %d)\n", name, index, total);
    double t0 = sf_now();
    int st = run_self(args);
    free(args);
    if (st != 0) {
        if (st > 0)
            sf_fail("training %s failed (exit status %d); the runs done so far are kept, "
                    "run the sweep again to continue",
                    name, st);
        return SF_ERR;
    }
    fprintf(stderr, "sweep: %s done in %.0f s\n", name, sf_now() - t0);
    return SF_OK;
}

int cli_sweep(int argc, char **argv) {
    static const struct option opts[] = {
        {"ks", required_argument, NULL, 'k'},     {"seeds", required_argument, NULL, 's'},
        {"figure", required_argument, NULL, 'f'}, {"no-train", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *ks_text = "2,3,4,6,8", *figure = NULL;
    int n_seeds = 3, no_train = 0, c;
    char *end;
    optind = 1;
    /* '+': stop at the first non-option, so that "--" hands the rest to training. */
    while ((c = getopt_long(argc, argv, "+k:s:f:nh", opts, NULL)) != -1) {
        switch (c) {
        case 'k': ks_text = optarg; break;
        case 's':
            n_seeds = (int)strtol(optarg, &end, 10);
            if (*end || n_seeds < 1 || n_seeds > SWEEP_MAX_SEEDS) {
                fprintf(stderr, "sfnet-explore: --seeds needs 1..%d, not '%s'\n", SWEEP_MAX_SEEDS,
                        optarg);
                return 2;
            }
            break;
        case 'f': figure = optarg; break;
        case 'n': no_train = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *db = argv[optind++];
    if (figure && sf_output_check(figure) == SF_ERR) {
        sf_warn("--figure: %s", sf_last_error());
        return 1;
    }
    if (optind < argc && !strcmp(argv[optind], "--")) optind++;
    int n_extra = argc - optind;
    char **extra = argv + optind;
    int k[SWEEP_MAX_K], n_k;
    if (analysis_parse_int_list(ks_text, k, SWEEP_MAX_K, 1, 4096, &n_k) != SF_OK) {
        sf_warn("--ks: %s", sf_last_error());
        return 2;
    }
    if (!no_train) {
        int total = n_k * n_seeds + 1, index = 0;
        for (int seed = 1; seed <= n_seeds; seed++)
            for (int i = 0; i < n_k; i++)
                if (train_one(db, k[i], seed, n_extra, extra, ++index, total) != SF_OK) {
                    sf_warn("%s", sf_last_error());
                    return 1;
                }
        if (train_one(db, 0, 1, n_extra, extra, ++index, total) != SF_OK) {
            sf_warn("%s", sf_last_error());
            return 1;
        }
    }
    store *s;
    if (store_open(&s, db, STORE_READ) != SF_OK) {
        sf_warn("%s", sf_last_error());
        return 1;
    }
    sweep_table t;
    int rc = 1;
    if (sweep_collect(&t, s, k, n_k, n_seeds) != SF_OK) {
        sf_warn("%s", sf_last_error());
        goto done;
    }
    sweep_print(stdout, &t);
    char fig[4096];
    if (figure) snprintf(fig, sizeof fig, "%s", figure);
    else snprintf(fig, sizeof fig, "%s-figure4.png", db);
    int any = 0;
    for (int i = 0; i < t.n_k; i++) any |= t.n_runs[i] > 0;
    if (any) {
        if (sweep_figure(fig, &t) != SF_OK) {
            sf_warn("%s", sf_last_error());
            goto done;
        }
        printf("Figure 4 written to %s\n", sf_shown(fig));
    }
    rc = 0;
done:
    store_close(s);
    return rc;
}
