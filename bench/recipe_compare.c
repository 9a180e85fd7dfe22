/* recipe_compare: the training recipe of sfnet-explore against the same recipe in plain
 * PyTorch, seed for seed, on real galaxies.
 *
 *   recipe_compare [--seeds 5] [--first-seed 0] [--out DIR] [--ours SPEC] [--torch ARGS]
 *                  [--only ours|torch] [--same-init] [paper settings: see --help]
 *
 * Both trainers see the same bytes: the galaxies are decoded, resized and cropped once
 * by sfnet-explore's loader, and written to OUT/data (pixels, targets, the split and the
 * per-channel normalisation of the training split), which bench/recipe_torch.py reads.
 * Each seed trains our trainer in this process (train_run, as `sfnet-explore --train`
 * does) and PyTorch in a child process; each training's curve is kept in
 * OUT/results/<label>-seed<N>.txt, so an interrupted comparison continues where it
 * stopped and two processes (--only ours, --only torch) can share the work. Prints the
 * validation RMSE of every seed, the mean, sd and standard error of each trainer and the
 * acceptance test (our mean at most PyTorch's mean + one standard error, our sd at most
 * twice PyTorch's), and draws every training curve into one PNG.
 *
 * The validation split is the 80/20 split of the data set (--split-seed), the same for
 * both trainers. Every point where the recipes could differ, and what each side does,
 * is listed by --help and in the man page's notes on training.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "analysis_figures.h"
#include "data_image.h"
#include "nn_model.h"
#include "sf_util.h"
#include "train.h"

#define MAX_SEEDS 64
#define MAX_EPOCHS 1000

typedef struct {
    const char *data, *out, *ours_spec, *torch_args, *only, *python, *engine, *figure;
    const char *label_ours, *label_torch;
    int seeds, first_seed, epochs, batch, k, width, resize, crop, threads, same_init;
    int split_seed;
    double lr;
} bench_args;

/* One training: its curve and result. */
typedef struct {
    int epochs;
    double train[MAX_EPOCHS], valid[MAX_EPOCHS];
    double final_valid, seconds;
} run_curve;

static void usage(FILE *f) {
    fprintf(
        f,
        "Usage: recipe_compare [OPTIONS]\n"
        "\n"
        "Trains the SFNet on the shared real galaxies with sfnet-explore's recipe and with\n"
        "the same recipe in plain PyTorch (bench/recipe_torch.py), seed for seed, and prints\n"
        "the validation RMSE of each (mean, sd, standard error) and the acceptance test.\n"
        "\n"
        "  --data DIR        galaxies.csv + images/ (default $SFNET_SHARED_DATA or\n"
        "                    ../shared/data/sdss-metallicity-400)\n"
        "  --out DIR         results, data handed to PyTorch, figure (build/recipe-compare)\n"
        "  --seeds N         trainings per trainer (5), seeds FIRST..FIRST+N-1\n"
        "  --first-seed S    (0)\n"
        "  --only WHO        ours or torch: train only that side (the table shows what is\n"
        "                    there)\n"
        "  --ours SPEC       a variant of our recipe, comma-separated key=value:\n"
        "                    targets=standardised|raw  head-bias=mean|init\n"
        "                    flips=dihedral|hv|none|batch  eps=X  wd=X  lookahead=K\n"
        "                    schedule=one-cycle|flat-cos  engine=onednn|reference\n"
        "  --torch ARGS      options for recipe_torch.py (e.g. \"--targets raw\"; see its --help)\n"
        "  --label-ours L    result file names and legend (default: sfnet or sfnet[SPEC])\n"
        "  --label-torch L   (default: torch or torch[ARGS])\n"
        "  --same-init       PyTorch starts from our initial weights of each seed\n"
        "  --figure PNG      the curves (default OUT/curves-<labels>.png)\n"
        "  --python PATH     (default /usr/bin/python3)\n"
        "  --threads N       PyTorch's threads (2)\n"
        "Paper settings (defaults): --epochs 20 --batch 64 --lr 0.1 --k 4 --width 64\n"
        "  --resize 160 --crop 144 --split-seed 256; our engine: --engine onednn\n"
        "\n"
        "Where the two recipes could differ, and what each does by default:\n"
        "  split          the same galaxies (ours, --split-seed), handed to PyTorch\n"
        "  pixels         the same bytes (our loader's resize and crop)\n"
        "  normalisation  the same per-channel mean and sd of the training split (fastai's\n"
        "                 Normalize() takes them from one training batch)\n"
        "  init           torchvision's scheme on both sides, from each side's own random\n"
        "                 numbers (--same-init: ours for both)\n"
        "  flips          one of the 8 dihedral transforms per image on both (fastai's\n"
        "                 Dihedral(p=0.5) leaves half the images as they are)\n"
        "  BatchNorm      momentum 0.1, eps 1e-5, unbiased running variance, on both\n"
        "  optimizer      ours: fastai's RAdam step; PyTorch: torch.optim.RAdam, which adds\n"
        "                 eps before debiasing the second moment; betas 0.95/0.99, eps 1e-6\n"
        "  weight decay   0.01 decoupled, conv and linear weights only, on both\n"
        "  Lookahead      k 6, alpha 0.5, slow weights from before the first step, steps\n"
        "                 counted over the whole run, fast weights evaluated, on both\n"
        "  schedule       fastai's one-cycle (ours at pos = step/total before each step);\n"
        "                 PyTorch's OneCycleLR with the same numbers (25%% warm-up from\n"
        "                 lr/25, cosine to lr/1e5, momentum 0.95-0.85-0.95)\n"
        "  head bias      ours: the mean of what is learned; PyTorch: nn.Linear's init\n"
        "  targets        ours: as configured (see --ours targets=); PyTorch standardised\n"
        "  batches        shuffled each epoch, the last incomplete one dropped, on both\n");
}

static const char *default_data(void) {
    const char *env = getenv("SFNET_SHARED_DATA");
    return env && *env ? env : "../shared/data/sdss-metallicity-400";
}

/* "sfnet[targets=raw]" -> "sfnet_targets_raw_": a file name. */
static void file_safe(char *dst, size_t n, const char *src) {
    size_t i = 0;
    for (; src[i] && i + 1 < n; i++) {
        char c = src[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.';
        dst[i] = ok ? c : '_';
    }
    dst[i] = 0;
}

/* ---- results files: "EPOCH e train valid" lines, then "RESULT valid seconds" ---- */

static int curve_read(const char *path, run_curve *c) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    memset(c, 0, sizeof *c);
    char line[256];
    int done = 0;
    while (fgets(line, sizeof line, f)) {
        int e;
        double a, b;
        if (sscanf(line, "EPOCH %d %lf %lf", &e, &a, &b) == 3 && e >= 1 && e <= MAX_EPOCHS) {
            c->train[e - 1] = a;
            c->valid[e - 1] = b;
            if (e > c->epochs) c->epochs = e;
        } else if (sscanf(line, "RESULT %lf %lf", &a, &b) == 2) {
            c->final_valid = a;
            c->seconds = b;
            done = 1;
        }
    }
    fclose(f);
    return done;
}

static int curve_write(const char *path, const run_curve *c) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return sf_fail("%s: %s", tmp, strerror(errno));
    for (int e = 0; e < c->epochs; e++)
        fprintf(f, "EPOCH %d %.6f %.6f\n", e + 1, c->train[e], c->valid[e]);
    fprintf(f, "RESULT %.6f %.1f\n", c->final_valid, c->seconds);
    if (fclose(f) != 0 || rename(tmp, path) != 0) return sf_fail("%s: %s", path, strerror(errno));
    return SF_OK;
}

/* ---- the data handed to PyTorch ---- */

static int export_data(const dataset *ds, const char *dir) {
    if (sf_mkdir_p(dir) != SF_OK) return SF_ERR;
    /* written to temporary names and renamed, as another comparison may read them */
    char path[8400], tmp[8500];
    snprintf(path, sizeof path, "%s/pixels.u8", dir);
    snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    size_t bytes = (size_t)ds->n * 3 * ds->size * ds->size;
    if (!f || fwrite(ds->pixels, 1, bytes, f) != bytes || fclose(f) != 0 || rename(tmp, path) != 0)
        return sf_fail("%s: cannot write: %s", path, strerror(errno));
    int no = ds->targets.n_targets;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "n", ds->n);
    cJSON_AddNumberToObject(j, "size", ds->size);
    cJSON_AddNumberToObject(j, "n_out", no);
    cJSON *y = cJSON_AddArrayToObject(j, "y");
    for (size_t i = 0; i < (size_t)ds->n * no; i++)
        cJSON_AddItemToArray(y, cJSON_CreateNumber(ds->y[i]));
    cJSON *sp = cJSON_AddArrayToObject(j, "split");
    cJSON *ids = cJSON_AddArrayToObject(j, "objid");
    for (int i = 0; i < ds->n; i++) {
        cJSON_AddItemToArray(sp, cJSON_CreateNumber(ds->split[i]));
        cJSON_AddItemToArray(ids, cJSON_CreateString(dataset_obj_id(ds, i)));
    }
    double mean[3], std[3];
    for (int c = 0; c < 3; c++) mean[c] = ds->mean[c], std[c] = ds->std[c];
    cJSON_AddItemToObject(j, "mean", cJSON_CreateDoubleArray(mean, 3));
    cJSON_AddItemToObject(j, "std", cJSON_CreateDoubleArray(std, 3));
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    snprintf(path, sizeof path, "%s/meta.json", dir);
    snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid());
    f = fopen(tmp, "w");
    int ok = f && fputs(text, f) >= 0;
    if (f && fclose(f) != 0) ok = 0;
    if (ok && rename(tmp, path) != 0) ok = 0;
    free(text);
    return ok ? SF_OK : sf_fail("%s: cannot write: %s", path, strerror(errno));
}

/* ---- our side ---- */

typedef struct {
    train_options opt;
    nn_engine_kind engine;
} ours_recipe;

static int parse_ours(const char *spec, ours_recipe *r) {
    train_options_default(&r->opt);
    r->engine = NN_ENGINE_ONEDNN;
    if (!spec || !*spec) return SF_OK;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *v = strchr(kv, '=');
        if (!v) return sf_fail("--ours: '%s' is not key=value", kv);
        *v++ = 0;
        char *end;
        if (!strcmp(kv, "targets") && train_targets_parse(v, &r->opt.targets) == SF_OK) continue;
        else if (!strcmp(kv, "head-bias") && !strcmp(v, "mean")) r->opt.head_bias_mean = 1;
        else if (!strcmp(kv, "head-bias") && !strcmp(v, "init")) r->opt.head_bias_mean = 0;
        else if (!strcmp(kv, "flips") && train_flips_parse(v, &r->opt.flips) == SF_OK) continue;
        else if (!strcmp(kv, "eps") && (r->opt.opt.eps = strtod(v, &end), !*end)) continue;
        else if (!strcmp(kv, "wd") && (r->opt.opt.wd = strtod(v, &end), !*end)) continue;
        else if (!strcmp(kv, "lookahead") &&
                 (r->opt.opt.lookahead_k = (int)strtol(v, &end, 10), !*end) &&
                 r->opt.opt.lookahead_k >= 1)
            continue;
        else if (!strcmp(kv, "schedule") && sched_parse(v, &r->opt.schedule) == SF_OK) continue;
        else if (!strcmp(kv, "engine") && !strcmp(v, "onednn")) r->engine = NN_ENGINE_ONEDNN;
        else if (!strcmp(kv, "engine") && !strcmp(v, "reference")) r->engine = NN_ENGINE_REFERENCE;
        else return sf_fail("--ours: unknown setting %s=%s", kv, v);
    }
    return SF_OK;
}

/* Trains one seed of our recipe; writes the initial weights to init_path when set. */
static int train_ours(const dataset *ds, const bench_args *a, const ours_recipe *r, int seed,
                      const char *init_path, run_curve *c) {
    sfnet_config cfg = {
        .width = a->width, .k = a->k, .n_out = ds->targets.n_targets, .in_size = a->crop};
    sfnet *m = sfnet_create(&cfg, a->batch, r->engine);
    if (!m) return SF_ERR;
    sfnet_init(m, (uint64_t)seed);
    if (init_path) {
        weights_meta wm;
        weights_meta_from(&wm, m, ds, a->resize);
        if (weights_save(m, &wm, init_path) != SF_OK) {
            sfnet_free(m);
            return SF_ERR;
        }
    }
    train_options o = r->opt;
    o.epochs = a->epochs;
    o.batch = a->batch;
    o.lr = a->lr;
    o.seed = (uint64_t)seed;
    train_result res;
    int rc = train_run(m, ds, &o, &res);
    if (rc == SF_OK && res.epochs_done < a->epochs) rc = sf_fail("training stopped early");
    if (rc == SF_OK) {
        memset(c, 0, sizeof *c);
        c->epochs = res.epochs_done;
        for (int e = 0; e < res.epochs_done; e++) {
            c->train[e] = res.train_loss[e];
            c->valid[e] = res.valid_rmse[e];
        }
        c->final_valid = res.final_valid_rmse;
        c->seconds = res.seconds;
    }
    train_result_free(&res);
    sfnet_free(m);
    return rc;
}

/* ---- PyTorch's side ---- */

static int train_torch(const bench_args *a, const char *data_dir, int seed, const char *init_path,
                       const char *result_path, run_curve *c) {
    char cmd[20000];
    snprintf(cmd, sizeof cmd,
             "MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 '%s' bench/recipe_torch.py "
             "--data '%s' --seed %d --epochs %d --batch %d --lr %.17g --k %d --width %d "
             "--threads %d %s%s%s %s",
             a->python, data_dir, seed, a->epochs, a->batch, a->lr, a->k, a->width, a->threads,
             init_path ? "--init '" : "", init_path ? init_path : "", init_path ? "'" : "",
             a->torch_args ? a->torch_args : "");
    FILE *p = popen(cmd, "r");
    if (!p) return sf_fail("cannot start %s", cmd);
    memset(c, 0, sizeof *c);
    char line[256];
    int done = 0;
    while (fgets(line, sizeof line, p)) {
        int e;
        double x, y;
        if (sscanf(line, "EPOCH %d %lf %lf", &e, &x, &y) == 3 && e >= 1 && e <= MAX_EPOCHS) {
            c->train[e - 1] = x;
            c->valid[e - 1] = y;
            if (e > c->epochs) c->epochs = e;
        } else if (sscanf(line, "RESULT %lf %lf", &x, &y) == 2) {
            c->final_valid = x;
            c->seconds = y;
            done = 1;
        }
    }
    int st = pclose(p);
    if (st != 0 || !done)
        return sf_fail("PyTorch's training of seed %d failed (status %d): %s", seed, st, cmd);
    return curve_write(result_path, c);
}

/* ---- the table ---- */

typedef struct {
    int n;
    double mean, sd, se;
} summary;

static summary summarise(const double *v, int n) {
    summary s = {n, NAN, NAN, NAN};
    if (n < 1) return s;
    double sum = 0;
    for (int i = 0; i < n; i++) sum += v[i];
    s.mean = sum / n;
    if (n < 2) return s;
    double q = 0;
    for (int i = 0; i < n; i++) q += (v[i] - s.mean) * (v[i] - s.mean);
    s.sd = sqrt(q / (n - 1));
    s.se = s.sd / sqrt((double)n);
    return s;
}

static void print_row(const char *name, const run_curve *c, const int *have, int n, summary *out) {
    double v[MAX_SEEDS];
    int m = 0;
    printf("%-34.34s", name);
    for (int i = 0; i < n; i++) {
        if (have[i]) {
            printf(" %7.4f", c[i].final_valid);
            v[m++] = c[i].final_valid;
        } else {
            printf(" %7s", "-");
        }
    }
    *out = summarise(v, m);
    printf("  %7.4f %7.4f %7.4f\n", out->mean, out->sd, out->se);
}

int main(int argc, char **argv) {
    bench_args a = {.out = "build/recipe-compare",
                    .python = "/usr/bin/python3",
                    .engine = "onednn",
                    .seeds = 5,
                    .epochs = 20,
                    .batch = 64,
                    .k = 4,
                    .width = 64,
                    .resize = 160,
                    .crop = 144,
                    .threads = 2,
                    .split_seed = 256,
                    .lr = 0.1};
    a.data = default_data();
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"out", required_argument, NULL, 'o'},
        {"seeds", required_argument, NULL, 'n'},
        {"first-seed", required_argument, NULL, 'f'},
        {"only", required_argument, NULL, 'O'},
        {"ours", required_argument, NULL, 'u'},
        {"torch", required_argument, NULL, 't'},
        {"label-ours", required_argument, NULL, 'U'},
        {"label-torch", required_argument, NULL, 'T'},
        {"same-init", no_argument, NULL, 'I'},
        {"figure", required_argument, NULL, 'F'},
        {"python", required_argument, NULL, 'P'},
        {"threads", required_argument, NULL, 'j'},
        {"epochs", required_argument, NULL, 'E'},
        {"batch", required_argument, NULL, 'B'},
        {"lr", required_argument, NULL, 'L'},
        {"k", required_argument, NULL, 'k'},
        {"width", required_argument, NULL, 'W'},
        {"resize", required_argument, NULL, 'R'},
        {"crop", required_argument, NULL, 'C'},
        {"split-seed", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': a.data = optarg; break;
        case 'o': a.out = optarg; break;
        case 'n': a.seeds = atoi(optarg); break;
        case 'f': a.first_seed = atoi(optarg); break;
        case 'O': a.only = optarg; break;
        case 'u': a.ours_spec = optarg; break;
        case 't': a.torch_args = optarg; break;
        case 'U': a.label_ours = optarg; break;
        case 'T': a.label_torch = optarg; break;
        case 'I': a.same_init = 1; break;
        case 'F': a.figure = optarg; break;
        case 'P': a.python = optarg; break;
        case 'j': a.threads = atoi(optarg); break;
        case 'E': a.epochs = atoi(optarg); break;
        case 'B': a.batch = atoi(optarg); break;
        case 'L': a.lr = atof(optarg); break;
        case 'k': a.k = atoi(optarg); break;
        case 'W': a.width = atoi(optarg); break;
        case 'R': a.resize = atoi(optarg); break;
        case 'C': a.crop = atoi(optarg); break;
        case 'S': a.split_seed = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (a.seeds < 1 || a.seeds > MAX_SEEDS || a.epochs < 1 || a.epochs > MAX_EPOCHS ||
        a.batch < 1 || !(a.lr > 0) || a.width < 1 || a.crop < 8 || a.threads < 1 ||
        (a.only && strcmp(a.only, "ours") && strcmp(a.only, "torch"))) {
        fprintf(stderr, "recipe_compare: an option is out of range (see --help)\n");
        return 2;
    }
    ours_recipe recipe;
    if (parse_ours(a.ours_spec, &recipe) != SF_OK) {
        fprintf(stderr, "recipe_compare: %s\n", sf_last_error());
        return 2;
    }
    char label_ours[512], label_torch[512];
    if (a.label_ours) snprintf(label_ours, sizeof label_ours, "%s", a.label_ours);
    else if (a.ours_spec) snprintf(label_ours, sizeof label_ours, "sfnet[%s]", a.ours_spec);
    else snprintf(label_ours, sizeof label_ours, "sfnet");
    if (a.label_torch) snprintf(label_torch, sizeof label_torch, "%s", a.label_torch);
    else if (a.torch_args || a.same_init)
        snprintf(label_torch, sizeof label_torch, "torch[%s%s%s]", a.torch_args ? a.torch_args : "",
                 a.torch_args && a.same_init ? " " : "", a.same_init ? "same-init" : "");
    else snprintf(label_torch, sizeof label_torch, "torch");
    /* the settings every result depends on, in the file names */
    char setting[128], safe_ours[600], safe_torch[600];
    snprintf(setting, sizeof setting, "w%d-k%d-r%d-c%d-e%d-b%d-lr%g-s%d", a.width, a.k, a.resize,
             a.crop, a.epochs, a.batch, a.lr, a.split_seed);
    file_safe(safe_ours, sizeof safe_ours, label_ours);
    file_safe(safe_torch, sizeof safe_torch, label_torch);

    char results[4200], data_dir[4200], init_dir[4200];
    snprintf(results, sizeof results, "%s/results", a.out);
    snprintf(data_dir, sizeof data_dir, "%s/data-r%d-c%d-s%d", a.out, a.resize, a.crop,
             a.split_seed);
    snprintf(init_dir, sizeof init_dir, "%s/init-%s", a.out, setting);
    if (sf_mkdir_p(results) != SF_OK || (a.same_init && sf_mkdir_p(init_dir) != SF_OK)) {
        fprintf(stderr, "recipe_compare: %s\n", sf_last_error());
        return 1;
    }

    char csv[4200], img[4200];
    snprintf(csv, sizeof csv, "%s/galaxies.csv", a.data);
    snprintf(img, sizeof img, "%s/images", a.data);
    dataset_options dopt;
    dataset_options_default(&dopt);
    dopt.catalog_path = csv;
    dopt.images_dir = img;
    dopt.resize = a.resize;
    dopt.crop = a.crop;
    dopt.seed = (uint64_t)a.split_seed;
    dopt.quiet = 1;
    dataset ds;
    if (dataset_open(&ds, &dopt) != SF_OK) {
        fprintf(stderr, "recipe_compare: %s\n", sf_last_error());
        return 1;
    }
    if (export_data(&ds, data_dir) != SF_OK) {
        fprintf(stderr, "recipe_compare: %s\n", sf_last_error());
        dataset_close(&ds);
        return 1;
    }
    fprintf(stderr,
            "recipe_compare: %d galaxies (%d train, %d valid) from %s; seeds %d..%d; "
            "ours %s, PyTorch %s\n",
            ds.n, ds.n_train, ds.n_valid, a.data, a.first_seed, a.first_seed + a.seeds - 1,
            label_ours, label_torch);

    static run_curve ours[MAX_SEEDS], theirs[MAX_SEEDS];
    int have_ours[MAX_SEEDS] = {0}, have_theirs[MAX_SEEDS] = {0};
    int rc = 0;
    for (int i = 0; i < a.seeds && rc == 0; i++) {
        int seed = a.first_seed + i;
        char path[8192], init[8192];
        snprintf(init, sizeof init, "%s/seed%d.safetensors", init_dir, seed);
        snprintf(path, sizeof path, "%s/%s-%s-seed%d.txt", results, safe_ours, setting, seed);
        have_ours[i] = curve_read(path, &ours[i]);
        int need_init = a.same_init && access(init, R_OK) != 0;
        if ((!have_ours[i] || need_init) && (!a.only || !strcmp(a.only, "ours") || need_init)) {
            fprintf(stderr, "recipe_compare: %s, seed %d\n", label_ours, seed);
            int r = train_ours(&ds, &a, &recipe, seed, a.same_init ? init : NULL, &ours[i]);
            if (r == SF_OK) r = curve_write(path, &ours[i]);
            if (r != SF_OK) {
                fprintf(stderr, "recipe_compare: %s\n", sf_last_error());
                rc = 1;
                break;
            }
            have_ours[i] = 1;
            fprintf(stderr, "recipe_compare: %s seed %d: valid RMSE %.4f (%.0f s)\n", label_ours,
                    seed, ours[i].final_valid, ours[i].seconds);
        }
        snprintf(path, sizeof path, "%s/%s-%s-seed%d.txt", results, safe_torch, setting, seed);
        have_theirs[i] = curve_read(path, &theirs[i]);
        if (!have_theirs[i] && (!a.only || !strcmp(a.only, "torch"))) {
            fprintf(stderr, "recipe_compare: %s, seed %d\n", label_torch, seed);
            if (train_torch(&a, data_dir, seed, a.same_init ? init : NULL, path, &theirs[i]) !=
                SF_OK) {
                fprintf(stderr, "recipe_compare: %s\n", sf_last_error());
                rc = 1;
                break;
            }
            have_theirs[i] = 1;
            fprintf(stderr, "recipe_compare: %s seed %d: valid RMSE %.4f (%.0f s)\n", label_torch,
                    seed, theirs[i].final_valid, theirs[i].seconds);
        }
    }

    /* the table */
    double base = NAN;
    {
        /* the validation RMSE of predicting the training mean */
        int no = ds.targets.n_targets;
        double mean[TARGET_MAX] = {0}, sq = 0;
        for (int i = 0; i < ds.n_train; i++)
            for (int t = 0; t < no; t++)
                mean[t] += ds.y[(size_t)ds.train_idx[i] * no + t] / ds.n_train;
        for (int i = 0; i < ds.n_valid; i++)
            for (int t = 0; t < no; t++) {
                double e = ds.y[(size_t)ds.valid_idx[i] * no + t] - mean[t];
                sq += e * e;
            }
        base = sqrt(sq / ((double)ds.n_valid * no));
    }
    printf("Validation RMSE (%s), %d train / %d valid galaxies of %s, split seed %d;\n"
           "width %d, k %d, resize %d, crop %d, %d epochs, batch %d, one-cycle lr %g.\n"
           "Predicting the training mean scores %.4f.\n",
           ds.targets.names[0], ds.n_train, ds.n_valid, a.data, a.split_seed, a.width, a.k,
           a.resize, a.crop, a.epochs, a.batch, a.lr, base);
    printf("%-34s", "trainer \\ seed");
    for (int i = 0; i < a.seeds; i++) printf(" %7d", a.first_seed + i);
    printf("  %7s %7s %7s\n", "mean", "sd", "s.e.");
    summary so, st;
    print_row(label_ours, ours, have_ours, a.seeds, &so);
    print_row(label_torch, theirs, have_theirs, a.seeds, &st);
    if (so.n >= 2 && st.n >= 2) {
        int mean_ok = so.mean <= st.mean + st.se, sd_ok = so.sd <= 2 * st.sd;
        printf("acceptance: mean %.4f <= %.4f + %.4f: %s; sd %.4f <= 2 x %.4f: %s\n", so.mean,
               st.mean, st.se, mean_ok ? "yes" : "NO", so.sd, st.sd, sd_ok ? "yes" : "NO");
        double diff = so.mean - st.mean, se = sqrt(so.se * so.se + st.se * st.se);
        printf("difference of the means %+.4f +- %.4f (Welch's t = %.2f)\n", diff, se,
               se > 0 ? diff / se : NAN);
    }

    /* the figure */
    figure_curve curves[2 * 2 * MAX_SEEDS];
    double xs[MAX_EPOCHS];
    for (int e = 0; e < MAX_EPOCHS; e++) xs[e] = e + 1;
    /* log10 of the RMSE: the validation RMSE of the first epochs, when the BatchNorm
     * running statistics trail the weights at the peak learning rate, is hundreds of
     * times the final one on both sides */
    static double logs[2][MAX_SEEDS][2][MAX_EPOCHS];
    int nc = 0;
    for (int side = 0; side < 2; side++)
        for (int i = 0; i < a.seeds; i++) {
            const run_curve *cv = side ? &theirs[i] : &ours[i];
            if (!(side ? have_theirs[i] : have_ours[i])) continue;
            for (int e = 0; e < cv->epochs; e++) {
                logs[side][i][0][e] = cv->valid[e] > 0 ? log10(cv->valid[e]) : NAN;
                logs[side][i][1][e] = cv->train[e] > 0 ? log10(cv->train[e]) : NAN;
            }
            curves[nc++] = (figure_curve){cv->epochs, xs, logs[side][i][0], side, 0};
            curves[nc++] = (figure_curve){cv->epochs, xs, logs[side][i][1], side, 1};
        }
    if (nc > 0) {
        char fig[8192], title[256];
        if (a.figure) snprintf(fig, sizeof fig, "%s", a.figure);
        else
            snprintf(fig, sizeof fig, "%s/curves-%s-%s-%s-seeds%d-%d.png", a.out, safe_ours,
                     safe_torch, setting, a.first_seed, a.first_seed + a.seeds - 1);
        const char *names[2] = {label_ours, label_torch};
        snprintf(title, sizeof title, "Training curves, %d seeds each (%s)", a.seeds,
                 ds.targets.names[0]);
        if (figure_curves(fig, curves, nc, names, 2, "epoch", "log10 RMSE", title,
                          "solid: validation RMSE after each epoch; dashed: training loss "
                          "(RMSE over the epoch's batches)") != SF_OK) {
            fprintf(stderr, "recipe_compare: %s\n", sf_last_error());
            rc = 1;
        } else {
            printf("curves: %s\n", fig);
        }
    }
    dataset_close(&ds);
    return rc;
}
