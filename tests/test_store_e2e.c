/* test_store_e2e.c: acceptance of the run database: `--train` on the 400 SDSS galaxies
 * writes a run whose features, top galaxies, equation and galaxy pages agree, and a
 * training killed with SIGKILL leaves the database readable and unchanged.
 *
 * Needs ../shared/data/sdss-metallicity-400 (or $SFNET_SHARED_DATA); skipped, saying
 * so, when it is absent. The models are tiny (width 16, 64 x 64 crops, 1 epoch). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "data_fixture.h"
#include "query.h"
#include "query_view.h"
#include "sf_util.h"
#include "store.h"
#include "store_fixture.h"

static char dir[64];
static char db_path[128];
static char data_dir[1024];

static const char *binary(void) {
    const char *env = getenv("SFNET_BIN");
    if (env && *env) return env;
#ifdef __SANITIZE_ADDRESS__
    return "build-san/sfnet-explore";
#else
    return "build/sfnet-explore";
#endif
}

/* 1 when the shared SDSS sample is there. */
static int find_data(void) { return fx_shared_dir(data_dir, sizeof data_dir); }

/* The folder is made once the test knows it will run (a skipped test gets no .fini). */
static void make_dir(void) {
    fixture_tmpdir(dir, sizeof dir);
    cr_assert(dir[0]);
    snprintf(db_path, sizeof db_path, "%s/run.db", dir);
}

static void teardown(void) {
    if (dir[0]) fixture_rmdir(dir);
}

TestSuite(store_e2e, .fini = teardown, .timeout = 900);

/* Starts `sfnet-explore --train ...` on the sample with extra args; stderr to a pipe
 * (*err_fd) when err_fd is not NULL, else to /dev/null. Returns the pid. */
static pid_t start_train(const char *db, int epochs, int width, int crop, const char *name,
                         int *err_fd) {
    char csv[1100], images[1100], ep[16], wd[16], cr[16], rs[16];
    snprintf(wd, sizeof wd, "%d", width);
    snprintf(cr, sizeof cr, "%d", crop);
    snprintf(rs, sizeof rs, "%d", crop + crop / 8);
    snprintf(csv, sizeof csv, "%s/galaxies.csv", data_dir);
    snprintf(images, sizeof images, "%s/images", data_dir);
    snprintf(ep, sizeof ep, "%d", epochs);
    int fds[2] = {-1, -1};
    if (err_fd) cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, STDOUT_FILENO);
        dup2(err_fd ? fds[1] : devnull, STDERR_FILENO);
        if (err_fd) close(fds[0]);
        const char *argv[] = {
            binary(),      "--train", "--catalog", csv,        "--images", images,   "--target",
            "metallicity", "--width", wd,          "--resize", rs,         "--crop", cr,
            "--epochs",    ep,        "--batch",   "32",       "--lr",     "0.01",   "--seed",
            "3",           "--name",  name,        db,         NULL};
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (err_fd) {
        close(fds[1]);
        *err_fd = fds[0];
    }
    return pid;
}

static int wait_exit(pid_t pid) {
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Reads child stderr until `needle` appears (1) or the stream ends (0). */
static int wait_for_text(int fd, const char *needle, char *log, size_t cap) {
    size_t len = strlen(log);
    for (;;) {
        if (strstr(log, needle)) return 1;
        if (len + 1 >= cap) {
            memmove(log, log + cap / 2, len - cap / 2 + 1);
            len -= cap / 2;
        }
        ssize_t got = read(fd, log + len, cap - len - 1);
        if (got <= 0) return 0;
        len += (size_t)got;
        log[len] = 0;
    }
}

static long long count(const char *sql) {
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    long long v = -1;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static int cmp_float_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

static int integrity_ok(void) {
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    int ok =
        sqlite3_step(st) == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ok;
}

static char *run_cli(const char *args, int *status) {
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "%s %s 2>/dev/null", binary(), args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t cap = 1 << 16, len = 0, got;
    char *out = malloc(cap);
    while ((got = fread(out + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 2) out = realloc(out, cap *= 2);
    }
    out[len] = 0;
    int rc = pclose(p);
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return out;
}

static void check_sigkill(void);

/* One training (the slow part) serves both halves: the run's consistency, then what
 * SIGKILL does to the database that holds it. */
Test(store_e2e, train_then_query_then_sigkill) {
    if (!find_data()) {
        fprintf(stderr, "test_store_e2e: SKIPPED: %s is absent (set SFNET_SHARED_DATA)\n",
                data_dir);
        cr_skip_test("SKIPPED: %s is absent (set SFNET_SHARED_DATA)", data_dir);
    }
    make_dir();
    pid_t pid = start_train(db_path, 1, 16, 64, "Z", NULL);
    cr_assert_eq(wait_exit(pid), 0, "--train failed");

    store *s = NULL;
    cr_assert_eq(store_open(&s, db_path, STORE_READ), SF_OK, "%s", sf_last_error());
    store_run run;
    cr_assert_eq(store_run_find(s, "Z", &run), SF_OK, "%s", sf_last_error());
    cr_assert_eq(run.d, 128);
    cr_assert_eq(run.k, 4);
    cr_assert_eq(run.n_out, 1);
    cr_assert_str_eq(run.target_names[0], "oh_p50");
    cr_assert_eq(run.n_train + run.n_valid, run.n_galaxies);
    cr_assert_gt(run.n_valid, 50);
    cr_assert_eq(run.n_curve, 1);
    cr_assert(isfinite(run.valid_rmse));
    uint8_t *w = NULL;
    size_t wl = 0;
    cr_assert_eq(store_run_weights(s, run.id, &w, &wl), SF_OK);
    cr_assert_gt(wl, 100000, "a width-16 ResNet18 is ~0.7M parameters");
    free(w);

    /* the features list agrees with a dense read of the activations */
    store_rows rows;
    cr_assert_eq(store_run_rows(s, run.id, &rows), SF_OK);
    cr_assert_eq(rows.n, run.n_galaxies);
    float *dense = malloc((size_t)rows.n * run.d * sizeof *dense);
    cr_assert_eq(store_run_dense(s, run.id, &rows, run.d, dense), SF_OK);
    store_feature *f = NULL;
    int nf = 0;
    cr_assert_eq(store_features(s, run.id, STORE_SORT_FREQUENCY, 0, &f, &nf), SF_OK);
    cr_assert_gt(nf, 0);
    for (int q = 0; q < nf; q++) {
        int n_act = 0, n_act_v = 0;
        double mx = 0;
        for (int r = 0; r < rows.n; r++) {
            float a = dense[(size_t)r * run.d + f[q].feature];
            if (a <= 0) continue;
            n_act++;
            n_act_v += rows.split[r];
            if (a > mx) mx = a;
        }
        cr_assert_eq(f[q].n_active, n_act);
        cr_assert_eq(f[q].n_active_valid, n_act_v);
        cr_assert_float_eq(f[q].max, mx, 1e-5 * (1 + mx));
    }
    for (int r = 0; r < rows.n; r++) {
        int active = 0;
        for (int j = 0; j < run.d; j++) active += dense[(size_t)r * run.d + j] > 0;
        cr_assert_leq(active, 4, "at most k features per galaxy");
    }

    /* the top galaxies of the most frequent feature really have its largest values */
    int feat = f[0].feature;
    store_hit *hits = NULL;
    int nh = 0;
    cr_assert_eq(store_top(s, run.id, feat, 10, -1, &hits, &nh), SF_OK);
    cr_assert_eq(nh, f[0].n_active < 10 ? f[0].n_active : 10);
    float *col = malloc((size_t)rows.n * sizeof *col);
    for (int r = 0; r < rows.n; r++) col[r] = dense[(size_t)r * run.d + feat];
    qsort(col, (size_t)rows.n, sizeof *col, cmp_float_desc);
    for (int i = 0; i < nh; i++)
        cr_assert_eq((float)hits[i].value, col[i], "rank %d: %g, but the %d-th largest is %g", i,
                     hits[i].value, i + 1, col[i]);
    /* the galaxy page of the top galaxy shows that feature with that value */
    store_galaxy g;
    cr_assert_eq(store_galaxy_find(s, hits[0].objid, &g), SF_OK);
    store_galaxy_run gr;
    cr_assert_eq(store_galaxy_in_run(s, run.id, g.id, &gr), SF_OK);
    cr_assert_eq(gr.n_out, 1);
    int found = 0;
    for (int j = 0; j < gr.n_active; j++)
        if (gr.feature[j] == feat) {
            found = 1;
            cr_assert_float_eq(gr.value[j], hits[0].value, 1e-9);
        }
    cr_assert(found);
    cr_assert_float_eq(gr.truth[0], g.values[0], 1e-5, "truth is the catalogue's oh_p50");
    uint8_t *rgb = NULL;
    int tw = 0, th = 0;
    cr_assert_eq(query_thumbnail(s, g.id, &rgb, &tw, &th), SF_OK);
    cr_assert_eq(tw, 64);
    free(rgb);
    store_galaxy_run_clear(&gr);
    store_galaxy_clear(&g);

    /* the equation with every feature reproduces the model's validation RMSE */
    query_equation eq;
    cr_assert_eq(query_equation_compute(s, run.id, &eq), SF_OK, "%s", sf_last_error());
    cr_assert_float_eq(eq.rmse[eq.n_levels - 1], run.valid_rmse, 1e-4 * run.valid_rmse,
                       "equation %.6f vs model %.6f", eq.rmse[eq.n_levels - 1], run.valid_rmse);
    cr_assert_eq(eq.terms[0].feature, feat);
    query_equation_clear(&eq);

    /* the commands agree with the API */
    char args[512];
    int st = 0;
    snprintf(args, sizeof args, "top --json -n 3 %s Z %d", db_path, feat);
    char *out = run_cli(args, &st);
    cr_assert_eq(st, 0);
    cJSON *root = cJSON_Parse(out);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(root, 0), "objid")->valuestring,
                     hits[0].objid);
    cJSON_Delete(root);
    free(out);
    snprintf(args, sizeof args, "equation --csv --rmse %s", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 0);
    cr_assert(strstr(out, "features,rmse"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "galaxy %s %s", db_path, hits[0].objid);
    out = run_cli(args, &st);
    cr_assert_eq(st, 0);
    cr_assert(strstr(out, "oh_p50"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "features %s", db_path);
    out = run_cli(args, &st);
    cr_assert_eq(st, 0);
    char name[32];
    snprintf(name, sizeof name, "Z %d", feat);
    cr_assert(strstr(out, name), "%s", out);
    free(out);

    free(hits);
    free(col);
    free(f);
    free(dense);
    store_rows_clear(&rows);
    store_run_clear(&run);
    store_close(s);
    check_sigkill();
}

static char *file_bytes(const char *path, size_t *len) {
    char *data = NULL;
    cr_assert_eq(sf_read_file(path, &data, len), SF_OK, "%s", sf_last_error());
    return data;
}

static void check_sigkill(void) {
    long long galaxies = count("SELECT count(*) FROM galaxies");
    long long acts = count("SELECT count(*) FROM activations");
    size_t len0 = 0;
    char *before = file_bytes(db_path, &len0);

    /* killed during training */
    int err = -1;
    static char log[1 << 16];
    log[0] = 0;
    pid_t pid = start_train(db_path, 200, 16, 64, "Z2", &err);
    cr_assert(wait_for_text(err, "training on", log, sizeof log), "training never started: %s",
              log);
    usleep(700 * 1000);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    close(err);
    cr_assert(WIFSIGNALED(status), "the run finished before it was killed");

    size_t len1 = 0;
    char *after = file_bytes(db_path, &len1);
    cr_assert_eq(len1, len0);
    cr_assert(!memcmp(before, after, len0), "the database file changed");
    free(after);
    store *s = NULL;
    cr_assert_eq(store_open(&s, db_path, STORE_WRITE), SF_OK, "%s", sf_last_error());
    store_run *runs = NULL;
    int n = 0;
    cr_assert_eq(store_runs(s, &runs, &n), SF_OK);
    cr_assert_eq(n, 1);
    store_runs_free(runs, n);
    store_close(s);
    cr_assert(integrity_ok());
    cr_assert_eq(count("SELECT count(*) FROM galaxies"), galaxies);
    cr_assert_eq(count("SELECT count(*) FROM activations"), acts);
    free(before);

    /* killed while writing: the run is either all there or not at all */
    log[0] = 0;
    pid = start_train(db_path, 1, 8, 32, "Z3", &err);
    wait_for_text(err, "writing the run", log, sizeof log);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    close(err);
    cr_assert(integrity_ok());
    long long runs_now = count("SELECT count(*) FROM runs");
    cr_assert(runs_now == 1 || runs_now == 2);
    long long acts_now = count("SELECT count(*) FROM activations");
    if (runs_now == 1) cr_assert_eq(acts_now, acts, "no partial run");
    else cr_assert_eq(count("SELECT count(*) FROM run_galaxies"), 2 * galaxies, "a whole run");
}
