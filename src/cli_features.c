/* cli_features.c: `sfnet-explore features DB [RUN]`: a run's features and their statistics. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "query.h"
#include "sf_util.h"
#include "store.h"

static void usage(FILE *out) {
    fprintf(out,
            "Usage: sfnet-explore features [--sort KEY] [--all] [--json|--csv] DB [RUN]\n"
            "\n"
            "The features of a run (RUN: its prefix such as Z or SL, or its id; optional\n"
            "when DB holds one run), most frequent first: galaxies where each is active\n"
            "(all, and validation), f_activated (fraction of validation galaxies), max and\n"
            "mean activation over the galaxies where it is active, the head's weight for\n"
            "each target, the Pearson correlation of the scaled activation with each target\n"
            "over the validation set, and its label.\n"
            "\n"
            "Options:\n"
            "  -s, --sort KEY  frequency (default), feature, weight, correlation, max, label\n"
            "  -a, --all       include dead features (never active)\n"
            "      --json      JSON (an array of objects)\n"
            "      --csv       CSV\n"
            "  -h, --help      show this help\n");
}

static int parse_sort(const char *s, store_sort *out) {
    static const char *const names[] = {"frequency", "feature", "weight", "correlation", "max", "label"};
    for (int i = 0; i < 6; i++)
        if (!strcmp(s, names[i])) {
            *out = (store_sort)i;
            return SF_OK;
        }
    return sf_fail("unknown sort key '%s' (frequency, feature, weight, correlation, max, label)", s);
}

int cli_features(int argc, char **argv) {
    static const struct option opts[] = {
        {"sort", required_argument, NULL, 's'},
        {"all", no_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},
        {"csv", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    query_format fmt = QUERY_TEXT;
    store_sort sort = STORE_SORT_FREQUENCY;
    int all = 0, c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "s:ah", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (parse_sort(optarg, &sort) != SF_OK) {
                sf_warn("%s", sf_last_error());
                return 2;
            }
            break;
        case 'a': all = 1; break;
        case 'j': fmt = QUERY_JSON; break;
        case 'c': fmt = QUERY_CSV; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    int npos = argc - optind;
    if (npos < 1 || npos > 2) {
        usage(stderr);
        return 2;
    }
    store *s = NULL;
    if (query_cli_open(argv[optind], STORE_READ, &s) != SF_OK) return 1;
    store_run run;
    store_feature *f = NULL;
    int n = 0, n_all = 0;
    store_feature *every = NULL;
    if (store_run_find(s, npos == 2 ? argv[optind + 1] : NULL, &run) != SF_OK ||
        store_features(s, run.id, sort, all, &f, &n) != SF_OK ||
        store_features(s, run.id, STORE_SORT_FEATURE, 1, &every, &n_all) != SF_OK) {
        sf_warn("%s", sf_last_error());
        free(f);
        store_run_clear(&run);
        store_close(s);
        return 1;
    }
    free(every);
    const char *cols[8 + 2 * STORE_MAX_TARGETS];
    char names[2 * STORE_MAX_TARGETS][STORE_NAME_MAX + 8];
    int nc = 0;
    cols[nc++] = "feature";
    cols[nc++] = "n_active";
    cols[nc++] = "n_valid";
    cols[nc++] = "f_activated";
    cols[nc++] = "max";
    cols[nc++] = "mean";
    for (int t = 0; t < run.n_out; t++) {
        snprintf(names[t], sizeof names[t], "w_%s", run.target_names[t]);
        cols[nc++] = names[t];
    }
    for (int t = 0; t < run.n_out; t++) {
        snprintf(names[STORE_MAX_TARGETS + t], sizeof names[0], "r_%s", run.target_names[t]);
        cols[nc++] = names[STORE_MAX_TARGETS + t];
    }
    cols[nc++] = "label";
    query_table *t = query_table_new(nc, cols);
    for (int i = 0; i < n; i++) {
        char name[STORE_PREFIX_MAX + 16];
        query_feature_name(&run, f[i].feature, name, sizeof name);
        query_table_text(t, name);
        query_table_int(t, f[i].n_active);
        query_table_int(t, f[i].n_active_valid);
        query_table_num(t, f[i].f_activated, 4);
        query_table_num(t, f[i].max, 4);
        query_table_num(t, f[i].mean, 4);
        for (int o = 0; o < run.n_out; o++) query_table_num(t, f[i].weight[o], 5);
        for (int o = 0; o < run.n_out; o++) query_table_num(t, f[i].pearson[o], 3);
        query_table_text(t, f[i].label[0] ? f[i].label : (fmt == QUERY_TEXT ? "" : NULL));
    }
    int rc = query_cli_print(t, fmt);
    if (rc == 0 && fmt == QUERY_TEXT && !all && n_all > n)
        printf("(%d dead features hidden: --all shows them)\n", n_all - n);
    query_table_free(t);
    free(f);
    store_run_clear(&run);
    store_close(s);
    return rc;
}
