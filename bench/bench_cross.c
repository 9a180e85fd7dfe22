/* bench_cross.c: what lies between runs, at the paper's scale.
 *
 * Writes a spectral-line run "SL" over N galaxies (default 250,000) and a metallicity run
 * "Z" over the first N_Z of them (default 117,223, the paper's metallicity sample), both
 * k = 4 of d = 512, then a dense run "CNN" (k = 0) over the first N_DENSE galaxies
 * (default 0: none; the paper's Zoobot comparison). Each galaxy's code is a top-k of
 * scores like a trained SFNet's: a few features fire on most galaxies (SL 157 on ~96%,
 * Z 61 on ~99%, as Table 1 of Wu 2025), the others are rare, and both runs follow one
 * latent per galaxy, so that their features correlate.
 *
 * Then reports, on the database opened for reading as the explorer opens it:
 *   - the seconds to store each run (the second one includes its pair statistics
 *     against the first), and the seconds to recompute those from the codes;
 *   - the counterpart block of a feature page (query_counterparts_compute, 5 counterparts
 *     in the other run), both ways round: median and maximum over random live features;
 *   - the compare view: the correlation matrix (query_compare_compute) and the ridge R^2
 *     (query_compare_ridge) of Z's features from SL's 512, and of SL's from the dense run;
 *   - similar galaxies: loading the run's codes and their inverted index (once per run,
 *     the explorer's first galaxy page), then each page's query (12 neighbours) for
 *     random galaxies, median and maximum; beside it, the same sums walked through
 *     SQLite's activations_by_feature index, for reference.
 * Goals: counterparts and similar galaxies under 100 ms a page (similar galaxies under
 * 50 ms on 250,000 galaxies).
 *
 * Usage: bench_cross [N [N_Z [N_DENSE [DIR]]]]   (DIR defaults to $TMPDIR or /tmp; the
 * file is removed unless BENCH_KEEP is set). Timings on a shared machine are upper bounds:
 * rerun it on a quiet one.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "query.h"
#include "sf_util.h"
#include "store.h"

enum { D = 512, K = 4, N_OUT = 1, N_LIVE = 60, PAGES = 51 };

/* Process CPU seconds: on a machine shared with other work, a better guess than the wall
 * clock of what the same single-threaded step takes on a quiet one. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double maximum(const double *v, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, v[i]);
    return m;
}

static void die(const char *what) {
    fprintf(stderr, "bench_cross: %s: %s\n", what, sf_last_error());
    exit(1);
}

/* The live features of a run and how strongly each tends to fire: the first four as the
 * paper's most frequent ones, the rest rare. */
static const int sl_main[4] = {157, 138, 17, 322}, z_main[4] = {61, 256, 97, 410};
static const double sl_base[4] = {3.2, 2.4, 1.6, 1.6}, z_base[4] = {4.0, 2.6, 1.2, 0.4};

/* Galaxy g's code in a run (dense: every feature of d). */
static void make_code(uint64_t g, int run, int dense, int *idx, float *val) {
    sf_rng lat, rng;
    sf_rng_seed(&lat, 0x9E3779B97F4A7C15ull * (g + 1));
    sf_rng_seed(&rng, 0xD1B54A32D192ED03ull * (g + 1) + (uint64_t)run);
    double u = sf_rng_uniform(&lat), v = sf_rng_uniform(&lat);
    if (dense) {
        for (int f = 0; f < D; f++) {
            double x = 0.5 + 0.6 * cos(6.283 * (u * (1 + f % 7) + v * (f % 5)) + f) +
                       0.3 * sf_rng_normal(&rng);
            idx[f] = f;
            val[f] = x > 0 ? (float)x : 0.0f;
        }
        return;
    }
    const int *main_f = run == 0 ? sl_main : z_main;
    const double *base = run == 0 ? sl_base : z_base;
    double score[N_LIVE + 4];
    int feat[N_LIVE + 4];
    int n = 0;
    for (int i = 0; i < 4; i++) {
        feat[n] = main_f[i];
        score[n++] = base[i] +
                     (i == 0   ? 1.5 * u
                      : i == 1 ? 1.5 * (1 - u)
                      : i == 2 ? 2 * v
                               : -v) +
                     0.5 * sf_rng_normal(&rng);
    }
    /* the rare ones: each tied to a band of the latent */
    for (int i = 0; i < N_LIVE; i++) {
        int f = (run == 0 ? 3 : 11) + 7 * i;
        if (f == main_f[0] || f == main_f[1] || f == main_f[2] || f == main_f[3]) continue;
        double centre = (i + 0.5) / N_LIVE;
        feat[n] = f % D;
        score[n++] = 2.6 - 40 * fabs(u - centre) + 0.6 * sf_rng_normal(&rng);
    }
    /* the top K scores, positive ones only (a ReLU before the top-k) */
    for (int j = 0; j < K; j++) {
        int best = j;
        for (int i = j + 1; i < n; i++)
            if (score[i] > score[best]) best = i;
        double ts = score[j];
        int tf = feat[j];
        score[j] = score[best];
        feat[j] = feat[best];
        score[best] = ts;
        feat[best] = tf;
        idx[j] = feat[j];
        val[j] = score[j] > 0 ? (float)score[j] : 0.0f;
    }
}

/* Stores a run over galaxies 0..n-1 in parts of 10,000 (as predict --into does). */
static int64_t write_run(store *s, const char *prefix, int run, int n, int dense, char (*objid)[24],
                         double *seconds) {
    int k = dense ? D : K;
    store_run_input in;
    memset(&in, 0, sizeof in);
    store_run *r = &in.run;
    snprintf(r->prefix, sizeof r->prefix, "%s", prefix);
    snprintf(r->target_spec, sizeof r->target_spec, "%s", run == 0 ? "bpt_lines" : "metallicity");
    r->n_out = N_OUT;
    snprintf(r->target_names[0], sizeof r->target_names[0], "target");
    r->target_std[0] = 1;
    r->k = dense ? 0 : K;
    r->width = 64;
    r->d = D;
    r->split_seed = 256;
    r->train_rmse = r->valid_rmse = NAN;
    r->train_rmse_t[0] = r->valid_rmse_t[0] = NAN;
    float *head = xcalloc(D, sizeof *head);
    for (int f = 0; f < D; f++) head[f] = (float)(0.01 * ((f * 37) % 11 - 5));
    in.head_w = head;
    in.k_stored = k;
    enum { PART = 10000 };
    store_galaxy_input *gal = xcalloc(PART, sizeof *gal);
    uint8_t *split = xmalloc(PART);
    float *pred = xmalloc(PART * sizeof *pred), *truth = xmalloc(PART * sizeof *truth);
    int *idx = xmalloc((size_t)PART * k * sizeof *idx);
    float *val = xmalloc((size_t)PART * k * sizeof *val);
    double t0 = sf_now(), c0 = cpu_now();
    store_run_writer *w;
    if (store_run_begin(s, &in, &w) != SF_OK) die("storing a run");
    for (int at = 0; at < n; at += PART) {
        int m = n - at < PART ? n - at : PART;
        for (int i = 0; i < m; i++) {
            int g = at + i;
            gal[i] = (store_galaxy_input){objid[g], NAN, NAN, NULL, NULL, 0, 0, 0, NULL};
            split[i] =
                (uint8_t)(((uint64_t)g * 2654435761u >> 7) % 5 == 0); /* a fifth for validation */
            make_code((uint64_t)g, run, dense, &idx[(size_t)i * k], &val[(size_t)i * k]);
            truth[i] = (float)(g % 100) / 100;
            pred[i] = truth[i];
        }
        store_run_input part = in;
        part.n = m;
        part.galaxies = gal;
        part.split = split;
        part.pred = pred;
        part.truth = truth;
        part.topk_idx = idx;
        part.topk_val = val;
        if (store_run_add(w, &part) != SF_OK) die("storing a run");
    }
    int64_t id = 0;
    if (store_run_finish(w, &id) != SF_OK) die("storing a run");
    seconds[0] = sf_now() - t0;
    seconds[1] = cpu_now() - c0;
    free(head);
    free(gal);
    free(split);
    free(pred);
    free(truth);
    free(idx);
    free(val);
    return id;
}

/* The features of a run active on some galaxy. */
static int live_features(store *s, int64_t run, int *out) {
    store_feature *f;
    int n;
    if (store_features(s, run, STORE_SORT_FREQUENCY, 0, &f, &n) != SF_OK) die("features");
    for (int i = 0; i < n; i++) out[i] = f[i].feature;
    free(f);
    return n;
}

static void bench_counterparts(store *s, int64_t a, int64_t b, const char *name_a,
                               const char *name_b, sf_rng *rng) {
    int live[D], n_live = live_features(s, a, live);
    double t[PAGES], c[PAGES];
    for (int q = 0; q < PAGES; q++) {
        int f = live[sf_rng_below(rng, (uint32_t)n_live)];
        double t0 = sf_now(), c0 = cpu_now();
        query_counterparts cp;
        if (query_counterparts_compute(s, a, f, b, 5, &cp) != SF_OK) die("counterparts");
        t[q] = (sf_now() - t0) * 1e3;
        c[q] = (cpu_now() - c0) * 1e3;
        query_counterparts_clear(&cp);
    }
    printf("cross: counterpart block %s -> %s (5 counterparts of one of %d live features): median "
           "%.2f ms, max %.2f "
           "ms; CPU median %.2f ms, max %.2f ms  (goal < 100 ms)\n",
           name_a, name_b, n_live, median(t, PAGES), maximum(t, PAGES), median(c, PAGES),
           maximum(c, PAGES));
}

static void bench_compare(store *s, int64_t a, int64_t b, const char *name_a, const char *name_b) {
    query_compare c;
    double t0 = sf_now(), c0 = cpu_now();
    if (query_compare_compute(s, a, b, 1, &c) != SF_OK) die("compare");
    double t_matrix = sf_now() - t0, c_matrix = cpu_now() - c0;
    t0 = sf_now();
    c0 = cpu_now();
    if (query_compare_ridge(s, &c, 1.0) != SF_OK) die("ridge");
    double t_ridge = sf_now() - t0, c_ridge = cpu_now() - c0;
    double best = -1;
    int best_j = 0;
    for (int j = 0; j < c.n_cols; j++)
        if (isfinite(c.r2[j]) && c.r2[j] > best) best = c.r2[j], best_j = j;
    printf("cross: compare %s x %s: matrix %d x %d in %.1f ms (%.1f ms of CPU); ridge R^2 of %s's "
           "%d live features "
           "from %d of %s in %.0f ms (%.0f ms of CPU; %d training, %d validation galaxies; best %s "
           "%d R^2 %.3f)\n",
           name_a, name_b, c.n_rows, c.n_cols, t_matrix * 1e3, c_matrix * 1e3, name_b, c.n_cols,
           c.d_a, name_a, t_ridge * 1e3, c_ridge * 1e3, c.n_train, c.n_valid, name_b,
           c.n_cols ? c.cols[best_j] : -1, best);
    query_compare_clear(&c);
}

/* Similar galaxies the way an SQL query through activations_by_feature would find them:
 * each active feature's galaxies from the index, the dot products summed by galaxy.
 * (Only the walk: the norms would be another read.) Returns rows read. */
static long index_walk(sqlite3 *db, int64_t run, int64_t galaxy, double *dot, int n_dot) {
    sqlite3_stmt *own, *list;
    sqlite3_prepare_v2(
        db, "SELECT feature, value FROM activations WHERE run_id = ?1 AND galaxy_id = ?2", -1, &own,
        NULL);
    sqlite3_prepare_v2(db,
                       "SELECT galaxy_id, value FROM activations INDEXED BY activations_by_feature "
                       "WHERE run_id = ?1 AND feature = ?2",
                       -1, &list, NULL);
    sqlite3_bind_int64(own, 1, run);
    sqlite3_bind_int64(own, 2, galaxy);
    long rows = 0;
    while (sqlite3_step(own) == SQLITE_ROW) {
        int f = sqlite3_column_int(own, 0);
        double q = sqlite3_column_double(own, 1);
        sqlite3_bind_int64(list, 1, run);
        sqlite3_bind_int(list, 2, f);
        while (sqlite3_step(list) == SQLITE_ROW) {
            int64_t h = sqlite3_column_int64(list, 0);
            if (h >= 0 && h < n_dot) dot[h] += q * sqlite3_column_double(list, 1);
            rows++;
        }
        sqlite3_reset(list);
    }
    sqlite3_finalize(own);
    sqlite3_finalize(list);
    return rows;
}

static void bench_similar(store *s, const char *path, int64_t run, const char *name, sf_rng *rng) {
    query_neighbors nb;
    double t0 = sf_now(), c0 = cpu_now();
    if (query_neighbors_load(s, run, &nb) != SF_OK) die("similar galaxies");
    double t_load = sf_now() - t0, c_load = cpu_now() - c0;
    double t[PAGES], c[PAGES], t_sql[PAGES];
    long touched = 0, rows_sql = 0;
    sqlite3 *db;
    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    int64_t max_id = nb.codes.galaxy_id[nb.codes.n - 1] + 1;
    double *dot = xcalloc((size_t)max_id, sizeof *dot);
    for (int q = 0; q < PAGES; q++) {
        int row = (int)sf_rng_below(rng, (uint32_t)nb.codes.n);
        int64_t g = nb.codes.galaxy_id[row];
        query_neighbor near[12];
        int n = 0;
        t0 = sf_now();
        c0 = cpu_now();
        if (query_similar_galaxies(s, &nb, g, 12, near, &n) != SF_OK) die("similar galaxies");
        t[q] = (sf_now() - t0) * 1e3;
        c[q] = (cpu_now() - c0) * 1e3;
        store_code_row code = store_codes_get(&nb.codes, row);
        for (int j = 0; j < code.m; j++)
            touched += (long)(nb.list_start[code.feature[j] + 1] - nb.list_start[code.feature[j]]);
        t0 = sf_now();
        rows_sql += index_walk(db, run, g, dot, (int)max_id);
        t_sql[q] = (sf_now() - t0) * 1e3;
        memset(dot, 0, (size_t)max_id * sizeof *dot);
    }
    sqlite3_close(db);
    free(dot);
    printf("cross: similar galaxies in %s (%d galaxies): codes and index loaded in %.0f ms (%.0f "
           "ms of CPU; once per "
           "run); a page (12 neighbours): median %.2f ms, max %.2f ms; CPU median %.2f ms, max "
           "%.2f ms  (goal < 50 ms)\n",
           name, nb.codes.n, t_load * 1e3, c_load * 1e3, median(t, PAGES), maximum(t, PAGES),
           median(c, PAGES), maximum(c, PAGES));
    printf("cross:   (each page sums %.0f postings on average; walking them through SQLite's "
           "activations_by_feature index instead: median %.0f ms)\n",
           (double)touched / PAGES, median(t_sql, PAGES));
    (void)rows_sql;
    query_neighbors_clear(&nb);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 250000;
    int n_z = argc > 2 ? atoi(argv[2]) : 117223;
    int n_dense = argc > 3 ? atoi(argv[3]) : 0;
    const char *tmp = argc > 4 ? argv[4] : getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    if (n < 100 || n_z < 100 || n_z > n || n_dense < 0 || n_dense > n) {
        fprintf(stderr, "bench_cross: need 100 <= N_Z <= N and 0 <= N_DENSE <= N\n");
        return 2;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/bench-cross-%ld.db", tmp, (long)getpid());
    char(*objid)[24] = xmalloc((size_t)n * sizeof *objid);
    for (int i = 0; i < n; i++)
        snprintf(objid[i], sizeof objid[i], "%llu",
                 1237648704043942146ULL + (unsigned long long)i * 7919);
    store *s = NULL;
    if (store_open(&s, path, STORE_CREATE) != SF_OK) die(path);
    double t_sl[2], t_z[2], t_dense[2] = {0, 0};
    int64_t sl = write_run(s, "SL", 0, n, 0, objid, t_sl);
    int64_t z = write_run(s, "Z", 1, n_z, 0, objid, t_z);
    int64_t dense = n_dense ? write_run(s, "CNN", 2, n_dense, 1, objid, t_dense) : 0;
    store_close(s);
    struct stat sb;
    stat(path, &sb);
    printf("cross: SL %d galaxies, Z %d of them, k=%d of d=%d%s; file %.0f MB\n", n, n_z, K, D,
           n_dense ? " (and a dense run over fewer)" : "", sb.st_size / 1e6);
    printf("cross: store SL %.1f s (%.1f s of CPU), Z %.1f s (%.1f s of CPU; with its pair "
           "statistics against SL)",
           t_sl[0], t_sl[1], t_z[0], t_z[1]);
    if (n_dense)
        printf(", dense CNN over %d galaxies %.1f s (%.1f s of CPU)", n_dense, t_dense[0],
               t_dense[1]);
    printf("\n");

    if (store_open(&s, path, STORE_READ) != SF_OK) die(path);
    double t0 = sf_now(), c0 = cpu_now();
    store_cross pair;
    if (store_cross_compute(s, sl, z, &pair) != SF_OK) die("pair statistics");
    printf("cross: pair statistics SL x Z recomputed from the codes in %.0f ms (%.0f ms of CPU; %d "
           "shared galaxies)\n",
           (sf_now() - t0) * 1e3, (cpu_now() - c0) * 1e3, pair.n_shared);
    store_cross_clear(&pair);
    /* what writing a run's codes reads: its galaxies and activations in galaxy order */
    {
        sqlite3 *db;
        sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
        sqlite3_stmt *g, *act;
        sqlite3_prepare_v2(
            db, "SELECT galaxy_id, split FROM run_galaxies WHERE run_id = ?1 ORDER BY galaxy_id",
            -1, &g, NULL);
        sqlite3_prepare_v2(db,
                           "SELECT galaxy_id, feature, value FROM activations WHERE run_id = ?1 "
                           "ORDER BY galaxy_id, feature",
                           -1, &act, NULL);
        sqlite3_bind_int64(g, 1, sl);
        sqlite3_bind_int64(act, 1, sl);
        t0 = sf_now();
        c0 = cpu_now();
        long rows = 0;
        while (sqlite3_step(g) == SQLITE_ROW) rows++;
        while (sqlite3_step(act) == SQLITE_ROW) rows += sqlite3_column_int(act, 1) >= 0;
        double t_scan = sf_now() - t0, c_scan = cpu_now() - c0;
        sqlite3_finalize(g);
        sqlite3_finalize(act);
        sqlite3_close(db);
        store_codes codes;
        t0 = sf_now();
        c0 = cpu_now();
        if (store_codes_load(s, sl, &codes) != SF_OK) die("codes");
        printf("cross: SL's codes: %.0f ms (%.0f ms of CPU) to read the stored ones; %.0f ms (%.0f "
               "ms of CPU) to scan "
               "its %ld rows of galaxies and activations\n",
               (sf_now() - t0) * 1e3, (cpu_now() - c0) * 1e3, t_scan * 1e3, c_scan * 1e3, rows);
        store_codes_clear(&codes);
    }
    sf_rng rng;
    sf_rng_seed(&rng, 3);
    bench_counterparts(s, sl, z, "SL", "Z", &rng);
    bench_counterparts(s, z, sl, "Z", "SL", &rng);
    bench_compare(s, sl, z, "SL", "Z");
    bench_compare(s, z, sl, "Z", "SL");
    if (n_dense) bench_compare(s, dense, sl, "CNN", "SL");
    bench_similar(s, path, sl, "SL", &rng);
    bench_similar(s, path, z, "Z", &rng);
    store_close(s);
    printf("cross: (on a machine shared with other work the wall times are upper bounds; the CPU "
           "times are nearer "
           "what a quiet machine takes)\n");
    if (getenv("BENCH_KEEP")) printf("cross: kept %s\n", path);
    else unlink(path);
    char side[600];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    free(objid);
    return 0;
}
