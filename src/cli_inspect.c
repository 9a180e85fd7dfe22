/* cli_inspect.c: `sfnet-explore inspect`, a summary of a catalogue and its images.
 * Layer: cli. Calls: cli_data_options, data_dataset, sf_util; cJSON.
 * Called by: main.
 */
#include <cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_data_options.h"
#include "data_image.h"

static void inspect_usage(FILE *out) {
    fprintf(out, "Usage: sfnet-explore inspect --catalog FILE [--catalog FILE...] --images DIR\n"
                 "                             [OPTIONS]\n"
                 "\n"
                 "Loads a galaxy catalogue and its image cutouts as training would, and prints\n"
                 "a summary: rows read, rows kept by each cut, images found/missing/corrupt,\n"
                 "each target's mean and scatter, the train/valid split and the normalisation.\n"
                 "\n"
                 "Options:\n" CLI_DATA_HELP
                 "  -i, --images DIR       folder of <objID>.jpg|.jpeg|.png|.fits cutouts\n"
                 "  -t, --target SPEC      metallicity (default), bpt_lines, or col,col,...\n"
                 "      --resize N         resize cutouts to N x N first (default 160)\n"
                 "      --crop N           then centre-crop or pad to N x N (default 144)\n"
                 "      --seed N           train/valid split seed (default 256)\n"
                 "      --valid F          validation fraction (default 0.2)\n"
                 "      --cache FILE       keep decoded pixels in this cache file (memory-mapped)\n"
                 "      --json             print the summary as JSON\n"
                 "  -q, --quiet            no progress bar\n"
                 "  -h, --help             show this help\n"
                 "\n" CLI_FITS_HELP);
}

/* mean and sample standard deviation (ddof = 1) of target t over the data set. */
static void target_stats(const dataset *ds, int t, double *mean, double *sd) {
    int nt = ds->targets.n_targets;
    double s = 0, q = 0;
    for (int i = 0; i < ds->n; i++) s += ds->y[(size_t)i * nt + t];
    *mean = s / ds->n;
    for (int i = 0; i < ds->n; i++) {
        double d = ds->y[(size_t)i * nt + t] - *mean;
        q += d * d;
    }
    *sd = ds->n > 1 ? sqrt(q / (ds->n - 1)) : 0;
}

static void print_json(const dataset *ds, const dataset_options *opt, double seconds) {
    const target_set *ts = &ds->targets;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "catalog", ds->cat.path);
    cJSON_AddStringToObject(root, "images", opt->images_dir);
    cJSON_AddStringToObject(root, "target", ts->preset);
    cJSON_AddNumberToObject(root, "rows_read", ds->cat.n_rows);
    cJSON *cuts = cJSON_AddArrayToObject(root, "cuts");
    int left = ds->cat.n_rows;
    for (int c = 0; c < ts->n_cuts; c++) {
        left -= ts->cuts[c].removed;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "cut", ts->cuts[c].name);
        cJSON_AddNumberToObject(o, "removed", ts->cuts[c].removed);
        cJSON_AddNumberToObject(o, "kept", left);
        cJSON_AddItemToArray(cuts, o);
    }
    cJSON_AddNumberToObject(root, "rows_kept", ts->n_rows);
    cJSON *img = cJSON_AddObjectToObject(root, "images_found");
    cJSON_AddNumberToObject(img, "usable", ds->n);
    cJSON_AddNumberToObject(img, "missing", ds->n_missing);
    cJSON_AddNumberToObject(img, "corrupt", ds->n_corrupt);
    cJSON *miss = cJSON_AddArrayToObject(img, "first_missing");
    for (int i = 0; i < ds->n_missing && i < 3; i++)
        cJSON_AddItemToArray(miss, cJSON_CreateString(ds->first_missing[i]));
    cJSON *tg = cJSON_AddArrayToObject(root, "targets");
    for (int t = 0; t < ts->n_targets; t++) {
        double mean, sd;
        target_stats(ds, t, &mean, &sd);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", ts->names[t]);
        cJSON_AddNumberToObject(o, "mean", mean);
        cJSON_AddNumberToObject(o, "std", sd);
        cJSON_AddItemToArray(tg, o);
    }
    cJSON_AddNumberToObject(root, "std_ddof", 1);
    cJSON_AddNumberToObject(root, "n_train", ds->n_train);
    cJSON_AddNumberToObject(root, "n_valid", ds->n_valid);
    cJSON_AddNumberToObject(root, "seed", (double)opt->seed);
    cJSON *shape = cJSON_AddArrayToObject(root, "image_shape");
    int dims[3] = {3, ds->size, ds->size};
    for (int i = 0; i < 3; i++) cJSON_AddItemToArray(shape, cJSON_CreateNumber(dims[i]));
    cJSON *norm = cJSON_AddObjectToObject(root, "normalisation");
    cJSON_AddItemToObject(norm, "mean", cJSON_CreateFloatArray(ds->mean, 3));
    cJSON_AddItemToObject(norm, "std", cJSON_CreateFloatArray(ds->std, 3));
    cJSON_AddStringToObject(root, "cache", ds->cache_file[0] ? ds->cache_file : "memory");
    cJSON_AddBoolToObject(root, "from_cache", ds->from_cache);
    cJSON_AddNumberToObject(root, "images_decoded", ds->n_decoded);
    cJSON_AddNumberToObject(root, "seconds", seconds);
    char *text = cJSON_Print(root);
    puts(text);
    free(text);
    cJSON_Delete(root);
}

static void print_text(const dataset *ds, const dataset_options *opt, double seconds) {
    const target_set *ts = &ds->targets;
    printf("catalogue   %s\n", sf_shown(ds->cat.path));
    printf("rows read   %d\n", ds->cat.n_rows);
    printf("target      %s\n", sf_shown(opt->target_spec));
    int left = ds->cat.n_rows;
    for (int c = 0; c < ts->n_cuts; c++) {
        left -= ts->cuts[c].removed;
        printf("  cut %-40s removed %7d  kept %7d\n", sf_shown(ts->cuts[c].name),
               ts->cuts[c].removed, left);
    }
    printf("rows kept   %d\n", ts->n_rows);
    printf("images      %s\n", sf_shown(opt->images_dir));
    printf("  found %d, missing %d, corrupt %d", ds->n, ds->n_missing, ds->n_corrupt);
    if (ds->n_missing) {
        printf(" (missing:");
        for (int i = 0; i < ds->n_missing && i < 3; i++)
            printf(" %s", sf_shown(ds->first_missing[i]));
        printf("%s)", ds->n_missing > 3 ? " ..." : "");
    }
    printf("\n");
    printf("targets     mean, scatter (std, ddof 1) over the %d galaxies\n", ds->n);
    for (int t = 0; t < ts->n_targets; t++) {
        double mean, sd;
        target_stats(ds, t, &mean, &sd);
        printf("  %-24s %10.4f %10.4f\n", sf_shown(ts->names[t]), mean, sd);
    }
    printf("split       train %d, valid %d (seed %llu)\n", ds->n_train, ds->n_valid,
           (unsigned long long)opt->seed);
    printf("images      3 x %d x %d (resize %d, crop %d)\n", ds->size, ds->size, opt->resize,
           opt->crop);
    printf("normalise   mean %.4f %.4f %.4f  std %.4f %.4f %.4f (0..1 scale, training images)\n",
           ds->mean[0], ds->mean[1], ds->mean[2], ds->std[0], ds->std[1], ds->std[2]);
    if (ds->cache_file[0])
        printf("cache       %s (%s)\n", sf_shown(ds->cache_file),
               ds->from_cache ? "reused" : "built");
    else printf("cache       memory\n");
    printf("time        %.3f s (%d images decoded)\n", seconds, ds->n_decoded);
}

static int parse_int(const char *s, const char *what, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) {
        fprintf(stderr, "sfnet-explore: inspect: %s must be an integer in [%d, %d], not '%s'\n",
                what, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_inspect(int argc, char **argv) {
    enum { OPT_RESIZE = 256, OPT_CROP, OPT_SEED, OPT_VALID, OPT_CACHE, OPT_JSON };
    static const struct option longopts[] = {{"images", required_argument, NULL, 'i'},
                                             {"target", required_argument, NULL, 't'},
                                             {"resize", required_argument, NULL, OPT_RESIZE},
                                             {"crop", required_argument, NULL, OPT_CROP},
                                             {"seed", required_argument, NULL, OPT_SEED},
                                             {"valid", required_argument, NULL, OPT_VALID},
                                             {"cache", required_argument, NULL, OPT_CACHE},
                                             {"json", no_argument, NULL, OPT_JSON},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             CLI_DATA_LONGOPTS,
                                             CLI_FITS_LONGOPTS,
                                             {NULL, 0, NULL, 0}};
    cli_data data;
    cli_data_init(&data);
    dataset_options opt;
    dataset_options_default(&opt);
    int json = 0, c, seed;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:i:t:qh", longopts, NULL)) != -1) {
        int taken = cli_data_option(&data, c, optarg);
        if (taken < 0) return 2;
        if (taken) continue;
        switch (c) {
        case 'i': opt.images_dir = optarg; break;
        case 't': opt.target_spec = optarg; break;
        case 'q': opt.quiet = 1; break;
        case OPT_JSON: json = 1; break;
        case OPT_CACHE: opt.cache_path = optarg; break;
        case OPT_RESIZE:
            if (parse_int(optarg, "--resize", 1, 4096, &opt.resize)) return 2;
            break;
        case OPT_CROP:
            if (parse_int(optarg, "--crop", 1, 4096, &opt.crop)) return 2;
            break;
        case OPT_SEED:
            if (parse_int(optarg, "--seed", 0, 2147483647, &seed)) return 2;
            opt.seed = (uint64_t)seed;
            break;
        case OPT_VALID:
            opt.valid_fraction = strtod(optarg, &end);
            if (*end || !(opt.valid_fraction >= 0 && opt.valid_fraction < 1)) {
                fprintf(stderr, "sfnet-explore: inspect: --valid must be in [0, 1), not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'h': inspect_usage(stdout); return 0;
        default: inspect_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sfnet-explore: inspect: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (cli_data_finish(&data)) {
        opt.sources = &data.src;
        opt.catalog_path = data.src.files[0];
    }
    opt.fits_rgb = &data.rgb;
    if (!opt.catalog_path || !opt.images_dir) {
        fprintf(stderr, "sfnet-explore: inspect needs --catalog FILE and --images DIR "
                        "(see sfnet-explore inspect --help)\n");
        return 2;
    }
    if (json) opt.quiet = 1;
    double t0 = sf_now();
    dataset ds;
    if (dataset_open(&ds, &opt) != SF_OK) {
        fprintf(stderr, "sfnet-explore: %s\n", sf_last_error());
        return 1;
    }
    double seconds = sf_now() - t0;
    if (json) print_json(&ds, &opt, seconds);
    else print_text(&ds, &opt, seconds);
    dataset_close(&ds);
    return 0;
}
