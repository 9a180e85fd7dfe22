/* cli_merge.c: `sfnet-explore merge`: the runs of shard databases (predict --shard)
 * joined into one run of a run database (store_merge).
 * Layer: cli. Calls: cli_common, store, store_merge, sf_util.
 * Called by: main.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "sf_util.h"
#include "store.h"

static void usage(FILE *out) {
    fprintf(out, "Usage: sfnet-explore merge [--name PREFIX] [-q] OUT.db SHARD.db...\n"
                 "\n"
                 "Joins the runs that `predict --shard I/N --into SHARD.db` wrote, one per\n"
                 "slice of a catalogue, into one run of OUT.db (created when absent), the run\n"
                 "that one `predict --into` over the whole catalogue would have made: the same\n"
                 "galaxies, splits, predictions, activations and thumbnails, with the RMSEs and\n"
                 "every feature's statistics computed from all of them.\n"
                 "\n"
                 "  - The shards must come from the same weights (the same bytes) and settings:\n"
                 "    target, k and width, resize and crop, normalisation, split seed and the\n"
                 "    catalogue the split was drawn over. Anything else is refused, naming the\n"
                 "    shard and the setting that differs.\n"
                 "  - A galaxy (objID) found in several shards is taken once.\n"
                 "  - OUT.db's run of the same weights and settings is extended with the\n"
                 "    galaxies it lacks (shards that arrive later; its labels, notes and marks\n"
                 "    are kept); merging a shard again changes nothing. Without such a run\n"
                 "    a new one is added.\n"
                 "  - One transaction: an error, Ctrl-C or a killed process leaves OUT.db as it\n"
                 "    was; a new OUT.db is written under another name and appears complete.\n"
                 "  - A shard file without a run (a slice with no galaxy) is skipped.\n"
                 "\n"
                 "Options:\n"
                 "  -n, --name PREFIX    the run of OUT.db to extend, or the name of the new run\n"
                 "                       (default: the run of the same weights and settings, or\n"
                 "                       the shards' run name when OUT.db does not use it)\n"
                 "  -q, --quiet          no progress bar\n"
                 "  -h, --help           show this help\n"
                 "\n"
                 "On a Slurm cluster share/slurm/merge.sbatch runs it after the job array of\n"
                 "share/slurm/predict-array.sbatch (sbatch --dependency=afterok:JOBID).\n");
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C kills at once; OUT.db stays as it was */
}

static void unlink_database(const char *path) {
    char side[4200];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

/* tmp becomes path, unless path exists by now. */
static int publish(const char *tmp, const char *path) {
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0) return SF_OK;
    if (errno == EEXIST)
        return sf_fail("%s appeared while the merge ran: the merged run is in %s", path, tmp);
    /* a file system without RENAME_NOREPLACE: a hard link refuses an existing name too */
    if (link(tmp, path) == 0) {
        unlink(tmp);
        return SF_OK;
    }
    if (errno == EEXIST)
        return sf_fail("%s appeared while the merge ran: the merged run is in %s", path, tmp);
    struct stat st;
    if (stat(path, &st) == 0)
        return sf_fail("%s appeared while the merge ran: the merged run is in %s", path, tmp);
    if (rename(tmp, path) != 0)
        return sf_fail("%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
    return SF_OK;
}

int cli_merge(int argc, char **argv) {
    static const struct option opts[] = {
        {"name", required_argument, NULL, 'n'},
        {"quiet", no_argument, NULL, 'q'},
        CLI_OPTIONS_END,
    };
    const char *name = NULL;
    int quiet = 0, c, rc;
    cli_db cli = {.usage = usage};
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'n': name = optarg; break;
        case 'q': quiet = 1; break;
        default:
            if ((rc = cli_option_common(&cli, c)) != CLI_CONTINUE) return rc;
        }
    }
    if (argc - optind < 2) {
        fprintf(stderr, "sfnet-explore: merge needs OUT.db and at least one SHARD.db\n");
        return cli_usage_error(&cli);
    }
    if (quiet) sf_progress_quiet = 1;
    const char *out_path = argv[optind];
    int n = argc - optind - 1;
    char *const *shard_paths = argv + optind + 1;

    struct stat out_st;
    int out_exists = stat(out_path, &out_st) == 0;
    store **shards = xcalloc((size_t)n, sizeof *shards);
    rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        struct stat st;
        if (out_exists && stat(shard_paths[i], &st) == 0 && st.st_dev == out_st.st_dev &&
            st.st_ino == out_st.st_ino) {
            sf_warn("%s is both the database to merge into and a shard", shard_paths[i]);
            rc = 2;
        } else if (store_open(&shards[i], shard_paths[i], STORE_READ) != SF_OK) {
            sf_warn("%s", sf_last_error());
            rc = 1;
        }
    }

    /* a new OUT.db is made under another name and renamed when complete */
    char tmp[4200] = "";
    const char *write_path = out_path;
    if (rc == 0 && !out_exists) {
        snprintf(tmp, sizeof tmp, "%s.merging-%ld", out_path, (long)getpid());
        write_path = tmp;
    }
    store *out = NULL;
    if (rc == 0 && store_open(&out, write_path, out_exists ? STORE_WRITE : STORE_CREATE) != SF_OK) {
        sf_warn("%s", sf_last_error());
        rc = 1;
    }
    if (rc == 0) {
        /* another merge or predict may be writing into OUT.db: wait for it */
        const char *env = getenv("SFNET_BUSY_TIMEOUT_MS");
        if (!env || !*env) store_set_busy_timeout(out, 600000);
        struct sigaction sa, old_sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        interrupted = 0;
        sigaction(SIGINT, &sa, &old_sa);
        store_merge_options opt = {.name = name, .stop = &interrupted, .quiet = quiet};
        store_merge_result res;
        int merged = store_merge(out, shards, n, &opt, &res);
        sigaction(SIGINT, &old_sa, NULL);
        if (merged != SF_OK) {
            if (interrupted) sf_warn("interrupted: %s is unchanged", out_path);
            else sf_warn("%s; %s is unchanged", sf_last_error(), out_path);
            rc = interrupted ? 130 : 1;
        }
        store_run run;
        memset(&run, 0, sizeof run);
        if (rc == 0 && !res.unchanged && store_run_get(out, res.run_id, &run) != SF_OK) {
            sf_warn("%s", sf_last_error());
            rc = 1;
        }
        store_close(out);
        out = NULL;
        if (rc == 0 && tmp[0] && publish(tmp, out_path) != SF_OK) {
            sf_warn("%s", sf_last_error());
            tmp[0] = 0; /* keep the merged file for the user */
            rc = 1;
        }
        if (rc == 0 && res.unchanged) {
            printf("run %s (id %lld) of %s already holds every galaxy of the %d shard%s: "
                   "nothing to merge, %s is unchanged\n",
                   res.prefix, (long long)res.run_id, out_path, n, n > 1 ? "s" : "", out_path);
        } else if (rc == 0) {
            printf("run %s (id %lld) of %s: %d galaxies (%d validation), %d new from %d "
                   "shard%s, validation RMSE %.4f\n",
                   run.prefix, (long long)run.id, out_path, run.n_galaxies, run.n_valid,
                   res.n_added, n - res.n_empty, n - res.n_empty > 1 ? "s" : "", run.valid_rmse);
            if (res.replaced)
                printf("  it extends run %s (id %lld), which it replaces with its labels, notes "
                       "and marks\n",
                       run.prefix, (long long)res.old_run_id);
            if (res.n_duplicates)
                printf("  %d galaxies were already there or in an earlier shard: taken once\n",
                       res.n_duplicates);
            if (res.n_empty)
                printf("  %d shard file%s without a run (empty slices) skipped\n", res.n_empty,
                       res.n_empty > 1 ? "s" : "");
            if (!quiet)
                fprintf(stderr, "sfnet-explore: merged in %.1f s (%.0f galaxies/s)\n", res.seconds,
                        res.seconds > 0 ? res.n_galaxies / res.seconds : 0);
        }
        store_run_clear(&run);
    }
    if (tmp[0] && rc != 0) unlink_database(tmp);
    store_close(out);
    for (int i = 0; i < n; i++) store_close(shards[i]);
    free(shards);
    return rc;
}
