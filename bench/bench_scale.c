/* bench_scale.c: the explorer and the headless commands at the paper's scale.
 *
 * `make bench-scale` runs it. It
 *   1. makes a synthetic survey of N galaxies (default 250,000) at small cutouts
 *      (`sfnet-explore synth`, 32 x 32 pixels by default), or reuses the one already in
 *      the cache folder;
 *   2. trains a metallicity (Z) and an emission-line (SL) model quickly on the first
 *      2,000 galaxies (`--train`, 2 epochs at the survey's size, the paper's width 64:
 *      d = 512 features, k = 4), or reuses them;
 *   3. builds a run database with both models run over the whole survey through
 *      `sfnet-explore predict --into` (so, like every way of storing a run, with its
 *      summaries), or reuses it when it has this binary's schema version;
 *   4. times every explorer screen through the load functions the screens call when
 *      they open (tui_app.h; headless, in this process): the feature list, Tab to the
 *      other run, the first and later feature pages, a galaxy page, the equation and
 *      the marks; then every headless command as a user runs it (a process each, so the
 *      figures include starting the binary and opening the database);
 *   5. prints the database's size, peak resident memory (this process, and the largest
 *      child), and a table of the figures beside their goals.
 *
 * Timings are medians of repeated runs with the file in the page cache (an explorer
 * session's case: the first screen warms it). On a machine shared with other work they
 * are upper bounds: the bench prints the load average it ran under, and can be rerun
 * later on a quiet machine (the cached survey, models and database make a rerun take
 * a few minutes).
 *
 * Usage: bench_scale [--n N] [--size PX] [--cache DIR] [--bin PATH] [--rebuild] [--reps R]
 *                    [--db FILE [--runs A,B]]
 *   --cache DIR  where the survey, models and database are kept (default
 *                $SFNET_BENCH_CACHE, else $XDG_CACHE_HOME/sfnet-explore/bench-scale, else
 *                ~/.cache/sfnet-explore/bench-scale); nothing inside the source tree
 *   --bin PATH   the sfnet-explore binary (default $SFNET_BIN, else build/sfnet-explore)
 *   --rebuild    make the run database again (the survey and models are kept)
 *   --db FILE    time this run database as it is (steps 1-3 skipped): for instance one
 *                kept by `BENCH_KEEP=1 bench_store 250000`, when the machine is too busy
 *                to run the network over the whole survey
 *   --runs A,B   the two runs of --db to time (default SL,Z; A,A for a file of one run)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sf_util.h"
#include "store.h"
#include "tui_app.h"

extern char **environ;

enum { TRAIN_N = 2000, MAX_REPS = 25 };

static char bin[2048];
static double child_peak_mb; /* the largest child's peak resident memory */

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_scale: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* Runs the binary with args (NULL-terminated), stdout to out_path (NULL: /dev/null) and
 * stderr shown when show_err; returns its wall-clock seconds, or -1 when it failed. */
static double run_cmd(const char *out_path, int show_err, char *const *args) {
    char *argv[64];
    int n = 0;
    argv[n++] = bin;
    for (int i = 0; args[i] && n < 63; i++) argv[n++] = args[i];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path ? out_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!show_err) posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    double t0 = sf_now();
    int rc = posix_spawn(&pid, bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) die("cannot start %s: %s", bin, strerror(rc));
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) die("waiting for %s: %s", bin, strerror(errno));
    double t = sf_now() - t0;
    if (ru.ru_maxrss / 1024.0 > child_peak_mb) child_peak_mb = ru.ru_maxrss / 1024.0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? t : -1;
}

static void cache_dir(char *out, size_t n, const char *given) {
    const char *env = getenv("SFNET_BENCH_CACHE"), *xdg = getenv("XDG_CACHE_HOME"),
               *home = getenv("HOME");
    if (given) snprintf(out, n, "%s", given);
    else if (env && *env) snprintf(out, n, "%s", env);
    else if (xdg && *xdg) snprintf(out, n, "%s/sfnet-explore/bench-scale", xdg);
    else snprintf(out, n, "%s/.cache/sfnet-explore/bench-scale", home && *home ? home : "/tmp");
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", out);
    if (strchr(out, '\'') || system(cmd) != 0) die("cannot create the cache folder %s", out);
}

/* ---- building the data ------------------------------------------------------------- */

static void make_survey(const char *dir, long n, int size) {
    char part[4400], csv[4400];
    snprintf(csv, sizeof csv, "%s/galaxies.csv", dir);
    if (exists(csv)) {
        printf("survey: %s (cached)\n", dir);
        return;
    }
    snprintf(part, sizeof part, "%s.part", dir);
    char ns[32], ss[32];
    snprintf(ns, sizeof ns, "%ld", n);
    snprintf(ss, sizeof ss, "%d", size);
    printf("survey: making %ld galaxies of %dx%d pixels in %s ...\n", n, size, size, dir);
    fflush(stdout);
    char *args[] = {"synth", "-n", ns, "--size", ss, "--seed", "256", part, NULL};
    double t = run_cmd(NULL, 1, args);
    if (t < 0) die("synth failed");
    if (rename(part, dir) != 0) die("cannot rename %s: %s", part, strerror(errno));
    printf("survey: made in %.0f s\n", t);
}

/* The first TRAIN_N rows of the survey's catalogue. */
static void subset_csv(const char *survey, const char *out) {
    char in_path[4400];
    snprintf(in_path, sizeof in_path, "%s/galaxies.csv", survey);
    FILE *in = fopen(in_path, "r"), *o = fopen(out, "w");
    if (!in || !o) die("cannot write %s", out);
    char *line = NULL;
    size_t cap = 0;
    for (int i = 0; i <= TRAIN_N && getline(&line, &cap, in) > 0; i++) fputs(line, o);
    free(line);
    fclose(in);
    if (fclose(o) != 0) die("cannot write %s", out);
}

/* Trains the quick model for target (metallicity, bpt_lines) and writes its weights
 * file; reuses both when there. */
static void make_model(const char *cache, const char *survey, int size, const char *target,
                       const char *prefix, char *weights, size_t n) {
    snprintf(weights, n, "%s/model-%s-px%d.safetensors", cache, prefix, size);
    if (exists(weights)) {
        printf("model %s: %s (cached)\n", prefix, weights);
        return;
    }
    char csv[4400], images[4400], db[4400], ss[32];
    snprintf(csv, sizeof csv, "%s/train-%d.csv", cache, TRAIN_N);
    snprintf(images, sizeof images, "%s/images", survey);
    snprintf(db, sizeof db, "%s/models-px%d.db", cache, size);
    snprintf(ss, sizeof ss, "%d", size);
    subset_csv(survey, csv);
    printf("model %s: training on %d galaxies (2 epochs, width 64, k 4) ...\n", prefix, TRAIN_N);
    fflush(stdout);
    char *args[] = {"--train",      "-c", csv,      "-i", images,     "-t", (char *)target,
                    "--resize",     ss,   "--crop", ss,   "--epochs", "2",  "--name",
                    (char *)prefix, "-q", db,       NULL};
    double t = run_cmd(NULL, 1, args);
    if (t < 0) die("training %s failed", prefix);
    store *s;
    store_run run;
    uint8_t *data;
    size_t len;
    if (store_open(&s, db, STORE_READ) != SF_OK || store_run_find(s, prefix, &run) != SF_OK ||
        store_run_weights(s, run.id, &data, &len) != SF_OK)
        die("%s", sf_last_error());
    FILE *f = fopen(weights, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) die("cannot write %s", weights);
    free(data);
    store_run_clear(&run);
    store_close(s);
    printf("model %s: trained in %.0f s\n", prefix, t);
}

typedef struct {
    double seconds, rate;
    int n;
} build_figure;

/* predict --into for one model; the galaxies it stored and their rate. */
static build_figure predict_into(const char *db, const char *survey, const char *weights,
                                 const char *prefix) {
    char csv[4400], images[4400];
    snprintf(csv, sizeof csv, "%s/galaxies.csv", survey);
    snprintf(images, sizeof images, "%s/images", survey);
    printf("database: predict --into for %s ...\n", prefix);
    fflush(stdout);
    char *args[] = {
        "predict", "--weights", (char *)weights, "--catalog",    csv,  "--images", images,
        "--into",  (char *)db,  "--name",        (char *)prefix, "-q", NULL};
    double before = child_peak_mb;
    child_peak_mb = 0;
    build_figure b = {run_cmd(NULL, 1, args), 0, 0};
    if (b.seconds < 0) die("predict --into failed for %s", prefix);
    printf("database: %s stored in %.0f s (peak resident memory %.0f MB)\n", prefix, b.seconds,
           child_peak_mb);
    if (before > child_peak_mb) child_peak_mb = before;
    return b;
}

/* ---- the figures ---------------------------------------------------------------- */

typedef struct {
    char what[96];
    double ms; /* median */
    double max_ms;
    double goal_ms; /* 0: no goal */
} figure;

static figure figs[64];
static int n_figs;

static void add_figure(const char *what, double *t_ms, int n, double goal_ms) {
    figure *f = &figs[n_figs++];
    snprintf(f->what, sizeof f->what, "%s", what);
    double mx = 0;
    for (int i = 0; i < n; i++) mx = t_ms[i] > mx ? t_ms[i] : mx;
    f->ms = median(t_ms, n);
    f->max_ms = mx;
    f->goal_ms = goal_ms;
}

static store *open_db(const char *path) {
    store *s = NULL;
    if (store_open(&s, path, STORE_READ) != SF_OK) die("%s", sf_last_error());
    return s;
}

/* The explorer's screens, through their load functions. */
static void time_screens(const char *db, const char *first, const char *second, int reps) {
    store *s = open_db(db);
    store_run a, b;
    if (store_run_find(s, first, &a) != SF_OK || store_run_find(s, second, &b) != SF_OK)
        die("%s", sf_last_error());
    double t[MAX_REPS];
    tui_run r;

    /* the feature list: the run as the explorer loads it at start (and on Tab) */
    for (int i = 0; i < reps; i++) {
        double t0 = sf_now();
        if (tui_run_load(s, a.id, 0, 0, 0, &r) != SF_OK) die("%s", sf_last_error());
        t[i] = (sf_now() - t0) * 1e3;
        tui_run_clear(&r);
    }
    char what[96];
    snprintf(what, sizeof what, "explorer: feature list (run %s)", a.prefix);
    add_figure(what, t, reps, 100);
    for (int i = 0; i < reps; i++) {
        double t0 = sf_now();
        if (tui_run_load(s, b.id, 0, 0, 0, &r) != SF_OK) die("%s", sf_last_error());
        t[i] = (sf_now() - t0) * 1e3;
        tui_run_clear(&r);
    }
    snprintf(what, sizeof what, "explorer: Tab to run %s", b.prefix);
    add_figure(what, t, reps, 100);

    /* feature pages of the run: the first one of a session also reads the equation */
    const store_run *runs[2] = {&a, &b};
    for (int q = 0; q < 2; q++) {
        const store_run *run = runs[q];
        double first_ms[MAX_REPS], later_ms[MAX_REPS * 4], gal_ms[MAX_REPS * 4], eq_ms[MAX_REPS],
            marks_ms[MAX_REPS];
        int n_later = 0, n_gal = 0;
        for (int i = 0; i < reps; i++) {
            if (tui_run_load(s, run->id, 0, 0, 0, &r) != SF_OK) die("%s", sf_last_error());
            tui_feature_page p;
            int most = r.visible[0];
            double t0 = sf_now();
            if (tui_feature_page_load(s, &r, most, &p) != SF_OK) die("%s", sf_last_error());
            first_ms[i] = (sf_now() - t0) * 1e3;
            /* later pages: the next features of the list, and galaxies of the page */
            for (int k = 1; k <= 4 && k < r.n_visible; k++) {
                tui_feature_page p2;
                t0 = sf_now();
                if (tui_feature_page_load(s, &r, r.visible[(k * 7 + i) % r.n_visible], &p2) !=
                    SF_OK)
                    die("%s", sf_last_error());
                later_ms[n_later++] = (sf_now() - t0) * 1e3;
                tui_feature_page_clear(&p2);
            }
            for (int k = 0; k < 4 && k < p.n_top; k++) {
                tui_galaxy_page g;
                t0 = sf_now();
                if (tui_galaxy_page_load(s, &r, p.top[(k + i) % p.n_top].galaxy_id, &g) != SF_OK)
                    die("%s", sf_last_error());
                gal_ms[n_gal++] = (sf_now() - t0) * 1e3;
                tui_galaxy_page_clear(&g);
            }
            tui_feature_page_clear(&p);
            tui_run_clear(&r);
            /* the equation on a fresh run (not read yet), and the marks */
            if (tui_run_load(s, run->id, 0, 0, 0, &r) != SF_OK) die("%s", sf_last_error());
            tui_equation_page e;
            t0 = sf_now();
            if (tui_equation_page_load(s, &r, &e) != SF_OK) die("%s", sf_last_error());
            eq_ms[i] = (sf_now() - t0) * 1e3;
            tui_equation_page_clear(&e);
            t0 = sf_now();
            if (tui_marks_page_load(s, &r) != SF_OK) die("%s", sf_last_error());
            marks_ms[i] = (sf_now() - t0) * 1e3;
            tui_run_clear(&r);
        }
        snprintf(what, sizeof what, "explorer: first feature page (%s, its most frequent)",
                 run->prefix);
        add_figure(what, first_ms, reps, 100);
        snprintf(what, sizeof what, "explorer: later feature pages (%s)", run->prefix);
        add_figure(what, later_ms, n_later, 100);
        snprintf(what, sizeof what, "explorer: galaxy page (%s)", run->prefix);
        add_figure(what, gal_ms, n_gal, 100);
        snprintf(what, sizeof what, "explorer: equation (%s)", run->prefix);
        add_figure(what, eq_ms, reps, 100);
        snprintf(what, sizeof what, "explorer: marks (%s)", run->prefix);
        add_figure(what, marks_ms, reps, 100);
    }
    store_run_clear(&a);
    store_run_clear(&b);
    store_close(s);
}

/* The headless commands, each a process as a user starts it. */
static void time_commands(const char *db, const char *cache, int reps) {
    store *s = open_db(db);
    store_run *runs;
    int nr;
    if (store_runs(s, &runs, &nr) != SF_OK) die("%s", sf_last_error());
    char out_png[2300];
    snprintf(out_png, sizeof out_png, "%s/export.png", cache);
    for (int q = 0; q < nr; q++) {
        const store_run *run = &runs[q];
        store_feature *f;
        int nf;
        if (store_features(s, run->id, STORE_SORT_FREQUENCY, 0, &f, &nf) != SF_OK || nf == 0)
            die("%s", sf_last_error());
        store_hit *top;
        int nt;
        if (store_top(s, run->id, f[0].feature, 1, -1, &top, &nt) != SF_OK || nt == 0)
            die("%s", sf_last_error());
        char feature[64], objid[STORE_OBJID_MAX];
        snprintf(feature, sizeof feature, "%s %d", run->prefix, f[0].feature);
        snprintf(objid, sizeof objid, "%s", top[0].objid);
        free(top);
        free(f);
        struct {
            const char *what;
            double goal_ms;
            char *args[12];
        } cmds[] = {
            {"report", 2000, {"report", (char *)db, (char *)run->prefix, NULL}},
            {"equation", 200, {"equation", (char *)db, (char *)run->prefix, NULL}},
            {"features", 200, {"features", (char *)db, (char *)run->prefix, NULL}},
            {"export --bpt (3x3 grid)",
             1000,
             {"export", (char *)db, feature, "-o", out_png, "--bpt", NULL}},
            {"export (3x3 grid)", 1000, {"export", (char *)db, feature, "-o", out_png, NULL}},
            {"top", 200, {"top", (char *)db, feature, NULL}},
            {"galaxy", 200, {"galaxy", (char *)db, objid, NULL}},
            {"features --similar", 200, {"features", "--similar", feature, (char *)db, NULL}},
            {"runs", 200, {"runs", (char *)db, NULL}},
        };
        for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
            double t[MAX_REPS];
            int n = reps < 5 ? reps : 5;
            for (int i = 0; i < n; i++) {
                double sec = run_cmd(NULL, i == 0, cmds[c].args);
                if (sec < 0) die("%s failed", cmds[c].what);
                t[i] = sec * 1e3;
            }
            char what[96];
            snprintf(what, sizeof what, "%s (%s)", cmds[c].what, run->prefix);
            add_figure(what, t, n, cmds[c].goal_ms);
        }
    }
    store_runs_free(runs, nr);
    store_close(s);
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"n", required_argument, 0, 'n'},     {"size", required_argument, 0, 's'},
        {"cache", required_argument, 0, 'c'}, {"bin", required_argument, 0, 'b'},
        {"rebuild", no_argument, 0, 'r'},     {"reps", required_argument, 0, 'R'},
        {"db", required_argument, 0, 'd'},    {"runs", required_argument, 0, 'u'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    long n = 250000;
    int size = 32, rebuild = 0, reps = 7, c;
    const char *cache_opt = NULL, *bin_opt = NULL, *db_opt = NULL;
    char first[STORE_PREFIX_MAX] = "SL", second[STORE_PREFIX_MAX] = "Z";
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'n': n = atol(optarg); break;
        case 's': size = atoi(optarg); break;
        case 'c': cache_opt = optarg; break;
        case 'b': bin_opt = optarg; break;
        case 'r': rebuild = 1; break;
        case 'R': reps = atoi(optarg); break;
        case 'd': db_opt = optarg; break;
        case 'u': {
            const char *comma = strchr(optarg, ',');
            if (!comma || comma == optarg || !comma[1] ||
                (size_t)(comma - optarg) >= sizeof first || strlen(comma + 1) >= sizeof second)
                die("--runs takes two run names, A,B");
            snprintf(first, sizeof first, "%.*s", (int)(comma - optarg), optarg);
            snprintf(second, sizeof second, "%s", comma + 1);
            break;
        }
        case 'h':
            printf("Usage: bench_scale [--n N] [--size PX] [--cache DIR] [--bin PATH] [--rebuild] "
                   "[--reps R]\n"
                   "                   [--db FILE [--runs A,B]]\n");
            return 0;
        default: return 2;
        }
    }
    if (n < TRAIN_N * 2 || size < 16 || reps < 1 || reps > MAX_REPS)
        die("need --n >= %d, --size >= 16, --reps 1..%d", 2 * TRAIN_N, MAX_REPS);
    const char *env_bin = getenv("SFNET_BIN");
    snprintf(bin, sizeof bin, "%s",
             bin_opt               ? bin_opt
             : env_bin && *env_bin ? env_bin
                                   : "build/sfnet-explore");
    if (access(bin, X_OK) != 0) die("no sfnet-explore binary at %s (build it, or give --bin)", bin);
    char cache[2048], survey[2300], db[2300], wz[2300], wsl[2300];
    cache_dir(cache, sizeof cache, cache_opt);
    snprintf(survey, sizeof survey, "%s/survey-n%ld-px%d-seed256", cache, n, size);
    snprintf(db, sizeof db, "%s/runs-n%ld-px%d.db", cache, n, size);
    double load0[3];
    getloadavg(load0, 3);
    int reuse = 0;
    if (db_opt) {
        snprintf(db, sizeof db, "%s", db_opt);
        if (!exists(db)) die("no file %s", db);
        printf("bench_scale: the run database %s as it is, runs %s and %s\n", db, first, second);
        reuse = 1;
    } else {
        printf("bench_scale: %ld galaxies of %dx%d pixels, cache %s\n", n, size, size, cache);
        make_survey(survey, n, size);
        make_model(cache, survey, size, "metallicity", "Z", wz, sizeof wz);
        make_model(cache, survey, size, "bpt_lines", "SL", wsl, sizeof wsl);
    }

    /* the run database: rebuilt when asked, or when made by a binary of another schema */
    if (!db_opt && !rebuild && exists(db)) {
        store *s = NULL;
        if (store_open(&s, db, STORE_READ) == SF_OK) {
            store_run *runs;
            int nr = 0;
            reuse = store_schema_version(s) == STORE_SCHEMA_VERSION &&
                    store_runs(s, &runs, &nr) == SF_OK && nr == 2;
            if (nr) store_runs_free(runs, nr);
            store_close(s);
        }
    }
    build_figure bz = {0}, bsl = {0};
    if (!reuse) {
        static const char *side[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
            char p[2400];
            snprintf(p, sizeof p, "%s%s", db, side[i]);
            unlink(p);
        }
        bsl = predict_into(db, survey, wsl, "SL");
        bz = predict_into(db, survey, wz, "Z");
    } else if (!db_opt) {
        printf("database: %s (cached; --rebuild makes it again)\n", db);
    }
    double build_peak = child_peak_mb;
    child_peak_mb = 0;

    store *s = open_db(db);
    store_run *runs;
    int nr;
    if (store_runs(s, &runs, &nr) != SF_OK || nr < 1) die("%s: no runs", db);
    for (int i = 0; i < nr; i++)
        printf("database: run %s: %d galaxies (%d validation), d = %d, k = %d\n", runs[i].prefix,
               runs[i].n_galaxies, runs[i].n_valid, runs[i].d, runs[i].k);
    store_runs_free(runs, nr);
    store_close(s);

    /* warm the page cache as a first screen would, then the figures */
    time_screens(db, first, second, 1);
    n_figs = 0;
    time_screens(db, first, second, reps);
    time_commands(db, cache, reps);

    struct stat sb;
    stat(db, &sb);
    double load1[3];
    getloadavg(load1, 3);
    printf("\nrun database: %s, %.0f MB\n", db, sb.st_size / 1e6);
    if (!reuse)
        printf("predict --into: SL %.0f s, Z %.0f s (peak resident memory %.0f MB)\n", bsl.seconds,
               bz.seconds, build_peak);
    printf(
        "peak resident memory: this process (the screens) %.0f MB, the largest command %.0f MB\n",
        peak_rss_mb(), child_peak_mb);
    printf("load average: %.2f at the start, %.2f at the end (%ld CPUs): figures measured on a "
           "busier machine "
           "are upper bounds\n\n",
           load0[0], load1[0], sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-52s %10s %10s %10s  %s\n", "action", "median ms", "max ms", "goal ms", "");
    int missed = 0;
    for (int i = 0; i < n_figs; i++) {
        const figure *f = &figs[i];
        char goal[32] = "-";
        const char *ok = "";
        if (f->goal_ms > 0) {
            snprintf(goal, sizeof goal, "< %.0f", f->goal_ms);
            ok = f->ms < f->goal_ms ? "ok" : "MISSED";
            missed += f->ms >= f->goal_ms;
        }
        printf("%-52s %10.1f %10.1f %10s  %s\n", f->what, f->ms, f->max_ms, goal, ok);
    }
    printf("\n%d of %d figures within their goals\n", n_figs - missed, n_figs);
    return 0;
}
