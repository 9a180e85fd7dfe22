/* test_shard_slurm.c: a survey through a model as a Slurm job array, for real.
 *
 * A single-node Slurm (munged, slurmctld, slurmd from Debian's slurm-wlm and munge)
 * is started in a temporary folder by tests/slurm-cluster.sh. The job array of
 * share/slurm/predict-array.sbatch runs `predict --shard slurm` over 4 shards of a
 * 2,000-galaxy synthetic survey, share/slurm/merge.sbatch joins them after it
 * (--dependency=afterok, submitted with sbatch --wait), and the merged run must be the
 * run of one unsharded `predict --into`: the same galaxies, splits, predictions,
 * activations, thumbnails and feature statistics. A shard of other settings is
 * refused by merge. When Slurm cannot start, the test fails with the reason. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "merge_fixture.h"
#include "nn_model.h"
#include "sf_util.h"
#include "store.h"
#include "synth.h"
#include "train.h"

static char dir[64];
static char cluster[128];
static int cluster_started;

static void stop_cluster(void) {
    if (cluster_started) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "sh tests/slurm-cluster.sh stop '%s' >/dev/null 2>&1", cluster);
        if (system(cmd) != 0) fprintf(stderr, "test_shard_slurm: could not stop %s\n", cluster);
        cluster_started = 0;
    }
    if (dir[0]) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "test_shard_slurm: could not remove %s\n", dir);
        dir[0] = 0;
    }
}

TestSuite(slurm, .fini = stop_cluster, .timeout = 900);

static const char *binary(void) {
    static char path[PATH_MAX];
    const char *env = getenv("SFNET_BIN");
#ifdef __SANITIZE_ADDRESS__
    const char *fallback = "build-san/sfnet-explore";
#else
    const char *fallback = "build/sfnet-explore";
#endif
    if (!realpath(env && *env ? env : fallback, path)) snprintf(path, sizeof path, "%s", fallback);
    return path;
}

static const char *in_dir(const char *name) {
    static char bufs[8][512];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

/* Runs a shell command; its output goes to log (appended). Its exit status. */
static int shell(const char *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int shell(const char *log, const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    cr_assert_lt(n, (int)sizeof cmd);
    char full[9000];
    snprintf(full, sizeof full, "( %s ) >>'%s' 2>&1", cmd, log);
    int rc = system(full);
    return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

static char *read_text(const char *path) {
    char *text = NULL;
    size_t len;
    if (sf_read_file(path, &text, &len) != SF_OK) return strdup("(no output)");
    return text;
}

/* Every file of the job's outputs, for the failure message. */
static char *job_outputs(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "tail -n 20 '%s'/sfnet-*.out > '%s' 2>&1", dir,
             in_dir("outputs.txt"));
    if (system(cmd) != 0) { /* no outputs at all: the text says so */
    }
    return read_text(in_dir("outputs.txt"));
}

/* A random model (width 4, k 4, 32 x 32 input) as a weights file: the test compares
 * one model run two ways, so trained weights are not needed. */
static void write_weights(const char *path) {
    sfnet_config cfg = {.width = 4, .k = 4, .n_out = 1, .in_size = 32};
    sfnet *m = sfnet_create(&cfg, 16, NN_ENGINE_REFERENCE);
    cr_assert_not_null(m, "%s", sf_last_error());
    sfnet_init(m, 17);
    weights_meta wm;
    weights_meta_from(&wm, m, NULL, 32);
    wm.resize = 32;
    wm.crop = 32;
    wm.has_norm = 1;
    for (int c = 0; c < 3; c++) {
        wm.mean[c] = 0.1f * (float)(c + 1);
        wm.std[c] = 0.2f;
    }
    wm.n_targets = 1;
    snprintf(wm.targets[0], sizeof wm.targets[0], "oh_p50");
    cr_assert_eq(weights_save(m, &wm, path), SF_OK, "%s", sf_last_error());
    sfnet_free(m);
}

static int64_t only_run(const char *path) {
    store *s;
    cr_assert_eq(store_open(&s, path, STORE_READ), SF_OK, "%s", sf_last_error());
    store_run r;
    cr_assert_eq(store_run_find(s, NULL, &r), SF_OK, "%s", sf_last_error());
    int64_t id = r.id;
    store_run_clear(&r);
    store_close(s);
    return id;
}

Test(slurm, a_job_array_of_shards_merges_into_the_run_of_one_predict) {
    snprintf(dir, sizeof dir, "/tmp/sfnet-slurm-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    const char *bin = binary();
    cr_assert_eq(access(bin, X_OK), 0, "no sfnet-explore binary at %s (set SFNET_BIN)", bin);
    char scripts[PATH_MAX];
    cr_assert_not_null(realpath("share/slurm", scripts),
                       "share/slurm not found: the tests run from the source tree");
    char log[600];
    snprintf(log, sizeof log, "%s", in_dir("log.txt"));

    /* the survey, the model, and the reference: one predict over everything */
    synth_options so = {.n = 2000, .seed = 41, .size = 32, .threads = 0, .quiet = 1};
    cr_assert_eq(synth_survey(in_dir("survey"), &so), SF_OK, "%s", sf_last_error());
    write_weights(in_dir("model.safetensors"));
    char args[2048];
    snprintf(args, sizeof args, "--weights '%s' --catalog '%s' --images '%s' --batch 32",
             in_dir("model.safetensors"), in_dir("survey/galaxies.csv"), in_dir("survey/images"));
    cr_assert_eq(shell(log, "'%s' predict %s --into '%s' -q", bin, args, in_dir("single.db")), 0,
                 "the unsharded predict failed:\n%s", read_text(log));

    /* the cluster */
    snprintf(cluster, sizeof cluster, "%s", in_dir("slurm"));
    cr_assert_eq(mkdir(cluster, 0755), 0);
    int started = shell(in_dir("cluster.txt"), "sh tests/slurm-cluster.sh start '%s' %ld", cluster,
                        (long)getpid()); /* a watchdog stops it should this process die */
    cluster_started = 1;                 /* stop whatever did start */
    cr_assert_eq(started, 0, "Slurm could not start here, so the job array cannot be tested:\n%s",
                 read_text(in_dir("cluster.txt")));

    /* the array, then the merge after it; sbatch --wait returns when the merge ends */
    char env[PATH_MAX + 1024];
    snprintf(env, sizeof env, ". '%s/env' && export SFNET_EXPLORE='%s' && cd '%s'", cluster, bin,
             dir);
    cr_assert_eq(shell(in_dir("jobid.txt"),
                       "%s && sbatch --parsable --array=0-3 '%s/predict-array.sbatch' "
                       "'%s' %s",
                       env, scripts, in_dir("shards"), args),
                 0, "sbatch of the array failed:\n%s", read_text(in_dir("jobid.txt")));
    char *jobid = read_text(in_dir("jobid.txt"));
    jobid[strcspn(jobid, ";\n")] = 0;
    cr_assert(jobid[0] >= '0' && jobid[0] <= '9', "no job id from sbatch: %s", jobid);
    int merged = shell(
        log, "%s && timeout 800 sbatch --wait --dependency=afterok:%s '%s/merge.sbatch' '%s' '%s'",
        env, jobid, scripts, in_dir("merged.db"), in_dir("shards"));
    cr_assert_eq(merged, 0, "the merge job failed (exit %d):\n%s\njob outputs:\n%s", merged,
                 read_text(log), job_outputs());
    free(jobid);
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "shards/shard-%d.db", i);
        cr_assert_eq(access(in_dir(name), R_OK), 0, "%s missing:\n%s", name, job_outputs());
    }

    /* the merged run is the unsharded run */
    int64_t single = only_run(in_dir("single.db")), run = only_run(in_dir("merged.db"));
    assert_same_run(in_dir("merged.db"), run, in_dir("single.db"), single);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(in_dir("merged.db"), &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    double n = sql1(db, "SELECT n_galaxies FROM runs");
    cr_assert_gt(n, 1000, "the survey's galaxies that pass the metallicity cuts");
    sqlite3_close(db);

    /* a shard of another split seed is refused beside the others, naming it and the
     * setting (alone it would be a run of its own) */
    char seed7[600];
    snprintf(seed7, sizeof seed7, "%s", in_dir("seed7.db"));
    /* (its weights from the unsharded run's database: the same bytes) */
    cr_assert_eq(shell(log,
                       "'%s' predict --from-run '%s:' --catalog '%s' --images '%s' "
                       "--shard 1/4 --split-seed 7 --into '%s' -q",
                       bin, in_dir("single.db"), in_dir("survey/galaxies.csv"),
                       in_dir("survey/images"), seed7),
                 0, "%s", read_text(log));
    uint64_t before = digest(in_dir("merged.db"));
    cr_assert_eq(shell(in_dir("refused.txt"), "'%s' merge -q '%s' '%s' '%s'", bin,
                       in_dir("merged.db"), in_dir("shards/shard-0.db"), seed7),
                 1, "%s", read_text(in_dir("refused.txt")));
    char *msg = read_text(in_dir("refused.txt"));
    cr_assert(strstr(msg, seed7) && strstr(msg, "split seed"), "%s", msg);
    free(msg);
    cr_assert_eq(digest(in_dir("merged.db")), before);
    /* and a shard merged again changes nothing */
    cr_assert_eq(shell(log, "'%s' merge -q '%s' '%s'", bin, in_dir("merged.db"),
                       in_dir("shards/shard-2.db")),
                 0, "%s", read_text(log));
    cr_assert_eq(digest(in_dir("merged.db")), before);
}
