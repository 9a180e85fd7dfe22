/* Tests of data-parallel training over MPI (train_dist.c, sf_mpi.c and --train under
 * mpirun): every MPI job is started for real with
 *   mpirun --allow-run-as-root --oversubscribe -np 2
 * and compared with the same work done by this one process. A test whose MPI job
 * cannot start fails saying why. The ranks run tests/mpi_train_helper (built beside
 * the tests) or the sfnet-explore binary ($SFNET_BIN) on the real galaxies of
 * ../shared/data/sdss-metallicity-400 (or $SFNET_SHARED_DATA).
 *
 * Under AddressSanitizer the ranks get tests/lsan-mpi.supp, which silences the leak
 * reports of Open MPI's own libraries (and only theirs), and the slow unwinder that
 * lets LeakSanitizer see those libraries in the stacks at all. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data_fixture.h"
#include "mpi_helper_setup.h"
#include "safetensors.h"
#include "sf_util.h"
#include "train.h"
#include "train_dist.h"

static char data_dir[512];

static void setup(void) {
    fx_make_dir();
    sf_progress_quiet = 1;
    /* as each rank runs: one thread, the kernels the ranks use */
    omp_set_num_threads(1);
}

TestSuite(train_dist, .init = setup, .fini = fx_remove_dir, .timeout = 900);

static const char *build_dir(void) {
    const char *b = getenv("BUILD");
    return b && *b ? b : "build";
}

static const char *bin(void) {
    static char path[PATH_MAX];
    const char *b = getenv("SFNET_BIN");
    snprintf(path, sizeof path, "%s", b && *b ? b : "build/sfnet-explore");
    if (access(path, X_OK) != 0) cr_assert_fail("no sfnet-explore binary at %s (make first)", path);
    return path;
}

/* The environment every rank gets: one OpenMP thread each (two ranks share the two
 * cores), and under ASan the leak suppressions of Open MPI's libraries. */
static const char *mpirun_prefix(int np) {
    static char cmd[PATH_MAX + 2048];
    char supp[PATH_MAX];
    if (!realpath("tests/lsan-mpi.supp", supp))
        cr_assert_fail("tests/lsan-mpi.supp not found (the tests run from the repository root)");
    const char *asan = getenv("ASAN_OPTIONS");
    if (access("/usr/bin/mpirun", X_OK) != 0 && system("command -v mpirun >/dev/null 2>&1") != 0)
        cr_assert_fail("mpirun not found: install openmpi-bin (make deps)");
    snprintf(cmd, sizeof cmd,
             "OMP_NUM_THREADS=1 ASAN_OPTIONS='%s%sfast_unwind_on_malloc=0' "
             "LSAN_OPTIONS='suppressions=%s' "
             "mpirun --allow-run-as-root --oversubscribe -np %d "
             "-x OMP_NUM_THREADS -x ASAN_OPTIONS -x LSAN_OPTIONS",
             asan && *asan ? asan : "", asan && *asan ? ":" : "", supp, np);
    return cmd;
}

/* Runs a shell command, its output (stdout and stderr) into log; the exit status. */
static int run_logged(const char *cmd, const char *log) {
    char full[8192];
    snprintf(full, sizeof full, "(%s) >'%s' 2>&1", cmd, log);
    int st = system(full);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static char *slurp(const char *path) {
    char *d = NULL;
    size_t n;
    if (sf_read_file(path, &d, &n) != SF_OK) return xstrdup("");
    return d;
}

/* ---- the averaged gradient ----------------------------------------------------- */

/* One process computes the gradient of each half of the global batch (the function
 * train_run calls, as a world of one given each half), and their mean. */
static float *mean_of_halves(const dataset *ds, nn_engine_kind engine, float *loss) {
    train_dist half;
    cr_assert_eq(train_dist_begin(&half, HELPER_BATCH / 2), SF_OK);
    sfnet *m = helper_model(HELPER_BATCH / 2, engine);
    cr_assert_not_null(m);
    int batch[HELPER_BATCH];
    sf_rng flips;
    helper_batch(ds, batch, &flips);
    float *x = xmalloc_aligned((size_t)HELPER_BATCH / 2 * 3 * ds->size * ds->size * sizeof(float));
    float y[HELPER_BATCH];
    float *mean = xcalloc(m->n_params, sizeof(float));
    double sq = 0;
    for (int h = 0; h < 2; h++) {
        /* the second half is images 16..31 of the batch, flips drawn after the first's */
        half.batch = HELPER_BATCH;
        half.first = h * HELPER_BATCH / 2;
        half.local = HELPER_BATCH / 2;
        float l;
        cr_assert_eq(train_dist_gradient(&half, m, ds, batch, &flips, x, y, &l), SF_OK, "%s",
                     sf_last_error());
        sq += (double)l * l;
        for (size_t i = 0; i < m->n_params; i++) mean[i] += m->grads[i];
    }
    for (size_t i = 0; i < m->n_params; i++) mean[i] *= 0.5f;
    *loss = (float)sqrt(sq / 2);
    free(x);
    sfnet_free(m);
    return mean;
}

static void check_gradient(nn_engine_kind engine) {
    FX_SKIP_WITHOUT_SHARED(data_dir);
    const char *out = fx_path("grad.bin"), *log = fx_path("grad.log");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s/tests/mpi_train_helper grad '%s' '%s' %s", mpirun_prefix(2),
             build_dir(), out, data_dir, nn_engine_name(engine));
    int rc = run_logged(cmd, log);
    char *text = slurp(log);
    cr_assert_eq(rc, 0, "the 2-rank job failed (exit %d):\n%s", rc, text);
    free(text);

    dataset ds;
    cr_assert_eq(helper_open_data(&ds, data_dir), SF_OK, "%s", sf_last_error());
    float loss1;
    float *want = mean_of_halves(&ds, engine, &loss1);
    sfnet *shape = helper_model(1, engine);
    size_t n = shape->n_params;
    sfnet_free(shape);
    uint8_t *got_bytes;
    size_t len = fx_read_bytes(out, &got_bytes);
    cr_assert_eq(len, (1 + n) * sizeof(float), "grad.bin has %zu bytes", len);
    float loss2;
    memcpy(&loss2, got_bytes, sizeof loss2);
    const float *got = (const float *)(got_bytes + sizeof(float));
    double diff = 0, norm = 0, worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - want[i];
        diff += d * d;
        norm += (double)want[i] * want[i];
        if (fabs(d) > worst) worst = fabs(d);
    }
    double rel = sqrt(diff / norm);
    cr_log_info("%s: 2-rank gradient vs mean of the halves: relative L2 %.3g, max abs %.3g",
                nn_engine_name(engine), rel, worst);
    cr_assert_lt(rel, 1e-6, "%s: relative difference %.3g", nn_engine_name(engine), rel);
    cr_assert_float_eq(loss2, loss1, 1e-6 * loss1, "global loss %g vs %g", loss2, loss1);
    free(got_bytes);
    free(want);
    dataset_close(&ds);
}

Test(train_dist, averaged_gradient_is_the_mean_of_the_half_batches_onednn) {
    check_gradient(NN_ENGINE_ONEDNN);
}

Test(train_dist, averaged_gradient_is_the_mean_of_the_half_batches_reference) {
    check_gradient(NN_ENGINE_REFERENCE);
}

/* ---- identical weights ----------------------------------------------------------- */

Test(train_dist, twenty_steps_leave_every_rank_with_the_same_weights) {
    FX_SKIP_WITHOUT_SHARED(data_dir);
    const char *out = fx_path("valid.txt"), *log = fx_path("train.log");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s/tests/mpi_train_helper train '%s' '%s' 2 11", mpirun_prefix(2),
             build_dir(), out, data_dir);
    int rc = run_logged(cmd, log);
    char *text = slurp(log);
    cr_assert_eq(rc, 0, "the 2-rank job failed (exit %d):\n%s", rc, text);
    unsigned long long sum[2] = {0, 0};
    int seen = 0;
    for (const char *p = text; (p = strstr(p, "checksum ")); p++) {
        int r;
        unsigned long long h;
        if (sscanf(p, "checksum %d %llx", &r, &h) == 2 && r >= 0 && r < 2) {
            sum[r] = h;
            seen |= 1 << r;
        }
    }
    cr_assert_eq(seen, 3, "not every rank printed its checksum:\n%s", text);
    cr_assert_eq(sum[0], sum[1], "rank 0 %016llx, rank 1 %016llx", sum[0], sum[1]);
    cr_assert_null(strstr(text, "differ"), "the ranks had to be resynchronised:\n%s", text);
    free(text);
    char *valid = slurp(out);
    double v1, v2;
    cr_assert_eq(sscanf(valid, "%lf %lf", &v1, &v2), 2, "valid.txt: '%s'", valid);
    cr_assert(isfinite(v1) && isfinite(v2));
    free(valid);
}

/* ---- as well as one process ------------------------------------------------------ */

/* The final validation RMSE of train_run in this process from seed (as the helper's
 * train mode: the same model, data and options). */
static double one_process_rmse(const dataset *ds, int epochs, uint64_t seed) {
    sfnet *m = helper_model_seeded(HELPER_BATCH, NN_ENGINE_ONEDNN, seed + 100);
    cr_assert_not_null(m);
    train_head_bias_to_mean(m, ds);
    train_options o;
    helper_train_options(&o, epochs, seed);
    train_result r;
    cr_assert_eq(train_run(m, ds, &o, &r), SF_OK, "%s", sf_last_error());
    double v = r.final_valid_rmse;
    train_result_free(&r);
    sfnet_free(m);
    return v;
}

Test(train_dist, two_ranks_train_as_well_as_one_process) {
    FX_SKIP_WITHOUT_SHARED(data_dir);
    const int epochs = 5;
    dataset ds;
    cr_assert_eq(helper_open_data(&ds, data_dir), SF_OK, "%s", sf_last_error());
    double one[3], lo = INFINITY, hi = -INFINITY;
    for (int s = 0; s < 3; s++) {
        one[s] = one_process_rmse(&ds, epochs, (uint64_t)s);
        lo = fmin(lo, one[s]);
        hi = fmax(hi, one[s]);
    }
    dataset_close(&ds);
    const char *out = fx_path("valid.txt"), *log = fx_path("spread.log");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s/tests/mpi_train_helper train '%s' '%s' %d 0", mpirun_prefix(2),
             build_dir(), out, data_dir, epochs);
    int rc = run_logged(cmd, log);
    char *text = slurp(log);
    cr_assert_eq(rc, 0, "the 2-rank job failed (exit %d):\n%s", rc, text);
    free(text);
    char *valid = slurp(out);
    double two = NAN;
    for (char *p = valid; *p;) {
        char *end;
        double v = strtod(p, &end);
        if (end == p) break;
        two = v;
        p = end;
    }
    free(valid);
    /* Three seeds sample the spread coarsely (a fourth run of one process falls
     * outside their range half the time): the 2-rank run must lie within it widened
     * by half its width on each side. */
    double margin = (hi - lo) / 2;
    cr_log_info("validation RMSE, %d epochs: one process %.4f %.4f %.4f, two ranks %.4f", epochs,
                one[0], one[1], one[2], two);
    cr_assert(two >= lo - margin && two <= hi + margin,
              "two ranks: %.4f, one process: %.4f %.4f %.4f", two, one[0], one[1], one[2]);
}

/* ---- --train under mpirun ------------------------------------------------------ */

/* The options of a small --train on the shared galaxies (width 8, 32x32). */
static const char *small_train(int epochs, int batch) {
    static char opts[3][2400];
    static int k;
    char *o = opts[k++ % 3];
    snprintf(o, sizeof opts[0],
             "--train --catalog '%s/galaxies.csv' --images '%s/images' --width 8 --resize 36 "
             "--crop 32 --epochs %d --batch %d --lr 0.01 -q",
             data_dir, data_dir, epochs, batch);
    return o;
}

Test(train_dist, a_batch_the_ranks_do_not_divide_is_refused) {
    FX_SKIP_WITHOUT_SHARED(data_dir);
    char cmd[8192];
    const char *log = fx_path("batch.log");
    snprintf(cmd, sizeof cmd, "%s '%s' %s '%s'", mpirun_prefix(2), bin(), small_train(1, 33),
             fx_path("run.db"));
    int rc = run_logged(cmd, log);
    char *text = slurp(log);
    cr_assert_neq(rc, 0);
    cr_assert(strstr(text, "--batch 33 is the global batch") && strstr(text, "multiple of 2"), "%s",
              text);
    cr_assert_neq(access(fx_path("run.db"), F_OK), 0, "nothing is created");
    free(text);
}

/* A folder of symbolic links to every image of the shared galaxies but the one of
 * galaxy `id`, which is absent, or a file of garbage under its name when corrupt. */
static void images_without(const char *dir, const char *id, int corrupt) {
    char rel[1200], src[PATH_MAX];
    snprintf(rel, sizeof rel, "%s/images", data_dir);
    cr_assert_not_null(realpath(rel, src), "%s: %s", rel, strerror(errno));
    cr_assert_eq(mkdir(dir, 0755), 0);
    DIR *d = opendir(src);
    cr_assert_not_null(d);
    struct dirent *e;
    int n = 0, dropped = 0;
    size_t idlen = strlen(id);
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (!strncmp(e->d_name, id, idlen) && e->d_name[idlen] == '.') {
            dropped++;
            if (corrupt) {
                char bad[1800];
                snprintf(bad, sizeof bad, "%s/%s", dir, e->d_name);
                fx_write_text(bad, "not a JPEG at all");
            }
            continue;
        }
        char from[PATH_MAX + 300], to[1800];
        snprintf(from, sizeof from, "%s/%s", src, e->d_name);
        snprintf(to, sizeof to, "%s/%s", dir, e->d_name);
        cr_assert_eq(symlink(from, to), 0, "%s: %s", to, strerror(errno));
        n++;
    }
    closedir(d);
    cr_assert_gt(n, 10);
    cr_assert_eq(dropped, 1, "galaxy %s has %d images", id, dropped);
}

/* Rank 0 reads the shared images, rank 1 a folder where galaxy 0's image is missing
 * or corrupt: the job fails, rank 1 naming that image, and RUN.db holds no run. */
static void run_with_holey_rank(int corrupt) {
    FX_SKIP_WITHOUT_SHARED(data_dir);
    dataset ds;
    cr_assert_eq(helper_open_data(&ds, data_dir), SF_OK, "%s", sf_last_error());
    char id[512];
    snprintf(id, sizeof id, "%s", dataset_obj_id(&ds, 0));
    dataset_close(&ds);
    const char *holey = fx_path(corrupt ? "corrupt" : "holey");
    images_without(holey, id, corrupt);
    char cmd[8192], opts1[2048];
    snprintf(opts1, sizeof opts1,
             "--train --catalog '%s/galaxies.csv' --images '%s' --width 8 --resize 36 "
             "--crop 32 --epochs 1 --batch 32 -q",
             data_dir, holey);
    const char *log = fx_path("holey.log"), *db = fx_path(corrupt ? "c.db" : "h.db");
    snprintf(cmd, sizeof cmd, "%s '%s' %s '%s' : -np 1 '%s' %s '%s'", mpirun_prefix(1), bin(),
             small_train(1, 32), db, bin(), opts1, db);
    int rc = run_logged(cmd, log);
    char *text = slurp(log);
    cr_assert_neq(rc, 0, "the job went on:\n%s", text);
    cr_assert(strstr(text, "rank 1 of 2"), "the failing rank says who it is:\n%s", text);
    cr_assert(strstr(text, id), "the message names the galaxy %s:\n%s", id, text);
    if (corrupt) cr_assert(strstr(text, "cannot read") && strstr(text, holey), "%s", text);
    else cr_assert(strstr(text, "finds no image") && strstr(text, "which rank 0 read"), "%s", text);
    free(text);
    /* RUN.db, which rank 0 created for this job, is removed again: nothing was stored */
    cr_assert_neq(access(db, F_OK), 0, "%s was left behind by a job that stored nothing", db);
}

Test(train_dist, a_rank_that_lacks_an_image_fails_the_job_naming_it) { run_with_holey_rank(0); }

Test(train_dist, a_rank_that_cannot_decode_an_image_fails_the_job_naming_it) {
    run_with_holey_rank(1);
}

/* ---- failures: a killed rank, Ctrl-C, resume ------------------------------------ */

static pid_t job_pid = -1;

/* Starts cmd in the background (its own process group), output into log. */
static pid_t spawn_logged(const char *cmd, const char *log) {
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        setpgid(0, 0);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    job_pid = pid;
    return pid;
}

/* The ranks: the children of mpirun, by rank (-1 where not found). */
static void find_ranks(pid_t mpirun, pid_t *rank_pid, int n) {
    for (int r = 0; r < n; r++) rank_pid[r] = -1;
    char path[128];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)mpirun, (int)mpirun);
    char *kids = slurp(path);
    for (char *p = kids; *p;) {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p) break;
        p = end;
        snprintf(path, sizeof path, "/proc/%ld/environ", pid);
        char *env;
        size_t len;
        if (sf_read_file(path, &env, &len) != SF_OK) continue;
        for (size_t i = 0; i < len; i += strlen(env + i) + 1) {
            int r;
            if (sscanf(env + i, "OMPI_COMM_WORLD_RANK=%d", &r) == 1 && r >= 0 && r < n)
                rank_pid[r] = (pid_t)pid;
        }
        free(env);
    }
    free(kids);
}

/* Waits (up to timeout s) until mpirun's ranks are up; fails the test otherwise. */
static void wait_ranks(pid_t mpirun, pid_t *rank_pid, int n, double timeout) {
    double t0 = sf_now();
    for (;;) {
        find_ranks(mpirun, rank_pid, n);
        int all = 1;
        for (int r = 0; r < n; r++) all &= rank_pid[r] > 0;
        if (all) return;
        cr_assert_lt(sf_now() - t0, timeout, "mpirun did not start %d ranks in %.0f s", n, timeout);
        usleep(20000);
    }
}

/* Waits up to timeout s for pid to end: its exit status (128+signal when killed), or
 * -1 when it is still running. */
static int wait_exit(pid_t pid, double timeout) {
    double t0 = sf_now();
    for (;;) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            job_pid = -1;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        if (sf_now() - t0 > timeout) return -1;
        usleep(20000);
    }
}

static int alive(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char *st = slurp(path);
    char *paren = strrchr(st, ')');
    int running = paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
    free(st);
    return running;
}

/* Waits until text appears in the file (up to timeout s). */
static void wait_for_text(const char *path, const char *text, double timeout) {
    double t0 = sf_now();
    for (;;) {
        char *s = slurp(path);
        int found = strstr(s, text) != NULL;
        if (found || sf_now() - t0 > timeout) {
            cr_assert(found, "'%s' did not appear in %.0f s:\n%s", text, timeout, s);
            free(s);
            return;
        }
        free(s);
        usleep(50000);
    }
}

/* The runs of a database (their prefixes, comma-separated), after checking that the
 * file passes PRAGMA integrity_check. */
static void runs_of(const char *path, char *out, size_t n) {
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT prefix FROM runs ORDER BY id", -1, &st, NULL),
                 SQLITE_OK);
    out[0] = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t used = strlen(out);
        snprintf(out + used, n - used, "%s%s", used ? "," : "", sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static long checkpoint_epoch(const char *path) {
    st_file f;
    cr_assert_eq(st_open(&f, path), SF_OK, "%s", sf_last_error());
    const char *e = st_meta(&f, "epoch");
    long v = e ? strtol(e, NULL, 10) : -1;
    st_close(&f);
    return v;
}

static void kill_job(void) {
    if (job_pid > 0) {
        pid_t ranks[2];
        find_ranks(job_pid, ranks, 2);
        for (int r = 0; r < 2; r++)
            if (ranks[r] > 0) kill(ranks[r], SIGKILL);
        kill(job_pid, SIGKILL);
        waitpid(job_pid, NULL, 0);
        job_pid = -1;
    }
}

Test(train_dist, a_killed_or_interrupted_job_leaves_the_database_and_resumes, .fini = kill_job) {
    FX_SKIP_WITHOUT_SHARED(data_dir);
    const char *db = fx_path("run.db"), *ckpt = fx_path("run.db.ckpt");
    char before[256], after[256], cmd[8192], train_b[2400];
    const char *log = fx_path("job.log");
    /* a database with one run */
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 '%s' %s --name A '%s'", bin(), small_train(1, 32),
             db);
    cr_assert_eq(run_logged(cmd, log), 0, "%s", slurp(log));
    runs_of(db, before, sizeof before);
    cr_assert_str_eq(before, "A");
    /* run B: 3 epochs of 40 steps, slow enough to be caught in the middle */
    snprintf(train_b, sizeof train_b,
             "--train --catalog '%s/galaxies.csv' --images '%s/images' --width 16 --resize 72 "
             "--crop 64 --epochs 3 --batch 8 --lr 0.01 --name B",
             data_dir, data_dir);

    /* 1. SIGKILL of rank 1 in the middle of epoch 2 */
    snprintf(cmd, sizeof cmd, "exec env %s '%s' %s '%s'", mpirun_prefix(2), bin(), train_b, db);
    pid_t job = spawn_logged(cmd, log);
    pid_t ranks[2];
    wait_ranks(job, ranks, 2, 60);
    double t0 = sf_now();
    while (access(ckpt, F_OK) != 0) {
        cr_assert(alive(ranks[0]) && alive(ranks[1]), "a rank ended early:\n%s", slurp(log));
        cr_assert_lt(sf_now() - t0, 600, "no checkpoint after 600 s:\n%s", slurp(log));
        usleep(20000);
    }
    double t_kill = sf_now();
    cr_assert_eq(kill(ranks[1], SIGKILL), 0);
    int rc = wait_exit(job, 10);
    double took = sf_now() - t_kill;
    cr_assert_neq(rc, -1, "mpirun still runs 10 s after rank 1 was killed");
    cr_assert_neq(rc, 0, "the job exited 0 after a rank was killed");
    for (int w = 0; alive(ranks[0]) && w < 100; w++) usleep(20000);
    cr_assert(!alive(ranks[0]), "rank 0 still runs");
    cr_log_info("SIGKILL of rank 1: the job ended in %.2f s with status %d", took, rc);
    runs_of(db, after, sizeof after);
    cr_assert_str_eq(after, before, "runs after the kill: %s", after);
    long e = checkpoint_epoch(ckpt);
    cr_assert(e >= 1 && e < 3, "the checkpoint is at epoch %ld", e);

    /* 2. the same number of ranks resumes; Ctrl-C of rank 1 stops both after a step,
     * with a checkpoint there */
    snprintf(cmd, sizeof cmd, "exec env %s '%s' %s --resume '%s'", mpirun_prefix(2), bin(), train_b,
             db);
    job = spawn_logged(cmd, log);
    wait_ranks(job, ranks, 2, 60);
    wait_for_text(log, "resuming at epoch", 300);
    usleep(500000);
    cr_assert_eq(kill(ranks[1], SIGINT), 0);
    rc = wait_exit(job, 120);
    char *text = slurp(log);
    cr_assert_neq(rc, -1, "the job did not stop after Ctrl-C of rank 1:\n%s", text);
    cr_assert_neq(rc, 0, "%s", text);
    cr_assert(strstr(text, "stopped at epoch") || strstr(text, "stopped after epoch"),
              "rank 0 says where it stopped:\n%s", text);
    free(text);
    runs_of(db, after, sizeof after);
    cr_assert_str_eq(after, before);

    /* 3. Ctrl-C of mpirun ends every rank within seconds */
    job = spawn_logged(cmd, log);
    wait_ranks(job, ranks, 2, 60);
    wait_for_text(log, "resuming at epoch", 300);
    t_kill = sf_now();
    cr_assert_eq(kill(job, SIGINT), 0);
    rc = wait_exit(job, 10);
    cr_assert_neq(rc, -1, "mpirun still runs 10 s after Ctrl-C");
    cr_assert_neq(rc, 0);
    for (int w = 0; (alive(ranks[0]) || alive(ranks[1])) && w < 100; w++) usleep(20000);
    cr_assert(!alive(ranks[0]) && !alive(ranks[1]), "a rank outlived mpirun");
    cr_log_info("Ctrl-C of mpirun: the job ended in %.2f s", sf_now() - t_kill);
    runs_of(db, after, sizeof after);
    cr_assert_str_eq(after, before);

    /* 4. a rank that hangs (stopped): the other gives up after SFNET_MPI_TIMEOUT
     * seconds and ends the job */
    snprintf(cmd, sizeof cmd,
             "exec env SFNET_MPI_TIMEOUT=3 %s -x SFNET_MPI_TIMEOUT '%s' %s "
             "--resume '%s'",
             mpirun_prefix(2), bin(), train_b, db);
    job = spawn_logged(cmd, log);
    wait_ranks(job, ranks, 2, 60);
    wait_for_text(log, "resuming at epoch", 300);
    usleep(300000);
    t_kill = sf_now();
    cr_assert_eq(kill(ranks[1], SIGSTOP), 0);
    rc = wait_exit(job, 60);
    text = slurp(log);
    cr_assert_neq(rc, -1, "the job still runs 60 s after rank 1 stopped:\n%s", text);
    cr_assert_neq(rc, 0, "%s", text);
    cr_assert(strstr(text, "died or hangs"), "the waiting rank says why it stops:\n%s", text);
    free(text);
    cr_log_info("rank 1 stopped: the job ended after %.2f s (timeout 3 s)", sf_now() - t_kill);
    kill(ranks[1], SIGKILL);
    runs_of(db, after, sizeof after);
    cr_assert_str_eq(after, before);

    /* 5. one process (another number of ranks) resumes and stores run B */
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 '%s' %s -q --resume '%s'", bin(), train_b, db);
    rc = run_logged(cmd, log);
    cr_assert_eq(rc, 0, "%s", slurp(log));
    runs_of(db, after, sizeof after);
    cr_assert_str_eq(after, "A,B");
    cr_assert_neq(access(ckpt, F_OK), 0, "the checkpoint is removed once the run is stored");
}

/* ---- share/slurm/train.sbatch on a real Slurm ------------------------------------ */

static char slurm_dir[PATH_MAX];

static void stop_slurm(void) {
    if (slurm_dir[0]) {
        char cmd[PATH_MAX + 64];
        snprintf(cmd, sizeof cmd, "sh tests/slurm-cluster.sh stop '%s' >/dev/null 2>&1", slurm_dir);
        if (system(cmd) != 0) fprintf(stderr, "could not stop the Slurm test cluster\n");
        slurm_dir[0] = 0;
    }
    fx_remove_dir();
}

/* The example job script as a user submits it, on a single-node Slurm that the test
 * starts (tests/slurm-cluster.sh: munged, slurmctld, slurmd): two tasks of one CPU
 * train with srun --mpi=pmix, SIGUSR1 from scancel stops them after a step with a
 * checkpoint, and one task of two CPUs resumes and stores the run. */
Test(train_dist, train_sbatch_trains_stops_and_resumes_on_slurm, .fini = stop_slurm) {
    FX_SKIP_WITHOUT_SHARED(data_dir);
    snprintf(slurm_dir, sizeof slurm_dir, "%s", fx_path("slurm"));
    cr_assert_eq(mkdir(slurm_dir, 0700), 0);
    char cmd[8 * PATH_MAX], conf[PATH_MAX + 16], script[PATH_MAX];
    char log[600], db[600], ckpt[600], out1[600], out2[600], jlog[600];
    snprintf(log, sizeof log, "%s", fx_path("slurm.log"));
    snprintf(db, sizeof db, "%s", fx_path("run.db"));
    snprintf(ckpt, sizeof ckpt, "%s", fx_path("run.db.ckpt"));
    snprintf(out1, sizeof out1, "%s", fx_path("job1.out"));
    snprintf(out2, sizeof out2, "%s", fx_path("job2.out"));
    snprintf(jlog, sizeof jlog, "%s", fx_path("sbatch.log"));
    /* with this process's PID, a watchdog stops the cluster should the test die */
    snprintf(cmd, sizeof cmd, "sh tests/slurm-cluster.sh start '%s' %ld", slurm_dir,
             (long)getpid());
    int rc = run_logged(cmd, log);
    cr_assert_eq(rc, 0, "the Slurm test cluster did not start:\n%s", slurp(log));
    snprintf(conf, sizeof conf, "%s/slurm.conf", slurm_dir);
    cr_assert(realpath("share/slurm/train.sbatch", script), "share/slurm/train.sbatch missing");
    char train[2400];
    snprintf(train, sizeof train,
             "--catalog '%s/galaxies.csv' --images '%s/images' --width 8 --resize 36 --crop 32 "
             "--epochs 3 --batch 16 --lr 0.01 --name S",
             data_dir, data_dir);
    const char *asan = getenv("ASAN_OPTIONS");
    char supp[PATH_MAX];
    cr_assert(realpath("tests/lsan-mpi.supp", supp));
    char env[4 * PATH_MAX];
    snprintf(env, sizeof env,
             "SLURM_CONF='%s' SFNET_EXPLORE='%s' ASAN_OPTIONS='%s%sfast_unwind_on_malloc=0' "
             "LSAN_OPTIONS='suppressions=%s'",
             conf, bin(), asan && *asan ? asan : "", asan && *asan ? ":" : "", supp);

    /* 1. two tasks; stopped by scancel --signal=USR1 once the first epoch is done */
    snprintf(cmd, sizeof cmd,
             "env %s sbatch --parsable --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 "
             "--time=20:00 --output='%s' '%s' %s '%s'",
             env, out1, script, train, db);
    rc = run_logged(cmd, jlog);
    char *job = slurp(jlog);
    cr_assert_eq(rc, 0, "sbatch failed:\n%s", job);
    job[strcspn(job, "\n;")] = 0; /* --parsable: "JOBID" or "JOBID;CLUSTER" */
    wait_for_text(out1, "epoch 2/3", 600);
    snprintf(cmd, sizeof cmd, "SLURM_CONF='%s' scancel --signal=USR1 %s", conf, job);
    cr_assert_eq(run_logged(cmd, log), 0, "scancel: %s", slurp(log));
    wait_for_text(out1, "--resume continues", 300);
    char *text = slurp(out1);
    cr_assert(strstr(text, "2 task(s), 1 thread(s) per task") && strstr(text, "2 MPI ranks"),
              "the job ran as two ranks:\n%s", text);
    free(text);
    cr_assert_eq(access(ckpt, F_OK), 0, "no checkpoint");

    /* 2. one task of two CPUs resumes and stores the run (sbatch --wait: the job's
     * exit status) */
    snprintf(cmd, sizeof cmd,
             "env %s timeout 800 sbatch --wait --nodes=1 --ntasks-per-node=1 --cpus-per-task=2 "
             "--time=20:00 --output='%s' '%s' %s --resume '%s'",
             env, out2, script, train, db);
    rc = run_logged(cmd, log);
    text = slurp(out2);
    cr_assert_eq(rc, 0, "the resumed job failed (exit %d):\n%s\n%s", rc, text, slurp(log));
    cr_assert(strstr(text, "resuming at epoch") && strstr(text, "2 thread(s) per task"), "%s",
              text);
    free(text);
    char runs[256];
    runs_of(db, runs, sizeof runs);
    cr_assert_str_eq(runs, "S");
    cr_assert_neq(access(ckpt, F_OK), 0, "the checkpoint is removed");
    free(job);
}
