/* cli_train.c: `sfnet-explore --train ... RUN.db`: data set -> training -> run database.
 *
 * Opens (or creates) the run database first, so a file that is not ours, newer,
 * read-only or locked is refused before any training. Trains, runs the trained model
 * over every galaxy, and writes the run, its galaxies (with thumbnails), activations,
 * predictions and feature statistics in one transaction at the end: an interrupted,
 * failed or killed training leaves the database exactly as it was.
 *
 * Layer: cli. Calls: cli_data_options, data_dataset, data_fits, infer_store, nn_model, store,
 *     synth_survey, train_dist, train_loop, train_optim, train_weights, sf_mpi, sf_util;
 *     cJSON, OpenMP.
 * Called by: main.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <omp.h>

#include "cli.h"
#include "cli_data_options.h"
#include "data_image.h"
#include "infer.h"
#include "nn_model.h"
#include "sf_mpi.h"
#include "sf_util.h"
#include "store.h"
#include "synth.h"
#include "train.h"
#include "train_dist.h"

/* the synthetic survey's cutouts are made at the real data set's 160 pixels, whatever
 * --resize a run uses, so one cached survey serves every run */
#define SYNTH_SIZE 160

static void usage(FILE *out) {
    fprintf(out,
            "Usage: sfnet-explore --train [--catalog FILE... --images DIR] [OPTIONS] RUN.db\n"
            "\n"
            "Trains one Sparse Feature Network and adds it to the run database RUN.db\n"
            "(created when absent) as a new run: its settings, training curve and weights,\n"
            "and for every galaxy its split, prediction, truth, k (feature, value) pairs and\n"
            "a %dx%d thumbnail, plus each feature's statistics. Everything is written in one\n"
            "transaction at the end: an interrupted or failed run leaves RUN.db as it was.\n"
            "Without --catalog it trains on the synthetic survey (generated once into\n"
            "$XDG_CACHE_HOME/sfnet-explore/synth-vVERSION-N-SEED).\n"
            "\n"
            "Data:\n" CLI_DATA_HELP
            "  -i, --images DIR       the folder of <objID>.jpg/.png/.fits cutouts\n"
            "  -t, --target SPEC      metallicity (default), bpt_lines, or COL,COL...\n"
            "      --resize N         resize images to N x N (default 160)\n"
            "      --crop N           then centre crop to N x N (default 144)\n"
            "      --split-seed N     the 80/20 train/valid split (default 256)\n"
            "      --cache FILE       the decoded images' cache file (default: in memory when\n"
            "                         they fit in 2 GiB, else beside the images folder)\n"
            "      --synth-n N        galaxies of the synthetic survey (default %d)\n"
            "      --synth-seed N     its seed (default 256)\n"
            "Model and training:\n"
            "  -k, --k N              active features per galaxy (default 4; 0 = dense)\n"
            "      --width N          ResNet base width (default 64: d = 8 x width = 512)\n"
            "      --epochs N         (default 20)\n"
            "      --batch N          (default 64)\n"
            "      --lr X             peak learning rate (default 0.1)\n"
            "      --schedule S       one_cycle (default) or flat_cos\n"
            "      --seed N           weights initialisation and batch order (default 0)\n"
            "      --init FILE        backbone weights to start from (safetensors, e.g.\n"
            "                         ImageNet ResNet18 converted by share/convert_pth.py)\n"
            "      --engine E         onednn (default: oneDNN's blocked layouts) or reference\n"
            "                         (im2col + OpenBLAS, the readable one)\n"
            "      --precision P      fp32 (default) or bf16 (onednn only: bf16 layers,\n"
            "                         fp32 master weights and head)\n"
            "      --targets T        standardised (default): the network learns each\n"
            "                         target minus its training mean, over the training sd\n"
            "                         (the weights and the run are in target units); raw:\n"
            "                         the catalogue's units, as the paper's code\n"
            "      --head-bias B      mean (default): the head's bias starts at the mean of\n"
            "                         what it learns; init: as nn.Linear initialises it\n"
            "                         (with --targets raw: the paper's runs, which need\n"
            "                         hundreds of steps to walk the bias to ~8.9 dex)\n"
            "      --flips F          dihedral (default: each image one of the 8 flips and\n"
            "                         transposes), hv (mirrors only), batch (one for the\n"
            "                         whole batch) or none\n"
            "      --checkpoint FILE  written after every epoch and on Ctrl-C\n"
            "                         (default RUN.db.ckpt; removed once the run is stored)\n"
            "      --resume           continue the interrupted training of that checkpoint\n"
            "Run:\n"
            "  -n, --name PREFIX      feature prefix of the run, up to 15 letters, digits, _\n"
            "                         or - (default Z for metallicity, SL for bpt_lines,\n"
            "                         R otherwise; 2, 3... when taken)\n"
            "  -q, --quiet            no progress bars\n"
            "  -h, --help             show this help\n"
            "\n"
            "Several processes: started as the N ranks of an MPI job (mpirun -np N, or\n"
            "srun --mpi=pmix in a Slurm job: share/slurm/train.sbatch), the ranks train\n"
            "data-parallel. --batch is the global batch (a multiple of N), rank 0 writes\n"
            "RUN.db and the checkpoint, and --resume works on any number of ranks. SIGUSR1\n"
            "(kill -USR1 to mpirun) stops after the current step with a checkpoint, as\n"
            "Ctrl-C does for one process. See TRAINING ON SEVERAL PROCESSES in the man page.\n"
            "\n" CLI_FITS_HELP,
            INFER_THUMB_SIZE, INFER_THUMB_SIZE, 2000);
}

typedef struct {
    const char *catalog, *images, *target, *name, *init, *db, *engine, *checkpoint, *precision;
    const char *cache;
    int k, width, epochs, batch, resize, crop, quiet, synth_n, head_bias_init, resume;
    train_targets targets;
    train_flips flips;
    double lr;
    uint64_t seed, split_seed, synth_seed;
    sched_kind schedule;
    cli_data data;
} train_args;

static int parse_args(int argc, char **argv, train_args *a) {
    static const struct option opts[] = {
        {"train", no_argument, NULL, 'T'},
        {"images", required_argument, NULL, 'i'},
        {"target", required_argument, NULL, 't'},
        {"resize", required_argument, NULL, 'R'},
        {"crop", required_argument, NULL, 'C'},
        {"split-seed", required_argument, NULL, 'P'},
        {"cache", required_argument, NULL, 'A'},
        {"synth-n", required_argument, NULL, 'N'},
        {"synth-seed", required_argument, NULL, 'S'},
        {"k", required_argument, NULL, 'k'},
        {"width", required_argument, NULL, 'W'},
        {"epochs", required_argument, NULL, 'E'},
        {"batch", required_argument, NULL, 'B'},
        {"lr", required_argument, NULL, 'L'},
        {"schedule", required_argument, NULL, 'H'},
        {"seed", required_argument, NULL, 's'},
        {"init", required_argument, NULL, 'I'},
        {"engine", required_argument, NULL, 'G'},
        {"precision", required_argument, NULL, 'X'},
        {"name", required_argument, NULL, 'n'},
        {"head-bias", required_argument, NULL, 'Y'},
        {"targets", required_argument, NULL, 'Z'},
        {"flips", required_argument, NULL, 'F'},
        {"checkpoint", required_argument, NULL, 'K'},
        {"resume", no_argument, NULL, 'U'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        CLI_DATA_LONGOPTS,
        CLI_FITS_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    cli_data_init(&a->data);
    a->target = "metallicity";
    a->engine = "onednn";
    a->precision = "fp32";
    a->k = 4;
    a->width = 64;
    a->epochs = 20;
    a->batch = 64;
    a->resize = 160;
    a->crop = 144;
    a->lr = 0.1;
    a->split_seed = 256;
    a->synth_n = 2000;
    a->synth_seed = 256;
    a->schedule = SCHED_ONE_CYCLE;
    a->targets = TRAIN_TARGETS_STANDARDISED;
    a->flips = TRAIN_FLIPS_DIHEDRAL;
    int c;
    long v;
    char *end;
    optind = 0;
    while ((c = getopt_long(argc, argv, "c:i:t:k:n:qh", opts, NULL)) != -1) {
        int taken = cli_data_option(&a->data, c, optarg);
        if (taken < 0) return 2;
        if (taken) continue;
        switch (c) {
        case 'T': break;
        case 'i': a->images = optarg; break;
        case 't': a->target = optarg; break;
        case 'n': a->name = optarg; break;
        case 'I': a->init = optarg; break;
        case 'G': a->engine = optarg; break;
        case 'X': a->precision = optarg; break;
        case 'q': a->quiet = 1; break;
        case 'K': a->checkpoint = optarg; break;
        case 'A': a->cache = optarg; break;
        case 'U': a->resume = 1; break;
        case 'Y':
            /* "zero", this option's first name for init, still accepted */
            if (strcmp(optarg, "mean") && strcmp(optarg, "init") && strcmp(optarg, "zero")) {
                sf_warn("--head-bias '%s': expected mean or init", optarg);
                return 2;
            }
            a->head_bias_init = strcmp(optarg, "mean") != 0;
            break;
        case 'Z':
            if (train_targets_parse(optarg, &a->targets) != SF_OK) {
                sf_warn("--targets: %s", sf_last_error());
                return 2;
            }
            break;
        case 'F':
            if (train_flips_parse(optarg, &a->flips) != SF_OK) {
                sf_warn("--flips: %s", sf_last_error());
                return 2;
            }
            break;
        case 'R':
            if (sf_parse_option_long("resize", optarg, 8, 4096, &v)) return 2;
            a->resize = (int)v;
            break;
        case 'C':
            if (sf_parse_option_long("crop", optarg, 8, 4096, &v)) return 2;
            a->crop = (int)v;
            break;
        case 'P':
            if (sf_parse_option_long("split-seed", optarg, 0, 0x7fffffffL, &v)) return 2;
            a->split_seed = (uint64_t)v;
            break;
        case 'N':
            if (sf_parse_option_long("synth-n", optarg, 10, 10000000L, &v)) return 2;
            a->synth_n = (int)v;
            break;
        case 'S':
            if (sf_parse_option_long("synth-seed", optarg, 0, 0x7fffffffL, &v)) return 2;
            a->synth_seed = (uint64_t)v;
            break;
        case 'k':
            if (sf_parse_option_long("k", optarg, 0, 4096, &v)) return 2;
            a->k = (int)v;
            break;
        case 'W':
            if (sf_parse_option_long("width", optarg, 1, 512, &v)) return 2;
            a->width = (int)v;
            break;
        case 'E':
            if (sf_parse_option_long("epochs", optarg, 1, 100000, &v)) return 2;
            a->epochs = (int)v;
            break;
        case 'B':
            if (sf_parse_option_long("batch", optarg, 1, 65536, &v)) return 2;
            a->batch = (int)v;
            break;
        case 's':
            if (sf_parse_option_long("seed", optarg, 0, 0x7fffffffL, &v)) return 2;
            a->seed = (uint64_t)v;
            break;
        case 'L':
            errno = 0;
            a->lr = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(a->lr > 0) || !isfinite(a->lr)) {
                sf_warn("--lr '%s': expected a positive number", optarg);
                return 2;
            }
            break;
        case 'H': {
            /* one_cycle / flat_cos as well as one-cycle / flat-cos */
            char name[32];
            snprintf(name, sizeof name, "%s", optarg);
            for (char *p = name; *p; p++)
                if (*p == '_') *p = '-';
            if (sched_parse(name, &a->schedule) != SF_OK) {
                sf_warn("--schedule: %s", sf_last_error());
                return 2;
            }
            break;
        }
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 1) {
        sf_warn("--train needs exactly one run database (RUN.db) after the options");
        return 2;
    }
    a->db = argv[optind];
    if (a->name && store_prefix_check(a->name) != SF_OK) {
        sf_warn("--name: %s", sf_last_error());
        return 2;
    }
    if (cli_data_finish(&a->data)) a->catalog = a->data.src.files[0];
    if (!a->catalog != !a->images) {
        sf_warn("--catalog and --images go together (neither: the synthetic survey)");
        return 2;
    }
    if (a->k > 8 * a->width) {
        sf_warn("--k %d exceeds the %d features of width %d", a->k, 8 * a->width, a->width);
        return 2;
    }
    if (a->crop > a->resize + 64) {
        sf_warn("--crop %d is much larger than --resize %d", a->crop, a->resize);
        return 2;
    }
    if (strcmp(a->engine, "reference") && strcmp(a->engine, "onednn")) {
        sf_warn("--engine: reference or onednn, not '%s'", a->engine);
        return 2;
    }
    if (strcmp(a->precision, "fp32") && strcmp(a->precision, "bf16")) {
        sf_warn("--precision: fp32 or bf16, not '%s'", a->precision);
        return 2;
    }
    if (!strcmp(a->precision, "bf16") && strcmp(a->engine, "onednn")) {
        sf_warn("--precision bf16 needs --engine onednn");
        return 2;
    }
    return 0;
}

/* ---- the synthetic survey ---------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path) != 0 ? errno : 0;
}

/* Removes path and everything below it (links are removed, not followed). */
static int remove_tree(const char *path) {
    int err = nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (err != 0) return sf_fail("could not remove %s: %s", path, strerror(err > 0 ? err : errno));
    return SF_OK;
}

/* The survey's folder, generated when absent (into a temporary name, renamed when
 * complete, so an interrupted generation is never taken for a survey). */
static int synth_dir(const train_args *a, char *dir, size_t n) {
    const char *cache = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    char base[3072];
    if (cache && *cache) snprintf(base, sizeof base, "%s/sfnet-explore", cache);
    else if (home && *home) snprintf(base, sizeof base, "%s/.cache/sfnet-explore", home);
    else snprintf(base, sizeof base, "/tmp/sfnet-explore-cache");
    snprintf(dir, n, "%s/synth-v%d-%d-%llu", base, SYNTH_VERSION, a->synth_n,
             (unsigned long long)a->synth_seed);
    char csv[4200];
    snprintf(csv, sizeof csv, "%s/galaxies.csv", dir);
    struct stat sb;
    if (stat(csv, &sb) == 0) return SF_OK;
    if (sf_mkdir_p(base) != SF_OK) return SF_ERR;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", dir, (long)getpid());
    if (!a->quiet)
        fprintf(stderr,
                "sfnet-explore: generating the synthetic survey (%d galaxies, seed %llu) in %s\n",
                a->synth_n, (unsigned long long)a->synth_seed, dir);
    synth_options so;
    memset(&so, 0, sizeof so);
    so.n = a->synth_n;
    so.seed = a->synth_seed;
    so.size = SYNTH_SIZE;
    so.quiet = a->quiet;
    if (synth_survey(tmp, &so) != SF_OK) return SF_ERR;
    if (rename(tmp, dir) != 0) {
        /* another process finished first: use its survey */
        if (stat(csv, &sb) == 0) {
            if (remove_tree(tmp) != SF_OK) sf_warn("%s", sf_last_error());
            return SF_OK;
        }
        return sf_fail("cannot move the survey to %s: %s", dir, strerror(errno));
    }
    return SF_OK;
}

/* ---- building the run --------------------------------------------------------- */

static char *hyper_json(const train_args *a, const train_options *to) {
    cJSON *h = cJSON_CreateObject();
    cJSON_AddNumberToObject(h, "epochs", a->epochs);
    cJSON_AddNumberToObject(h, "batch", a->batch);
    cJSON_AddNumberToObject(h, "lr", a->lr);
    cJSON_AddStringToObject(h, "schedule", sched_name(a->schedule));
    cJSON_AddNumberToObject(h, "resize", a->resize);
    cJSON_AddNumberToObject(h, "crop", a->crop);
    cJSON_AddNumberToObject(h, "k", a->k);
    cJSON_AddNumberToObject(h, "width", a->width);
    cJSON_AddBoolToObject(h, "flips", to->flips != TRAIN_FLIPS_NONE);
    cJSON_AddStringToObject(h, "flip_mode", train_flips_name(to->flips));
    cJSON_AddStringToObject(h, "targets", train_targets_name(to->targets));
    cJSON *opt = cJSON_AddObjectToObject(h, "optimizer");
    cJSON_AddStringToObject(opt, "name", "ranger");
    cJSON_AddNumberToObject(opt, "mom", to->opt.mom);
    cJSON_AddNumberToObject(opt, "sqr_mom", to->opt.sqr_mom);
    cJSON_AddNumberToObject(opt, "eps", to->opt.eps);
    cJSON_AddNumberToObject(opt, "wd", to->opt.wd);
    cJSON_AddNumberToObject(opt, "lookahead_k", to->opt.lookahead_k);
    cJSON_AddNumberToObject(opt, "lookahead_alpha", to->opt.lookahead_alpha);
    if (a->init) cJSON_AddStringToObject(h, "init", a->init);
    cJSON_AddStringToObject(h, "head_bias", a->head_bias_init ? "init" : "mean");
    cJSON_AddStringToObject(h, "precision", a->precision);
    if (!a->catalog) {
        cJSON_AddNumberToObject(h, "synth_n", a->synth_n);
        cJSON_AddNumberToObject(h, "synth_seed", (double)a->synth_seed);
    } else {
        /* how FITS cutouts were made RGB: predict --from-run does the same */
        char *rgb = fits_rgb_to_json(&a->data.rgb);
        cJSON_AddItemToObject(h, "fits_rgb", cJSON_Parse(rgb));
        free(rgb);
    }
    char *s = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    return s;
}

/* Writes the trained run: every galaxy of ds through the model, written as it comes
 * out (infer_build_run), in one transaction. */
static int store_trained(store *s, sfnet *m, const dataset *ds, const train_args *a,
                         const train_options *to, const train_result *res, int64_t *run_id,
                         int *interrupted) {
    store_run_input in;
    const catalog_sources *sources = &a->data.src;
    const char *catalog_name = sources->n_files > 1 || sources->join_column || sources->id_column
                                   ? a->data.desc
                                   : a->catalog;
    infer_run_meta(&in, m, &ds->targets, ds->mean, ds->std, catalog_name, a->images, a->engine);
    store_run *r = &in.run;
    snprintf(r->prefix, sizeof r->prefix, "%s", a->name ? a->name : "");
    snprintf(r->target_spec, sizeof r->target_spec, "%s", a->target);
    r->seed = a->seed;
    r->split_seed = a->split_seed;
    r->hyper_json = hyper_json(a, to);
    r->n_curve = res->epochs_done;
    store_curve_point *curve = xcalloc((size_t)(res->epochs_done + 1), sizeof *curve);
    for (int e = 0; e < res->epochs_done; e++) {
        curve[e].epoch = e + 1;
        curve[e].train_loss = res->train_loss[e];
        curve[e].valid_rmse = res->valid_rmse[e];
        double lr = 0, mom = 0;
        sched_at(a->schedule, a->lr, (double)(e + 1) / a->epochs, &lr, &mom);
        curve[e].lr = lr;
    }
    r->curve = curve;
    r->train_seconds = res->seconds;

    /* the weights file the run keeps, made in memory */
    uint8_t *weights = NULL;
    size_t weights_len = 0;
    weights_meta wm;
    weights_meta_from(&wm, m, ds, a->resize);
    weights_save_mem(m, &wm, &weights, &weights_len);
    in.weights = weights;
    in.weights_len = weights_len;
    /* another training may be writing its run into the same file: after hours of
     * training, wait for it (10 minutes) rather than give up after seconds */
    const char *env = getenv("SFNET_BUSY_TIMEOUT_MS");
    if (!env || !*env) store_set_busy_timeout(s, 600000);
    if (!a->quiet)
        fprintf(stderr, "sfnet-explore: running the model over all %d galaxies into %s\n", ds->n,
                a->db);
    infer_source src;
    memset(&src, 0, sizeof src);
    src.ds = ds;
    src.want_thumbs = 1;
    src.quiet = a->quiet;
    src.label = "storing";
    infer_galaxies g = {
        .cat = &ds->cat, .n = ds->n, .rows = ds->cat_row, .truth = ds->y, .split = ds->split};
    infer_stats st;
    int status = infer_build_run(s, m, &src, &g, &in, run_id, &st);
    *interrupted = st.interrupted;
    free(weights);
    free(r->hyper_json);
    free(curve);
    return status;
}

/* ---- memory and the image cache ---------------------------------------------- */

/* "peak RSS 812 MB (now: 95 MB own, 7010 MB pages of mapped files)" from
 * /proc/self/status; the mapped image cache's pages count in the RSS, but they are the
 * kernel's page cache, dropped when memory is needed. */
static void memory_line(char *out, size_t n) {
    FILE *f = fopen("/proc/self/status", "r");
    long hwm = -1, anon = -1, file = -1;
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "VmHWM: %ld", &hwm);
        sscanf(line, "RssAnon: %ld", &anon);
        sscanf(line, "RssFile: %ld", &file);
    }
    if (f) fclose(f);
    if (hwm < 0) {
        snprintf(out, n, "peak RSS unknown");
        return;
    }
    snprintf(out, n, "peak RSS %.0f MB (now %.0f MB own, %.0f MB pages of mapped files)",
             hwm / 1024.0, anon / 1024.0, file / 1024.0);
}

static void format_duration(char *out, size_t n, double s) {
    long t = (long)(s + 0.5);
    snprintf(out, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

/* What the image cache cost: its size on disk, and its build time when this run built
 * it. */
static void report_cache(const dataset *ds) {
    if (!ds->cache_file[0]) return;
    struct stat st;
    double gb = stat(ds->cache_file, &st) == 0 ? (double)st.st_blocks * 512 / 1e9 : 0;
    char mem[160];
    memory_line(mem, sizeof mem);
    if (ds->cache_build_seconds > 0) {
        char took[32];
        format_duration(took, sizeof took, ds->cache_build_seconds);
        fprintf(stderr,
                "sfnet-explore: image cache %s: %d galaxies, %.2f GB on disk, built in "
                "%s (%.0f images/s); %s\n",
                ds->cache_file, ds->n, gb, took, ds->n_decoded / ds->cache_build_seconds, mem);
    } else {
        fprintf(stderr,
                "sfnet-explore: image cache %s: %d galaxies, %.2f GB on disk (built "
                "before)\n",
                ds->cache_file, ds->n, gb);
    }
}

/* ---- the ranks of an MPI job ------------------------------------------------- */

typedef struct {
    train_args *a;
    char synth[4096];
    dataset_options dopt;
    dataset *ds;
} setup_ctx;

static int setup_synth(void *p) {
    setup_ctx *c = p;
    return synth_dir(c->a, c->synth, sizeof c->synth);
}

static int setup_dataset(void *p) {
    setup_ctx *c = p;
    return dataset_open(c->ds, &c->dopt);
}

/* Runs fn on rank 0, then on the other ranks, so that what rank 0 builds (the
 * synthetic survey, the image cache) the others find instead of building it again. A
 * rank that fails says why; SF_OK when every rank succeeded. One process: fn once. */
static int rank0_first(int (*fn)(void *), void *ctx) {
    int rc = SF_OK;
    for (int turn = 0; turn < 2; turn++) {
        if ((sf_mpi_rank() == 0) == (turn == 0)) {
            rc = fn(ctx);
            if (rc != SF_OK && sf_mpi_rank() == 0) sf_warn("%s", sf_last_error());
            else if (rc != SF_OK) train_dist_say("%s", sf_last_error());
        }
        if (!sf_mpi_all_ok(rc == SF_OK)) return SF_ERR;
        if (sf_mpi_size() == 1) break;
    }
    return SF_OK;
}

/* Rank 0's checks (only rank 0 opens RUN.db and the checkpoint): SF_OK on every rank
 * when rank 0 passed them. */
static int rank0_ok(int rc) { return sf_mpi_all_ok(rc == SF_OK) ? SF_OK : SF_ERR; }

int cli_train(int argc, char **argv) {
    /* Under mpirun or srun this runs on every rank. Ranks other than 0 do what rank 0
     * does without saying it again, and speak only of what fails on them alone. */
    const int rank = sf_mpi_rank(), ranks = sf_mpi_size();
    if (rank != 0) {
        sf_warn_muted = 1;
        sf_progress_quiet = 1;
    }
    train_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) return 0;
    if (rc) return rc;
    if (rank != 0) a.quiet = 1;
    train_dist dist;
    if (train_dist_begin(&dist, a.batch) != SF_OK) {
        sf_warn("%s", sf_last_error());
        return 2;
    }

    /* a leftover checkpoint, or none to resume, is known before anything is read */
    char checkpoint[4096];
    if (a.checkpoint) snprintf(checkpoint, sizeof checkpoint, "%s", a.checkpoint);
    else snprintf(checkpoint, sizeof checkpoint, "%s.ckpt", a.db);
    /* rank 0 alone reads and writes the checkpoint (the others may not see its disk) */
    if (rank == 0 && !a.resume && access(checkpoint, F_OK) == 0) {
        sf_warn("%s: the checkpoint of an interrupted training is there; add --resume to "
                "continue it, delete it to start afresh, or choose another --checkpoint",
                checkpoint);
        rc = SF_ERR;
    }
    if (rank == 0 && a.resume && access(checkpoint, F_OK) != 0) {
        sf_warn("--resume: no checkpoint %s to continue (%s)", checkpoint, strerror(errno));
        rc = SF_ERR;
    }
    if (rank0_ok(rc) != SF_OK) return 1;

    store *s = NULL;
    rc = SF_OK;
    if (rank == 0 && store_open(&s, a.db, STORE_CREATE) != SF_OK) {
        sf_warn("%s", sf_last_error());
        rc = SF_ERR;
    }
    if (rc == SF_OK && rank == 0 && a.name) {
        /* refuse a taken name now, not after hours of training */
        store_run existing;
        if (store_run_find(s, a.name, &existing) == SF_OK) {
            sf_warn("%s already has a run named '%s': choose another --name", a.db, a.name);
            store_run_clear(&existing);
            rc = SF_ERR;
        }
    }
    if (rank0_ok(rc) != SF_OK) {
        store_close_unless_used(s);
        return 1;
    }

    setup_ctx setup;
    memset(&setup, 0, sizeof setup);
    setup.a = &a;
    dataset_options_default(&setup.dopt);
    if (!a.catalog) {
        if (rank0_first(setup_synth, &setup) != SF_OK) {
            store_close_unless_used(s);
            return 1;
        }
        static char csv[4200], images[4200];
        snprintf(csv, sizeof csv, "%s/galaxies.csv", setup.synth);
        snprintf(images, sizeof images, "%s/images", setup.synth);
        a.catalog = csv;
        a.images = images;
    }
    dataset_options *dopt = &setup.dopt;
    dopt->catalog_path = a.catalog;
    if (a.data.src.n_files > 0) dopt->sources = &a.data.src;
    dopt->fits_rgb = &a.data.rgb;
    dopt->images_dir = a.images;
    dopt->target_spec = a.target;
    dopt->resize = a.resize;
    dopt->crop = a.crop;
    dopt->seed = a.split_seed;
    dopt->cache_path = a.cache;
    dopt->quiet = a.quiet;
    dataset ds;
    memset(&ds, 0, sizeof ds);
    setup.ds = &ds;
    if (rank0_first(setup_dataset, &setup) != SF_OK) {
        dataset_close(&ds); /* rank 0 opened it when another rank failed */
        store_close_unless_used(s);
        return 1;
    }
    if (!a.quiet) report_cache(&ds);
    if (ds.n_train < 1 || ds.n_valid < 1) {
        sf_warn("%s: %d galaxies are too few to split into training and validation", a.catalog,
                ds.n);
        dataset_close(&ds);
        store_close_unless_used(s);
        return 1;
    }
    if (train_dist_same_galaxies(&ds, a.images) != SF_OK) {
        sf_warn("%s", sf_last_error());
        dataset_close(&ds);
        store_close_unless_used(s);
        return 1;
    }

    sfnet_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.width = a.width;
    cfg.k = a.k;
    cfg.n_out = ds.targets.n_targets;
    cfg.in_size = a.crop;
    cfg.precision = strcmp(a.precision, "bf16") ? NN_PRECISION_FP32 : NN_PRECISION_BF16;
    nn_engine_kind engine = strcmp(a.engine, "onednn") ? NN_ENGINE_REFERENCE : NN_ENGINE_ONEDNN;
    /* each rank computes its slice of every batch */
    sfnet *m = sfnet_create(&cfg, dist.local, engine);
    if (!m) train_dist_say("%s", sf_last_error());
    if (!sf_mpi_all_ok(m != NULL)) {
        sfnet_free(m);
        dataset_close(&ds);
        store_close_unless_used(s);
        return 1;
    }
    sfnet_init(m, a.seed);
    /* rank 0's starting weights go to every rank when training starts */
    rc = SF_OK;
    if (rank == 0 && a.init && weights_load(m, a.init, 1) != SF_OK) {
        sf_warn("%s", sf_last_error());
        rc = SF_ERR;
    }
    if (rank0_ok(rc) != SF_OK) goto fail;

    train_options to;
    train_options_default(&to);
    to.epochs = a.epochs;
    to.batch = a.batch;
    to.lr = a.lr;
    to.seed = a.seed;
    to.schedule = a.schedule;
    to.targets = a.targets;
    to.head_bias_mean = !a.head_bias_init;
    to.flips = a.flips;
    to.quiet = a.quiet;
    to.checkpoint = checkpoint;
    to.resume = a.resume;
    to.then_images = ds.n; /* the run ETA includes storing every galaxy */
    train_result res;
    memset(&res, 0, sizeof res);
    if (!a.quiet) {
        fprintf(stderr, "sfnet-explore: training on %d galaxies (%d validation), d = %d, k = %d\n",
                ds.n_train, ds.n_valid, m->d, a.k);
        if (ranks > 1)
            fprintf(stderr,
                    "sfnet-explore: %d MPI ranks, %d images each per batch of %d, %d "
                    "thread%s per rank\n",
                    ranks, dist.local, a.batch, omp_get_max_threads(),
                    omp_get_max_threads() > 1 ? "s" : "");
    }
    if (train_run(m, &ds, &to, &res) != SF_OK) {
        sf_warn("training failed: %s; %s is unchanged", sf_last_error(), a.db);
        train_result_free(&res);
        goto fail;
    }
    if (res.interrupted || res.epochs_done < a.epochs) {
        sf_warn("training stopped after %d of %d epochs; nothing was written to %s; "
                "the same command with --resume continues from %s",
                res.epochs_done, a.epochs, a.db, checkpoint);
        train_result_free(&res);
        goto fail;
    }
    if (!a.quiet && res.images_per_s > 0) {
        char mem[160], took[32];
        memory_line(mem, sizeof mem);
        format_duration(took, sizeof took, res.seconds);
        fprintf(stderr, "sfnet-explore: trained in %s at %.1f images/s", took, res.images_per_s);
        if (ranks > 1)
            fprintf(stderr, " on %d ranks (averaging the gradients: %.1f ms per step)", ranks,
                    res.grad_sum_ms);
        fprintf(stderr, "; %s\n", mem);
    }
    if (rank != 0) {
        /* rank 0 stores the run; this rank's part is done */
        train_result_free(&res);
        sfnet_free(m);
        dataset_close(&ds);
        return 0;
    }
    int64_t run_id = 0;
    int stopped = 0;
    if (store_trained(s, m, &ds, &a, &to, &res, &run_id, &stopped) != SF_OK) {
        if (stopped)
            sf_warn("interrupted while storing the run: %s is unchanged; the same command "
                    "with --resume stores it from %s without training again",
                    a.db, checkpoint);
        else
            sf_warn("%s; %s is unchanged (the trained model is in %s: the same command with "
                    "--resume stores it)",
                    sf_last_error(), a.db, checkpoint);
        train_result_free(&res);
        goto fail;
    }
    if (unlink(checkpoint) != 0 && errno != ENOENT)
        sf_warn("%s: cannot remove the checkpoint: %s", checkpoint, strerror(errno));
    store_run run;
    if (store_run_get(s, run_id, &run) == SF_OK) {
        printf("run %s (id %lld) added to %s: %d galaxies (%d validation), validation RMSE %.4f\n",
               run.prefix, (long long)run.id, sf_shown(a.db), run.n_galaxies, run.n_valid,
               run.valid_rmse);
        printf("next: sfnet-explore features %s %s   |   sfnet-explore %s\n", sf_shown(a.db),
               run.prefix, sf_shown(a.db));
        store_run_clear(&run);
    }
    train_result_free(&res);
    sfnet_free(m);
    dataset_close(&ds);
    store_close(s);
    return 0;
fail:
    sfnet_free(m);
    dataset_close(&ds);
    store_close_unless_used(s);
    return 1;
}
