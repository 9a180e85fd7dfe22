/* Tests of the training loop, checkpoints and resume, inference and `predict`, on the
 * real galaxies of ../shared/data/sdss-metallicity-400 (or $SFNET_SHARED_DATA); every
 * test that needs them says it skipped when they are absent. */
#include <cblas.h>
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "data_fixture.h"
#include "data_image.h"
#include "infer.h"
#include "nn_onednn.h"
#include "safetensors.h"
#include "sf_util.h"
#include "train.h"

static char tmpdir[256];
static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sf_test_train_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    sf_progress_quiet = 1;
    /* Criterion runs tests side by side (tests/run.sh: 2 jobs on 2 cores): one thread
     * each, rather than spinning OpenMP and OpenBLAS teams fighting for the cores. */
    omp_set_num_threads(1);
    openblas_set_num_threads(1);
}
static void remove_tmpdir(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}
TestSuite(train, .init = make_tmpdir, .fini = remove_tmpdir, .timeout = 600);

static const char *path_in(const char *name) {
    static char p[4][400];
    static int w;
    w = (w + 1) % 4;
    snprintf(p[w], sizeof p[w], "%s/%s", tmpdir, name);
    return p[w];
}

static const char *data_dir(void) {
    static char dir[400];
    fx_shared_dir(dir, sizeof dir);
    return dir;
}

/* Opens the shared galaxies at crop x crop, or skips the test saying why. */
static void open_data(dataset *ds, int resize, int crop) {
    static char csv[600], img[600];
    snprintf(csv, sizeof csv, "%s/galaxies.csv", data_dir());
    snprintf(img, sizeof img, "%s/images", data_dir());
    if (access(csv, R_OK) != 0) cr_skip_test("%s not found (set SFNET_SHARED_DATA): skipped", csv);
    dataset_options o;
    dataset_options_default(&o);
    o.catalog_path = csv;
    o.images_dir = img;
    o.target_spec = "metallicity";
    o.resize = resize;
    o.crop = crop;
    o.quiet = 1;
    cr_assert_eq(dataset_open(ds, &o), SF_OK, "%s", sf_last_error());
}

static sfnet *model(int width, int k, int in_size, int batch, uint64_t seed) {
    sfnet_config cfg = {.width = width, .k = k, .n_out = 1, .in_size = in_size};
    sfnet *m = sfnet_create(&cfg, batch, NN_ENGINE_REFERENCE);
    cr_assert_not_null(m, "%s", sf_last_error());
    sfnet_init(m, seed);
    return m;
}

/* The head starts at the training mean: a tiny run has too few steps to move fc.bias
 * from ~0 to ~8.9 dex (the paper's 29k steps do), and the test is about learning from
 * the images, not about walking the bias. */
static void head_at_mean(sfnet *m, const dataset *ds) {
    train_head_bias_to_mean(m, ds);
    double s = 0;
    for (int i = 0; i < ds->n_train; i++) s += ds->y[ds->train_idx[i]];
    cr_assert_float_eq(sfnet_tensor_data(m, sfnet_find_tensor(m, "fc.bias"))[0], s / ds->n_train,
                       1e-5);
}

Test(train, small_model_beats_the_training_mean) {
    /* The acceptance run: width 16, 64x64, batch 32. About 1.5 s per epoch in the
     * plain build; it runs under ASan too (slower, well under the CI budget). */
    dataset ds;
    open_data(&ds, 72, 64);
    sfnet *m = model(16, 4, 64, 32, 1);
    head_at_mean(m, &ds);
    train_options o;
    train_options_default(&o);
    o.epochs = 6;
    o.batch = 32;
    o.lr = 0.01;
    o.quiet = 1;
    train_result r;
    cr_assert_eq(train_run(m, &ds, &o, &r), SF_OK, "%s", sf_last_error());
    fprintf(stderr,
            "test_train_loop: width 16, 64x64, k 4, %d epochs of %d train galaxies: "
            "valid RMSE %.4f (predicting the training mean: %.4f), train loss %.4f, "
            "%.0f img/s\n",
            o.epochs, ds.n_train, r.final_valid_rmse, r.train_mean_rmse, r.final_train_rmse,
            r.images_per_s);
    for (int e = 0; e < o.epochs; e++)
        cr_log_info("epoch %d: train %.4f valid %.4f", e + 1, r.train_loss[e], r.valid_rmse[e]);
    cr_assert_eq(r.epochs_done, o.epochs);
    cr_assert_eq(r.interrupted, 0);
    cr_assert_lt(r.final_valid_rmse, r.train_mean_rmse,
                 "valid RMSE %.4f is not below the mean baseline %.4f", r.final_valid_rmse,
                 r.train_mean_rmse);
    train_result_free(&r);
    sfnet_free(m);
    dataset_close(&ds);
}

/* Runs `epochs` epochs of the small resume configuration from seed 3, resuming from
 * ckpt when resume; stop_at (epoch*1000+step) stops there through on_step (by raising
 * SIGINT when by_signal). Returns the model (caller frees). */
typedef struct {
    int stop_at;
    int by_signal;
} stopper;

static int stop_cb(void *ctx, int epoch, int step, float loss) {
    stopper *s = ctx;
    (void)loss;
    if (epoch * 1000 + step != s->stop_at) return 0;
    if (s->by_signal) {
        raise(SIGINT);
        return 0;
    }
    return 1;
}

static sfnet *run_small(const dataset *ds, const char *ckpt, int resume, stopper *stop,
                        train_result *r, uint64_t init_seed) {
    sfnet *m = model(4, 3, 32, 16, init_seed);
    head_at_mean(m, ds);
    train_options o;
    train_options_default(&o);
    o.epochs = 2;
    o.batch = 16;
    o.lr = 0.01;
    o.seed = 5;
    o.quiet = 1;
    o.checkpoint = ckpt;
    o.resume = resume;
    if (stop) {
        o.on_step = stop_cb;
        o.ctx = stop;
    }
    cr_assert_eq(train_run(m, ds, &o, r), SF_OK, "%s", sf_last_error());
    return m;
}

static void assert_same_model(const sfnet *a, const sfnet *b, const char *what) {
    cr_assert_eq(memcmp(a->params, b->params, a->n_params * sizeof(float)), 0, "%s: weights differ",
                 what);
    cr_assert_eq(memcmp(a->buffers, b->buffers, a->n_buffers * sizeof(float)), 0,
                 "%s: BN statistics differ", what);
    cr_assert_eq(a->num_batches_tracked, b->num_batches_tracked, "%s", what);
}

Test(train, resume_after_an_epoch_or_ctrl_c_equals_an_uninterrupted_run) {
    dataset ds;
    open_data(&ds, 36, 32);
    train_result straight, part, rest;
    sfnet *a = run_small(&ds, path_in("a.ckpt"), 0, NULL, &straight, 3);
    cr_assert_eq(straight.epochs_done, 2);
    cr_assert(isfinite(straight.valid_rmse[1]));

    /* stop at the end of epoch 1, resume into a differently initialised model */
    int steps = ds.n_train / 16;
    stopper s1 = {.stop_at = steps - 1, .by_signal = 0};
    sfnet *b = run_small(&ds, path_in("b.ckpt"), 0, &s1, &part, 3);
    cr_assert_eq(part.epochs_done, 1);
    cr_assert_eq(part.interrupted, 1);
    train_result_free(&part);
    sfnet_free(b);
    b = run_small(&ds, path_in("b.ckpt"), 1, NULL, &rest, 77);
    cr_assert_eq(rest.epochs_done, 2);
    cr_assert_eq(rest.interrupted, 0);
    assert_same_model(a, b, "resumed after epoch 1");
    cr_assert_eq(memcmp(straight.train_loss, rest.train_loss, 2 * sizeof(double)), 0);
    cr_assert_eq(memcmp(straight.valid_rmse, rest.valid_rmse, 2 * sizeof(double)), 0);
    train_result_free(&rest);
    sfnet_free(b);

    /* Ctrl-C in the middle of epoch 2: the handler stops after the step and saves */
    stopper s2 = {.stop_at = 1000 + 4, .by_signal = 1};
    sfnet *c = run_small(&ds, path_in("c.ckpt"), 0, &s2, &part, 3);
    cr_assert_eq(part.interrupted, 1);
    cr_assert_eq(part.epochs_done, 1);
    st_file f;
    cr_assert_eq(st_open(&f, path_in("c.ckpt")), SF_OK, "%s", sf_last_error());
    cr_assert_str_eq(st_meta(&f, "epoch"), "1");
    cr_assert_str_eq(st_meta(&f, "step"), "5");
    st_close(&f);
    train_result_free(&part);
    sfnet_free(c);
    c = run_small(&ds, path_in("c.ckpt"), 1, NULL, &rest, 78);
    assert_same_model(a, c, "resumed after Ctrl-C mid-epoch");
    cr_assert_eq(memcmp(straight.train_loss, rest.train_loss, 2 * sizeof(double)), 0);
    train_result_free(&rest);
    sfnet_free(c);

    /* a finished checkpoint loads as plain weights too (optimizer entries skipped) */
    sfnet *d = model(4, 3, 32, 16, 79);
    cr_assert_eq(weights_load(d, path_in("a.ckpt"), 0), SF_OK, "%s", sf_last_error());
    assert_same_model(a, d, "weights from the checkpoint");
    sfnet_free(d);

    train_result_free(&straight);
    sfnet_free(a);
    dataset_close(&ds);
}

Test(train, resume_refuses_other_options_and_missing_checkpoints) {
    dataset ds;
    open_data(&ds, 36, 32);
    train_result r;
    stopper s = {.stop_at = 2, .by_signal = 0};
    sfnet *m = run_small(&ds, path_in("x.ckpt"), 0, &s, &r, 3);
    train_result_free(&r);
    train_options o;
    train_options_default(&o);
    o.epochs = 2;
    o.batch = 16;
    o.lr = 0.02; /* not what the checkpoint was made with */
    o.seed = 5;
    o.quiet = 1;
    o.checkpoint = path_in("x.ckpt");
    o.resume = 1;
    cr_assert_eq(train_run(m, &ds, &o, &r), SF_ERR);
    cr_assert(strstr(sf_last_error(), "x.ckpt") && strstr(sf_last_error(), "lr"), "%s",
              sf_last_error());
    train_result_free(&r);
    o.lr = 0.01;
    o.checkpoint = path_in("absent.ckpt");
    cr_assert_eq(train_run(m, &ds, &o, &r), SF_ERR);
    cr_assert(strstr(sf_last_error(), "absent.ckpt"), "%s", sf_last_error());
    train_result_free(&r);
    o.resume = 0;
    o.checkpoint = path_in("no/such/dir/x.ckpt");
    cr_assert_eq(train_run(m, &ds, &o, &r), SF_ERR);
    cr_assert(strstr(sf_last_error(), "no/such/dir/x.ckpt"), "%s", sf_last_error());
    cr_assert_eq(r.epochs_done, 0);
    train_result_free(&r);
    o.checkpoint = NULL;
    o.batch = 64; /* above the model's max batch */
    cr_assert_eq(train_run(m, &ds, &o, &r), SF_ERR);
    cr_assert(strstr(sf_last_error(), "batch"), "%s", sf_last_error());
    train_result_free(&r);
    sfnet_free(m);
    dataset_close(&ds);
}

/* The validation RMSE of m's eval-mode predictions, from infer_dataset. */
static double infer_rmse(sfnet *m, const dataset *ds, double *mean_pred) {
    infer_result r;
    cr_assert_eq(infer_dataset(m, ds, ds->valid_idx, ds->n_valid, 0, 1, &r), SF_OK);
    double sq = 0, s = 0;
    for (int i = 0; i < r.n; i++) {
        double e = r.pred[i] - ds->y[ds->valid_idx[i]];
        sq += e * e;
        s += r.pred[i];
    }
    *mean_pred = s / r.n;
    infer_result_free(&r);
    return sqrt(sq / ds->n_valid);
}

Test(train, standardised_targets_are_folded_into_the_head) {
    /* the network learns (y - mean) / sd; the model it returns predicts y itself, so
     * that its own predictions score the validation RMSE the run reported */
    dataset ds;
    open_data(&ds, 36, 32);
    double s = 0, q = 0;
    for (int i = 0; i < ds.n_train; i++) s += ds.y[ds.train_idx[i]];
    double mean = s / ds.n_train;
    for (int i = 0; i < ds.n_train; i++)
        q += (ds.y[ds.train_idx[i]] - mean) * (ds.y[ds.train_idx[i]] - mean);
    double sd = sqrt(q / ds.n_train);
    for (int raw = 0; raw < 2; raw++) {
        sfnet *m = model(4, 3, 32, 16, 12);
        train_options o;
        train_options_default(&o);
        o.epochs = 2;
        o.batch = 16;
        o.lr = 0.01;
        o.quiet = 1;
        o.targets = raw ? TRAIN_TARGETS_RAW : TRAIN_TARGETS_STANDARDISED;
        o.checkpoint = path_in(raw ? "raw.ckpt" : "std.ckpt");
        train_result r;
        cr_assert_eq(train_run(m, &ds, &o, &r), SF_OK, "%s", sf_last_error());
        if (raw) {
            cr_assert_eq(r.target_scale, 1);
            cr_assert_eq(r.target_mean[0], 0);
        } else {
            cr_assert_float_eq(r.target_scale, sd, 1e-9);
            cr_assert_float_eq(r.target_mean[0], mean, 1e-9);
        }
        double mean_pred, rmse = infer_rmse(m, &ds, &mean_pred);
        cr_assert_float_eq(rmse, r.final_valid_rmse, 1e-5,
                           "%s: the model's own predictions score "
                           "%.6f, the run %.6f",
                           raw ? "raw" : "standardised", rmse, r.final_valid_rmse);
        cr_assert_float_eq(mean_pred, mean, 0.3, "predictions in target units (mean %.3f)",
                           mean_pred);
        /* the final checkpoint loads as plain weights that predict the same */
        sfnet *c = model(4, 3, 32, 16, 99);
        cr_assert_eq(weights_load(c, o.checkpoint, 0), SF_OK, "%s", sf_last_error());
        double mean_c, rmse_c = infer_rmse(c, &ds, &mean_c);
        cr_assert_float_eq(rmse_c, rmse, 1e-6);
        sfnet_free(c);
        train_result_free(&r);
        sfnet_free(m);
    }
    dataset_close(&ds);
}

Test(train, flip_modes_are_options_and_names) {
    train_flips f;
    train_targets t;
    static const char *names[] = {"none", "dihedral", "hv", "batch"};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(train_flips_parse(names[i], &f), SF_OK);
        cr_assert_str_eq(train_flips_name(f), names[i]);
    }
    cr_assert_eq(train_flips_parse("sideways", &f), SF_ERR);
    cr_assert(strstr(sf_last_error(), "sideways"));
    cr_assert_eq(train_targets_parse("standardized", &t), SF_OK);
    cr_assert_eq(t, TRAIN_TARGETS_STANDARDISED);
    cr_assert_eq(train_targets_parse("raw", &t), SF_OK);
    cr_assert_str_eq(train_targets_name(t), "raw");
    cr_assert_eq(train_targets_parse("log", &t), SF_ERR);
    /* a run with each flip mode trains (one epoch of the small model) */
    dataset ds;
    open_data(&ds, 36, 32);
    for (int i = 0; i < 4; i++) {
        sfnet *m = model(4, 3, 32, 16, 13);
        train_options o;
        train_options_default(&o);
        o.epochs = 1;
        o.batch = 16;
        o.lr = 0.01;
        o.quiet = 1;
        cr_assert_eq(train_flips_parse(names[i], &o.flips), SF_OK);
        train_result r;
        cr_assert_eq(train_run(m, &ds, &o, &r), SF_OK, "%s", sf_last_error());
        cr_assert(isfinite(r.final_valid_rmse));
        train_result_free(&r);
        sfnet_free(m);
    }
    dataset_close(&ds);
}

Test(train, an_inference_only_model_is_not_trained) {
    dataset ds;
    open_data(&ds, 36, 32);
    sfnet_config cfg = {.width = 4, .k = 2, .n_out = 1, .in_size = 32, .inference_only = 1};
    sfnet *m = sfnet_create(&cfg, 16, NN_ENGINE_REFERENCE);
    cr_assert_not_null(m, "%s", sf_last_error());
    sfnet_init(m, 2);
    float *before = xmalloc(m->n_params * sizeof(float));
    memcpy(before, m->params, m->n_params * sizeof(float));
    train_options o;
    train_options_default(&o);
    o.epochs = 1;
    o.batch = 16;
    o.quiet = 1;
    train_result r;
    cr_assert_eq(train_run(m, &ds, &o, &r), SF_ERR);
    cr_assert(strstr(sf_last_error(), "inference only"), "%s", sf_last_error());
    cr_assert_eq(r.epochs_done, 0);
    cr_assert_eq(memcmp(before, m->params, m->n_params * sizeof(float)), 0);
    free(before);
    train_result_free(&r);
    sfnet_free(m);
    dataset_close(&ds);
}

Test(train, inference_gives_predictions_and_the_head_equation_holds) {
    dataset ds;
    open_data(&ds, 36, 32);
    sfnet *m = model(4, 3, 32, 16, 9);
    head_at_mean(m, &ds);
    infer_result r;
    cr_assert_eq(infer_dataset(m, &ds, ds.valid_idx, ds.n_valid, 1, 1, &r), SF_OK);
    cr_assert_eq(r.n, ds.n_valid);
    cr_assert_eq(r.k, 3);
    cr_assert_not_null(r.dense);
    const float *w = sfnet_tensor_data(m, sfnet_find_tensor(m, "fc.weight"));
    float b = sfnet_tensor_data(m, sfnet_find_tensor(m, "fc.bias"))[0];
    for (int i = 0; i < r.n; i++) {
        double eq = b;
        for (int j = 0; j < r.k; j++) {
            int f = r.feat_idx[i * r.k + j];
            float v = r.feat_val[i * r.k + j];
            cr_assert(f >= 0 && f < r.d);
            cr_assert_geq(v, 0);
            if (j) cr_assert_leq(v, r.feat_val[i * r.k + j - 1], "values not descending");
            cr_assert_eq(v, fmaxf(r.dense[(size_t)i * r.d + f], 0), "value is not the feature");
            eq += (double)w[f] * v;
        }
        cr_assert_float_eq(r.pred[i], eq, 1e-4, "prediction %g != b + sum w A = %g", r.pred[i], eq);
    }
    infer_result_free(&r);
    sfnet_free(m);
    dataset_close(&ds);
}

/* Reads `predict`'s CSV: returns rows, fills the header line. */
static int read_csv(const char *path, char *header, size_t hn, char ***lines) {
    char *buf;
    size_t len;
    cr_assert_eq(sf_read_file(path, &buf, &len), SF_OK, "%s", sf_last_error());
    int n = 0;
    *lines = NULL;
    char *save, *line = strtok_r(buf, "\n", &save);
    snprintf(header, hn, "%s", line ? line : "");
    while ((line = strtok_r(NULL, "\n", &save))) {
        *lines = xrealloc(*lines, (size_t)(n + 1) * sizeof(char *));
        (*lines)[n++] = xstrdup(line);
    }
    free(buf);
    return n;
}

Test(train, predict_writes_every_galaxy_with_the_dataset_s_predictions) {
    dataset ds;
    open_data(&ds, 36, 32);
    sfnet *m = model(4, 2, 32, 16, 10);
    head_at_mean(m, &ds);
    weights_meta wm;
    weights_meta_from(&wm, m, &ds, 36);
    const char *wpath = path_in("w.safetensors");
    cr_assert_eq(weights_save(m, &wm, wpath), SF_OK);
    infer_result want;
    int *all = xmalloc((size_t)ds.n * sizeof(int));
    for (int i = 0; i < ds.n; i++) all[i] = i;
    cr_assert_eq(infer_dataset(m, &ds, all, ds.n, 0, 1, &want), SF_OK);

    char csv[600], img[600];
    snprintf(csv, sizeof csv, "%s/galaxies.csv", data_dir());
    snprintf(img, sizeof img, "%s/images", data_dir());
    const char *out = path_in("pred.csv");
    char *argv[] = {"predict", "--weights", (char *)wpath, "--catalog", csv,       "--images", img,
                    "-o",      (char *)out, "--batch",     "7",         "--quiet", NULL};
    cr_assert_eq(cli_predict(12, argv), 0, "%s", sf_last_error());
    char header[256], **lines;
    int n = read_csv(out, header, sizeof header, &lines);
    cr_assert_str_eq(header, "objID,oh_p50,feature_1,value_1,feature_2,value_2");
    cr_assert_eq(n, ds.n);
    for (int i = 0; i < n; i++) {
        char id[64];
        double pred, v1, v2;
        int f1, f2;
        cr_assert_eq(sscanf(lines[i], "%63[^,],%lf,%d,%lf,%d,%lf", id, &pred, &f1, &v1, &f2, &v2),
                     6, "%s", lines[i]);
        cr_assert_str_eq(id, dataset_obj_id(&ds, i));
        cr_assert_float_eq(pred, want.pred[i], 1e-5 * fabs(want.pred[i]), "%s: %g vs %g", id, pred,
                           want.pred[i]);
        cr_assert_eq(f1, want.feat_idx[i * 2]);
        cr_assert_eq(f2, want.feat_idx[i * 2 + 1]);
        free(lines[i]);
    }
    free(lines);

    /* a converted file without metadata needs flags; bad usage is 2 */
    char *bad[] = {"predict", "--weights", (char *)wpath, NULL};
    cr_assert_eq(cli_predict(3, bad), 2);
    st_writer w;
    st_writer_init(&w);
    weights_meta bare;
    weights_meta_clear(&bare);
    int64_t nbt = 0;
    weights_add(&w, m, &bare, &nbt);
    const char *bpath = path_in("bare.safetensors");
    cr_assert_eq(st_writer_save(&w, bpath), SF_OK);
    st_writer_free(&w);
    char *noflags[] = {"predict", "-w", (char *)bpath, "-c", csv, "-i",
                       img,       "-o", (char *)out,   "-q", NULL};
    cr_assert_eq(cli_predict(10, noflags), 1);
    char *flags[] = {"predict",  "-w",          (char *)bpath, "-c", csv,      "-i",
                     img,        "-o",          (char *)out,   "-q", "--k",    "2",
                     "--resize", "36",          "--crop",      "32", "--mean", "0.1,0.1,0.1",
                     "--std",    "0.2,0.2,0.2", "--targets",   "Z",  NULL};
    cr_assert_eq(cli_predict(22, flags), 0, "%s", sf_last_error());
    n = read_csv(out, header, sizeof header, &lines);
    cr_assert_str_eq(header, "objID,Z,feature_1,value_1,feature_2,value_2");
    cr_assert_eq(n, ds.n);
    for (int i = 0; i < n; i++) free(lines[i]);
    free(lines);

    free(all);
    infer_result_free(&want);
    sfnet_free(m);
    dataset_close(&ds);
}

/* ---- a loss that is not finite: bad data or divergence, told apart ---------------- */

static void small_options(train_options *o, int epochs, double lr) {
    train_options_default(o);
    o->epochs = epochs;
    o->batch = 16;
    o->lr = lr;
    o->quiet = 1;
}

Test(train, a_non_finite_target_is_reported_as_bad_data_naming_the_galaxy) {
    dataset ds;
    open_data(&ds, 36, 32);
    /* a target that no catalogue cut lets through any more, put there by hand */
    int victim = ds.train_idx[3];
    ds.y[victim] = NAN;
    sfnet *m = model(2, 4, 32, 16, 1);
    train_options o;
    small_options(&o, 1, 0.01);
    o.checkpoint = path_in("bad.ckpt");
    train_result r;
    cr_assert_eq(train_run(m, &ds, &o, &r), SF_ERR);
    const char *e = sf_last_error();
    cr_assert(strstr(e, dataset_obj_id(&ds, victim)), "names the galaxy: %s", e);
    cr_assert(strstr(e, "oh_p50"), "names the target: %s", e);
    cr_assert(strstr(e, "data"), "says it is the data: %s", e);
    cr_assert_null(strstr(e, "lr"), "does not blame the learning rate: %s", e);
    cr_assert_null(strstr(e, "checkpoint is intact"), "no checkpoint was written: %s", e);
    cr_assert_neq(access(path_in("bad.ckpt"), F_OK), 0);
    train_result_free(&r);
    sfnet_free(m);
    dataset_close(&ds);
}

Test(train, divergence_blames_the_learning_rate_and_names_only_a_checkpoint_that_exists) {
    dataset ds;
    open_data(&ds, 36, 32);
    sfnet *m = model(2, 4, 32, 16, 1);
    train_options o;
    small_options(&o, 1, 1e30);
    o.checkpoint = path_in("div.ckpt");
    train_result r;
    cr_assert_eq(train_run(m, &ds, &o, &r), SF_ERR);
    const char *e = sf_last_error();
    cr_assert(strstr(e, "diverged") && strstr(e, "--lr"), "%s", e);
    cr_assert(strstr(e, "no checkpoint"), "says none was written: %s", e);
    cr_assert_null(strstr(e, "is intact"), "%s", e);
    cr_assert_neq(access(path_in("div.ckpt"), F_OK), 0);
    train_result_free(&r);

    sfnet_free(m);
    dataset_close(&ds);
}

/* After the first step of epoch 2 (the checkpoint of epoch 1 written), every target
 * turns bad. */
static int poison_cb(void *ctx, int epoch, int step, float loss) {
    dataset *ds = ctx;
    if (epoch == 1 && step == 0)
        for (int i = 0; i < ds->n; i++) ds->y[i] = INFINITY;
    return 0;
}

Test(train, a_failure_after_a_checkpoint_names_it) {
    dataset ds;
    open_data(&ds, 36, 32);
    sfnet *m = model(2, 4, 32, 16, 1);
    train_options o;
    small_options(&o, 2, 0.01);
    o.checkpoint = path_in("kept.ckpt");
    o.on_step = poison_cb;
    o.ctx = &ds;
    train_result r;
    cr_assert_eq(train_run(m, &ds, &o, &r), SF_ERR);
    const char *e = sf_last_error();
    cr_assert(strstr(e, "galaxy 1237") && strstr(e, "= inf"), "names a galaxy: %s", e);
    cr_assert(strstr(e, "kept.ckpt") && strstr(e, "epoch 1"), "names the checkpoint: %s", e);
    cr_assert_eq(access(path_in("kept.ckpt"), F_OK), 0);
    train_result_free(&r);
    sfnet_free(m);
    dataset_close(&ds);
}

static int count_galaxies(void *ctx, const infer_batch *b) {
    *(int *)ctx += b->n;
    return SF_OK;
}

/* The oneDNN engine builds the primitives of a batch size on first use; when that
 * fails, training, validation and inference stop with the message instead of
 * aborting, and the same model trains once the build goes through. */
Test(train, a_batch_size_the_engine_cannot_build_is_an_error) {
    dataset ds;
    open_data(&ds, 40, 32);
    sfnet_config cfg = {.width = 8, .k = 4, .n_out = 1, .in_size = 32};
    sfnet *m = sfnet_create(&cfg, 32, NN_ENGINE_ONEDNN);
    cr_assert_not_null(m, "%s", sf_last_error());
    sfnet_init(m, 1);
    train_options o;
    train_options_default(&o);
    o.epochs = 1;
    o.batch = 32;
    o.quiet = 1;
    train_result r;
    nn_onednn_failing_builds = 1; /* the training plan, built at the first step */
    cr_assert_eq(train_run(m, &ds, &o, &r), SF_ERR);
    cr_assert(strstr(sf_last_error(), "epoch 1, step 1: batches of 32"), "%s", sf_last_error());
    train_result_free(&r);

    infer_result ir;
    nn_onednn_failing_builds = 1; /* 80 validation galaxies: 32, 32, then 16 */
    cr_assert_eq(infer_dataset(m, &ds, ds.valid_idx, ds.n_valid, 0, 1, &ir), SF_ERR);
    cr_assert(strstr(sf_last_error(), "batches of 16"), "%s", sf_last_error());

    int seen = 0;
    infer_source src = {.ds = &ds, .quiet = 1};
    infer_stats st;
    nn_onednn_failing_builds = 1; /* 400 galaxies: 12 batches of 32, then 16 */
    cr_assert_eq(infer_pipe_run(m, &src, count_galaxies, &seen, &st), SF_ERR);
    cr_assert(strstr(sf_last_error(), "batches of 16"), "%s", sf_last_error());
    cr_assert(seen <= 384 && seen % 32 == 0, "whole batches before it, no more: %d", seen);
    cr_assert_eq(st.interrupted, 0);

    cr_assert_eq(nn_onednn_failing_builds, 0);
    cr_assert_eq(train_run(m, &ds, &o, &r), SF_OK, "%s", sf_last_error());
    cr_assert_eq(r.epochs_done, 1);
    cr_assert(isfinite(r.final_valid_rmse));
    train_result_free(&r);
    sfnet_free(m);
    dataset_close(&ds);
}
