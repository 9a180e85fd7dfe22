/* test_store_merge.c: joining shard runs (store_merge, `sfnet-explore merge`).
 *
 * Shard runs are written here through the store API from one fixture run (the
 * galaxies split by objID hash, as predict --shard splits them); the reference is the
 * same fixture written as one run. The merged run must hold the same galaxies, splits,
 * predictions, activations, thumbnails and catalogue values, and the same statistics to
 * float rounding; mismatched shards are refused naming the file and the setting;
 * merging again changes nothing; extending a run keeps its labels and marks; and a
 * merge killed with SIGKILL at any moment leaves the database as it was. */
#include <criterion/criterion.h>
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

#include "cli.h"
#include "data_shard.h"
#include "merge_fixture.h"
#include "sf_util.h"
#include "store.h"
#include "store_fixture.h"

static char dir[64];

static void setup(void) {
    fixture_tmpdir(dir, sizeof dir);
    cr_assert(dir[0]);
}

static void teardown(void) {
    if (dir[0]) fixture_rmdir(dir);
}

TestSuite(merge, .init = setup, .fini = teardown, .timeout = 600);

static const char *path_in(const char *name) {
    static char bufs[8][256];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

/* The settings a shard run records (what predict --into writes in hyper). */
typedef struct {
    int resize, crop, split_over;
    const char *shard;
} shard_settings;

static char *hyper_of(const shard_settings *st) {
    char *h = malloc(256);
    snprintf(h, 256,
             "{\"built_from\":\"w\",\"batch\":64,\"resize\":%d,\"crop\":%d,\"k\":3,"
             "\"width\":2,\"split_over\":%d%s%s%s}",
             st->resize, st->crop, st->split_over, st->shard ? ",\"shard\":\"" : "",
             st->shard ? st->shard : "", st->shard ? "\"" : "");
    return h;
}

static const uint8_t weights_a[] = "safetensors bytes of model A, the same in every shard";
static const uint8_t weights_b[] = "safetensors bytes of model B, another set of weights!";

/* Writes galaxies idx[0..n) of fx as one run of path, as predict would: RMSEs to be
 * computed, the weights, the settings. */
static int64_t write_run(const char *path, fixture_run *fx, const int *idx, int n,
                         const shard_settings *st, const uint8_t *weights, const char *prefix) {
    store_run_input in = fx->in;
    store_galaxy_input *gal = calloc((size_t)n, sizeof *gal);
    uint8_t *split = calloc((size_t)n, 1);
    float *pred = calloc((size_t)n * fx->n_out, sizeof *pred);
    float *truth = calloc((size_t)n * fx->n_out, sizeof *truth);
    int *ti = calloc((size_t)n * fx->k, sizeof *ti);
    float *tv = calloc((size_t)n * fx->k, sizeof *tv);
    for (int j = 0; j < n; j++) {
        int i = idx[j];
        gal[j] = fx->galaxies[i];
        split[j] = fx->split[i];
        memcpy(&pred[j * fx->n_out], &fx->pred[i * fx->n_out], fx->n_out * sizeof(float));
        memcpy(&truth[j * fx->n_out], &fx->truth[i * fx->n_out], fx->n_out * sizeof(float));
        memcpy(&ti[j * fx->k], &fx->topk_idx[i * fx->k], fx->k * sizeof(int));
        memcpy(&tv[j * fx->k], &fx->topk_val[i * fx->k], fx->k * sizeof(float));
    }
    in.n = n;
    in.galaxies = gal;
    in.split = split;
    in.pred = pred;
    in.truth = truth;
    in.topk_idx = ti;
    in.topk_val = tv;
    in.run.train_rmse = in.run.valid_rmse = NAN;
    for (int t = 0; t < STORE_MAX_TARGETS; t++)
        in.run.train_rmse_t[t] = in.run.valid_rmse_t[t] = NAN;
    in.run.hyper_json = hyper_of(st);
    snprintf(in.run.prefix, sizeof in.run.prefix, "%s", prefix ? prefix : "");
    in.weights = weights;
    in.weights_len = sizeof weights_a;
    store *s;
    cr_assert_eq(store_open(&s, path, STORE_CREATE), SF_OK, "%s", sf_last_error());
    int64_t id = 0;
    cr_assert_eq(store_add_run(s, &in, &id), SF_OK, "%s", sf_last_error());
    store_close(s);
    free(in.run.hyper_json);
    free(gal);
    free(split);
    free(pred);
    free(truth);
    free(ti);
    free(tv);
    return id;
}

/* The galaxies of fx in shard i of n (by objID hash). */
static int shard_members(const fixture_run *fx, int i, int n, int *idx) {
    int m = 0;
    for (int g = 0; g < fx->n; g++)
        if (shard_of(fx->objid[g], n) == i) idx[m++] = g;
    return m;
}

/* Shard files shard-0..n-1.db of fx; *all_idx gets 0..fx->n-1. */
static void write_shards(fixture_run *fx, int n, const shard_settings *base) {
    int *idx = malloc((size_t)fx->n * sizeof *idx);
    for (int i = 0; i < n; i++) {
        int m = shard_members(fx, i, n, idx);
        cr_assert_gt(m, 0);
        char name[64], spec[32];
        snprintf(name, sizeof name, "shard-%d.db", i);
        snprintf(spec, sizeof spec, "%d/%d", i, n);
        shard_settings st = *base;
        st.shard = spec;
        write_run(path_in(name), fx, idx, m, &st, weights_a, NULL);
    }
    free(idx);
}

static int merge_files(const char *out_path, const char *const *files, int n, const char *name,
                       store_merge_result *res) {
    store *out;
    cr_assert_eq(store_open(&out, out_path, STORE_CREATE), SF_OK, "%s", sf_last_error());
    store **sh = calloc((size_t)n, sizeof *sh);
    for (int i = 0; i < n; i++)
        cr_assert_eq(store_open(&sh[i], files[i], STORE_READ), SF_OK, "%s", sf_last_error());
    store_merge_options opt = {.name = name, .quiet = 1};
    int rc = store_merge(out, sh, n, &opt, res);
    for (int i = 0; i < n; i++) store_close(sh[i]);
    free(sh);
    store_close(out);
    return rc;
}

static const shard_settings predict_settings = {.resize = 72, .crop = 64, .split_over = 600};

/* ---- tests --------------------------------------------------------------------- */

Test(merge, shards_give_the_run_of_the_whole_catalogue) {
    fixture_run fx;
    fixture_make(&fx, 600, 16, 3, 2, 14, 1237648702973411000LL, 5);
    int *all = malloc(600 * sizeof *all);
    for (int i = 0; i < 600; i++) all[i] = i;
    int64_t single =
        write_run(path_in("single.db"), &fx, all, 600, &predict_settings, weights_a, NULL);
    write_shards(&fx, 4, &predict_settings);
    const char *files[] = {path_in("shard-2.db"), path_in("shard-0.db"), path_in("shard-3.db"),
                           path_in("shard-1.db")};
    store_merge_result res;
    cr_assert_eq(merge_files(path_in("merged.db"), files, 4, NULL, &res), SF_OK, "%s",
                 sf_last_error());
    cr_assert_eq(res.n_galaxies, 600);
    cr_assert_eq(res.n_added, 600);
    cr_assert_eq(res.n_duplicates, 0);
    cr_assert_str_eq(res.prefix, "R", "the shards' run name");
    assert_same_run(path_in("merged.db"), res.run_id, path_in("single.db"), single);

    /* the merged run says which shards it holds */
    store *s;
    cr_assert_eq(store_open(&s, path_in("merged.db"), STORE_READ), SF_OK);
    store_run run;
    cr_assert_eq(store_run_get(s, res.run_id, &run), SF_OK);
    cr_assert(strstr(run.hyper_json, "\"merged_shards\":[\"2/4\",\"0/4\",\"3/4\",\"1/4\"]"), "%s",
              run.hyper_json);
    cr_assert(strstr(run.hyper_json, "\"split_over\":600"), "%s", run.hyper_json);
    store_run_clear(&run);
    store_close(s);
    free(all);
    fixture_free(&fx);
}

Test(merge, merging_again_changes_nothing_and_a_run_grows_with_later_shards) {
    fixture_run fx;
    fixture_make(&fx, 300, 16, 3, 1, 12, 5000, 9);
    int *all = malloc(300 * sizeof *all);
    for (int i = 0; i < 300; i++) all[i] = i;
    int64_t single =
        write_run(path_in("single.db"), &fx, all, 300, &predict_settings, weights_a, NULL);
    write_shards(&fx, 3, &predict_settings);
    const char *out = path_in("merged.db");

    const char *first[] = {path_in("shard-0.db"), path_in("shard-1.db")};
    store_merge_result res;
    cr_assert_eq(merge_files(out, first, 2, NULL, &res), SF_OK, "%s", sf_last_error());
    cr_assert_eq(res.n_added, res.n_galaxies);
    int64_t first_id = res.run_id;

    /* a label, a note and marks on the partial run */
    store *s;
    cr_assert_eq(store_open(&s, out, STORE_WRITE), SF_OK);
    cr_assert_eq(store_feature_label(s, first_id, 3, "bulges", "round ones"), SF_OK);
    cr_assert_eq(store_mark_add(s, first_id, 5, 0, "look again", NULL), SF_OK);
    int in_first[300];
    cr_assert_gt(shard_members(&fx, 0, 3, in_first), 0);
    store_galaxy g;
    cr_assert_eq(store_galaxy_find(s, fx.objid[in_first[0]], &g), SF_OK);
    cr_assert_eq(store_mark_add(s, first_id, -1, g.id, NULL, NULL), SF_OK);
    store_galaxy_clear(&g);
    store_close(s);

    /* the same shard again (twice on one command line, too): nothing changes */
    uint64_t before = digest(out);
    const char *again[] = {path_in("shard-1.db"), path_in("shard-1.db")};
    cr_assert_eq(merge_files(out, again, 2, NULL, &res), SF_OK, "%s", sf_last_error());
    cr_assert(res.unchanged);
    cr_assert_eq(res.run_id, first_id);
    cr_assert_eq(digest(out), before);

    /* the last shard arrives: the run grows to the whole catalogue's */
    const char *last[] = {path_in("shard-2.db"), path_in("shard-0.db")};
    cr_assert_eq(merge_files(out, last, 2, NULL, &res), SF_OK, "%s", sf_last_error());
    cr_assert(!res.unchanged);
    cr_assert(res.replaced);
    cr_assert_eq(res.old_run_id, first_id);
    cr_assert_eq(res.n_galaxies, 300);
    cr_assert_str_eq(res.prefix, "Z");
    assert_same_run(out, res.run_id, path_in("single.db"), single);
    cr_assert_eq(store_open(&s, out, STORE_READ), SF_OK);
    store_run *runs;
    int nr;
    cr_assert_eq(store_runs(s, &runs, &nr), SF_OK);
    cr_assert_eq(nr, 1, "the extended run replaces the partial one");
    store_runs_free(runs, nr);
    store_feature f;
    cr_assert_eq(store_feature_get(s, res.run_id, 3, &f), SF_OK);
    cr_assert_str_eq(f.label, "bulges");
    cr_assert_str_eq(f.note, "round ones");
    store_mark *marks;
    int nm;
    cr_assert_eq(store_marks(s, res.run_id, &marks, &nm), SF_OK);
    cr_assert_eq(nm, 2);
    cr_assert_eq(marks[0].feature, 5);
    cr_assert_str_eq(marks[0].note, "look again");
    free(marks);
    store_close(s);
    free(all);
    fixture_free(&fx);
}

Test(merge, a_galaxy_in_several_shards_is_taken_once) {
    fixture_run fx;
    fixture_make(&fx, 120, 16, 3, 1, 12, 9000, 4);
    int idx[120];
    for (int i = 0; i < 120; i++) idx[i] = i;
    int64_t single =
        write_run(path_in("single.db"), &fx, idx, 120, &predict_settings, weights_a, NULL);
    /* overlapping slices: 0..79 and 40..119 */
    write_run(path_in("a.db"), &fx, idx, 80, &predict_settings, weights_a, NULL);
    write_run(path_in("b.db"), &fx, idx + 40, 80, &predict_settings, weights_a, NULL);
    const char *files[] = {path_in("a.db"), path_in("b.db")};
    store_merge_result res;
    cr_assert_eq(merge_files(path_in("m.db"), files, 2, NULL, &res), SF_OK, "%s", sf_last_error());
    cr_assert_eq(res.n_galaxies, 120);
    cr_assert_eq(res.n_duplicates, 40);
    assert_same_run(path_in("m.db"), res.run_id, path_in("single.db"), single);
    fixture_free(&fx);
}

/* Shard b differs from shard a in one setting: the merge fails naming b and the
 * setting, and out stays as it was. */
static void expect_refusal(fixture_run *fx_b, const shard_settings *sb, const uint8_t *wb,
                           const char *setting) {
    const char *names[] = {"a.db", "b.db", "out.db"};
    for (int i = 0; i < 3; i++) {
        char side[300];
        unlink(path_in(names[i]));
        snprintf(side, sizeof side, "%s-wal", path_in(names[i]));
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", path_in(names[i]));
        unlink(side);
    }
    fixture_run fx;
    fixture_make(&fx, 60, 16, 3, 1, 12, 100, 2);
    int idx[60];
    for (int i = 0; i < 60; i++) idx[i] = i;
    write_run(path_in("a.db"), &fx, idx, 30, &predict_settings, weights_a, NULL);
    write_run(path_in("b.db"), fx_b ? fx_b : &fx, idx + 30, 30, sb ? sb : &predict_settings,
              wb ? wb : weights_a, NULL);
    /* out holds a run already, which must not change */
    write_run(path_in("out.db"), &fx, idx, 10, &predict_settings, weights_a, "Old");
    uint64_t before = digest(path_in("out.db"));
    const char *files[] = {path_in("a.db"), path_in("b.db")};
    store_merge_result res;
    cr_assert_eq(merge_files(path_in("out.db"), files, 2, NULL, &res), SF_ERR,
                 "a shard differing in %s was merged", setting);
    const char *msg = sf_last_error();
    cr_assert(strstr(msg, path_in("b.db")), "the message names the shard: %s", msg);
    cr_assert(strstr(msg, setting), "the message names the setting '%s': %s", setting, msg);
    cr_assert_eq(digest(path_in("out.db")), before, "out.db changed");
    fixture_free(&fx);
}

Test(merge, refuses_other_weights) { expect_refusal(NULL, NULL, weights_b, "weights"); }

Test(merge, refuses_other_preprocessing) {
    shard_settings st = predict_settings;
    st.crop = 60;
    expect_refusal(NULL, &st, NULL, "input (resize, crop)");
}

Test(merge, refuses_another_catalogue_split) {
    shard_settings st = predict_settings;
    st.split_over = 599;
    expect_refusal(NULL, &st, NULL, "split (the galaxies it was drawn over)");
}

Test(merge, refuses_other_targets_seeds_and_normalisation) {
    fixture_run fb;
    fixture_make(&fb, 60, 16, 3, 1, 12, 100, 2);
    snprintf(fb.in.run.target_names[0], sizeof fb.in.run.target_names[0], "log_oh");
    expect_refusal(&fb, NULL, NULL, "target");
    fixture_free(&fb);
    fixture_make(&fb, 60, 16, 3, 1, 12, 100, 2);
    fb.in.run.split_seed = 7;
    expect_refusal(&fb, NULL, NULL, "split seed");
    fixture_free(&fb);
    fixture_make(&fb, 60, 16, 3, 1, 12, 100, 2);
    fb.in.run.image_std[1] = 0.25f;
    expect_refusal(&fb, NULL, NULL, "normalisation");
    fixture_free(&fb);
}

Test(merge, the_run_to_extend_is_named_when_several_could_be) {
    fixture_run fx;
    fixture_make(&fx, 80, 16, 3, 1, 12, 700, 3);
    int idx[80];
    for (int i = 0; i < 80; i++) idx[i] = i;
    write_run(path_in("s.db"), &fx, idx + 40, 40, &predict_settings, weights_a, NULL);
    write_run(path_in("out.db"), &fx, idx, 20, &predict_settings, weights_a, "Z");
    write_run(path_in("out.db"), &fx, idx + 20, 20, &predict_settings, weights_a, "Zb");
    uint64_t before = digest(path_in("out.db"));
    const char *files[] = {path_in("s.db")};
    store_merge_result res;
    cr_assert_eq(merge_files(path_in("out.db"), files, 1, NULL, &res), SF_ERR);
    cr_assert(strstr(sf_last_error(), "--name"), "%s", sf_last_error());
    cr_assert_eq(digest(path_in("out.db")), before);
    cr_assert_eq(merge_files(path_in("out.db"), files, 1, "Zb", &res), SF_OK, "%s",
                 sf_last_error());
    cr_assert_str_eq(res.prefix, "Zb");
    cr_assert_eq(res.n_galaxies, 60);
    /* a name not taken makes a new run */
    cr_assert_eq(merge_files(path_in("out.db"), files, 1, "Zs", &res), SF_OK, "%s",
                 sf_last_error());
    cr_assert_str_eq(res.prefix, "Zs");
    cr_assert_eq(res.n_galaxies, 40);
    cr_assert(!res.replaced);
    fixture_free(&fx);
}

Test(merge, empty_shards_are_skipped_and_a_file_of_several_runs_refused) {
    fixture_run fx;
    fixture_make(&fx, 40, 16, 3, 1, 12, 800, 3);
    int idx[40];
    for (int i = 0; i < 40; i++) idx[i] = i;
    write_run(path_in("s.db"), &fx, idx, 40, &predict_settings, weights_a, NULL);
    store *s;
    cr_assert_eq(store_open(&s, path_in("empty.db"), STORE_CREATE), SF_OK);
    store_close(s);
    const char *files[] = {path_in("empty.db"), path_in("s.db")};
    store_merge_result res;
    cr_assert_eq(merge_files(path_in("m.db"), files, 2, NULL, &res), SF_OK, "%s", sf_last_error());
    cr_assert_eq(res.n_empty, 1);
    cr_assert_eq(res.n_galaxies, 40);
    const char *only_empty[] = {path_in("empty.db")};
    cr_assert_eq(merge_files(path_in("m2.db"), only_empty, 1, NULL, &res), SF_ERR);
    cr_assert(strstr(sf_last_error(), "no galaxies to merge"), "%s", sf_last_error());
    write_run(path_in("s.db"), &fx, idx, 10, &predict_settings, weights_a, "Again");
    const char *two_runs[] = {path_in("s.db")};
    cr_assert_eq(merge_files(path_in("m3.db"), two_runs, 1, NULL, &res), SF_ERR);
    cr_assert(strstr(sf_last_error(), "holds 2 runs"), "%s", sf_last_error());
    fixture_free(&fx);
}

static int run_cli(int (*fn)(int, char **), char **argv) {
    int argc = 0;
    while (argv[argc]) argc++;
    return fn(argc, argv);
}

Test(merge, the_command_makes_a_new_file_only_when_it_succeeds) {
    fixture_run fx;
    fixture_make(&fx, 40, 16, 3, 1, 12, 800, 3);
    int idx[40];
    for (int i = 0; i < 40; i++) idx[i] = i;
    write_run(path_in("a.db"), &fx, idx, 20, &predict_settings, weights_a, NULL);
    write_run(path_in("b.db"), &fx, idx + 20, 20, &predict_settings, weights_b, NULL);
    char out[256], a[256], b[256];
    snprintf(out, sizeof out, "%s", path_in("new.db"));
    snprintf(a, sizeof a, "%s", path_in("a.db"));
    snprintf(b, sizeof b, "%s", path_in("b.db"));
    char *bad[] = {"merge", "-q", out, a, b, NULL};
    cr_assert_eq(run_cli(cli_merge, bad), 1);
    cr_assert_neq(access(out, F_OK), 0, "a failed merge leaves no new file");
    char *good[] = {"merge", "-q", out, a, NULL};
    cr_assert_eq(run_cli(cli_merge, good), 0);
    cr_assert_eq(access(out, F_OK), 0);
    char *into_itself[] = {"merge", "-q", out, out, NULL};
    cr_assert_eq(run_cli(cli_merge, into_itself), 2);
    char *usage[] = {"merge", out, NULL};
    cr_assert_eq(run_cli(cli_merge, usage), 2);
    fixture_free(&fx);
}

/* ---- SIGKILL ---------------------------------------------------------------------- */

static const char *binary(void) {
    const char *env = getenv("SFNET_BIN");
    if (env && *env) return env;
#ifdef __SANITIZE_ADDRESS__
    return "build-san/sfnet-explore";
#else
    return "build/sfnet-explore";
#endif
}

/* What the last merge said (static text). */
static const char *merge_log(void) {
    static char text[4096];
    FILE *f = fopen(path_in("merge.log"), "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    text[n] = 0;
    return text;
}

static pid_t start_merge(const char *out, char *const *files, int n) {
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char *argv[16] = {(char *)binary(), "merge", "-q", (char *)out};
        for (int i = 0; i < n; i++) argv[4 + i] = files[i];
        argv[4 + n] = NULL;
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        /* its messages, for the failure's */
        int log = open(path_in("merge.log"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (log >= 0) dup2(log, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

Test(merge, sigkill_at_any_moment_leaves_the_database_as_it_was, .timeout = 900) {
    cr_assert_eq(access(binary(), X_OK), 0, "no sfnet-explore binary at %s (set SFNET_BIN)",
                 binary());
    /* shards large enough that the merge takes a while: 4 x ~2000 galaxies */
    fixture_run fx;
    fixture_make(&fx, 8000, 64, 4, 2, 60, 1237650000000000000LL, 11);
    shard_settings st = predict_settings;
    st.split_over = 8000;
    write_shards(&fx, 4, &st);
    /* OUT.db holds a run the merge would extend */
    int idx[500];
    for (int i = 0; i < 500; i++) idx[i] = i;
    write_run(path_in("out.db"), &fx, idx, 500, &st, weights_a, NULL);
    uint64_t before = digest(path_in("out.db"));
    char *files[4];
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "shard-%d.db", i);
        files[i] = strdup(path_in(name));
    }
    char out[256];
    snprintf(out, sizeof out, "%s", path_in("out.db"));

    /* Ctrl-C: the merge stops and says so, and out.db is as it was (sent sooner each
     * time a merge finishes first) */
    int interrupted = 0, status;
    pid_t pid;
    for (long delay_ns = 500000000L; !interrupted && delay_ns >= 1000000L; delay_ns /= 2) {
        pid = start_merge(out, files, 4);
        struct timespec ts = {0, delay_ns};
        nanosleep(&ts, NULL);
        kill(pid, SIGINT);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status), "the merge did not exit after Ctrl-C");
        if (WEXITSTATUS(status) == 130) {
            cr_assert_eq(digest(out), before, "Ctrl-C changed %s", out);
            interrupted = 1;
            break;
        }
        cr_assert_eq(WEXITSTATUS(status), 0, "the merge failed: %s", merge_log());
        /* it had finished: start again from the run before */
        char side[300];
        snprintf(side, sizeof side, "%s-wal", out);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", out);
        unlink(side);
        unlink(out);
        write_run(out, &fx, idx, 500, &st, weights_a, NULL);
        before = digest(out);
    }
    cr_assert(interrupted, "every merge finished before its Ctrl-C");

    /* killed after 0.05 s, 0.1 s, 0.2 s ... until one merge finishes first */
    int killed = 0, finished = 0;
    for (double delay = 0.05; delay < 120 && !finished; delay *= 2) {
        pid = start_merge(out, files, 4);
        struct timespec ts = {(time_t)delay, (long)((delay - (time_t)delay) * 1e9)};
        nanosleep(&ts, NULL);
        if (waitpid(pid, &status, WNOHANG) == pid) {
            cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the merge failed: %s",
                      merge_log());
            finished = 1;
            break;
        }
        kill(pid, SIGKILL);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        if (WIFEXITED(status)) {
            cr_assert_eq(WEXITSTATUS(status), 0, "the merge failed: %s", merge_log());
            finished = 1;
            break;
        }
        cr_assert(WIFSIGNALED(status));
        sqlite3 *db;
        cr_assert_eq(sqlite3_open(out, &db), SQLITE_OK);
        if (digest(out) != before) {
            /* only a merge that had committed (killed while it closed the file) may have
             * changed it, and then it holds the whole merged run */
            cr_assert(sql1(db, "SELECT count(*) FROM runs") == 1 &&
                          sql1(db, "SELECT n_galaxies FROM runs") == 8000,
                      "SIGKILL after %.2f s changed %s", delay, out);
            sqlite3_close(db);
            finished = 1;
            break;
        }
        killed++;
        sqlite3_stmt *ic;
        cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &ic, NULL), SQLITE_OK);
        cr_assert_eq(sqlite3_step(ic), SQLITE_ROW);
        cr_assert_str_eq((const char *)sqlite3_column_text(ic, 0), "ok");
        sqlite3_finalize(ic);
        sqlite3_close(db);
    }
    cr_assert_geq(killed, 3, "the merge was killed only %d times before it finished", killed);
    cr_assert(finished, "the merge never finished");
    /* and the merge that finished holds every galaxy */
    store *s;
    cr_assert_eq(store_open(&s, out, STORE_READ), SF_OK);
    store_run run;
    cr_assert_eq(store_run_find(s, NULL, &run), SF_OK, "%s", sf_last_error());
    cr_assert_eq(run.n_galaxies, 8000);
    cr_log_info("merge killed %d times before one finished", killed);
    store_run_clear(&run);
    store_close(s);
    for (int i = 0; i < 4; i++) free(files[i]);
    fixture_free(&fx);
}
