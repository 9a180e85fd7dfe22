/* Tests of the inference pipeline (decoding, network and sink overlapped) and of
 * `predict` writing CSV or a run, on the real galaxies of
 * ../shared/data/sdss-metallicity-400 (or $SFNET_SHARED_DATA). */
#include <cblas.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
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

#include "cli.h"
#include "data_fixture.h"
#include "data_image.h"
#include "infer.h"
#include "sf_util.h"
#include "store.h"
#include "train.h"

static void setup(void) {
    fx_make_dir();
    sf_progress_quiet = 1;
    /* tests run two at a time on two cores */
    omp_set_num_threads(1);
    openblas_set_num_threads(1);
}
static void teardown(void) { fx_remove_dir(); }
TestSuite(infer, .init = setup, .fini = teardown, .timeout = 600);

enum { RESIZE = 72, CROP = 64 };

static void open_data(dataset *ds, char *dir, size_t n) {
    if (!fx_shared_dir(dir, n)) cr_skip_test("SKIPPED: %s is absent (set SFNET_SHARED_DATA)", dir);
    static char csv[1200], img[1200];
    snprintf(csv, sizeof csv, "%s/galaxies.csv", dir);
    snprintf(img, sizeof img, "%s/images", dir);
    dataset_options o;
    dataset_options_default(&o);
    o.catalog_path = csv;
    o.images_dir = img;
    o.resize = RESIZE;
    o.crop = CROP;
    o.quiet = 1;
    cr_assert_eq(dataset_open(ds, &o), SF_OK, "%s", sf_last_error());
}

static sfnet *small_model(int batch) {
    sfnet_config cfg = {.width = 8, .k = 4, .n_out = 1, .in_size = CROP};
    sfnet *m = sfnet_create(&cfg, batch, NN_ENGINE_ONEDNN);
    cr_assert_not_null(m, "%s", sf_last_error());
    sfnet_init(m, 3);
    return m;
}

/* What a sink saw, galaxy by galaxy in the order it came. */
typedef struct {
    int n, calls, fail_at, sigint_at;
    int gal[512];
    float pred[512];
    int idx[512 * 4];
    float val[512 * 4];
    int thumbs_ok;
} seen;

static int collect(void *ctx, const infer_batch *b) {
    seen *s = ctx;
    if (s->calls++ == s->fail_at) return sf_fail("the sink refused batch %d", s->fail_at);
    if (s->calls - 1 == s->sigint_at) raise(SIGINT);
    for (int i = 0; i < b->n; i++) {
        cr_assert_lt(s->n, 512);
        s->gal[s->n] = b->gal[i];
        s->pred[s->n] = b->pred[i];
        memcpy(&s->idx[s->n * 4], &b->feat_idx[i * 4], 4 * sizeof(int));
        memcpy(&s->val[s->n * 4], &b->feat_val[i * 4], 4 * sizeof(float));
        if (b->thumb && b->thumb[i]) {
            uint8_t *rgb;
            int w, h;
            if (image_decode_mem(b->thumb[i], b->thumb_len[i], "thumb", &rgb, &w, &h) == SF_OK &&
                w == INFER_THUMB_SIZE && h == INFER_THUMB_SIZE)
                s->thumbs_ok++;
            free(rgb);
        }
        s->n++;
    }
    return SF_OK;
}

/* The image paths of the dataset's galaxies, in its order. */
static char **paths_of(const dataset *ds, const char *dir) {
    char **p = xcalloc((size_t)ds->n, sizeof *p);
    char img[1200], path[2048];
    snprintf(img, sizeof img, "%s/images", dir);
    for (int i = 0; i < ds->n; i++) {
        cr_assert_eq(image_find(path, sizeof path, img, dataset_obj_id(ds, i)), SF_OK);
        p[i] = xstrdup(path);
    }
    return p;
}

static void free_paths(char **p, int n) {
    for (int i = 0; i < n; i++) free(p[i]);
    free(p);
}

static infer_source file_source(const dataset *ds, char **paths) {
    infer_source src;
    memset(&src, 0, sizeof src);
    src.n = ds->n;
    src.paths = (const char *const *)paths;
    src.resize = RESIZE;
    for (int c = 0; c < 3; c++) {
        src.mean[c] = ds->mean[c];
        src.std[c] = ds->std[c];
    }
    src.want_thumbs = 1;
    src.quiet = 1;
    return src;
}

Test(infer, decoding_files_gives_what_the_cache_gives_in_order) {
    char dir[1024];
    dataset ds;
    open_data(&ds, dir, sizeof dir);
    sfnet *m = small_model(48); /* 400 = 8 x 48 + 16: a last partial batch */
    int *all = xmalloc((size_t)ds.n * sizeof *all);
    for (int i = 0; i < ds.n; i++) all[i] = i;
    infer_result ref;
    cr_assert_eq(infer_dataset(m, &ds, all, ds.n, 0, 1, &ref), SF_OK, "%s", sf_last_error());
    char **paths = paths_of(&ds, dir);
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        infer_source src = file_source(&ds, paths);
        static seen s;
        memset(&s, 0, sizeof s);
        s.fail_at = s.sigint_at = -1;
        infer_stats st;
        cr_assert_eq(infer_pipe_run(m, &src, collect, &s, &st), SF_OK, "%s", sf_last_error());
        cr_assert_eq(st.n_done, ds.n);
        cr_assert_eq(s.n, ds.n);
        cr_assert_eq(st.n_corrupt, 0);
        cr_assert_not(st.interrupted);
        cr_assert(st.network_seconds > 0 && st.network_seconds <= st.seconds);
        cr_assert_eq(s.thumbs_ok, ds.n, "%d of %d thumbnails decode to 64x64", s.thumbs_ok, ds.n);
        for (int i = 0; i < ds.n; i++) {
            cr_assert_eq(s.gal[i], i, "galaxy %d came as %d (%d threads)", i, s.gal[i], threads);
            cr_assert_eq(s.pred[i], ref.pred[i], "galaxy %d: %g vs %g", i, s.pred[i], ref.pred[i]);
            for (int j = 0; j < 4; j++) {
                cr_assert_eq(s.idx[i * 4 + j], ref.feat_idx[i * 4 + j]);
                cr_assert_eq(s.val[i * 4 + j], ref.feat_val[i * 4 + j]);
            }
        }
    }
    free_paths(paths, ds.n);
    infer_result_free(&ref);
    free(all);
    sfnet_free(m);
    dataset_close(&ds);
}

Test(infer, a_corrupt_image_is_skipped_and_counted) {
    char dir[1024];
    dataset ds;
    open_data(&ds, dir, sizeof dir);
    sfnet *m = small_model(16);
    char **paths = paths_of(&ds, dir);
    /* galaxy 5's file replaced by the first half of it */
    uint8_t *bytes;
    size_t len = fx_read_bytes(paths[5], &bytes);
    fx_write_bytes(fx_path("broken.jpg"), bytes, len / 2);
    free(bytes);
    free(paths[5]);
    paths[5] = xstrdup(fx_path("broken.jpg"));
    infer_source src = file_source(&ds, paths);
    src.n = 40;
    static seen s;
    memset(&s, 0, sizeof s);
    s.fail_at = s.sigint_at = -1;
    infer_stats st;
    cr_assert_eq(infer_pipe_run(m, &src, collect, &s, &st), SF_OK, "%s", sf_last_error());
    cr_assert_eq(st.n_corrupt, 1);
    cr_assert_eq(st.n_done, 39);
    for (int i = 0; i < 39; i++) cr_assert_eq(s.gal[i], i < 5 ? i : i + 1);
    free_paths(paths, ds.n);
    sfnet_free(m);
    dataset_close(&ds);
}

Test(infer, a_failing_sink_or_ctrl_c_stops_the_pipeline) {
    char dir[1024];
    dataset ds;
    open_data(&ds, dir, sizeof dir);
    sfnet *m = small_model(16);
    infer_source src;
    memset(&src, 0, sizeof src);
    src.ds = &ds;
    src.quiet = 1;
    static seen s;
    memset(&s, 0, sizeof s);
    s.fail_at = 3;
    s.sigint_at = -1;
    infer_stats st;
    cr_assert_eq(infer_pipe_run(m, &src, collect, &s, &st), SF_ERR);
    cr_assert(strstr(sf_last_error(), "refused batch 3"), "%s", sf_last_error());
    cr_assert_eq(s.calls, 4, "the sink was called %d times", s.calls);
    cr_assert_eq(st.n_done, 48);

    /* Ctrl-C while batch 2 is written: no batch after it reaches the sink */
    struct sigaction ign, before;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGINT, &ign, &before);
    memset(&s, 0, sizeof s);
    s.fail_at = -1;
    s.sigint_at = 2;
    cr_assert_eq(infer_pipe_run(m, &src, collect, &s, &st), SF_OK, "%s", sf_last_error());
    cr_assert(st.interrupted);
    cr_assert_eq(s.calls, 3, "the sink was called %d times", s.calls);
    cr_assert_eq(st.n_done, 48);
    /* the pipeline's handler is gone: SIGINT is back to what it was */
    struct sigaction now;
    sigaction(SIGINT, &before, &now);
    cr_assert(now.sa_handler == SIG_IGN);
    sfnet_free(m);
    dataset_close(&ds);
}

/* ---- predict --into ------------------------------------------------------------ */

static double scalar(const char *db, const char *sql) {
    sqlite3 *h;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(h));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    double v = sqlite3_column_type(st, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static int run_cli(int (*fn)(int, char **), char **argv) {
    int argc = 0;
    while (argv[argc]) argc++;
    return fn(argc, argv);
}

Test(infer, predict_into_a_database_reproduces_the_run_training_stored) {
    char dir[1024];
    FX_SKIP_WITHOUT_SHARED(dir);
    char csv[1200], img[1200], db[600], w[600];
    snprintf(csv, sizeof csv, "%s/galaxies.csv", dir);
    snprintf(img, sizeof img, "%s/images", dir);
    snprintf(db, sizeof db, "%s", fx_path("run.db"));
    char *train[] = {"--train", "--catalog", csv,  "--images", img,  "--width",
                     "8",       "--resize",  "72", "--crop",   "64", "--epochs",
                     "1",       "--batch",   "32", "-q",       db,   NULL};
    cr_assert_eq(run_cli(cli_train, train), 0, "%s", sf_last_error());

    /* the run's own weights over the same catalogue, as a second run */
    char *again[] = {"predict", "--from-run", "Z",  "--catalog", csv,  "--images", img, "--into",
                     db,        "--name",     "Zb", "--batch",   "24", "-q",       NULL};
    cr_assert_eq(run_cli(cli_predict, again), 0, "%s", sf_last_error());
    cr_assert_eq(scalar(db, "SELECT count(*) FROM runs"), 2);
    cr_assert_eq(scalar(db, "SELECT n_galaxies FROM runs WHERE prefix = 'Zb'"), 400);
    cr_assert_eq(scalar(db, "SELECT count(*) FROM run_galaxies a JOIN run_galaxies b "
                            "USING (galaxy_id) WHERE a.run_id = 1 AND b.run_id = 2 "
                            "AND a.split = b.split"),
                 400, "the same split");
    cr_assert_lt(scalar(db, "SELECT max(abs(a.pred - b.pred)) FROM predictions a JOIN "
                            "predictions b USING (galaxy_id, target) WHERE a.run_id = 1 AND "
                            "b.run_id = 2"),
                 1e-5);
    cr_assert_eq(scalar(db, "SELECT count(*) FROM activations WHERE run_id = 2"),
                 scalar(db, "SELECT count(*) FROM activations WHERE run_id = 1"));
    cr_assert_eq(scalar(db, "SELECT count(*) FROM activations a JOIN activations b USING "
                            "(galaxy_id, feature) WHERE a.run_id = 1 AND b.run_id = 2 AND "
                            "abs(a.value - b.value) < 1e-5"),
                 scalar(db, "SELECT count(*) FROM activations WHERE run_id = 1"));
    cr_assert_lt(fabs(scalar(db, "SELECT valid_rmse FROM runs WHERE id = 1") -
                      scalar(db, "SELECT valid_rmse FROM runs WHERE id = 2")),
                 1e-6);
    cr_assert_lt(scalar(db, "SELECT max(abs(a.pearson - b.pearson)) FROM feature_targets a "
                            "JOIN feature_targets b USING (feature, target) WHERE a.run_id = 1 "
                            "AND b.run_id = 2"),
                 1e-5);
    cr_assert_eq(scalar(db, "SELECT count(*) FROM run_features a JOIN run_features b USING "
                            "(feature) WHERE a.run_id = 1 AND b.run_id = 2 AND "
                            "a.n_active = b.n_active"),
                 64);

    /* a weights file and CSV out: the same predictions */
    cr_assert_eq(sqlite3_threadsafe() != 0, 1);
    store *s;
    cr_assert_eq(store_open(&s, db, STORE_READ), SF_OK);
    uint8_t *blob;
    size_t len;
    cr_assert_eq(store_run_weights(s, 1, &blob, &len), SF_OK);
    store_close(s);
    snprintf(w, sizeof w, "%s", fx_path("z.safetensors"));
    fx_write_bytes(w, blob, len);
    free(blob);
    const char *out = fx_path("pred.csv");
    char *csv_out[] = {"predict", "--weights", w,           "--catalog", csv, "--images",
                       img,       "-o",        (char *)out, "-q",        NULL};
    cr_assert_eq(run_cli(cli_predict, csv_out), 0, "%s", sf_last_error());
    FILE *f = fopen(out, "r");
    cr_assert_not_null(f);
    char line[512];
    int rows = 0;
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert(!strncmp(line, "objID,oh_p50,feature_1,value_1", 30), "%s", line);
    while (fgets(line, sizeof line, f)) rows++;
    fclose(f);
    cr_assert_eq(rows, 400);

    /* refusals leave the file as it was */
    char *taken[] = {"predict", "--weights", w,        "--catalog", csv,  "--images", img,
                     "--into",  db,          "--name", "Zb",        "-q", NULL};
    cr_assert_eq(run_cli(cli_predict, taken), 1);
    char *bad_target[] = {"predict", "--weights", w,          "--catalog", csv,  "--images", img,
                          "--into",  db,          "--target", "bpt_lines", "-q", NULL};
    cr_assert_neq(run_cli(cli_predict, bad_target), 0);
    char *both[] = {"predict", "--weights", w,  "--catalog", csv,         "--images",
                    img,       "--into",    db, "-o",        (char *)out, NULL};
    cr_assert_eq(run_cli(cli_predict, both), 2);
    cr_assert_eq(scalar(db, "SELECT count(*) FROM runs"), 2);
}

/* --train and predict --from-run write nothing beside the database: its folder is made
 * read-only (but for the database and its -wal and -shm files) for a child that became
 * nobody (root ignores folder permissions), and both still store their runs. */
Test(infer, train_and_predict_from_run_need_no_file_beside_the_database) {
    char dir[1024];
    FX_SKIP_WITHOUT_SHARED(dir);
    char csv[1200], img[1200], ro[600], db[700], ckpt[600], side[720];
    snprintf(csv, sizeof csv, "%s/galaxies.csv", dir);
    snprintf(img, sizeof img, "%s/images", dir);
    snprintf(ro, sizeof ro, "%s", fx_path("ro"));
    snprintf(db, sizeof db, "%s/run.db", ro);
    snprintf(ckpt, sizeof ckpt, "%s", fx_path("work/run.ckpt"));
    cr_assert_eq(mkdir(ro, 0755), 0);
    cr_assert_eq(mkdir(fx_path("work"), 0777), 0);
    cr_assert_eq(chmod(fx_path("work"), 0777), 0);
    cr_assert_eq(chmod(fx_path(""), 0755), 0);
    store *s;
    cr_assert_eq(store_open(&s, db, STORE_CREATE), SF_OK, "%s", sf_last_error());
    store_close(s);
    const char *own[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(side, sizeof side, "%s%s", db, own[i]);
        if (i) fx_write_bytes(side, "", 0);
        cr_assert_eq(chmod(side, 0666), 0);
    }
    cr_assert_eq(chmod(ro, 0555), 0);

    char *train[] = {"--train", "--catalog", csv,  "--images", img, "--width", "8",  "--resize",
                     "72",      "--crop",    "64", "--epochs", "1", "--batch", "32", "--checkpoint",
                     ckpt,      "-q",        db,   NULL};
    char *again[] = {"predict", "--from-run", "Z",  "--catalog", csv,  "--images", img, "--into",
                     db,        "--name",     "Zb", "--batch",   "24", "-q",       NULL};
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
            fprintf(stderr, "cannot become nobody, so the folder would not be read-only: %s\n",
                    strerror(errno));
            _exit(3);
        }
        if (access(ro, W_OK) == 0) _exit(4);
        int rc = run_cli(cli_train, train);
        if (rc == 0) rc = run_cli(cli_predict, again);
        _exit(rc == 0 ? 0 : 5);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert_eq(chmod(ro, 0755), 0);
    cr_assert(WIFEXITED(status), "the child died (status %d)", status);
    cr_assert_neq(WEXITSTATUS(status), 3, "the child could not become nobody (see above)");
    cr_assert_neq(WEXITSTATUS(status), 4, "%s stayed writable for nobody", ro);
    cr_assert_eq(WEXITSTATUS(status), 0, "--train or predict --from-run failed (see above)");
    cr_assert_eq(scalar(db, "SELECT count(*) FROM runs"), 2);
    cr_assert_eq(scalar(db, "SELECT n_galaxies FROM runs WHERE prefix = 'Zb'"), 400);
    DIR *d = opendir(ro);
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        cr_assert(!strcmp(e->d_name, "run.db") || !strcmp(e->d_name, "run.db-wal") ||
                      !strcmp(e->d_name, "run.db-shm"),
                  "%s appeared beside the database", e->d_name);
    }
    closedir(d);
}

Test(infer, a_failed_write_rolls_the_whole_run_back) {
    char dir[1024];
    dataset ds;
    open_data(&ds, dir, sizeof dir);
    sfnet *m = small_model(16);
    const char *db = fx_path("fail.db");
    store *s;
    cr_assert_eq(store_open(&s, db, STORE_CREATE), SF_OK, "%s", sf_last_error());
    /* galaxy 30 names galaxy 2's row again: the run would hold it twice */
    int *rows = xmalloc((size_t)ds.n * sizeof *rows);
    memcpy(rows, ds.cat_row, (size_t)ds.n * sizeof *rows);
    rows[30] = rows[2];
    infer_galaxies g = {.cat = &ds.cat, .n = ds.n, .rows = rows, .truth = ds.y, .split = ds.split};
    infer_source src;
    memset(&src, 0, sizeof src);
    src.ds = &ds;
    src.quiet = 1;
    store_run_input in;
    memset(&in, 0, sizeof in);
    in.run.n_out = 1;
    snprintf(in.run.target_names[0], sizeof in.run.target_names[0], "oh_p50");
    snprintf(in.run.target_spec, sizeof in.run.target_spec, "metallicity");
    in.run.k = 4;
    in.run.width = 8;
    in.run.d = m->d;
    in.run.train_rmse = in.run.valid_rmse = NAN;
    in.run.train_rmse_t[0] = in.run.valid_rmse_t[0] = NAN;
    in.head_w = sfnet_tensor_data(m, sfnet_find_tensor(m, "fc.weight"));
    infer_stats st;
    int64_t id = 0;
    cr_assert_eq(infer_build_run(s, m, &src, &g, &in, &id, &st), SF_ERR);
    cr_assert(strstr(sf_last_error(), "twice"), "%s", sf_last_error());
    cr_assert_eq(st.n_done, 16, "the batches before the failing one went through");
    store_close(s);
    cr_assert_eq(scalar(db, "SELECT count(*) FROM runs"), 0);
    cr_assert_eq(scalar(db, "SELECT count(*) FROM galaxies"), 0);

    /* the same run without the duplicate is stored, with its RMSE computed */
    cr_assert_eq(store_open(&s, db, STORE_WRITE), SF_OK, "%s", sf_last_error());
    g.rows = ds.cat_row;
    cr_assert_eq(infer_build_run(s, m, &src, &g, &in, &id, &st), SF_OK, "%s", sf_last_error());
    store_close(s);
    cr_assert_eq(scalar(db, "SELECT n_galaxies FROM runs"), 400);
    cr_assert_eq(scalar(db, "SELECT n_valid FROM runs"), 80);
    cr_assert_eq(scalar(db, "SELECT count(*) FROM thumbnails"), 0, "none asked for");
    double se = scalar(db, "SELECT sum((pred - truth) * (pred - truth)) FROM predictions p "
                           "JOIN run_galaxies g USING (run_id, galaxy_id) WHERE g.split = 1");
    cr_assert_float_eq(scalar(db, "SELECT valid_rmse FROM runs"), sqrt(se / 80), 1e-9);
    cr_assert_float_eq(scalar(db, "SELECT valid_rmse FROM run_targets"), sqrt(se / 80), 1e-9);
    free(rows);
    sfnet_free(m);
    dataset_close(&ds);
}
