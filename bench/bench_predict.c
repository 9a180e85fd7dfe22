/* bench_predict.c: `sfnet-explore predict --into` on survey-sized catalogues, as a user
 * runs it (the program itself, in a child process), and a survey as shards merged.
 *
 * The survey: catalogue rows drawn by the synthetic survey (38 numeric columns, as
 * many as a real MPA-JHU join), one 144 x 144 JPEG cutout per row, hard links to 400
 * distinct rendered cutouts (so 250,000 rows cost 400 files of disk; every image is
 * still read and decoded). It is made once under the cache folder and reused.
 *
 * The model: the paper's settings, random weights (speed does not depend on them):
 * width 64, k 4, resize 160 then crop 144, batch 64, oneDNN fp32. The target is the
 * redshift column z, which every row has, so the run holds every row.
 *
 * Rows printed, beside their goals:
 *  - predict --into at each catalogue size (10,000 and 250,000 rows by default): its
 *    galaxies/s end to end (the whole command: the model loaded, the catalogue read,
 *    every galaxy through, the run and its summaries committed), the network's
 *    images/s alone (batches in memory, measured here just before), their ratio (goal
 *    >= 0.90), and the process's peak resident memory (goal: flat, 250k within 10% of
 *    10k); below it, the pipeline's own rate as predict reports it;
 *  - one shard of 4 at paper settings: galaxies/s and peak memory;
 *  - merge of 4 shards of the largest catalogue (62,500 galaxies each at 250k), timed;
 *    the shards for it are made with a small model (width 4), since a merge's cost
 *    does not depend on the model's width, and the merged run is checked against an
 *    unsharded run of the same small model.
 * The load average is printed at the start and the end: figures taken on a busy
 * machine are not the machine's.
 *
 * Usage: bench_predict [--rows N,N...] [--shard-rows N] [--shards N] [--width W] [--size PX]
 *                      [--engine E] [--cache DIR]
 *   --rows    catalogue sizes (default 10000,250000); the last is sharded
 *   --shard-rows  the catalogue that is sharded and merged instead (for instance
 *             --rows 10000 --shard-rows 250000: the shard and merge rows without the
 *             unsharded run of 250,000 galaxies at the paper's settings, most of an hour)
 *   --shards  shards of the largest catalogue (default 4; 0: no shard or merge rows)
 *   --width   the model's width (default 64, the paper's; 0: no predict --into rows)
 *   --size    the cutouts' size (default 144, read through resize 160 and crop 144 as in
 *             the paper; other sizes are read as they are). A small model on small
 *             cutouts shows how memory grows with the rows in minutes: what grows
 *             (the galaxy list, SQLite's page cache, the 64 x 64 thumbnails, the
 *             per-run summaries) does not depend on the model or the cutouts.
 *   --engine  the engine of the predict --into rows (default onednn; the shards for the
 *             merge use the reference engine, which is the faster one for a width-4 model)
 *   --cache   where the survey and databases go (default $TMPDIR or /tmp,
 *             sfnet-bench-predict); the survey stays for the next run
 * At the default sizes it runs about half an hour on an idle 2-core machine.
 */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data_image.h"
#include "infer.h"
#include "nn_model.h"
#include "sf_util.h"
#include "synth.h"
#include "train.h"

enum { N_BASE = 400, MAX_SIZES = 8 };

static char cache[1024], bin[1024];
static char *engine = "onednn";
static int SIZE = 144; /* the cutouts */
static int RESIZE = 160, CROP = 144;

static void load_average(const char *when) {
    char buf[128] = "";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = 0;
    printf("  load average %s: %s (on %ld cores)\n", when, buf, sysconf(_SC_NPROCESSORS_ONLN));
}

static void die(const char *what) {
    fprintf(stderr, "bench_predict: %s: %s\n", what, sf_last_error());
    exit(1);
}

/* 400 distinct cutouts, and the catalogue's rows with a link to one of them each. The
 * catalogue of the largest size is written once; smaller ones are its first rows. */
static void make_survey(long rows) {
    char dir[1200], csv[1300], stamp[1300];
    snprintf(dir, sizeof dir, "%s/images-%d", cache, SIZE);
    snprintf(csv, sizeof csv, "%s/galaxies-%ld.csv", cache, rows);
    snprintf(stamp, sizeof stamp, "%s/.complete-%ld-%d", cache, rows, SIZE);
    if (access(stamp, F_OK) == 0) return;
    mkdir(dir, 0755);
    printf("  making a survey of %ld rows in %s (once)\n", rows, cache);
    fflush(stdout);
    char(*base)[1100] = xmalloc(N_BASE * sizeof *base);
    uint8_t *rgb = xmalloc((size_t)SIZE * SIZE * 3);
    for (int b = 0; b < N_BASE; b++) {
        synth_galaxy g;
        synth_draw(&g, 9001, b);
        synth_render_rgb(rgb, &g, SIZE);
        uint8_t *jpg;
        size_t len;
        if (image_encode_jpeg(rgb, SIZE, SIZE, 90, &jpg, &len) != SF_OK) die("encoding a cutout");
        snprintf(base[b], sizeof base[b], "%s/.base-%d-%03d.jpg", cache, SIZE, b);
        FILE *f = fopen(base[b], "wb");
        if (!f || fwrite(jpg, 1, len, f) != len || fclose(f) != 0) die(base[b]);
        free(jpg);
    }
    free(rgb);
    FILE *out = fopen(csv, "w");
    if (!out) die(csv);
    synth_csv_header(out);
    for (long i = 0; i < rows; i++) {
        synth_galaxy g;
        synth_draw(&g, 256, i);
        synth_csv_row(out, &g);
        char path[1400];
        snprintf(path, sizeof path, "%s/%s.jpg", dir, g.obj_id);
        if (link(base[i % N_BASE], path) != 0 && errno != EEXIST &&
            symlink(base[i % N_BASE], path) != 0 && errno != EEXIST) {
            sf_fail("%s: %s", path, strerror(errno));
            die("linking a cutout");
        }
    }
    if (fclose(out) != 0) die(csv);
    free(base);
    FILE *s = fopen(stamp, "w");
    if (s) fclose(s);
}

/* The first n rows of the big catalogue. */
static void head_catalogue(long big, long n, char *path, size_t len) {
    snprintf(path, len, "%s/galaxies-%ld.csv", cache, n);
    if (n == big || access(path, F_OK) == 0) return;
    char from[1300];
    snprintf(from, sizeof from, "%s/galaxies-%ld.csv", cache, big);
    FILE *in = fopen(from, "r"), *out = fopen(path, "w");
    if (!in || !out) die(path);
    char line[8192];
    for (long i = 0; i <= n && fgets(line, sizeof line, in); i++) fputs(line, out);
    fclose(in);
    if (fclose(out) != 0) die(path);
}

/* A random model with the input pipeline, its output named z. */
static void make_weights(const char *path, int width) {
    if (access(path, F_OK) == 0) return;
    sfnet_config cfg = {.width = width, .k = 4, .n_out = 1, .in_size = CROP};
    sfnet *m = sfnet_create(&cfg, 64, NN_ENGINE_REFERENCE);
    if (!m) die("making the model");
    sfnet_init(m, 3);
    weights_meta wm;
    weights_meta_from(&wm, m, NULL, RESIZE);
    wm.resize = RESIZE;
    wm.crop = CROP;
    wm.has_norm = 1;
    for (int c = 0; c < 3; c++) wm.mean[c] = 0.1f, wm.std[c] = 0.15f;
    wm.n_targets = 1;
    snprintf(wm.targets[0], sizeof wm.targets[0], "z");
    if (weights_save(m, &wm, path) != SF_OK) die(path);
    sfnet_free(m);
}

/* The network alone on batches in memory, images/s (as bench_build measures it). */
static double network_rate(int width) {
    sfnet_config cfg = {.width = width, .k = 4, .n_out = 1, .in_size = CROP, .inference_only = 1};
    sfnet *m = sfnet_create(&cfg, 64,
                            strcmp(engine, "reference") ? NN_ENGINE_ONEDNN : NN_ENGINE_REFERENCE);
    if (!m) die("making the model");
    sfnet_init(m, 3);
    size_t n = (size_t)64 * 3 * CROP * CROP;
    float *x = xmalloc_aligned(n * sizeof *x);
    sf_rng rng;
    sf_rng_seed(&rng, 7);
    for (size_t i = 0; i < n; i++) x[i] = (float)sf_rng_normal(&rng);
    float pred[64], val[64 * 4];
    int idx[64 * 4];
    infer_forward_batch(m, x, 64, pred, idx, val, NULL);
    int steps = 8;
    double t0 = sf_now();
    for (int s = 0; s < steps; s++) infer_forward_batch(m, x, 64, pred, idx, val, NULL);
    double rate = steps * 64 / (sf_now() - t0);
    free(x);
    sfnet_free(m);
    return rate;
}

typedef struct {
    double seconds;                 /* the whole command, as its user waits for it */
    double pipe_seconds;            /* predict's pipeline alone (its own line), or 0 */
    double peak_mb, rate, net_rate; /* rate: galaxies / seconds */
    int n;
} child_result;

static void remove_db(const char *path) {
    char side[1400];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

/* Runs `sfnet-explore ARGS...` with stderr into a file; its wall time, peak RSS and
 * the "N galaxies in S s: R galaxies/s (the network alone: Q/s)" line of predict. */
static child_result run(char *const *args) {
    char log[1300];
    snprintf(log, sizeof log, "%s/child.log", cache);
    fflush(stdout); /* else the child's freopen writes the table's pending text again */
    double t0 = sf_now();
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        if (!freopen(log, "w", stderr) || !freopen("/dev/null", "w", stdout)) _exit(126);
        char *argv[32] = {bin};
        for (int i = 0; args[i] && i < 30; i++) argv[i + 1] = args[i];
        execv(bin, argv);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid) die("wait");
    child_result r = {.seconds = sf_now() - t0, .peak_mb = ru.ru_maxrss / 1024.0};
    char *text = NULL;
    size_t len;
    if (sf_read_file(log, &text, &len) != SF_OK) text = xstrdup("");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_predict: %s %s failed:\n%s\n", bin, args[0], text);
        exit(1);
    }
    const char *line = strstr(text, " galaxies in ");
    while (line && line > text && line[-1] != '\n' && line[-1] != ' ') line--;
    double secs;
    if (line && sscanf(line, "%d galaxies in %lf s: %lf galaxies/s (the network alone: %lf/s)",
                       &r.n, &secs, &r.rate, &r.net_rate) == 4) {
        r.pipe_seconds = secs;
        r.rate = r.n / r.seconds;
    }
    free(text);
    return r;
}

static double file_mb(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size / 1e6 : NAN;
}

/* One number from a database. */
static double query(const char *db, const char *sql) {
    sqlite3 *h;
    sqlite3_stmt *st;
    double v = NAN;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_double(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return v;
}

/* The figures beside their goals. */
static void summary_rows(const long *sizes, int n_sizes, const double *peak, const double *ratio,
                         int paper, const child_result *one, const child_result *merge, int shards,
                         long sharded) {
    printf("\n  %-52s %12s %12s\n", "", "figure", "goal");
    for (int s = 0; s < n_sizes && paper; s++) {
        char what[96];
        snprintf(what, sizeof what, "end to end / network alone, %ld rows", sizes[s]);
        printf("  %-52s %12.2f %12s\n", what, ratio[s], ">= 0.90");
    }
    if (paper && n_sizes > 1) {
        char what[96];
        snprintf(what, sizeof what, "peak memory, %ld rows / %ld rows", sizes[n_sizes - 1],
                 sizes[0]);
        printf("  %-52s %12.2f %12s\n", what, peak[n_sizes - 1] / peak[0], "<= 1.10");
        snprintf(what, sizeof what, "peak memory at %ld rows, MB", sizes[n_sizes - 1]);
        printf("  %-52s %12.0f %12s\n", what, peak[n_sizes - 1], "");
    }
    if (one) printf("  %-52s %12.1f %12s\n", "one shard, galaxies/s", one->rate, "");
    if (merge) {
        char what[96];
        snprintf(what, sizeof what, "merge of %d shards (%ld rows), seconds", shards, sharded);
        printf("  %-52s %12.1f %12s\n", what, merge->seconds, "");
    }
}

int main(int argc, char **argv) {
    long sizes[MAX_SIZES] = {10000, 250000};
    int n_sizes = 2, shards = 4, width = 64;
    long shard_rows = 0;
    const char *tmp = getenv("TMPDIR");
    snprintf(cache, sizeof cache, "%s/sfnet-bench-predict", tmp && *tmp ? tmp : "/tmp");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc) {
            n_sizes = 0;
            for (char *p = argv[++i]; *p && n_sizes < MAX_SIZES;) {
                sizes[n_sizes++] = strtol(p, &p, 10);
                if (*p == ',') p++;
                else break;
            }
        } else if (!strcmp(argv[i], "--shard-rows") && i + 1 < argc) {
            shard_rows = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--shards") && i + 1 < argc) {
            shards = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--cache") && i + 1 < argc) {
            snprintf(cache, sizeof cache, "%s", argv[++i]);
        } else if (!strcmp(argv[i], "--width") && i + 1 < argc) {
            width = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--engine") && i + 1 < argc) {
            engine = argv[++i];
        } else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
            SIZE = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_predict [--rows N,N...] [--shard-rows N] [--shards N] "
                            "[--width W] [--size PX] [--engine E] [--cache DIR]\n");
            return 2;
        }
    }
    if (n_sizes < 1 || shards < 0 || width < 0 || shard_rows < 0 || SIZE < 32 || SIZE > 1024)
        return 2;
    int paper = width > 0;
    if (SIZE != 144) RESIZE = CROP = SIZE;
    const char *env_bin = getenv("SFNET_BIN");
    snprintf(bin, sizeof bin, "%s", env_bin && *env_bin ? env_bin : "build/sfnet-explore");
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "bench_predict: no program at %s (build it, or set SFNET_BIN)\n", bin);
        return 1;
    }
    mkdir(cache, 0755);
    /* the survey holds the largest catalogue; the others are its first rows */
    long sharded = shard_rows > 0 ? shard_rows : sizes[n_sizes - 1];
    long big = sharded > sizes[n_sizes - 1] ? sharded : sizes[n_sizes - 1];
    printf("\npredict --into: width %d, k 4, %dx%d JPEG -> %d -> %d, batch 64, %s fp32 "
           "(the paper's: width 64, 144 -> 160 -> 144, onednn); %s\n",
           width, SIZE, SIZE, RESIZE, CROP, engine, cache);
    load_average("at the start");
    make_survey(big);
    char images[1300], w64[1300], w4[1300];
    snprintf(images, sizeof images, "%s/images-%d", cache, SIZE);
    snprintf(w64, sizeof w64, "%s/width%d-%d.safetensors", cache, width, CROP);
    snprintf(w4, sizeof w4, "%s/width4-%d.safetensors", cache, CROP);
    if (paper) make_weights(w64, width);
    make_weights(w4, 4);

    printf("  %-34s %9s %9s %10s %10s %7s %9s %9s\n", "", "galaxies", "seconds", "galaxies/s",
           "network/s", "ratio", "peak MB", "db MB");
    double peak[MAX_SIZES] = {0}, ratio[MAX_SIZES] = {0};
    for (int s = 0; s < n_sizes && paper; s++) {
        char csv[1300], db[1300], label[64];
        head_catalogue(big, sizes[s], csv, sizeof csv);
        snprintf(db, sizeof db, "%s/run-%ld.db", cache, sizes[s]);
        remove_db(db);
        double net = network_rate(width);
        char *args[] = {"predict",  "--weights", w64,      "--catalog", csv,
                        "--images", images,      "--into", db,          "--engine",
                        engine,     "--quiet",   NULL};
        child_result r = run(args);
        peak[s] = r.peak_mb;
        ratio[s] = r.rate / net;
        snprintf(label, sizeof label, "predict --into, %ld rows", sizes[s]);
        printf("  %-34s %9d %9.1f %10.1f %10.1f %7.2f %9.0f %9.0f\n", label, r.n, r.seconds, r.rate,
               net, ratio[s], r.peak_mb, file_mb(db));
        printf("  %-34s %9s %9.1f %10.1f %10.1f  (the pipeline alone, as predict reports it)\n", "",
               "", r.pipe_seconds, r.n / r.pipe_seconds, r.net_rate);
        fflush(stdout);
        remove_db(db);
    }

    /* one shard of the largest catalogue with the model above */
    char csv[1300];
    head_catalogue(big, sharded, csv, sizeof csv);
    child_result one = {0};
    if (paper && shards > 1) {
        char db[1300], spec[32];
        snprintf(db, sizeof db, "%s/paper-shard.db", cache);
        snprintf(spec, sizeof spec, "0/%d", shards);
        remove_db(db);
        char *args[] = {"predict",  "--weights", w64,      "--catalog", csv,
                        "--images", images,      "--into", db,          "--shard",
                        spec,       "--engine",  engine,   "--quiet",   NULL};
        one = run(args);
        char label[64];
        snprintf(label, sizeof label, "one shard (0/%d of %ld rows)", shards, sharded);
        printf("  %-34s %9d %9.1f %10.1f %10.1f %7s %9.0f %9.0f\n", label, one.n, one.seconds,
               one.rate, one.net_rate, "", one.peak_mb, file_mb(db));
        fflush(stdout);
        remove_db(db);
    }

    if (shards == 0) {
        summary_rows(sizes, n_sizes, peak, ratio, paper, NULL, NULL, 0, sharded);
        load_average("at the end");
        return 0;
    }
    /* the merge: shards of the small model, against its unsharded run */
    char single[1300], merged[1300];
    snprintf(single, sizeof single, "%s/small-single.db", cache);
    snprintf(merged, sizeof merged, "%s/small-merged.db", cache);
    remove_db(single);
    remove_db(merged);
    char **shard_db = xcalloc((size_t)shards + 8, sizeof *shard_db);
    double shard_seconds = 0;
    for (int i = 0; i < shards; i++) {
        shard_db[i] = xmalloc(1400);
        snprintf(shard_db[i], 1400, "%s/small-shard-%d.db", cache, i);
        remove_db(shard_db[i]);
        char spec[32];
        snprintf(spec, sizeof spec, "%d/%d", i, shards);
        char *args[] = {"predict",  "--weights", w4,          "--catalog", csv,
                        "--images", images,      "--into",    shard_db[i], "--shard",
                        spec,       "--engine",  "reference", "--quiet",   NULL};
        shard_seconds += run(args).seconds;
    }
    char *single_args[] = {"predict",   "--weights", w4,       "--catalog", csv,
                           "--images",  images,      "--into", single,      "--engine",
                           "reference", "--quiet",   NULL};
    child_result small = run(single_args);
    char *merge_args[16] = {"merge", "--quiet", merged};
    for (int i = 0; i < shards; i++) merge_args[3 + i] = shard_db[i];
    child_result m = run(merge_args);
    double n_merged = query(merged, "SELECT n_galaxies FROM runs");
    double n_single = query(single, "SELECT n_galaxies FROM runs");
    char label[96];
    snprintf(label, sizeof label, "merge %d shards of %ld rows", shards, sharded);
    printf("  %-34s %9.0f %9.1f %10.0f %10s %7s %9.0f %9.0f\n", label, n_merged, m.seconds,
           n_merged / m.seconds, "", "", m.peak_mb, file_mb(merged));
    printf("  (the shards for the merge: width 4, reference engine, %.0f s in all; unsharded: %d "
           "galaxies in "
           "%.0f s; merged run %s the unsharded one's %.0f galaxies)\n",
           shard_seconds, small.n, small.seconds, n_merged == n_single ? "holds" : "DIFFERS from",
           n_single);
    for (int i = 0; i < shards; i++) {
        remove_db(shard_db[i]);
        free(shard_db[i]);
    }
    free(shard_db);
    remove_db(single);
    remove_db(merged);

    summary_rows(sizes, n_sizes, peak, ratio, paper, shards > 1 && paper ? &one : NULL, &m, shards,
                 sharded);
    load_average("at the end");
    return 0;
}
